//! The pool of connections to one of three backends, checked-out connections, transactions and
//! the migrations.

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::SqliteConnection;
use diesel_async::pooled_connection::deadpool::{Hook, HookError, Object, Pool};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{
    AsyncConnection, AsyncMigrationHarness, AsyncMysqlConnection, AsyncPgConnection, SimpleAsyncConnection,
    TransactionManager,
};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures_util::FutureExt;

use crate::config::{Backend, StoreConfig};
use crate::error::StoreError;

pub(crate) type SqliteConn = SyncConnectionWrapper<SqliteConnection>;

/// The pool of one backend (a macro: diesel-async's manager bounds are per connection type).
macro_rules! build_pool {
    ($conn:ty, $config:expr, $url:expr, $setup:expr) => {{
        let config: &StoreConfig = $config;
        let mut manager_config = ManagerConfig::<$conn>::default();
        manager_config.recycling_method = if config.pool.verify_on_checkout {
            RecyclingMethod::Verified
        } else {
            RecyclingMethod::Fast
        };
        manager_config.custom_setup = Box::new($setup);
        let manager = AsyncDieselConnectionManager::<$conn>::new_with_config($url, manager_config);
        let mut builder = Pool::builder(manager)
            .max_size(config.pool.max_size)
            .wait_timeout(Some(config.pool.acquire_timeout))
            .create_timeout(Some(config.pool.connect_timeout))
            .recycle_timeout(Some(config.pool.connect_timeout))
            .runtime(deadpool::Runtime::Tokio1);
        if let Some(lifetime) = config.pool.max_lifetime {
            builder = builder.pre_recycle(Hook::sync_fn(move |_, metrics| {
                if metrics.age() >= lifetime {
                    Err(HookError::message("connection past its max lifetime"))
                } else {
                    Ok(())
                }
            }));
        }
        builder
            .build()
            .map_err(|e| StoreError::Config(format!("cannot build the pool: {e}")))
    }};
}

const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
const MYSQL_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/mysql");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// A pool of connections to one database, and the repositories over it.
///
/// Cheap to clone (one `Arc`). Every repository method checks a connection out for its
/// statements; [`Store::transaction`] runs several in one transaction.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    pools: Pools,
    config: StoreConfig,
}

enum Pools {
    Postgres(Pool<AsyncPgConnection>),
    Mysql(Pool<AsyncMysqlConnection>),
    Sqlite(Pool<SqliteConn>),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("url", &self.inner.config.url)
            .field("pool", &self.pool_status())
            .finish()
    }
}

/// How the pool stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStatus {
    /// Connections open.
    pub size: usize,
    /// Connections idle in the pool.
    pub idle: usize,
    /// Connections checked out.
    pub in_use: usize,
    /// Checkouts waiting for a connection.
    pub waiting: usize,
    /// The most connections the pool opens.
    pub max_size: usize,
}

impl Store {
    /// Opens the pool (and `min_idle` connections), without migrating.
    ///
    /// # Errors
    /// [`StoreError::Config`] for unusable settings; [`StoreError::Unavailable`] when the
    /// database cannot be reached.
    pub async fn connect(config: StoreConfig) -> Result<Self, StoreError> {
        config.validate()?;
        let url = config.url.expose_secret().to_owned();
        let pools = match config.url.backend() {
            Backend::Postgres => Pools::Postgres(build_pool!(AsyncPgConnection, &config, url, |url: &str| {
                AsyncPgConnection::establish(url).boxed()
            })?),
            Backend::Mysql => Pools::Mysql(build_pool!(AsyncMysqlConnection, &config, url, |url: &str| {
                AsyncMysqlConnection::establish(url).boxed()
            })?),
            Backend::Sqlite => {
                if let Some(path) = config.url.sqlite_path()
                    && let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
                {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        StoreError::Config(format!("cannot create the directory of {}: {e}", config.url))
                    })?;
                }
                let busy = config.sqlite_busy_timeout;
                let mut sqlite_config = config.clone();
                if config.url.sqlite_path().is_none() {
                    // Each connection to `:memory:` is a database of its own: keep one.
                    sqlite_config.pool.max_size = 1;
                    sqlite_config.pool.min_idle = sqlite_config.pool.min_idle.min(1);
                }
                Pools::Sqlite(build_pool!(SqliteConn, &sqlite_config, url, move |url: &str| {
                    let url = url.to_owned();
                    async move { open_sqlite(&url, busy).await }.boxed()
                })?)
            }
        };
        let store = Self {
            inner: Arc::new(Inner { pools, config }),
        };
        store.maintain().await?;
        Ok(store)
    }

    /// Connects, then runs the pending migrations.
    ///
    /// # Errors
    /// As [`Store::connect`] and [`Store::migrate`].
    pub async fn open(config: StoreConfig) -> Result<Self, StoreError> {
        let store = Self::connect(config).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// The settings the store runs with.
    pub fn config(&self) -> &StoreConfig {
        &self.inner.config
    }

    /// Which backend.
    pub fn backend(&self) -> Backend {
        self.inner.config.url.backend()
    }

    /// Runs the embedded migrations of the backend that are not applied yet; returns how many
    /// ran. Idempotent, and safe to call from several processes at once (PostgreSQL and MySQL
    /// take an advisory lock; SQLite's writer lock serialises).
    ///
    /// Needs tokio's multi-threaded runtime (the migration harness blocks in place).
    ///
    /// # Errors
    /// [`StoreError::Migration`] when a migration fails; [`StoreError::Unavailable`].
    pub async fn migrate(&self) -> Result<usize, StoreError> {
        let url = self.inner.config.url.expose_secret().to_owned();
        let backend = self.backend();
        let unavailable = |e: diesel::ConnectionError| StoreError::Unavailable {
            backend: backend.name(),
            message: e.to_string(),
        };
        let failed = |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Migration(e.to_string());
        let query_failed = |e: diesel::result::Error| StoreError::Migration(e.to_string());
        match backend {
            Backend::Postgres => {
                let mut conn = AsyncPgConnection::establish(&url).await.map_err(unavailable)?;
                conn.batch_execute("SELECT pg_advisory_lock(7262911)")
                    .await
                    .map_err(query_failed)?;
                let (ran, conn) = run_migrations(conn, POSTGRES_MIGRATIONS).await;
                let mut conn = conn;
                conn.batch_execute("SELECT pg_advisory_unlock(7262911)")
                    .await
                    .map_err(query_failed)?;
                ran.map_err(failed)
            }
            Backend::Mysql => {
                let mut conn = AsyncMysqlConnection::establish(&url).await.map_err(unavailable)?;
                conn.batch_execute("DO GET_LOCK('finstage_migrations', 60)")
                    .await
                    .map_err(query_failed)?;
                let (ran, conn) = run_migrations(conn, MYSQL_MIGRATIONS).await;
                let mut conn = conn;
                conn.batch_execute("DO RELEASE_LOCK('finstage_migrations')")
                    .await
                    .map_err(query_failed)?;
                ran.map_err(failed)
            }
            Backend::Sqlite => {
                // Through a pooled connection (an in-memory database lives in it), on the
                // blocking thread that owns the SQLite handle.
                let _ = url;
                let mut conn = self.conn().await?;
                let ConnMut::Sqlite(sqlite) = conn.as_mut() else {
                    unreachable!("a sqlite store pools sqlite connections")
                };
                let ran = sqlite
                    .spawn_blocking(|conn| {
                        Ok(conn
                            .run_pending_migrations(SQLITE_MIGRATIONS)
                            .map(|ran| ran.len())
                            .map_err(|e| e.to_string()))
                    })
                    .await
                    .map_err(query_failed)?;
                ran.map_err(StoreError::Migration)
            }
        }
    }

    /// Closes connections past their lifetime and opens connections up to `min_idle`. Call it
    /// now and then (the scheduler does); [`Store::connect`] calls it once.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when a connection cannot be opened.
    pub async fn maintain(&self) -> Result<(), StoreError> {
        let lifetime = self.inner.config.pool.max_lifetime;
        let min_idle = self.inner.config.pool.min_idle;
        macro_rules! maintain {
            ($pool:expr) => {{
                if let Some(lifetime) = lifetime {
                    $pool.retain(|_, metrics| metrics.age() < lifetime);
                }
                let status = $pool.status();
                let missing = min_idle.saturating_sub(status.size);
                let mut opened = Vec::with_capacity(missing);
                for _ in 0..missing {
                    opened.push($pool.get().await.map_err(|e| self.unavailable(e))?);
                }
                drop(opened);
            }};
        }
        match &self.inner.pools {
            Pools::Postgres(pool) => maintain!(pool),
            Pools::Mysql(pool) => maintain!(pool),
            Pools::Sqlite(pool) => maintain!(pool),
        }
        self.record_pool_gauges();
        Ok(())
    }

    /// How the pool stands.
    pub fn pool_status(&self) -> PoolStatus {
        let status = match &self.inner.pools {
            Pools::Postgres(pool) => pool.status(),
            Pools::Mysql(pool) => pool.status(),
            Pools::Sqlite(pool) => pool.status(),
        };
        PoolStatus {
            size: status.size,
            idle: status.available,
            in_use: status.size.saturating_sub(status.available),
            waiting: status.waiting,
            max_size: status.max_size,
        }
    }

    /// Publishes the pool's state through the `metrics` facade:
    /// `finstage_db_pool_connections{backend, state="in_use"|"idle"}` and
    /// `finstage_db_pool_waiting{backend}`.
    pub fn record_pool_gauges(&self) {
        let status = self.pool_status();
        let backend = self.backend().name();
        metrics::gauge!("finstage_db_pool_connections", "backend" => backend, "state" => "in_use")
            .set(status.in_use as f64);
        metrics::gauge!("finstage_db_pool_connections", "backend" => backend, "state" => "idle")
            .set(status.idle as f64);
        metrics::gauge!("finstage_db_pool_waiting", "backend" => backend).set(status.waiting as f64);
    }

    /// Checks a connection out of the pool.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when none is free within the acquire timeout or a new one
    /// cannot be opened.
    pub async fn conn(&self) -> Result<Conn, StoreError> {
        let inner = self.checkout().await?;
        Ok(Conn {
            inner: Some(inner),
            store: self.clone(),
        })
    }

    async fn checkout(&self) -> Result<ConnInner, StoreError> {
        let result = match &self.inner.pools {
            Pools::Postgres(pool) => pool.get().await.map(ConnInner::Postgres),
            Pools::Mysql(pool) => pool.get().await.map(ConnInner::Mysql),
            Pools::Sqlite(pool) => pool.get().await.map(ConnInner::Sqlite),
        };
        self.record_pool_gauges();
        result.map_err(|e| self.unavailable(e))
    }

    fn unavailable(&self, error: impl std::fmt::Display) -> StoreError {
        StoreError::Unavailable {
            backend: self.backend().name(),
            message: error.to_string(),
        }
    }

    /// Runs `f` in a transaction on one connection: commits when it returns `Ok`, rolls back
    /// when it returns `Err`. When `f` panics or the returned future is dropped before it
    /// finishes (a cancelled request, a timeout), the connection is closed instead of going
    /// back to the pool, and the server rolls the transaction back. Inside, repository methods
    /// on the given [`Conn`] join the transaction; a nested `transaction` is a savepoint.
    ///
    /// ```no_run
    /// # async fn example(store: finstage_store::Store) -> Result<(), finstage_store::StoreError> {
    /// store
    ///     .transaction(async |tx| {
    ///         tx.execute_batch("DELETE FROM alert_log").await?;
    ///         tx.execute_batch("DELETE FROM notification_log").await
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `f`'s error, or the store's when the transaction cannot begin or commit.
    pub async fn transaction<T, E>(&self, f: impl AsyncFnOnce(&mut Conn) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let conn = self.conn().await?;
        conn_transaction(conn, Begin::Deferred, f).await
    }

    /// [`Store::transaction`] for a transaction that will write: on SQLite it begins with
    /// `BEGIN IMMEDIATE`, taking the database's one writer lock at once (waiting up to the busy
    /// timeout for it), so that a transaction that reads before it writes can never fail to
    /// upgrade its read to a write halfway. PostgreSQL and MySQL begin as usual.
    pub(crate) async fn write_transaction<T, E>(&self, f: impl AsyncFnOnce(&mut Conn) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let conn = self.conn().await?;
        conn_transaction(conn, Begin::Immediate, f).await
    }

    pub(crate) fn settings(&self) -> &StoreConfig {
        &self.inner.config
    }

    /// Records a statement slower than the threshold: a warning through tracing (its kind and
    /// duration, never its values), the counter `finstage_db_slow_queries_total{backend, kind}`,
    /// and a row in `slow_queries` written in the background.
    pub(crate) fn report_slow(&self, kind: &'static str, elapsed: Duration) {
        let backend = self.backend().name();
        let millis = elapsed.as_secs_f64() * 1e3;
        tracing::warn!(backend, kind, duration_ms = millis, "slow database statement");
        metrics::counter!("finstage_db_slow_queries_total", "backend" => backend, "kind" => kind).increment(1);
        if kind == crate::repo::slow::INSERT_KIND {
            return;
        }
        let store = self.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(error) = store.slow_queries().record(kind, millis).await {
                    tracing::debug!(%error, "could not record a slow statement");
                }
            });
        }
    }
}

/// A SQLite connection with Finstage's settings: WAL, a busy timeout, foreign keys enforced.
async fn open_sqlite(path: &str, busy: Duration) -> diesel::ConnectionResult<SqliteConn> {
    let mut conn = SqliteConn::establish(path).await?;
    let pragmas = format!(
        "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = {}; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
        busy.as_millis()
    );
    conn.batch_execute(&pragmas)
        .await
        .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
    Ok(conn)
}

async fn run_migrations<C>(
    conn: C,
    migrations: EmbeddedMigrations,
) -> (Result<usize, Box<dyn std::error::Error + Send + Sync>>, C)
where
    C: AsyncConnection + 'static,
    AsyncMigrationHarness<C>: MigrationHarness<C::Backend>,
{
    let mut harness = AsyncMigrationHarness::new(conn);
    let ran = harness.run_pending_migrations(migrations).map(|ran| ran.len());
    (ran, harness.into_inner())
}

/// A connection checked out of the pool: the repositories run on it, and it goes back to the
/// pool when dropped.
pub struct Conn {
    inner: Option<ConnInner>,
    store: Store,
}

// A checked-out connection lives for one operation; boxing the largest would allocate per checkout.
#[allow(clippy::large_enum_variant)]
pub(crate) enum ConnInner {
    Postgres(Object<AsyncPgConnection>),
    Mysql(Object<AsyncMysqlConnection>),
    Sqlite(Object<SqliteConn>),
}

/// A checked-out connection as its concrete type, for the repositories' `match`.
pub(crate) enum ConnMut<'a> {
    Postgres(&'a mut AsyncPgConnection),
    Mysql(&'a mut AsyncMysqlConnection),
    Sqlite(&'a mut SqliteConn),
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Conn({})", self.store.backend())
    }
}

impl Conn {
    /// The store this connection came from.
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn as_mut(&mut self) -> ConnMut<'_> {
        match self.inner.as_mut().expect("a connection is present until dropped") {
            ConnInner::Postgres(c) => ConnMut::Postgres(c),
            ConnInner::Mysql(c) => ConnMut::Mysql(c),
            ConnInner::Sqlite(c) => ConnMut::Sqlite(c),
        }
    }

    /// Starts timing `operation`; [`Timer::finish`] reports it when slow.
    pub(crate) fn timer(&self, operation: &'static str) -> Timer {
        Timer {
            operation,
            start: Instant::now(),
            store: self.store.clone(),
        }
    }

    /// Runs SQL text (no bound values) on this connection: for maintenance and tests.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn execute_batch(&mut self, sql: &str) -> Result<(), StoreError> {
        let timer = self.timer("batch");
        let result = match self.as_mut() {
            ConnMut::Postgres(c) => c.batch_execute(sql).await,
            ConnMut::Mysql(c) => c.batch_execute(sql).await,
            ConnMut::Sqlite(c) => c.batch_execute(sql).await,
        };
        timer.finish();
        result.map_err(|e| StoreError::query("batch", e))
    }

    /// The server's id for this connection (PostgreSQL `pg_backend_pid()`, MySQL
    /// `CONNECTION_ID()`), for logs and diagnostics; `None` on SQLite, which has no server.
    ///
    /// # Errors
    /// [`StoreError::Query`].
    pub async fn server_connection_id(&mut self) -> Result<Option<i64>, StoreError> {
        #[derive(diesel::QueryableByName)]
        struct Id {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            id: i64,
        }
        const OP: &str = "server_connection_id";
        let timer = self.timer(OP);
        let result = match self.as_mut() {
            ConnMut::Postgres(c) => diesel_async::RunQueryDsl::get_result::<Id>(
                diesel::sql_query("SELECT pg_backend_pid()::bigint AS id"),
                c,
            )
            .await
            .map(|r| Some(r.id)),
            ConnMut::Mysql(c) => diesel_async::RunQueryDsl::get_result::<Id>(
                diesel::sql_query("SELECT CAST(CONNECTION_ID() AS SIGNED) AS id"),
                c,
            )
            .await
            .map(|r| Some(r.id)),
            ConnMut::Sqlite(_) => Ok(None),
        };
        timer.finish();
        result.map_err(|e| StoreError::query(OP, e))
    }

    /// The number of rows in `table`, one of [`TABLES`](crate::TABLES).
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for another name; [`StoreError::Query`].
    pub async fn count_rows(&mut self, table: &str) -> Result<u64, StoreError> {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        // Only the schema's own names reach the SQL text.
        let Some(table) = crate::TABLES.iter().find(|t| **t == table) else {
            return Err(StoreError::InvalidInput(format!(
                "no table {:?}",
                table.chars().take(40).collect::<String>()
            )));
        };
        let sql = format!("SELECT COUNT(*) AS n FROM {table}");
        let count: Count =
            run!(self, "count_rows", c => diesel_async::RunQueryDsl::get_result(diesel::sql_query(&sql), c).await)?;
        Ok(count.n.unsigned_abs())
    }

    /// Runs `f` in a transaction (a savepoint when one is open): see [`Store::transaction`].
    ///
    /// # Errors
    /// `f`'s error, or the store's when the transaction cannot begin or commit.
    pub async fn transaction<T, E>(&mut self, f: impl AsyncFnOnce(&mut Conn) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        self.transaction_with(Begin::Deferred, f).await
    }

    /// [`Conn::transaction`] for a transaction that will write: see [`Store::write_transaction`].
    /// Inside an open transaction it is a savepoint, as usual (an SQLite transaction that the
    /// caller began as a reader stays one until its first write).
    pub(crate) async fn write_transaction<T, E>(
        &mut self,
        f: impl AsyncFnOnce(&mut Conn) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        self.transaction_with(Begin::Immediate, f).await
    }

    async fn transaction_with<T, E>(
        &mut self,
        how: Begin,
        f: impl AsyncFnOnce(&mut Conn) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        self.begin(how).await?;
        let result = f(self).await;
        match result {
            Ok(value) => {
                self.commit().await?;
                Ok(value)
            }
            Err(error) => {
                // The caller's error matters more than a failed rollback (which leaves the
                // connection marked broken: the pool will not reuse it).
                let _ = self.rollback().await;
                Err(error)
            }
        }
    }

    async fn begin(&mut self, how: Begin) -> Result<(), StoreError> {
        let result = match self.as_mut() {
            ConnMut::Sqlite(c) if how == Begin::Immediate => {
                c.spawn_blocking(|sqlite| {
                    use diesel::connection::{AnsiTransactionManager, TransactionManager as _};
                    match AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE") {
                        // Inside the caller's transaction: a savepoint.
                        Err(diesel::result::Error::AlreadyInTransaction) => {
                            AnsiTransactionManager::begin_transaction(sqlite)
                        }
                        other => other,
                    }
                })
                .await
            }
            ConnMut::Postgres(c) => {
                <AsyncPgConnection as AsyncConnection>::TransactionManager::begin_transaction(c).await
            }
            ConnMut::Mysql(c) => {
                <AsyncMysqlConnection as AsyncConnection>::TransactionManager::begin_transaction(c).await
            }
            ConnMut::Sqlite(c) => <SqliteConn as AsyncConnection>::TransactionManager::begin_transaction(c).await,
        };
        result.map_err(|e| StoreError::query("transaction.begin", e))
    }

    async fn commit(&mut self) -> Result<(), StoreError> {
        let result = match self.as_mut() {
            ConnMut::Postgres(c) => {
                <AsyncPgConnection as AsyncConnection>::TransactionManager::commit_transaction(c).await
            }
            ConnMut::Mysql(c) => {
                <AsyncMysqlConnection as AsyncConnection>::TransactionManager::commit_transaction(c).await
            }
            ConnMut::Sqlite(c) => <SqliteConn as AsyncConnection>::TransactionManager::commit_transaction(c).await,
        };
        result.map_err(|e| StoreError::query("transaction.commit", e))
    }

    async fn rollback(&mut self) -> Result<(), StoreError> {
        let result = match self.as_mut() {
            ConnMut::Postgres(c) => {
                <AsyncPgConnection as AsyncConnection>::TransactionManager::rollback_transaction(c).await
            }
            ConnMut::Mysql(c) => {
                <AsyncMysqlConnection as AsyncConnection>::TransactionManager::rollback_transaction(c).await
            }
            ConnMut::Sqlite(c) => <SqliteConn as AsyncConnection>::TransactionManager::rollback_transaction(c).await,
        };
        result.map_err(|e| StoreError::query("transaction.rollback", e))
    }

    /// Closes the connection instead of returning it to the pool.
    fn discard(&mut self) {
        match self.inner.take() {
            Some(ConnInner::Postgres(c)) => drop(Object::take(c)),
            Some(ConnInner::Mysql(c)) => drop(Object::take(c)),
            Some(ConnInner::Sqlite(c)) => drop(Object::take(c)),
            None => {}
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if self.inner.is_some() {
            self.store.record_pool_gauges();
        }
    }
}

/// How a transaction begins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Begin {
    /// `BEGIN`: SQLite takes the writer lock at the first write.
    Deferred,
    /// SQLite's `BEGIN IMMEDIATE`: the writer lock at once (the same as `Deferred` elsewhere).
    Immediate,
}

/// A transaction on `conn` that closes the connection unless it finishes.
async fn conn_transaction<T, E>(conn: Conn, how: Begin, f: impl AsyncFnOnce(&mut Conn) -> Result<T, E>) -> Result<T, E>
where
    E: From<StoreError>,
{
    let mut guard = Unfinished(conn);
    let result = guard.0.transaction_with(how, f).await;
    guard.finish();
    result
}

/// Discards its connection when dropped before [`Unfinished::finish`]: a panic or a
/// cancellation inside a transaction must not return an open transaction to the pool.
struct Unfinished(Conn);

impl Unfinished {
    fn finish(mut self) {
        // Hand the connection back to the pool as usual.
        let inner = self.0.inner.take();
        drop(Conn {
            inner,
            store: self.0.store.clone(),
        });
    }
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        if self.0.inner.is_some() {
            self.0.discard();
            self.0.store.record_pool_gauges();
        }
    }
}

/// Times one repository operation.
pub(crate) struct Timer {
    operation: &'static str,
    start: Instant,
    store: Store,
}

impl Timer {
    /// Reports the operation if it took longer than the threshold.
    pub(crate) fn finish(self) {
        let elapsed = self.start.elapsed();
        if elapsed >= self.store.settings().slow_query_threshold {
            self.store.report_slow(self.operation, elapsed);
        }
    }
}

#[cfg(test)]
mod tests {
    use diesel::QueryableByName;
    use diesel::sql_types::{BigInt, Text};
    use diesel_async::RunQueryDsl;

    use super::*;

    #[derive(QueryableByName)]
    struct Mode {
        #[diesel(sql_type = Text)]
        journal_mode: String,
    }

    #[derive(QueryableByName)]
    struct Number {
        #[diesel(sql_type = BigInt)]
        value: i64,
    }

    /// Every pooled SQLite connection runs in WAL mode with the busy timeout and foreign keys.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_sqlite_connection_is_set_up() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("nested/dir/f.db").display())
            .parse()
            .unwrap();
        let mut config = StoreConfig::new(url);
        config.pool.max_size = 3;
        config.sqlite_busy_timeout = Duration::from_millis(4_321);
        let store = Store::open(config).await.unwrap();
        let (a, b, c) = tokio::join!(store.conn(), store.conn(), store.conn());
        for mut conn in [a.unwrap(), b.unwrap(), c.unwrap()] {
            let ConnMut::Sqlite(sqlite) = conn.as_mut() else {
                unreachable!()
            };
            let mode: Mode = diesel::sql_query("PRAGMA journal_mode")
                .get_result(sqlite)
                .await
                .unwrap();
            assert_eq!(mode.journal_mode, "wal");
            let busy: Number = diesel::sql_query("SELECT timeout AS value FROM pragma_busy_timeout")
                .get_result(sqlite)
                .await
                .unwrap();
            assert_eq!(busy.value, 4_321);
            let keys: Number = diesel::sql_query("SELECT foreign_keys AS value FROM pragma_foreign_keys")
                .get_result(sqlite)
                .await
                .unwrap();
            assert_eq!(keys.value, 1);
        }
        assert_eq!(store.pool_status().size, 3);
    }
}
