//! Per-symbol and per-status counts, the request log, and resetting them.

use finstage_test_support::{Fault, FaultScope, MockYahoo, fixtures};

use crate::helpers::{BROWSER_UA, chart_answer, client, date, get, get_with};

async fn yahoo() -> MockYahoo {
    let yahoo = MockYahoo::start().await;
    yahoo.add_symbol("AAPL", fixtures::synthetic_daily_bars(date(2020, 1, 6), 30, 1));
    yahoo.add_symbol("^SOX", fixtures::synthetic_daily_bars(date(2020, 1, 6), 30, 2));
    yahoo
}

#[tokio::test]
async fn counts_per_symbol_and_per_status() {
    let yahoo = yahoo().await;
    assert_eq!(chart_answer(&yahoo, "AAPL", "range=1mo").await.status, 200);
    assert_eq!(chart_answer(&yahoo, "aapl", "range=5d").await.status, 200);
    yahoo.push_fault(FaultScope::symbol("AAPL"), Fault::Status(503), 1);
    assert_eq!(chart_answer(&yahoo, "AAPL", "range=5d").await.status, 503);
    assert_eq!(chart_answer(&yahoo, "%5Esox", "range=5d").await.status, 200);
    assert_eq!(chart_answer(&yahoo, "ZZZZ", "range=5d").await.status, 404);
    assert_eq!(chart_answer(&yahoo, "AAPL", "interval=2h").await.status, 422);
    assert_eq!(get(&yahoo, "/favicon.ico").await.status, 404);

    assert_eq!(yahoo.requests("AAPL"), 4);
    assert_eq!(yahoo.requests("aapl"), 4);
    assert_eq!(yahoo.requests("^SOX"), 1);
    assert_eq!(yahoo.requests("ZZZZ"), 1);
    assert_eq!(yahoo.requests("MSFT"), 0);
    assert_eq!(yahoo.total_requests(), 7);
    assert_eq!(yahoo.responses_with_status(200), 3);
    assert_eq!(yahoo.responses_with_status(404), 2);
    assert_eq!(yahoo.responses_with_status(422), 1);
    assert_eq!(yahoo.responses_with_status(503), 1);
    assert_eq!(yahoo.too_many_requests(), 0);
    assert_eq!(yahoo.connections(), 7, "a fresh client per request here");
}

#[tokio::test]
async fn the_request_log_records_each_request() {
    let yahoo = yahoo().await;
    let client = client();
    get_with(
        &client,
        &yahoo,
        "/v8/finance/chart/%5ESOX?interval=1d&range=1mo&events=div%7Csplit",
    )
    .await;
    yahoo.push_fault(FaultScope::Any, Fault::TooManyRequests { retry_after: Some(3) }, 1);
    get_with(&client, &yahoo, "/v8/finance/chart/AAPL").await;
    get_with(&client, &yahoo, "/robots.txt").await;

    let log = yahoo.request_log();
    assert_eq!(log.len(), 3);
    let sox = &log[0];
    assert_eq!(sox.method, "GET");
    assert_eq!(sox.path, "/v8/finance/chart/%5ESOX");
    assert_eq!(sox.query.as_deref(), Some("interval=1d&range=1mo&events=div%7Csplit"));
    assert_eq!(sox.query_param("events").as_deref(), Some("div|split"));
    assert_eq!(sox.query_param("range").as_deref(), Some("1mo"));
    assert_eq!(sox.query_param("period1"), None);
    assert_eq!(sox.symbol.as_deref(), Some("^SOX"));
    assert_eq!(sox.user_agent.as_deref(), Some(BROWSER_UA));
    assert!(sox.has_browser_user_agent());
    assert_eq!((sox.status, &sox.fault, sox.rate_limited), (200, &None, false));

    let aapl = &log[1];
    assert_eq!((aapl.query.as_deref(), aapl.query_param("range")), (None, None));
    assert_eq!(aapl.status, 429);
    assert_eq!(aapl.fault, Some(Fault::TooManyRequests { retry_after: Some(3) }));
    assert!(!aapl.rate_limited, "a fault, not the limit");

    let robots = &log[2];
    assert_eq!((robots.symbol.as_deref(), robots.status), (None, 404));
    assert!(log[0].received_at <= log[1].received_at && log[1].received_at <= log[2].received_at);
    assert_eq!(yahoo.connections(), 1, "one keep-alive connection for the three");
}

#[tokio::test]
async fn reset_counts_zeroes_counters_and_log_but_keeps_data_and_faults() {
    let yahoo = yahoo().await;
    yahoo.set_fault(FaultScope::symbol("^SOX"), Some(Fault::Status(502)));
    chart_answer(&yahoo, "AAPL", "range=5d").await;
    chart_answer(&yahoo, "%5ESOX", "range=5d").await;
    yahoo.reset_counts();
    assert_eq!(yahoo.total_requests(), 0);
    assert_eq!(yahoo.requests("AAPL"), 0);
    assert_eq!(yahoo.responses_with_status(200), 0);
    assert_eq!(yahoo.responses_with_status(502), 0);
    assert!(yahoo.request_log().is_empty());

    assert_eq!(chart_answer(&yahoo, "AAPL", "range=5d").await.status, 200);
    assert_eq!(chart_answer(&yahoo, "%5ESOX", "range=5d").await.status, 502);
    assert_eq!(yahoo.total_requests(), 2);
}

#[tokio::test]
async fn the_log_keeps_the_newest_requests_up_to_its_capacity() {
    let yahoo = yahoo().await;
    let client = client();
    yahoo.set_request_log_capacity(2);
    for range in ["1d", "5d", "1mo"] {
        get_with(&client, &yahoo, &format!("/v8/finance/chart/AAPL?range={range}")).await;
    }
    let ranges: Vec<Option<String>> = yahoo.request_log().iter().map(|r| r.query_param("range")).collect();
    assert_eq!(ranges, [Some("5d".to_owned()), Some("1mo".to_owned())]);
    assert_eq!(yahoo.requests("AAPL"), 3, "counters are never dropped");
    yahoo.set_request_log_capacity(0);
    assert!(yahoo.request_log().is_empty());
    get_with(&client, &yahoo, "/v8/finance/chart/AAPL").await;
    assert!(yahoo.request_log().is_empty());
    assert_eq!(yahoo.responses_with_status(200), 4);
}
