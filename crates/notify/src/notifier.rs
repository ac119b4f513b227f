//! The [`Notifier`] trait, the [`Message`] it sends and the [`Delivery`] it returns, and two
//! notifiers without a network: [`LogNotifier`] and [`RecordingNotifier`].

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures_util::future::BoxFuture;
use tokio::sync::watch;

use crate::NotifyError;
use crate::html::escape_html;

/// The longest [`Message::kind`], in bytes; a longer one is cut.
pub const KIND_MAX_LEN: usize = 32;

/// One notification: its text, already formatted as Telegram HTML, and a short kind label.
///
/// The kind (`alert`, `signal`, `daily_report`, …) is for logs, metrics and the delivery log;
/// it is not sent. Build the text with [`escape_html`] around every piece of data.
///
/// ```
/// use finstage_notify::{Message, escape_html};
///
/// let symbol = "AT&T";
/// let message = Message::html("alert", format!("<b>{}</b> crossed its 200-day average", escape_html(symbol)));
/// assert_eq!(message.text(), "<b>AT&amp;T</b> crossed its 200-day average");
/// assert_eq!(Message::plain("note", "1 < 2").text(), "1 &lt; 2");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    kind: String,
    text: String,
}

impl Message {
    /// A message whose `text` is already Telegram HTML (every piece of data escaped).
    pub fn html(kind: impl Into<String>, text: impl Into<String>) -> Self {
        let mut kind = kind.into();
        if kind.len() > KIND_MAX_LEN {
            let mut cut = KIND_MAX_LEN;
            while !kind.is_char_boundary(cut) {
                cut -= 1;
            }
            kind.truncate(cut);
        }
        Self {
            kind,
            text: text.into(),
        }
    }

    /// A message of plain `text`, escaped here.
    pub fn plain(kind: impl Into<String>, text: &str) -> Self {
        Self::html(kind, escape_html(text))
    }

    /// The kind label (at most [`KIND_MAX_LEN`] bytes).
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The Telegram HTML text.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// What a delivered message took.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Delivery {
    /// The channel's ids of the messages sent, one per part (Telegram's `message_id`; empty for
    /// channels without ids).
    pub message_ids: Vec<i64>,
    /// How many parts the message was split into.
    pub parts: usize,
    /// Requests made in all, retries included.
    pub attempts: u32,
}

impl Delivery {
    /// A delivery of one part in one attempt, without an id (for notifiers that have none).
    pub fn single() -> Self {
        Self {
            message_ids: Vec::new(),
            parts: 1,
            attempts: 1,
        }
    }
}

/// Somewhere notifications go: Telegram, the log, a test's recorder.
///
/// Object-safe, so services hold an `Arc<dyn Notifier>` and tests plug a
/// [`RecordingNotifier`] in. An implementation retries what is worth retrying itself and
/// returns a typed [`NotifyError`] for the rest; it never panics on a message.
pub trait Notifier: Send + Sync + fmt::Debug + 'static {
    /// A short, stable name (`telegram`, `log`, `recording`): the `channel` of metrics and of
    /// the delivery log.
    fn channel(&self) -> &'static str;

    /// Delivers `message` (in as many parts as the channel needs).
    fn send<'a>(&'a self, message: &'a Message) -> BoxFuture<'a, Result<Delivery, NotifyError>>;
}

impl<N: Notifier + ?Sized> Notifier for Arc<N> {
    fn channel(&self) -> &'static str {
        (**self).channel()
    }

    fn send<'a>(&'a self, message: &'a Message) -> BoxFuture<'a, Result<Delivery, NotifyError>> {
        (**self).send(message)
    }
}

/// The notifier used when no channel is configured: each message is logged (`tracing`, level
/// `info`, target `finstage_notify`) with its kind and text, and counts as delivered.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogNotifier;

impl Notifier for LogNotifier {
    fn channel(&self) -> &'static str {
        "log"
    }

    fn send<'a>(&'a self, message: &'a Message) -> BoxFuture<'a, Result<Delivery, NotifyError>> {
        Box::pin(async move {
            tracing::info!(
                kind = message.kind(),
                text = message.text(),
                "notification (no channel configured: logged only)"
            );
            Ok(Delivery::single())
        })
    }
}

/// A fake [`Notifier`] for tests: it keeps every message it is given, in order, and answers
/// with scripted failures when told to.
///
/// Clones share the record. [`wait_for`](Self::wait_for) waits for a number of messages
/// (for tests of code that notifies from a spawned task), without sleeping.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use finstage_notify::{Message, Notifier, NotifyError, RecordingNotifier};
///
/// let recorder = RecordingNotifier::new();
/// recorder.fail_next(NotifyError::Timeout { channel: "recording" });
/// assert!(recorder.send(&Message::plain("alert", "first")).await.is_err());
/// recorder.send(&Message::plain("alert", "second")).await.unwrap();
/// recorder.wait_for(1).await;
/// let texts: Vec<String> = recorder.messages().iter().map(|m| m.text().to_owned()).collect();
/// assert_eq!(texts, ["second"]);
/// assert_eq!(recorder.attempts(), 2);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct RecordingNotifier {
    inner: Arc<Recording>,
}

#[derive(Debug)]
struct Recording {
    state: Mutex<RecordingState>,
    /// The number of messages delivered, for `wait_for`.
    delivered: watch::Sender<usize>,
}

#[derive(Debug, Default)]
struct RecordingState {
    messages: Vec<Message>,
    failures: VecDeque<NotifyError>,
    attempts: u32,
}

impl Default for RecordingNotifier {
    fn default() -> Self {
        Self::new()
    }
}

impl RecordingNotifier {
    /// An empty recorder that accepts everything.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Recording {
                state: Mutex::new(RecordingState::default()),
                delivered: watch::Sender::new(0),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, RecordingState> {
        self.inner.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The messages delivered so far, oldest first (failed sends are not among them).
    pub fn messages(&self) -> Vec<Message> {
        self.state().messages.clone()
    }

    /// Calls of [`send`](Notifier::send) so far, failed ones included.
    pub fn attempts(&self) -> u32 {
        self.state().attempts
    }

    /// Makes the next call of `send` fail with `error` (failures queue up in order; the message
    /// is not recorded).
    pub fn fail_next(&self, error: NotifyError) {
        self.state().failures.push_back(error);
    }

    /// Forgets the messages, the attempts and any queued failure.
    pub fn clear(&self) {
        *self.state() = RecordingState::default();
        self.inner.delivered.send_replace(0);
    }

    /// Waits until at least `count` messages have been delivered.
    pub async fn wait_for(&self, count: usize) {
        let mut delivered = self.inner.delivered.subscribe();
        // The sender lives in `self`, so the channel cannot close while waiting.
        let _ = delivered.wait_for(|n| *n >= count).await;
    }
}

impl Notifier for RecordingNotifier {
    fn channel(&self) -> &'static str {
        "recording"
    }

    fn send<'a>(&'a self, message: &'a Message) -> BoxFuture<'a, Result<Delivery, NotifyError>> {
        Box::pin(async move {
            let delivered = {
                let mut state = self.state();
                state.attempts += 1;
                if let Some(error) = state.failures.pop_front() {
                    return Err(error);
                }
                state.messages.push(message.clone());
                state.messages.len()
            };
            self.inner.delivered.send_replace(delivered);
            Ok(Delivery::single())
        })
    }
}
