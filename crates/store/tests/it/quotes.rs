//! The latest quotes: one row per symbol, a newer quote replaces it and a late older one does
//! not; lookups of one symbol and of many in one statement.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use diesel::QueryableByName;
use diesel::sql_types::Timestamp;
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncMysqlConnection, AsyncPgConnection, RunQueryDsl};
use finstage_domain::{Quote, Symbol};
use finstage_store::{Backend, StoreError};

use crate::support::{TestDb, backend_tests};

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_772_000_000 + seconds, 250_000_000).unwrap()
}

fn full(symbol: &str, price: f64, time: DateTime<Utc>) -> Quote {
    Quote::new(sym(symbol), price, time)
        .unwrap()
        .with_previous_close(price - 1.0)
        .unwrap()
        .with_open(price - 0.5)
        .unwrap()
        .with_day_range(price - 2.0, price + 2.0)
        .unwrap()
        .with_volume(1_234_567)
        .unwrap()
        .with_currency("usd")
        .unwrap()
}

#[derive(QueryableByName)]
struct UpdatedAt {
    #[diesel(sql_type = Timestamp)]
    updated_at: NaiveDateTime,
}

/// The stored `updated_at` of `symbol`, read around the store.
async fn updated_at(db: &TestDb, symbol: &str) -> DateTime<Utc> {
    let url = db.store.config().url.expose_secret().to_owned();
    let sql = format!("SELECT updated_at FROM quotes_latest WHERE symbol = '{symbol}'");
    let rows: Vec<UpdatedAt> = match db.store.backend() {
        Backend::Postgres => {
            let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
            diesel::sql_query(sql).load(&mut conn).await.unwrap()
        }
        Backend::Mysql => {
            let mut conn = AsyncMysqlConnection::establish(&url).await.unwrap();
            diesel::sql_query(sql).load(&mut conn).await.unwrap()
        }
        Backend::Sqlite => {
            let mut conn = SyncConnectionWrapper::<diesel::SqliteConnection>::establish(&url)
                .await
                .unwrap();
            diesel::sql_query(sql).load(&mut conn).await.unwrap()
        }
    };
    assert_eq!(rows.len(), 1);
    rows[0].updated_at.and_utc()
}

async fn upsert_and_get(backend: Backend) {
    let db = TestDb::new(backend).await;
    let aapl = full("AAPL", 190.25, at(0));
    let before = Utc::now() - chrono::Duration::seconds(1);
    db.store.quotes().upsert(&aapl).await.unwrap();
    let after = Utc::now() + chrono::Duration::seconds(1);
    assert_eq!(db.store.quotes().get(&sym("AAPL")).await.unwrap(), Some(aapl));
    let written = updated_at(&db, "AAPL").await;
    assert!(before <= written && written <= after, "updated_at is now: {written}");

    // A quote with no details round-trips as such.
    let bare = Quote::new(sym("^GSPC"), 5_000.5, at(3)).unwrap();
    db.store.quotes().upsert(&bare).await.unwrap();
    assert_eq!(db.store.quotes().get(&sym("^GSPC")).await.unwrap(), Some(bare));
    assert_eq!(db.store.quotes().get(&sym("MSFT")).await.unwrap(), None);
}

async fn a_newer_quote_replaces_and_an_older_one_does_not(backend: Backend) {
    let db = TestDb::new(backend).await;
    let first = full("MSFT", 400.0, at(10));
    db.store.quotes().upsert(&first).await.unwrap();
    // Newer, with fewer details: every column is replaced.
    let newer = Quote::new(sym("MSFT"), 401.0, at(20)).unwrap();
    db.store.quotes().upsert(&newer).await.unwrap();
    assert_eq!(db.store.quotes().get(&sym("MSFT")).await.unwrap(), Some(newer));
    let stamped = updated_at(&db, "MSFT").await;

    // Older, arriving late: nothing changes, not even updated_at.
    db.store.quotes().upsert(&full("MSFT", 399.0, at(15))).await.unwrap();
    assert_eq!(db.store.quotes().get(&sym("MSFT")).await.unwrap(), Some(newer));
    assert_eq!(updated_at(&db, "MSFT").await, stamped);

    // The same time again: a correction, it replaces.
    let corrected = full("MSFT", 401.5, at(20));
    db.store.quotes().upsert(&corrected).await.unwrap();
    assert_eq!(db.store.quotes().get(&sym("MSFT")).await.unwrap(), Some(corrected));
    assert_eq!(
        db.store
            .conn()
            .await
            .unwrap()
            .count_rows("quotes_latest")
            .await
            .unwrap(),
        1
    );
}

async fn many_in_the_order_asked(backend: Backend) {
    let db = TestDb::new(backend).await;
    let quotes: Vec<Quote> = ["AAPL", "MSFT", "IBM"]
        .iter()
        .enumerate()
        .map(|(i, s)| full(s, 100.0 + i as f64, at(i as i64)))
        .collect();
    for quote in &quotes {
        db.store.quotes().upsert(quote).await.unwrap();
    }
    let asked = [sym("IBM"), sym("ORCL"), sym("AAPL"), sym("IBM")];
    assert_eq!(
        db.store.quotes().many(&asked).await.unwrap(),
        [quotes[2], quotes[0]],
        "missing skipped, a repeat once"
    );
    assert!(db.store.quotes().many(&[]).await.unwrap().is_empty());
}

async fn bad_quotes_are_refused_and_corrupt_rows_reported(backend: Backend) {
    let db = TestDb::new(backend).await;
    let huge = Quote::new(sym("BTC-USD"), 1.0, at(0))
        .unwrap()
        .with_volume(u64::MAX)
        .unwrap();
    assert!(matches!(
        db.store.quotes().upsert(&huge).await,
        Err(StoreError::InvalidInput(_))
    ));
    let mut conn = db.store.conn().await.unwrap();
    assert_eq!(conn.count_rows("quotes_latest").await.unwrap(), 0);
    conn.execute_batch(
        "INSERT INTO quotes_latest (symbol, price, day_high, quoted_at, updated_at) \
         VALUES ('AAPL', 10, 11, '2026-01-02 03:04:05', '2026-01-02 03:04:05')",
    )
    .await
    .unwrap();
    assert!(matches!(
        conn.quotes().get(&sym("AAPL")).await,
        Err(StoreError::InvalidRow {
            table: "quotes_latest",
            ..
        })
    ));
}

backend_tests!(
    upsert_and_get,
    a_newer_quote_replaces_and_an_older_one_does_not,
    many_in_the_order_asked,
    bad_quotes_are_refused_and_corrupt_rows_reported,
);
