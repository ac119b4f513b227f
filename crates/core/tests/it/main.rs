//! finstage-core's integration tests, each on PostgreSQL, MariaDB and SQLite (a fresh database
//! per test, `finstage_test_support::db::TestDb`).

mod backtests;
mod bus;
mod config;
mod jobs;
mod outcomes;
mod pipeline;
mod reports;

/// Runs each named `async fn(Backend)` once per backend, on a multi-threaded runtime
/// (migrations need one).
macro_rules! backend_tests {
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
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(finstage_store::Backend::Sqlite).await;
                }
            )+
        }
    };
}
pub(crate) use backend_tests;
