//! The signal pipeline on stored bars: everything the rules find is stored once, recent signals
//! are alerted once, and a run over new bars only (after a warm-up) finds what a run over the
//! whole history finds on them.

use std::sync::Arc;

use chrono::{DateTime, NaiveTime, TimeDelta, Utc};
use finstage_analysis::{DedupePolicy, RulesConfig, Timeframe, detect};
use finstage_core::{SignalPipeline, analyze_stored_history, record_signals};
use finstage_domain::{Bar, BarTime, Category, Symbol};
use finstage_notify::{Alerter, RecordingNotifier};
use finstage_store::{Backend, PageRequest, SignalFilter};
use finstage_test_support::db::TestDb;
use finstage_test_support::fixtures;

use crate::backend_tests;

fn aapl() -> Symbol {
    Symbol::parse("AAPL").unwrap()
}

fn date(bar: &Bar) -> chrono::NaiveDate {
    match bar.time() {
        BarTime::Date(d) => d,
        BarTime::Timestamp(ts) => ts.date_naive(),
    }
}

/// The morning after `bar`.
fn morning_after(bar: &Bar) -> DateTime<Utc> {
    (date(bar) + TimeDelta::days(1))
        .and_time(NaiveTime::from_hms_opt(8, 0, 0).unwrap())
        .and_utc()
}

async fn stored_count(store: &finstage_store::Store) -> usize {
    let mut n = 0;
    let mut after = None;
    loop {
        let page = store
            .signals()
            .list(&SignalFilter::default(), PageRequest { limit: 1_000, after })
            .await
            .unwrap();
        n += page.items.len();
        match page.next {
            Some(next) => after = Some(next),
            None => return n,
        }
    }
}

async fn history_stored_once_recent_alerted_once(backend: Backend) {
    let db = TestDb::new(backend, "finstage_core");
    let store = db.store().await;
    let bars = fixtures::seed_bars("AAPL");
    let bars = &bars[bars.len() - 600..];
    store.daily_bars().upsert(&aapl(), bars).await.unwrap();
    let recorder = Arc::new(RecordingNotifier::new());
    let alerter = Alerter::new(recorder.clone(), store.clone(), DedupePolicy::default()).unwrap();
    let pipeline = SignalPipeline::new(store.clone(), RulesConfig::default(), Some(alerter)).unwrap();
    let now = morning_after(bars.last().unwrap());

    let summary = pipeline.run(aapl(), Category::Stock, None, now).await.unwrap();
    let expected = detect(&RulesConfig::default(), aapl(), Category::Stock, Timeframe::DAILY, bars).unwrap();
    assert_eq!(
        (summary.bars, summary.found, summary.stored),
        (600, expected.len(), expected.len())
    );
    assert_eq!(stored_count(&store).await, expected.len());
    // Only the signals of the last four days are news; of those, one alert per kind.
    let recent: Vec<_> = expected
        .iter()
        .filter(|s| now.signed_duration_since(s.time.to_utc()) <= TimeDelta::days(4))
        .collect();
    let mut kinds: Vec<_> = recent.iter().map(|s| s.kind).collect();
    kinds.sort();
    kinds.dedup();
    assert!(!recent.is_empty());
    assert_eq!(summary.too_old, expected.len() - recent.len());
    assert_eq!(summary.alerted, kinds.len());
    assert_eq!(summary.alerted + summary.deduplicated, recent.len());
    assert_eq!(recorder.messages().len(), kinds.len());

    // Again, or after a restart: nothing new is stored or sent.
    let again = pipeline.run(aapl(), Category::Stock, None, now).await.unwrap();
    assert_eq!((again.stored, again.alerted), (0, 0));
    assert_eq!(stored_count(&store).await, expected.len());
    assert_eq!(recorder.messages().len(), kinds.len());
    // Recording the same signals by hand finds them stored.
    assert!(
        record_signals(&store, &expected[..3])
            .await
            .unwrap()
            .iter()
            .all(|r| !r.inserted)
    );
}

async fn new_bars_only_find_what_the_whole_history_finds(backend: Backend) {
    let db = TestDb::new(backend, "finstage_core");
    let store = db.store().await;
    let msft = Symbol::parse("MSFT").unwrap();
    let bars = fixtures::seed_bars("MSFT");
    let (old, new) = bars.split_at(bars.len() - 15);
    store.daily_bars().upsert(&msft, old).await.unwrap();
    let pipeline = SignalPipeline::new(store.clone(), RulesConfig::default(), None).unwrap();
    let first = pipeline
        .run(msft, Category::Stock, None, morning_after(old.last().unwrap()))
        .await
        .unwrap();
    assert_eq!(first.bars, old.len());

    store.daily_bars().upsert(&msft, new).await.unwrap();
    let since = date(old.last().unwrap());
    let second = pipeline
        .run(msft, Category::Stock, Some(since), morning_after(new.last().unwrap()))
        .await
        .unwrap();
    assert_eq!(second.bars, new.len());

    let all = detect(&RulesConfig::default(), msft, Category::Stock, Timeframe::DAILY, &bars).unwrap();
    let on_new: Vec<_> = all.iter().filter(|s| s.time > old.last().unwrap().time()).collect();
    assert!(!on_new.is_empty());
    assert_eq!(second.found, on_new.len());
    assert_eq!(second.stored, on_new.len());
    assert_eq!(stored_count(&store).await, all.len());
}

async fn stored_history_is_analysed_once(backend: Backend) {
    let db = TestDb::new(backend, "finstage_core");
    let store = db.store().await;
    let bars = fixtures::seed_bars("AAPL");
    let bars = &bars[bars.len() - 600..];
    store.daily_bars().upsert(&aapl(), bars).await.unwrap();
    let rules = RulesConfig::default();
    let now = morning_after(bars.last().unwrap());
    let analysis = analyze_stored_history(&store, &rules, aapl(), Category::Stock, now)
        .await
        .unwrap();
    // Every signal the rules find on the whole history, stored; nothing alerted (no alerter).
    let expected = detect(&rules, aapl(), Category::Stock, Timeframe::DAILY, bars).unwrap();
    assert_eq!(analysis.bars, bars.len());
    assert_eq!(analysis.signals, expected.len());
    assert_eq!(stored_count(&store).await, expected.len());
    assert!(analysis.new_high);
    let top = bars.iter().max_by(|a, b| a.high().total_cmp(&b.high())).unwrap();
    let high = store.highs().get(&aapl()).await.unwrap().unwrap();
    assert_eq!((high.date, high.high), (date(top), top.high()));
    let snapshot = store.snapshots().latest(&aapl()).await.unwrap().unwrap();
    assert_eq!(snapshot.previous_close, bars.last().unwrap().close());
    // Again: nothing new.
    let again = analyze_stored_history(&store, &rules, aapl(), Category::Stock, now)
        .await
        .unwrap();
    assert_eq!((again.signals, again.new_high), (0, false));
    assert_eq!(stored_count(&store).await, expected.len());
}

backend_tests!(
    history_stored_once_recent_alerted_once,
    new_bars_only_find_what_the_whole_history_finds,
    stored_history_is_analysed_once
);
