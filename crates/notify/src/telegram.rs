//! [`TelegramNotifier`]: the Telegram Bot API's `sendMessage` over one pooled reqwest client,
//! with splitting, a sender-side rate limit, retries and a delivery log.

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

use finstage_monitoring::Secret;
use futures_util::future::BoxFuture;
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::delivery_log::{DeliveryLog, DeliveryRecord, DeliveryStatus, EXCERPT_MAX_CHARS, NoDeliveryLog};
use crate::error::excerpt;
use crate::limit::{ChatLimiter, RateLimits};
use crate::split::{TELEGRAM_MAX_UNITS, split_html, visible_text};
use crate::{Delivery, Message, Notifier, NotifyError, RetryPolicy};

/// The channel name: the `channel` of metrics and of the delivery log.
const CHANNEL: &str = "telegram";

/// Telegram's public Bot API host.
pub const DEFAULT_API_URL: &str = "https://api.telegram.org";

/// How the Telegram notifier connects, where it sends, and how patiently.
///
/// ```
/// use finstage_monitoring::Secret;
/// use finstage_notify::TelegramConfig;
///
/// let config = TelegramConfig::new(Secret::new("123456:ABC-DEF".to_owned()), "-1001234567890");
/// assert!(!format!("{config:?}").contains("ABC-DEF"));
/// ```
#[derive(Debug, Clone)]
pub struct TelegramConfig {
    /// Scheme and host (and optional path prefix) the `/bot<token>/sendMessage` path is
    /// appended to. Tests point it at the mock server.
    pub api_url: String,
    /// The bot's token. It appears in the request path and nowhere else: not in `Debug`, logs,
    /// errors or the delivery log.
    pub bot_token: Secret<String>,
    /// The chat messages go to (a numeric id such as `-1001234567890`, or `@channelname`).
    pub chat_id: String,
    /// Sent as `disable_web_page_preview` (alerts carry links that need no preview).
    pub disable_web_page_preview: bool,
    /// Time allowed to open a TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// Time allowed for one request, from sending to the last byte of the answer.
    pub timeout: Duration,
    /// How long an idle pooled connection is kept (`None`: until the server closes it).
    pub pool_idle_timeout: Option<Duration>,
    /// The most UTF-16 code units of visible text per message; longer messages are split
    /// ([`split_html`]). At most [`TELEGRAM_MAX_UNITS`].
    pub max_units: usize,
    /// Retries of 429, 5xx, timeouts and connection failures.
    pub retry: RetryPolicy,
    /// The sender-side limits, per chat and overall.
    pub rate_limits: RateLimits,
}

impl TelegramConfig {
    /// Defaults for everything but the token and the chat.
    pub fn new(bot_token: Secret<String>, chat_id: impl Into<String>) -> Self {
        Self {
            api_url: DEFAULT_API_URL.to_owned(),
            bot_token,
            chat_id: chat_id.into(),
            disable_web_page_preview: true,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
            pool_idle_timeout: Some(Duration::from_secs(90)),
            max_units: TELEGRAM_MAX_UNITS,
            retry: RetryPolicy::default(),
            rate_limits: RateLimits::default(),
        }
    }
}

/// A [`Notifier`] that sends to a Telegram chat through the Bot API's `sendMessage`, in HTML
/// parse mode.
///
/// For each message:
/// 1. The text is checked (well-formed, not empty) and split into parts of at most
///    [`TelegramConfig::max_units`] visible UTF-16 units ([`split_html`]); parts go in order, and
///    a part that fails stops the rest ([`NotifyError::Part`]).
/// 2. Each part waits for the rate limit (per chat and overall), then is sent. A 429 waits its
///    `retry_after` (the chat's whole schedule is pushed back, so concurrent senders wait too)
///    and retries; 5xx, timeouts and connection failures retry after a jittered exponential
///    backoff; within [`RetryPolicy::max_attempts`] and [`RetryPolicy::budget`]. Other 4xx are
///    [`NotifyError::Rejected`] at once.
/// 3. Every part gets a [`DeliveryLog`] entry, updated after every attempt.
///
/// Metrics: `finstage_notify_messages_total{channel,outcome}` (`sent`, `failed`),
/// `finstage_notify_attempts_total{channel,outcome}` (`ok` or the error's
/// [`kind`](NotifyError::kind)), `finstage_notify_send_seconds{channel}` (a whole message, waits
/// included).
#[derive(Debug)]
pub struct TelegramNotifier {
    client: reqwest::Client,
    /// `{api_url}/bot<token>/sendMessage`: holds the token, so it is kept as a secret.
    send_url: Secret<Url>,
    chat_id: String,
    disable_web_page_preview: bool,
    max_units: usize,
    retry: RetryPolicy,
    limiter: ChatLimiter,
    log: Arc<dyn DeliveryLog>,
}

impl TelegramNotifier {
    /// A notifier for `config`, with no delivery log ([`NoDeliveryLog`]): one connection pool,
    /// rustls with the ring provider (installed as the process default if none is).
    ///
    /// # Errors
    /// [`NotifyError::Config`] when the API URL is not an absolute `http`/`https` URL, the token
    /// is empty or holds characters a token cannot (whitespace, `/`, `?`, `#`, `%`), the chat id
    /// is empty, `max_units` is 0 or above [`TELEGRAM_MAX_UNITS`], the retry policy or the rate
    /// limits are impossible, or the HTTP client cannot be built. No message names the token.
    pub fn new(config: TelegramConfig) -> Result<Self, NotifyError> {
        let send_url = send_url(&config.api_url, &config.bot_token)?;
        if config.chat_id.trim().is_empty() {
            return Err(NotifyError::Config("telegram chat_id is empty".to_owned()));
        }
        if !(1..=TELEGRAM_MAX_UNITS).contains(&config.max_units) {
            return Err(NotifyError::Config(format!(
                "telegram max_units must be within 1..={TELEGRAM_MAX_UNITS}, got {}",
                config.max_units
            )));
        }
        config.retry.validate()?;
        let limiter = ChatLimiter::new(config.rate_limits)?;
        // reqwest is built without a bundled crypto provider; ring is ours. A provider some
        // other part of the process installed first is fine too.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .pool_idle_timeout(config.pool_idle_timeout)
            .build()
            .map_err(|e| NotifyError::Config(format!("telegram HTTP client: {}", e.without_url())))?;
        Ok(Self {
            client,
            send_url,
            chat_id: config.chat_id,
            disable_web_page_preview: config.disable_web_page_preview,
            max_units: config.max_units,
            retry: config.retry,
            limiter,
            log: Arc::new(NoDeliveryLog),
        })
    }

    /// Writes every attempt to `log` (the store's `notification_log`, say).
    #[must_use]
    pub fn with_delivery_log(mut self, log: Arc<dyn DeliveryLog>) -> Self {
        self.log = log;
        self
    }

    /// The configured chat.
    pub fn chat_id(&self) -> &str {
        &self.chat_id
    }

    /// Delivers `message` to `chat_id` instead of the configured chat (same limits, retries and
    /// log).
    ///
    /// # Errors
    /// As [`Notifier::send`]: see [`NotifyError`].
    pub async fn send_to(&self, chat_id: &str, message: &Message) -> Result<Delivery, NotifyError> {
        let started = Instant::now();
        let result = self.deliver(chat_id, message).await;
        let outcome = if result.is_ok() { "sent" } else { "failed" };
        metrics::counter!("finstage_notify_messages_total", "channel" => CHANNEL, "outcome" => outcome).increment(1);
        metrics::histogram!("finstage_notify_send_seconds", "channel" => CHANNEL)
            .record(started.elapsed().as_secs_f64());
        match &result {
            Ok(delivery) => tracing::debug!(
                chat_id,
                kind = message.kind(),
                parts = delivery.parts,
                attempts = delivery.attempts,
                "telegram message sent"
            ),
            Err(error) => tracing::warn!(
                chat_id,
                kind = message.kind(),
                error = %error,
                "telegram message not delivered"
            ),
        }
        result
    }

    async fn deliver(&self, chat_id: &str, message: &Message) -> Result<Delivery, NotifyError> {
        if chat_id.trim().is_empty() {
            return Err(NotifyError::InvalidMessage("the chat id is empty".to_owned()));
        }
        if visible_text(message.text())?.trim().is_empty() {
            return Err(NotifyError::InvalidMessage("the message text is empty".to_owned()));
        }
        let parts = split_html(message.text(), self.max_units)?;
        let mut delivery = Delivery {
            message_ids: Vec::with_capacity(parts.len()),
            parts: parts.len(),
            attempts: 0,
        };
        for (index, part) in parts.iter().enumerate() {
            let (result, attempts) = self.send_part(chat_id, message.kind(), part).await;
            delivery.attempts += attempts;
            match result {
                Ok(id) => delivery.message_ids.push(id),
                Err(error) if parts.len() == 1 => return Err(error),
                Err(error) => {
                    return Err(NotifyError::Part {
                        part: index + 1,
                        parts: parts.len(),
                        error: Box::new(error),
                    });
                }
            }
        }
        Ok(delivery)
    }

    /// One part, with its retries; the result and the attempts made.
    async fn send_part(&self, chat_id: &str, kind: &str, text: &str) -> (Result<i64, NotifyError>, u32) {
        let shown = visible_text(text).unwrap_or_default();
        let excerpt: String = shown.chars().take(EXCERPT_MAX_CHARS).collect();
        let record = DeliveryRecord {
            channel: CHANNEL,
            recipient: chat_id,
            kind,
            excerpt: &excerpt,
        };
        let log_id = match self.log.begin(record).await {
            Ok(id) => Some(id),
            Err(error) => {
                tracing::warn!(error = %error, "telegram: the delivery log is not recording");
                None
            }
        };
        let started = Instant::now();
        let mut attempts = 0;
        loop {
            self.limiter.acquire(chat_id).await;
            attempts += 1;
            let outcome = self.request(chat_id, text).await;
            let label = outcome.as_ref().map_or_else(NotifyError::kind, |_| "ok");
            metrics::counter!("finstage_notify_attempts_total", "channel" => CHANNEL, "outcome" => label).increment(1);
            // `None`: done; `Some(wait)`: retry after `wait`.
            let retry_in = match &outcome {
                Err(error) if error.is_retryable() && attempts < self.retry.max_attempts => {
                    let wait = self.retry.delay_after(attempts - 1, error, &mut rand::rng());
                    (started.elapsed() + wait <= self.retry.budget).then_some(wait)
                }
                _ => None,
            };
            let status = match (&outcome, retry_in) {
                (Ok(_), _) => DeliveryStatus::Sent,
                (Err(_), Some(_)) => DeliveryStatus::Pending,
                (Err(_), None) => DeliveryStatus::Failed,
            };
            if let Some(id) = log_id {
                let error = outcome.as_ref().err().map(ToString::to_string);
                if let Err(e) = self.log.attempted(id, status, attempts, error.as_deref()).await {
                    tracing::warn!(error = %e, "telegram: the delivery log is not recording");
                }
            }
            let (Err(error), Some(wait)) = (&outcome, retry_in) else {
                return (outcome, attempts);
            };
            tracing::info!(
                chat_id,
                attempt = attempts,
                error = %error,
                wait_ms = wait.as_millis() as u64,
                "telegram: retrying"
            );
            if matches!(error, NotifyError::RateLimited { .. }) {
                // Everyone sending to this chat waits, not just this task.
                self.limiter.penalize(chat_id, wait);
            } else {
                tokio::time::sleep(wait).await;
            }
        }
    }

    /// One `sendMessage` request: Telegram's `message_id`, or the typed failure.
    async fn request(&self, chat_id: &str, text: &str) -> Result<i64, NotifyError> {
        let body = SendMessage {
            chat_id: ChatId::parse(chat_id),
            text,
            parse_mode: "HTML",
            disable_web_page_preview: self.disable_web_page_preview,
        };
        let body = serde_json::to_vec(&body).map_err(|e| NotifyError::InvalidMessage(e.to_string()))?;
        let response = self
            .client
            .post(self.send_url.expose_secret().clone())
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        let headers = response.headers().clone();
        // A body cut short fails here: a transport error, retryable.
        let body = response.bytes().await.map_err(transport)?;
        answer(status, &headers, &body)
    }
}

impl Notifier for TelegramNotifier {
    fn channel(&self) -> &'static str {
        CHANNEL
    }

    fn send<'a>(&'a self, message: &'a Message) -> BoxFuture<'a, Result<Delivery, NotifyError>> {
        Box::pin(self.send_to(&self.chat_id, message))
    }
}

/// `{api_url}/bot<token>/sendMessage`, checking both parts without ever printing the token.
fn send_url(api_url: &str, token: &Secret<String>) -> Result<Secret<Url>, NotifyError> {
    let mut url = Url::parse(api_url).map_err(|e| NotifyError::Config(format!("telegram api_url {api_url:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(NotifyError::Config(format!(
            "telegram api_url {api_url:?}: expected an http:// or https:// URL"
        )));
    }
    let token = token.expose_secret();
    if token.is_empty() {
        return Err(NotifyError::Config("telegram bot_token is empty".to_owned()));
    }
    if token
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '/' | '?' | '#' | '%'))
    {
        return Err(NotifyError::Config(
            "telegram bot_token holds characters a token cannot (whitespace, '/', '?', '#' or '%')".to_owned(),
        ));
    }
    url.path_segments_mut()
        .map_err(|()| NotifyError::Config("telegram api_url cannot take a path".to_owned()))?
        .pop_if_empty()
        .push(&format!("bot{token}"))
        .push("sendMessage");
    url.set_query(None);
    url.set_fragment(None);
    Ok(Secret::new(url))
}

/// A transport failure, described without the URL (which holds the token).
fn transport(error: reqwest::Error) -> NotifyError {
    if error.is_timeout() {
        return NotifyError::Timeout { channel: CHANNEL };
    }
    let error = error.without_url();
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    NotifyError::Connect {
        channel: CHANNEL,
        message: excerpt(&message),
    }
}

/// The body of `sendMessage`.
#[derive(Serialize)]
struct SendMessage<'a> {
    chat_id: ChatId<'a>,
    text: &'a str,
    parse_mode: &'static str,
    disable_web_page_preview: bool,
}

/// A chat id as Telegram takes it: an integer, or a `@username` string.
#[derive(Serialize)]
#[serde(untagged)]
enum ChatId<'a> {
    Id(i64),
    Name(&'a str),
}

impl<'a> ChatId<'a> {
    fn parse(chat_id: &'a str) -> Self {
        chat_id.trim().parse().map_or(ChatId::Name(chat_id), ChatId::Id)
    }
}

/// The Bot API's answer envelope.
#[derive(Deserialize)]
struct Answer {
    ok: bool,
    result: Option<Sent>,
    error_code: Option<u16>,
    description: Option<String>,
    parameters: Option<Parameters>,
}

#[derive(Deserialize)]
struct Sent {
    message_id: i64,
}

#[derive(Deserialize)]
struct Parameters {
    retry_after: Option<u64>,
}

/// Maps an HTTP answer to the sent message's id or a typed error.
fn answer(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Result<i64, NotifyError> {
    let parsed: Option<Answer> = serde_json::from_slice(body).ok();
    if status.is_success() {
        return match parsed {
            Some(Answer {
                ok: true,
                result: Some(sent),
                ..
            }) => Ok(sent.message_id),
            Some(Answer {
                ok: false,
                error_code,
                description,
                ..
            }) => Err(refusal(
                error_code.unwrap_or(status.as_u16()),
                description.unwrap_or_default(),
                None,
            )),
            _ => Err(NotifyError::Malformed {
                channel: CHANNEL,
                message: format!(
                    "HTTP {} without a sent message: {}",
                    status.as_u16(),
                    excerpt(&String::from_utf8_lossy(body))
                ),
            }),
        };
    }
    let (description, retry_after) = match parsed {
        Some(answer) => (
            answer.description.unwrap_or_default(),
            answer.parameters.and_then(|p| p.retry_after),
        ),
        None => (String::from_utf8_lossy(body).into_owned(), None),
    };
    let retry_after = retry_after.or_else(|| {
        headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
    });
    Err(refusal(status.as_u16(), description, retry_after))
}

/// The error for an HTTP status Telegram answered with.
fn refusal(status: u16, description: String, retry_after: Option<u64>) -> NotifyError {
    let description = excerpt(description.trim());
    match status {
        429 => NotifyError::RateLimited {
            channel: CHANNEL,
            retry_after: retry_after.map(Duration::from_secs),
            description,
        },
        400..=499 => NotifyError::Rejected {
            channel: CHANNEL,
            status,
            description,
        },
        _ => NotifyError::Server {
            channel: CHANNEL,
            status,
            description,
        },
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn config() -> TelegramConfig {
        TelegramConfig::new(Secret::new("123:secret-token".to_owned()), "42")
    }

    #[test]
    fn the_url_holds_the_token_and_nothing_prints_it() {
        let url = send_url("http://127.0.0.1:1/prefix/", &Secret::new("123:abc".to_owned())).unwrap();
        assert_eq!(
            url.expose_secret().as_str(),
            "http://127.0.0.1:1/prefix/bot123:abc/sendMessage"
        );
        let notifier = TelegramNotifier::new(config()).unwrap();
        let printed = format!("{notifier:?}");
        assert!(!printed.contains("secret-token"), "{printed}");
        assert!(printed.contains("[redacted]"), "{printed}");
    }

    /// A change to a valid config, and a word its error must name.
    type Case = (&'static str, fn(&mut TelegramConfig));

    #[test]
    fn bad_settings_are_refused_without_naming_the_token() {
        let cases: Vec<Case> = vec![
            ("api_url", |c| c.api_url = "ftp://example.com".to_owned()),
            ("api_url", |c| c.api_url = "not a url".to_owned()),
            ("bot_token is empty", |c| c.bot_token = Secret::new(String::new())),
            ("bot_token holds", |c| {
                c.bot_token = Secret::new("12/../secret-token".to_owned());
            }),
            ("bot_token holds", |c| {
                c.bot_token = Secret::new("secret-token x".to_owned());
            }),
            ("chat_id", |c| c.chat_id = " ".to_owned()),
            ("max_units", |c| c.max_units = 0),
            ("max_units", |c| c.max_units = TELEGRAM_MAX_UNITS + 1),
            ("retry", |c| c.retry.max_attempts = 0),
            ("per_chat", |c| c.rate_limits.per_chat.per_second = 0.0),
        ];
        for (needle, change) in cases {
            let mut config = config();
            change(&mut config);
            let error = TelegramNotifier::new(config).unwrap_err();
            let printed = format!("{error} {error:?}");
            assert!(matches!(error, NotifyError::Config(_)), "{printed}");
            assert!(printed.contains(needle), "{needle}: {printed}");
            assert!(!printed.contains("secret-token"), "{printed}");
        }
    }

    #[test]
    fn answers_map_to_ids_and_typed_errors() {
        let none = HeaderMap::new();
        let ok = br#"{"ok":true,"result":{"message_id":7,"chat":{"id":42},"date":1,"text":"x"}}"#;
        assert_eq!(answer(StatusCode::OK, &none, ok), Ok(7));
        let limited = br#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 5","parameters":{"retry_after":5}}"#;
        assert_eq!(
            answer(StatusCode::TOO_MANY_REQUESTS, &none, limited),
            Err(NotifyError::RateLimited {
                channel: CHANNEL,
                retry_after: Some(Duration::from_secs(5)),
                description: "Too Many Requests: retry after 5".to_owned(),
            })
        );
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        let plain = answer(StatusCode::TOO_MANY_REQUESTS, &headers, b"slow down").unwrap_err();
        assert!(matches!(plain, NotifyError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(3)));
        let blocked = br#"{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}"#;
        let error = answer(StatusCode::FORBIDDEN, &none, blocked).unwrap_err();
        assert!(error.is_permanent());
        assert_eq!(error.description(), Some("Forbidden: bot was blocked by the user"));
        let gateway = answer(StatusCode::BAD_GATEWAY, &none, b"<html>502 Bad Gateway</html>").unwrap_err();
        assert!(matches!(gateway, NotifyError::Server { status: 502, .. }) && gateway.is_retryable());
        let garbage = answer(StatusCode::OK, &none, b"<html>").unwrap_err();
        assert!(matches!(garbage, NotifyError::Malformed { .. }) && !garbage.is_retryable());
    }

    #[test]
    fn chat_ids_are_numbers_when_they_can_be() {
        let json = |chat| {
            serde_json::to_string(&SendMessage {
                chat_id: ChatId::parse(chat),
                text: "t",
                parse_mode: "HTML",
                disable_web_page_preview: true,
            })
            .unwrap()
        };
        assert!(json("-1001234567890").starts_with(r#"{"chat_id":-1001234567890,"#));
        assert!(json("@finstage").starts_with(r#"{"chat_id":"@finstage","#));
    }
}
