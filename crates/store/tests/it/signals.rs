//! Signals: idempotent inserts on (symbol, kind, timeframe, time), one at a time and in bulk
//! (chunked, all or nothing, safe to run concurrently), validation, deletion, and newest-first
//! keyset pagination with an opaque cursor.

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

/// `n` distinct signals of `symbol`: two kinds a day, over `n / 2` days.
fn batch(symbol: &str, n: usize) -> Vec<NewSignal> {
    (0..n)
        .map(|i| {
            let kind = if i % 2 == 0 { "ma_breakout" } else { "rsi_oversold" };
            NewSignal {
                price: 100.0 + i as f64,
                ..signal(symbol, kind, "1d", at(0) + chrono::Duration::days((i / 2) as i64))
            }
        })
        .collect()
}

async fn counts(db: &TestDb) -> (u64, u64) {
    let mut conn = db.store.conn().await.unwrap();
    (
        conn.count_rows("signals").await.unwrap(),
        conn.count_rows("signal_outcomes").await.unwrap(),
    )
}

async fn insert_many_stores_a_fresh_batch_once(backend: Backend) {
    let db = TestDb::new(backend).await;
    assert_eq!(db.store.signals().insert_many(&[]).await.unwrap(), []);
    assert_eq!(counts(&db).await, (0, 0));

    let new = batch("AAPL", 40);
    let first = db.store.signals().insert_many(&new).await.unwrap();
    assert_eq!(first.len(), new.len());
    assert!(first.iter().all(|(_, inserted)| *inserted), "{first:?}");
    let ids: HashSet<i64> = first.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids.len(), new.len(), "distinct ids");
    assert_eq!(counts(&db).await, (40, 40), "each with its outcome");
    // Each id is its own signal, as given.
    for ((id, _), given) in first.iter().zip(&new) {
        let stored = db.store.signals().get(*id).await.unwrap().unwrap();
        assert_eq!(
            (
                &stored.symbol,
                &stored.kind,
                &stored.timeframe,
                stored.triggered_at,
                stored.price
            ),
            (
                &given.symbol,
                &given.kind,
                &given.timeframe,
                given.triggered_at,
                given.price
            )
        );
        assert_eq!(stored.values, given.values);
    }
    let pending = db.store.outcomes().pending(100).await.unwrap();
    assert_eq!(pending.len(), 40);

    // The same batch again, even with other values: the same ids, none inserted.
    let again: Vec<NewSignal> = new
        .iter()
        .map(|s| NewSignal {
            price: 1.0,
            ..s.clone()
        })
        .collect();
    let second = db.store.signals().insert_many(&again).await.unwrap();
    assert_eq!(second, first.iter().map(|(id, _)| (*id, false)).collect::<Vec<_>>());
    assert_eq!(counts(&db).await, (40, 40));
    assert_eq!(db.store.signals().get(first[0].0).await.unwrap().unwrap().price, 100.0);
}

async fn insert_many_mixes_stored_and_new_signals(backend: Backend) {
    let db = TestDb::new(backend).await;
    let all = batch("MSFT", 12);
    // Some stored one by one, some in an earlier batch.
    let (one, _) = db.store.signals().insert(&all[3]).await.unwrap();
    let earlier = db.store.signals().insert_many(&all[6..9]).await.unwrap();
    // Stored ones first, last, and in between; a signal of another symbol at the same times.
    let mut mixed: Vec<NewSignal> = all.clone();
    mixed.push(signal("IBM", "ma_breakout", "1d", all[0].triggered_at));
    let got = db.store.signals().insert_many(&mixed).await.unwrap();
    assert_eq!(got.len(), 13);
    assert_eq!(got[3], (one, false));
    assert_eq!(
        &got[6..9],
        earlier.iter().map(|(id, _)| (*id, false)).collect::<Vec<_>>()
    );
    for i in [0, 1, 2, 4, 5, 9, 10, 11, 12] {
        assert!(got[i].1, "signal {i} is new: {got:?}");
    }
    let ids: HashSet<i64> = got.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids.len(), 13);
    assert_eq!(counts(&db).await, (13, 13));
    // What insert says afterwards agrees.
    assert_eq!(db.store.signals().insert(&mixed[12]).await.unwrap(), (got[12].0, false));
}

async fn insert_many_stores_a_repeated_signal_once(backend: Backend) {
    let db = TestDb::new(backend).await;
    let a = signal("AAPL", "macd_cross", "1d", at(0) + chrono::Duration::nanoseconds(1_500));
    let b = signal("AAPL", "macd_cross", "1h", at(0));
    // The same key again, with other values and a time that only differs below the µs: the
    // first one wins, as two calls of `insert` would have it.
    let a_again = NewSignal {
        price: 7.0,
        triggered_at: at(0) + chrono::Duration::nanoseconds(1_999),
        ..a.clone()
    };
    let got = db
        .store
        .signals()
        .insert_many(&[a.clone(), b.clone(), a_again, a.clone()])
        .await
        .unwrap();
    assert!(got[0].1 && got[1].1, "{got:?}");
    assert_ne!(got[0].0, got[1].0);
    assert_eq!(got[2], (got[0].0, false));
    assert_eq!(got[3], (got[0].0, false));
    assert_eq!(counts(&db).await, (2, 2));
    assert_eq!(db.store.signals().get(got[0].0).await.unwrap().unwrap().price, 101.25);
}

async fn insert_many_spans_chunks(backend: Backend) {
    // Chunks of the default size (500 signals per statement at most)...
    let db = TestDb::new(backend).await;
    let big = batch("SPY", 1_234);
    let (one, _) = db.store.signals().insert(&big[700]).await.unwrap();
    let got = db.store.signals().insert_many(&big).await.unwrap();
    assert_eq!(got.len(), 1_234);
    assert_eq!(got[700], (one, false));
    assert_eq!(got.iter().filter(|(_, inserted)| *inserted).count(), 1_233);
    assert_eq!(got.iter().map(|(id, _)| *id).collect::<HashSet<_>>().len(), 1_234);
    assert_eq!(counts(&db).await, (1_234, 1_234));
    let again = db.store.signals().insert_many(&big).await.unwrap();
    assert_eq!(again, got.iter().map(|(id, _)| (*id, false)).collect::<Vec<_>>());
    drop(db);

    // ...and of three, with a repeat and a stored signal in later chunks than their first.
    let db = TestDb::with(backend, |config| config.bulk_chunk_size = 3).await;
    let new = batch("QQQ", 10);
    let (stored, _) = db.store.signals().insert(&new[7]).await.unwrap();
    let mut input = new.clone();
    input.insert(8, new[1].clone());
    let got = db.store.signals().insert_many(&input).await.unwrap();
    assert_eq!(got.len(), 11);
    assert_eq!(got[7], (stored, false));
    assert_eq!(got[8], (got[1].0, false));
    assert_eq!(got.iter().filter(|(_, inserted)| *inserted).count(), 9);
    assert_eq!(got.iter().map(|(id, _)| *id).collect::<HashSet<_>>().len(), 10);
    assert_eq!(counts(&db).await, (10, 10));
}

async fn insert_many_writes_nothing_when_a_chunk_fails(backend: Backend) {
    let db = TestDb::with(backend, |config| config.bulk_chunk_size = 2).await;
    let new = batch("AAPL", 6);
    db.store.signals().insert(&new[0]).await.unwrap();
    // A bad signal is refused before anything is sent.
    let mut bad = new.clone();
    bad[5].price = f64::NAN;
    assert!(matches!(
        db.store.signals().insert_many(&bad).await,
        Err(StoreError::InvalidInput(_))
    ));
    assert_eq!(counts(&db).await, (1, 1));

    // The database refuses a signal of the third chunk: the first two go back too.
    let refuse = match backend {
        Backend::Sqlite => {
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON signals WHEN NEW.kind = 'poison' \
             BEGIN SELECT RAISE(ABORT, 'poison'); END"
        }
        _ => "ALTER TABLE signals ADD CONSTRAINT refuse_poison CHECK (kind <> 'poison')",
    };
    db.store.conn().await.unwrap().execute_batch(refuse).await.unwrap();
    let mut poisoned = new.clone();
    poisoned[5].kind = "poison".into();
    let result = db.store.signals().insert_many(&poisoned).await;
    assert!(matches!(result, Err(StoreError::Query { .. })), "{result:?}");
    assert_eq!(counts(&db).await, (1, 1));

    // Inside a caller's transaction, it joins it.
    let result: Result<(), StoreError> = db
        .store
        .transaction(async |tx| {
            let got = tx.signals().insert_many(&new).await?;
            assert_eq!(got.iter().filter(|(_, inserted)| *inserted).count(), 5);
            Err(StoreError::InvalidInput("the caller changed its mind".into()))
        })
        .await;
    assert!(matches!(result, Err(StoreError::InvalidInput(_))));
    assert_eq!(counts(&db).await, (1, 1));
    db.store
        .transaction(async |tx| tx.signals().insert_many(&new).await.map(drop))
        .await
        .unwrap();
    assert_eq!(counts(&db).await, (6, 6));
}

async fn concurrent_insert_many_of_overlapping_batches(backend: Backend) {
    let db = TestDb::with(backend, |config| config.bulk_chunk_size = 7).await;
    let all = batch("AAPL", 60);
    // Four callers, each with an overlapping window of the same signals, two of them in
    // reverse order (the calls lock in one order whatever the input's: no deadlock).
    let tasks: Vec<_> = (0..4)
        .map(|k| {
            let store = db.store.clone();
            let mut mine: Vec<usize> = (k * 10..k * 10 + 30).collect();
            if k % 2 == 1 {
                mine.reverse();
            }
            let signals: Vec<NewSignal> = mine.iter().map(|&i| all[i].clone()).collect();
            tokio::spawn(async move {
                let got = store.signals().insert_many(&signals).await.unwrap();
                mine.into_iter().zip(got).collect::<Vec<_>>()
            })
        })
        .collect();
    // What the callers got, per signal of `all`.
    let mut results = vec![Vec::new(); all.len()];
    for task in tasks {
        for (i, result) in task.await.unwrap() {
            results[i].push(result);
        }
    }
    for (i, got) in results.iter().enumerate() {
        assert!(!got.is_empty(), "signal {i}");
        assert_eq!(got.iter().filter(|(_, inserted)| *inserted).count(), 1, "{i}: {got:?}");
        assert!(got.iter().all(|(id, _)| *id == got[0].0), "{i}: {got:?}");
    }
    assert_eq!(counts(&db).await, (60, 60));
}

backend_tests!(
    inserts_are_idempotent,
    concurrent_inserts_of_one_signal_store_one,
    bad_signals_are_refused,
    delete_removes_a_signal,
    pages_follow_each_other_newest_first,
    malformed_cursors_and_limits_are_refused,
    a_corrupt_row_is_an_invalid_row,
    insert_many_stores_a_fresh_batch_once,
    insert_many_mixes_stored_and_new_signals,
    insert_many_stores_a_repeated_signal_once,
    insert_many_spans_chunks,
    insert_many_writes_nothing_when_a_chunk_fails,
    concurrent_insert_many_of_overlapping_batches,
);
