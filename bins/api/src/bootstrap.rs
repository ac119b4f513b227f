//! From the resolved configuration ([`finstage_core::Config`]) to a running process: the
//! services of [`Services::build`] (store migrated and seeded with the bundled history on
//! first start, cache, provider behind the resilience layer, task queue, event bus, notifier),
//! the application's [`AppState`] and [`ApiOptions`] with the live stream's hub on that bus,
//! and — in the embedded shape — the scheduler's jobs on the same services ([`start`]).

use std::sync::Arc;

use finstage_core::config::CorsOrigins;
use finstage_core::jobs::{JobContext, Jobs, JobsOptions};
use finstage_core::{Config, CoreError, Services};
use finstage_monitoring::Metrics;
use finstage_store::StoreError;

use crate::state::{ApiOptions, AppState, RateLimitOptions, WatchEntry};
use crate::stream::{StreamHub, StreamOptions};

pub use finstage_core::seed::BUNDLED_HISTORY;

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
    /// The core refused its configuration or could not start a part (the message names it).
    #[error("{0}")]
    Core(#[from] CoreError),
}

fn part(what: &str) -> impl FnOnce(String) -> BootError + '_ {
    move |e| BootError::Part(format!("{what}: {e}"))
}

/// Imports each bundled symbol whose daily history is empty, with its signals under `rules`;
/// returns how many bars were imported. Run again, it imports nothing.
///
/// # Errors
/// [`BootError::Core`] when the store refuses a file (nothing of that file is kept).
pub async fn import_bundled_history(
    store: &finstage_store::Store,
    rules: &finstage_analysis::RulesConfig,
) -> Result<u64, BootError> {
    Ok(finstage_core::seed::import_bundled_history(store, rules).await?)
}

/// A whole `finstage-api` process: the application's state and options, and the scheduler's
/// jobs when they run in-process (`scheduler.embedded_jobs`, the default).
#[derive(Debug)]
pub struct Embedded {
    /// The application's state.
    pub state: AppState,
    /// Its options.
    pub options: ApiOptions,
    /// The in-process jobs (stop them with [`Jobs::shutdown`] after the server).
    pub jobs: Option<Jobs>,
}

/// Everything `finstage-api` runs, from `config`: [`from_config`], then — unless
/// `scheduler.embedded_jobs` is off (the distributed shape) — the jobs on the same services
/// (the same store, provider and bus, so that a polled quote reaches this process's stream),
/// with their schedules.
///
/// # Errors
/// [`BootError`] naming the part that could not start.
pub async fn start(config: &Config, metrics: Metrics) -> Result<Embedded, BootError> {
    let services = Services::build(config, "finstage-api").await?;
    let (state, options) = assemble(config, &services, metrics)?;
    let jobs = if config.scheduler.embedded_jobs {
        let ctx = Arc::new(JobContext::new(services, config)?);
        let jobs = Jobs::start(
            ctx,
            JobsOptions {
                worker_id: format!("finstage-api-{}", std::process::id()),
                schedules: true,
            },
        )?;
        tracing::info!("scheduler jobs running in-process");
        Some(jobs)
    } else {
        None
    };
    Ok(Embedded { state, options, jobs })
}

/// The state and options of an application run by `config`, with `metrics` for `/metrics`:
/// the services of [`Services::build`], the live stream's hub on their bus. No jobs.
///
/// # Errors
/// [`BootError`] naming the part that could not start (database unreachable, bad Redis URL, …).
pub async fn from_config(config: &Config, metrics: Metrics) -> Result<(AppState, ApiOptions), BootError> {
    let services = Services::build(config, "finstage-api").await?;
    assemble(config, &services, metrics)
}

fn assemble(config: &Config, services: &Services, metrics: Metrics) -> Result<(AppState, ApiOptions), BootError> {
    let Services {
        store,
        cache,
        provider,
        queue,
        bus,
        notifier,
        ..
    } = services.clone();
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
