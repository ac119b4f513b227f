//! [`BusReceiver`]: every event of a bus from the moment of subscribing, with lag reported as a
//! value.

use std::sync::Arc;

use futures_util::Stream;
use metrics::Counter;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use super::Envelope;

/// What a [`BusReceiver`] hands out next.
#[derive(Clone, Debug, PartialEq)]
pub enum BusMessage {
    /// The next event (shared: no copy per subscriber).
    Event(Arc<Envelope>),
    /// The receiver fell behind by more than the bus's capacity: the `missed` oldest events were
    /// dropped for it, and the next message is the oldest event still held. The WebSocket layer
    /// decides what that means for its clients (resend a snapshot, say).
    Lagged {
        /// How many events this receiver missed.
        missed: u64,
    },
}

/// A subscription to every event of a bus, from now on, in the order the bus delivered them.
///
/// Backed by a `tokio::sync::broadcast` receiver: events are `Arc`s shared by every receiver,
/// and a receiver that falls more than the bus's capacity behind is told so
/// ([`BusMessage::Lagged`], counted in `finstage_bus_lagged_total`) instead of slowing the
/// publisher down. One receiver per API instance is the expected use (it fans out to its
/// clients); any number work.
#[derive(Debug)]
pub struct BusReceiver {
    inner: broadcast::Receiver<Arc<Envelope>>,
    lagged: Counter,
}

impl BusReceiver {
    pub(crate) fn new(inner: broadcast::Receiver<Arc<Envelope>>, lagged: Counter) -> Self {
        BusReceiver { inner, lagged }
    }

    /// The next message; `None` once the bus is gone (dropped) and every held event was read.
    /// Cancel-safe.
    pub async fn recv(&mut self) -> Option<BusMessage> {
        match self.inner.recv().await {
            Ok(envelope) => Some(BusMessage::Event(envelope)),
            Err(RecvError::Lagged(missed)) => Some(self.lag(missed)),
            Err(RecvError::Closed) => None,
        }
    }

    /// The next message if one is waiting: `Ok(None)` when none is, `Err(Closed)` once the bus is
    /// gone.
    ///
    /// # Errors
    /// [`Closed`] when the bus was dropped and every held event was read.
    pub fn try_recv(&mut self) -> Result<Option<BusMessage>, Closed> {
        match self.inner.try_recv() {
            Ok(envelope) => Ok(Some(BusMessage::Event(envelope))),
            Err(TryRecvError::Lagged(missed)) => Ok(Some(self.lag(missed))),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Closed) => Err(Closed),
        }
    }

    /// How many events are waiting for this receiver.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Whether no event is waiting.
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// The messages as a stream, ending when the bus is gone.
    pub fn into_stream(self) -> impl Stream<Item = BusMessage> + Send + 'static {
        futures_util::stream::unfold(self, |mut receiver| async move {
            let message = receiver.recv().await?;
            Some((message, receiver))
        })
    }

    fn lag(&self, missed: u64) -> BusMessage {
        self.lagged.increment(missed);
        BusMessage::Lagged { missed }
    }
}

/// The bus behind a [`BusReceiver`] is gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the event bus is closed")]
pub struct Closed;
