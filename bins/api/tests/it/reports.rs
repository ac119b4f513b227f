//! The daily report over HTTP: built offline from the bundled history for the configured and
//! API-added symbols, sent through the mock Telegram and through a recording notifier, a
//! notifier's failure as a typed 502 or 503, and the admin token on sending.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use finstage_analysis::RulesConfig;
use finstage_core::reports::{DAILY_REPORT_KIND, build_daily_report};
use finstage_domain::Category;
use finstage_monitoring::Secret;
use finstage_notify::{
    NotifyError, RateLimit, RateLimits, RecordingNotifier, RetryPolicy, TelegramConfig, TelegramNotifier,
};
use finstage_store::SymbolRecord;
use finstage_test_support::{MockTelegram, TelegramFault, fixtures};
use serde_json::Value;

use crate::helpers::{Setup, TOKEN, TestApp, error_code, json, spawn_app, spawn_with, sym};

const BOT_TOKEN: &str = "123456:secret-bot-token";
const CHAT: &str = "-1001234567890";

/// Stores the bundled history of AAPL, MSFT and IBM and adds MSFT and IBM to the watchlist as
/// if through the API (the app's configuration holds AAPL and ^GSPC).
async fn bundled_history(app: &TestApp) {
    for name in ["AAPL", "MSFT", "IBM"] {
        app.store
            .daily_bars()
            .upsert(&sym(name), &fixtures::seed_bars(name))
            .await
            .unwrap();
    }
    for name in ["MSFT", "IBM"] {
        let record = SymbolRecord {
            symbol: sym(name),
            name: None,
            category: Category::Stock,
            currency: None,
            exchange: None,
            timezone: None,
            active: true,
            added_at: Utc::now(),
        };
        app.store.symbols().upsert(&record).await.unwrap();
    }
}

async fn send_report(app: &TestApp, token: Option<&str>) -> reqwest::Response {
    let mut request = app.client.post(app.url("/v1/reports/send"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

/// An app whose notifier is a `TelegramNotifier` sending to the mock Telegram (two attempts a
/// message, millisecond backoff, no practical rate limit).
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
    let app = spawn_with(Setup {
        admin_token,
        notifier: Some(Arc::new(TelegramNotifier::new(config).unwrap())),
        ..Setup::default()
    })
    .await;
    (app, telegram)
}

fn symbol<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["watchlists"][0]["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["symbol"] == name)
        .unwrap_or_else(|| panic!("{name} not in {report}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_latest_report_answers_offline_from_the_bundled_history() {
    let app = spawn_app().await;
    bundled_history(&app).await;
    let report = app.get_json("/v1/reports/latest", 200).await;

    let aapl = fixtures::seed_bars("AAPL");
    let last = aapl.last().unwrap();
    let latest_day = ["AAPL", "MSFT", "IBM"]
        .iter()
        .filter_map(|s| fixtures::seed_bars(s).last().map(|b| b.time().to_string()))
        .max()
        .unwrap();
    assert_eq!(report["date"], latest_day.as_str());
    assert_eq!(report["watchlists"][0]["name"], "default");
    let names: Vec<&str> = report["watchlists"][0]["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["symbol"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["AAPL", "^GSPC", "IBM", "MSFT"], "configured first, then added");
    let a = symbol(&report, "AAPL");
    assert_eq!(a["date"], last.time().to_string().as_str());
    assert_eq!(a["close"], last.close());
    assert_eq!(a["category"], "stock");
    for key in ["rsi", "sma50", "sma200", "all_time_high", "from_high_pct", "change_pct"] {
        assert!(a[key].is_f64(), "{key}: {a}");
    }
    assert!(matches!(a["vs_sma200"].as_str(), Some("above" | "below")), "{a}");
    assert!(
        matches!(a["macd"]["trend"].as_str(), Some("bullish" | "bearish" | "neutral")),
        "{a}"
    );
    assert!(a["signals"].is_array());
    // The index has no stored bars: listed, with nothing computed.
    let gspc = symbol(&report, "^GSPC");
    assert_eq!(gspc["category"], "index");
    assert_eq!(gspc["close"], Value::Null);
    assert_eq!(gspc["signals"], serde_json::json!([]));
    // No upstream was asked.
    assert_eq!(app.yahoo.total_requests(), 0);

    // The core's report over the same store, field for field.
    let watchlist = [
        (sym("AAPL"), Category::Stock),
        (sym("^GSPC"), Category::Index),
        (sym("IBM"), Category::Stock),
        (sym("MSFT"), Category::Stock),
    ];
    let expected = build_daily_report(&app.store, &watchlist, &RulesConfig::default(), Utc::now())
        .await
        .unwrap();
    assert_eq!(report["watchlists"][0]["symbols"].as_array().unwrap().len(), 4);
    assert_eq!(report["date"], expected.date.to_string().as_str());
    for (got, want) in report["watchlists"][0]["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&expected.watchlists[0].symbols)
    {
        assert_eq!(got["symbol"], want.symbol.as_str());
        assert_eq!(got["close"].as_f64(), want.close);
        assert_eq!(got["rsi"].as_f64(), want.rsi);
        assert_eq!(got["all_time_high"].as_f64(), want.all_time_high);
        assert_eq!(got["signals"].as_array().unwrap().len(), want.signals.len());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_report_is_sent_through_telegram() {
    let (app, telegram) = telegram_app(Some(TOKEN)).await;
    bundled_history(&app).await;
    let body = json(send_report(&app, Some(TOKEN)).await, 200).await;
    let sent = telegram.messages();
    assert!(!sent.is_empty());
    assert_eq!(sent[0].chat_id, CHAT);
    assert_eq!(sent[0].parse_mode.as_deref(), Some("HTML"));
    let text: String = sent.iter().map(|m| m.plain_text.as_str()).collect();
    assert!(text.contains("Daily report"), "{text}");
    for name in ["AAPL", "MSFT", "IBM"] {
        assert!(text.contains(name), "{name} missing from {text}");
    }
    assert_eq!(body["delivery"]["channel"], "telegram");
    assert_eq!(body["delivery"]["parts"], sent.len());
    let ids: Vec<Value> = sent.iter().map(|m| Value::from(m.message_id)).collect();
    assert_eq!(body["delivery"]["message_ids"], Value::Array(ids));
    assert!(body["report"]["date"].is_string());
    assert_eq!(body["report"]["watchlists"][0]["symbols"].as_array().unwrap().len(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_report_sent_is_the_report_answered() {
    let recorder = RecordingNotifier::new();
    let app = spawn_with(Setup {
        notifier: Some(Arc::new(recorder.clone())),
        ..Setup::default()
    })
    .await;
    let body = json(send_report(&app, Some(TOKEN)).await, 200).await;
    let messages = recorder.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].kind(), DAILY_REPORT_KIND);
    assert_eq!(
        body["delivery"],
        serde_json::json!({"channel": "recording", "parts": 1, "attempts": 1, "message_ids": []})
    );
    // The message is the formatting of the report the body holds.
    let latest = app.get_json("/v1/reports/latest", 200).await;
    assert_eq!(body["report"], latest);
    let date = latest["date"].as_str().unwrap();
    assert!(messages[0].text().contains(date), "{}", messages[0].text());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_notifier_failure_is_a_typed_error() {
    let (app, telegram) = telegram_app(Some(TOKEN)).await;
    telegram.set_fault(Some(TelegramFault::ServerError(500)));
    let body = json(send_report(&app, Some(TOKEN)).await, 503).await;
    assert_eq!(error_code(&body), "upstream_unavailable");
    assert!(!body.to_string().contains("secret-bot-token"), "{body}");
    assert!(telegram.messages().is_empty());

    telegram.set_fault(None);
    telegram.push_fault(TelegramFault::Forbidden, 1);
    let body = json(send_report(&app, Some(TOKEN)).await, 502).await;
    assert_eq!(error_code(&body), "notification_rejected");
    assert!(!body.to_string().contains("secret-bot-token"), "{body}");

    let recorder = RecordingNotifier::new();
    recorder.fail_next(NotifyError::Timeout { channel: "recording" });
    let app = spawn_with(Setup {
        notifier: Some(Arc::new(recorder.clone())),
        ..Setup::default()
    })
    .await;
    let body = json(send_report(&app, Some(TOKEN)).await, 503).await;
    assert_eq!(error_code(&body), "upstream_unavailable");
    assert!(recorder.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn sending_needs_the_admin_token_and_reading_does_not() {
    let (app, telegram) = telegram_app(Some(TOKEN)).await;
    for token in [None, Some("wrong-token")] {
        let response = send_report(&app, token).await;
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        assert_eq!(error_code(&json(response, 401).await), "unauthorized");
    }
    let (disabled, disabled_telegram) = telegram_app(None).await;
    for token in [None, Some(TOKEN)] {
        let body = json(send_report(&disabled, token).await, 403).await;
        assert_eq!(error_code(&body), "admin_disabled");
    }
    assert_eq!(telegram.request_count(), 0);
    assert_eq!(disabled_telegram.request_count(), 0);
    // Reading needs no token, even with admin disabled.
    disabled.get_json("/v1/reports/latest", 200).await;
}
