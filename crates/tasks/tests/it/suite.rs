//! The suite every backend must pass. Time is tokio's paused clock through `TokioClock`;
//! nothing sleeps to wait: `settle` waits on a condition while tokio advances the clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use finstage_tasks::{
    AttemptOutcome, Backoff, CancelOutcome, Clock, Every, HandlerError, Handlers, PageRequest, Priority, Queue,
    Schedule, Scheduler, TaskBackend, TaskContext, TaskFilter, TaskId, TaskOptions, TaskState, TokioClock,
    WorkerConfig, WorkerPool,
};
use tokio::sync::Notify;

pub(crate) fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

pub(crate) fn clock() -> Arc<dyn Clock> {
    Arc::new(TokioClock::starting_at(start()))
}

pub(crate) fn config(id: &str) -> WorkerConfig {
    WorkerConfig {
        id: id.to_owned(),
        lease: Duration::from_secs(30),
        heartbeat: Duration::from_secs(10),
        reap_every: Duration::from_secs(5),
        poll_min: Duration::from_millis(5),
        poll_max: Duration::from_millis(100),
        claim_batch: 16,
        claim_linger: Duration::from_millis(2),
        depth_every: Duration::from_secs(60),
    }
}

/// Waits (on the paused clock) until `done` holds, checking every 10 ms of virtual time.
pub(crate) async fn settle<F, Fut>(mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100_000 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached in 1,000 s of virtual time");
}

pub(crate) async fn state(queue: &Queue, id: TaskId) -> TaskState {
    queue.status(id).await.unwrap().expect("task exists").state
}

pub(crate) async fn priority_order(backend: Arc<dyn TaskBackend>) {
    let queue = Queue::new(backend.clone(), clock());
    let mut ids = Vec::new();
    for priority in [
        Priority::Low,
        Priority::Normal,
        Priority::Critical,
        Priority::High,
        Priority::Critical,
    ] {
        ids.push(
            queue
                .enqueue("job", &(), TaskOptions::default().priority(priority))
                .await
                .unwrap()
                .id,
        );
    }
    let claimed = backend
        .claim("w", &[], 10, Duration::from_secs(30), queue.clock().now())
        .await
        .unwrap();
    let order: Vec<TaskId> = claimed.iter().map(|t| t.id).collect();
    assert_eq!(order, [ids[2], ids[4], ids[3], ids[1], ids[0]]);
    assert!(claimed.iter().all(|t| t.state == TaskState::Running && t.attempts == 1));
}

pub(crate) async fn due_time_and_kinds_are_respected(backend: Arc<dyn TaskBackend>) {
    let queue = Queue::new(backend.clone(), clock());
    let later = queue
        .enqueue("job", &1, TaskOptions::default().delay(Duration::from_secs(60)))
        .await
        .unwrap()
        .id;
    let other = queue.enqueue("other", &2, TaskOptions::default()).await.unwrap().id;
    let now = queue.clock().now();
    let kinds = vec!["job".to_owned()];
    assert!(
        backend
            .claim("w", &kinds, 10, Duration::from_secs(30), now)
            .await
            .unwrap()
            .is_empty()
    );
    let claimed = backend
        .claim(
            "w",
            &kinds,
            10,
            Duration::from_secs(30),
            now + chrono::TimeDelta::seconds(60),
        )
        .await
        .unwrap();
    assert_eq!(claimed.iter().map(|t| t.id).collect::<Vec<_>>(), [later]);
    assert_eq!(state(&queue, other).await, TaskState::Pending);
}

pub(crate) async fn handlers_run_and_results_are_kept(backend: Arc<dyn TaskBackend>) {
    let queue = Queue::new(backend.clone(), clock());
    let mut handlers = Handlers::new();
    handlers
        .register("double", 4, |_ctx: TaskContext, n: u64| async move {
            Ok::<_, HandlerError>(n * 2)
        })
        .unwrap();
    let pool = WorkerPool::start(backend, queue.clock().clone(), handlers, config("w1")).unwrap();
    let ids: Vec<TaskId> = futures_util::future::join_all((0..20u64).map(|n| {
        let queue = queue.clone();
        async move { queue.enqueue("double", &n, TaskOptions::default()).await.unwrap().id }
    }))
    .await;
    for (n, id) in ids.iter().enumerate() {
        let queue = queue.clone();
        settle(|| {
            let queue = queue.clone();
            async move { state(&queue, *id).await == TaskState::Succeeded }
        })
        .await;
        assert_eq!(queue.result::<u64>(*id).await.unwrap(), Some(n as u64 * 2));
    }
    pool.shutdown(Duration::from_secs(1)).await;
}

pub(crate) async fn failures_retry_with_backoff_then_succeed(backend: Arc<dyn TaskBackend>) {
    let queue = Queue::new(backend.clone(), clock());
    let calls = Arc::new(AtomicU32::new(0));
    let mut handlers = Handlers::new();
    let counter = calls.clone();
    handlers
        .register("flaky", 1, move |ctx: TaskContext, (): ()| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                if ctx.attempt < 3 {
                    Err(HandlerError::Retry(format!("attempt {} failed", ctx.attempt)))
                } else {
                    Ok("done")
                }
            }
        })
        .unwrap();
    let pool = WorkerPool::start(backend, queue.clock().clone(), handlers, config("w1")).unwrap();
    let backoff = Backoff {
        base: Duration::from_secs(10),
        cap: Duration::from_secs(60),
    };
    let id = queue
        .enqueue("flaky", &(), TaskOptions::default().max_attempts(5).backoff(backoff))
        .await
        .unwrap()
        .id;
    let begun = tokio::time::Instant::now();
    settle(|| {
        let queue = queue.clone();
        async move { state(&queue, id).await == TaskState::Succeeded }
    })
    .await;
    // Two waits: at least half of 10 s, then half of 20 s; at most 10 + 20 s, plus what the
    // database round trips add to the paused clock (see `database` in main.rs).
    assert!(begun.elapsed() >= Duration::from_secs(15), "{:?}", begun.elapsed());
    assert!(begun.elapsed() <= Duration::from_secs(45), "{:?}", begun.elapsed());
    let attempts = queue.attempts(id).await.unwrap();
    let outcomes: Vec<_> = attempts.iter().map(|a| a.outcome).collect();
    assert_eq!(
        outcomes,
        [
            Some(AttemptOutcome::Failed),
            Some(AttemptOutcome::Failed),
            Some(AttemptOutcome::Succeeded)
        ]
    );
    assert_eq!(attempts[0].error.as_deref(), Some("attempt 1 failed"));
    assert_eq!(attempts[1].error.as_deref(), Some("attempt 2 failed"));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    pool.shutdown(Duration::from_secs(1)).await;
}

pub(crate) async fn a_timeout_ends_the_attempt_and_it_is_dead_after_max_attempts(backend: Arc<dyn TaskBackend>) {
    let queue = Queue::new(backend.clone(), clock());
    let mut handlers = Handlers::new();
    handlers
        .register("hang", 2, |_ctx: TaskContext, (): ()| async move {
            std::future::pending::<()>().await;
            Ok::<(), HandlerError>(())
        })
        .unwrap();
    let pool = WorkerPool::start(backend, queue.clock().clone(), handlers, config("w1")).unwrap();
    let options = TaskOptions::default()
        .max_attempts(2)
        .timeout(Duration::from_secs(5))
        .backoff(Backoff {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(1),
        });
    let id = queue.enqueue("hang", &(), options).await.unwrap().id;
    settle(|| {
        let queue = queue.clone();
        async move { state(&queue, id).await == TaskState::Dead }
    })
    .await;
    let attempts = queue.attempts(id).await.unwrap();
    assert_eq!(attempts.len(), 2);
    assert!(attempts.iter().all(|a| a.outcome == Some(AttemptOutcome::TimedOut)));
    assert_eq!(attempts[1].error.as_deref(), Some("timed out after 5000 ms"));
    pool.shutdown(Duration::from_secs(1)).await;
}

pub(crate) async fn a_fatal_error_or_a_bad_payload_is_dead_at_once(backend: Arc<dyn TaskBackend>) {
    let queue = Queue::new(backend.clone(), clock());
    let mut handlers = Handlers::new();
    handlers
        .register("typed", 1, |_ctx: TaskContext, n: u32| async move {
            if n == 0 {
                Err(HandlerError::Fatal("zero".to_owned()))
            } else {
                Ok(n)
            }
        })
        .unwrap();
    let pool = WorkerPool::start(backend, queue.clock().clone(), handlers, config("w1")).unwrap();
    let fatal = queue
        .enqueue("typed", &0u32, TaskOptions::default().max_attempts(5))
        .await
        .unwrap()
        .id;
    let garbage = queue
        .enqueue("typed", "not a number", TaskOptions::default().max_attempts(5))
        .await
        .unwrap()
        .id;
    for id in [fatal, garbage] {
        settle(|| {
            let queue = queue.clone();
            async move { state(&queue, id).await == TaskState::Dead }
        })
        .await;
        assert_eq!(queue.attempts(id).await.unwrap().len(), 1);
    }
    let error = queue.status(garbage).await.unwrap().unwrap().last_error.unwrap();
    assert!(error.starts_with("payload does not decode"), "{error}");
    pool.shutdown(Duration::from_secs(1)).await;
}

pub(crate) async fn cancel_pending_running_and_finished(backend: Arc<dyn TaskBackend>) {
    let queue = Queue::new(backend.clone(), clock());
    let started = Arc::new(Notify::new());
    let mut handlers = Handlers::new();
    let signal = started.clone();
    handlers
        .register("long", 1, move |mut ctx: TaskContext, (): ()| {
            let signal = signal.clone();
            async move {
                signal.notify_one();
                ctx.cancelled().await;
                Err::<(), _>(HandlerError::Cancelled)
            }
        })
        .unwrap();
    let pending = queue
        .enqueue("long", &(), TaskOptions::default().delay(Duration::from_secs(3600)))
        .await
        .unwrap()
        .id;
    assert_eq!(queue.cancel(pending).await.unwrap(), CancelOutcome::Cancelled);
    assert_eq!(state(&queue, pending).await, TaskState::Cancelled);
    assert_eq!(queue.cancel(pending).await.unwrap(), CancelOutcome::AlreadyFinished);
    assert_eq!(queue.cancel(TaskId(987_654)).await.unwrap(), CancelOutcome::NotFound);

    let pool = WorkerPool::start(backend, queue.clock().clone(), handlers, config("w1")).unwrap();
    let running = queue.enqueue("long", &(), TaskOptions::default()).await.unwrap().id;
    started.notified().await;
    assert_eq!(queue.cancel(running).await.unwrap(), CancelOutcome::Requested);
    settle(|| {
        let queue = queue.clone();
        async move { state(&queue, running).await == TaskState::Cancelled }
    })
    .await;
    let attempts = queue.attempts(running).await.unwrap();
    assert_eq!(attempts.last().unwrap().outcome, Some(AttemptOutcome::Cancelled));
    pool.shutdown(Duration::from_secs(1)).await;
}

pub(crate) async fn unique_keys_dedupe_pending_and_running_only(backend: Arc<dyn TaskBackend>) {
    let queue = Queue::new(backend.clone(), clock());
    let first = queue
        .enqueue("job", &1, TaskOptions::default().unique_key("refresh:AAPL"))
        .await
        .unwrap();
    let again = queue
        .enqueue("job", &2, TaskOptions::default().unique_key("refresh:AAPL"))
        .await
        .unwrap();
    assert!(first.created && !again.created);
    assert_eq!(first.id, again.id);
    let claimed = backend
        .claim("w", &[], 1, Duration::from_secs(30), queue.clock().now())
        .await
        .unwrap();
    assert_eq!(claimed[0].id, first.id);
    let while_running = queue
        .enqueue("job", &3, TaskOptions::default().unique_key("refresh:AAPL"))
        .await
        .unwrap();
    assert_eq!(while_running.id, first.id);
    backend
        .complete(first.id, "w", "null".to_owned(), queue.clock().now())
        .await
        .unwrap();
    let after = queue
        .enqueue("job", &4, TaskOptions::default().unique_key("refresh:AAPL"))
        .await
        .unwrap();
    assert!(after.created && after.id != first.id);
}

pub(crate) async fn an_expired_lease_is_redelivered(backend: Arc<dyn TaskBackend>) {
    let queue = Queue::new(backend.clone(), clock());
    let id = queue.enqueue("job", &(), TaskOptions::default()).await.unwrap().id;
    // A worker claims it and dies: no heartbeat, no report.
    let claimed = backend
        .claim("dead-worker", &[], 1, Duration::from_secs(30), queue.clock().now())
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let mut handlers = Handlers::new();
    handlers
        .register("job", 1, |_ctx: TaskContext, (): ()| async move {
            Ok::<_, HandlerError>("ran")
        })
        .unwrap();
    let pool = WorkerPool::start(backend.clone(), queue.clock().clone(), handlers, config("w2")).unwrap();
    settle(|| {
        let queue = queue.clone();
        async move { state(&queue, id).await == TaskState::Succeeded }
    })
    .await;
    let attempts = queue.attempts(id).await.unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(
        (attempts[0].worker.as_str(), attempts[0].outcome),
        ("dead-worker", Some(AttemptOutcome::LeaseExpired))
    );
    assert_eq!(
        (attempts[1].worker.as_str(), attempts[1].outcome),
        ("w2", Some(AttemptOutcome::Succeeded))
    );
    // The dead worker's late report changes nothing.
    let late = backend
        .complete(id, "dead-worker", "\"late\"".to_owned(), queue.clock().now())
        .await
        .unwrap();
    assert_eq!(late, finstage_tasks::Finish::LeaseLost);
    assert_eq!(queue.result::<String>(id).await.unwrap().as_deref(), Some("ran"));
    pool.shutdown(Duration::from_secs(1)).await;
}

pub(crate) async fn heartbeats_keep_long_tasks_leased(backend: Arc<dyn TaskBackend>) {
    let queue = Queue::new(backend.clone(), clock());
    let mut handlers = Handlers::new();
    handlers
        .register("slow", 1, |_ctx: TaskContext, (): ()| async move {
            tokio::time::sleep(Duration::from_secs(120)).await;
            Ok::<_, HandlerError>(())
        })
        .unwrap();
    let pool = WorkerPool::start(backend.clone(), queue.clock().clone(), handlers, config("w1")).unwrap();
    let id = queue.enqueue("slow", &(), TaskOptions::default()).await.unwrap().id;
    settle(|| {
        let queue = queue.clone();
        async move { state(&queue, id).await == TaskState::Succeeded }
    })
    .await;
    assert_eq!(
        queue.attempts(id).await.unwrap().len(),
        1,
        "a 120 s task under a 30 s lease was never re-delivered"
    );
    pool.shutdown(Duration::from_secs(1)).await;
}

pub(crate) async fn shutdown_waits_then_gives_tasks_back(backend: Arc<dyn TaskBackend>) {
    let queue = Queue::new(backend.clone(), clock());
    let started = Arc::new(Notify::new());
    let make = |started: Arc<Notify>, secs: u64| {
        let mut handlers = Handlers::new();
        handlers
            .register("job", 2, move |_ctx: TaskContext, (): ()| {
                let started = started.clone();
                async move {
                    started.notify_one();
                    tokio::time::sleep(Duration::from_secs(secs)).await;
                    Ok::<_, HandlerError>(secs)
                }
            })
            .unwrap();
        handlers
    };
    let pool = WorkerPool::start(
        backend.clone(),
        queue.clock().clone(),
        make(started.clone(), 600),
        config("w1"),
    )
    .unwrap();
    let id = queue.enqueue("job", &(), TaskOptions::default()).await.unwrap().id;
    started.notified().await;
    let report = pool.shutdown(Duration::from_secs(5)).await;
    assert_eq!((report.finished, report.released), (0, 1));
    let task = queue.status(id).await.unwrap().unwrap();
    assert_eq!(
        (task.state, task.attempts),
        (TaskState::Pending, 0),
        "given back, the attempt not counted"
    );
    let next = WorkerPool::start(
        backend,
        queue.clock().clone(),
        make(Arc::new(Notify::new()), 1),
        config("w2"),
    )
    .unwrap();
    settle(|| {
        let queue = queue.clone();
        async move { state(&queue, id).await == TaskState::Succeeded }
    })
    .await;
    next.shutdown(Duration::from_secs(1)).await;
}

pub(crate) async fn listing_pages_and_depth(backend: Arc<dyn TaskBackend>) {
    let queue = Queue::new(backend.clone(), clock());
    for n in 0..7 {
        queue
            .enqueue(if n % 2 == 0 { "even" } else { "odd" }, &n, TaskOptions::default())
            .await
            .unwrap();
    }
    let filter = TaskFilter {
        kind: Some("even".to_owned()),
        ..TaskFilter::default()
    };
    let first = queue
        .list(&filter, PageRequest { before: None, limit: 3 })
        .await
        .unwrap();
    assert_eq!(first.tasks.len(), 3);
    let second = queue
        .list(
            &filter,
            PageRequest {
                before: first.next,
                limit: 3,
            },
        )
        .await
        .unwrap();
    assert_eq!(second.tasks.len(), 1);
    assert_eq!(second.next, None);
    assert!(first.tasks.windows(2).all(|w| w[0].id > w[1].id));
    assert!(
        queue
            .list(&filter, PageRequest { before: None, limit: 0 })
            .await
            .is_err()
    );
    let depth = backend.depth().await.unwrap();
    let pending = |kind: &str| {
        depth
            .iter()
            .find(|d| d.kind == kind && d.state == TaskState::Pending)
            .map(|d| d.count)
    };
    assert_eq!((pending("even"), pending("odd")), (Some(4), Some(3)));
}

pub(crate) async fn two_schedulers_fire_once_per_slot(backend: Arc<dyn TaskBackend>) {
    let queue = Queue::new(backend.clone(), clock());
    let schedule = |every| Schedule {
        name: "refresh".to_owned(),
        every,
        kind: "refresh".to_owned(),
        payload: serde_json::json!({"watchlist": "default"}),
        options: TaskOptions::default(),
    };
    let a = Scheduler::start(
        backend.clone(),
        queue.clock().clone(),
        vec![schedule(Every::interval(Duration::from_secs(60)).unwrap())],
    )
    .unwrap();
    let b = Scheduler::start(
        backend.clone(),
        queue.clock().clone(),
        vec![schedule(Every::cron("* * * * *").unwrap())],
    )
    .unwrap();
    // Five minutes: slots at 12:01 … 12:05.
    tokio::time::sleep(Duration::from_secs(5 * 60 + 30)).await;
    a.shutdown().await;
    b.shutdown().await;
    let page = queue
        .list(
            &TaskFilter::default(),
            PageRequest {
                before: None,
                limit: 100,
            },
        )
        .await
        .unwrap();
    let mut run_ats: Vec<_> = page.tasks.iter().map(|t| t.created_at.timestamp() / 60 * 60).collect();
    run_ats.sort_unstable();
    assert_eq!(page.tasks.len(), 5, "{run_ats:?}");
    run_ats.dedup();
    assert_eq!(run_ats.len(), 5, "one task per minute");
}

pub(crate) async fn bad_input_is_refused(backend: Arc<dyn TaskBackend>) {
    let queue = Queue::new(backend, clock());
    assert!(queue.enqueue("", &(), TaskOptions::default()).await.is_err());
    assert!(queue.enqueue("has space", &(), TaskOptions::default()).await.is_err());
    assert!(
        queue
            .enqueue("job", &(), TaskOptions::default().max_attempts(0))
            .await
            .is_err()
    );
    assert!(
        queue
            .enqueue("job", &(), TaskOptions::default().timeout(Duration::ZERO))
            .await
            .is_err()
    );
    assert!(
        queue
            .enqueue("job", &(), TaskOptions::default().unique_key(""))
            .await
            .is_err()
    );
    assert!(Every::cron("not a cron").is_err());
    assert!(Every::interval(Duration::from_millis(500)).is_err());
    let mut handlers = Handlers::new();
    assert!(
        handlers
            .register("job", 0, |_c: TaskContext, (): ()| async { Ok::<_, HandlerError>(()) })
            .is_err()
    );
}

/// Defines one `#[tokio::test(start_paused = true)]` per suite function for a backend maker.
macro_rules! tests {
    ($backend:ident) => {
        crate::suite::tests!(@each $backend,
            priority_order,
            due_time_and_kinds_are_respected,
            handlers_run_and_results_are_kept,
            failures_retry_with_backoff_then_succeed,
            a_timeout_ends_the_attempt_and_it_is_dead_after_max_attempts,
            a_fatal_error_or_a_bad_payload_is_dead_at_once,
            cancel_pending_running_and_finished,
            unique_keys_dedupe_pending_and_running_only,
            an_expired_lease_is_redelivered,
            heartbeats_keep_long_tasks_leased,
            shutdown_waits_then_gives_tasks_back,
            listing_pages_and_depth,
            two_schedulers_fire_once_per_slot,
            bad_input_is_refused,
        );
    };
    (@each $backend:ident, $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(start_paused = true)]
            async fn $name() {
                let (guard, backend) = $backend().await;
                crate::suite::$name(backend).await;
                drop(guard);
            }
        )*
    };
}
pub(crate) use tests;
