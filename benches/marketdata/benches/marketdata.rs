//! finstage-marketdata, each figure beside its baseline from the same run:
//!
//! - parse speed of a ten-year daily chart (2,520 bars, the JSON the mock Yahoo serves in
//!   Yahoo's shape) into validated bars, against `serde_json::Value` (a generic parse that
//!   validates nothing) of the same body;
//! - a refresh of 500 symbols (one latest-quote request each) through [`Resilient`] against the
//!   mock Yahoo server answering after 50 ms: (a) the mock limited to 50 requests in any second,
//!   our limiter at 48/s, burst 1 — target ≤ 1.1 × 10 s with zero 429s; (b) no limit,
//!   concurrency 32 — target ≤ 1 s. Baseline: the same requests one after the other (the Python
//!   service's shape: 10 symbols in 10 s), timed over the first 50 symbols.
//!
//! `cargo bench -p finstage-marketdata-bench --bench marketdata` prints a Markdown table.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use finstage_domain::{Bar, Interval, Symbol};
use finstage_marketdata::{
    BreakerConfig, CacheTtls, MarketDataError, Provider, RateLimit, ResilienceConfig, Resilient, RetryPolicy,
    YahooConfig, YahooProvider,
};
use finstage_test_support::MockYahoo;

const SYMBOLS: usize = 500;
const LATENCY: Duration = Duration::from_millis(50);

fn ten_years() -> Vec<Bar> {
    let start = NaiveDate::from_ymd_opt(2014, 1, 1).expect("a date");
    let mut close = 100.0_f64;
    (0..2_520u64)
        .map(|d| {
            let open = close;
            // A deterministic wiggle: no RNG needed for a parse benchmark.
            close *= 1.0 + 0.01 * ((d as f64) * 0.7).sin();
            let high = open.max(close) * 1.004;
            let low = open.min(close) * 0.996;
            Bar::new(start + chrono::Days::new(d), open, high, low, close, 1_000_000 + d * 37)
                .and_then(|b| b.with_adj_close(close * 0.97))
                .expect("a valid bar")
        })
        .collect()
}

fn symbols() -> Vec<Symbol> {
    (0..SYMBOLS)
        .map(|i| Symbol::parse(&format!("S{i:03}")).expect("a symbol"))
        .collect()
}

fn provider(mock: &MockYahoo, rate_limit: Option<RateLimit>, concurrency: usize) -> Resilient {
    let yahoo = YahooProvider::new(&YahooConfig {
        base_url: mock.base_url(),
        ..YahooConfig::default()
    })
    .expect("client");
    let config = ResilienceConfig {
        retry: RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        },
        rate_limit,
        breaker: BreakerConfig::default(),
        ttl: CacheTtls::default(),
        batch_concurrency: concurrency,
    };
    Resilient::new(Arc::new(yahoo), config).expect("config")
}

struct Refresh {
    seconds: f64,
    failures: usize,
    too_many: u64,
    requests: u64,
}

async fn refresh(mock: &MockYahoo, provider: &Resilient, symbols: &[Symbol]) -> Refresh {
    mock.reset_counts();
    let started = Instant::now();
    let answers = provider.quotes(symbols).await;
    let seconds = started.elapsed().as_secs_f64();
    let failures = answers.iter().filter(|(_, a)| a.is_err()).count();
    if let Some((symbol, Err(e))) = answers.iter().find(|(_, a)| a.is_err()) {
        eprintln!("first failure: {symbol}: {e}");
    }
    Refresh {
        seconds,
        failures,
        too_many: mock.too_many_requests(),
        requests: mock.total_requests(),
    }
}

async fn sequential(mock: &MockYahoo, yahoo: &YahooProvider, symbols: &[Symbol]) -> Result<f64, MarketDataError> {
    mock.reset_counts();
    let started = Instant::now();
    for symbol in symbols {
        yahoo.quote(*symbol).await?;
    }
    Ok(started.elapsed().as_secs_f64())
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mock = MockYahoo::start().await;
        // Parse: fetch the ten-year chart once, then parse it in a loop.
        mock.add_symbol("AAPL", ten_years());
        // The Yahoo client installs the TLS crypto provider plain reqwest needs.
        let yahoo = YahooProvider::new(&YahooConfig { base_url: mock.base_url(), ..YahooConfig::default() }).expect("client");
        let url = format!("{}/v8/finance/chart/AAPL?interval=1d&range=10y&events=div%7Csplit", mock.base_url());
        let body = reqwest::get(url).await.expect("get").bytes().await.expect("body");
        let symbol = Symbol::parse("AAPL").expect("symbol");
        let mb = body.len() as f64 / 1e6;
        let iterations = 200;
        let time = |f: &dyn Fn()| {
            for _ in 0..10 {
                f();
            }
            let started = Instant::now();
            for _ in 0..iterations {
                f();
            }
            started.elapsed().as_secs_f64() / f64::from(iterations)
        };
        let ours = time(&|| {
            let history = YahooProvider::parse_chart(&body, symbol, Interval::D1).expect("parse");
            assert_eq!(history.bars.len(), 2_520);
        });
        let generic = time(&|| {
            let value: serde_json::Value = serde_json::from_slice(&body).expect("json");
            assert!(value.get("chart").is_some());
        });
        println!("## Parse a ten-year daily chart ({:.0} KB, 2,520 bars)\n", body.len() as f64 / 1e3);
        println!("| parser | per chart | MB/s |\n|---|---:|---:|");
        println!("| `YahooProvider::parse_chart` → validated bars | {:.0} µs | {:.0} |", ours * 1e6, mb / ours);
        println!("| baseline: `serde_json::Value` (no validation) | {:.0} µs | {:.0} |\n", generic * 1e6, mb / generic);

        // Refresh: 500 symbols with a short history each (the quote reads the chart's meta).
        let few: Vec<Bar> = ten_years().split_off(2_500);
        for symbol in symbols() {
            mock.add_symbol(symbol.as_str(), few.clone());
        }
        mock.set_latency(LATENCY);
        let symbols = symbols();

        let baseline = sequential(&mock, &yahoo, &symbols[..50]).await.expect("sequential refresh");

        mock.set_rate_limit(Some(50));
        let limited = provider(&mock, Some(RateLimit { per_second: 48.0, burst: 1 }), 32);
        let a = refresh(&mock, &limited, &symbols).await;

        mock.set_rate_limit(None);
        let open = provider(&mock, None, 32);
        let b = refresh(&mock, &open, &symbols).await;

        println!("## Refresh 500 symbols, mock latency 50 ms\n");
        println!("| run | total | requests | 429s | failures | target |\n|---|---:|---:|---:|---:|---|");
        println!(
            "| mock limited to 50 req/s, our limiter 48/s burst 1, concurrency 32 | {:.2} s | {} | {} | {} | ≤ 11 s, zero 429s |",
            a.seconds, a.requests, a.too_many, a.failures
        );
        println!(
            "| no limit, concurrency 32 | {:.2} s | {} | {} | {} | ≤ 1 s |",
            b.seconds, b.requests, b.too_many, b.failures
        );
        println!(
            "| baseline: one after the other (50 symbols timed, ×10) | {:.2} s | 50 | 0 | 0 | the Python service: 10 symbols in 10 s |",
            baseline * 10.0
        );
    });
}
