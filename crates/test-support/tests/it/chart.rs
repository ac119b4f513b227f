//! The chart JSON: the real capture reproduced, its key set, values parsing back to the bars,
//! market-open timestamps and the derived meta.

use chrono::{Months, NaiveTime, TimeZone, Utc};
use finstage_domain::{Bar, BarTime};
use finstage_test_support::{MockMeta, MockYahoo, fixtures};
use serde_json::{Value, json};

use crate::helpers::{capture, capture_bytes, chart, daily_bars, date, keys, result, timestamps};

#[tokio::test]
async fn reproduces_the_real_capture_exactly() {
    let captured = capture();
    let bars = daily_bars(result(&captured));
    assert_eq!(bars.len(), 20);
    assert_eq!(bars[19].time(), BarTime::Date(date(2026, 10, 5)));

    let yahoo = MockYahoo::start().await;
    yahoo.add_symbol("^SOX", bars);
    // Only what cannot be derived from these 20 bars is set: the rest (currency, symbol,
    // instrumentType, gmtoffset, timezone, exchangeTimezoneName, regularMarketVolume,
    // priceHint, currentTradingPeriod, dataGranularity, range, validRanges) is the mock's own.
    yahoo.set_meta(
        "^SOX",
        MockMeta {
            exchange_name: Some("NIM".into()),
            full_exchange_name: Some("Nasdaq GIDS".into()),
            first_trade_date: Some(768_058_200),
            regular_market_time: Some(1_791_215_934),
            regular_market_price: Some(13_128.23),
            regular_market_change_percent: Some(-0.064),
            fullday_price: Some(13_128.23),
            fullday_change: Some(-8.444),
            fullday_change_percent: Some(-0.064),
            fifty_two_week_high: Some(14_655.29),
            fifty_two_week_low: Some(6_160.05),
            regular_market_day_high: Some(13_152.674),
            regular_market_day_low: Some(13_004.668),
            long_name: Some("PHLX Semiconductor".into()),
            short_name: Some("PHLX Semiconductor".into()),
            chart_previous_close: Some(11_735.26),
            ..MockMeta::default()
        },
    );
    let answer = crate::helpers::chart_answer(&yahoo, "%5ESOX", "interval=1d&range=1mo").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json(), captured);
    // Byte for byte, too: same key order and number formatting (the file ends with a newline).
    assert_eq!(&answer.body[..], capture_bytes().trim_ascii_end());
}

fn aapl_ten_years() -> Vec<Bar> {
    let history = fixtures::seed_bars("AAPL");
    history[history.len() - 2_520..].to_vec()
}

#[tokio::test]
async fn default_meta_and_structure_have_the_key_set_of_the_capture() {
    let yahoo = MockYahoo::start().await;
    yahoo.add_symbol("AAPL", aapl_ten_years());
    let served = chart(&yahoo, "AAPL", "interval=1d&range=1mo").await;
    let captured = capture();

    assert_eq!(keys(&served), keys(&captured));
    assert_eq!(keys(&served["chart"]), keys(&captured["chart"]));
    assert_eq!(served["chart"]["error"], Value::Null);
    assert_eq!(served["chart"]["result"].as_array().unwrap().len(), 1);
    let (served, captured) = (result(&served), result(&captured));
    assert_eq!(
        keys(served),
        keys(captured),
        "meta, timestamp, indicators; no events unless asked"
    );
    assert_eq!(keys(&served["meta"]), keys(&captured["meta"]));
    let period = "currentTradingPeriod";
    assert_eq!(keys(&served["meta"][period]), keys(&captured["meta"][period]));
    for part in ["pre", "regular", "post"] {
        assert_eq!(
            keys(&served["meta"][period][part]),
            keys(&captured["meta"][period][part])
        );
    }
    assert_eq!(keys(&served["indicators"]), keys(&captured["indicators"]));
    assert_eq!(
        keys(&served["indicators"]["quote"][0]),
        keys(&captured["indicators"]["quote"][0])
    );
    assert_eq!(
        keys(&served["indicators"]["adjclose"][0]),
        keys(&captured["indicators"]["adjclose"][0])
    );
    // Every meta value has the capture's JSON type.
    for (key, value) in captured["meta"].as_object().unwrap() {
        let served = &served["meta"][key];
        assert_eq!(
            std::mem::discriminant(served),
            std::mem::discriminant(value),
            "{key}: {served} vs {value}"
        );
    }

    // range=1d adds previousClose, and nothing else.
    let one_day = chart(&yahoo, "AAPL", "interval=1d&range=1d").await;
    let mut expected = keys(&captured["meta"]);
    expected.insert("previousClose".to_owned());
    assert_eq!(keys(&result(&one_day)["meta"]), expected);
}

#[tokio::test]
async fn served_history_parses_back_to_the_same_bars() {
    let yahoo = MockYahoo::start().await;
    let history = fixtures::seed_bars("AAPL");
    yahoo.add_symbol("AAPL", history.clone());
    let served = chart(&yahoo, "AAPL", "interval=1d&range=max").await;
    let parsed = daily_bars(result(&served));
    assert_eq!(parsed.len(), 3_270);
    assert_eq!(parsed, history);

    // A ten-year window of another symbol, given in reverse order: sorted on the way in.
    let msft = fixtures::seed_bars("MSFT");
    yahoo.add_symbol("MSFT", msft.iter().rev().copied());
    let served = chart(&yahoo, "MSFT", "interval=1d&range=10y").await;
    let cutoff = date(2003, 3, 1);
    let expected: Vec<Bar> = msft
        .into_iter()
        .filter(|bar| bar.time() > BarTime::Date(cutoff))
        .collect();
    assert_eq!(expected[0].time(), BarTime::Date(date(2003, 3, 3)));
    assert_eq!(daily_bars(result(&served)), expected);
}

#[tokio::test]
async fn daily_timestamps_are_the_new_york_market_open() {
    let days = [
        (date(2006, 3, 31), 14), // EST, before the pre-2007 switch (first Sunday of April)
        (date(2006, 4, 3), 13),  // EDT
        (date(2006, 10, 27), 13),
        (date(2006, 10, 30), 14), // EST again (last Sunday of October)
        (date(2013, 3, 8), 14),   // EST, before the second Sunday of March
        (date(2013, 3, 11), 13),  // EDT
        (date(2013, 11, 1), 13),
        (date(2013, 11, 4), 14), // EST after the first Sunday of November
    ];
    let yahoo = MockYahoo::start().await;
    yahoo.add_symbol(
        "IBM",
        days.iter()
            .map(|&(day, _)| Bar::new(day, 10.0, 11.0, 9.0, 10.5, 1).unwrap()),
    );
    let served = chart(&yahoo, "IBM", "interval=1d&range=max").await;
    let expected: Vec<i64> = days
        .iter()
        .map(|&(day, hour)| {
            Utc.from_utc_datetime(&day.and_hms_opt(hour, 30, 0).unwrap())
                .timestamp()
        })
        .collect();
    assert_eq!(timestamps(result(&served)), expected);

    let meta = &result(&served)["meta"];
    // Offsets and periods of the last day (4 November 2013, EST).
    assert_eq!(meta["gmtoffset"], -18_000);
    assert_eq!(meta["timezone"], "EST");
    assert_eq!(meta["exchangeTimezoneName"], "America/New_York");
    let at = |h, m| Utc.with_ymd_and_hms(2013, 11, 4, h, m, 0).unwrap().timestamp();
    let period = |start, end| json!({"timezone": "EST", "start": start, "end": end, "gmtoffset": -18_000});
    assert_eq!(meta["currentTradingPeriod"]["pre"], period(at(9, 0), at(14, 30)));
    assert_eq!(meta["currentTradingPeriod"]["regular"], period(at(14, 30), at(21, 0)));
    assert_eq!(
        meta["currentTradingPeriod"]["post"],
        period(at(21, 0), at(21, 0) + 4 * 3600)
    );
    assert_eq!(meta["regularMarketTime"], at(21, 0), "the last day's close");
    assert_eq!(meta["firstTradeDate"], expected[0]);
}

#[tokio::test]
async fn a_fixed_gmtoffset_and_session_from_meta() {
    let yahoo = MockYahoo::start().await;
    let days = [date(2013, 1, 2), date(2013, 7, 2)];
    yahoo.add_symbol(
        "SAP.DE",
        days.map(|day| Bar::new(day, 10.0, 11.0, 9.0, 10.5, 1).unwrap()),
    );
    yahoo.set_meta(
        "sap.de",
        MockMeta {
            currency: Some("EUR".into()),
            gmtoffset: Some(3_600),
            market_open: Some(NaiveTime::from_hms_opt(9, 0, 0).unwrap()),
            market_close: Some(NaiveTime::from_hms_opt(17, 30, 0).unwrap()),
            ..MockMeta::default()
        },
    );
    let served = chart(&yahoo, "SAP.DE", "range=max").await;
    let expected: Vec<i64> = days
        .iter()
        .map(|day| Utc.from_utc_datetime(&day.and_hms_opt(8, 0, 0).unwrap()).timestamp())
        .collect();
    assert_eq!(
        timestamps(result(&served)),
        expected,
        "one fixed offset, summer and winter"
    );
    let meta = &result(&served)["meta"];
    assert_eq!(meta["currency"], "EUR");
    assert_eq!(meta["gmtoffset"], 3_600);
    assert_eq!(meta["timezone"], "GMT+1");
    let close = Utc.with_ymd_and_hms(2013, 7, 2, 16, 30, 0).unwrap().timestamp();
    assert_eq!(meta["regularMarketTime"], close);
    assert_eq!(meta["currentTradingPeriod"]["regular"]["end"], close);
}

#[tokio::test]
async fn meta_defaults_derive_from_the_bars() {
    let bars = fixtures::synthetic_daily_bars(date(2015, 1, 5), 600, 42);
    let n = bars.len();
    let yahoo = MockYahoo::start().await;
    yahoo.add_symbol("XYZ", bars.clone());

    let served = chart(&yahoo, "XYZ", "interval=1d&range=5d").await;
    let meta = &result(&served)["meta"];
    let (last, previous) = (&bars[n - 1], &bars[n - 2]);
    let BarTime::Date(last_day) = last.time() else {
        unreachable!()
    };
    let year_ago = last_day.checked_sub_months(Months::new(12)).unwrap();
    let year: Vec<&Bar> = bars.iter().filter(|b| b.time() > BarTime::Date(year_ago)).collect();
    let high = year.iter().map(|b| b.high()).fold(f64::MIN, f64::max);
    let low = year.iter().map(|b| b.low()).fold(f64::MAX, f64::min);
    let change = last.close() - previous.close();

    assert_eq!(meta["symbol"], "XYZ");
    assert_eq!(meta["currency"], "USD");
    assert_eq!(meta["instrumentType"], "EQUITY");
    assert_eq!(meta["longName"], "XYZ");
    assert_eq!(meta["shortName"], "XYZ");
    assert_eq!(meta["hasPrePostMarketData"], false);
    assert_eq!(meta["priceHint"], 2);
    assert_eq!(meta["regularMarketPrice"], last.close());
    assert_eq!(meta["fulldayPrice"], last.close());
    assert_eq!(meta["fulldayChange"], change);
    assert_eq!(meta["regularMarketChangePercent"], change / previous.close() * 100.0);
    assert_eq!(meta["fulldayChangePercent"], change / previous.close() * 100.0);
    assert_eq!(meta["regularMarketDayHigh"], last.high());
    assert_eq!(meta["regularMarketDayLow"], last.low());
    assert_eq!(meta["regularMarketVolume"], last.volume());
    assert_eq!(meta["fiftyTwoWeekHigh"], high);
    assert_eq!(meta["fiftyTwoWeekLow"], low);
    assert!(
        year.len() > 250 && year.len() < n,
        "the 52 weeks are a real subset: {}",
        year.len()
    );
    assert_eq!(
        meta["chartPreviousClose"],
        bars[n - 6].close(),
        "the close before the 5 days"
    );
    assert_eq!(meta.get("previousClose"), None, "only for range=1d");
    assert_eq!(meta["dataGranularity"], "1d");
    assert_eq!(meta["range"], "5d");
    assert_eq!(
        meta["validRanges"],
        json!(["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"])
    );

    let one_day = chart(&yahoo, "XYZ", "range=1d").await;
    assert_eq!(result(&one_day)["meta"]["previousClose"], previous.close());
    assert_eq!(result(&one_day)["meta"]["chartPreviousClose"], previous.close());

    // From the first bar held, chartPreviousClose is the first open.
    let max = chart(&yahoo, "XYZ", "range=max").await;
    assert_eq!(result(&max)["meta"]["chartPreviousClose"], bars[0].open());
    assert_eq!(result(&max)["meta"]["range"], "max");
}

#[tokio::test]
async fn index_symbols_default_to_index_meta_and_zero_volume_is_kept() {
    let yahoo = MockYahoo::start().await;
    let bars: Vec<Bar> = fixtures::synthetic_daily_bars(date(2020, 1, 6), 5, 1)
        .into_iter()
        .map(|b| Bar::new(b.time(), b.open(), b.high(), b.low(), b.close(), 0).unwrap())
        .collect();
    yahoo.add_symbol("^GSPC", bars);
    let served = chart(&yahoo, "%5EGSPC", "range=5d").await;
    let result = result(&served);
    assert_eq!(result["meta"]["instrumentType"], "INDEX");
    assert_eq!(result["meta"]["symbol"], "^GSPC");
    assert_eq!(result["meta"]["regularMarketVolume"], 0);
    assert_eq!(result["indicators"]["quote"][0]["volume"], json!([0, 0, 0, 0, 0]));
}

#[tokio::test]
async fn a_listed_symbol_without_bars_is_an_empty_result() {
    let yahoo = MockYahoo::start().await;
    yahoo.add_symbol("NEW", Vec::new());
    let served = chart(&yahoo, "NEW", "range=1mo").await;
    let result = result(&served);
    assert_eq!(keys(result), ["indicators", "meta"].map(String::from).into());
    assert_eq!(result["indicators"], json!({"quote": [{}], "adjclose": [{}]}));
    assert_eq!(result["meta"]["symbol"], "NEW");
    assert_eq!(result["meta"]["regularMarketPrice"], Value::Null);
    assert_eq!(result["meta"]["firstTradeDate"], Value::Null);
}
