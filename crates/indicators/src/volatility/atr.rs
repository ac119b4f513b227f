//! Average true range (ATR), and the Wilder smoothing it shares with others.

use std::fmt;

use crate::error::{IndicatorError, check_period};
use crate::indicator::{Indicator, run};
use crate::input::Candle;
use crate::volatility::trange::{TRangeState, hlc};

/// Average true range: Wilder's smoothing of the [true range](crate::TRange).
///
/// `ATR[period] = mean(TR[1..=period])`, then `ATR[t] = (ATR[t−1]·(period−1) + TR[t]) / period`.
///
/// - Parameters: `period` from 1 to 100,000 (spec `atr:period`, default `atr:14`); period 1 is
///   the true range itself.
/// - Lookback: `period`, seeded as TA-Lib seeds it (the mean true range of bars 1 to `period`).
/// - The smoothing is evaluated as `ATR·((period−1)/period) + TR·(1/period)`, which has one
///   dependent operation where TA-Lib's form has three; values differ from TA-Lib's by units in
///   the last place.
///
/// ```
/// use finstage_indicators::Atr;
///
/// let high = [10.0, 11.0, 12.0, 13.0];
/// let low = [9.0, 10.0, 11.0, 11.0];
/// let close = [9.5, 10.5, 11.5, 12.0];
/// let out = Atr::new(2)?.batch(&high, &low, &close)?;
/// assert!(out[1].is_nan());
/// assert_eq!(out[2], 1.5); // mean of TR 1.5 and 1.5
/// assert_eq!(out[3], 1.75); // (1.5 + 2.0) / 2
/// # Ok::<(), finstage_indicators::IndicatorError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Atr {
    period: usize,
}

impl Atr {
    /// The period of `atr` without parameters.
    pub const DEFAULT_PERIOD: usize = 14;

    /// An ATR over `period` bars.
    ///
    /// # Errors
    /// [`IndicatorError::InvalidParameter`] unless `1 <= period <= 100_000`.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        Ok(Self {
            period: check_period("atr", "period", period, 1)?,
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
    pub fn state(&self) -> AtrState {
        AtrState::new(self.period)
    }

    /// The ATR of every bar: as long as the input, NaN through the lookback.
    ///
    /// # Errors
    /// [`IndicatorError::LengthMismatch`] when the series differ in length.
    pub fn batch(&self, high: &[f64], low: &[f64], close: &[f64]) -> Result<Vec<f64>, IndicatorError> {
        Ok(run(self.state(), hlc(high, low, close)?))
    }
}

impl Default for Atr {
    fn default() -> Self {
        Self {
            period: Self::DEFAULT_PERIOD,
        }
    }
}

impl fmt::Display for Atr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "atr:{}", self.period)
    }
}

/// Streaming state of an [`Atr`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AtrState {
    range: TRangeState,
    smooth: Wilder,
}

impl AtrState {
    pub(crate) fn new(period: usize) -> Self {
        Self {
            range: TRangeState::default(),
            smooth: Wilder::new(period),
        }
    }
}

impl Indicator for AtrState {
    type Input = Candle;
    type Output = f64;

    #[inline(always)]
    fn update(&mut self, bar: Candle) -> Option<f64> {
        let tr = self.range.update(bar)?;
        self.smooth.update(tr)
    }

    fn reset(&mut self) {
        self.range.reset();
        self.smooth.reset();
    }

    fn lookback(&self) -> usize {
        self.smooth.period
    }
}

/// Wilder's smoothing, seeded with the simple mean of the first `period` values.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct Wilder {
    period: usize,
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    keep: f64,
    /// `−(1 − keep)`: see [`EmaState::update`](crate::EmaState).
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    minus_weight: f64,
    seen: usize,
    /// The running sum while seeding, then the smoothed value.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    value: f64,
}

impl Wilder {
    pub(crate) fn new(period: usize) -> Self {
        let n = period as f64;
        let keep = (n - 1.0) / n;
        Self {
            period,
            keep,
            minus_weight: -(1.0 - keep),
            seen: 0,
            value: 0.0,
        }
    }

    #[inline(always)]
    pub(crate) fn update(&mut self, x: f64) -> Option<f64> {
        if self.seen < self.period {
            self.value += x;
            self.seen += 1;
            if self.seen < self.period {
                return None;
            }
            self.value /= self.period as f64;
        } else {
            // `keep·v + (1 − keep)·x`, as TA-Lib 0.8 weighs it, written as a difference so that
            // the two products stay scalar (see `EmaState::update`).
            self.value = self.value * self.keep - x * self.minus_weight;
        }
        Some(self.value)
    }

    pub(crate) fn reset(&mut self) {
        *self = Self::new(self.period);
    }
}
