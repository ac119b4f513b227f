//! The daily report from stored data: the last session's figures, the all-time high (recorded
//! or from the bars), the day's signals (detected and stored, each once), the rankings from
//! stored outcomes, a symbol without data, and the report sent through a notifier.

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use finstage_analysis::outcome::{HorizonOutcome, Outcome};
use finstage_analysis::report::{DailyReport, SymbolReport};
use finstage_analysis::{RulesConfig, Signal, SignalKind, SignalValues, Timeframe};
use finstage_core::backtests::BACKTEST_KIND;
use finstage_core::outcomes::to_stored;
use finstage_core::reports::{DAILY_REPORT_KIND, WATCHLIST_NAME, build_daily_report, send_daily_report};
use finstage_core::{CoreError, record_signals};
use finstage_domain::{Bar, BarTime, Category, Symbol};
use finstage_notify::{NotifyError, RecordingNotifier};
use finstage_store::{Backend, Store};
use finstage_test_support::db::TestDb;
use finstage_test_support::fixtures;

use crate::backend_tests;

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

fn date_of(bar: &Bar) -> NaiveDate {
    match bar.time() {
        BarTime::Date(d) => d,
        BarTime::Timestamp(ts) => ts.date_naive(),
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 22, 0, 0).unwrap()
}

fn watchlist() -> Vec<(Symbol, Category)> {
    vec![
        (sym("AAPL"), Category::Stock),
        (sym("IBM"), Category::Stock),
        (sym("ZZZZ"), Category::Stock),
        (sym("AAPL"), Category::Stock),
    ]
}

async fn seeded(backend: Backend) -> (TestDb, Store) {
    let db = TestDb::new(backend, "finstage_core");
    let store = db.store().await;
    for name in ["AAPL", "IBM"] {
        store
            .daily_bars()
            .upsert(&sym(name), &fixtures::seed_bars(name))
            .await
            .unwrap();
    }
    (db, store)
}

fn symbol<'a>(report: &'a DailyReport, name: &str) -> &'a SymbolReport {
    report.watchlists[0]
        .symbols
        .iter()
        .find(|s| s.symbol.as_str() == name)
        .unwrap_or_else(|| panic!("{name} is not in the report"))
}

fn close_to(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

async fn the_report_holds_the_last_session_of_each_symbol(backend: Backend) {
    let (_db, store) = seeded(backend).await;
    let rules = RulesConfig::default();
    let aapl = fixtures::seed_bars("AAPL");
    let ibm = fixtures::seed_bars("IBM");
    let ibm_last = *ibm.last().unwrap();
    // IBM: a recorded high (above every bar) and the day's signals as the pipeline stores them,
    // plus a live signal of that day, stored only.
    let record_day = date_of(&ibm[ibm.len() - 10]);
    let record = ibm.iter().map(Bar::high).fold(0.0, f64::max) + 1.0;
    store.highs().record(&sym("IBM"), record_day, record).await.unwrap();
    let detected: Vec<Signal> = finstage_analysis::detect(&rules, sym("IBM"), Category::Stock, Timeframe::DAILY, &ibm)
        .unwrap()
        .into_iter()
        .filter(|s| s.time == ibm_last.time())
        .collect();
    let live_at = ibm_last.time().to_utc() + TimeDelta::hours(15);
    let live = Signal::new(
        sym("IBM"),
        SignalKind::PriceDrop,
        Timeframe::Live,
        BarTime::Timestamp(live_at),
        ibm_last.close() * 0.98,
        0.7,
        SignalValues::new(),
    );
    let mut stored = detected.clone();
    stored.push(live.clone());
    record_signals(&store, &stored).await.unwrap();

    let report = build_daily_report(&store, &watchlist(), &rules, now()).await.unwrap();
    let last_day = date_of(aapl.last().unwrap()).max(date_of(&ibm_last));
    assert_eq!(report.date, last_day);
    assert_eq!(report.watchlists.len(), 1);
    assert_eq!(report.watchlists[0].name, WATCHLIST_NAME);
    let names: Vec<&str> = report.watchlists[0].symbols.iter().map(|s| s.symbol.as_str()).collect();
    assert_eq!(names, ["AAPL", "IBM", "ZZZZ"], "each symbol once, in order");

    // AAPL: no recorded high, so the highest bar of the whole stored history.
    let a = symbol(&report, "AAPL");
    let (last, before) = (aapl[aapl.len() - 1], aapl[aapl.len() - 2]);
    assert_eq!(a.date, Some(date_of(&last)));
    assert_eq!(a.close, Some(last.close()));
    assert!(close_to(a.change.unwrap(), last.close() - before.close()));
    let highest = aapl
        .iter()
        .fold(aapl[0], |best, b| if b.high() > best.high() { *b } else { best });
    assert_eq!(a.all_time_high, Some(highest.high()));
    assert_eq!(a.all_time_high_date, Some(date_of(&highest)));
    let sma50 = aapl[aapl.len() - 50..].iter().map(Bar::close).sum::<f64>() / 50.0;
    assert!(close_to(a.sma50.unwrap(), sma50), "{:?} vs {sma50}", a.sma50);
    assert!(a.sma200.is_some() && a.rsi.is_some() && a.macd.is_some());

    // IBM: the recorded high; the detected signals with their strength, the live one once.
    let i = symbol(&report, "IBM");
    assert_eq!(i.all_time_high, Some(record));
    assert_eq!(i.all_time_high_date, Some(record_day));
    assert!(i.from_high_pct.unwrap() < 0.0);
    assert_eq!(i.signals.len(), detected.len() + 1, "{:?}", i.signals);
    for signal in &detected {
        assert!(
            i.signals
                .iter()
                .any(|l| l.kind == signal.kind && close_to(l.strength, signal.strength) && l.time == signal.time),
            "{signal:?} missing from {:?}",
            i.signals
        );
    }
    let listed_live: Vec<_> = i.signals.iter().filter(|l| l.kind == SignalKind::PriceDrop).collect();
    assert_eq!(listed_live.len(), 1, "{:?}", i.signals);
    assert_eq!(listed_live[0].time, live.time);
    assert_eq!(listed_live[0].strength, 0.0, "the store keeps no strength");

    // ZZZZ: nothing stored, nothing computed.
    let z = symbol(&report, "ZZZZ");
    assert_eq!((z.date, z.close, z.rsi, z.all_time_high), (None, None, None, None));
    assert!(z.signals.is_empty());
    assert!(report.best_kinds.is_empty() && report.worst_kinds.is_empty());

    // As of a day inside the history: the bars up to it only.
    let mid = Utc.with_ymd_and_hms(2011, 6, 15, 12, 0, 0).unwrap();
    let past = build_daily_report(&store, &watchlist(), &rules, mid).await.unwrap();
    let until: Vec<&Bar> = aapl.iter().filter(|b| date_of(b) <= mid.date_naive()).collect();
    assert_eq!(past.date, date_of(until.last().unwrap()));
    assert_eq!(symbol(&past, "AAPL").close, Some(until.last().unwrap().close()));
    assert!(
        symbol(&past, "IBM")
            .signals
            .iter()
            .all(|l| l.kind != SignalKind::PriceDrop)
    );
}

/// `count` signals of `kind` on IBM's bars, each with outcomes up to one week that succeeded
/// `wins` times.
async fn signals_with_outcomes(store: &Store, kind: SignalKind, count: usize, wins: usize, offset: usize) {
    let bars = fixtures::seed_bars("IBM");
    let signals: Vec<Signal> = (0..count)
        .map(|n| {
            let bar = bars[offset + n * 3];
            Signal::new(
                sym("IBM"),
                kind,
                Timeframe::DAILY,
                bar.time(),
                bar.close(),
                0.5,
                SignalValues::new(),
            )
        })
        .collect();
    let recorded = record_signals(store, &signals).await.unwrap();
    for (n, rec) in recorded.iter().enumerate() {
        let won = n < wins;
        let ret = if won == (kind.direction() == finstage_analysis::Direction::Bullish) {
            0.02
        } else {
            -0.02
        };
        // Measured up to a week (the statistics read signals whose first horizon is).
        let mut outcome = Outcome::default();
        for horizon in &mut outcome.horizons[..4] {
            *horizon = Some(HorizonOutcome {
                price: signals[n].price * (1.0 + ret),
                ret,
                success: Some(won),
            });
        }
        store
            .outcomes()
            .upsert(&to_stored(rec.id, &outcome, false, now()))
            .await
            .unwrap();
    }
}

async fn kinds_are_ranked_by_their_stored_outcomes(backend: Backend) {
    let (_db, store) = seeded(backend).await;
    signals_with_outcomes(&store, SignalKind::MacdCrossUp, 6, 5, 100).await;
    signals_with_outcomes(&store, SignalKind::RsiOversoldEnter, 6, 1, 400).await;
    // Too few to be ranked.
    signals_with_outcomes(&store, SignalKind::GoldenCross { fast: 50, slow: 200 }, 2, 2, 700).await;
    let report = build_daily_report(&store, &watchlist(), &RulesConfig::default(), now())
        .await
        .unwrap();
    let best: Vec<SignalKind> = report.best_kinds.iter().map(|r| r.kind).collect();
    let worst: Vec<SignalKind> = report.worst_kinds.iter().map(|r| r.kind).collect();
    assert_eq!(best, [SignalKind::MacdCrossUp, SignalKind::RsiOversoldEnter]);
    assert!(
        worst.is_empty(),
        "the two ranked kinds are both among the best: {worst:?}"
    );
    assert!(close_to(report.best_kinds[0].win_rate_1w, 5.0 / 6.0));
    assert_eq!(report.best_kinds[0].measured, 6);
    assert!(close_to(report.best_kinds[1].win_rate_1w, 1.0 / 6.0));
}

backend_tests!(
    the_report_holds_the_last_session_of_each_symbol,
    kinds_are_ranked_by_their_stored_outcomes,
);

#[tokio::test(flavor = "multi_thread")]
async fn the_report_goes_out_formatted_and_a_failure_is_typed() {
    let (_db, store) = seeded(Backend::Sqlite).await;
    let report = build_daily_report(&store, &watchlist(), &RulesConfig::default(), now())
        .await
        .unwrap();
    let notifier = RecordingNotifier::new();
    let delivery = send_daily_report(&notifier, &report).await.unwrap();
    assert_eq!(delivery.parts, 1);
    let sent = notifier.messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].kind(), DAILY_REPORT_KIND);
    assert_eq!(sent[0], finstage_notify::format::daily_report(&report));
    assert!(sent[0].text().contains("AAPL"), "{}", sent[0].text());

    notifier.fail_next(NotifyError::Timeout { channel: "recording" });
    let error = send_daily_report(&notifier, &report).await.unwrap_err();
    assert!(
        matches!(&error, CoreError::Notify(NotifyError::Timeout { .. })),
        "{error:?}"
    );
    assert_eq!(notifier.messages().len(), 1);
    assert_ne!(DAILY_REPORT_KIND, BACKTEST_KIND);
}

#[tokio::test(flavor = "multi_thread")]
async fn rules_that_do_not_validate_are_refused() {
    let (_db, store) = seeded(Backend::Sqlite).await;
    let mut rules = RulesConfig::default();
    rules.rsi.period = 0;
    let error = build_daily_report(&store, &watchlist(), &rules, now())
        .await
        .unwrap_err();
    assert!(matches!(error, CoreError::Analysis(_)), "{error:?}");
}
