//! `POST /v1/notifications/test`: the test message through a `TelegramNotifier` pointed at the
//! mock Telegram (delivered, rejected, unavailable), through the default log notifier, and its
//! admin errors.

use std::sync::Arc;
use std::time::Duration;

use finstage_monitoring::Secret;
use finstage_notify::{RateLimit, RateLimits, RetryPolicy, TelegramConfig, TelegramNotifier};
use finstage_test_support::{MockTelegram, TelegramFault};

use crate::helpers::{Setup, TOKEN, TestApp, error_code, json, spawn_app, spawn_with};

const BOT_TOKEN: &str = "123456:secret-bot-token";
const CHAT: &str = "-1001234567890";

async fn send_test(app: &TestApp, token: Option<&str>) -> reqwest::Response {
    let mut request = app.client.post(app.url("/v1/notifications/test"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

/// An app whose notifier is a `TelegramNotifier` sending to the mock Telegram (two attempts a
/// message, with millisecond backoff, and no practical rate limit).
async fn telegram_app(admin_token: Option<&'static str>) -> (TestApp, MockTelegram) {
    let telegram = MockTelegram::start(BOT_TOKEN).await;
    let mut config = TelegramConfig::new(Secret::new(BOT_TOKEN.to_owned()), CHAT);
    config.api_url = telegram.api_url();
    config.retry = RetryPolicy {
        max_attempts: 2,
        base: Duration::from_millis(1),
        cap: Duration::from_millis(1),
        budget: Duration::from_secs(10),
    };
    config.rate_limits = RateLimits {
        per_chat: RateLimit::per_second(1_000.0),
        global: RateLimit::per_second(1_000.0),
    };
    let notifier = TelegramNotifier::new(config).unwrap();
    let app = spawn_with(Setup {
        admin_token,
        notifier: Some(Arc::new(notifier)),
        ..Setup::default()
    })
    .await;
    (app, telegram)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_test_message_reaches_telegram() {
    let (app, telegram) = telegram_app(Some(TOKEN)).await;
    let body = json(send_test(&app, Some(TOKEN)).await, 200).await;
    let sent = telegram.messages();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].chat_id, CHAT);
    assert_eq!(sent[0].parse_mode.as_deref(), Some("HTML"));
    assert!(
        sent[0].plain_text.contains("test message from finstage-api"),
        "{}",
        sent[0].plain_text
    );
    assert_eq!(body["channel"], "telegram");
    assert_eq!(body["parts"], 1);
    assert_eq!(body["attempts"], 1);
    assert_eq!(body["message_ids"], serde_json::json!([sent[0].message_id]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refusal_from_telegram_is_a_502_with_its_description_and_no_token() {
    let (app, telegram) = telegram_app(Some(TOKEN)).await;
    telegram.push_fault(TelegramFault::Forbidden, 1);
    let body = json(send_test(&app, Some(TOKEN)).await, 502).await;
    assert_eq!(error_code(&body), "notification_rejected");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("Forbidden: bot was blocked by the user"), "{message}");
    assert!(!body.to_string().contains("secret-bot-token"), "{body}");
    assert!(telegram.messages().is_empty());
    // A permanent refusal is not retried.
    assert_eq!(telegram.request_count(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn telegram_down_after_the_retries_is_a_503() {
    let (app, telegram) = telegram_app(Some(TOKEN)).await;
    telegram.set_fault(Some(TelegramFault::ServerError(500)));
    let body = json(send_test(&app, Some(TOKEN)).await, 503).await;
    assert_eq!(error_code(&body), "upstream_unavailable");
    assert!(!body.to_string().contains("secret-bot-token"), "{body}");
    assert_eq!(telegram.request_count(), 2);
    assert!(telegram.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn without_telegram_the_test_message_is_logged() {
    let app = spawn_app().await;
    let body = json(send_test(&app, Some(TOKEN)).await, 200).await;
    assert_eq!(
        body,
        serde_json::json!({"channel": "log", "parts": 1, "attempts": 1, "message_ids": []})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_test_message_needs_the_admin_token() {
    let (app, telegram) = telegram_app(Some(TOKEN)).await;
    for token in [None, Some("wrong-token")] {
        let response = send_test(&app, token).await;
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        let body = json(response, 401).await;
        assert_eq!(error_code(&body), "unauthorized");
    }
    let (disabled, disabled_telegram) = telegram_app(None).await;
    for token in [None, Some(TOKEN)] {
        let body = json(send_test(&disabled, token).await, 403).await;
        assert_eq!(error_code(&body), "admin_disabled");
    }
    assert_eq!(telegram.request_count(), 0);
    assert_eq!(disabled_telegram.request_count(), 0);
}
