//! The alerter: one alert per (symbol, kind) window, kept in the store so that a restart (a new
//! process on the same database) stays silent; a failed send gives its claim back.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use finstage_analysis::{DedupePolicy, Signal, SignalKind, SignalValues, Timeframe};
use finstage_domain::{BarTime, Symbol};
use finstage_monitoring::Secret;
use finstage_notify::{
    AlertOutcome, Alerter, Notifier, NotifyError, RecordingNotifier, RetryPolicy, TelegramConfig, TelegramNotifier,
};
use finstage_store::{Store, StoreConfig};
use finstage_test_support::MockTelegram;
use finstage_test_support::telegram::TelegramFault;

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 15, minute, 0).unwrap()
}

fn signal(kind: SignalKind, minute: u32) -> Signal {
    Signal::new(
        Symbol::parse("AAPL").unwrap(),
        kind,
        Timeframe::Live,
        BarTime::Timestamp(at(minute)),
        190.0,
        0.5,
        SignalValues::new().with("change_pct", 3.4),
    )
}

async fn open(dir: &tempfile::TempDir) -> Store {
    let url = format!("sqlite://{}", dir.path().join("alerts.db").display())
        .parse()
        .unwrap();
    Store::open(StoreConfig::new(url)).await.unwrap()
}

fn rejected() -> NotifyError {
    NotifyError::Rejected {
        channel: "telegram",
        status: 403,
        description: "Forbidden: bot was blocked by the user".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_per_window_and_not_again_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Arc::new(RecordingNotifier::new());
    let policy = DedupePolicy::default(); // price alerts: 3 minutes
    {
        let alerter = Alerter::new(recorder.clone(), open(&dir).await, policy.clone()).unwrap();
        let rise = signal(SignalKind::PriceRise, 0);
        assert!(matches!(
            alerter.alert(&rise, at(0)).await.unwrap(),
            AlertOutcome::Sent(_)
        ));
        assert_eq!(alerter.alert(&rise, at(1)).await.unwrap(), AlertOutcome::Deduplicated);
        // Another kind of the same symbol has its own window.
        let high = signal(SignalKind::NewAllTimeHigh, 1);
        assert!(matches!(
            alerter.alert(&high, at(1)).await.unwrap(),
            AlertOutcome::Sent(_)
        ));
    }
    // A new process on the same database.
    let store = open(&dir).await;
    let alerter = Alerter::new(recorder.clone(), store.clone(), policy).unwrap();
    assert_eq!(
        alerter.alert(&signal(SignalKind::PriceRise, 2), at(2)).await.unwrap(),
        AlertOutcome::Deduplicated
    );
    // High alerts keep six hours.
    assert_eq!(
        alerter
            .alert(&signal(SignalKind::NewAllTimeHigh, 50), at(50))
            .await
            .unwrap(),
        AlertOutcome::Deduplicated
    );
    // Three minutes after the first: free again.
    assert!(matches!(
        alerter.alert(&signal(SignalKind::PriceRise, 3), at(3)).await.unwrap(),
        AlertOutcome::Sent(_)
    ));
    assert_eq!(recorder.messages().len(), 3);
    assert!(recorder.messages()[0].text().contains("<b>AAPL</b> · Price rise"));
    // Each sent alert is in the history.
    assert_eq!(store.alerts().last_sent("AAPL:price_rise").await.unwrap(), Some(at(3)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_send_gives_the_claim_back_unless_part_of_it_arrived() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Arc::new(RecordingNotifier::new());
    let alerter = Alerter::new(recorder.clone(), open(&dir).await, DedupePolicy::default()).unwrap();
    let drop = signal(SignalKind::PriceDrop, 0);

    recorder.fail_next(rejected());
    assert!(alerter.alert(&drop, at(0)).await.unwrap_err().is_permanent());
    // Not delivered: the next evaluation sends it.
    assert!(matches!(
        alerter.alert(&drop, at(0)).await.unwrap(),
        AlertOutcome::Sent(_)
    ));

    // The second part of a split message failed: the first arrived, so the claim stays.
    let plunge = signal(SignalKind::PricePlunge, 0);
    recorder.fail_next(NotifyError::Part {
        part: 2,
        parts: 2,
        error: Box::new(rejected()),
    });
    alerter.alert(&plunge, at(0)).await.unwrap_err();
    assert_eq!(alerter.alert(&plunge, at(1)).await.unwrap(), AlertOutcome::Deduplicated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_alerters_send_one_alert() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Arc::new(RecordingNotifier::new());
    // Four "instances", each with its own store on the one database, two evaluations each.
    let mut alerters = Vec::new();
    for _ in 0..4 {
        alerters.push(Alerter::new(recorder.clone(), open(&dir).await, DedupePolicy::default()).unwrap());
    }
    let tasks: Vec<_> = alerters
        .iter()
        .cycle()
        .take(8)
        .cloned()
        .map(|a| tokio::spawn(async move { a.alert(&signal(SignalKind::PriceSurge, 0), at(0)).await.unwrap() }))
        .collect();
    let mut sent = 0;
    for task in tasks {
        sent += usize::from(matches!(task.await.unwrap(), AlertOutcome::Sent(_)));
    }
    assert_eq!(sent, 1);
    assert_eq!(recorder.messages().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_telegram() {
    let dir = tempfile::tempdir().unwrap();
    let telegram = MockTelegram::start("42:alerts").await;
    let config = TelegramConfig {
        api_url: telegram.api_url(),
        retry: RetryPolicy {
            max_attempts: 2,
            base: Duration::ZERO,
            cap: Duration::ZERO,
            budget: Duration::from_secs(10),
        },
        ..TelegramConfig::new(Secret::new("42:alerts".to_owned()), "-100")
    };
    let notifier: Arc<dyn Notifier> = Arc::new(TelegramNotifier::new(config).unwrap());
    let alerter = Alerter::new(notifier, open(&dir).await, DedupePolicy::default()).unwrap();
    let golden = signal(SignalKind::GoldenCross { fast: 50, slow: 200 }, 0);

    telegram.push_fault(TelegramFault::Forbidden, 1);
    assert!(alerter.alert(&golden, at(0)).await.unwrap_err().is_permanent());
    assert!(matches!(
        alerter.alert(&golden, at(1)).await.unwrap(),
        AlertOutcome::Sent(_)
    ));
    assert_eq!(alerter.alert(&golden, at(2)).await.unwrap(), AlertOutcome::Deduplicated);
    let texts = telegram.plain_texts();
    assert_eq!(texts.len(), 1);
    assert!(
        texts[0].starts_with("🟢 AAPL · Golden cross (SMA 50 over SMA 200)"),
        "{}",
        texts[0]
    );
}

#[test]
fn a_bad_policy_is_refused() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = runtime.block_on(open(&dir));
    let policy = DedupePolicy {
        price: Duration::from_secs(400 * 86_400),
        ..DedupePolicy::default()
    };
    let err = Alerter::new(Arc::new(RecordingNotifier::new()), store, policy).unwrap_err();
    assert!(
        matches!(err, NotifyError::Config(ref m) if m.contains("alerts.dedupe.price")),
        "{err}"
    );
}
