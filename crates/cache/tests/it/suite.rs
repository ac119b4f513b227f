//! The generic suite: every test here runs against the memory backend (paused clock) and against
//! Redis (real server, own namespace), through `Arc<dyn Cache>`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use finstage_cache::{Bytes, CacheError, CacheExt, MAX_TTL};
use metrics_util::debugging::{DebugValue, Snapshotter};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::support::{Fixture, wait_until};

const TTL: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Quote {
    symbol: String,
    price: f64,
    volume: u64,
    note: Option<String>,
}

fn quote(symbol: &str, price: f64) -> Quote {
    Quote {
        symbol: symbol.to_owned(),
        price,
        volume: 1_000,
        note: None,
    }
}

macro_rules! generic_suite {
    ($backend:ident, #[$test:meta]) => {
        mod $backend {
            use crate::support::Fixture;

            async fn fixture(name: &str) -> Fixture {
                Fixture::$backend(name).await
            }

            #[$test]
            async fn typed_values_round_trip() {
                super::typed_values_round_trip(fixture("round-trip").await).await;
            }

            #[$test]
            async fn ttl_is_honoured() {
                super::ttl_is_honoured(fixture("ttl").await).await;
            }

            #[$test]
            async fn a_thousand_concurrent_misses_make_one_loader_call() {
                super::a_thousand_concurrent_misses_make_one_loader_call(fixture("flight").await).await;
            }

            #[$test]
            async fn a_loader_error_reaches_every_waiter_and_is_not_cached() {
                super::a_loader_error_reaches_every_waiter_and_is_not_cached(fixture("flight-error").await).await;
            }

            #[$test]
            async fn a_cancelled_loader_is_taken_over_by_a_waiter() {
                super::a_cancelled_loader_is_taken_over_by_a_waiter(fixture("flight-cancel").await).await;
            }

            #[$test]
            async fn values_that_no_longer_decode() {
                super::values_that_no_longer_decode(fixture("decode").await).await;
            }

            #[$test]
            async fn invalid_keys_are_rejected_everywhere() {
                super::invalid_keys_are_rejected_everywhere(fixture("keys").await).await;
            }

            #[$test]
            async fn stats_count_what_happened() {
                super::stats_count_what_happened(fixture("stats").await).await;
            }

            #[$test]
            async fn metrics_count_what_happened() {
                let recorder = metrics_util::debugging::DebuggingRecorder::new();
                let snapshotter = recorder.snapshotter();
                let fixture = {
                    // The cache registers its handles with the recorder current when it is built.
                    let _local = metrics::set_default_local_recorder(&recorder);
                    fixture("metrics").await
                };
                super::metrics_count_what_happened(fixture, snapshotter).await;
            }

            #[$test]
            async fn caches_do_not_see_each_other() {
                super::caches_do_not_see_each_other(fixture("isolation-a").await).await;
            }
        }
    };
}

generic_suite!(memory, #[tokio::test(start_paused = true)]);
generic_suite!(redis, #[tokio::test(flavor = "multi_thread", worker_threads = 2)]);

async fn typed_values_round_trip(fx: Fixture) {
    let cache = &fx.cache;
    assert_eq!(cache.get::<Quote>("quote:AAPL").await.unwrap(), None);

    let aapl = Quote {
        note: Some("après-clôture ✓".into()),
        ..quote("AAPL", 189.25)
    };
    cache.set("quote:AAPL", &aapl, TTL).await.unwrap();
    assert_eq!(cache.get::<Quote>("quote:AAPL").await.unwrap(), Some(aapl.clone()));

    cache.set("closes", &[1.5, 2.25, 1e-9][..], TTL).await.unwrap();
    assert_eq!(
        cache.get::<Vec<f64>>("closes").await.unwrap(),
        Some(vec![1.5, 2.25, 1e-9])
    );
    cache.set("text", "hello", TTL).await.unwrap();
    assert_eq!(cache.get::<String>("text").await.unwrap().as_deref(), Some("hello"));
    cache.set("count", &u64::MAX, TTL).await.unwrap();
    assert_eq!(cache.get::<u64>("count").await.unwrap(), Some(u64::MAX));

    // The documented encoding: JSON bytes.
    assert_eq!(
        cache.get_bytes("text").await.unwrap(),
        Some(Bytes::from_static(b"\"hello\""))
    );
    let raw = cache.get_bytes("quote:AAPL").await.unwrap().unwrap();
    assert_eq!(serde_json::from_slice::<Quote>(&raw).unwrap(), aapl);

    // Overwrite.
    let newer = quote("AAPL", 190.0);
    cache.set("quote:AAPL", &newer, TTL).await.unwrap();
    assert_eq!(cache.get::<Quote>("quote:AAPL").await.unwrap(), Some(newer));

    // Delete.
    assert!(cache.delete("quote:AAPL").await.unwrap());
    assert!(!cache.delete("quote:AAPL").await.unwrap());
    assert_eq!(cache.get::<Quote>("quote:AAPL").await.unwrap(), None);

    // Clear.
    cache.clear().await.unwrap();
    for key in ["closes", "text", "count"] {
        assert_eq!(cache.get_bytes(key).await.unwrap(), None, "{key} survived clear()");
    }
    // Still usable after clear.
    cache.set("text", "again", TTL).await.unwrap();
    assert_eq!(cache.get::<String>("text").await.unwrap().as_deref(), Some("again"));
}

async fn ttl_is_honoured(mut fx: Fixture) {
    let cache = fx.cache.clone();
    cache.set("short", &1u32, Duration::from_secs(10)).await.unwrap();
    fx.assert_ttl("short", Duration::from_secs(10)).await;

    // Overwriting restarts the TTL with the new one.
    cache.set("renewed", &1u32, Duration::from_secs(5)).await.unwrap();
    cache.set("renewed", &2u32, Duration::from_secs(30)).await.unwrap();
    fx.assert_ttl("renewed", Duration::from_secs(30)).await;

    // A huge TTL is capped, never "forever" and never a panic.
    cache.set("huge", &3u32, Duration::MAX).await.unwrap();
    assert_eq!(cache.get::<u32>("huge").await.unwrap(), Some(3));
    fx.assert_ttl("huge", MAX_TTL).await;

    // A zero TTL stores nothing and removes what was there.
    cache.set("zero", &4u32, TTL).await.unwrap();
    cache.set("zero", &5u32, Duration::ZERO).await.unwrap();
    assert_eq!(cache.get::<u32>("zero").await.unwrap(), None);
    cache.set("never", &6u32, Duration::ZERO).await.unwrap();
    assert_eq!(cache.get::<u32>("never").await.unwrap(), None);
}

async fn a_thousand_concurrent_misses_make_one_loader_call(fx: Fixture) {
    const CALLERS: usize = 1_000;
    let cache = fx.cache.clone();
    let calls = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(Notify::new());
    let (loads, coalesced) = (cache.core().loads(), cache.core().coalesced());

    let tasks: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (cache, calls, release) = (cache.clone(), calls.clone(), release.clone());
            tokio::spawn(async move {
                cache
                    .get_or_set("quote:MSFT", TTL, || async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        release.notified().await;
                        Ok::<_, String>(quote("MSFT", 420.0))
                    })
                    .await
            })
        })
        .collect();

    // Hold the loader until every other caller has missed and joined it.
    wait_until("one loader runs and 999 callers wait for it", || {
        calls.load(Ordering::SeqCst) == 1 && cache.core().waiters("quote:MSFT") == CALLERS - 1
    })
    .await;
    release.notify_one();

    for task in tasks {
        assert_eq!(task.await.unwrap(), Ok(quote("MSFT", 420.0)));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(cache.core().loads() - loads, 1);
    assert_eq!(cache.core().coalesced() - coalesced, (CALLERS - 1) as u64);
    assert_eq!(cache.core().in_flight(), 0);

    // Stored for the next caller, whose loader does not run.
    assert_eq!(
        cache.get::<Quote>("quote:MSFT").await.unwrap(),
        Some(quote("MSFT", 420.0))
    );
    let again = cache
        .get_or_set("quote:MSFT", TTL, || async {
            Err::<Quote, String>("the loader must not run on a hit".into())
        })
        .await;
    assert_eq!(again, Ok(quote("MSFT", 420.0)));
}

async fn a_loader_error_reaches_every_waiter_and_is_not_cached(fx: Fixture) {
    const CALLERS: usize = 100;
    let cache = fx.cache.clone();
    let calls = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(Notify::new());
    let tasks: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (cache, calls, release) = (cache.clone(), calls.clone(), release.clone());
            tokio::spawn(async move {
                cache
                    .get_or_set("quote:IBM", TTL, || async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        release.notified().await;
                        Err::<Quote, String>("upstream answered 503".into())
                    })
                    .await
            })
        })
        .collect();
    wait_until("the loader runs and 99 callers wait", || {
        calls.load(Ordering::SeqCst) == 1 && cache.core().waiters("quote:IBM") == CALLERS - 1
    })
    .await;
    release.notify_one();
    for task in tasks {
        assert_eq!(task.await.unwrap(), Err("upstream answered 503".to_owned()));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // Not cached: nothing stored, and the next call runs its loader.
    assert_eq!(cache.get_bytes("quote:IBM").await.unwrap(), None);
    let next = cache
        .get_or_set("quote:IBM", TTL, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok::<_, String>(quote("IBM", 150.0))
        })
        .await;
    assert_eq!(next, Ok(quote("IBM", 150.0)));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(
        cache.get::<Quote>("quote:IBM").await.unwrap(),
        Some(quote("IBM", 150.0))
    );
}

async fn a_cancelled_loader_is_taken_over_by_a_waiter(fx: Fixture) {
    let cache = fx.cache.clone();
    let calls = Arc::new(AtomicUsize::new(0));

    let leader = {
        let (cache, calls) = (cache.clone(), calls.clone());
        tokio::spawn(async move {
            cache
                .get_or_set("quote:ORCL", TTL, || async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    std::future::pending::<Result<Quote, String>>().await
                })
                .await
        })
    };
    wait_until("the first loader runs", || calls.load(Ordering::SeqCst) == 1).await;

    let release = Arc::new(Notify::new());
    let waiters: Vec<_> = (0..10)
        .map(|_| {
            let (cache, calls, release) = (cache.clone(), calls.clone(), release.clone());
            tokio::spawn(async move {
                cache
                    .get_or_set("quote:ORCL", TTL, || async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        release.notified().await;
                        Ok::<_, String>(quote("ORCL", 120.0))
                    })
                    .await
            })
        })
        .collect();
    wait_until("10 callers wait for the first loader", || {
        cache.core().waiters("quote:ORCL") == 10
    })
    .await;

    leader.abort();
    assert!(leader.await.unwrap_err().is_cancelled());
    wait_until("one waiter takes over and 9 wait for it", || {
        calls.load(Ordering::SeqCst) == 2 && cache.core().waiters("quote:ORCL") == 9
    })
    .await;
    release.notify_one();
    for waiter in waiters {
        assert_eq!(waiter.await.unwrap(), Ok(quote("ORCL", 120.0)));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(
        cache.get::<Quote>("quote:ORCL").await.unwrap(),
        Some(quote("ORCL", 120.0))
    );
}

async fn values_that_no_longer_decode(fx: Fixture) {
    let cache = &fx.cache;
    // A value of an older shape.
    cache.set("quote:NVDA", "a string, not a quote", TTL).await.unwrap();
    let errors = cache.stats().errors;
    match cache.get::<Quote>("quote:NVDA").await {
        Err(CacheError::Decode { key, message }) => {
            assert_eq!(key, "quote:NVDA");
            assert!(
                !message.contains("a string, not a quote"),
                "the value leaked: {message}"
            );
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
    assert_eq!(cache.stats().errors, errors + 1);
    // Plain get leaves the entry alone.
    assert!(cache.get_bytes("quote:NVDA").await.unwrap().is_some());

    // Bytes that are not JSON at all.
    cache
        .set_bytes("garbage", Bytes::from_static(b"{not json"), TTL)
        .await
        .unwrap();
    assert!(matches!(
        cache.get::<Quote>("garbage").await,
        Err(CacheError::Decode { .. })
    ));

    // get_or_set treats it as a miss: counts, deletes, reloads, stores the new shape.
    let calls = AtomicUsize::new(0);
    let loaded = cache
        .get_or_set("quote:NVDA", TTL, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok::<_, String>(quote("NVDA", 880.0))
        })
        .await;
    assert_eq!(loaded, Ok(quote("NVDA", 880.0)));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(cache.stats().errors, errors + 3);
    assert_eq!(
        cache.get::<Quote>("quote:NVDA").await.unwrap(),
        Some(quote("NVDA", 880.0))
    );
}

async fn invalid_keys_are_rejected_everywhere(fx: Fixture) {
    let cache = &fx.cache;
    let too_long = "k".repeat(513);
    let bad: [(&str, &str); 6] = [
        ("", "empty"),
        (&too_long, "longer than 512"),
        ("quote AAPL", "whitespace"),
        ("quote\tAAPL", "control"),
        ("quote\nAAPL", "control"),
        ("quote\u{7f}", "control"),
    ];
    let errors = cache.stats().errors;
    for (key, why) in bad {
        let check = |result: Result<(), CacheError>, op: &str| match result {
            Err(CacheError::InvalidKey { reason, .. }) => assert!(reason.contains(why), "{op} {key:?}: {reason}"),
            other => panic!("{op} {key:?}: expected InvalidKey, got {other:?}"),
        };
        check(cache.get_bytes(key).await.map(drop), "get_bytes");
        check(cache.set_bytes(key, Bytes::from_static(b"1"), TTL).await, "set_bytes");
        check(cache.delete(key).await.map(drop), "delete");
        check(cache.get::<u32>(key).await.map(drop), "get");
        check(cache.set(key, &1u32, TTL).await, "set");
        // get_or_set serves the loader's value; nothing is cached, so the loader runs every time.
        for _ in 0..2 {
            assert_eq!(
                cache.get_or_set(key, TTL, || async { Ok::<_, String>(7u32) }).await,
                Ok(7)
            );
        }
    }
    // Five calls plus, per get_or_set, the lookup and the store: 9 errors per key.
    assert_eq!(cache.stats().errors, errors + 6 * 9);

    // The limits themselves are fine.
    let longest = "k".repeat(512);
    for key in [longest.as_str(), "日本株:7203", "a", "quote:BRK.B|1d|2024-01-01"] {
        cache.set(key, &1u32, TTL).await.unwrap();
        assert_eq!(cache.get::<u32>(key).await.unwrap(), Some(1), "{key}");
    }
}

async fn stats_count_what_happened(fx: Fixture) {
    let cache = &fx.cache;
    let empty = cache.stats();
    assert_eq!(empty.name, cache.name());
    assert_eq!(
        (empty.hits, empty.misses, empty.sets, empty.evictions, empty.errors),
        (0, 0, 0, 0, 0)
    );
    assert_eq!(empty.hit_rate(), 0.0);

    cache.set("a", &1u32, TTL).await.unwrap();
    cache.set("b", &"two", TTL).await.unwrap();
    for key in ["a", "a", "b", "c", "d"] {
        let _ = cache.get_bytes(key).await.unwrap();
    }
    let _ = cache.get_bytes("bad key").await;
    let stats = cache.stats();
    assert_eq!(
        (stats.hits, stats.misses, stats.sets, stats.evictions, stats.errors),
        (3, 2, 2, 0, 1)
    );
    assert!((stats.hit_rate() - 0.6).abs() < 1e-12, "{}", stats.hit_rate());
    if fx.knows_size() {
        let bytes = (1 + 1 + finstage_cache::ENTRY_OVERHEAD) + (1 + 5 + finstage_cache::ENTRY_OVERHEAD);
        assert_eq!((stats.entries, stats.bytes), (Some(2), Some(bytes as u64)));
    } else {
        assert_eq!((stats.entries, stats.bytes), (None, None));
    }

    // get_or_set: a miss, a load, a set; then a hit.
    let v = cache.get_or_set("c", TTL, || async { Ok::<_, String>(3u32) }).await;
    assert_eq!(v, Ok(3));
    let v = cache.get_or_set("c", TTL, || async { Ok::<_, String>(4u32) }).await;
    assert_eq!(v, Ok(3));
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses, stats.sets), (4, 3, 3));
    assert_eq!(cache.core().loads(), 1);

    // Deletes and clear change sizes, not counters.
    cache.delete("a").await.unwrap();
    cache.clear().await.unwrap();
    let after = cache.stats();
    assert_eq!((after.hits, after.misses, after.sets, after.evictions), (4, 3, 3, 0));
    if fx.knows_size() {
        assert_eq!((after.entries, after.bytes), (Some(0), Some(0)));
    }
}

/// The values of one snapshot, by metric name and `kind` label, for the cache `name`. (The debugging
/// recorder resets counters and gauges when it takes a snapshot: read everything from one.)
struct Values(Vec<(String, Option<String>, DebugValue)>);

impl Values {
    fn take(snapshotter: &Snapshotter, name: &str) -> Values {
        let values = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .filter_map(|(key, _, _, value)| {
                let key = key.key();
                let label = |l: &str| key.labels().find(|x| x.key() == l).map(|x| x.value().to_owned());
                (label("cache").as_deref() == Some(name)).then(|| (key.name().to_owned(), label("kind"), value))
            })
            .collect();
        Values(values)
    }

    fn find(&self, metric: &str, kind: Option<&str>) -> Option<&DebugValue> {
        self.0
            .iter()
            .find(|(n, k, _)| n == metric && k.as_deref() == kind)
            .map(|(_, _, v)| v)
    }

    fn counter(&self, metric: &str) -> u64 {
        self.counter_of_kind(metric, None)
    }

    fn counter_of_kind(&self, metric: &str, kind: Option<&str>) -> u64 {
        match self.find(metric, kind) {
            Some(DebugValue::Counter(n)) => *n,
            None => 0,
            other => panic!("{metric} is not a counter: {other:?}"),
        }
    }

    fn gauge(&self, metric: &str) -> f64 {
        match self.find(metric, None) {
            Some(DebugValue::Gauge(v)) => v.into_inner(),
            other => panic!("{metric} is not a gauge: {other:?}"),
        }
    }
}

async fn metrics_count_what_happened(fx: Fixture, snapshotter: Snapshotter) {
    let cache = fx.cache.clone();
    let name = cache.name().to_owned();
    cache.set("a", &1u32, TTL).await.unwrap();
    cache.set("b", &22u32, TTL).await.unwrap();
    let _ = cache.get_bytes("a").await.unwrap();
    let _ = cache.get_bytes("zzz").await.unwrap();
    let _ = cache.get_bytes("bad key").await;
    cache.set("text", "x", TTL).await.unwrap();
    let _ = cache.get::<u32>("text").await;

    // Two concurrent misses: one load, one coalesced.
    let release = Arc::new(Notify::new());
    let first = {
        let (cache, release) = (cache.clone(), release.clone());
        tokio::spawn(async move {
            cache
                .get_or_set("c", TTL, || async move {
                    release.notified().await;
                    Ok::<_, String>(3u32)
                })
                .await
        })
    };
    wait_until("the first caller loads", || cache.core().in_flight() == 1).await;
    let second = {
        let cache = cache.clone();
        tokio::spawn(async move { cache.get_or_set("c", TTL, || async { Ok::<_, String>(4u32) }).await })
    };
    wait_until("the second caller waits for the first", || {
        cache.core().waiters("c") == 1
    })
    .await;
    release.notify_one();
    assert_eq!(first.await.unwrap(), Ok(3));
    assert_eq!(second.await.unwrap(), Ok(3));

    let values = Values::take(&snapshotter, &name);
    assert_eq!(values.counter("finstage_cache_hits_total"), 2, "a and text");
    assert_eq!(values.counter("finstage_cache_misses_total"), 3, "zzz and c twice");
    assert_eq!(values.counter("finstage_cache_sets_total"), 4);
    assert_eq!(values.counter("finstage_cache_loads_total"), 1);
    assert_eq!(values.counter("finstage_cache_coalesced_total"), 1);
    assert_eq!(values.counter("finstage_cache_evictions_total"), 0);
    assert_eq!(
        values.counter_of_kind("finstage_cache_errors_total", Some("invalid_key")),
        1
    );
    assert_eq!(values.counter_of_kind("finstage_cache_errors_total", Some("decode")), 1);
    assert_eq!(
        values.counter_of_kind("finstage_cache_errors_total", Some("unavailable")),
        0
    );
    assert_eq!(cache.stats().errors, 2);
    if fx.knows_size() {
        let overhead = finstage_cache::ENTRY_OVERHEAD as f64;
        let bytes = (1.0 + 1.0 + overhead) + (1.0 + 2.0 + overhead) + (4.0 + 3.0 + overhead) + (1.0 + 1.0 + overhead);
        assert_eq!(values.gauge("finstage_cache_entries"), 4.0);
        assert_eq!(values.gauge("finstage_cache_bytes"), bytes);
        // The snapshot reset the gauges to 0, so the next one shows the change since.
        cache.delete("a").await.unwrap();
        cache.clear().await.unwrap();
        let values = Values::take(&snapshotter, &name);
        assert_eq!(values.gauge("finstage_cache_entries"), -4.0);
        assert_eq!(values.gauge("finstage_cache_bytes"), -bytes);
    }
}

async fn caches_do_not_see_each_other(fx: Fixture) {
    let a = fx.cache.clone();
    let b = fx.sibling("isolation-b").await;
    a.set("shared-key", &"from a", TTL).await.unwrap();
    b.set("shared-key", &"from b", TTL).await.unwrap();
    a.set("only-a", &1u32, TTL).await.unwrap();
    assert_eq!(a.get::<String>("shared-key").await.unwrap().as_deref(), Some("from a"));
    assert_eq!(b.get::<String>("shared-key").await.unwrap().as_deref(), Some("from b"));
    assert_eq!(b.get::<u32>("only-a").await.unwrap(), None);

    a.clear().await.unwrap();
    assert_eq!(a.get::<String>("shared-key").await.unwrap(), None);
    assert_eq!(b.get::<String>("shared-key").await.unwrap().as_deref(), Some("from b"));
    assert!(!b.delete("only-a").await.unwrap());
}
