//! Intraday bars: bulk upsert (chunked, idempotent, last write wins), per interval, range and
//! latest queries; daily bars and intervals are refused.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use finstage_domain::{Bar, Interval, Symbol};
use finstage_store::{Backend, StoreError};

use crate::support::{TestDb, backend_tests};

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

/// Minute `n` of a session.
fn minute(n: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 14, 30, 0).unwrap() + chrono::Duration::minutes(n)
}

fn bar(n: i64, close: f64) -> Bar {
    Bar::new(
        minute(n),
        close,
        close + 0.5,
        close - 0.5,
        close,
        100 + n.unsigned_abs(),
    )
    .unwrap()
}

async fn upsert_then_read_back(backend: Backend) {
    let db = TestDb::with(backend, |c| c.bulk_chunk_size = 7).await;
    let aapl = sym("AAPL");
    let bars: Vec<Bar> = (0..30).map(|n| bar(n, 100.0 + n as f64)).collect();
    let summary = db
        .store
        .intraday_bars()
        .upsert(&aapl, Interval::M1, &bars)
        .await
        .unwrap();
    assert_eq!((summary.rows, summary.statements), (30, 5), "chunks of 7");
    // Another interval of the same symbol is a series of its own.
    let five: Vec<Bar> = (0..6).map(|n| bar(5 * n, 200.0 + n as f64)).collect();
    db.store
        .intraday_bars()
        .upsert(&aapl, Interval::M5, &five)
        .await
        .unwrap();

    let all = db
        .store
        .intraday_bars()
        .range(&aapl, Interval::M1, minute(0), minute(29))
        .await
        .unwrap();
    assert_eq!(all, bars);
    let some = db
        .store
        .intraday_bars()
        .range(&aapl, Interval::M1, minute(10), minute(12))
        .await
        .unwrap();
    assert_eq!(some, bars[10..=12], "both ends included");
    assert_eq!(
        db.store.intraday_bars().latest(&aapl, Interval::M1, 4).await.unwrap(),
        bars[26..]
    );
    assert_eq!(
        db.store
            .intraday_bars()
            .range(&aapl, Interval::M5, minute(0), minute(60))
            .await
            .unwrap(),
        five
    );
    assert_eq!(
        db.store.intraday_bars().latest(&aapl, Interval::H1, 4).await.unwrap(),
        []
    );
    assert!(
        db.store
            .intraday_bars()
            .range(&sym("MSFT"), Interval::M1, minute(0), minute(29))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn the_same_bars_again_change_nothing_and_corrections_win(backend: Backend) {
    let db = TestDb::new(backend).await;
    let ibm = sym("IBM");
    let bars: Vec<Bar> = (0..10).map(|n| bar(n, 50.0 + n as f64)).collect();
    db.store
        .intraday_bars()
        .upsert(&ibm, Interval::M15, &bars)
        .await
        .unwrap();
    db.store
        .intraday_bars()
        .upsert(&ibm, Interval::M15, &bars)
        .await
        .unwrap();
    let read = async || {
        db.store
            .intraday_bars()
            .range(&ibm, Interval::M15, minute(0), minute(100))
            .await
            .unwrap()
    };
    assert_eq!(read().await, bars);
    assert_eq!(
        db.store
            .conn()
            .await
            .unwrap()
            .count_rows("intraday_bars")
            .await
            .unwrap(),
        10
    );
    // The last bar of a time in the input wins, and replaces the stored one.
    let corrected = bar(3, 77.0);
    let summary = db
        .store
        .intraday_bars()
        .upsert(&ibm, Interval::M15, &[bar(3, 1.5), corrected, bar(10, 60.0)])
        .await
        .unwrap();
    assert_eq!(summary.rows, 2, "duplicates in the input are folded");
    let mut expected = bars.clone();
    expected[3] = corrected;
    expected.push(bar(10, 60.0));
    assert_eq!(read().await, expected);
}

async fn times_are_kept_to_the_microsecond(backend: Backend) {
    let db = TestDb::new(backend).await;
    let eur = sym("EURUSD=X");
    let time = Utc.timestamp_opt(1_772_000_000, 123_456_789).unwrap();
    let input = Bar::new(time, 1.1, 1.2, 1.0, 1.15, 0).unwrap();
    db.store
        .intraday_bars()
        .upsert(&eur, Interval::H1, &[input])
        .await
        .unwrap();
    let stored = Utc.timestamp_opt(1_772_000_000, 123_456_000).unwrap();
    let back = db.store.intraday_bars().latest(&eur, Interval::H1, 1).await.unwrap();
    assert_eq!(back, [Bar::new(stored, 1.1, 1.2, 1.0, 1.15, 0).unwrap()]);
    // The same instant, given to the nanosecond, finds it.
    assert_eq!(
        db.store
            .intraday_bars()
            .range(&eur, Interval::H1, time, time)
            .await
            .unwrap(),
        back
    );
}

async fn daily_bars_and_intervals_are_refused(backend: Backend) {
    let db = TestDb::new(backend).await;
    let spy = sym("SPY");
    let dated = Bar::new(NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(), 1.0, 2.0, 0.5, 1.5, 10).unwrap();
    let err = db
        .store
        .intraday_bars()
        .upsert(&spy, Interval::M1, &[bar(0, 10.0), dated])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidInput(_)), "{err}");
    for interval in [Interval::D1, Interval::W1, Interval::Mo1] {
        assert!(matches!(
            db.store.intraday_bars().upsert(&spy, interval, &[bar(0, 10.0)]).await,
            Err(StoreError::InvalidInput(_))
        ));
        assert!(matches!(
            db.store
                .intraday_bars()
                .range(&spy, interval, minute(0), minute(1))
                .await,
            Err(StoreError::InvalidInput(_))
        ));
        assert!(matches!(
            db.store.intraday_bars().latest(&spy, interval, 1).await,
            Err(StoreError::InvalidInput(_))
        ));
    }
    assert_eq!(
        db.store
            .conn()
            .await
            .unwrap()
            .count_rows("intraday_bars")
            .await
            .unwrap(),
        0,
        "nothing written"
    );
}

async fn a_corrupt_row_is_an_invalid_row(backend: Backend) {
    let db = TestDb::new(backend).await;
    let mut conn = db.store.conn().await.unwrap();
    conn.execute_batch(
        "INSERT INTO intraday_bars (symbol, bar_interval, ts, open, high, low, close, volume) \
         VALUES ('AAPL', '1m', '2026-03-02 14:30:00', 10, 9, 11, 10, 5)",
    )
    .await
    .unwrap();
    assert!(matches!(
        conn.intraday_bars().latest(&sym("AAPL"), Interval::M1, 5).await,
        Err(StoreError::InvalidRow {
            table: "intraday_bars",
            ..
        })
    ));
}

backend_tests!(
    upsert_then_read_back,
    the_same_bars_again_change_nothing_and_corrections_win,
    times_are_kept_to_the_microsecond,
    daily_bars_and_intervals_are_refused,
    a_corrupt_row_is_an_invalid_row,
);
