//! Backtests over HTTP: queued (202 with a Location), run by a worker pool with the API's
//! `backtest` handler, followed to their result (the same as the core's over the same store);
//! identical requests sharing a task; 409 before a result exists and for failed or cancelled
//! ones; 404 for unknown ids and other kinds of task; every bad input a 400 or 422 in the
//! shared body; rate limited as a public endpoint; and 405 for known paths with another method.

use std::sync::Arc;
use std::time::Duration;

use finstage_analysis::RulesConfig;
use finstage_api::RateLimitOptions;
use finstage_api::routes::backtests::register_handler;
use finstage_core::backtests::{BACKTEST_KIND, BacktestRequest, run_backtest};
use finstage_tasks::{Handlers, TaskId, TaskOptions, WorkerConfig, WorkerPool};
use serde_json::{Value, json as j};

use crate::helpers::{Setup, TOKEN, TestApp, error_code, json, spawn_app, spawn_with, with_json};

/// A worker pool on the app's queue running backtests with the default rules (the app's).
fn start_worker(app: &TestApp) -> WorkerPool {
    let mut handlers = Handlers::new();
    register_handler(&mut handlers, app.store.clone(), Arc::new(RulesConfig::default()), 2).unwrap();
    WorkerPool::start(
        app.queue.backend().clone(),
        app.queue.clock().clone(),
        handlers,
        WorkerConfig {
            id: "backtest-test-worker".to_owned(),
            ..WorkerConfig::default()
        },
    )
    .unwrap()
}

async fn submit(app: &TestApp, body: &Value) -> reqwest::Response {
    with_json(app.client.post(app.url("/v1/backtests")), body)
        .send()
        .await
        .unwrap()
}

/// Polls the status until it is final (every 20 ms, for at most 60 s) and returns it.
async fn wait_until_done(app: &TestApp, id: i64) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let status = app.get_json(&format!("/v1/backtests/{id}"), 200).await;
        if !matches!(status["status"].as_str(), Some("queued" | "running")) {
            return status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "backtest {id} still {status} after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn macd() -> Value {
    j!({"entry": {"any": ["macd_cross_up"]}, "exit": {"any": ["macd_cross_down"]}, "fee_bps": 5})
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backtest_runs_to_its_result() {
    let app = spawn_app().await;
    let worker = start_worker(&app);
    let body = j!({"symbols": ["zzzz", "AAPL"], "strategies": [macd(), {"entry": {"all": ["rsi_cross_above_50"]}, "max_hold_bars": 5}]});
    let response = submit(&app, &body).await;
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let accepted = json(response, 202).await;
    let id = accepted["id"].as_i64().unwrap();
    assert_eq!(location, format!("/v1/backtests/{id}"));
    assert_eq!(accepted["status_url"], location.as_str());
    assert_eq!(accepted["result_url"], format!("/v1/backtests/{id}/result"));
    assert_eq!(accepted["created"], true);
    assert!(
        matches!(accepted["status"].as_str(), Some("queued" | "running")),
        "{accepted}"
    );

    let status = wait_until_done(&app, id).await;
    assert_eq!(status["status"], "succeeded", "{status}");
    assert_eq!(status["attempts"], 1);
    assert_eq!(status["error"], Value::Null);
    assert_eq!(status["result_url"], format!("/v1/backtests/{id}/result"));
    assert!(status["finished_at"].is_string());

    let result = app.get_json(&format!("/v1/backtests/{id}/result"), 200).await;
    let symbols = result["symbols"].as_array().unwrap();
    let names: Vec<&str> = symbols.iter().map(|s| s["symbol"].as_str().unwrap()).collect();
    assert_eq!(names, ["AAPL", "ZZZZ"], "the normal order");
    let aapl = &symbols[0];
    assert_eq!(aapl["bars"], 300);
    assert_eq!(aapl["error"], Value::Null);
    assert_eq!(aapl["strategies"].as_array().unwrap().len(), 2);
    let run = &aapl["strategies"][0];
    assert_eq!(run["strategy"], 0);
    let listed = run["trades"].as_array().unwrap().len() as u64 + run["trades_omitted"].as_u64().unwrap();
    assert_eq!(run["metrics"]["trades"].as_u64().unwrap(), listed);
    assert_eq!(symbols[1]["error"]["code"], "no_data");
    assert_eq!(symbols[1]["strategies"], j!([]));

    // Exactly what the core computes over the same store.
    let request: BacktestRequest = serde_json::from_value(body).unwrap();
    let expected = run_backtest(&app.store, &RulesConfig::default(), &request.normalized())
        .await
        .unwrap()
        .summary();
    assert_eq!(result, serde_json::to_value(&expected).unwrap());
    worker.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn identical_requests_share_one_queued_backtest() {
    let app = spawn_app().await;
    let first = json(
        submit(
            &app,
            &j!({"symbols": ["MSFT", "AAPL"], "strategies": [{"entry": {"any": ["rsi_oversold_leave", "macd_cross_up"]}}]}),
        )
        .await,
        202,
    )
    .await;
    // The same meaning: other order, a duplicate, the defaults spelled out.
    let same = json(
        submit(
            &app,
            &j!({"symbols": ["aapl", "MSFT", "AAPL"], "strategies": [{"entry": {"any": ["macd_cross_up", "rsi_oversold_leave"]}, "fraction": 1, "mode": "long_only"}]}),
        )
        .await,
        202,
    )
    .await;
    assert_eq!(first["created"], true);
    assert_eq!(same["created"], false);
    assert_eq!(same["id"], first["id"]);
    let other = json(
        submit(
            &app,
            &j!({"symbols": ["AAPL", "MSFT"], "strategies": [{"entry": {"any": ["macd_cross_up", "rsi_oversold_leave"]}}], "from": "2013-01-02"}),
        )
        .await,
        202,
    )
    .await;
    assert_ne!(other["id"], first["id"]);

    // Nothing runs them: queued, and their result is not there yet.
    let id = first["id"].as_i64().unwrap();
    let status = app.get_json(&format!("/v1/backtests/{id}"), 200).await;
    assert_eq!(status["status"], "queued");
    assert_eq!(status["attempts"], 0);
    assert_eq!(status["result_url"], Value::Null);
    let body = app.get_json(&format!("/v1/backtests/{id}/result"), 409).await;
    assert_eq!(error_code(&body), "not_finished");
    // The task holds the normal form.
    let task = app.queue.status(TaskId(id)).await.unwrap().unwrap();
    assert_eq!(task.kind, BACKTEST_KIND);
    let payload: Value = serde_json::from_str(&task.payload).unwrap();
    assert_eq!(payload["symbols"], j!(["AAPL", "MSFT"]));
    assert_eq!(
        payload["strategies"][0]["entry"],
        j!({"any": ["rsi_oversold_leave", "macd_cross_up"]})
    );

    // Cancelled: no result, ever.
    let other_id = other["id"].as_i64().unwrap();
    app.queue.cancel(TaskId(other_id)).await.unwrap();
    let status = app.get_json(&format!("/v1/backtests/{other_id}"), 200).await;
    assert_eq!(status["status"], "cancelled");
    let body = app.get_json(&format!("/v1/backtests/{other_id}/result"), 409).await;
    assert_eq!(error_code(&body), "no_result");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backtest_that_cannot_run_is_failed_with_its_reason() {
    let app = spawn_app().await;
    // A payload the handler reads but refuses (no strategy): dead at once, not retried.
    let id = app
        .queue
        .enqueue(
            BACKTEST_KIND,
            &j!({"symbols": ["AAPL"], "strategies": []}),
            TaskOptions::default(),
        )
        .await
        .unwrap()
        .id
        .0;
    let worker = start_worker(&app);
    let status = wait_until_done(&app, id).await;
    worker.shutdown(Duration::from_secs(5)).await;
    assert_eq!(status["status"], "failed", "{status}");
    assert_eq!(status["attempts"], 1);
    let error = status["error"].as_str().unwrap();
    assert!(error.contains("strategies"), "{error}");
    let body = app.get_json(&format!("/v1/backtests/{id}/result"), 409).await;
    assert_eq!(error_code(&body), "no_result");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("strategies"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_backtests_and_other_tasks_are_404() {
    let app = spawn_app().await;
    let backfill = app
        .queue
        .enqueue("backfill", &j!({"symbol": "AAPL", "years": 10}), TaskOptions::default())
        .await
        .unwrap()
        .id
        .0;
    for path in [
        "/v1/backtests/987654".to_owned(),
        "/v1/backtests/987654/result".to_owned(),
        "/v1/backtests/-1".to_owned(),
        format!("/v1/backtests/{backfill}"),
        format!("/v1/backtests/{backfill}/result"),
    ] {
        let body = app.get_json(&path, 404).await;
        assert_eq!(error_code(&body), "not_found", "{path}");
    }
    for path in ["/v1/backtests/abc", "/v1/backtests/1.5/result"] {
        let body = app.get_json(path, 400).await;
        assert_eq!(error_code(&body), "invalid_path", "{path}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_are_400_or_422_in_the_shared_body() {
    let app = spawn_app().await;
    let strategy = || j!({"entry": {"any": ["golden_cross"]}});
    let many: Vec<String> = (0..51).map(|i| format!("S{i}")).collect();
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (j!({"symbols": ["AAPL"]}), 400, "invalid_body", "strategies"),
        (
            j!({"symbols": ["AAPL"], "strategies": [strategy()], "extra": 1}),
            400,
            "invalid_body",
            "extra",
        ),
        (
            j!({"symbols": "AAPL", "strategies": [strategy()]}),
            400,
            "invalid_body",
            "expected a sequence",
        ),
        (
            j!({"symbols": ["AA/PL"], "strategies": [strategy()]}),
            400,
            "invalid_symbol",
            "AA/PL",
        ),
        (
            j!({"symbols": ["AAPL"], "strategies": [{"entry": {"any": ["golden_cross", "moon_landing"]}}]}),
            400,
            "invalid_body",
            "strategies[0].entry.any[1]",
        ),
        (
            j!({"symbols": ["AAPL"], "strategies": [{"entry": {"any": ["golden_cross"], "all": ["dead_cross"]}}]}),
            400,
            "invalid_body",
            "strategies[0].entry",
        ),
        (
            j!({"symbols": ["AAPL"], "strategies": [strategy(), {"entry": {}}]}),
            400,
            "invalid_body",
            "strategies[1].entry",
        ),
        (
            j!({"symbols": ["AAPL"], "strategies": [{"entry": {"any": ["golden_cross"]}, "mode": "yolo"}]}),
            400,
            "invalid_body",
            "strategies[0].mode",
        ),
        (
            j!({"symbols": ["AAPL"], "strategies": [strategy()], "from": "2013-02-30"}),
            400,
            "invalid_body",
            "from",
        ),
        (
            j!({"symbols": ["AAPL"], "strategies": [strategy()], "to": "yesterday"}),
            400,
            "invalid_body",
            "to",
        ),
        (
            j!({"symbols": [], "strategies": [strategy()]}),
            422,
            "invalid_backtest",
            "symbols",
        ),
        (
            j!({"symbols": many, "strategies": [strategy()]}),
            422,
            "invalid_backtest",
            "at most 50",
        ),
        (
            j!({"symbols": ["AAPL"], "strategies": []}),
            422,
            "invalid_backtest",
            "strategies",
        ),
        (
            j!({"symbols": ["AAPL"], "strategies": [strategy(), {"entry": {"any": ["golden_cross"]}, "stop_loss": 1.5}]}),
            422,
            "invalid_backtest",
            "strategies[1].stop_loss",
        ),
        (
            j!({"symbols": ["AAPL"], "strategies": [{"entry": {"any": ["golden_cross"]}, "mode": "long_short"}]}),
            422,
            "invalid_backtest",
            "strategies[0].exit",
        ),
        (
            j!({"symbols": ["AAPL"], "strategies": [{"entry": {"any": []}}]}),
            422,
            "invalid_backtest",
            "strategies[0].entry",
        ),
        (
            j!({"symbols": ["AAPL"], "strategies": [strategy()], "from": "2013-06-01", "to": "2013-01-01"}),
            422,
            "invalid_backtest",
            "from",
        ),
    ];
    for (body, status, code, mentions) in cases {
        let answer = json(submit(&app, &body).await, status).await;
        assert_eq!(error_code(&answer), code, "{body} → {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(mentions), "{body} → {message}");
    }
    // Not JSON at all, and not said to be JSON.
    let response = app
        .client
        .post(app.url("/v1/backtests"))
        .header("content-type", "application/json")
        .body("{\"symbols\": [")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(&json(response, 400).await), "invalid_body");
    let response = app
        .client
        .post(app.url("/v1/backtests"))
        .body("symbols=AAPL")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(&json(response, 415).await), "unsupported_media_type");
    // Nothing was queued.
    let tasks = app
        .queue
        .list(
            &finstage_tasks::TaskFilter::default(),
            finstage_tasks::PageRequest {
                before: None,
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert!(tasks.tasks.is_empty(), "{:?}", tasks.tasks);
}

#[tokio::test(flavor = "multi_thread")]
async fn backtests_are_rate_limited_like_public_endpoints() {
    let app = spawn_with(Setup {
        rate_limit: Some(RateLimitOptions {
            per_second: 0.01,
            burst: 2,
        }),
        ..Setup::default()
    })
    .await;
    let body = j!({"symbols": ["AAPL"], "strategies": [macd()]});
    json(submit(&app, &body).await, 202).await;
    let id = json(submit(&app, &body).await, 202).await["id"].as_i64().unwrap();
    let response = submit(&app, &body).await;
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(error_code(&json(response, 429).await), "rate_limited");
    let response = app.get(&format!("/v1/backtests/{id}")).await;
    assert_eq!(error_code(&json(response, 429).await), "rate_limited");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_known_path_asked_with_another_method_is_a_405() {
    let app = spawn_app().await;
    for (method, path, allow) in [
        (reqwest::Method::DELETE, "/v1/backtests", "POST"),
        (reqwest::Method::GET, "/v1/backtests", "POST"),
        (reqwest::Method::POST, "/v1/backtests/7", "GET"),
        (reqwest::Method::PUT, "/v1/backtests/7/result", "GET"),
        (reqwest::Method::GET, "/v1/reports/send", "POST"),
        (reqwest::Method::POST, "/v1/reports/latest", "GET"),
        (reqwest::Method::PUT, "/v1/symbols/AAPL", "DELETE"),
        (reqwest::Method::PATCH, "/v1/symbols", "GET, POST"),
        (reqwest::Method::POST, "/v1/signals/stats", "GET"),
        (reqwest::Method::DELETE, "/health/live", "GET"),
    ] {
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        let allowed = response.headers().get("allow").map(|v| v.to_str().unwrap().to_owned());
        let body = json(response, 405).await;
        assert_eq!(error_code(&body), "method_not_allowed", "{method} {path}");
        assert_eq!(allowed.as_deref(), Some(allow), "{method} {path}");
    }
    // Unknown paths are still 404, whatever the method.
    for (method, path) in [
        (reqwest::Method::GET, "/v1/nothing"),
        (reqwest::Method::POST, "/v1/backtests/7/rerun"),
        (reqwest::Method::DELETE, "/v1"),
    ] {
        let response = app.client.request(method, app.url(path)).send().await.unwrap();
        assert_eq!(error_code(&json(response, 404).await), "not_found", "{path}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_result_stored_by_another_worker_reads_too() {
    // A worker that stores the whole result (every trade and equity point) rather than its
    // summary: the runs take their index from their position.
    let app = spawn_app().await;
    let body = j!({"symbols": ["AAPL"], "strategies": [macd(), {"entry": {"any": ["rsi_cross_above_50"]}}]});
    let id = json(submit(&app, &body).await, 202).await["id"].as_i64().unwrap();
    let request: BacktestRequest = serde_json::from_value(body).unwrap();
    let full = run_backtest(&app.store, &RulesConfig::default(), &request.normalized())
        .await
        .unwrap();
    let backend = app.queue.backend();
    let claimed = backend
        .claim(
            "other-worker",
            &[BACKTEST_KIND.to_owned()],
            1,
            Duration::from_secs(60),
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(claimed[0].id, TaskId(id));
    backend
        .complete(
            TaskId(id),
            "other-worker",
            serde_json::to_string(&full).unwrap(),
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let result = app.get_json(&format!("/v1/backtests/{id}/result"), 200).await;
    let runs = result["symbols"][0]["strategies"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    for (index, run) in runs.iter().enumerate() {
        assert_eq!(run["strategy"], index);
        assert_eq!(run["trades_omitted"], 0);
        let report = &full.symbols[0].strategies[index];
        assert_eq!(run["trades"].as_array().unwrap().len(), report.trades.len());
        assert_eq!(run["equity"].as_array().unwrap().len(), report.equity.len());
    }
}
