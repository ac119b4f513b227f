//! [`Services`]: the parts both binaries run on, built from the resolved [`Config`]: the store
//! (migrated; the bundled history imported on first start), the cache (Redis when configured,
//! else memory), the provider behind the resilience layer, the task queue on the database, the
//! event bus (Redis pub/sub when configured, else in-process) and the notifier (Telegram, its
//! deliveries logged in the store, when configured; else the log).

use std::sync::Arc;

use finstage_cache::{Cache, MemoryCache, RedisCache};
use finstage_marketdata::{Provider, ReplayProvider, Resilient, YahooProvider};
use finstage_notify::{LogNotifier, Notifier, TelegramNotifier};
use finstage_store::Store;
use finstage_tasks::{Clock, DatabaseBackend, Queue, SystemClock, TokioClock};

use crate::bus::{DEFAULT_CAPACITY, EventBus, InstanceId, LocalBus, RedisBus, RedisBusConfig};
use crate::config::{Config, ProviderKind};
use crate::{CoreError, seed};

/// The name of the cache the provider's answers are kept in: one name for every process, so
/// that with Redis a quote one instance fetched is a hit for all.
pub const MARKET_CACHE: &str = "market";

/// The running parts of one process. Cheap to clone (every part is shared).
#[derive(Debug, Clone)]
pub struct Services {
    /// The database.
    pub store: Store,
    /// The shared cache.
    pub cache: Arc<dyn Cache>,
    /// Market data, behind caching, coalescing, retries, the breaker and the rate limit.
    pub provider: Arc<dyn Provider>,
    /// The durable task queue.
    pub queue: Queue,
    /// Quotes and signals to every instance's live stream.
    pub bus: Arc<dyn EventBus>,
    /// Alerts and reports.
    pub notifier: Arc<dyn Notifier>,
    /// The clock jobs and the queue read.
    pub clock: Arc<dyn Clock>,
    /// This process, as the origin of what it publishes.
    pub instance: InstanceId,
}

fn start_error(part: &'static str) -> impl FnOnce(String) -> CoreError {
    move |message| CoreError::Start { part, message }
}

impl Services {
    /// Opens and migrates the store (creating the SQLite directory when needed), imports the
    /// bundled history into an empty database, and starts the other parts. `process` names
    /// this process in the bus (`finstage-api`, `finstage-scheduler`).
    ///
    /// # Errors
    /// [`CoreError::Store`] when the database cannot be opened, migrated or seeded;
    /// [`CoreError::Start`] naming the part that refused its configuration.
    pub async fn build(config: &Config, process: &str) -> Result<Services, CoreError> {
        if let Some(path) = config.store.url.sqlite_path()
            && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(|e| CoreError::Start {
                part: "the SQLite directory",
                message: format!("{}: {e}", dir.display()),
            })?;
        }
        let store = Store::open(config.store.clone()).await?;
        seed::import_bundled_history(&store, &config.rules).await?;

        let cache: Arc<dyn Cache> = match &config.redis {
            Some(redis) => Arc::new(
                RedisCache::new(MARKET_CACHE, redis.clone())
                    .await
                    .map_err(|e| start_error("the Redis cache")(e.to_string()))?,
            ),
            None => Arc::new(
                MemoryCache::new(MARKET_CACHE, config.memory_cache)
                    .map_err(|e| start_error("the memory cache")(e.to_string()))?,
            ),
        };
        let upstream: Arc<dyn Provider> = match config.provider.kind {
            ProviderKind::Yahoo => Arc::new(
                YahooProvider::new(&config.provider.yahoo)
                    .map_err(|e| start_error("the Yahoo provider")(e.to_string()))?,
            ),
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
                        .map_err(|e| start_error("the replay provider")(e.to_string()))?,
                )
            }
        };
        let provider = Arc::new(
            Resilient::new(upstream, config.provider.resilience)
                .map_err(|e| start_error("the provider's resilience")(e.to_string()))?
                .with_cache(cache.clone()),
        );
        let clock: Arc<dyn Clock> = match config.scheduler.clock_start {
            Some(start) => {
                tracing::warn!(%start, "replayed time: the jobs' clock starts at scheduler.clock_start");
                Arc::new(TokioClock::starting_at(start))
            }
            None => Arc::new(SystemClock),
        };
        let queue = Queue::new(Arc::new(DatabaseBackend::new(store.clone())), clock.clone());
        let bus: Arc<dyn EventBus> = match &config.redis {
            // The cache's namespace is the bus's too: one namespace, one deployment.
            Some(redis) => Arc::new(RedisBus::new(RedisBusConfig {
                namespace: redis.namespace.clone(),
                ..RedisBusConfig::new(redis.url.clone())
            })?),
            None => Arc::new(LocalBus::new(DEFAULT_CAPACITY)?),
        };
        let notifier: Arc<dyn Notifier> = match &config.telegram {
            Some(telegram) => Arc::new(
                TelegramNotifier::new(telegram.clone())
                    .map_err(|e| start_error("the Telegram notifier")(e.to_string()))?
                    .with_delivery_log(Arc::new(store.clone())),
            ),
            None => Arc::new(LogNotifier),
        };
        Ok(Services {
            store,
            cache,
            provider,
            queue,
            bus,
            notifier,
            clock,
            instance: InstanceId::generate(process),
        })
    }
}
