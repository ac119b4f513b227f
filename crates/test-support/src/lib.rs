//! Dev-only test support for Finstage: mock upstream servers and test data.
//!
//! - [`yahoo`]: [`MockYahoo`], a mock of Yahoo Finance's v8 chart API that serves stored bars
//!   as real-shaped JSON, with latency, a sliding-window request limit, per-symbol counts, a
//!   request log and on-demand [`Fault`]s (5xx, 429 with or without `Retry-After`, malformed,
//!   truncated, nulls, zeros, 404, 422, empty results, delays, dropped connections).
//! - [`telegram`]: [`MockTelegram`], a mock of the Telegram Bot API's `sendMessage` that checks
//!   the bot token, parses the text like Telegram's HTML mode (tags, entities, the 4,096-unit
//!   limit, Telegram's error descriptions), records every request and accepted message, and
//!   injects [`TelegramFault`]s (429 with `retry_after`, 400, 403, 5xx, delays, dropped
//!   connections).
//! - [`db`]: [`TestDb`](db::TestDb), a fresh migrated database per test on PostgreSQL, MariaDB
//!   or SQLite, dropped afterwards.
//! - [`proxy`]: [`TcpProxy`](proxy::TcpProxy), a stoppable, freezable TCP proxy for outage tests.
//! - [`fixtures`]: the repository's real daily histories (`data/seed/`), a CSV loader for that
//!   format, and deterministic synthetic histories.
//!
//! Each mock is a real HTTP/1.1 server (hyper) on `127.0.0.1:0`, so clients are tested through
//! their real network stack: point their base URL at [`MockYahoo::base_url`].
//! The Yahoo and Telegram types are re-exported at the crate root for convenience.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use finstage_test_support::{MockYahoo, fixtures};
//!
//! let yahoo = MockYahoo::start().await;
//! let history = fixtures::seed_bars("AAPL");
//! yahoo.add_symbol("AAPL", history[history.len() - 2_520..].to_vec()); // ten years
//! yahoo.set_rate_limit(Some(50));
//! assert_eq!(yahoo.requests("AAPL"), 0);
//! # }
//! ```

pub mod db;
pub mod fixtures;
mod http;
pub mod proxy;
pub mod telegram;
pub mod yahoo;

pub use telegram::{MockTelegram, SentMessage, TelegramFault, TelegramRequest};
pub use yahoo::{Fault, FaultScope, MockMeta, MockYahoo, RecordedRequest};
