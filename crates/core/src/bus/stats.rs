//! The bus metrics, their handles created once per bus (so a test's local recorder sees them).

use metrics::{Counter, Gauge, Histogram};

/// Why something went wrong, the `kind` label of `finstage_bus_errors_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    /// A publish found Redis unreachable or refusing.
    Unavailable,
    /// A publish got no answer within its deadline.
    Timeout,
    /// An envelope did not encode.
    Encode,
    /// A message from Redis did not decode (skipped).
    Malformed,
    /// The subscription connection was lost, or could not be set up.
    Subscription,
}

/// Handles of every bus metric for one backend.
#[derive(Clone, Debug)]
pub(crate) struct BusMetrics {
    pub(crate) published: Counter,
    pub(crate) received: Counter,
    pub(crate) lagged: Counter,
    pub(crate) lost: Counter,
    pub(crate) publish_seconds: Histogram,
    unavailable: Counter,
    timeout: Counter,
    encode: Counter,
    malformed: Counter,
    subscription: Counter,
}

impl BusMetrics {
    pub(crate) fn new(backend: &'static str) -> Self {
        let error =
            |kind: &'static str| metrics::counter!("finstage_bus_errors_total", "backend" => backend, "kind" => kind);
        BusMetrics {
            published: metrics::counter!("finstage_bus_published_total", "backend" => backend),
            received: metrics::counter!("finstage_bus_received_total", "backend" => backend),
            lagged: metrics::counter!("finstage_bus_lagged_total", "backend" => backend),
            lost: metrics::counter!("finstage_bus_lost_total", "backend" => backend),
            publish_seconds: metrics::histogram!("finstage_bus_publish_seconds", "backend" => backend),
            unavailable: error("unavailable"),
            timeout: error("timeout"),
            encode: error("encode"),
            malformed: error("malformed"),
            subscription: error("subscription"),
        }
    }

    pub(crate) fn error(&self, kind: ErrorKind) {
        match kind {
            ErrorKind::Unavailable => &self.unavailable,
            ErrorKind::Timeout => &self.timeout,
            ErrorKind::Encode => &self.encode,
            ErrorKind::Malformed => &self.malformed,
            ErrorKind::Subscription => &self.subscription,
        }
        .increment(1);
    }
}

/// The Redis subscription's state.
#[derive(Clone, Debug)]
pub(crate) struct SubscriptionMetrics {
    pub(crate) subscribed: Gauge,
    pub(crate) reconnects: Counter,
}

impl SubscriptionMetrics {
    pub(crate) fn new(backend: &'static str) -> Self {
        SubscriptionMetrics {
            subscribed: metrics::gauge!("finstage_bus_subscribed", "backend" => backend),
            reconnects: metrics::counter!("finstage_bus_reconnects_total", "backend" => backend),
        }
    }
}
