//! Price snapshots: one per symbol and day, replaced by a later upsert; the latest of a symbol.

use chrono::NaiveDate;
use finstage_domain::Symbol;
use finstage_store::{Backend, PriceSnapshot, StoreError};

use crate::support::{TestDb, backend_tests};

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

fn day(n: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 2, 1).unwrap() + chrono::Days::new(n.into())
}

fn snapshot(symbol: &str, date: NaiveDate, close: f64) -> PriceSnapshot {
    PriceSnapshot {
        symbol: sym(symbol),
        date,
        previous_close: close,
        previous_high: close + 1.0,
        previous_low: close - 1.0,
    }
}

async fn put(db: &TestDb, s: &PriceSnapshot) {
    db.store
        .snapshots()
        .upsert(&s.symbol, s.date, s.previous_close, s.previous_high, s.previous_low)
        .await
        .unwrap();
}

async fn upsert_get_and_latest(backend: Backend) {
    let db = TestDb::new(backend).await;
    let ko = sym("KO");
    assert_eq!(db.store.snapshots().latest(&ko).await.unwrap(), None);
    // Out of order: latest is by date, not by writing.
    for n in [3, 1, 2] {
        put(&db, &snapshot("KO", day(n), 60.0 + f64::from(n))).await;
    }
    put(&db, &snapshot("PEP", day(9), 170.0)).await;
    assert_eq!(
        db.store.snapshots().get(&ko, day(2)).await.unwrap(),
        Some(snapshot("KO", day(2), 62.0))
    );
    assert_eq!(db.store.snapshots().get(&ko, day(4)).await.unwrap(), None);
    assert_eq!(
        db.store.snapshots().latest(&ko).await.unwrap(),
        Some(snapshot("KO", day(3), 63.0))
    );

    // The same day again replaces it.
    put(&db, &snapshot("KO", day(2), 70.25)).await;
    assert_eq!(
        db.store.snapshots().get(&ko, day(2)).await.unwrap(),
        Some(snapshot("KO", day(2), 70.25))
    );
    assert_eq!(
        db.store
            .conn()
            .await
            .unwrap()
            .count_rows("price_snapshots")
            .await
            .unwrap(),
        4
    );
}

async fn bad_prices_are_refused(backend: Backend) {
    let db = TestDb::new(backend).await;
    let ko = sym("KO");
    for (close, high, low) in [
        (f64::NAN, 2.0, 1.0),
        (1.5, f64::INFINITY, 1.0),
        (1.5, 2.0, 0.0),
        (-1.0, 2.0, 1.0),
        (1.5, 1.0, 2.0),
    ] {
        let result = db.store.snapshots().upsert(&ko, day(1), close, high, low).await;
        assert!(
            matches!(result, Err(StoreError::InvalidInput(_))),
            "{close} {high} {low}"
        );
    }
    assert_eq!(db.store.snapshots().latest(&ko).await.unwrap(), None);
}

backend_tests!(upsert_get_and_latest, bad_prices_are_refused);
