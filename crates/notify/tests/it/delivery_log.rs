//! Every attempt is written down: the calls a delivery log receives, and the rows they leave
//! in a real SQLite store's `notification_log`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use finstage_notify::{
    DeliveryLog, DeliveryRecord, DeliveryStatus, Message, Notifier, NotifyError, RetryPolicy, TelegramConfig,
    TelegramNotifier,
};
use finstage_store::{NotificationStatus, Store, StoreConfig};
use finstage_test_support::{MockTelegram, TelegramFault};
use futures_util::future::BoxFuture;

use crate::support::{CHAT, TOKEN, fast};

/// A delivery log that remembers its calls.
#[derive(Debug, Default)]
struct Calls(Mutex<Vec<String>>);

impl DeliveryLog for Calls {
    fn begin<'a>(&'a self, record: DeliveryRecord<'a>) -> BoxFuture<'a, Result<i64, NotifyError>> {
        Box::pin(async move {
            let mut calls = self.0.lock().unwrap();
            calls.push(format!(
                "begin {} {} {} {:?}",
                record.channel, record.recipient, record.kind, record.excerpt
            ));
            Ok(calls.len() as i64)
        })
    }

    fn attempted<'a>(
        &'a self,
        id: i64,
        status: DeliveryStatus,
        attempts: u32,
        error: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(async move {
            self.0
                .lock()
                .unwrap()
                .push(format!("#{id} {status} {attempts} {error:?}"));
            Ok(())
        })
    }
}

#[tokio::test(start_paused = true)]
async fn each_attempt_is_logged_as_it_happens() {
    let telegram = MockTelegram::start(TOKEN).await;
    let calls = Arc::new(Calls::default());
    let notifier = fast(&telegram).with_delivery_log(calls.clone());
    telegram.push_fault(TelegramFault::ServerError(500), 1);
    telegram.push_fault(TelegramFault::TooManyRequests { retry_after: 2 }, 1);
    notifier
        .send(&Message::html("signal", "<b>AAPL</b> &amp; MSFT"))
        .await
        .unwrap();
    telegram.push_fault(TelegramFault::Forbidden, 1);
    notifier.send(&Message::plain("alert", "blocked")).await.unwrap_err();
    assert_eq!(
        *calls.0.lock().unwrap(),
        [
            format!("begin telegram {CHAT} signal \"AAPL & MSFT\""),
            "#1 pending 1 Some(\"telegram: server error HTTP 500: Internal Server Error\")".to_owned(),
            "#1 pending 2 Some(\"telegram: rate limited (HTTP 429), retry after 2s: Too Many Requests: retry after 2\")"
                .to_owned(),
            "#1 sent 3 None".to_owned(),
            format!("begin telegram {CHAT} alert \"blocked\""),
            "#5 failed 1 Some(\"telegram: rejected with HTTP 403: Forbidden: bot was blocked by the user\")".to_owned(),
        ]
    );
}

async fn sqlite_store(dir: &tempfile::TempDir) -> Store {
    let url = format!("sqlite://{}", dir.path().join("notify.db").display())
        .parse()
        .unwrap();
    Store::open(StoreConfig::new(url)).await.unwrap()
}

/// Migrations need the multi-threaded runtime; the clock is real here, so retries wait nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_in_a_sqlite_store_follow_every_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let telegram = MockTelegram::start(TOKEN).await;
    let notifier = TelegramNotifier::new(TelegramConfig {
        api_url: telegram.api_url(),
        retry: RetryPolicy {
            max_attempts: 3,
            base: Duration::ZERO,
            cap: Duration::ZERO,
            budget: Duration::from_secs(30),
        },
        rate_limits: finstage_notify::RateLimits {
            per_chat: finstage_notify::RateLimit::per_second(1_000.0),
            global: finstage_notify::RateLimit::per_second(1_000.0),
        },
        ..TelegramConfig::new(finstage_monitoring::Secret::new(TOKEN.to_owned()), CHAT)
    })
    .unwrap()
    .with_delivery_log(Arc::new(store.clone()));

    // Sent at the second attempt.
    telegram.push_fault(TelegramFault::ServerError(502), 1);
    notifier
        .send(&Message::plain("alert", "AAPL crossed 200"))
        .await
        .unwrap();
    // Refused for good.
    telegram.push_fault(TelegramFault::Forbidden, 1);
    notifier.send(&Message::plain("alert", "blocked")).await.unwrap_err();
    // Failing every attempt.
    telegram.set_fault(Some(TelegramFault::ServerError(503)));
    notifier.send(&Message::plain("report", "down")).await.unwrap_err();
    telegram.set_fault(None);
    // Two parts, one row each.
    let long = format!("{}\n", "z".repeat(4_000)).repeat(2);
    notifier.send(&Message::plain("report", &long)).await.unwrap();

    let sent = store
        .notifications()
        .by_status(NotificationStatus::Sent, 10)
        .await
        .unwrap();
    let failed = store
        .notifications()
        .by_status(NotificationStatus::Failed, 10)
        .await
        .unwrap();
    assert!(
        store
            .notifications()
            .by_status(NotificationStatus::Pending, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let summary = |rows: &[finstage_store::Notification]| -> Vec<(String, u32, Option<String>, String)> {
        rows.iter()
            .map(|n| {
                assert_eq!((n.channel.as_str(), n.recipient.as_deref()), ("telegram", Some(CHAT)));
                (
                    n.kind.clone().unwrap_or_default(),
                    n.attempts,
                    n.error.clone(),
                    n.excerpt.clone().unwrap_or_default().chars().take(20).collect(),
                )
            })
            .collect()
    };
    assert_eq!(
        summary(&sent),
        [
            ("alert".to_owned(), 2, None, "AAPL crossed 200".to_owned()),
            ("report".to_owned(), 1, None, "z".repeat(20)),
            ("report".to_owned(), 1, None, "z".repeat(20)),
        ]
    );
    assert_eq!(
        summary(&failed),
        [
            (
                "alert".to_owned(),
                1,
                Some("telegram: rejected with HTTP 403: Forbidden: bot was blocked by the user".to_owned()),
                "blocked".to_owned()
            ),
            (
                "report".to_owned(),
                3,
                Some("telegram: server error HTTP 503: Service Unavailable".to_owned()),
                "down".to_owned()
            ),
        ]
    );
    assert!(sent[1].excerpt.as_ref().is_some_and(|e| e.chars().count() == 100));
    let all = [&sent[..], &failed[..]].concat();
    assert!(
        all.iter()
            .all(|n| n.excerpt.iter().chain(&n.error).all(|t| !t.contains("secret-token")))
    );
}
