//! The sliding-window request limit, latency, and the user-agent check, on tokio's paused clock
//! (time moves only by `advance` or to the mock's own timers: no sleeps in the tests).

use std::time::Duration;

use finstage_test_support::{Fault, MockYahoo, fixtures};
use tokio::task::JoinSet;
use tokio::time::{Instant, advance};

use crate::helpers::{Answer, BROWSER_UA, client, client_builder, date, get_with};

async fn yahoo() -> MockYahoo {
    let yahoo = MockYahoo::start().await;
    for symbol in ["AAPL", "MSFT"] {
        yahoo.add_symbol(symbol, fixtures::synthetic_daily_bars(date(2020, 1, 6), 20, 9));
    }
    yahoo
}

/// Sends `n` chart requests at once and returns their statuses, sorted.
async fn burst(client: &reqwest::Client, yahoo: &MockYahoo, n: usize) -> Vec<u16> {
    let mut requests = JoinSet::new();
    for i in 0..n {
        let (client, yahoo) = (client.clone(), yahoo.clone());
        let symbol = if i % 2 == 0 { "AAPL" } else { "MSFT" };
        requests.spawn(async move {
            get_with(&client, &yahoo, &format!("/v8/finance/chart/{symbol}?range=5d"))
                .await
                .status
        });
    }
    let mut statuses = requests.join_all().await;
    statuses.sort_unstable();
    statuses
}

async fn one(client: &reqwest::Client, yahoo: &MockYahoo) -> Answer {
    get_with(client, yahoo, "/v8/finance/chart/AAPL?range=5d").await
}

#[tokio::test(start_paused = true)]
async fn the_limit_answers_429_exactly_beyond_n_per_sliding_second() {
    let yahoo = yahoo().await;
    let client = client();
    yahoo.set_rate_limit(Some(3));

    // t = 0: three at once pass, the fourth is refused, as is a fifth (refusals do not count).
    assert_eq!(burst(&client, &yahoo, 4).await, [200, 200, 200, 429]);
    let refused = one(&client, &yahoo).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.text(), "Edge: Too Many Requests");
    assert_eq!(refused.header("content-type"), Some("text/plain;charset=utf-8"));
    assert_eq!(refused.header("retry-after"), None);

    // Just before the first three leave the window, still refused; at exactly 1 s, admitted.
    advance(Duration::from_millis(999)).await;
    assert_eq!(one(&client, &yahoo).await.status, 429);
    advance(Duration::from_millis(1)).await;
    assert_eq!(one(&client, &yahoo).await.status, 200); // t = 1.0 s
    // Sliding, not fixed windows: at 1.6 s two more fit, a third does not.
    advance(Duration::from_millis(600)).await;
    assert_eq!(burst(&client, &yahoo, 3).await, [200, 200, 429]);
    // At 2.0 s the admission of 1.0 s has left: exactly one fits.
    advance(Duration::from_millis(400)).await;
    assert_eq!(burst(&client, &yahoo, 2).await, [200, 429]);

    assert_eq!(yahoo.too_many_requests(), 5);
    assert_eq!(yahoo.responses_with_status(200), 7);
    assert_eq!(yahoo.total_requests(), 12);
    let log = yahoo.request_log();
    assert_eq!(log.iter().filter(|r| r.rate_limited).count(), 5);
    assert!(log.iter().all(|r| r.rate_limited == (r.status == 429)));
    // No window of one second ever held more than three admissions.
    let admitted: Vec<Instant> = log.iter().filter(|r| r.status == 200).map(|r| r.received_at).collect();
    for (i, &start) in admitted.iter().enumerate() {
        let within = admitted[i..]
            .iter()
            .filter(|&&t| t < start + Duration::from_secs(1))
            .count();
        assert!(within <= 3, "{within} admissions within a second of admission {i}");
    }
}

#[tokio::test(start_paused = true)]
async fn the_limit_covers_every_path_and_symbol_and_can_send_retry_after() {
    let yahoo = yahoo().await;
    let client = client();
    yahoo.set_rate_limit(Some(2));
    yahoo.set_rate_limit_retry_after(Some(30));
    assert_eq!(get_with(&client, &yahoo, "/v8/finance/chart/MSFT").await.status, 200);
    assert_eq!(get_with(&client, &yahoo, "/somewhere/else").await.status, 404);
    let refused = get_with(&client, &yahoo, "/v8/finance/chart/UNKNOWN").await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.header("retry-after"), Some("30"));
    assert_eq!(yahoo.requests("UNKNOWN"), 1, "refused requests still count");

    // A refusal uses up no fault.
    yahoo.push_fault(finstage_test_support::FaultScope::Any, Fault::Status(500), 1);
    assert_eq!(one(&client, &yahoo).await.status, 429);
    assert_eq!(yahoo.pending_faults(), 1);

    // Some(0) refuses everything; None lifts the limit.
    yahoo.clear_faults();
    advance(Duration::from_secs(5)).await;
    yahoo.set_rate_limit(Some(0));
    assert_eq!(one(&client, &yahoo).await.status, 429);
    yahoo.set_rate_limit(None);
    assert_eq!(burst(&client, &yahoo, 20).await, [200; 20]);
}

#[tokio::test(start_paused = true)]
async fn latency_delays_every_response() {
    let yahoo = yahoo().await;
    let client = client();
    yahoo.set_latency(Duration::from_millis(50));
    let started = Instant::now();
    assert_eq!(one(&client, &yahoo).await.status, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(50),
        "{:?}",
        started.elapsed()
    );

    let started = Instant::now();
    assert_eq!(get_with(&client, &yahoo, "/v8/finance/chart/NOPE").await.status, 404);
    assert!(started.elapsed() >= Duration::from_millis(50));

    // Concurrent requests wait in parallel, not in turn: ten take 50 ms, not 500.
    let started = Instant::now();
    assert_eq!(burst(&client, &yahoo, 10).await, [200; 10]);
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(50) && elapsed < Duration::from_millis(100),
        "{elapsed:?}"
    );

    yahoo.set_latency(Duration::ZERO);
    let started = Instant::now();
    assert_eq!(one(&client, &yahoo).await.status, 200);
    assert_eq!(started.elapsed(), Duration::ZERO, "the paused clock did not move");
}

#[tokio::test]
async fn the_user_agent_is_recorded_and_optionally_checked() {
    let yahoo = yahoo().await;
    let browser = client();
    let bare = client_builder().build().unwrap();
    let scripted = client_builder().user_agent("python-requests/2.32").build().unwrap();

    // By default any user agent is served, and recorded.
    for c in [&browser, &bare, &scripted] {
        assert_eq!(one(c, &yahoo).await.status, 200);
    }
    let agents: Vec<Option<String>> = yahoo.request_log().into_iter().map(|r| r.user_agent).collect();
    assert_eq!(
        agents,
        [
            Some(BROWSER_UA.to_owned()),
            None,
            Some("python-requests/2.32".to_owned())
        ]
    );

    yahoo.set_user_agent_check(Some(Fault::Status(403)));
    assert_eq!(one(&bare, &yahoo).await.status, 403);
    assert_eq!(one(&scripted, &yahoo).await.status, 403);
    assert_eq!(one(&browser, &yahoo).await.status, 200);
    yahoo.set_user_agent_check(Some(Fault::TooManyRequests { retry_after: None }));
    let refused = one(&scripted, &yahoo).await;
    assert_eq!((refused.status, refused.text()), (429, "Edge: Too Many Requests"));
    let log = yahoo.request_log();
    assert!(log[3..].iter().all(|r| r.has_browser_user_agent() == (r.status == 200)));
    yahoo.set_user_agent_check(None);
    assert_eq!(one(&bare, &yahoo).await.status, 200);
}
