//! The task queue's admin endpoints: listing with filters and cursor pagination, one task with
//! its attempts and result, cancellation of pending, running and finished tasks, and their
//! errors.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::Utc;
use finstage_tasks::{AttemptOutcome, Finish, TaskId, TaskOptions, TaskState};
use serde_json::{Value, json as j};

use crate::helpers::{Setup, TOKEN, TestApp, error_code, json, spawn_app, spawn_with};

const LEASE: Duration = Duration::from_secs(300);

async fn admin_get(app: &TestApp, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = app.client.get(app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn cancel(app: &TestApp, id: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = app.client.post(app.url(&format!("/v1/tasks/{id}/cancel")));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn enqueue(app: &TestApp, kind: &str, payload: &Value) -> TaskId {
    app.queue
        .enqueue(kind, payload, TaskOptions::default().max_attempts(3))
        .await
        .unwrap()
        .id
}

/// Claims the one due task of `kind` for `worker`: it is running afterwards.
async fn claim(app: &TestApp, worker: &str, kind: &str) -> TaskId {
    let claimed = app
        .queue
        .backend()
        .claim(worker, &[kind.to_owned()], 1, LEASE, Utc::now())
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1, "{claimed:?}");
    claimed[0].id
}

/// A task of kind `report` that failed once (`upstream timed out`), then succeeded with
/// `{"rows":3}`.
async fn finished_task(app: &TestApp) -> TaskId {
    let id = enqueue(app, "report", &j!({"day": "2013-12-31"})).await;
    assert_eq!(claim(app, "w1", "report").await, id);
    let backend = app.queue.backend();
    let now = Utc::now();
    let failed = backend
        .fail(
            id,
            "w1",
            AttemptOutcome::Failed,
            "upstream timed out".to_owned(),
            Some(now),
            now,
        )
        .await
        .unwrap();
    assert_eq!(failed, Finish::Done);
    assert_eq!(claim(app, "w2", "report").await, id);
    let done = backend
        .complete(id, "w2", r#"{"rows":3}"#.to_owned(), Utc::now())
        .await
        .unwrap();
    assert_eq!(done, Finish::Done);
    id
}

#[tokio::test(flavor = "multi_thread")]
async fn one_task_shows_its_attempts_with_their_errors_and_its_result() {
    let app = spawn_app().await;
    let id = finished_task(&app).await;
    let body = json(admin_get(&app, &format!("/v1/tasks/{id}"), Some(TOKEN)).await, 200).await;
    assert_eq!(body["id"], id.0);
    assert_eq!(body["kind"], "report");
    assert_eq!(body["state"], "succeeded");
    assert_eq!(body["attempts"], 2);
    assert_eq!(body["max_attempts"], 3);
    assert_eq!(body["payload"], j!({"day": "2013-12-31"}));
    assert_eq!(body["result"], j!({"rows": 3}));
    assert!(body["finished_at"].is_string(), "{body}");
    let attempts = body["attempts_made"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{body}");
    assert_eq!(attempts[0]["number"], 1);
    assert_eq!(attempts[0]["worker"], "w1");
    assert_eq!(attempts[0]["outcome"], "failed");
    assert_eq!(attempts[0]["error"], "upstream timed out");
    assert_eq!(attempts[1]["number"], 2);
    assert_eq!(attempts[1]["outcome"], "succeeded");
    assert!(attempts[1]["error"].is_null());

    // A pending task: no attempt, no result.
    let pending = enqueue(&app, "idle", &j!({"n": 1})).await;
    let body = json(admin_get(&app, &format!("/v1/tasks/{pending}"), Some(TOKEN)).await, 200).await;
    assert_eq!(body["state"], "pending");
    assert_eq!(body["attempts"], 0);
    assert!(body["result"].is_null());
    assert_eq!(body["attempts_made"], j!([]));

    // Unknown and malformed ids.
    let body = json(admin_get(&app, "/v1/tasks/987654321", Some(TOKEN)).await, 404).await;
    assert_eq!(error_code(&body), "not_found");
    let body = json(admin_get(&app, "/v1/tasks/abc", Some(TOKEN)).await, 400).await;
    assert_eq!(error_code(&body), "invalid_path");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_list_filters_by_state_and_kind_and_pages_with_a_cursor() {
    let app = spawn_app().await;
    let mut idle = Vec::new();
    for n in 0..5 {
        idle.push(enqueue(&app, "idle", &j!({ "n": n })).await.0);
    }
    let finished = finished_task(&app).await;
    let running_id = enqueue(&app, "slow", &j!({})).await;
    assert_eq!(claim(&app, "w3", "slow").await, running_id);

    // Every idle task, two at a time, newest first, each once.
    let mut seen = Vec::new();
    let mut path = "/v1/tasks?kind=idle&limit=2".to_owned();
    let mut pages = 0;
    loop {
        let page = json(admin_get(&app, &path, Some(TOKEN)).await, 200).await;
        pages += 1;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2, "{page}");
        for item in items {
            assert_eq!(item["kind"], "idle");
            assert_eq!(item["state"], "pending");
            seen.push(item["id"].as_i64().unwrap());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/tasks?kind=idle&limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let mut expected = idle.clone();
    expected.reverse();
    assert_eq!(seen, expected);

    // By state.
    let running = json(admin_get(&app, "/v1/tasks?state=running", Some(TOKEN)).await, 200).await;
    let ids: Vec<i64> = running["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [running_id.0]);
    assert!(running["next_cursor"].is_null());
    let succeeded = json(
        admin_get(&app, "/v1/tasks?state=succeeded&kind=report", Some(TOKEN)).await,
        200,
    )
    .await;
    assert_eq!(succeeded["items"][0]["id"], finished.0);
    assert_eq!(succeeded["items"][0]["attempts"], 2);
    assert_eq!(succeeded["items"][0]["last_error"], "upstream timed out");
    let none = json(admin_get(&app, "/v1/tasks?state=dead", Some(TOKEN)).await, 200).await;
    assert_eq!(none["items"], j!([]));

    // Everything, in one page.
    let all = json(admin_get(&app, "/v1/tasks", Some(TOKEN)).await, 200).await;
    let ids: BTreeSet<i64> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert!(ids.contains(&finished.0) && ids.contains(&running_id.0) && idle.iter().all(|i| ids.contains(i)));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_list_queries_are_400() {
    let app = spawn_app().await;
    for query in [
        "state=bogus",
        "state=",
        "kind=",
        // Kinds the queue can never hold (the store refused them: schemathesis found `½`).
        "kind=%C2%BD",
        "kind=a%20b",
        "kind=a%2Fb",
        "limit=0",
        "limit=1001",
        "limit=many",
        "cursor=abc",
        "cursor=-3",
        "cursor=0",
        "sort=id",
    ] {
        let body = json(admin_get(&app, &format!("/v1/tasks?{query}"), Some(TOKEN)).await, 400).await;
        assert_eq!(error_code(&body), "invalid_query", "{query}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_stops_pending_tasks_asks_running_ones_and_refuses_finished_ones() {
    let app = spawn_app().await;
    // Pending: cancelled at once.
    let pending = enqueue(&app, "idle", &j!({})).await;
    let body = json(cancel(&app, &pending.to_string(), Some(TOKEN)).await, 200).await;
    assert_eq!(body, j!({"id": pending.0, "outcome": "cancelled"}));
    let task = app.queue.status(pending).await.unwrap().unwrap();
    assert_eq!(task.state, TaskState::Cancelled);

    // Running: its worker is asked to stop; it keeps running until it does.
    let running = enqueue(&app, "slow", &j!({})).await;
    assert_eq!(claim(&app, "w1", "slow").await, running);
    let body = json(cancel(&app, &running.to_string(), Some(TOKEN)).await, 202).await;
    assert_eq!(body, j!({"id": running.0, "outcome": "requested"}));
    let task = app.queue.status(running).await.unwrap().unwrap();
    assert_eq!(task.state, TaskState::Running);
    assert!(task.cancel_requested);
    let shown = json(admin_get(&app, &format!("/v1/tasks/{running}"), Some(TOKEN)).await, 200).await;
    assert_eq!(shown["cancel_requested"], true);

    // Finished (cancelled, succeeded): 409.
    let body = json(cancel(&app, &pending.to_string(), Some(TOKEN)).await, 409).await;
    assert_eq!(error_code(&body), "conflict");
    let finished = finished_task(&app).await;
    let body = json(cancel(&app, &finished.to_string(), Some(TOKEN)).await, 409).await;
    assert_eq!(error_code(&body), "conflict");
    assert_eq!(
        app.queue.status(finished).await.unwrap().unwrap().state,
        TaskState::Succeeded
    );

    // Unknown and malformed ids.
    let body = json(cancel(&app, "987654321", Some(TOKEN)).await, 404).await;
    assert_eq!(error_code(&body), "not_found");
    let body = json(cancel(&app, "x1", Some(TOKEN)).await, 400).await;
    assert_eq!(error_code(&body), "invalid_path");
}

#[tokio::test(flavor = "multi_thread")]
async fn task_endpoints_need_the_admin_token() {
    let app = spawn_app().await;
    let id = enqueue(&app, "idle", &j!({})).await;
    let path = format!("/v1/tasks/{id}");
    for token in [None, Some("wrong-token")] {
        let response = admin_get(&app, "/v1/tasks", token).await;
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        let body = json(response, 401).await;
        assert_eq!(error_code(&body), "unauthorized");
        assert!(!body.to_string().contains(TOKEN));
        let body = json(admin_get(&app, &path, token).await, 401).await;
        assert_eq!(error_code(&body), "unauthorized");
        let body = json(cancel(&app, &id.to_string(), token).await, 401).await;
        assert_eq!(error_code(&body), "unauthorized");
    }
    // Nothing was cancelled.
    assert_eq!(app.queue.status(id).await.unwrap().unwrap().state, TaskState::Pending);

    let disabled = spawn_with(Setup {
        admin_token: None,
        ..Setup::default()
    })
    .await;
    let id = enqueue(&disabled, "idle", &j!({})).await;
    for token in [None, Some(TOKEN)] {
        let body = json(admin_get(&disabled, "/v1/tasks", token).await, 403).await;
        assert_eq!(error_code(&body), "admin_disabled");
        let body = json(admin_get(&disabled, &format!("/v1/tasks/{id}"), token).await, 403).await;
        assert_eq!(error_code(&body), "admin_disabled");
        let body = json(cancel(&disabled, &id.to_string(), token).await, 403).await;
        assert_eq!(error_code(&body), "admin_disabled");
    }
    assert_eq!(
        disabled.queue.status(id).await.unwrap().unwrap().state,
        TaskState::Pending
    );
}
