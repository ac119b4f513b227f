//! Test helpers: bars from plain numbers, signals as (bar index, kind name) pairs.

use chrono::NaiveDate;
use finstage_analysis::{RulesConfig, Signal, Timeframe, detect};
use finstage_domain::{Bar, BarTime, Category, Symbol};

pub(crate) fn day(i: usize) -> NaiveDate {
    NaiveDate::from_ymd_opt(2020, 1, 1).unwrap() + chrono::Days::new(i as u64)
}

pub(crate) fn symbol() -> Symbol {
    Symbol::parse("TEST").unwrap()
}

/// Bars whose open, high, low and close are all `close`, volume 1,000.
pub(crate) fn flat(closes: &[f64]) -> Vec<Bar> {
    closes
        .iter()
        .enumerate()
        .map(|(i, &c)| Bar::new(day(i), c, c, c, c, 1_000).unwrap())
        .collect()
}

/// Bars from `(high, low, close)`, open = close, with volumes.
pub(crate) fn hlcv(rows: &[(f64, f64, f64, u64)]) -> Vec<Bar> {
    rows.iter()
        .enumerate()
        .map(|(i, &(h, l, c, v))| Bar::new(day(i), c, h, l, c, v).unwrap())
        .collect()
}

/// The index of the bar a signal fired on.
pub(crate) fn index_of(bars: &[Bar], time: BarTime) -> usize {
    bars.iter()
        .position(|b| b.time() == time)
        .expect("a signal at a bar's time")
}

/// `(bar index, kind)` of every signal.
pub(crate) fn fired(bars: &[Bar], signals: &[Signal]) -> Vec<(usize, String)> {
    signals
        .iter()
        .map(|s| (index_of(bars, s.time), s.kind.to_string()))
        .collect()
}

/// Runs `config` in batch over `bars` as a stock, and checks that the streaming engine agrees.
pub(crate) fn run(config: &RulesConfig, bars: &[Bar]) -> Vec<(usize, String)> {
    run_as(config, Category::Stock, bars)
}

pub(crate) fn run_as(config: &RulesConfig, category: Category, bars: &[Bar]) -> Vec<(usize, String)> {
    let batch = detect(config, symbol(), category, Timeframe::DAILY, bars).unwrap();
    let streamed = stream(config, category, bars);
    assert_eq!(streamed, batch, "streaming and batch disagree");
    fired(bars, &batch)
}

pub(crate) fn stream(config: &RulesConfig, category: Category, bars: &[Bar]) -> Vec<Signal> {
    let plan = finstage_analysis::Plan::new(config, symbol(), category, Timeframe::DAILY).unwrap();
    let mut engine = finstage_analysis::SignalEngine::new(plan).unwrap();
    let mut out = Vec::new();
    for bar in bars {
        engine.update(bar, &mut out).unwrap();
    }
    out
}

pub(crate) fn names(expected: &[(usize, &str)]) -> Vec<(usize, String)> {
    expected.iter().map(|&(i, k)| (i, k.to_owned())).collect()
}
