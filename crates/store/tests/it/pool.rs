//! The pool: its status, the acquire timeout, connection lifetimes, and the slow-statement log.

use std::time::Duration;

use finstage_store::{Backend, StoreError};

use crate::support::{TestDb, backend_tests};

async fn status_counts_in_use_idle_and_waiting(backend: Backend) {
    let db = TestDb::with(backend, |c| {
        c.pool.max_size = 2;
        c.pool.min_idle = 2;
    })
    .await;
    let status = db.store.pool_status();
    assert_eq!((status.size, status.idle, status.in_use, status.waiting), (2, 2, 0, 0));
    let first = db.store.conn().await.unwrap();
    let second = db.store.conn().await.unwrap();
    assert_eq!((db.store.pool_status().in_use, db.store.pool_status().idle), (2, 0));
    // A third checkout waits until one comes back.
    let store = db.store.clone();
    let third = tokio::spawn(async move { store.conn().await.map(drop) });
    while db.store.pool_status().waiting == 0 {
        tokio::task::yield_now().await;
    }
    assert_eq!(db.store.pool_status().waiting, 1);
    drop(first);
    third.await.unwrap().unwrap();
    drop(second);
    assert_eq!(db.store.pool_status().waiting, 0);
}

async fn a_full_pool_times_out_with_a_typed_error(backend: Backend) {
    let db = TestDb::with(backend, |c| {
        c.pool.max_size = 1;
        c.pool.acquire_timeout = Duration::from_millis(50);
    })
    .await;
    let held = db.store.conn().await.unwrap();
    let err = db.store.conn().await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err}");
    assert!(err.is_transient());
    drop(held);
    db.store.conn().await.unwrap();
}

async fn connections_past_their_lifetime_are_replaced(backend: Backend) {
    let db = TestDb::with(backend, |c| {
        c.pool.max_size = 1;
        c.pool.max_lifetime = Some(Duration::ZERO);
    })
    .await;
    let first = db.store.conn().await.unwrap().server_connection_id().await.unwrap();
    let second = db.store.conn().await.unwrap().server_connection_id().await.unwrap();
    assert!(first.is_some());
    assert_ne!(first, second, "a connection older than its lifetime is not reused");
    let kept = TestDb::with(backend, |c| c.pool.max_size = 1).await;
    let first = kept.store.conn().await.unwrap().server_connection_id().await.unwrap();
    let second = kept.store.conn().await.unwrap().server_connection_id().await.unwrap();
    assert_eq!(first, second, "within its lifetime the connection is reused");
}

backend_tests!(
    status_counts_in_use_idle_and_waiting,
    a_full_pool_times_out_with_a_typed_error
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connections_past_their_lifetime_are_replaced() {
    connections_past_their_lifetime_are_replaced(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_connections_past_their_lifetime_are_replaced() {
    connections_past_their_lifetime_are_replaced(Backend::Mysql).await;
}

/// With a threshold of zero every statement is slow: each is counted by kind and recorded in
/// `slow_queries` (kind and duration only).
#[test]
fn slow_statements_are_counted_and_recorded() {
    let recorder = metrics_util::debugging::DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let db = TestDb::with(Backend::Sqlite, |c| c.slow_query_threshold = Duration::ZERO).await;
            let symbol = finstage_domain::Symbol::parse("AAPL").unwrap();
            db.store.daily_bars().count(&symbol).await.unwrap();
            // The rows are written in the background: wait until the count's is there.
            let mut recorded = Vec::new();
            for _ in 0..10_000 {
                recorded = db.store.slow_queries().recent(100).await.unwrap();
                if recorded.iter().any(|q| q.kind == "daily_bars.count") {
                    break;
                }
                tokio::task::yield_now().await;
            }
            let count = recorded
                .iter()
                .find(|q| q.kind == "daily_bars.count")
                .expect("recorded");
            assert!(count.duration_ms >= 0.0);
            // The insert of a slow statement is not itself recorded.
            assert!(recorded.iter().all(|q| q.kind != "slow_queries.record"));
        });
    });
    let snapshot = snapshotter.snapshot().into_vec();
    // The pool's gauges were published too.
    let gauge = |state: &str| {
        snapshot.iter().find_map(|(key, _, _, value)| {
            let key = key.key();
            let matches = key.name() == "finstage_db_pool_connections"
                && key.labels().any(|l| l.key() == "state" && l.value() == state)
                && key.labels().any(|l| l.key() == "backend" && l.value() == "sqlite");
            match value {
                metrics_util::debugging::DebugValue::Gauge(v) if matches => Some(v.into_inner()),
                _ => None,
            }
        })
    };
    assert!(gauge("idle").is_some_and(|v| v >= 0.0), "idle gauge");
    assert!(gauge("in_use").is_some(), "in-use gauge");
    assert!(
        snapshot
            .iter()
            .any(|(key, _, _, _)| key.key().name() == "finstage_db_pool_waiting")
    );
    let counted: u64 = snapshot
        .into_iter()
        .filter(|(key, _, _, _)| {
            key.key().name() == "finstage_db_slow_queries_total"
                && key
                    .key()
                    .labels()
                    .any(|l| l.key() == "kind" && l.value() == "daily_bars.count")
        })
        .map(|(_, _, _, value)| match value {
            metrics_util::debugging::DebugValue::Counter(n) => n,
            _ => 0,
        })
        .sum();
    assert_eq!(counted, 1);
}
