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

pub(crate) mod bars;
pub(crate) mod slow;

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

use crate::error::StoreError;
use crate::store::{Conn, Store};

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

pub use bars::DailyBars;
pub use slow::SlowQueries;

accessors! {
    /// Daily bars: bulk upserts, range queries, the latest bars.
    daily_bars -> DailyBars;
    /// The slow-statement log.
    slow_queries -> SlowQueries;
}
