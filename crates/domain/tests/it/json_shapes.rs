//! The JSON shapes of the types the HTTP API exposes, checked against literal strings.

use chrono::{NaiveDate, TimeDelta, TimeZone, Utc};
use finstage_domain::{Bar, BarTime, Category, Currency, Interval, Quote, Symbol};

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap()
}

fn from_json<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, String> {
    serde_json::from_str(json).map_err(|e| e.to_string())
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2020, 1, 2).unwrap()
}

#[test]
fn bar_time_shapes() {
    let date = BarTime::from(day());
    let ts = BarTime::from(Utc.with_ymd_and_hms(2020, 1, 2, 14, 30, 0).unwrap());
    let ms = BarTime::from(Utc.with_ymd_and_hms(2020, 1, 2, 14, 30, 0).unwrap() + TimeDelta::milliseconds(500));
    assert_eq!(to_json(&date), r#""2020-01-02""#);
    assert_eq!(to_json(&ts), r#""2020-01-02T14:30:00Z""#);
    assert_eq!(to_json(&ms), r#""2020-01-02T14:30:00.500Z""#);

    assert_eq!(from_json::<BarTime>(r#""2020-01-02""#), Ok(date));
    assert_eq!(from_json::<BarTime>(r#""2020-01-02T14:30:00Z""#), Ok(ts));
    assert_eq!(from_json::<BarTime>(r#""2020-01-02T15:30:00+01:00""#), Ok(ts));
    assert_eq!(from_json::<BarTime>(r#""2020-01-02T14:30:00.5Z""#), Ok(ms));

    let err = from_json::<BarTime>(r#""02/01/2020""#).unwrap_err();
    assert!(err.starts_with(r#"invalid bar time "02/01/2020""#), "{err}");
    assert!(from_json::<BarTime>("1577975400").is_err());
}

#[test]
fn daily_bar_shape() {
    let bar = Bar::new(day(), 74.06, 75.15, 73.8, 75.09, 135_480_400)
        .unwrap()
        .with_adj_close(73.06)
        .unwrap();
    let json = r#"{"time":"2020-01-02","open":74.06,"high":75.15,"low":73.8,"close":75.09,"adj_close":73.06,"volume":135480400}"#;
    assert_eq!(to_json(&bar), json);
    assert_eq!(from_json::<Bar>(json), Ok(bar));
}

#[test]
fn intraday_bar_shape_leaves_out_adj_close() {
    let ts = Utc.with_ymd_and_hms(2020, 1, 2, 14, 30, 0).unwrap();
    let bar = Bar::new(ts, 1.5, 2.0, 1.0, 1.25, 0).unwrap();
    let json = r#"{"time":"2020-01-02T14:30:00Z","open":1.5,"high":2.0,"low":1.0,"close":1.25,"volume":0}"#;
    assert_eq!(to_json(&bar), json);
    assert_eq!(from_json::<Bar>(json), Ok(bar));
    // `null` and absence both mean "no adjusted close".
    let with_null =
        r#"{"time":"2020-01-02T14:30:00Z","open":1.5,"high":2.0,"low":1.0,"close":1.25,"adj_close":null,"volume":0}"#;
    assert_eq!(from_json::<Bar>(with_null), Ok(bar));
}

#[test]
fn invalid_bars_do_not_deserialize() {
    let cases = [
        (
            r#"{"time":"2020-01-02","open":10,"high":9,"low":12,"close":10,"volume":1}"#,
            "invalid bar: low 12 is above high 9",
        ),
        (
            r#"{"time":"2020-01-02","open":0,"high":12,"low":9,"close":10,"volume":1}"#,
            "invalid bar: open is 0, prices must be greater than zero",
        ),
        (
            r#"{"time":"2020-01-02","open":13,"high":12,"low":9,"close":10,"volume":1}"#,
            "invalid bar: open 13 is outside the low..high range 9..12",
        ),
        (
            r#"{"time":"2020-01-02","open":10,"high":12,"low":9,"close":10,"adj_close":-1,"volume":1}"#,
            "invalid bar: adj_close is -1, prices must be greater than zero",
        ),
        (
            r#"{"time":"2020-01-02","open":10,"high":12,"low":9,"close":10,"volume":-1}"#,
            "invalid value",
        ),
        (
            r#"{"time":"2020-01-02","open":10,"high":12,"low":9,"volume":1}"#,
            "missing field `close`",
        ),
    ];
    for (json, expected) in cases {
        let err = from_json::<Bar>(json).unwrap_err();
        assert!(err.contains(expected), "{json}: {err}");
    }
}

fn full_quote() -> Quote {
    Quote::new(
        Symbol::parse("aapl").unwrap(),
        189.5,
        Utc.with_ymd_and_hms(2024, 5, 1, 14, 30, 0).unwrap(),
    )
    .unwrap()
    .with_previous_close(187.25)
    .unwrap()
    .with_open(188.0)
    .unwrap()
    .with_day_range(186.5, 190.75)
    .unwrap()
    .with_volume(51_234_567)
    .unwrap()
    .with_currency("usd")
    .unwrap()
}

#[test]
fn quote_shapes() {
    let json = r#"{"symbol":"AAPL","price":189.5,"time":"2024-05-01T14:30:00Z","previous_close":187.25,"open":188.0,"day_high":190.75,"day_low":186.5,"volume":51234567,"currency":"USD"}"#;
    assert_eq!(to_json(&full_quote()), json);
    assert_eq!(from_json::<Quote>(json), Ok(full_quote()));

    let minimal = Quote::new(
        Symbol::parse("^GSPC").unwrap(),
        5_018.39,
        Utc.with_ymd_and_hms(2024, 5, 1, 20, 0, 0).unwrap(),
    )
    .unwrap();
    let json = r#"{"symbol":"^GSPC","price":5018.39,"time":"2024-05-01T20:00:00Z"}"#;
    assert_eq!(to_json(&minimal), json);
    assert_eq!(from_json::<Quote>(json), Ok(minimal));
}

#[test]
fn quote_reading_normalises() {
    let json = r#"{"symbol":"aapl","price":189.5,"time":"2024-05-01T10:30:00-04:00","previous_close":187.25,"open":188.0,"day_high":190.75,"day_low":186.5,"volume":51234567,"currency":"usd"}"#;
    assert_eq!(from_json::<Quote>(json), Ok(full_quote()));
}

#[test]
fn invalid_quotes_do_not_deserialize() {
    let cases = [
        (
            r#"{"symbol":"AA PL","price":1,"time":"2024-05-01T14:30:00Z"}"#,
            r#"invalid symbol "AA PL": whitespace ' ' at position 2"#,
        ),
        (
            r#"{"symbol":"AAPL","price":0,"time":"2024-05-01T14:30:00Z"}"#,
            "invalid quote: price is 0, prices must be greater than zero",
        ),
        (
            r#"{"symbol":"AAPL","price":1,"time":"2024-05-01"}"#,
            r#"invalid timestamp "2024-05-01": expected RFC 3339"#,
        ),
        (
            r#"{"symbol":"AAPL","price":1,"time":"2024-05-01T14:30:00Z","day_low":2,"day_high":1}"#,
            "invalid quote: day_low 2 is above day_high 1",
        ),
        (
            r#"{"symbol":"AAPL","price":1,"time":"2024-05-01T14:30:00Z","day_low":2}"#,
            "invalid quote: day_low and day_high must be given together or not at all",
        ),
        (
            r#"{"symbol":"AAPL","price":1,"time":"2024-05-01T14:30:00Z","currency":"$"}"#,
            r#"invalid currency "$""#,
        ),
    ];
    for (json, expected) in cases {
        let err = from_json::<Quote>(json).unwrap_err();
        assert!(err.contains(expected), "{json}: {err}");
    }
}

#[test]
fn string_shaped_types() {
    assert_eq!(to_json(&Symbol::parse("brk-b").unwrap()), r#""BRK-B""#);
    assert_eq!(from_json::<Symbol>(r#""m&m.ns""#), Ok(Symbol::parse("M&M.NS").unwrap()));
    assert_eq!(to_json(&Category::Crypto), r#""crypto""#);
    assert_eq!(from_json::<Category>(r#""etf""#), Ok(Category::Etf));
    assert_eq!(to_json(&Interval::W1), r#""1wk""#);
    assert_eq!(from_json::<Interval>(r#""60m""#), Ok(Interval::H1));
    assert_eq!(to_json(&Currency::parse("krw").unwrap()), r#""KRW""#);

    let err = from_json::<Symbol>(r#""../etc/passwd""#).unwrap_err();
    assert!(err.starts_with(r#"invalid symbol "../etc/passwd": "..""#), "{err}");
    let err = from_json::<Interval>(r#""1M""#).unwrap_err();
    assert!(err.starts_with(r#"unknown interval "1M""#), "{err}");
    let err = from_json::<Category>(r#""bond""#).unwrap_err();
    assert!(err.starts_with(r#"unknown category "bond""#), "{err}");
    assert!(from_json::<Symbol>("42").is_err());

    // A hostile input is echoed truncated and escaped.
    let hostile = format!(r#""A\n{}""#, "B".repeat(100));
    let err = from_json::<Symbol>(&hostile).unwrap_err();
    assert!(!err.contains('\n'), "{err}");
    assert!(
        err.starts_with(&format!(r#"invalid symbol "A\n{}…""#, "B".repeat(38))),
        "{err}"
    );
}

#[test]
fn collections_of_bars_serialize_as_arrays() {
    let bars = vec![
        Bar::new(day(), 1.0, 1.0, 1.0, 1.0, 1).unwrap(),
        Bar::new(day().succ_opt().unwrap(), 2.0, 2.0, 2.0, 2.0, 2).unwrap(),
    ];
    let json = r#"[{"time":"2020-01-02","open":1.0,"high":1.0,"low":1.0,"close":1.0,"volume":1},{"time":"2020-01-03","open":2.0,"high":2.0,"low":2.0,"close":2.0,"volume":2}]"#;
    assert_eq!(to_json(&bars), json);
    assert_eq!(from_json::<Vec<Bar>>(json), Ok(bars));
}

#[test]
fn prices_round_trip_bit_for_bit() {
    // serde_json's default float parser reads this back as ...792 (one ulp off); the
    // `float_roundtrip` feature, enabled for these tests, makes it exact.
    let open = 112_366.457_543_847_91_f64;
    let bar = Bar::new(day(), open, 120_079.41, 61_780.67, 61_780.67, 0).unwrap();
    let back: Bar = from_json(&to_json(&bar)).unwrap();
    assert_eq!(back.open().to_bits(), open.to_bits());
}
