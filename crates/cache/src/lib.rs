//! Finstage's cache: one async [`Cache`] trait with typed, single-flight loading, an in-memory LRU
//! backend ([`MemoryCache`]) and a Redis backend ([`RedisCache`]).
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use finstage_cache::{Cache, CacheExt, MemoryCache, MemoryConfig};
//!
//! let cache: Arc<dyn Cache> = Arc::new(MemoryCache::new("quotes", MemoryConfig::default())?);
//! let price: f64 = cache
//!     .get_or_set("quote:AAPL", Duration::from_secs(5), || async { Ok::<_, String>(189.5) })
//!     .await
//!     .unwrap();
//! assert_eq!(price, 189.5);
//! assert_eq!(cache.get::<f64>("quote:AAPL").await?, Some(189.5));
//! assert_eq!(cache.stats().hits, 1);
//! # Ok::<(), finstage_cache::CacheError>(())
//! # }).unwrap();
//! ```
//!
//! # The layers
//! - [`Cache`] stores bytes: `get_bytes`, `set_bytes` (with a TTL), `delete`, `clear`, `stats`.
//!   It is object-safe and used as `Arc<dyn Cache>`.
//! - [`CacheExt`], implemented for every cache, adds typed `get`, `set` and `get_or_set`.
//!   `get_or_set` coalesces concurrent misses on a key into one loader call ([`SingleFlight`]), and
//!   never fails because of the cache: when the backend is down, the loader's value is returned.
//! - [`SingleFlight`] is also usable on its own, to coalesce any concurrent calls by key.
//!
//! # Encoding
//! Typed values are stored as **JSON** (`serde_json`). JSON is readable with `redis-cli GET`, is
//! stable across Rust and crate versions, and lets a type gain optional fields without invalidating
//! what is stored. When a type changes so that a stored value no longer decodes:
//! - `get` returns [`CacheError::Decode`] (counted as an error of kind `decode`; the entry stays);
//! - `get_or_set` counts and logs the decode error, deletes the entry and runs the loader, whose value
//!   replaces it: a stale shape costs one reload, never a failure.
//!
//! Decode errors name the key and the position in the JSON, never the content.
//!
//! # Keys and TTLs
//! Keys are 1 to [`MAX_KEY_LEN`] (512) bytes without control characters or whitespace; anything else
//! is [`CacheError::InvalidKey`], the same on both backends. Every value has a TTL: a zero TTL stores
//! nothing and removes the previous value (as if it expired at once), and TTLs above [`MAX_TTL`]
//! (one year) are shortened to it. Nothing is ever stored without an expiry.
//!
//! # Stats and metrics
//! [`Cache::stats`] returns a [`CacheStats`] (hits, misses, sets, evictions, errors, hit rate, entries,
//! bytes). The same figures go to the `metrics` facade with a `cache` label, through handles created
//! once when the cache is built:
//!
//! | metric | kind | meaning |
//! |---|---|---|
//! | `finstage_cache_hits_total` | counter | lookups that found a live value |
//! | `finstage_cache_misses_total` | counter | lookups that found nothing or an expired value |
//! | `finstage_cache_sets_total` | counter | values stored |
//! | `finstage_cache_evictions_total` | counter | live values evicted to respect the bounds (memory) |
//! | `finstage_cache_expirations_total` | counter | expired values removed (memory) |
//! | `finstage_cache_rejected_total` | counter | values too large for the byte budget, not stored (memory) |
//! | `finstage_cache_errors_total{kind}` | counter | errors: `unavailable`, `encode`, `decode`, `invalid_key`, `config` |
//! | `finstage_cache_loads_total` | counter | loader calls made by `get_or_set` |
//! | `finstage_cache_coalesced_total` | counter | `get_or_set` callers served by another caller's load |
//! | `finstage_cache_entries` | gauge | entries held (memory) |
//! | `finstage_cache_bytes` | gauge | approximate bytes held (memory) |
//!
//! Give every cache its own name: two caches with one name share their metric series.

mod cache;
mod core;
mod error;
mod key;
mod memory;
mod redis;
mod single_flight;

pub use bytes::Bytes;
pub use futures_util::future::BoxFuture;

pub use crate::cache::{Cache, CacheExt, MAX_TTL};
pub use crate::core::{CacheCore, CacheStats};
pub use crate::error::{CacheError, MAX_KEY_IN_ERROR};
pub use crate::key::{MAX_KEY_LEN, validate_key};
pub use crate::memory::{ENTRY_OVERHEAD, MemoryCache, MemoryConfig, default_shards};
pub use crate::redis::{RedisCache, RedisConfig, RedisUrl};
pub use crate::single_flight::SingleFlight;
