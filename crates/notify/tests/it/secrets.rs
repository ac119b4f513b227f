//! The bot token never leaks: not in logs (captured at `trace` for every target, through every
//! failure mode), not in errors (`Display` and `Debug`), not in the notifier's `Debug`.

use std::time::Duration;

use finstage_monitoring::logging::{self, Capture, LogConfig};
use finstage_notify::{Message, Notifier, NotifyError, TelegramConfig, TelegramNotifier};
use finstage_test_support::TelegramFault;

use crate::support::{TOKEN, config, fast, mock};

/// The part of the token that must never show (its secret half, and the whole).
fn assert_hidden(what: &str, text: &str) {
    let secret = TOKEN.split_once(':').map_or(TOKEN, |(_, s)| s);
    assert!(!text.contains(secret), "{what} shows the token: {text}");
}

#[tokio::test(start_paused = true)]
async fn the_token_shows_nowhere() {
    let capture = Capture::new();
    let log_config = LogConfig {
        filter: "trace".into(),
        ..LogConfig::default()
    };
    let _guard = tracing::subscriber::set_default(logging::subscriber(&log_config, capture.clone()).unwrap());

    let telegram = mock().await;
    let notifier = fast(&telegram);
    assert_hidden("the notifier's Debug", &format!("{notifier:?} {notifier:#?}"));

    let mut errors: Vec<NotifyError> = Vec::new();
    for fault in [
        TelegramFault::Forbidden,
        TelegramFault::BadRequest("chat not found".to_owned()),
        TelegramFault::ServerError(500),
        TelegramFault::BadGateway,
        TelegramFault::Disconnect,
        TelegramFault::Delay(Duration::from_secs(60)),
        TelegramFault::TooManyRequests { retry_after: 1 },
    ] {
        telegram.set_fault(Some(fault));
        errors.push(notifier.send(&Message::plain("alert", "x")).await.unwrap_err());
    }
    telegram.clear_faults();
    notifier.send(&Message::plain("alert", "ok")).await.unwrap();

    // A wrong token (401), and a server that is gone (a connection error, whose reqwest error
    // would carry the URL).
    let other = finstage_test_support::MockTelegram::start("1:other").await;
    errors.push(fast(&other).send(&Message::plain("alert", "x")).await.unwrap_err());
    telegram.shutdown().await;
    let gone = TelegramNotifier::new(TelegramConfig {
        retry: finstage_notify::RetryPolicy {
            max_attempts: 2,
            base: Duration::ZERO,
            cap: Duration::ZERO,
            ..finstage_notify::RetryPolicy::default()
        },
        ..config(&telegram)
    })
    .unwrap();
    let refused = gone.send(&Message::plain("alert", "x")).await.unwrap_err();
    assert!(matches!(refused, NotifyError::Connect { .. }), "{refused:?}");
    errors.push(refused);

    assert_eq!(errors.len(), 9);
    for error in &errors {
        assert_hidden("an error", &format!("{error} {error:?}"));
    }
    let logs = capture.contents();
    assert!(logs.contains("telegram: retrying"), "the capture works: {logs}");
    assert!(logs.contains("not delivered"), "{logs}");
    assert_hidden("the logs", &logs);
}
