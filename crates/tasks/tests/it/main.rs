//! Integration tests of finstage-tasks: one generic suite run on every backend — memory,
//! PostgreSQL, MariaDB and SQLite — on tokio's paused clock.

mod db;
mod metrics;
mod processes;
mod suite;

/// Instantiates the generic suite for a backend: `$make` gives a guard to keep for the test's
/// length and the backend.
macro_rules! backend_suite {
    ($module:ident, $make:expr) => {
        mod $module {
            #[allow(unused_imports)]
            use std::sync::Arc;

            #[allow(unused_imports)]
            use finstage_tasks::TaskBackend;

            async fn backend() -> (Box<dyn std::any::Any>, Arc<dyn TaskBackend>) {
                $make
            }

            crate::suite::tests!(backend);
        }
    };
}

/// A database backend on a fresh database of `backend`.
///
/// The suite runs on tokio's paused clock, which jumps to the next timer whenever the runtime
/// waits: while a database round trip is in flight that would be a connection or acquire
/// timeout. A ticker keeps a timer 1 ms ahead, so virtual time moves in small steps during
/// real I/O (and the store's timeouts are set far beyond what those steps add up to).
async fn database(
    backend: finstage_store::Backend,
) -> (Box<dyn std::any::Any>, std::sync::Arc<dyn finstage_tasks::TaskBackend>) {
    let ticker = Ticker(tokio::spawn(async {
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }));
    let db = db::Db::new(backend);
    let store = db.store().await;
    (
        Box::new((db, ticker)),
        std::sync::Arc::new(finstage_tasks::DatabaseBackend::new(store)),
    )
}

/// Stops the ticker with the test.
struct Ticker(tokio::task::JoinHandle<()>);

impl Drop for Ticker {
    fn drop(&mut self) {
        self.0.abort();
    }
}

backend_suite!(memory, (Box::new(()), Arc::new(finstage_tasks::MemoryBackend::new())));
backend_suite!(postgres, crate::database(finstage_store::Backend::Postgres).await);
backend_suite!(mysql, crate::database(finstage_store::Backend::Mysql).await);
backend_suite!(sqlite, crate::database(finstage_store::Backend::Sqlite).await);
