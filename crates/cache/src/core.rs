//! What every backend shares: its name, counters, metric handles, single-flight state and the
//! rate limit on warnings.

use std::any::{Any, TypeId};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use metrics::{Counter, Gauge};

use crate::error::{CacheError, ERROR_KINDS};
use crate::single_flight::SingleFlight;

/// A snapshot of one cache's counters.
///
/// Counters count since the cache was built. `entries` and `bytes` are what the backend holds now;
/// a backend that cannot know them cheaply (Redis) reports `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// The cache's name (the `cache` label of its metrics).
    pub name: String,
    /// Lookups that found a live value.
    pub hits: u64,
    /// Lookups that found nothing, or only an expired value.
    pub misses: u64,
    /// Values stored.
    pub sets: u64,
    /// Live values removed to make room (memory backend; Redis evicts on its own and reports 0).
    pub evictions: u64,
    /// Errors of any kind (see `finstage_cache_errors_total{kind}` for the split).
    pub errors: u64,
    /// Entries held now (memory: including expired entries not yet removed).
    pub entries: Option<u64>,
    /// Approximate bytes held now (see the memory backend for the formula).
    pub bytes: Option<u64>,
}

impl CacheStats {
    /// `hits / (hits + misses)`, or 0.0 when there has been no lookup.
    pub fn hit_rate(&self) -> f64 {
        let lookups = self.hits + self.misses;
        if lookups == 0 {
            0.0
        } else {
            self.hits as f64 / lookups as f64
        }
    }
}

/// A loader's result shared with the callers that waited for it (type-erased, since one cache holds
/// values of many types).
pub(crate) type Shared = Arc<dyn Any + Send + Sync>;

/// The machinery every [`Cache`](crate::Cache) carries: name, counters, metric handles and the
/// single-flight state used by [`CacheExt::get_or_set`](crate::CacheExt::get_or_set).
///
/// A backend builds one with [`CacheCore::new`] and returns it from [`Cache::core`](crate::Cache::core).
/// The metric handles are registered with the recorder that is current when `new` runs (the global
/// one, or a local one installed with `metrics::with_local_recorder`), once: no registry lookup per
/// call.
pub struct CacheCore {
    name: String,
    counts: Counts,
    pub(crate) metrics: Instruments,
    pub(crate) flights: SingleFlight<(TypeId, String), Shared>,
    /// Successful `get_or_set` loads, counted per stripe of keys (see [`CacheCore::completions`]).
    completions: [AtomicU64; COMPLETION_STRIPES],
    warnings: WarningGate,
}

const COMPLETION_STRIPES: usize = 64;

#[derive(Default)]
struct Counts {
    hits: AtomicU64,
    misses: AtomicU64,
    sets: AtomicU64,
    evictions: AtomicU64,
    errors: AtomicU64,
    loads: AtomicU64,
    coalesced: AtomicU64,
}

/// Metric handles, created once per cache.
pub(crate) struct Instruments {
    pub(crate) hits: Counter,
    pub(crate) misses: Counter,
    pub(crate) sets: Counter,
    pub(crate) evictions: Counter,
    pub(crate) expirations: Counter,
    pub(crate) rejected: Counter,
    pub(crate) loads: Counter,
    pub(crate) coalesced: Counter,
    pub(crate) errors: [Counter; ERROR_KINDS.len()],
    pub(crate) entries: Gauge,
    pub(crate) bytes: Gauge,
}

impl Instruments {
    fn new(name: &str) -> Self {
        describe();
        let counter = |metric: &'static str| metrics::counter!(metric, "cache" => name.to_owned());
        Instruments {
            hits: counter("finstage_cache_hits_total"),
            misses: counter("finstage_cache_misses_total"),
            sets: counter("finstage_cache_sets_total"),
            evictions: counter("finstage_cache_evictions_total"),
            expirations: counter("finstage_cache_expirations_total"),
            rejected: counter("finstage_cache_rejected_total"),
            loads: counter("finstage_cache_loads_total"),
            coalesced: counter("finstage_cache_coalesced_total"),
            errors: ERROR_KINDS.map(
                |kind| metrics::counter!("finstage_cache_errors_total", "cache" => name.to_owned(), "kind" => kind),
            ),
            entries: metrics::gauge!("finstage_cache_entries", "cache" => name.to_owned()),
            bytes: metrics::gauge!("finstage_cache_bytes", "cache" => name.to_owned()),
        }
    }

    /// Applies a change of the held entries and bytes to the gauges.
    pub(crate) fn resize(&self, entries: i64, bytes: i64) {
        adjust(&self.entries, entries);
        adjust(&self.bytes, bytes);
    }
}

fn adjust(gauge: &Gauge, delta: i64) {
    if delta > 0 {
        gauge.increment(delta as f64);
    } else if delta < 0 {
        gauge.decrement(-delta as f64);
    }
}

fn describe() {
    use metrics::{describe_counter, describe_gauge};
    describe_counter!("finstage_cache_hits_total", "Cache lookups that found a live value.");
    describe_counter!(
        "finstage_cache_misses_total",
        "Cache lookups that found nothing or an expired value."
    );
    describe_counter!("finstage_cache_sets_total", "Values stored in the cache.");
    describe_counter!(
        "finstage_cache_evictions_total",
        "Live values evicted to respect the cache's bounds."
    );
    describe_counter!(
        "finstage_cache_expirations_total",
        "Expired values removed from the memory cache."
    );
    describe_counter!(
        "finstage_cache_rejected_total",
        "Values not stored because they exceed the byte budget."
    );
    describe_counter!("finstage_cache_loads_total", "Loader calls made by get_or_set.");
    describe_counter!(
        "finstage_cache_coalesced_total",
        "get_or_set callers served by another caller's load."
    );
    describe_counter!("finstage_cache_errors_total", "Cache errors, by kind.");
    describe_gauge!("finstage_cache_entries", "Entries held by the memory cache.");
    describe_gauge!("finstage_cache_bytes", "Approximate bytes held by the memory cache.");
}

impl CacheCore {
    /// A core for the cache called `name`, with its metric handles registered now.
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        CacheCore {
            metrics: Instruments::new(&name),
            name,
            counts: Counts::default(),
            flights: SingleFlight::new(),
            completions: std::array::from_fn(|_| AtomicU64::new(0)),
            warnings: WarningGate::new(),
        }
    }

    /// The cache's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Counts a hit.
    pub fn record_hit(&self) {
        self.counts.hits.fetch_add(1, Relaxed);
        self.metrics.hits.increment(1);
    }

    /// Counts a miss.
    pub fn record_miss(&self) {
        self.counts.misses.fetch_add(1, Relaxed);
        self.metrics.misses.increment(1);
    }

    /// Counts a stored value.
    pub fn record_set(&self) {
        self.counts.sets.fetch_add(1, Relaxed);
        self.metrics.sets.increment(1);
    }

    /// Counts `n` evictions.
    pub fn record_evictions(&self, n: u64) {
        self.counts.evictions.fetch_add(n, Relaxed);
        self.metrics.evictions.increment(n);
    }

    /// Counts an error (in `errors` and in `finstage_cache_errors_total{kind}`). Every error a cache
    /// produces is counted once, where it is produced.
    pub fn record_error(&self, error: &CacheError) {
        self.counts.errors.fetch_add(1, Relaxed);
        if let Some(counter) = self.metrics.errors.get(error.kind_index()) {
            counter.increment(1);
        }
    }

    pub(crate) fn record_load(&self) {
        self.counts.loads.fetch_add(1, Relaxed);
        self.metrics.loads.increment(1);
    }

    pub(crate) fn record_coalesced(&self) {
        self.counts.coalesced.fetch_add(1, Relaxed);
        self.metrics.coalesced.increment(1);
    }

    /// The counters kept here, as [`CacheStats`] with `entries` and `bytes` unknown.
    pub fn counts(&self) -> CacheStats {
        CacheStats {
            name: self.name.clone(),
            hits: self.counts.hits.load(Relaxed),
            misses: self.counts.misses.load(Relaxed),
            sets: self.counts.sets.load(Relaxed),
            evictions: self.counts.evictions.load(Relaxed),
            errors: self.counts.errors.load(Relaxed),
            entries: None,
            bytes: None,
        }
    }

    /// Loader calls made by `get_or_set` so far.
    pub fn loads(&self) -> u64 {
        self.counts.loads.load(Relaxed)
    }

    /// `get_or_set` callers served by another caller's load so far.
    pub fn coalesced(&self) -> u64 {
        self.counts.coalesced.load(Relaxed)
    }

    /// The counter of finished loads for `key`'s stripe. A caller that missed and then becomes a
    /// leader re-reads the cache if it moved since its lookup: a load of the key may have finished
    /// (and stored its value) in between, and loading again would defeat single-flight.
    pub(crate) fn completions(&self, key: &str) -> &AtomicU64 {
        let stripe = (crate::key::key_hash(key.as_bytes()) >> 58) as usize % COMPLETION_STRIPES;
        &self.completions[stripe]
    }

    /// Number of `get_or_set` callers now waiting for another caller's load of `key`.
    pub fn waiters(&self, key: &str) -> usize {
        self.flights.waiters_where(|(_, k)| k == key)
    }

    /// Number of keys with a `get_or_set` load in flight.
    pub fn in_flight(&self) -> usize {
        self.flights.in_flight()
    }

    /// Logs an error that `get_or_set` swallowed: at `warn` at most once a second per cache (so an
    /// outage does not flood the log), at `debug` otherwise. Logs the key, never a value.
    pub(crate) fn log_swallowed(&self, op: &'static str, key: &str, error: &CacheError) {
        if self.warnings.allow() {
            tracing::warn!(cache = %self.name, op, ?key, %error, "cache call failed; serving from the loader");
        } else {
            tracing::debug!(cache = %self.name, op, ?key, %error, "cache call failed; serving from the loader");
        }
    }
}

impl fmt::Debug for CacheCore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheCore")
            .field("name", &self.name)
            .field("in_flight", &self.in_flight())
            .finish()
    }
}

/// Lets one warning through per second.
struct WarningGate {
    start: Instant,
    /// Milliseconds since `start` at which the next warning may pass, plus one (0: any time).
    next: AtomicU64,
}

impl WarningGate {
    const INTERVAL_MS: u64 = 1_000;

    fn new() -> Self {
        WarningGate {
            start: Instant::now(),
            next: AtomicU64::new(0),
        }
    }

    fn allow(&self) -> bool {
        let now = u64::try_from(self.start.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        let next = self.next.load(Relaxed);
        now >= next
            && self
                .next
                .compare_exchange(next, now.saturating_add(Self::INTERVAL_MS), Relaxed, Relaxed)
                .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hit_rate_is_zero_without_lookups() {
        let stats = CacheStats::default();
        assert_eq!(stats.hit_rate(), 0.0);
        let stats = CacheStats {
            hits: 3,
            misses: 1,
            ..CacheStats::default()
        };
        assert!((stats.hit_rate() - 0.75).abs() < 1e-12);
    }

    #[test]
    fn the_warning_gate_lets_one_through_per_interval() {
        let gate = WarningGate::new();
        assert!(gate.allow());
        assert!(!gate.allow());
        assert!(!gate.allow());
    }
}
