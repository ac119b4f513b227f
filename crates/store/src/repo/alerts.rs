//! The `alert_log` and `alert_claims` tables: the alerts sent, and the claims that let one of
//! many instances send each.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::error::StoreError;
use crate::repo::{Exec, check_len, db_time, utc};
use crate::schema::{alert_claims, alert_log};

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

    /// Claims the alert `dedupe_key` at `now` unless it was claimed less than `window` before:
    /// `true` means the caller is the one to send it. Of any number of concurrent claims of one
    /// key (across connections, processes and hosts) exactly one succeeds; a claim at or after
    /// the end of the window replaces the old one. Each of the two statements is atomic on its
    /// own: an update of a stale claim, then an insert of a missing one that does nothing on
    /// conflict.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for an empty key or one longer than 191 characters, or a
    /// window beyond a century; [`StoreError::Query`] from the database.
    pub async fn claim(mut self, dedupe_key: &str, now: DateTime<Utc>, window: Duration) -> Result<bool, StoreError> {
        const OP: &str = "alerts.claim";
        check_key(dedupe_key)?;
        let window = TimeDelta::from_std(window)
            .ok()
            .filter(|w| *w <= TimeDelta::days(36_525))
            .ok_or_else(|| StoreError::InvalidInput("an alert window is at most a century".into()))?;
        let now = db_time(now);
        let stale = now.checked_sub_signed(window).unwrap_or(NaiveDateTime::MIN);
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        // A stale claim is taken over by the one update whose condition still holds on the
        // latest row version (PostgreSQL re-checks it after a concurrent update; MySQL's update
        // reads the latest committed row; SQLite has one writer).
        let update = diesel::update(
            alert_claims::table
                .filter(alert_claims::dedupe_key.eq(dedupe_key))
                .filter(alert_claims::sent_at.le(stale)),
        )
        .set(alert_claims::sent_at.eq(now));
        if run!(conn, OP, c => update.execute(c).await)? == 1 {
            return Ok(true);
        }
        // No claim, or a fresh one: only an insert into an empty key succeeds; a concurrent
        // insert of the same key waits on the key and then does nothing.
        let row = (alert_claims::dedupe_key.eq(dedupe_key), alert_claims::sent_at.eq(now));
        let inserted = run_each!(conn, OP,
            postgres c => diesel::insert_into(alert_claims::table).values(row).on_conflict_do_nothing().execute(c).await,
            mysql c => diesel::insert_or_ignore_into(alert_claims::table).values(row).execute(c).await,
            sqlite c => diesel::insert_into(alert_claims::table).values(row).on_conflict_do_nothing().execute(c).await,
        )?;
        Ok(inserted == 1)
    }

    /// Gives back the claim of `dedupe_key` made at `claimed_at` (an alert that could not be
    /// sent), so that the next evaluation may claim it again; `false` when the claim is no
    /// longer that one.
    ///
    /// # Errors
    /// As [`claim`](Self::claim).
    pub async fn release(mut self, dedupe_key: &str, claimed_at: DateTime<Utc>) -> Result<bool, StoreError> {
        check_key(dedupe_key)?;
        let claimed_at = db_time(claimed_at);
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let delete = diesel::delete(
            alert_claims::table
                .filter(alert_claims::dedupe_key.eq(dedupe_key))
                .filter(alert_claims::sent_at.eq(claimed_at)),
        );
        let n = run!(conn, "alerts.release", c => delete.execute(c).await)?;
        Ok(n > 0)
    }

    /// Deletes the records of alerts sent before `before`, and the claims made before it;
    /// returns how many records.
    ///
    /// # Errors
    /// [`StoreError::Query`] from the database.
    pub async fn prune(mut self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let before = db_time(before);
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let delete = diesel::delete(alert_log::table.filter(alert_log::sent_at.lt(before)));
        let n = run!(conn, "alerts.prune", c => delete.execute(c).await)?;
        // Claims that old silence nothing any more (a window ends long before retention does).
        let claims = diesel::delete(alert_claims::table.filter(alert_claims::sent_at.lt(before)));
        run!(conn, "alerts.prune", c => claims.execute(c).await)?;
        Ok(n as u64)
    }
}
