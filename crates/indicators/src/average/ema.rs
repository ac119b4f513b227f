//! Exponential moving average (EMA).

use std::fmt;

use crate::error::{IndicatorError, check_period};
use crate::indicator::{Indicator, run};

/// Exponential moving average with smoothing `k = 2 / (period + 1)`.
///
/// `EMA[t] = k·x[t] + (1 − k)·EMA[t−1]`, seeded as TA-Lib seeds it: the first value, at
/// `t = period − 1`, is the simple mean of the first `period` inputs.
///
/// - Parameters: `period` from 1 to 100,000 (spec `ema:period`, default `ema:20`).
/// - Lookback: `period − 1`.
/// - TA-Lib writes the recursion `(x − EMA)·k + EMA`; the algebraically equal form above has one
///   dependent operation fewer per value, and differs from TA-Lib's by a few units in the last
///   place (the recursion is contractive, so the difference never grows).
///
/// ```
/// use finstage_indicators::Ema;
///
/// let ema = Ema::new(3)?; // k = 0.5
/// let out = ema.batch(&[1.0, 2.0, 3.0, 5.0]);
/// assert!(out[1].is_nan());
/// assert_eq!(out[2], 2.0); // seed: mean of 1, 2, 3
/// assert_eq!(out[3], 3.5); // 0.5·5 + 0.5·2
/// # Ok::<(), finstage_indicators::IndicatorError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ema {
    period: usize,
}

impl Ema {
    /// The period of `ema` without parameters.
    pub const DEFAULT_PERIOD: usize = 20;

    /// An EMA over `period` values.
    ///
    /// # Errors
    /// [`IndicatorError::InvalidParameter`] unless `1 <= period <= 100_000`.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        Ok(Self {
            period: check_period("ema", "period", period, 1)?,
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
    pub fn state(&self) -> EmaState {
        EmaState::new(self.period)
    }

    /// The EMA of every value of `input`: as long as `input`, NaN through the lookback.
    pub fn batch(&self, input: &[f64]) -> Vec<f64> {
        run(self.state(), input.iter().copied())
    }
}

impl Default for Ema {
    fn default() -> Self {
        Self {
            period: Self::DEFAULT_PERIOD,
        }
    }
}

impl fmt::Display for Ema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ema:{}", self.period)
    }
}

/// Streaming state of an [`Ema`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct EmaState {
    period: usize,
    /// `−k`: see [`EmaState::update`].
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    minus_k: f64,
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    decay: f64,
    seen: usize,
    /// The running sum while seeding, then the EMA.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    value: f64,
}

impl EmaState {
    pub(crate) fn new(period: usize) -> Self {
        let k = 2.0 / (period as f64 + 1.0);
        Self {
            period,
            minus_k: -k,
            decay: 1.0 - k,
            seen: 0,
            value: 0.0,
        }
    }
}

/// `decay·v + k·x`, given `−k·x`: the same bits as the sum, written as a difference.
#[inline(always)]
pub(crate) fn step(value: f64, decay: f64, minus_kx: f64) -> f64 {
    value * decay - minus_kx
}

impl EmaState {
    /// The period.
    #[inline(always)]
    pub(crate) fn period(&self) -> usize {
        self.period
    }

    /// Whether the seed is done and `update` runs the recursion.
    #[inline(always)]
    pub(crate) fn is_seeded(&self) -> bool {
        self.seen >= self.period && self.period > 1
    }

    /// `(decay, −k)`, the coefficients of [`step`].
    #[inline(always)]
    pub(crate) fn coefficients(&self) -> (f64, f64) {
        (self.decay, self.minus_k)
    }

    /// The current EMA (once seeded).
    #[inline(always)]
    pub(crate) fn value(&self) -> f64 {
        self.value
    }

    /// Continues from `value` (the recursion run outside, with [`step`]).
    #[inline(always)]
    pub(crate) fn set_value(&mut self, value: f64) {
        self.value = value;
    }

    /// Replaces every value of `values` by its EMA, NaN while warming up: the batch loop.
    ///
    /// Once seeded it runs in two passes: the products `−k·x` first (independent, vectorised),
    /// then the recursion, which is left with one multiply and one subtraction per value. (In
    /// one pass the optimiser packs the two products of each step into one vector multiply and
    /// puts the shuffles around it on the chain from one value to the next, which costs half as
    /// much again.) The arithmetic is `update`'s, so the values are the same bits.
    #[inline(never)]
    pub(crate) fn run_in_place(&mut self, values: &mut [f64]) {
        let mut start = 0;
        while self.seen < self.period && start < values.len() {
            values[start] = self.update(values[start]).unwrap_or(f64::NAN);
            start += 1;
        }
        let rest = &mut values[start..];
        if self.period == 1 {
            // TA-Lib copies the input: the values are already in place.
            if let Some(&last) = rest.last() {
                self.value = last;
            }
            return;
        }
        for x in rest.iter_mut() {
            *x *= self.minus_k;
        }
        self.recur(rest);
    }

    /// The seeded recursion over products `−k·x`, replacing each by its EMA.
    #[inline(never)]
    fn recur(&mut self, minus_kx: &mut [f64]) {
        let (decay, mut value) = (self.decay, self.value);
        for slot in minus_kx {
            value = step(value, decay, *slot);
            *slot = value;
        }
        self.value = value;
    }
}

impl Indicator for EmaState {
    type Input = f64;
    type Output = f64;

    #[inline(always)]
    fn update(&mut self, x: f64) -> Option<f64> {
        // Computed before the branch, in a block of its own (see `step`).
        let minus_kx = self.minus_k * x;
        if self.seen >= self.period {
            // TA-Lib copies the input for period 1.
            self.value = if self.period == 1 {
                x
            } else {
                step(self.value, self.decay, minus_kx)
            };
            return Some(self.value);
        }
        self.value += x;
        self.seen += 1;
        if self.seen < self.period {
            return None;
        }
        self.value = if self.period == 1 {
            x
        } else {
            self.value / self.period as f64
        };
        Some(self.value)
    }

    fn reset(&mut self) {
        *self = Self::new(self.period);
    }

    fn lookback(&self) -> usize {
        self.period - 1
    }

    fn extend<I: IntoIterator<Item = f64>>(&mut self, inputs: I, out: &mut Vec<f64>) {
        let mut inputs = inputs.into_iter();
        while self.seen < self.period || self.period == 1 {
            let Some(x) = inputs.next() else { return };
            out.push(self.update(x).unwrap_or(f64::NAN));
        }
        // Seeded: the products first, then the recursion (see `run_in_place`).
        let start = out.len();
        let minus_k = self.minus_k;
        out.extend(inputs.map(|x| x * minus_k));
        self.recur(&mut out[start..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_recursion_from_the_sma_seed() {
        let input: Vec<f64> = (0..60).map(|i| 100.0 + (i as f64 * 0.7).cos() * 5.0).collect();
        for period in [1, 2, 5, 12, 26, 60] {
            let out = Ema::new(period).unwrap().batch(&input);
            let k = 2.0 / (period as f64 + 1.0);
            let mut expected = input[..period].iter().sum::<f64>() / period as f64;
            assert!(out[..period - 1].iter().all(|v| v.is_nan()));
            assert_eq!(out[period - 1], expected);
            for t in period..input.len() {
                expected = (input[t] - expected) * k + expected;
                assert!((out[t] - expected).abs() < 1e-12, "period {period} t {t}");
            }
        }
    }

    #[test]
    fn period_one_is_the_identity() {
        let input = [3.5, -1.25, 7.0, 0.0];
        assert_eq!(Ema::new(1).unwrap().batch(&input), input);
    }
}
