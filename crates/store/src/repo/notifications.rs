//! The `notification_log` table: notifications and their delivery.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_async::RunQueryDsl;

use crate::error::StoreError;
use crate::repo::{Exec, check_len, db_now, db_time, utc};
use crate::schema::notification_log;

/// The longest channel name, in characters.
pub const CHANNEL_MAX_LEN: usize = 32;
/// The longest error text kept, in characters; a longer one is cut there.
pub const NOTIFICATION_ERROR_MAX_LEN: usize = 4_000;
/// The longest recipient (a chat id, an address), in characters.
pub const NOTIFICATION_RECIPIENT_MAX_LEN: usize = 64;
/// The longest message kind, in characters.
pub const NOTIFICATION_KIND_MAX_LEN: usize = 32;
/// The longest message excerpt kept, in characters; a longer one is cut there.
pub const NOTIFICATION_EXCERPT_MAX_LEN: usize = 100;

/// Notifications and their delivery.
pub struct Notifications<'a> {
    pub(crate) exec: Exec<'a>,
}

/// Where a notification's delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NotificationStatus {
    /// Not delivered yet (waiting or retrying).
    Pending,
    /// Delivered.
    Sent,
    /// Given up.
    Failed,
}

impl NotificationStatus {
    /// Every status.
    pub const ALL: [NotificationStatus; 3] = [Self::Pending, Self::Sent, Self::Failed];

    /// The stored text: `pending`, `sent` or `failed`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }
}

impl fmt::Display for NotificationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for NotificationStatus {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, StoreError> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| StoreError::InvalidInput("unknown notification status".into()))
    }
}

/// One notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    /// Its id.
    pub id: i64,
    /// Where it goes, e.g. `telegram`.
    pub channel: String,
    /// Where its delivery stands.
    pub status: NotificationStatus,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// The last delivery error, if any.
    pub error: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last updated.
    pub updated_at: DateTime<Utc>,
    /// Who it went to (a chat id), when recorded.
    pub recipient: Option<String>,
    /// What it was (`alert`, `daily_report`, …), when recorded.
    pub kind: Option<String>,
    /// The start of its text, when recorded.
    pub excerpt: Option<String>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = notification_log)]
struct NotificationRow {
    id: i64,
    channel: String,
    status: String,
    attempts: i32,
    error: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    recipient: Option<String>,
    kind: Option<String>,
    excerpt: Option<String>,
}

impl NotificationRow {
    fn into_notification(self) -> Result<Notification, StoreError> {
        let invalid = |message: String| StoreError::InvalidRow {
            table: "notification_log",
            message,
        };
        let status = self.status.parse().map_err(|_| {
            invalid(format!(
                "notification {} has the unknown status {:?}",
                self.id,
                self.status.chars().take(16).collect::<String>()
            ))
        })?;
        let attempts = u32::try_from(self.attempts)
            .map_err(|_| invalid(format!("notification {} has {} attempts", self.id, self.attempts)))?;
        Ok(Notification {
            id: self.id,
            channel: self.channel,
            status,
            attempts,
            error: self.error,
            created_at: utc(self.created_at),
            updated_at: utc(self.updated_at),
            recipient: self.recipient,
            kind: self.kind,
            excerpt: self.excerpt,
        })
    }
}

#[derive(Insertable)]
#[diesel(table_name = notification_log, treat_none_as_default_value = false)]
struct NewNotificationRow<'a> {
    channel: &'a str,
    status: &'static str,
    attempts: i32,
    error: Option<&'a str>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    recipient: Option<&'a str>,
    kind: Option<&'a str>,
    excerpt: Option<&'a str>,
}

fn attempts_column(attempts: u32) -> Result<i32, StoreError> {
    i32::try_from(attempts).map_err(|_| StoreError::InvalidInput(format!("{attempts} attempts exceed an INTEGER")))
}

/// `text` cut to at most `max` characters.
fn cut(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((cut, _)) => &text[..cut],
        None => text,
    }
}

/// The error text as kept: at most [`NOTIFICATION_ERROR_MAX_LEN`] characters.
fn error_column(error: Option<&str>) -> Option<&str> {
    error.map(|e| cut(e, NOTIFICATION_ERROR_MAX_LEN))
}

impl Notifications<'_> {
    /// Logs a new notification for `channel`; returns its id. `error` is cut to 4,000
    /// characters.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for an empty channel or one longer than 32 characters, or
    /// attempts beyond an INTEGER; [`StoreError::Query`] from the database.
    pub async fn insert(
        self,
        channel: &str,
        status: NotificationStatus,
        attempts: u32,
        error: Option<&str>,
    ) -> Result<i64, StoreError> {
        check_len("a notification channel", channel, CHANNEL_MAX_LEN)?;
        let now = db_now();
        let row = NewNotificationRow {
            channel,
            status: status.as_str(),
            attempts: attempts_column(attempts)?,
            error: error_column(error),
            created_at: now,
            updated_at: now,
            recipient: None,
            kind: None,
            excerpt: None,
        };
        self.insert_row(row).await
    }

    /// Logs a new delivery for `channel` with no attempt yet: who it goes to, what kind of
    /// message it is and the start of its text (cut to 100 characters). Returns its id.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for an empty channel or one longer than 32 characters, a
    /// recipient that is empty or longer than 64 characters, a kind that is empty or longer than
    /// 32; [`StoreError::Query`] from the database.
    pub async fn insert_delivery(
        self,
        channel: &str,
        recipient: Option<&str>,
        kind: Option<&str>,
        excerpt: Option<&str>,
        status: NotificationStatus,
    ) -> Result<i64, StoreError> {
        check_len("a notification channel", channel, CHANNEL_MAX_LEN)?;
        if let Some(recipient) = recipient {
            check_len("a notification recipient", recipient, NOTIFICATION_RECIPIENT_MAX_LEN)?;
        }
        if let Some(kind) = kind {
            check_len("a notification kind", kind, NOTIFICATION_KIND_MAX_LEN)?;
        }
        let now = db_now();
        let row = NewNotificationRow {
            channel,
            status: status.as_str(),
            attempts: 0,
            error: None,
            created_at: now,
            updated_at: now,
            recipient,
            kind,
            excerpt: excerpt.map(|e| cut(e, NOTIFICATION_EXCERPT_MAX_LEN)),
        };
        self.insert_row(row).await
    }

    async fn insert_row(mut self, row: NewNotificationRow<'_>) -> Result<i64, StoreError> {
        const OP: &str = "notifications.insert";
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let insert = diesel::insert_into(notification_log::table).values(&row);
        // PostgreSQL returns the id; MySQL and SQLite (without diesel's RETURNING support for
        // SQLite here) tell the id the insert generated on the same connection.
        run_each!(conn, OP,
            postgres c => insert.returning(notification_log::id).get_result(c).await,
            mysql c => match insert.execute(&mut *c).await {
                Ok(_) => diesel::select(sql::<BigInt>("CAST(LAST_INSERT_ID() AS SIGNED)")).get_result(c).await,
                Err(e) => Err(e),
            },
            sqlite c => match insert.execute(&mut *c).await {
                Ok(_) => diesel::select(sql::<BigInt>("last_insert_rowid()")).get_result(c).await,
                Err(e) => Err(e),
            },
        )
    }

    /// Sets the status, attempts and error of notification `id` (`error` cut to 4,000
    /// characters); `false` when it does not exist.
    ///
    /// # Errors
    /// As [`insert`](Self::insert).
    pub async fn update(
        mut self,
        id: i64,
        status: NotificationStatus,
        attempts: u32,
        error: Option<&str>,
    ) -> Result<bool, StoreError> {
        let attempts = attempts_column(attempts)?;
        let error = error_column(error);
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let update = diesel::update(notification_log::table.filter(notification_log::id.eq(id))).set((
            notification_log::status.eq(status.as_str()),
            notification_log::attempts.eq(attempts),
            notification_log::error.eq(error),
            notification_log::updated_at.eq(db_now()),
        ));
        let n = run!(conn, "notifications.update", c => update.execute(c).await)?;
        Ok(n > 0)
    }

    /// The notification `id`, if it exists.
    ///
    /// # Errors
    /// [`StoreError::Query`] from the database; [`StoreError::InvalidRow`] for a row with an
    /// unknown status or negative attempts.
    pub async fn get(mut self, id: i64) -> Result<Option<Notification>, StoreError> {
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let row: Option<NotificationRow> = run!(conn, "notifications.get", c => notification_log::table
            .select(NotificationRow::as_select())
            .filter(notification_log::id.eq(id))
            .first(c)
            .await
            .optional())?;
        row.map(NotificationRow::into_notification).transpose()
    }

    /// Up to `limit` notifications in `status`, oldest first (by creation, then id).
    ///
    /// # Errors
    /// [`StoreError::Query`] from the database; [`StoreError::InvalidRow`] for a row with an
    /// unknown status or negative attempts.
    pub async fn by_status(mut self, status: NotificationStatus, limit: u32) -> Result<Vec<Notification>, StoreError> {
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        // Served by notification_log_status (status, created_at).
        let rows: Vec<NotificationRow> = run!(conn, "notifications.by_status", c => notification_log::table
            .select(NotificationRow::as_select())
            .filter(notification_log::status.eq(status.as_str()))
            .order((notification_log::created_at.asc(), notification_log::id.asc()))
            .limit(i64::from(limit))
            .load(c)
            .await)?;
        rows.into_iter().map(NotificationRow::into_notification).collect()
    }

    /// Deletes the log's entries last updated before `before`; returns how many.
    ///
    /// # Errors
    /// [`StoreError::Query`] from the database.
    pub async fn prune(mut self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut slot = None;
        let conn = self.exec.conn(&mut slot).await?;
        let delete = diesel::delete(notification_log::table.filter(notification_log::updated_at.lt(db_time(before))));
        let n = run!(conn, "notifications.prune", c => delete.execute(c).await)?;
        Ok(n as u64)
    }
}
