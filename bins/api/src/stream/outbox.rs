//! [`Outbox`]: one connection's bounded send queue, with conflation of quotes and indicator
//! values when it is full, and the close that ends the connection.

use std::collections::{HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use actix_web::web::Bytes;
use actix_ws::CloseCode;
use finstage_core::bus::{Channel, Subscription};
use tokio::sync::Notify;

use super::metrics::Reason;
use super::protocol::Frame;

/// A connection's number within its hub.
pub(crate) type ConnId = u64;

/// How and why a connection is being closed.
#[derive(Debug, Clone)]
pub(crate) struct Close {
    pub(crate) code: CloseCode,
    pub(crate) message: String,
    pub(crate) reason: Reason,
    /// Drop what is queued (the client is gone, misbehaves, or the server stops) instead of
    /// sending it before the close frame.
    pub(crate) discard: bool,
}

impl Close {
    pub(crate) fn new(code: CloseCode, reason: Reason, message: impl Into<String>, discard: bool) -> Self {
        Self {
            code,
            message: message.into(),
            reason,
            discard,
        }
    }

    pub(crate) fn shutdown() -> Self {
        Self::new(CloseCode::Away, Reason::Shutdown, "server shutting down", true)
    }

    fn slow(why: String) -> Self {
        Self::new(CloseCode::Again, Reason::Slow, format!("too slow: {why}"), false)
    }
}

/// What the writer sends next.
#[derive(Debug, Clone)]
pub(crate) enum Outgoing {
    Text(Frame),
    Ping,
    Pong(Bytes),
}

/// What became of an event pushed into an outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Queued (or set aside to be sent when there is room).
    Queued,
    /// It replaced an earlier event of its channel the client never got.
    Conflated,
    /// The connection is closing: nothing more is queued.
    Ignored,
    /// It did not fit, or it was one conflated event too many: the connection is now closing as
    /// too slow.
    Closed,
}

/// The latest event of a channel set aside while the queue is full.
#[derive(Debug)]
struct Pending {
    channel: Channel,
    frame: Frame,
    /// How many earlier events of the channel it replaced.
    skipped: u64,
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<Outgoing>,
    pending: Vec<Pending>,
    /// Events lost to conflation since the queue last drained.
    skipped: u64,
    close: Option<Close>,
    subscriptions: HashSet<Subscription>,
}

/// One connection's send queue, shared by the hub (which pushes events), the connection's reader
/// (answers) and its writer (which drains it into the socket).
#[derive(Debug)]
pub(crate) struct Outbox {
    pub(crate) id: ConnId,
    state: Mutex<State>,
    /// Wakes the writer.
    wake: Notify,
    /// Wakes the reader when the connection is to close.
    closing: Notify,
    capacity: usize,
    max_conflated: u64,
}

impl Outbox {
    pub(crate) fn new(id: ConnId, capacity: usize, max_conflated: u64) -> Self {
        Self {
            id,
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            closing: Notify::new(),
            capacity,
            max_conflated,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets the close (the first one wins) while the state is locked; returns whether it was set.
    fn close_locked(state: &mut State, close: Close) -> bool {
        if state.close.is_some() {
            return false;
        }
        if close.discard {
            state.queue.clear();
            state.pending.clear();
        }
        state.close = Some(close);
        true
    }

    fn closed_now(&self) {
        self.wake.notify_one();
        self.closing.notify_one();
    }

    /// Starts closing the connection: the writer sends what is queued (unless `discard`), then
    /// the close frame. Returns `false` if it was already closing.
    pub(crate) fn close(&self, close: Close) -> bool {
        let set = Self::close_locked(&mut self.lock(), close);
        if set {
            self.closed_now();
        }
        set
    }

    /// Why the connection is closing, if it is.
    pub(crate) fn closing_reason(&self) -> Option<Reason> {
        self.lock().close.as_ref().map(|close| close.reason)
    }

    /// Whether the connection is closing.
    pub(crate) fn is_closing(&self) -> bool {
        self.lock().close.is_some()
    }

    /// Queues an event frame of `channel`. A `conflatable` one (quote, indicator, snapshot)
    /// that finds the queue full is set aside as its channel's latest, replacing the one set aside
    /// before; one that is not (a signal) closes the connection.
    pub(crate) fn push_event(&self, channel: &Channel, frame: Frame, conflatable: bool) -> Pushed {
        let mut state = self.lock();
        if state.close.is_some() {
            return Pushed::Ignored;
        }
        let result = if let Some(pending) = state.pending.iter_mut().find(|p| p.channel == *channel) {
            // Once a channel has an event set aside, its later events go there too, so that the
            // client never gets a channel's events out of order.
            if conflatable {
                pending.frame = frame;
                pending.skipped += 1;
                state.skipped += 1;
                Pushed::Conflated
            } else {
                // A signal behind a snapshot set aside: it cannot go before it, nor replace it.
                Pushed::Closed
            }
        } else if state.queue.len() < self.capacity {
            state.queue.push_back(Outgoing::Text(frame));
            Pushed::Queued
        } else if conflatable {
            state.pending.push(Pending {
                channel: *channel,
                frame,
                skipped: 0,
            });
            Pushed::Queued
        } else {
            Pushed::Closed
        };
        let close = match result {
            Pushed::Closed => Some(Close::slow(format!(
                "the send queue of {} frames is full",
                self.capacity
            ))),
            Pushed::Conflated if state.skipped > self.max_conflated => Some(Close::slow(format!(
                "more than {} events conflated",
                self.max_conflated
            ))),
            _ => None,
        };
        let closed = close.is_some_and(|close| Self::close_locked(&mut state, close));
        drop(state);
        if closed {
            self.closed_now();
            return Pushed::Closed;
        }
        self.wake.notify_one();
        result
    }

    /// Queues an answer to the client (`subscribed`, `error`, `pong`). Returns `false` if it did
    /// not fit (the connection is then closing as too slow) or the connection is closing.
    pub(crate) fn push_answer(&self, frame: Frame) -> bool {
        let mut state = self.lock();
        if state.close.is_some() {
            return false;
        }
        if state.queue.len() < self.capacity {
            state.queue.push_back(Outgoing::Text(frame));
            drop(state);
            self.wake.notify_one();
            return true;
        }
        let closed = Self::close_locked(
            &mut state,
            Close::slow(format!("the send queue of {} frames is full", self.capacity)),
        );
        drop(state);
        if closed {
            self.closed_now();
        }
        false
    }

    /// Queues a WebSocket control frame, unless the queue is full (a client that far behind
    /// answers no ping anyway) or the connection is closing.
    pub(crate) fn push_control(&self, item: Outgoing) {
        let mut state = self.lock();
        if state.close.is_none() && state.queue.len() < self.capacity {
            state.queue.push_back(item);
            drop(state);
            self.wake.notify_one();
        }
    }

    /// Moves everything to send into `out` (the queue, then the events set aside, marked when
    /// they replaced others). When there is nothing left to send, returns the close, if any.
    pub(crate) fn take(&self, out: &mut Vec<Outgoing>) -> Option<Close> {
        let mut state = self.lock();
        out.extend(state.queue.drain(..));
        for pending in state.pending.drain(..) {
            let frame = if pending.skipped > 0 {
                pending.frame.conflated()
            } else {
                pending.frame
            };
            out.push(Outgoing::Text(frame));
        }
        state.skipped = 0;
        if out.is_empty() { state.close.clone() } else { None }
    }

    /// Waits until there may be something to take.
    pub(crate) async fn wait(&self) {
        self.wake.notified().await;
    }

    /// Waits until the connection is to close.
    pub(crate) async fn wait_closing(&self) {
        loop {
            if self.is_closing() {
                return;
            }
            self.closing.notified().await;
        }
    }

    /// Runs `f` on the connection's subscriptions.
    pub(crate) fn with_subscriptions<T>(&self, f: impl FnOnce(&mut HashSet<Subscription>) -> T) -> T {
        f(&mut self.lock().subscriptions)
    }
}

#[cfg(test)]
mod tests {
    use actix_web::web::Bytes;

    use super::super::protocol::{Frame, FrameKind};
    use super::*;

    fn quote(n: u64) -> Frame {
        Frame {
            text: Bytes::from(format!("{{\"seq\":{n}}}")),
            kind: FrameKind::Quote,
            published_at: None,
        }
    }

    fn texts(items: &[Outgoing]) -> Vec<String> {
        items
            .iter()
            .map(|item| match item {
                Outgoing::Text(frame) => String::from_utf8_lossy(&frame.text).into_owned(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_full_queue_conflates_per_channel_then_closes() {
        let channel: Channel = "quotes:AAPL".parse().unwrap();
        let other: Channel = "quotes:MSFT".parse().unwrap();
        let outbox = Outbox::new(1, 2, 3);
        assert_eq!(outbox.push_event(&channel, quote(1), true), Pushed::Queued);
        assert_eq!(outbox.push_event(&other, quote(1), true), Pushed::Queued);
        assert_eq!(outbox.push_event(&channel, quote(2), true), Pushed::Queued);
        assert_eq!(outbox.push_event(&channel, quote(3), true), Pushed::Conflated);
        let mut out = Vec::new();
        assert!(outbox.take(&mut out).is_none());
        assert_eq!(
            texts(&out),
            [r#"{"seq":1}"#, r#"{"seq":1}"#, r#"{"seq":3,"conflated":true}"#]
        );
        // After draining, conflation counts start again; past the limit, the connection closes.
        out.clear();
        for n in 4..=6 {
            outbox.push_event(&channel, quote(n), true);
        }
        for n in 7..=9 {
            assert_eq!(outbox.push_event(&channel, quote(n), true), Pushed::Conflated);
        }
        assert!(!outbox.is_closing());
        assert_eq!(outbox.push_event(&channel, quote(10), true), Pushed::Closed);
        assert!(outbox.is_closing());
        assert_eq!(outbox.push_event(&channel, quote(11), true), Pushed::Ignored);
        assert!(outbox.take(&mut out).is_none(), "the queue is sent before the close");
        assert_eq!(
            texts(&out).last().map(String::as_str),
            Some(r#"{"seq":10,"conflated":true}"#)
        );
        out.clear();
        let close = outbox.take(&mut out).unwrap();
        assert_eq!(close.reason, Reason::Slow);
        assert_eq!(close.code, CloseCode::Again);
    }

    #[test]
    fn a_signal_that_does_not_fit_closes() {
        let channel: Channel = "signals:AAPL".parse().unwrap();
        let outbox = Outbox::new(1, 1, 100);
        assert_eq!(outbox.push_event(&channel, quote(1), false), Pushed::Queued);
        assert_eq!(outbox.push_event(&channel, quote(2), false), Pushed::Closed);
        assert!(outbox.is_closing());
    }
}
