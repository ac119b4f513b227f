//! Backtests of signal strategies over daily history.
//!
//! One symbol at a time: its daily [`Bar`]s (strictly increasing in time) and its
//! [`Signal`]s (each at the time of one of the bars). A [`StrategyConfig`] (serde) is validated
//! into a [`Strategy`]; [`SignalIndex::new`] places the signals on the bars once, and [`run`]
//! backtests any number of strategies against that index. [`backtest`] does both for one
//! strategy.
//!
//! Semantics, in short (details on [`run`]):
//! - **No look-ahead.** A signal fires on its bar's close and acts at the next bar's open.
//! - **Fills.** Signal and time exits and all entries fill at the open; stop-loss and
//!   take-profit fill at their level, or at the open when the open gapped through it, checked
//!   from the bar after entry on the bar's low and high; when both are touched in one bar the
//!   stop is assumed first. Every fill is worsened by the slippage and pays the fee on its
//!   notional.
//! - **Sizing.** Each entry commits `fraction` of the current equity, its fee included.
//! - **End of data.** A position still open after the last bar is closed at the last close
//!   (slippage and fee included) and listed with reason [`ExitReason::End`].
//! - **Buy-and-hold** ([`Benchmark`]): everything in at the first open (slippage and fee),
//!   marked at every close to the last, never sold: fees once.
//! - **Metrics**: [`Metrics`] documents each formula.
//!
//! ```
//! use chrono::NaiveDate;
//! use finstage_analysis::backtest::{backtest, ExitReason, Strategy, StrategyConfig, Trigger};
//! use finstage_analysis::{Signal, SignalKind, SignalValues, Timeframe};
//! use finstage_domain::{Bar, Symbol};
//!
//! let day = |d| NaiveDate::from_ymd_opt(2024, 1, d).unwrap();
//! let bars = [
//!     Bar::new(day(2), 10.0, 10.0, 10.0, 10.0, 0)?,
//!     Bar::new(day(3), 10.0, 11.0, 10.0, 11.0, 0)?,
//!     Bar::new(day(4), 11.0, 12.0, 11.0, 12.0, 0)?,
//! ];
//! let symbol = Symbol::parse("ABC")?;
//! let kind = SignalKind::MacdCrossUp;
//! let signal = Signal::new(symbol, kind, Timeframe::DAILY, bars[0].time(), 10.0, 1.0, SignalValues::new());
//! let strategy = Strategy::new(StrategyConfig::new(Trigger::Any(vec![kind])))?;
//!
//! let report = backtest(&bars, &[signal], &strategy)?;
//! // Bought at the second bar's open (10), closed at the last close (12).
//! assert_eq!(report.trades[0].entry_price, 10.0);
//! assert_eq!(report.trades[0].reason, ExitReason::End);
//! assert!((report.metrics.total_return - 0.2).abs() < 1e-12);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod engine;
mod index;
mod metrics;
mod strategy;

use finstage_domain::Bar;

pub use engine::{BacktestReport, Benchmark, EquityPoint, ExitReason, Side, Trade, run};
pub use index::SignalIndex;
pub use metrics::{DAYS_PER_YEAR, Metrics, TRADING_DAYS};
pub use strategy::{DEFAULT_INITIAL_EQUITY, Mode, Strategy, StrategyConfig, Trigger};

use crate::error::AnalysisError;
use crate::signal::Signal;

/// Backtests `strategy` over `bars` and `signals`: [`SignalIndex::new`] then [`run`]. To run
/// several strategies over one symbol, build the index once and call [`run`] for each.
///
/// # Errors
/// [`AnalysisError::InvalidInput`] as [`SignalIndex::new`] and [`run`] describe.
pub fn backtest(bars: &[Bar], signals: &[Signal], strategy: &Strategy) -> Result<BacktestReport, AnalysisError> {
    let index = SignalIndex::new(bars, signals)?;
    run(bars, &index, strategy)
}
