//! The crate's one error type, [`MonitoringError`].

use std::net::SocketAddr;

/// Text quoted from the caller in an error is cut to this many characters (followed by `…`).
pub const MAX_QUOTED: usize = 64;

/// Everything that can go wrong while setting up or running the monitoring.
///
/// Nothing here is on a hot path: timing guards, gauges and counters never fail. Text taken from
/// the caller (a filter directive, a name) is quoted with escapes and cut to [`MAX_QUOTED`]
/// characters.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MonitoringError {
    /// A directive of the log filter (EnvFilter syntax) does not parse.
    #[error("invalid log filter directive {directive:?}: {reason}")]
    InvalidLogFilter {
        /// The offending directive (one comma-separated part of the filter).
        directive: String,
        /// The parser's explanation.
        reason: String,
    },
    /// The log format is neither `text` nor `json`.
    #[error("unknown log format {value:?}: expected `text` or `json`")]
    InvalidLogFormat {
        /// What was given.
        value: String,
    },
    /// A global tracing subscriber (or `log` logger) is already installed in this process.
    #[error("logging is already installed in this process: {0}")]
    LoggingAlreadyInstalled(String),
    /// The Prometheus recorder could not be installed (another global `metrics` recorder is).
    #[error("cannot install the Prometheus recorder: {0}")]
    RecorderInstall(String),
    /// The metrics endpoint could not listen on its address.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// A name used as a label value (a health check, an alert rule) is empty, too long or has
    /// characters other than `a-z`, `0-9`, `_`, `-` and `.`.
    #[error("invalid {what} name {name:?}: {reason}")]
    InvalidName {
        /// What the name is for (`health check`, `alert rule`).
        what: &'static str,
        /// The offending name (cut to [`MAX_QUOTED`] characters).
        name: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// Two health checks or two alert rules have the same name.
    #[error("duplicate {what} name {name:?}")]
    Duplicate {
        /// What the name is for.
        what: &'static str,
        /// The repeated name.
        name: String,
    },
    /// A configuration value is out of range (a zero interval, unsorted histogram buckets, a
    /// threshold that is not finite, …).
    #[error("invalid {what}: {reason}")]
    InvalidConfig {
        /// Which setting.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A background task was started outside a tokio runtime.
    #[error("{0} must be started inside a tokio runtime")]
    NoRuntime(&'static str),
}

/// `text` as it may appear in an error: cut to [`MAX_QUOTED`] characters.
pub(crate) fn quoted(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = chars.by_ref().take(MAX_QUOTED).collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

/// Checks a name that becomes a label value: 1 to 64 characters of `a-z`, `0-9`, `_`, `-`, `.`.
pub(crate) fn check_name(what: &'static str, name: &str) -> Result<(), MonitoringError> {
    let reason = if name.is_empty() {
        Some("empty")
    } else if name.len() > MAX_QUOTED {
        Some("longer than 64 bytes")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'.'))
    {
        Some("only a-z, 0-9, '_', '-' and '.' are allowed")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(MonitoringError::InvalidName {
            what,
            name: quoted(name),
            reason,
        }),
        None => Ok(()),
    }
}

/// Checks that a duration setting is not zero.
pub(crate) fn check_nonzero(what: &'static str, value: std::time::Duration) -> Result<(), MonitoringError> {
    if value.is_zero() {
        return Err(MonitoringError::InvalidConfig {
            what,
            reason: "must be greater than zero".to_owned(),
        });
    }
    Ok(())
}

/// Checks that a threshold is a finite number.
pub(crate) fn check_finite(what: &'static str, value: f64) -> Result<(), MonitoringError> {
    if !value.is_finite() {
        return Err(MonitoringError::InvalidConfig {
            what,
            reason: format!("must be a finite number, not {value}"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_and_names_are_checked() {
        let long = "x".repeat(100);
        assert_eq!(quoted(&long).chars().count(), MAX_QUOTED + 1);
        assert_eq!(quoted("short"), "short");
        assert!(check_name("health check", "database").is_ok());
        assert!(check_name("health check", "job.refresh-quotes_1").is_ok());
        for bad in ["", "Database", "a b", "x\n", &long] {
            let error = check_name("health check", bad).unwrap_err();
            assert!(matches!(error, MonitoringError::InvalidName { .. }), "{bad:?}: {error}");
        }
    }

    #[test]
    fn quoted_names_are_escaped_in_messages() {
        let error = check_name("alert rule", "a\"b\nc").unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"invalid alert rule name "a\"b\nc": only a-z, 0-9, '_', '-' and '.' are allowed"#
        );
    }
}
