//! The wire protocol of `/v1/stream`: client requests parsed into [`Request`]s (or a
//! [`Refusal`], sent back as an `error` frame) and the server's frames rendered as JSON text.

use actix_web::web::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use finstage_core::bus::{Channel, ChannelError, Envelope, Event, Subscription};
use serde::Serialize;
use serde_json::Value;

/// A client request, checked.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Request {
    /// `{"op":"subscribe","channels":[…]}`: the channels, normalised and without repeats.
    Subscribe(Vec<Subscription>),
    /// `{"op":"unsubscribe","channels":[…]}`.
    Unsubscribe(Vec<Subscription>),
    /// `{"op":"ping"}`.
    Ping,
}

/// Why a client frame was refused: the `code` and `message` of the `error` frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl Refusal {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// How many characters of a client's text an error message repeats.
const ECHO_CHARS: usize = 40;

/// `text` shortened to [`ECHO_CHARS`] characters (then `…`), for an error message (JSON-escaped
/// when the frame is rendered).
fn echo(text: &str) -> String {
    let mut out: String = text.chars().take(ECHO_CHARS).collect();
    if text.chars().nth(ECHO_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// Parses one text frame of a client.
pub(crate) fn parse_request(text: &str) -> Result<Request, Refusal> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| Refusal::new("malformed_json", format!("the frame is not valid JSON: {e}")))?;
    let Value::Object(object) = value else {
        return Err(Refusal::new(
            "invalid_frame",
            "a frame is a JSON object with an \"op\" (subscribe, unsubscribe, ping)",
        ));
    };
    let op = match object.get("op") {
        Some(Value::String(op)) => op.as_str(),
        Some(_) => return Err(Refusal::new("invalid_frame", "\"op\" must be a string")),
        None => {
            return Err(Refusal::new(
                "invalid_frame",
                "the frame has no \"op\" (subscribe, unsubscribe, ping)",
            ));
        }
    };
    match op {
        "ping" => Ok(Request::Ping),
        "subscribe" => channels(object.get("channels"), op).map(Request::Subscribe),
        "unsubscribe" => channels(object.get("channels"), op).map(Request::Unsubscribe),
        other => Err(Refusal::new(
            "unknown_op",
            format!(
                "unknown op \"{}\" (expected subscribe, unsubscribe or ping)",
                echo(other)
            ),
        )),
    }
}

fn channels(value: Option<&Value>, op: &str) -> Result<Vec<Subscription>, Refusal> {
    let Some(Value::Array(items)) = value else {
        return Err(Refusal::new(
            "invalid_frame",
            format!("{op} needs \"channels\": an array of channel names"),
        ));
    };
    if items.is_empty() {
        return Err(Refusal::new(
            "invalid_frame",
            format!("{op} needs at least one channel"),
        ));
    }
    let mut out: Vec<Subscription> = Vec::with_capacity(items.len());
    for item in items {
        let Value::String(name) = item else {
            return Err(Refusal::new("invalid_frame", "channel names are strings"));
        };
        let subscription = Subscription::parse(name).map_err(|e| channel_refusal(&e))?;
        if !out.contains(&subscription) {
            out.push(subscription);
        }
    }
    Ok(out)
}

/// `unknown_channel` for a kind or pattern the server does not have, `invalid_channel` for the
/// rest; the message is the channel error's (already shortened and escaped).
fn channel_refusal(error: &ChannelError) -> Refusal {
    let code = match error {
        ChannelError::UnknownKind { .. } | ChannelError::UnsupportedPattern { .. } => "unknown_channel",
        _ => "invalid_channel",
    };
    Refusal::new(code, error.to_string())
}

/// The kinds of frame the server sends (the `kind` label of the sent-frames counter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameKind {
    Snapshot,
    Quote,
    Signal,
    Indicator,
    Subscribed,
    Unsubscribed,
    Pong,
    Error,
}

impl FrameKind {
    pub(crate) const ALL: [FrameKind; 8] = [
        FrameKind::Snapshot,
        FrameKind::Quote,
        FrameKind::Signal,
        FrameKind::Indicator,
        FrameKind::Subscribed,
        FrameKind::Unsubscribed,
        FrameKind::Pong,
        FrameKind::Error,
    ];

    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            FrameKind::Snapshot => "snapshot",
            FrameKind::Quote => "quote",
            FrameKind::Signal => "signal",
            FrameKind::Indicator => "indicator",
            FrameKind::Subscribed => "subscribed",
            FrameKind::Unsubscribed => "unsubscribed",
            FrameKind::Pong => "pong",
            FrameKind::Error => "error",
        }
    }

    fn of(event: &Event) -> Self {
        match event {
            Event::Quote(_) => FrameKind::Quote,
            Event::Signal(_) => FrameKind::Signal,
            Event::Indicator(_) => FrameKind::Indicator,
        }
    }
}

/// One rendered text frame, shared by every connection it goes to (cloning is a reference count).
#[derive(Debug, Clone)]
pub(crate) struct Frame {
    pub(crate) text: Bytes,
    pub(crate) kind: FrameKind,
    /// When its event was published (for the delivery-time histogram).
    pub(crate) published_at: Option<DateTime<Utc>>,
}

impl Frame {
    fn control(kind: FrameKind, value: &impl Serialize) -> Self {
        // The values rendered here are strings and numbers: serialisation cannot fail.
        let text = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
        Self {
            text: Bytes::from(text),
            kind,
            published_at: None,
        }
    }

    /// The same frame with `"conflated":true` as its last field: later events of its channel
    /// replaced earlier ones the client never received.
    pub(crate) fn conflated(&self) -> Self {
        let mut text = Vec::with_capacity(self.text.len() + 18);
        match self.text.strip_suffix(b"}") {
            Some(body) => {
                text.extend_from_slice(body);
                text.extend_from_slice(b",\"conflated\":true}");
            }
            None => text.extend_from_slice(&self.text),
        }
        Self {
            text: Bytes::from(text),
            kind: self.kind,
            published_at: self.published_at,
        }
    }
}

fn micros(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// An event's data: the event without its `type` tag.
#[derive(Serialize)]
#[serde(untagged)]
enum Data<'a> {
    Quote(&'a finstage_core::bus::QuoteEvent),
    Signal(&'a finstage_core::bus::SignalEvent),
    Indicator(&'a finstage_core::bus::IndicatorEvent),
}

impl<'a> From<&'a Event> for Data<'a> {
    fn from(event: &'a Event) -> Self {
        match event {
            Event::Quote(quote) => Data::Quote(quote),
            Event::Signal(signal) => Data::Signal(signal),
            Event::Indicator(indicator) => Data::Indicator(indicator),
        }
    }
}

/// An event rendered once, without its sequence number, which the hub adds under its lock.
#[derive(Debug, Clone)]
pub(crate) struct Rendered {
    /// `{"type":"quote","channel":"quotes:AAPL","seq":`
    head: String,
    /// `,"data":{…},"published_at":"…"}`
    tail: String,
    kind: FrameKind,
    published_at: DateTime<Utc>,
}

#[derive(Serialize)]
struct Tail<'a> {
    data: Data<'a>,
    published_at: String,
}

/// `{…}` → `,…}`: an object's fields, to follow other fields.
fn fields_after(object: Vec<u8>) -> Result<String, serde_json::Error> {
    let text = String::from_utf8(object).map_err(|e| serde::ser::Error::custom(e.to_string()))?;
    Ok(match text.strip_prefix('{') {
        Some(rest) => format!(",{rest}"),
        None => text,
    })
}

fn head(kind: &str, channel: &str) -> Result<String, serde_json::Error> {
    Ok(format!(
        "{{\"type\":\"{kind}\",\"channel\":{},\"seq\":",
        serde_json::to_string(channel)?
    ))
}

impl Rendered {
    /// Renders `envelope`'s event frame, all but its sequence number.
    pub(crate) fn new(envelope: &Envelope) -> Result<Self, serde_json::Error> {
        let kind = FrameKind::of(envelope.event());
        let tail = serde_json::to_vec(&Tail {
            data: Data::from(envelope.event()),
            published_at: micros(envelope.published_at()),
        })?;
        Ok(Self {
            head: head(kind.as_str(), &envelope.channel().to_string())?,
            tail: fields_after(tail)?,
            kind,
            published_at: envelope.published_at(),
        })
    }

    /// The frame with sequence number `seq`.
    pub(crate) fn frame(&self, seq: u64) -> Frame {
        let mut text = String::with_capacity(self.head.len() + 20 + self.tail.len());
        text.push_str(&self.head);
        text.push_str(&seq.to_string());
        text.push_str(&self.tail);
        Frame {
            text: Bytes::from(text),
            kind: self.kind,
            published_at: Some(self.published_at),
        }
    }

    pub(crate) fn kind(&self) -> FrameKind {
        self.kind
    }
}

#[derive(Serialize)]
struct SnapshotFrame<'a, D: Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    channel: &'a Channel,
    seq: u64,
    data: Option<D>,
    published_at: Option<String>,
}

/// The snapshot of a quote or indicator channel: its latest event, or `"data":null` with
/// sequence number 0 when it has none yet.
pub(crate) fn snapshot_one(channel: &Channel, seq: u64, latest: Option<&Envelope>) -> Frame {
    let frame = SnapshotFrame {
        kind: "snapshot",
        channel,
        seq,
        data: latest.map(|e| Data::from(e.event())),
        published_at: latest.map(|e| micros(e.published_at())),
    };
    let mut out = Frame::control(FrameKind::Snapshot, &frame);
    out.published_at = latest.map(Envelope::published_at);
    out
}

/// The snapshot of a signals channel: its latest signals, oldest first (`[]` when none yet).
pub(crate) fn snapshot_signals<'a>(channel: &Channel, seq: u64, signals: impl Iterator<Item = &'a Envelope>) -> Frame {
    let signals: Vec<&Envelope> = signals.collect();
    let latest = signals.last().map(|e| e.published_at());
    let frame = SnapshotFrame {
        kind: "snapshot",
        channel,
        seq,
        data: Some(signals.iter().map(|e| Data::from(e.event())).collect::<Vec<_>>()),
        published_at: latest.map(micros),
    };
    let mut out = Frame::control(FrameKind::Snapshot, &frame);
    out.published_at = latest;
    out
}

#[derive(Serialize)]
struct ChannelsFrame {
    #[serde(rename = "type")]
    kind: &'static str,
    channels: Vec<String>,
}

/// `{"type":"subscribed","channels":[…]}`.
pub(crate) fn subscribed(channels: &[Subscription]) -> Frame {
    channels_frame(FrameKind::Subscribed, channels)
}

/// `{"type":"unsubscribed","channels":[…]}`.
pub(crate) fn unsubscribed(channels: &[Subscription]) -> Frame {
    channels_frame(FrameKind::Unsubscribed, channels)
}

fn channels_frame(kind: FrameKind, channels: &[Subscription]) -> Frame {
    Frame::control(
        kind,
        &ChannelsFrame {
            kind: kind.as_str(),
            channels: channels.iter().map(ToString::to_string).collect(),
        },
    )
}

#[derive(Serialize)]
struct ErrorFrame<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    code: &'a str,
    message: &'a str,
}

/// `{"type":"error","code":…,"message":…}`.
pub(crate) fn error(refusal: &Refusal) -> Frame {
    Frame::control(
        FrameKind::Error,
        &ErrorFrame {
            kind: "error",
            code: refusal.code,
            message: &refusal.message,
        },
    )
}

/// `{"type":"pong"}`.
pub(crate) fn pong() -> Frame {
    Frame {
        text: Bytes::from_static(b"{\"type\":\"pong\"}"),
        kind: FrameKind::Pong,
        published_at: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_and_refusals_have_codes() {
        assert_eq!(parse_request(r#"{"op":"ping"}"#), Ok(Request::Ping));
        let Ok(Request::Subscribe(channels)) =
            parse_request(r#"{"op":"subscribe","channels":["quotes:aapl","signals:*","quotes:AAPL"]}"#)
        else {
            panic!("not a subscribe");
        };
        assert_eq!(
            channels.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["quotes:AAPL", "signals:*"]
        );
        let code = |text: &str| parse_request(text).unwrap_err().code;
        assert_eq!(code("{"), "malformed_json");
        assert_eq!(code("[1]"), "invalid_frame");
        assert_eq!(code(r#"{"op":1}"#), "invalid_frame");
        assert_eq!(code(r#"{"op":"subscribe"}"#), "invalid_frame");
        assert_eq!(code(r#"{"op":"subscribe","channels":[]}"#), "invalid_frame");
        assert_eq!(code(r#"{"op":"subscribe","channels":[3]}"#), "invalid_frame");
        assert_eq!(code(r#"{"op":"jump"}"#), "unknown_op");
        assert_eq!(
            code(r#"{"op":"subscribe","channels":["prices:AAPL"]}"#),
            "unknown_channel"
        );
        assert_eq!(code(r#"{"op":"subscribe","channels":["quotes:*"]}"#), "unknown_channel");
        assert_eq!(code(r#"{"op":"subscribe","channels":["quotes:"]}"#), "invalid_channel");
        assert_eq!(
            code(r#"{"op":"unsubscribe","channels":["indicators:AAPL:nope:1"]}"#),
            "invalid_channel"
        );
    }

    #[test]
    fn conflated_frames_carry_the_mark() {
        let frame = pong().conflated();
        assert_eq!(&frame.text[..], br#"{"type":"pong","conflated":true}"#);
    }
}
