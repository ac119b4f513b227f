//! `finstage-api`: serves the HTTP API with the embedded defaults (SQLite under `./var/`, the
//! memory cache, Yahoo behind the resilience layer, the task queue on the database).

use std::error::Error;
use std::sync::Arc;

use finstage_api::{ApiOptions, AppState, Application, WatchEntry};
use finstage_cache::{MemoryCache, MemoryConfig};
use finstage_domain::Symbol;
use finstage_marketdata::{ResilienceConfig, Resilient, YahooConfig, YahooProvider};
use finstage_monitoring::{LogConfig, Metrics, MetricsConfig, init_logging};
use finstage_store::{Store, StoreConfig};
use finstage_tasks::{DatabaseBackend, Queue, SystemClock};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    // NEXT STEP: `finstage_core::config` replaces every literal below (database URL, address,
    // watchlist, admin token, provider, rate limits) with the layered configuration.
    init_logging(&LogConfig::default(), std::io::stdout)?;
    let metrics = Metrics::install(&MetricsConfig::default())?;
    std::fs::create_dir_all("var")?;
    let store = Store::open(StoreConfig::new("sqlite://var/finstage.db".parse()?)).await?;
    let cache = Arc::new(MemoryCache::new("api", MemoryConfig::default())?);
    let yahoo = Arc::new(YahooProvider::new(&YahooConfig::default())?);
    let provider = Arc::new(Resilient::new(yahoo, ResilienceConfig::default())?.with_cache(cache.clone()));
    let queue = Queue::new(Arc::new(DatabaseBackend::new(store.clone())), Arc::new(SystemClock));
    let watchlist = ["AAPL", "MSFT", "IBM", "^GSPC", "^IXIC"]
        .into_iter()
        .map(|s| Symbol::parse(s).map(WatchEntry::inferred))
        .collect::<Result<Vec<_>, _>>()?;
    let state = AppState::new(store, cache, provider, queue, metrics).with_watchlist(watchlist);
    let app = Application::build(state, ApiOptions::default()).await?;
    tracing::info!(port = app.port(), "finstage-api listening");
    app.run_until_stopped().await?;
    Ok(())
}
