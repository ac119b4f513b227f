//! Redis backend specifics: key layout, TTL in Redis, clear() scope and glob escaping, outages
//! through a proxy, configuration errors, and the password never showing.

use std::time::{Duration, Instant};

use finstage_cache::{Cache, CacheError, CacheExt, MAX_TTL, RedisCache, RedisConfig};

use crate::support::{LogCapture, Namespace, Proxy, raw_keys, raw_redis, redis_config, redis_url};

const TTL: Duration = Duration::from_secs(60);

async fn cache(name: &str, namespace: &str) -> RedisCache {
    raw_redis().await; // fails with instructions when Redis is down
    RedisCache::new(name, redis_config(&redis_url(), namespace))
        .await
        .unwrap()
}

#[tokio::test]
async fn keys_live_under_namespace_and_name_as_json_with_a_ttl() {
    let mut raw = raw_redis().await;
    let ns = Namespace::new();
    let cache = cache("quotes", &ns.0).await;
    assert_eq!(cache.key_prefix(), format!("{}:quotes:", ns.0));

    #[derive(serde::Serialize)]
    struct Quote {
        symbol: &'static str,
        price: f64,
    }
    cache
        .set(
            "quote:AAPL",
            &Quote {
                symbol: "AAPL",
                price: 189.5,
            },
            TTL,
        )
        .await
        .unwrap();
    let full = format!("{}:quotes:quote:AAPL", ns.0);
    let stored: String = redis::cmd("GET").arg(&full).query_async(&mut raw).await.unwrap();
    assert_eq!(stored, r#"{"symbol":"AAPL","price":189.5}"#);
    let pttl: i64 = redis::cmd("PTTL").arg(&full).query_async(&mut raw).await.unwrap();
    assert!(pttl > 0 && pttl <= 60_000, "PTTL {pttl}");

    // A sub-millisecond TTL is rounded up to 1 ms, never down to "no expiry".
    cache.set("tiny", &1u32, Duration::from_micros(10)).await.unwrap();
    let pttl: i64 = redis::cmd("PTTL")
        .arg(format!("{}:quotes:tiny", ns.0))
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(
        pttl == -2 || (0..=1).contains(&pttl),
        "PTTL {pttl}: -1 would mean stored forever"
    );

    // A zero TTL deletes the key in Redis.
    cache.set("quote:AAPL", &1u32, Duration::ZERO).await.unwrap();
    let exists: i64 = redis::cmd("EXISTS").arg(&full).query_async(&mut raw).await.unwrap();
    assert_eq!(exists, 0);

    // A huge TTL is capped at MAX_TTL.
    cache.set("long", &1u32, Duration::from_secs(u64::MAX)).await.unwrap();
    let pttl: i64 = redis::cmd("PTTL")
        .arg(format!("{}:quotes:long", ns.0))
        .query_async(&mut raw)
        .await
        .unwrap();
    let max = MAX_TTL.as_millis() as i64;
    assert!(pttl <= max && pttl > max - 10_000, "PTTL {pttl}");
}

#[tokio::test]
async fn clear_removes_every_key_of_the_cache_and_nothing_else() {
    let mut raw = raw_redis().await;
    let ns = Namespace::new();
    let quotes = cache("quotes", &ns.0).await;
    let other = cache("quotes-other", &ns.0).await;
    // More keys than one SCAN/UNLINK batch.
    let mut pipe = redis::pipe();
    for i in 0..1_234 {
        pipe.cmd("SET")
            .arg(format!("{}:quotes:k{i}", ns.0))
            .arg("1")
            .arg("PX")
            .arg(60_000)
            .ignore();
    }
    let _: () = pipe.query_async(&mut raw).await.unwrap();
    other.set("k1", &1u32, TTL).await.unwrap();
    // Keys that share a textual prefix without being this cache's.
    let _: () = redis::cmd("SET")
        .arg(format!("{}:quotesX:k", ns.0))
        .arg("1")
        .query_async(&mut raw)
        .await
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg(format!("{}:quotes", ns.0))
        .arg("1")
        .query_async(&mut raw)
        .await
        .unwrap();

    quotes.clear().await.unwrap();
    assert_eq!(
        raw_keys(&mut raw, &format!("{}:quotes:", ns.0)).await,
        Vec::<String>::new()
    );
    assert_eq!(
        raw_keys(&mut raw, &ns.0).await,
        [
            format!("{}:quotes", ns.0),
            format!("{}:quotes-other:k1", ns.0),
            format!("{}:quotesX:k", ns.0)
        ]
    );
}

#[tokio::test]
async fn glob_characters_in_names_do_not_widen_clear() {
    let mut raw = raw_redis().await;
    let base = Namespace::new();
    // Unescaped, `{base}*:a?:*` would match all four caches' keys.
    let target = cache("a?", &format!("{}*", base.0)).await;
    let same_namespace = cache("ab", &format!("{}*", base.0)).await;
    let other_namespace = cache("a?", &format!("{}x", base.0)).await;
    let brackets = cache("[a]b", &format!("{}*", base.0)).await;
    for cache in [&target, &same_namespace, &other_namespace, &brackets] {
        cache.set("k", &1u32, TTL).await.unwrap();
    }
    target.clear().await.unwrap();
    assert_eq!(target.get::<u32>("k").await.unwrap(), None);
    for cache in [&same_namespace, &other_namespace, &brackets] {
        assert_eq!(cache.get::<u32>("k").await.unwrap(), Some(1), "{cache:?} lost its key");
    }
    assert_eq!(raw_keys(&mut raw, &base.0).await.len(), 3);
}

fn assert_unavailable<T: std::fmt::Debug>(op: &str, result: Result<T, CacheError>, started: Instant, limit: Duration) {
    let elapsed = started.elapsed();
    match result {
        Err(CacheError::Unavailable { cache, message }) => {
            assert_eq!(cache, "outage", "{op}");
            assert!(!message.is_empty(), "{op}");
        }
        other => panic!("{op}: expected Unavailable, got {other:?}"),
    }
    assert!(elapsed < limit, "{op} took {elapsed:?} to fail, more than {limit:?}");
}

#[tokio::test]
async fn while_redis_is_down_calls_fail_fast_and_the_cache_recovers() {
    let mut proxy = Proxy::start().await;
    let ns = Namespace::new();
    let response_timeout = Duration::from_millis(500);
    let config = RedisConfig {
        response_timeout,
        ..redis_config(proxy.url(), &ns.0)
    };
    let cache = RedisCache::new("outage", config).await.unwrap();
    cache.set("k", &1u32, TTL).await.unwrap();
    assert_eq!(cache.get::<u32>("k").await.unwrap(), Some(1));

    // Down: the connection is closed and new ones are refused. Every call fails with Unavailable,
    // without waiting for the deadline.
    proxy.stop().await;
    let limit = response_timeout;
    for _ in 0..3 {
        let t = Instant::now();
        assert_unavailable("get", cache.get_bytes("k").await, t, limit);
        let t = Instant::now();
        assert_unavailable("set", cache.set("k", &2u32, TTL).await, t, limit);
        let t = Instant::now();
        assert_unavailable("delete", cache.delete("k").await, t, limit);
        let t = Instant::now();
        assert_unavailable("clear", cache.clear().await, t, limit);
        let t = Instant::now();
        assert_unavailable("ping", cache.ping().await, t, limit);
    }
    // get_or_set serves the loader while Redis is down.
    let v = cache.get_or_set("k", TTL, || async { Ok::<_, String>(3u32) }).await;
    assert_eq!(v, Ok(3));
    // Per round: get, set, delete and clear (ping is a probe, not counted); then get_or_set's
    // lookup and store.
    assert_eq!(cache.stats().errors, 3 * 4 + 2, "{:?}", cache.stats());

    // Back: the very next call succeeds, and the value written before the outage is still there.
    proxy.restart().await;
    assert_eq!(cache.get::<u32>("k").await.unwrap(), Some(1));
    cache.set("k", &4u32, TTL).await.unwrap();
    assert_eq!(cache.get::<u32>("k").await.unwrap(), Some(4));
    cache.ping().await.unwrap();
}

#[tokio::test]
async fn a_dropped_connection_is_replaced_within_the_call() {
    let proxy = Proxy::start().await;
    let ns = Namespace::new();
    let cache = RedisCache::new("outage", redis_config(proxy.url(), &ns.0))
        .await
        .unwrap();
    cache.set("k", &1u32, TTL).await.unwrap();
    for round in 0..3 {
        // The server closes the connection (restart, idle timeout, failover): the next call still
        // succeeds, on a new connection.
        proxy.drop_connections().await;
        assert_eq!(cache.get::<u32>("k").await.unwrap(), Some(1), "round {round}");
    }
    assert_eq!(cache.stats().errors, 0);
}

#[tokio::test]
async fn a_redis_that_stops_answering_fails_calls_after_the_response_timeout() {
    let proxy = Proxy::start().await;
    let ns = Namespace::new();
    let response_timeout = Duration::from_millis(300);
    let config = RedisConfig {
        response_timeout,
        ..redis_config(proxy.url(), &ns.0)
    };
    let cache = RedisCache::new("outage", config).await.unwrap();
    cache.set("k", &1u32, TTL).await.unwrap();

    // A black hole: the connection stays open, nothing comes back.
    proxy.freeze(true);
    let t = Instant::now();
    let result = cache.get_bytes("k").await;
    assert!(t.elapsed() >= response_timeout, "failed before the timeout: {result:?}");
    assert_unavailable("get", result, t, response_timeout + Duration::from_secs(1));

    proxy.freeze(false);
    assert_eq!(cache.get::<u32>("k").await.unwrap(), Some(1));
}

#[tokio::test]
async fn a_cache_built_while_redis_is_down_starts_working_when_it_comes_up() {
    let mut proxy = Proxy::start().await;
    proxy.stop().await;
    let ns = Namespace::new();
    let started = Instant::now();
    let cache = RedisCache::new("outage", redis_config(proxy.url(), &ns.0))
        .await
        .expect("new() does not need Redis");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "new() took {:?}",
        started.elapsed()
    );
    let t = Instant::now();
    assert_unavailable("ping", cache.ping().await, t, Duration::from_secs(1));
    let t = Instant::now();
    assert_unavailable("get", cache.get_bytes("k").await, t, Duration::from_secs(1));

    proxy.restart().await;
    cache.ping().await.unwrap();
    cache.set("k", &1u32, TTL).await.unwrap();
    assert_eq!(cache.get::<u32>("k").await.unwrap(), Some(1));
}

#[tokio::test]
async fn bad_configurations_are_config_errors() {
    let ns = Namespace::new();
    let ok = redis_config(&redis_url(), &ns.0);
    let cases = [
        ("name:with:colons", ok.clone()),
        ("", ok.clone()),
        ("name with space", ok.clone()),
        (
            "ok",
            RedisConfig {
                namespace: String::new(),
                ..ok.clone()
            },
        ),
        (
            "ok",
            RedisConfig {
                namespace: "a:b".into(),
                ..ok.clone()
            },
        ),
        (
            "ok",
            RedisConfig {
                response_timeout: Duration::ZERO,
                ..ok.clone()
            },
        ),
        (
            "ok",
            RedisConfig {
                connect_timeout: Duration::ZERO,
                ..ok.clone()
            },
        ),
        (
            "ok",
            RedisConfig {
                url: "rediss://:hunter2@127.0.0.1:6380".parse().unwrap(),
                ..ok.clone()
            },
        ),
    ];
    for (name, config) in cases {
        match RedisCache::new(name, config.clone()).await {
            Err(CacheError::Config(message)) => assert!(!message.contains("hunter2"), "{message}"),
            other => panic!("{name:?} {config:?}: expected a config error, got {other:?}"),
        }
    }
    let defaults = RedisConfig::default();
    assert_eq!(defaults.namespace, "finstage");
    assert_eq!(
        (defaults.connect_timeout, defaults.response_timeout),
        (Duration::from_secs(1), Duration::from_millis(500))
    );
    assert_eq!(defaults.url.to_string(), "redis://127.0.0.1:6379/0");
}

const PASSWORD: &str = "hunter2-Sup3rSecret";

fn assert_no_password(what: &str, text: &str) {
    assert!(!text.contains(PASSWORD), "the password leaked into {what}: {text}");
}

#[tokio::test]
async fn the_password_never_reaches_debug_errors_or_logs() {
    let logs = LogCapture::default();
    let _capture = logs.install();

    // A server that is down, reached with a password.
    let mut proxy = Proxy::start_with_password(Some(PASSWORD)).await;
    proxy.stop().await;
    let ns = Namespace::new();
    let config = redis_config(proxy.url(), &ns.0);
    assert!(
        config.url.expose_secret().contains(PASSWORD),
        "the test must use a password"
    );
    assert_no_password("RedisUrl Display", &config.url.to_string());
    assert_no_password("RedisConfig Debug", &format!("{config:?}"));
    assert!(format!("{config:?}").contains(":***@"), "{config:?}");

    let cache = RedisCache::new("secret", config).await.unwrap();
    assert_no_password("RedisCache Debug", &format!("{cache:?}"));
    let error = cache.get_bytes("k").await.unwrap_err();
    assert_no_password("an Unavailable error", &error.to_string());
    assert_no_password("an Unavailable error's Debug", &format!("{error:?}"));
    let loaded = cache.get_or_set("k", TTL, || async { Ok::<_, String>(1u32) }).await;
    assert_eq!(loaded, Ok(1));

    // A server that is up but refuses the password.
    proxy.restart().await;
    let error = cache.ping().await.unwrap_err();
    assert!(matches!(error, CacheError::Unavailable { .. }), "{error:?}");
    assert_no_password("an authentication error", &error.to_string());
    assert_eq!(
        cache.get_or_set("k", TTL, || async { Ok::<_, String>(2u32) }).await,
        Ok(2)
    );

    // A malformed URL with a password.
    let error = format!("redis://:{PASSWORD}@host:port/0")
        .parse::<finstage_cache::RedisUrl>()
        .unwrap_err();
    assert_no_password("a URL parse error", &error.to_string());

    let logs = logs.text();
    assert!(
        logs.contains("WARN"),
        "new() and get_or_set() should have warned: {logs}"
    );
    assert!(logs.contains(":***@"), "the warning names the redacted URL: {logs}");
    assert_no_password("the logs", &logs);
}

#[tokio::test]
async fn swallowed_errors_are_logged_with_the_key_never_the_value() {
    let logs = LogCapture::default();
    let _capture = logs.install();
    let ns = Namespace::new();
    let cache = cache("logging", &ns.0).await;
    cache
        .set("quote:SECRET", &"value-that-must-not-be-logged", TTL)
        .await
        .unwrap();
    let loaded = cache
        .get_or_set("quote:SECRET", TTL, || async { Ok::<_, String>(7u32) })
        .await;
    assert_eq!(loaded, Ok(7));
    let logs = logs.text();
    assert!(logs.contains("quote:SECRET"), "the key is logged: {logs}");
    assert!(logs.contains("decode"), "the error is logged: {logs}");
    assert!(
        !logs.contains("value-that-must-not-be-logged"),
        "the value leaked: {logs}"
    );
}

/// A Redis ACL user that exists only during a test (removed on drop).
struct AclUser(String);

impl Drop for AclUser {
    fn drop(&mut self) {
        let Ok(client) = redis::Client::open(redis_url().as_str()) else {
            return;
        };
        let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_secs(2)) else {
            return;
        };
        let _: redis::RedisResult<i64> = redis::cmd("ACL").arg("DELUSER").arg(&self.0).query(&mut conn);
    }
}

#[tokio::test]
async fn refused_credentials_recover_once_the_server_accepts_them() {
    let mut raw = raw_redis().await;
    let ns = Namespace::new();
    let user = AclUser(format!("{}-user", ns.0));
    let url = format!("redis://{}:{PASSWORD}@127.0.0.1:{}/0", user.0, {
        let info = redis::IntoConnectionInfo::into_connection_info(redis_url().as_str()).unwrap();
        match info.addr() {
            redis::ConnectionAddr::Tcp(_, port) => *port,
            other => panic!("this test needs a TCP Redis URL, not {other:?}"),
        }
    });
    let cache = RedisCache::new("acl", redis_config(&url, &ns.0)).await.unwrap();
    for _ in 0..2 {
        match cache.ping().await {
            Err(CacheError::Unavailable { message, .. }) => {
                assert!(message.contains("authentication failed"), "{message}");
                assert_no_password("an authentication error", &message);
            }
            other => panic!("expected an authentication failure, got {other:?}"),
        }
    }
    // The operator creates the user: the next call connects, without rebuilding the cache.
    let _: () = redis::cmd("ACL")
        .arg("SETUSER")
        .arg(&user.0)
        .arg("on")
        .arg(format!(">{PASSWORD}"))
        .arg(format!("~{}*", crate::support::glob_escape(&ns.0)))
        .arg("+@all")
        .query_async(&mut raw)
        .await
        .unwrap();
    cache.ping().await.unwrap();
    cache.set("k", &1u32, TTL).await.unwrap();
    assert_eq!(cache.get::<u32>("k").await.unwrap(), Some(1));
}
