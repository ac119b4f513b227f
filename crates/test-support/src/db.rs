//! Test databases: one per test, a random name, dropped afterwards, on the machine's PostgreSQL
//! and MariaDB (URLs overridable with `FINSTAGE_TEST_POSTGRES_URL` and `FINSTAGE_TEST_MYSQL_URL`)
//! or a temporary SQLite file. An unreachable server fails the test saying how to start it.
//!
//! Migrations need a multi-threaded runtime and tests often run on a paused current-thread one,
//! so a database is created and migrated on a thread of its own; the test then connects.

use std::time::Duration;

use finstage_store::{Backend, DatabaseUrl, Store, StoreConfig};

/// A migrated database, dropped with this guard.
#[derive(Debug)]
pub struct TestDb {
    config: StoreConfig,
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
        .unwrap_or_else(|e| panic!("{var}: {e}"))
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

/// A random database name with `prefix` (letters, digits and `_`).
fn random_name(prefix: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(std::time::SystemTime::UNIX_EPOCH.elapsed().map_or(0, |d| d.as_nanos()));
    hasher.write_u32(std::process::id());
    format!("{prefix}_{:016x}", hasher.finish())
}

impl TestDb {
    /// A new migrated database on `backend`, its name starting with `prefix`.
    ///
    /// # Panics
    /// When the server is unreachable (the message says how to start it) or migrations fail.
    pub fn new(backend: Backend, prefix: &str) -> Self {
        let name = random_name(prefix);
        let (url, admin_url, dir) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let url: DatabaseUrl = format!("sqlite://{}", dir.path().join("test.db").display())
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

    /// The store configuration of the database (pool of 4, generous timeouts for paused clocks).
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// The database's URL.
    pub fn url(&self) -> &DatabaseUrl {
        &self.config.url
    }

    /// A store on the database (migrated already).
    ///
    /// # Panics
    /// When it cannot connect.
    pub async fn store(&self) -> Store {
        Store::connect(self.config.clone()).await.expect("the store connects")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.admin.take() {
            let sql = match admin_url.backend() {
                Backend::Postgres => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                _ => format!("DROP DATABASE IF EXISTS {name}"),
            };
            if let Err(e) = on_thread(admin(admin_url, sql)) {
                tracing::warn!("could not drop a test database: {e}");
            }
        }
    }
}
