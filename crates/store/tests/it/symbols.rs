//! Symbols: upsert (keeping the first `added_at`), lookup, the active watchlist, removal.

use chrono::{DateTime, TimeZone, Utc};
use finstage_domain::{Category, Currency, Symbol};
use finstage_store::{Backend, StoreError, SymbolRecord};

use crate::support::{TestDb, backend_tests};

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

fn at(seconds: i64, micros: u32) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + seconds, micros * 1_000).unwrap()
}

fn record(symbol: &str, active: bool) -> SymbolRecord {
    SymbolRecord {
        symbol: sym(symbol),
        name: Some(format!("{symbol} Inc.")),
        category: Category::Stock,
        currency: Some(Currency::parse("USD").unwrap()),
        exchange: Some("NASDAQ".into()),
        timezone: Some("America/New_York".into()),
        active,
        added_at: at(0, 123_456),
    }
}

async fn upsert_get_and_update(backend: Backend) {
    let db = TestDb::new(backend).await;
    let aapl = record("AAPL", true);
    db.store.symbols().upsert(&aapl).await.unwrap();
    assert_eq!(db.store.symbols().get(&sym("AAPL")).await.unwrap(), Some(aapl.clone()));
    assert_eq!(db.store.symbols().get(&sym("MSFT")).await.unwrap(), None);

    // Every field is replaced but added_at, which keeps the first value.
    let changed = SymbolRecord {
        name: None,
        category: Category::Etf,
        currency: Some(Currency::parse("GBp").unwrap()),
        exchange: None,
        timezone: Some("Europe/London".into()),
        active: false,
        added_at: at(500, 0),
        ..aapl.clone()
    };
    db.store.symbols().upsert(&changed).await.unwrap();
    let back = db.store.symbols().get(&sym("AAPL")).await.unwrap().unwrap();
    assert_eq!(
        back,
        SymbolRecord {
            added_at: aapl.added_at,
            ..changed
        }
    );
    assert_eq!(back.currency.unwrap().as_str(), "GBX");
    assert_eq!(db.store.conn().await.unwrap().count_rows("symbols").await.unwrap(), 1);
}

async fn bad_fields_are_refused(backend: Backend) {
    let db = TestDb::new(backend).await;
    let too_long = SymbolRecord {
        name: Some("n".repeat(201)),
        ..record("IBM", true)
    };
    assert!(matches!(
        db.store.symbols().upsert(&too_long).await,
        Err(StoreError::InvalidInput(_))
    ));
    let empty_exchange = SymbolRecord {
        exchange: Some(String::new()),
        ..record("IBM", true)
    };
    assert!(matches!(
        db.store.symbols().upsert(&empty_exchange).await,
        Err(StoreError::InvalidInput(_))
    ));
    // 200 characters, some of them multi-byte, are accepted.
    let longest = SymbolRecord {
        name: Some("é".repeat(200)),
        ..record("IBM", true)
    };
    db.store.symbols().upsert(&longest).await.unwrap();
    assert_eq!(db.store.symbols().get(&sym("IBM")).await.unwrap(), Some(longest));
}

async fn the_watchlist_is_the_active_symbols_in_order(backend: Backend) {
    let db = TestDb::new(backend).await;
    for (symbol, active) in [
        ("MSFT", true),
        ("^GSPC", true),
        ("AAPL", true),
        ("IBM", false),
        ("BTC-USD", true),
    ] {
        db.store.symbols().upsert(&record(symbol, active)).await.unwrap();
    }
    let names = |records: Vec<SymbolRecord>| records.into_iter().map(|r| r.symbol.to_string()).collect::<Vec<_>>();
    assert_eq!(
        names(db.store.symbols().active().await.unwrap()),
        ["AAPL", "BTC-USD", "MSFT", "^GSPC"]
    );

    assert!(db.store.symbols().set_active(&sym("IBM"), true).await.unwrap());
    assert!(db.store.symbols().set_active(&sym("MSFT"), false).await.unwrap());
    // Setting the value it already has still finds the row.
    assert!(db.store.symbols().set_active(&sym("MSFT"), false).await.unwrap());
    assert!(!db.store.symbols().set_active(&sym("ORCL"), true).await.unwrap());
    assert_eq!(
        names(db.store.symbols().active().await.unwrap()),
        ["AAPL", "BTC-USD", "IBM", "^GSPC"]
    );
    assert!(!db.store.symbols().get(&sym("MSFT")).await.unwrap().unwrap().active);
}

async fn remove_deletes_the_row(backend: Backend) {
    let db = TestDb::new(backend).await;
    db.store.symbols().upsert(&record("AAPL", true)).await.unwrap();
    db.store.symbols().upsert(&record("MSFT", true)).await.unwrap();
    assert!(db.store.symbols().remove(&sym("AAPL")).await.unwrap());
    assert!(!db.store.symbols().remove(&sym("AAPL")).await.unwrap());
    assert_eq!(db.store.symbols().get(&sym("AAPL")).await.unwrap(), None);
    assert_eq!(db.store.symbols().active().await.unwrap(), [record("MSFT", true)]);
}

async fn a_corrupt_row_is_an_invalid_row(backend: Backend) {
    let db = TestDb::new(backend).await;
    let mut conn = db.store.conn().await.unwrap();
    conn.execute_batch(
        "INSERT INTO symbols (symbol, category, active, added_at) VALUES ('AAPL', 'bond', 1 = 1, '2026-01-02 03:04:05')",
    )
    .await
    .unwrap();
    let err = conn.symbols().get(&sym("AAPL")).await.unwrap_err();
    assert!(matches!(err, StoreError::InvalidRow { table: "symbols", .. }), "{err}");
    assert!(matches!(
        conn.symbols().active().await,
        Err(StoreError::InvalidRow { .. })
    ));
}

backend_tests!(
    upsert_get_and_update,
    bad_fields_are_refused,
    the_watchlist_is_the_active_symbols_in_order,
    remove_deletes_the_row,
    a_corrupt_row_is_an_invalid_row,
);
