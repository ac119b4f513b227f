//! Outcome tracking on stored bars: each horizon from the first bar at or after it, partial
//! until the bars arrive, completed (or closed when the data never comes), and statistics per
//! kind from what was stored.

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use finstage_analysis::outcome::Horizon;
use finstage_analysis::{Signal, SignalKind, SignalValues, Timeframe};
use finstage_core::{OutcomeTracker, kind_stats, record_signals};
use finstage_domain::{Bar, BarTime, Symbol};
use finstage_store::Backend;
use finstage_test_support::db::TestDb;
use finstage_test_support::fixtures;

use crate::backend_tests;

fn ibm() -> Symbol {
    Symbol::parse("IBM").unwrap()
}

fn start(bar: &Bar) -> DateTime<Utc> {
    bar.time().to_utc()
}

/// The close of the first bar at or after `due`, found by a plain scan.
fn first_close_at_or_after(bars: &[Bar], due: DateTime<Utc>) -> Option<f64> {
    bars.iter().find(|b| start(b) >= due).map(Bar::close)
}

fn signal(kind: SignalKind, timeframe: Timeframe, time: BarTime, price: f64) -> Signal {
    Signal::new(ibm(), kind, timeframe, time, price, 0.5, SignalValues::new())
}

async fn horizons_fill_as_bars_arrive(backend: Backend) {
    let db = TestDb::new(backend, "finstage_core");
    let store = db.store().await;
    let bars = fixtures::synthetic_daily_bars(NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(), 60, 7);
    store.daily_bars().upsert(&ibm(), &bars).await.unwrap();
    let golden = signal(
        SignalKind::GoldenCross { fast: 50, slow: 200 },
        Timeframe::DAILY,
        bars[5].time(),
        bars[5].close(),
    );
    let live_at = start(&bars[10]) + TimeDelta::minutes(15 * 60 + 30);
    let drop = signal(
        SignalKind::PriceDrop,
        Timeframe::Live,
        BarTime::Timestamp(live_at),
        bars[10].close() * 0.97,
    );
    let late = signal(
        SignalKind::MacdCrossUp,
        Timeframe::DAILY,
        bars[52].time(),
        bars[52].close(),
    );
    let ids: Vec<i64> = record_signals(&store, &[golden.clone(), drop.clone(), late.clone()])
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    let tracker = OutcomeTracker::new(store.clone());

    // The morning after bar 8: the golden cross has its 1h, 4h and 1d (bar 6); nothing else is due.
    let early = start(&bars[9]) + TimeDelta::hours(8);
    let summary = tracker.run(early).await.unwrap();
    assert_eq!((summary.examined, summary.updated, summary.completed), (3, 1, 0));
    let stored = store.outcomes().get(ids[0]).await.unwrap().unwrap();
    let h = |horizon: Horizon| stored.horizons[horizon as usize];
    assert_eq!(h(Horizon::H1).price, Some(bars[6].close()));
    assert_eq!(h(Horizon::D1).price, Some(bars[6].close()));
    assert_eq!(h(Horizon::W1).price, None);
    let ret = bars[6].close() / bars[5].close() - 1.0;
    assert!((h(Horizon::D1).ret.unwrap() - ret).abs() < 1e-12);
    assert_eq!(h(Horizon::D1).success, Some(ret > 0.0));
    assert!(!stored.completed);

    // After every bar: the two early signals complete, each horizon its first bar at or after.
    let later = start(bars.last().unwrap()) + TimeDelta::hours(20);
    let summary = tracker.run(later).await.unwrap();
    assert_eq!(summary.completed, 2);
    for (id, s) in [(ids[0], &golden), (ids[1], &drop)] {
        let stored = store.outcomes().get(id).await.unwrap().unwrap();
        assert!(stored.completed);
        for horizon in Horizon::ALL {
            let expected = first_close_at_or_after(&bars, horizon.after(s.time.to_utc()));
            assert_eq!(
                stored.horizons[horizon as usize].price, expected,
                "{} {horizon:?}",
                s.kind
            );
        }
    }
    // The bearish drop succeeded where the price fell.
    let drop_outcome = store.outcomes().get(ids[1]).await.unwrap().unwrap();
    let w1 = drop_outcome.horizons[Horizon::W1 as usize];
    assert_eq!(w1.success, Some(w1.ret.unwrap() < 0.0));

    // The late signal's month never comes: pending until two weeks past it, then closed as it is.
    let late_outcome = store.outcomes().get(ids[2]).await.unwrap().unwrap();
    assert!(!late_outcome.completed && late_outcome.horizons[Horizon::M1 as usize].price.is_none());
    let given_up = Horizon::M1.after(late.time.to_utc()) + TimeDelta::days(14);
    let summary = tracker.run(given_up).await.unwrap();
    assert_eq!((summary.examined, summary.expired), (1, 1));
    let closed = store.outcomes().get(ids[2]).await.unwrap().unwrap();
    assert!(closed.completed);
    assert!(closed.horizons[Horizon::W1 as usize].price.is_some());
    assert!(closed.horizons[Horizon::M1 as usize].price.is_none());
    assert_eq!(tracker.run(given_up).await.unwrap().examined, 0);

    // Statistics per kind, from the store.
    let stats = kind_stats(&store, None).await.unwrap();
    let kinds: Vec<String> = stats.iter().map(|s| s.kind.to_string()).collect();
    assert_eq!(kinds, ["golden_cross", "macd_cross_up", "price_drop"]);
    assert!(stats.iter().all(|s| s.count == 1 && s.at(Horizon::H1).measured == 1));
    let since = kind_stats(&store, Some(Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0).unwrap()))
        .await
        .unwrap();
    assert_eq!(since.len(), 1);
}

async fn one_run_reaches_every_pending_signal(backend: Backend) {
    let db = TestDb::new(backend, "finstage_core");
    let store = db.store().await;
    let bars = fixtures::synthetic_daily_bars(NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(), 90, 3);
    store.daily_bars().upsert(&ibm(), &bars).await.unwrap();
    // The oldest signals stay pending whatever the tracker does: a kind this version does not
    // know (stored by a newer one).
    for bar in &bars[..3] {
        let mut unknown = finstage_core::to_new_signal(&signal(
            SignalKind::PriceDrop,
            Timeframe::DAILY,
            bar.time(),
            bar.close(),
        ));
        unknown.kind = "from_a_newer_version".to_owned();
        store.signals().insert(&unknown).await.unwrap();
    }
    // Behind them, more signals than one batch, every horizon of each in the bars.
    let known: Vec<Signal> = bars[3..10]
        .iter()
        .map(|bar| signal(SignalKind::RsiOversoldEnter, Timeframe::DAILY, bar.time(), bar.close()))
        .collect();
    let ids: Vec<i64> = record_signals(&store, &known)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();

    let tracker = OutcomeTracker::new(store.clone()).with_batch(2);
    let summary = tracker.run(start(bars.last().unwrap())).await.unwrap();
    assert_eq!(
        (summary.examined, summary.unknown_kind, summary.completed),
        (10, 3, 7),
        "{summary:?}"
    );
    for id in ids {
        assert!(
            store.outcomes().get(id).await.unwrap().unwrap().completed,
            "signal {id}"
        );
    }
    // The unknown ones are looked at again next time; nothing else is.
    let again = tracker.run(start(bars.last().unwrap())).await.unwrap();
    assert_eq!((again.examined, again.unknown_kind), (3, 3));
}

backend_tests!(horizons_fill_as_bars_arrive, one_run_reaches_every_pending_signal);
