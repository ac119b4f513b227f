//! [`LocalBus`]: the in-process bus of the embedded mode, a tokio broadcast.

use std::sync::Arc;
use std::time::Instant;

use futures_util::future::BoxFuture;
use tokio::sync::broadcast;

use super::stats::BusMetrics;
use super::{BusError, BusReceiver, DEFAULT_CAPACITY, Envelope, EventBus};
use crate::CoreError;

/// The in-process bus: one `tokio::sync::broadcast` channel of `Arc<Envelope>`.
///
/// - Publishing never blocks and never fails: with no subscriber the event goes nowhere; a
///   subscriber more than `capacity` events behind loses the oldest and is told
///   ([`BusMessage::Lagged`](super::BusMessage::Lagged)).
/// - No copy per subscriber: every receiver gets the same `Arc`.
/// - Every subscriber sees every event in publish order.
#[derive(Debug)]
pub struct LocalBus {
    sender: broadcast::Sender<Arc<Envelope>>,
    capacity: usize,
    metrics: BusMetrics,
}

/// The `backend` label of the local bus.
const BACKEND: &str = "local";

impl LocalBus {
    /// A bus holding up to `capacity` events for a receiver that is behind.
    ///
    /// # Errors
    /// [`BusError::Config`] when `capacity` is 0 or above `usize::MAX / 2` (tokio's limit).
    pub fn new(capacity: usize) -> Result<Self, CoreError> {
        if capacity == 0 || capacity > usize::MAX / 2 {
            return Err(BusError::Config(format!(
                "the bus capacity must be in 1..={}, not {capacity}",
                usize::MAX / 2
            ))
            .into());
        }
        Ok(LocalBus {
            sender: broadcast::Sender::new(capacity),
            capacity,
            metrics: BusMetrics::new(BACKEND),
        })
    }

    /// How many events the bus holds for a receiver that is behind.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many receivers are subscribed.
    pub fn receiver_count(&self) -> usize {
        self.sender.receiver_count()
    }

    fn send(&self, envelope: Envelope) {
        self.metrics.published.increment(1);
        if self.sender.send(Arc::new(envelope)).is_ok() {
            self.metrics.received.increment(1);
        }
    }
}

impl Default for LocalBus {
    /// A bus of [`DEFAULT_CAPACITY`].
    fn default() -> Self {
        LocalBus {
            sender: broadcast::Sender::new(DEFAULT_CAPACITY),
            capacity: DEFAULT_CAPACITY,
            metrics: BusMetrics::new(BACKEND),
        }
    }
}

impl EventBus for LocalBus {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn publish(&self, envelope: Envelope) -> BoxFuture<'_, Result<(), CoreError>> {
        let started = Instant::now();
        self.send(envelope);
        self.metrics.publish_seconds.record(started.elapsed());
        Box::pin(std::future::ready(Ok(())))
    }

    fn publish_batch(&self, envelopes: Vec<Envelope>) -> BoxFuture<'_, Result<(), CoreError>> {
        let started = Instant::now();
        for envelope in envelopes {
            self.send(envelope);
        }
        self.metrics.publish_seconds.record(started.elapsed());
        Box::pin(std::future::ready(Ok(())))
    }

    fn subscribe(&self) -> BusReceiver {
        BusReceiver::new(self.sender.subscribe(), self.metrics.lagged.clone())
    }
}
