//! The daily report of a watchlist: per symbol the last close and its change, the distance from
//! the all-time high, an indicator snapshot (RSI, MACD state, position against SMA(50) and
//! SMA(200)) and the day's signals; and the best and worst signal kinds by their one-week win
//! rate. [`DailyReport`] is plain data (serde, for the API); `finstage-notify` renders it for
//! Telegram.

use chrono::NaiveDate;
use finstage_domain::{Bar, BarTime, Category, Symbol};
use finstage_indicators::{Indicator, Macd, Rsi, Sma};
use serde::{Deserialize, Serialize};

use crate::outcome::{Horizon, KindStats};
use crate::signal::{Direction, Signal, SignalKind};

/// One symbol's input to the report.
#[derive(Clone, Copy, Debug)]
pub struct SymbolInput<'a> {
    /// The symbol.
    pub symbol: Symbol,
    /// Its category.
    pub category: Category,
    /// Its recent daily bars up to the report's day, oldest first: 200 or more for every
    /// indicator of the snapshot (fewer leave the ones they cannot fill empty).
    pub bars: &'a [Bar],
    /// The stored all-time high and its date, if any (the bars' own highs count too).
    pub all_time_high: Option<(f64, NaiveDate)>,
    /// The day's signals of this symbol.
    pub signals: &'a [Signal],
}

/// A named list of symbols.
#[derive(Clone, Debug)]
pub struct WatchlistInput<'a> {
    /// Its name (`default`, `indices`, …).
    pub name: String,
    /// Its symbols, in the order the report lists them.
    pub symbols: Vec<SymbolInput<'a>>,
}

/// Whether a price is above or below a reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    /// At or above it.
    Above,
    /// Below it.
    Below,
}

/// MACD(12, 26, 9) on the last bar.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MacdSnapshot {
    /// The MACD line.
    pub macd: f64,
    /// Its signal line.
    pub signal: f64,
    /// `macd − signal`.
    pub hist: f64,
    /// Bullish when MACD is above its signal line, bearish below (neutral when equal).
    pub trend: Direction,
}

/// One of the day's signals, as the report lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignalLine {
    /// What fired.
    pub kind: SignalKind,
    /// Which way it points.
    pub direction: Direction,
    /// Its strength, 0 to 1.
    pub strength: f64,
    /// The price then.
    pub price: f64,
    /// The bar (or quote) time that triggered it.
    pub time: BarTime,
}

/// One symbol in the report; what cannot be computed (no bars, too few) is `None`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SymbolReport {
    /// The symbol.
    pub symbol: Symbol,
    /// Its category.
    pub category: Category,
    /// The date of its last bar.
    pub date: Option<NaiveDate>,
    /// The last close.
    pub close: Option<f64>,
    /// The change against the close before it.
    pub change: Option<f64>,
    /// The same in percent.
    pub change_pct: Option<f64>,
    /// The all-time high (the stored record or a higher bar).
    pub all_time_high: Option<f64>,
    /// Its date.
    pub all_time_high_date: Option<NaiveDate>,
    /// The close against the all-time high, in percent (≤ 0).
    pub from_high_pct: Option<f64>,
    /// RSI(14).
    pub rsi: Option<f64>,
    /// MACD(12, 26, 9).
    pub macd: Option<MacdSnapshot>,
    /// SMA(50).
    pub sma50: Option<f64>,
    /// SMA(200).
    pub sma200: Option<f64>,
    /// The close against SMA(50).
    pub vs_sma50: Option<Position>,
    /// The close against SMA(200).
    pub vs_sma200: Option<Position>,
    /// The day's signals, strongest first.
    pub signals: Vec<SignalLine>,
}

/// One watchlist in the report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WatchlistReport {
    /// Its name.
    pub name: String,
    /// Its symbols.
    pub symbols: Vec<SymbolReport>,
}

/// A signal kind ranked by its one-week win rate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct KindRank {
    /// The kind.
    pub kind: SignalKind,
    /// Its directional signals measured at one week.
    pub measured: u64,
    /// Their win rate, 0 to 1.
    pub win_rate_1w: f64,
    /// Their mean one-week return.
    pub mean_return_1w: Option<f64>,
}

/// The daily report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DailyReport {
    /// The day it reports on.
    pub date: NaiveDate,
    /// Every watchlist.
    pub watchlists: Vec<WatchlistReport>,
    /// The kinds with the best one-week win rates, best first.
    pub best_kinds: Vec<KindRank>,
    /// The kinds with the worst one-week win rates, worst first (none of them among the best).
    pub worst_kinds: Vec<KindRank>,
}

/// How the ranking is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportConfig {
    /// The fewest directional signals measured at one week for a kind to be ranked (default 5).
    pub min_signals: u64,
    /// How many kinds each ranking lists (default 3).
    pub top: usize,
}

impl Default for ReportConfig {
    fn default() -> Self {
        Self { min_signals: 5, top: 3 }
    }
}

/// The last value of `series`, if it is a number.
fn last(series: &[f64]) -> Option<f64> {
    series.last().copied().filter(|v| v.is_finite())
}

fn position(close: f64, reference: Option<f64>) -> Option<Position> {
    reference.map(|r| if close >= r { Position::Above } else { Position::Below })
}

fn symbol_report(input: &SymbolInput<'_>) -> SymbolReport {
    let bars = input.bars;
    let closes: Vec<f64> = bars.iter().map(Bar::close).collect();
    let close = last(&closes);
    let before = closes.len().checked_sub(2).map(|i| closes[i]);
    let change = close.zip(before).map(|(c, b)| c - b);
    let change_pct = close.zip(before).map(|(c, b)| (c / b - 1.0) * 100.0);
    let date = bars.last().map(|b| match b.time() {
        BarTime::Date(d) => d,
        BarTime::Timestamp(ts) => ts.date_naive(),
    });
    // The record, or the highest bar if it is higher (the earliest date of equal highs).
    let mut ath = input.all_time_high.filter(|(h, _)| h.is_finite() && *h > 0.0);
    for bar in bars {
        if ath.is_none_or(|(h, _)| bar.high() > h) {
            let day = match bar.time() {
                BarTime::Date(d) => d,
                BarTime::Timestamp(ts) => ts.date_naive(),
            };
            ath = Some((bar.high(), day));
        }
    }
    let sma = |period| Sma::new(period).ok().and_then(|s| last(&s.batch(&closes)));
    let (sma50, sma200) = (sma(50), sma(200));
    let rsi = Rsi::new(14).ok().and_then(|r| last(&r.batch(&closes)));
    let macd = Macd::new(12, 26, 9).ok().and_then(|m| {
        let mut state = m.state();
        let mut out = None;
        for &c in &closes {
            out = state.update(c);
        }
        out.map(|o| MacdSnapshot {
            macd: o.macd,
            signal: o.signal,
            hist: o.hist,
            trend: if o.hist > 0.0 {
                Direction::Bullish
            } else if o.hist < 0.0 {
                Direction::Bearish
            } else {
                Direction::Neutral
            },
        })
    });
    let mut signals: Vec<SignalLine> = input
        .signals
        .iter()
        .map(|s| SignalLine {
            kind: s.kind,
            direction: s.direction,
            strength: s.strength,
            price: s.price,
            time: s.time,
        })
        .collect();
    signals.sort_by(|a, b| b.strength.total_cmp(&a.strength).then(a.kind.cmp(&b.kind)));
    SymbolReport {
        symbol: input.symbol,
        category: input.category,
        date,
        close,
        change,
        change_pct,
        all_time_high: ath.map(|(h, _)| h),
        all_time_high_date: ath.map(|(_, d)| d),
        from_high_pct: close.zip(ath).map(|(c, (h, _))| (c / h - 1.0) * 100.0),
        rsi,
        macd,
        sma50,
        sma200,
        vs_sma50: close.and_then(|c| position(c, sma50)),
        vs_sma200: close.and_then(|c| position(c, sma200)),
        signals,
    }
}

/// Ranks `stats` by one-week win rate: kinds with at least `min_signals` directional signals
/// measured at one week, best first (ties: more signals first, then by name).
fn ranked(stats: &[KindStats], config: &ReportConfig) -> Vec<KindRank> {
    let mut ranks: Vec<KindRank> = stats
        .iter()
        .filter_map(|s| {
            let week = s.at(Horizon::W1);
            let rate = week.win_rate?;
            // A kind with a win rate is directional: all its measured outcomes count.
            (week.measured >= config.min_signals).then_some(KindRank {
                kind: s.kind,
                measured: week.measured,
                win_rate_1w: rate,
                mean_return_1w: week.mean_return,
            })
        })
        .collect();
    ranks.sort_by(|a, b| {
        b.win_rate_1w
            .total_cmp(&a.win_rate_1w)
            .then(b.measured.cmp(&a.measured))
            .then(a.kind.cmp(&b.kind))
    });
    ranks
}

/// Builds the report of `date` from every watchlist and the statistics of every kind.
pub fn build(
    date: NaiveDate,
    watchlists: &[WatchlistInput<'_>],
    stats: &[KindStats],
    config: &ReportConfig,
) -> DailyReport {
    let ranks = ranked(stats, config);
    let best: Vec<KindRank> = ranks.iter().take(config.top).copied().collect();
    let worst: Vec<KindRank> = ranks
        .iter()
        .rev()
        .filter(|r| !best.iter().any(|b| b.kind == r.kind))
        .take(config.top)
        .copied()
        .collect();
    DailyReport {
        date,
        watchlists: watchlists
            .iter()
            .map(|w| WatchlistReport {
                name: w.name.clone(),
                symbols: w.symbols.iter().map(symbol_report).collect(),
            })
            .collect(),
        best_kinds: best,
        worst_kinds: worst,
    }
}
