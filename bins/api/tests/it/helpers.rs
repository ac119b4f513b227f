//! `spawn_app()`: the real application on port 0, a fresh database (SQLite unless asked), the
//! mock Yahoo holding AAPL's seed history, and a reqwest client.

use std::sync::Arc;
use std::time::Duration;

use finstage_api::stream::{StreamHub, StreamOptions};
use finstage_api::{ApiOptions, AppState, Application, RateLimitOptions, StopHandle, WatchEntry};
use finstage_cache::{MemoryCache, MemoryConfig};
use finstage_core::LocalBus;
use finstage_domain::{Bar, Symbol};
use finstage_marketdata::{BreakerConfig, ResilienceConfig, Resilient, RetryPolicy, YahooConfig, YahooProvider};
use finstage_monitoring::{HealthRegistry, Metrics, MetricsConfig, Secret};
use finstage_notify::Notifier;
use finstage_store::{Backend, Store};
use finstage_tasks::{DatabaseBackend, Queue, SystemClock};
use finstage_test_support::db::TestDb;
use finstage_test_support::{MockYahoo, fixtures};
use serde_json::Value;

/// The admin token of apps that have one.
pub(crate) const TOKEN: &str = "test-admin-token-0123456789";

/// How to start an app.
pub(crate) struct Setup {
    pub(crate) backend: Backend,
    pub(crate) admin_token: Option<&'static str>,
    pub(crate) rate_limit: Option<RateLimitOptions>,
    pub(crate) json_limit: usize,
    pub(crate) batch_quote_cap: usize,
    pub(crate) cors_origins: Vec<String>,
    pub(crate) health: HealthRegistry,
    /// Whether the app serves the live stream (through a `LocalBus`).
    pub(crate) stream: bool,
    /// Where notifications go (`None`: the state's default, the log).
    pub(crate) notifier: Option<Arc<dyn Notifier>>,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            backend: Backend::Sqlite,
            admin_token: Some(TOKEN),
            rate_limit: None,
            json_limit: 64 * 1024,
            batch_quote_cap: 5,
            cors_origins: Vec::new(),
            health: HealthRegistry::new(),
            stream: true,
            notifier: None,
        }
    }
}

/// A running app and what it runs on.
pub(crate) struct TestApp {
    pub(crate) address: String,
    pub(crate) client: reqwest::Client,
    pub(crate) yahoo: MockYahoo,
    pub(crate) store: Store,
    pub(crate) queue: Queue,
    pub(crate) stop: StopHandle,
    /// The bus behind the live stream (publish here to reach its clients).
    pub(crate) bus: Arc<LocalBus>,
    _db: TestDb,
}

/// AAPL's last 300 seed bars (2012-10 to 2013-12).
pub(crate) fn aapl_bars() -> Vec<Bar> {
    let bars = fixtures::seed_bars("AAPL");
    bars[bars.len() - 300..].to_vec()
}

pub(crate) fn sym(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

pub(crate) async fn spawn_app() -> TestApp {
    spawn_with(Setup::default()).await
}

pub(crate) async fn spawn_with(setup: Setup) -> TestApp {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let metrics = Metrics::install(&MetricsConfig::default()).unwrap();
    let yahoo = MockYahoo::start().await;
    yahoo.add_symbol("AAPL", aapl_bars());
    yahoo.add_symbol("MSFT", fixtures::seed_bars("MSFT").into_iter().rev().take(50).rev());
    let db = TestDb::new(setup.backend, "finstage_api");
    let store = db.store().await;
    store.daily_bars().upsert(&sym("AAPL"), &aapl_bars()).await.unwrap();
    let cache = Arc::new(MemoryCache::new("api_test", MemoryConfig::default()).unwrap());
    let upstream = Arc::new(
        YahooProvider::new(&YahooConfig {
            base_url: yahoo.base_url(),
            ..YahooConfig::default()
        })
        .unwrap(),
    );
    let resilience = ResilienceConfig {
        retry: RetryPolicy {
            max_attempts: 1,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(1),
            budget: Duration::from_secs(5),
        },
        rate_limit: None,
        breaker: BreakerConfig {
            failure_threshold: 1_000,
            ..BreakerConfig::default()
        },
        ..ResilienceConfig::default()
    };
    let provider = Arc::new(Resilient::new(upstream, resilience).unwrap().with_cache(cache.clone()));
    let queue = Queue::new(Arc::new(DatabaseBackend::new(store.clone())), Arc::new(SystemClock));
    let state = AppState::new(store.clone(), cache, provider, queue.clone(), metrics)
        .with_watchlist(vec![
            WatchEntry::inferred(sym("AAPL")),
            WatchEntry::inferred(sym("^GSPC")),
        ])
        .with_admin_token(setup.admin_token.map(|t| Secret::new(t.to_owned())))
        .with_health(setup.health);
    let state = match setup.notifier {
        Some(notifier) => state.with_notifier(notifier),
        None => state,
    };
    let bus = Arc::new(LocalBus::new(1_024).unwrap());
    let state = if setup.stream {
        state.with_stream(StreamHub::new(bus.clone(), StreamOptions::default()).unwrap())
    } else {
        state
    };
    let options = ApiOptions {
        addr: "127.0.0.1:0".parse().unwrap(),
        cors_origins: setup.cors_origins,
        rate_limit: setup.rate_limit,
        json_limit: setup.json_limit,
        batch_quote_cap: setup.batch_quote_cap,
        workers: Some(1),
        ..ApiOptions::default()
    };
    let app = Application::build(state, options).await.unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    let stop = app.stop_handle();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::builder().no_proxy().build().unwrap(),
        yahoo,
        store,
        queue,
        stop,
        bus,
        _db: db,
    }
}

impl TestApp {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub(crate) async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// GET, expecting `status`, returning the JSON body.
    pub(crate) async fn get_json(&self, path: &str, status: u16) -> Value {
        let response = self.get(path).await;
        json(response, status).await
    }
}

/// The JSON body of `response`, after checking its status.
pub(crate) async fn json(response: reqwest::Response, status: u16) -> Value {
    let got = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(got, status, "body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Checks an error body and returns its message.
pub(crate) fn error_code(body: &Value) -> &str {
    let error = &body["error"];
    assert!(error["message"].is_string(), "{body}");
    error["code"].as_str().unwrap_or_else(|| panic!("no code: {body}"))
}

/// Replaces the values of these keys, anywhere in `value`, by `"[redacted]"`.
pub(crate) fn redact(value: &mut Value, keys: &[&str]) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if keys.contains(&k.as_str()) {
                    *v = Value::String("[redacted]".into());
                } else {
                    redact(v, keys);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact(v, keys)),
        _ => {}
    }
}

/// A request with `body` as its JSON body.
pub(crate) fn with_json(request: reqwest::RequestBuilder, body: &Value) -> reqwest::RequestBuilder {
    request
        .header("content-type", "application/json")
        .body(body.to_string())
}
