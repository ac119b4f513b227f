//! [`MarketDataError`]: every way a provider call can fail, and which failures are worth retrying.

use std::time::Duration;

use finstage_domain::Symbol;

/// A provider call that did not produce data.
///
/// Each variant says whose fault it is and whether trying again can help
/// ([`is_retryable`](Self::is_retryable)). Messages never carry secrets or whole response bodies:
/// an upstream body is cut to a short excerpt.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MarketDataError {
    /// The upstream does not know the symbol (Yahoo: HTTP 404 with a `chart.error`).
    #[error("{provider}: unknown symbol {symbol}")]
    NotFound {
        /// The provider that answered.
        provider: &'static str,
        /// The symbol asked for.
        symbol: Symbol,
    },
    /// The symbol exists but the answer holds no usable bar or price (an empty range, or every
    /// row null).
    #[error("{provider}: no data for {symbol}")]
    NoData {
        /// The provider that answered.
        provider: &'static str,
        /// The symbol asked for.
        symbol: Symbol,
    },
    /// The upstream refused the interval/range combination (Yahoo: HTTP 422, for example 1-minute
    /// bars older than 30 days).
    #[error("{provider}: invalid range for {symbol}: {message}")]
    InvalidRange {
        /// The provider that answered.
        provider: &'static str,
        /// The symbol asked for.
        symbol: Symbol,
        /// The upstream's explanation.
        message: String,
    },
    /// The upstream answered HTTP 429. `retry_after` is its `Retry-After`, when it sent one.
    #[error("{provider}: rate limited (HTTP 429){}", fmt_retry_after(*.retry_after))]
    RateLimited {
        /// The provider that answered.
        provider: &'static str,
        /// How long the upstream asked us to wait.
        retry_after: Option<Duration>,
    },
    /// The request did not complete in time (connect or read timeout).
    #[error("{provider}: {endpoint} timed out")]
    Timeout {
        /// The provider called.
        provider: &'static str,
        /// The endpoint called (`quote`, `history`, ...).
        endpoint: &'static str,
    },
    /// The connection failed or broke before an answer arrived.
    #[error("{provider}: connection failed: {message}")]
    Connect {
        /// The provider called.
        provider: &'static str,
        /// What the HTTP client reported.
        message: String,
    },
    /// The upstream answered with an unexpected HTTP status (5xx are retryable, other statuses
    /// are not).
    #[error("{provider}: HTTP {status} from {endpoint}: {excerpt}")]
    Status {
        /// The provider that answered.
        provider: &'static str,
        /// The endpoint called.
        endpoint: &'static str,
        /// The HTTP status code.
        status: u16,
        /// The start of the body, for the log.
        excerpt: String,
    },
    /// The body was not the JSON the provider speaks (malformed, truncated, wrong shape).
    #[error("{provider}: malformed response for {symbol}: {message}")]
    Malformed {
        /// The provider that answered.
        provider: &'static str,
        /// The symbol asked for.
        symbol: Symbol,
        /// What was wrong.
        message: String,
    },
    /// The circuit breaker is open: the upstream failed repeatedly and is left alone for a while.
    #[error("{provider}: circuit open after repeated failures, next probe in {}ms", .retry_in.as_millis())]
    CircuitOpen {
        /// The provider protected.
        provider: &'static str,
        /// Time until the breaker lets a probe through.
        retry_in: Duration,
    },
    /// The request itself is not valid for this provider (an interval the replay provider does
    /// not have, an inverted date span, ...).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A provider was configured with impossible settings.
    #[error("invalid configuration: {0}")]
    Config(String),
}

fn fmt_retry_after(retry_after: Option<Duration>) -> String {
    retry_after.map_or_else(String::new, |d| format!(", retry after {}s", d.as_secs_f64()))
}

impl MarketDataError {
    /// `true` for failures that a later attempt can cure: timeouts, connection failures, HTTP 5xx
    /// and HTTP 429. Answers about the data (unknown symbol, no data, invalid range), malformed
    /// bodies, an open circuit and bad requests are final.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Timeout { .. } | Self::Connect { .. } | Self::RateLimited { .. } => true,
            Self::Status { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// `true` when the failure says the upstream itself is unwell (what the circuit breaker
    /// counts): the retryable failures. A 404 or a 422 is a healthy upstream answering.
    pub fn is_upstream_failure(&self) -> bool {
        self.is_retryable()
    }

    /// A short, stable name for the kind of failure, used as a metric label.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "not_found",
            Self::NoData { .. } => "no_data",
            Self::InvalidRange { .. } => "invalid_range",
            Self::RateLimited { .. } => "rate_limited",
            Self::Timeout { .. } => "timeout",
            Self::Connect { .. } => "connect",
            Self::Status { .. } => "status",
            Self::Malformed { .. } => "malformed",
            Self::CircuitOpen { .. } => "circuit_open",
            Self::InvalidRequest(_) => "invalid_request",
            Self::Config(_) => "config",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_failures_are_transport_5xx_and_429() {
        let symbol = Symbol::parse("AAPL").unwrap();
        let status = |status| MarketDataError::Status {
            provider: "yahoo",
            endpoint: "history",
            status,
            excerpt: String::new(),
        };
        assert!(status(503).is_retryable());
        assert!(!status(403).is_retryable());
        assert!(
            MarketDataError::RateLimited {
                provider: "yahoo",
                retry_after: None
            }
            .is_retryable()
        );
        assert!(
            MarketDataError::Timeout {
                provider: "yahoo",
                endpoint: "quote"
            }
            .is_retryable()
        );
        assert!(
            !MarketDataError::NotFound {
                provider: "yahoo",
                symbol
            }
            .is_retryable()
        );
        assert!(
            !MarketDataError::Malformed {
                provider: "yahoo",
                symbol,
                message: String::new()
            }
            .is_retryable()
        );
    }

    #[test]
    fn messages_name_the_wait() {
        let e = MarketDataError::RateLimited {
            provider: "yahoo",
            retry_after: Some(Duration::from_secs(30)),
        };
        assert_eq!(e.to_string(), "yahoo: rate limited (HTTP 429), retry after 30s");
    }
}
