//! [`Settings`]: the raw configuration as the layers give it (serde, defaults on every field,
//! unknown keys refused), before [`Settings::resolve`](super::Settings::resolve) checks and types
//! it. Each section's `Default` is the documented default (see [`KEYS`](super::KEYS)).

use std::collections::BTreeMap;
use std::time::Duration;

use finstage_analysis::{DedupePolicy, RulesConfig};
use finstage_monitoring::Secret;
use serde::{Deserialize, Deserializer, Serialize};

use super::duration;

/// The whole configuration of both binaries, as read: built-in defaults < `finstage.toml` <
/// `FINSTAGE_*` variables. `Debug` shows no secret.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// The database and its pool.
    pub store: StoreSettings,
    /// The in-memory cache, or Redis.
    pub cache: CacheSettings,
    /// Where prices come from, and how politely.
    pub provider: ProviderSettings,
    /// The symbols the jobs follow.
    pub watchlist: WatchlistSettings,
    /// The signal rules and their thresholds (`finstage_analysis::RulesConfig`).
    pub rules: RulesConfig,
    /// Which signals become alerts.
    pub alerts: AlertSettings,
    /// Where alerts go (nowhere but the log when unset).
    pub telegram: TelegramSettings,
    /// The HTTP and WebSocket server.
    pub api: ApiSettings,
    /// The periodic jobs.
    pub scheduler: SchedulerSettings,
    /// Logging.
    pub log: LogSettings,
    /// Which variable set which key (key → variable), for error messages.
    #[serde(skip)]
    pub(crate) origins: BTreeMap<String, String>,
}

/// `[store]`: the database and its pool.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    /// `sqlite://PATH`, `postgres://…` or `mysql://…` (`FINSTAGE_DATABASE_URL`). May hold a
    /// password: it never prints.
    #[serde(skip_serializing)]
    pub database_url: Secret<String>,
    /// The connection pool.
    pub pool: PoolSettings,
    /// Statements slower than this are logged and counted.
    #[serde(with = "duration")]
    pub slow_query_threshold: Duration,
    /// Rows per statement in bulk upserts.
    pub bulk_chunk_size: usize,
    /// How long a SQLite writer waits for the lock.
    #[serde(with = "duration")]
    pub sqlite_busy_timeout: Duration,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            database_url: Secret::new(super::DEFAULT_DATABASE_URL.to_owned()),
            pool: PoolSettings::default(),
            slow_query_threshold: Duration::from_millis(200),
            bulk_chunk_size: 1_000,
            sqlite_busy_timeout: Duration::from_secs(5),
        }
    }
}

/// `[store.pool]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoolSettings {
    /// Most connections open at once.
    pub max_size: usize,
    /// Connections opened at start and kept.
    pub min_idle: usize,
    /// How long a checkout waits for a free connection.
    #[serde(with = "duration")]
    pub acquire_timeout: Duration,
    /// How long opening a connection may take.
    #[serde(with = "duration")]
    pub connect_timeout: Duration,
    /// Connections older than this are replaced (`0s`: never).
    #[serde(with = "duration")]
    pub max_lifetime: Duration,
    /// A check query on every checkout.
    pub verify_on_checkout: bool,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_size: 16,
            min_idle: 1,
            acquire_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            max_lifetime: Duration::from_secs(30 * 60),
            verify_on_checkout: true,
        }
    }
}

/// `[cache]`: in memory, or Redis when `redis_url` is set.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheSettings {
    /// `redis://…` (`FINSTAGE_REDIS_URL`): Redis carries the cache and the event bus. Unset or
    /// empty: the in-memory cache and the in-process bus.
    #[serde(skip_serializing)]
    pub redis_url: Option<Secret<String>>,
    /// The in-memory cache.
    pub memory: MemorySettings,
    /// Redis, when `redis_url` is set.
    pub redis: RedisSettings,
}

/// `[cache.memory]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemorySettings {
    /// Most entries held.
    pub max_entries: usize,
    /// Most approximate bytes held.
    pub max_bytes: usize,
    /// Independently locked shards (`0`: four per core, 4 to 64).
    pub shards: usize,
}

impl Default for MemorySettings {
    fn default() -> Self {
        Self {
            max_entries: 100_000,
            max_bytes: 64 << 20,
            shards: 0,
        }
    }
}

/// `[cache.redis]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisSettings {
    /// First part of every key.
    pub namespace: String,
    /// Longest wait for one connection attempt.
    #[serde(with = "duration")]
    pub connect_timeout: Duration,
    /// Longest wait for one call, reconnecting included.
    #[serde(with = "duration")]
    pub response_timeout: Duration,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            namespace: "finstage".to_owned(),
            connect_timeout: Duration::from_secs(1),
            response_timeout: Duration::from_millis(500),
        }
    }
}

/// A token bucket: a sustained rate and a burst.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateSettings {
    /// Sustained requests (or messages) per second.
    pub per_second: f64,
    /// How many may go at once after a quiet spell.
    pub burst: u32,
}

/// Retries with exponential backoff and full jitter.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrySettings {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The backoff before the first retry.
    #[serde(with = "duration")]
    pub base: Duration,
    /// The largest backoff.
    #[serde(with = "duration")]
    pub cap: Duration,
    /// The most time one call may take, waits included.
    #[serde(with = "duration")]
    pub budget: Duration,
}

/// `[provider]`: the upstream and the resilience around it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderSettings {
    /// `yahoo` or `replay` (`FINSTAGE_PROVIDER`).
    pub kind: String,
    /// The Yahoo client.
    pub yahoo: YahooSettings,
    /// The request rate shared by every caller.
    pub rate_limit: RateSettings,
    /// Retries of failed calls.
    pub retry: RetrySettings,
    /// The circuit breaker.
    pub breaker: BreakerSettings,
    /// Cache lifetimes per kind of answer.
    pub cache_ttl: CacheTtlSettings,
    /// Symbols fetched at once in a batch.
    pub concurrency: usize,
    /// The replay provider.
    pub replay: ReplaySettings,
}

impl Default for ProviderSettings {
    fn default() -> Self {
        Self {
            kind: "yahoo".to_owned(),
            yahoo: YahooSettings::default(),
            rate_limit: RateSettings {
                per_second: 2.0,
                burst: 1,
            },
            retry: RetrySettings {
                max_attempts: 4,
                base: Duration::from_millis(200),
                cap: Duration::from_secs(5),
                budget: Duration::from_secs(30),
            },
            breaker: BreakerSettings::default(),
            cache_ttl: CacheTtlSettings::default(),
            concurrency: 32,
            replay: ReplaySettings::default(),
        }
    }
}

/// `[provider.yahoo]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct YahooSettings {
    /// The API's base URL (`FINSTAGE_YAHOO_BASE_URL`).
    pub base_url: String,
    /// The User-Agent header (Yahoo refuses non-browser ones).
    pub user_agent: String,
    /// Time allowed to open a connection.
    #[serde(with = "duration")]
    pub connect_timeout: Duration,
    /// Time allowed between two reads.
    #[serde(with = "duration")]
    pub read_timeout: Duration,
    /// Time allowed for a whole request.
    #[serde(with = "duration")]
    pub timeout: Duration,
}

impl Default for YahooSettings {
    fn default() -> Self {
        Self {
            base_url: finstage_marketdata::DEFAULT_BASE_URL.to_owned(),
            user_agent: finstage_marketdata::DEFAULT_USER_AGENT.to_owned(),
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(15),
        }
    }
}

/// `[provider.breaker]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerSettings {
    /// Consecutive upstream failures that open the circuit.
    pub failure_threshold: u32,
    /// How long it stays open before one probe.
    #[serde(with = "duration")]
    pub open_for: Duration,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            open_for: Duration::from_secs(30),
        }
    }
}

/// `[provider.cache_ttl]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheTtlSettings {
    /// Latest quotes.
    #[serde(with = "duration")]
    pub quote: Duration,
    /// Bar histories.
    #[serde(with = "duration")]
    pub history: Duration,
    /// 52-week and all-time highs.
    #[serde(with = "duration")]
    pub highs: Duration,
    /// Instrument metadata.
    #[serde(with = "duration")]
    pub metadata: Duration,
}

impl Default for CacheTtlSettings {
    fn default() -> Self {
        Self {
            quote: Duration::from_secs(45),
            history: Duration::from_secs(600),
            highs: Duration::from_secs(1_800),
            metadata: Duration::from_secs(86_400),
        }
    }
}

/// `[provider.replay]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReplaySettings {
    /// Playback speed (2 plays twice as fast).
    pub speed: f64,
    /// The seed of the intraday paths.
    pub seed: u64,
    /// Start over after the last bar.
    #[serde(rename = "loop")]
    pub looping: bool,
    /// Wall time between two ticks at speed 1.
    #[serde(with = "duration")]
    pub tick_interval: Duration,
    /// Ticks per daily bar (at least 4).
    pub ticks_per_bar: u32,
}

impl Default for ReplaySettings {
    fn default() -> Self {
        Self {
            speed: 1.0,
            seed: 0,
            looping: true,
            tick_interval: Duration::from_secs(1),
            ticks_per_bar: 78,
        }
    }
}

/// `[watchlist]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WatchlistSettings {
    /// The symbols (`FINSTAGE_WATCHLIST`: a comma-separated list, whose categories come from
    /// this list's entries in the file, or are inferred).
    #[serde(deserialize_with = "watch_entries")]
    pub symbols: Vec<WatchEntry>,
}

impl Default for WatchlistSettings {
    /// The bundled history's stocks (AAPL, MSFT, IBM: they answer at once, offline) and two
    /// indices (the S&P 500 and the NASDAQ Composite).
    fn default() -> Self {
        let entry = |symbol: &str, category: &str, name: &str| WatchEntry {
            symbol: symbol.to_owned(),
            category: Some(category.to_owned()),
            name: Some(name.to_owned()),
        };
        Self {
            symbols: vec![
                entry("AAPL", "stock", "Apple Inc."),
                entry("MSFT", "stock", "Microsoft Corporation"),
                entry("IBM", "stock", "International Business Machines"),
                entry("^GSPC", "index", "S&P 500"),
                entry("^IXIC", "index", "NASDAQ Composite"),
            ],
        }
    }
}

/// One symbol of the watchlist: `"AAPL"`, or `{ symbol = "SPY", category = "etf", name = "…" }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchEntry {
    /// The ticker.
    pub symbol: String,
    /// `index`, `future`, `stock`, `etf`, `fx` or `crypto` (inferred from the ticker when left
    /// out).
    #[serde(default)]
    pub category: Option<String>,
    /// A display name.
    #[serde(default)]
    pub name: Option<String>,
}

impl WatchEntry {
    /// An entry of `symbol` alone.
    pub fn symbol(symbol: impl Into<String>) -> Self {
        Self {
            symbol: symbol.into(),
            category: None,
            name: None,
        }
    }
}

/// A comma-separated string, a list of strings, or a list of entries.
fn watch_entries<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<WatchEntry>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Item {
        Symbol(String),
        Entry(WatchEntry),
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Items {
        Text(String),
        List(Vec<Item>),
    }
    Ok(match Items::deserialize(deserializer)? {
        Items::Text(text) => split_list(&text).map(WatchEntry::symbol).collect(),
        Items::List(items) => items
            .into_iter()
            .map(|item| match item {
                Item::Symbol(symbol) => WatchEntry::symbol(symbol),
                Item::Entry(entry) => entry,
            })
            .collect(),
    })
}

/// The non-empty, trimmed items of a comma-separated list.
pub(crate) fn split_list(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// `[alerts]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertSettings {
    /// How long an alert of one (symbol, kind) silences the next.
    pub dedupe: DedupePolicy,
    /// Signals of bars older than this are stored, never alerted (a backfill stays silent).
    #[serde(with = "duration")]
    pub max_signal_age: Duration,
}

impl Default for AlertSettings {
    fn default() -> Self {
        Self {
            dedupe: DedupePolicy::default(),
            max_signal_age: Duration::from_secs(4 * 86_400),
        }
    }
}

/// `[telegram]`: both the token and the chat, or neither (alerts are only logged then).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelegramSettings {
    /// The bot's token (`FINSTAGE_TELEGRAM_BOT_TOKEN`).
    #[serde(skip_serializing)]
    pub bot_token: Option<Secret<String>>,
    /// The chat alerts go to (`FINSTAGE_TELEGRAM_CHAT_ID`).
    pub chat_id: Option<String>,
    /// The Bot API's base URL (`FINSTAGE_TELEGRAM_API_URL`).
    pub api_url: String,
    /// Time allowed to open a connection.
    #[serde(with = "duration")]
    pub connect_timeout: Duration,
    /// Time allowed for one request.
    #[serde(with = "duration")]
    pub timeout: Duration,
    /// Messages to one chat.
    pub per_chat: RateSettings,
    /// Messages to all chats together.
    pub global: RateSettings,
    /// Retries of 429, 5xx, timeouts and connection failures.
    pub retry: RetrySettings,
}

impl Default for TelegramSettings {
    fn default() -> Self {
        Self {
            bot_token: None,
            chat_id: None,
            api_url: finstage_notify::DEFAULT_API_URL.to_owned(),
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
            per_chat: RateSettings {
                per_second: 1.0,
                burst: 1,
            },
            global: RateSettings {
                per_second: 30.0,
                burst: 1,
            },
            retry: RetrySettings {
                max_attempts: 5,
                base: Duration::from_millis(500),
                cap: Duration::from_secs(10),
                budget: Duration::from_secs(120),
            },
        }
    }
}

/// `[api]`: the HTTP and WebSocket server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiSettings {
    /// The bind address (`FINSTAGE_HTTP_ADDR`).
    pub http_addr: String,
    /// The bearer token of the admin endpoints (`FINSTAGE_ADMIN_TOKEN`; unset: they are off).
    #[serde(skip_serializing)]
    pub admin_token: Option<Secret<String>>,
    /// Cross-origin requests.
    pub cors: CorsSettings,
    /// Requests per client IP (`per_second = 0`: no limit).
    pub rate_limit: RateSettings,
    /// The largest JSON body accepted, in bytes.
    pub json_body_limit: usize,
    /// The most symbols one batch-quote request may name.
    pub max_batch_symbols: usize,
    /// The WebSocket stream.
    pub websocket: WebSocketSettings,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            http_addr: "127.0.0.1:8080".to_owned(),
            admin_token: None,
            cors: CorsSettings::default(),
            rate_limit: RateSettings {
                per_second: 100.0,
                burst: 200,
            },
            json_body_limit: 256 * 1024,
            max_batch_symbols: 100,
            websocket: WebSocketSettings::default(),
        }
    }
}

/// `[api.cors]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorsSettings {
    /// Origins allowed to call the API from a browser (`https://dash.example.com`, or `*`);
    /// empty: same-origin only. A comma-separated list in the environment.
    #[serde(deserialize_with = "string_list")]
    pub allowed_origins: Vec<String>,
}

/// A list of strings, or one comma-separated string.
fn string_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Items {
        Text(String),
        List(Vec<String>),
    }
    Ok(match Items::deserialize(deserializer)? {
        Items::Text(text) => split_list(&text).map(str::to_owned).collect(),
        Items::List(items) => items,
    })
}

/// `[api.websocket]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebSocketSettings {
    /// Channels one connection may subscribe to.
    pub max_channels: usize,
    /// The largest frame a client may send, in bytes.
    pub max_frame_bytes: usize,
    /// Events queued for one client before it is closed as too slow.
    pub send_queue: usize,
    /// How often the server pings.
    #[serde(with = "duration")]
    pub ping_interval: Duration,
    /// A client silent this long is closed (at most 60 s).
    #[serde(with = "duration")]
    pub client_timeout: Duration,
}

impl Default for WebSocketSettings {
    fn default() -> Self {
        Self {
            max_channels: 100,
            max_frame_bytes: 64 * 1024,
            send_queue: 1_024,
            ping_interval: Duration::from_secs(20),
            client_timeout: Duration::from_secs(45),
        }
    }
}

/// `[scheduler]`: the periodic jobs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulerSettings {
    /// The scheduler's `/metrics` and health address (`FINSTAGE_METRICS_ADDR`).
    pub metrics_addr: String,
    /// `finstage-api` also runs the jobs (`FINSTAGE_EMBEDDED_JOBS`).
    pub embedded_jobs: bool,
    /// How often live quotes are polled.
    #[serde(with = "duration")]
    pub quote_poll_interval: Duration,
    /// The daily update of each market, after its close.
    pub daily_update: BTreeMap<String, DailyAt>,
    /// The daily report.
    pub daily_report: DailyAt,
    /// How long data is kept.
    pub retention: RetentionSettings,
    /// Symbols processed at once by a job.
    pub concurrency: usize,
    /// Replayed time: the jobs' clock starts at this RFC 3339 instant instead of now
    /// (unset: the system clock).
    pub clock_start: Option<String>,
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        let new_york = |at: &str| DailyAt {
            at: at.to_owned(),
            time_zone: "America/New_York".to_owned(),
        };
        Self {
            metrics_addr: "127.0.0.1:9090".to_owned(),
            embedded_jobs: true,
            quote_poll_interval: Duration::from_secs(60),
            daily_update: BTreeMap::from([("us".to_owned(), new_york("16:30"))]),
            daily_report: new_york("17:30"),
            retention: RetentionSettings::default(),
            concurrency: 8,
            clock_start: None,
        }
    }
}

/// A time of day in a time zone.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DailyAt {
    /// `HH:MM`, 24-hour clock.
    pub at: String,
    /// `UTC`, an offset such as `+09:00`, or an IANA name such as `America/New_York`.
    pub time_zone: String,
}

/// `[scheduler.retention]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionSettings {
    /// Intraday bars (daily bars are kept for good).
    #[serde(with = "duration")]
    pub intraday_bars: Duration,
    /// Notification, slow-query and job logs.
    #[serde(with = "duration")]
    pub logs: Duration,
    /// Finished tasks of the queue.
    #[serde(with = "duration")]
    pub finished_tasks: Duration,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            intraday_bars: Duration::from_secs(60 * 86_400),
            logs: Duration::from_secs(90 * 86_400),
            finished_tasks: Duration::from_secs(7 * 86_400),
        }
    }
}

/// `[log]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// The tracing filter (`FINSTAGE_LOG`; empty: `info`).
    pub filter: String,
    /// `text` or `json` (`FINSTAGE_LOG_FORMAT`).
    pub format: String,
    /// Colours in the text format.
    pub ansi: bool,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            filter: "info".to_owned(),
            format: "text".to_owned(),
            ansi: false,
        }
    }
}
