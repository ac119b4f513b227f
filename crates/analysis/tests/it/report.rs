//! The daily report: its figures on real history, the ranking of kinds, and its JSON shape.

use chrono::NaiveDate;
use finstage_analysis::outcome::{HorizonStats, KindStats};
use finstage_analysis::report::{Position, ReportConfig, SymbolInput, WatchlistInput, build};
use finstage_analysis::{Direction, RulesConfig, SignalKind, Timeframe, detect};
use finstage_domain::{Category, Symbol};
use finstage_test_support::fixtures;

fn stats(kind: SignalKind, measured: u64, wins: u64) -> KindStats {
    let mut horizons = [HorizonStats::default(); 5];
    #[allow(clippy::cast_precision_loss)]
    let rate = (measured > 0).then(|| wins as f64 / measured as f64);
    horizons[3] = HorizonStats {
        measured,
        wins,
        win_rate: rate,
        mean_return: Some(0.01),
        median_return: Some(0.01),
    };
    KindStats {
        kind,
        count: measured,
        horizons,
    }
}

#[test]
fn report_on_real_history() {
    let bars = fixtures::seed_bars("AAPL");
    let recent = &bars[bars.len() - 300..];
    let aapl = Symbol::parse("AAPL").unwrap();
    let signals = detect(&RulesConfig::default(), aapl, Category::Stock, Timeframe::DAILY, recent).unwrap();
    let last_time = recent.last().unwrap().time();
    let todays: Vec<_> = signals.into_iter().filter(|s| s.time == last_time).collect();
    let record = (705.07, NaiveDate::from_ymd_opt(2012, 9, 21).unwrap());
    let watchlists = [WatchlistInput {
        name: "tech".into(),
        symbols: vec![
            SymbolInput {
                symbol: aapl,
                category: Category::Stock,
                bars: recent,
                all_time_high: Some(record),
                signals: &todays,
            },
            SymbolInput {
                symbol: Symbol::parse("NEW").unwrap(),
                category: Category::Stock,
                bars: &[],
                all_time_high: None,
                signals: &[],
            },
        ],
    }];
    let kinds = [
        stats(SignalKind::GoldenCross { fast: 50, slow: 200 }, 10, 7),
        stats(SignalKind::RsiOversoldLeave, 40, 26),
        stats(SignalKind::MacdCrossUp, 20, 13),
        stats(SignalKind::PriceDrop, 30, 9),
        stats(SignalKind::VolumeSpikeUp, 4, 4), // too few to rank
        stats(SignalKind::MaBreakout { period: 20 }, 25, 12),
    ];
    let config = ReportConfig { min_signals: 5, top: 2 };
    let report = build(
        NaiveDate::from_ymd_opt(2013, 3, 1).unwrap(),
        &watchlists,
        &kinds,
        &config,
    );

    let a = &report.watchlists[0].symbols[0];
    let (close, before) = (recent[299].close(), recent[298].close());
    assert_eq!(a.close, Some(close));
    assert!((a.change.unwrap() - (close - before)).abs() < 1e-12);
    assert_eq!(a.all_time_high, Some(705.07));
    assert!(a.from_high_pct.unwrap() < -30.0);
    assert_eq!(
        a.vs_sma50,
        Some(if close >= a.sma50.unwrap() {
            Position::Above
        } else {
            Position::Below
        })
    );
    assert_eq!(a.vs_sma200, Some(Position::Below));
    assert!((0.0..=100.0).contains(&a.rsi.unwrap()));
    assert_eq!(a.signals.len(), todays.len());
    assert!(a.signals.windows(2).all(|w| w[0].strength >= w[1].strength));
    let empty = &report.watchlists[0].symbols[1];
    assert_eq!(
        (empty.close, empty.rsi, empty.all_time_high, empty.macd),
        (None, None, None, None)
    );

    // 70 %, 65 %, 65 % (fewer), 48 %, 30 %; the 4-signal kind is not ranked.
    let best: Vec<_> = report.best_kinds.iter().map(|r| r.kind.to_string()).collect();
    let worst: Vec<_> = report.worst_kinds.iter().map(|r| r.kind.to_string()).collect();
    assert_eq!(best, ["golden_cross", "rsi_oversold_leave"]);
    assert_eq!(worst, ["price_drop", "ma_breakout_20"]);
    assert_eq!(report.best_kinds[0].win_rate_1w, 0.7);
    assert!(a.macd.is_some_and(|m| m.trend != Direction::Neutral));

    insta::assert_json_snapshot!("daily_report_aapl", report);
    let json = serde_json::to_string(&report).unwrap();
    assert_eq!(
        serde_json::from_str::<finstage_analysis::report::DailyReport>(&json).unwrap(),
        report
    );
}

#[test]
fn a_high_above_the_record_replaces_it() {
    let bars = fixtures::seed_bars("MSFT");
    let recent = &bars[bars.len() - 30..];
    let symbols = vec![SymbolInput {
        symbol: Symbol::parse("MSFT").unwrap(),
        category: Category::Stock,
        bars: recent,
        all_time_high: Some((1.0, NaiveDate::from_ymd_opt(1999, 1, 1).unwrap())),
        signals: &[],
    }];
    let report = build(
        NaiveDate::from_ymd_opt(2013, 3, 1).unwrap(),
        &[WatchlistInput {
            name: "w".into(),
            symbols,
        }],
        &[],
        &ReportConfig::default(),
    );
    let m = &report.watchlists[0].symbols[0];
    let highest = recent.iter().map(finstage_domain::Bar::high).fold(f64::MIN, f64::max);
    assert_eq!(m.all_time_high, Some(highest));
    assert!(m.all_time_high_date.unwrap() > NaiveDate::from_ymd_opt(2013, 1, 1).unwrap());
    // Thirty bars are too few for SMA(50), SMA(200) and MACD.
    assert_eq!((m.sma50, m.sma200, m.macd), (None, None, None));
    assert!(report.best_kinds.is_empty() && report.worst_kinds.is_empty());
}
