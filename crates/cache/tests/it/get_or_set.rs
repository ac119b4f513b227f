//! `get_or_set` races that need a cache whose lookups a test can pause.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use finstage_cache::{BoxFuture, Bytes, Cache, CacheCore, CacheError, CacheExt, CacheStats, MemoryCache, MemoryConfig};
use tokio::sync::Notify;

use crate::support::wait_until;

const TTL: Duration = Duration::from_secs(60);

/// A memory cache whose next lookup, once armed, answers and then waits for a signal before
/// returning: the caller has seen its miss but has not acted on it yet.
#[derive(Debug)]
struct Gated {
    inner: MemoryCache,
    gate: Mutex<Option<Arc<Notify>>>,
    held: AtomicBool,
}

impl Gated {
    fn arm(&self) -> Arc<Notify> {
        let gate = Arc::new(Notify::new());
        *self.gate.lock().unwrap() = Some(gate.clone());
        gate
    }
}

impl Cache for Gated {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn get_bytes<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Bytes>, CacheError>> {
        Box::pin(async move {
            let answer = self.inner.lookup(key);
            let gate = self.gate.lock().unwrap().take();
            if let Some(gate) = gate {
                self.held.store(true, Ordering::SeqCst);
                gate.notified().await;
            }
            answer
        })
    }
    fn set_bytes<'a>(&'a self, key: &'a str, value: Bytes, ttl: Duration) -> BoxFuture<'a, Result<(), CacheError>> {
        self.inner.set_bytes(key, value, ttl)
    }
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool, CacheError>> {
        self.inner.delete(key)
    }
    fn clear(&self) -> BoxFuture<'_, Result<(), CacheError>> {
        self.inner.clear()
    }
    fn stats(&self) -> CacheStats {
        self.inner.stats()
    }
    fn core(&self) -> &CacheCore {
        self.inner.core()
    }
}

#[tokio::test]
async fn a_miss_that_races_with_the_end_of_a_load_does_not_load_again() {
    let cache = Arc::new(Gated {
        inner: MemoryCache::new("gated", MemoryConfig::default()).unwrap(),
        gate: Mutex::new(None),
        held: AtomicBool::new(false),
    });
    let calls = Arc::new(AtomicUsize::new(0));

    // The late caller misses, then stalls before joining (or starting) a load.
    let gate = cache.arm();
    let late = {
        let (cache, calls) = (cache.clone(), calls.clone());
        tokio::spawn(async move {
            cache
                .get_or_set("quote:AMD", TTL, || async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, String>(2u32)
                })
                .await
        })
    };
    wait_until("the late caller has missed", || cache.held.load(Ordering::SeqCst)).await;

    // Meanwhile another caller loads and stores the value, and its flight ends.
    let first = cache
        .get_or_set("quote:AMD", TTL, || async { Ok::<_, String>(1u32) })
        .await;
    assert_eq!(first, Ok(1));
    assert_eq!(cache.core().in_flight(), 0);

    // The late caller goes on: it must serve the stored value, not run its loader.
    gate.notify_one();
    assert_eq!(late.await.unwrap(), Ok(1));
    assert_eq!(calls.load(Ordering::SeqCst), 0, "the late caller loaded a second time");
    assert_eq!(cache.core().loads(), 1);
}

#[test]
fn a_cache_can_be_implemented_outside_the_crate() {
    // The typed layer works on any implementation (here, one that shares a MemoryCache's core).
    let cache: Arc<dyn Cache> = Arc::new(Gated {
        inner: MemoryCache::new("outside", MemoryConfig::default()).unwrap(),
        gate: Mutex::new(None),
        held: AtomicBool::new(false),
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        cache.set("k", &[1u8, 2, 3], TTL).await.unwrap();
        assert_eq!(cache.get::<Vec<u8>>("k").await.unwrap(), Some(vec![1, 2, 3]));
    });
}
