//! The error model at the edges: malformed query strings and bodies, oversized bodies, the rate
//! limit, CORS.

use finstage_api::RateLimitOptions;

use crate::helpers::{Setup, TOKEN, error_code, json, spawn_app, spawn_with};

#[tokio::test(flavor = "multi_thread")]
async fn malformed_queries_are_invalid_query() {
    let app = spawn_app().await;
    for path in [
        "/v1/symbols/AAPL/history?limit=abc",
        "/v1/symbols/AAPL/history?limit=-1",
        "/v1/symbols/AAPL/history?bogus=1",
        "/v1/signals?since=yesterday",
    ] {
        let body = app.get_json(path, 400).await;
        assert_eq!(error_code(&body), "invalid_query", "{path}: {body}");
    }
    let body = app.get_json("/v1/signals/abc", 400).await;
    assert_eq!(error_code(&body), "invalid_path");
}

#[tokio::test(flavor = "multi_thread")]
async fn bodies_bad_json_wrong_type_and_too_large() {
    let app = spawn_app().await;
    let post = |body: String, content_type: &'static str| {
        app.client
            .post(app.url("/v1/indicators"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let body = json(post("{not json".into(), "application/json").await.unwrap(), 400).await;
    assert_eq!(error_code(&body), "invalid_body");
    let body = json(
        post(r#"{"specs":"sma:2"}"#.into(), "application/json").await.unwrap(),
        400,
    )
    .await;
    assert_eq!(error_code(&body), "invalid_body");
    let body = json(post("{}".into(), "text/plain").await.unwrap(), 415).await;
    assert_eq!(error_code(&body), "unsupported_media_type");
    let huge = format!(r#"{{"specs":"sma:2","bars":[],"pad":"{}"}}"#, "x".repeat(100 * 1024));
    let body = json(post(huge, "application/json").await.unwrap(), 413).await;
    assert_eq!(error_code(&body), "payload_too_large");
}

#[tokio::test(flavor = "multi_thread")]
async fn input_echoed_in_messages_is_shortened_and_escaped() {
    let app = spawn_app().await;
    let long = format!("<script>{}", "A".repeat(500));
    let body = app.get_json(&format!("/v1/signals?cursor={long}"), 400).await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(!message.contains("<script>"), "{message}");
    assert!(message.chars().count() < 200, "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rate_limit_answers_429_with_retry_after_and_spares_health_and_admin() {
    let app = spawn_with(Setup {
        rate_limit: Some(RateLimitOptions {
            per_second: 0.001,
            burst: 2,
        }),
        ..Setup::default()
    })
    .await;
    app.get_json("/v1/symbols", 200).await;
    app.get_json("/v1/symbols", 200).await;
    let response = app.get("/v1/symbols").await;
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=1000).contains(&retry_after), "{retry_after}");
    assert!(response.headers().contains_key("x-request-id"));
    let body = json(response, 429).await;
    assert_eq!(error_code(&body), "rate_limited");
    // Other public endpoints share the client's allowance.
    let body = app.get_json("/v1/quotes/AAPL", 429).await;
    assert_eq!(error_code(&body), "rate_limited");
    // Health, metrics and admin endpoints are exempt.
    for _ in 0..5 {
        app.get_json("/health/live", 200).await;
        assert_eq!(app.get("/metrics").await.status(), 200);
        let response = app
            .client
            .delete(app.url("/v1/symbols/ZZZZ"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(json(response, 404).await["error"]["code"], "not_found");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cors_allows_only_configured_origins() {
    let app = spawn_with(Setup {
        cors_origins: vec!["https://dash.example.com".into()],
        ..Setup::default()
    })
    .await;
    let allowed = app
        .client
        .get(app.url("/v1/symbols"))
        .header("origin", "https://dash.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://dash.example.com"
    );
    let other = app
        .client
        .get(app.url("/v1/symbols"))
        .header("origin", "https://evil.example.com")
        .send()
        .await
        .unwrap();
    assert!(!other.headers().contains_key("access-control-allow-origin"));
    // Without configured origins no CORS header is ever sent.
    let closed = spawn_app().await;
    let response = closed
        .client
        .get(closed.url("/v1/symbols"))
        .header("origin", "https://dash.example.com")
        .send()
        .await
        .unwrap();
    assert!(!response.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test(flavor = "multi_thread")]
async fn responses_are_gzipped_when_asked() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/openapi.json"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-encoding"], "gzip");
}
