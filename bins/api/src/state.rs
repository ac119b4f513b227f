//! What the application serves from: [`AppState`] (explicit values, no environment reading) and
//! [`ApiOptions`] (how the HTTP server behaves). A later step fills both from the configuration.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use finstage_analysis::RulesConfig;
use finstage_cache::Cache;
use finstage_domain::{Category, Symbol};
use finstage_marketdata::Provider;
use finstage_monitoring::{HealthRegistry, Metrics, Secret};
use finstage_notify::{LogNotifier, Notifier};
use finstage_store::Store;
use finstage_tasks::Queue;

use crate::stream::StreamHub;

/// One symbol of the configured watchlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEntry {
    /// The ticker.
    pub symbol: Symbol,
    /// Its category.
    pub category: Category,
    /// A display name, if configured.
    pub name: Option<String>,
}

impl WatchEntry {
    /// An entry whose category is inferred from the symbol.
    pub fn inferred(symbol: Symbol) -> Self {
        Self {
            symbol,
            category: Category::infer(&symbol),
            name: None,
        }
    }
}

/// The instance name of a state that was given none.
pub const DEFAULT_INSTANCE_NAME: &str = "finstage-api";

/// Everything the handlers use, shared by every worker (each field is cheap to clone).
#[derive(Clone, Debug)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// The shared cache (the provider's answers are cached in it by `Resilient`).
    pub cache: Arc<dyn Cache>,
    /// The market data provider. Always a [`finstage_marketdata::Resilient`] (caching,
    /// coalescing, rate limit, breaker, retries) around the real provider: the handlers never
    /// call an upstream directly.
    pub provider: Arc<dyn Provider>,
    /// The task queue (backfill tasks are enqueued here).
    pub queue: Queue,
    /// The configured watchlist (the stored, API-added symbols are listed with it).
    pub watchlist: Arc<[WatchEntry]>,
    /// The signal rules in force.
    pub rules: Arc<RulesConfig>,
    /// The admin bearer token; `None` disables the admin endpoints (403 `admin_disabled`).
    pub admin_token: Option<Arc<Secret<String>>>,
    /// The Prometheus recorder, rendered by `/metrics`.
    pub metrics: Metrics,
    /// The readiness checks of `/health/ready`.
    pub health: HealthRegistry,
    /// The live stream's hub (`/v1/stream`); `None` answers 503 `stream_unavailable` there.
    pub stream: Option<StreamHub>,
    /// Where notifications go (`POST /v1/notifications/test`): Telegram when configured, else
    /// the log.
    pub notifier: Arc<dyn Notifier>,
    /// The name this instance signs its test notification with.
    pub instance_name: Arc<str>,
}

impl AppState {
    /// A state with an empty watchlist, the default rules, no admin token, no extra health
    /// check, notifications only logged ([`LogNotifier`]) and the instance name
    /// [`DEFAULT_INSTANCE_NAME`]; set the rest with the `with_*` methods.
    pub fn new(
        store: Store,
        cache: Arc<dyn Cache>,
        provider: Arc<dyn Provider>,
        queue: Queue,
        metrics: Metrics,
    ) -> Self {
        Self {
            store,
            cache,
            provider,
            queue,
            watchlist: Arc::from(Vec::new()),
            rules: Arc::new(RulesConfig::default()),
            admin_token: None,
            metrics,
            health: HealthRegistry::new(),
            stream: None,
            notifier: Arc::new(LogNotifier),
            instance_name: Arc::from(DEFAULT_INSTANCE_NAME),
        }
    }

    /// With notifications sent through `notifier`.
    #[must_use]
    pub fn with_notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifier = notifier;
        self
    }

    /// With this instance name (an empty or blank name keeps the current one).
    #[must_use]
    pub fn with_instance_name(mut self, name: &str) -> Self {
        let name = name.trim();
        if !name.is_empty() {
            self.instance_name = Arc::from(name);
        }
        self
    }

    /// With the live stream served by `hub`.
    #[must_use]
    pub fn with_stream(mut self, hub: StreamHub) -> Self {
        self.stream = Some(hub);
        self
    }

    /// With this watchlist.
    #[must_use]
    pub fn with_watchlist(mut self, watchlist: Vec<WatchEntry>) -> Self {
        self.watchlist = Arc::from(watchlist);
        self
    }

    /// With these rules.
    #[must_use]
    pub fn with_rules(mut self, rules: RulesConfig) -> Self {
        self.rules = Arc::new(rules);
        self
    }

    /// With an admin token (an empty token counts as none: admin stays disabled).
    #[must_use]
    pub fn with_admin_token(mut self, token: Option<Secret<String>>) -> Self {
        self.admin_token = token.filter(|t| !t.is_empty()).map(Arc::new);
        self
    }

    /// With this health registry (its checks are added to the store's).
    #[must_use]
    pub fn with_health(mut self, health: HealthRegistry) -> Self {
        self.health = health;
        self
    }
}

/// A per-client-IP request rate: `per_second` sustained, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimitOptions {
    /// Requests per second, sustained (finite, positive).
    pub per_second: f64,
    /// Requests allowed at once (at least 1).
    pub burst: u32,
}

/// How the HTTP server behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiOptions {
    /// Where to listen (port 0 picks a free port; see [`crate::Application::port`]).
    pub addr: SocketAddr,
    /// Origins allowed by CORS (`https://dash.example.com`); empty: no cross-origin access.
    pub cors_origins: Vec<String>,
    /// The per-client-IP limit on public endpoints (`None`: unlimited). Health, metrics and
    /// admin endpoints are exempt.
    pub rate_limit: Option<RateLimitOptions>,
    /// Most client IPs the rate limiter remembers (least recently seen forgotten first).
    pub rate_limit_clients: usize,
    /// The largest JSON body accepted, in bytes.
    pub json_limit: usize,
    /// The most symbols one `GET /v1/quotes?symbols=` takes.
    pub batch_quote_cap: usize,
    /// How long a graceful stop waits for in-flight requests.
    pub shutdown_timeout: Duration,
    /// HTTP worker threads (`None`: one per core).
    pub workers: Option<usize>,
}

impl Default for ApiOptions {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            cors_origins: Vec::new(),
            rate_limit: Some(RateLimitOptions {
                per_second: 50.0,
                burst: 100,
            }),
            rate_limit_clients: 65_536,
            json_limit: 1 << 20,
            batch_quote_cap: 50,
            shutdown_timeout: Duration::from_secs(30),
            workers: None,
        }
    }
}
