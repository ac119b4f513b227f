//! The queue's metrics: enqueues, attempts by outcome, dead tasks, wait and run times, depth.

use std::sync::Arc;
use std::time::Duration;

use finstage_tasks::{HandlerError, Handlers, MemoryBackend, Queue, TaskContext, TaskOptions, TaskState, WorkerPool};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};

use crate::suite::{clock, config, settle, state};

#[test]
fn the_queue_reports_depth_latency_run_time_attempts_and_dead_tasks() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let backend = Arc::new(MemoryBackend::new());
            let queue = Queue::new(backend.clone(), clock());
            let mut handlers = Handlers::new();
            handlers
                .register("report", 2, |_ctx: TaskContext, ok: bool| async move {
                    if ok {
                        Ok(())
                    } else {
                        Err(HandlerError::Fatal("no".to_owned()))
                    }
                })
                .unwrap();
            let pool = WorkerPool::start(backend, queue.clock().clone(), handlers, config("metrics")).unwrap();
            let good = queue.enqueue("report", &true, TaskOptions::default()).await.unwrap().id;
            let bad = queue
                .enqueue("report", &false, TaskOptions::default())
                .await
                .unwrap()
                .id;
            for (id, end) in [(good, TaskState::Succeeded), (bad, TaskState::Dead)] {
                let queue = queue.clone();
                settle(move || {
                    let queue = queue.clone();
                    async move { state(&queue, id).await == end }
                })
                .await;
            }
            // One depth refresh after both ended (the pool refreshes every `depth_every`).
            tokio::time::sleep(Duration::from_secs(61)).await;
            pool.shutdown(Duration::from_secs(1)).await;
        });
    });
    let snapshot = snapshotter.snapshot().into_vec();
    let find = |name: &str, labels: &[(&str, &str)]| {
        snapshot.iter().find_map(|(key, _, _, value)| {
            let key = key.key();
            let matches = key.name() == name
                && labels
                    .iter()
                    .all(|(k, v)| key.labels().any(|l| l.key() == *k && l.value() == *v));
            matches.then(|| match value {
                DebugValue::Counter(n) => *n as f64,
                DebugValue::Gauge(g) => g.into_inner(),
                DebugValue::Histogram(h) => h.len() as f64,
            })
        })
    };
    assert_eq!(find("finstage_tasks_enqueued_total", &[("kind", "report")]), Some(2.0));
    assert_eq!(
        find(
            "finstage_tasks_attempts_total",
            &[("kind", "report"), ("outcome", "succeeded")]
        ),
        Some(1.0)
    );
    assert_eq!(
        find(
            "finstage_tasks_attempts_total",
            &[("kind", "report"), ("outcome", "failed")]
        ),
        Some(1.0)
    );
    assert_eq!(find("finstage_tasks_dead_total", &[("kind", "report")]), Some(1.0));
    assert_eq!(find("finstage_tasks_wait_seconds", &[("kind", "report")]), Some(2.0));
    assert_eq!(find("finstage_tasks_run_seconds", &[("kind", "report")]), Some(2.0));
    assert_eq!(
        find("finstage_tasks_depth", &[("kind", "report"), ("state", "succeeded")]),
        Some(1.0)
    );
    assert_eq!(
        find("finstage_tasks_depth", &[("kind", "report"), ("state", "dead")]),
        Some(1.0)
    );
}
