//! Test databases: one per test, random name, dropped afterwards; the servers are the machine's
//! PostgreSQL and MariaDB (URLs overridable with `FINSTAGE_TEST_POSTGRES_URL` and
//! `FINSTAGE_TEST_MYSQL_URL`). An unreachable server fails the test, saying how to start it.

use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncMysqlConnection, AsyncPgConnection, SimpleAsyncConnection};
use finstage_store::{Backend, DatabaseUrl, Store, StoreConfig};
use rand::Rng;

const POSTGRES_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const MYSQL_DEFAULT: &str = "mysql://root@127.0.0.1:3306/mysql";

/// A migrated store on a database of its own.
pub(crate) struct TestDb {
    pub(crate) store: Store,
    /// The server-side database to drop, or the directory of the SQLite file.
    cleanup: Cleanup,
}

enum Cleanup {
    Server { admin: DatabaseUrl, name: String },
    Directory(#[allow(dead_code)] tempfile::TempDir),
}

fn server_url(backend: Backend) -> DatabaseUrl {
    let (var, default) = match backend {
        Backend::Postgres => ("FINSTAGE_TEST_POSTGRES_URL", POSTGRES_DEFAULT),
        Backend::Mysql => ("FINSTAGE_TEST_MYSQL_URL", MYSQL_DEFAULT),
        Backend::Sqlite => unreachable!("sqlite has no server"),
    };
    std::env::var(var)
        .unwrap_or_else(|_| default.to_owned())
        .parse()
        .unwrap_or_else(|e| panic!("{var}: {e}"))
}

fn how_to_start(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => {
            "start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` \
             (or point FINSTAGE_TEST_POSTGRES_URL at a server)"
        }
        Backend::Mysql => {
            "start it with `start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd` \
             (or point FINSTAGE_TEST_MYSQL_URL at a server)"
        }
        Backend::Sqlite => "",
    }
}

/// Runs SQL on the server's admin database.
async fn admin(url: &DatabaseUrl, sql: &str) -> Result<(), String> {
    match url.backend() {
        Backend::Postgres => {
            let mut conn = AsyncPgConnection::establish(url.expose_secret())
                .await
                .map_err(|e| e.to_string())?;
            conn.batch_execute(sql).await.map_err(|e| e.to_string())
        }
        Backend::Mysql => {
            let mut conn = AsyncMysqlConnection::establish(url.expose_secret())
                .await
                .map_err(|e| e.to_string())?;
            conn.batch_execute(sql).await.map_err(|e| e.to_string())
        }
        Backend::Sqlite => unreachable!("sqlite has no server"),
    }
}

impl TestDb {
    /// A new, migrated database on `backend`.
    pub(crate) async fn new(backend: Backend) -> Self {
        Self::with(backend, |_| {}).await
    }

    /// [`TestDb::new`] with the store's settings adjusted by `adjust`.
    pub(crate) async fn with(backend: Backend, adjust: impl FnOnce(&mut StoreConfig)) -> Self {
        let suffix: u64 = rand::rng().random();
        let name = format!("finstage_test_{suffix:016x}");
        let (url, cleanup) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let url: DatabaseUrl = format!("sqlite://{}", dir.path().join("test.db").display())
                    .parse()
                    .expect("a sqlite URL");
                (url, Cleanup::Directory(dir))
            }
            server => {
                let admin_url = server_url(server);
                let create = format!("CREATE DATABASE {name}");
                if let Err(e) = admin(&admin_url, &create).await {
                    panic!(
                        "{server} is not reachable at {admin_url} ({e}): {}",
                        how_to_start(server)
                    );
                }
                let url = admin_url.with_database(&name).expect("a database URL");
                (url, Cleanup::Server { admin: admin_url, name })
            }
        };
        let mut config = StoreConfig::new(url);
        config.pool.max_size = 4;
        config.pool.acquire_timeout = Duration::from_secs(20);
        adjust(&mut config);
        let store = Store::open(config).await.expect("the store opens and migrates");
        Self { store, cleanup }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Cleanup::Server { admin: admin_url, name } = &self.cleanup {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            let sql = match admin_url.backend() {
                Backend::Postgres => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                _ => format!("DROP DATABASE IF EXISTS {name}"),
            };
            // A thread of its own: Drop cannot await, and may run inside a runtime.
            let dropped = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime");
                runtime.block_on(admin(&admin_url, &sql))
            })
            .join();
            if let Ok(Err(e)) = dropped {
                eprintln!("could not drop test database {}: {e}", self_name(&self.cleanup));
            }
        }
    }
}

fn self_name(cleanup: &Cleanup) -> &str {
    match cleanup {
        Cleanup::Server { name, .. } => name,
        Cleanup::Directory(_) => "",
    }
}

/// One async test per backend: `backend_tests!(name, ...)` expands `name(Backend)` into
/// `postgres::name`, `mysql::name` and `sqlite::name`.
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
