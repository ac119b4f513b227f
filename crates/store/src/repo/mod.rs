//! Typed repositories: every statement of the crate, built with diesel's query builder (or, for
//! the few queries whose best SQL differs per backend, written per backend here). No SQL string
//! leaves the crate.

/// Runs `$e` with `$c` bound to the connection's concrete type: the same code, compiled for
/// each backend.
macro_rules! on_backend {
    ($conn:expr, $c:ident => $e:expr) => {
        match $conn.as_mut() {
            $crate::store::ConnMut::Postgres($c) => $e,
            $crate::store::ConnMut::Mysql($c) => $e,
            $crate::store::ConnMut::Sqlite($c) => $e,
        }
    };
}

/// [`on_backend!`], timed as operation `$op` (slow ones are reported) and with the error
/// wrapped.
macro_rules! run {
    ($conn:expr, $op:expr, $c:ident => $e:expr) => {{
        let timer = $conn.timer($op);
        let result = on_backend!($conn, $c => $e);
        timer.finish();
        result.map_err(|e| $crate::error::StoreError::query($op, e))
    }};
}

/// [`run!`] with an expression of its own for each backend, for the statements whose SQL
/// differs (upserts, `FOR UPDATE`, generated ids).
macro_rules! run_each {
    (
        $conn:expr, $op:expr,
        postgres $pg:ident => $pg_e:expr,
        mysql $my:ident => $my_e:expr,
        sqlite $sq:ident => $sq_e:expr $(,)?
    ) => {{
        let timer = $conn.timer($op);
        let result = match $conn.as_mut() {
            $crate::store::ConnMut::Postgres($pg) => $pg_e,
            $crate::store::ConnMut::Mysql($my) => $my_e,
            $crate::store::ConnMut::Sqlite($sq) => $sq_e,
        };
        timer.finish();
        result.map_err(|e| $crate::error::StoreError::query($op, e))
    }};
}

pub(crate) mod alerts;
pub(crate) mod bars;
pub(crate) mod highs;
pub(crate) mod intraday;
pub(crate) mod notifications;
pub(crate) mod outcomes;
pub(crate) mod quotes;
pub(crate) mod signals;
pub(crate) mod slow;
pub(crate) mod snapshots;
pub(crate) mod symbols;
pub(crate) mod tasks;

/// `VALUES(column)` in MySQL's `ON DUPLICATE KEY UPDATE`: the value the insert would have
/// written (diesel 2.3 spells `excluded` for PostgreSQL and SQLite only).
#[derive(Clone, Copy, Debug, diesel::query_builder::QueryId)]
pub(crate) struct MysqlValues<C>(pub(crate) C);

impl<C: diesel::Column> diesel::Expression for MysqlValues<C> {
    type SqlType = <C as diesel::Expression>::SqlType;
}

impl<C: diesel::Column> diesel::AppearsOnTable<C::Table> for MysqlValues<C> {}

impl<C, GB> diesel::expression::ValidGrouping<GB> for MysqlValues<C> {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

impl<C: diesel::Column> diesel::query_builder::QueryFragment<diesel::mysql::Mysql> for MysqlValues<C> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::mysql::Mysql>,
    ) -> diesel::QueryResult<()> {
        out.push_sql("VALUES(");
        out.push_identifier(C::NAME)?;
        out.push_sql(")");
        Ok(())
    }
}

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};

use crate::error::StoreError;
use crate::store::{Conn, Store};

/// A UTC time as the columns store it: naive UTC, truncated to whole microseconds (the
/// precision of all three backends), so that what is written reads back equal.
pub(crate) fn db_time(time: DateTime<Utc>) -> NaiveDateTime {
    time.naive_utc().trunc_subsecs(6)
}

/// A stored time, back in UTC.
pub(crate) fn utc(time: NaiveDateTime) -> DateTime<Utc> {
    time.and_utc()
}

/// The current time, as stored.
pub(crate) fn db_now() -> NaiveDateTime {
    db_time(Utc::now())
}

/// `Err(InvalidInput)` unless `value` has 1 to `max` characters.
pub(crate) fn check_len(what: &str, value: &str, max: usize) -> Result<(), StoreError> {
    let len = value.chars().count();
    if len == 0 || len > max {
        return Err(StoreError::InvalidInput(format!(
            "{what} must have 1 to {max} characters, not {len}"
        )));
    }
    Ok(())
}

/// `Err(InvalidInput)` unless `value` is finite and positive (prices are).
pub(crate) fn check_price(what: &str, value: f64) -> Result<(), StoreError> {
    if !value.is_finite() || value <= 0.0 {
        return Err(StoreError::InvalidInput(format!(
            "{what} must be a finite positive number, not {value}"
        )));
    }
    Ok(())
}

/// Where a repository runs its statements: on a connection checked out per call, or on the
/// caller's connection (inside its transaction).
pub(crate) enum Exec<'a> {
    Store(&'a Store),
    Conn(&'a mut Conn),
}

impl Exec<'_> {
    /// The connection to use: the caller's, or one checked out into `slot`.
    pub(crate) async fn conn<'s>(&'s mut self, slot: &'s mut Option<Conn>) -> Result<&'s mut Conn, StoreError> {
        match self {
            Exec::Conn(conn) => Ok(conn),
            Exec::Store(store) => Ok(slot.insert(store.conn().await?)),
        }
    }

    /// The backend the statements will run on.
    pub(crate) fn backend(&self) -> crate::config::Backend {
        match self {
            Exec::Store(store) => store.backend(),
            Exec::Conn(conn) => conn.store().backend(),
        }
    }

    /// The store's settings.
    pub(crate) fn settings(&self) -> &crate::config::StoreConfig {
        match self {
            Exec::Store(store) => store.settings(),
            Exec::Conn(conn) => conn.store().settings(),
        }
    }

    /// Whether [`Exec::transaction`] opens a transaction of its own (not a savepoint inside the
    /// caller's), which may then be retried as a whole.
    pub(crate) fn owns_transaction(&self) -> bool {
        matches!(self, Exec::Store(_))
    }

    /// [`Exec::transaction`] for a transaction that writes: on SQLite a new one begins
    /// `IMMEDIATE` (see `Store::write_transaction`).
    pub(crate) async fn write_transaction<T>(
        &mut self,
        f: impl AsyncFnOnce(&mut Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match self {
            Exec::Conn(conn) => conn.write_transaction(f).await,
            Exec::Store(store) => store.write_transaction(f).await,
        }
    }

    /// Runs `f` in a transaction: a new one on a checked-out connection, or a savepoint inside
    /// the caller's.
    pub(crate) async fn transaction<T>(
        &mut self,
        f: impl AsyncFnOnce(&mut Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match self {
            Exec::Conn(conn) => conn.transaction(f).await,
            Exec::Store(store) => store.transaction(f).await,
        }
    }
}

/// Implements the `repo()` accessors on [`Store`] and [`Conn`].
macro_rules! accessors {
    ($($(#[$doc:meta])* $name:ident -> $repo:ident;)+) => {
        impl Store {
            $(
                $(#[$doc])*
                pub fn $name(&self) -> $repo<'_> {
                    $repo { exec: Exec::Store(self) }
                }
            )+
        }

        impl Conn {
            $(
                $(#[$doc])*
                pub fn $name(&mut self) -> $repo<'_> {
                    $repo { exec: Exec::Conn(self) }
                }
            )+
        }
    };
}

pub use alerts::Alerts;
pub use bars::DailyBars;
pub use highs::Highs;
pub use intraday::IntradayBars;
pub use notifications::Notifications;
pub use outcomes::Outcomes;
pub use quotes::Quotes;
pub use signals::Signals;
pub use slow::SlowQueries;
pub use snapshots::Snapshots;
pub use symbols::Symbols;
pub use tasks::Tasks;

accessors! {
    /// Daily bars: bulk upserts, range queries, the latest bars.
    daily_bars -> DailyBars;
    /// The slow-statement log.
    slow_queries -> SlowQueries;
    /// The symbols followed: upsert, lookup, the active watchlist.
    symbols -> Symbols;
    /// Intraday bars (1m to 1h): bulk upserts, range queries, the latest bars.
    intraday_bars -> IntradayBars;
    /// The latest quote of each symbol.
    quotes -> Quotes;
    /// All-time highs: the record of each symbol and the history of new highs.
    highs -> Highs;
    /// The previous session's close, high and low per symbol and day.
    snapshots -> Snapshots;
    /// Trading signals: idempotent inserts (one at a time or in bulk), keyset-paginated lists.
    signals -> Signals;
    /// What became of each signal after 1h, 4h, 1d, 1w and 1m.
    outcomes -> Outcomes;
    /// Alerts sent, for deduplication.
    alerts -> Alerts;
    /// Notifications and their delivery.
    notifications -> Notifications;
    /// The durable task queue: enqueue with dedupe, claim with leases, complete, fail and
    /// retry, cancel, reap expired leases, periodic schedule slots.
    tasks -> Tasks;
}
