//! Bollinger Bands (BBANDS).

use std::fmt;
use std::hash::{Hash, Hasher};

use crate::average::sma::SmaState;
use crate::error::{IndicatorError, check_period};
use crate::indicator::{Indicator, multi_output, run};
use crate::volatility::stddev::Variance;
use crate::window::WindowKernel;

/// Bollinger Bands: the [SMA](crate::Sma) of the last `period` values, and bands `k` population
/// standard deviations above and below it.
///
/// `middle = SMA(period)`, `upper = middle + k·σ`, `lower = middle − k·σ`, with σ computed as
/// [`StdDev`](crate::StdDev) computes it: TA-Lib's BBANDS with `nbdevup = nbdevdn = k` and a
/// simple moving average, bit for bit.
///
/// - Parameters: `period` from 1 to 100,000 and `k`, a finite number in (0, 1000]
///   (spec `bbands:period:k`, default `bbands:20:2`; outputs `.upper`, `.middle`, `.lower`).
/// - Lookback: `period − 1` on all three outputs.
///
/// ```
/// use finstage_indicators::BBands;
///
/// let bands = BBands::new(4, 2.0)?.batch(&[2.0, 4.0, 4.0, 6.0]);
/// assert_eq!(bands.middle[3], 4.0);
/// assert_eq!(bands.upper[3], 4.0 + 2.0 * 2.0f64.sqrt());
/// assert_eq!(bands.lower[3], 4.0 - 2.0 * 2.0f64.sqrt());
/// # Ok::<(), finstage_indicators::IndicatorError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BBands {
    period: usize,
    k: f64,
}

impl BBands {
    /// The period of `bbands` without parameters.
    pub const DEFAULT_PERIOD: usize = 20;
    /// The band width, in standard deviations, of `bbands` without parameters.
    pub const DEFAULT_K: f64 = 2.0;
    /// The widest band accepted, in standard deviations.
    pub const MAX_K: f64 = 1000.0;

    /// Bands `k` standard deviations around an SMA over `period` values.
    ///
    /// # Errors
    /// [`IndicatorError::InvalidParameter`] unless `1 <= period <= 100_000` and `0 < k <= 1000`.
    pub fn new(period: usize, k: f64) -> Result<Self, IndicatorError> {
        let period = check_period("bbands", "period", period, 1)?;
        if !(k > 0.0 && k <= Self::MAX_K) {
            return Err(IndicatorError::InvalidParameter {
                indicator: "bbands",
                parameter: "k",
                value: k.to_string(),
                expected: "a number of standard deviations greater than 0 and at most 1000".into(),
            });
        }
        Ok(Self { period, k })
    }

    /// The period.
    pub fn period(&self) -> usize {
        self.period
    }

    /// The band width in standard deviations.
    pub fn k(&self) -> f64 {
        self.k
    }

    /// Inputs before the first output: `period − 1`.
    pub fn lookback(&self) -> usize {
        self.period - 1
    }

    /// A fresh streaming state.
    pub fn state(&self) -> BBandsState {
        BBandsState {
            k: self.k,
            mean: SmaState::new(self.period),
            variance: Variance::new(self.period),
        }
    }

    /// The bands at every value of `input`: columns as long as `input`, NaN through the lookback.
    pub fn batch(&self, input: &[f64]) -> BBandsSeries {
        run(self.state(), input.iter().copied())
    }
}

impl Default for BBands {
    fn default() -> Self {
        Self {
            period: Self::DEFAULT_PERIOD,
            k: Self::DEFAULT_K,
        }
    }
}

impl Eq for BBands {}

impl Hash for BBands {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.period.hash(state);
        self.k.to_bits().hash(state);
    }
}

impl fmt::Display for BBands {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bbands:{}:{}", self.period, self.k)
    }
}

multi_output!(
    /// One row of Bollinger Bands.
    BBandsOutput,
    /// Bollinger Bands over a series, one column per band.
    BBandsSeries,
    {
        /// `middle + k·σ`.
        upper,
        /// The simple moving average.
        middle,
        /// `middle − k·σ`.
        lower,
    }
);

/// The standard deviation of a window variance, as BBANDS takes it (`-0.0` becomes `0.0`).
#[inline(always)]
pub(crate) fn sigma(variance: f64) -> f64 {
    if variance != 0.0 { variance.sqrt() } else { 0.0 }
}

/// The bands around `middle` for a standard deviation `sigma`, in TA-Lib's order.
#[inline(always)]
pub(crate) fn bands(middle: f64, sigma: f64, k: f64) -> (f64, f64) {
    let width = sigma * k;
    (middle + width, middle - width)
}

/// Streaming state of [`BBands`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct BBandsState {
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    k: f64,
    mean: SmaState,
    variance: Variance,
}

impl BBandsState {
    /// The batch loop, given the inputs in `middle`: both windowed kernels in one loop, their
    /// running sums in registers and their chains of dependent operations side by side. The
    /// steps are `update`'s, so the values are the same bits.
    #[inline(never)]
    fn run(&mut self, upper: &mut [f64], middle: &mut [f64], lower: &mut [f64]) {
        let k = self.k;
        let (mean_core, mean_window) = self.mean.parts();
        let (variance_core, variance_window) = self.variance.parts();
        let (mut mean_local, mut variance_local) = (*mean_core, *variance_core);
        for ((upper, middle), lower) in upper.iter_mut().zip(middle.iter_mut()).zip(lower.iter_mut()) {
            let x = *middle;
            let mean = SmaState::advance(&mut mean_local, mean_window, x);
            let variance = Variance::advance(&mut variance_local, variance_window, x);
            (*upper, *middle, *lower) = match (mean, variance) {
                (Some(mean), Some(variance)) => {
                    let (up, down) = bands(mean, sigma(variance), k);
                    (up, mean, down)
                }
                _ => (f64::NAN, f64::NAN, f64::NAN),
            };
        }
        (*mean_core, *variance_core) = (mean_local, variance_local);
    }
}

impl Indicator for BBandsState {
    type Input = f64;
    type Output = BBandsOutput;

    #[inline(always)]
    fn update(&mut self, x: f64) -> Option<BBandsOutput> {
        let middle = self.mean.update(x);
        let variance = self.variance.update(x)?;
        let middle = middle?;
        let (upper, lower) = bands(middle, sigma(variance), self.k);
        Some(BBandsOutput { upper, middle, lower })
    }

    fn reset(&mut self) {
        self.mean.reset();
        self.variance.reset();
    }

    fn lookback(&self) -> usize {
        self.mean.lookback()
    }

    fn extend<I: IntoIterator<Item = f64>>(&mut self, inputs: I, out: &mut BBandsSeries) {
        let start = out.middle.len();
        out.middle.extend(inputs);
        let end = out.middle.len();
        out.upper.resize(end, f64::NAN);
        out.lower.resize(end, f64::NAN);
        self.run(
            &mut out.upper[start..],
            &mut out.middle[start..],
            &mut out.lower[start..],
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_widths() {
        for k in [0.0, -1.0, f64::NAN, f64::INFINITY, 1000.5] {
            assert!(BBands::new(20, k).is_err(), "{k}");
        }
        assert!(BBands::new(20, 1000.0).is_ok());
    }

    #[test]
    fn displays_whole_and_fractional_widths() {
        assert_eq!(BBands::new(20, 2.0).unwrap().to_string(), "bbands:20:2");
        assert_eq!(BBands::new(10, 1.5).unwrap().to_string(), "bbands:10:1.5");
    }
}
