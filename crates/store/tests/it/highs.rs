//! All-time highs: a new record only for a higher value, its history, and concurrent calls that
//! serialise.

use chrono::NaiveDate;
use finstage_domain::Symbol;
use finstage_store::{Backend, NewHigh, StoreError};

use crate::support::{TestDb, backend_tests};

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

fn day(n: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Days::new(n.into())
}

async fn a_record_only_for_a_higher_value(backend: Backend) {
    let db = TestDb::new(backend).await;
    let nvda = sym("NVDA");
    assert_eq!(db.store.highs().get(&nvda).await.unwrap(), None);

    let first = db.store.highs().record(&nvda, day(1), 100.0).await.unwrap();
    assert_eq!(
        first,
        Some(NewHigh {
            previous: None,
            high: 100.0,
            date: day(1)
        })
    );
    let record = db.store.highs().get(&nvda).await.unwrap().unwrap();
    assert_eq!((record.high, record.date), (100.0, day(1)));

    // Equal or lower: nothing, and nothing written.
    assert_eq!(db.store.highs().record(&nvda, day(2), 100.0).await.unwrap(), None);
    assert_eq!(db.store.highs().record(&nvda, day(3), 99.5).await.unwrap(), None);
    assert_eq!(db.store.highs().get(&nvda).await.unwrap(), Some(record));
    assert_eq!(db.store.highs().history(&nvda).await.unwrap(), [(day(1), 100.0, None)]);

    let higher = db.store.highs().record(&nvda, day(4), 120.5).await.unwrap();
    assert_eq!(
        higher,
        Some(NewHigh {
            previous: Some((100.0, day(1))),
            high: 120.5,
            date: day(4)
        })
    );
    let record = db.store.highs().get(&nvda).await.unwrap().unwrap();
    assert_eq!((record.high, record.date), (120.5, day(4)));
    assert_eq!(
        db.store.highs().history(&nvda).await.unwrap(),
        [(day(1), 100.0, None), (day(4), 120.5, Some(100.0))]
    );

    // A second new high on the same day replaces the day's high and keeps its previous high.
    let again = db.store.highs().record(&nvda, day(4), 121.0).await.unwrap();
    assert_eq!(again.unwrap().previous, Some((120.5, day(4))));
    assert_eq!(
        db.store.highs().history(&nvda).await.unwrap(),
        [(day(1), 100.0, None), (day(4), 121.0, Some(100.0))]
    );
    // Another symbol is separate.
    assert!(db.store.highs().history(&sym("AMD")).await.unwrap().is_empty());
}

async fn bad_highs_are_refused(backend: Backend) {
    let db = TestDb::new(backend).await;
    for bad in [f64::NAN, f64::INFINITY, 0.0, -3.0] {
        assert!(
            matches!(
                db.store.highs().record(&sym("X"), day(1), bad).await,
                Err(StoreError::InvalidInput(_))
            ),
            "{bad}"
        );
    }
    let mut conn = db.store.conn().await.unwrap();
    assert_eq!(conn.count_rows("price_high_records").await.unwrap(), 0);
    assert_eq!(conn.count_rows("price_high_history").await.unwrap(), 0);
}

async fn a_record_joins_the_callers_transaction(backend: Backend) {
    let db = TestDb::new(backend).await;
    let tsla = sym("TSLA");
    let result: Result<(), StoreError> = db
        .store
        .transaction(async |tx| {
            assert!(tx.highs().record(&tsla, day(1), 300.0).await?.is_some());
            Err(StoreError::InvalidInput("abort".into()))
        })
        .await;
    assert!(result.is_err());
    assert_eq!(db.store.highs().get(&tsla).await.unwrap(), None, "rolled back");
    assert!(db.store.highs().history(&tsla).await.unwrap().is_empty());
}

/// Concurrent records of one symbol serialise: the highest wins, and the new highs returned form
/// one chain (each one's previous is the one before it), which the history repeats.
async fn concurrent_records_serialise(backend: Backend) {
    let db = TestDb::new(backend).await;
    for round in 0..4 {
        let symbol = sym(&format!("SPY{round}"));
        let mut tasks = Vec::new();
        for n in [3_u32, 8, 1, 6, 2, 7, 5, 4] {
            let store = db.store.clone();
            tasks.push(tokio::spawn(async move {
                store.highs().record(&symbol, day(n), f64::from(n) * 10.0).await
            }));
        }
        let mut new_highs: Vec<NewHigh> = Vec::new();
        for task in tasks {
            if let Some(new_high) = task.await.unwrap().unwrap() {
                new_highs.push(new_high);
            }
        }
        new_highs.sort_by(|a, b| a.high.total_cmp(&b.high));
        assert_eq!(new_highs.last().map(|h| (h.high, h.date)), Some((80.0, day(8))));
        assert_eq!(new_highs[0].previous, None);
        for pair in new_highs.windows(2) {
            assert_eq!(pair[1].previous, Some((pair[0].high, pair[0].date)), "{new_highs:?}");
        }
        let record = db.store.highs().get(&symbol).await.unwrap().unwrap();
        assert_eq!((record.high, record.date), (80.0, day(8)));
        let mut history = db.store.highs().history(&symbol).await.unwrap();
        history.sort_by(|a, b| a.1.total_cmp(&b.1));
        let expected: Vec<_> = new_highs
            .iter()
            .map(|h| (h.date, h.high, h.previous.map(|p| p.0)))
            .collect();
        assert_eq!(history, expected);
    }
}

backend_tests!(
    a_record_only_for_a_higher_value,
    bad_highs_are_refused,
    a_record_joins_the_callers_transaction,
    concurrent_records_serialise,
);
