//! Williams %R (WILLR).

use std::fmt;

use crate::error::{IndicatorError, check_period};
use crate::indicator::{Indicator, run};
use crate::input::Candle;
use crate::math::is_zero_scaled;
use crate::volatility::trange::hlc;
use crate::window::MinMaxWindow;

/// Williams %R: where the close sits in the high–low range of the last `period` bars, from
/// −100 (at the lowest low) to 0 (at the highest high).
///
/// `%R = −100·(highest high − close) / (highest high − lowest low)`, 0 on a window flat to 14
/// significant digits. The extremes are kept in van Herk/Gil-Werman blocks, amortised O(1) per bar.
///
/// - Parameters: `period` from 1 to 100,000 (spec `willr:period`, default `willr:14`).
/// - Lookback: `period − 1`. Range: [−100, 0].
///
/// ```
/// use finstage_indicators::WillR;
///
/// let out = WillR::new(2)?.batch(&[10.0, 12.0], &[8.0, 9.0], &[9.0, 9.0])?;
/// assert_eq!(out[1], -75.0); // (12 − 9) / (12 − 8)
/// # Ok::<(), finstage_indicators::IndicatorError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WillR {
    period: usize,
}

impl WillR {
    /// The period of `willr` without parameters.
    pub const DEFAULT_PERIOD: usize = 14;

    /// A Williams %R over `period` bars.
    ///
    /// # Errors
    /// [`IndicatorError::InvalidParameter`] unless `1 <= period <= 100_000`.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        Ok(Self {
            period: check_period("willr", "period", period, 1)?,
        })
    }

    /// The period.
    pub fn period(&self) -> usize {
        self.period
    }

    /// Inputs before the first output: `period − 1`.
    pub fn lookback(&self) -> usize {
        self.period - 1
    }

    /// A fresh streaming state.
    pub fn state(&self) -> WillRState {
        WillRState {
            window: MinMaxWindow::new(self.period),
            period: self.period,
        }
    }

    /// %R at every bar: as long as the input, NaN through the lookback.
    ///
    /// # Errors
    /// [`IndicatorError::LengthMismatch`] when the series differ in length.
    pub fn batch(&self, high: &[f64], low: &[f64], close: &[f64]) -> Result<Vec<f64>, IndicatorError> {
        Ok(run(self.state(), hlc(high, low, close)?))
    }
}

impl Default for WillR {
    fn default() -> Self {
        Self {
            period: Self::DEFAULT_PERIOD,
        }
    }
}

impl fmt::Display for WillR {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "willr:{}", self.period)
    }
}

/// %R of `close` within `[lowest, highest]`, TA-Lib's formula and flat-window guard.
#[inline(always)]
pub(crate) fn williams_r(close: f64, highest: f64, lowest: f64) -> f64 {
    let range = highest - lowest;
    if is_zero_scaled(range, highest.abs() + lowest.abs()) {
        return 0.0;
    }
    let r = ((highest - close) / range) * -100.0;
    r.clamp(-100.0, 0.0)
}

/// Streaming state of a [`WillR`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct WillRState {
    window: MinMaxWindow,
    period: usize,
}

impl Indicator for WillRState {
    type Input = Candle;
    type Output = f64;

    #[inline(always)]
    fn update(&mut self, bar: Candle) -> Option<f64> {
        let (highest, lowest) = self.window.step(bar.high, bar.low)?;
        Some(williams_r(bar.close, highest, lowest))
    }

    fn reset(&mut self) {
        self.window.reset();
    }

    fn lookback(&self) -> usize {
        self.period - 1
    }
}
