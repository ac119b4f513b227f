//! The resilience layer against a scripted provider, on tokio's paused clock: retries, backoff,
//! Retry-After, the budget, the breaker, coalescing and caching.

use std::sync::Arc;
use std::time::Duration;

use finstage_cache::{Cache, MemoryCache, MemoryConfig};
use finstage_marketdata::{
    BreakerConfig, BreakerState, CacheTtls, HistoryRequest, MarketDataError, Provider, Range, RateLimit,
    ResilienceConfig, Resilient, RetryPolicy,
};
use futures_util::future::join_all;
use tokio::time::Instant;

use crate::fake::{Fake, aapl, quote};

fn unavailable() -> MarketDataError {
    MarketDataError::Status {
        provider: "fake",
        endpoint: "quote",
        status: 503,
        excerpt: String::new(),
    }
}

fn config() -> ResilienceConfig {
    ResilienceConfig {
        retry: RetryPolicy {
            max_attempts: 4,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(2),
            budget: Duration::from_secs(60),
        },
        rate_limit: None,
        breaker: BreakerConfig {
            failure_threshold: 10,
            open_for: Duration::from_secs(30),
        },
        ttl: CacheTtls::default(),
        batch_concurrency: 8,
    }
}

fn resilient(fake: &Arc<Fake>, config: ResilienceConfig) -> Resilient {
    Resilient::new(fake.clone(), config).unwrap()
}

#[tokio::test(start_paused = true)]
async fn retryable_failures_are_retried_until_success() {
    let fake = Arc::new(Fake::new().then_fail([
        unavailable(),
        MarketDataError::Timeout {
            provider: "fake",
            endpoint: "quote",
        },
    ]));
    let provider = resilient(&fake, config());
    assert_eq!(provider.quote(aapl()).await.unwrap(), quote(aapl()));
    assert_eq!(fake.calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn final_answers_are_not_retried() {
    for error in [
        MarketDataError::NotFound {
            provider: "fake",
            symbol: aapl(),
        },
        MarketDataError::InvalidRange {
            provider: "fake",
            symbol: aapl(),
            message: String::new(),
        },
        MarketDataError::Malformed {
            provider: "fake",
            symbol: aapl(),
            message: String::new(),
        },
        MarketDataError::Status {
            provider: "fake",
            endpoint: "quote",
            status: 403,
            excerpt: String::new(),
        },
    ] {
        let fake = Arc::new(Fake::new().then_fail([error.clone()]));
        let provider = resilient(&fake, config());
        assert_eq!(provider.quote(aapl()).await.unwrap_err(), error);
        assert_eq!(fake.calls(), 1, "{error}");
    }
}

#[tokio::test(start_paused = true)]
async fn attempts_are_bounded_and_the_last_error_returned() {
    let fake = Arc::new(Fake::new().then_fail(vec![unavailable(); 10]));
    let provider = resilient(&fake, config());
    assert_eq!(provider.quote(aapl()).await.unwrap_err(), unavailable());
    assert_eq!(fake.calls(), 4);
}

#[tokio::test(start_paused = true)]
async fn backoff_waits_grow_but_stay_under_their_ceilings() {
    let fake = Arc::new(Fake::new().then_fail(vec![unavailable(); 3]));
    let provider = resilient(&fake, config());
    let start = Instant::now();
    provider.quote(aapl()).await.unwrap();
    // Three retries with full jitter: at most 100 + 200 + 400 ms in all.
    assert!(
        Instant::now() - start <= Duration::from_millis(700),
        "{:?}",
        Instant::now() - start
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_and_slows_every_caller() {
    let limited = MarketDataError::RateLimited {
        provider: "fake",
        retry_after: Some(Duration::from_secs(30)),
    };
    let fake = Arc::new(Fake::new().then_fail([limited]));
    let config = ResilienceConfig {
        rate_limit: Some(RateLimit {
            per_second: 100.0,
            burst: 10,
        }),
        ..config()
    };
    let provider = resilient(&fake, config);
    let start = Instant::now();
    provider.quote(aapl()).await.unwrap();
    assert!(Instant::now() - start >= Duration::from_secs(30));
    assert_eq!(fake.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_penalty_from_one_429_holds_back_other_callers() {
    let limited = MarketDataError::RateLimited {
        provider: "fake",
        retry_after: Some(Duration::from_secs(20)),
    };
    let fake = Arc::new(Fake::new().then_fail([limited]));
    let config = ResilienceConfig {
        rate_limit: Some(RateLimit {
            per_second: 100.0,
            burst: 10,
        }),
        retry: RetryPolicy {
            max_attempts: 1,
            ..config().retry
        },
        ..config()
    };
    let provider = resilient(&fake, config);
    assert!(matches!(
        provider.quote(aapl()).await,
        Err(MarketDataError::RateLimited { .. })
    ));
    let start = Instant::now();
    let msft = finstage_domain::Symbol::parse("MSFT").unwrap();
    provider.quote(msft).await.unwrap();
    assert!(
        Instant::now() - start >= Duration::from_secs(20),
        "another symbol waited for the penalty"
    );
}

#[tokio::test(start_paused = true)]
async fn the_budget_stops_retries_that_would_end_too_late() {
    let limited = MarketDataError::RateLimited {
        provider: "fake",
        retry_after: Some(Duration::from_secs(120)),
    };
    let fake = Arc::new(Fake::new().then_fail([limited.clone()]));
    let provider = resilient(&fake, config());
    let start = Instant::now();
    assert_eq!(provider.quote(aapl()).await.unwrap_err(), limited);
    assert_eq!(fake.calls(), 1);
    assert!(
        Instant::now() - start < Duration::from_secs(1),
        "gave up at once instead of waiting past the budget"
    );
}

#[tokio::test(start_paused = true)]
async fn the_breaker_opens_fails_fast_and_recovers() {
    let fake = Arc::new(Fake::new().then_fail(vec![unavailable(); 3]));
    let config = ResilienceConfig {
        retry: RetryPolicy {
            max_attempts: 1,
            ..config().retry
        },
        breaker: BreakerConfig {
            failure_threshold: 3,
            open_for: Duration::from_secs(30),
        },
        ..config()
    };
    let provider = resilient(&fake, config);
    for _ in 0..3 {
        assert_eq!(provider.quote(aapl()).await.unwrap_err(), unavailable());
    }
    assert_eq!(provider.breaker_state(), BreakerState::Open);
    for _ in 0..5 {
        assert!(matches!(
            provider.quote(aapl()).await,
            Err(MarketDataError::CircuitOpen { .. })
        ));
    }
    assert_eq!(fake.calls(), 3, "an open circuit does not call the upstream");
    tokio::time::advance(Duration::from_secs(30)).await;
    assert_eq!(provider.breaker_state(), BreakerState::HalfOpen);
    assert!(provider.quote(aapl()).await.is_ok(), "the probe succeeds");
    assert_eq!(provider.breaker_state(), BreakerState::Closed);
    assert_eq!(fake.calls(), 4);
}

#[tokio::test(start_paused = true)]
async fn concurrent_identical_requests_make_one_upstream_call() {
    let fake = Arc::new(Fake::gated());
    let provider = Arc::new(resilient(&fake, config()));
    let calls: Vec<_> = (0..100)
        .map(|_| {
            let provider = provider.clone();
            tokio::spawn(async move {
                provider
                    .history(HistoryRequest::range(aapl(), finstage_domain::Interval::D1, Range::Y10))
                    .await
            })
        })
        .collect();
    // Let every task reach the flight before the one upstream call is allowed to finish.
    while fake.calls() == 0 {
        tokio::task::yield_now().await;
    }
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    fake.open_gate(1);
    for result in join_all(calls).await {
        assert_eq!(result.unwrap().unwrap().bars.len(), 1);
    }
    assert_eq!(fake.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn answers_are_cached_for_their_ttl() {
    let fake = Arc::new(Fake::new());
    let cache = Arc::new(MemoryCache::new("marketdata", MemoryConfig::default()).unwrap());
    let config = ResilienceConfig {
        ttl: CacheTtls {
            quote: Duration::from_secs(45),
            ..CacheTtls::default()
        },
        ..config()
    };
    let provider = resilient(&fake, config).with_cache(cache.clone());
    for _ in 0..5 {
        provider.quote(aapl()).await.unwrap();
    }
    assert_eq!(fake.calls(), 1);
    assert_eq!(cache.stats().hits, 4);
    tokio::time::advance(Duration::from_secs(46)).await;
    provider.quote(aapl()).await.unwrap();
    assert_eq!(fake.calls(), 2, "an expired quote is fetched again");
}

#[tokio::test(start_paused = true)]
async fn an_uncached_history_request_neither_reads_nor_fills_the_cache() {
    let fake = Arc::new(Fake::new());
    let cache = Arc::new(MemoryCache::new("marketdata", MemoryConfig::default()).unwrap());
    let provider = resilient(&fake, config()).with_cache(cache.clone());
    let request = HistoryRequest::range(aapl(), finstage_domain::Interval::D1, Range::Y10);
    for _ in 0..2 {
        provider.history(request.uncached()).await.unwrap();
    }
    assert_eq!(fake.calls(), 2, "each uncached request goes upstream");
    assert_eq!(cache.stats().entries, Some(0), "and nothing is kept");
    // The cached form of the same request is answered from the cache once filled.
    provider.history(request).await.unwrap();
    provider.history(request).await.unwrap();
    provider.history(request.uncached()).await.unwrap();
    assert_eq!(fake.calls(), 4, "one fill, one hit, one uncached call");
    assert_eq!(cache.stats().hits, 1);
}

#[tokio::test(start_paused = true)]
async fn errors_are_not_cached() {
    let fake = Arc::new(Fake::new().then_fail([MarketDataError::NotFound {
        provider: "fake",
        symbol: aapl(),
    }]));
    let cache = Arc::new(MemoryCache::new("marketdata", MemoryConfig::default()).unwrap());
    let provider = resilient(&fake, config()).with_cache(cache);
    assert!(provider.quote(aapl()).await.is_err());
    assert!(provider.quote(aapl()).await.is_ok());
    assert_eq!(fake.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_batch_answers_every_symbol_in_order_and_isolates_failures() {
    let fake = Arc::new(Fake::new().then_fail([MarketDataError::NotFound {
        provider: "fake",
        symbol: aapl(),
    }]));
    let config = ResilienceConfig {
        batch_concurrency: 1,
        ..config()
    };
    let provider = resilient(&fake, config);
    let symbols: Vec<_> = ["AAPL", "MSFT", "IBM"]
        .iter()
        .map(|s| finstage_domain::Symbol::parse(s).unwrap())
        .collect();
    let answers = provider.quotes(&symbols).await;
    let order: Vec<_> = answers.iter().map(|(s, _)| s.as_str().to_owned()).collect();
    assert_eq!(order, ["AAPL", "MSFT", "IBM"]);
    assert!(answers[0].1.is_err());
    assert!(answers[1].1.is_ok() && answers[2].1.is_ok());
}

#[tokio::test(start_paused = true)]
async fn the_rate_limit_spaces_calls() {
    let fake = Arc::new(Fake::new());
    let config = ResilienceConfig {
        rate_limit: Some(RateLimit {
            per_second: 10.0,
            burst: 1,
        }),
        ..config()
    };
    let provider = Arc::new(resilient(&fake, config));
    let symbols: Vec<_> = (0..20)
        .map(|i| finstage_domain::Symbol::parse(&format!("S{i}")).unwrap())
        .collect();
    let start = Instant::now();
    let answers = provider.quotes(&symbols).await;
    assert!(answers.iter().all(|(_, r)| r.is_ok()));
    assert_eq!(
        Instant::now() - start,
        Duration::from_millis(1_900),
        "20 calls at 10/s: the last at 1.9 s"
    );
}

#[test]
fn invalid_configurations_are_refused() {
    let fake: Arc<Fake> = Arc::new(Fake::new());
    let bad = [
        ResilienceConfig {
            batch_concurrency: 0,
            ..config()
        },
        ResilienceConfig {
            retry: RetryPolicy {
                max_attempts: 0,
                ..config().retry
            },
            ..config()
        },
        ResilienceConfig {
            rate_limit: Some(RateLimit {
                per_second: 0.0,
                burst: 1,
            }),
            ..config()
        },
        ResilienceConfig {
            breaker: BreakerConfig {
                failure_threshold: 0,
                ..BreakerConfig::default()
            },
            ..config()
        },
    ];
    for config in bad {
        assert!(matches!(
            Resilient::new(fake.clone(), config),
            Err(MarketDataError::Config(_))
        ));
    }
}
