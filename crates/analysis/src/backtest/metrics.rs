//! [`Metrics`]: what an equity curve and its trades amount to.

use finstage_domain::BarTime;
use serde::Serialize;

use super::engine::{EquityPoint, Trade};

/// Trading days in a year: daily figures are annualised with it.
pub const TRADING_DAYS: f64 = 252.0;

/// Days in a calendar year, for [`Metrics::cagr`].
pub const DAYS_PER_YEAR: f64 = 365.25;

/// The figures of one backtest (or of buy-and-hold beside it).
///
/// Notation: `E₀` the initial equity; `e₀ … e₍ₙ₋₁₎` the equity at the close of each of the `n`
/// bars (the [equity curve](super::BacktestReport::equity)); the series `S = (E₀, e₀, …, e₍ₙ₋₁₎)`
/// starts at `E₀` at the first bar's open; the daily returns are `r₀ = e₀ / E₀ − 1` and
/// `rₜ = eₜ / eₜ₋₁ − 1` (`n` returns); `r_f = (1 + risk_free_rate)^(1/252) − 1` the daily
/// risk-free rate. A figure that is undefined (a division by zero) is `None`, never NaN or
/// infinite.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Metrics {
    /// `eₙ₋₁`, the equity at the last close.
    pub final_equity: f64,
    /// `eₙ₋₁ / E₀ − 1`.
    pub total_return: f64,
    /// Compound annual growth rate: `(eₙ₋₁ / E₀)^(1 / years) − 1`, where `years` is the calendar
    /// time from the first bar to the last in days / 365.25. `None` when that time is zero or
    /// the final equity is not positive.
    pub cagr: Option<f64>,
    /// Annualised volatility: the sample standard deviation of the daily returns (`n − 1` in
    /// the denominator) × √252. `None` with fewer than two returns.
    pub volatility: Option<f64>,
    /// Annualised Sharpe ratio: `mean(rₜ − r_f) / stdev(rₜ) × √252` (stdev as in
    /// `volatility`). `None` when the standard deviation is zero or undefined.
    pub sharpe: Option<f64>,
    /// Annualised Sortino ratio: `mean(rₜ − r_f) / DD × √252`, the downside deviation
    /// `DD = √(Σ min(0, rₜ − r_f)² / n)` over all `n` returns. `None` when `DD` is zero.
    pub sortino: Option<f64>,
    /// Maximum drawdown, a fraction ≥ 0: `max over k of 1 − S_k / max(S₀ … S_k)`.
    pub max_drawdown: f64,
    /// The maximum drawdown's duration in bars: positions in `S` from its peak to the first
    /// point back at or above the peak (or to the end when it never recovers). 0 without a
    /// drawdown.
    pub max_drawdown_bars: usize,
    /// The same duration in calendar days (the time of `S₀` is the first bar's time, `S_{k+1}`'s
    /// that of bar `k`), rounded down.
    pub max_drawdown_days: i64,
    /// Closed trades (those closed at the end of the data included).
    pub trades: usize,
    /// Winning trades (net profit > 0) / trades. `None` without trades.
    pub win_rate: Option<f64>,
    /// Gross profit / gross loss: the sum of the winning trades' net profits over the absolute
    /// sum of the losing trades'. `None` when no trade lost.
    pub profit_factor: Option<f64>,
    /// Bars in the market / bars: a bar is in the market when a position is held at its open
    /// (after the open's fills), so also when it is stopped out during the bar.
    pub exposure: f64,
}

/// Computes [`Metrics`]; `bars_in_market` counts the bars held (see [`Metrics::exposure`]).
pub(crate) fn compute(
    initial: f64,
    equity: &[EquityPoint],
    trades: &[Trade],
    bars_in_market: usize,
    daily_risk_free: f64,
) -> Metrics {
    let n = equity.len();
    let final_equity = equity.last().map_or(initial, |point| point.equity);
    let total_return = final_equity / initial - 1.0;

    let years = match (equity.first(), equity.last()) {
        (Some(first), Some(last)) => seconds_between(first.time, last.time) as f64 / 86_400.0 / DAYS_PER_YEAR,
        _ => 0.0,
    };
    let cagr = (years > 0.0 && final_equity > 0.0).then(|| (final_equity / initial).powf(1.0 / years) - 1.0);

    // One pass: the daily returns' sum, sum of squares and downside, and the drawdown.
    let (mut previous, mut sum, mut squares, mut downside) = (initial, 0.0, 0.0, 0.0);
    let mut drawdown = Peaks::new(initial);
    for (k, point) in equity.iter().enumerate() {
        let r = point.equity / previous - 1.0;
        previous = point.equity;
        sum += r;
        squares += r * r;
        let below = (r - daily_risk_free).min(0.0);
        downside += below * below;
        drawdown.push(k + 1, point.equity);
    }
    let count = n as f64;
    let mean = if n > 0 { sum / count } else { 0.0 };
    let annual = TRADING_DAYS.sqrt();
    // Σ(r − mean)² = Σr² − n·mean², never below 0.
    let stdev = (n >= 2).then(|| ((squares - sum * mean).max(0.0) / (count - 1.0)).sqrt());
    let excess = mean - daily_risk_free;
    let volatility = stdev.map(|s| s * annual);
    let sharpe = stdev.filter(|&s| s > 0.0).map(|s| excess / s * annual);
    let downside = if n > 0 { (downside / count).sqrt() } else { 0.0 };
    let sortino = (downside > 0.0).then(|| excess / downside * annual);

    let drawdown = drawdown.finish(equity);

    let wins = trades.iter().filter(|trade| trade.pnl > 0.0).count();
    let gross_profit: f64 = trades.iter().map(|trade| trade.pnl.max(0.0)).sum();
    let gross_loss: f64 = trades.iter().map(|trade| (-trade.pnl).max(0.0)).sum();
    Metrics {
        final_equity,
        total_return,
        cagr,
        volatility,
        sharpe,
        sortino,
        max_drawdown: drawdown.depth,
        max_drawdown_bars: drawdown.bars,
        max_drawdown_days: drawdown.days,
        trades: trades.len(),
        win_rate: (!trades.is_empty()).then(|| wins as f64 / trades.len() as f64),
        profit_factor: (gross_loss > 0.0).then(|| gross_profit / gross_loss),
        exposure: if n > 0 { bars_in_market as f64 / count } else { 0.0 },
    }
}

fn seconds_between(from: BarTime, to: BarTime) -> i64 {
    to.unix_seconds() - from.unix_seconds()
}

struct Drawdown {
    depth: f64,
    bars: usize,
    days: i64,
}

/// The running peak of `S = (initial, equity…)` and the deepest drawdown so far.
struct Peaks {
    peak: f64,
    peak_at: usize,
    depth: f64,
    deepest_peak: f64,
    deepest_peak_at: usize,
    trough_at: usize,
}

impl Peaks {
    fn new(initial: f64) -> Self {
        Self {
            peak: initial,
            peak_at: 0,
            depth: 0.0,
            deepest_peak: initial,
            deepest_peak_at: 0,
            trough_at: 0,
        }
    }

    /// `S_k = value`.
    #[inline]
    fn push(&mut self, k: usize, value: f64) {
        if value >= self.peak {
            (self.peak, self.peak_at) = (value, k);
        } else {
            let dd = 1.0 - value / self.peak;
            if dd > self.depth {
                (self.depth, self.deepest_peak, self.deepest_peak_at, self.trough_at) =
                    (dd, self.peak, self.peak_at, k);
            }
        }
    }

    /// The deepest drawdown and its duration from its peak to the first point back at or above
    /// the peak (or to the end).
    fn finish(self, equity: &[EquityPoint]) -> Drawdown {
        let Some(first) = equity.first() else {
            return Drawdown {
                depth: 0.0,
                bars: 0,
                days: 0,
            };
        };
        if self.depth == 0.0 {
            return Drawdown {
                depth: 0.0,
                bars: 0,
                days: 0,
            };
        }
        // Position k of S: 0 is the initial equity at the first bar's time, k + 1 is equity[k].
        let time = |k: usize| if k == 0 { first.time } else { equity[k - 1].time };
        let end = equity[self.trough_at..]
            .iter()
            .position(|point| point.equity >= self.deepest_peak)
            .map_or(equity.len(), |offset| self.trough_at + offset + 1);
        Drawdown {
            depth: self.depth,
            bars: end - self.deepest_peak_at,
            days: seconds_between(time(self.deepest_peak_at), time(end)).div_euclid(86_400),
        }
    }
}
