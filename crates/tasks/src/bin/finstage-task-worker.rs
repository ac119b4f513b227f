//! A stand-alone worker process over a database queue, for soak and crash tests: it runs the
//! kind `soak.sleep` (payload: milliseconds to sleep; result: the payload) until it is killed
//! or its input closes.
//!
//! ```sh
//! finstage-task-worker DATABASE_URL WORKER_ID [CONCURRENCY] [LEASE_MS]
//! ```
//!
//! The crash test of `finstage-tasks` starts it and kills it with SIGKILL mid-task.

use std::sync::Arc;
use std::time::Duration;

use finstage_store::{Store, StoreConfig};
use finstage_tasks::{DatabaseBackend, HandlerError, Handlers, SystemClock, TaskContext, WorkerConfig, WorkerPool};

fn usage() -> ! {
    eprintln!("usage: finstage-task-worker DATABASE_URL WORKER_ID [CONCURRENCY] [LEASE_MS]");
    std::process::exit(2);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(url), Some(worker)) = (args.first(), args.get(1)) else {
        usage()
    };
    let concurrency: usize = args.get(2).map_or(Ok(8), |s| s.parse()).unwrap_or_else(|_| usage());
    let lease_ms: u64 = args.get(3).map_or(Ok(2_000), |s| s.parse()).unwrap_or_else(|_| usage());
    let url = url.parse().unwrap_or_else(|e| {
        eprintln!("finstage-task-worker: {e}");
        std::process::exit(2);
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| {
            eprintln!("finstage-task-worker: {e}");
            std::process::exit(1);
        });
    let code = runtime.block_on(async move {
        let store = match Store::connect(StoreConfig::new(url)).await {
            Ok(store) => store,
            Err(e) => {
                eprintln!("finstage-task-worker: {e}");
                return 1;
            }
        };
        let mut handlers = Handlers::new();
        let registered = handlers.register("soak.sleep", concurrency, |_ctx: TaskContext, ms: u64| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok::<_, HandlerError>(ms)
        });
        if let Err(e) = registered {
            eprintln!("finstage-task-worker: {e}");
            return 1;
        }
        let config = WorkerConfig {
            id: worker.clone(),
            lease: Duration::from_millis(lease_ms),
            heartbeat: Duration::from_millis(lease_ms / 4),
            reap_every: Duration::from_millis(lease_ms / 2),
            ..WorkerConfig::default()
        };
        let pool = match WorkerPool::start(
            Arc::new(DatabaseBackend::new(store)),
            Arc::new(SystemClock),
            handlers,
            config,
        ) {
            Ok(pool) => pool,
            Err(e) => {
                eprintln!("finstage-task-worker: {e}");
                return 1;
            }
        };
        println!("ready");
        // Runs until killed, or until its input closes (then shuts down gracefully).
        let _ =
            tokio::task::spawn_blocking(|| std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new())).await;
        pool.shutdown(Duration::from_millis(lease_ms)).await;
        0
    });
    std::process::exit(code);
}
