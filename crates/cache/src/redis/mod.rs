//! The Redis backend: one multiplexed connection that reconnects by itself, keys under a namespace,
//! a deadline on every call.

mod url;

use std::fmt;
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, ErrorKind, FromRedisValue, RedisError};

pub use self::url::RedisUrl;
use crate::cache::{Cache, MAX_TTL};
use crate::core::{CacheCore, CacheStats};
use crate::error::CacheError;
use crate::key::{validate_key, validate_name};

/// Where and how to reach Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// The server (`redis://…`; `rediss://` needs TLS support, which this build does not include).
    pub url: RedisUrl,
    /// First part of every key: `{namespace}:{cache name}:{key}`. Non-empty, no `:`, no whitespace.
    pub namespace: String,
    /// Longest wait for one connection attempt (attempts run in the background of calls).
    pub connect_timeout: Duration,
    /// Longest wait for a whole call, reconnecting included: past it the call returns
    /// [`CacheError::Unavailable`].
    pub response_timeout: Duration,
}

impl RedisConfig {
    /// The defaults (namespace `finstage`, 1 s to connect, 500 ms per call) for `url`.
    pub fn new(url: RedisUrl) -> Self {
        RedisConfig {
            url,
            ..RedisConfig::default()
        }
    }
}

impl Default for RedisConfig {
    /// `redis://127.0.0.1:6379/0`, namespace `finstage`, 1 s to connect, 500 ms per call.
    fn default() -> Self {
        RedisConfig {
            url: RedisUrl::localhost(),
            namespace: "finstage".into(),
            connect_timeout: Duration::from_secs(1),
            response_timeout: Duration::from_millis(500),
        }
    }
}

/// A [`Cache`] in Redis, shared by every process that uses the same namespace and cache name.
///
/// - **Keys** are `{namespace}:{cache name}:{key}`; neither the namespace nor the name may contain
///   `:`, so one cache's keys can never look like another's.
/// - **Values** are the JSON bytes written by [`CacheExt`](crate::CacheExt), readable with `redis-cli`.
/// - **TTL**: `SET key value PX ms`, rounded up to whole milliseconds (so a non-zero TTL never
///   becomes 0) and capped at [`MAX_TTL`]. A zero TTL stores nothing and deletes the key: nothing is
///   ever stored without an expiry.
/// - **clear()** walks this cache's keys with `SCAN MATCH` (the namespace and name are glob-escaped)
///   and removes them with `UNLINK`, 500 at a time; it never flushes the database.
/// - **Outages.** Every call has a deadline of `response_timeout`, reconnecting included; past it, or
///   as soon as the connection is refused, the call returns [`CacheError::Unavailable`]. The
///   connection manager reconnects in the background, and the first call after Redis is back
///   succeeds. A call that finds the connection broken retries once on a fresh connection within its
///   deadline.
/// - **Start.** [`new`](Self::new) does not fail when Redis is unreachable: it logs a warning and
///   returns a cache whose calls fail with `Unavailable` until Redis answers. Use [`ping`](Self::ping)
///   as a readiness check. Configuration errors (bad name, zero timeout, `rediss://`) do fail.
/// - **Stats**: hits, misses, sets and errors are counted here; Redis evicts on its own, so
///   `evictions` is 0, and `entries`/`bytes` are `None` (counting them would need a `SCAN`).
///
/// The password never reaches a log, an error or `Debug` output.
pub struct RedisCache {
    core: CacheCore,
    conn: RwLock<Connection>,
    client: redis::Client,
    manager_config: ConnectionManagerConfig,
    url: RedisUrl,
    namespace: String,
    prefix: String,
    pattern: String,
    connect_timeout: Duration,
    response_timeout: Duration,
}

/// The connection manager in use, and how many times it was replaced.
struct Connection {
    generation: u64,
    manager: ConnectionManager,
}

/// Keys removed per `UNLINK` by [`RedisCache`]'s `clear()` (and the `COUNT` hint of its `SCAN`).
const CLEAR_BATCH: usize = 500;

impl RedisCache {
    /// A cache called `name` in Redis. See the type's documentation for what happens when Redis is
    /// unreachable (the cache is returned anyway).
    pub async fn new(name: impl Into<String>, config: RedisConfig) -> Result<Self, CacheError> {
        let name = name.into();
        let RedisConfig {
            url,
            namespace,
            connect_timeout,
            response_timeout,
        } = config;
        validate_name("cache name", &name, false)?;
        validate_name("namespace", &namespace, false)?;
        if connect_timeout.is_zero() || response_timeout.is_zero() {
            return Err(CacheError::Config(
                "the Redis connect and response timeouts must be above zero".into(),
            ));
        }
        if url.is_tls() {
            return Err(CacheError::Config(format!(
                "{url}: rediss:// (TLS) is not supported by this build of finstage-cache; use redis:// \
                 (for example through a TLS tunnel)"
            )));
        }
        let client = redis::Client::open(url.expose_secret())
            .map_err(|e| CacheError::Config(format!("invalid Redis URL {url}: {}", url.scrub(&e.to_string()))))?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(connect_timeout))
            .set_response_timeout(Some(response_timeout))
            // One attempt per reconnection: calls must fail fast while Redis is down. The next call
            // after a failed attempt starts another, so the cache recovers as soon as Redis is back.
            .set_number_of_retries(0);
        let manager = ConnectionManager::new_lazy_with_config(client.clone(), manager_config.clone()).map_err(|e| {
            CacheError::Config(format!(
                "cannot set up the Redis connection: {}",
                url.scrub(&e.to_string())
            ))
        })?;
        let prefix = format!("{namespace}:{name}:");
        let pattern = format!("{}*", glob_escape(&prefix));
        let cache = RedisCache {
            core: CacheCore::new(name),
            conn: RwLock::new(Connection { generation: 0, manager }),
            client,
            manager_config,
            url,
            namespace,
            prefix,
            pattern,
            connect_timeout,
            response_timeout,
        };
        if let Err(error) = cache.ping().await {
            tracing::warn!(
                cache = %cache.core.name(), url = %cache.url, %error,
                "Redis is unreachable; cache calls fail until it answers"
            );
        }
        Ok(cache)
    }

    /// Checks that Redis answers (`PING`) within the response timeout: a readiness probe. Not counted
    /// in the stats.
    pub async fn ping(&self) -> Result<(), CacheError> {
        let _: String = self.call(&redis::cmd("PING")).await?;
        Ok(())
    }

    /// The prefix of this cache's keys in Redis: `{namespace}:{cache name}:`.
    pub fn key_prefix(&self) -> &str {
        &self.prefix
    }

    fn full_key(&self, key: &str) -> String {
        let mut full = String::with_capacity(self.prefix.len() + key.len());
        full.push_str(&self.prefix);
        full.push_str(key);
        full
    }

    fn connection(&self) -> (u64, ConnectionManager) {
        let conn = self.conn.read().unwrap_or_else(PoisonError::into_inner);
        (conn.generation, conn.manager.clone())
    }

    /// Replaces the connection manager that failed (unless another call already did).
    ///
    /// The manager reconnects by itself after I/O errors only: once a connection attempt has failed
    /// any other way (the server refused the credentials), it would return that failure forever.
    fn renew(&self, failed: u64) -> ConnectionManager {
        let mut conn = self.conn.write().unwrap_or_else(PoisonError::into_inner);
        if conn.generation == failed
            && let Ok(manager) =
                ConnectionManager::new_lazy_with_config(self.client.clone(), self.manager_config.clone())
        {
            conn.manager = manager;
            conn.generation += 1;
        }
        conn.manager.clone()
    }

    /// Runs one command under the call deadline, retrying once on a fresh connection if the
    /// connection turned out broken.
    async fn call<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, CacheError> {
        let attempt = async {
            let (generation, mut conn) = self.connection();
            match cmd.query_async::<T>(&mut conn).await {
                // The connection could not be set up: start from a new manager.
                Err(e) if e.kind() == ErrorKind::AuthenticationFailed => {
                    cmd.query_async::<T>(&mut self.renew(generation)).await
                }
                // The manager has started a new connection: the command did not reach a live server
                // (or its answer was lost), so sending it once more is safe for what this cache sends.
                Err(e) if e.is_io_error() || e.is_unrecoverable_error() => cmd.query_async::<T>(&mut conn).await,
                other => other,
            }
        };
        match tokio::time::timeout(self.response_timeout, attempt).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(self.unavailable(&e)),
            Err(_) => Err(CacheError::Unavailable {
                cache: self.core.name().to_owned(),
                message: format!(
                    "Redis at {} did not answer within {:?}",
                    self.url, self.response_timeout
                ),
            }),
        }
    }

    /// Like [`call`](Self::call), counting an error.
    async fn counted<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, CacheError> {
        self.call(cmd).await.inspect_err(|e| self.core.record_error(e))
    }

    fn unavailable(&self, e: &RedisError) -> CacheError {
        // I/O and server errors describe the failure; a reply of the wrong shape could quote stored
        // data, so it is only named.
        let detail = if e.kind() == ErrorKind::AuthenticationFailed {
            "authentication failed (check the user and password of the Redis URL)".to_owned()
        } else if e.is_io_error() || e.code().is_some() {
            self.url.scrub(&e.to_string())
        } else {
            format!("unexpected reply ({:?})", e.kind())
        };
        CacheError::Unavailable {
            cache: self.core.name().to_owned(),
            message: format!("Redis at {}: {detail}", self.url),
        }
    }

    fn check_key(&self, key: &str) -> Result<(), CacheError> {
        validate_key(key).inspect_err(|e| self.core.record_error(e))
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        self.check_key(key)?;
        let value: Option<Bytes> = self.counted(redis::cmd("GET").arg(self.full_key(key))).await?;
        if value.is_some() {
            self.core.record_hit();
        } else {
            self.core.record_miss();
        }
        Ok(value)
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), CacheError> {
        self.check_key(key)?;
        if ttl.is_zero() {
            let _: i64 = self.counted(redis::cmd("DEL").arg(self.full_key(key))).await?;
            return Ok(());
        }
        let ms = ttl.min(MAX_TTL).as_nanos().div_ceil(1_000_000);
        let ms = u64::try_from(ms).unwrap_or(u64::MAX);
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.full_key(key)).arg(value.as_ref()).arg("PX").arg(ms);
        let _: () = self.counted(&cmd).await?;
        self.core.record_set();
        Ok(())
    }

    async fn remove(&self, key: &str) -> Result<bool, CacheError> {
        self.check_key(key)?;
        let removed: i64 = self.counted(redis::cmd("DEL").arg(self.full_key(key))).await?;
        Ok(removed > 0)
    }

    async fn clear_keys(&self) -> Result<(), CacheError> {
        let mut cursor: u64 = 0;
        loop {
            let mut scan = redis::cmd("SCAN");
            scan.arg(cursor)
                .arg("MATCH")
                .arg(&self.pattern)
                .arg("COUNT")
                .arg(CLEAR_BATCH);
            let (next, keys): (u64, Vec<Vec<u8>>) = self.counted(&scan).await?;
            for batch in keys.chunks(CLEAR_BATCH) {
                let _: i64 = self.counted(redis::cmd("UNLINK").arg(batch)).await?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }
}

impl Cache for RedisCache {
    fn name(&self) -> &str {
        self.core.name()
    }

    fn get_bytes<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Bytes>, CacheError>> {
        Box::pin(self.get(key))
    }

    fn set_bytes<'a>(&'a self, key: &'a str, value: Bytes, ttl: Duration) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(self.set(key, value, ttl))
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool, CacheError>> {
        Box::pin(self.remove(key))
    }

    fn clear(&self) -> BoxFuture<'_, Result<(), CacheError>> {
        Box::pin(self.clear_keys())
    }

    fn stats(&self) -> CacheStats {
        self.core.counts()
    }

    fn core(&self) -> &CacheCore {
        &self.core
    }
}

impl fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCache")
            .field("name", &self.core.name())
            .field("url", &self.url)
            .field("namespace", &self.namespace)
            .field("connect_timeout", &self.connect_timeout)
            .field("response_timeout", &self.response_timeout)
            .finish()
    }
}

/// Escapes Redis glob characters (`*`, `?`, `[`, `]`, `\`) so that `s` matches only itself.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_escape_escapes_every_special_character() {
        assert_eq!(glob_escape("ns*:a?[b]\\:"), "ns\\*:a\\?\\[b\\]\\\\:");
        assert_eq!(glob_escape("plain:name:"), "plain:name:");
    }
}
