//! `AnalysisError`, the crate's one error type.

use finstage_domain::ECHO_MAX_CHARS;

/// Every way an analysis call can fail: all of them are bad input (a configuration, a name, a
/// series) named in the message; nothing here does I/O.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AnalysisError {
    /// A signal kind name that no kind has.
    #[error("unknown signal kind \"{0}\"")]
    UnknownKind(String),
    /// A timeframe that is neither an interval (`1d`, `1h`, …) nor `live`.
    #[error("unknown timeframe \"{0}\" (an interval such as 1d or 1h, or live)")]
    UnknownTimeframe(String),
    /// A configuration value out of its range; `key` names it as in the configuration file.
    #[error("invalid configuration {key}: {message}")]
    InvalidConfig {
        /// The key, dotted as in the configuration (`rules.rsi.overbought`).
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// An indicator the rules need could not be built.
    #[error("indicator: {0}")]
    Indicator(#[from] finstage_indicators::IndicatorError),
    /// Input series that do not fit together (unsorted bars, a signal without its bar, …).
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

impl AnalysisError {
    pub(crate) fn config(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidConfig {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// `input` as an error may repeat it: cut to [`ECHO_MAX_CHARS`] characters (then `…`) and
/// escaped like `{:?}` without its quotes.
pub(crate) fn echo(input: &str) -> String {
    let mut cut: String = input.chars().take(ECHO_MAX_CHARS).collect();
    if input.chars().nth(ECHO_MAX_CHARS).is_some() {
        cut.push('…');
    }
    let escaped = format!("{cut:?}");
    escaped[1..escaped.len() - 1].to_owned()
}
