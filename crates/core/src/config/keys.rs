//! The key catalogue: every key of the configuration with its default, its environment variable
//! and its meaning. `docs/OPERATIONS.md`'s "Configuration" table is this list (tested).

/// One key of the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyDef {
    /// The dotted key, as in `finstage.toml` (`api.http_addr`). `<SYMBOL>`, `<kind>` and
    /// `<market>` stand for a map's keys.
    pub key: &'static str,
    /// The default, as written in the file (`unset` for an optional key without one, `—` for a
    /// map entry, which has none).
    pub default: &'static str,
    /// What it does.
    pub meaning: &'static str,
}

impl KeyDef {
    /// The environment variable that sets the key: one of the fixed names of
    /// [`ALIASES`] (`FINSTAGE_HTTP_ADDR`), else `FINSTAGE_` and the key's parts upper-cased and
    /// joined by `__` (`FINSTAGE_API__RATE_LIMIT__PER_SECOND`).
    pub fn variable(&self) -> String {
        variable_of(self.key)
    }
}

/// The variable of a dotted key (see [`KeyDef::variable`]).
pub fn variable_of(key: &str) -> String {
    if let Some((variable, _)) = ALIASES.iter().find(|(_, k)| *k == key) {
        return (*variable).to_owned();
    }
    let parts: Vec<String> = key
        .split('.')
        .map(|part| {
            if part.starts_with('<') {
                part.to_owned()
            } else {
                part.to_ascii_uppercase()
            }
        })
        .collect();
    format!("{ENV_PREFIX}{}", parts.join("__"))
}

/// Every variable name starts with this.
pub const ENV_PREFIX: &str = "FINSTAGE_";

/// The variable naming the configuration file (not a key).
pub const CONFIG_FILE_VARIABLE: &str = "FINSTAGE_CONFIG";

/// The fixed variable names (operators and scripts depend on them) and the keys they set. The
/// generic form (`FINSTAGE_API__HTTP_ADDR`) is accepted for these keys too.
pub const ALIASES: &[(&str, &str)] = &[
    ("FINSTAGE_DATABASE_URL", "store.database_url"),
    ("FINSTAGE_REDIS_URL", "cache.redis_url"),
    ("FINSTAGE_HTTP_ADDR", "api.http_addr"),
    ("FINSTAGE_METRICS_ADDR", "scheduler.metrics_addr"),
    ("FINSTAGE_PROVIDER", "provider.kind"),
    ("FINSTAGE_YAHOO_BASE_URL", "provider.yahoo.base_url"),
    ("FINSTAGE_WATCHLIST", "watchlist.symbols"),
    ("FINSTAGE_EMBEDDED_JOBS", "scheduler.embedded_jobs"),
    ("FINSTAGE_ADMIN_TOKEN", "api.admin_token"),
    ("FINSTAGE_TELEGRAM_BOT_TOKEN", "telegram.bot_token"),
    ("FINSTAGE_TELEGRAM_CHAT_ID", "telegram.chat_id"),
    ("FINSTAGE_TELEGRAM_API_URL", "telegram.api_url"),
    ("FINSTAGE_LOG", "log.filter"),
    ("FINSTAGE_LOG_FORMAT", "log.format"),
];

/// Keys whose value is a list: in a variable, a comma-separated list (`AAPL,MSFT`) or a TOML
/// array (`[[50, 200], [20, 60]]`).
pub const LIST_KEYS: &[&str] = &[
    "watchlist.symbols",
    "api.cors.allowed_origins",
    "rules.moving_average.periods",
    "rules.cross.pairs",
];

const fn key(key: &'static str, default: &'static str, meaning: &'static str) -> KeyDef {
    KeyDef { key, default, meaning }
}

/// Every key, section by section.
#[rustfmt::skip]
pub const KEYS: &[KeyDef] = &[
    // store
    key("store.database_url", "sqlite://var/finstage.db", "`sqlite://PATH`, `postgres://…` or `mysql://…`; its password never prints"),
    key("store.pool.max_size", "16", "most connections open at once"),
    key("store.pool.min_idle", "1", "connections opened at start and kept"),
    key("store.pool.acquire_timeout", "5s", "how long a checkout waits for a free connection"),
    key("store.pool.connect_timeout", "5s", "how long opening a connection may take"),
    key("store.pool.max_lifetime", "30m", "connections older than this are replaced (`0s`: never)"),
    key("store.pool.verify_on_checkout", "true", "a check query on every checkout"),
    key("store.slow_query_threshold", "200ms", "statements slower than this are logged and counted"),
    key("store.bulk_chunk_size", "1000", "rows per statement in bulk upserts"),
    key("store.sqlite_busy_timeout", "5s", "how long a SQLite writer waits for the lock"),
    // cache
    key("cache.redis_url", "unset", "`redis://…`: Redis cache and pub/sub; unset: memory cache, in-process bus"),
    key("cache.memory.max_entries", "100000", "most entries in the memory cache"),
    key("cache.memory.max_bytes", "67108864", "most approximate bytes in the memory cache"),
    key("cache.memory.shards", "0", "locked shards of the memory cache (`0`: four per core, 4 to 64)"),
    key("cache.redis.namespace", "finstage", "first part of every Redis key"),
    key("cache.redis.connect_timeout", "1s", "longest wait for one Redis connection attempt"),
    key("cache.redis.response_timeout", "500ms", "longest wait for one Redis call, reconnecting included"),
    // provider
    key("provider.kind", "yahoo", "`yahoo` or `replay`"),
    key("provider.yahoo.base_url", "https://query1.finance.yahoo.com", "Yahoo API base URL (tests point it at the mock)"),
    key("provider.yahoo.user_agent", "(a desktop browser's)", "User-Agent sent to Yahoo, which refuses non-browser ones"),
    key("provider.yahoo.connect_timeout", "5s", "time allowed to open a connection"),
    key("provider.yahoo.read_timeout", "10s", "time allowed between two reads of a response"),
    key("provider.yahoo.timeout", "15s", "time allowed for a whole request"),
    key("provider.rate_limit.per_second", "2", "upstream requests per second, shared by every caller of the process"),
    key("provider.rate_limit.burst", "1", "requests that may go at once after a quiet spell"),
    key("provider.retry.max_attempts", "4", "attempts per call, the first included"),
    key("provider.retry.base", "200ms", "backoff before the first retry (doubling, full jitter)"),
    key("provider.retry.cap", "5s", "largest backoff"),
    key("provider.retry.budget", "30s", "most time one call may take, retries included"),
    key("provider.breaker.failure_threshold", "5", "consecutive upstream failures that open the circuit"),
    key("provider.breaker.open_for", "30s", "how long the circuit stays open before one probe"),
    key("provider.cache_ttl.quote", "45s", "cache lifetime of quotes"),
    key("provider.cache_ttl.history", "10m", "cache lifetime of bar histories"),
    key("provider.cache_ttl.highs", "30m", "cache lifetime of highs"),
    key("provider.cache_ttl.metadata", "1d", "cache lifetime of instrument metadata"),
    key("provider.concurrency", "32", "quotes of a batch fetched at once"),
    key("provider.replay.speed", "1", "replay speed (2 plays twice as fast)"),
    key("provider.replay.seed", "0", "seed of the replayed intraday paths"),
    key("provider.replay.loop", "true", "start over after the last bar"),
    key("provider.replay.tick_interval", "1s", "wall time between two ticks at speed 1"),
    key("provider.replay.ticks_per_bar", "78", "ticks per daily bar (at least 4)"),
    // watchlist
    key("watchlist.symbols", "AAPL, MSFT, IBM, ^GSPC, ^IXIC", "symbols followed; in the file `\"AAPL\"` or `{ symbol, category, name }`; from the variable, categories come from the file or are inferred"),
    // rules
    key("rules.moving_average.enabled", "true", "close crossing SMA(n)"),
    key("rules.moving_average.periods", "5, 20, 50, 60, 120, 200", "the SMA periods"),
    key("rules.cross.enabled", "true", "golden and dead crosses"),
    key("rules.cross.pairs", "[[50, 200]]", "`[fast, slow]` SMA pairs"),
    key("rules.rsi.enabled", "true", "RSI zones and midline"),
    key("rules.rsi.period", "14", "RSI period"),
    key("rules.rsi.overbought", "70", "overbought level"),
    key("rules.rsi.oversold", "30", "oversold level"),
    key("rules.rsi.midline", "true", "crosses of 50 are signals"),
    key("rules.bollinger.enabled", "true", "Bollinger breaks and touches"),
    key("rules.bollinger.period", "20", "bands' period"),
    key("rules.bollinger.k", "2", "bands' width in standard deviations"),
    key("rules.bollinger.touch_pct", "1", "touch distance, percent of the band"),
    key("rules.macd.enabled", "true", "MACD crosses"),
    key("rules.macd.fast", "12", "fast EMA period"),
    key("rules.macd.slow", "26", "slow EMA period"),
    key("rules.macd.signal", "9", "signal line period"),
    key("rules.macd.zero_line", "true", "zero-line crosses are signals"),
    key("rules.stochastic.enabled", "true", "stochastic crosses in a zone"),
    key("rules.stochastic.k_period", "14", "%K look-back"),
    key("rules.stochastic.k_slowing", "3", "%K slowing"),
    key("rules.stochastic.d_period", "3", "%D period"),
    key("rules.stochastic.overbought", "80", "overbought level"),
    key("rules.stochastic.oversold", "20", "oversold level"),
    key("rules.volume.enabled", "true", "volume spikes and dry-ups"),
    key("rules.volume.period", "20", "average volume period"),
    key("rules.volume.spike_ratio", "2", "spike: volume at least this × average"),
    key("rules.volume.move_pct", "1", "least close-to-close move of a spike, percent"),
    key("rules.volume.dry_up_ratio", "0.5", "dry-up: volume at most this × average"),
    key("rules.price.enabled", "true", "rises, drops, surges and plunges"),
    key("rules.highs.enabled", "true", "new all-time highs and drops from the high"),
    key("rules.previous_day.enabled", "true", "breaks of the previous session's high and low"),
    key("rules.thresholds.index.rise_pct", "1", "indices: rise against the previous close, percent"),
    key("rules.thresholds.index.drop_pct", "1", "indices: drop against the previous close, percent"),
    key("rules.thresholds.index.drop_from_high_pct", "2", "indices: fall below the all-time high, percent"),
    key("rules.thresholds.future.rise_pct", "5", "futures: rise, percent"),
    key("rules.thresholds.future.drop_pct", "5", "futures: drop, percent"),
    key("rules.thresholds.future.drop_from_high_pct", "10", "futures: fall below the high, percent"),
    key("rules.thresholds.stock.rise_pct", "3", "stocks: rise, percent"),
    key("rules.thresholds.stock.drop_pct", "3", "stocks: drop, percent"),
    key("rules.thresholds.stock.drop_from_high_pct", "5", "stocks: fall below the high, percent"),
    key("rules.thresholds.etf.rise_pct", "3", "ETFs: rise, percent"),
    key("rules.thresholds.etf.drop_pct", "3", "ETFs: drop, percent"),
    key("rules.thresholds.etf.drop_from_high_pct", "5", "ETFs: fall below the high, percent"),
    key("rules.thresholds.fx.rise_pct", "1", "currency pairs: rise, percent"),
    key("rules.thresholds.fx.drop_pct", "1", "currency pairs: drop, percent"),
    key("rules.thresholds.fx.drop_from_high_pct", "2", "currency pairs: fall below the high, percent"),
    key("rules.thresholds.crypto.rise_pct", "5", "crypto: rise, percent"),
    key("rules.thresholds.crypto.drop_pct", "5", "crypto: drop, percent"),
    key("rules.thresholds.crypto.drop_from_high_pct", "10", "crypto: fall below the high, percent"),
    key("rules.thresholds.surge_pct", "5", "a move either way of at least this is a surge or plunge, percent"),
    key("rules.thresholds.symbols.<SYMBOL>.rise_pct", "—", "one symbol's rise threshold"),
    key("rules.thresholds.symbols.<SYMBOL>.drop_pct", "—", "one symbol's drop threshold"),
    key("rules.thresholds.symbols.<SYMBOL>.surge_pct", "—", "one symbol's surge threshold"),
    key("rules.thresholds.symbols.<SYMBOL>.drop_from_high_pct", "—", "one symbol's drop-from-high threshold"),
    // alerts
    key("alerts.dedupe.price", "3m", "an alert of a price kind silences the same symbol and kind this long"),
    key("alerts.dedupe.high", "6h", "the same for all-time highs and drops from the high"),
    key("alerts.dedupe.technical", "6h", "the same for technical signals"),
    key("alerts.dedupe.kinds.<kind>", "—", "one signal kind's window, in place of its family's"),
    key("alerts.max_signal_age", "4d", "signals of older bars are stored, never alerted"),
    // telegram
    key("telegram.bot_token", "unset", "Telegram bot token (with `chat_id`; unset: alerts only logged)"),
    key("telegram.chat_id", "unset", "chat alerts go to (with `bot_token`)"),
    key("telegram.api_url", "https://api.telegram.org", "Bot API base URL (tests point it at the mock)"),
    key("telegram.connect_timeout", "5s", "time allowed to open a connection"),
    key("telegram.timeout", "15s", "time allowed for one request"),
    key("telegram.per_chat.per_second", "1", "messages per second to one chat"),
    key("telegram.per_chat.burst", "1", "messages at once to one chat"),
    key("telegram.global.per_second", "30", "messages per second overall"),
    key("telegram.global.burst", "1", "messages at once overall"),
    key("telegram.retry.max_attempts", "5", "attempts per message part"),
    key("telegram.retry.base", "500ms", "backoff before the first retry"),
    key("telegram.retry.cap", "10s", "largest backoff"),
    key("telegram.retry.budget", "2m", "most time one message part may take"),
    // api
    key("api.http_addr", "127.0.0.1:8080", "API bind address"),
    key("api.admin_token", "unset", "bearer token of the admin endpoints (at least 16 characters; unset: they are off)"),
    key("api.cors.allowed_origins", "", "origins allowed from browsers (`https://host[:port]` or `*`); empty: same-origin only"),
    key("api.rate_limit.per_second", "100", "requests per second per client IP (`0`: no limit)"),
    key("api.rate_limit.burst", "200", "requests at once per client IP"),
    key("api.json_body_limit", "262144", "largest JSON body, bytes"),
    key("api.max_batch_symbols", "100", "most symbols in one batch-quote request"),
    key("api.websocket.max_channels", "100", "channels per connection"),
    key("api.websocket.max_frame_bytes", "65536", "largest client frame, bytes"),
    key("api.websocket.send_queue", "1024", "events queued per client before it is closed as too slow"),
    key("api.websocket.ping_interval", "20s", "how often the server pings"),
    key("api.websocket.client_timeout", "45s", "a silent client is closed after this (at most 60s)"),
    // scheduler
    key("scheduler.metrics_addr", "127.0.0.1:9090", "scheduler's `/metrics` and health bind address"),
    key("scheduler.embedded_jobs", "true", "`finstage-api` also runs the scheduler's jobs"),
    key("scheduler.quote_poll_interval", "1m", "how often live quotes are polled"),
    key("scheduler.daily_update.<market>.at", "—", "a market's daily update, `HH:MM` (default: `us` at 16:30)"),
    key("scheduler.daily_update.<market>.time_zone", "—", "its time zone (default: `us` in America/New_York)"),
    key("scheduler.daily_report.at", "17:30", "daily report time, `HH:MM`"),
    key("scheduler.daily_report.time_zone", "America/New_York", "its time zone: `UTC`, `+09:00` or an IANA name"),
    key("scheduler.retention.intraday_bars", "60d", "intraday bars are kept this long"),
    key("scheduler.retention.logs", "90d", "notification, slow-query and job logs are kept this long"),
    key("scheduler.retention.finished_tasks", "1w", "finished tasks are kept this long"),
    key("scheduler.concurrency", "8", "symbols a job processes at once"),
    key(
        "scheduler.clock_start",
        "unset",
        "replayed time: the jobs' clock starts at this RFC 3339 instant (unset: the system clock)",
    ),
    // log
    key("log.filter", "info", "tracing filter (EnvFilter syntax; empty: `info`)"),
    key("log.format", "text", "`text` or `json`"),
    key("log.ansi", "false", "colours in the text format"),
];

/// The catalogue entry of a dotted key (map entries match their `<…>` pattern; list indices
/// `[i]` are ignored).
pub fn lookup(key: &str) -> Option<&'static KeyDef> {
    let key = key.split('[').next().unwrap_or(key);
    let parts: Vec<&str> = key.split('.').collect();
    KEYS.iter().find(|def| {
        let pattern: Vec<&str> = def.key.split('.').collect();
        pattern.len() == parts.len()
            && pattern
                .iter()
                .zip(&parts)
                .all(|(p, k)| p.starts_with('<') || p.eq_ignore_ascii_case(k))
    })
}
