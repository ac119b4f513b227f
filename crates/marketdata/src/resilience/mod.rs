//! [`Resilient`]: the one layer that makes any [`Provider`] safe to call from many tasks —
//! caching, request coalescing, a shared rate limit, a circuit breaker and retries with
//! jittered backoff, in that order from the outside in.
//!
//! ```text
//! call ─▶ cache (per-kind TTL) ─▶ coalesce identical calls ─▶ retry loop ┐
//!                                                                        ├▶ breaker permit ─▶ rate-limit slot ─▶ provider
//!                                     jittered backoff / Retry-After ◀───┘
//! ```
//!
//! Every call of every kind goes through the same path, so no endpoint can forget to be polite.

mod breaker;
mod limiter;
mod retry;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use breaker::{BreakerConfig, BreakerState, CircuitBreaker, Permit};
use finstage_cache::{Cache, CacheExt, SingleFlight};
use finstage_domain::{Quote, Symbol};
use futures_util::future::BoxFuture;
use futures_util::stream::{self, StreamExt};
pub use limiter::{RateLimit, RateLimiter};
pub use retry::RetryPolicy;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::{Highs, History, HistoryRequest, MarketDataError, Provider, SymbolMeta};

/// How long each kind of answer is cached. A zero TTL turns caching off for that kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheTtls {
    /// Latest quotes (default 45 s: fresh enough for alerts, and one upstream call per symbol
    /// per 45 s however many clients ask).
    pub quote: Duration,
    /// Bar histories (default 10 minutes).
    pub history: Duration,
    /// 52-week and all-time highs (default 30 minutes).
    pub highs: Duration,
    /// Instrument metadata (default 24 hours: names and exchanges rarely change).
    pub metadata: Duration,
}

impl Default for CacheTtls {
    fn default() -> Self {
        Self {
            quote: Duration::from_secs(45),
            history: Duration::from_secs(600),
            highs: Duration::from_secs(1800),
            metadata: Duration::from_secs(86_400),
        }
    }
}

/// Everything [`Resilient`] does, configurable.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResilienceConfig {
    /// Retries of retryable failures.
    pub retry: RetryPolicy,
    /// The provider's request rate, shared by every caller; `None` for no limit.
    pub rate_limit: Option<RateLimit>,
    /// When to stop calling a failing upstream.
    pub breaker: BreakerConfig,
    /// Cache lifetimes per kind (used when a cache is attached).
    pub ttl: CacheTtls,
    /// How many quotes of a batch are fetched at once.
    pub batch_concurrency: usize,
}

impl Default for ResilienceConfig {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            // Two requests a second is far below what Yahoo tolerates from one address.
            rate_limit: Some(RateLimit {
                per_second: 2.0,
                burst: 1,
            }),
            breaker: BreakerConfig::default(),
            ttl: CacheTtls::default(),
            batch_concurrency: 32,
        }
    }
}

/// A [`Provider`] wrapped in caching, coalescing, rate limiting, a circuit breaker and retries.
///
/// Share one `Resilient` (in an `Arc`) between every task that calls the provider: the rate
/// limit, the breaker and the coalescing only work across the callers that share it.
#[derive(Debug)]
pub struct Resilient {
    inner: Arc<dyn Provider>,
    cache: Option<Arc<dyn Cache>>,
    limiter: Option<Arc<RateLimiter>>,
    breaker: CircuitBreaker,
    config: ResilienceConfig,
    quotes: SingleFlight<Symbol, Result<Quote, MarketDataError>>,
    histories: SingleFlight<HistoryRequest, Result<History, MarketDataError>>,
    metas: SingleFlight<Symbol, Result<SymbolMeta, MarketDataError>>,
    highs: SingleFlight<Symbol, Result<Highs, MarketDataError>>,
}

impl Resilient {
    /// Wraps `inner`.
    ///
    /// # Errors
    /// [`MarketDataError::Config`] when any part of `config` is invalid.
    pub fn new(inner: Arc<dyn Provider>, config: ResilienceConfig) -> Result<Self, MarketDataError> {
        config.retry.validate()?;
        if config.batch_concurrency == 0 {
            return Err(MarketDataError::Config(
                "batch_concurrency must be at least 1".to_owned(),
            ));
        }
        let limiter = config.rate_limit.map(RateLimiter::new).transpose()?.map(Arc::new);
        Ok(Self {
            breaker: CircuitBreaker::new(inner.name(), config.breaker)?,
            inner,
            cache: None,
            limiter,
            config,
            quotes: SingleFlight::new(),
            histories: SingleFlight::new(),
            metas: SingleFlight::new(),
            highs: SingleFlight::new(),
        })
    }

    /// Caches answers in `cache` (for the TTLs of the configuration).
    #[must_use]
    pub fn with_cache(mut self, cache: Arc<dyn Cache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Uses `limiter` instead of a limiter of its own, to share one rate limit between several
    /// wrappers of the same upstream.
    #[must_use]
    pub fn with_limiter(mut self, limiter: Arc<RateLimiter>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// The circuit breaker's state (for health checks).
    pub fn breaker_state(&self) -> BreakerState {
        self.breaker.state()
    }

    /// The provider wrapped.
    pub fn inner(&self) -> &Arc<dyn Provider> {
        &self.inner
    }

    /// Runs `op` under the breaker and the rate limit, retrying retryable failures.
    async fn call<'s, T>(
        &'s self,
        op: impl Fn() -> BoxFuture<'s, Result<T, MarketDataError>>,
    ) -> Result<T, MarketDataError> {
        let provider = self.inner.name();
        let started = Instant::now();
        let mut retry = 0;
        loop {
            let permit = self.breaker.try_acquire()?;
            if let Some(limiter) = &self.limiter {
                limiter.acquire().await;
            }
            let outcome = op().await;
            permit.record(&outcome);
            let error = match outcome {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            if let MarketDataError::RateLimited { retry_after, .. } = &error {
                metrics::counter!("finstage_upstream_rate_limited_total", "provider" => provider).increment(1);
                // Everyone sharing the limiter waits, not only this call.
                if let Some(limiter) = &self.limiter {
                    limiter.penalize(retry_after.unwrap_or_else(|| self.config.retry.ceiling(retry)));
                }
            }
            if !error.is_retryable() || retry + 1 >= self.config.retry.max_attempts {
                return Err(error);
            }
            let delay = self.config.retry.delay_after(retry, &error, &mut rand::rng());
            if started.elapsed() + delay > self.config.retry.budget {
                tracing::debug!(provider, error = %error, "retry budget spent");
                return Err(error);
            }
            metrics::counter!("finstage_upstream_retries_total", "provider" => provider, "reason" => error.kind())
                .increment(1);
            tracing::debug!(provider, error = %error, delay_ms = delay.as_millis() as u64, retry, "retrying");
            tokio::time::sleep(delay).await;
            retry += 1;
        }
    }

    /// The cache (when one is attached and `ttl` is not zero) in front of the coalesced call.
    async fn cached<T, Fut>(
        &self,
        key: String,
        ttl: Duration,
        load: impl FnOnce() -> Fut + Send,
    ) -> Result<T, MarketDataError>
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<T, MarketDataError>> + Send,
    {
        match &self.cache {
            Some(cache) if !ttl.is_zero() => cache.get_or_set(&key, ttl, load).await,
            _ => load().await,
        }
    }
}

impl Provider for Resilient {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn quote(&self, symbol: Symbol) -> BoxFuture<'_, Result<Quote, MarketDataError>> {
        Box::pin(self.cached(format!("quote:{symbol}"), self.config.ttl.quote, move || {
            self.quotes
                .run(symbol, move || self.call(move || self.inner.quote(symbol)))
        }))
    }

    fn quotes<'a>(&'a self, symbols: &'a [Symbol]) -> BoxFuture<'a, Vec<(Symbol, Result<Quote, MarketDataError>)>> {
        Box::pin(async move {
            stream::iter(symbols.iter().copied())
                .map(|symbol| async move { (symbol, self.quote(symbol).await) })
                .buffered(self.config.batch_concurrency)
                .collect()
                .await
        })
    }

    fn history(&self, request: HistoryRequest) -> BoxFuture<'_, Result<History, MarketDataError>> {
        let ttl = if request.use_cache {
            self.config.ttl.history
        } else {
            Duration::ZERO
        };
        Box::pin(self.cached(format!("history:{}", request.key()), ttl, move || {
            self.histories
                .run(request, move || self.call(move || self.inner.history(request)))
        }))
    }

    fn metadata(&self, symbol: Symbol) -> BoxFuture<'_, Result<SymbolMeta, MarketDataError>> {
        Box::pin(
            self.cached(format!("meta:{symbol}"), self.config.ttl.metadata, move || {
                self.metas
                    .run(symbol, move || self.call(move || self.inner.metadata(symbol)))
            }),
        )
    }

    fn highs(&self, symbol: Symbol) -> BoxFuture<'_, Result<Highs, MarketDataError>> {
        Box::pin(self.cached(format!("highs:{symbol}"), self.config.ttl.highs, move || {
            self.highs
                .run(symbol, move || self.call(move || self.inner.highs(symbol)))
        }))
    }
}
