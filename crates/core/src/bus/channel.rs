//! [`Channel`], the name of a stream of events (`quotes:AAPL`, `signals:AAPL`,
//! `indicators:AAPL:rsi:14`), and [`Subscription`], what a client may ask for (a channel, or the
//! pattern `signals:*`).

use std::fmt;
use std::str::FromStr;

use finstage_domain::{DomainError, Symbol};
use finstage_indicators::{IndicatorError, OutputSpec};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest channel name accepted, in bytes (a symbol is at most 32; the longest spec is far
/// below the rest).
pub const MAX_CHANNEL_LEN: usize = 128;

/// How many characters of a rejected name an error repeats before cutting it with `…`.
const ECHO_MAX_CHARS: usize = 40;

/// A concrete channel: every published event belongs to exactly one.
///
/// Text form (`Display`, `FromStr`, serde as a string):
/// - `quotes:{SYMBOL}`: live quotes of a symbol;
/// - `signals:{SYMBOL}`: signals detected on a symbol;
/// - `indicators:{SYMBOL}:{SPEC}`: new values of one indicator of a symbol, `SPEC` in
///   `finstage-indicators`' spec grammar (`rsi:14`, `macd:12:26:9.signal`).
///
/// Parsing normalises: the symbol is upper-cased and the spec printed in its full form, so
/// `indicators:aapl:rsi` reads back as `indicators:AAPL:rsi:14`, and
/// `parse(display(channel)) == channel` always holds. Whitespace and control characters are
/// rejected anywhere (nothing is trimmed). The pattern `signals:*` is not a channel: events are
/// published to concrete channels only; see [`Subscription`].
///
/// ```
/// use finstage_core::bus::{Channel, ChannelError};
///
/// let channel: Channel = "indicators:aapl:macd.signal".parse()?;
/// assert_eq!(channel.to_string(), "indicators:AAPL:macd:12:26:9.signal");
/// assert!(matches!("prices:AAPL".parse::<Channel>(), Err(ChannelError::UnknownKind { .. })));
/// # Ok::<(), ChannelError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    /// `quotes:{SYMBOL}`.
    Quotes(Symbol),
    /// `signals:{SYMBOL}`.
    Signals(Symbol),
    /// `indicators:{SYMBOL}:{SPEC}`.
    Indicators(Symbol, OutputSpec),
}

/// The family of a channel: the part before the first `:`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChannelKind {
    /// `quotes`.
    Quotes,
    /// `signals`.
    Signals,
    /// `indicators`.
    Indicators,
}

impl ChannelKind {
    /// `quotes`, `signals` or `indicators`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Quotes => "quotes",
            ChannelKind::Signals => "signals",
            ChannelKind::Indicators => "indicators",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "quotes" => Some(ChannelKind::Quotes),
            "signals" => Some(ChannelKind::Signals),
            "indicators" => Some(ChannelKind::Indicators),
            _ => None,
        }
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a channel or subscription name was rejected. Inputs it repeats are cut to 40 characters
/// and escaped: the message is safe for a log or a WebSocket `error` frame.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ChannelError {
    /// The name is empty.
    #[error("empty channel name (expected quotes:SYMBOL, signals:SYMBOL or indicators:SYMBOL:SPEC)")]
    Empty,
    /// The name is longer than [`MAX_CHANNEL_LEN`] bytes.
    #[error("channel name of {len} bytes is longer than {max}")]
    TooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The name holds whitespace or a control character.
    #[error("channel name \"{input}\" has {ch:?} at position {position} (no whitespace or control characters)")]
    InvalidChar {
        /// The name, shortened and escaped.
        input: String,
        /// The character.
        ch: char,
        /// Its position, in characters.
        position: usize,
    },
    /// The part before the first `:` is not a channel kind.
    #[error("unknown channel kind \"{kind}\" (expected quotes, signals or indicators)")]
    UnknownKind {
        /// The kind as given, shortened and escaped.
        kind: String,
    },
    /// Nothing follows the kind (`quotes`, `quotes:`).
    #[error("channel \"{kind}:\" names no symbol")]
    MissingSymbol {
        /// The channel's kind.
        kind: ChannelKind,
    },
    /// The symbol is not valid.
    #[error("channel symbol: {0}")]
    InvalidSymbol(DomainError),
    /// `quotes:` or `signals:` followed by more than a symbol (`quotes:AAPL:rsi`).
    #[error("channel \"{input}\": {kind} takes a symbol only, without a further \":…\"")]
    TrailingPart {
        /// The name, shortened and escaped.
        input: String,
        /// The channel's kind.
        kind: ChannelKind,
    },
    /// `indicators:{SYMBOL}` without a spec.
    #[error(
        "indicator channel \"{input}\" names no indicator (expected indicators:SYMBOL:SPEC, e.g. indicators:AAPL:rsi:14)"
    )]
    MissingSpec {
        /// The name, shortened and escaped.
        input: String,
    },
    /// The indicator spec is not valid.
    #[error("indicator channel spec: {0}")]
    InvalidSpec(IndicatorError),
    /// A subscription pattern where a concrete channel is needed (events are published to one
    /// channel each).
    #[error("\"{input}\" is a subscription pattern, not a channel: publish to a concrete channel")]
    PatternNotChannel {
        /// The pattern.
        input: String,
    },
    /// A pattern other than `signals:*`.
    #[error("unsupported pattern \"{input}\": the only pattern is signals:*")]
    UnsupportedPattern {
        /// The pattern, shortened and escaped.
        input: String,
    },
}

impl Channel {
    /// The channel's kind.
    pub const fn kind(&self) -> ChannelKind {
        match self {
            Channel::Quotes(_) => ChannelKind::Quotes,
            Channel::Signals(_) => ChannelKind::Signals,
            Channel::Indicators(..) => ChannelKind::Indicators,
        }
    }

    /// The symbol the channel is about.
    pub const fn symbol(&self) -> Symbol {
        match self {
            Channel::Quotes(symbol) | Channel::Signals(symbol) | Channel::Indicators(symbol, _) => *symbol,
        }
    }

    /// Parses a channel name; see [`Channel`] for the forms.
    ///
    /// # Errors
    /// A [`ChannelError`] naming the first problem found: length, characters, kind, symbol, spec.
    pub fn parse(input: &str) -> Result<Self, ChannelError> {
        check_text(input)?;
        let (kind_text, rest) = input.split_once(':').unwrap_or((input, ""));
        let Some(kind) = ChannelKind::parse(kind_text) else {
            return Err(ChannelError::UnknownKind { kind: echo(kind_text) });
        };
        if rest.is_empty() {
            return Err(ChannelError::MissingSymbol { kind });
        }
        if rest.contains('*') {
            return Err(if input == Subscription::ALL_SIGNALS {
                ChannelError::PatternNotChannel { input: echo(input) }
            } else {
                ChannelError::UnsupportedPattern { input: echo(input) }
            });
        }
        match kind {
            ChannelKind::Quotes | ChannelKind::Signals => {
                if rest.contains(':') {
                    return Err(ChannelError::TrailingPart {
                        input: echo(input),
                        kind,
                    });
                }
                let symbol = Symbol::parse(rest).map_err(ChannelError::InvalidSymbol)?;
                Ok(if kind == ChannelKind::Quotes {
                    Channel::Quotes(symbol)
                } else {
                    Channel::Signals(symbol)
                })
            }
            ChannelKind::Indicators => {
                let (symbol, spec) = rest.split_once(':').unwrap_or((rest, ""));
                let symbol = Symbol::parse(symbol).map_err(ChannelError::InvalidSymbol)?;
                if spec.is_empty() {
                    return Err(ChannelError::MissingSpec { input: echo(input) });
                }
                let spec: OutputSpec = spec.parse().map_err(ChannelError::InvalidSpec)?;
                Ok(Channel::Indicators(symbol, spec))
            }
        }
    }
}

/// Length and characters, checked before anything else.
fn check_text(input: &str) -> Result<(), ChannelError> {
    if input.is_empty() {
        return Err(ChannelError::Empty);
    }
    if input.len() > MAX_CHANNEL_LEN {
        return Err(ChannelError::TooLong {
            len: input.len(),
            max: MAX_CHANNEL_LEN,
        });
    }
    if let Some((position, ch)) = input
        .chars()
        .enumerate()
        .find(|(_, c)| c.is_whitespace() || c.is_control())
    {
        return Err(ChannelError::InvalidChar {
            input: echo(input),
            ch,
            position,
        });
    }
    Ok(())
}

/// `input` cut to [`ECHO_MAX_CHARS`] characters (then `…`), escaped like `{:?}` without quotes.
fn echo(input: &str) -> String {
    let mut out = String::new();
    for (i, c) in input.chars().enumerate() {
        if i == ECHO_MAX_CHARS {
            out.push('…');
            break;
        }
        out.extend(c.escape_debug());
    }
    out
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Channel::Quotes(symbol) => write!(f, "quotes:{symbol}"),
            Channel::Signals(symbol) => write!(f, "signals:{symbol}"),
            Channel::Indicators(symbol, spec) => write!(f, "indicators:{symbol}:{spec}"),
        }
    }
}

impl FromStr for Channel {
    type Err = ChannelError;

    fn from_str(s: &str) -> Result<Self, ChannelError> {
        Channel::parse(s)
    }
}

impl Serialize for Channel {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Channel {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// What a WebSocket client subscribes to: one [`Channel`], or every signal (`signals:*`).
///
/// Text form as [`Channel`]'s, plus `signals:*`; other patterns (`quotes:*`) are
/// [`ChannelError::UnsupportedPattern`].
///
/// ```
/// use finstage_core::bus::{Channel, Subscription};
///
/// let all: Subscription = "signals:*".parse()?;
/// assert!(all.matches(&"signals:MSFT".parse::<Channel>()?));
/// assert!(!all.matches(&"quotes:MSFT".parse::<Channel>()?));
/// # Ok::<(), finstage_core::bus::ChannelError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Subscription {
    /// Exactly one channel.
    Channel(Channel),
    /// `signals:*`: the signals of every symbol.
    AllSignals,
}

impl Subscription {
    /// The text of [`Subscription::AllSignals`].
    pub const ALL_SIGNALS: &'static str = "signals:*";

    /// Parses a subscription; see [`Subscription`].
    ///
    /// # Errors
    /// As [`Channel::parse`], and [`ChannelError::UnsupportedPattern`] for a pattern other than
    /// `signals:*`.
    pub fn parse(input: &str) -> Result<Self, ChannelError> {
        if input == Self::ALL_SIGNALS {
            return Ok(Subscription::AllSignals);
        }
        Channel::parse(input).map(Subscription::Channel)
    }

    /// Whether an event of `channel` belongs to this subscription.
    pub fn matches(&self, channel: &Channel) -> bool {
        match self {
            Subscription::Channel(own) => own == channel,
            Subscription::AllSignals => channel.kind() == ChannelKind::Signals,
        }
    }

    /// Whether this is a pattern (matches more than one channel).
    pub const fn is_pattern(&self) -> bool {
        matches!(self, Subscription::AllSignals)
    }
}

impl From<Channel> for Subscription {
    fn from(channel: Channel) -> Self {
        Subscription::Channel(channel)
    }
}

impl fmt::Display for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subscription::Channel(channel) => channel.fmt(f),
            Subscription::AllSignals => f.write_str(Self::ALL_SIGNALS),
        }
    }
}

impl FromStr for Subscription {
    type Err = ChannelError;

    fn from_str(s: &str) -> Result<Self, ChannelError> {
        Subscription::parse(s)
    }
}

impl Serialize for Subscription {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Subscription {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_cuts_and_escapes() {
        assert_eq!(echo("a\"b\n"), "a\\\"b\\n");
        assert_eq!(echo(&"x".repeat(50)), format!("{}…", "x".repeat(40)));
    }
}
