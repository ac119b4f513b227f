//! Finstage's analysis: what the product exists for. Pure code over bars, quotes and indicator
//! state: no I/O, no clock, no environment.
//!
//! - [`signal`]: what a signal is ([`Signal`], [`SignalKind`], [`Direction`], [`Timeframe`]).
//! - [`rules`]: the signal rules over closed bars, streaming ([`SignalEngine`]) and batch
//!   ([`detect`]), and over live quotes ([`evaluate_quote`]); [`RulesConfig`].
//! - [`thresholds`]: per-category and per-symbol alert thresholds.
//! - [`dedupe`]: how often an alert of one symbol and kind may be sent ([`DedupePolicy`]).
//! - [`outcome`]: what became of a signal after 1h, 4h, 1d, 1w and 1m, and statistics per kind.
//! - [`backtest`]: strategies over daily history, their trades, equity and metrics.
//! - [`report`]: the daily report of a watchlist.

pub mod backtest;
pub mod dedupe;
pub mod duration;
mod error;
pub mod outcome;
pub mod report;
pub mod rules;
pub mod signal;
pub mod thresholds;

pub use dedupe::DedupePolicy;
pub use error::AnalysisError;
pub use rules::{Plan, QuoteContext, RulesConfig, SignalEngine, detect, evaluate_quote};
pub use signal::{Direction, KindFamily, Signal, SignalKind, SignalValues, Timeframe};
pub use thresholds::Thresholds;
