//! Finstage's notifications: the [`Notifier`] trait and its Telegram implementation.
//!
//! - [`Notifier`]: the seam services send through (`Arc<dyn Notifier>`), with a [`Message`]
//!   (Telegram HTML text and a short kind label) in and a [`Delivery`] or a typed
//!   [`NotifyError`] out.
//! - [`TelegramNotifier`]: the Bot API's `sendMessage` in HTML parse mode over one pooled HTTP
//!   client: long messages split on line boundaries with their tags closed and reopened
//!   ([`split_html`]), a sender-side rate limit per chat and overall ([`RateLimits`]), retries
//!   of 429 (waiting Telegram's `retry_after`), 5xx, timeouts and connection failures
//!   ([`RetryPolicy`]), and every attempt written to a [`DeliveryLog`] (the store's
//!   `notification_log`). The bot token lives in a [`Secret`](finstage_monitoring::Secret) and
//!   reaches no log, error or `Debug` output.
//! - [`LogNotifier`]: what runs when Telegram is not configured (alerts are only logged).
//! - [`RecordingNotifier`]: a fake for other crates' tests.
//! - [`escape_html`] / [`escape_html_attr`]: the escaping every formatted message goes through.
//!
//! ```no_run
//! use std::sync::Arc;
//! use finstage_monitoring::Secret;
//! use finstage_notify::{Message, Notifier, TelegramConfig, TelegramNotifier, escape_html};
//!
//! # async fn demo(store: finstage_store::Store) -> Result<(), Box<dyn std::error::Error>> {
//! let config = TelegramConfig::new(Secret::new("123456:ABC-DEF".to_owned()), "-1001234567890");
//! let telegram: Arc<dyn Notifier> = Arc::new(TelegramNotifier::new(config)?.with_delivery_log(Arc::new(store)));
//! let text = format!("<b>{}</b> hit a new all-time high", escape_html("AAPL"));
//! telegram.send(&Message::html("signal", text)).await?;
//! # Ok(()) }
//! ```
//!
//! Metrics (through the `metrics` facade): `finstage_notify_messages_total{channel,outcome}`,
//! `finstage_notify_attempts_total{channel,outcome}`, `finstage_notify_send_seconds{channel}`.

mod alerter;
mod delivery_log;
mod error;
pub mod format;
mod html;
mod limit;
mod notifier;
mod retry;
mod split;
mod telegram;

pub use alerter::{AlertOutcome, Alerter};
pub use delivery_log::{DeliveryLog, DeliveryRecord, DeliveryStatus, EXCERPT_MAX_CHARS, NoDeliveryLog};
pub use error::{MAX_EXCERPT, NotifyError};
pub use html::{escape_html, escape_html_attr};
pub use limit::{RateLimit, RateLimits};
pub use notifier::{Delivery, KIND_MAX_LEN, LogNotifier, Message, Notifier, RecordingNotifier};
pub use retry::RetryPolicy;
pub use split::{TELEGRAM_MAX_UNITS, split_html, visible_text};
pub use telegram::{DEFAULT_API_URL, TelegramConfig, TelegramNotifier};
