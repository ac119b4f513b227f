//! Many workers on one database queue, in real time: two pools on separate connections, two
//! schedulers on separate connections, and a worker process killed with SIGKILL mid-task.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use finstage_store::Backend;
use finstage_tasks::{
    DatabaseBackend, Every, HandlerError, Handlers, PageRequest, Queue, Schedule, Scheduler, SystemClock, TaskBackend,
    TaskContext, TaskFilter, TaskOptions, TaskState, WorkerConfig, WorkerPool,
};

use crate::db::Db;

fn config(id: &str) -> WorkerConfig {
    WorkerConfig {
        id: id.to_owned(),
        lease: Duration::from_secs(2),
        heartbeat: Duration::from_millis(500),
        reap_every: Duration::from_millis(500),
        poll_min: Duration::from_millis(2),
        poll_max: Duration::from_millis(50),
        claim_batch: 16,
        claim_linger: Duration::from_millis(2),
        depth_every: Duration::from_secs(60),
    }
}

async fn backend(db: &finstage_test_support::db::TestDb) -> Arc<dyn TaskBackend> {
    Arc::new(DatabaseBackend::new(db.store().await))
}

/// Waits until `done` holds, checking every 20 ms, for at most `limit`.
async fn until<F, Fut>(limit: Duration, what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while !done().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not reached within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn count(queue: &Queue, state: TaskState) -> usize {
    let depth = queue.backend().depth().await.unwrap();
    depth
        .iter()
        .filter(|d| d.state == state)
        .map(|d| d.count as usize)
        .sum()
}

async fn two_pools_never_run_a_task_twice(backend_kind: Backend) {
    let db = Db::new(backend_kind);
    let queue = Queue::new(backend(&db).await, Arc::new(SystemClock));
    let running: Arc<Mutex<HashSet<i64>>> = Arc::default();
    let runs = Arc::new(AtomicUsize::new(0));
    let overlaps = Arc::new(AtomicUsize::new(0));
    let make = || {
        let (running, runs, overlaps) = (running.clone(), runs.clone(), overlaps.clone());
        let mut handlers = Handlers::new();
        handlers
            .register("work", 8, move |ctx: TaskContext, (): ()| {
                let (running, runs, overlaps) = (running.clone(), runs.clone(), overlaps.clone());
                async move {
                    if !running.lock().unwrap().insert(ctx.id.0) {
                        overlaps.fetch_add(1, Ordering::SeqCst);
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    running.lock().unwrap().remove(&ctx.id.0);
                    runs.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, HandlerError>(())
                }
            })
            .unwrap();
        handlers
    };
    for _ in 0..300 {
        queue.enqueue("work", &(), TaskOptions::default()).await.unwrap();
    }
    let a = WorkerPool::start(backend(&db).await, Arc::new(SystemClock), make(), config("pool-a")).unwrap();
    let b = WorkerPool::start(backend(&db).await, Arc::new(SystemClock), make(), config("pool-b")).unwrap();
    until(Duration::from_secs(60), "all 300 tasks succeeded", || async {
        count(&queue, TaskState::Succeeded).await == 300
    })
    .await;
    a.shutdown(Duration::from_secs(5)).await;
    b.shutdown(Duration::from_secs(5)).await;
    assert_eq!(runs.load(Ordering::SeqCst), 300, "every task ran exactly once");
    assert_eq!(overlaps.load(Ordering::SeqCst), 0);
    // Both pools took part.
    let page = queue
        .list(
            &TaskFilter::default(),
            PageRequest {
                before: None,
                limit: 1_000,
            },
        )
        .await
        .unwrap();
    let mut workers = HashSet::new();
    for task in &page.tasks {
        for attempt in queue.attempts(task.id).await.unwrap() {
            workers.insert(attempt.worker);
        }
    }
    assert_eq!(workers.len(), 2, "{workers:?}");
}

async fn two_schedulers_on_separate_connections_fire_once_per_slot(backend_kind: Backend) {
    let db = Db::new(backend_kind);
    let queue = Queue::new(backend(&db).await, Arc::new(SystemClock));
    let schedule = || Schedule {
        name: "tick".to_owned(),
        every: Every::interval(Duration::from_secs(1)).unwrap(),
        kind: "tick".to_owned(),
        payload: serde_json::Value::Null,
        options: TaskOptions::default(),
    };
    let a = Scheduler::start(backend(&db).await, Arc::new(SystemClock), vec![schedule()]).unwrap();
    let b = Scheduler::start(backend(&db).await, Arc::new(SystemClock), vec![schedule()]).unwrap();
    until(Duration::from_secs(30), "four slots fired", || async {
        count(&queue, TaskState::Pending).await >= 4
    })
    .await;
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
    let mut seconds: Vec<i64> = page.tasks.iter().map(|t| t.run_at.timestamp()).collect();
    let fired = seconds.len();
    seconds.sort_unstable();
    seconds.dedup();
    assert_eq!(seconds.len(), fired, "one task per slot: {seconds:?}");
}

async fn a_killed_worker_process_loses_nothing(backend_kind: Backend) {
    const TASKS: usize = 1_000;
    let db = Db::new(backend_kind);
    let queue = Queue::new(backend(&db).await, Arc::new(SystemClock));
    for _ in 0..TASKS {
        queue
            .enqueue("soak.sleep", &5u64, TaskOptions::default().max_attempts(5))
            .await
            .unwrap();
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_finstage-task-worker"))
        .args([db.url().expose_secret(), "doomed", "16", "2000"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the worker process starts");
    let mut ready = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(ready.trim(), "ready");
    // Kill it in the middle of the work: some done, some running.
    until(Duration::from_secs(60), "the child is mid-way", || async {
        count(&queue, TaskState::Succeeded).await >= 100 && count(&queue, TaskState::Running).await > 0
    })
    .await;
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    let orphaned = count(&queue, TaskState::Running).await;
    assert!(orphaned > 0, "tasks were running when the worker died");

    let mut handlers = Handlers::new();
    handlers
        .register("soak.sleep", 16, |_ctx: TaskContext, ms: u64| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok::<_, HandlerError>(ms)
        })
        .unwrap();
    let survivor = WorkerPool::start(backend(&db).await, Arc::new(SystemClock), handlers, config("survivor")).unwrap();
    until(Duration::from_secs(120), "every task succeeded", || async {
        count(&queue, TaskState::Succeeded).await == TASKS
    })
    .await;
    survivor.shutdown(Duration::from_secs(5)).await;
    assert_eq!(count(&queue, TaskState::Dead).await, 0);
    // The orphans were re-run after their lease expired.
    let page = queue
        .list(
            &TaskFilter::default(),
            PageRequest {
                before: None,
                limit: 1_000,
            },
        )
        .await
        .unwrap();
    // Every task succeeded exactly once; every attempt is closed; the orphans (tasks the dead
    // worker held) were re-delivered to the survivor after their lease expired. (How many were
    // orphaned is not compared with the count taken at the kill: a commit the child sent just
    // before dying may still land after that count.)
    let mut expired = 0;
    for task in &page.tasks {
        let attempts = queue.attempts(task.id).await.unwrap();
        let successes = attempts
            .iter()
            .filter(|a| a.outcome == Some(finstage_tasks::AttemptOutcome::Succeeded))
            .count();
        assert_eq!(successes, 1, "task {} succeeded once: {attempts:?}", task.id);
        assert!(
            attempts.iter().all(|a| a.finished_at.is_some()),
            "task {}: an attempt left open",
            task.id
        );
        if attempts
            .iter()
            .any(|a| a.worker == "doomed" && a.outcome == Some(finstage_tasks::AttemptOutcome::LeaseExpired))
        {
            expired += 1;
            assert_eq!(attempts.last().map(|a| a.worker.as_str()), Some("survivor"));
        }
    }
    assert!(
        expired > 0 && expired <= orphaned + 16,
        "{expired} re-delivered, {orphaned} running at the kill"
    );
}

macro_rules! on_servers {
    ($($name:ident),+ $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(finstage_store::Backend::Postgres).await;
                }
            )+
        }
        mod mysql {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(finstage_store::Backend::Mysql).await;
                }
            )+
        }
    };
}

on_servers!(
    two_pools_never_run_a_task_twice,
    two_schedulers_on_separate_connections_fire_once_per_slot,
    a_killed_worker_process_loses_nothing,
);
