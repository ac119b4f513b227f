//! Signal outcomes: one row per signal, replaced by upserts, refused for an unknown signal,
//! deleted with its signal; the signals still pending, oldest first.

use chrono::{DateTime, TimeZone, Utc};
use finstage_domain::Symbol;
use finstage_store::{Backend, Horizon, HorizonOutcome, NewSignal, QueryErrorKind, SignalOutcome, StoreError};

use crate::support::{TestDb, backend_tests};

fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 4, 13, 30, 0).unwrap() + chrono::Duration::minutes(minutes)
}

async fn new_signal(db: &TestDb, kind: &str, minute: i64) -> i64 {
    let new = NewSignal {
        symbol: Symbol::parse("AAPL").unwrap(),
        kind: kind.into(),
        timeframe: "1h".into(),
        triggered_at: at(minute),
        price: 100.0,
        values: serde_json::json!({}),
    };
    db.store.signals().insert(&new).await.unwrap().0
}

async fn upsert_and_get(backend: Backend) {
    let db = TestDb::new(backend).await;
    let id = new_signal(&db, "rsi", 0).await;
    // A new signal comes with an empty outcome, not completed.
    let empty = db
        .store
        .outcomes()
        .get(id)
        .await
        .unwrap()
        .expect("created with the signal");
    assert!(!empty.completed);
    assert!(
        empty
            .horizons
            .iter()
            .all(|h| h.price.is_none() && h.ret.is_none() && h.success.is_none())
    );

    let mut outcome = SignalOutcome::new(id, at(60) + chrono::Duration::nanoseconds(987_654_321));
    *outcome.horizon_mut(Horizon::H1) = HorizonOutcome {
        price: Some(101.5),
        ret: Some(0.015),
        success: Some(true),
    };
    db.store.outcomes().upsert(&outcome).await.unwrap();
    let stored = db.store.outcomes().get(id).await.unwrap().unwrap();
    let mut expected = outcome;
    expected.updated_at = at(60) + chrono::Duration::microseconds(987_654);
    assert_eq!(stored, expected);
    assert_eq!(stored.horizon(Horizon::H4), &HorizonOutcome::default());

    // Replaced as a whole: later horizons filled, an earlier one emptied, completed.
    let mut later = SignalOutcome::new(id, at(60 * 24 * 31));
    for (i, horizon) in Horizon::ALL.into_iter().enumerate().skip(1) {
        *later.horizon_mut(horizon) = HorizonOutcome {
            price: Some(100.0 - i as f64),
            ret: Some(-(i as f64) / 100.0),
            success: Some(false),
        };
    }
    later.completed = true;
    db.store.outcomes().upsert(&later).await.unwrap();
    assert_eq!(db.store.outcomes().get(id).await.unwrap(), Some(later));
    assert_eq!(
        db.store
            .conn()
            .await
            .unwrap()
            .count_rows("signal_outcomes")
            .await
            .unwrap(),
        1
    );

    let mut infinite = later;
    infinite.horizons[2].ret = Some(f64::INFINITY);
    assert!(matches!(
        db.store.outcomes().upsert(&infinite).await,
        Err(StoreError::InvalidInput(_))
    ));
}

async fn an_outcome_needs_its_signal(backend: Backend) {
    let db = TestDb::new(backend).await;
    let err = db
        .store
        .outcomes()
        .upsert(&SignalOutcome::new(4_242, at(0)))
        .await
        .unwrap_err();
    assert_eq!(err.query_kind(), Some(QueryErrorKind::ForeignKeyViolation), "{err}");
    assert_eq!(
        db.store
            .conn()
            .await
            .unwrap()
            .count_rows("signal_outcomes")
            .await
            .unwrap(),
        0
    );
}

async fn the_outcome_goes_with_its_signal(backend: Backend) {
    let db = TestDb::new(backend).await;
    let gone = new_signal(&db, "a", 0).await;
    let kept = new_signal(&db, "b", 0).await;
    for id in [gone, kept] {
        db.store
            .outcomes()
            .upsert(&SignalOutcome::new(id, at(1)))
            .await
            .unwrap();
    }
    assert!(db.store.signals().delete(gone).await.unwrap());
    assert_eq!(db.store.outcomes().get(gone).await.unwrap(), None);
    assert!(db.store.outcomes().get(kept).await.unwrap().is_some());
    assert_eq!(
        db.store
            .conn()
            .await
            .unwrap()
            .count_rows("signal_outcomes")
            .await
            .unwrap(),
        1
    );
}

async fn pending_signals_oldest_first(backend: Backend) {
    let db = TestDb::new(backend).await;
    // Inserted out of time order; two share a time (the id breaks the tie).
    let no_row_late = new_signal(&db, "no_row_late", 50).await;
    let completed_old = new_signal(&db, "completed_old", 0).await;
    let open_mid = new_signal(&db, "open_mid", 30).await;
    let no_row_old = new_signal(&db, "no_row_old", 10).await;
    let tie_a = new_signal(&db, "tie_a", 40).await;
    let tie_b = new_signal(&db, "tie_b", 40).await;
    let completed_late = new_signal(&db, "completed_late", 45).await;

    let mut completed = SignalOutcome::new(completed_old, at(100));
    completed.completed = true;
    db.store.outcomes().upsert(&completed).await.unwrap();
    completed.signal_id = completed_late;
    db.store.outcomes().upsert(&completed).await.unwrap();
    let mut open = SignalOutcome::new(open_mid, at(100));
    open.horizons[0].price = Some(1.0);
    db.store.outcomes().upsert(&open).await.unwrap();
    db.store
        .outcomes()
        .upsert(&SignalOutcome::new(tie_b, at(100)))
        .await
        .unwrap();

    let ids = |signals: Vec<finstage_store::Signal>| signals.into_iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(
        ids(db.store.outcomes().pending(100).await.unwrap()),
        [no_row_old, open_mid, tie_a, tie_b, no_row_late]
    );
    assert_eq!(
        ids(db.store.outcomes().pending(2).await.unwrap()),
        [no_row_old, open_mid]
    );
    assert!(db.store.outcomes().pending(0).await.unwrap().is_empty());
    // A page at a time, after the last one's cursor (the tie at one time broken by id).
    let page = db.store.outcomes().pending_after(None, 3).await.unwrap();
    assert_eq!(ids(page.clone()), [no_row_old, open_mid, tie_a]);
    let cursor = page.last().map(finstage_store::Signal::cursor);
    let page = db.store.outcomes().pending_after(cursor, 3).await.unwrap();
    assert_eq!(ids(page.clone()), [tie_b, no_row_late]);
    let cursor = page.last().map(finstage_store::Signal::cursor);
    assert!(db.store.outcomes().pending_after(cursor, 3).await.unwrap().is_empty());

    // Completing one takes it off the list.
    let mut done = SignalOutcome::new(open_mid, at(200));
    done.completed = true;
    db.store.outcomes().upsert(&done).await.unwrap();
    let pending = db.store.outcomes().pending(100).await.unwrap();
    assert_eq!(ids(pending.clone()), [no_row_old, tie_a, tie_b, no_row_late]);
    assert_eq!(pending[0].kind, "no_row_old");
    assert_eq!(pending[0].triggered_at, at(10));
}

async fn measured_outcomes_by_kind(backend: Backend) {
    let db = TestDb::new(backend).await;
    let a = new_signal(&db, "golden_cross", 0).await;
    let b = new_signal(&db, "price_drop", 10).await;
    let _unmeasured = new_signal(&db, "price_drop", 20).await;
    for (id, ret) in [(a, 0.02), (b, -0.01)] {
        let mut outcome = SignalOutcome::new(id, at(100));
        *outcome.horizon_mut(Horizon::H1) = HorizonOutcome {
            price: Some(100.0 * (1.0 + ret)),
            ret: Some(ret),
            success: Some(ret > 0.0),
        };
        db.store.outcomes().upsert(&outcome).await.unwrap();
    }
    let all = db.store.outcomes().measured(None).await.unwrap();
    let kinds: Vec<&str> = all.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["golden_cross", "price_drop"], "oldest first, measured only");
    assert_eq!(all[1].1.horizon(Horizon::H1).ret, Some(-0.01));
    let recent = db.store.outcomes().measured(Some(at(5))).await.unwrap();
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0].1.signal_id, b);
}

backend_tests!(
    measured_outcomes_by_kind,
    upsert_and_get,
    an_outcome_needs_its_signal,
    the_outcome_goes_with_its_signal,
    pending_signals_oldest_first,
);
