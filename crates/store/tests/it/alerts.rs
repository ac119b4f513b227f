//! The alert log: records by dedupe key, the last sending, whether one was sent since a time,
//! pruning; and claims, once per window, with one winner among concurrent claimers.

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

const WINDOW: std::time::Duration = std::time::Duration::from_secs(180);

async fn a_claim_holds_for_its_window(backend: Backend) {
    let db = TestDb::new(backend).await;
    let alerts = || db.store.alerts();
    assert!(alerts().claim("AAPL:price_rise", at(0), WINDOW).await.unwrap());
    assert!(!alerts().claim("AAPL:price_rise", at(0), WINDOW).await.unwrap());
    assert!(!alerts().claim("AAPL:price_rise", at(2), WINDOW).await.unwrap());
    assert!(
        alerts().claim("AAPL:price_drop", at(2), WINDOW).await.unwrap(),
        "keys are apart"
    );
    // The window's end is included: three minutes after the claim, it is free again.
    assert!(alerts().claim("AAPL:price_rise", at(3), WINDOW).await.unwrap());
    assert!(!alerts().claim("AAPL:price_rise", at(5), WINDOW).await.unwrap());
    // A claim older than the caller's clock (another instance ahead) holds too.
    assert!(!alerts().claim("AAPL:price_rise", at(1), WINDOW).await.unwrap());

    // Given back (the alert could not be sent): claimable again at once; a release of a claim
    // that is not the current one changes nothing.
    assert!(!alerts().release("AAPL:price_rise", at(0)).await.unwrap());
    assert!(alerts().release("AAPL:price_rise", at(3)).await.unwrap());
    assert!(alerts().claim("AAPL:price_rise", at(4), WINDOW).await.unwrap());

    assert!(matches!(
        alerts().claim("", at(0), WINDOW).await,
        Err(StoreError::InvalidInput(_))
    ));
    assert!(matches!(
        alerts()
            .claim("k", at(0), std::time::Duration::from_secs(u64::MAX))
            .await,
        Err(StoreError::InvalidInput(_))
    ));
    // Pruning drops old claims with the records.
    assert_eq!(
        db.store.conn().await.unwrap().count_rows("alert_claims").await.unwrap(),
        2
    );
    db.store.alerts().prune(at(1_000)).await.unwrap();
    assert_eq!(
        db.store.conn().await.unwrap().count_rows("alert_claims").await.unwrap(),
        0
    );
}

async fn concurrent_claims_have_one_winner(backend: Backend) {
    let db = TestDb::with(backend, |c| c.pool.max_size = 8).await;
    // A fresh key, then a stale claim taken over: each by 16 claims at once on 8 connections.
    for minute in [0, 10] {
        let claims = (0..16).map(|_| {
            let store = db.store.clone();
            tokio::spawn(async move { store.alerts().claim("MSFT:new_all_time_high", at(minute), WINDOW).await })
        });
        let mut winners = 0;
        for claim in claims.collect::<Vec<_>>() {
            winners += usize::from(claim.await.unwrap().unwrap());
        }
        assert_eq!(winners, 1, "at minute {minute}");
    }
}

backend_tests!(
    record_and_ask,
    prune_deletes_the_older_records,
    keys_up_to_191_characters,
    a_claim_holds_for_its_window,
    concurrent_claims_have_one_winner
);
