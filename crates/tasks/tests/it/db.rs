//! Test databases for the database backend: one per test, random name, dropped afterwards, on
//! the machine's PostgreSQL and MariaDB (URLs overridable with `FINSTAGE_TEST_POSTGRES_URL` and
//! `FINSTAGE_TEST_MYSQL_URL`) or a temporary SQLite file. An unreachable server fails the test
//! saying how to start it.
//!
//! Migrations need a multi-threaded runtime and the suite runs on a paused current-thread one,
//! so a database is created and migrated on a thread of its own; the test then connects.

use std::time::Duration;

use finstage_store::{Backend, DatabaseUrl, Store, StoreConfig};
use rand::Rng;

/// A migrated database, dropped with this guard.
pub(crate) struct Db {
    pub(crate) config: StoreConfig,
    admin: Option<(DatabaseUrl, String)>,
    _dir: Option<tempfile::TempDir>,
}

fn server_url(backend: Backend) -> DatabaseUrl {
    let (var, default) = match backend {
        Backend::Postgres => (
            "FINSTAGE_TEST_POSTGRES_URL",
            "postgres://postgres@127.0.0.1:5432/postgres",
        ),
        _ => ("FINSTAGE_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/mysql"),
    };
    std::env::var(var)
        .unwrap_or_else(|_| default.to_owned())
        .parse()
        .expect("a database URL")
}

fn how_to_start(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`",
        _ => "start it with `start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd`",
    }
}

fn on_thread<T: Send + 'static>(work: impl std::future::Future<Output = T> + Send + 'static) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(work)
    })
    .join()
    .expect("the thread finishes")
}

async fn admin(url: DatabaseUrl, sql: String) -> Result<(), String> {
    let mut config = StoreConfig::new(url);
    config.pool.max_size = 1;
    let store = Store::connect(config).await.map_err(|e| e.to_string())?;
    let mut conn = store.conn().await.map_err(|e| e.to_string())?;
    conn.execute_batch(&sql).await.map_err(|e| e.to_string())
}

impl Db {
    /// A new migrated database on `backend`.
    pub(crate) fn new(backend: Backend) -> Self {
        let name = format!("finstage_tasks_{:016x}", rand::rng().random::<u64>());
        let (url, admin_url, dir) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let url: DatabaseUrl = format!("sqlite://{}", dir.path().join("tasks.db").display())
                    .parse()
                    .expect("a sqlite URL");
                (url, None, Some(dir))
            }
            server => {
                let admin_url = server_url(server);
                if let Err(e) = on_thread(admin(admin_url.clone(), format!("CREATE DATABASE {name}"))) {
                    panic!(
                        "{server} is not reachable at {admin_url} ({e}): {}",
                        how_to_start(server)
                    );
                }
                let url = admin_url.with_database(&name).expect("a database URL");
                (url, Some((admin_url, name)), None)
            }
        };
        let mut config = StoreConfig::new(url);
        config.pool.max_size = 4;
        config.pool.acquire_timeout = Duration::from_secs(3_600);
        config.pool.connect_timeout = Duration::from_secs(3_600);
        let migrate = config.clone();
        on_thread(async move { Store::open(migrate).await.map(drop) }).expect("the store migrates");
        Self {
            config,
            admin: admin_url,
            _dir: dir,
        }
    }

    /// A store on the database (migrated already).
    pub(crate) async fn store(&self) -> Store {
        Store::connect(self.config.clone()).await.expect("the store connects")
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.admin.take() {
            let sql = match admin_url.backend() {
                Backend::Postgres => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                _ => format!("DROP DATABASE IF EXISTS {name}"),
            };
            if let Err(e) = on_thread(admin(admin_url, sql)) {
                eprintln!("could not drop a test database: {e}");
            }
        }
    }
}
