//! The task queue: enqueue with unique-key dedupe, claims in priority order under leases,
//! heartbeats, completion and failure with lease checks, retries, cancellation, reaping,
//! lists and counts, schedule slots, and the races that matter (concurrent enqueues of one key,
//! concurrent claimers, concurrent slot claims), each on separate connections. Time is passed
//! explicitly: nothing sleeps.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use finstage_store::{
    AttemptOutcome, Backend, CancelOutcome, ClaimedTask, Completion, Conn, Enqueued, FailOutcome, FailureKind,
    LeaseStatus, NewTask, Priority, StoreError, TASK_ERROR_MAX_LEN, Task, TaskCount, TaskCursor, TaskFilter,
    TaskPageRequest, TaskState,
};

use crate::support::{TestDb, backend_tests};

const LEASE: Duration = Duration::from_secs(30);

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 1, 10, 0, 0).unwrap() + chrono::Duration::seconds(seconds)
}

fn task(kind: &str) -> NewTask {
    NewTask::new(kind, r#"{"symbol":"AAPL"}"#)
}

fn keyed(kind: &str, key: &str) -> NewTask {
    NewTask {
        unique_key: Some(key.into()),
        ..task(kind)
    }
}

async fn enqueue(db: &TestDb, task: &NewTask, now: DateTime<Utc>) -> i64 {
    let enqueued = db.store.tasks().enqueue(task, now).await.unwrap();
    assert!(enqueued.created);
    enqueued.id
}

async fn get(db: &TestDb, id: i64) -> Task {
    db.store.tasks().get(id).await.unwrap().unwrap()
}

async fn claim(db: &TestDb, worker: &str, limit: u32, now: DateTime<Utc>) -> Vec<ClaimedTask> {
    db.store.tasks().claim(worker, &[], limit, LEASE, now).await.unwrap()
}

fn ids(claimed: &[ClaimedTask]) -> Vec<i64> {
    claimed.iter().map(|t| t.task.id).collect()
}

async fn rows(db: &TestDb, table: &str) -> u64 {
    db.store.conn().await.unwrap().count_rows(table).await.unwrap()
}

/// A store whose pool holds enough connections for the races.
async fn racing_db(backend: Backend) -> TestDb {
    TestDb::with(backend, |config| config.pool.max_size = 10).await
}

/// Runs `f` on `n` connections at once: each checked out first (so that every call has its
/// own connection), then all released together.
async fn race<T, F, Fut>(db: &TestDb, n: usize, f: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize, Conn) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let start = Arc::new(tokio::sync::Barrier::new(n));
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let conn = db.store.conn().await.unwrap();
        let run = f(i, conn);
        let start = Arc::clone(&start);
        handles.push(tokio::spawn(async move {
            start.wait().await;
            run.await
        }));
    }
    let mut results = Vec::with_capacity(n);
    for handle in handles {
        results.push(handle.await.unwrap());
    }
    results
}

/// Every future of the repository is `Send`: the worker pool spawns them (checked when this
/// compiles).
#[allow(dead_code, reason = "a compile-time check")]
fn the_futures_are_send(store: &finstage_store::Store, conn: &mut Conn, new: &NewTask) {
    fn send<T: Send>(_: T) {}
    let now = at(0);
    send(store.tasks().enqueue(new, now));
    send(conn.tasks().enqueue(new, now));
    send(store.tasks().enqueue_many(std::slice::from_ref(new), now));
    send(store.tasks().claim("w", &["k"], 1, LEASE, now));
    send(conn.tasks().claim("w", &[], 1, LEASE, now));
    send(store.tasks().heartbeat("w", &[1], LEASE, now));
    send(store.tasks().complete(1, "w", None, now));
    send(store.tasks().complete_many("w", &[(1, None)], now));
    send(store.tasks().fail(1, "w", FailureKind::Failed, "e", None, now));
    send(store.tasks().cancel(1, now));
    send(store.tasks().mark_cancelled(1, "w", now));
    send(store.tasks().release(1, "w", now));
    send(store.tasks().reap_expired(now));
    send(store.tasks().get(1));
    send(store.tasks().attempts(1));
    send(
        store
            .tasks()
            .list(&TaskFilter::default(), TaskPageRequest { limit: 1, after: None }),
    );
    send(store.tasks().counts());
    send(store.tasks().oldest_pending_run_at(&[]));
    send(store.tasks().claim_slot("s", now, now));
    send(store.tasks().enqueue_for_slot("s", now, new, now));
    send(store.tasks().prune_slots(now));
    send(store.listen_tasks());
}

async fn enqueue_and_get_round_trip(backend: Backend) {
    let db = TestDb::new(backend).await;
    let new = NewTask {
        kind: "refresh.quotes".into(),
        payload: r#"{"symbols":["AAPL","MSFT"],"note":"é"}"#.into(),
        priority: Priority::High,
        run_at: Some(at(90) + chrono::Duration::nanoseconds(123_456_789)),
        max_attempts: 7,
        timeout: Duration::from_millis(2_500),
        unique_key: Some("refresh:AAPL,MSFT".into()),
        backoff: Some(r#"{"base_ms":500,"cap_ms":60000}"#.into()),
    };
    let id = enqueue(&db, &new, at(0)).await;
    let stored = get(&db, id).await;
    assert_eq!(
        stored,
        Task {
            id,
            kind: new.kind.clone(),
            payload: new.payload.clone(),
            state: TaskState::Pending,
            priority: Priority::High,
            run_at: at(90) + chrono::Duration::microseconds(123_456),
            attempts: 0,
            max_attempts: 7,
            timeout: Duration::from_millis(2_500),
            unique_key: new.unique_key.clone(),
            backoff: new.backoff.clone(),
            lease_owner: None,
            lease_expires_at: None,
            cancel_requested: false,
            last_error: None,
            result: None,
            created_at: at(0),
            updated_at: at(0),
            started_at: None,
            finished_at: None,
        }
    );
    assert!(db.store.tasks().attempts(id).await.unwrap().is_empty());

    // The defaults: due at once (the enqueue's `now`), normal, 3 attempts, 60 s.
    let plain = get(&db, enqueue(&db, &task("k"), at(5)).await).await;
    assert_eq!(
        (plain.run_at, plain.priority, plain.max_attempts, plain.timeout),
        (at(5), Priority::Normal, 3, Duration::from_secs(60))
    );
    assert_eq!((plain.unique_key, plain.backoff), (None, None));
    assert_eq!(db.store.tasks().get(i64::MAX).await.unwrap(), None);
    assert!(db.store.tasks().attempts(i64::MAX).await.unwrap().is_empty());

    // Input that cannot be stored is refused, and nothing is written.
    let bad = [
        NewTask::new("", "{}"),
        NewTask::new("with space", "{}"),
        NewTask::new("k".repeat(201), "{}"),
        NewTask::new("k", "not json"),
        NewTask::new("k", format!("\"{}\"", "x".repeat(1 << 20))),
        NewTask {
            max_attempts: 0,
            ..task("k")
        },
        NewTask {
            timeout: Duration::ZERO,
            ..task("k")
        },
        NewTask {
            unique_key: Some(String::new()),
            ..task("k")
        },
        NewTask {
            unique_key: Some("u".repeat(201)),
            ..task("k")
        },
        NewTask {
            backoff: Some("{".into()),
            ..task("k")
        },
    ];
    for new in &bad {
        let result = db.store.tasks().enqueue(new, at(0)).await;
        assert!(
            matches!(result, Err(StoreError::InvalidInput(_))),
            "{new:?}: {result:?}"
        );
    }
    assert_eq!(rows(&db, "tasks").await, 2);
    // The limits themselves are accepted.
    let longest = NewTask {
        unique_key: Some("ü".repeat(200)),
        ..NewTask::new("k".repeat(200), "[]")
    };
    let id = enqueue(&db, &longest, at(0)).await;
    let stored = get(&db, id).await;
    assert_eq!(stored.unique_key.map(|k| k.chars().count()), Some(200));
    assert_eq!(stored.kind.len(), 200);
    let worker = "w".repeat(200);
    let claimed = db.store.tasks().claim(&worker, &[], 10, LEASE, at(100)).await.unwrap();
    assert_eq!(claimed.len(), 3);
    assert!(
        db.store
            .tasks()
            .claim_slot(&"s".repeat(200), at(0), at(0))
            .await
            .unwrap()
    );
}

async fn enqueue_many_returns_each_task_in_order(backend: Backend) {
    let db = TestDb::new(backend).await;
    let batch: Vec<NewTask> = (0..25)
        .map(|i| NewTask {
            priority: Priority::ALL[i % 4],
            run_at: Some(at(i as i64 * 7 % 11)),
            max_attempts: i as u32 + 1,
            timeout: Duration::from_millis(1_000 + i as u64),
            backoff: (i % 3 == 0).then(|| format!("{{\"base_ms\":{i}}}")),
            ..NewTask::new(format!("kind_{}", i % 5), format!("[{i}]"))
        })
        .collect();
    let enqueued = db.store.tasks().enqueue_many(&batch, at(0)).await.unwrap();
    assert_eq!(enqueued.len(), batch.len());
    assert!(enqueued.iter().all(|e| e.created));
    assert!(enqueued.windows(2).all(|w| w[0].id < w[1].id), "{enqueued:?}");
    for (new, enqueued) in batch.iter().zip(&enqueued) {
        let stored = get(&db, enqueued.id).await;
        assert_eq!(
            (&stored.kind, &stored.payload, stored.priority, Some(stored.run_at)),
            (&new.kind, &new.payload, new.priority, new.run_at)
        );
        assert_eq!(
            (stored.max_attempts, stored.timeout, &stored.backoff),
            (new.max_attempts, new.timeout, &new.backoff)
        );
        assert_eq!((stored.state, stored.created_at), (TaskState::Pending, at(0)));
    }
    assert!(db.store.tasks().enqueue_many(&[], at(0)).await.unwrap().is_empty());
    // One bad task refuses the whole batch.
    let mut bad = batch.clone();
    bad.push(NewTask::new("k", "{"));
    assert!(matches!(
        db.store.tasks().enqueue_many(&bad, at(0)).await,
        Err(StoreError::InvalidInput(_))
    ));
    let too_many = vec![task("k"); 1_001];
    assert!(matches!(
        db.store.tasks().enqueue_many(&too_many, at(0)).await,
        Err(StoreError::InvalidInput(_))
    ));
    assert_eq!(rows(&db, "tasks").await, 25);
}

async fn claims_go_by_priority_then_run_at_then_id(backend: Backend) {
    let db = TestDb::new(backend).await;
    let with = |priority, run_at| NewTask {
        priority,
        run_at: Some(run_at),
        ..task("k")
    };
    let low = enqueue(&db, &with(Priority::Low, at(-100)), at(0)).await;
    let normal_late = enqueue(&db, &with(Priority::Normal, at(-10)), at(0)).await;
    let normal_a = enqueue(&db, &with(Priority::Normal, at(-20)), at(0)).await;
    let normal_b = enqueue(&db, &with(Priority::Normal, at(-20)), at(0)).await;
    let critical = enqueue(&db, &with(Priority::Critical, at(0)), at(0)).await;
    let high = enqueue(&db, &with(Priority::High, at(-1)), at(0)).await;

    let first = claim(&db, "w1", 2, at(0)).await;
    assert_eq!(ids(&first), [critical, high]);
    let rest = claim(&db, "w1", 10, at(0)).await;
    assert_eq!(ids(&rest), [normal_a, normal_b, normal_late, low]);
    assert!(claim(&db, "w1", 10, at(0)).await.is_empty());

    let claimed = &first[0];
    assert_eq!((claimed.attempt, claimed.lease_expires_at), (1, at(30)));
    let stored = get(&db, critical).await;
    assert_eq!(claimed.task, stored, "the task as stored after the claim");
    assert_eq!(
        (stored.kind.as_str(), stored.payload.as_str(), stored.priority),
        ("k", r#"{"symbol":"AAPL"}"#, Priority::Critical)
    );
    assert_eq!(stored.state, TaskState::Running);
    assert_eq!(stored.updated_at, at(0));
    assert_eq!(stored.lease_owner.as_deref(), Some("w1"));
    assert_eq!(stored.lease_expires_at, Some(at(30)));
    assert_eq!((stored.attempts, stored.started_at), (1, Some(at(0))));
    let attempts = db.store.tasks().attempts(critical).await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(
        (
            attempts[0].attempt,
            attempts[0].worker_id.as_str(),
            attempts[0].started_at
        ),
        (1, "w1", at(0))
    );
    assert_eq!((attempts[0].finished_at, attempts[0].outcome), (None, None));
}

async fn tasks_not_yet_due_are_not_claimed(backend: Backend) {
    let db = TestDb::new(backend).await;
    let later = NewTask {
        run_at: Some(at(60)),
        ..task("k")
    };
    let id = enqueue(&db, &later, at(0)).await;
    assert_eq!(db.store.tasks().oldest_pending_run_at(&[]).await.unwrap(), Some(at(60)));
    assert!(claim(&db, "w", 10, at(59)).await.is_empty());
    assert_eq!(get(&db, id).await.state, TaskState::Pending);
    assert_eq!(ids(&claim(&db, "w", 10, at(60)).await), [id]);
    assert_eq!(db.store.tasks().oldest_pending_run_at(&[]).await.unwrap(), None);

    // The earliest pending run_at, by kind.
    enqueue(
        &db,
        &NewTask {
            run_at: Some(at(300)),
            ..task("a")
        },
        at(0),
    )
    .await;
    enqueue(
        &db,
        &NewTask {
            run_at: Some(at(200)),
            ..task("b")
        },
        at(0),
    )
    .await;
    let oldest = |kinds: &'static [&'static str]| {
        let store = db.store.clone();
        async move { store.tasks().oldest_pending_run_at(kinds).await.unwrap() }
    };
    assert_eq!(oldest(&[]).await, Some(at(200)));
    assert_eq!(oldest(&["a"]).await, Some(at(300)));
    assert_eq!(oldest(&["a", "b"]).await, Some(at(200)));
    assert_eq!(oldest(&["c"]).await, None);
}

async fn a_unique_key_dedupes_pending_and_running_tasks(backend: Backend) {
    let db = TestDb::new(backend).await;
    let tasks = || db.store.tasks();
    let first = tasks().enqueue(&keyed("k", "daily:AAPL"), at(0)).await.unwrap();
    assert!(first.created);
    // Pending: the same task comes back, whatever else differs.
    let other_kind = NewTask {
        priority: Priority::Critical,
        ..keyed("other", "daily:AAPL")
    };
    assert_eq!(
        tasks().enqueue(&other_kind, at(1)).await.unwrap(),
        Enqueued {
            id: first.id,
            created: false
        }
    );
    // Another key is another task.
    assert!(tasks().enqueue(&keyed("k", "daily:MSFT"), at(1)).await.unwrap().created);

    // Running: still held.
    assert_eq!(ids(&claim(&db, "w", 1, at(2)).await), [first.id]);
    assert_eq!(
        tasks().enqueue(&keyed("k", "daily:AAPL"), at(3)).await.unwrap(),
        Enqueued {
            id: first.id,
            created: false
        }
    );
    // Succeeded: the key is free again.
    assert_eq!(
        tasks().complete(first.id, "w", None, at(4)).await.unwrap(),
        Completion::Done
    );
    let second = tasks().enqueue(&keyed("k", "daily:AAPL"), at(5)).await.unwrap();
    assert!(second.created);
    assert_ne!(second.id, first.id);

    // Dead and cancelled tasks free their key too.
    let claimed = db.store.tasks().claim("w", &[], 10, LEASE, at(6)).await.unwrap();
    assert_eq!(claimed.len(), 2);
    for t in &claimed {
        assert_eq!(
            tasks()
                .fail(t.task.id, "w", FailureKind::Failed, "boom", None, at(7))
                .await
                .unwrap(),
            FailOutcome::Dead
        );
    }
    let third = tasks().enqueue(&keyed("k", "daily:AAPL"), at(8)).await.unwrap();
    assert!(third.created);
    assert_eq!(tasks().cancel(third.id, at(9)).await.unwrap(), CancelOutcome::Cancelled);
    assert!(
        tasks()
            .enqueue(&keyed("k", "daily:AAPL"), at(10))
            .await
            .unwrap()
            .created
    );

    // Within one batch, the second task with a key gets the first one's id.
    let batch = tasks()
        .enqueue_many(&[keyed("k", "batch"), keyed("k", "batch"), task("k")], at(11))
        .await
        .unwrap();
    assert!(batch[0].created && !batch[1].created && batch[2].created);
    assert_eq!(batch[0].id, batch[1].id);
    assert_eq!(rows(&db, "tasks").await, 7);
}

async fn concurrent_enqueues_of_one_key_make_one_task(backend: Backend) {
    let db = racing_db(backend).await;
    let results = race(&db, 8, |i, mut conn| async move {
        let new = NewTask {
            payload: format!("{{\"caller\":{i}}}"),
            ..keyed("k", "one-key")
        };
        conn.tasks().enqueue(&new, at(0)).await.unwrap()
    })
    .await;
    assert_eq!(results.iter().filter(|e| e.created).count(), 1, "{results:?}");
    assert!(results.iter().all(|e| e.id == results[0].id), "{results:?}");
    assert_eq!(rows(&db, "tasks").await, 1);
}

async fn concurrent_claimers_never_claim_a_task_twice(backend: Backend) {
    let db = racing_db(backend).await;
    let batch: Vec<NewTask> = (0..200)
        .map(|i| NewTask {
            priority: Priority::ALL[i % 4],
            ..task(if i % 2 == 0 { "even" } else { "odd" })
        })
        .collect();
    for chunk in batch.chunks(100) {
        db.store.tasks().enqueue_many(chunk, at(0)).await.unwrap();
    }
    let claimed = race(&db, 6, |i, mut conn| async move {
        let worker = format!("worker-{i}");
        let mut mine = Vec::new();
        loop {
            let tasks = conn.tasks().claim(&worker, &[], 7, LEASE, at(1)).await.unwrap();
            if tasks.is_empty() {
                return (worker, mine);
            }
            mine.extend(tasks.into_iter().map(|t| t.task.id));
        }
    })
    .await;
    let mut seen = HashSet::new();
    for (_, ids) in &claimed {
        for id in ids {
            assert!(seen.insert(*id), "task {id} claimed twice");
        }
    }
    assert_eq!(seen.len(), 200);
    assert_eq!(rows(&db, "task_attempts").await, 200);
    // Each task is running under the lease of the worker that got it, on its first attempt.
    for (worker, ids) in &claimed {
        for id in ids.iter().take(5) {
            let task = get(&db, *id).await;
            assert_eq!(task.lease_owner.as_deref(), Some(worker.as_str()));
            assert_eq!((task.state, task.attempts), (TaskState::Running, 1));
        }
    }
}

async fn claims_filter_kinds_and_respect_the_batch_limit(backend: Backend) {
    let db = TestDb::new(backend).await;
    let mut by_kind: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for kind in ["a", "b", "a", "c", "a", "b"] {
        by_kind
            .entry(kind)
            .or_default()
            .push(enqueue(&db, &task(kind), at(0)).await);
    }
    let tasks = || db.store.tasks();
    let two_a = tasks().claim("w", &["a"], 2, LEASE, at(0)).await.unwrap();
    assert_eq!(ids(&two_a), by_kind["a"][..2]);
    let b_and_c = tasks().claim("w", &["b", "c"], 10, LEASE, at(0)).await.unwrap();
    assert_eq!(ids(&b_and_c), [by_kind["b"][0], by_kind["c"][0], by_kind["b"][1]]);
    assert!(
        tasks()
            .claim("w", &["b", "c"], 10, LEASE, at(0))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(tasks().claim("w", &["d"], 10, LEASE, at(0)).await.unwrap().is_empty());
    assert!(tasks().claim("w", &[], 0, LEASE, at(0)).await.unwrap().is_empty());
    assert_eq!(
        ids(&tasks().claim("w", &[], 10, LEASE, at(0)).await.unwrap()),
        [by_kind["a"][2]]
    );

    // Bad arguments.
    for result in [
        tasks().claim("", &[], 1, LEASE, at(0)).await,
        tasks().claim(&"w".repeat(201), &[], 1, LEASE, at(0)).await,
        tasks().claim("w", &["bad kind"], 1, LEASE, at(0)).await,
        tasks().claim("w", &[], 1_001, LEASE, at(0)).await,
        tasks().claim("w", &[], 1, Duration::ZERO, at(0)).await,
        tasks().claim("w", &[], 1, Duration::MAX, at(0)).await,
    ] {
        assert!(matches!(result, Err(StoreError::InvalidInput(_))), "{result:?}");
    }
}

async fn complete_and_fail_need_the_lease(backend: Backend) {
    let db = TestDb::new(backend).await;
    let tasks = || db.store.tasks();
    let id = enqueue(&db, &task("k"), at(0)).await;
    assert_eq!(ids(&claim(&db, "w1", 1, at(0)).await), [id]);
    // Another worker cannot end it.
    assert_eq!(
        tasks().complete(id, "w2", None, at(1)).await.unwrap(),
        Completion::LeaseLost
    );
    assert_eq!(
        tasks()
            .fail(id, "w2", FailureKind::Failed, "no", Some(at(2)), at(1))
            .await
            .unwrap(),
        FailOutcome::LeaseLost
    );
    assert_eq!(
        tasks().mark_cancelled(id, "w2", at(1)).await.unwrap(),
        Completion::LeaseLost
    );
    assert_eq!(get(&db, id).await.state, TaskState::Running);

    // w1 stalls; its lease expires and the task goes to w2.
    assert_eq!(tasks().reap_expired(at(30)).await.unwrap(), 1);
    let again = claim(&db, "w2", 1, at(31)).await;
    assert_eq!((again[0].task.id, again[0].attempt), (id, 2));
    assert_eq!(again[0].task.last_error.as_deref(), Some("lease expired"));
    // w1 wakes up: whatever it reports changes nothing.
    assert_eq!(
        tasks()
            .complete(id, "w1", Some(r#"{"late":true}"#), at(32))
            .await
            .unwrap(),
        Completion::LeaseLost
    );
    assert_eq!(
        tasks()
            .fail(id, "w1", FailureKind::Failed, "late", Some(at(40)), at(32))
            .await
            .unwrap(),
        FailOutcome::LeaseLost
    );
    assert_eq!(get(&db, id).await.lease_owner.as_deref(), Some("w2"));
    // w2 completes it.
    assert_eq!(
        tasks()
            .complete(id, "w2", Some(r#"{"rows":42}"#), at(33))
            .await
            .unwrap(),
        Completion::Done
    );
    let done = get(&db, id).await;
    assert_eq!(done.state, TaskState::Succeeded);
    assert_eq!(done.result.as_deref(), Some(r#"{"rows":42}"#));
    assert_eq!((done.finished_at, done.updated_at), (Some(at(33)), at(33)));
    assert_eq!((done.lease_owner, done.lease_expires_at), (None, None));
    assert_eq!(done.last_error.as_deref(), Some("lease expired"));
    // Twice is a lost lease: it is finished.
    assert_eq!(
        tasks().complete(id, "w2", None, at(34)).await.unwrap(),
        Completion::LeaseLost
    );

    let attempts = tasks().attempts(id).await.unwrap();
    let summary: Vec<_> = attempts
        .iter()
        .map(|a| {
            (
                a.attempt,
                a.worker_id.as_str(),
                a.outcome,
                a.finished_at,
                a.error.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                1,
                "w1",
                Some(AttemptOutcome::LeaseExpired),
                Some(at(30)),
                Some("lease expired")
            ),
            (2, "w2", Some(AttemptOutcome::Succeeded), Some(at(33)), None),
        ]
    );

    // Results must be JSON.
    let other = enqueue(&db, &task("k"), at(40)).await;
    claim(&db, "w", 1, at(40)).await;
    assert!(matches!(
        tasks().complete(other, "w", Some("{oops"), at(41)).await,
        Err(StoreError::InvalidInput(_))
    ));
    // A batch: each task's own result, a lost one reported.
    let third = enqueue(&db, &task("k"), at(40)).await;
    claim(&db, "w", 1, at(40)).await;
    let batch = tasks()
        .complete_many("w", &[(other, Some("1")), (id, None), (third, Some("[3]"))], at(42))
        .await
        .unwrap();
    assert_eq!(
        batch,
        [
            (other, Completion::Done),
            (id, Completion::LeaseLost),
            (third, Completion::Done)
        ]
    );
    assert_eq!(get(&db, other).await.result.as_deref(), Some("1"));
    assert_eq!(get(&db, third).await.result.as_deref(), Some("[3]"));
}

async fn failures_retry_then_the_task_dies_with_every_error_kept(backend: Backend) {
    let db = TestDb::new(backend).await;
    let tasks = || db.store.tasks();
    let id = enqueue(&db, &task("k"), at(0)).await;
    for (n, error) in ["timeout", "HTTP 503", "HTTP 429"].into_iter().enumerate() {
        let now = at(100 * n as i64);
        let claimed = claim(&db, "w", 1, now).await;
        assert_eq!(ids(&claimed), [id], "attempt {}", n + 1);
        assert_eq!(claimed[0].attempt, n as u32 + 1);
        assert_eq!(
            claimed[0].task.last_error.as_deref(),
            n.checked_sub(1).map(|p| ["timeout", "HTTP 503"][p])
        );
        let outcome = tasks()
            .fail(
                id,
                "w",
                FailureKind::Failed,
                error,
                Some(now + chrono::Duration::seconds(50)),
                now,
            )
            .await;
        if n < 2 {
            assert_eq!(
                outcome.unwrap(),
                FailOutcome::Retrying {
                    run_at: now + chrono::Duration::seconds(50)
                }
            );
            let pending = get(&db, id).await;
            assert_eq!(pending.state, TaskState::Pending);
            assert_eq!(pending.run_at, now + chrono::Duration::seconds(50));
            assert_eq!(pending.last_error.as_deref(), Some(error));
            assert_eq!((pending.lease_owner, pending.finished_at), (None, None));
            // Not before its retry time.
            assert!(claim(&db, "w", 1, now + chrono::Duration::seconds(49)).await.is_empty());
        } else {
            assert_eq!(outcome.unwrap(), FailOutcome::Dead, "attempts spent");
        }
    }
    let dead = get(&db, id).await;
    assert_eq!(dead.state, TaskState::Dead);
    assert_eq!((dead.attempts, dead.finished_at), (3, Some(at(200))));
    assert_eq!(dead.last_error.as_deref(), Some("HTTP 429"));
    assert!(claim(&db, "w", 1, at(1_000)).await.is_empty());
    let attempts = tasks().attempts(id).await.unwrap();
    let summary: Vec<_> = attempts
        .iter()
        .map(|a| (a.attempt, a.outcome, a.error.as_deref(), a.started_at, a.finished_at))
        .collect();
    assert_eq!(
        summary,
        [
            (1, Some(AttemptOutcome::Failed), Some("timeout"), at(0), Some(at(0))),
            (
                2,
                Some(AttemptOutcome::Failed),
                Some("HTTP 503"),
                at(100),
                Some(at(100))
            ),
            (
                3,
                Some(AttemptOutcome::Failed),
                Some("HTTP 429"),
                at(200),
                Some(at(200))
            ),
        ]
    );

    // No retry time: dead at once, attempts left or not. A long error is cut.
    let other = enqueue(&db, &task("k"), at(0)).await;
    claim(&db, "w", 1, at(0)).await;
    let long = "é".repeat(TASK_ERROR_MAX_LEN + 10);
    assert_eq!(
        tasks()
            .fail(other, "w", FailureKind::Failed, &long, None, at(1))
            .await
            .unwrap(),
        FailOutcome::Dead
    );
    let kept = get(&db, other).await.last_error.unwrap();
    assert_eq!(kept.chars().count(), TASK_ERROR_MAX_LEN);
    let attempt = &tasks().attempts(other).await.unwrap()[0];
    assert_eq!(attempt.error.as_deref(), Some(kept.as_str()));

    // Deleting a task deletes its attempts.
    let mut conn = db.store.conn().await.unwrap();
    conn.execute_batch(&format!("DELETE FROM tasks WHERE id = {id}"))
        .await
        .unwrap();
    assert!(tasks().attempts(id).await.unwrap().is_empty());
    assert_eq!(rows(&db, "task_attempts").await, 1);
}

async fn cancel_pending_running_and_finished_tasks(backend: Backend) {
    let db = TestDb::new(backend).await;
    let tasks = || db.store.tasks();
    let pending = enqueue(&db, &task("k"), at(0)).await;
    assert_eq!(tasks().cancel(pending, at(1)).await.unwrap(), CancelOutcome::Cancelled);
    let cancelled = get(&db, pending).await;
    assert_eq!(
        (cancelled.state, cancelled.finished_at),
        (TaskState::Cancelled, Some(at(1)))
    );
    assert!(
        claim(&db, "w", 10, at(2)).await.is_empty(),
        "a cancelled task never runs"
    );
    assert_eq!(
        tasks().cancel(pending, at(2)).await.unwrap(),
        CancelOutcome::AlreadyFinished(TaskState::Cancelled)
    );
    assert_eq!(tasks().cancel(i64::MAX, at(2)).await.unwrap(), CancelOutcome::NotFound);

    // Running: the worker is asked, sees it through its heartbeat, and stops.
    let running = enqueue(&db, &task("k"), at(0)).await;
    let quiet = enqueue(&db, &task("k"), at(0)).await;
    assert_eq!(ids(&claim(&db, "w", 10, at(3)).await), [running, quiet]);
    assert_eq!(
        tasks().cancel(running, at(4)).await.unwrap(),
        CancelOutcome::CancelRequested
    );
    assert_eq!(
        tasks().cancel(running, at(4)).await.unwrap(),
        CancelOutcome::CancelRequested,
        "asking twice changes nothing"
    );
    let still = get(&db, running).await;
    assert_eq!((still.state, still.cancel_requested), (TaskState::Running, true));
    assert_eq!(
        tasks().heartbeat("w", &[running, quiet], LEASE, at(5)).await.unwrap(),
        [(running, LeaseStatus::CancelRequested), (quiet, LeaseStatus::Held)]
    );
    assert_eq!(
        tasks().mark_cancelled(running, "w", at(6)).await.unwrap(),
        Completion::Done
    );
    let stopped = get(&db, running).await;
    assert_eq!(
        (stopped.state, stopped.finished_at),
        (TaskState::Cancelled, Some(at(6)))
    );
    let attempt = &tasks().attempts(running).await.unwrap()[0];
    assert_eq!(
        (attempt.outcome, attempt.finished_at),
        (Some(AttemptOutcome::Cancelled), Some(at(6)))
    );
    assert_eq!(
        tasks().heartbeat("w", &[running], LEASE, at(7)).await.unwrap(),
        [(running, LeaseStatus::Lost)]
    );

    // A worker that fails a task after a cancel request: cancelled, not retried.
    assert_eq!(
        tasks().cancel(quiet, at(8)).await.unwrap(),
        CancelOutcome::CancelRequested
    );
    assert_eq!(
        tasks()
            .fail(quiet, "w", FailureKind::Failed, "interrupted", Some(at(9)), at(8))
            .await
            .unwrap(),
        FailOutcome::Cancelled
    );
    assert_eq!(get(&db, quiet).await.state, TaskState::Cancelled);
    assert_eq!(
        tasks().attempts(quiet).await.unwrap()[0].outcome,
        Some(AttemptOutcome::Failed)
    );

    // Finished tasks stay as they are.
    let done = enqueue(&db, &task("k"), at(10)).await;
    claim(&db, "w", 1, at(10)).await;
    tasks().complete(done, "w", None, at(11)).await.unwrap();
    assert_eq!(
        tasks().cancel(done, at(12)).await.unwrap(),
        CancelOutcome::AlreadyFinished(TaskState::Succeeded)
    );
    assert_eq!(get(&db, done).await.state, TaskState::Succeeded);
}

async fn a_released_task_is_pending_again_its_attempt_not_counted(backend: Backend) {
    let db = TestDb::new(backend).await;
    let tasks = || db.store.tasks();
    let id = enqueue(&db, &task("k"), at(0)).await;
    claim(&db, "w1", 1, at(0)).await;
    assert_eq!(tasks().release(id, "w2", at(1)).await.unwrap(), Completion::LeaseLost);
    assert_eq!(tasks().release(id, "w1", at(2)).await.unwrap(), Completion::Done);
    let back = get(&db, id).await;
    assert_eq!((back.state, back.attempts, back.run_at), (TaskState::Pending, 0, at(2)));
    assert_eq!(
        (back.lease_owner, back.lease_expires_at, back.finished_at),
        (None, None, None)
    );
    assert_eq!(tasks().release(id, "w1", at(3)).await.unwrap(), Completion::LeaseLost);

    // The next claim takes the same number; a timeout closes it as timed out.
    let again = claim(&db, "w2", 1, at(3)).await;
    assert_eq!((again[0].task.id, again[0].attempt), (id, 1));
    assert_eq!(
        tasks()
            .fail(
                id,
                "w2",
                FailureKind::TimedOut,
                "timed out after 5000 ms",
                Some(at(10)),
                at(8)
            )
            .await
            .unwrap(),
        FailOutcome::Retrying { run_at: at(10) }
    );
    let history: Vec<_> = tasks()
        .attempts(id)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.attempt, a.worker_id, a.outcome, a.finished_at))
        .collect();
    assert_eq!(
        history,
        [
            (1, "w1".to_owned(), Some(AttemptOutcome::Released), Some(at(2))),
            (1, "w2".to_owned(), Some(AttemptOutcome::TimedOut), Some(at(8))),
        ]
    );

    // Released, claimed again and completed: the released attempt keeps its outcome.
    let other = enqueue(&db, &task("other"), at(20)).await;
    let first = db
        .store
        .tasks()
        .claim("w1", &["other"], 1, LEASE, at(20))
        .await
        .unwrap();
    assert_eq!(ids(&first), [other]);
    tasks().release(other, "w1", at(21)).await.unwrap();
    let second = db
        .store
        .tasks()
        .claim("w2", &["other"], 1, LEASE, at(21))
        .await
        .unwrap();
    assert_eq!(second[0].attempt, 1);
    assert_eq!(
        tasks().complete(other, "w2", Some("true"), at(22)).await.unwrap(),
        Completion::Done
    );
    let outcomes: Vec<_> = tasks()
        .attempts(other)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.attempt, a.outcome, a.finished_at))
        .collect();
    assert_eq!(
        outcomes,
        [
            (1, Some(AttemptOutcome::Released), Some(at(21))),
            (1, Some(AttemptOutcome::Succeeded), Some(at(22))),
        ]
    );

    // Given back after a cancel request: cancelled.
    claim(&db, "w3", 1, at(10)).await;
    tasks().cancel(id, at(11)).await.unwrap();
    assert_eq!(tasks().release(id, "w3", at(12)).await.unwrap(), Completion::Done);
    let cancelled = get(&db, id).await;
    assert_eq!(
        (cancelled.state, cancelled.attempts, cancelled.finished_at),
        (TaskState::Cancelled, 1, Some(at(12)))
    );
}

async fn heartbeats_renew_leases_and_report_lost_ones(backend: Backend) {
    let db = TestDb::new(backend).await;
    let tasks = || db.store.tasks();
    let a = enqueue(&db, &task("k"), at(0)).await;
    let b = enqueue(&db, &task("k"), at(0)).await;
    let theirs = enqueue(&db, &task("k"), at(0)).await;
    assert_eq!(ids(&claim(&db, "w", 2, at(0)).await), [a, b]);
    assert_eq!(ids(&claim(&db, "other", 1, at(0)).await), [theirs]);

    let report = tasks()
        .heartbeat("w", &[b, a, theirs, i64::MAX], LEASE, at(20))
        .await
        .unwrap();
    assert_eq!(
        report,
        [
            (b, LeaseStatus::Held),
            (a, LeaseStatus::Held),
            (theirs, LeaseStatus::Lost),
            (i64::MAX, LeaseStatus::Lost)
        ]
    );
    assert_eq!(get(&db, a).await.lease_expires_at, Some(at(50)));
    assert_eq!(get(&db, theirs).await.lease_expires_at, Some(at(30)), "not renewed");
    // The renewed leases outlive the first expiry; the other worker's does not.
    assert_eq!(tasks().reap_expired(at(40)).await.unwrap(), 1);
    assert_eq!(get(&db, a).await.state, TaskState::Running);
    assert_eq!(
        tasks().heartbeat("other", &[theirs], LEASE, at(41)).await.unwrap(),
        [(theirs, LeaseStatus::Lost)]
    );
    // A lease past its expiry but not reaped yet is still held, and renewed.
    assert_eq!(
        tasks().heartbeat("w", &[a], LEASE, at(55)).await.unwrap(),
        [(a, LeaseStatus::Held)]
    );
    assert_eq!(tasks().reap_expired(at(60)).await.unwrap(), 1, "b only");
    assert_eq!(
        tasks().heartbeat("w", &[a, b], LEASE, at(61)).await.unwrap(),
        [(a, LeaseStatus::Held), (b, LeaseStatus::Lost)]
    );
    assert!(tasks().heartbeat("w", &[], LEASE, at(61)).await.unwrap().is_empty());
    assert!(matches!(
        tasks().heartbeat("", &[a], LEASE, at(61)).await,
        Err(StoreError::InvalidInput(_))
    ));
}

async fn reaping_redelivers_then_kills_when_attempts_are_spent(backend: Backend) {
    let db = TestDb::new(backend).await;
    let tasks = || db.store.tasks();
    let two_tries = NewTask {
        max_attempts: 2,
        ..task("k")
    };
    let id = enqueue(&db, &two_tries, at(0)).await;
    claim(&db, "w1", 1, at(0)).await;
    assert_eq!(tasks().reap_expired(at(29)).await.unwrap(), 0, "the lease holds");
    assert_eq!(tasks().reap_expired(at(30)).await.unwrap(), 1);
    let back = get(&db, id).await;
    assert_eq!(
        (back.state, back.run_at, back.attempts),
        (TaskState::Pending, at(30), 1)
    );
    assert_eq!((back.lease_owner, back.lease_expires_at), (None, None));
    assert_eq!(back.last_error.as_deref(), Some("lease expired"));
    assert_eq!(tasks().reap_expired(at(31)).await.unwrap(), 0, "nothing twice");

    let again = claim(&db, "w2", 1, at(31)).await;
    assert_eq!((again[0].task.id, again[0].attempt), (id, 2));
    assert_eq!(tasks().reap_expired(at(61)).await.unwrap(), 1);
    let dead = get(&db, id).await;
    assert_eq!((dead.state, dead.finished_at), (TaskState::Dead, Some(at(61))));
    let outcomes: Vec<_> = tasks()
        .attempts(id)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.worker_id, a.outcome, a.finished_at))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("w1".to_owned(), Some(AttemptOutcome::LeaseExpired), Some(at(30))),
            ("w2".to_owned(), Some(AttemptOutcome::LeaseExpired), Some(at(61))),
        ]
    );

    // A task whose cancel was asked is cancelled, not re-delivered.
    let asked = enqueue(&db, &task("k"), at(100)).await;
    claim(&db, "w", 1, at(100)).await;
    tasks().cancel(asked, at(101)).await.unwrap();
    assert_eq!(tasks().reap_expired(at(130)).await.unwrap(), 1);
    assert_eq!(get(&db, asked).await.state, TaskState::Cancelled);

    // More than one reaping transaction's worth.
    let many: Vec<NewTask> = (0..600).map(|_| task("bulk")).collect();
    for chunk in many.chunks(300) {
        tasks().enqueue_many(chunk, at(200)).await.unwrap();
    }
    for _ in 0..2 {
        assert_eq!(claim(&db, "w", 300, at(200)).await.len(), 300);
    }
    assert_eq!(tasks().reap_expired(at(230)).await.unwrap(), 600);
    assert_eq!(claim(&db, "w", 1_000, at(230)).await.len(), 600);
}

async fn lists_page_by_state_and_kind(backend: Backend) {
    let db = TestDb::new(backend).await;
    let tasks = || db.store.tasks();
    let mut all = Vec::new();
    for kind in ["a", "b", "a", "a", "b", "a", "a"] {
        all.push(enqueue(&db, &task(kind), at(0)).await);
    }
    // Claim the first three (a, b, a): running.
    assert_eq!(claim(&db, "w", 3, at(0)).await.len(), 3);
    let newest_first = |ids: &[i64]| ids.iter().rev().copied().collect::<Vec<_>>();

    let pages = async |filter: TaskFilter, limit: u32| {
        let mut pages = Vec::new();
        let mut after = None;
        loop {
            let page = tasks().list(&filter, TaskPageRequest { limit, after }).await.unwrap();
            assert!(page.items.len() <= limit as usize);
            pages.push(page.items.iter().map(|t| t.id).collect::<Vec<_>>());
            match page.next {
                // The cursor travels as text.
                Some(next) => after = Some(next.to_string().parse::<TaskCursor>().unwrap()),
                None => return pages,
            }
        }
    };
    let everything = pages(TaskFilter::default(), 3).await;
    assert_eq!(everything.concat(), newest_first(&all));
    assert_eq!(everything.len(), 3);
    assert_eq!(everything.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 1]);

    let of_a: Vec<i64> = [0, 2, 3, 5, 6].iter().map(|i| all[*i]).collect();
    let a_pages = pages(
        TaskFilter {
            kind: Some("a".into()),
            ..TaskFilter::default()
        },
        2,
    )
    .await;
    assert_eq!(a_pages.concat(), newest_first(&of_a));
    let running = pages(
        TaskFilter {
            state: Some(TaskState::Running),
            ..TaskFilter::default()
        },
        10,
    )
    .await;
    assert_eq!(running, [newest_first(&all[..3])]);
    let pending_a = pages(
        TaskFilter {
            state: Some(TaskState::Pending),
            kind: Some("a".into()),
        },
        1,
    )
    .await;
    assert_eq!(pending_a.concat(), [all[6], all[5], all[3]]);
    let none = pages(
        TaskFilter {
            state: Some(TaskState::Dead),
            ..TaskFilter::default()
        },
        5,
    )
    .await;
    assert_eq!(none, [Vec::<i64>::new()]);

    // Bad requests.
    for limit in [0, 1_001] {
        assert!(matches!(
            tasks()
                .list(&TaskFilter::default(), TaskPageRequest { limit, after: None })
                .await,
            Err(StoreError::InvalidInput(_))
        ));
    }
    for text in ["", "t", "t0", "t01", "tA", "12", "t-1", "tg", "t10000000000000000"] {
        assert!(text.parse::<TaskCursor>().is_err(), "{text:?}");
    }
    assert_eq!("t1f".parse::<TaskCursor>().unwrap().to_string(), "t1f");
    assert_eq!(TaskCursor::from_last_id(31), "t1f".parse().unwrap());
    assert_eq!(TaskCursor::from_last_id(31).last_id(), 31);
}

async fn counts_by_kind_and_state(backend: Backend) {
    let db = TestDb::new(backend).await;
    assert!(db.store.tasks().counts().await.unwrap().is_empty());
    for kind in ["a", "a", "a", "b", "b"] {
        enqueue(&db, &task(kind), at(0)).await;
    }
    // a: 1 succeeded, 1 running, 1 pending; b: 1 dead, 1 pending.
    let a = db.store.tasks().claim("w", &["a"], 2, LEASE, at(0)).await.unwrap();
    db.store.tasks().complete(a[0].task.id, "w", None, at(1)).await.unwrap();
    let b = db.store.tasks().claim("w", &["b"], 1, LEASE, at(0)).await.unwrap();
    db.store
        .tasks()
        .fail(b[0].task.id, "w", FailureKind::Failed, "x", None, at(1))
        .await
        .unwrap();
    let count = |kind: &str, state, count| TaskCount {
        kind: kind.into(),
        state,
        count,
    };
    assert_eq!(
        db.store.tasks().counts().await.unwrap(),
        [
            count("a", TaskState::Pending, 1),
            count("a", TaskState::Running, 1),
            count("a", TaskState::Succeeded, 1),
            count("b", TaskState::Dead, 1),
            count("b", TaskState::Pending, 1),
        ]
    );
}

async fn schedule_slots_fire_once_across_concurrent_callers(backend: Backend) {
    let db = racing_db(backend).await;
    let slot = at(3_600);
    let claims = race(&db, 8, |_, mut conn| async move {
        conn.tasks()
            .claim_slot("hourly-refresh", slot, at(3_601))
            .await
            .unwrap()
    })
    .await;
    assert_eq!(claims.iter().filter(|c| **c).count(), 1, "{claims:?}");
    // Another slot, another schedule: each fires once.
    let tasks = || db.store.tasks();
    assert!(
        tasks()
            .claim_slot("hourly-refresh", at(7_200), at(7_200))
            .await
            .unwrap()
    );
    assert!(
        !tasks()
            .claim_slot("hourly-refresh", at(7_200), at(7_201))
            .await
            .unwrap()
    );
    assert!(tasks().claim_slot("daily-report", slot, at(3_601)).await.unwrap());

    // The slot and its task together: one task however many schedulers race.
    let enqueued = race(&db, 8, |i, mut conn| async move {
        let new = NewTask::new("report", format!("{{\"scheduler\":{i}}}"));
        conn.tasks()
            .enqueue_for_slot("nightly", at(86_400), &new, at(86_400))
            .await
            .unwrap()
    })
    .await;
    let fired: Vec<Enqueued> = enqueued.into_iter().flatten().collect();
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert!(fired[0].created);
    assert_eq!(get(&db, fired[0].id).await.kind, "report");
    assert_eq!(rows(&db, "tasks").await, 1);
    assert!(!tasks().claim_slot("nightly", at(86_400), at(86_401)).await.unwrap());

    // A slot claimed in a transaction that rolls back is not claimed, and its task not
    // enqueued: the two are one.
    let result: Result<(), StoreError> = db
        .store
        .transaction(async |tx| {
            let fired = tx
                .tasks()
                .enqueue_for_slot("nightly", at(172_800), &task("report"), at(172_800))
                .await?;
            assert!(fired.is_some());
            Err(StoreError::InvalidInput("the caller changed its mind".into()))
        })
        .await;
    assert!(result.is_err());
    assert_eq!(rows(&db, "tasks").await, 1);
    let later = tasks()
        .enqueue_for_slot("nightly", at(172_800), &task("report"), at(172_801))
        .await
        .unwrap();
    assert!(later.is_some_and(|e| e.created));

    // Pruning: the slots before the cutoff go.
    assert_eq!(rows(&db, "tasks").await, 2);
    assert_eq!(rows(&db, "task_schedule_slots").await, 5);
    assert_eq!(tasks().prune_slots(at(7_200)).await.unwrap(), 2);
    assert_eq!(tasks().prune_slots(at(7_200)).await.unwrap(), 0);
    assert_eq!(rows(&db, "task_schedule_slots").await, 3);
    assert!(matches!(
        tasks().claim_slot("", slot, slot).await,
        Err(StoreError::InvalidInput(_))
    ));
}

async fn enqueues_join_the_callers_transaction(backend: Backend) {
    let db = TestDb::new(backend).await;
    let result: Result<(), StoreError> = db
        .store
        .transaction(async |tx| {
            let first = tx.tasks().enqueue(&keyed("k", "tx"), at(0)).await?;
            let again = tx.tasks().enqueue(&keyed("k", "tx"), at(0)).await?;
            assert_eq!((again.id, again.created), (first.id, false));
            Err(StoreError::InvalidInput("rolled back".into()))
        })
        .await;
    assert!(result.is_err());
    assert_eq!(rows(&db, "tasks").await, 0);
    let id = db
        .store
        .transaction(async |tx| tx.tasks().enqueue(&keyed("k", "tx"), at(0)).await)
        .await
        .unwrap()
        .id;
    assert_eq!(ids(&claim(&db, "w", 1, at(0)).await), [id]);
}

async fn postgres_notifies_listeners_of_enqueues(backend: Backend) {
    let db = TestDb::new(backend).await;
    let listener = db.store.listen_tasks().await.unwrap();
    let Some(mut listener) = listener else {
        assert_ne!(backend, Backend::Postgres, "PostgreSQL listens");
        return;
    };
    assert_eq!(backend, Backend::Postgres);
    enqueue(&db, &keyed("refresh", "n"), at(0)).await;
    // A deduplicated enqueue notifies nobody; the next new task does.
    assert!(
        !db.store
            .tasks()
            .enqueue(&keyed("refresh", "n"), at(0))
            .await
            .unwrap()
            .created
    );
    enqueue(&db, &task("report"), at(0)).await;
    let mut kinds = Vec::new();
    for _ in 0..2 {
        let kind = tokio::time::timeout(Duration::from_secs(10), listener.recv())
            .await
            .expect("a notification within 10 s")
            .expect("the listener is open")
            .unwrap();
        kinds.push(kind);
    }
    assert_eq!(kinds, ["refresh", "report"]);
}

backend_tests!(
    enqueue_and_get_round_trip,
    enqueue_many_returns_each_task_in_order,
    claims_go_by_priority_then_run_at_then_id,
    tasks_not_yet_due_are_not_claimed,
    a_unique_key_dedupes_pending_and_running_tasks,
    concurrent_enqueues_of_one_key_make_one_task,
    concurrent_claimers_never_claim_a_task_twice,
    claims_filter_kinds_and_respect_the_batch_limit,
    complete_and_fail_need_the_lease,
    failures_retry_then_the_task_dies_with_every_error_kept,
    cancel_pending_running_and_finished_tasks,
    a_released_task_is_pending_again_its_attempt_not_counted,
    heartbeats_renew_leases_and_report_lost_ones,
    reaping_redelivers_then_kills_when_attempts_are_spent,
    lists_page_by_state_and_kind,
    counts_by_kind_and_state,
    schedule_slots_fire_once_across_concurrent_callers,
    enqueues_join_the_callers_transaction,
    postgres_notifies_listeners_of_enqueues,
);
