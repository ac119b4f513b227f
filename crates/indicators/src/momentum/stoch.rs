//! Stochastic oscillator (slow %K and %D).

use std::fmt;

use crate::average::sma::SmaState;
use crate::error::{IndicatorError, check_period};
use crate::indicator::{Indicator, multi_output, run};
use crate::input::Candle;
use crate::math::{clamp_percent, is_zero_scaled};
use crate::volatility::trange::hlc;
use crate::window::WindowKernel;
use crate::window::{MinMaxWindow, Scratch};

/// Slow stochastic oscillator, as TA-Lib's STOCH with simple moving averages.
///
/// `fast %K = 100·(close − lowest low) / (highest high − lowest low)` over `k_period` bars
/// (0 on a window flat to 14 significant digits); `%K = SMA(k_slowing)` of fast %K;
/// `%D = SMA(d_period)` of %K. The windowed extremes are kept in van Herk/Gil-Werman blocks,
/// amortised O(1) per bar.
///
/// - Parameters: `k_period`, `k_slowing`, `d_period`, each from 1 to 100,000
///   (spec `stoch:k_period:k_slowing:d_period`, default `stoch:14:3:3`; outputs `.k`, `.d`).
/// - Lookback: `(k_period − 1) + (k_slowing − 1) + (d_period − 1)` on both outputs (17 for
///   14, 3, 3). Range: [0, 100] (values clamped against rounding residue of the running sums).
///
/// ```
/// use finstage_indicators::Stoch;
///
/// let high = [10.0, 11.0, 12.0, 12.0];
/// let low = [9.0, 10.0, 10.0, 11.0];
/// let close = [9.5, 11.0, 10.0, 12.0];
/// let out = Stoch::new(2, 1, 1)?.batch(&high, &low, &close)?;
/// assert!(out.k[0].is_nan());
/// assert_eq!(out.k[1], 100.0); // close at the window's high
/// assert_eq!(out.k[3], 100.0 * (12.0 - 10.0) / (12.0 - 10.0));
/// # Ok::<(), finstage_indicators::IndicatorError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Stoch {
    k_period: usize,
    k_slowing: usize,
    d_period: usize,
}

impl Stoch {
    /// The periods of `stoch` without parameters: 14, 3, 3.
    pub const DEFAULT_PERIODS: (usize, usize, usize) = (14, 3, 3);

    /// A slow stochastic with the given periods.
    ///
    /// # Errors
    /// [`IndicatorError::InvalidParameter`] unless every period is within 1 to 100,000.
    pub fn new(k_period: usize, k_slowing: usize, d_period: usize) -> Result<Self, IndicatorError> {
        Ok(Self {
            k_period: check_period("stoch", "k period", k_period, 1)?,
            k_slowing: check_period("stoch", "k slowing", k_slowing, 1)?,
            d_period: check_period("stoch", "d period", d_period, 1)?,
        })
    }

    /// Bars in the high/low window.
    pub fn k_period(&self) -> usize {
        self.k_period
    }

    /// Period of the SMA that turns fast %K into %K.
    pub fn k_slowing(&self) -> usize {
        self.k_slowing
    }

    /// Period of the SMA that turns %K into %D.
    pub fn d_period(&self) -> usize {
        self.d_period
    }

    /// Inputs before the first output.
    pub fn lookback(&self) -> usize {
        self.k_period + self.k_slowing + self.d_period - 3
    }

    /// A fresh streaming state.
    pub fn state(&self) -> StochState {
        StochState {
            window: MinMaxWindow::new(self.k_period),
            slow_k: SmaState::new(self.k_slowing),
            slow_d: SmaState::new(self.d_period),
            lookback: self.lookback(),
        }
    }

    /// %K and %D at every bar: columns as long as the input, NaN through the lookback.
    ///
    /// # Errors
    /// [`IndicatorError::LengthMismatch`] when the series differ in length.
    pub fn batch(&self, high: &[f64], low: &[f64], close: &[f64]) -> Result<StochSeries, IndicatorError> {
        Ok(run(self.state(), hlc(high, low, close)?))
    }
}

impl Default for Stoch {
    fn default() -> Self {
        let (k_period, k_slowing, d_period) = Self::DEFAULT_PERIODS;
        Self {
            k_period,
            k_slowing,
            d_period,
        }
    }
}

impl fmt::Display for Stoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stoch:{}:{}:{}", self.k_period, self.k_slowing, self.d_period)
    }
}

/// Rows per chunk of the batch loop: the chunk's columns stay in the cache, and its working
/// memory stays small enough that the allocator does not hand it back to the kernel after every
/// call (chunks of 4,096 rows made `Stoch::batch` over 2,520 bars three times slower, in page
/// faults).
const CHUNK: usize = 512;

multi_output!(
    /// One row of a stochastic oscillator.
    StochOutput,
    /// A stochastic oscillator over a series, one column per line.
    StochSeries,
    {
        /// %K.
        k,
        /// %D, the moving average of %K.
        d,
    }
);

/// Fast %K of `value` within `[lowest, highest]`: TA-Lib's STOCHF formula and flat-window guard.
#[inline(always)]
pub(crate) fn fast_k(value: f64, highest: f64, lowest: f64) -> f64 {
    let range = highest - lowest;
    if is_zero_scaled(range, highest.abs() + lowest.abs()) {
        0.0
    } else {
        ((value - lowest) / range) * 100.0
    }
}

/// Streaming state of a [`Stoch`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct StochState {
    window: MinMaxWindow,
    slow_k: SmaState,
    slow_d: SmaState,
    lookback: usize,
}

impl Indicator for StochState {
    type Input = Candle;
    type Output = StochOutput;

    #[inline(always)]
    fn update(&mut self, bar: Candle) -> Option<StochOutput> {
        let (highest, lowest) = self.window.step(bar.high, bar.low)?;
        let k = self.slow_k.update(fast_k(bar.close, highest, lowest))?;
        let d = self.slow_d.update(k)?;
        Some(StochOutput {
            k: clamp_percent(k),
            d: clamp_percent(d),
        })
    }

    fn reset(&mut self) {
        self.window.reset();
        self.slow_k.reset();
        self.slow_d.reset();
    }

    fn lookback(&self) -> usize {
        self.lookback
    }

    fn extend<I: IntoIterator<Item = Candle>>(&mut self, inputs: I, out: &mut StochSeries) {
        // In chunks, so that the columns of a chunk stay in the cache.
        let mut inputs = inputs.into_iter().peekable();
        let (mut high, mut low, mut close) = (Vec::new(), Vec::new(), Vec::new());
        let mut scratch = Scratch::default();
        while inputs.peek().is_some() {
            high.clear();
            low.clear();
            close.clear();
            for bar in inputs.by_ref().take(CHUNK) {
                high.push(bar.high);
                low.push(bar.low);
                close.push(bar.close);
            }
            let start = out.k.len();
            out.k.resize(start + close.len(), f64::NAN);
            out.d.resize(start + close.len(), f64::NAN);
            self.run(
                &mut scratch,
                &high,
                &low,
                &close,
                &mut out.k[start..],
                &mut out.d[start..],
            );
        }
    }
}

impl StochState {
    /// The batch loop, column by column: the window's extremes (block algorithm), fast %K, then
    /// each SMA over exactly the rows the streaming state would feed it, so the values are
    /// `update`'s.
    fn run(&mut self, scratch: &mut Scratch, high: &[f64], low: &[f64], close: &[f64], k: &mut [f64], d: &mut [f64]) {
        let n = close.len();
        // (Fresh columns per chunk measured faster than columns kept from chunk to chunk.)
        let (mut highest, mut lowest) = (vec![0.0; n], vec![0.0; n]);
        let warm = self.window.warming().min(n);
        self.window.run(scratch, high, low, &mut highest, &mut lowest);
        for row in warm..n {
            k[row] = fast_k(close[row], highest[row], lowest[row]);
        }
        let feeds_d = warm + self.slow_k.warming().min(n - warm);
        self.slow_k.run_in_place(&mut k[warm..]);
        d[feeds_d..].copy_from_slice(&k[feeds_d..]);
        let ready = feeds_d + self.slow_d.warming().min(n - feeds_d);
        self.slow_d.run_in_place(&mut d[feeds_d..]);
        k[..ready].fill(f64::NAN);
        d[..ready].fill(f64::NAN);
        for (k, d) in k[ready..].iter_mut().zip(&mut d[ready..]) {
            *k = clamp_percent(*k);
            *d = clamp_percent(*d);
        }
    }
}
