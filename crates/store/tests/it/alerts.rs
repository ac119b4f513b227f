//! The alert log: records by dedupe key, the last sending, whether one was sent since a time,
//! and pruning.

use chrono::{DateTime, TimeZone, Utc};
use finstage_store::{Backend, StoreError};

use crate::support::{TestDb, backend_tests};

fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap() + chrono::Duration::minutes(minutes)
}

async fn record_and_ask(backend: Backend) {
    let db = TestDb::new(backend).await;
    let key = "rsi:AAPL:1d";
    assert_eq!(db.store.alerts().last_sent(key).await.unwrap(), None);
    assert!(!db.store.alerts().sent_since(key, at(0)).await.unwrap());

    // Out of order; one at a sub-microsecond time.
    db.store.alerts().record(key, at(30)).await.unwrap();
    db.store.alerts().record(key, at(10)).await.unwrap();
    let precise = at(20) + chrono::Duration::nanoseconds(1_500);
    db.store.alerts().record("other", precise).await.unwrap();

    assert_eq!(db.store.alerts().last_sent(key).await.unwrap(), Some(at(30)));
    assert_eq!(
        db.store.alerts().last_sent("other").await.unwrap(),
        Some(at(20) + chrono::Duration::microseconds(1))
    );
    assert!(
        db.store.alerts().sent_since(key, at(30)).await.unwrap(),
        "since is included"
    );
    assert!(db.store.alerts().sent_since(key, at(11)).await.unwrap());
    assert!(!db.store.alerts().sent_since(key, at(31)).await.unwrap());
    assert!(!db.store.alerts().sent_since("nothing", at(0)).await.unwrap());
}

async fn prune_deletes_the_older_records(backend: Backend) {
    let db = TestDb::new(backend).await;
    for (key, minute) in [("a", 0), ("a", 10), ("b", 5), ("b", 20), ("c", 30)] {
        db.store.alerts().record(key, at(minute)).await.unwrap();
    }
    assert_eq!(db.store.alerts().prune(at(10)).await.unwrap(), 2, "before is excluded");
    assert_eq!(db.store.alerts().prune(at(10)).await.unwrap(), 0);
    assert_eq!(db.store.alerts().last_sent("a").await.unwrap(), Some(at(10)));
    assert_eq!(db.store.alerts().last_sent("b").await.unwrap(), Some(at(20)));
    assert_eq!(db.store.conn().await.unwrap().count_rows("alert_log").await.unwrap(), 3);
    assert_eq!(db.store.alerts().prune(at(1_000)).await.unwrap(), 3);
    assert_eq!(db.store.alerts().last_sent("c").await.unwrap(), None);
}

async fn keys_up_to_191_characters(backend: Backend) {
    let db = TestDb::new(backend).await;
    // 191 characters, multi-byte ones included (MySQL counts utf8mb4 characters).
    let longest = format!("{}{}", "€".repeat(100), "k".repeat(91));
    db.store.alerts().record(&longest, at(1)).await.unwrap();
    assert_eq!(db.store.alerts().last_sent(&longest).await.unwrap(), Some(at(1)));
    let too_long = format!("{longest}k");
    assert!(matches!(
        db.store.alerts().record(&too_long, at(1)).await,
        Err(StoreError::InvalidInput(_))
    ));
    assert!(matches!(
        db.store.alerts().record("", at(1)).await,
        Err(StoreError::InvalidInput(_))
    ));
    assert!(matches!(
        db.store.alerts().last_sent(&too_long).await,
        Err(StoreError::InvalidInput(_))
    ));
    assert!(matches!(
        db.store.alerts().sent_since(&too_long, at(0)).await,
        Err(StoreError::InvalidInput(_))
    ));
    assert_eq!(db.store.conn().await.unwrap().count_rows("alert_log").await.unwrap(), 1);
}

backend_tests!(
    record_and_ask,
    prune_deletes_the_older_records,
    keys_up_to_191_characters
);
