//! Benchmarks of finstage-cache, each beside a baseline measured in the same run:
//!
//! - `memory_hit`: one thread, a hit in a cache of 10,000 entries (ns/op), against a bare
//!   `Mutex<HashMap>` and a bare `Mutex<lru::LruCache>`.
//! - `memory_two_threads`: two threads on one cache (ops/s) for 1 to 64 shards, all hits and 90 %
//!   hits / 10 % sets: the figures that choose the default shard count.
//! - `redis`: a GET and a SET round trip through `RedisCache`, against the bare redis-rs connection.
//! - `single_flight`: 1,000 concurrent `get_or_set` misses on one key (time until all 1,000 have the
//!   value), against cache-aside without coalescing (1,000 loader calls).
//!
//! Run: `CARGO_TARGET_DIR=/tmp/bench-target cargo bench -p finstage-cache-bench`. The Redis benchmarks
//! use `FINSTAGE_BENCH_REDIS_URL` (default `redis://127.0.0.1:6379/0`) and are skipped, with a
//! message, when it does not answer.

use std::collections::HashMap;
use std::hint::black_box;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use finstage_cache::{
    Bytes, Cache, CacheExt, MemoryCache, MemoryConfig, RedisCache, RedisConfig, SingleFlight, default_shards,
};
use futures_util::FutureExt;
use futures_util::future::join_all;

const KEYS: usize = 10_000;
const VALUE_LEN: usize = 100;
const TTL: Duration = Duration::from_secs(3_600);

/// Keys like the ones marketdata uses, in a scrambled order (so that consecutive lookups do not walk
/// memory in insertion order).
fn keys() -> Vec<String> {
    let mut keys: Vec<String> = (0..KEYS).map(|i| format!("quote:SYM{i:05}")).collect();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for i in (1..keys.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        keys.swap(i, (state % (i as u64 + 1)) as usize);
    }
    keys
}

fn value() -> Bytes {
    Bytes::from(vec![b'x'; VALUE_LEN])
}

fn memory(shards: usize) -> MemoryCache {
    let config = MemoryConfig {
        shards,
        ..MemoryConfig::default()
    };
    let cache = MemoryCache::new(format!("bench-{shards}"), config).expect("a valid configuration");
    for key in keys() {
        cache.insert(&key, value(), TTL).expect("a valid key");
    }
    cache
}

fn memory_hit(c: &mut Criterion) {
    let keys = keys();
    let mut group = c.benchmark_group("memory_hit");
    group.throughput(Throughput::Elements(1));

    let cache = memory(default_shards());
    let mut i = 0;
    group.bench_function("finstage MemoryCache::lookup", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            black_box(cache.lookup(black_box(&keys[i])).ok().flatten())
        });
    });
    // Latency: each lookup waits for the previous one (the next key depends on its result), so the
    // CPU cannot overlap their cache misses. This is the cost of one hit on a request path.
    group.bench_function("latency: finstage MemoryCache::lookup", |b| {
        b.iter(|| {
            let found = cache.lookup(&keys[i]).ok().flatten();
            i = (i + 1 + black_box(0) * found.map_or(1, |v| v.len())) % KEYS;
        });
    });
    let dyn_cache: Arc<dyn Cache> = Arc::new(memory(default_shards()));
    group.bench_function("finstage dyn Cache::get_bytes (boxed future)", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            black_box(dyn_cache.get_bytes(black_box(&keys[i])).now_or_never())
        });
    });
    let typed: Arc<dyn Cache> = Arc::new(MemoryCache::new("bench-typed", MemoryConfig::default()).expect("valid"));
    for key in &keys {
        let _ = typed.set(key, &189.25f64, TTL).now_or_never();
    }
    group.bench_function("finstage dyn CacheExt::get::<f64> (JSON decode)", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            black_box(typed.get::<f64>(black_box(&keys[i])).now_or_never())
        });
    });

    let map: Mutex<HashMap<String, Bytes>> = Mutex::new(keys.iter().map(|k| (k.clone(), value())).collect());
    group.bench_function("baseline Mutex<HashMap>::get + clone", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            black_box(
                map.lock()
                    .expect("not poisoned")
                    .get(black_box(keys[i].as_str()))
                    .cloned(),
            )
        });
    });
    group.bench_function("latency: baseline Mutex<HashMap>::get + clone", |b| {
        b.iter(|| {
            let found = map.lock().expect("not poisoned").get(keys[i].as_str()).cloned();
            i = (i + 1 + black_box(0) * found.map_or(1, |v| v.len())) % KEYS;
        });
    });
    let lru = Mutex::new(lru::LruCache::new(NonZeroUsize::new(KEYS).expect("non-zero")));
    for key in &keys {
        lru.lock().expect("not poisoned").put(key.clone(), value());
    }
    group.bench_function("baseline Mutex<lru::LruCache>::get + clone", |b| {
        b.iter(|| {
            i = (i + 1) % KEYS;
            black_box(
                lru.lock()
                    .expect("not poisoned")
                    .get(black_box(keys[i].as_str()))
                    .cloned(),
            )
        });
    });
    group.bench_function("latency: baseline Mutex<lru::LruCache>::get + clone", |b| {
        b.iter(|| {
            let found = lru.lock().expect("not poisoned").get(keys[i].as_str()).cloned();
            i = (i + 1 + black_box(0) * found.map_or(1, |v| v.len())) % KEYS;
        });
    });
    group.finish();
}

/// Runs `ops` operations split over `threads` threads (each starting at its own place in the key
/// list) and returns the wall time. `op(i, key)` does one operation.
fn on_threads(threads: usize, ops: u64, keys: &[String], op: &(impl Fn(usize, &str) + Sync)) -> Duration {
    let per_thread = ops / threads as u64;
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                let mut k = t * KEYS / threads;
                for i in 0..per_thread as usize {
                    k = if k + 1 == KEYS { 0 } else { k + 1 };
                    op(i, &keys[k]);
                }
            });
        }
    });
    start.elapsed()
}

fn memory_two_threads(c: &mut Criterion) {
    let keys = keys();
    let mut group = c.benchmark_group("memory_two_threads");
    group.throughput(Throughput::Elements(1));
    let default = default_shards();
    let mut counts = vec![1, 2, 4, 8, 16, 64];
    if !counts.contains(&default) {
        counts.push(default);
        counts.sort_unstable();
    }
    for &shards in &counts {
        let cache = memory(shards);
        group.bench_function(BenchmarkId::new("hits", format!("{shards} shards")), |b| {
            b.iter_custom(|ops| {
                on_threads(2, ops, &keys, &|_, key| {
                    black_box(cache.lookup(key).ok());
                })
            });
        });
        group.bench_function(BenchmarkId::new("90% hits 10% sets", format!("{shards} shards")), |b| {
            let v = value();
            b.iter_custom(|ops| {
                on_threads(2, ops, &keys, &|i, key| {
                    if i % 10 == 0 {
                        black_box(cache.insert(key, v.clone(), TTL).ok());
                    } else {
                        black_box(cache.lookup(key).ok());
                    }
                })
            });
        });
    }
    // References: the same work on one thread, and a bare Mutex<HashMap> on two.
    let cache = memory(default);
    group.bench_function(BenchmarkId::new("hits", format!("{default} shards, one thread")), |b| {
        b.iter_custom(|ops| {
            on_threads(1, ops, &keys, &|_, key| {
                black_box(cache.lookup(key).ok());
            })
        });
    });
    let map: Mutex<HashMap<String, Bytes>> = Mutex::new(keys.iter().map(|k| (k.clone(), value())).collect());
    group.bench_function(BenchmarkId::new("hits", "baseline Mutex<HashMap>"), |b| {
        b.iter_custom(|ops| {
            on_threads(2, ops, &keys, &|_, key| {
                black_box(map.lock().expect("not poisoned").get(key).cloned());
            })
        });
    });
    group.finish();
}

fn redis_url() -> String {
    std::env::var("FINSTAGE_BENCH_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

fn redis(c: &mut Criterion) {
    let rt = runtime();
    let url = redis_url();
    let connected = rt.block_on(async {
        let config = RedisConfig {
            url: url.parse().ok()?,
            namespace: format!("finstage-bench-{}", std::process::id()),
            ..RedisConfig::default()
        };
        let cache = RedisCache::new("bench", config).await.ok()?;
        cache.ping().await.ok()?;
        let client = redis::Client::open(url.as_str()).ok()?;
        let raw = client.get_multiplexed_async_connection().await.ok()?;
        Some((cache, raw))
    });
    let Some((cache, raw)) = connected else {
        eprintln!(
            "redis benchmarks skipped: no Redis answers at {url} (start one with `redis-server --daemonize yes`)"
        );
        return;
    };
    let value = value();
    paired_round_trips(&rt, &cache, &raw, &value);
    let mut group = c.benchmark_group("redis");
    group.throughput(Throughput::Elements(1));
    rt.block_on(cache.set_bytes("hit", value.clone(), TTL))
        .expect("Redis answers");
    let raw_key = format!("{}hit", cache.key_prefix());

    group.bench_function("finstage RedisCache::get_bytes (hit)", |b| {
        b.iter_custom(|n| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..n {
                    black_box(cache.get_bytes("hit").await.ok());
                }
                start.elapsed()
            })
        });
    });
    group.bench_function("baseline redis-rs GET", |b| {
        b.iter_custom(|n| {
            let mut raw = raw.clone();
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..n {
                    let v: redis::RedisResult<Option<Vec<u8>>> =
                        redis::cmd("GET").arg(&raw_key).query_async(&mut raw).await;
                    black_box(v.ok());
                }
                start.elapsed()
            })
        });
    });
    group.bench_function("finstage RedisCache::set_bytes", |b| {
        b.iter_custom(|n| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..n {
                    black_box(cache.set_bytes("set", value.clone(), TTL).await.ok());
                }
                start.elapsed()
            })
        });
    });
    let raw_set_key = format!("{}set", cache.key_prefix());
    group.bench_function("baseline redis-rs SET PX", |b| {
        b.iter_custom(|n| {
            let mut raw = raw.clone();
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..n {
                    let v: redis::RedisResult<()> = redis::cmd("SET")
                        .arg(&raw_set_key)
                        .arg(value.as_ref())
                        .arg("PX")
                        .arg(TTL.as_millis() as u64)
                        .query_async(&mut raw)
                        .await;
                    black_box(v.ok());
                }
                start.elapsed()
            })
        });
    });
    // 64 GETs in flight at once on the one multiplexed connection.
    group.throughput(Throughput::Elements(64));
    group.bench_function("finstage 64 concurrent get_bytes", |b| {
        b.iter_custom(|n| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..n {
                    black_box(join_all((0..64).map(|_| cache.get_bytes("hit"))).await);
                }
                start.elapsed()
            })
        });
    });
    group.bench_function("baseline redis-rs 64 concurrent GET", |b| {
        b.iter_custom(|n| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..n {
                    black_box(
                        join_all((0..64).map(|_| {
                            let mut raw = raw.clone();
                            let key = raw_key.clone();
                            async move {
                                let v: redis::RedisResult<Option<Vec<u8>>> =
                                    redis::cmd("GET").arg(key).query_async(&mut raw).await;
                                v.ok()
                            }
                        }))
                        .await,
                    );
                }
                start.elapsed()
            })
        });
    });
    group.finish();
    rt.block_on(cache.clear()).expect("Redis answers");

    single_flight_group(c, "single_flight_redis", &rt, Arc::new(cache));
}

/// Alternates a `RedisCache` call and the same command on a bare redis-rs connection, 20,000 times
/// each, and prints the median and 99th percentile of both: a side-by-side comparison under the same
/// conditions (this machine's round-trip time drifts between runs, so separate runs compare badly).
fn paired_round_trips(
    rt: &tokio::runtime::Runtime,
    cache: &RedisCache,
    raw: &redis::aio::MultiplexedConnection,
    value: &Bytes,
) {
    const PAIRS: usize = 20_000;
    let raw_key = format!("{}paired", cache.key_prefix());
    let mut raw = raw.clone();
    let (mut ours_get, mut base_get, mut ours_set, mut base_set) = (
        Vec::with_capacity(PAIRS),
        Vec::with_capacity(PAIRS),
        Vec::with_capacity(PAIRS),
        Vec::with_capacity(PAIRS),
    );
    rt.block_on(async {
        for _ in 0..PAIRS {
            let t = Instant::now();
            black_box(cache.set_bytes("paired", value.clone(), TTL).await.ok());
            ours_set.push(t.elapsed());
            let t = Instant::now();
            let r: redis::RedisResult<()> = redis::cmd("SET")
                .arg(&raw_key)
                .arg(value.as_ref())
                .arg("PX")
                .arg(TTL.as_millis() as u64)
                .query_async(&mut raw)
                .await;
            base_set.push(t.elapsed());
            black_box(r.ok());
            let t = Instant::now();
            black_box(cache.get_bytes("paired").await.ok());
            ours_get.push(t.elapsed());
            let t = Instant::now();
            let r: redis::RedisResult<Option<Vec<u8>>> = redis::cmd("GET").arg(&raw_key).query_async(&mut raw).await;
            base_get.push(t.elapsed());
            black_box(r.ok());
        }
    });
    let show = |name: &str, mut xs: Vec<Duration>| {
        xs.sort_unstable();
        let p = |q: f64| xs[((xs.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e6;
        eprintln!(
            "redis paired {name}: p50 {:.1} µs, p99 {:.1} µs ({} calls)",
            p(0.5),
            p(0.99),
            xs.len()
        );
    };
    show("finstage RedisCache::get_bytes", ours_get);
    show("baseline redis-rs GET", base_get);
    show("finstage RedisCache::set_bytes", ours_set);
    show("baseline redis-rs SET PX", base_set);
}

/// A quote-sized value, as a loader would return it.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Quote {
    symbol: String,
    price: f64,
    volume: u64,
}

/// The loader: an upstream call that is not ready at once (it yields once) and is counted.
async fn load(calls: &AtomicUsize) -> Result<Quote, String> {
    calls.fetch_add(1, Ordering::Relaxed);
    tokio::task::yield_now().await;
    Ok(Quote {
        symbol: "AAPL".into(),
        price: 189.25,
        volume: 52_000_000,
    })
}

/// Cache-aside without coalescing: what every caller would do on its own.
async fn naive_get_or_load(cache: &dyn Cache, key: &str, calls: &AtomicUsize) -> Result<Quote, String> {
    if let Ok(Some(v)) = cache.get::<Quote>(key).await {
        return Ok(v);
    }
    let v = load(calls).await?;
    let _ = cache.set(key, &v, TTL).await;
    Ok(v)
}

const CALLERS: usize = 1_000;

fn single_flight_group(c: &mut Criterion, name: &str, rt: &tokio::runtime::Runtime, cache: Arc<dyn Cache>) {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(CALLERS as u64));
    let next_key = AtomicU64::new(0);
    let calls = AtomicUsize::new(0);
    let iterations = AtomicUsize::new(0);

    group.bench_function("finstage get_or_set, 1,000 concurrent misses", |b| {
        b.iter_custom(|n| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..n {
                    let key = format!("sf:{}", next_key.fetch_add(1, Ordering::Relaxed));
                    let start = Instant::now();
                    let results = join_all((0..CALLERS).map(|_| cache.get_or_set(&key, TTL, || load(&calls)))).await;
                    total += start.elapsed();
                    black_box(results);
                    iterations.fetch_add(1, Ordering::Relaxed);
                }
                total
            })
        });
    });
    let (loads, runs) = (calls.swap(0, Ordering::Relaxed), iterations.swap(0, Ordering::Relaxed));
    eprintln!("{name}: get_or_set made {loads} loader calls in {runs} runs of 1,000 concurrent misses");

    group.bench_function(
        "baseline cache-aside without coalescing, 1,000 concurrent misses",
        |b| {
            b.iter_custom(|n| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..n {
                        let key = format!("naive:{}", next_key.fetch_add(1, Ordering::Relaxed));
                        let start = Instant::now();
                        let results = join_all((0..CALLERS).map(|_| naive_get_or_load(&*cache, &key, &calls))).await;
                        total += start.elapsed();
                        black_box(results);
                        iterations.fetch_add(1, Ordering::Relaxed);
                    }
                    total
                })
            });
        },
    );
    let (loads, runs) = (calls.swap(0, Ordering::Relaxed), iterations.swap(0, Ordering::Relaxed));
    eprintln!("{name}: cache-aside made {loads} loader calls in {runs} runs of 1,000 concurrent misses");
    group.finish();
    rt.block_on(cache.clear()).ok();
}

fn single_flight(c: &mut Criterion) {
    let rt = runtime();
    let cache: Arc<dyn Cache> = Arc::new(MemoryCache::new("bench-flight", MemoryConfig::default()).expect("valid"));
    single_flight_group(c, "single_flight_memory", &rt, cache);

    // SingleFlight alone (no cache): 1,000 callers, one run.
    let mut group = c.benchmark_group("single_flight_bare");
    group.throughput(Throughput::Elements(CALLERS as u64));
    let flights: SingleFlight<u64, Result<Quote, String>> = SingleFlight::new();
    let calls = AtomicUsize::new(0);
    let next = AtomicU64::new(0);
    group.bench_function("SingleFlight::run, 1,000 concurrent callers", |b| {
        b.iter_custom(|n| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..n {
                    let key = next.fetch_add(1, Ordering::Relaxed);
                    black_box(join_all((0..CALLERS).map(|_| flights.run(key, || load(&calls)))).await);
                }
                start.elapsed()
            })
        });
    });
    group.finish();
}

fn main() {
    // What `criterion_group!`/`criterion_main!` expand to, without their undocumented `pub fn`.
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    memory_hit(&mut criterion);
    memory_two_threads(&mut criterion);
    redis(&mut criterion);
    single_flight(&mut criterion);
    criterion.final_summary();
}
