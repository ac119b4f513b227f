//! On-balance volume (OBV).

use std::fmt;

use crate::error::{IndicatorError, check_lengths};
use crate::indicator::{Indicator, run};
use crate::input::Candle;
use crate::math::keep_if;

/// On-balance volume: a running total that adds the bar's volume when the close rose, subtracts
/// it when the close fell, and keeps it when unchanged. `OBV[0] = volume[0]`, as in TA-Lib.
///
/// - No parameters (spec `obv`).
/// - Lookback: 0.
///
/// ```
/// use finstage_indicators::Obv;
///
/// let out = Obv.batch(&[10.0, 11.0, 10.5, 10.5], &[100.0, 50.0, 30.0, 70.0])?;
/// assert_eq!(out, [100.0, 150.0, 120.0, 120.0]);
/// # Ok::<(), finstage_indicators::IndicatorError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Obv;

impl Obv {
    /// Inputs before the first output: 0.
    pub fn lookback(&self) -> usize {
        0
    }

    /// A fresh streaming state.
    pub fn state(&self) -> ObvState {
        ObvState::default()
    }

    /// OBV at every bar, from closes and volumes.
    ///
    /// # Errors
    /// [`IndicatorError::LengthMismatch`] when the series differ in length.
    pub fn batch(&self, close: &[f64], volume: &[f64]) -> Result<Vec<f64>, IndicatorError> {
        let len = check_lengths(&[("close", close.len()), ("volume", volume.len())])?;
        let bars = (0..len).map(|i| Candle {
            close: close[i],
            volume: volume[i],
            ..Candle::default()
        });
        Ok(run(self.state(), bars))
    }
}

impl fmt::Display for Obv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("obv")
    }
}

/// Streaming state of [`Obv`].
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ObvState {
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    previous_close: Option<f64>,
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    total: f64,
}

impl ObvState {
    #[inline(always)]
    pub(crate) fn update_close(&mut self, close: f64, volume: f64) -> f64 {
        match self.previous_close.replace(close) {
            None => self.total = volume,
            // `+volume` on an up bar, `−volume` on a down bar, `+0` otherwise, without a branch.
            Some(previous) => self.total += keep_if(close > previous, volume) + keep_if(close < previous, -volume),
        }
        self.total
    }
}

impl Indicator for ObvState {
    type Input = Candle;
    type Output = f64;

    #[inline(always)]
    fn update(&mut self, bar: Candle) -> Option<f64> {
        Some(self.update_close(bar.close, bar.volume))
    }

    fn reset(&mut self) {
        *self = Self::default();
    }

    fn lookback(&self) -> usize {
        0
    }
}
