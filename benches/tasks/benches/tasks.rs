//! finstage-tasks: no-op throughput (enqueue everything, then run it with one worker pool) and
//! the enqueue-to-start latency of an idle pool, p50 and p99, on every backend.
//!
//! - memory: 200,000 tasks;
//! - database (fresh database each): PostgreSQL claiming one task per call and 64 per call,
//!   MariaDB and SQLite claiming 64 per call; 20,000 tasks. Enqueue-to-start is measured across
//!   two store instances (the producer's and the workers'), so that only `LISTEN`/`NOTIFY`
//!   (PostgreSQL) or polling (MariaDB, SQLite) wakes the idle pool.
//!
//! `cargo bench -p finstage-tasks-bench --bench tasks [-- memory|postgres|mysql|sqlite ...]`
//! prints a Markdown table. Servers: the machine's PostgreSQL and MariaDB
//! (FINSTAGE_BENCH_POSTGRES_URL / FINSTAGE_BENCH_MYSQL_URL override the server URLs).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use finstage_store::{Backend, DatabaseUrl, Store, StoreConfig};
use finstage_tasks::{
    DatabaseBackend, HandlerError, Handlers, MemoryBackend, Queue, SystemClock, TaskBackend, TaskContext, TaskOptions,
    WorkerConfig, WorkerPool,
};
use futures_util::StreamExt;
use rand::Rng;
use tokio::sync::Notify;

const LATENCY_SAMPLES: usize = 1_000;

struct Row {
    name: String,
    tasks: usize,
    enqueue: f64,
    run: f64,
    p50: Duration,
    p99: Duration,
}

fn config(batch: usize) -> WorkerConfig {
    WorkerConfig {
        id: format!("bench-{}", rand::rng().random::<u32>()),
        claim_batch: batch,
        poll_min: Duration::from_millis(1),
        poll_max: Duration::from_millis(10),
        ..WorkerConfig::default()
    }
}

/// Two backends on one queue: the producer's and the workers'.
type Pair = (Arc<dyn TaskBackend>, Arc<dyn TaskBackend>);

async fn throughput(pair: &Pair, tasks: usize, concurrency: usize, batch: usize) -> (f64, f64) {
    let queue = Queue::new(pair.0.clone(), Arc::new(SystemClock));
    let started = Instant::now();
    futures_util::stream::iter(0..tasks)
        .map(|n| {
            let queue = queue.clone();
            async move {
                queue
                    .enqueue("noop", &n, TaskOptions::default())
                    .await
                    .expect("enqueue")
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    let enqueue_rate = tasks as f64 / started.elapsed().as_secs_f64();
    let done = Arc::new(AtomicUsize::new(0));
    let all = Arc::new(Notify::new());
    let mut handlers = Handlers::new();
    let (counter, signal) = (done.clone(), all.clone());
    handlers
        .register("noop", concurrency, move |_ctx: TaskContext, _n: usize| {
            let (counter, signal) = (counter.clone(), signal.clone());
            async move {
                if counter.fetch_add(1, Ordering::Relaxed) + 1 == tasks {
                    signal.notify_one();
                }
                Ok::<_, HandlerError>(())
            }
        })
        .expect("handler");
    let started = Instant::now();
    let pool = WorkerPool::start(pair.1.clone(), Arc::new(SystemClock), handlers, config(batch)).expect("pool");
    all.notified().await;
    // The last handler has run; its completion is recorded as the pool drains.
    let run_rate = tasks as f64 / started.elapsed().as_secs_f64();
    pool.shutdown(Duration::from_secs(30)).await;
    (enqueue_rate, run_rate)
}

async fn latency(pair: &Pair) -> (Duration, Duration) {
    let queue = Queue::new(pair.0.clone(), Arc::new(SystemClock));
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
    let pool = WorkerPool::start(pair.1.clone(), Arc::new(SystemClock), handlers, config(64)).expect("pool");
    let mut samples = Vec::with_capacity(LATENCY_SAMPLES);
    for n in 0..LATENCY_SAMPLES {
        // Let the pool go idle between probes.
        tokio::time::sleep(Duration::from_millis(3)).await;
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

async fn run(name: &str, make: impl AsyncFn() -> Pair, tasks: usize, concurrency: usize, batch: usize) -> Row {
    let pair = make().await;
    let (enqueue, run) = throughput(&pair, tasks, concurrency, batch).await;
    let pair = make().await;
    let (p50, p99) = latency(&pair).await;
    Row {
        name: name.to_owned(),
        tasks,
        enqueue,
        run,
        p50,
        p99,
    }
}

/// A fresh database of `backend`, migrated; dropped by the returned guard.
struct Database {
    url: DatabaseUrl,
    drop: Option<(DatabaseUrl, String)>,
    _dir: Option<tempfile::TempDir>,
}

async fn admin(url: &DatabaseUrl, sql: &str) {
    let store = Store::connect(StoreConfig::new(url.clone()))
        .await
        .expect("the server answers");
    store
        .conn()
        .await
        .expect("a connection")
        .execute_batch(sql)
        .await
        .expect("admin statement");
}

impl Database {
    async fn new(backend: Backend) -> Self {
        let name = format!("finstage_bench_{:08x}", rand::rng().random::<u32>());
        let (url, drop, dir) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let url = format!("sqlite://{}", dir.path().join("tasks.db").display())
                    .parse()
                    .expect("url");
                (url, None, Some(dir))
            }
            server => {
                let (var, default) = match server {
                    Backend::Postgres => (
                        "FINSTAGE_BENCH_POSTGRES_URL",
                        "postgres://postgres@127.0.0.1:5432/postgres",
                    ),
                    _ => ("FINSTAGE_BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306/mysql"),
                };
                let admin_url: DatabaseUrl = std::env::var(var)
                    .unwrap_or_else(|_| default.to_owned())
                    .parse()
                    .expect("url");
                admin(&admin_url, &format!("CREATE DATABASE {name}")).await;
                (
                    admin_url.with_database(&name).expect("url"),
                    Some((admin_url, name)),
                    None,
                )
            }
        };
        Store::open(StoreConfig::new(url.clone())).await.expect("migrated");
        Self { url, drop, _dir: dir }
    }

    async fn pair(&self) -> Pair {
        let store = |size| {
            let mut config = StoreConfig::new(self.url.clone());
            config.pool.max_size = size;
            Store::connect(config)
        };
        (
            Arc::new(DatabaseBackend::new(store(8).await.expect("store"))),
            Arc::new(DatabaseBackend::new(store(8).await.expect("store"))),
        )
    }

    async fn remove(mut self) {
        if let Some((admin_url, name)) = self.drop.take() {
            let sql = match admin_url.backend() {
                Backend::Postgres => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                _ => format!("DROP DATABASE IF EXISTS {name}"),
            };
            admin(&admin_url, &sql).await;
        }
    }
}

async fn database_rows(backend: Backend, rows: &mut Vec<Row>) {
    let batches: &[(usize, &str)] = match backend {
        Backend::Postgres => &[(1, "PostgreSQL, claims of 1"), (64, "PostgreSQL, claims of up to 64")],
        Backend::Mysql => &[(64, "MariaDB, claims of up to 64")],
        Backend::Sqlite => &[(64, "SQLite, claims of up to 64")],
    };
    for (batch, name) in batches {
        let database = Database::new(backend).await;
        let make = async || database.pair().await;
        rows.push(run(name, make, 20_000, 64, *batch).await);
        database.remove().await;
    }
}

fn main() {
    let only: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    let mut rows = Vec::new();
    let memory = async || -> Pair {
        let backend: Arc<dyn TaskBackend> = Arc::new(MemoryBackend::new());
        (backend.clone(), backend)
    };
    if wanted("memory") {
        // The same on a current-thread runtime: one core, no cross-thread wake-ups.
        let single = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rows.push(single.block_on(run("memory, current-thread runtime", memory, 200_000, 256, 256)));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        if wanted("memory") {
            rows.push(run("memory, multi-thread runtime (2 threads)", memory, 200_000, 256, 256).await);
        }
        for (name, backend) in [("postgres", Backend::Postgres), ("mysql", Backend::Mysql), ("sqlite", Backend::Sqlite)] {
            if wanted(name) {
                database_rows(backend, &mut rows).await;
            }
        }
        println!("| backend | tasks | enqueue, tasks/s | run (claim, handler, complete), tasks/s | enqueue-to-start p50 | p99 |");
        println!("|---|---:|---:|---:|---:|---:|");
        for row in rows {
            println!(
                "| {} | {} | {:.0} | {:.0} | {:.2} ms | {:.2} ms |",
                row.name,
                row.tasks,
                row.enqueue,
                row.run,
                row.p50.as_secs_f64() * 1e3,
                row.p99.as_secs_f64() * 1e3
            );
        }
        println!("\nBaseline: the Python service, 100 tasks/min (1.7/s), its queue polled every 100 ms.");
    });
}
