//! The watchlist and its admin endpoints (SQLite, and PostgreSQL for the whole flow).

use finstage_store::Backend;
use finstage_tasks::TaskId;
use finstage_test_support::fixtures;

use crate::helpers::{Setup, TOKEN, TestApp, error_code, json, spawn_app, spawn_with, sym, with_json};

async fn add(app: &TestApp, token: Option<&str>, body: serde_json::Value) -> reqwest::Response {
    let mut request = with_json(app.client.post(app.url("/v1/symbols")), &body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn remove(app: &TestApp, token: Option<&str>, symbol: &str) -> reqwest::Response {
    let mut request = app.client.delete(app.url(&format!("/v1/symbols/{symbol}")));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn add_list_remove(app: TestApp) {
    let list = app.get_json("/v1/symbols", 200).await;
    insta::assert_json_snapshot!("symbols_configured", list);

    app.yahoo
        .add_symbol("NVDA", fixtures::seed_bars("IBM").into_iter().rev().take(10).rev());
    let body = json(add(&app, Some(TOKEN), serde_json::json!({"symbol": "nvda"})).await, 201).await;
    assert_eq!(body["symbol"]["symbol"], "NVDA");
    assert_eq!(body["symbol"]["category"], "stock");
    assert_eq!(body["symbol"]["source"], "api");
    assert_eq!(body["backfill"]["created"], true);
    let task = app
        .queue
        .status(TaskId(body["backfill"]["task_id"].as_i64().unwrap()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(task.kind, "backfill");
    let payload: serde_json::Value = serde_json::from_str(&task.payload).unwrap();
    assert_eq!(payload, serde_json::json!({"symbol": "NVDA", "years": 10}));
    assert!(app.store.symbols().get(&sym("NVDA")).await.unwrap().unwrap().active);

    // Again: the same waiting backfill, 200.
    let again = json(add(&app, Some(TOKEN), serde_json::json!({"symbol": "NVDA"})).await, 200).await;
    assert_eq!(again["backfill"]["task_id"], body["backfill"]["task_id"]);
    assert_eq!(again["backfill"]["created"], false);

    let list = app.get_json("/v1/symbols", 200).await;
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["symbol"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["AAPL", "^GSPC", "NVDA"]);

    assert_eq!(remove(&app, Some(TOKEN), "NVDA").await.status(), 204);
    let body = json(remove(&app, Some(TOKEN), "NVDA").await, 404).await;
    assert_eq!(error_code(&body), "not_found");
    let list = app.get_json("/v1/symbols", 200).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn add_list_and_remove_on_sqlite() {
    add_list_remove(spawn_app().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn add_list_and_remove_on_postgres() {
    add_list_remove(
        spawn_with(Setup {
            backend: Backend::Postgres,
            ..Setup::default()
        })
        .await,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_needs_the_right_token() {
    let app = spawn_app().await;
    let body = json(add(&app, None, serde_json::json!({"symbol": "NVDA"})).await, 401).await;
    assert_eq!(error_code(&body), "unauthorized");
    let response = add(&app, Some("wrong-token"), serde_json::json!({"symbol": "NVDA"})).await;
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let body = json(response, 401).await;
    assert_eq!(error_code(&body), "unauthorized");
    assert!(!body.to_string().contains(TOKEN));
    let response = app
        .client
        .delete(app.url("/v1/symbols/AAPL"))
        .header("authorization", format!("Basic {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(&json(response, 401).await), "unauthorized");
    assert_eq!(
        error_code(&json(remove(&app, Some("x"), "AAPL").await, 401).await),
        "unauthorized"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_token_admin_is_disabled() {
    let app = spawn_with(Setup {
        admin_token: None,
        ..Setup::default()
    })
    .await;
    for token in [None, Some(TOKEN), Some("")] {
        let body = json(add(&app, token, serde_json::json!({"symbol": "NVDA"})).await, 403).await;
        assert_eq!(error_code(&body), "admin_disabled");
        let body = json(remove(&app, token, "AAPL").await, 403).await;
        assert_eq!(error_code(&body), "admin_disabled");
    }
    assert!(app.store.symbols().get(&sym("NVDA")).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn adding_checks_the_input_and_the_upstream() {
    let app = spawn_app().await;
    let body = json(
        add(&app, Some(TOKEN), serde_json::json!({"symbol": "BAD SYMBOL!"})).await,
        400,
    )
    .await;
    assert_eq!(error_code(&body), "invalid_symbol");
    let body = json(
        add(
            &app,
            Some(TOKEN),
            serde_json::json!({"symbol": "NVDA", "category": "bond"}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(error_code(&body), "invalid_body");
    let body = json(
        add(&app, Some(TOKEN), serde_json::json!({"symbol": "NVDA", "extra": 1})).await,
        400,
    )
    .await;
    assert_eq!(error_code(&body), "invalid_body");
    let body = json(
        add(&app, Some(TOKEN), serde_json::json!({"symbol": "NVDA", "name": ""})).await,
        400,
    )
    .await;
    assert_eq!(error_code(&body), "invalid_body");
    // The mock does not know NVDA here.
    let body = json(add(&app, Some(TOKEN), serde_json::json!({"symbol": "NVDA"})).await, 404).await;
    assert_eq!(error_code(&body), "not_found");
    assert!(app.store.symbols().get(&sym("NVDA")).await.unwrap().is_none());
    let body = json(remove(&app, Some(TOKEN), "bad symbol").await, 400).await;
    assert_eq!(error_code(&body), "invalid_symbol");
}
