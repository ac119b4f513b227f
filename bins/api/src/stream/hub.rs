//! [`StreamHub`]: one subscription to the event bus, fanned out to the connections subscribed to
//! each channel, with per-channel sequence numbers and the latest events kept for snapshots.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use finstage_core::bus::{BusMessage, BusReceiver, Channel, ChannelKind, Envelope, Event, EventBus, Subscription};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::metrics::{Reason, StreamMetrics, StreamStats};
use super::options::{StreamOptions, StreamOptionsError};
use super::outbox::{Close, ConnId, Outbox, Pushed};
use super::protocol::{self, FrameKind, Refusal, Rendered};

/// Most bus messages the hub handles under one lock.
const MAX_BATCH: usize = 1024;

/// Why a hub could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// An option is unusable.
    #[error(transparent)]
    Options(#[from] StreamOptionsError),
    /// [`StreamHub::new`] was called outside a tokio runtime.
    #[error("StreamHub::new must be called inside a tokio runtime")]
    NoRuntime,
}

/// The WebSocket side of the event bus, shared by every connection of an API instance (cheap to
/// clone).
///
/// - **One bus subscription per hub**: a task reads the bus and, for each event, renders its
///   frame once and pushes it to the connections subscribed to its channel (and, for a signal,
///   to those subscribed to `signals:*`): O(subscribers of the channel) per event, never a
///   subscription per connection.
/// - **Sequence numbers per channel**, assigned here: every client of a channel sees the same
///   numbers, consecutive unless events were lost (conflation for that client, or the hub
///   falling behind the bus, which makes every channel skip a number).
/// - **Snapshots**: the latest quote or indicator value of each channel, and the latest
///   [`StreamOptions::snapshot_signals`] signals of each symbol, are kept and sent on subscribe
///   with the channel's current sequence number, under the same lock as the fan-out, so that
///   the next update a client gets is the snapshot's number plus one.
/// - Each connection has a bounded [`Outbox`]; see [`StreamOptions`] for what happens when a
///   client is slow.
#[derive(Debug, Clone)]
pub struct StreamHub {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<HubState>,
    options: StreamOptions,
    backend: &'static str,
    metrics: StreamMetrics,
    next_id: AtomicU64,
    stats: watch::Sender<StreamStats>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = self.task.get_mut().unwrap_or_else(PoisonError::into_inner).take() {
            task.abort();
        }
    }
}

#[derive(Debug, Default)]
struct ChannelState {
    /// The number of the channel's last event (0: none yet).
    seq: u64,
    /// The latest quote or indicator event.
    latest: Option<Arc<Envelope>>,
    /// The latest signals, oldest first.
    signals: VecDeque<Arc<Envelope>>,
    subscribers: HashMap<ConnId, Arc<Outbox>>,
}

impl ChannelState {
    fn snapshot(&self, channel: &Channel) -> protocol::Frame {
        match channel.kind() {
            ChannelKind::Signals => protocol::snapshot_signals(channel, self.seq, self.signals.iter().map(|e| &**e)),
            _ => protocol::snapshot_one(channel, self.seq, self.latest.as_deref()),
        }
    }

    fn is_idle(&self) -> bool {
        self.subscribers.is_empty() && self.seq == 0
    }
}

#[derive(Debug, Default)]
struct HubState {
    channels: HashMap<Channel, ChannelState>,
    all_signals: HashMap<ConnId, Arc<Outbox>>,
    connections: HashMap<ConnId, Arc<Outbox>>,
    subscriptions: u64,
    shut_down: bool,
}

impl StreamHub {
    /// A hub reading `bus` (subscribed before this returns: every event published from now on
    /// reaches it). Must be called inside a tokio runtime (it spawns the hub's task there).
    ///
    /// # Errors
    /// [`StreamError::Options`] for an unusable option, [`StreamError::NoRuntime`].
    pub fn new(bus: Arc<dyn EventBus>, options: StreamOptions) -> Result<Self, StreamError> {
        options.validate()?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| StreamError::NoRuntime)?;
        let receiver = bus.subscribe();
        let inner = Arc::new(Inner {
            state: Mutex::new(HubState::default()),
            options,
            backend: bus.backend(),
            metrics: StreamMetrics::new(),
            next_id: AtomicU64::new(1),
            stats: watch::Sender::new(StreamStats::default()),
            task: Mutex::new(None),
        });
        inner.metrics.connections.set(0.0);
        inner.metrics.subscriptions.set(0.0);
        let task = runtime.spawn(run(Arc::downgrade(&inner), receiver, bus));
        *inner.task.lock().unwrap_or_else(PoisonError::into_inner) = Some(task);
        Ok(Self { inner })
    }

    /// The options in force.
    pub fn options(&self) -> &StreamOptions {
        &self.inner.options
    }

    /// The bus backend it reads (`local` or `redis`).
    pub fn backend(&self) -> &'static str {
        self.inner.backend
    }

    /// What the hub has done so far.
    pub fn stats(&self) -> StreamStats {
        *self.inner.stats.borrow()
    }

    /// Waits until `condition` holds for the stats (checked now and at every change), for at most
    /// `timeout`.
    ///
    /// # Errors
    /// The last stats seen, when the condition did not hold in time.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        mut condition: impl FnMut(&StreamStats) -> bool,
    ) -> Result<StreamStats, StreamStats> {
        let mut stats = self.inner.stats.subscribe();
        match tokio::time::timeout(timeout, stats.wait_for(|s| condition(s))).await {
            Ok(Ok(stats)) => Ok(*stats),
            _ => Err(self.stats()),
        }
    }

    /// Closes every connection with 1001 (`server shutting down`) and refuses new ones the same
    /// way; waits until they are gone, for at most `timeout`. Returns how many are left.
    pub async fn shutdown(&self, timeout: Duration) -> u64 {
        let outboxes: Vec<Arc<Outbox>> = {
            let mut state = self.inner.lock();
            state.shut_down = true;
            state.connections.values().cloned().collect()
        };
        for outbox in outboxes {
            outbox.close(Close::shutdown());
        }
        match self.wait_for(timeout, |s| s.connections == 0).await {
            Ok(_) => 0,
            Err(stats) => stats.connections,
        }
    }

    pub(super) fn metrics(&self) -> &StreamMetrics {
        &self.inner.metrics
    }

    /// A new connection's outbox; `None` once the hub is shut down.
    pub(super) fn register(&self) -> Option<Arc<Outbox>> {
        let mut state = self.inner.lock();
        if state.shut_down {
            return None;
        }
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let outbox = Arc::new(Outbox::new(
            id,
            self.inner.options.send_queue,
            self.inner.options.max_conflated,
        ));
        state.connections.insert(id, outbox.clone());
        let connections = state.connections.len();
        drop(state);
        self.inner.metrics.connections.set(connections as f64);
        self.inner.stats.send_modify(|s| s.connections = connections as u64);
        Some(outbox)
    }

    /// Forgets a connection that ended for `reason`.
    pub(super) fn unregister(&self, outbox: &Outbox, reason: Reason) {
        let mut state = self.inner.lock();
        state.connections.remove(&outbox.id);
        let held: Vec<Subscription> = outbox.with_subscriptions(|subs| subs.drain().collect());
        for subscription in &held {
            state.remove_subscriber(subscription, outbox.id);
        }
        state.subscriptions = state.subscriptions.saturating_sub(held.len() as u64);
        let (connections, subscriptions) = (state.connections.len(), state.subscriptions);
        drop(state);
        self.inner.metrics.disconnected(reason);
        self.inner.metrics.connections.set(connections as f64);
        self.inner.metrics.subscriptions.set(subscriptions as f64);
        self.inner.stats.send_modify(|s| {
            s.connections = connections as u64;
            s.subscriptions = subscriptions;
            s.count_close(reason);
        });
    }

    /// Subscribes a connection: answers `subscribed`, then one snapshot per channel (for
    /// `signals:*`, one per symbol with signals), all before any later event of those channels.
    pub(super) fn subscribe(&self, outbox: &Arc<Outbox>, requested: &[Subscription]) -> Result<(), Refusal> {
        let max = self.inner.options.max_channels;
        let mut state = self.inner.lock();
        let (held, new) =
            outbox.with_subscriptions(|subs| (subs.len(), requested.iter().filter(|s| !subs.contains(s)).count()));
        if held + new > max {
            return Err(Refusal::new(
                "too_many_channels",
                format!("at most {max} channels per connection: {held} held, {new} more asked"),
            ));
        }
        if !outbox.push_answer(protocol::subscribed(requested)) {
            return Ok(());
        }
        for subscription in requested {
            match subscription {
                Subscription::Channel(channel) => {
                    let entry = state.channels.entry(*channel).or_default();
                    entry.subscribers.insert(outbox.id, outbox.clone());
                    outbox.push_event(channel, entry.snapshot(channel), true);
                }
                Subscription::AllSignals => {
                    state.all_signals.insert(outbox.id, outbox.clone());
                    for (channel, entry) in &state.channels {
                        if channel.kind() == ChannelKind::Signals && !entry.signals.is_empty() {
                            outbox.push_event(channel, entry.snapshot(channel), true);
                        }
                    }
                }
            }
        }
        outbox.with_subscriptions(|subs| subs.extend(requested.iter().copied()));
        state.subscriptions += new as u64;
        let subscriptions = state.subscriptions;
        drop(state);
        self.inner.metrics.subscriptions.set(subscriptions as f64);
        self.inner.stats.send_modify(|s| s.subscriptions = subscriptions);
        Ok(())
    }

    /// Unsubscribes a connection and answers `unsubscribed` with the channels it held.
    pub(super) fn unsubscribe(&self, outbox: &Arc<Outbox>, requested: &[Subscription]) {
        let mut state = self.inner.lock();
        let removed: Vec<Subscription> =
            outbox.with_subscriptions(|subs| requested.iter().filter(|s| subs.remove(s)).copied().collect());
        for subscription in &removed {
            state.remove_subscriber(subscription, outbox.id);
        }
        state.subscriptions = state.subscriptions.saturating_sub(removed.len() as u64);
        let subscriptions = state.subscriptions;
        // Under the lock: no event of these channels can follow the answer.
        outbox.push_answer(protocol::unsubscribed(&removed));
        drop(state);
        self.inner.metrics.subscriptions.set(subscriptions as f64);
        self.inner.stats.send_modify(|s| s.subscriptions = subscriptions);
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Fans a batch of bus messages out.
    fn dispatch(&self, batch: &mut Vec<BusMessage>) {
        // Rendered outside the lock; only the sequence number is added under it.
        // `None` stands for events the hub missed.
        let rendered: Vec<Option<(Arc<Envelope>, Rendered)>> = batch
            .drain(..)
            .filter_map(|message| match message {
                BusMessage::Event(envelope) => match Rendered::new(&envelope) {
                    Ok(rendered) => Some(Some((envelope, rendered))),
                    Err(error) => {
                        tracing::warn!(channel = %envelope.channel(), %error, "cannot render an event; skipped");
                        None
                    }
                },
                BusMessage::Lagged { missed } => {
                    tracing::warn!(
                        missed,
                        "the stream hub fell behind the event bus; every channel skips a number"
                    );
                    Some(None)
                }
            })
            .collect();
        let keep = self.options.snapshot_signals;
        let (mut events, mut lagged, mut conflated, mut slow) = (0u64, 0u64, 0u64, 0u64);
        let mut state = self.lock();
        let HubState {
            channels, all_signals, ..
        } = &mut *state;
        for item in rendered {
            let Some((envelope, rendered)) = item else {
                lagged += 1;
                for entry in channels.values_mut() {
                    entry.seq += 1;
                }
                continue;
            };
            events += 1;
            let channel = *envelope.channel();
            let entry = channels.entry(channel).or_default();
            entry.seq += 1;
            let frame = rendered.frame(entry.seq);
            let signal = rendered.kind() == FrameKind::Signal;
            let mut push = |outbox: &Outbox| match outbox.push_event(&channel, frame.clone(), !signal) {
                Pushed::Conflated => conflated += 1,
                Pushed::Closed => slow += 1,
                Pushed::Queued | Pushed::Ignored => {}
            };
            if signal {
                for outbox in all_signals.values() {
                    push(outbox);
                }
                for (id, outbox) in &entry.subscribers {
                    if !all_signals.contains_key(id) {
                        push(outbox);
                    }
                }
            } else {
                for outbox in entry.subscribers.values() {
                    push(outbox);
                }
            }
            match envelope.event() {
                Event::Signal(_) => {
                    if keep > 0 {
                        if entry.signals.len() >= keep {
                            entry.signals.pop_front();
                        }
                        entry.signals.push_back(envelope);
                    }
                }
                _ => entry.latest = Some(envelope),
            }
        }
        drop(state);
        if conflated > 0 {
            self.metrics.conflated.increment(conflated);
        }
        self.stats.send_modify(|s| {
            s.events += events;
            s.bus_lagged += lagged;
            s.conflated += conflated;
            s.slow += slow;
        });
    }
}

impl HubState {
    fn remove_subscriber(&mut self, subscription: &Subscription, id: ConnId) {
        match subscription {
            Subscription::Channel(channel) => {
                if let Some(entry) = self.channels.get_mut(channel) {
                    entry.subscribers.remove(&id);
                    // A channel that never had an event is forgotten with its last subscriber, so
                    // that clients cannot grow the map with names nobody publishes.
                    if entry.is_idle() {
                        self.channels.remove(channel);
                    }
                }
            }
            Subscription::AllSignals => {
                self.all_signals.remove(&id);
            }
        }
    }
}

/// The hub's task: reads the bus until it closes or the hub is dropped.
async fn run(hub: Weak<Inner>, mut receiver: BusReceiver, bus: Arc<dyn EventBus>) {
    // The task holds the bus: a hub keeps its bus alive as long as it runs.
    let _bus = bus;
    let mut batch = Vec::with_capacity(64);
    loop {
        let Some(first) = receiver.recv().await else {
            tracing::warn!("the event bus closed; the stream hub stops");
            return;
        };
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(Some(message)) => batch.push(message),
                _ => break,
            }
        }
        let Some(inner) = hub.upgrade() else { return };
        inner.dispatch(&mut batch);
    }
}
