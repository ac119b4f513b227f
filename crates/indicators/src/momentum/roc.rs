//! Rate of change (ROC).

use std::fmt;

use crate::error::{IndicatorError, check_period};
use crate::indicator::{Indicator, run};
use crate::window::Lag;

/// Rate of change in percent: `100·(x[t] / x[t−period] − 1)`, 0 where `x[t−period]` is 0.
///
/// - Parameters: `period` from 1 to 100,000 (spec `roc:period`, default `roc:10`).
/// - Lookback: `period`.
///
/// ```
/// use finstage_indicators::Roc;
///
/// let out = Roc::new(2)?.batch(&[100.0, 105.0, 110.0]);
/// assert!((out[2] - 10.0).abs() < 1e-12);
/// # Ok::<(), finstage_indicators::IndicatorError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Roc {
    period: usize,
}

impl Roc {
    /// The period of `roc` without parameters.
    pub const DEFAULT_PERIOD: usize = 10;

    /// A rate of change over `period` values.
    ///
    /// # Errors
    /// [`IndicatorError::InvalidParameter`] unless `1 <= period <= 100_000`.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        Ok(Self {
            period: check_period("roc", "period", period, 1)?,
        })
    }

    /// The period.
    pub fn period(&self) -> usize {
        self.period
    }

    /// Inputs before the first output: `period`.
    pub fn lookback(&self) -> usize {
        self.period
    }

    /// A fresh streaming state.
    pub fn state(&self) -> RocState {
        RocState {
            lag: Lag::new(self.period),
            period: self.period,
        }
    }

    /// The rate of change at every value of `input`: as long as `input`, NaN through the lookback.
    pub fn batch(&self, input: &[f64]) -> Vec<f64> {
        run(self.state(), input.iter().copied())
    }
}

impl Default for Roc {
    fn default() -> Self {
        Self {
            period: Self::DEFAULT_PERIOD,
        }
    }
}

impl fmt::Display for Roc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "roc:{}", self.period)
    }
}

/// `100·(x / earlier − 1)`, 0 for an earlier value of 0, in TA-Lib's order.
#[inline(always)]
pub(crate) fn rate_of_change(x: f64, earlier: f64) -> f64 {
    if earlier != 0.0 {
        ((x / earlier) - 1.0) * 100.0
    } else {
        0.0
    }
}

/// Streaming state of a [`Roc`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RocState {
    lag: Lag,
    period: usize,
}

impl Indicator for RocState {
    type Input = f64;
    type Output = f64;

    #[inline(always)]
    fn update(&mut self, x: f64) -> Option<f64> {
        let earlier = self.lag.step(x)?;
        Some(rate_of_change(x, earlier))
    }

    fn reset(&mut self) {
        self.lag.reset();
    }

    fn lookback(&self) -> usize {
        self.period
    }
}
