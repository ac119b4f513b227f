//! Standard deviation (STDDEV), and the windowed variance it shares with Bollinger Bands.

use std::fmt;

use crate::error::{IndicatorError, check_period};
use crate::indicator::{Indicator, run};
use crate::window::{Cursor, WindowKernel, slots};

/// Population standard deviation of the last `period` values.
///
/// `STDDEV[t] = sqrt(mean(x²) − mean(x)²)` over the window, computed as TA-Lib 0.8 computes it:
/// running sums of the deviations from a shift (a recent mean of the window), rebuilt from the
/// window every `32·period` values, or sooner when cancellation threatens (the variance falls
/// under 1e-6 of the mean square, or a value leaving the window is over 1e6 times the remaining
/// sum of squares); a rebuilt variance under 1e-12 of the mean square is exactly 0, so a constant
/// window gives 0.
///
/// - Parameters: `period` from 1 to 100,000 (spec `stddev:period`, default `stddev:20`).
/// - Lookback: `period − 1`.
/// - Equal to TA-Lib's STDDEV (nbdev 1) bit for bit.
///
/// ```
/// use finstage_indicators::StdDev;
///
/// let out = StdDev::new(4)?.batch(&[2.0, 4.0, 4.0, 6.0]);
/// assert_eq!(out[3], 2.0f64.sqrt());
/// # Ok::<(), finstage_indicators::IndicatorError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StdDev {
    period: usize,
}

impl StdDev {
    /// The period of `stddev` without parameters.
    pub const DEFAULT_PERIOD: usize = 20;

    /// A standard deviation over `period` values.
    ///
    /// # Errors
    /// [`IndicatorError::InvalidParameter`] unless `1 <= period <= 100_000`.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        Ok(Self {
            period: check_period("stddev", "period", period, 1)?,
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
    pub fn state(&self) -> StdDevState {
        StdDevState {
            variance: Variance::new(self.period),
        }
    }

    /// The standard deviation at every value of `input`: as long as `input`, NaN through the
    /// lookback.
    pub fn batch(&self, input: &[f64]) -> Vec<f64> {
        run(self.state(), input.iter().copied())
    }
}

impl Default for StdDev {
    fn default() -> Self {
        Self {
            period: Self::DEFAULT_PERIOD,
        }
    }
}

impl fmt::Display for StdDev {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stddev:{}", self.period)
    }
}

/// Streaming state of a [`StdDev`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct StdDevState {
    variance: Variance,
}

impl Indicator for StdDevState {
    type Input = f64;
    type Output = f64;

    #[inline(always)]
    fn update(&mut self, x: f64) -> Option<f64> {
        Some(self.variance.update(x)?.sqrt())
    }

    fn reset(&mut self) {
        self.variance.reset();
    }

    fn lookback(&self) -> usize {
        self.variance.period - 1
    }

    fn extend<I: IntoIterator<Item = f64>>(&mut self, inputs: I, out: &mut Vec<f64>) {
        let start = out.len();
        out.extend(inputs);
        let values = &mut out[start..];
        self.variance.run_in_place(values);
        for value in values {
            *value = value.sqrt();
        }
    }
}

/// The population variance of a window, from running sums of deviations from a shift, rebuilt
/// when cancellation threatens: TA-Lib 0.8's VAR.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct Variance {
    period: usize,
    core: VarianceCore,
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    window: Box<[f64]>,
}

/// The running part of a [`Variance`], apart from its window (see [`Cursor`]).
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct VarianceCore {
    /// The value deviations are taken from: the first value, then the mean at the last rebuild.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    shift: Option<f64>,
    /// Sum of deviations from the shift over the window.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    sum: f64,
    /// Sum of squared deviations from the shift over the window.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    squares: f64,
    /// Outputs left before the next scheduled rebuild.
    countdown: usize,
    cursor: Cursor,
}

/// What [`Variance::rebuild`] recomputes.
struct Rebuilt {
    shift: f64,
    sum: f64,
    squares: f64,
    variance: f64,
}

impl Variance {
    const REBUILD_EVERY: usize = 32;

    pub(crate) fn new(period: usize) -> Self {
        Self {
            period,
            core: Self::fresh_core(period),
            window: slots(period),
        }
    }

    fn fresh_core(period: usize) -> VarianceCore {
        VarianceCore {
            shift: None,
            sum: 0.0,
            squares: 0.0,
            countdown: Self::REBUILD_EVERY * period,
            cursor: Cursor::default(),
        }
    }

    /// Adds `x`; once the window is full, returns its population variance.
    #[inline(always)]
    pub(crate) fn update(&mut self, x: f64) -> Option<f64> {
        Self::advance(&mut self.core, &mut self.window, x)
    }

    pub(crate) fn reset(&mut self) {
        // Keeps the window's buffer: a reset computation allocates nothing.
        self.core = Self::fresh_core(self.period);
        self.window.fill(0.0);
    }

    /// Recomputes the sums around the window's mean. (It takes and returns values, not the core,
    /// so that the core never has to leave the registers for it.)
    #[cold]
    #[inline(never)]
    fn rebuild(period: usize, cursor: Cursor, window: &[f64]) -> Rebuilt {
        let inverse = 1.0 / period as f64;
        let total = cursor.chronological(window).fold(0.0, |total, x| total + x);
        let shift = total * inverse;
        let (mut sum, mut squares) = (0.0, 0.0);
        for x in cursor.chronological(window) {
            let d = x - shift;
            sum += d;
            squares += d * d;
        }
        let mean = sum * inverse;
        let mut variance = squares * inverse - mean * mean;
        if variance < 0.000_000_000_001 * (squares * inverse) {
            variance = 0.0;
        }
        let d = cursor.oldest(window) - shift;
        sum -= d;
        squares -= d * d;
        Rebuilt {
            shift,
            sum,
            squares,
            variance,
        }
    }
}

impl WindowKernel for Variance {
    type Core = VarianceCore;

    fn parts(&mut self) -> (&mut VarianceCore, &mut [f64]) {
        (&mut self.core, &mut self.window)
    }

    #[inline(always)]
    fn advance(core: &mut VarianceCore, window: &mut [f64], x: f64) -> Option<f64> {
        let period = window.len();
        let inverse = 1.0 / period as f64;
        let shift = *core.shift.get_or_insert(x);
        let d = x - shift;
        core.sum += d;
        core.squares += d * d;
        core.cursor.push(window, x);
        if !core.cursor.is_full(window) {
            return None;
        }
        let mean = core.sum * inverse;
        let variance = core.squares * inverse - mean * mean;
        let d = core.cursor.oldest(window) - shift;
        core.sum -= d;
        let leaving = d * d;
        core.squares -= leaving;
        core.countdown -= 1;
        if variance < 0.000_001 * (core.squares * inverse)
            || leaving > 1_000_000.0 * core.squares
            || core.countdown == 0
        {
            let rebuilt = Self::rebuild(period, core.cursor, window);
            core.countdown = Self::REBUILD_EVERY * period;
            core.shift = Some(rebuilt.shift);
            core.sum = rebuilt.sum;
            core.squares = rebuilt.squares;
            return Some(rebuilt.variance);
        }
        Some(variance)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_naive_population_deviation() {
        let input: Vec<f64> = (0..90)
            .map(|i| 50.0 + (i as f64 * 0.9).sin() * 4.0 + (i % 7) as f64)
            .collect();
        for period in [2, 3, 5, 20, 90] {
            let out = StdDev::new(period).unwrap().batch(&input);
            for t in period - 1..input.len() {
                let w = &input[t + 1 - period..=t];
                let mean = w.iter().sum::<f64>() / period as f64;
                let var = w.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / period as f64;
                assert!((out[t] - var.sqrt()).abs() < 1e-9, "period {period} t {t}");
            }
        }
    }

    #[test]
    fn constant_input_has_zero_deviation() {
        // The rebuild that cancellation triggers makes a constant window exactly 0.
        let out = StdDev::new(5).unwrap().batch(&[101.37; 30]);
        assert!(out[4..].iter().all(|v| *v == 0.0));
        assert_eq!(StdDev::new(1).unwrap().batch(&[1.0, 5.0]), [0.0, 0.0]);
    }
}
