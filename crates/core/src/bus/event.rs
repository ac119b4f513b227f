//! What travels on the bus: [`Event`]s (a quote, a signal, indicator values), each in an
//! [`Envelope`] that names its channel, when it was published and by which instance.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, SubsecRound, TimeDelta, Utc};
use finstage_analysis::{Direction, Signal, SignalKind, Timeframe};
use finstage_domain::{BarTime, Quote, Symbol};
use finstage_indicators::OutputSpec;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{BusError, Channel};

/// Named values (a signal's inputs, an indicator's outputs). A value that is not finite (NaN
/// before an indicator's lookback, say) is `None`, `null` in JSON: JSON has no NaN.
pub type Values = BTreeMap<String, Option<f64>>;

fn finite(value: f64) -> Option<f64> {
    value.is_finite().then_some(value)
}

/// One event. JSON: an object whose `type` is `quote`, `signal` or `indicator`, with the
/// fields of [`QuoteEvent`], [`SignalEvent`] or [`IndicatorEvent`] beside it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A live quote.
    Quote(QuoteEvent),
    /// A signal detected.
    Signal(SignalEvent),
    /// New values of one indicator.
    Indicator(IndicatorEvent),
}

impl Event {
    /// The channel the event belongs to: `quotes:SYM`, `signals:SYM` or
    /// `indicators:SYM:SPEC`.
    pub fn channel(&self) -> Channel {
        match self {
            Event::Quote(quote) => Channel::Quotes(quote.symbol),
            Event::Signal(signal) => Channel::Signals(signal.symbol),
            Event::Indicator(indicator) => Channel::Indicators(indicator.symbol, indicator.spec),
        }
    }

    /// `quote`, `signal` or `indicator` (the JSON `type`).
    pub const fn kind(&self) -> &'static str {
        match self {
            Event::Quote(_) => "quote",
            Event::Signal(_) => "signal",
            Event::Indicator(_) => "indicator",
        }
    }
}

impl From<QuoteEvent> for Event {
    fn from(event: QuoteEvent) -> Self {
        Event::Quote(event)
    }
}

impl From<SignalEvent> for Event {
    fn from(event: SignalEvent) -> Self {
        Event::Signal(event)
    }
}

impl From<IndicatorEvent> for Event {
    fn from(event: IndicatorEvent) -> Self {
        Event::Indicator(event)
    }
}

impl From<&Quote> for Event {
    fn from(quote: &Quote) -> Self {
        Event::Quote(QuoteEvent::from(quote))
    }
}

/// A live quote, as clients see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuoteEvent {
    /// The symbol quoted.
    pub symbol: Symbol,
    /// The latest price.
    pub price: f64,
    /// The previous session's close.
    pub previous_close: Option<f64>,
    /// The change from the previous close, in percent (`1.5` for +1.5 %).
    pub change_percent: Option<f64>,
    /// The session's high.
    pub day_high: Option<f64>,
    /// The session's low.
    pub day_low: Option<f64>,
    /// The session's volume.
    pub volume: Option<u64>,
    /// When the price was observed (UTC, RFC 3339).
    pub time: DateTime<Utc>,
}

impl From<&Quote> for QuoteEvent {
    fn from(quote: &Quote) -> Self {
        QuoteEvent {
            symbol: quote.symbol(),
            price: quote.price(),
            previous_close: quote.previous_close(),
            change_percent: quote.change_percent().and_then(finite),
            day_high: quote.day_high(),
            day_low: quote.day_low(),
            volume: quote.volume(),
            time: quote.time(),
        }
    }
}

/// A detected signal, as clients see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignalEvent {
    /// The stored signal's id, when it has been stored (`null` otherwise).
    pub id: Option<i64>,
    /// The symbol it fired on.
    pub symbol: Symbol,
    /// What fired (`rsi_oversold`, `golden_cross`, …).
    pub kind: SignalKind,
    /// Which way it points.
    pub direction: Direction,
    /// How decisive it was, in `[0, 1]`.
    pub strength: f64,
    /// The price then.
    pub price: f64,
    /// The time of the bar (or quote) that triggered it.
    pub time: BarTime,
    /// The bars it was computed on (`1d`, …).
    pub timeframe: Timeframe,
    /// The values behind it.
    pub values: Values,
}

impl SignalEvent {
    /// The event of `signal`, stored under `id` when known.
    pub fn new(signal: &Signal, id: Option<i64>) -> Self {
        SignalEvent {
            id,
            symbol: signal.symbol,
            kind: signal.kind,
            direction: signal.direction,
            strength: signal.strength,
            price: signal.price,
            time: signal.time,
            timeframe: signal.timeframe,
            values: signal
                .values
                .iter()
                .map(|(name, value)| (name.to_owned(), finite(value)))
                .collect(),
        }
    }
}

impl From<&Signal> for SignalEvent {
    fn from(signal: &Signal) -> Self {
        SignalEvent::new(signal, None)
    }
}

/// New values of one indicator of a symbol, for the bar at `time`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IndicatorEvent {
    /// The symbol.
    pub symbol: Symbol,
    /// The indicator (and output), printed in its full spec form.
    #[serde(with = "spec_text")]
    pub spec: OutputSpec,
    /// The bar the values are for.
    pub time: BarTime,
    /// One value per column of the spec ([`OutputSpec::column_names`]: `rsi:14`, or
    /// `macd:12:26:9.macd`, `….signal`, `….hist`).
    pub values: Values,
}

impl IndicatorEvent {
    /// The event of `values`, one per column of `spec`, in the order of
    /// [`OutputSpec::column_names`].
    ///
    /// # Errors
    /// [`BusError::InvalidEvent`] when the number of values is not the number of columns.
    pub fn new(symbol: Symbol, spec: OutputSpec, time: BarTime, values: &[f64]) -> Result<Self, BusError> {
        let columns = spec.column_names();
        if columns.len() != values.len() {
            return Err(BusError::InvalidEvent(format!(
                "{spec} has {} output(s), {} value(s) given",
                columns.len(),
                values.len()
            )));
        }
        Ok(IndicatorEvent {
            symbol,
            spec,
            time,
            values: columns.into_iter().zip(values.iter().map(|v| finite(*v))).collect(),
        })
    }
}

/// serde of an [`OutputSpec`] as its full spec string.
mod spec_text {
    use super::*;

    pub(super) fn serialize<S: Serializer>(spec: &OutputSpec, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(spec)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<OutputSpec, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The longest instance id, in bytes.
pub const MAX_INSTANCE_ID_LEN: usize = 64;

/// Which process published an envelope: a short name without whitespace (`api-1`,
/// `scheduler-7f3a`), given by the operator or [generated](Self::generate).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceId(String);

impl InstanceId {
    /// Checks `id`: 1 to [`MAX_INSTANCE_ID_LEN`] bytes, no whitespace or control characters.
    ///
    /// # Errors
    /// [`BusError::Config`] naming the problem.
    pub fn new(id: impl Into<String>) -> Result<Self, BusError> {
        let id = id.into();
        let problem = if id.is_empty() {
            "is empty"
        } else if id.len() > MAX_INSTANCE_ID_LEN {
            "is longer than 64 bytes"
        } else if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
            "contains whitespace or a control character"
        } else {
            return Ok(InstanceId(id));
        };
        let shown: String = id.chars().take(40).collect();
        Err(BusError::Config(format!("the instance id {shown:?} {problem}")))
    }

    /// `{prefix}-{process id}-{hex of the start time's nanoseconds}`: unique enough to tell the
    /// instances of a deployment apart. `prefix` is cut to 32 bytes and loses whitespace.
    pub fn generate(prefix: &str) -> Self {
        let prefix: String = prefix
            .chars()
            .filter(|c| !c.is_whitespace() && !c.is_control())
            .scan(0, |len, c| {
                *len += c.len_utf8();
                (*len <= 32).then_some(c)
            })
            .collect();
        let nanos = Utc::now().timestamp_subsec_nanos();
        let pid = std::process::id();
        if prefix.is_empty() {
            InstanceId(format!("{pid}-{nanos:x}"))
        } else {
            InstanceId(format!("{prefix}-{pid}-{nanos:x}"))
        }
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for InstanceId {
    type Err = BusError;

    fn from_str(s: &str) -> Result<Self, BusError> {
        InstanceId::new(s)
    }
}

impl Serialize for InstanceId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for InstanceId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        InstanceId::new(text).map_err(serde::de::Error::custom)
    }
}

/// One published event with what the bus and its readers need around it.
///
/// JSON (what Redis carries):
/// `{"channel":"quotes:AAPL","event":{"type":"quote",…},"published_at":"2026-11-02T14:30:00.123456Z","origin":"api-1"}`.
/// `published_at` is UTC with exactly six fractional digits (microseconds): load tools measure
/// publish-to-receive latency from it. The channel is always the event's own
/// ([`Event::channel`]); an envelope whose channel disagrees with its event does not
/// deserialize. Per-channel sequence numbers are not here: each API instance numbers what it
/// delivers to its WebSocket clients.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Envelope {
    channel: Channel,
    event: Event,
    #[serde(serialize_with = "serialize_micros")]
    published_at: DateTime<Utc>,
    origin: InstanceId,
}

impl Envelope {
    /// `event` published by `origin` at `published_at` (truncated to microseconds, which is what
    /// JSON carries).
    pub fn new(event: impl Into<Event>, origin: InstanceId, published_at: DateTime<Utc>) -> Self {
        let event = event.into();
        Envelope {
            channel: event.channel(),
            event,
            published_at: published_at.trunc_subsecs(6),
            origin,
        }
    }

    /// `event` published by `origin` now (the system clock).
    pub fn now(event: impl Into<Event>, origin: InstanceId) -> Self {
        Envelope::new(event, origin, Utc::now())
    }

    /// The event's channel.
    pub fn channel(&self) -> &Channel {
        &self.channel
    }

    /// The event.
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// When it was published (UTC, microseconds).
    pub fn published_at(&self) -> DateTime<Utc> {
        self.published_at
    }

    /// The instance that published it.
    pub fn origin(&self) -> &InstanceId {
        &self.origin
    }

    /// Time from publishing to `now` (negative if the clocks of two hosts disagree).
    pub fn age_at(&self, now: DateTime<Utc>) -> TimeDelta {
        now - self.published_at
    }

    /// The envelope's JSON.
    ///
    /// # Errors
    /// [`BusError::Encode`] if serde_json refuses it (it does not for the types here).
    pub fn to_json(&self) -> Result<String, BusError> {
        serde_json::to_string(self).map_err(|e| BusError::Encode(e.to_string()))
    }
}

fn serialize_micros<S: Serializer>(time: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&time.to_rfc3339_opts(SecondsFormat::Micros, true))
}

/// The wire form, checked into an [`Envelope`].
/// Unknown fields are ignored, so that an older instance reads a newer one's envelopes during a
/// rolling upgrade.
#[derive(Deserialize)]
struct RawEnvelope {
    channel: Channel,
    event: Event,
    published_at: DateTime<Utc>,
    origin: InstanceId,
}

impl<'de> Deserialize<'de> for Envelope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawEnvelope::deserialize(deserializer)?;
        let own = raw.event.channel();
        if raw.channel != own {
            return Err(serde::de::Error::custom(format_args!(
                "the envelope's channel {} is not its event's ({own})",
                raw.channel
            )));
        }
        Ok(Envelope {
            channel: own,
            event: raw.event,
            published_at: raw.published_at.trunc_subsecs(6),
            origin: raw.origin,
        })
    }
}
