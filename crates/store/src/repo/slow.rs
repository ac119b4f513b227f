//! The `slow_queries` table.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::error::StoreError;
use crate::repo::{Exec, db_time};
use crate::schema::slow_queries;

/// The operation name of the insert below: a slow insert of a slow statement is not recorded.
pub(crate) const INSERT_KIND: &str = "slow_queries.record";

/// The statements that took longer than the threshold.
pub struct SlowQueries<'a> {
    pub(crate) exec: Exec<'a>,
}

/// One slow statement.
#[derive(Clone, Debug, PartialEq, Queryable, Selectable)]
#[diesel(table_name = slow_queries)]
pub struct SlowQuery {
    /// Row id.
    pub id: i64,
    /// The repository operation, e.g. `daily_bars.upsert`.
    pub kind: String,
    /// How long it took.
    pub duration_ms: f64,
    /// When it finished (UTC).
    pub occurred_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = slow_queries)]
struct NewSlowQuery<'a> {
    kind: &'a str,
    duration_ms: f64,
    occurred_at: NaiveDateTime,
}

impl SlowQueries<'_> {
    /// Records one slow statement.
    ///
    /// # Errors
    /// [`StoreError`] from the database.
    pub async fn record(mut self, kind: &str, duration_ms: f64) -> Result<(), StoreError> {
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let row = NewSlowQuery {
            kind,
            duration_ms,
            occurred_at: Utc::now().naive_utc(),
        };
        let insert = diesel::insert_into(slow_queries::table).values(&row);
        run!(conn, INSERT_KIND, c => insert.execute(c).await).map(drop)
    }

    /// The most recent `limit` slow statements, newest first.
    ///
    /// # Errors
    /// [`StoreError`] from the database.
    pub async fn recent(mut self, limit: i64) -> Result<Vec<SlowQuery>, StoreError> {
        const OP: &str = "slow_queries.recent";
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        run!(conn, OP, c => slow_queries::table
            .select(SlowQuery::as_select())
            .order((slow_queries::occurred_at.desc(), slow_queries::id.desc()))
            .limit(limit)
            .load(c)
            .await)
    }

    /// Deletes the statements recorded before `before`; returns how many.
    ///
    /// # Errors
    /// [`StoreError::Query`] from the database.
    pub async fn prune(mut self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let delete = diesel::delete(slow_queries::table.filter(slow_queries::occurred_at.lt(db_time(before))));
        let n = run!(conn, "slow_queries.prune", c => delete.execute(c).await)?;
        Ok(n as u64)
    }
}
