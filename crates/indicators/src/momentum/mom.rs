//! Momentum (MOM).

use std::fmt;

use crate::error::{IndicatorError, check_period};
use crate::indicator::{Indicator, run};
use crate::window::Lag;

/// Momentum: the change over `period` values, `x[t] − x[t−period]`.
///
/// - Parameters: `period` from 1 to 100,000 (spec `mom:period`, default `mom:10`).
/// - Lookback: `period`.
///
/// ```
/// use finstage_indicators::Mom;
///
/// let out = Mom::new(2)?.batch(&[100.0, 105.0, 110.0]);
/// assert_eq!(out[2], 10.0);
/// # Ok::<(), finstage_indicators::IndicatorError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Mom {
    period: usize,
}

impl Mom {
    /// The period of `mom` without parameters.
    pub const DEFAULT_PERIOD: usize = 10;

    /// Momentum over `period` values.
    ///
    /// # Errors
    /// [`IndicatorError::InvalidParameter`] unless `1 <= period <= 100_000`.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        Ok(Self {
            period: check_period("mom", "period", period, 1)?,
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
    pub fn state(&self) -> MomState {
        MomState {
            lag: Lag::new(self.period),
            period: self.period,
        }
    }

    /// The momentum at every value of `input`: as long as `input`, NaN through the lookback.
    pub fn batch(&self, input: &[f64]) -> Vec<f64> {
        run(self.state(), input.iter().copied())
    }
}

impl Default for Mom {
    fn default() -> Self {
        Self {
            period: Self::DEFAULT_PERIOD,
        }
    }
}

impl fmt::Display for Mom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mom:{}", self.period)
    }
}

/// Streaming state of a [`Mom`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MomState {
    lag: Lag,
    period: usize,
}

impl Indicator for MomState {
    type Input = f64;
    type Output = f64;

    #[inline(always)]
    fn update(&mut self, x: f64) -> Option<f64> {
        Some(x - self.lag.step(x)?)
    }

    fn reset(&mut self) {
        self.lag.reset();
    }

    fn lookback(&self) -> usize {
        self.period
    }
}
