//! Stochastic RSI (StochRSI).

use std::fmt;

use crate::average::sma::SmaState;
use crate::error::{IndicatorError, check_period};
use crate::indicator::{Indicator, run};
use crate::math::clamp_percent;
use crate::momentum::rsi::RsiState;
use crate::momentum::stoch::{StochOutput, StochSeries, fast_k};
use crate::window::MinMaxWindow;

/// Stochastic RSI, as TA-Lib's STOCHRSI: a fast stochastic of the [RSI](crate::Rsi).
///
/// `%K = 100·(RSI − min RSI) / (max RSI − min RSI)` over `k_period` RSI values (0 on a flat
/// window); `%D = SMA(d_period)` of %K.
///
/// - Parameters: `rsi_period`, `k_period`, `d_period`, each from 1 to 100,000
///   (spec `stochrsi:rsi_period:k_period:d_period`, default `stochrsi:14:14:3`; outputs `.k`, `.d`).
/// - Lookback: `rsi_period + (k_period − 1) + (d_period − 1)` on both outputs. Range: [0, 100].
///
/// ```
/// use finstage_indicators::StochRsi;
///
/// let s = StochRsi::new(14, 14, 3)?;
/// assert_eq!(s.lookback(), 29);
/// let input: Vec<f64> = (0..60).map(|i| 100.0 + (i as f64 * 0.5).sin() * 3.0).collect();
/// let out = s.batch(&input);
/// assert!(out.k[28].is_nan());
/// assert!((0.0..=100.0).contains(&out.k[29]));
/// # Ok::<(), finstage_indicators::IndicatorError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StochRsi {
    rsi_period: usize,
    k_period: usize,
    d_period: usize,
}

impl StochRsi {
    /// The periods of `stochrsi` without parameters: 14, 14, 3.
    pub const DEFAULT_PERIODS: (usize, usize, usize) = (14, 14, 3);

    /// A stochastic RSI with the given periods.
    ///
    /// # Errors
    /// [`IndicatorError::InvalidParameter`] unless every period is within 1 to 100,000.
    pub fn new(rsi_period: usize, k_period: usize, d_period: usize) -> Result<Self, IndicatorError> {
        Ok(Self {
            rsi_period: check_period("stochrsi", "rsi period", rsi_period, 1)?,
            k_period: check_period("stochrsi", "k period", k_period, 1)?,
            d_period: check_period("stochrsi", "d period", d_period, 1)?,
        })
    }

    /// Period of the RSI.
    pub fn rsi_period(&self) -> usize {
        self.rsi_period
    }

    /// RSI values in the min/max window.
    pub fn k_period(&self) -> usize {
        self.k_period
    }

    /// Period of the SMA that turns %K into %D.
    pub fn d_period(&self) -> usize {
        self.d_period
    }

    /// Inputs before the first output.
    pub fn lookback(&self) -> usize {
        self.rsi_period + self.k_period + self.d_period - 2
    }

    /// A fresh streaming state.
    pub fn state(&self) -> StochRsiState {
        StochRsiState {
            rsi: RsiState::new(self.rsi_period),
            window: MinMaxWindow::new(self.k_period),
            d: SmaState::new(self.d_period),
            lookback: self.lookback(),
        }
    }

    /// %K and %D at every value of `input`: columns as long as `input`, NaN through the lookback.
    pub fn batch(&self, input: &[f64]) -> StochSeries {
        run(self.state(), input.iter().copied())
    }
}

impl Default for StochRsi {
    fn default() -> Self {
        let (rsi_period, k_period, d_period) = Self::DEFAULT_PERIODS;
        Self {
            rsi_period,
            k_period,
            d_period,
        }
    }
}

impl fmt::Display for StochRsi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stochrsi:{}:{}:{}", self.rsi_period, self.k_period, self.d_period)
    }
}

/// Streaming state of a [`StochRsi`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct StochRsiState {
    rsi: RsiState,
    window: MinMaxWindow,
    d: SmaState,
    lookback: usize,
}

impl Indicator for StochRsiState {
    type Input = f64;
    type Output = StochOutput;

    #[inline(always)]
    fn update(&mut self, x: f64) -> Option<StochOutput> {
        let rsi = self.rsi.update(x)?;
        let (highest, lowest) = self.window.step(rsi, rsi)?;
        let k = fast_k(rsi, highest, lowest);
        let d = self.d.update(k)?;
        Some(StochOutput {
            k: clamp_percent(k),
            d: clamp_percent(d),
        })
    }

    fn reset(&mut self) {
        self.rsi.reset();
        self.window.reset();
        self.d.reset();
    }

    fn lookback(&self) -> usize {
        self.lookback
    }
}
