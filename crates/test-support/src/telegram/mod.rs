//! A mock of the Telegram Bot API's `sendMessage`: [`MockTelegram`] checks the token, parses
//! the text like Telegram's HTML mode, records what it accepts, and misbehaves on demand
//! ([`TelegramFault`]).
//!
//! # Route
//! `POST /bot<token>/sendMessage` (any HTTP method is taken, as Telegram does), parameters in a
//! JSON body (`Content-Type: application/json`) or a form (`application/x-www-form-urlencoded`,
//! also assumed without a `Content-Type`): `chat_id` (number or string), `text`, `parse_mode`,
//! `disable_web_page_preview`.
//!
//! # Order of the checks
//! 1. A path that is not `/bot<token>/<method>`: 404 `Not Found`.
//! 2. A token other than the mock's: 401 `{"ok":false,"error_code":401,"description":"Unauthorized"}`.
//! 3. A method other than `sendMessage`: 404 `Not Found: method not found`.
//! 4. A pushed or set fault, if any ([`TelegramFault`]); the message is then not recorded
//!    (but for [`TelegramFault::Delay`]).
//! 5. The call itself, each failure a 400 with Telegram's description: a body that does not
//!    parse; `chat_id is empty`; no text: `message text is empty`; `parse_mode` `HTML` whose
//!    text does not parse: `can't parse entities: …` ([`parse_html`]); any other parse mode:
//!    `unsupported parse_mode` (the mock knows HTML and plain text only); a text that is empty
//!    or only whitespace after parsing: `message text is empty`; more than 4,096 UTF-16 code
//!    units after parsing: `message is too long`.
//! 6. Accepted: recorded ([`SentMessage`]) and answered as Telegram does,
//!    `{"ok":true,"result":{"message_id":n,"from":{…},"chat":{"id":…,"type":…},"date":…,"text":"<plain text>"}}`,
//!    message ids counting from 1.
//!
//! Every request is recorded ([`TelegramRequest`]), whatever its answer.

mod fault;
mod handler;
mod html;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::time::Instant;

pub use self::fault::TelegramFault;
pub use self::html::{ALLOWED_TAGS, parse_html};

use self::handler::{Shared, State};
use crate::http::{Server, lock};

/// The most UTF-16 code units of text (after entity parsing) one message may have.
pub const MAX_MESSAGE_UNITS: usize = 4_096;

/// A message the mock accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SentMessage {
    /// The id the mock answered with (1, 2, … in order of acceptance).
    pub message_id: i64,
    /// The `chat_id` as sent (a number's decimal text, or the string).
    pub chat_id: String,
    /// The `text` as sent (HTML when `parse_mode` is `HTML`).
    pub text: String,
    /// The `parse_mode`, if one was sent.
    pub parse_mode: Option<String>,
    /// The `disable_web_page_preview` flag, if one was sent.
    pub disable_web_page_preview: Option<bool>,
    /// The text as the chat shows it: tags removed and entities decoded (the `text` itself
    /// without a parse mode).
    pub plain_text: String,
    /// When it arrived, on tokio's clock.
    pub received_at: Instant,
}

/// One request as the mock saw and answered it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TelegramRequest {
    /// The HTTP method (`POST`).
    pub http_method: String,
    /// The Bot API method (`sendMessage`), when the path had the `/bot<token>/<method>` shape.
    pub bot_method: Option<String>,
    /// Whether the token in the path was the mock's.
    pub token_ok: bool,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The `chat_id` parameter, if the body parsed and had one.
    pub chat_id: Option<String>,
    /// The status answered; `0` when the connection was closed without an answer.
    pub status: u16,
    /// The fault that shaped the answer, if any.
    pub fault: Option<TelegramFault>,
    /// When it arrived, on tokio's clock (so a paused clock shows in it).
    pub received_at: Instant,
}

/// A running mock Telegram Bot API server on `127.0.0.1`, and a handle to configure and
/// inspect it.
///
/// Clones share one server; it stops when the last clone is dropped or on
/// [`shutdown`](Self::shutdown).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use finstage_test_support::{MockTelegram, TelegramFault};
///
/// let telegram = MockTelegram::start("123:test-token").await;
/// telegram.push_fault(TelegramFault::TooManyRequests { retry_after: 3 }, 1);
/// assert!(telegram.api_url().starts_with("http://127.0.0.1:"));
/// assert_eq!(telegram.send_message_url(), format!("{}/bot123:test-token/sendMessage", telegram.api_url()));
/// assert!(telegram.messages().is_empty());
/// # }
/// ```
#[derive(Clone)]
pub struct MockTelegram {
    inner: Arc<Inner>,
}

struct Inner {
    // Dropped with the last handle, which stops the server.
    server: Server,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for MockTelegram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockTelegram")
            .field("addr", &self.addr())
            .finish_non_exhaustive()
    }
}

impl MockTelegram {
    /// Starts the server on `127.0.0.1:0` (a free port), accepting the bot token `token`, with
    /// no faults.
    ///
    /// # Panics
    /// Outside a tokio runtime, or when no local port can be bound.
    pub async fn start(token: &str) -> Self {
        let shared = Arc::new(Shared {
            token: token.to_owned(),
            state: Mutex::new(State::default()),
        });
        let server = Server::start("telegram", Arc::clone(&shared)).await;
        Self {
            inner: Arc::new(Inner { server, shared }),
        }
    }

    /// The API base URL to configure a client with: `http://127.0.0.1:PORT`.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.inner.server.addr()
    }

    /// The token the mock accepts.
    pub fn token(&self) -> &str {
        &self.inner.shared.token
    }

    /// `{api_url}/bot<token>/sendMessage`.
    pub fn send_message_url(&self) -> String {
        format!("{}/bot{}/sendMessage", self.api_url(), self.token())
    }

    /// Stops the server: the listener is closed and open connections are dropped when this
    /// returns. Records stay readable.
    pub async fn shutdown(&self) {
        self.inner.server.shutdown().await;
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.inner.shared.state)
    }

    /// Gives `fault` to the next `times` `sendMessage` requests with the right token (one-shot
    /// faults are served in the order pushed, before a persistent one; `times == 0` does
    /// nothing).
    ///
    /// # Panics
    /// For a [`TelegramFault::ServerError`] outside 500..=599.
    pub fn push_fault(&self, fault: TelegramFault, times: usize) {
        self.state().faults.push(fault, times);
    }

    /// Sets (`Some`) or clears (`None`) a fault given to every `sendMessage` request with the
    /// right token that no pushed fault is waiting for.
    ///
    /// # Panics
    /// For a [`TelegramFault::ServerError`] outside 500..=599.
    pub fn set_fault(&self, fault: Option<TelegramFault>) {
        self.state().faults.set(fault);
    }

    /// Removes every pushed and persistent fault.
    pub fn clear_faults(&self) {
        self.state().faults.clear();
    }

    /// Pushed one-shot faults still to be served.
    pub fn pending_faults(&self) -> usize {
        self.state().faults.pending()
    }

    /// The messages accepted so far, oldest first.
    pub fn messages(&self) -> Vec<SentMessage> {
        self.state().messages.clone()
    }

    /// The plain texts of the messages accepted so far, oldest first.
    pub fn plain_texts(&self) -> Vec<String> {
        self.state().messages.iter().map(|m| m.plain_text.clone()).collect()
    }

    /// Every request received so far, oldest first, whatever its answer.
    pub fn requests(&self) -> Vec<TelegramRequest> {
        self.state().requests.clone()
    }

    /// How many requests were received so far.
    pub fn request_count(&self) -> usize {
        self.state().requests.len()
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.inner.server.connections()
    }

    /// Forgets the recorded messages and requests (message ids keep counting). Faults stay.
    pub fn reset(&self) {
        let mut state = self.state();
        state.messages.clear();
        state.requests.clear();
    }
}
