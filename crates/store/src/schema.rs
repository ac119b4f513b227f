//! The tables, in SQL types that all three backends map the same way (`Date` and `Timestamp`
//! are text in SQLite, `Bool` is `TINYINT(1)` in MySQL); `migrations/` creates them.

diesel::table! {
    symbols (symbol) {
        symbol -> Text,
        name -> Nullable<Text>,
        category -> Text,
        currency -> Nullable<Text>,
        exchange -> Nullable<Text>,
        timezone -> Nullable<Text>,
        active -> Bool,
        added_at -> Timestamp,
    }
}

diesel::table! {
    daily_bars (symbol, date) {
        symbol -> Text,
        date -> Date,
        open -> Double,
        high -> Double,
        low -> Double,
        close -> Double,
        adj_close -> Nullable<Double>,
        volume -> BigInt,
    }
}

diesel::table! {
    intraday_bars (symbol, bar_interval, ts) {
        symbol -> Text,
        bar_interval -> Text,
        ts -> Timestamp,
        open -> Double,
        high -> Double,
        low -> Double,
        close -> Double,
        volume -> BigInt,
    }
}

diesel::table! {
    quotes_latest (symbol) {
        symbol -> Text,
        price -> Double,
        previous_close -> Nullable<Double>,
        open -> Nullable<Double>,
        day_high -> Nullable<Double>,
        day_low -> Nullable<Double>,
        volume -> Nullable<BigInt>,
        currency -> Nullable<Text>,
        quoted_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    price_high_records (symbol) {
        symbol -> Text,
        high -> Double,
        high_date -> Date,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    price_high_history (symbol, date) {
        symbol -> Text,
        date -> Date,
        high -> Double,
        previous_high -> Nullable<Double>,
    }
}

diesel::table! {
    price_snapshots (symbol, date) {
        symbol -> Text,
        date -> Date,
        previous_close -> Double,
        previous_high -> Double,
        previous_low -> Double,
    }
}

diesel::table! {
    signals (id) {
        id -> BigInt,
        symbol -> Text,
        kind -> Text,
        timeframe -> Text,
        triggered_at -> Timestamp,
        price -> Double,
        values_json -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    signal_outcomes (signal_id) {
        signal_id -> BigInt,
        price_1h -> Nullable<Double>,
        return_1h -> Nullable<Double>,
        success_1h -> Nullable<Bool>,
        price_4h -> Nullable<Double>,
        return_4h -> Nullable<Double>,
        success_4h -> Nullable<Bool>,
        price_1d -> Nullable<Double>,
        return_1d -> Nullable<Double>,
        success_1d -> Nullable<Bool>,
        price_1w -> Nullable<Double>,
        return_1w -> Nullable<Double>,
        success_1w -> Nullable<Bool>,
        price_1m -> Nullable<Double>,
        return_1m -> Nullable<Double>,
        success_1m -> Nullable<Bool>,
        completed -> Bool,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    alert_log (id) {
        id -> BigInt,
        dedupe_key -> Text,
        sent_at -> Timestamp,
    }
}

diesel::table! {
    notification_log (id) {
        id -> BigInt,
        channel -> Text,
        status -> Text,
        attempts -> Integer,
        error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    slow_queries (id) {
        id -> BigInt,
        kind -> Text,
        duration_ms -> Double,
        occurred_at -> Timestamp,
    }
}

diesel::joinable!(signal_outcomes -> signals (signal_id));
diesel::allow_tables_to_appear_in_same_query!(signals, signal_outcomes);

/// Every table of the schema, in creation order.
pub const TABLES: [&str; 12] = [
    "symbols",
    "daily_bars",
    "intraday_bars",
    "quotes_latest",
    "price_high_records",
    "price_high_history",
    "price_snapshots",
    "signals",
    "signal_outcomes",
    "alert_log",
    "notification_log",
    "slow_queries",
];
