//! Every message format: a snapshot of each, each parsed as Telegram would (the mock's parser),
//! and data escaped wherever it appears.

use std::fmt::Write as _;

use chrono::{NaiveDate, TimeZone, Utc};
use finstage_analysis::report::{
    DailyReport, KindRank, MacdSnapshot, Position, SignalLine, SymbolReport, WatchlistReport,
};
use finstage_analysis::{Direction, QuoteContext, RulesConfig, Signal, SignalKind, Timeframe, detect, evaluate_quote};
use finstage_domain::{BarTime, Category, Symbol};
use finstage_notify::format::{daily_report, kind_title, signal_alert, signal_digest, test_message};
use finstage_notify::{TELEGRAM_MAX_UNITS, split_html};
use finstage_test_support::fixtures;
use finstage_test_support::telegram::parse_html;

fn day() -> BarTime {
    BarTime::Date(NaiveDate::from_ymd_opt(2026, 12, 4).unwrap())
}

/// A real signal of every default kind: the first of each that the default rules find in
/// AAPL's history (every kind fires there), and live alerts from a quote.
fn samples() -> Vec<Signal> {
    let aapl = Symbol::parse("AAPL").unwrap();
    let bars = fixtures::seed_bars("AAPL");
    let found = detect(&RulesConfig::default(), aapl, Category::Stock, Timeframe::DAILY, &bars).unwrap();
    let mut samples: Vec<Signal> = SignalKind::defaults()
        .into_iter()
        .map(|kind| {
            found
                .iter()
                .find(|s| s.kind == kind)
                .unwrap_or_else(|| panic!("no {kind}"))
                .clone()
        })
        .collect();
    let quote = QuoteContext {
        symbol: aapl,
        category: Category::Stock,
        price: 536.1,
        time: Utc.with_ymd_and_hms(2012, 9, 24, 15, 30, 0).unwrap(),
        previous_close: Some(512.0),
        previous_high: Some(520.5),
        previous_low: Some(505.0),
        all_time_high: Some(530.0),
    };
    samples.extend(evaluate_quote(&RulesConfig::default(), &quote).unwrap());
    samples
}

fn parses(text: &str) -> String {
    parse_html(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn every_signal_alert() {
    let mut all = String::new();
    for signal in samples() {
        let message = signal_alert(&signal);
        assert_eq!(message.kind(), "signal");
        let plain = parses(message.text());
        assert!(plain.contains("AAPL") && plain.contains(&kind_title(signal.kind)));
        writeln!(all, "--- {} ({})\n{}", signal.kind, signal.timeframe, message.text()).unwrap();
    }
    insta::assert_snapshot!("signal_alerts", all);
}

#[test]
fn titles_are_distinct() {
    let mut titles: Vec<String> = SignalKind::defaults().into_iter().map(kind_title).collect();
    let n = titles.len();
    titles.sort();
    titles.dedup();
    assert_eq!(titles.len(), n);
}

fn report() -> DailyReport {
    let line = |kind: SignalKind, strength| SignalLine {
        kind,
        direction: kind.direction(),
        strength,
        price: 187.62,
        time: day(),
    };
    DailyReport {
        date: NaiveDate::from_ymd_opt(2026, 12, 4).unwrap(),
        watchlists: vec![
            WatchlistReport {
                name: "Tech <&> \"growth\"".into(),
                symbols: vec![
                    SymbolReport {
                        symbol: Symbol::parse("AAPL").unwrap(),
                        category: Category::Stock,
                        date: Some(NaiveDate::from_ymd_opt(2026, 12, 4).unwrap()),
                        close: Some(187.62),
                        change: Some(2.1),
                        change_pct: Some(1.132),
                        all_time_high: Some(199.62),
                        all_time_high_date: Some(NaiveDate::from_ymd_opt(2026, 7, 16).unwrap()),
                        from_high_pct: Some(-6.011),
                        rsi: Some(61.23),
                        macd: Some(MacdSnapshot {
                            macd: 1.2,
                            signal: 0.9,
                            hist: 0.3,
                            trend: Direction::Bullish,
                        }),
                        sma50: Some(180.0),
                        sma200: Some(190.0),
                        vs_sma50: Some(Position::Above),
                        vs_sma200: Some(Position::Below),
                        signals: vec![
                            line(SignalKind::MaBreakout { period: 20 }, 0.8),
                            line(SignalKind::RsiCrossAbove50, 0.3),
                        ],
                    },
                    SymbolReport {
                        symbol: Symbol::parse("^GSPC").unwrap(),
                        category: Category::Index,
                        date: None,
                        close: None,
                        change: None,
                        change_pct: None,
                        all_time_high: None,
                        all_time_high_date: None,
                        from_high_pct: None,
                        rsi: None,
                        macd: None,
                        sma50: None,
                        sma200: None,
                        vs_sma50: None,
                        vs_sma200: None,
                        signals: vec![],
                    },
                ],
            },
            WatchlistReport {
                name: "FX".into(),
                symbols: vec![SymbolReport {
                    symbol: Symbol::parse("EURUSD=X").unwrap(),
                    category: Category::Fx,
                    date: Some(NaiveDate::from_ymd_opt(2026, 12, 4).unwrap()),
                    close: Some(1.0842),
                    change: Some(-0.0021),
                    change_pct: Some(-0.193),
                    all_time_high: Some(1.6038),
                    all_time_high_date: Some(NaiveDate::from_ymd_opt(2008, 7, 15).unwrap()),
                    from_high_pct: Some(-32.4),
                    rsi: Some(44.0),
                    macd: None,
                    sma50: Some(1.09),
                    sma200: None,
                    vs_sma50: Some(Position::Below),
                    vs_sma200: None,
                    signals: vec![],
                }],
            },
        ],
        best_kinds: vec![KindRank {
            kind: SignalKind::GoldenCross { fast: 50, slow: 200 },
            measured: 12,
            win_rate_1w: 0.75,
            mean_return_1w: Some(0.012),
        }],
        worst_kinds: vec![KindRank {
            kind: SignalKind::PriceDrop,
            measured: 40,
            win_rate_1w: 0.3,
            mean_return_1w: Some(0.004),
        }],
    }
}

#[test]
fn the_daily_report() {
    let message = daily_report(&report());
    assert_eq!(message.kind(), "daily_report");
    let plain = parses(message.text());
    // The watchlist's name arrives as written.
    assert!(plain.contains("Tech <&> \"growth\""), "{plain}");
    assert!(message.text().contains("Tech &lt;&amp;&gt;"));
    insta::assert_snapshot!("daily_report", message.text());
}

#[test]
fn digests_and_the_test_message() {
    let signals = samples();
    let digest = signal_digest("Signals of 2026-12-04 <close>", &signals[..5]);
    parses(digest.text());
    insta::assert_snapshot!("signal_digest", digest.text());
    assert!(parses(signal_digest("Nothing", &[]).text()).contains("No signals."));
    let test = test_message("host <1> & co");
    assert_eq!(
        parses(test.text()),
        "✅ Finstage test message from host <1> & co\nAlerts will arrive in this chat."
    );
}

#[test]
fn a_long_digest_splits_into_parts_that_each_parse() {
    let signals: Vec<Signal> = samples().into_iter().cycle().take(400).collect();
    let digest = signal_digest("Many", &signals);
    let parts = split_html(digest.text(), TELEGRAM_MAX_UNITS).unwrap();
    assert!(parts.len() > 1);
    let mut joined = String::new();
    for part in &parts {
        let plain = parses(part);
        assert!(plain.encode_utf16().count() <= TELEGRAM_MAX_UNITS);
        joined.push_str(&plain);
    }
    // Each part keeps the line break it was cut at: together they are the whole text.
    assert_eq!(joined, parses(digest.text()));
}
