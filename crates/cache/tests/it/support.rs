//! Test helpers: fixtures for both backends, the Redis connection, unique namespaces, a TCP proxy
//! that can take "Redis" down, a log capture and a condition wait.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use finstage_cache::{Cache, MemoryCache, MemoryConfig, RedisCache, RedisConfig};
use finstage_test_support::proxy::TcpProxy;
use redis::{ConnectionAddr, IntoConnectionInfo};

/// The Redis the tests use: `FINSTAGE_TEST_REDIS_URL`, or the local default.
pub(crate) fn redis_url() -> String {
    std::env::var("FINSTAGE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned())
}

fn unreachable_message(url: &str, why: &str) -> String {
    format!(
        "Redis is not reachable at {url} ({why}). The Redis tests need a server they may write to: \
         start one with `redis-server --daemonize yes`, or set FINSTAGE_TEST_REDIS_URL."
    )
}

/// A plain connection to the test Redis, for checking what the cache wrote. Fails the test with
/// instructions when Redis is unreachable.
pub(crate) async fn raw_redis() -> redis::aio::MultiplexedConnection {
    let url = redis_url();
    let client = redis::Client::open(url.as_str()).expect("FINSTAGE_TEST_REDIS_URL is a valid Redis URL");
    match tokio::time::timeout(Duration::from_secs(5), client.get_multiplexed_async_connection()).await {
        Ok(Ok(mut conn)) => match redis::cmd("PING").query_async::<String>(&mut conn).await {
            Ok(_) => conn,
            Err(e) => panic!("{}", unreachable_message(&url, &e.to_string())),
        },
        Ok(Err(e)) => panic!("{}", unreachable_message(&url, &e.to_string())),
        Err(_) => panic!("{}", unreachable_message(&url, "no answer within 5 s")),
    }
}

/// A namespace no other test uses; its keys are deleted when it is dropped (even if the test
/// panicked).
pub(crate) struct Namespace(pub String);

impl Namespace {
    pub(crate) fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        Namespace(format!(
            "fstest-{}-{nanos}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ))
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        // Synchronous on purpose: Drop cannot await. Covers every namespace starting with this one.
        let Ok(client) = redis::Client::open(redis_url().as_str()) else {
            return;
        };
        let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_secs(2)) else {
            return;
        };
        let pattern = format!("{}*", glob_escape(&self.0));
        let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg(&pattern).query(&mut conn).unwrap_or_default();
        if !keys.is_empty() {
            let _: redis::RedisResult<i64> = redis::cmd("UNLINK").arg(&keys).query(&mut conn);
        }
    }
}

pub(crate) fn glob_escape(s: &str) -> String {
    s.chars().fold(String::new(), |mut out, c| {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
        out
    })
}

/// Keys under `prefix` in the test Redis.
pub(crate) async fn raw_keys(raw: &mut redis::aio::MultiplexedConnection, prefix: &str) -> Vec<String> {
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}*", glob_escape(prefix)))
        .query_async(raw)
        .await
        .unwrap();
    keys.sort();
    keys
}

pub(crate) fn redis_config(url: &str, namespace: &str) -> RedisConfig {
    RedisConfig {
        url: url.parse().expect("a valid Redis URL"),
        namespace: namespace.to_owned(),
        connect_timeout: Duration::from_secs(1),
        response_timeout: Duration::from_millis(500),
    }
}

/// One cache under test, with what is needed to check it from outside.
pub(crate) struct Fixture {
    pub(crate) cache: Arc<dyn Cache>,
    pub(crate) backend: Backend,
}

pub(crate) enum Backend {
    Memory,
    Redis {
        raw: redis::aio::MultiplexedConnection,
        namespace: Arc<Namespace>,
    },
}

pub(crate) fn memory_config() -> MemoryConfig {
    MemoryConfig {
        max_entries: 10_000,
        max_bytes: 16 << 20,
        shards: 4,
    }
}

impl Fixture {
    pub(crate) async fn memory(name: &str) -> Fixture {
        Fixture {
            cache: Arc::new(MemoryCache::new(name, memory_config()).unwrap()),
            backend: Backend::Memory,
        }
    }

    pub(crate) async fn redis(name: &str) -> Fixture {
        let raw = raw_redis().await;
        let namespace = Arc::new(Namespace::new());
        let cache = RedisCache::new(name, redis_config(&redis_url(), &namespace.0))
            .await
            .unwrap();
        cache.ping().await.expect("the test Redis answers");
        Fixture {
            cache: Arc::new(cache),
            backend: Backend::Redis { raw, namespace },
        }
    }

    /// Another cache of the same backend (and, for Redis, the same namespace), called `name`.
    pub(crate) async fn sibling(&self, name: &str) -> Arc<dyn Cache> {
        match &self.backend {
            Backend::Memory => Arc::new(MemoryCache::new(name, memory_config()).unwrap()),
            Backend::Redis { namespace, .. } => Arc::new(
                RedisCache::new(name, redis_config(&redis_url(), &namespace.0))
                    .await
                    .unwrap(),
            ),
        }
    }

    /// Whether the backend reports entries and bytes.
    pub(crate) fn knows_size(&self) -> bool {
        matches!(self.backend, Backend::Memory)
    }

    /// Checks that `key`, just stored with `ttl`, lives exactly `ttl`.
    ///
    /// Memory (paused clock): present 1 ms before `ttl`, gone at `ttl`, and the expired lookup is a
    /// miss. Redis: the raw key's PTTL is in `(ttl - 10 s, ttl]` (no waiting for a real expiry).
    pub(crate) async fn assert_ttl(&mut self, key: &str, ttl: Duration) {
        match &mut self.backend {
            Backend::Memory => {
                tokio::time::advance(ttl - Duration::from_millis(1)).await;
                assert!(
                    self.cache.get_bytes(key).await.unwrap().is_some(),
                    "{key} expired before {ttl:?}"
                );
                let misses = self.cache.stats().misses;
                tokio::time::advance(Duration::from_millis(1)).await;
                assert_eq!(self.cache.get_bytes(key).await.unwrap(), None, "{key} outlived {ttl:?}");
                assert_eq!(self.cache.stats().misses, misses + 1, "an expired hit is a miss");
            }
            Backend::Redis { raw, namespace } => {
                let full = format!("{}:{}:{key}", namespace.0, self.cache.name());
                let pttl: i64 = redis::cmd("PTTL").arg(&full).query_async(raw).await.unwrap();
                let ttl_ms = ttl.as_millis() as i64;
                assert!(
                    pttl > 0 && pttl <= ttl_ms,
                    "PTTL of {full} is {pttl} ms, expected in (0, {ttl_ms}]"
                );
                assert!(
                    pttl > ttl_ms - 10_000,
                    "PTTL of {full} is {pttl} ms, far below {ttl_ms}"
                );
            }
        }
    }
}

/// Waits until `cond` holds (yielding to other tasks between checks), failing after 30 s of real time.
pub(crate) async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::task::yield_now().await;
    }
}

/// A [`TcpProxy`] in front of the test Redis, with the Redis URL that goes through it.
pub(crate) struct Proxy {
    inner: TcpProxy,
    url: String,
}

impl Proxy {
    pub(crate) async fn start() -> Proxy {
        raw_redis().await; // fail early, with instructions, if Redis is down
        Self::start_with_password(None).await
    }

    /// A proxy whose URL carries `password` instead of the test URL's.
    pub(crate) async fn start_with_password(password: Option<&str>) -> Proxy {
        let info = redis_url().as_str().into_connection_info().unwrap();
        let ConnectionAddr::Tcp(host, port) = info.addr().clone() else {
            panic!("the proxy tests need a TCP Redis URL")
        };
        let inner = TcpProxy::start(&host, port).await;
        let redis = info.redis_settings();
        let password = password
            .map(str::to_owned)
            .or_else(|| redis.password().map(str::to_owned));
        let auth = match (redis.username(), password) {
            (user, Some(pw)) => format!("{}:{pw}@", user.unwrap_or_default()),
            (Some(user), None) => format!("{user}@"),
            (None, None) => String::new(),
        };
        let url = format!("redis://{auth}127.0.0.1:{}/{}", inner.port(), redis.db());
        Proxy { inner, url }
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }
}

impl std::ops::Deref for Proxy {
    type Target = TcpProxy;

    fn deref(&self) -> &TcpProxy {
        &self.inner
    }
}

impl std::ops::DerefMut for Proxy {
    fn deref_mut(&mut self) -> &mut TcpProxy {
        &mut self.inner
    }
}

/// Collects every tracing event (all levels, all fields) emitted on this thread while installed.
#[derive(Clone, Default)]
pub(crate) struct LogCapture(Arc<Mutex<String>>);

impl LogCapture {
    pub(crate) fn install(&self) -> tracing::subscriber::DefaultGuard {
        tracing::subscriber::set_default(self.clone())
    }

    pub(crate) fn text(&self) -> String {
        self.0.lock().unwrap().clone()
    }
}

struct FieldWriter<'a>(&'a mut String);

impl tracing::field::Visit for FieldWriter<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

impl tracing::Subscriber for LogCapture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut text = self.0.lock().unwrap();
        let _ = write!(text, "{}", event.metadata().level());
        event.record(&mut FieldWriter(&mut text));
        text.push('\n');
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}
