//! The in-process backend: sharded LRU maps bounded by entries and by approximate bytes, with a TTL
//! per entry.

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use lru::LruCache;
use tokio::time::Instant;

use crate::cache::{Cache, MAX_TTL};
use crate::core::{CacheCore, CacheStats};
use crate::error::CacheError;
use crate::key::{key_hash, validate_key, validate_name};

/// Fixed cost charged per entry on top of its key and value lengths, in bytes: the LRU node (key
/// pointer and length, `Bytes` handle, expiry, list links), its hash-table slot and the allocator's
/// headers, rounded up.
pub const ENTRY_OVERHEAD: usize = 128;

/// Bounds and sharding of a [`MemoryCache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryConfig {
    /// Most entries held (expired entries count until they are removed).
    pub max_entries: usize,
    /// Most approximate bytes held: the sum over entries of key length + value length +
    /// [`ENTRY_OVERHEAD`].
    pub max_bytes: usize,
    /// Number of independently locked shards (keys are spread by hash). Each shard gets an equal share
    /// of both bounds; the count is lowered to `max_entries` if it is larger.
    pub shards: usize,
}

impl Default for MemoryConfig {
    /// 100,000 entries, 64 MiB, [`default_shards`] shards.
    fn default() -> Self {
        MemoryConfig {
            max_entries: 100_000,
            max_bytes: 64 << 20,
            shards: default_shards(),
        }
    }
}

/// The default shard count: four per available core, rounded up to a power of two, between 4 and
/// 64 (8 on a two-core machine). On two threads hammering one cache, one shard loses about half its
/// throughput to lock contention while eight shards scale; see `docs/PERFORMANCE.md`.
pub fn default_shards() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    (cores * 4).next_power_of_two().clamp(4, 64)
}

/// An in-process [`Cache`]: `shards` LRU maps, each behind its own `std::sync::Mutex` (held for a
/// map operation only, never across an `.await`).
///
/// - **Bounds.** Each shard holds at most its share of `max_entries` and of `max_bytes`. When a set
///   exceeds either, the shard's least recently used entries are evicted (counted as evictions, or as
///   expirations if they had already expired). A value larger than a shard's byte share is not
///   stored (counted in `finstage_cache_rejected_total`), and the key's previous value is removed.
/// - **TTL.** Every entry expires after its TTL, measured with `tokio::time::Instant` (so tests can
///   pause and advance the clock). A lookup that finds an expired entry removes it and counts a miss
///   (and an expiration), not an eviction. Expired entries nobody looks up stay until evicted,
///   cleared or removed by [`purge_expired`](Self::purge_expired).
/// - **Counters** live in each shard and are updated under the shard's lock (no shared atomic on the
///   hot path); [`stats`](Cache::stats) adds them up. Entries and bytes also go to the
///   `finstage_cache_entries` and `finstage_cache_bytes` gauges.
///
/// The trait's futures are ready at once; [`lookup`](Self::lookup), [`insert`](Self::insert) and
/// [`remove`](Self::remove) are the same calls without a future.
pub struct MemoryCache {
    core: CacheCore,
    shards: Box<[Shard]>,
}

/// One shard, on its own cache lines so that two cores locking two shards do not share a line.
#[repr(align(128))]
struct Shard(Mutex<ShardState>);

struct ShardState {
    map: LruCache<Box<str>, Entry>,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
    hits: u64,
    misses: u64,
    sets: u64,
    evictions: u64,
}

struct Entry {
    value: Bytes,
    expires_at: Instant,
}

fn entry_size(key: &str, value: &Bytes) -> usize {
    key.len() + value.len() + ENTRY_OVERHEAD
}

/// What an operation did to a shard, applied to the metrics after the lock is released.
#[derive(Default)]
struct Effects {
    entries: i64,
    bytes: i64,
    evictions: u64,
    expirations: u64,
    rejected: u64,
}

impl ShardState {
    /// Removes `key` if present, recording the change.
    fn take(&mut self, key: &str, fx: &mut Effects) -> Option<Entry> {
        let entry = self.map.pop(key)?;
        self.forget(key, &entry, fx);
        Some(entry)
    }

    fn forget(&mut self, key: &str, entry: &Entry, fx: &mut Effects) {
        let size = entry_size(key, &entry.value);
        self.bytes -= size;
        fx.entries -= 1;
        fx.bytes -= size as i64;
    }

    /// Evicts least recently used entries until both bounds hold.
    fn shrink(&mut self, now: Instant, fx: &mut Effects) {
        while self.map.len() > self.max_entries || self.bytes > self.max_bytes {
            let Some((key, entry)) = self.map.pop_lru() else { break };
            self.forget(&key, &entry, fx);
            if entry.expires_at <= now {
                fx.expirations += 1;
            } else {
                fx.evictions += 1;
                self.evictions += 1;
            }
        }
    }
}

impl MemoryCache {
    /// A cache called `name` (the `cache` label of its metrics; give each cache its own name).
    ///
    /// Errors with [`CacheError::Config`] if a bound or the shard count is zero, if a shard's byte
    /// share could not hold a single entry ([`ENTRY_OVERHEAD`] bytes plus key and value), or if the
    /// name is empty or contains whitespace or control characters.
    pub fn new(name: impl Into<String>, config: MemoryConfig) -> Result<Self, CacheError> {
        let name = name.into();
        validate_name("cache name", &name, true)?;
        let MemoryConfig {
            max_entries,
            max_bytes,
            shards,
        } = config;
        if max_entries == 0 {
            return Err(CacheError::Config("max_entries must be at least 1".into()));
        }
        if max_bytes == 0 {
            return Err(CacheError::Config("max_bytes must be at least 1".into()));
        }
        if shards == 0 {
            return Err(CacheError::Config("shards must be at least 1".into()));
        }
        let shards = shards.min(max_entries);
        if max_bytes / shards <= ENTRY_OVERHEAD {
            return Err(CacheError::Config(format!(
                "max_bytes {max_bytes} gives each of the {shards} shards {} bytes, not enough for one entry \
                 ({ENTRY_OVERHEAD} bytes of overhead plus key and value): raise max_bytes or lower shards",
                max_bytes / shards
            )));
        }
        // Spread both bounds so that the shares add up to exactly the configured bounds.
        let share = |total: usize, i: usize| total / shards + usize::from(i < total % shards);
        let shards = (0..shards)
            .map(|i| {
                Shard(Mutex::new(ShardState {
                    map: LruCache::unbounded(),
                    bytes: 0,
                    max_entries: share(max_entries, i),
                    max_bytes: share(max_bytes, i),
                    hits: 0,
                    misses: 0,
                    sets: 0,
                    evictions: 0,
                }))
            })
            .collect();
        Ok(MemoryCache {
            core: CacheCore::new(name),
            shards,
        })
    }

    /// The number of shards in use.
    pub fn shards(&self) -> usize {
        self.shards.len()
    }

    fn shard(&self, key: &str) -> MutexGuard<'_, ShardState> {
        // Multiply-shift maps the hash's top 32 bits onto 0..len without a division.
        let index = ((key_hash(key.as_bytes()) >> 32) * self.shards.len() as u64) >> 32;
        let shard = &self.shards[index as usize];
        shard.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn check_key(&self, key: &str) -> Result<(), CacheError> {
        validate_key(key).inspect_err(|e| self.core.record_error(e))
    }

    fn apply(&self, fx: &Effects) {
        let m = &self.core.metrics;
        m.resize(fx.entries, fx.bytes);
        if fx.evictions > 0 {
            m.evictions.increment(fx.evictions);
        }
        if fx.expirations > 0 {
            m.expirations.increment(fx.expirations);
        }
        if fx.rejected > 0 {
            m.rejected.increment(fx.rejected);
        }
    }

    /// [`Cache::get_bytes`] without the future.
    pub fn lookup(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        self.check_key(key)?;
        let now = Instant::now();
        let mut fx = Effects::default();
        let found = {
            let mut guard = self.shard(key);
            let shard = &mut *guard;
            match shard.map.get(key) {
                Some(entry) if entry.expires_at > now => {
                    let value = entry.value.clone();
                    shard.hits += 1;
                    Some(value)
                }
                Some(_) => {
                    shard.take(key, &mut fx);
                    fx.expirations += 1;
                    shard.misses += 1;
                    None
                }
                None => {
                    shard.misses += 1;
                    None
                }
            }
        };
        let m = &self.core.metrics;
        if found.is_some() {
            m.hits.increment(1);
        } else {
            m.misses.increment(1);
            if fx.expirations > 0 {
                self.apply(&fx);
            }
        }
        Ok(found)
    }

    /// [`Cache::set_bytes`] without the future.
    pub fn insert(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), CacheError> {
        self.check_key(key)?;
        let now = Instant::now();
        let size = entry_size(key, &value);
        let mut fx = Effects::default();
        let stored = {
            let mut guard = self.shard(key);
            let shard = &mut *guard;
            let expires_at = now.checked_add(ttl.min(MAX_TTL));
            match expires_at {
                Some(expires_at) if !ttl.is_zero() && size <= shard.max_bytes => {
                    if let Some(old) = shard.map.put(key.into(), Entry { value, expires_at }) {
                        let old_size = entry_size(key, &old.value);
                        shard.bytes -= old_size;
                        fx.entries -= 1;
                        fx.bytes -= old_size as i64;
                    }
                    shard.bytes += size;
                    fx.entries += 1;
                    fx.bytes += size as i64;
                    shard.sets += 1;
                    shard.shrink(now, &mut fx);
                    true
                }
                _ => {
                    // Zero TTL (expires at once) or too large: the previous value must not survive.
                    shard.take(key, &mut fx);
                    if !ttl.is_zero() {
                        fx.rejected += 1;
                    }
                    false
                }
            }
        };
        if stored {
            self.core.metrics.sets.increment(1);
        }
        self.apply(&fx);
        Ok(())
    }

    /// [`Cache::delete`] without the future.
    pub fn remove(&self, key: &str) -> Result<bool, CacheError> {
        self.check_key(key)?;
        let mut fx = Effects::default();
        let removed = self.shard(key).take(key, &mut fx).is_some();
        self.apply(&fx);
        Ok(removed)
    }

    /// Removes every entry (not counted as evictions).
    pub fn clear_now(&self) {
        let mut fx = Effects::default();
        for shard in &self.shards {
            let old = {
                let mut state = shard.0.lock().unwrap_or_else(PoisonError::into_inner);
                fx.entries -= state.map.len() as i64;
                fx.bytes -= state.bytes as i64;
                state.bytes = 0;
                std::mem::replace(&mut state.map, LruCache::unbounded())
            };
            drop(old); // freed outside the lock
        }
        self.apply(&fx);
    }

    /// Removes every expired entry now (counted as expirations) and returns how many there were.
    /// Lookups remove expired entries anyway; call this from a periodic job to return their memory
    /// early.
    pub fn purge_expired(&self) -> usize {
        let now = Instant::now();
        let mut fx = Effects::default();
        let mut purged = 0;
        for shard in &self.shards {
            let mut state = shard.0.lock().unwrap_or_else(PoisonError::into_inner);
            let expired: Vec<Box<str>> = state
                .map
                .iter()
                .filter(|(_, e)| e.expires_at <= now)
                .map(|(k, _)| k.clone())
                .collect();
            for key in &expired {
                state.take(key, &mut fx);
            }
            purged += expired.len();
        }
        fx.expirations = purged as u64;
        self.apply(&fx);
        purged
    }
}

impl Cache for MemoryCache {
    fn name(&self) -> &str {
        self.core.name()
    }

    fn get_bytes<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Bytes>, CacheError>> {
        Box::pin(async move { self.lookup(key) })
    }

    fn set_bytes<'a>(&'a self, key: &'a str, value: Bytes, ttl: Duration) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async move { self.insert(key, value, ttl) })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool, CacheError>> {
        Box::pin(async move { self.remove(key) })
    }

    fn clear(&self) -> BoxFuture<'_, Result<(), CacheError>> {
        Box::pin(async move {
            self.clear_now();
            Ok(())
        })
    }

    fn stats(&self) -> CacheStats {
        let mut stats = CacheStats {
            entries: Some(0),
            bytes: Some(0),
            ..self.core.counts()
        };
        let (mut entries, mut bytes) = (0, 0);
        (stats.hits, stats.misses, stats.sets, stats.evictions) = (0, 0, 0, 0);
        for shard in &self.shards {
            let state = shard.0.lock().unwrap_or_else(PoisonError::into_inner);
            stats.hits += state.hits;
            stats.misses += state.misses;
            stats.sets += state.sets;
            stats.evictions += state.evictions;
            entries += state.map.len() as u64;
            bytes += state.bytes as u64;
        }
        stats.entries = Some(entries);
        stats.bytes = Some(bytes);
        stats
    }

    fn core(&self) -> &CacheCore {
        &self.core
    }
}

impl fmt::Debug for MemoryCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryCache")
            .field("name", &self.core.name())
            .field("shards", &self.shards.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_hash_spreads_similar_keys_over_shards() {
        let shards = 8u64;
        let mut counts = [0usize; 8];
        for i in 0..8_000 {
            let key = format!("quote:SYM{i}");
            let index = ((key_hash(key.as_bytes()) >> 32) * shards) >> 32;
            counts[index as usize] += 1;
        }
        for count in counts {
            assert!((800..1_200).contains(&count), "{counts:?}");
        }
    }

    #[test]
    fn shares_add_up_to_the_bounds() {
        let cache = MemoryCache::new(
            "shares",
            MemoryConfig {
                max_entries: 10,
                max_bytes: 10_007,
                shards: 4,
            },
        )
        .unwrap();
        let (entries, bytes) = cache.shards.iter().fold((0, 0), |(e, b), s| {
            let s = s.0.lock().unwrap();
            (e + s.max_entries, b + s.max_bytes)
        });
        assert_eq!((entries, bytes), (10, 10_007));
    }
}
