//! The `alert_log` table: the alerts sent, for deduplication.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::error::StoreError;
use crate::repo::{Exec, check_len, db_time, utc};
use crate::schema::alert_log;

/// The longest dedupe key, in characters (an index key of MySQL's utf8mb4).
pub const DEDUPE_KEY_MAX_LEN: usize = 191;

/// The alerts sent, one row per sending, by dedupe key.
pub struct Alerts<'a> {
    pub(crate) exec: Exec<'a>,
}

#[derive(Insertable)]
#[diesel(table_name = alert_log)]
struct NewAlertRow<'a> {
    dedupe_key: &'a str,
    sent_at: NaiveDateTime,
}

fn check_key(dedupe_key: &str) -> Result<(), StoreError> {
    check_len("a dedupe key", dedupe_key, DEDUPE_KEY_MAX_LEN)
}

impl Alerts<'_> {
    /// Records that the alert `dedupe_key` was sent at `sent_at` (stored to the microsecond).
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for an empty key or one longer than 191 characters;
    /// [`StoreError::Query`] from the database.
    pub async fn record(mut self, dedupe_key: &str, sent_at: DateTime<Utc>) -> Result<(), StoreError> {
        check_key(dedupe_key)?;
        let row = NewAlertRow {
            dedupe_key,
            sent_at: db_time(sent_at),
        };
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let insert = diesel::insert_into(alert_log::table).values(&row);
        run!(conn, "alerts.record", c => insert.execute(c).await).map(drop)
    }

    /// When the alert `dedupe_key` was last sent, if ever.
    ///
    /// # Errors
    /// As [`record`](Self::record).
    pub async fn last_sent(mut self, dedupe_key: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        check_key(dedupe_key)?;
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        // Served by alert_log_key_time (dedupe_key, sent_at).
        let last: Option<NaiveDateTime> = run!(conn, "alerts.last_sent", c => alert_log::table
            .filter(alert_log::dedupe_key.eq(dedupe_key))
            .select(diesel::dsl::max(alert_log::sent_at))
            .get_result(c)
            .await)?;
        Ok(last.map(utc))
    }

    /// Whether the alert `dedupe_key` was sent at or after `since`.
    ///
    /// # Errors
    /// As [`record`](Self::record).
    pub async fn sent_since(mut self, dedupe_key: &str, since: DateTime<Utc>) -> Result<bool, StoreError> {
        check_key(dedupe_key)?;
        let since = db_time(since);
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        // Served by alert_log_key_time (dedupe_key, sent_at).
        let found: Option<i64> = run!(conn, "alerts.sent_since", c => alert_log::table
            .select(alert_log::id)
            .filter(alert_log::dedupe_key.eq(dedupe_key))
            .filter(alert_log::sent_at.ge(since))
            .first(c)
            .await
            .optional())?;
        Ok(found.is_some())
    }

    /// Deletes the records of alerts sent before `before`; returns how many.
    ///
    /// # Errors
    /// [`StoreError::Query`] from the database.
    pub async fn prune(mut self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let before = db_time(before);
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let delete = diesel::delete(alert_log::table.filter(alert_log::sent_at.lt(before)));
        let n = run!(conn, "alerts.prune", c => delete.execute(c).await)?;
        Ok(n as u64)
    }
}
