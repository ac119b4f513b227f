//! The crate's single error type, [`DomainError`], and the typed reasons it carries.
//!
//! Messages end up in HTTP error bodies and logs, so any user input they echo is first passed
//! through [`echo`]: cut to [`ECHO_MAX_CHARS`] characters (then `…`) and escaped like `{:?}`.

use std::fmt;

/// How many characters of a user's input an error echoes before cutting it with `…`.
pub const ECHO_MAX_CHARS: usize = 40;

/// Every way that turning outside input into a domain value can fail.
///
/// Match on the variant (and its reason enum) to tell failures apart; the `Display` message is
/// written for people and is safe to put in a log or an HTTP error body: inputs it repeats are
/// truncated and escaped (see the `input` fields).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DomainError {
    /// A ticker symbol was rejected by [`Symbol::parse`](crate::Symbol::parse).
    #[error("invalid symbol \"{input}\": {reason}")]
    InvalidSymbol {
        /// The rejected input, truncated to [`ECHO_MAX_CHARS`] characters and escaped: safe to log.
        input: String,
        /// What is wrong with it.
        reason: SymbolErrorKind,
    },
    /// An OHLCV bar violated one of [`Bar`](crate::Bar)'s rules.
    #[error("invalid bar: {0}")]
    InvalidBar(BarErrorKind),
    /// A quote violated one of [`Quote`](crate::Quote)'s rules.
    #[error("invalid quote: {0}")]
    InvalidQuote(QuoteErrorKind),
    /// A string is not one of the [`Interval`](crate::Interval) names.
    #[error("unknown interval \"{input}\": expected one of 1m, 5m, 15m, 1h (or 60m), 1d, 1wk, 1mo")]
    UnknownInterval {
        /// The rejected input, truncated to [`ECHO_MAX_CHARS`] characters and escaped: safe to log.
        input: String,
    },
    /// A string is not one of the [`Category`](crate::Category) names.
    #[error("unknown category \"{input}\": expected one of index, future, stock, etf, fx, crypto")]
    UnknownCategory {
        /// The rejected input, truncated to [`ECHO_MAX_CHARS`] characters and escaped: safe to log.
        input: String,
    },
    /// A string is neither a `YYYY-MM-DD` date nor an RFC 3339 timestamp
    /// (see [`BarTime`](crate::BarTime)).
    #[error("invalid bar time \"{input}\": expected a date (YYYY-MM-DD) or an RFC 3339 timestamp")]
    InvalidBarTime {
        /// The rejected input, truncated to [`ECHO_MAX_CHARS`] characters and escaped: safe to log.
        input: String,
    },
    /// A string is not a currency code (see [`Currency`](crate::Currency)).
    #[error("invalid currency \"{input}\": expected 3 to 8 ASCII letters")]
    InvalidCurrency {
        /// The rejected input, truncated to [`ECHO_MAX_CHARS`] characters and escaped: safe to log.
        input: String,
    },
}

impl DomainError {
    pub(crate) fn invalid_symbol(input: &str, reason: SymbolErrorKind) -> Self {
        Self::InvalidSymbol {
            input: echo(input),
            reason,
        }
    }
}

/// Why a string is not a valid [`Symbol`](crate::Symbol).
///
/// Positions are 0-based character indices into the input as given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SymbolErrorKind {
    /// The input is empty.
    Empty,
    /// The input is longer than [`Symbol::MAX_LEN`](crate::Symbol::MAX_LEN) characters.
    TooLong {
        /// The input's length in characters.
        len: usize,
    },
    /// The input contains whitespace (leading and trailing whitespace included: nothing is trimmed).
    Whitespace {
        /// The whitespace character.
        ch: char,
        /// Where it is.
        position: usize,
    },
    /// The input contains a control character.
    ControlChar {
        /// The control character.
        ch: char,
        /// Where it is.
        position: usize,
    },
    /// The input contains `/` or `\`.
    PathSeparator {
        /// The separator.
        ch: char,
        /// Where it is.
        position: usize,
    },
    /// The input contains `..`.
    DotDot {
        /// Where the first of the two dots is.
        position: usize,
    },
    /// The input contains `^` somewhere other than first.
    MisplacedCaret {
        /// Where the `^` is.
        position: usize,
    },
    /// The input contains a character outside the allowed set (ASCII letters and digits, `.`,
    /// `-`, `=`, `&`, and `^` first).
    InvalidChar {
        /// The character.
        ch: char,
        /// Where it is.
        position: usize,
    },
    /// The input has no ASCII letter or digit at all (for example `^` or `.-`).
    NoAlphanumeric,
}

impl fmt::Display for SymbolErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Empty => f.write_str("it is empty"),
            Self::TooLong { len } => write!(
                f,
                "it is {len} characters long, the maximum is {}",
                crate::Symbol::MAX_LEN
            ),
            Self::Whitespace { ch, position } => {
                write!(f, "whitespace {ch:?} at position {position}")
            }
            Self::ControlChar { ch, position } => {
                write!(f, "control character {ch:?} at position {position}")
            }
            Self::PathSeparator { ch, position } => {
                write!(f, "path separator {ch:?} at position {position}")
            }
            Self::DotDot { position } => write!(f, "\"..\" at position {position}"),
            Self::MisplacedCaret { position } => write!(
                f,
                "'^' at position {position}, it is only allowed as the first character"
            ),
            Self::InvalidChar { ch, position } => write!(
                f,
                "character {ch:?} at position {position} is not allowed \
                 (allowed: ASCII letters and digits, '.', '-', '=', '&', and '^' first)"
            ),
            Self::NoAlphanumeric => f.write_str("it contains no letter or digit"),
        }
    }
}

/// A price field of a [`Bar`](crate::Bar), named in [`BarErrorKind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BarField {
    /// The opening price.
    Open,
    /// The highest price.
    High,
    /// The lowest price.
    Low,
    /// The closing price.
    Close,
    /// The split- and dividend-adjusted close.
    AdjClose,
}

impl BarField {
    /// The field's name as it appears in JSON (`open`, …, `adj_close`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::High => "high",
            Self::Low => "low",
            Self::Close => "close",
            Self::AdjClose => "adj_close",
        }
    }
}

impl fmt::Display for BarField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a set of values is not a valid [`Bar`](crate::Bar).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum BarErrorKind {
    /// A price is NaN or infinite.
    NonFinite {
        /// Which price.
        field: BarField,
        /// Its value.
        value: f64,
    },
    /// A price is zero or negative (zero is Yahoo's placeholder for a missing value).
    NonPositive {
        /// Which price.
        field: BarField,
        /// Its value.
        value: f64,
    },
    /// `low > high`.
    LowAboveHigh {
        /// The low.
        low: f64,
        /// The high.
        high: f64,
    },
    /// The open is outside `[low, high]`.
    OpenOutOfRange {
        /// The open.
        open: f64,
        /// The low.
        low: f64,
        /// The high.
        high: f64,
    },
    /// The close is outside `[low, high]`.
    CloseOutOfRange {
        /// The close.
        close: f64,
        /// The low.
        low: f64,
        /// The high.
        high: f64,
    },
}

impl fmt::Display for BarErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::NonFinite { field, value } => {
                write!(f, "{field} is {value}, not a finite number")
            }
            Self::NonPositive { field, value } => {
                write!(f, "{field} is {value}, prices must be greater than zero")
            }
            Self::LowAboveHigh { low, high } => write!(f, "low {low} is above high {high}"),
            Self::OpenOutOfRange { open, low, high } => {
                write!(f, "open {open} is outside the low..high range {low}..{high}")
            }
            Self::CloseOutOfRange { close, low, high } => {
                write!(f, "close {close} is outside the low..high range {low}..{high}")
            }
        }
    }
}

/// A price field of a [`Quote`](crate::Quote), named in [`QuoteErrorKind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum QuoteField {
    /// The latest price.
    Price,
    /// The previous session's close.
    PreviousClose,
    /// The session's opening price.
    Open,
    /// The session's lowest price.
    DayLow,
    /// The session's highest price.
    DayHigh,
}

impl QuoteField {
    /// The field's name as it appears in JSON (`price`, `previous_close`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Price => "price",
            Self::PreviousClose => "previous_close",
            Self::Open => "open",
            Self::DayLow => "day_low",
            Self::DayHigh => "day_high",
        }
    }
}

impl fmt::Display for QuoteField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a set of values is not a valid [`Quote`](crate::Quote).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum QuoteErrorKind {
    /// A price is NaN or infinite.
    NonFinite {
        /// Which price.
        field: QuoteField,
        /// Its value.
        value: f64,
    },
    /// A price is zero or negative.
    NonPositive {
        /// Which price.
        field: QuoteField,
        /// Its value.
        value: f64,
    },
    /// `day_low > day_high`.
    DayLowAboveHigh {
        /// The day's low.
        low: f64,
        /// The day's high.
        high: f64,
    },
    /// Only one of `day_low` and `day_high` was given (when deserializing); the range needs both.
    IncompleteDayRange,
}

impl fmt::Display for QuoteErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::NonFinite { field, value } => {
                write!(f, "{field} is {value}, not a finite number")
            }
            Self::NonPositive { field, value } => {
                write!(f, "{field} is {value}, prices must be greater than zero")
            }
            Self::DayLowAboveHigh { low, high } => {
                write!(f, "day_low {low} is above day_high {high}")
            }
            Self::IncompleteDayRange => f.write_str("day_low and day_high must be given together or not at all"),
        }
    }
}

/// Makes user input safe to repeat in an error: at most [`ECHO_MAX_CHARS`] characters (then `…`),
/// with control, non-printable and quoting characters escaped as `{:?}` would.
pub(crate) fn echo(input: &str) -> String {
    let mut out = String::with_capacity(input.len().min(ECHO_MAX_CHARS) + 3);
    let mut chars = input.chars();
    for ch in chars.by_ref().take(ECHO_MAX_CHARS) {
        if ch == '\'' {
            // `char::escape_debug` escapes single quotes too; our messages quote with `"`.
            out.push(ch);
        } else {
            out.extend(ch.escape_debug());
        }
    }
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_keeps_short_input() {
        assert_eq!(echo("AAPL"), "AAPL");
        assert_eq!(echo("M&M.NS"), "M&M.NS");
        assert_eq!(echo("O'Neil"), "O'Neil");
        assert_eq!(echo(""), "");
    }

    #[test]
    fn echo_truncates_to_forty_chars() {
        let long = "A".repeat(100);
        let echoed = echo(&long);
        assert_eq!(echoed, format!("{}…", "A".repeat(40)));
        assert_eq!(echo(&"B".repeat(40)), "B".repeat(40));
        assert_eq!(echo(&"é".repeat(41)), format!("{}…", "é".repeat(40)));
    }

    #[test]
    fn echo_escapes_control_and_quotes() {
        assert_eq!(echo("A\nB"), "A\\nB");
        assert_eq!(echo("A\u{1b}[31m"), "A\\u{1b}[31m");
        assert_eq!(echo("\"x\\"), "\\\"x\\\\");
        // Right-to-left override, a log-spoofing character.
        assert_eq!(echo("A\u{202e}B"), "A\\u{202e}B");
    }

    #[test]
    fn messages_echo_input_safely() {
        let e = DomainError::UnknownInterval {
            input: echo("1x\r\nforged log line"),
        };
        let msg = e.to_string();
        assert!(!msg.contains('\n') && !msg.contains('\r'), "{msg}");
        assert!(msg.contains("1x\\r\\nforged"), "{msg}");
    }

    #[test]
    fn error_messages_read_well() {
        let e = DomainError::invalid_symbol("AA PL", SymbolErrorKind::Whitespace { ch: ' ', position: 2 });
        assert_eq!(e.to_string(), "invalid symbol \"AA PL\": whitespace ' ' at position 2");
        let e = DomainError::InvalidBar(BarErrorKind::LowAboveHigh { low: 2.0, high: 1.5 });
        assert_eq!(e.to_string(), "invalid bar: low 2 is above high 1.5");
        let e = DomainError::InvalidBar(BarErrorKind::NonFinite {
            field: BarField::AdjClose,
            value: f64::NAN,
        });
        assert_eq!(e.to_string(), "invalid bar: adj_close is NaN, not a finite number");
        let e = DomainError::InvalidQuote(QuoteErrorKind::NonPositive {
            field: QuoteField::PreviousClose,
            value: 0.0,
        });
        assert_eq!(
            e.to_string(),
            "invalid quote: previous_close is 0, prices must be greater than zero"
        );
    }
}
