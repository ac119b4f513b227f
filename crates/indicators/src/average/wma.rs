//! Weighted moving average (WMA).

use std::fmt;

use crate::error::{IndicatorError, check_period};
use crate::indicator::{Indicator, run};
use crate::window::{Cursor, WindowKernel, slots};

/// Linearly weighted moving average: the newest value weighs `period`, the oldest 1.
///
/// `WMA[t] = (period·x[t] + (period−1)·x[t−1] + … + 1·x[t−period+1]) / (period·(period+1)/2)`
///
/// - Parameters: `period` from 1 to 100,000 (spec `wma:period`, default `wma:20`).
/// - Lookback: `period − 1`.
/// - O(1) per value with TA-Lib's two running sums, rebuilt from the window every `8·period`
///   values as TA-Lib 0.8 does, so rounding residue never accumulates: TA-Lib's values bit for
///   bit.
///
/// ```
/// use finstage_indicators::Wma;
///
/// let out = Wma::new(3)?.batch(&[1.0, 2.0, 3.0, 4.0]);
/// assert_eq!(out[2], (1.0 + 2.0 * 2.0 + 3.0 * 3.0) / 6.0);
/// assert_eq!(out[3], (2.0 + 3.0 * 2.0 + 4.0 * 3.0) / 6.0);
/// # Ok::<(), finstage_indicators::IndicatorError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Wma {
    period: usize,
}

impl Wma {
    /// The period of `wma` without parameters.
    pub const DEFAULT_PERIOD: usize = 20;

    /// A WMA over `period` values.
    ///
    /// # Errors
    /// [`IndicatorError::InvalidParameter`] unless `1 <= period <= 100_000`.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        Ok(Self {
            period: check_period("wma", "period", period, 1)?,
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
    pub fn state(&self) -> WmaState {
        WmaState::new(self.period)
    }

    /// The WMA of every value of `input`: as long as `input`, NaN through the lookback.
    pub fn batch(&self, input: &[f64]) -> Vec<f64> {
        run(self.state(), input.iter().copied())
    }
}

impl Default for Wma {
    fn default() -> Self {
        Self {
            period: Self::DEFAULT_PERIOD,
        }
    }
}

impl fmt::Display for Wma {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "wma:{}", self.period)
    }
}

/// Streaming state of a [`Wma`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct WmaState {
    period: usize,
    core: WmaCore,
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    window: Box<[f64]>,
}

/// The running part of a [`WmaState`], apart from its window (see [`Cursor`]).
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct WmaCore {
    seen: usize,
    /// Sum of the values in the window.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    period_sub: f64,
    /// Weighted sum of the window.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    period_sum: f64,
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    trailing: f64,
    /// Outputs left before the sums are rebuilt from the window.
    countdown: usize,
    cursor: Cursor,
}

impl WmaState {
    const REBUILD_EVERY: usize = 8;

    pub(crate) fn new(period: usize) -> Self {
        Self {
            period,
            core: Self::fresh_core(period),
            window: slots(period),
        }
    }

    fn fresh_core(period: usize) -> WmaCore {
        WmaCore {
            seen: 0,
            period_sub: 0.0,
            period_sum: 0.0,
            trailing: 0.0,
            countdown: Self::REBUILD_EVERY * period,
            cursor: Cursor::default(),
        }
    }

    /// The plain and weighted sums of the window, from scratch. (It takes and returns values, not
    /// the core, so that the core never has to leave the registers for it.)
    #[cold]
    #[inline(never)]
    fn sums(cursor: Cursor, window: &[f64]) -> (f64, f64) {
        let (mut sub, mut sum) = (0.0, 0.0);
        for (weight, x) in (1..).zip(cursor.chronological(window)) {
            sub += x;
            sum += x * f64::from(weight);
        }
        (sub, sum)
    }
}

impl WindowKernel for WmaState {
    type Core = WmaCore;

    fn parts(&mut self) -> (&mut WmaCore, &mut [f64]) {
        (&mut self.core, &mut self.window)
    }

    #[inline(always)]
    fn advance(core: &mut WmaCore, window: &mut [f64], x: f64) -> Option<f64> {
        let period = window.len();
        if period == 1 {
            // TA-Lib copies the input: the running sums would leave rounding residue.
            return Some(x);
        }
        core.cursor.push(window, x);
        if core.seen + 1 < period {
            core.seen += 1;
            core.period_sub += x;
            core.period_sum += x * core.seen as f64;
            return None;
        }
        core.period_sub += x;
        core.period_sub -= core.trailing;
        core.period_sum += x * period as f64;
        core.countdown -= 1;
        if core.countdown == 0 {
            core.countdown = Self::REBUILD_EVERY * period;
            (core.period_sub, core.period_sum) = Self::sums(core.cursor, window);
        }
        core.trailing = core.cursor.oldest(window);
        let out = core.period_sum / (period as f64 * (period + 1) as f64 * 0.5);
        core.period_sum -= core.period_sub;
        Some(out)
    }
}

impl Indicator for WmaState {
    type Input = f64;
    type Output = f64;

    #[inline(always)]
    fn update(&mut self, x: f64) -> Option<f64> {
        Self::advance(&mut self.core, &mut self.window, x)
    }

    fn reset(&mut self) {
        // Keeps the window's buffer: a reset computation allocates nothing.
        self.core = Self::fresh_core(self.period);
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
    fn matches_the_naive_weighted_mean() {
        let input: Vec<f64> = (0..80).map(|i| 20.0 + (i as f64 * 1.3).sin() * 3.0).collect();
        for period in [1, 2, 3, 10, 30, 80] {
            let out = Wma::new(period).unwrap().batch(&input);
            let divider = (period * (period + 1) / 2) as f64;
            for t in 0..input.len() {
                if t + 1 < period {
                    assert!(out[t].is_nan());
                    continue;
                }
                let naive: f64 = (0..period).map(|j| input[t - j] * (period - j) as f64).sum::<f64>() / divider;
                assert!(
                    (out[t] - naive).abs() < 1e-10,
                    "period {period} t {t}: {} vs {naive}",
                    out[t]
                );
            }
        }
    }
}
