//! Indicators over stored bars and over bars in the body.

use serde_json::json;

use crate::helpers::{error_code, json as body_of, spawn_app, with_json};

#[tokio::test(flavor = "multi_thread")]
async fn indicators_over_stored_bars() {
    let app = spawn_app().await;
    let body = app
        .get_json(
            "/v1/symbols/AAPL/indicators?specs=sma:20,rsi,macd:12:26:9.signal&limit=2",
            200,
        )
        .await;
    insta::assert_json_snapshot!("indicators_stored", body);
    assert_eq!(body["specs"], json!(["sma:20", "rsi:14", "macd:12:26:9.signal"]));
    // Warmed up on earlier bars: the first rows of a `from` page already have values.
    let page = app
        .get_json("/v1/symbols/AAPL/indicators?specs=sma:20&from=2013-02-01&limit=3", 200)
        .await;
    assert!(page["series"][0]["values"][0].as_f64().is_some());
    assert_eq!(page["time"][0], "2013-02-01");
    assert!(page["next_from"].is_string());
    // Within the lookback: null.
    let early = app
        .get_json("/v1/symbols/AAPL/indicators?specs=sma:20&from=2000-01-01&limit=1", 200)
        .await;
    assert!(early["series"][0]["values"][0].is_null());
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_specs_name_what_is_wrong() {
    let app = spawn_app().await;
    for (specs, needle) in [
        ("smaa:20", "smaa"),
        ("rsi:0", "period"),
        ("sma:abc", "abc"),
        ("macd.upper", "upper"),
    ] {
        let body = app
            .get_json(&format!("/v1/symbols/AAPL/indicators?specs={specs}"), 400)
            .await;
        assert_eq!(error_code(&body), "invalid_spec", "{specs}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(needle),
            "{specs}: {body}"
        );
    }
    let body = app.get_json("/v1/symbols/AAPL/indicators", 400).await;
    assert_eq!(error_code(&body), "invalid_spec");
    let body = app.get_json("/v1/symbols/ZZZZ/indicators?specs=sma", 404).await;
    assert_eq!(error_code(&body), "not_found");
    let body = app.get_json("/v1/symbols/AAPL/indicators?specs=sma&to=nope", 400).await;
    assert_eq!(error_code(&body), "invalid_query");
}

fn bars(n: usize) -> Vec<serde_json::Value> {
    (0..n)
        .map(|i| {
            let c = 10.0 + i as f64;
            json!({"time": format!("2024-01-{:02}", i + 1), "open": c, "high": c + 1.0, "low": c - 1.0, "close": c, "volume": 100})
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn indicators_over_posted_bars() {
    let app = spawn_app().await;
    let response = with_json(
        app.client.post(app.url("/v1/indicators")),
        &json!({"specs": "sma:3", "bars": bars(5)}),
    )
    .send()
    .await
    .unwrap();
    let body = body_of(response, 200).await;
    insta::assert_json_snapshot!("indicators_posted", body);
    assert_eq!(body["series"][0]["values"], json!([null, null, 11.0, 12.0, 13.0]));
}

#[tokio::test(flavor = "multi_thread")]
async fn posted_bars_are_checked() {
    let app = spawn_app().await;
    let post = |body: serde_json::Value| with_json(app.client.post(app.url("/v1/indicators")), &body).send();
    let mut bad = bars(3);
    bad[1]["low"] = json!(50.0);
    let body = body_of(post(json!({"specs": "sma:2", "bars": bad})).await.unwrap(), 422).await;
    assert_eq!(error_code(&body), "invalid_bar");
    assert!(body["error"]["message"].as_str().unwrap().starts_with("bar 1:"));
    let mut unordered = bars(3);
    unordered.swap(0, 2);
    let body = body_of(post(json!({"specs": "sma:2", "bars": unordered})).await.unwrap(), 422).await;
    assert_eq!(error_code(&body), "invalid_bar");
    let body = body_of(post(json!({"specs": "nope", "bars": bars(3)})).await.unwrap(), 400).await;
    assert_eq!(error_code(&body), "invalid_spec");
    let body = body_of(
        post(json!({"specs": "sma", "bars": [{"time": "x", "open": 1}]}))
            .await
            .unwrap(),
        400,
    )
    .await;
    assert_eq!(error_code(&body), "invalid_body");
}
