//! Finstage's market data: quotes, bar histories and instrument metadata from upstream
//! providers, behind one [`Provider`] trait.
//!
//! - [`YahooProvider`]: the Yahoo Finance v8 chart API over one pooled HTTP client. It parses
//!   every shape Yahoo sends (nulls inside arrays, zero placeholders, missing meta fields,
//!   dividends and splits) into validated [`Bar`](finstage_domain::Bar)s, and maps every failure
//!   to a typed [`MarketDataError`]: 404 is [`NotFound`](MarketDataError::NotFound), an empty
//!   answer [`NoData`](MarketDataError::NoData), 422 [`InvalidRange`](MarketDataError::InvalidRange),
//!   429 [`RateLimited`](MarketDataError::RateLimited) with its `Retry-After`.
//! - [`ReplayProvider`]: stored daily bars played back as a deterministic live quote stream.
//! - [`Resilient`]: wraps any provider in caching (through `finstage-cache`), request
//!   coalescing, a shared token-bucket rate limit, a circuit breaker and retries with
//!   exponential backoff and full jitter.
//!
//! ```no_run
//! use std::sync::Arc;
//! use finstage_cache::{MemoryCache, MemoryConfig};
//! use finstage_domain::Symbol;
//! use finstage_marketdata::{Provider, ResilienceConfig, Resilient, YahooConfig, YahooProvider};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let yahoo = Arc::new(YahooProvider::new(&YahooConfig::default())?);
//! let cache = Arc::new(MemoryCache::new("marketdata", MemoryConfig::default())?);
//! let provider = Resilient::new(yahoo, ResilienceConfig::default())?.with_cache(cache);
//! let quote = provider.quote(Symbol::parse("AAPL")?).await?;
//! println!("{} {}", quote.symbol(), quote.price());
//! # Ok(()) }
//! ```
//!
//! Metrics (through the `metrics` facade): `finstage_upstream_requests_total{provider,endpoint,status}`,
//! `finstage_upstream_request_duration_seconds{provider,endpoint}`,
//! `finstage_upstream_retries_total{provider,reason}`, `finstage_upstream_rate_limited_total{provider}`,
//! `finstage_upstream_breaker_state{provider}` (0 closed, 1 half-open, 2 open),
//! `finstage_upstream_breaker_rejections_total{provider}`, `finstage_upstream_rows_skipped_total{provider}`;
//! the cache's hit rate comes from `finstage-cache`'s own metrics.

mod error;
mod provider;
mod replay;
mod resilience;
mod types;
mod yahoo;

pub use error::MarketDataError;
pub use provider::{DEFAULT_BATCH_CONCURRENCY, Provider};
pub use replay::{ReplayConfig, ReplayProvider};
pub use resilience::{
    BreakerConfig, BreakerState, CacheTtls, CircuitBreaker, Permit, RateLimit, RateLimiter, ResilienceConfig,
    Resilient, RetryPolicy,
};
pub use types::{Dividend, Highs, History, HistoryRequest, Range, Span, Split, SymbolMeta};
pub use yahoo::{DEFAULT_BASE_URL, DEFAULT_USER_AGENT, YahooConfig, YahooProvider};
