//! Backtests over stored bars: the same reports as the analysis over the same history, a date
//! range warmed up like the whole history, per-symbol error entries, bounded summaries, and
//! requests validated (naming the field) and normalised (one key per meaning).

use chrono::NaiveDate;
use finstage_analysis::backtest::{self, Strategy, StrategyConfig, Trigger};
use finstage_analysis::{RulesConfig, SignalKind, Timeframe};
use finstage_core::CoreError;
use finstage_core::backtests::{BacktestRequest, MAX_EQUITY_POINTS, MAX_RUNS, MAX_SYMBOLS, MAX_TRADES, run_backtest};
use finstage_domain::{Bar, BarTime, Category, Symbol};
use finstage_store::Backend;
use finstage_test_support::db::TestDb;
use finstage_test_support::fixtures;

use crate::backend_tests;

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn macd() -> StrategyConfig {
    let mut config = StrategyConfig::new(Trigger::Any(vec![SignalKind::MacdCrossUp]));
    config.exit = Some(Trigger::Any(vec![SignalKind::MacdCrossDown]));
    config.fee_bps = 5.0;
    config.slippage_bps = 2.0;
    config
}

/// Many trades: in on every RSI cross above 50, out on every cross below.
fn rsi_midline() -> StrategyConfig {
    let mut config = StrategyConfig::new(Trigger::Any(vec![SignalKind::RsiCrossAbove50]));
    config.exit = Some(Trigger::Any(vec![SignalKind::RsiCrossBelow50]));
    config
}

fn request(symbols: &[&str], strategies: Vec<StrategyConfig>) -> BacktestRequest {
    BacktestRequest {
        symbols: symbols.iter().map(|s| sym(s)).collect(),
        strategies,
        from: None,
        to: None,
    }
}

fn date_of(bar: &Bar) -> NaiveDate {
    match bar.time() {
        BarTime::Date(d) => d,
        BarTime::Timestamp(ts) => ts.date_naive(),
    }
}

async fn the_reports_are_the_analysis_over_the_same_history(backend: Backend) {
    let db = TestDb::new(backend, "finstage_core");
    let store = db.store().await;
    let bars = fixtures::seed_bars("IBM");
    store.daily_bars().upsert(&sym("IBM"), &bars).await.unwrap();
    let rules = RulesConfig::default();
    let signals = finstage_analysis::detect(&rules, sym("IBM"), Category::Stock, Timeframe::DAILY, &bars).unwrap();
    let strategies = [Strategy::new(macd()).unwrap(), Strategy::new(rsi_midline()).unwrap()];

    // The whole history.
    let result = run_backtest(&store, &rules, &request(&["IBM"], vec![macd(), rsi_midline()]))
        .await
        .unwrap();
    assert_eq!(result.symbols.len(), 1);
    let ibm = &result.symbols[0];
    assert_eq!(ibm.error, None);
    assert_eq!(ibm.bars, bars.len());
    assert_eq!(ibm.signals, signals.len());
    assert_eq!(ibm.from, Some(date_of(&bars[0])));
    assert_eq!(ibm.to, Some(date_of(bars.last().unwrap())));
    for (report, strategy) in ibm.strategies.iter().zip(&strategies) {
        assert_eq!(*report, backtest::backtest(&bars, &signals, strategy).unwrap());
    }
    assert!(ibm.strategies[0].metrics.trades > 10, "{:?}", ibm.strategies[0].metrics);

    // A range: the signals the whole history gives on it (the indicators were warmed up on
    // the bars before it), and the bars of the range only.
    let (from, to) = (day(2008, 1, 1), day(2010, 12, 31));
    let mut ranged = request(&["IBM"], vec![macd()]);
    ranged.from = Some(from);
    ranged.to = Some(to);
    let result = run_backtest(&store, &rules, &ranged).await.unwrap();
    let in_range: Vec<Bar> = bars
        .iter()
        .filter(|b| (from..=to).contains(&date_of(b)))
        .copied()
        .collect();
    let first = in_range[0].time();
    let last = in_range.last().unwrap().time();
    let range_signals: Vec<_> = signals
        .iter()
        .filter(|s| s.time >= first && s.time <= last)
        .cloned()
        .collect();
    let ibm = &result.symbols[0];
    assert_eq!(ibm.bars, in_range.len());
    assert_eq!(ibm.signals, range_signals.len());
    assert_eq!(ibm.from, Some(date_of(&in_range[0])));
    assert_eq!(
        ibm.strategies,
        [backtest::backtest(&in_range, &range_signals, &strategies[0]).unwrap()]
    );
}

async fn symbols_without_bars_are_entries_of_their_own(backend: Backend) {
    let db = TestDb::new(backend, "finstage_core");
    let store = db.store().await;
    let bars = fixtures::seed_bars("MSFT");
    store.daily_bars().upsert(&sym("MSFT"), &bars).await.unwrap();
    let rules = RulesConfig::default();

    let result = run_backtest(&store, &rules, &request(&["ZZZZ", "MSFT"], vec![macd()]))
        .await
        .unwrap();
    let names: Vec<&str> = result.symbols.iter().map(|s| s.symbol.as_str()).collect();
    assert_eq!(names, ["ZZZZ", "MSFT"]);
    let unknown = &result.symbols[0];
    let error = unknown.error.as_ref().unwrap();
    assert_eq!(error.code, "no_data");
    assert!(error.message.contains("ZZZZ"), "{}", error.message);
    assert!(unknown.strategies.is_empty());
    assert_eq!(unknown.bars, 0);
    assert_eq!(result.symbols[1].error, None);
    assert_eq!(result.symbols[1].strategies.len(), 1);

    // A range after the stored history: no bars there.
    let mut late = request(&["MSFT"], vec![macd()]);
    late.from = Some(day(2020, 1, 1));
    let result = run_backtest(&store, &rules, &late).await.unwrap();
    let error = result.symbols[0].error.as_ref().unwrap();
    assert_eq!(error.code, "no_data");
    assert!(error.message.contains("2020-01-01"), "{}", error.message);
}

async fn a_summary_keeps_the_latest_trades_and_a_sampled_curve(backend: Backend) {
    let db = TestDb::new(backend, "finstage_core");
    let store = db.store().await;
    let bars = fixtures::seed_bars("AAPL");
    store.daily_bars().upsert(&sym("AAPL"), &bars).await.unwrap();
    let result = run_backtest(
        &store,
        &RulesConfig::default(),
        &request(&["AAPL"], vec![rsi_midline()]),
    )
    .await
    .unwrap();
    let full = &result.symbols[0].strategies[0];
    assert!(full.trades.len() > MAX_TRADES, "{} trades", full.trades.len());
    assert!(full.equity.len() > MAX_EQUITY_POINTS);

    let summary = result.summary();
    let run = &summary.symbols[0].strategies[0];
    assert_eq!(run.strategy, 0);
    assert_eq!(run.metrics, full.metrics);
    assert_eq!(run.trades.len(), MAX_TRADES);
    assert_eq!(run.trades_omitted, full.trades.len() - MAX_TRADES);
    assert_eq!(run.trades[..], full.trades[full.trades.len() - MAX_TRADES..]);
    assert_eq!(run.equity.len(), MAX_EQUITY_POINTS);
    assert_eq!(run.equity.first(), full.equity.first());
    assert_eq!(run.equity.last(), full.equity.last());
    assert!(run.equity.windows(2).all(|w| w[0].time < w[1].time));
    assert_eq!(run.buy_and_hold.metrics, full.buy_and_hold.metrics);
    assert_eq!(run.buy_and_hold.equity.len(), MAX_EQUITY_POINTS);
    assert_eq!(run.buy_and_hold.equity.last(), full.buy_and_hold.equity.last());
    // What a task stores stays small: well under a megabyte for one run of 13 years.
    let json = serde_json::to_string(&summary).unwrap();
    assert!(json.len() < 200_000, "{} bytes", json.len());
}

backend_tests!(
    the_reports_are_the_analysis_over_the_same_history,
    symbols_without_bars_are_entries_of_their_own,
    a_summary_keeps_the_latest_trades_and_a_sampled_curve,
);

fn field_of(error: CoreError) -> String {
    match error {
        CoreError::InvalidRequest { field, .. } => field,
        other => panic!("not an invalid request: {other}"),
    }
}

#[test]
fn validation_names_the_bad_field() {
    let ok = request(&["AAPL"], vec![macd()]);
    assert_eq!(ok.validate().unwrap().len(), 1);

    assert_eq!(field_of(request(&[], vec![macd()]).validate().unwrap_err()), "symbols");
    let many: Vec<String> = (0..=MAX_SYMBOLS).map(|i| format!("S{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    assert_eq!(
        field_of(request(&many, vec![macd()]).validate().unwrap_err()),
        "symbols"
    );
    assert_eq!(
        field_of(request(&["AAPL"], vec![]).validate().unwrap_err()),
        "strategies"
    );
    assert_eq!(
        field_of(request(&["AAPL"], vec![macd(); 11]).validate().unwrap_err()),
        "strategies"
    );
    // 34 symbols × 3 strategies pass each cap but not the runs'.
    let symbols: Vec<String> = (0..MAX_RUNS / 3 + 1).map(|i| format!("S{i}")).collect();
    let symbols: Vec<&str> = symbols.iter().map(String::as_str).collect();
    let error = request(&symbols, vec![macd(); 3]).validate().unwrap_err();
    assert!(error.to_string().contains("runs"), "{error}");

    let mut stop = macd();
    stop.stop_loss = Some(1.5);
    let error = request(&["AAPL"], vec![macd(), stop]).validate().unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid strategies[1].stop_loss: 1.5 is not a fraction in (0, 1)"
    );
    let mut overlap = macd();
    overlap.exit = Some(Trigger::Any(vec![SignalKind::MacdCrossUp]));
    assert_eq!(
        field_of(request(&["AAPL"], vec![overlap]).validate().unwrap_err()),
        "strategies[0].exit"
    );

    let mut backwards = request(&["AAPL"], vec![macd()]);
    backwards.from = Some(day(2012, 1, 2));
    backwards.to = Some(day(2011, 1, 3));
    assert_eq!(field_of(backwards.validate().unwrap_err()), "from");
}

#[test]
fn requests_are_read_strictly() {
    let parse = |json: &str| serde_json::from_str::<BacktestRequest>(json);
    let good = r#"{"symbols":["aapl"],"strategies":[{"entry":{"any":["golden_cross"]}}]}"#;
    let request = parse(good).unwrap();
    assert_eq!(request.symbols, [sym("AAPL")]);
    assert_eq!(request.from, None);
    for bad in [
        r#"{"symbols":["AAPL"],"strategies":[{"entry":{"any":["golden_cross"]}}],"extra":1}"#,
        r#"{"symbols":["AA/PL"],"strategies":[{"entry":{"any":["golden_cross"]}}]}"#,
        r#"{"symbols":["AAPL"],"strategies":[{"entry":{"any":["no_such_kind"]}}]}"#,
        r#"{"symbols":["AAPL"],"strategies":[{"entry":{"any":["golden_cross"]}}],"from":"2013-02-30"}"#,
        r#"{"symbols":["AAPL"]}"#,
    ] {
        assert!(parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn requests_that_mean_the_same_share_a_key() {
    let mut a = request(&["MSFT", "AAPL", "MSFT"], vec![macd()]);
    a.strategies[0].entry = Trigger::Any(vec![SignalKind::RsiCrossAbove50, SignalKind::MacdCrossUp]);
    let mut b = request(&["AAPL", "MSFT"], vec![macd()]);
    b.strategies[0].entry = Trigger::Any(vec![
        SignalKind::MacdCrossUp,
        SignalKind::RsiCrossAbove50,
        SignalKind::MacdCrossUp,
    ]);
    let (na, nb) = (a.normalized(), b.normalized());
    assert_eq!(na, nb);
    assert_eq!(na.symbols, [sym("AAPL"), sym("MSFT")]);
    assert_eq!(na.unique_key(), nb.unique_key());
    assert!(na.unique_key().starts_with("backtest:"));
    assert_eq!(na.unique_key().len(), "backtest:".len() + 32);
    // The normal form is a fixed point, and a different meaning has another key.
    assert_eq!(na.normalized(), na);
    let mut dearer = nb.clone();
    dearer.strategies[0].fee_bps = 10.0;
    assert_ne!(dearer.unique_key(), nb.unique_key());
    let mut later = nb.clone();
    later.from = Some(day(2010, 1, 4));
    assert_ne!(later.unique_key(), nb.unique_key());
    // `any` and `all` of the same kinds differ.
    let mut all = nb.clone();
    all.strategies[0].entry = Trigger::All(vec![SignalKind::MacdCrossUp, SignalKind::RsiCrossAbove50]);
    assert_ne!(all.unique_key(), nb.unique_key());
}
