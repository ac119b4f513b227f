//! From the resolved configuration ([`finstage_core::Config`]) to the application's
//! [`AppState`] and [`ApiOptions`]: the store (migrated; the bundled daily history imported on
//! first start), the cache (Redis when configured, else memory), the provider behind
//! `Resilient`, the task queue on the database, the event bus (Redis pub/sub when configured,
//! else in-process), the live stream's hub and the notifier (Telegram, with its delivery log in
//! the store, when configured; else the log).

use std::sync::Arc;

use finstage_cache::{Cache, MemoryCache, RedisCache};
use finstage_core::bus::{EventBus, LocalBus, RedisBus, RedisBusConfig};
use finstage_core::config::{CorsOrigins, ProviderKind};
use finstage_core::{Config, CoreError};
use finstage_domain::Symbol;
use finstage_marketdata::{Provider, ReplayProvider, Resilient, YahooProvider};
use finstage_monitoring::Metrics;
use finstage_notify::{LogNotifier, Notifier, TelegramNotifier};
use finstage_store::{Store, StoreError};
use finstage_tasks::{DatabaseBackend, Queue, SystemClock};

use crate::state::{ApiOptions, AppState, RateLimitOptions, WatchEntry};
use crate::stream::{StreamHub, StreamOptions};

/// The daily history bundled with the binary (public-domain Quandl WIKI prices, 2000–2013, see
/// `data/seed/README.md`): imported on first start so that every endpoint answers offline.
pub const BUNDLED_HISTORY: [(&str, &str); 3] = [
    ("AAPL", include_str!("../../../data/seed/AAPL.csv")),
    ("MSFT", include_str!("../../../data/seed/MSFT.csv")),
    ("IBM", include_str!("../../../data/seed/IBM.csv")),
];

/// Why the application could not be put together.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BootError {
    /// The database could not be opened, migrated or seeded.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A part refused its configuration (the message names it).
    #[error("{0}")]
    Part(String),
    /// The core (the event bus) refused its configuration.
    #[error("{0}")]
    Core(#[from] CoreError),
}

fn part(what: &str) -> impl FnOnce(String) -> BootError + '_ {
    move |e| BootError::Part(format!("{what}: {e}"))
}

/// Imports each bundled symbol whose daily history is empty; returns how many bars were
/// imported. Run again, it imports nothing.
///
/// # Errors
/// [`BootError::Store`] when the store refuses a file (nothing of that file is kept).
pub async fn import_bundled_history(store: &Store) -> Result<u64, BootError> {
    let mut imported = 0;
    for (name, csv) in BUNDLED_HISTORY {
        let symbol = Symbol::parse(name).map_err(|e| part("bundled history")(e.to_string()))?;
        if store.daily_bars().count(&symbol).await? > 0 {
            continue;
        }
        let summary = store
            .import_csv_reader(&format!("bundled {name}.csv"), csv.as_bytes(), &symbol)
            .await?;
        tracing::info!(symbol = name, bars = summary.bars, "bundled history imported");
        imported += summary.bars;
    }
    Ok(imported)
}

/// The state and options of an application run by `config`, with `metrics` for `/metrics`.
///
/// # Errors
/// [`BootError`] naming the part that could not start (database unreachable, bad Redis URL, …).
pub async fn from_config(config: &Config, metrics: Metrics) -> Result<(AppState, ApiOptions), BootError> {
    if let Some(path) = config.store.url.sqlite_path()
        && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).map_err(|e| part("the SQLite directory")(e.to_string()))?;
    }
    let store = Store::open(config.store.clone()).await?;
    import_bundled_history(&store).await?;

    let cache: Arc<dyn Cache> = match &config.redis {
        Some(redis) => Arc::new(
            RedisCache::new("api", redis.clone())
                .await
                .map_err(|e| part("the Redis cache")(e.to_string()))?,
        ),
        None => {
            Arc::new(MemoryCache::new("api", config.memory_cache).map_err(|e| part("the memory cache")(e.to_string()))?)
        }
    };
    let upstream: Arc<dyn Provider> = match config.provider.kind {
        ProviderKind::Yahoo => {
            Arc::new(YahooProvider::new(&config.provider.yahoo).map_err(|e| part("the Yahoo provider")(e.to_string()))?)
        }
        ProviderKind::Replay => {
            let mut series = Vec::new();
            for watched in &config.watchlist {
                let bars = store.daily_bars().latest(&watched.symbol, 2_520).await?;
                if !bars.is_empty() {
                    series.push((watched.symbol, bars));
                }
            }
            Arc::new(
                ReplayProvider::new(series, config.provider.replay)
                    .map_err(|e| part("the replay provider")(e.to_string()))?,
            )
        }
    };
    let provider = Arc::new(
        Resilient::new(upstream, config.provider.resilience)
            .map_err(|e| part("the provider's resilience")(e.to_string()))?
            .with_cache(cache.clone()),
    );
    let queue = Queue::new(Arc::new(DatabaseBackend::new(store.clone())), Arc::new(SystemClock));

    let bus: Arc<dyn EventBus> = match &config.redis {
        Some(redis) => Arc::new(RedisBus::new(RedisBusConfig::new(redis.url.clone()))?),
        None => Arc::new(LocalBus::new(finstage_core::bus::DEFAULT_CAPACITY)?),
    };
    let ws = &config.api.websocket;
    let stream = StreamOptions {
        max_channels: ws.max_channels,
        max_frame_size: ws.max_frame_bytes,
        send_queue: ws.send_queue,
        ping_interval: ws.ping_interval,
        client_timeout: ws.client_timeout,
        ..StreamOptions::default()
    };
    let hub = StreamHub::new(bus, stream).map_err(|e| part("the live stream")(e.to_string()))?;

    let watchlist = config
        .watchlist
        .iter()
        .map(|w| WatchEntry {
            symbol: w.symbol,
            category: w.category,
            name: w.name.clone(),
        })
        .collect();
    let notifier: Arc<dyn Notifier> = match &config.telegram {
        Some(telegram) => Arc::new(
            TelegramNotifier::new(telegram.clone())
                .map_err(|e| part("the Telegram notifier")(e.to_string()))?
                .with_delivery_log(Arc::new(store.clone())),
        ),
        None => Arc::new(LogNotifier),
    };
    let state = AppState::new(store, cache, provider, queue, metrics)
        .with_notifier(notifier)
        .with_watchlist(watchlist)
        .with_rules(config.rules.clone())
        .with_admin_token(config.api.admin_token.clone())
        .with_stream(hub);

    let api = &config.api;
    let options = ApiOptions {
        addr: api.http_addr,
        cors_origins: match &api.cors {
            CorsOrigins::SameOrigin => Vec::new(),
            CorsOrigins::Any => vec!["*".to_owned()],
            CorsOrigins::List(origins) => origins.clone(),
        },
        rate_limit: api.rate_limit.map(|r| RateLimitOptions {
            per_second: r.per_second,
            burst: r.burst,
        }),
        json_limit: api.json_body_limit,
        batch_quote_cap: api.max_batch_symbols,
        ..ApiOptions::default()
    };
    Ok((state, options))
}
