//! Memory backend specifics: bounds, LRU order, eviction and expiry accounting, config errors, a
//! model-based property test.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use finstage_cache::{Bytes, Cache, CacheError, ENTRY_OVERHEAD, MemoryCache, MemoryConfig, default_shards};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

const TTL: Duration = Duration::from_secs(60);

fn one_shard(max_entries: usize, max_bytes: usize) -> MemoryCache {
    MemoryCache::new(
        "bounded",
        MemoryConfig {
            max_entries,
            max_bytes,
            shards: 1,
        },
    )
    .unwrap()
}

fn value(len: usize) -> Bytes {
    Bytes::from(vec![b'v'; len])
}

fn present(cache: &MemoryCache, keys: &[&str]) -> Vec<String> {
    keys.iter()
        .filter(|k| cache.lookup(k).unwrap().is_some())
        .map(|k| (*k).to_owned())
        .collect()
}

/// Every counter's value. (Taking a snapshot resets the debugging recorder's values: take one.)
fn counters(snapshotter: &Snapshotter) -> HashMap<String, u64> {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter_map(|(key, _, _, value)| match value {
            DebugValue::Counter(n) => Some((key.key().name().to_owned(), n)),
            _ => None,
        })
        .collect()
}

#[test]
fn the_entry_bound_evicts_the_least_recently_used_first() {
    let cache = one_shard(3, 1 << 20);
    for key in ["a", "b", "c"] {
        cache.insert(key, value(1), TTL).unwrap();
    }
    cache.lookup("a").unwrap(); // a is now the most recently used; b the least
    cache.insert("d", value(1), TTL).unwrap();
    assert_eq!(cache.lookup("b").unwrap(), None);
    let stats = cache.stats();
    assert_eq!((stats.evictions, stats.entries), (1, Some(3)));
    cache.insert("e", value(1), TTL).unwrap(); // c is now the least recently used
    assert_eq!(present(&cache, &["a", "b", "c", "d", "e"]), ["a", "d", "e"]);
    assert_eq!(cache.stats().evictions, 2);
}

#[test]
fn the_byte_bound_evicts_the_least_recently_used_first() {
    let size = 2 + 10 + ENTRY_OVERHEAD; // key "k1" and a 10-byte value
    let cache = one_shard(1_000, 3 * size);
    for key in ["k1", "k2", "k3"] {
        cache.insert(key, value(10), TTL).unwrap();
    }
    assert_eq!(cache.stats().bytes, Some(3 * size as u64));
    cache.lookup("k1").unwrap();
    cache.insert("k4", value(10), TTL).unwrap();
    assert_eq!(present(&cache, &["k1", "k2", "k3", "k4"]), ["k1", "k3", "k4"]);
    assert_eq!(
        (cache.stats().evictions, cache.stats().bytes),
        (1, Some(3 * size as u64))
    );

    // One big value makes room by evicting as many as needed, oldest first.
    cache.insert("k5", value(10 + size), TTL).unwrap();
    assert_eq!(present(&cache, &["k1", "k3", "k4", "k5"]), ["k4", "k5"]);
    let stats = cache.stats();
    assert_eq!(
        (stats.evictions, stats.entries, stats.bytes),
        (3, Some(2), Some(3 * size as u64))
    );

    // Growing a value in place is accounted for too: k4 becomes the most recently used and k5, now
    // the least, has to go.
    cache.insert("k4", value(10 + size), TTL).unwrap();
    let stats = cache.stats();
    assert_eq!(
        (stats.evictions, stats.entries, stats.bytes),
        (4, Some(1), Some(2 * size as u64))
    );
    assert_eq!(present(&cache, &["k4", "k5"]), ["k4"]);
}

#[test]
fn a_value_larger_than_the_budget_is_not_stored_and_is_counted() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let cache = metrics::with_local_recorder(&recorder, || {
        MemoryCache::new(
            "small",
            MemoryConfig {
                max_entries: 100,
                max_bytes: 4_096,
                shards: 2,
            },
        )
        .unwrap()
    });
    cache.insert("k", value(10), TTL).unwrap();
    cache.insert("other", value(10), TTL).unwrap();
    // A shard's share is 2,048 bytes: 2,000 bytes of value plus the overhead does not fit.
    cache.insert("k", value(2_000), TTL).unwrap();
    assert_eq!(
        cache.lookup("k").unwrap(),
        None,
        "the old value must not survive a rejected set"
    );
    assert!(
        cache.lookup("other").unwrap().is_some(),
        "nothing else is evicted for it"
    );
    let stats = cache.stats();
    assert_eq!((stats.sets, stats.evictions, stats.entries), (2, 0, Some(1)));
    assert_eq!(counters(&snapshotter)["finstage_cache_rejected_total"], 1);
    // The largest value that fits is stored.
    let fits = 2_048 - ENTRY_OVERHEAD - 1;
    cache.insert("k", value(fits), TTL).unwrap();
    assert_eq!(cache.lookup("k").unwrap().map(|v| v.len()), Some(fits));
}

#[tokio::test(start_paused = true)]
async fn an_expired_hit_is_a_miss_not_an_eviction() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let cache = metrics::with_local_recorder(&recorder, || one_shard(10, 1 << 20));
    cache.insert("k", value(3), Duration::from_secs(1)).unwrap();
    tokio::time::advance(Duration::from_millis(999)).await;
    assert!(cache.lookup("k").unwrap().is_some());
    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(cache.lookup("k").unwrap(), None);
    let stats = cache.stats();
    assert_eq!(
        (stats.hits, stats.misses, stats.evictions, stats.entries, stats.bytes),
        (1, 1, 0, Some(0), Some(0))
    );
    let counters = counters(&snapshotter);
    assert_eq!(counters["finstage_cache_expirations_total"], 1);
    assert_eq!(counters["finstage_cache_evictions_total"], 0);
}

#[tokio::test(start_paused = true)]
async fn expired_entries_pushed_out_by_the_bound_count_as_expirations() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let cache = metrics::with_local_recorder(&recorder, || one_shard(2, 1 << 20));
    cache.insert("old", value(1), Duration::from_secs(1)).unwrap();
    cache.insert("live", value(1), TTL).unwrap();
    tokio::time::advance(Duration::from_secs(2)).await;
    cache.insert("new", value(1), TTL).unwrap(); // pushes "old" out: it had expired
    cache.insert("newer", value(1), TTL).unwrap(); // pushes "live" out: a real eviction
    assert_eq!(cache.stats().evictions, 1);
    let counters = counters(&snapshotter);
    assert_eq!(counters["finstage_cache_evictions_total"], 1);
    assert_eq!(counters["finstage_cache_expirations_total"], 1);
}

#[tokio::test(start_paused = true)]
async fn purge_expired_removes_only_expired_entries() {
    let cache = MemoryCache::new(
        "purge",
        MemoryConfig {
            max_entries: 100,
            max_bytes: 1 << 20,
            shards: 4,
        },
    )
    .unwrap();
    for i in 0..10 {
        let ttl = if i % 2 == 0 { Duration::from_secs(1) } else { TTL };
        cache.insert(&format!("k{i}"), value(1), ttl).unwrap();
    }
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(cache.purge_expired(), 5);
    assert_eq!(cache.stats().entries, Some(5));
    assert_eq!(cache.stats().bytes, Some(5 * (2 + 1 + ENTRY_OVERHEAD) as u64));
    assert_eq!(cache.purge_expired(), 0);
    assert!(cache.lookup("k1").unwrap().is_some());
}

#[test]
fn bad_configurations_are_config_errors() {
    let ok = MemoryConfig {
        max_entries: 10,
        max_bytes: 1 << 20,
        shards: 2,
    };
    let cases = [
        ("", ok),
        ("name with space", ok),
        ("zero-entries", MemoryConfig { max_entries: 0, ..ok }),
        ("zero-bytes", MemoryConfig { max_bytes: 0, ..ok }),
        ("zero-shards", MemoryConfig { shards: 0, ..ok }),
        (
            "tiny-share",
            MemoryConfig {
                max_bytes: 2 * ENTRY_OVERHEAD,
                ..ok
            },
        ),
    ];
    for (name, config) in cases {
        match MemoryCache::new(name, config) {
            Err(CacheError::Config(message)) => assert!(!message.is_empty()),
            other => panic!("{name:?} {config:?}: expected a config error, got {other:?}"),
        }
    }
}

#[test]
fn more_shards_than_entries_are_reduced() {
    let cache = MemoryCache::new(
        "few",
        MemoryConfig {
            max_entries: 2,
            max_bytes: 1 << 20,
            shards: 16,
        },
    )
    .unwrap();
    assert_eq!(cache.shards(), 2);
    for i in 0..10 {
        cache.insert(&format!("k{i}"), value(1), TTL).unwrap();
    }
    assert!(cache.stats().entries.unwrap() <= 2);
}

#[test]
fn the_default_configuration_is_sharded_by_the_machine() {
    let config = MemoryConfig::default();
    assert_eq!((config.max_entries, config.max_bytes), (100_000, 64 << 20));
    assert_eq!(config.shards, default_shards());
    assert!(config.shards.is_power_of_two() && (4..=64).contains(&config.shards));
    let cores = std::thread::available_parallelism().unwrap().get();
    assert!(
        config.shards >= (4 * cores).min(64),
        "{} shards for {cores} cores",
        config.shards
    );
    assert_eq!(MemoryCache::new("default", config).unwrap().shards(), config.shards);
}

#[test]
fn two_threads_keep_the_bounds_and_the_counts() {
    let config = MemoryConfig {
        max_entries: 500,
        max_bytes: 64 << 10,
        shards: 8,
    };
    let cache = Arc::new(MemoryCache::new("threads", config).unwrap());
    const OPS: usize = 20_000;
    std::thread::scope(|s| {
        for t in 0..2 {
            let cache = &cache;
            s.spawn(move || {
                for i in 0..OPS {
                    let key = format!("k{}", (i * 7 + t * 13) % 2_000);
                    if i % 4 == 0 {
                        cache.insert(&key, value(i % 300), TTL).unwrap();
                    } else {
                        let _ = cache.lookup(&key).unwrap();
                    }
                }
            });
        }
    });
    let stats = cache.stats();
    assert!(stats.entries.unwrap() <= 500, "{stats:?}");
    assert!(stats.bytes.unwrap() <= 64 << 10, "{stats:?}");
    assert_eq!(stats.hits + stats.misses, 2 * (OPS - OPS / 4) as u64);
    assert_eq!(stats.sets, 2 * (OPS / 4) as u64);
    assert!(stats.evictions > 0);
}

#[test]
fn debug_output_names_the_cache() {
    let cache = one_shard(1, 1 << 20);
    assert_eq!(format!("{cache:?}"), "MemoryCache { name: \"bounded\", shards: 1 }");
}

mod model {
    //! Random operation sequences against a model.

    use proptest::prelude::*;
    use tokio::time::Instant;

    use super::*;

    #[derive(Debug, Clone)]
    enum Op {
        Set { key: u8, len: usize, ttl_secs: u64 },
        Get { key: u8 },
        Delete { key: u8 },
        Advance { secs: u64 },
        Clear,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u8..24, 0usize..300, 0u64..20).prop_map(|(key, len, ttl_secs)| Op::Set { key, len, ttl_secs }),
            4 => (0u8..24).prop_map(|key| Op::Get { key }),
            1 => (0u8..24).prop_map(|key| Op::Delete { key }),
            1 => (1u64..8).prop_map(|secs| Op::Advance { secs }),
            1 => Just(Op::Clear),
        ]
    }

    fn key(k: u8) -> String {
        format!("key-{k}")
    }

    /// The value stored for a set: its bytes say which set it was.
    fn payload(step: usize, len: usize) -> Bytes {
        let mut v = format!("{step}:").into_bytes();
        v.resize(v.len().max(len), b'x');
        Bytes::from(v)
    }

    fn paused_runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap()
    }

    /// An exact LRU with both bounds, as documented: the specification of a one-shard cache.
    struct Lru {
        order: Vec<(String, Bytes, Instant)>, // least recently used first
        max_entries: usize,
        max_bytes: usize,
        evictions: u64,
    }

    impl Lru {
        fn size(key: &str, value: &Bytes) -> usize {
            key.len() + value.len() + ENTRY_OVERHEAD
        }
        fn bytes(&self) -> usize {
            self.order.iter().map(|(k, v, _)| Self::size(k, v)).sum()
        }
        fn take(&mut self, key: &str) -> Option<(String, Bytes, Instant)> {
            let i = self.order.iter().position(|(k, _, _)| k == key)?;
            Some(self.order.remove(i))
        }
        fn get(&mut self, key: &str, now: Instant) -> Option<Bytes> {
            let entry = self.take(key)?;
            if entry.2 <= now {
                return None;
            }
            let value = entry.1.clone();
            self.order.push(entry);
            Some(value)
        }
        fn set(&mut self, key: &str, value: Bytes, ttl: Duration, now: Instant) {
            self.take(key);
            if ttl.is_zero() || Self::size(key, &value) > self.max_bytes {
                return;
            }
            self.order.push((key.to_owned(), value, now + ttl));
            while self.order.len() > self.max_entries || self.bytes() > self.max_bytes {
                let (_, _, expires_at) = self.order.remove(0);
                if expires_at > now {
                    self.evictions += 1;
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        /// One shard behaves exactly like the documented LRU, evictions included.
        #[test]
        fn one_shard_is_an_exact_lru(
            ops in proptest::collection::vec(op(), 1..150),
            max_entries in 1usize..12,
            max_bytes in 600usize..3_000,
        ) {
            paused_runtime().block_on(async {
                let cache = one_shard(max_entries, max_bytes);
                let mut model = Lru { order: Vec::new(), max_entries, max_bytes, evictions: 0 };
                for (step, op) in ops.into_iter().enumerate() {
                    let now = Instant::now();
                    match op {
                        Op::Set { key: k, len, ttl_secs } => {
                            let v = payload(step, len);
                            let ttl = Duration::from_secs(ttl_secs);
                            cache.insert(&key(k), v.clone(), ttl).unwrap();
                            model.set(&key(k), v, ttl, now);
                        }
                        Op::Get { key: k } => {
                            prop_assert_eq!(cache.lookup(&key(k)).unwrap(), model.get(&key(k), now), "step {}", step);
                        }
                        Op::Delete { key: k } => {
                            prop_assert_eq!(cache.remove(&key(k)).unwrap(), model.take(&key(k)).is_some());
                        }
                        Op::Advance { secs } => tokio::time::advance(Duration::from_secs(secs)).await,
                        Op::Clear => {
                            cache.clear_now();
                            model.order.clear();
                        }
                    }
                    let stats = cache.stats();
                    prop_assert_eq!(stats.entries, Some(model.order.len() as u64));
                    prop_assert_eq!(stats.bytes, Some(model.bytes() as u64));
                    prop_assert_eq!(stats.evictions, model.evictions);
                }
                Ok(())
            })?;
        }

        /// Several shards: the bounds always hold, every value found is the last one set for its key
        /// and still live, and without evictions the cache answers exactly like a plain map.
        #[test]
        fn shards_keep_the_bounds_and_agree_with_a_map(
            ops in proptest::collection::vec(op(), 1..200),
            max_entries in 4usize..40,
            share in 500usize..2_000,
            shards in 1usize..5,
        ) {
            paused_runtime().block_on(async {
                let max_bytes = share * shards;
                let config = MemoryConfig { max_entries, max_bytes, shards };
                let cache = MemoryCache::new("model", config).unwrap();
                let share = max_bytes / cache.shards();
                let mut map: HashMap<String, (Bytes, Instant)> = HashMap::new();
                for (step, op) in ops.into_iter().enumerate() {
                    let now = Instant::now();
                    match op {
                        Op::Set { key: k, len, ttl_secs } => {
                            let v = payload(step, len);
                            let ttl = Duration::from_secs(ttl_secs);
                            cache.insert(&key(k), v.clone(), ttl).unwrap();
                            map.remove(&key(k));
                            if ttl_secs > 0 && key(k).len() + v.len() + ENTRY_OVERHEAD <= share {
                                map.insert(key(k), (v, now + ttl));
                            }
                        }
                        Op::Get { key: k } => {
                            let live = map.get(&key(k)).filter(|(_, t)| *t > now).map(|(v, _)| v.clone());
                            if live.is_none() {
                                map.remove(&key(k)); // the lookup removes an expired entry
                            }
                            match cache.lookup(&key(k)).unwrap() {
                                Some(found) => prop_assert_eq!(Some(found), live, "step {}", step),
                                None if live.is_some() => {
                                    // Only an eviction may lose a live value.
                                    prop_assert!(cache.stats().evictions > 0, "step {}: lost {} without eviction", step, key(k));
                                    map.remove(&key(k));
                                }
                                None => {}
                            }
                        }
                        Op::Delete { key: k } => {
                            let removed = cache.remove(&key(k)).unwrap();
                            match map.remove(&key(k)) {
                                // Never set, or known gone: the cache must not have it either.
                                None => prop_assert!(!removed, "step {}", step),
                                // Live: there unless evicted.
                                Some((_, t)) if t > now && cache.stats().evictions == 0 => {
                                    prop_assert!(removed, "step {}", step);
                                }
                                // Expired (may have been pushed out already) or maybe evicted.
                                Some(_) => {}
                            }
                        }
                        Op::Advance { secs } => tokio::time::advance(Duration::from_secs(secs)).await,
                        Op::Clear => {
                            cache.clear_now();
                            map.clear();
                        }
                    }
                    let stats = cache.stats();
                    prop_assert!(stats.entries.unwrap() <= max_entries as u64, "{:?}", stats);
                    prop_assert!(stats.bytes.unwrap() <= max_bytes as u64, "{:?}", stats);
                }
                Ok(())
            })?;
        }
    }
}
