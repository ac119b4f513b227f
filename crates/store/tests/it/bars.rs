//! Daily bars: bulk upsert (chunked, idempotent, last write wins), range and latest queries.

use chrono::NaiveDate;
use finstage_domain::{Bar, Symbol};
use finstage_store::Backend;
use proptest::prelude::*;

use crate::support::{TestDb, backend_tests};

fn day(n: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2020, 1, 1).unwrap() + chrono::Duration::days(n)
}

fn bar(n: i64, close: f64) -> Bar {
    Bar::new(day(n), close, close + 1.0, close - 1.0, close, 1_000 + n.unsigned_abs())
        .unwrap()
        .with_adj_close(close / 2.0)
        .unwrap()
}

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

async fn upsert_then_read_back(backend: Backend) {
    let db = TestDb::with(backend, |c| c.bulk_chunk_size = 7).await;
    let aapl = sym("AAPL");
    let bars: Vec<Bar> = (0..50).map(|n| bar(n, 100.0 + n as f64)).collect();
    let summary = db.store.daily_bars().upsert(&aapl, &bars).await.unwrap();
    assert_eq!(summary.rows, 50);
    assert_eq!(summary.statements, 8, "chunks of 7");
    let back = db.store.daily_bars().range(&aapl, day(0), day(49)).await.unwrap();
    assert_eq!(back, bars);
    let middle = db.store.daily_bars().range(&aapl, day(10), day(12)).await.unwrap();
    assert_eq!(middle, bars[10..=12]);
    assert_eq!(db.store.daily_bars().latest(&aapl, 3).await.unwrap(), bars[47..]);
    assert_eq!(db.store.daily_bars().count(&aapl).await.unwrap(), 50);
    assert_eq!(
        db.store.daily_bars().span(&aapl).await.unwrap(),
        Some((day(0), day(49)))
    );
    assert!(
        db.store
            .daily_bars()
            .range(&sym("MSFT"), day(0), day(49))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(db.store.daily_bars().span(&sym("MSFT")).await.unwrap(), None);
}

async fn the_same_bars_again_change_nothing_and_corrections_win(backend: Backend) {
    let db = TestDb::new(backend).await;
    let ibm = sym("IBM");
    let bars: Vec<Bar> = (0..20).map(|n| bar(n, 50.0 + n as f64)).collect();
    db.store.daily_bars().upsert(&ibm, &bars).await.unwrap();
    db.store.daily_bars().upsert(&ibm, &bars).await.unwrap();
    assert_eq!(db.store.daily_bars().range(&ibm, day(0), day(19)).await.unwrap(), bars);
    // A corrected bar for day 5, and a new day 20, in one call; the input's last bar of a date wins.
    let corrected = bar(5, 77.0);
    let new = bar(20, 80.0);
    db.store
        .daily_bars()
        .upsert(&ibm, &[bar(5, 1.5), corrected, new])
        .await
        .unwrap();
    let mut expected = bars.clone();
    expected[5] = corrected;
    expected.push(new);
    assert_eq!(
        db.store.daily_bars().range(&ibm, day(0), day(20)).await.unwrap(),
        expected
    );
    // A bar without an adjusted close replaces one that had it.
    let plain = Bar::new(day(6), 10.0, 11.0, 9.0, 10.5, 7).unwrap();
    db.store.daily_bars().upsert(&ibm, &[plain]).await.unwrap();
    assert_eq!(
        db.store.daily_bars().range(&ibm, day(6), day(6)).await.unwrap(),
        [plain]
    );
}

async fn latest_bar_of_many_symbols(backend: Backend) {
    let db = TestDb::new(backend).await;
    let symbols: Vec<Symbol> = ["AAPL", "MSFT", "IBM", "^GSPC", "BRK.B"]
        .iter()
        .map(|s| sym(s))
        .collect();
    for (i, symbol) in symbols.iter().enumerate().take(4) {
        let bars: Vec<Bar> = (0..30 + i as i64)
            .map(|n| bar(n, 10.0 * (i + 1) as f64 + n as f64))
            .collect();
        db.store.daily_bars().upsert(symbol, &bars).await.unwrap();
    }
    let latest = db.store.daily_bars().latest_of_many(&symbols).await.unwrap();
    assert_eq!(latest.len(), 4, "BRK.B has no bars");
    for (i, (symbol, latest_bar)) in latest.iter().enumerate() {
        assert_eq!(symbol, &symbols[i]);
        let n = 29 + i as i64;
        assert_eq!(latest_bar, &bar(n, 10.0 * (i + 1) as f64 + n as f64), "{symbol}");
    }
    assert!(db.store.daily_bars().latest_of_many(&[]).await.unwrap().is_empty());
}

async fn upserts_join_the_callers_transaction(backend: Backend) {
    let db = TestDb::new(backend).await;
    let msft = sym("MSFT");
    let result: Result<(), finstage_store::StoreError> = db
        .store
        .transaction(async |tx| {
            tx.daily_bars().upsert(&msft, &[bar(1, 10.0)]).await?;
            assert_eq!(tx.daily_bars().count(&msft).await?, 1, "visible inside");
            Err(finstage_store::StoreError::InvalidInput("abort".into()))
        })
        .await;
    assert!(result.is_err());
    assert_eq!(
        db.store.daily_bars().count(&msft).await.unwrap(),
        0,
        "rolled back with the caller"
    );
}

backend_tests!(
    upsert_then_read_back,
    the_same_bars_again_change_nothing_and_corrections_win,
    latest_bar_of_many_symbols,
    upserts_join_the_callers_transaction,
);

/// Random batches: writing A then B stores B's bar wherever both have a date and A's elsewhere
/// (last write wins); writing B again changes nothing (idempotence).
fn last_write_wins(backend: Backend) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let db = runtime.block_on(TestDb::with(backend, |c| c.bulk_chunk_size = 5));
    let batch = || prop::collection::vec((0i64..40, 1.0f64..500.0), 0..30);
    let case = std::sync::atomic::AtomicU32::new(0);
    proptest!(ProptestConfig { cases: 24, ..ProptestConfig::default() }, |(a in batch(), b in batch())| {
        let n = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let symbol = sym(&format!("P{n}"));
        let a: Vec<Bar> = a.into_iter().map(|(d, c)| bar(d, c)).collect();
        let b: Vec<Bar> = b.into_iter().map(|(d, c)| bar(d, c)).collect();
        let mut expected = std::collections::BTreeMap::new();
        for x in a.iter().chain(&b) {
            expected.insert(x.time(), *x);
        }
        let expected: Vec<Bar> = expected.into_values().collect();
        let stored = runtime.block_on(async {
            db.store.daily_bars().upsert(&symbol, &a).await.unwrap();
            db.store.daily_bars().upsert(&symbol, &b).await.unwrap();
            let first = db.store.daily_bars().range(&symbol, day(0), day(40)).await.unwrap();
            db.store.daily_bars().upsert(&symbol, &b).await.unwrap();
            let again = db.store.daily_bars().range(&symbol, day(0), day(40)).await.unwrap();
            (first, again)
        });
        prop_assert_eq!(&stored.0, &expected);
        prop_assert_eq!(&stored.1, &expected);
    });
    drop(db);
}

#[test]
fn last_write_wins_on_postgres() {
    last_write_wins(Backend::Postgres);
}

#[test]
fn last_write_wins_on_mysql() {
    last_write_wins(Backend::Mysql);
}

#[test]
fn last_write_wins_on_sqlite() {
    last_write_wins(Backend::Sqlite);
}
