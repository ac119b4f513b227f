//! Shared helpers: a notifier pointed at a mock Telegram, with settings tests can shorten.

use std::time::Duration;

use finstage_monitoring::Secret;
use finstage_notify::{RateLimit, RateLimits, RetryPolicy, TelegramConfig, TelegramNotifier};
use finstage_test_support::MockTelegram;

/// The bot token the mocks accept.
pub(crate) const TOKEN: &str = "123456789:AAH-secret-token-never-printed";
/// The chat the notifiers send to.
pub(crate) const CHAT: &str = "-1001234567890";

/// A config for `mock`'s API: the defaults, but no idle-connection timer (so that a paused
/// clock only moves for the notifier's own waits) and a 5 s request timeout.
pub(crate) fn config(mock: &MockTelegram) -> TelegramConfig {
    TelegramConfig {
        api_url: mock.api_url(),
        pool_idle_timeout: None,
        timeout: Duration::from_secs(5),
        ..TelegramConfig::new(Secret::new(TOKEN.to_owned()), CHAT)
    }
}

/// A notifier for `mock` with no rate limit to speak of, and retries without jitter to wait.
pub(crate) fn fast(mock: &MockTelegram) -> TelegramNotifier {
    TelegramNotifier::new(TelegramConfig {
        retry: RetryPolicy {
            base: Duration::ZERO,
            cap: Duration::ZERO,
            ..RetryPolicy::default()
        },
        rate_limits: RateLimits {
            per_chat: RateLimit::per_second(1_000.0),
            global: RateLimit::per_second(1_000.0),
        },
        ..config(mock)
    })
    .unwrap()
}

/// A mock Telegram accepting [`TOKEN`].
pub(crate) async fn mock() -> MockTelegram {
    MockTelegram::start(TOKEN).await
}
