//! finstage-tasks on the memory backend: no-op throughput (enqueue everything, then run it
//! with a worker pool) and enqueue-to-start latency of an idle pool, p50 and p99.
//!
//! `cargo bench -p finstage-tasks-bench --bench tasks` prints a Markdown table. The database
//! backends join this benchmark with the database backend.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use finstage_tasks::{
    HandlerError, Handlers, MemoryBackend, Queue, SystemClock, TaskContext, TaskOptions, WorkerConfig, WorkerPool,
};
use tokio::sync::Notify;

const TASKS: usize = 200_000;
const LATENCY_SAMPLES: usize = 2_000;

fn config() -> WorkerConfig {
    WorkerConfig {
        id: "bench".to_owned(),
        claim_batch: 256,
        poll_min: Duration::from_millis(1),
        ..WorkerConfig::default()
    }
}

async fn throughput(concurrency: usize) -> (f64, f64) {
    let backend = Arc::new(MemoryBackend::new());
    let queue = Queue::new(backend.clone(), Arc::new(SystemClock));
    let started = Instant::now();
    for n in 0..TASKS {
        queue
            .enqueue("noop", &n, TaskOptions::default())
            .await
            .expect("enqueue");
    }
    let enqueue_rate = TASKS as f64 / started.elapsed().as_secs_f64();
    let done = Arc::new(AtomicUsize::new(0));
    let all = Arc::new(Notify::new());
    let mut handlers = Handlers::new();
    let (counter, signal) = (done.clone(), all.clone());
    handlers
        .register("noop", concurrency, move |_ctx: TaskContext, _n: usize| {
            let (counter, signal) = (counter.clone(), signal.clone());
            async move {
                if counter.fetch_add(1, Ordering::Relaxed) + 1 == TASKS {
                    signal.notify_one();
                }
                Ok::<_, HandlerError>(())
            }
        })
        .expect("handler");
    let started = Instant::now();
    let pool = WorkerPool::start(backend, Arc::new(SystemClock), handlers, config()).expect("pool");
    all.notified().await;
    let run_rate = TASKS as f64 / started.elapsed().as_secs_f64();
    pool.shutdown(Duration::from_secs(5)).await;
    (enqueue_rate, run_rate)
}

async fn latency() -> (Duration, Duration) {
    let backend = Arc::new(MemoryBackend::new());
    let queue = Queue::new(backend.clone(), Arc::new(SystemClock));
    let starts: Arc<Mutex<Vec<Option<Instant>>>> = Arc::new(Mutex::new(vec![None; LATENCY_SAMPLES]));
    let ran = Arc::new(Notify::new());
    let mut handlers = Handlers::new();
    let (record, signal) = (starts.clone(), ran.clone());
    handlers
        .register("probe", 4, move |_ctx: TaskContext, n: usize| {
            let (record, signal) = (record.clone(), signal.clone());
            async move {
                record.lock().expect("lock")[n] = Some(Instant::now());
                signal.notify_one();
                Ok::<_, HandlerError>(())
            }
        })
        .expect("handler");
    let pool = WorkerPool::start(backend, Arc::new(SystemClock), handlers, config()).expect("pool");
    let mut samples = Vec::with_capacity(LATENCY_SAMPLES);
    for n in 0..LATENCY_SAMPLES {
        // Let the pool go idle between probes.
        tokio::time::sleep(Duration::from_millis(2)).await;
        let sent = Instant::now();
        queue
            .enqueue("probe", &n, TaskOptions::default())
            .await
            .expect("enqueue");
        ran.notified().await;
        let start = starts.lock().expect("lock")[n].expect("ran");
        samples.push(start - sent);
    }
    pool.shutdown(Duration::from_secs(5)).await;
    samples.sort_unstable();
    (samples[samples.len() / 2], samples[samples.len() * 99 / 100])
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let (enqueue, run) = throughput(256).await;
        let (p50, p99) = latency().await;
        println!("## finstage-tasks, memory backend ({TASKS} no-op tasks)\n");
        println!("| what | figure | baseline |\n|---|---:|---|");
        println!("| enqueue | {enqueue:.0} tasks/s | |");
        println!("| run (claim, handler, complete), concurrency 256 | {run:.0} tasks/s | the Python service: 100 tasks/min (1.7/s) |");
        println!("| enqueue-to-start, idle pool, p50 / p99 | {:.0} µs / {:.0} µs | the Python service polled every 100 ms |", p50.as_secs_f64() * 1e6, p99.as_secs_f64() * 1e6);
    });
}
