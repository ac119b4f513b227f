//! Simple moving average (SMA).

use std::fmt;

use crate::error::{IndicatorError, check_period};
use crate::indicator::{Indicator, run};
use crate::window::{Cursor, WindowKernel, slots};

/// Simple moving average: the mean of the last `period` values.
///
/// `SMA[t] = (x[t-period+1] + … + x[t]) / period`
///
/// - Parameters: `period` from 1 to 100,000 (spec `sma:period`, default `sma:20`).
/// - Lookback: `period - 1`.
/// - Computed as TA-Lib computes it, a running sum updated in TA-Lib's order of operations, so
///   the values are TA-Lib's bit for bit.
///
/// ```
/// use finstage_indicators::{Indicator, Sma};
///
/// let sma = Sma::new(3)?;
/// let out = sma.batch(&[1.0, 2.0, 3.0, 4.0, 5.0]);
/// assert!(out[..2].iter().all(|v| v.is_nan()));
/// assert_eq!(out[2..], [2.0, 3.0, 4.0]);
///
/// let mut state = sma.state();
/// assert_eq!(state.update(1.0), None);
/// assert_eq!(state.update(2.0), None);
/// assert_eq!(state.update(3.0), Some(2.0));
/// # Ok::<(), finstage_indicators::IndicatorError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Sma {
    period: usize,
}

impl Sma {
    /// The period of `sma` without parameters.
    pub const DEFAULT_PERIOD: usize = 20;

    /// An SMA over `period` values.
    ///
    /// # Errors
    /// [`IndicatorError::InvalidParameter`] unless `1 <= period <= 100_000`.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        Ok(Self {
            period: check_period("sma", "period", period, 1)?,
        })
    }

    /// The number of values averaged.
    pub fn period(&self) -> usize {
        self.period
    }

    /// Inputs before the first output: `period - 1`.
    pub fn lookback(&self) -> usize {
        self.period - 1
    }

    /// A fresh streaming state.
    pub fn state(&self) -> SmaState {
        SmaState::new(self.period)
    }

    /// The SMA of every value of `input`: as long as `input`, NaN through the lookback.
    pub fn batch(&self, input: &[f64]) -> Vec<f64> {
        run(self.state(), input.iter().copied())
    }
}

impl Default for Sma {
    fn default() -> Self {
        Self {
            period: Self::DEFAULT_PERIOD,
        }
    }
}

impl fmt::Display for Sma {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sma:{}", self.period)
    }
}

/// Streaming state of an [`Sma`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SmaState {
    period: usize,
    core: SmaCore,
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    window: Box<[f64]>,
}

/// The running part of an [`SmaState`], apart from its window (see [`Cursor`]).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct SmaCore {
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    total: f64,
    cursor: Cursor,
}

impl SmaState {
    pub(crate) fn new(period: usize) -> Self {
        Self {
            period,
            core: SmaCore::default(),
            window: slots(period),
        }
    }

    /// How many of the next values give no mean yet.
    pub(crate) fn warming(&self) -> usize {
        (self.period - 1).saturating_sub(self.core.cursor.len())
    }
}

impl WindowKernel for SmaState {
    type Core = SmaCore;

    fn parts(&mut self) -> (&mut SmaCore, &mut [f64]) {
        (&mut self.core, &mut self.window)
    }

    /// One step, in TA-Lib's order: `total += x; mean = total / n; total -= x[t − n + 1]`.
    #[inline(always)]
    fn advance(core: &mut SmaCore, window: &mut [f64], x: f64) -> Option<f64> {
        core.total += x;
        core.cursor.push(window, x);
        if !core.cursor.is_full(window) {
            return None;
        }
        let mean = core.total / window.len() as f64;
        core.total -= core.cursor.oldest(window);
        Some(mean)
    }
}

impl Indicator for SmaState {
    type Input = f64;
    type Output = f64;

    #[inline(always)]
    fn update(&mut self, value: f64) -> Option<f64> {
        Self::advance(&mut self.core, &mut self.window, value)
    }

    fn reset(&mut self) {
        // Keeps the window's buffer: a reset computation allocates nothing.
        self.core = SmaCore::default();
        self.window.fill(0.0);
    }

    fn lookback(&self) -> usize {
        self.period - 1
    }

    fn extend<I: IntoIterator<Item = f64>>(&mut self, inputs: I, out: &mut Vec<f64>) {
        let start = out.len();
        out.extend(inputs);
        self.run_in_place(&mut out[start..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_naive_mean() {
        let input: Vec<f64> = (0..100).map(|i| (i as f64 * 0.37).sin() * 10.0 + 50.0).collect();
        for period in [1, 2, 3, 7, 20, 100, 101] {
            let out = Sma::new(period).unwrap().batch(&input);
            assert_eq!(out.len(), input.len());
            for (t, v) in out.iter().enumerate() {
                if t + 1 < period {
                    assert!(v.is_nan());
                } else {
                    let naive: f64 = input[t + 1 - period..=t].iter().sum::<f64>() / period as f64;
                    assert!((v - naive).abs() < 1e-12, "period {period} t {t}: {v} vs {naive}");
                }
            }
        }
    }

    #[test]
    fn period_one_is_the_identity() {
        let input = [3.5, -1.25, 1e300, 7.0];
        assert_eq!(Sma::new(1).unwrap().batch(&input), input);
    }

    #[test]
    fn rejects_out_of_range_periods() {
        assert!(Sma::new(0).is_err());
        assert!(Sma::new(100_001).is_err());
    }
}
