//! [`NotifyError`]: every way a notification can fail, and which failures are worth retrying.

use std::time::Duration;

/// The longest text an error keeps from an upstream answer (Telegram's description, an HTTP
/// client's message), in characters.
pub const MAX_EXCERPT: usize = 200;

/// A notification that was not delivered.
///
/// Each variant says whether a later attempt can help ([`is_retryable`](Self::is_retryable),
/// [`is_permanent`](Self::is_permanent)) and carries Telegram's own `description` where there is
/// one. No message ever holds a bot token or a request URL (which would contain it): HTTP client
/// errors are stripped of their URL before they are kept, and upstream texts are cut to
/// [`MAX_EXCERPT`] characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotifyError {
    /// Telegram refused the request for good: HTTP 400 (bad markup, empty or too long text, chat
    /// not found), 401 (wrong token), 403 (bot blocked or kicked), or another 4xx other than 429.
    /// Trying again with the same request cannot succeed.
    #[error("{channel}: rejected with HTTP {status}: {description}")]
    Rejected {
        /// The channel that answered (`telegram`).
        channel: &'static str,
        /// The HTTP status (Telegram's `error_code`).
        status: u16,
        /// Telegram's `description` (`Forbidden: bot was blocked by the user`).
        description: String,
    },
    /// HTTP 429, still after the retries the policy allowed (or the requested wait would have
    /// overrun the time budget).
    #[error("{channel}: rate limited (HTTP 429){}: {description}", fmt_retry_after(*.retry_after))]
    RateLimited {
        /// The channel that answered.
        channel: &'static str,
        /// How long Telegram asked us to wait (`parameters.retry_after`), when it said.
        retry_after: Option<Duration>,
        /// Telegram's `description` (`Too Many Requests: retry after 5`).
        description: String,
    },
    /// HTTP 5xx (or another status Telegram does not document), still after the retries.
    #[error("{channel}: server error HTTP {status}: {description}")]
    Server {
        /// The channel that answered.
        channel: &'static str,
        /// The HTTP status.
        status: u16,
        /// Telegram's `description`, or the start of the body when it was not Telegram's JSON.
        description: String,
    },
    /// The request did not complete in time, still after the retries.
    #[error("{channel}: request timed out")]
    Timeout {
        /// The channel called.
        channel: &'static str,
    },
    /// The connection failed or broke before an answer arrived, still after the retries.
    #[error("{channel}: connection failed: {message}")]
    Connect {
        /// The channel called.
        channel: &'static str,
        /// What the HTTP client reported, without the URL.
        message: String,
    },
    /// A successful HTTP status with a body that is not the Bot API's JSON. Not retried: the
    /// message may well have been delivered.
    #[error("{channel}: malformed response: {message}")]
    Malformed {
        /// The channel that answered.
        channel: &'static str,
        /// What was wrong.
        message: String,
    },
    /// The message cannot be sent as it is: empty, or not well-formed Telegram HTML. Nothing was
    /// sent.
    #[error("invalid message: {0}")]
    InvalidMessage(String),
    /// Part `part` (1-based) of a message split into `parts` failed with `error`; the parts
    /// before it were delivered, the ones after it were not sent.
    #[error("part {part} of {parts} not delivered: {error}")]
    Part {
        /// The part that failed, counting from 1.
        part: usize,
        /// How many parts the message was split into.
        parts: usize,
        /// Why it failed.
        error: Box<NotifyError>,
    },
    /// The delivery log could not record an attempt. The notifier itself only logs these (a
    /// database hiccup does not stop an alert); a [`DeliveryLog`](crate::DeliveryLog) returns them.
    #[error("delivery log: {0}")]
    DeliveryLog(String),
    /// The alert dedupe record (the store's `alert_claims`) could not be read or written; the
    /// alert was not sent.
    #[error("alert log: {0}")]
    AlertLog(String),
    /// A notifier was configured with impossible settings.
    #[error("invalid configuration: {0}")]
    Config(String),
}

fn fmt_retry_after(retry_after: Option<Duration>) -> String {
    retry_after.map_or_else(String::new, |d| format!(", retry after {}s", d.as_secs_f64()))
}

impl NotifyError {
    /// `true` for failures that a later attempt can cure: HTTP 429, 5xx, timeouts and
    /// connection failures.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::Server { .. } | Self::Timeout { .. } | Self::Connect { .. } => true,
            Self::Part { error, .. } => error.is_retryable(),
            _ => false,
        }
    }

    /// `true` when sending the same message again cannot succeed: Telegram rejected it (4xx but
    /// 429), the message is invalid, or the notifier is misconfigured.
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::Rejected { .. } | Self::InvalidMessage(_) | Self::Config(_) => true,
            Self::Part { error, .. } => error.is_permanent(),
            _ => false,
        }
    }

    /// The HTTP status Telegram answered, if it answered one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Rejected { status, .. } | Self::Server { status, .. } => Some(*status),
            Self::RateLimited { .. } => Some(429),
            Self::Part { error, .. } => error.status(),
            _ => None,
        }
    }

    /// Telegram's `description` of the failure, if it gave one.
    pub fn description(&self) -> Option<&str> {
        match self {
            Self::Rejected { description, .. }
            | Self::RateLimited { description, .. }
            | Self::Server { description, .. } => Some(description),
            Self::Part { error, .. } => error.description(),
            _ => None,
        }
    }

    /// A short, stable name for the kind of failure, used as a metric label.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Rejected { .. } => "rejected",
            Self::RateLimited { .. } => "rate_limited",
            Self::Server { .. } => "server_error",
            Self::Timeout { .. } => "timeout",
            Self::Connect { .. } => "connect",
            Self::Malformed { .. } => "malformed",
            Self::InvalidMessage(_) => "invalid_message",
            Self::Part { error, .. } => error.kind(),
            Self::DeliveryLog(_) => "delivery_log",
            Self::AlertLog(_) => "alert_log",
            Self::Config(_) => "config",
        }
    }
}

/// `text` cut to [`MAX_EXCERPT`] characters (an ellipsis marks the cut).
pub(crate) fn excerpt(text: &str) -> String {
    match text.char_indices().nth(MAX_EXCERPT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permanent_and_retryable_are_disjoint_and_follow_the_status() {
        let rejected = |status| NotifyError::Rejected {
            channel: "telegram",
            status,
            description: "Forbidden: bot was blocked by the user".to_owned(),
        };
        assert!(rejected(403).is_permanent() && !rejected(403).is_retryable());
        let limited = NotifyError::RateLimited {
            channel: "telegram",
            retry_after: Some(Duration::from_secs(3)),
            description: "Too Many Requests: retry after 3".to_owned(),
        };
        assert!(limited.is_retryable() && !limited.is_permanent());
        assert_eq!(limited.status(), Some(429));
        assert_eq!(
            limited.to_string(),
            "telegram: rate limited (HTTP 429), retry after 3s: Too Many Requests: retry after 3"
        );
        let part = NotifyError::Part {
            part: 2,
            parts: 3,
            error: Box::new(rejected(400)),
        };
        assert!(part.is_permanent());
        assert_eq!(part.status(), Some(400));
        assert_eq!(part.description(), Some("Forbidden: bot was blocked by the user"));
        assert_eq!(part.kind(), "rejected");
        assert!(!NotifyError::Timeout { channel: "telegram" }.is_permanent());
        assert!(!NotifyError::DeliveryLog("x".into()).is_retryable());
    }

    #[test]
    fn excerpts_are_cut_on_characters() {
        assert_eq!(excerpt("short"), "short");
        let long = "é".repeat(MAX_EXCERPT + 5);
        assert_eq!(excerpt(&long).chars().count(), MAX_EXCERPT + 1);
    }
}
