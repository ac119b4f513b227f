//! True range (TRANGE).

use std::fmt;

use crate::error::{IndicatorError, check_lengths};
use crate::indicator::{Indicator, run};
use crate::input::Candle;

/// True range: the largest of `high − low`, `|high − previous close|`, `|low − previous close|`.
///
/// - No parameters (spec `trange`).
/// - Lookback: 1 (the first bar has no previous close), as in TA-Lib.
///
/// ```
/// use finstage_indicators::TRange;
///
/// let out = TRange.batch(&[10.0, 12.0], &[9.0, 11.0], &[9.5, 11.5])?;
/// assert!(out[0].is_nan());
/// assert_eq!(out[1], 2.5); // high 12 − previous close 9.5
/// # Ok::<(), finstage_indicators::IndicatorError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TRange;

impl TRange {
    /// Inputs before the first output: 1.
    pub fn lookback(&self) -> usize {
        1
    }

    /// A fresh streaming state.
    pub fn state(&self) -> TRangeState {
        TRangeState::default()
    }

    /// The true range of every bar.
    ///
    /// # Errors
    /// [`IndicatorError::LengthMismatch`] when the series differ in length.
    pub fn batch(&self, high: &[f64], low: &[f64], close: &[f64]) -> Result<Vec<f64>, IndicatorError> {
        Ok(run(self.state(), hlc(high, low, close)?))
    }
}

impl fmt::Display for TRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("trange")
    }
}

/// TA-Lib's `TRUE_RANGE`.
#[inline(always)]
pub(crate) fn true_range(high: f64, low: f64, previous_close: f64) -> f64 {
    let mut out = high - low;
    let up = (high - previous_close).abs();
    if up > out {
        out = up;
    }
    let down = (low - previous_close).abs();
    if down > out {
        out = down;
    }
    out
}

/// Candles from high, low and close columns of equal length.
pub(crate) fn hlc<'a>(
    high: &'a [f64],
    low: &'a [f64],
    close: &'a [f64],
) -> Result<impl ExactSizeIterator<Item = Candle> + 'a, IndicatorError> {
    let len = check_lengths(&[("high", high.len()), ("low", low.len()), ("close", close.len())])?;
    Ok((0..len).map(move |i| Candle {
        high: high[i],
        low: low[i],
        close: close[i],
        ..Candle::default()
    }))
}

/// Streaming state of [`TRange`].
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TRangeState {
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    previous_close: Option<f64>,
}

impl Indicator for TRangeState {
    type Input = Candle;
    type Output = f64;

    #[inline(always)]
    fn update(&mut self, bar: Candle) -> Option<f64> {
        let previous = self.previous_close.replace(bar.close)?;
        Some(true_range(bar.high, bar.low, previous))
    }

    fn reset(&mut self) {
        self.previous_close = None;
    }

    fn lookback(&self) -> usize {
        1
    }
}
