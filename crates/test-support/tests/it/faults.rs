//! Every fault produces exactly what it promises, for exactly `times` requests, in scope; then
//! normal service resumes.

use std::time::Duration;

use finstage_test_support::{Fault, FaultScope, MockYahoo, fixtures};
use serde_json::{Value, json};

use crate::helpers::{Answer, chart_answer, client, client_builder, date, get_with, keys, not_found_bytes, result};

const QUERY: &str = "interval=1d&range=1mo";

async fn yahoo() -> MockYahoo {
    let yahoo = MockYahoo::start().await;
    yahoo.add_symbol("AAPL", fixtures::seed_bars("AAPL"));
    yahoo.add_symbol("MSFT", fixtures::seed_bars("MSFT"));
    yahoo
}

async fn aapl(yahoo: &MockYahoo) -> Answer {
    chart_answer(yahoo, "AAPL", QUERY).await
}

/// The normal answer, for comparison.
async fn normal(yahoo: &MockYahoo) -> Answer {
    let answer = aapl(yahoo).await;
    assert_eq!(answer.status, 200);
    answer
}

/// Pushes `fault` twice, checks both answers with `check`, then checks that the third answer is
/// the normal one again.
async fn twice_then_normal(fault: Fault, check: impl Fn(&Answer, &Answer)) {
    let yahoo = yahoo().await;
    let expected = normal(&yahoo).await;
    yahoo.push_fault(FaultScope::Any, fault.clone(), 2);
    assert_eq!(yahoo.pending_faults(), 2);
    for _ in 0..2 {
        check(&aapl(&yahoo).await, &expected);
    }
    assert_eq!(yahoo.pending_faults(), 0);
    let after = aapl(&yahoo).await;
    assert_eq!(
        (after.status, &after.body),
        (200, &expected.body),
        "{fault:?}: normal service resumes"
    );
    let log = yahoo.request_log();
    let faults: Vec<Option<Fault>> = log.iter().map(|r| r.fault.clone()).collect();
    assert_eq!(faults, [None, Some(fault.clone()), Some(fault), None]);
}

#[tokio::test]
async fn status_faults_send_a_short_html_page() {
    for status in [500_u16, 502, 503, 504] {
        twice_then_normal(Fault::Status(status), |answer, _| {
            assert_eq!(answer.status, status);
            assert_eq!(answer.header("content-type"), Some("text/html;charset=utf-8"));
            let reason = reqwest::StatusCode::from_u16(status)
                .unwrap()
                .canonical_reason()
                .unwrap();
            assert!(
                answer.text().contains(&format!("<title>{status} {reason}</title>")),
                "{}",
                answer.text()
            );
        })
        .await;
    }
}

#[tokio::test]
async fn too_many_requests_is_plain_text_with_or_without_retry_after() {
    for retry_after in [None, Some(0), Some(37)] {
        twice_then_normal(Fault::TooManyRequests { retry_after }, |answer, _| {
            assert_eq!(answer.status, 429);
            assert_eq!(answer.header("content-type"), Some("text/plain;charset=utf-8"));
            assert_eq!(answer.text(), "Edge: Too Many Requests");
            assert_eq!(
                answer.header("retry-after"),
                retry_after.map(|s| s.to_string()).as_deref()
            );
        })
        .await;
    }
}

#[tokio::test]
async fn malformed_is_a_200_whose_json_does_not_parse() {
    twice_then_normal(Fault::Malformed, |answer, _| {
        assert_eq!(answer.status, 200);
        assert_eq!(answer.header("content-type"), Some("application/json;charset=utf-8"));
        assert!(serde_json::from_slice::<Value>(&answer.body).is_err());
        assert!(answer.text().starts_with("<!DOCTYPE html>"));
    })
    .await;
}

#[tokio::test]
async fn truncated_is_the_first_half_of_the_real_body() {
    twice_then_normal(Fault::Truncated, |answer, expected| {
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body.len(), expected.body.len() / 2);
        assert_eq!(answer.body, expected.body[..expected.body.len() / 2]);
        assert_eq!(
            answer.header("content-length"),
            Some(answer.body.len().to_string().as_str())
        );
        let error = serde_json::from_slice::<Value>(&answer.body).unwrap_err();
        assert!(error.is_eof(), "{error}");
    })
    .await;
}

/// The served value arrays of `answer`: open, high, low, close, volume, adjclose.
fn columns(answer: &Answer) -> [Vec<Value>; 6] {
    let json = answer.json();
    let indicators = &result(&json)["indicators"];
    let quote = &indicators["quote"][0];
    ["open", "high", "low", "close", "volume"]
        .map(|k| quote[k].as_array().unwrap().clone())
        .into_iter()
        .chain([indicators["adjclose"][0]["adjclose"].as_array().unwrap().clone()])
        .collect::<Vec<_>>()
        .try_into()
        .unwrap()
}

#[tokio::test]
async fn nulls_follow_the_documented_pattern() {
    twice_then_normal(Fault::Nulls, |answer, expected| {
        assert_eq!(answer.status, 200);
        let (got, want) = (columns(answer), columns(expected));
        let n = want[0].len();
        assert!(n >= 19, "a month of bars: {n}");
        assert_eq!(
            result(&answer.json())["timestamp"],
            result(&expected.json())["timestamp"]
        );
        for i in 0..n {
            for (column, (got, want)) in got.iter().zip(&want).enumerate() {
                let expected_value = match (i % 3, column) {
                    (0, _) | (1, 3) => Value::Null,
                    _ => want[i].clone(),
                };
                assert_eq!(got[i], expected_value, "bar {i}, column {column}");
            }
        }
    })
    .await;
}

#[tokio::test]
async fn zero_prices_follow_the_documented_pattern() {
    twice_then_normal(Fault::ZeroPrices, |answer, expected| {
        assert_eq!(answer.status, 200);
        let (got, want) = (columns(answer), columns(expected));
        for i in 0..want[0].len() {
            for (column, (got, want)) in got.iter().zip(&want).enumerate() {
                let expected_value = match (i % 3, column) {
                    (0, 0) => json!(0.0),
                    (1, 4) => json!(0),
                    (1, _) => json!(0.0),
                    _ => want[i].clone(),
                };
                assert_eq!(got[i], expected_value, "bar {i}, column {column}");
            }
        }
        assert!(answer.text().contains("\"open\":[0.0,"), "zeros are sent as 0.0");
    })
    .await;
}

#[tokio::test]
async fn not_found_is_yahoos_exact_404() {
    twice_then_normal(Fault::NotFound, |answer, _| {
        assert_eq!(answer.status, 404);
        assert_eq!(answer.header("content-type"), Some("application/json;charset=utf-8"));
        assert_eq!(answer.body, not_found_bytes());
    })
    .await;
}

#[tokio::test]
async fn empty_result_keeps_the_meta_and_drops_the_data() {
    twice_then_normal(Fault::EmptyResult, |answer, expected| {
        assert_eq!(answer.status, 200);
        let (json, normal) = (answer.json(), expected.json());
        let result = result(&json);
        assert_eq!(keys(result), ["indicators", "meta"].map(String::from).into());
        assert_eq!(result["indicators"], json!({"quote": [{}], "adjclose": [{}]}));
        assert_eq!(result["meta"], crate::helpers::result(&normal)["meta"]);
        assert_eq!(json["chart"]["error"], Value::Null);
    })
    .await;
}

#[tokio::test]
async fn invalid_range_is_yahoos_422() {
    twice_then_normal(Fault::InvalidRange, |answer, expected| {
        assert_eq!(answer.status, 422);
        let json = answer.json();
        assert_eq!(json["chart"]["result"], Value::Null);
        assert_eq!(json["chart"]["error"]["code"], "Unprocessable Entity");
        let stamps = result(&expected.json())["timestamp"].as_array().unwrap().clone();
        let (first, last) = (&stamps[0], &stamps[stamps.len() - 1]);
        assert_eq!(
            json["chart"]["error"]["description"],
            format!(
                "1d data not available for startTime={first} and endTime={last}. The requested range must be within the last 60 days."
            )
        );
    })
    .await;

    // With a period, its bounds are quoted.
    let yahoo = yahoo().await;
    yahoo.push_fault(FaultScope::Any, Fault::InvalidRange, 1);
    let answer = chart_answer(&yahoo, "AAPL", "interval=5m&period1=1000&period2=2000").await;
    assert_eq!(answer.status, 422);
    assert_eq!(
        answer.json()["chart"]["error"]["description"],
        "5m data not available for startTime=1000 and endTime=2000. The requested range must be within the last 60 days."
    );
}

#[tokio::test(start_paused = true)]
async fn delay_outlasts_a_client_timeout_then_service_resumes() {
    let yahoo = yahoo().await;
    yahoo.push_fault(FaultScope::Any, Fault::Delay(Duration::from_secs(30)), 1);
    let impatient = client_builder()
        .user_agent(crate::helpers::BROWSER_UA)
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let url = format!("{}/v8/finance/chart/AAPL?{QUERY}", yahoo.base_url());
    let started = tokio::time::Instant::now();
    let error = impatient.get(&url).send().await.unwrap_err();
    assert!(error.is_timeout(), "{error}");
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(
        yahoo.responses_with_status(200),
        1,
        "decided and counted, though never received"
    );

    let answer = get_with(&impatient, &yahoo, &format!("/v8/finance/chart/AAPL?{QUERY}")).await;
    assert_eq!(answer.status, 200);
    assert!(started.elapsed() < Duration::from_secs(30), "no delay any more");
}

#[tokio::test]
async fn disconnect_closes_the_connection_without_a_response() {
    let yahoo = yahoo().await;
    yahoo.push_fault(FaultScope::symbol("AAPL"), Fault::Disconnect, 1);
    let client = client();
    let error = client
        .get(format!("{}/v8/finance/chart/AAPL?{QUERY}", yahoo.base_url()))
        .send()
        .await
        .unwrap_err();
    assert!(!error.is_timeout() && error.status().is_none(), "{error}");
    assert_eq!(yahoo.request_log()[0].status, 0);
    assert_eq!(yahoo.responses_with_status(0), 1);
    let answer = get_with(&client, &yahoo, &format!("/v8/finance/chart/AAPL?{QUERY}")).await;
    assert_eq!(answer.status, 200);
}

#[tokio::test]
async fn one_shot_faults_follow_scope_and_push_order() {
    let yahoo = yahoo().await;
    yahoo.add_symbol("^SOX", fixtures::synthetic_daily_bars(date(2020, 1, 6), 30, 3));
    yahoo.push_fault(FaultScope::symbol("^sox"), Fault::Status(502), 1);
    yahoo.push_fault(FaultScope::Any, Fault::Status(503), 1);
    yahoo.push_fault(FaultScope::Symbol("MSFT".into()), Fault::NotFound, 2);
    assert_eq!(yahoo.pending_faults(), 4);

    // AAPL skips the ^SOX fault and takes the oldest matching one.
    assert_eq!(aapl(&yahoo).await.status, 503);
    assert_eq!(aapl(&yahoo).await.status, 200);
    assert_eq!(chart_answer(&yahoo, "%5ESOX", QUERY).await.status, 502);
    assert_eq!(chart_answer(&yahoo, "%5ESOX", QUERY).await.status, 200);
    assert_eq!(chart_answer(&yahoo, "msft", QUERY).await.status, 404);
    assert_eq!(chart_answer(&yahoo, "MSFT", QUERY).await.status, 404);
    assert_eq!(chart_answer(&yahoo, "MSFT", QUERY).await.status, 200);
    assert_eq!(yahoo.pending_faults(), 0);

    // FaultScope::Any also hits unknown symbols; other paths never take a fault.
    yahoo.push_fault(FaultScope::Any, Fault::Status(500), 1);
    assert_eq!(
        crate::helpers::get(&yahoo, "/v7/finance/quote?symbols=AAPL")
            .await
            .status,
        404
    );
    assert_eq!(yahoo.pending_faults(), 1);
    assert_eq!(chart_answer(&yahoo, "UNKNOWN", QUERY).await.status, 500);
    assert_eq!(yahoo.pending_faults(), 0);
    yahoo.push_fault(FaultScope::Any, Fault::Status(500), 0);
    assert_eq!(yahoo.pending_faults(), 0, "times = 0 pushes nothing");
}

#[tokio::test]
async fn persistent_faults_last_until_cleared() {
    let yahoo = yahoo().await;
    yahoo.set_fault(FaultScope::Any, Some(Fault::Status(503)));
    yahoo.set_fault(
        FaultScope::symbol("MSFT"),
        Some(Fault::TooManyRequests { retry_after: Some(5) }),
    );
    for _ in 0..3 {
        assert_eq!(aapl(&yahoo).await.status, 503);
        assert_eq!(
            chart_answer(&yahoo, "MSFT", QUERY).await.status,
            429,
            "the symbol's fault wins"
        );
    }
    // A pushed one-shot wins over both.
    yahoo.push_fault(FaultScope::Any, Fault::NotFound, 1);
    assert_eq!(chart_answer(&yahoo, "MSFT", QUERY).await.status, 404);
    assert_eq!(chart_answer(&yahoo, "MSFT", QUERY).await.status, 429);

    yahoo.set_fault(FaultScope::Any, None);
    assert_eq!(aapl(&yahoo).await.status, 200);
    assert_eq!(chart_answer(&yahoo, "MSFT", QUERY).await.status, 429);
    yahoo.push_fault(FaultScope::Any, Fault::Malformed, 3);
    yahoo.clear_faults();
    assert_eq!(yahoo.pending_faults(), 0);
    assert_eq!(chart_answer(&yahoo, "MSFT", QUERY).await.status, 200);
    assert_eq!(aapl(&yahoo).await.status, 200);
}

#[tokio::test]
async fn chart_altering_faults_leave_error_answers_alone() {
    let yahoo = yahoo().await;
    for fault in [Fault::Nulls, Fault::ZeroPrices, Fault::EmptyResult] {
        yahoo.push_fault(FaultScope::Any, fault.clone(), 1);
        let answer = chart_answer(&yahoo, "DELISTED", QUERY).await;
        assert_eq!(
            (answer.status, &answer.body[..]),
            (404, &not_found_bytes()[..]),
            "{fault:?}"
        );
        assert_eq!(yahoo.pending_faults(), 0, "{fault:?} is used up");
        yahoo.push_fault(FaultScope::Any, fault.clone(), 1);
        let answer = chart_answer(&yahoo, "AAPL", "range=3w").await;
        assert_eq!(answer.status, 422, "{fault:?}");
    }
    // Truncated cuts the error too.
    yahoo.push_fault(FaultScope::Any, Fault::Truncated, 1);
    let answer = chart_answer(&yahoo, "DELISTED", QUERY).await;
    let whole = not_found_bytes();
    assert_eq!((answer.status, &answer.body[..]), (404, &whole[..whole.len() / 2]));
}

#[test]
fn examples_cover_every_fault_once_or_more() {
    let examples = Fault::examples();
    let has = |f: fn(&Fault) -> bool| examples.iter().any(f);
    assert!(has(|f| matches!(f, Fault::Status(500))));
    assert!(has(|f| matches!(f, Fault::TooManyRequests { retry_after: None })));
    assert!(has(|f| matches!(f, Fault::TooManyRequests { retry_after: Some(_) })));
    for probe in [
        Fault::Malformed,
        Fault::Truncated,
        Fault::Nulls,
        Fault::NotFound,
        Fault::EmptyResult,
        Fault::InvalidRange,
        Fault::ZeroPrices,
        Fault::Disconnect,
    ] {
        assert!(examples.contains(&probe), "{probe:?}");
    }
    assert!(has(|f| matches!(f, Fault::Delay(_))));
}

#[test]
#[should_panic(expected = "within 100..=999")]
fn an_impossible_status_is_refused_at_once() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let yahoo = runtime.block_on(MockYahoo::start());
    yahoo.set_fault(FaultScope::Any, Some(Fault::Status(1000)));
}
