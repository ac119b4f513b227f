//! The event bus: quotes, signals and indicator values from the jobs to every API instance's
//! WebSocket clients.
//!
//! - [`Channel`] names a stream of events (`quotes:AAPL`, `signals:AAPL`,
//!   `indicators:AAPL:rsi:14`); [`Subscription`] adds the pattern `signals:*`.
//! - [`Event`] is what happened ([`QuoteEvent`], [`SignalEvent`], [`IndicatorEvent`]);
//!   [`Envelope`] carries one with its channel, publish time (µs) and [`InstanceId`] of origin.
//! - [`EventBus`] is the seam (object-safe: `Arc<dyn EventBus>`): [`publish`](EventBus::publish)
//!   to the bus, [`subscribe`](EventBus::subscribe) to every event from now on as a
//!   [`BusReceiver`] that reports lag as [`BusMessage::Lagged`].
//! - [`LocalBus`]: in-process (embedded mode), a tokio broadcast.
//! - [`RedisBus`]: Redis pub/sub (`FINSTAGE_REDIS_URL` set), so that every API instance
//!   delivers every event, its own publishes included.
//!
//! Delivery is at most once on both: a receiver that falls behind loses the oldest events (and is
//! told), and an event published while Redis is unreachable is lost (the publish fails and the
//! loss is counted). Clients that need the full picture get it from the snapshot the WebSocket
//! layer sends on subscribe.
//!
//! Metrics (label `backend`: `local` or `redis`): `finstage_bus_published_total`,
//! `finstage_bus_received_total`, `finstage_bus_lagged_total`, `finstage_bus_lost_total`,
//! `finstage_bus_errors_total{kind}`, `finstage_bus_publish_seconds`, and for Redis
//! `finstage_bus_subscribed` and `finstage_bus_reconnects_total`.

mod channel;
mod event;
mod local;
mod receiver;
mod redis;
mod stats;

use std::fmt;
use std::time::Duration;

use futures_util::future::BoxFuture;

pub use self::channel::{Channel, ChannelError, ChannelKind, MAX_CHANNEL_LEN, Subscription};
pub use self::event::{
    Envelope, Event, IndicatorEvent, InstanceId, MAX_INSTANCE_ID_LEN, QuoteEvent, SignalEvent, Values,
};
pub use self::local::LocalBus;
pub use self::receiver::{BusMessage, BusReceiver, Closed};
pub use self::redis::{MAX_BATCH, RedisBus, RedisBusConfig};
use crate::CoreError;

/// The default number of events a bus holds for a receiver that is behind: 65,536 (about 13 s of
/// 500 symbols' quotes and ten indicators each, once a second; about 2 MB of slots).
pub const DEFAULT_CAPACITY: usize = 65_536;

/// The event bus seam. Object-safe: the services hold an `Arc<dyn EventBus>` and do not know
/// which backend they talk to.
pub trait EventBus: Send + Sync + fmt::Debug + 'static {
    /// `local` or `redis` (the `backend` label of the bus metrics).
    fn backend(&self) -> &'static str;

    /// Publishes one envelope to every subscriber of the bus (for Redis: of every instance in
    /// the namespace, this one included).
    ///
    /// # Errors
    /// [`CoreError::Bus`]: [`BusError::Unavailable`] or [`BusError::Timeout`] when Redis cannot
    /// take it (the event is lost); the local bus never fails.
    fn publish(&self, envelope: Envelope) -> BoxFuture<'_, Result<(), CoreError>>;

    /// Publishes several envelopes, in order. Redis sends them as one message (a JSON array),
    /// which costs Redis and every subscriber one message instead of one per event: use it for
    /// the results of one job run (a refresh of 500 quotes).
    ///
    /// # Errors
    /// As [`publish`](Self::publish); on an error none of the batch (or of its failed part, for
    /// batches split into several messages) was published.
    fn publish_batch(&self, envelopes: Vec<Envelope>) -> BoxFuture<'_, Result<(), CoreError>>;

    /// Every event published to the bus from now on.
    fn subscribe(&self) -> BusReceiver;
}

/// Every way the bus can fail.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BusError {
    /// A channel or subscription name was rejected.
    #[error("invalid channel: {0}")]
    InvalidChannel(#[from] ChannelError),
    /// An event could not be built (indicator values that do not fit the spec).
    #[error("invalid event: {0}")]
    InvalidEvent(String),
    /// The bus's configuration is unusable (zero capacity or timeout, bad namespace or URL).
    #[error("bus configuration: {0}")]
    Config(String),
    /// Redis refused the publish or the connection failed: the events were not published.
    #[error("{backend} bus unavailable: {message}")]
    Unavailable {
        /// The backend (`redis`).
        backend: &'static str,
        /// What failed (never the password).
        message: String,
    },
    /// Redis did not answer within the publish deadline: the events were probably not published.
    #[error("{backend} bus did not answer within {after:?}")]
    Timeout {
        /// The backend (`redis`).
        backend: &'static str,
        /// The deadline.
        after: Duration,
    },
    /// An envelope could not be encoded as JSON.
    #[error("cannot encode an envelope: {0}")]
    Encode(String),
}
