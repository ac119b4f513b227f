//! The one layered configuration of `finstage-api` and `finstage-scheduler`: built-in defaults <
//! `finstage.toml` < `FINSTAGE_*` environment variables.
//!
//! - [`ConfigSources`] says where the layers come from: the file (`FINSTAGE_CONFIG`, else
//!   `./finstage.toml` if it exists) and an explicit set of variables (or the process's own).
//! - [`Settings`] is what the layers say, as read (serde, every key optional, unknown keys
//!   refused); [`Settings::load`] merges them.
//! - [`Config`] is the settings checked and typed ([`Settings::resolve`]): URLs, addresses,
//!   symbols, secrets and the library crates' own configuration structs. Both binaries resolve it
//!   before anything starts.
//! - [`KEYS`] lists every key with its default, its variable and its meaning;
//!   `docs/OPERATIONS.md` shows the same table.
//!
//! Variables: the fixed names of [`ALIASES`] (`FINSTAGE_DATABASE_URL`, `FINSTAGE_HTTP_ADDR`, …),
//! and `FINSTAGE_SECTION__KEY` for every key (`FINSTAGE_RULES__RSI__PERIOD=21`). Lists are
//! comma-separated. An empty value of an optional key (`FINSTAGE_REDIS_URL=`) leaves it unset.
//!
//! Every failure is a [`CoreError::Config`] naming the dotted key and, when the value came from
//! a variable, the variable: `FINSTAGE_HTTP_ADDR (api.http_addr): invalid socket address
//! "localhost"`. Secrets (tokens, passwords in URLs) never appear in `Debug` output or errors.

pub mod duration;
mod keys;
mod resolve;
mod settings;
mod sources;

use std::collections::BTreeMap;

pub use keys::{ALIASES, CONFIG_FILE_VARIABLE, ENV_PREFIX, KEYS, KeyDef, LIST_KEYS, lookup, variable_of};
pub use resolve::{
    AlertsConfig, ApiConfig, ClientRateLimit, Config, CorsOrigins, DailyTime, MAX_CLIENT_TIMEOUT, MIN_ADMIN_TOKEN_LEN,
    ProviderConfig, ProviderKind, Retention, SchedulerConfig, TimeZoneSpec, WatchedSymbol, WebSocketConfig,
};
pub use settings::{
    AlertSettings, ApiSettings, BreakerSettings, CacheSettings, CacheTtlSettings, CorsSettings, DailyAt, LogSettings,
    MemorySettings, PoolSettings, ProviderSettings, RateSettings, RedisSettings, ReplaySettings, RetentionSettings,
    RetrySettings, SchedulerSettings, Settings, StoreSettings, TelegramSettings, WatchEntry, WatchlistSettings,
    WebSocketSettings, YahooSettings,
};
pub use sources::ConfigSources;

use crate::CoreError;

/// The file read when `FINSTAGE_CONFIG` is unset (if it exists).
pub const DEFAULT_FILE: &str = "finstage.toml";

/// The database when none is configured: SQLite under `./var/`.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://var/finstage.db";

/// Values quoted in errors are cut to this many characters.
const QUOTE_MAX: usize = 80;

/// `text` cut to [`QUOTE_MAX`] characters (then `…`).
pub(crate) fn shorten(text: &str) -> String {
    let mut chars = text.chars();
    let cut: String = chars.by_ref().take(QUOTE_MAX).collect();
    if chars.next().is_some() {
        format!("{cut}…")
    } else {
        cut
    }
}

/// `value` quoted as `{:?}` does, shortened first.
pub(crate) fn quote(value: &str) -> String {
    format!("{:?}", shorten(value))
}

/// A [`CoreError::Config`] whose message is already complete.
pub(crate) fn config_error(key: &str, message: String) -> CoreError {
    CoreError::Config {
        key: key.to_owned(),
        message,
    }
}

/// A [`CoreError::Config`] for `key`: `VARIABLE (key): reason` when variables set the key (or a
/// key above or below it), else `key: reason`.
pub(crate) fn named_error(key: &str, reason: &str, origins: &BTreeMap<String, String>) -> CoreError {
    let variables: Vec<&str> = origins
        .iter()
        .filter(|(set, _)| related(set, key))
        .map(|(_, variable)| variable.as_str())
        .collect();
    let message = match (variables.is_empty(), key.is_empty()) {
        (false, _) => format!("{} ({key}): {reason}", variables.join(", ")),
        (true, false) => format!("{key}: {reason}"),
        (true, true) => reason.to_owned(),
    };
    config_error(key, message)
}

/// Whether a variable that set `set` bears on an error about `key`: the same key, one above it
/// or one below it (case aside: symbols are upper-cased on parse).
fn related(set: &str, key: &str) -> bool {
    if key.is_empty() {
        return false;
    }
    let (set, key) = (set.to_ascii_lowercase(), key.to_ascii_lowercase());
    let under = |long: &str, short: &str| {
        long.strip_prefix(short)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.') || rest.starts_with('['))
    };
    under(&key, &set) || under(&set, &key)
}
