//! The crate's one error type: bad parameters, bad spec strings, mismatched inputs.

use std::fmt;

/// The largest period any indicator accepts (the same bound as TA-Lib's).
pub const MAX_PERIOD: usize = 100_000;

/// Everything that can go wrong in this crate. Computation itself never fails: only building an
/// indicator (parameters, spec strings) and handing it inputs of different lengths can.
///
/// Messages quote user input, shortened to a few dozen characters, so they are safe to return in
/// an HTTP error body.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IndicatorError {
    /// A parameter is outside its valid range, e.g. `rsi:0` or `macd:26:12:9`.
    InvalidParameter {
        /// The indicator's spec name, e.g. `"rsi"`.
        indicator: &'static str,
        /// The parameter's name, e.g. `"period"`.
        parameter: &'static str,
        /// The rejected value as given.
        value: String,
        /// What would have been accepted.
        expected: String,
    },
    /// A parameter in a spec string is not a number of the expected kind, e.g. `sma:abc`.
    InvalidNumber {
        /// The indicator's spec name.
        indicator: &'static str,
        /// The parameter's name.
        parameter: &'static str,
        /// The text that failed to parse.
        text: String,
    },
    /// A spec string names no known indicator, e.g. `smaa:20`.
    UnknownIndicator {
        /// The name as given.
        name: String,
    },
    /// A spec string has more parameters than the indicator takes, e.g. `sma:20:5`.
    TooManyParameters {
        /// The indicator's spec name.
        indicator: &'static str,
        /// How many parameters the indicator takes at most.
        max: usize,
        /// How many were given.
        found: usize,
    },
    /// A spec string selects an output the indicator does not have, e.g. `macd.upper` or `sma:20.k`.
    UnknownOutput {
        /// The indicator's spec name.
        indicator: &'static str,
        /// The output as given.
        output: String,
        /// The outputs the indicator has (empty for single-output indicators).
        expected: &'static [&'static str],
    },
    /// An empty spec string, or an empty item in a comma-separated list.
    EmptySpec,
    /// Input series of different lengths were passed together.
    LengthMismatch {
        /// What was being compared, e.g. `"high"`.
        series: &'static str,
        /// The length of the first series.
        expected: usize,
        /// The length of the mismatched series.
        found: usize,
    },
    /// The indicator needs bar timestamps (session VWAP) and the input has none.
    MissingTime {
        /// The indicator's spec, e.g. `"vwap:session"`.
        indicator: &'static str,
    },
}

impl fmt::Display for IndicatorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidParameter {
                indicator,
                parameter,
                value,
                expected,
            } => write!(
                f,
                "invalid {parameter} {} for {indicator}: expected {expected}",
                excerpt(value)
            ),
            Self::InvalidNumber {
                indicator,
                parameter,
                text,
            } => {
                write!(f, "{indicator} {parameter} {} is not a valid number", excerpt(text))
            }
            Self::UnknownIndicator { name } => write!(f, "unknown indicator {}", excerpt(name)),
            Self::TooManyParameters { indicator, max, found } => {
                write!(f, "{indicator} takes at most {max} parameters, {found} given")
            }
            Self::UnknownOutput {
                indicator,
                output,
                expected: [],
            } => write!(
                f,
                "{indicator} has a single output, so output {} cannot be selected",
                excerpt(output)
            ),
            Self::UnknownOutput {
                indicator,
                output,
                expected,
            } => write!(
                f,
                "{indicator} has no output {}: expected one of {}",
                excerpt(output),
                expected.join(", ")
            ),
            Self::EmptySpec => f.write_str("empty indicator spec"),
            Self::LengthMismatch {
                series,
                expected,
                found,
            } => write!(
                f,
                "input series {series} has {found} values, expected {expected} like the others"
            ),
            Self::MissingTime { indicator } => {
                write!(f, "{indicator} needs bar timestamps and the input has none")
            }
        }
    }
}

impl std::error::Error for IndicatorError {}

/// Quotes user input for an error message: at most 40 characters, escaped like `{:?}`.
fn excerpt(text: &str) -> String {
    const MAX: usize = 40;
    match text.char_indices().nth(MAX) {
        None => format!("{text:?}"),
        Some((cut, _)) => format!("{:?}…", &text[..cut]),
    }
}

/// Checks a period parameter against `min..=MAX_PERIOD`.
pub(crate) fn check_period(
    indicator: &'static str,
    parameter: &'static str,
    value: usize,
    min: usize,
) -> Result<usize, IndicatorError> {
    if (min..=MAX_PERIOD).contains(&value) {
        Ok(value)
    } else {
        Err(IndicatorError::InvalidParameter {
            indicator,
            parameter,
            value: value.to_string(),
            expected: format!("a whole number from {min} to {MAX_PERIOD}"),
        })
    }
}

/// Checks that every series has the length of the first.
pub(crate) fn check_lengths(series: &[(&'static str, usize)]) -> Result<usize, IndicatorError> {
    let Some(&(_, expected)) = series.first() else {
        return Ok(0);
    };
    for &(name, found) in &series[1..] {
        if found != expected {
            return Err(IndicatorError::LengthMismatch {
                series: name,
                expected,
                found,
            });
        }
    }
    Ok(expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_input_is_shortened_and_escaped_in_messages() {
        let err = IndicatorError::UnknownIndicator {
            name: format!("x\u{7}{}", "y".repeat(500)),
        };
        let message = err.to_string();
        assert!(message.len() < 80, "{message}");
        assert!(message.contains("\\u{7}"), "{message}");
        assert!(message.ends_with('…'), "{message}");
    }

    #[test]
    fn periods_are_checked_against_both_bounds() {
        assert_eq!(check_period("sma", "period", 1, 1), Ok(1));
        assert_eq!(check_period("sma", "period", MAX_PERIOD, 1), Ok(MAX_PERIOD));
        assert!(check_period("sma", "period", 0, 1).is_err());
        assert!(check_period("adx", "period", 1, 2).is_err());
        let err = check_period("sma", "period", MAX_PERIOD + 1, 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid period \"100001\" for sma: expected a whole number from 1 to 100000"
        );
    }

    #[test]
    fn lengths_must_agree() {
        assert_eq!(check_lengths(&[("high", 3), ("low", 3)]), Ok(3));
        assert_eq!(
            check_lengths(&[("high", 3), ("low", 3), ("close", 2)]),
            Err(IndicatorError::LengthMismatch {
                series: "close",
                expected: 3,
                found: 2
            })
        );
    }
}
