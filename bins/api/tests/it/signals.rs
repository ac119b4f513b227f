//! Signals: list with filters and cursor pages, one with its outcome, statistics per kind.

use chrono::{TimeZone, Utc};
use finstage_store::{NewSignal, SignalOutcome};
use serde_json::json;

use crate::helpers::{TestApp, error_code, redact, spawn_app, sym};

async fn seed(app: &TestApp) -> Vec<i64> {
    let mut ids = Vec::new();
    for (i, (symbol, kind)) in [
        ("AAPL", "rsi_oversold_enter"),
        ("AAPL", "macd_cross_up"),
        ("MSFT", "rsi_oversold_enter"),
        ("AAPL", "rsi_oversold_enter"),
    ]
    .into_iter()
    .enumerate()
    {
        let signal = NewSignal {
            symbol: sym(symbol),
            kind: kind.to_owned(),
            timeframe: "1d".to_owned(),
            triggered_at: Utc.with_ymd_and_hms(2013, 12, 2 + i as u32, 21, 0, 0).unwrap(),
            price: 500.0 + i as f64,
            values: json!({"rsi": 28.5}),
        };
        ids.push(app.store.signals().insert(&signal).await.unwrap().0);
    }
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_filter_and_page_with_cursors() {
    let app = spawn_app().await;
    let ids = seed(&app).await;
    let page1 = app.get_json("/v1/signals?limit=3", 200).await;
    let items = page1["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["id"], ids[3]);
    let cursor = page1["next_cursor"].as_str().unwrap();
    let page2 = app.get_json(&format!("/v1/signals?limit=3&cursor={cursor}"), 200).await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 1);
    assert_eq!(page2["items"][0]["id"], ids[0]);
    assert!(page2["next_cursor"].is_null());

    let filtered = app
        .get_json("/v1/signals?symbol=aapl&kind=rsi_oversold_enter", 200)
        .await;
    assert_eq!(filtered["items"].as_array().unwrap().len(), 2);
    let since = app.get_json("/v1/signals?since=2013-12-04T00:00:00Z", 200).await;
    assert_eq!(since["items"].as_array().unwrap().len(), 2);
    let mut snapshot = filtered;
    redact(&mut snapshot, &["id", "created_at"]);
    insta::assert_json_snapshot!("signals_filtered", snapshot);
}

#[tokio::test(flavor = "multi_thread")]
async fn list_parameters_are_checked() {
    let app = spawn_app().await;
    for path in [
        "/v1/signals?cursor=zz",
        "/v1/signals?kind=Not-A-Kind",
        "/v1/signals?limit=0",
        "/v1/signals?limit=1001",
        "/v1/signals?since=2013-12-04",
    ] {
        let body = app.get_json(path, 400).await;
        assert_eq!(error_code(&body), "invalid_query", "{path}: {body}");
    }
    let body = app.get_json("/v1/signals?symbol=%3Cx%3E", 400).await;
    assert_eq!(error_code(&body), "invalid_symbol");
}

#[tokio::test(flavor = "multi_thread")]
async fn one_signal_with_its_outcome() {
    let app = spawn_app().await;
    let ids = seed(&app).await;
    let mut outcome = SignalOutcome::new(ids[0], Utc.with_ymd_and_hms(2013, 12, 10, 0, 0, 0).unwrap());
    outcome.horizons[2].price = Some(510.0);
    outcome.horizons[2].ret = Some(0.02);
    outcome.horizons[2].success = Some(true);
    app.store.outcomes().upsert(&outcome).await.unwrap();
    let mut body = app.get_json(&format!("/v1/signals/{}", ids[0]), 200).await;
    assert_eq!(body["id"], ids[0]);
    assert_eq!(body["outcome"]["horizons"][2]["success"], true);
    redact(&mut body, &["id", "created_at"]);
    insta::assert_json_snapshot!("signal_detail", body);
    let body = app.get_json("/v1/signals/999999", 404).await;
    assert_eq!(error_code(&body), "not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn statistics_per_kind() {
    let app = spawn_app().await;
    let empty = app.get_json("/v1/signals/stats", 200).await;
    assert_eq!(empty["kinds"], json!([]));
    let ids = seed(&app).await;
    for (i, id) in ids.iter().enumerate() {
        let mut outcome = SignalOutcome::new(*id, Utc.with_ymd_and_hms(2013, 12, 20, 0, 0, 0).unwrap());
        for h in [0, 2] {
            outcome.horizons[h].price = Some(500.0);
            outcome.horizons[h].ret = Some(if i % 2 == 0 { 0.01 } else { -0.01 });
            outcome.horizons[h].success = Some(i % 2 == 0);
        }
        app.store.outcomes().upsert(&outcome).await.unwrap();
    }
    let body = app.get_json("/v1/signals/stats", 200).await;
    let kinds = body["kinds"].as_array().unwrap();
    assert!(!kinds.is_empty(), "{body}");
    assert!(kinds.iter().all(|k| k["horizons"].as_array().unwrap().len() == 5));
    let body = app.get_json("/v1/signals/stats?since=nope", 400).await;
    assert_eq!(error_code(&body), "invalid_query");
}
