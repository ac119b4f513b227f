//! What a backtest trades: [`StrategyConfig`] (serde), validated into a [`Strategy`].

use serde::{Deserialize, Serialize};

use crate::error::AnalysisError;
use crate::signal::SignalKind;

/// Which signals on one bar make a trigger fire.
///
/// JSON / TOML: `{"any": ["golden_cross", "macd_cross_up"]}` or `{"all": [...]}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// Fires on a bar where at least one of these kinds fired.
    Any(Vec<SignalKind>),
    /// Fires on a bar where every one of these kinds fired (a combination on the same bar).
    All(Vec<SignalKind>),
}

impl Trigger {
    /// The kinds this trigger looks at.
    pub fn kinds(&self) -> &[SignalKind] {
        match self {
            Self::Any(kinds) | Self::All(kinds) => kinds,
        }
    }

    /// Whether the trigger fires on a bar whose signals are `fired` (duplicates allowed).
    pub fn fires(&self, fired: &[SignalKind]) -> bool {
        match self {
            Self::Any(kinds) => fired.iter().any(|kind| kinds.contains(kind)),
            Self::All(kinds) => kinds.iter().all(|kind| fired.contains(kind)),
        }
    }
}

/// Whether the strategy may be short.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Entry signals open a long position; exit signals close it. Never short.
    #[default]
    LongOnly,
    /// As long-only, and the exit signals also open a short position, which the entry signals
    /// close (the entry and exit signals reverse the position: stop and reverse).
    LongShort,
}

/// The default starting equity, in the bars' currency.
pub const DEFAULT_INITIAL_EQUITY: f64 = 10_000.0;

/// A strategy as written in a configuration file (serde; unknown keys are rejected).
///
/// Only `entry` is required:
///
/// ```
/// use finstage_analysis::backtest::{Mode, Strategy, StrategyConfig};
///
/// let config: StrategyConfig = serde_json::from_str(r#"{
///     "entry": {"any": ["golden_cross_20_50"]},
///     "exit": {"any": ["dead_cross_20_50"]},
///     "stop_loss": 0.1,
///     "fee_bps": 5, "slippage_bps": 5
/// }"#)?;
/// let strategy = Strategy::new(config)?;
/// assert_eq!(strategy.config().mode, Mode::LongOnly);
/// assert_eq!(strategy.config().fraction, 1.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyConfig {
    /// The signals that open a long position (and, long/short, close a short one).
    pub entry: Trigger,
    /// The signals that close a long position (and, long/short, open a short one).
    #[serde(default)]
    pub exit: Option<Trigger>,
    /// Long-only (default) or long/short.
    #[serde(default)]
    pub mode: Mode,
    /// Close a position at the open of the `N`th bar after the bar it was entered on (held
    /// `N` bars: entered at the open of bar `e`, closed at the open of bar `e + N`).
    #[serde(default)]
    pub max_hold_bars: Option<u32>,
    /// Stop-loss as a fraction of the entry fill price, in `(0, 1)`: a long is stopped at
    /// `entry × (1 − stop_loss)`, a short at `entry × (1 + stop_loss)`.
    #[serde(default)]
    pub stop_loss: Option<f64>,
    /// Take-profit as a fraction of the entry fill price, `> 0`: a long takes profit at
    /// `entry × (1 + take_profit)`, a short at `entry × (1 − take_profit)`.
    #[serde(default)]
    pub take_profit: Option<f64>,
    /// Fee charged on each fill, in basis points of the fill's notional (`0 ≤ fee < 10,000`).
    #[serde(default)]
    pub fee_bps: f64,
    /// Slippage, in basis points, that worsens every fill price (`0 ≤ slippage < 10,000`):
    /// a buy fills at `price × (1 + s)`, a sell at `price × (1 − s)`, `s = slippage_bps / 10⁴`.
    #[serde(default)]
    pub slippage_bps: f64,
    /// The fraction of current equity each entry commits, fee included, in `(0, 1]`
    /// (default 1). Fractional shares are fine.
    #[serde(default = "default_fraction")]
    pub fraction: f64,
    /// The equity the backtest starts with (default 10,000), `> 0`.
    #[serde(default = "default_initial_equity")]
    pub initial_equity: f64,
    /// The annual risk-free rate used by the Sharpe and Sortino ratios (default 0), `> −1`.
    #[serde(default)]
    pub risk_free_rate: f64,
}

fn default_fraction() -> f64 {
    1.0
}

fn default_initial_equity() -> f64 {
    DEFAULT_INITIAL_EQUITY
}

impl StrategyConfig {
    /// A long-only strategy entering on `entry`, with every other setting at its default
    /// (no exit signal, stop, take-profit or time limit; no costs; fraction 1).
    pub fn new(entry: Trigger) -> Self {
        Self {
            entry,
            exit: None,
            mode: Mode::LongOnly,
            max_hold_bars: None,
            stop_loss: None,
            take_profit: None,
            fee_bps: 0.0,
            slippage_bps: 0.0,
            fraction: default_fraction(),
            initial_equity: default_initial_equity(),
            risk_free_rate: 0.0,
        }
    }

    /// Checks every value; see [`Strategy::new`].
    ///
    /// # Errors
    /// As [`Strategy::new`].
    pub fn validate(self) -> Result<Strategy, AnalysisError> {
        Strategy::new(self)
    }
}

/// A validated [`StrategyConfig`], with its rates resolved: what [`run`](super::run) takes.
///
/// Deserializing a `Strategy` runs the same checks as [`Strategy::new`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "StrategyConfig", into = "StrategyConfig")]
pub struct Strategy {
    config: StrategyConfig,
    pub(crate) fee_rate: f64,
    pub(crate) slippage: f64,
    pub(crate) daily_risk_free: f64,
}

/// The prefix of every key this module names in an error.
const KEY: &str = "strategy";

fn key(field: &str) -> String {
    format!("{KEY}.{field}")
}

fn check_kinds(field: &str, trigger: &Trigger) -> Result<(), AnalysisError> {
    if trigger.kinds().is_empty() {
        return Err(AnalysisError::config(key(field), "needs at least one signal kind"));
    }
    Ok(())
}

fn check_range(field: &str, value: f64, ok: bool, expected: &str) -> Result<(), AnalysisError> {
    if value.is_finite() && ok {
        Ok(())
    } else {
        Err(AnalysisError::config(key(field), format!("{value} is not {expected}")))
    }
}

impl Strategy {
    /// Validates `config`.
    ///
    /// # Errors
    /// [`AnalysisError::InvalidConfig`] naming the first bad key (`strategy.entry`,
    /// `strategy.exit`, `strategy.max_hold_bars`, `strategy.stop_loss`, `strategy.take_profit`,
    /// `strategy.fee_bps`, `strategy.slippage_bps`, `strategy.fraction`,
    /// `strategy.initial_equity`, `strategy.risk_free_rate`): an empty kind list, a kind both
    /// in `entry` and `exit`, a long/short strategy without `exit`, `max_hold_bars = 0`, or a
    /// number that is not finite or out of its documented range.
    pub fn new(config: StrategyConfig) -> Result<Self, AnalysisError> {
        check_kinds("entry", &config.entry)?;
        match &config.exit {
            Some(exit) => {
                check_kinds("exit", exit)?;
                if let Some(kind) = exit.kinds().iter().find(|kind| config.entry.kinds().contains(kind)) {
                    return Err(AnalysisError::config(
                        key("exit"),
                        format!("{kind} is also an entry kind"),
                    ));
                }
            }
            None if config.mode == Mode::LongShort => {
                return Err(AnalysisError::config(
                    key("exit"),
                    "a long_short strategy needs exit kinds (they open its shorts)",
                ));
            }
            None => {}
        }
        if config.max_hold_bars == Some(0) {
            return Err(AnalysisError::config(key("max_hold_bars"), "must be at least 1"));
        }
        if let Some(stop) = config.stop_loss {
            check_range("stop_loss", stop, stop > 0.0 && stop < 1.0, "a fraction in (0, 1)")?;
        }
        if let Some(take) = config.take_profit {
            check_range("take_profit", take, take > 0.0, "a fraction > 0")?;
        }
        let bps = |value: f64| (0.0..10_000.0).contains(&value);
        check_range(
            "fee_bps",
            config.fee_bps,
            bps(config.fee_bps),
            "in [0, 10000) basis points",
        )?;
        check_range(
            "slippage_bps",
            config.slippage_bps,
            bps(config.slippage_bps),
            "in [0, 10000) basis points",
        )?;
        check_range(
            "fraction",
            config.fraction,
            config.fraction > 0.0 && config.fraction <= 1.0,
            "in (0, 1]",
        )?;
        check_range(
            "initial_equity",
            config.initial_equity,
            config.initial_equity > 0.0,
            "> 0",
        )?;
        check_range(
            "risk_free_rate",
            config.risk_free_rate,
            config.risk_free_rate > -1.0,
            "> -1",
        )?;
        Ok(Self {
            fee_rate: config.fee_bps / 10_000.0,
            slippage: config.slippage_bps / 10_000.0,
            daily_risk_free: (1.0 + config.risk_free_rate).powf(1.0 / super::TRADING_DAYS) - 1.0,
            config,
        })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &StrategyConfig {
        &self.config
    }

    /// The fee per fill as a fraction of its notional (`fee_bps / 10⁴`).
    pub fn fee_rate(&self) -> f64 {
        self.fee_rate
    }

    /// The slippage per fill as a fraction of the price (`slippage_bps / 10⁴`).
    pub fn slippage(&self) -> f64 {
        self.slippage
    }

    /// The daily risk-free rate, `(1 + risk_free_rate)^(1/252) − 1`.
    pub fn daily_risk_free(&self) -> f64 {
        self.daily_risk_free
    }
}

impl TryFrom<StrategyConfig> for Strategy {
    type Error = AnalysisError;

    fn try_from(config: StrategyConfig) -> Result<Self, AnalysisError> {
        Self::new(config)
    }
}

impl From<Strategy> for StrategyConfig {
    fn from(strategy: Strategy) -> Self {
        strategy.config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_any_and_all() {
        let (a, b, c) = (
            SignalKind::MacdCrossUp,
            SignalKind::RsiOversoldLeave,
            SignalKind::VolumeSpikeUp,
        );
        assert!(Trigger::Any(vec![a, b]).fires(&[c, b]));
        assert!(!Trigger::Any(vec![a, b]).fires(&[c]));
        assert!(Trigger::All(vec![a, b]).fires(&[b, c, a]));
        assert!(!Trigger::All(vec![a, b]).fires(&[a, c]));
        assert!(!Trigger::Any(vec![a]).fires(&[]));
    }
}
