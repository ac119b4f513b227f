//! Normalized average true range (NATR).

use std::fmt;

use crate::error::{IndicatorError, check_period};
use crate::indicator::{Indicator, run};
use crate::input::Candle;
use crate::volatility::atr::AtrState;
use crate::volatility::trange::hlc;

/// Normalized ATR: the [ATR](crate::Atr) as a percentage of the close, `100·ATR[t] / close[t]`
/// (0 where the close is 0, as in TA-Lib). For `period` 1 this is the true range as a percentage
/// of the close; TA-Lib 0.8 returns the raw true range there, which this crate does not copy.
///
/// - Parameters: `period` from 1 to 100,000 (spec `natr:period`, default `natr:14`).
/// - Lookback: `period`.
///
/// ```
/// use finstage_indicators::Natr;
///
/// let out = Natr::new(1)?.batch(&[10.0, 11.0], &[9.0, 10.0], &[10.0, 10.0])?;
/// assert_eq!(out[1], 10.0); // true range 1 is 10 % of the close
/// # Ok::<(), finstage_indicators::IndicatorError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Natr {
    period: usize,
}

impl Natr {
    /// The period of `natr` without parameters.
    pub const DEFAULT_PERIOD: usize = 14;

    /// An NATR over `period` bars.
    ///
    /// # Errors
    /// [`IndicatorError::InvalidParameter`] unless `1 <= period <= 100_000`.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        Ok(Self {
            period: check_period("natr", "period", period, 1)?,
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
    pub fn state(&self) -> NatrState {
        NatrState {
            atr: AtrState::new(self.period),
        }
    }

    /// The NATR of every bar: as long as the input, NaN through the lookback.
    ///
    /// # Errors
    /// [`IndicatorError::LengthMismatch`] when the series differ in length.
    pub fn batch(&self, high: &[f64], low: &[f64], close: &[f64]) -> Result<Vec<f64>, IndicatorError> {
        Ok(run(self.state(), hlc(high, low, close)?))
    }
}

impl Default for Natr {
    fn default() -> Self {
        Self {
            period: Self::DEFAULT_PERIOD,
        }
    }
}

impl fmt::Display for Natr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "natr:{}", self.period)
    }
}

/// `100·atr / close`, 0 for a close of 0.
#[inline(always)]
pub(crate) fn natr(atr: f64, close: f64) -> f64 {
    if close != 0.0 { (atr / close) * 100.0 } else { 0.0 }
}

/// Streaming state of an [`Natr`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct NatrState {
    atr: AtrState,
}

impl Indicator for NatrState {
    type Input = Candle;
    type Output = f64;

    #[inline(always)]
    fn update(&mut self, bar: Candle) -> Option<f64> {
        let atr = self.atr.update(bar)?;
        Some(natr(atr, bar.close))
    }

    fn reset(&mut self) {
        self.atr.reset();
    }

    fn lookback(&self) -> usize {
        self.atr.lookback()
    }
}
