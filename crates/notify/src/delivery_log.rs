//! [`DeliveryLog`]: where every delivery attempt is written down (the store's
//! `notification_log`, or nowhere).

use std::fmt;

use finstage_store::{NotificationStatus, Store};
use futures_util::future::BoxFuture;

use crate::NotifyError;

/// The longest excerpt of a message kept in a delivery log, in characters.
pub const EXCERPT_MAX_CHARS: usize = 100;

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    /// Not delivered yet: the first attempt is about to go, or a retry is coming.
    Pending,
    /// Delivered.
    Sent,
    /// Given up.
    Failed,
}

impl DeliveryStatus {
    /// `pending`, `sent` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }
}

impl fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is logged about one message (one part of a split message) when its delivery begins.
/// Never a token: only where it goes and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryRecord<'a> {
    /// The channel (`telegram`).
    pub channel: &'static str,
    /// The recipient (the Telegram chat id).
    pub recipient: &'a str,
    /// The message's [`kind`](crate::Message::kind).
    pub kind: &'a str,
    /// The start of the visible text, at most [`EXCERPT_MAX_CHARS`] characters.
    pub excerpt: &'a str,
}

/// A record of every delivery attempt.
///
/// A notifier calls [`begin`](Self::begin) before the first attempt of each message part (a
/// `pending` entry with no attempt yet) and [`attempted`](Self::attempted) after every attempt
/// with the attempts so far: `pending` while retries follow, then `sent` or `failed`.
/// Object-safe; implemented for [`Store`] (the `notification_log` table) and by
/// [`NoDeliveryLog`].
pub trait DeliveryLog: Send + Sync + fmt::Debug + 'static {
    /// Starts an entry for a delivery; returns its id.
    fn begin<'a>(&'a self, record: DeliveryRecord<'a>) -> BoxFuture<'a, Result<i64, NotifyError>>;

    /// Records the outcome of an attempt of entry `id`: the status now, the attempts made so
    /// far and the last error (`None` after a success).
    fn attempted<'a>(
        &'a self,
        id: i64,
        status: DeliveryStatus,
        attempts: u32,
        error: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), NotifyError>>;
}

/// A [`DeliveryLog`] that keeps nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDeliveryLog;

impl DeliveryLog for NoDeliveryLog {
    fn begin<'a>(&'a self, _record: DeliveryRecord<'a>) -> BoxFuture<'a, Result<i64, NotifyError>> {
        Box::pin(async { Ok(0) })
    }

    fn attempted<'a>(
        &'a self,
        _id: i64,
        _status: DeliveryStatus,
        _attempts: u32,
        _error: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(async { Ok(()) })
    }
}

fn store_status(status: DeliveryStatus) -> NotificationStatus {
    match status {
        DeliveryStatus::Pending => NotificationStatus::Pending,
        DeliveryStatus::Sent => NotificationStatus::Sent,
        DeliveryStatus::Failed => NotificationStatus::Failed,
    }
}

/// The store's `notification_log`: one row per message part, with its channel, recipient, kind
/// and excerpt, updated after every attempt.
impl DeliveryLog for Store {
    fn begin<'a>(&'a self, record: DeliveryRecord<'a>) -> BoxFuture<'a, Result<i64, NotifyError>> {
        Box::pin(async move {
            self.notifications()
                .insert_delivery(
                    record.channel,
                    Some(record.recipient),
                    Some(record.kind),
                    Some(record.excerpt),
                    NotificationStatus::Pending,
                )
                .await
                .map_err(|e| NotifyError::DeliveryLog(e.to_string()))
        })
    }

    fn attempted<'a>(
        &'a self,
        id: i64,
        status: DeliveryStatus,
        attempts: u32,
        error: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(async move {
            let found = self
                .notifications()
                .update(id, store_status(status), attempts, error)
                .await
                .map_err(|e| NotifyError::DeliveryLog(e.to_string()))?;
            if found {
                Ok(())
            } else {
                Err(NotifyError::DeliveryLog(format!("notification {id} does not exist")))
            }
        })
    }
}
