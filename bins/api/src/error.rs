//! The one error model of the API: [`ApiError`] maps every failure to a status and the shared
//! JSON body `{"error":{"code":"…","message":"…"}}`, and the extractor error handlers
//! ([`json_error`], [`query_error`], [`path_error`]) make actix's own rejections take that shape.

use std::fmt::{self, Write as _};
use std::time::Duration;

use actix_web::body::BoxBody;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use finstage_marketdata::MarketDataError;
use finstage_notify::NotifyError;
use finstage_store::StoreError;
use finstage_tasks::TaskError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The most characters of user input an error message repeats.
pub const ECHO_MAX_CHARS: usize = 64;

/// Makes user input safe to repeat in an error message: at most [`ECHO_MAX_CHARS`] characters
/// (then `…`), control characters, quotes and backslashes escaped.
pub fn echo(input: &str) -> String {
    let mut out = String::with_capacity(input.len().min(ECHO_MAX_CHARS) + 4);
    let mut chars = input.chars();
    for ch in chars.by_ref().take(ECHO_MAX_CHARS) {
        match ch {
            '"' | '\\' | '<' | '>' | '&' => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(ch));
            }
            c if c.is_control() => {
                let _ = write!(out, "{}", c.escape_default());
            }
            c => out.push(c),
        }
    }
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

/// Shortens a message built from a library error (which may quote input) and escapes it.
fn shorten(message: &str) -> String {
    const MAX: usize = 300;
    let mut out: String = message
        .chars()
        .take(MAX)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if message.chars().count() > MAX {
        out.push('…');
    }
    out
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The code and message of an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable, machine-readable code: `invalid_symbol`, `invalid_query`, `invalid_body`,
    /// `invalid_spec`, `invalid_path`, `unauthorized`, `forbidden`, `admin_disabled`, `not_found`,
    /// `method_not_allowed`, `conflict`, `payload_too_large`, `unsupported_media_type`,
    /// `invalid_bar`, `rate_limited`, `notification_rejected`, `upstream_unavailable`,
    /// `store_unavailable`, `internal`.
    #[schema(example = "invalid_symbol")]
    pub code: String,
    /// A human-readable explanation (user input in it is shortened and escaped).
    pub message: String,
}

/// Every way a request can fail, each with its status and code.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// 400: bad input; `code` says which (`invalid_symbol`, `invalid_query`, `invalid_body`,
    /// `invalid_spec`, `invalid_path`).
    #[error("{message}")]
    BadRequest {
        /// The code.
        code: &'static str,
        /// The explanation.
        message: String,
    },
    /// 401 `unauthorized`: no bearer token, or the wrong one.
    #[error("a valid bearer token is required")]
    Unauthorized,
    /// 403 `forbidden`: authenticated but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 403 `admin_disabled`: no admin token is configured, so admin endpoints are off.
    #[error("admin endpoints are disabled: no admin token is configured")]
    AdminDisabled,
    /// 404 `not_found`.
    #[error("{0}")]
    NotFound(String),
    /// 405 `method_not_allowed`.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409 `conflict`.
    #[error("{0}")]
    Conflict(String),
    /// 413 `payload_too_large`.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415 `unsupported_media_type`.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: well-formed but semantically wrong input; `code` says what (`invalid_bar`, …).
    #[error("{message}")]
    Unprocessable {
        /// The code.
        code: &'static str,
        /// The explanation.
        message: String,
    },
    /// 429 `rate_limited`, with `Retry-After` in whole seconds (at least 1).
    #[error("too many requests: retry after {}s", retry_after_secs(*.retry_after))]
    RateLimited {
        /// How long until a request is allowed.
        retry_after: Duration,
    },
    /// 502 `notification_rejected`: the notification channel (Telegram) refused the message for
    /// good; the message carries the channel's own description, never a token.
    #[error("{0}")]
    NotificationRejected(String),
    /// 503 `upstream_unavailable`: an upstream (the market data provider, the notification
    /// channel) is down, and nothing stored can replace it.
    #[error("{0}")]
    UpstreamUnavailable(String),
    /// 503 `store_unavailable`: the database cannot be reached.
    #[error("the database is unavailable")]
    StoreUnavailable,
    /// 500 `internal`: a failure that is not the caller's; the details are logged, not sent.
    #[error("internal error")]
    Internal,
}

fn retry_after_secs(d: Duration) -> u64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.max(1)
}

impl ApiError {
    /// A 400 with `code`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// 400 `invalid_query`.
    pub fn invalid_query(message: impl Into<String>) -> Self {
        Self::bad_request("invalid_query", message)
    }

    /// 400 `invalid_symbol` from the domain's parse error (whose message is escaped already).
    pub fn invalid_symbol(error: &finstage_domain::DomainError) -> Self {
        Self::bad_request("invalid_symbol", shorten(&error.to_string()))
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. } | Self::Unprocessable { code, .. } => code,
            Self::Unauthorized => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::AdminDisabled => "admin_disabled",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict(_) => "conflict",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::RateLimited { .. } => "rate_limited",
            Self::NotificationRejected(_) => "notification_rejected",
            Self::UpstreamUnavailable(_) => "upstream_unavailable",
            Self::StoreUnavailable => "store_unavailable",
            Self::Internal => "internal",
        }
    }

    /// The body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code().to_owned(),
                message: self.to_string(),
            },
        }
    }

    /// A store failure: unavailability is a 503, input the store rejected a 400, anything else
    /// a 500 (logged here with its detail, which never goes to the client).
    pub fn from_store(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable { .. } => {
                tracing::warn!(%error, "database unavailable");
                Self::StoreUnavailable
            }
            StoreError::InvalidInput(message) => Self::invalid_query(shorten(&message)),
            other => {
                tracing::error!(error = %other, "database error");
                Self::Internal
            }
        }
    }

    /// A task queue failure: input the queue refused is a 400 (the caller's doing, logged at
    /// debug level only), anything else a 500 (logged as an error).
    pub fn from_tasks(error: TaskError) -> Self {
        match error {
            TaskError::Invalid(message) => {
                tracing::debug!(%message, "task queue refused the input");
                Self::bad_request("invalid_body", shorten(&message))
            }
            other => {
                tracing::error!(error = %other, "task queue error");
                Self::Internal
            }
        }
    }

    /// A provider failure that nothing stored can replace.
    pub fn from_market(error: &MarketDataError) -> Self {
        match error {
            MarketDataError::NotFound { symbol, .. } | MarketDataError::NoData { symbol, .. } => {
                Self::NotFound(format!("unknown symbol {symbol}"))
            }
            MarketDataError::InvalidRequest(message) | MarketDataError::InvalidRange { message, .. } => {
                Self::invalid_query(shorten(message))
            }
            other => {
                tracing::warn!(error = %other, "upstream unavailable");
                Self::UpstreamUnavailable(format!("the market data provider is unavailable ({})", other.kind()))
            }
        }
    }

    /// A notification that was not delivered: a permanent refusal (`is_permanent`) is a 502
    /// `notification_rejected` with the channel's description, a failure that persisted through
    /// the retries (`is_retryable`) a 503 `upstream_unavailable`, anything else a 500 (logged).
    /// No message holds a token: [`NotifyError`] never carries one.
    pub fn from_notify(error: &NotifyError) -> Self {
        if error.is_permanent() {
            tracing::warn!(%error, "notification rejected");
            let reason = match (error.status(), error.description()) {
                (Some(status), Some(description)) => format!("HTTP {status}: {description}"),
                _ => error.to_string(),
            };
            return Self::NotificationRejected(shorten(&format!("the notification was rejected: {reason}")));
        }
        if error.is_retryable() {
            tracing::warn!(%error, "notification channel unavailable");
            let detail = match error.status() {
                Some(status) => format!("{}, HTTP {status}", error.kind()),
                None => error.kind().to_owned(),
            };
            return Self::UpstreamUnavailable(format!(
                "the notification channel is unavailable ({detail}), still after retries"
            ));
        }
        if let NotifyError::Malformed { .. } = error {
            tracing::warn!(%error, "notification channel answered malformed");
            return Self::UpstreamUnavailable("the notification channel answered malformed".to_owned());
        }
        tracing::error!(%error, "notification failed");
        Self::Internal
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        Self::from_store(error)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::AdminDisabled => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::NotificationRejected(_) => StatusCode::BAD_GATEWAY,
            Self::UpstreamUnavailable(_) | Self::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        let mut response = HttpResponse::build(self.status_code());
        match self {
            Self::RateLimited { retry_after } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs(*retry_after)));
            }
            Self::Unauthorized => {
                response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
            }
            _ => {}
        }
        response.json(self.body())
    }
}

impl fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error.code, self.error.message)
    }
}

/// `JsonConfig`'s error handler: bad JSON is 400 `invalid_body`, an oversized body 413
/// `payload_too_large`, a wrong content type 415 `unsupported_media_type`.
pub fn json_error(error: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let api = match &error {
        JsonPayloadError::OverflowKnownLength { limit, .. } | JsonPayloadError::Overflow { limit } => {
            ApiError::PayloadTooLarge(format!("the body is larger than the limit of {limit} bytes"))
        }
        JsonPayloadError::ContentType => {
            ApiError::UnsupportedMediaType("the body must be JSON (Content-Type: application/json)".to_owned())
        }
        JsonPayloadError::Deserialize(e) => {
            ApiError::bad_request("invalid_body", shorten(&format!("invalid JSON body: {e}")))
        }
        JsonPayloadError::Serialize(_) => ApiError::Internal,
        JsonPayloadError::Payload(actix_web::error::PayloadError::Overflow) => {
            ApiError::PayloadTooLarge("the body is larger than the limit".to_owned())
        }
        _ => ApiError::bad_request("invalid_body", "the body could not be read"),
    };
    api.into()
}

/// `QueryConfig`'s error handler: 400 `invalid_query`.
pub fn query_error(error: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::invalid_query(shorten(&format!("invalid query string: {error}"))).into()
}

/// `PathConfig`'s error handler: 400 `invalid_path`.
pub fn path_error(error: PathError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::bad_request("invalid_path", shorten(&format!("invalid path parameter: {error}"))).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_shortens_and_escapes() {
        assert_eq!(echo("AAPL"), "AAPL");
        assert_eq!(echo("<b>\"x\n"), "\\u{3c}b\\u{3e}\\u{22}x\\n");
        let long = "x".repeat(200);
        assert_eq!(echo(&long).chars().count(), ECHO_MAX_CHARS + 1);
    }

    #[test]
    fn retry_after_rounds_up_to_a_second() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(2_001)), 3);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
