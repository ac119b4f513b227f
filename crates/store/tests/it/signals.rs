//! Signals: idempotent inserts on (symbol, kind, timeframe, time), validation, deletion, and
//! newest-first keyset pagination with an opaque cursor.

use std::collections::HashSet;

use chrono::{DateTime, TimeZone, Utc};
use finstage_domain::Symbol;
use finstage_store::{Backend, NewSignal, PageRequest, Signal, SignalCursor, SignalFilter, StoreError};
use serde_json::json;

use crate::support::{TestDb, backend_tests};

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 4, 1, 9, 0, 0).unwrap() + chrono::Duration::minutes(minutes)
}

fn signal(symbol: &str, kind: &str, timeframe: &str, triggered_at: DateTime<Utc>) -> NewSignal {
    NewSignal {
        symbol: sym(symbol),
        kind: kind.into(),
        timeframe: timeframe.into(),
        triggered_at,
        price: 101.25,
        values: json!({"rsi": 28.5, "period": 14, "bands": [1.5, 2.0], "note": "é"}),
    }
}

async fn inserts_are_idempotent(backend: Backend) {
    let db = TestDb::new(backend).await;
    let new = signal(
        "AAPL",
        "rsi_oversold",
        "1d",
        at(0) + chrono::Duration::nanoseconds(123_456_789),
    );
    let before = Utc::now() - chrono::Duration::seconds(1);
    let (id, inserted) = db.store.signals().insert(&new).await.unwrap();
    assert!(inserted);
    // Again, even with other values: the stored signal stays.
    let again = NewSignal {
        price: 5.0,
        values: json!(null),
        ..new.clone()
    };
    assert_eq!(db.store.signals().insert(&again).await.unwrap(), (id, false));
    assert_eq!(db.store.conn().await.unwrap().count_rows("signals").await.unwrap(), 1);

    let stored = db.store.signals().get(id).await.unwrap().unwrap();
    assert_eq!(stored.id, id);
    assert_eq!(stored.symbol, new.symbol);
    assert_eq!(
        (stored.kind.as_str(), stored.timeframe.as_str()),
        ("rsi_oversold", "1d")
    );
    assert_eq!(
        stored.triggered_at,
        at(0) + chrono::Duration::microseconds(123_456),
        "to the µs"
    );
    assert_eq!(stored.price, 101.25);
    assert_eq!(stored.values, new.values);
    assert!(stored.created_at >= before && stored.created_at <= Utc::now() + chrono::Duration::seconds(1));

    // Any part of the key that differs makes another signal.
    let mut ids = HashSet::from([id]);
    for other in [
        signal("MSFT", "rsi_oversold", "1d", new.triggered_at),
        signal("AAPL", "macd_cross", "1d", new.triggered_at),
        signal("AAPL", "rsi_oversold", "1h", new.triggered_at),
        signal("AAPL", "rsi_oversold", "1d", at(1)),
    ] {
        let (other_id, inserted) = db.store.signals().insert(&other).await.unwrap();
        assert!(inserted);
        assert!(ids.insert(other_id), "a new id");
    }
    assert_eq!(db.store.signals().get(i64::MAX).await.unwrap(), None);
}

async fn concurrent_inserts_of_one_signal_store_one(backend: Backend) {
    let db = TestDb::new(backend).await;
    let new = signal("AAPL", "breakout", "15m", at(5));
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let (store, new) = (db.store.clone(), new.clone());
            tokio::spawn(async move { store.signals().insert(&new).await })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap().unwrap());
    }
    assert_eq!(
        results.iter().filter(|(_, inserted)| *inserted).count(),
        1,
        "{results:?}"
    );
    assert!(results.iter().all(|(id, _)| *id == results[0].0));
    assert_eq!(db.store.conn().await.unwrap().count_rows("signals").await.unwrap(), 1);
}

async fn bad_signals_are_refused(backend: Backend) {
    let db = TestDb::new(backend).await;
    let longest_kind = "k".repeat(48);
    for kind in ["", "RSI", "rsi-oversold", "rsi oversold", "rsí", &"k".repeat(49)] {
        let result = db.store.signals().insert(&signal("AAPL", kind, "1d", at(0))).await;
        assert!(matches!(result, Err(StoreError::InvalidInput(_))), "kind {kind:?}");
    }
    for timeframe in ["", "1 d", "123456789", "1d\n"] {
        let result = db.store.signals().insert(&signal("AAPL", "ok", timeframe, at(0))).await;
        assert!(
            matches!(result, Err(StoreError::InvalidInput(_))),
            "timeframe {timeframe:?}"
        );
    }
    for price in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let bad = NewSignal {
            price,
            ..signal("AAPL", "ok", "1d", at(0))
        };
        assert!(matches!(
            db.store.signals().insert(&bad).await,
            Err(StoreError::InvalidInput(_))
        ));
    }
    let huge = NewSignal {
        values: json!("x".repeat(70_000)),
        ..signal("AAPL", "ok", "1d", at(0))
    };
    assert!(matches!(
        db.store.signals().insert(&huge).await,
        Err(StoreError::InvalidInput(_))
    ));
    assert_eq!(db.store.conn().await.unwrap().count_rows("signals").await.unwrap(), 0);
    // The limits themselves are accepted.
    db.store
        .signals()
        .insert(&signal("AAPL", &longest_kind, "12345678", at(0)))
        .await
        .unwrap();
}

async fn delete_removes_a_signal(backend: Backend) {
    let db = TestDb::new(backend).await;
    let (id, _) = db
        .store
        .signals()
        .insert(&signal("AAPL", "a", "1d", at(0)))
        .await
        .unwrap();
    let (kept, _) = db
        .store
        .signals()
        .insert(&signal("AAPL", "b", "1d", at(0)))
        .await
        .unwrap();
    assert!(db.store.signals().delete(id).await.unwrap());
    assert!(!db.store.signals().delete(id).await.unwrap());
    assert_eq!(db.store.signals().get(id).await.unwrap(), None);
    assert!(db.store.signals().get(kept).await.unwrap().is_some());
}

/// All pages of `filter`, `limit` at a time, passing the cursor through its text form as a
/// client would; also checks that only the last page has no next cursor.
async fn all_pages(db: &TestDb, filter: &SignalFilter, limit: u32) -> Vec<Vec<Signal>> {
    let mut pages = Vec::new();
    let mut after: Option<SignalCursor> = None;
    loop {
        let page = db
            .store
            .signals()
            .list(filter, PageRequest { limit, after })
            .await
            .unwrap();
        assert!(page.items.len() <= limit as usize);
        let next = page.next;
        pages.push(page.items);
        match next {
            Some(cursor) => {
                let text = cursor.to_string();
                assert!(text.len() <= 33, "short: {text}");
                let parsed: SignalCursor = text.parse().unwrap();
                assert_eq!(parsed, cursor);
                after = Some(parsed);
            }
            None => break,
        }
        assert!(pages.len() < 100, "pagination does not end");
    }
    pages
}

async fn pages_follow_each_other_newest_first(backend: Backend) {
    let db = TestDb::new(backend).await;
    // 11 signals over 4 distinct times: ties in triggered_at, broken by id.
    let mut inserted = Vec::new();
    for (i, (symbol, minute)) in [
        ("AAPL", 0),
        ("MSFT", 10),
        ("AAPL", 10),
        ("IBM", 10),
        ("AAPL", 20),
        ("MSFT", 20),
        ("AAPL", 30),
        ("IBM", 30),
        ("AAPL", 30),
        ("MSFT", 30),
        ("AAPL", 10),
    ]
    .into_iter()
    .enumerate()
    {
        let kind = if i % 2 == 0 { "cross_up" } else { "cross_down" };
        let new = NewSignal {
            kind: format!("{kind}_{i}"),
            ..signal(symbol, kind, if i % 3 == 0 { "1h" } else { "1d" }, at(minute))
        };
        let (id, _) = db.store.signals().insert(&new).await.unwrap();
        inserted.push(db.store.signals().get(id).await.unwrap().unwrap());
    }
    let mut expected = inserted.clone();
    expected.sort_by_key(|s| std::cmp::Reverse((s.triggered_at, s.id)));

    let everything = SignalFilter::default();
    let pages = all_pages(&db, &everything, 3).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 3, 2]);
    assert_eq!(pages.concat(), expected);
    // A page that holds exactly the rest has no next cursor.
    let pages = all_pages(&db, &everything, 11).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [11]);
    let whole = db
        .store
        .signals()
        .list(
            &everything,
            PageRequest {
                limit: 1_000,
                after: None,
            },
        )
        .await
        .unwrap();
    assert_eq!((whole.items, whole.next), (expected.clone(), None));

    // Filters, paginated too.
    let aapl = SignalFilter {
        symbol: Some(sym("AAPL")),
        ..SignalFilter::default()
    };
    let want: Vec<Signal> = expected.iter().filter(|s| s.symbol == "AAPL").cloned().collect();
    assert_eq!(want.len(), 6);
    assert_eq!(all_pages(&db, &aapl, 4).await.concat(), want);

    let window = SignalFilter {
        symbol: Some(sym("AAPL")),
        timeframe: Some("1d".into()),
        since: Some(at(10)),
        until: Some(at(30)),
        ..SignalFilter::default()
    };
    let want: Vec<Signal> = expected
        .iter()
        .filter(|s| s.symbol == "AAPL" && s.timeframe == "1d" && s.triggered_at >= at(10) && s.triggered_at < at(30))
        .cloned()
        .collect();
    assert_eq!(want.len(), 3, "{want:?}");
    assert_eq!(all_pages(&db, &window, 1).await.concat(), want);

    let kind = SignalFilter {
        kind: Some("cross_down_5".into()),
        ..SignalFilter::default()
    };
    let page = db
        .store
        .signals()
        .list(&kind, PageRequest { limit: 5, after: None })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].kind, "cross_down_5");

    // A signal inserted meanwhile, newer than the cursor, does not shift the next page.
    let first = db
        .store
        .signals()
        .list(&everything, PageRequest { limit: 4, after: None })
        .await
        .unwrap();
    db.store
        .signals()
        .insert(&signal("ORCL", "late", "1d", at(40)))
        .await
        .unwrap();
    let second = db
        .store
        .signals()
        .list(
            &everything,
            PageRequest {
                limit: 4,
                after: first.next,
            },
        )
        .await
        .unwrap();
    assert_eq!(second.items, expected[4..8]);
}

async fn malformed_cursors_and_limits_are_refused(backend: Backend) {
    let db = TestDb::new(backend).await;
    for bad in [
        "",
        ".",
        "abc",
        "1.2.3",
        "zz.1",
        "0a.1",
        "A.1",
        "1.0",
        "1.-1",
        "+1.1",
        " 1.1",
        "11111111111111111.1",
        "1.ffffffffffffffff",
        "7fffffffffffffff.1",
    ] {
        let err = bad.parse::<SignalCursor>().unwrap_err();
        assert!(matches!(err, StoreError::InvalidInput(_)), "{bad:?}: {err}");
    }
    let good: SignalCursor = "1.1".parse().unwrap();
    assert_eq!(good.to_string(), "1.1");
    for limit in [0, 1_001] {
        let result = db
            .store
            .signals()
            .list(&SignalFilter::default(), PageRequest { limit, after: None })
            .await;
        assert!(matches!(result, Err(StoreError::InvalidInput(_))), "{limit}");
    }
    let bad_kind = SignalFilter {
        kind: Some("Bad Kind".into()),
        ..SignalFilter::default()
    };
    assert!(matches!(
        db.store
            .signals()
            .list(&bad_kind, PageRequest { limit: 1, after: None })
            .await,
        Err(StoreError::InvalidInput(_))
    ));
}

async fn a_corrupt_row_is_an_invalid_row(backend: Backend) {
    let db = TestDb::new(backend).await;
    let mut conn = db.store.conn().await.unwrap();
    conn.execute_batch(
        "INSERT INTO signals (symbol, kind, timeframe, triggered_at, price, values_json, created_at) \
         VALUES ('AAPL', 'x', '1d', '2026-01-02 03:04:05', 1, '{not json', '2026-01-02 03:04:05')",
    )
    .await
    .unwrap();
    let page = conn
        .signals()
        .list(&SignalFilter::default(), PageRequest { limit: 1, after: None })
        .await;
    assert!(matches!(page, Err(StoreError::InvalidRow { table: "signals", .. })));
}

backend_tests!(
    inserts_are_idempotent,
    concurrent_inserts_of_one_signal_store_one,
    bad_signals_are_refused,
    delete_removes_a_signal,
    pages_follow_each_other_newest_first,
    malformed_cursors_and_limits_are_refused,
    a_corrupt_row_is_an_invalid_row,
);
