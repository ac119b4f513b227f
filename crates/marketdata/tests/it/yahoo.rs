//! The Yahoo client against the mock Yahoo server: real-shaped answers, every failure mode,
//! coalescing and the rate limit over real HTTP.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use finstage_domain::{Bar, BarTime, Interval, Symbol};
use finstage_marketdata::{
    BreakerConfig, CacheTtls, HistoryRequest, MarketDataError, Provider, Range, RateLimit, ResilienceConfig, Resilient,
    RetryPolicy, YahooConfig, YahooProvider,
};
use finstage_test_support::{Fault, FaultScope, MockYahoo};
use futures_util::future::join_all;

fn symbol(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

fn bars(n: usize) -> Vec<Bar> {
    let start = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
    (0..n)
        .map(|i| {
            let base = 100.0 + i as f64;
            Bar::new(
                start + chrono::Days::new(i as u64),
                base,
                base + 2.0,
                base - 1.0,
                base + 1.0,
                1_000 + i as u64,
            )
            .unwrap()
            .with_adj_close(base + 0.5)
            .unwrap()
        })
        .collect()
}

async fn mock_with(symbols: &[&str]) -> MockYahoo {
    let mock = MockYahoo::start().await;
    for s in symbols {
        mock.add_symbol(s, bars(30));
    }
    mock
}

fn yahoo(mock: &MockYahoo) -> YahooProvider {
    YahooProvider::new(&YahooConfig {
        base_url: mock.base_url(),
        timeout: Duration::from_millis(500),
        read_timeout: Duration::from_millis(400),
        ..YahooConfig::default()
    })
    .unwrap()
}

/// No retries: each failure shows as it is.
fn bare() -> ResilienceConfig {
    ResilienceConfig {
        retry: RetryPolicy {
            max_attempts: 1,
            ..fast_retries().retry
        },
        rate_limit: None,
        ..fast_retries()
    }
}

fn fast_retries() -> ResilienceConfig {
    ResilienceConfig {
        retry: RetryPolicy {
            max_attempts: 4,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(5),
            budget: Duration::from_secs(10),
        },
        rate_limit: None,
        breaker: BreakerConfig {
            failure_threshold: 100,
            open_for: Duration::from_secs(60),
        },
        ttl: CacheTtls::default(),
        batch_concurrency: 16,
    }
}

fn resilient(mock: &MockYahoo, config: ResilienceConfig) -> Resilient {
    Resilient::new(Arc::new(yahoo(mock)), config).unwrap()
}

#[tokio::test]
async fn history_comes_back_as_the_bars_served() {
    let mock = mock_with(&["AAPL"]).await;
    let history = yahoo(&mock)
        .history(HistoryRequest::range(symbol("AAPL"), Interval::D1, Range::Max))
        .await
        .unwrap();
    assert_eq!(history.bars, bars(30));
    assert_eq!(history.skipped, 0);
    assert_eq!(history.meta.symbol, symbol("AAPL"));
}

#[tokio::test]
async fn a_quote_comes_from_the_meta() {
    let mock = mock_with(&["AAPL"]).await;
    let quote = yahoo(&mock).quote(symbol("AAPL")).await.unwrap();
    let last = bars(30).last().copied().unwrap();
    assert_eq!(quote.price(), last.close());
    assert_eq!(quote.symbol(), symbol("AAPL"));
}

#[tokio::test]
async fn requests_carry_a_browser_user_agent() {
    let mock = mock_with(&["AAPL"]).await;
    yahoo(&mock).quote(symbol("AAPL")).await.unwrap();
    let log = mock.request_log();
    let agent = log[0].user_agent.as_deref().unwrap_or_default();
    assert!(agent.starts_with("Mozilla/5.0") && agent.contains("Chrome"), "{agent}");
}

#[tokio::test]
async fn index_symbols_are_percent_encoded() {
    let mock = mock_with(&["^GSPC"]).await;
    let quote = yahoo(&mock).quote(symbol("^GSPC")).await.unwrap();
    assert_eq!(quote.symbol(), symbol("^GSPC"));
    assert_eq!(mock.requests("^GSPC"), 1);
}

type Expect = fn(&MarketDataError) -> bool;

#[tokio::test]
async fn each_failure_mode_is_its_typed_error() {
    let cases: Vec<(Fault, Expect)> = vec![
        (Fault::NotFound, |e| matches!(e, MarketDataError::NotFound { .. })),
        (Fault::InvalidRange, |e| {
            matches!(e, MarketDataError::InvalidRange { .. })
        }),
        (Fault::EmptyResult, |e| matches!(e, MarketDataError::NoData { .. })),
        (
            Fault::TooManyRequests { retry_after: Some(7) },
            |e| matches!(e, MarketDataError::RateLimited { retry_after: Some(d), .. } if *d == Duration::from_secs(7)),
        ),
        (Fault::TooManyRequests { retry_after: None }, |e| {
            matches!(e, MarketDataError::RateLimited { retry_after: None, .. })
        }),
        (Fault::Status(503), |e| {
            matches!(e, MarketDataError::Status { status: 503, .. })
        }),
        (Fault::Malformed, |e| matches!(e, MarketDataError::Malformed { .. })),
        (Fault::Truncated, |e| {
            matches!(e, MarketDataError::Malformed { .. } | MarketDataError::Connect { .. })
        }),
        (Fault::Delay(Duration::from_secs(5)), |e| {
            matches!(e, MarketDataError::Timeout { .. })
        }),
    ];
    let mock = mock_with(&["AAPL"]).await;
    let provider = resilient(&mock, bare());
    for (fault, expected) in cases {
        mock.push_fault(FaultScope::Any, fault.clone(), 1);
        let error = provider
            .history(HistoryRequest::range(symbol("AAPL"), Interval::D1, Range::Mo1))
            .await
            .unwrap_err();
        assert!(expected(&error), "{fault:?} gave {error:?}");
        assert!(!error.to_string().is_empty());
    }
    // And normal service after each.
    assert!(
        provider
            .history(HistoryRequest::range(symbol("AAPL"), Interval::D1, Range::Mo1))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn an_unknown_symbol_is_not_found() {
    let mock = mock_with(&[]).await;
    let error = yahoo(&mock).quote(symbol("NOPE")).await.unwrap_err();
    assert!(matches!(error, MarketDataError::NotFound { .. }), "{error:?}");
}

#[tokio::test]
async fn transient_failures_are_retried_then_succeed() {
    for fault in [
        Fault::Status(500),
        Fault::Status(502),
        Fault::Status(503),
        Fault::TooManyRequests { retry_after: None },
        Fault::Delay(Duration::from_secs(5)),
    ] {
        let mock = mock_with(&["AAPL"]).await;
        mock.push_fault(FaultScope::Symbol("AAPL".to_owned()), fault.clone(), 2);
        let history = resilient(&mock, fast_retries())
            .history(HistoryRequest::range(symbol("AAPL"), Interval::D1, Range::Max))
            .await;
        assert_eq!(history.map(|h| h.bars).ok(), Some(bars(30)), "{fault:?}");
        assert_eq!(mock.requests("AAPL"), 3, "{fault:?}: two failures, then success");
    }
}

#[tokio::test]
async fn nulls_and_zero_prices_never_become_bars() {
    for fault in [Fault::Nulls, Fault::ZeroPrices] {
        let mock = mock_with(&["AAPL"]).await;
        mock.push_fault(FaultScope::Any, fault.clone(), 1);
        let history = yahoo(&mock)
            .history(HistoryRequest::range(symbol("AAPL"), Interval::D1, Range::Max))
            .await
            .unwrap();
        assert!(history.skipped > 0, "{fault:?}");
        assert_eq!(history.bars.len() + history.skipped, 30, "{fault:?}");
        let served = bars(30);
        for bar in &history.bars {
            assert!(bar.open() > 0.0 && bar.high() > 0.0 && bar.low() > 0.0 && bar.close() > 0.0);
            assert!(served.contains(bar), "{fault:?}: {bar:?} was not served");
        }
    }
}

#[tokio::test]
async fn dividends_and_splits_come_with_the_history() {
    let mock = mock_with(&["AAPL"]).await;
    let day = |d| NaiveDate::from_ymd_opt(2024, 1, d).unwrap();
    mock.add_dividend("AAPL", day(10), 0.24);
    mock.add_split("AAPL", day(15), 4, 1);
    let history = yahoo(&mock)
        .history(HistoryRequest::range(symbol("AAPL"), Interval::D1, Range::Max))
        .await
        .unwrap();
    assert_eq!(history.dividends.len(), 1);
    assert_eq!(
        (history.dividends[0].date, history.dividends[0].amount),
        (day(10), 0.24)
    );
    assert_eq!(history.splits.len(), 1);
    assert_eq!(
        (
            history.splits[0].date,
            history.splits[0].numerator,
            history.splits[0].denominator
        ),
        (day(15), 4, 1)
    );
}

#[tokio::test]
async fn a_from_to_span_selects_its_bars() {
    let mock = mock_with(&["AAPL"]).await;
    let from = NaiveDate::from_ymd_opt(2024, 1, 5)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    let to = NaiveDate::from_ymd_opt(2024, 1, 10)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    let request = HistoryRequest::between(symbol("AAPL"), Interval::D1, from, to).unwrap();
    let history = yahoo(&mock).history(request).await.unwrap();
    let dates: Vec<_> = history.bars.iter().map(Bar::time).collect();
    let expected: Vec<_> = (5..10)
        .map(|d| BarTime::Date(NaiveDate::from_ymd_opt(2024, 1, d).unwrap()))
        .collect();
    assert_eq!(dates, expected);
}

#[tokio::test]
async fn a_hundred_identical_requests_make_one_upstream_request() {
    let mock = mock_with(&["AAPL"]).await;
    mock.set_latency(Duration::from_millis(200));
    let provider = Arc::new(resilient(&mock, bare()));
    let request = HistoryRequest::range(symbol("AAPL"), Interval::D1, Range::Y10);
    let answers = join_all((0..100).map(|_| {
        let provider = provider.clone();
        tokio::spawn(async move { provider.history(request).await })
    }))
    .await;
    assert!(answers.into_iter().all(|a| a.unwrap().is_ok()));
    assert_eq!(mock.requests("AAPL"), 1);
}

#[tokio::test]
async fn the_rate_limiter_keeps_429s_at_zero() {
    let names: Vec<String> = (0..60).map(|i| format!("S{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mock = mock_with(&refs).await;
    mock.set_rate_limit(Some(40));
    let config = ResilienceConfig {
        rate_limit: Some(RateLimit {
            per_second: 36.0,
            burst: 1,
        }),
        batch_concurrency: 32,
        ..bare()
    };
    let provider = resilient(&mock, config);
    let symbols: Vec<Symbol> = refs.iter().map(|s| symbol(s)).collect();
    let answers = provider.quotes(&symbols).await;
    assert!(
        answers.iter().all(|(_, a)| a.is_ok()),
        "{:?}",
        answers.iter().find(|(_, a)| a.is_err())
    );
    assert_eq!(mock.too_many_requests(), 0);
    assert_eq!(mock.total_requests(), 60);
}

#[tokio::test]
async fn without_the_limiter_the_same_load_is_refused() {
    // The control for the test above: the mock's limit does bite when nothing holds us back.
    let names: Vec<String> = (0..60).map(|i| format!("S{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mock = mock_with(&refs).await;
    mock.set_rate_limit(Some(40));
    let provider = resilient(
        &mock,
        ResilienceConfig {
            batch_concurrency: 32,
            ..bare()
        },
    );
    let symbols: Vec<Symbol> = refs.iter().map(|s| symbol(s)).collect();
    let answers = provider.quotes(&symbols).await;
    assert!(mock.too_many_requests() > 0);
    assert!(
        answers
            .iter()
            .any(|(_, a)| matches!(a, Err(MarketDataError::RateLimited { .. })))
    );
}

#[tokio::test]
async fn the_breaker_opens_on_a_failing_upstream_and_stops_calling_it() {
    let mock = mock_with(&["AAPL"]).await;
    mock.set_fault(FaultScope::Any, Some(Fault::Status(503)));
    let config = ResilienceConfig {
        breaker: BreakerConfig {
            failure_threshold: 3,
            open_for: Duration::from_secs(60),
        },
        ..bare()
    };
    let provider = resilient(&mock, config);
    for _ in 0..10 {
        let _ = provider.quote(symbol("AAPL")).await;
    }
    assert_eq!(mock.requests("AAPL"), 3);
    assert!(matches!(
        provider.quote(symbol("AAPL")).await,
        Err(MarketDataError::CircuitOpen { .. })
    ));
}

#[tokio::test]
async fn answers_are_served_from_the_cache() {
    let mock = mock_with(&["AAPL"]).await;
    let cache =
        Arc::new(finstage_cache::MemoryCache::new("marketdata", finstage_cache::MemoryConfig::default()).unwrap());
    let provider = resilient(&mock, bare()).with_cache(cache);
    for _ in 0..3 {
        provider.quote(symbol("AAPL")).await.unwrap();
        provider
            .history(HistoryRequest::range(symbol("AAPL"), Interval::D1, Range::Y10))
            .await
            .unwrap();
        provider.highs(symbol("AAPL")).await.unwrap();
        provider.metadata(symbol("AAPL")).await.unwrap();
    }
    assert_eq!(mock.requests("AAPL"), 4, "one upstream call per kind");
}

#[tokio::test]
async fn a_real_ten_year_history_round_trips() {
    let mock = MockYahoo::start().await;
    let mut seed = finstage_test_support::fixtures::seed_bars("AAPL");
    let ten_years = seed.split_off(seed.len() - 2_520);
    mock.add_symbol("AAPL", ten_years.clone());
    let history = yahoo(&mock)
        .history(HistoryRequest::range(symbol("AAPL"), Interval::D1, Range::Max))
        .await
        .unwrap();
    assert_eq!(history.bars, ten_years);
}

#[tokio::test]
async fn a_dropped_connection_is_retried() {
    let mock = mock_with(&["AAPL"]).await;
    mock.push_fault(FaultScope::Any, Fault::Disconnect, 1);
    let error = yahoo(&mock).quote(symbol("AAPL")).await.unwrap_err();
    assert!(matches!(error, MarketDataError::Connect { .. }), "{error:?}");
    mock.push_fault(FaultScope::Any, Fault::Disconnect, 2);
    assert!(resilient(&mock, fast_retries()).quote(symbol("AAPL")).await.is_ok());
}

#[test]
fn upstream_calls_retries_429s_and_the_breaker_show_in_metrics() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let mock = mock_with(&["AAPL"]).await;
            mock.push_fault(FaultScope::Any, Fault::TooManyRequests { retry_after: None }, 1);
            mock.push_fault(FaultScope::Any, Fault::Status(503), 1);
            let provider = resilient(&mock, fast_retries());
            provider.quote(symbol("AAPL")).await.unwrap();
        });
    });
    let snapshot = snapshotter.snapshot().into_vec();
    let value = |name: &str, label: Option<(&str, &str)>| {
        snapshot.iter().find_map(|(key, _, _, value)| {
            let key = key.key();
            let labelled = label.is_none_or(|(k, v)| key.labels().any(|l| l.key() == k && l.value() == v));
            (key.name() == name && labelled).then(|| match value {
                DebugValue::Counter(n) => *n as f64,
                DebugValue::Gauge(g) => g.into_inner(),
                DebugValue::Histogram(h) => h.len() as f64,
            })
        })
    };
    assert_eq!(
        value("finstage_upstream_requests_total", Some(("status", "429"))),
        Some(1.0)
    );
    assert_eq!(
        value("finstage_upstream_requests_total", Some(("status", "503"))),
        Some(1.0)
    );
    assert_eq!(
        value("finstage_upstream_requests_total", Some(("status", "200"))),
        Some(1.0)
    );
    assert_eq!(value("finstage_upstream_request_duration_seconds", None), Some(3.0));
    assert_eq!(value("finstage_upstream_rate_limited_total", None), Some(1.0));
    assert_eq!(
        value("finstage_upstream_retries_total", Some(("reason", "rate_limited"))),
        Some(1.0)
    );
    assert_eq!(
        value("finstage_upstream_retries_total", Some(("reason", "status"))),
        Some(1.0)
    );
    assert_eq!(value("finstage_upstream_breaker_state", None), Some(0.0));
}
