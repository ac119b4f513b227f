//! The Telegram notifier against the mock Bot API over real HTTP, on tokio's paused clock:
//! what is sent, retries (429 with `retry_after`, 5xx, timeouts, dropped connections), what is
//! not retried (400, 401, 403), the bounds on retrying, and the rate limits.

use std::sync::Arc;
use std::time::Duration;

use finstage_notify::{
    Message, Notifier, NotifyError, RateLimit, RateLimits, RetryPolicy, TelegramConfig, TelegramNotifier,
};
use finstage_test_support::TelegramFault;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use tokio::time::Instant;

use crate::support::{CHAT, config, fast, mock};

fn alert(text: &str) -> Message {
    Message::plain("alert", text)
}

#[tokio::test(start_paused = true)]
async fn a_message_goes_as_html_with_the_chat_and_no_preview() {
    let telegram = mock().await;
    let notifier = fast(&telegram);
    let delivery = notifier
        .send(&Message::html("signal", "<b>AAPL</b> &gt; 200-day average"))
        .await
        .unwrap();
    assert_eq!(
        (delivery.message_ids.as_slice(), delivery.parts, delivery.attempts),
        (&[1][..], 1, 1)
    );
    let sent = telegram.messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].chat_id, CHAT);
    assert_eq!(sent[0].text, "<b>AAPL</b> &gt; 200-day average");
    assert_eq!(sent[0].plain_text, "AAPL > 200-day average");
    assert_eq!(sent[0].parse_mode.as_deref(), Some("HTML"));
    assert_eq!(sent[0].disable_web_page_preview, Some(true));
    assert_eq!(telegram.requests()[0].content_type.as_deref(), Some("application/json"));
    assert_eq!(notifier.channel(), "telegram");

    // To another chat, by name.
    notifier.send_to("@finstage_alerts", &alert("hello")).await.unwrap();
    assert_eq!(telegram.messages()[1].chat_id, "@finstage_alerts");
}

#[tokio::test(start_paused = true)]
async fn a_429_waits_retry_after_then_retries() {
    let telegram = mock().await;
    let notifier = fast(&telegram);
    telegram.push_fault(TelegramFault::TooManyRequests { retry_after: 7 }, 1);
    let started = Instant::now();
    let delivery = notifier.send(&alert("after the wait")).await.unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(7) && waited < Duration::from_secs(8),
        "{waited:?}"
    );
    assert_eq!(delivery.attempts, 2);
    let requests = telegram.requests();
    assert_eq!(requests.iter().map(|r| r.status).collect::<Vec<_>>(), [429, 200]);
    assert!(requests[1].received_at - requests[0].received_at >= Duration::from_secs(7));
    assert_eq!(telegram.plain_texts(), ["after the wait"]);
}

#[tokio::test(start_paused = true)]
async fn a_429_holds_back_the_whole_chat() {
    let telegram = mock().await;
    let notifier = Arc::new(fast(&telegram));
    telegram.push_fault(TelegramFault::TooManyRequests { retry_after: 5 }, 1);
    let first = tokio::spawn({
        let notifier = Arc::clone(&notifier);
        async move { notifier.send(&alert("first")).await }
    });
    // Once the 429 was answered, let the first task read it (100 ms of the paused clock: the
    // clock only moves once every task is idle, the first one then waiting out its penalty),
    // then send another message to the same chat.
    while telegram.request_count() < 1 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let second = notifier.send(&alert("second")).await;
    assert!(second.is_ok() && first.await.unwrap().is_ok());
    assert!(started.elapsed() >= Duration::from_secs(4), "{:?}", started.elapsed());
    assert_eq!(telegram.requests().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn server_errors_and_dropped_connections_are_retried() {
    let telegram = mock().await;
    let notifier = fast(&telegram);
    telegram.push_fault(TelegramFault::ServerError(500), 1);
    telegram.push_fault(TelegramFault::BadGateway, 1);
    telegram.push_fault(TelegramFault::Disconnect, 1);
    let delivery = notifier.send(&alert("eventually")).await.unwrap();
    assert_eq!(delivery.attempts, 4);
    let statuses: Vec<u16> = telegram.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [500, 502, 0, 200]);
    assert_eq!(telegram.plain_texts(), ["eventually"]);
}

#[tokio::test(start_paused = true)]
async fn backoff_grows_with_jitter_within_its_ceiling() {
    let telegram = mock().await;
    let notifier = TelegramNotifier::new(TelegramConfig {
        retry: RetryPolicy {
            max_attempts: 4,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(10),
            budget: Duration::from_secs(60),
        },
        ..config(&telegram)
    })
    .unwrap();
    telegram.push_fault(TelegramFault::ServerError(503), 3);
    let started = Instant::now();
    notifier.send(&alert("x")).await.unwrap();
    // Waits drawn from [0, 1 s], [0, 2 s], [0, 4 s], and at least the 1 s per-chat spacing each.
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(3) && waited <= Duration::from_secs(7) + Duration::from_millis(100),
        "{waited:?}"
    );
    assert_eq!(telegram.request_count(), 4);
}

#[tokio::test(start_paused = true)]
async fn a_timeout_is_retried() {
    let telegram = mock().await;
    let notifier = fast(&telegram);
    telegram.push_fault(TelegramFault::Delay(Duration::from_secs(60)), 1);
    let started = Instant::now();
    let delivery = notifier.send(&alert("slow")).await.unwrap();
    assert_eq!(delivery.attempts, 2);
    // The 5 s request timeout, then the retry at once.
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(5) && waited < Duration::from_secs(6),
        "{waited:?}"
    );
    // The slow answer was accepted by the server too: a timeout cannot tell, so the retry may
    // duplicate the message (Telegram has no idempotency key).
    assert_eq!(telegram.plain_texts(), ["slow", "slow"]);
}

#[tokio::test(start_paused = true)]
async fn refusals_are_permanent_and_not_retried() {
    for (fault, status, description) in [
        (TelegramFault::Forbidden, 403, "Forbidden: bot was blocked by the user"),
        (
            TelegramFault::BadRequest("chat not found".to_owned()),
            400,
            "Bad Request: chat not found",
        ),
    ] {
        let telegram = mock().await;
        let notifier = fast(&telegram);
        telegram.push_fault(fault, 1);
        let error = notifier.send(&alert("nope")).await.unwrap_err();
        assert!(error.is_permanent() && !error.is_retryable(), "{error}");
        assert_eq!(error.status(), Some(status));
        assert_eq!(error.description(), Some(description));
        assert_eq!(telegram.request_count(), 1, "{error}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_wrong_token_is_unauthorized_and_not_retried() {
    let telegram = finstage_test_support::MockTelegram::start("999:other").await;
    let notifier = fast(&telegram);
    let error = notifier.send(&alert("x")).await.unwrap_err();
    assert_eq!(
        error,
        NotifyError::Rejected {
            channel: "telegram",
            status: 401,
            description: "Unauthorized".to_owned()
        }
    );
    assert_eq!(telegram.request_count(), 1);
    assert!(!telegram.requests()[0].token_ok);
}

#[tokio::test(start_paused = true)]
async fn markup_telegram_refuses_is_a_rejection_with_its_description() {
    let telegram = mock().await;
    let notifier = fast(&telegram);
    // Well-formed, so it is sent, but Telegram knows no <br>.
    let error = notifier.send(&Message::html("x", "a<br>b</br>")).await.unwrap_err();
    assert_eq!(
        error.description(),
        Some("Bad Request: can't parse entities: Unsupported start tag \"br\" at byte offset 1")
    );
    assert_eq!(telegram.request_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn retries_stop_at_max_attempts_and_at_the_budget() {
    let telegram = mock().await;
    let notifier = TelegramNotifier::new(TelegramConfig {
        retry: RetryPolicy {
            max_attempts: 3,
            base: Duration::ZERO,
            cap: Duration::ZERO,
            budget: Duration::from_secs(30),
        },
        ..config(&telegram)
    })
    .unwrap();
    telegram.set_fault(Some(TelegramFault::ServerError(503)));
    let error = notifier.send(&alert("down")).await.unwrap_err();
    assert!(
        matches!(error, NotifyError::Server { status: 503, .. }) && error.is_retryable(),
        "{error}"
    );
    assert_eq!(telegram.request_count(), 3);

    // A retry_after beyond the budget ends the retries at once.
    telegram.clear_faults();
    telegram.reset();
    telegram.push_fault(TelegramFault::TooManyRequests { retry_after: 3_600 }, 1);
    let started = Instant::now();
    let error = notifier.send(&alert("later")).await.unwrap_err();
    assert_eq!(
        error,
        NotifyError::RateLimited {
            channel: "telegram",
            retry_after: Some(Duration::from_secs(3_600)),
            description: "Too Many Requests: retry after 3600".to_owned(),
        }
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(telegram.request_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn invalid_messages_are_refused_before_sending() {
    let telegram = mock().await;
    let notifier = fast(&telegram);
    for message in [
        Message::html("x", ""),
        Message::html("x", " \n <b> </b>"),
        Message::html("x", "AT&T"),
        Message::html("x", "<b>unclosed"),
    ] {
        let error = notifier.send(&message).await.unwrap_err();
        assert!(matches!(error, NotifyError::InvalidMessage(_)), "{error}");
    }
    assert!(matches!(
        notifier.send_to("", &alert("x")).await,
        Err(NotifyError::InvalidMessage(_))
    ));
    assert_eq!(telegram.request_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn one_chat_gets_one_message_a_second() {
    let telegram = mock().await;
    let notifier = Arc::new(TelegramNotifier::new(config(&telegram)).unwrap());
    let sends: Vec<_> = (0..4)
        .map(|i| {
            let notifier = Arc::clone(&notifier);
            tokio::spawn(async move { notifier.send(&alert(&format!("m{i}"))).await })
        })
        .collect();
    for send in sends {
        send.await.unwrap().unwrap();
    }
    let at: Vec<Instant> = telegram.requests().iter().map(|r| r.received_at).collect();
    assert_eq!(at.len(), 4);
    for pair in at.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= Duration::from_secs(1) && gap < Duration::from_millis(1_100),
            "{gap:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn all_chats_share_the_global_rate() {
    let telegram = mock().await;
    let notifier = Arc::new(
        TelegramNotifier::new(TelegramConfig {
            rate_limits: RateLimits {
                per_chat: RateLimit::per_second(1.0),
                global: RateLimit::per_second(4.0),
            },
            ..config(&telegram)
        })
        .unwrap(),
    );
    let sends: Vec<_> = (0..8)
        .map(|i| {
            let notifier = Arc::clone(&notifier);
            tokio::spawn(async move { notifier.send_to(&format!("{}", 1_000 + i), &alert("hi")).await })
        })
        .collect();
    for send in sends {
        send.await.unwrap().unwrap();
    }
    let mut at: Vec<Instant> = telegram.requests().iter().map(|r| r.received_at).collect();
    at.sort();
    for pair in at.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(250),
            "{:?}",
            pair[1] - pair[0]
        );
    }
    assert!(
        at[7] - at[0] < Duration::from_millis(1_800),
        "8 chats at 4/s take 1.75 s"
    );
}

#[test]
fn metrics_count_messages_and_attempts() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap()
            .block_on(async {
                let telegram = mock().await;
                let notifier = fast(&telegram);
                telegram.push_fault(TelegramFault::ServerError(500), 1);
                notifier.send(&alert("one")).await.unwrap();
                telegram.push_fault(TelegramFault::Forbidden, 1);
                notifier.send(&alert("two")).await.unwrap_err();
            });
    });
    let mut counters = Vec::new();
    let mut histograms = 0;
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let labels: Vec<String> = key
            .key()
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        match value {
            DebugValue::Counter(n) => counters.push(format!("{} {} {n}", key.key().name(), labels.join(","))),
            DebugValue::Histogram(values) => {
                assert_eq!(key.key().name(), "finstage_notify_send_seconds");
                histograms += values.len();
            }
            DebugValue::Gauge(_) => {}
        }
    }
    counters.sort();
    assert_eq!(
        counters,
        [
            "finstage_notify_attempts_total channel=telegram,outcome=ok 1",
            "finstage_notify_attempts_total channel=telegram,outcome=rejected 1",
            "finstage_notify_attempts_total channel=telegram,outcome=server_error 1",
            "finstage_notify_messages_total channel=telegram,outcome=failed 1",
            "finstage_notify_messages_total channel=telegram,outcome=sent 1",
        ]
    );
    assert_eq!(histograms, 2);
}
