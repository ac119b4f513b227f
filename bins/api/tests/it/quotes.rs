//! Quotes: through the provider, the stored fallback when it is down, 503 when nothing is
//! stored, per-symbol errors in batches.

use chrono::{TimeZone, Utc};
use finstage_domain::Quote;
use finstage_test_support::{Fault, FaultScope};

use crate::helpers::{error_code, spawn_app, sym};

#[tokio::test(flavor = "multi_thread")]
async fn a_quote_from_the_provider() {
    let app = spawn_app().await;
    let body = app.get_json("/v1/quotes/aapl", 200).await;
    assert_eq!(body["symbol"], "AAPL");
    assert_eq!(body["stale"], false);
    assert!(body["price"].as_f64().unwrap() > 0.0);
    insta::assert_json_snapshot!("quote", body);
    // Cached by the resilience layer: one upstream request for two calls.
    app.get_json("/v1/quotes/AAPL", 200).await;
    assert_eq!(app.yahoo.requests("AAPL"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_and_unknown_symbols() {
    let app = spawn_app().await;
    let body = app.get_json("/v1/quotes/not%20a%20symbol", 400).await;
    assert_eq!(error_code(&body), "invalid_symbol");
    let body = app.get_json("/v1/quotes/ZZZZ", 404).await;
    assert_eq!(error_code(&body), "not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_down_serves_the_stored_quote_marked_stale_or_503() {
    let app = spawn_app().await;
    app.yahoo.set_fault(FaultScope::Any, Some(Fault::Status(503)));
    let body = app.get_json("/v1/quotes/AAPL", 503).await;
    assert_eq!(error_code(&body), "upstream_unavailable");
    let stored = Quote::new(
        sym("AAPL"),
        123.45,
        Utc.with_ymd_and_hms(2013, 12, 31, 21, 0, 0).unwrap(),
    )
    .unwrap();
    app.store.quotes().upsert(&stored).await.unwrap();
    let body = app.get_json("/v1/quotes/AAPL", 200).await;
    assert_eq!(body["stale"], true);
    assert_eq!(body["price"], 123.45);
    insta::assert_json_snapshot!("quote_stale", body);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_with_per_symbol_errors() {
    let app = spawn_app().await;
    let body = app.get_json("/v1/quotes?symbols=AAPL,ZZZZ,msft,AAPL", 200).await;
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["symbol"], "AAPL");
    assert!(items[0]["quote"]["price"].as_f64().is_some());
    assert_eq!(items[1]["symbol"], "ZZZZ");
    assert_eq!(items[1]["error"]["code"], "not_found");
    assert!(items[1].get("quote").is_none());
    assert_eq!(items[2]["quote"]["symbol"], "MSFT");
    // One symbol's outage is its own error.
    app.yahoo.set_fault(FaultScope::symbol("IBM"), Some(Fault::Status(500)));
    let body = app.get_json("/v1/quotes?symbols=IBM,AAPL", 200).await;
    assert_eq!(body["items"][0]["error"]["code"], "upstream_unavailable");
    assert_eq!(body["items"][1]["quote"]["symbol"], "AAPL");
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_input_is_checked() {
    let app = spawn_app().await;
    for path in [
        "/v1/quotes",
        "/v1/quotes?symbols=",
        "/v1/quotes?symbols=A,,B",
        "/v1/quotes?symbols=A,B,C,D,E,F",
    ] {
        let body = app.get_json(path, 400).await;
        assert_eq!(error_code(&body), "invalid_query", "{path}");
    }
    let body = app.get_json("/v1/quotes?symbols=AAPL,bad%20one", 400).await;
    assert_eq!(error_code(&body), "invalid_symbol");
}
