//! What a query selects: ranges anchored on the newest bar, half-open periods, weekly and
//! monthly aggregation, intraday series, events, `includeAdjustedClose`, and 422s.

use chrono::{Datelike, TimeDelta, TimeZone, Utc};
use finstage_domain::{Bar, BarTime, Interval};
use finstage_test_support::{MockYahoo, fixtures};
use serde_json::{Value, json};

use crate::helpers::{chart, chart_answer, daily_bars, date, keys, result, timestamps};

async fn aapl() -> (MockYahoo, Vec<Bar>) {
    let yahoo = MockYahoo::start().await;
    let history = fixtures::seed_bars("AAPL");
    yahoo.add_symbol("AAPL", history.clone());
    (yahoo, history)
}

fn dates(bars: &[Bar]) -> Vec<BarTime> {
    bars.iter().map(Bar::time).collect()
}

#[tokio::test]
async fn ranges_count_back_from_the_newest_bar() {
    let (yahoo, history) = aapl().await;
    let after = |cutoff| -> Vec<BarTime> {
        dates(&history)
            .into_iter()
            .filter(|&t| t > BarTime::Date(cutoff))
            .collect()
    };
    // The newest bar is 2013-03-01 (a Friday), whatever today is.
    let cases = [
        ("1d", vec![BarTime::Date(date(2013, 3, 1))], date(2013, 3, 1)),
        ("5d", dates(&history[history.len() - 5..]), date(2013, 2, 25)),
        ("1mo", after(date(2013, 2, 1)), date(2013, 2, 4)),
        ("3mo", after(date(2012, 12, 1)), date(2012, 12, 3)),
        ("6mo", after(date(2012, 9, 1)), date(2012, 9, 4)),
        ("1y", after(date(2012, 3, 1)), date(2012, 3, 2)),
        ("2y", after(date(2011, 3, 1)), date(2011, 3, 2)),
        ("5y", after(date(2008, 3, 1)), date(2008, 3, 3)),
        ("10y", after(date(2003, 3, 1)), date(2003, 3, 3)),
        ("ytd", after(date(2012, 12, 31)), date(2013, 1, 2)),
        ("max", dates(&history), date(2000, 3, 1)),
    ];
    for (range, expected, first) in cases {
        let served = chart(&yahoo, "AAPL", &format!("interval=1d&range={range}")).await;
        let served = dates(&daily_bars(result(&served)));
        assert_eq!(served, expected, "range={range}");
        assert_eq!(served[0], BarTime::Date(first), "range={range}");
        assert_eq!(
            result(&chart(&yahoo, "AAPL", &format!("range={range}")).await)["meta"]["range"],
            range
        );
    }
}

#[tokio::test]
async fn periods_are_half_open_on_yahoo_timestamps() {
    let (yahoo, history) = aapl().await;
    let open = |y, m, d| Utc.with_ymd_and_hms(y, m, d, 14, 30, 0).unwrap().timestamp();

    let served = chart(
        &yahoo,
        "AAPL",
        &format!("interval=1d&period1={}&period2={}", open(2013, 2, 4), open(2013, 2, 8)),
    )
    .await;
    let expected: Vec<BarTime> = [4, 5, 6, 7].map(|d| BarTime::Date(date(2013, 2, d))).into();
    assert_eq!(dates(&daily_bars(result(&served))), expected, "period2 is exclusive");
    assert_eq!(result(&served)["meta"]["range"], "");
    let february_1 = history
        .iter()
        .find(|b| b.time() == BarTime::Date(date(2013, 2, 1)))
        .unwrap();
    assert_eq!(result(&served)["meta"]["chartPreviousClose"], february_1.close());

    // One second after an open excludes that day; period2 alone reaches back to the start.
    let served = chart(&yahoo, "AAPL", &format!("period1={}", open(2013, 2, 28) + 1)).await;
    assert_eq!(dates(&daily_bars(result(&served))), [BarTime::Date(date(2013, 3, 1))]);
    let served = chart(&yahoo, "AAPL", &format!("period2={}", open(2000, 3, 3))).await;
    assert_eq!(daily_bars(result(&served)), history[..2]);
    // period1/period2 win over range.
    let served = chart(&yahoo, "AAPL", &format!("range=max&period1={}", open(2013, 3, 1))).await;
    assert_eq!(daily_bars(result(&served)).len(), 1);

    // A weekend: Yahoo's empty shape.
    let saturday = Utc.with_ymd_and_hms(2013, 2, 9, 0, 0, 0).unwrap().timestamp();
    let served = chart(
        &yahoo,
        "AAPL",
        &format!("period1={saturday}&period2={}", saturday + 86_400),
    )
    .await;
    let result = result(&served);
    assert_eq!(keys(result), ["indicators", "meta"].map(String::from).into());
    assert_eq!(result["indicators"], json!({"quote": [{}], "adjclose": [{}]}));
    assert_eq!(result["meta"]["regularMarketPrice"], history.last().unwrap().close());
}

#[tokio::test]
async fn weekly_and_monthly_aggregate_the_daily_bars() {
    let (yahoo, history) = aapl().await;
    let served = chart(&yahoo, "AAPL", "interval=1wk&range=3mo").await;
    let result_1wk = result(&served);
    assert_eq!(result_1wk["meta"]["dataGranularity"], "1wk");
    let weeks = daily_bars(result_1wk);

    // The same weeks computed here from the daily bars after 2012-12-01.
    let daily: Vec<&Bar> = history
        .iter()
        .filter(|b| b.time() > BarTime::Date(date(2012, 12, 1)))
        .collect();
    let week_of = |b: &Bar| match b.time() {
        BarTime::Date(d) => (d.iso_week().year(), d.iso_week().week()),
        BarTime::Timestamp(_) => unreachable!(),
    };
    let mut expected: Vec<Vec<&Bar>> = Vec::new();
    for bar in daily {
        match expected.last_mut() {
            Some(week) if week_of(week[0]) == week_of(bar) => week.push(bar),
            _ => expected.push(vec![bar]),
        }
    }
    assert_eq!(weeks.len(), expected.len());
    assert_eq!(weeks.len(), 13);
    for (week, days) in weeks.iter().zip(&expected) {
        let (first, last) = (days[0], days[days.len() - 1]);
        assert_eq!(week.time(), first.time(), "stamped with the week's first trading day");
        assert_eq!(week.open(), first.open());
        assert_eq!(week.close(), last.close());
        assert_eq!(week.adj_close(), last.adj_close());
        assert_eq!(week.high(), days.iter().map(|b| b.high()).fold(f64::MIN, f64::max));
        assert_eq!(week.low(), days.iter().map(|b| b.low()).fold(f64::MAX, f64::min));
        assert_eq!(week.volume(), days.iter().map(|b| b.volume()).sum::<u64>());
    }

    let served = chart(&yahoo, "AAPL", "interval=1mo&range=1y").await;
    let months = daily_bars(result(&served));
    // 2012-03-02 .. 2013-03-01: March 2012 (partial) to March 2013 (one day).
    assert_eq!(months.len(), 13);
    assert_eq!(months[0].time(), BarTime::Date(date(2012, 3, 2)));
    assert_eq!(months[12].time(), BarTime::Date(date(2013, 3, 1)));
    let january: Vec<&Bar> = history
        .iter()
        .filter(|b| matches!(b.time(), BarTime::Date(d) if d.year() == 2013 && d.month() == 1))
        .collect();
    assert_eq!(months[10].time(), january[0].time());
    assert_eq!(months[10].close(), january[january.len() - 1].close());
    assert_eq!(months[10].volume(), january.iter().map(|b| b.volume()).sum::<u64>());
}

fn intraday(day: u32, hour: u32, minutes: i64, count: i64, price: f64) -> Vec<Bar> {
    let start = Utc.with_ymd_and_hms(2013, 3, day, hour, 30, 0).unwrap();
    (0..count)
        .map(|k| {
            Bar::new(
                start + TimeDelta::minutes(minutes * k),
                price,
                price + 1.0,
                price - 1.0,
                price,
                10,
            )
            .unwrap()
        })
        .collect()
}

#[tokio::test]
async fn intraday_series_are_served_as_stored_without_adjclose() {
    let yahoo = MockYahoo::start().await;
    // Daily history plus two days of 60-minute bars given to add_symbol (1 and 4 March 2013,
    // from 14:30 UTC = 09:30 EST), and one day of 5-minute bars of their own.
    let daily = fixtures::seed_bars("IBM");
    let mut hourly = intraday(1, 14, 60, 7, 200.0);
    hourly.extend(intraday(4, 14, 60, 7, 201.0));
    yahoo.add_symbol("IBM", daily.iter().copied().chain(hourly.iter().copied()));
    let five: Vec<Bar> = intraday(1, 14, 5, 78, 100.0);
    yahoo.add_intraday("IBM", Interval::M5, five.clone());

    let served = chart(&yahoo, "IBM", "interval=5m&range=1d").await;
    let result_5m = result(&served);
    assert_eq!(
        timestamps(result_5m),
        five.iter().map(|b| b.time().unix_seconds()).collect::<Vec<_>>()
    );
    assert_eq!(
        keys(&result_5m["indicators"]),
        ["quote".to_owned()].into(),
        "no adjclose intraday"
    );
    assert_eq!(result_5m["meta"]["dataGranularity"], "5m");
    // The meta still comes from the daily history.
    assert_eq!(result_5m["meta"]["regularMarketPrice"], daily.last().unwrap().close());

    // 60m and 1h both serve the bars given to add_symbol; range=1d is the last trading date.
    for name in ["60m", "1h"] {
        let served = chart(&yahoo, "IBM", &format!("interval={name}&range=1d")).await;
        let expected: Vec<i64> = hourly[7..].iter().map(|b| b.time().unix_seconds()).collect();
        assert_eq!(timestamps(result(&served)), expected, "{name}");
        assert_eq!(result(&served)["meta"]["dataGranularity"], name);
    }
    let served = chart(&yahoo, "IBM", "interval=15m&range=5d").await;
    assert_eq!(timestamps(result(&served)).len(), 14);
    let closes = &result(&served)["indicators"]["quote"][0]["close"];
    assert_eq!(closes[0], 200.0);
    assert_eq!(closes[13], 201.0);
}

#[test]
#[should_panic(expected = "not intraday")]
fn add_intraday_refuses_daily_intervals() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let yahoo = runtime.block_on(MockYahoo::start());
    yahoo.add_intraday("IBM", Interval::D1, Vec::new());
}

#[tokio::test]
async fn events_only_when_asked_for_and_within_the_served_dates() {
    let (yahoo, _) = aapl().await;
    yahoo.add_dividend("AAPL", date(2012, 8, 9), 2.65);
    yahoo.add_dividend("aapl", date(2013, 2, 7), 2.65);
    yahoo.add_split("AAPL", date(2005, 2, 28), 2, 1);
    let open = |y, m, d, h| Utc.with_ymd_and_hms(y, m, d, h, 30, 0).unwrap().timestamp();

    let plain = chart(&yahoo, "AAPL", "range=1y").await;
    assert_eq!(result(&plain).get("events"), None, "not asked for");

    let dividends = chart(&yahoo, "AAPL", "range=1y&events=div").await;
    let events = &result(&dividends)["events"];
    let (summer, winter) = (open(2012, 8, 9, 13), open(2013, 2, 7, 14));
    assert_eq!(
        *events,
        json!({"dividends": {
            summer.to_string(): {"amount": 2.65, "date": summer},
            winter.to_string(): {"amount": 2.65, "date": winter},
        }})
    );
    let text = chart_answer(&yahoo, "AAPL", "range=1y&events=div").await;
    let at = |key: &str| text.text().find(&format!("\"{key}\":")).unwrap();
    assert!(at("meta") < at("timestamp") && at("timestamp") < at("events") && at("events") < at("indicators"));

    // Both, URL-encoded: the 2005 split is outside a one-year range, inside max.
    let both = chart(&yahoo, "AAPL", "range=1y&events=div%7Csplit").await;
    assert_eq!(keys(&result(&both)["events"]), ["dividends".to_owned()].into());
    let both = chart(&yahoo, "AAPL", "range=max&events=div|split").await;
    let split = open(2005, 2, 28, 14);
    assert_eq!(
        result(&both)["events"]["splits"],
        json!({split.to_string(): {"date": split, "numerator": 2, "denominator": 1, "splitRatio": "2:1"}})
    );
    let splits = chart(&yahoo, "AAPL", "range=max&events=split").await;
    assert_eq!(keys(&result(&splits)["events"]), ["splits".to_owned()].into());
}

#[tokio::test]
async fn include_adjusted_close_false_drops_adjclose() {
    let (yahoo, history) = aapl().await;
    let served = chart(&yahoo, "AAPL", "range=5d&includeAdjustedClose=false").await;
    assert_eq!(keys(&result(&served)["indicators"]), ["quote".to_owned()].into());
    let served = chart(&yahoo, "AAPL", "range=5d&includeAdjustedClose=true").await;
    let adj = &result(&served)["indicators"]["adjclose"][0]["adjclose"];
    assert_eq!(adj[4], history.last().unwrap().adj_close().unwrap());
    // A bar without an adjusted close sends its close.
    let yahoo = MockYahoo::start().await;
    yahoo.add_symbol("RAW", [Bar::new(date(2020, 1, 2), 1.0, 2.0, 0.5, 1.5, 3).unwrap()]);
    let served = chart(&yahoo, "RAW", "range=5d").await;
    assert_eq!(result(&served)["indicators"]["adjclose"], json!([{"adjclose": [1.5]}]));
}

#[tokio::test]
async fn bad_queries_are_422_with_a_yahoo_chart_error() {
    let (yahoo, _) = aapl().await;
    let cases = [
        ("interval=2h", "Invalid input - interval=2h is not supported"),
        ("interval=1M", "Invalid input - interval=1M is not supported"),
        ("range=7d", "Invalid input - range=7d is not supported"),
        (
            "period1=yesterday",
            "Invalid input - period1=yesterday is not a valid epoch second",
        ),
        (
            "period1=200&period2=100",
            "Invalid input - start date cannot be after end date",
        ),
    ];
    for (query, start) in cases {
        let answer = chart_answer(&yahoo, "AAPL", query).await;
        assert_eq!(answer.status, 422, "{query}");
        assert_eq!(answer.header("content-type"), Some("application/json;charset=utf-8"));
        let json = answer.json();
        assert_eq!(json["chart"]["result"], Value::Null);
        assert_eq!(json["chart"]["error"]["code"], "Unprocessable Entity");
        let description = json["chart"]["error"]["description"].as_str().unwrap();
        assert!(description.starts_with(start), "{query}: {description}");
    }
    // An unknown symbol is a 404 whatever the query.
    assert_eq!(chart_answer(&yahoo, "NOPE", "interval=2h").await.status, 404);
}
