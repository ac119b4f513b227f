//! Double exponential moving average (DEMA).

use std::fmt;

use crate::average::ema::EmaState;
use crate::error::{IndicatorError, check_period};
use crate::indicator::{Indicator, run};

/// Double exponential moving average: `DEMA = 2·EMA(x) − EMA(EMA(x))`.
///
/// Both EMAs use `period` and are seeded as TA-Lib seeds them (the second with the mean of the
/// first `period` values of the first).
///
/// - Parameters: `period` from 1 to 100,000 (spec `dema:period`, default `dema:20`).
/// - Lookback: `2·(period − 1)`.
///
/// ```
/// use finstage_indicators::Dema;
///
/// let dema = Dema::new(5)?;
/// assert_eq!(dema.lookback(), 8);
/// let out = dema.batch(&[1.0; 20]);
/// assert!(out[7].is_nan());
/// assert_eq!(out[8], 1.0);
/// # Ok::<(), finstage_indicators::IndicatorError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Dema {
    period: usize,
}

impl Dema {
    /// The period of `dema` without parameters.
    pub const DEFAULT_PERIOD: usize = 20;

    /// A DEMA over `period` values.
    ///
    /// # Errors
    /// [`IndicatorError::InvalidParameter`] unless `1 <= period <= 100_000`.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        Ok(Self {
            period: check_period("dema", "period", period, 1)?,
        })
    }

    /// The period.
    pub fn period(&self) -> usize {
        self.period
    }

    /// Inputs before the first output: `2·(period − 1)`.
    pub fn lookback(&self) -> usize {
        2 * (self.period - 1)
    }

    /// A fresh streaming state.
    pub fn state(&self) -> DemaState {
        DemaState {
            period: self.period,
            ema1: EmaState::new(self.period),
            ema2: EmaState::new(self.period),
        }
    }

    /// The DEMA of every value of `input`: as long as `input`, NaN through the lookback.
    pub fn batch(&self, input: &[f64]) -> Vec<f64> {
        run(self.state(), input.iter().copied())
    }
}

impl Default for Dema {
    fn default() -> Self {
        Self {
            period: Self::DEFAULT_PERIOD,
        }
    }
}

impl fmt::Display for Dema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dema:{}", self.period)
    }
}

/// `2·e1 − e2`, in TA-Lib's order.
#[inline(always)]
pub(crate) fn dema(e1: f64, e2: f64) -> f64 {
    (2.0 * e1) - e2
}

/// Streaming state of a [`Dema`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DemaState {
    period: usize,
    ema1: EmaState,
    ema2: EmaState,
}

impl Indicator for DemaState {
    type Input = f64;
    type Output = f64;

    #[inline(always)]
    fn update(&mut self, x: f64) -> Option<f64> {
        let e1 = self.ema1.update(x)?;
        let e2 = self.ema2.update(e1)?;
        Some(dema(e1, e2))
    }

    fn reset(&mut self) {
        self.ema1.reset();
        self.ema2.reset();
    }

    fn lookback(&self) -> usize {
        2 * (self.period - 1)
    }
}
