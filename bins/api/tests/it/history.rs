//! History (daily and intraday) and highs.

use chrono::{TimeZone, Utc};
use finstage_domain::{Bar, Interval};

use crate::helpers::{error_code, spawn_app, sym};

#[tokio::test(flavor = "multi_thread")]
async fn daily_bars_page_forward_from_a_date() {
    let app = spawn_app().await;
    let body = app
        .get_json("/v1/symbols/AAPL/history?from=2013-02-20&to=2013-03-01&limit=3", 200)
        .await;
    insta::assert_json_snapshot!("history_page", body);
    let next = body["next_from"].as_str().unwrap();
    let page2 = app
        .get_json(
            &format!("/v1/symbols/AAPL/history?from={next}&to=2013-03-01&limit=3"),
            200,
        )
        .await;
    assert_eq!(page2["bars"][0]["time"], next);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_from_the_newest_bars() {
    let app = spawn_app().await;
    let body = app.get_json("/v1/symbols/AAPL/history?limit=2", 200).await;
    let bars = body["bars"].as_array().unwrap();
    assert_eq!(bars.len(), 2);
    assert!(bars[0]["time"].as_str().unwrap() < bars[1]["time"].as_str().unwrap());
    assert!(body["next_from"].is_null());
    let all = app.get_json("/v1/symbols/AAPL/history", 200).await;
    assert_eq!(all["bars"].as_array().unwrap().len(), 300);
    assert_eq!(all["bars"][299]["time"], bars[1]["time"]);
    // A configured symbol without bars is known: empty, not 404.
    let empty = app.get_json("/v1/symbols/%5EGSPC/history", 200).await;
    assert_eq!(empty["bars"].as_array().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn intraday_bars_from_their_table() {
    let app = spawn_app().await;
    let t0 = Utc.with_ymd_and_hms(2024, 5, 1, 13, 30, 0).unwrap();
    let bars: Vec<Bar> = (0..5)
        .map(|i| Bar::new(t0 + chrono::TimeDelta::minutes(5 * i), 10.0, 11.0, 9.0, 10.5, 100).unwrap())
        .collect();
    app.store
        .intraday_bars()
        .upsert(&sym("AAPL"), Interval::M5, &bars)
        .await
        .unwrap();
    let body = app
        .get_json(
            "/v1/symbols/AAPL/history?interval=5m&from=2024-05-01T13:35:00Z&limit=2",
            200,
        )
        .await;
    assert_eq!(body["interval"], "5m");
    assert_eq!(body["bars"][0]["time"], "2024-05-01T13:35:00Z");
    assert_eq!(body["bars"].as_array().unwrap().len(), 2);
    assert_eq!(body["next_from"], "2024-05-01T13:45:00Z");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_parameter_is_checked() {
    let app = spawn_app().await;
    for path in [
        "/v1/symbols/AAPL/history?interval=2h",
        "/v1/symbols/AAPL/history?interval=1wk",
        "/v1/symbols/AAPL/history?from=2013-13-01",
        "/v1/symbols/AAPL/history?from=2013-12-31&to=2013-01-01",
        "/v1/symbols/AAPL/history?limit=0",
        "/v1/symbols/AAPL/history?limit=10001",
    ] {
        let body = app.get_json(path, 400).await;
        assert_eq!(error_code(&body), "invalid_query", "{path}: {body}");
    }
    let body = app.get_json("/v1/symbols/AA%20PL/history", 400).await;
    assert_eq!(error_code(&body), "invalid_symbol");
    let body = app.get_json("/v1/symbols/ZZZZ/history", 404).await;
    assert_eq!(error_code(&body), "not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn highs_and_the_drop_from_them() {
    let app = spawn_app().await;
    let body = app.get_json("/v1/symbols/AAPL/highs", 200).await;
    insta::assert_json_snapshot!("highs", body);
    let high = body["all_time_high"].as_f64().unwrap();
    let price = body["price"].as_f64().unwrap();
    let drop = body["drop_percent"].as_f64().unwrap();
    assert!((drop - (high - price) / high * 100.0).abs() < 1e-9);
    let body = app.get_json("/v1/symbols/ZZZZ/highs", 404).await;
    assert_eq!(error_code(&body), "not_found");
    let body = app.get_json("/v1/symbols/%5EGSPC/highs", 404).await;
    assert!(body["error"]["message"].as_str().unwrap().contains("no stored history"));
    let body = app.get_json("/v1/symbols/a%3Cb/highs", 400).await;
    assert_eq!(error_code(&body), "invalid_symbol");
}
