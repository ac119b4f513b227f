//! The stream's metrics (`finstage_ws_*`), their handles created once per hub, and the
//! [`StreamStats`] a hub keeps for tests and operators.

use metrics::{Counter, Gauge, Histogram};

use super::protocol::FrameKind;

/// Why a connection ended (the `reason` label of the disconnect counter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// The client closed or dropped the connection.
    Client,
    /// The client fell too far behind (1013).
    Slow,
    /// The client sent an oversized frame (1009) or broke the WebSocket protocol.
    Abusive,
    /// The client stopped answering pings.
    Timeout,
    /// The server is shutting down (1001).
    Shutdown,
}

impl Reason {
    const ALL: [Reason; 5] = [
        Reason::Client,
        Reason::Slow,
        Reason::Abusive,
        Reason::Timeout,
        Reason::Shutdown,
    ];

    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Reason::Client => "client",
            Reason::Slow => "slow",
            Reason::Abusive => "abusive",
            Reason::Timeout => "timeout",
            Reason::Shutdown => "shutdown",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// What a client sent (the `op` label of the received-frames counter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Subscribe,
    Unsubscribe,
    Ping,
    Invalid,
}

impl Op {
    const ALL: [Op; 4] = [Op::Subscribe, Op::Unsubscribe, Op::Ping, Op::Invalid];

    const fn as_str(self) -> &'static str {
        match self {
            Op::Subscribe => "subscribe",
            Op::Unsubscribe => "unsubscribe",
            Op::Ping => "ping",
            Op::Invalid => "invalid",
        }
    }
}

/// Counts of what a hub did since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Open connections.
    pub connections: u64,
    /// Subscriptions held by the open connections.
    pub subscriptions: u64,
    /// Events received from the bus.
    pub events: u64,
    /// Events lost by the hub because it fell behind the bus (each one makes every channel's
    /// sequence skip a number).
    pub bus_lagged: u64,
    /// Events not delivered because a later one of the same channel replaced them.
    pub conflated: u64,
    /// Connections the hub found too slow (an event did not fit, or too many were conflated):
    /// counted when the close starts; `closed_slow` counts them once they are gone.
    pub slow: u64,
    /// Connections closed because the client closed or dropped them.
    pub closed_client: u64,
    /// Connections closed as too slow (1013).
    pub closed_slow: u64,
    /// Connections closed for an oversized frame (1009) or a protocol violation.
    pub closed_abusive: u64,
    /// Connections of clients that stopped answering pings.
    pub closed_timeout: u64,
    /// Connections closed by the shutdown (1001).
    pub closed_shutdown: u64,
}

impl StreamStats {
    pub(crate) fn count_close(&mut self, reason: Reason) {
        let field = match reason {
            Reason::Client => &mut self.closed_client,
            Reason::Slow => &mut self.closed_slow,
            Reason::Abusive => &mut self.closed_abusive,
            Reason::Timeout => &mut self.closed_timeout,
            Reason::Shutdown => &mut self.closed_shutdown,
        };
        *field += 1;
    }
}

/// Handles of every stream metric.
#[derive(Debug, Clone)]
pub(crate) struct StreamMetrics {
    pub(crate) connections: Gauge,
    pub(crate) subscriptions: Gauge,
    pub(crate) conflated: Counter,
    pub(crate) delivery_ms: Histogram,
    sent: Vec<Counter>,
    received: Vec<Counter>,
    disconnects: Vec<Counter>,
}

impl StreamMetrics {
    pub(crate) fn new() -> Self {
        Self {
            connections: metrics::gauge!("finstage_ws_connections"),
            subscriptions: metrics::gauge!("finstage_ws_subscriptions"),
            conflated: metrics::counter!("finstage_ws_conflated_total"),
            delivery_ms: metrics::histogram!("finstage_ws_delivery_milliseconds"),
            sent: FrameKind::ALL
                .iter()
                .map(|kind| metrics::counter!("finstage_ws_messages_sent_total", "kind" => kind.as_str()))
                .collect(),
            received: Op::ALL
                .iter()
                .map(|op| metrics::counter!("finstage_ws_messages_received_total", "op" => op.as_str()))
                .collect(),
            disconnects: Reason::ALL
                .iter()
                .map(|reason| metrics::counter!("finstage_ws_disconnects_total", "reason" => reason.as_str()))
                .collect(),
        }
    }

    pub(crate) fn sent(&self, kind: FrameKind, count: u64) {
        if let Some(counter) = FrameKind::ALL
            .iter()
            .position(|k| *k == kind)
            .and_then(|i| self.sent.get(i))
        {
            counter.increment(count);
        }
    }

    pub(crate) fn received(&self, op: Op) {
        if let Some(counter) = Op::ALL.iter().position(|o| *o == op).and_then(|i| self.received.get(i)) {
            counter.increment(1);
        }
    }

    pub(crate) fn disconnected(&self, reason: Reason) {
        if let Some(counter) = self.disconnects.get(reason.index()) {
            counter.increment(1);
        }
    }
}
