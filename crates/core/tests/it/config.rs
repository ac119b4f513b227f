//! The layered configuration: defaults < file < variables, errors that name their key and
//! variable, secrets that never print, and a key catalogue that equals `docs/OPERATIONS.md`.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use finstage_core::CoreError;
use finstage_core::config::{
    ALIASES, Config, ConfigSources, CorsOrigins, KEYS, ProviderKind, Settings, TimeZoneSpec, lookup,
};
use finstage_domain::{Category, Symbol};
use finstage_store::Backend;

const OPERATIONS: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/OPERATIONS.md"));

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file
}

fn env(vars: &[(&str, &str)]) -> ConfigSources {
    vars.iter().fold(ConfigSources::new(), |s, (k, v)| s.with_var(*k, *v))
}

fn load(sources: &ConfigSources) -> Config {
    Settings::load(sources)
        .and_then(|s| s.resolve())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn error(sources: &ConfigSources) -> (String, String) {
    match Config::load(sources) {
        Err(CoreError::Config { key, message }) => (key, message),
        Err(other) => panic!("not a configuration error: {other}"),
        Ok(config) => panic!("accepted: {config:?}"),
    }
}

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

#[test]
fn no_file_and_no_variables_give_the_defaults() {
    let config = load(&ConfigSources::new());
    assert_eq!(config.store.url.backend(), Backend::Sqlite);
    assert_eq!(config.store.url.to_string(), "sqlite://var/finstage.db");
    assert_eq!(config.store.pool.max_size, 16);
    assert_eq!(config.store.slow_query_threshold, Duration::from_millis(200));
    assert!(config.redis.is_none());
    assert_eq!(config.memory_cache.max_entries, 100_000);
    assert_eq!(config.api.http_addr, "127.0.0.1:8080".parse::<SocketAddr>().unwrap());
    assert_eq!(
        config.scheduler.metrics_addr,
        "127.0.0.1:9090".parse::<SocketAddr>().unwrap()
    );
    assert!(config.scheduler.embedded_jobs);
    assert_eq!(config.scheduler.quote_poll_interval, Duration::from_secs(60));
    assert_eq!(config.scheduler.clock_start, None, "the system clock unless replaying");
    assert_eq!(config.provider.kind, ProviderKind::Yahoo);
    assert_eq!(config.provider.yahoo.base_url, finstage_marketdata::DEFAULT_BASE_URL);
    assert_eq!(config.provider.resilience.retry.base, Duration::from_millis(200));
    assert!(config.api.admin_token.is_none());
    assert!(config.telegram.is_none());
    assert_eq!(config.api.cors, CorsOrigins::SameOrigin);
    assert_eq!(config.api.websocket.client_timeout, Duration::from_secs(45));
    assert_eq!(config.log.filter, "info");
    assert_eq!(config.log.format, finstage_monitoring::LogFormat::Text);
    assert_eq!(config.rules, finstage_analysis::RulesConfig::default());
    assert_eq!(config.alerts.max_signal_age, Duration::from_secs(4 * 86_400));
    let symbols: Vec<_> = config.symbols().collect();
    assert_eq!(
        symbols,
        [
            (sym("AAPL"), Category::Stock),
            (sym("MSFT"), Category::Stock),
            (sym("IBM"), Category::Stock),
            (sym("^GSPC"), Category::Index),
            (sym("^IXIC"), Category::Index),
        ]
    );
    assert_eq!(config.watchlist[3].name.as_deref(), Some("S&P 500"));
    assert_eq!(
        config.scheduler.daily_report.time_zone,
        TimeZoneSpec::Named("America/New_York".into())
    );
}

const FILE: &str = r#"
[store]
database_url = "postgres://finstage:filepw@db.internal:5432/finstage"
bulk_chunk_size = 500

[store.pool]
max_size = 4

[api]
http_addr = "0.0.0.0:8000"

[api.cors]
allowed_origins = ["https://dash.example.com"]

[api.websocket]
client_timeout = "30s"
ping_interval = "10s"

[provider]
kind = "replay"

[provider.replay]
speed = 60.0
seed = 7

[[watchlist.symbols]]
symbol = "SPY"
category = "etf"
name = "SPDR S&P 500"

[[watchlist.symbols]]
symbol = "^N225"

[rules.rsi]
overbought = 75

[rules.thresholds.symbols.TSLA]
rise_pct = 7

[scheduler]
embedded_jobs = false
quote_poll_interval = "30s"

[scheduler.daily_update.kr]
at = "15:45"
time_zone = "+09:00"

[log]
format = "json"
"#;

#[test]
fn a_file_overrides_the_defaults() {
    let f = file(FILE);
    let config = load(&ConfigSources::new().with_file(f.path()));
    assert_eq!(config.store.url.backend(), Backend::Postgres);
    assert_eq!(config.store.bulk_chunk_size, 500);
    assert_eq!(config.store.pool.max_size, 4);
    assert_eq!(
        config.store.pool.min_idle, 1,
        "keys the file leaves out keep their default"
    );
    assert_eq!(config.api.http_addr.to_string(), "0.0.0.0:8000");
    assert_eq!(
        config.api.cors,
        CorsOrigins::List(vec!["https://dash.example.com".into()])
    );
    assert_eq!(config.api.websocket.client_timeout, Duration::from_secs(30));
    assert_eq!(config.provider.kind, ProviderKind::Replay);
    assert_eq!(config.provider.replay.speed, 60.0);
    assert_eq!(config.provider.replay.seed, 7);
    assert!(config.provider.replay.looping);
    let symbols: Vec<_> = config.symbols().collect();
    assert_eq!(symbols, [(sym("SPY"), Category::Etf), (sym("^N225"), Category::Index)]);
    assert_eq!(config.watchlist[0].name.as_deref(), Some("SPDR S&P 500"));
    assert_eq!(config.rules.rsi.overbought, 75.0);
    assert_eq!(config.rules.rsi.oversold, 30.0);
    assert_eq!(config.rules.thresholds.symbols[&sym("TSLA")].rise_pct, Some(7.0));
    assert!(!config.scheduler.embedded_jobs);
    assert_eq!(config.scheduler.quote_poll_interval, Duration::from_secs(30));
    let kr = &config.scheduler.daily_update["kr"];
    assert_eq!(kr.at.to_string(), "15:45:00");
    assert!(matches!(kr.time_zone, TimeZoneSpec::Fixed(offset) if offset.local_minus_utc() == 9 * 3600));
    assert!(
        config.scheduler.daily_update.contains_key("us"),
        "the default market stays"
    );
    assert_eq!(config.log.format, finstage_monitoring::LogFormat::Json);
}

#[test]
fn the_config_variable_names_the_file_and_variables_override_it() {
    let f = file(FILE);
    let path = f.path().to_str().unwrap();
    let sources = ConfigSources::from_vars([
        ("FINSTAGE_CONFIG", path),
        ("FINSTAGE_HTTP_ADDR", "127.0.0.1:9999"),
        ("FINSTAGE_PROVIDER", "yahoo"),
        ("FINSTAGE_DATABASE_URL", "sqlite://other.db"),
        ("FINSTAGE_STORE__POOL__MAX_SIZE", "8"),
        ("FINSTAGE_LOG_FORMAT", "text"),
        ("FINSTAGE_LOG", "warn,finstage_store=debug"),
        ("FINSTAGE_EMBEDDED_JOBS", "true"),
        ("PATH", "/usr/bin"),
    ]);
    assert_eq!(sources.file(), Some(f.path()));
    let config = load(&sources);
    assert_eq!(config.api.http_addr.port(), 9999);
    assert_eq!(config.provider.kind, ProviderKind::Yahoo);
    assert_eq!(
        config.provider.replay.seed, 7,
        "what the variables leave alone comes from the file"
    );
    assert_eq!(config.store.url.to_string(), "sqlite://other.db");
    assert_eq!(config.store.pool.max_size, 8);
    assert_eq!(config.store.bulk_chunk_size, 500);
    assert_eq!(config.log.format, finstage_monitoring::LogFormat::Text);
    assert_eq!(config.log.filter, "warn,finstage_store=debug");
    assert!(config.scheduler.embedded_jobs);
}

#[test]
fn nested_variables_reach_every_depth() {
    let config = load(&env(&[
        ("FINSTAGE_RULES__RSI__PERIOD", "21"),
        ("FINSTAGE_API__RATE_LIMIT__PER_SECOND", "50.5"),
        ("FINSTAGE_API__RATE_LIMIT__BURST", "10"),
        ("FINSTAGE_RULES__MOVING_AVERAGE__PERIODS", "10, 30"),
        ("FINSTAGE_RULES__CROSS__PAIRS", "[[20, 60], [50, 200]]"),
        ("FINSTAGE_RULES__THRESHOLDS__STOCK__RISE_PCT", "4"),
        ("FINSTAGE_RULES__THRESHOLDS__SYMBOLS__TSLA__DROP_PCT", "6"),
        ("FINSTAGE_ALERTS__DEDUPE__KINDS__PRICE_RISE", "1h"),
        (
            "FINSTAGE_API__CORS__ALLOWED_ORIGINS",
            "https://a.example.com, http://localhost:3000",
        ),
        ("FINSTAGE_PROVIDER__RETRY__BASE", "150ms"),
    ]));
    assert_eq!(config.rules.rsi.period, 21);
    assert_eq!(config.rules.rsi.overbought, 70.0);
    let limit = config.api.rate_limit.unwrap();
    assert_eq!((limit.per_second, limit.burst), (50.5, 10));
    assert_eq!(config.rules.moving_average.periods, [10, 30]);
    assert_eq!(config.rules.cross.pairs, [[20, 60], [50, 200]]);
    assert_eq!(config.rules.thresholds.stock.rise_pct, 4.0);
    assert_eq!(
        config.rules.thresholds.stock.drop_pct, 3.0,
        "a partial override keeps the rest"
    );
    assert_eq!(config.rules.thresholds.symbols[&sym("TSLA")].drop_pct, Some(6.0));
    assert_eq!(
        config.alerts.dedupe.window(finstage_analysis::SignalKind::PriceRise),
        Duration::from_secs(3600)
    );
    assert_eq!(
        config.api.cors,
        CorsOrigins::List(vec!["https://a.example.com".into(), "http://localhost:3000".into()])
    );
    assert_eq!(config.provider.resilience.retry.base, Duration::from_millis(150));
}

#[test]
fn the_watchlist_variable_takes_categories_from_the_file_or_infers_them() {
    let config = load(&env(&[("FINSTAGE_WATCHLIST", "aapl, BTC-USD,^DJI,EURUSD=X,CL=F,SPY")]));
    let symbols: Vec<_> = config.symbols().collect();
    assert_eq!(
        symbols,
        [
            (sym("AAPL"), Category::Stock),
            (sym("BTC-USD"), Category::Crypto),
            (sym("^DJI"), Category::Index),
            (sym("EURUSD=X"), Category::Fx),
            (sym("CL=F"), Category::Future),
            (sym("SPY"), Category::Stock),
        ]
    );
    assert_eq!(
        config.watchlist[0].name.as_deref(),
        Some("Apple Inc."),
        "the default entry's name"
    );

    let f = file(FILE);
    let config = load(
        &ConfigSources::new()
            .with_file(f.path())
            .with_var("FINSTAGE_WATCHLIST", "SPY,QQQ"),
    );
    let symbols: Vec<_> = config.symbols().collect();
    assert_eq!(symbols, [(sym("SPY"), Category::Etf), (sym("QQQ"), Category::Stock)]);
    assert_eq!(config.watchlist[0].name.as_deref(), Some("SPDR S&P 500"));

    let config = load(&env(&[("FINSTAGE_WATCHLIST", "")]));
    assert!(config.watchlist.is_empty(), "an empty list follows nothing");
}

#[test]
fn a_clock_start_is_read_in_any_offset_and_kept_in_utc() {
    let config = load(&env(&[(
        "FINSTAGE_SCHEDULER__CLOCK_START",
        "2026-03-06T17:00:00-05:00",
    )]));
    let expected = chrono::DateTime::parse_from_rfc3339("2026-03-06T22:00:00Z")
        .unwrap()
        .to_utc();
    assert_eq!(config.scheduler.clock_start, Some(expected));
    let f = file("[scheduler]\nclock_start = \"2026-03-07T07:00:00+09:00\"\n");
    let config = load(&ConfigSources::new().with_file(f.path()));
    assert_eq!(config.scheduler.clock_start, Some(expected));
}

#[test]
fn each_bad_variable_names_its_key_and_variable() {
    /// (variables, the key named, the message's beginning)
    type Case = (&'static [(&'static str, &'static str)], &'static str, &'static str);
    let cases: &[Case] = &[
        (
            &[("FINSTAGE_HTTP_ADDR", "localhost")],
            "api.http_addr",
            "FINSTAGE_HTTP_ADDR (api.http_addr): invalid socket address \"localhost\"",
        ),
        (
            &[("FINSTAGE_METRICS_ADDR", "9090")],
            "scheduler.metrics_addr",
            "FINSTAGE_METRICS_ADDR (scheduler.metrics_addr): invalid socket address",
        ),
        (
            &[("FINSTAGE_DATABASE_URL", "oracle://x/y")],
            "store.database_url",
            "FINSTAGE_DATABASE_URL (store.database_url): unsupported database scheme",
        ),
        (
            &[("FINSTAGE_REDIS_URL", "http://cache:6379")],
            "cache.redis_url",
            "FINSTAGE_REDIS_URL (cache.redis_url): ",
        ),
        (
            &[("FINSTAGE_PROVIDER", "bloomberg")],
            "provider.kind",
            "FINSTAGE_PROVIDER (provider.kind): unknown provider \"bloomberg\"",
        ),
        (
            &[("FINSTAGE_YAHOO_BASE_URL", "ftp://mirror")],
            "provider.yahoo.base_url",
            "FINSTAGE_YAHOO_BASE_URL (provider.yahoo.base_url): invalid URL",
        ),
        (
            &[("FINSTAGE_TELEGRAM_API_URL", "api.telegram.org")],
            "telegram.api_url",
            "FINSTAGE_TELEGRAM_API_URL (telegram.api_url): invalid URL",
        ),
        (
            &[("FINSTAGE_WATCHLIST", "AAPL,BAD SYMBOL")],
            "watchlist.symbols[1]",
            "FINSTAGE_WATCHLIST (watchlist.symbols[1]): invalid symbol \"BAD SYMBOL\"",
        ),
        (
            &[("FINSTAGE_WATCHLIST", "AAPL,MSFT,aapl")],
            "watchlist.symbols[2]",
            "FINSTAGE_WATCHLIST (watchlist.symbols[2]): AAPL is listed twice",
        ),
        (
            &[("FINSTAGE_TELEGRAM_BOT_TOKEN", "123:abc")],
            "telegram.chat_id",
            "telegram.chat_id: required when telegram.bot_token is set",
        ),
        (
            &[("FINSTAGE_TELEGRAM_CHAT_ID", "-100123")],
            "telegram.bot_token",
            "telegram.bot_token: required when telegram.chat_id is set",
        ),
        (
            &[
                ("FINSTAGE_TELEGRAM_BOT_TOKEN", "123:abc"),
                ("FINSTAGE_TELEGRAM_CHAT_ID", "my chat"),
            ],
            "telegram.chat_id",
            "FINSTAGE_TELEGRAM_CHAT_ID (telegram.chat_id): expected a numeric chat id",
        ),
        (
            &[("FINSTAGE_API__WEBSOCKET__CLIENT_TIMEOUT", "90s")],
            "api.websocket.client_timeout",
            "FINSTAGE_API__WEBSOCKET__CLIENT_TIMEOUT (api.websocket.client_timeout): must be at most 60s",
        ),
        (
            &[("FINSTAGE_API__WEBSOCKET__PING_INTERVAL", "1m")],
            "api.websocket.ping_interval",
            "FINSTAGE_API__WEBSOCKET__PING_INTERVAL (api.websocket.ping_interval): must be shorter",
        ),
        (
            &[("FINSTAGE_RULES__RSI__OVERBOUGHT", "120")],
            "rules.rsi.overbought",
            "FINSTAGE_RULES__RSI__OVERBOUGHT (rules.rsi.overbought): a number above 50",
        ),
        (
            &[("FINSTAGE_RULES__MACD__FAST", "40")],
            "rules.macd",
            "FINSTAGE_RULES__MACD__FAST (rules.macd): fast (40) must be below slow",
        ),
        (
            &[("FINSTAGE_RULES__MOVING_AVERAGE__PERIODS", "5,1")],
            "rules.moving_average.periods[1]",
            "FINSTAGE_RULES__MOVING_AVERAGE__PERIODS (rules.moving_average.periods[1])",
        ),
        (
            &[("FINSTAGE_RULES__RSI__PERIOD", "fourteen")],
            "rules.rsi.period",
            "FINSTAGE_RULES__RSI__PERIOD (rules.rsi.period): invalid type: string \"fourteen\"",
        ),
        (
            &[("FINSTAGE_STORE__POOL__ACQUIRE_TIMEOUT", "5 parsecs")],
            "store.pool.acquire_timeout",
            "FINSTAGE_STORE__POOL__ACQUIRE_TIMEOUT (store.pool.acquire_timeout): invalid value",
        ),
        (
            &[("FINSTAGE_STORE__POOL__MAX_SIZE", "0")],
            "store.pool.max_size",
            "FINSTAGE_STORE__POOL__MAX_SIZE (store.pool.max_size): must be at least 1, not 0",
        ),
        (
            &[("FINSTAGE_PROVIDER__RATE_LIMIT__PER_SECOND", "0")],
            "provider.rate_limit.per_second",
            "FINSTAGE_PROVIDER__RATE_LIMIT__PER_SECOND (provider.rate_limit.per_second): must be a positive number",
        ),
        (
            &[("FINSTAGE_PROVIDER__RETRY__CAP", "100ms")],
            "provider.retry.cap",
            "FINSTAGE_PROVIDER__RETRY__CAP (provider.retry.cap): must not be below retry.base",
        ),
        (
            &[("FINSTAGE_LOG_FORMAT", "xml")],
            "log.format",
            "FINSTAGE_LOG_FORMAT (log.format): expected text or json, not \"xml\"",
        ),
        (
            &[("FINSTAGE_LOG", "hyper=chatty")],
            "log.filter",
            "FINSTAGE_LOG (log.filter): ",
        ),
        (
            &[("FINSTAGE_EMBEDDED_JOBS", "maybe")],
            "scheduler.embedded_jobs",
            "FINSTAGE_EMBEDDED_JOBS (scheduler.embedded_jobs): invalid type",
        ),
        (
            &[("FINSTAGE_ADMIN_TOKEN", "short")],
            "api.admin_token",
            "FINSTAGE_ADMIN_TOKEN (api.admin_token): must be at least 16 characters",
        ),
        (
            &[("FINSTAGE_API__CORS__ALLOWED_ORIGINS", "https://a.example.com/app")],
            "api.cors.allowed_origins[0]",
            "FINSTAGE_API__CORS__ALLOWED_ORIGINS (api.cors.allowed_origins[0]): an origin is",
        ),
        (
            &[("FINSTAGE_SCHEDULER__DAILY_REPORT__AT", "25:00")],
            "scheduler.daily_report.at",
            "FINSTAGE_SCHEDULER__DAILY_REPORT__AT (scheduler.daily_report.at): expected HH:MM",
        ),
        (
            &[("FINSTAGE_SCHEDULER__DAILY_REPORT__TIME_ZONE", "New York")],
            "scheduler.daily_report.time_zone",
            "FINSTAGE_SCHEDULER__DAILY_REPORT__TIME_ZONE (scheduler.daily_report.time_zone): expected UTC",
        ),
        (
            &[("FINSTAGE_ALERTS__DEDUPE__PRICE", "400d")],
            "alerts.dedupe.price",
            "FINSTAGE_ALERTS__DEDUPE__PRICE (alerts.dedupe.price): at most a year",
        ),
        (
            &[
                ("FINSTAGE_HTTP_ADDR", "127.0.0.1:1"),
                ("FINSTAGE_API__HTTP_ADDR", "127.0.0.1:2"),
            ],
            "api.http_addr",
            "FINSTAGE_API__HTTP_ADDR and FINSTAGE_HTTP_ADDR (api.http_addr): both set the key",
        ),
        (
            &[("FINSTAGE_API__HTTP_ADR", "127.0.0.1:1")],
            "api.http_adr",
            "FINSTAGE_API__HTTP_ADR (api.http_adr): unknown key",
        ),
        (
            &[("FINSTAGE_NOPE__X", "1")],
            "nope",
            "FINSTAGE_NOPE__X (nope): unknown key",
        ),
        (
            &[("FINSTAGE_SCHEDULER__CLOCK_START", "2026-03-06 22:00")],
            "scheduler.clock_start",
            "FINSTAGE_SCHEDULER__CLOCK_START (scheduler.clock_start): expected an RFC 3339 time",
        ),
    ];
    for (vars, key, message) in cases {
        let (k, m) = error(&env(vars));
        assert_eq!(&k, key, "{vars:?}: {m}");
        assert!(
            m.starts_with(message),
            "{vars:?}: {m:?} does not start with {message:?}"
        );
    }
}

#[test]
fn bad_values_in_the_file_name_their_key() {
    let cases = [
        (
            "[api]\nhttp_addr = \"localhost\"",
            "api.http_addr",
            "api.http_addr: invalid socket address \"localhost\"",
        ),
        (
            "[api]\nhttp_adr = \"127.0.0.1:80\"",
            "api.http_adr",
            "api.http_adr: unknown key (expected one of http_addr",
        ),
        ("[apis]\nhttp_addr = \"127.0.0.1:80\"", "apis", "apis: unknown key"),
        (
            "[rules.rsi]\noverbougth = 80",
            "rules.rsi.overbougth",
            "rules.rsi.overbougth: unknown key",
        ),
        (
            "[rules.thresholds.symbols.TSLA]\nrise = 7",
            "rules.thresholds.symbols.TSLA.rise",
            "rules.thresholds.symbols.TSLA.rise: unknown key",
        ),
        (
            "[store.pool]\nmax_size = \"many\"",
            "store.pool.max_size",
            "store.pool.max_size: invalid type: string \"many\"",
        ),
        (
            "[[watchlist.symbols]]\nsymbol = \"SPY\"\ncategory = \"fund\"",
            "watchlist.symbols[0].category",
            "watchlist.symbols[0].category: unknown category \"fund\"",
        ),
        (
            "[watchlist]\nsymbols = [\"AAPL\", \"AAPL\"]",
            "watchlist.symbols[1]",
            "watchlist.symbols[1]: AAPL is listed twice",
        ),
        (
            "[scheduler.daily_update.kr]\nat = \"15:45\"",
            "scheduler.daily_update.kr.time_zone",
            "scheduler.daily_update.kr.time_zone: missing",
        ),
    ];
    for (text, key, message) in cases {
        let f = file(text);
        let (k, m) = error(&ConfigSources::new().with_file(f.path()));
        assert_eq!(k, key, "{text}: {m}");
        assert!(m.starts_with(message), "{text}: {m:?} does not start with {message:?}");
    }
}

#[test]
fn a_missing_or_broken_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let sources = ConfigSources::from_vars([("FINSTAGE_CONFIG", missing.to_str().unwrap())]);
    let (key, message) = error(&sources);
    assert_eq!(key, "");
    assert!(message.starts_with("FINSTAGE_CONFIG: cannot read "), "{message}");
    assert!(message.contains("nope.toml"), "{message}");

    let (_, message) = error(&ConfigSources::new().with_file(dir.path()));
    assert!(message.contains("cannot read"), "a directory: {message}");

    // Without FINSTAGE_CONFIG, a missing ./finstage.toml is no error.
    let optional = ConfigSources::new().with_optional_file(&missing);
    assert_eq!(optional.file(), None);
    load(&optional);

    let f = file("[telegram]\nbot_token = \"123:SECRETTOKEN\n");
    let (key, message) = error(&ConfigSources::new().with_file(f.path()));
    assert_eq!(key, "");
    assert!(message.contains("TOML parse error at line 2"), "{message}");
    assert!(!message.contains("SECRETTOKEN"), "the line is not quoted: {message}");
}

const SECRETS: [&str; 5] = [
    "adm1n-t0ken-0123456789",
    "7777:BOTSECRET",
    "dbpassw0rd",
    "redispassw0rd",
    "filepw",
];

#[test]
fn secrets_never_print() {
    let f = file(FILE);
    let vars = [
        ("FINSTAGE_ADMIN_TOKEN", "adm1n-t0ken-0123456789"),
        ("FINSTAGE_TELEGRAM_BOT_TOKEN", "7777:BOTSECRET"),
        ("FINSTAGE_TELEGRAM_CHAT_ID", "-100123"),
        ("FINSTAGE_DATABASE_URL", "postgres://app:dbpassw0rd@db:5432/finstage"),
        ("FINSTAGE_REDIS_URL", "redis://:redispassw0rd@cache:6379/0"),
    ];
    let sources = vars
        .iter()
        .fold(ConfigSources::new().with_file(f.path()), |s, (k, v)| s.with_var(*k, *v));
    let settings = Settings::load(&sources).unwrap();
    let config = settings.resolve().unwrap();
    assert_eq!(config.api.admin_token.as_ref().unwrap().expose_secret(), SECRETS[0]);
    assert_eq!(config.telegram.as_ref().unwrap().bot_token.expose_secret(), SECRETS[1]);
    assert!(config.store.url.expose_secret().contains(SECRETS[2]));
    assert!(config.redis.as_ref().unwrap().url.expose_secret().contains(SECRETS[3]));
    let mut printed = vec![
        format!("{settings:?}"),
        format!("{settings:#?}"),
        format!("{config:?}"),
        format!("{config:#?}"),
    ];
    // The file's own password, when the file's URL is the one used.
    let from_file = load(&ConfigSources::new().with_file(f.path()));
    assert!(from_file.store.url.expose_secret().contains("filepw"));
    printed.push(format!("{from_file:?}"));

    // Errors about the secret keys, and errors while secrets are set.
    let failing: Vec<Vec<(&str, &str)>> = vec![
        vec![("FINSTAGE_TELEGRAM_BOT_TOKEN", "7777:BOTSECRET")],
        vec![
            ("FINSTAGE_TELEGRAM_BOT_TOKEN", "7777:BOTSECRET x"),
            ("FINSTAGE_TELEGRAM_CHAT_ID", "1"),
        ],
        vec![("FINSTAGE_ADMIN_TOKEN", "adm1n-t0ken-0123456789 x")],
        vec![("FINSTAGE_DATABASE_URL", "postgres://app:dbpassw0rd@/finstage")],
        vec![("FINSTAGE_DATABASE_URL", "postgres//app:dbpassw0rd@db/finstage")],
        vec![("FINSTAGE_REDIS_URL", "redis://:redispassw0rd@")],
        vec![("FINSTAGE_REDIS_URL", "redis://:redispassw0rd@cache:notaport")],
        vec![("FINSTAGE_REDIS_URL", "rediss//:redispassw0rd@cache")],
        vec![
            ("FINSTAGE_ADMIN_TOKEN", "adm1n-t0ken-0123456789"),
            ("FINSTAGE_HTTP_ADDR", "x"),
        ],
    ];
    for vars in &failing {
        let sources = vars.iter().fold(ConfigSources::new(), |s, (k, v)| s.with_var(*k, *v));
        let err = Config::load(&sources).unwrap_err();
        printed.push(format!("{err} {err:?}"));
    }
    for text in &printed {
        for secret in SECRETS {
            assert!(!text.contains(secret), "{secret} printed in {text}");
        }
    }
}

/// The variable of a catalogued key, with map placeholders filled in.
fn sample_variable(def: &finstage_core::config::KeyDef) -> String {
    def.variable()
        .replace("<SYMBOL>", "TSLA")
        .replace("<kind>", "PRICE_RISE")
        .replace("<market>", "KR")
}

/// A value each catalogued key accepts: its default, or a sample for keys without one.
fn sample_value(def: &finstage_core::config::KeyDef) -> &'static str {
    match def.key {
        "cache.redis_url" => "redis://127.0.0.1:6379/0",
        "api.admin_token" => "0123456789abcdef0123",
        "telegram.bot_token" => "123:abc",
        "telegram.chat_id" => "-100123",
        "api.cors.allowed_origins" => "https://dash.example.com",
        "provider.yahoo.user_agent" => "Mozilla/5.0 (test)",
        "alerts.dedupe.kinds.<kind>" => "1h",
        "scheduler.daily_update.<market>.at" => "15:45",
        "scheduler.daily_update.<market>.time_zone" => "Asia/Seoul",
        "scheduler.clock_start" => "2026-03-06T22:00:00Z",
        key if key.starts_with("rules.thresholds.symbols.") => "7",
        _ => def.default,
    }
}

/// `value` as the catalogue writes defaults.
fn render(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "unset".to_owned(),
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => match n.as_u64() {
            Some(u) => u.to_string(),
            None => n.as_f64().unwrap().to_string(),
        },
        serde_json::Value::Bool(b) => b.to_string(),
        serde_json::Value::Array(items) if !items.is_empty() && items.iter().all(serde_json::Value::is_array) => {
            format!(
                "[{}]",
                items
                    .iter()
                    .map(|i| format!(
                        "[{}]",
                        i.as_array().unwrap().iter().map(render).collect::<Vec<_>>().join(", ")
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
        serde_json::Value::Array(items) => items
            .iter()
            .map(|i| if i.is_object() { render(&i["symbol"]) } else { render(i) })
            .collect::<Vec<_>>()
            .join(", "),
        serde_json::Value::Object(_) => unreachable!("objects are flattened"),
    }
}

/// Every leaf of `value` under its dotted key (lower-cased), lists as leaves.
fn flatten(prefix: &str, value: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        leaf => {
            out.insert(prefix.to_ascii_lowercase(), render(leaf));
        }
    }
}

fn leaves(settings: &Settings) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    flatten("", &serde_json::to_value(settings).unwrap(), &mut out);
    out
}

#[test]
fn the_catalogue_holds_every_key_with_its_real_default() {
    let defaults = Settings::default();
    let leaves = leaves(&defaults);
    for key in leaves.keys() {
        assert!(lookup(key).is_some(), "{key} is not in config::KEYS");
    }
    let mut seen = std::collections::BTreeSet::new();
    for def in KEYS {
        assert!(seen.insert(def.key), "{} is catalogued twice", def.key);
        if def.key.contains('<') {
            assert_eq!(def.default, "—", "{}", def.key);
            continue;
        }
        let actual = match def.key {
            "store.database_url" => defaults.store.database_url.expose_secret().clone(),
            "provider.yahoo.user_agent" => {
                assert_eq!(
                    defaults.provider.yahoo.user_agent,
                    finstage_marketdata::DEFAULT_USER_AGENT
                );
                continue;
            }
            key => leaves.get(key).cloned().unwrap_or_else(|| "unset".to_owned()),
        };
        assert_eq!(def.default, actual, "the documented default of {}", def.key);
    }
    for (variable, key) in ALIASES {
        assert!(
            lookup(key).is_some_and(|def| def.variable() == *variable),
            "{variable} → {key}"
        );
    }
}

#[test]
fn every_catalogued_key_is_accepted_from_its_variable() {
    for def in KEYS {
        let variable = sample_variable(def);
        let value = sample_value(def);
        let mut sources = ConfigSources::new().with_var(&variable, value);
        match def.key {
            "telegram.bot_token" => sources = sources.with_var("FINSTAGE_TELEGRAM_CHAT_ID", "-100123"),
            "telegram.chat_id" => sources = sources.with_var("FINSTAGE_TELEGRAM_BOT_TOKEN", "123:abc"),
            // A new market needs both of its keys.
            "scheduler.daily_update.<market>.at" => {
                sources = sources.with_var("FINSTAGE_SCHEDULER__DAILY_UPDATE__KR__TIME_ZONE", "Asia/Seoul");
            }
            "scheduler.daily_update.<market>.time_zone" => {
                sources = sources.with_var("FINSTAGE_SCHEDULER__DAILY_UPDATE__KR__AT", "15:45");
            }
            _ => {}
        }
        assert!(sources.unused_variables().is_empty(), "{variable} sets no key");
        let settings = Settings::load(&sources).unwrap_or_else(|e| panic!("{variable}={value}: {e}"));
        settings.resolve().unwrap_or_else(|e| panic!("{variable}={value}: {e}"));
        let secret = matches!(
            def.key,
            "store.database_url" | "cache.redis_url" | "api.admin_token" | "telegram.bot_token"
        );
        if !secret {
            let key = def
                .key
                .replace("<SYMBOL>", "tsla")
                .replace("<kind>", "price_rise")
                .replace("<market>", "kr");
            assert_eq!(
                leaves(&settings).get(&key).map(String::as_str),
                Some(value),
                "{variable} → {key}"
            );
        }
    }
}

#[test]
fn unused_variables_are_reported_not_applied() {
    let sources = ConfigSources::from_vars([
        ("FINSTAGE_HTTP_ADR", "0.0.0.0:1"),
        ("FINSTAGE_TEST_POSTGRES_URL", "postgres://x@y/z"),
        ("FINSTAGE_CONFIG", "/nonexistent"),
        ("FINSTAGE_LOG", "debug"),
        ("HOME", "/root"),
    ])
    .without_file();
    assert_eq!(
        sources.unused_variables(),
        ["FINSTAGE_HTTP_ADR", "FINSTAGE_TEST_POSTGRES_URL"]
    );
    assert_eq!(load(&sources).api.http_addr.port(), 8080);
}

/// The lines of OPERATIONS.md's "Configuration" table, as the catalogue writes them.
fn table() -> Vec<String> {
    let mut lines = vec![
        "| key | variable | default | meaning |".to_owned(),
        "|---|---|---|---|".to_owned(),
    ];
    for def in KEYS {
        let default = match def.default {
            "" => "empty".to_owned(),
            plain @ ("unset" | "—" | "(a desktop browser's)") => plain.to_owned(),
            value => format!("`{value}`"),
        };
        lines.push(format!(
            "| `{}` | `{}` | {default} | {} |",
            def.key,
            def.variable(),
            def.meaning
        ));
    }
    lines
}

#[test]
fn the_operations_table_is_the_catalogue() {
    let section = OPERATIONS
        .split("\n## Configuration\n")
        .nth(1)
        .expect("docs/OPERATIONS.md has a \"## Configuration\" section");
    let section = section.split("\n## ").next().unwrap_or(section);
    let documented: Vec<&str> = section.lines().filter(|l| l.starts_with('|')).collect();
    let expected = table();
    if documented != expected {
        panic!(
            "docs/OPERATIONS.md's configuration table differs from config::KEYS; it should read:\n{}",
            expected.join("\n")
        );
    }
}

#[test]
fn the_documented_sample_file_loads() {
    let section = OPERATIONS.split("\n## Configuration\n").nth(1).unwrap();
    let sample = section
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a TOML sample");
    let f = file(sample);
    let config = load(
        &ConfigSources::new()
            .with_file(f.path())
            .with_var("FINSTAGE_WATCHLIST", "SPY,QQQ"),
    );
    assert_eq!(config.store.url.backend(), Backend::Postgres);
    assert!(config.redis.is_some());
    assert_eq!(
        config.symbols().collect::<Vec<_>>(),
        [(sym("SPY"), Category::Etf), (sym("QQQ"), Category::Stock)]
    );
    assert_eq!(config.scheduler.daily_update.len(), 2);
}
