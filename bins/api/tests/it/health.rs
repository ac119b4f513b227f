//! Health, metrics, request ids, unknown routes and the OpenAPI document.

use std::collections::BTreeSet;

use finstage_monitoring::health::{CheckResult, FnCheck};
use finstage_monitoring::{CheckOptions, HealthRegistry};

use crate::helpers::{Setup, error_code, json, spawn_app, spawn_with};

#[tokio::test(flavor = "multi_thread")]
async fn live_and_ready_answer() {
    let app = spawn_app().await;
    let live = app.get_json("/health/live", 200).await;
    assert_eq!(live["status"], "ok");
    let ready = app.get_json("/health/ready", 200).await;
    assert_eq!(ready["status"], "ok");
    assert_eq!(ready["checks"][0]["name"], "store");
    assert_eq!(ready["checks"][0]["status"], "ok");
}

#[tokio::test(flavor = "multi_thread")]
async fn ready_is_503_when_a_critical_check_is_down() {
    let health = HealthRegistry::new();
    health
        .register(
            FnCheck::new("upstream", || async { CheckResult::down("breaker open") }),
            CheckOptions::default(),
        )
        .unwrap();
    let app = spawn_with(Setup {
        health,
        ..Setup::default()
    })
    .await;
    let ready = app.get_json("/health/ready", 503).await;
    assert_eq!(ready["status"], "down");
    // Liveness runs no check.
    app.get_json("/health/live", 200).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_are_labelled_by_route_template() {
    let app = spawn_app().await;
    app.get_json("/v1/symbols/AAPL/history?limit=2", 200).await;
    app.get_json("/no/such/thing", 404).await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    assert!(
        text.contains(
            r#"finstage_http_requests_total{method="GET",route="/v1/symbols/{symbol}/history",status="200"}"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
    assert!(
        text.contains("finstage_http_request_duration_milliseconds_bucket"),
        "{text}"
    );
    assert!(!text.contains("/v1/symbols/AAPL/history"), "a raw path became a label");
    assert!(!text.contains("/no/such/thing"), "a raw path became a label");
}

#[tokio::test(flavor = "multi_thread")]
async fn request_ids_are_echoed_or_made() {
    let app = spawn_app().await;
    let echoed = app
        .client
        .get(app.url("/health/live"))
        .header("x-request-id", "client-id-42")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "client-id-42");
    let replaced = app
        .client
        .get(app.url("/v1/nothing"))
        .header("x-request-id", "bad id with spaces")
        .send()
        .await
        .unwrap();
    let id = replaced.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 32);
    assert_ne!(id, "bad id with spaces");
    let other = app.get("/health/live").await;
    assert_ne!(other.headers()["x-request-id"].to_str().unwrap(), id);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_routes_and_methods_get_json_errors() {
    let app = spawn_app().await;
    let body = app.get_json("/v1/nope", 404).await;
    assert_eq!(error_code(&body), "not_found");
    let body = app.get_json("/", 404).await;
    assert_eq!(error_code(&body), "not_found");
    // A known path asked with a method it does not take is a JSON 405 naming the ones it does.
    let response = app.client.put(app.url("/v1/symbols")).send().await.unwrap();
    assert_eq!(response.headers()["allow"], "GET, POST");
    let body = json(response, 405).await;
    assert_eq!(error_code(&body), "method_not_allowed");
}

/// Every registered operation, as (method, path template).
const ROUTES: &[(&str, &str)] = &[
    ("get", "/health/live"),
    ("get", "/health/ready"),
    ("get", "/metrics"),
    ("get", "/v1/symbols"),
    ("post", "/v1/symbols"),
    ("delete", "/v1/symbols/{symbol}"),
    ("get", "/v1/symbols/{symbol}/history"),
    ("get", "/v1/symbols/{symbol}/highs"),
    ("get", "/v1/symbols/{symbol}/indicators"),
    ("post", "/v1/indicators"),
    ("get", "/v1/quotes/{symbol}"),
    ("get", "/v1/quotes"),
    ("get", "/v1/signals/stats"),
    ("get", "/v1/signals"),
    ("get", "/v1/signals/{id}"),
    ("get", "/v1/tasks"),
    ("get", "/v1/tasks/{id}"),
    ("post", "/v1/tasks/{id}/cancel"),
    ("post", "/v1/backtests"),
    ("get", "/v1/backtests/{id}"),
    ("get", "/v1/backtests/{id}/result"),
    ("get", "/v1/reports/latest"),
    ("post", "/v1/reports/send"),
    ("post", "/v1/notifications/test"),
    ("get", "/v1/stream"),
];

#[tokio::test(flavor = "multi_thread")]
async fn the_document_lists_every_route_and_every_documented_route_answers() {
    let app = spawn_app().await;
    let doc = app.get_json("/openapi.json", 200).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.clone(), path.clone()));
        }
    }
    let registered: BTreeSet<(String, String)> =
        ROUTES.iter().map(|(m, p)| ((*m).to_owned(), (*p).to_owned())).collect();
    assert_eq!(documented, registered);
    // The library's own document is the served one.
    let own = serde_json::to_value(finstage_api::openapi()).unwrap();
    assert_eq!(own["paths"], doc["paths"]);
    for (method, path) in &documented {
        let concrete = path.replace("{symbol}", "AAPL").replace("{id}", "1");
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let response = app
            .client
            .request(method.clone(), app.url(&concrete))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        let unknown_route = status == 405 || (status == 404 && body.contains("no such route"));
        assert!(!unknown_route, "{method} {concrete}: {status} {body}");
        assert!(
            status < 500 || path == "/health/ready",
            "{method} {concrete}: {status} {body}"
        );
    }
    // Admin operations declare the bearer scheme.
    assert!(doc["paths"]["/v1/symbols"]["post"]["security"].is_array());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_docs_page_is_served_from_vendored_assets() {
    let app = spawn_app().await;
    let page = app.get("/docs/").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(!html.contains("cdn"), "a CDN reference: {html}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_graceful_stop_lets_in_flight_requests_finish() {
    let app = spawn_app().await;
    app.yahoo.set_latency(std::time::Duration::from_millis(300));
    let client = app.client.clone();
    let url = app.url("/v1/quotes/AAPL");
    let in_flight = tokio::spawn(async move { client.get(url).send().await });
    // Wait until the request has reached the upstream, then stop.
    let reached = async {
        while app.yahoo.requests("AAPL") == 0 {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), reached)
        .await
        .expect("the request reaches the upstream");
    app.stop.stop().await;
    let response = in_flight.await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    assert!(app.client.get(app.url("/health/live")).send().await.is_err());
}
