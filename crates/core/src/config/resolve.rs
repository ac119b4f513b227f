//! [`Config`]: the settings checked and typed, the library crates' configuration structs built —
//! what the binaries start from. [`Settings::resolve`] names the first bad key.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveTime, Utc};
use finstage_analysis::{DedupePolicy, RulesConfig};
use finstage_cache::{MemoryConfig, RedisConfig, RedisUrl, default_shards};
use finstage_domain::{Category, Symbol};
use finstage_marketdata::{
    BreakerConfig, CacheTtls, RateLimit, ReplayConfig, ResilienceConfig, RetryPolicy, YahooConfig,
};
use finstage_monitoring::{LogConfig, LogFormat, Secret};
use finstage_notify::TelegramConfig;
use finstage_store::{DatabaseUrl, PoolConfig, StoreConfig};

use super::settings::{DailyAt, RateSettings, RetrySettings, Settings};
use super::{named_error, quote};
use crate::CoreError;

/// The longest a WebSocket client may stay silent before it is closed.
pub const MAX_CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

/// The shortest admin token accepted.
pub const MIN_ADMIN_TOKEN_LEN: usize = 16;

/// The configuration both binaries start from: every value checked, typed and secret-safe in
/// `Debug`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The database (its password only in [`DatabaseUrl::expose_secret`]).
    pub store: StoreConfig,
    /// The in-memory cache (used when `redis` is `None`).
    pub memory_cache: MemoryConfig,
    /// Redis for the cache and the event bus, when `cache.redis_url` is set.
    pub redis: Option<RedisConfig>,
    /// The provider and the resilience around it.
    pub provider: ProviderConfig,
    /// The symbols followed, in the configured order, each once.
    pub watchlist: Vec<WatchedSymbol>,
    /// The signal rules (validated).
    pub rules: RulesConfig,
    /// Which signals become alerts.
    pub alerts: AlertsConfig,
    /// Telegram, when both the token and the chat are set (alerts are only logged otherwise).
    pub telegram: Option<TelegramConfig>,
    /// The HTTP and WebSocket server.
    pub api: ApiConfig,
    /// The periodic jobs.
    pub scheduler: SchedulerConfig,
    /// Logging.
    pub log: LogConfig,
}

impl Config {
    /// Loads and resolves `sources` ([`Settings::load`], then [`Settings::resolve`]).
    ///
    /// # Errors
    /// [`CoreError::Config`] naming the first bad key.
    pub fn load(sources: &super::ConfigSources) -> Result<Self, CoreError> {
        Settings::load(sources)?.resolve()
    }

    /// The watchlist as (symbol, category) pairs.
    pub fn symbols(&self) -> impl Iterator<Item = (Symbol, Category)> + '_ {
        self.watchlist.iter().map(|w| (w.symbol, w.category))
    }
}

/// One symbol of the watchlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedSymbol {
    /// The ticker.
    pub symbol: Symbol,
    /// Its category: as configured, else [`Category::infer`].
    pub category: Category,
    /// A display name, if configured.
    pub name: Option<String>,
}

/// Which provider serves prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// Yahoo Finance's v8 chart API.
    Yahoo,
    /// Stored or bundled daily bars played back as live quotes.
    Replay,
}

impl ProviderKind {
    /// `yahoo` or `replay`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Yahoo => "yahoo",
            Self::Replay => "replay",
        }
    }
}

/// The provider's configuration.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// Which provider.
    pub kind: ProviderKind,
    /// The Yahoo client (when `kind` is Yahoo).
    pub yahoo: YahooConfig,
    /// Retries, rate limit, breaker, cache lifetimes and batch concurrency (`Resilient`).
    pub resilience: ResilienceConfig,
    /// The replay (when `kind` is Replay).
    pub replay: ReplayConfig,
}

/// Which signals become alerts.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertsConfig {
    /// The dedupe windows.
    pub dedupe: DedupePolicy,
    /// Signals of bars older than this are not alerted.
    pub max_signal_age: Duration,
}

/// The HTTP and WebSocket server.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Where it listens.
    pub http_addr: SocketAddr,
    /// The admin endpoints' bearer token; `None`: the endpoints are disabled.
    pub admin_token: Option<Secret<String>>,
    /// Cross-origin requests.
    pub cors: CorsOrigins,
    /// The limit per client IP; `None`: no limit.
    pub rate_limit: Option<ClientRateLimit>,
    /// The largest JSON body, in bytes.
    pub json_body_limit: usize,
    /// The most symbols in one batch-quote request.
    pub max_batch_symbols: usize,
    /// The WebSocket stream.
    pub websocket: WebSocketConfig,
}

/// Which origins may call the API from a browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    /// No cross-origin request (the default).
    SameOrigin,
    /// Any origin (`*`).
    Any,
    /// These origins (`scheme://host[:port]`, lower-cased).
    List(Vec<String>),
}

/// A token bucket per client IP.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClientRateLimit {
    /// Sustained requests per second.
    pub per_second: f64,
    /// Requests at once after a quiet spell.
    pub burst: u32,
}

/// The WebSocket stream's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebSocketConfig {
    /// Channels per connection.
    pub max_channels: usize,
    /// The largest client frame, in bytes.
    pub max_frame_bytes: usize,
    /// Events queued per client before it is closed as too slow.
    pub send_queue: usize,
    /// How often the server pings.
    pub ping_interval: Duration,
    /// A client silent this long is closed (≤ [`MAX_CLIENT_TIMEOUT`], > `ping_interval`).
    pub client_timeout: Duration,
}

/// The periodic jobs.
#[derive(Debug, Clone, PartialEq)]
pub struct SchedulerConfig {
    /// The scheduler's `/metrics` and health address.
    pub metrics_addr: SocketAddr,
    /// `finstage-api` also runs the jobs.
    pub embedded_jobs: bool,
    /// How often live quotes are polled.
    pub quote_poll_interval: Duration,
    /// Each market's daily update.
    pub daily_update: BTreeMap<String, DailyTime>,
    /// The daily report.
    pub daily_report: DailyTime,
    /// How long data is kept.
    pub retention: Retention,
    /// Symbols a job processes at once.
    pub concurrency: usize,
    /// Replayed time: where the jobs' clock starts (`None`: the system clock).
    pub clock_start: Option<DateTime<Utc>>,
}

/// A time of day in a time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyTime {
    /// The time of day.
    pub at: NaiveTime,
    /// Its zone.
    pub time_zone: TimeZoneSpec,
}

/// A time zone as configured. Names are checked for shape only (no time zone database is linked
/// here); the scheduler resolves them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeZoneSpec {
    /// `UTC`.
    Utc,
    /// A fixed offset (`+09:00`).
    Fixed(FixedOffset),
    /// An IANA name (`America/New_York`).
    Named(String),
}

/// How long data is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Intraday bars.
    pub intraday_bars: Duration,
    /// Notification, slow-query and job logs.
    pub logs: Duration,
    /// Finished tasks.
    pub finished_tasks: Duration,
}

/// Builds errors that name the key and the variables that set it.
struct Check<'a> {
    origins: &'a BTreeMap<String, String>,
}

impl Check<'_> {
    fn err(&self, key: &str, reason: impl AsRef<str>) -> CoreError {
        named_error(key, reason.as_ref(), self.origins)
    }

    fn positive(&self, key: &str, value: Duration) -> Result<Duration, CoreError> {
        if value.is_zero() {
            return Err(self.err(key, "must be longer than 0s"));
        }
        Ok(value)
    }

    fn at_least<T: PartialOrd + Copy + std::fmt::Display>(&self, key: &str, value: T, min: T) -> Result<T, CoreError> {
        if value < min {
            return Err(self.err(key, format!("must be at least {min}, not {value}")));
        }
        Ok(value)
    }

    fn rate(&self, prefix: &str, rate: RateSettings) -> Result<(f64, u32), CoreError> {
        if !(rate.per_second.is_finite() && rate.per_second > 0.0) {
            return Err(self.err(
                &format!("{prefix}.per_second"),
                format!("must be a positive number, not {}", rate.per_second),
            ));
        }
        self.at_least(&format!("{prefix}.burst"), rate.burst, 1)?;
        Ok((rate.per_second, rate.burst))
    }

    fn retry(&self, prefix: &str, retry: RetrySettings) -> Result<RetrySettings, CoreError> {
        self.at_least(&format!("{prefix}.max_attempts"), retry.max_attempts, 1)?;
        if retry.cap < retry.base {
            return Err(self.err(&format!("{prefix}.cap"), "must not be below retry.base"));
        }
        self.positive(&format!("{prefix}.budget"), retry.budget)?;
        Ok(retry)
    }

    fn addr(&self, key: &str, value: &str) -> Result<SocketAddr, CoreError> {
        SocketAddr::from_str(value.trim()).map_err(|_| {
            self.err(
                key,
                format!(
                    "invalid socket address {} (expected IP:PORT, such as 127.0.0.1:8080)",
                    quote(value)
                ),
            )
        })
    }

    /// An `http://` or `https://` URL with a host (the value is quoted in errors: not for URLs
    /// that may hold credentials).
    fn http_url(&self, key: &str, value: &str) -> Result<String, CoreError> {
        let value = value.trim();
        let bad = |why: &str| self.err(key, format!("invalid URL {}: {why}", quote(value)));
        let rest = value
            .strip_prefix("https://")
            .or_else(|| value.strip_prefix("http://"))
            .ok_or_else(|| bad("expected http:// or https://"))?;
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.is_empty() || authority.contains('@') {
            return Err(bad("expected a host (and no credentials)"));
        }
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("contains whitespace"));
        }
        if let Some((_, port)) = authority.rsplit_once(':')
            && !authority.ends_with(']')
            && port.parse::<u16>().is_err()
        {
            return Err(bad("invalid port"));
        }
        Ok(value.to_owned())
    }

    fn daily(&self, prefix: &str, daily: &DailyAt) -> Result<DailyTime, CoreError> {
        let at = NaiveTime::parse_from_str(daily.at.trim(), "%H:%M").map_err(|_| {
            self.err(
                &format!("{prefix}.at"),
                format!("expected HH:MM, not {}", quote(&daily.at)),
            )
        })?;
        let time_zone = time_zone(daily.time_zone.trim()).ok_or_else(|| {
            self.err(
                &format!("{prefix}.time_zone"),
                format!(
                    "expected UTC, an offset such as +09:00 or an IANA name such as America/New_York, not {}",
                    quote(&daily.time_zone)
                ),
            )
        })?;
        Ok(DailyTime { at, time_zone })
    }
}

/// `UTC`, `±HH:MM` or `Area/Location`.
fn time_zone(text: &str) -> Option<TimeZoneSpec> {
    if text.eq_ignore_ascii_case("utc") || text == "Z" {
        return Some(TimeZoneSpec::Utc);
    }
    if let Some(sign) = text.chars().next().filter(|c| *c == '+' || *c == '-') {
        let (hours, minutes) = text.get(1..)?.split_once(':')?;
        if hours.len() != 2 || minutes.len() != 2 {
            return None;
        }
        let (hours, minutes): (i32, i32) = (hours.parse().ok()?, minutes.parse().ok()?);
        if hours > 14 || minutes > 59 {
            return None;
        }
        let seconds = (hours * 3600 + minutes * 60) * if sign == '-' { -1 } else { 1 };
        return FixedOffset::east_opt(seconds).map(TimeZoneSpec::Fixed);
    }
    let named = text.len() <= 64
        && text.contains('/')
        && text.split('/').all(|part| {
            part.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'))
        });
    named.then(|| TimeZoneSpec::Named(text.to_owned()))
}

/// `Some(value)` unless it is absent or blank.
fn present(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

impl Settings {
    /// Checks every value and builds the typed [`Config`].
    ///
    /// # Errors
    /// [`CoreError::Config`] naming the first bad key (and the variable that set it): a bad URL
    /// or address, an unknown provider, a bad or repeated symbol, a Telegram token without a
    /// chat (or the reverse), a WebSocket client timeout over 60 s, rules that
    /// `RulesConfig::validate` refuses, a zero where something must happen, …
    pub fn resolve(&self) -> Result<Config, CoreError> {
        let check = Check { origins: &self.origins };
        Ok(Config {
            store: self.resolve_store(&check)?,
            memory_cache: self.resolve_memory(&check)?,
            redis: self.resolve_redis(&check)?,
            provider: self.resolve_provider(&check)?,
            watchlist: self.resolve_watchlist(&check)?,
            rules: {
                self.rules.validate("rules").map_err(|e| analysis_error(&check, e))?;
                self.rules.clone()
            },
            alerts: {
                self.alerts
                    .dedupe
                    .validate("alerts.dedupe")
                    .map_err(|e| analysis_error(&check, e))?;
                AlertsConfig {
                    dedupe: self.alerts.dedupe.clone(),
                    max_signal_age: check.positive("alerts.max_signal_age", self.alerts.max_signal_age)?,
                }
            },
            telegram: self.resolve_telegram(&check)?,
            api: self.resolve_api(&check)?,
            scheduler: self.resolve_scheduler(&check)?,
            log: self.resolve_log(&check)?,
        })
    }

    fn resolve_store(&self, check: &Check<'_>) -> Result<StoreConfig, CoreError> {
        let s = &self.store;
        let key = "store.database_url";
        let url: DatabaseUrl = s.database_url.expose_secret().trim().parse().map_err(|e| match e {
            // Its messages never carry the password.
            finstage_store::StoreError::Config(message) => check.err(key, message),
            other => check.err(key, other.to_string()),
        })?;
        let max_size = check.at_least("store.pool.max_size", s.pool.max_size, 1)?;
        if s.pool.min_idle > max_size {
            return Err(check.err(
                "store.pool.min_idle",
                format!(
                    "must not exceed store.pool.max_size ({max_size}), not {}",
                    s.pool.min_idle
                ),
            ));
        }
        let mut config = StoreConfig::new(url);
        config.pool = PoolConfig {
            max_size,
            min_idle: s.pool.min_idle,
            acquire_timeout: check.positive("store.pool.acquire_timeout", s.pool.acquire_timeout)?,
            connect_timeout: check.positive("store.pool.connect_timeout", s.pool.connect_timeout)?,
            max_lifetime: (!s.pool.max_lifetime.is_zero()).then_some(s.pool.max_lifetime),
            verify_on_checkout: s.pool.verify_on_checkout,
        };
        config.slow_query_threshold = s.slow_query_threshold;
        config.bulk_chunk_size = check.at_least("store.bulk_chunk_size", s.bulk_chunk_size, 1)?;
        config.sqlite_busy_timeout = s.sqlite_busy_timeout;
        Ok(config)
    }

    fn resolve_memory(&self, check: &Check<'_>) -> Result<MemoryConfig, CoreError> {
        let m = &self.cache.memory;
        Ok(MemoryConfig {
            max_entries: check.at_least("cache.memory.max_entries", m.max_entries, 1)?,
            max_bytes: check.at_least("cache.memory.max_bytes", m.max_bytes, 1)?,
            shards: if m.shards == 0 { default_shards() } else { m.shards },
        })
    }

    fn resolve_redis(&self, check: &Check<'_>) -> Result<Option<RedisConfig>, CoreError> {
        let Some(raw) = present(self.cache.redis_url.as_ref().map(|s| s.expose_secret().as_str())) else {
            return Ok(None);
        };
        let key = "cache.redis_url";
        let url: RedisUrl = raw.parse().map_err(|e| match e {
            // Its messages never carry the password.
            finstage_cache::CacheError::Config(message) => check.err(key, message),
            other => check.err(key, other.to_string()),
        })?;
        let r = &self.cache.redis;
        let namespace = r.namespace.trim();
        if namespace.is_empty() || namespace.contains(':') || namespace.chars().any(char::is_whitespace) {
            return Err(check.err(
                "cache.redis.namespace",
                format!(
                    "must be non-empty, without ':' or whitespace, not {}",
                    quote(&r.namespace)
                ),
            ));
        }
        Ok(Some(RedisConfig {
            url,
            namespace: namespace.to_owned(),
            connect_timeout: check.positive("cache.redis.connect_timeout", r.connect_timeout)?,
            response_timeout: check.positive("cache.redis.response_timeout", r.response_timeout)?,
        }))
    }

    fn resolve_provider(&self, check: &Check<'_>) -> Result<ProviderConfig, CoreError> {
        let p = &self.provider;
        let kind = match p.kind.trim().to_ascii_lowercase().as_str() {
            "yahoo" => ProviderKind::Yahoo,
            "replay" => ProviderKind::Replay,
            _ => {
                return Err(check.err(
                    "provider.kind",
                    format!("unknown provider {} (yahoo or replay)", quote(&p.kind)),
                ));
            }
        };
        let y = &p.yahoo;
        if y.user_agent.trim().is_empty() {
            return Err(check.err("provider.yahoo.user_agent", "must not be empty"));
        }
        let yahoo = YahooConfig {
            base_url: check.http_url("provider.yahoo.base_url", &y.base_url)?,
            user_agent: y.user_agent.trim().to_owned(),
            connect_timeout: check.positive("provider.yahoo.connect_timeout", y.connect_timeout)?,
            read_timeout: check.positive("provider.yahoo.read_timeout", y.read_timeout)?,
            timeout: check.positive("provider.yahoo.timeout", y.timeout)?,
            ..YahooConfig::default()
        };
        let (per_second, burst) = check.rate("provider.rate_limit", p.rate_limit)?;
        let retry = check.retry("provider.retry", p.retry)?;
        let resilience = ResilienceConfig {
            retry: RetryPolicy {
                max_attempts: retry.max_attempts,
                base: retry.base,
                cap: retry.cap,
                budget: retry.budget,
            },
            rate_limit: Some(RateLimit { per_second, burst }),
            breaker: BreakerConfig {
                failure_threshold: check.at_least(
                    "provider.breaker.failure_threshold",
                    p.breaker.failure_threshold,
                    1,
                )?,
                open_for: check.positive("provider.breaker.open_for", p.breaker.open_for)?,
            },
            ttl: CacheTtls {
                quote: p.cache_ttl.quote,
                history: p.cache_ttl.history,
                highs: p.cache_ttl.highs,
                metadata: p.cache_ttl.metadata,
            },
            batch_concurrency: check.at_least("provider.concurrency", p.concurrency, 1)?,
        };
        let r = &p.replay;
        if !(r.speed.is_finite() && r.speed > 0.0) {
            return Err(check.err(
                "provider.replay.speed",
                format!("must be a positive number, not {}", r.speed),
            ));
        }
        let replay = ReplayConfig {
            tick_interval: check.positive("provider.replay.tick_interval", r.tick_interval)?,
            speed: r.speed,
            ticks_per_bar: check.at_least("provider.replay.ticks_per_bar", r.ticks_per_bar, 4)?,
            seed: r.seed,
            looping: r.looping,
        };
        Ok(ProviderConfig {
            kind,
            yahoo,
            resilience,
            replay,
        })
    }

    fn resolve_watchlist(&self, check: &Check<'_>) -> Result<Vec<WatchedSymbol>, CoreError> {
        let mut seen: BTreeMap<Symbol, usize> = BTreeMap::new();
        let mut out = Vec::with_capacity(self.watchlist.symbols.len());
        for (i, entry) in self.watchlist.symbols.iter().enumerate() {
            let key = format!("watchlist.symbols[{i}]");
            let symbol = Symbol::parse(entry.symbol.trim())
                .map_err(|e| check.err(&key, format!("invalid symbol {}: {e}", quote(&entry.symbol))))?;
            if let Some(first) = seen.insert(symbol, i) {
                return Err(check.err(
                    &key,
                    format!("{symbol} is listed twice (also watchlist.symbols[{first}])"),
                ));
            }
            let category = match present(entry.category.as_deref()) {
                Some(text) => Category::from_str(text).map_err(|_| {
                    check.err(
                        &format!("{key}.category"),
                        format!(
                            "unknown category {} (index, future, stock, etf, fx or crypto)",
                            quote(text)
                        ),
                    )
                })?,
                None => Category::infer(&symbol),
            };
            let name = present(entry.name.as_deref()).map(str::to_owned);
            if name.as_ref().is_some_and(|n| n.chars().count() > 200) {
                return Err(check.err(&format!("{key}.name"), "must be at most 200 characters"));
            }
            out.push(WatchedSymbol { symbol, category, name });
        }
        Ok(out)
    }

    fn resolve_telegram(&self, check: &Check<'_>) -> Result<Option<TelegramConfig>, CoreError> {
        let t = &self.telegram;
        let token = present(t.bot_token.as_ref().map(|s| s.expose_secret().as_str()));
        let chat = present(t.chat_id.as_deref());
        // Checked whether Telegram is on or not, so that switching it on cannot fail later.
        let api_url = check.http_url("telegram.api_url", &t.api_url)?;
        let connect_timeout = check.positive("telegram.connect_timeout", t.connect_timeout)?;
        let timeout = check.positive("telegram.timeout", t.timeout)?;
        let per_chat = check.rate("telegram.per_chat", t.per_chat)?;
        let global = check.rate("telegram.global", t.global)?;
        let retry = check.retry("telegram.retry", t.retry)?;
        let (token, chat) = match (token, chat) {
            (None, None) => return Ok(None),
            (Some(_), None) => {
                return Err(check.err(
                    "telegram.chat_id",
                    "required when telegram.bot_token is set (FINSTAGE_TELEGRAM_CHAT_ID)",
                ));
            }
            (None, Some(_)) => {
                return Err(check.err(
                    "telegram.bot_token",
                    "required when telegram.chat_id is set (FINSTAGE_TELEGRAM_BOT_TOKEN)",
                ));
            }
            (Some(token), Some(chat)) => (token, chat),
        };
        if token
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '/' | '?' | '#' | '%'))
        {
            // The token goes into the request path; the message never quotes it.
            return Err(check.err(
                "telegram.bot_token",
                "must not contain whitespace, '/', '?', '#' or '%'",
            ));
        }
        let numeric = chat.strip_prefix('-').unwrap_or(chat);
        let chat_ok = (!numeric.is_empty() && numeric.bytes().all(|b| b.is_ascii_digit()))
            || chat
                .strip_prefix('@')
                .is_some_and(|name| !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
        if !chat_ok {
            return Err(check.err(
                "telegram.chat_id",
                format!("expected a numeric chat id or @channelname, not {}", quote(chat)),
            ));
        }
        let mut config = TelegramConfig::new(Secret::new(token.to_owned()), chat);
        config.api_url = api_url;
        config.connect_timeout = connect_timeout;
        config.timeout = timeout;
        config.rate_limits = finstage_notify::RateLimits {
            per_chat: finstage_notify::RateLimit {
                per_second: per_chat.0,
                burst: per_chat.1,
            },
            global: finstage_notify::RateLimit {
                per_second: global.0,
                burst: global.1,
            },
        };
        config.retry = finstage_notify::RetryPolicy {
            max_attempts: retry.max_attempts,
            base: retry.base,
            cap: retry.cap,
            budget: retry.budget,
        };
        Ok(Some(config))
    }

    fn resolve_api(&self, check: &Check<'_>) -> Result<ApiConfig, CoreError> {
        let a = &self.api;
        let http_addr = check.addr("api.http_addr", &a.http_addr)?;
        let admin_token = match present(a.admin_token.as_ref().map(|s| s.expose_secret().as_str())) {
            None => None,
            Some(token) => {
                if token.chars().count() < MIN_ADMIN_TOKEN_LEN {
                    return Err(check.err(
                        "api.admin_token",
                        format!("must be at least {MIN_ADMIN_TOKEN_LEN} characters"),
                    ));
                }
                if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err(check.err("api.admin_token", "must not contain whitespace"));
                }
                Some(Secret::new(token.to_owned()))
            }
        };
        let cors = self.resolve_cors(check)?;
        let rate_limit = if a.rate_limit.per_second == 0.0 {
            None
        } else {
            let (per_second, burst) = check.rate("api.rate_limit", a.rate_limit)?;
            Some(ClientRateLimit { per_second, burst })
        };
        let w = &a.websocket;
        let ping_interval = check.positive("api.websocket.ping_interval", w.ping_interval)?;
        let client_timeout = check.positive("api.websocket.client_timeout", w.client_timeout)?;
        if client_timeout > MAX_CLIENT_TIMEOUT {
            return Err(check.err(
                "api.websocket.client_timeout",
                format!(
                    "must be at most 60s (dead clients are closed within a minute), not {}",
                    super::duration::format(client_timeout)
                ),
            ));
        }
        if ping_interval >= client_timeout {
            return Err(check.err(
                "api.websocket.ping_interval",
                format!(
                    "must be shorter than api.websocket.client_timeout ({})",
                    super::duration::format(client_timeout)
                ),
            ));
        }
        Ok(ApiConfig {
            http_addr,
            admin_token,
            cors,
            rate_limit,
            json_body_limit: check.at_least("api.json_body_limit", a.json_body_limit, 1)?,
            max_batch_symbols: check.at_least("api.max_batch_symbols", a.max_batch_symbols, 1)?,
            websocket: WebSocketConfig {
                max_channels: check.at_least("api.websocket.max_channels", w.max_channels, 1)?,
                max_frame_bytes: check.at_least("api.websocket.max_frame_bytes", w.max_frame_bytes, 256)?,
                send_queue: check.at_least("api.websocket.send_queue", w.send_queue, 1)?,
                ping_interval,
                client_timeout,
            },
        })
    }

    fn resolve_cors(&self, check: &Check<'_>) -> Result<CorsOrigins, CoreError> {
        let origins = &self.api.cors.allowed_origins;
        if origins.is_empty() {
            return Ok(CorsOrigins::SameOrigin);
        }
        if origins.iter().any(|o| o.trim() == "*") {
            return if origins.len() == 1 {
                Ok(CorsOrigins::Any)
            } else {
                Err(check.err("api.cors.allowed_origins", "`*` stands alone"))
            };
        }
        let mut list = Vec::with_capacity(origins.len());
        for (i, origin) in origins.iter().enumerate() {
            let key = format!("api.cors.allowed_origins[{i}]");
            let url = check.http_url(&key, origin)?;
            let (_, rest) = url.split_once("://").unwrap_or(("", &url));
            if rest.contains(['/', '?', '#']) {
                return Err(check.err(
                    &key,
                    format!("an origin is scheme://host[:port], without a path: {}", quote(origin)),
                ));
            }
            list.push(url.to_ascii_lowercase());
        }
        Ok(CorsOrigins::List(list))
    }

    fn resolve_scheduler(&self, check: &Check<'_>) -> Result<SchedulerConfig, CoreError> {
        let s = &self.scheduler;
        let mut daily_update = BTreeMap::new();
        for (market, daily) in &s.daily_update {
            let key = format!("scheduler.daily_update.{market}");
            if market.is_empty() || !market.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(check.err(&key, "a market's name is letters, digits and '_'"));
            }
            daily_update.insert(market.clone(), check.daily(&key, daily)?);
        }
        let poll = s.quote_poll_interval;
        if poll < Duration::from_secs(1) {
            return Err(check.err("scheduler.quote_poll_interval", "must be at least 1s"));
        }
        let clock_start = match &s.clock_start {
            None => None,
            Some(text) => Some(
                DateTime::parse_from_rfc3339(text.trim())
                    .map_err(|_| {
                        check.err(
                            "scheduler.clock_start",
                            format!(
                                "expected an RFC 3339 time such as 2026-03-06T22:00:00Z, not {}",
                                quote(text)
                            ),
                        )
                    })?
                    .to_utc(),
            ),
        };
        Ok(SchedulerConfig {
            metrics_addr: check.addr("scheduler.metrics_addr", &s.metrics_addr)?,
            embedded_jobs: s.embedded_jobs,
            quote_poll_interval: poll,
            daily_update,
            daily_report: check.daily("scheduler.daily_report", &s.daily_report)?,
            retention: Retention {
                intraday_bars: check.positive("scheduler.retention.intraday_bars", s.retention.intraday_bars)?,
                logs: check.positive("scheduler.retention.logs", s.retention.logs)?,
                finished_tasks: check.positive("scheduler.retention.finished_tasks", s.retention.finished_tasks)?,
            },
            concurrency: check.at_least("scheduler.concurrency", s.concurrency, 1)?,
            clock_start,
        })
    }

    fn resolve_log(&self, check: &Check<'_>) -> Result<LogConfig, CoreError> {
        let format = LogFormat::from_str(&self.log.format).map_err(|_| {
            check.err(
                "log.format",
                format!("expected text or json, not {}", quote(&self.log.format)),
            )
        })?;
        let config = LogConfig {
            filter: self.log.filter.clone(),
            format,
            ansi: self.log.ansi,
        };
        config.validate().map_err(|e| check.err("log.filter", e.to_string()))?;
        Ok(config)
    }
}

fn analysis_error(check: &Check<'_>, error: finstage_analysis::AnalysisError) -> CoreError {
    match error {
        finstage_analysis::AnalysisError::InvalidConfig { key, message } => check.err(&key, message),
        other => check.err("rules", other.to_string()),
    }
}
