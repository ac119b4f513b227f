//! Relative strength index (RSI), Wilder's.

use std::fmt;

use crate::error::{IndicatorError, check_period};
use crate::indicator::{Indicator, run};

/// Relative strength index with Wilder's smoothing.
///
/// With `gain[t] = max(x[t] − x[t−1], 0)` and `loss[t] = max(x[t−1] − x[t], 0)`, the averages
/// start as the simple means over the first `period` changes and continue as
/// `avg[t] = (avg[t−1]·(period−1) + value[t]) / period`; `RSI = 100·avg_gain / (avg_gain + avg_loss)`.
///
/// - Parameters: `period` from 1 to 100,000 (spec `rsi:period`, default `rsi:14`).
/// - Lookback: `period`. Range: [0, 100].
/// - As in TA-Lib, a window without any change gives 0, not 50.
/// - TA-Lib 0.8's arithmetic (`avg·(period−1)`, plus the change, times `1/period`), bit for bit.
///
/// ```
/// use finstage_indicators::Rsi;
///
/// let out = Rsi::new(2)?.batch(&[10.0, 11.0, 10.5, 11.5]);
/// assert!(out[1].is_nan());
/// // average gain (1 + 0) / 2, average loss (0 + 0.5) / 2
/// assert!((out[2] - 100.0 * 0.5 / (0.5 + 0.25)).abs() < 1e-12);
/// # Ok::<(), finstage_indicators::IndicatorError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rsi {
    period: usize,
}

impl Rsi {
    /// The period of `rsi` without parameters.
    pub const DEFAULT_PERIOD: usize = 14;

    /// An RSI over `period` changes.
    ///
    /// # Errors
    /// [`IndicatorError::InvalidParameter`] unless `1 <= period <= 100_000`.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        Ok(Self {
            period: check_period("rsi", "period", period, 1)?,
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
    pub fn state(&self) -> RsiState {
        RsiState::new(self.period)
    }

    /// The RSI at every value of `input`: as long as `input`, NaN through the lookback.
    pub fn batch(&self, input: &[f64]) -> Vec<f64> {
        run(self.state(), input.iter().copied())
    }
}

impl Default for Rsi {
    fn default() -> Self {
        Self {
            period: Self::DEFAULT_PERIOD,
        }
    }
}

impl fmt::Display for Rsi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rsi:{}", self.period)
    }
}

/// Streaming state of an [`Rsi`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RsiState {
    period: usize,
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    keep: f64,
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    inverse: f64,
    /// Changes seen so far, up to `period`.
    changes: usize,
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    previous: Option<f64>,
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    gain: f64,
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    loss: f64,
}

impl RsiState {
    pub(crate) fn new(period: usize) -> Self {
        let n = period as f64;
        Self {
            period,
            keep: n - 1.0,
            inverse: 1.0 / n,
            changes: 0,
            previous: None,
            gain: 0.0,
            loss: 0.0,
        }
    }

    #[inline(always)]
    fn value(&self) -> f64 {
        let total = self.gain + self.loss;
        if total > 0.0 { 100.0 * (self.gain / total) } else { 0.0 }
    }
}

impl Indicator for RsiState {
    type Input = f64;
    type Output = f64;

    #[inline(always)]
    fn update(&mut self, x: f64) -> Option<f64> {
        let previous = self.previous.replace(x)?;
        let change = x - previous;
        let up = if 0.0 < change { change } else { 0.0 };
        if self.changes < self.period {
            self.gain += up;
            self.loss += up - change;
            self.changes += 1;
            if self.changes < self.period {
                return None;
            }
        } else {
            self.loss *= self.keep;
            self.gain *= self.keep;
            self.gain += up;
            self.loss += up - change;
        }
        self.loss *= self.inverse;
        self.gain *= self.inverse;
        Some(self.value())
    }

    fn reset(&mut self) {
        *self = Self::new(self.period);
    }

    fn lookback(&self) -> usize {
        self.period
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_input_gives_zero_like_ta_lib() {
        let out = Rsi::new(3).unwrap().batch(&[5.0; 10]);
        assert!(out[3..].iter().all(|v| *v == 0.0));
    }

    #[test]
    fn only_rises_give_one_hundred() {
        let input: Vec<f64> = (0..20).map(f64::from).collect();
        let out = Rsi::new(5).unwrap().batch(&input);
        assert!(out[5..].iter().all(|v| *v == 100.0));
    }
}
