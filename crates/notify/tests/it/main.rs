//! Integration tests of finstage-notify: escaping and splitting against the mock Telegram's
//! parser, the Telegram notifier over real HTTP against the mock (retries, limits, the paused
//! clock), the delivery log on a real SQLite store, secrets, and the fakes.

mod alerter;
mod delivery_log;
mod escaping;
mod format;
mod notifiers;
mod secrets;
mod splitting;
mod support;
mod telegram;
