//! The [`Cache`] trait (bytes, object-safe) and its typed layer [`CacheExt`] (JSON, single-flight).

use std::any::TypeId;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::core::{CacheCore, CacheStats, Shared};
use crate::error::CacheError;
use crate::single_flight::Turn;

/// A cache of byte values with a time to live, shared as `Arc<dyn Cache>`.
///
/// Implementations validate keys with [`validate_key`](crate::validate_key), never hold a lock across
/// an `.await`, count what they do in their [`CacheCore`] (or their own counters, reported by
/// [`stats`](Self::stats)), and turn every backend failure into a [`CacheError`]: a cache call never
/// panics and never hangs past the backend's timeout. The typed calls (`get`, `set`, `get_or_set`)
/// come from [`CacheExt`], implemented for every `Cache`.
pub trait Cache: Send + Sync + std::fmt::Debug + 'static {
    /// The cache's name (the `cache` label of its metrics).
    fn name(&self) -> &str;

    /// The stored bytes for `key`, or `None` when absent or expired (a miss).
    fn get_bytes<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Bytes>, CacheError>>;

    /// Stores `value` under `key` for `ttl`, replacing any previous value. A zero `ttl` stores nothing
    /// and removes the previous value (as if it expired at once); a `ttl` above [`MAX_TTL`] is
    /// shortened to it.
    fn set_bytes<'a>(&'a self, key: &'a str, value: Bytes, ttl: Duration) -> BoxFuture<'a, Result<(), CacheError>>;

    /// Removes `key`; `true` if a value was there.
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool, CacheError>>;

    /// Removes every entry of this cache (and only this cache's, even when it shares a Redis server).
    fn clear(&self) -> BoxFuture<'_, Result<(), CacheError>>;

    /// The counters and sizes now.
    fn stats(&self) -> CacheStats;

    /// The shared machinery: counters, metric handles and the single-flight state of `get_or_set`.
    fn core(&self) -> &CacheCore;
}

/// The longest time to live a value gets (one year); longer TTLs are shortened to it.
pub const MAX_TTL: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// Typed calls on any [`Cache`]: values are stored as JSON (see the crate documentation for why and
/// what happens when a stored value no longer decodes).
///
/// Implemented for every `C: Cache + ?Sized`, so it works on concrete caches, `dyn Cache` and
/// `Arc<dyn Cache>` alike.
pub trait CacheExt: Cache {
    /// The value stored under `key`, decoded from JSON. A value that does not decode as `V` is
    /// [`CacheError::Decode`] (counted; the entry is left alone).
    fn get<V: DeserializeOwned>(&self, key: &str) -> impl Future<Output = Result<Option<V>, CacheError>> + Send {
        async move {
            let Some(bytes) = self.get_bytes(key).await? else {
                return Ok(None);
            };
            decode(self.core(), key, &bytes).map(Some)
        }
    }

    /// Stores `value` as JSON under `key` for `ttl` (see [`Cache::set_bytes`] for zero and huge TTLs).
    fn set<V: Serialize + ?Sized + Sync>(
        &self,
        key: &str,
        value: &V,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), CacheError>> + Send {
        async move {
            let bytes = encode(self.core(), key, value)?;
            self.set_bytes(key, bytes, ttl).await
        }
    }

    /// The cached value for `key`, or else the loader's, which is then stored for `ttl`.
    ///
    /// Concurrent misses on one key are coalesced: one caller runs its loader and every other waits
    /// for that result (a loader error reaches every waiter and is not cached). If the running caller
    /// is cancelled, a waiter takes over with its own loader. A caller whose miss raced with the end
    /// of another caller's load reads the cache again instead of loading a second time (that second
    /// read counts as a lookup in the stats).
    ///
    /// Never fails because of the cache: if the backend errors (Redis down), the key is invalid, or a
    /// stored value no longer decodes (then it is deleted), the loader runs (still single-flighted)
    /// and its value is returned; the cache error is counted and logged (key, never the value).
    /// Returns only the loader's error.
    fn get_or_set<V, E, F, Fut>(&self, key: &str, ttl: Duration, loader: F) -> impl Future<Output = Result<V, E>> + Send
    where
        V: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        E: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut + Send,
        Fut: Future<Output = Result<V, E>> + Send,
    {
        async move {
            let core = self.core();
            let completions = core.completions(key);
            let seen = completions.load(Ordering::Acquire);
            match self.get_bytes(key).await {
                Ok(Some(bytes)) => match decode::<V>(core, key, &bytes) {
                    Ok(value) => return Ok(value),
                    Err(error) => {
                        core.log_swallowed("get", key, &error);
                        // A value of an older shape: drop it so that the reload replaces it.
                        if let Err(error) = self.delete(key).await {
                            core.log_swallowed("delete", key, &error);
                        }
                    }
                },
                Ok(None) => {}
                Err(error) => core.log_swallowed("get", key, &error),
            }

            // The flight key includes the result type, so two callers asking for different types
            // under one key never share a result.
            let flight = (TypeId::of::<Result<V, E>>(), key.to_owned());
            loop {
                match core.flights.turn(&flight) {
                    Turn::Lead(leader) => {
                        if completions.load(Ordering::Acquire) != seen
                            && let Ok(Some(bytes)) = self.get_bytes(key).await
                            && let Ok(value) = decode::<V>(core, key, &bytes)
                        {
                            // Another caller's load finished between our miss and now: use its value.
                            leader.finish(|| Arc::new(Ok::<V, E>(value.clone())) as Shared);
                            return Ok(value);
                        }
                        let result = load_and_store(self, key, ttl, loader).await;
                        if result.is_ok() {
                            // Before the flight ends, so that whoever leads next sees it.
                            completions.fetch_add(1, Ordering::Release);
                        }
                        leader.finish(|| Arc::new(result.clone()) as Shared);
                        return result;
                    }
                    Turn::Wait(waiter) => {
                        let Some(shared) = waiter.wait().await else {
                            continue; // the leader was cancelled: take over (or join the new leader)
                        };
                        if let Some(result) = shared.downcast_ref::<Result<V, E>>() {
                            core.record_coalesced();
                            return result.clone();
                        }
                        // Cannot happen (the type is part of the flight key); load rather than fail.
                        return load_and_store(self, key, ttl, loader).await;
                    }
                }
            }
        }
    }
}

impl<C: Cache + ?Sized> CacheExt for C {}

/// Runs the loader and stores its value; a failure to store is counted and logged, not returned.
async fn load_and_store<C, V, E, F, Fut>(cache: &C, key: &str, ttl: Duration, loader: F) -> Result<V, E>
where
    C: Cache + ?Sized,
    V: Serialize,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<V, E>>,
{
    let core = cache.core();
    core.record_load();
    let value = loader().await?;
    let stored = match encode(core, key, &value) {
        Ok(bytes) => cache.set_bytes(key, bytes, ttl).await,
        Err(error) => Err(error),
    };
    if let Err(error) = stored {
        core.log_swallowed("set", key, &error);
    }
    Ok(value)
}

fn decode<V: DeserializeOwned>(core: &CacheCore, key: &str, bytes: &[u8]) -> Result<V, CacheError> {
    serde_json::from_slice(bytes).map_err(|e| {
        let error = CacheError::decode(key, &e);
        core.record_error(&error);
        error
    })
}

fn encode<V: Serialize + ?Sized>(core: &CacheCore, key: &str, value: &V) -> Result<Bytes, CacheError> {
    match serde_json::to_vec(value) {
        Ok(json) => Ok(Bytes::from(json)),
        Err(e) => {
            let error = CacheError::encode(key, &e);
            core.record_error(&error);
            Err(error)
        }
    }
}
