//! Triple exponential moving average (TEMA).

use std::fmt;

use crate::average::ema::EmaState;
use crate::error::{IndicatorError, check_period};
use crate::indicator::{Indicator, run};

/// Triple exponential moving average: `TEMA = 3·e1 − 3·e2 + e3` where `e1 = EMA(x)`,
/// `e2 = EMA(e1)`, `e3 = EMA(e2)`, all with `period`, each seeded as TA-Lib seeds it.
///
/// - Parameters: `period` from 1 to 100,000 (spec `tema:period`, default `tema:20`).
/// - Lookback: `3·(period − 1)`.
///
/// ```
/// use finstage_indicators::Tema;
///
/// let tema = Tema::new(4)?;
/// assert_eq!(tema.lookback(), 9);
/// let out = tema.batch(&[2.0; 12]);
/// assert!(out[8].is_nan());
/// assert_eq!(out[9], 2.0);
/// # Ok::<(), finstage_indicators::IndicatorError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tema {
    period: usize,
}

impl Tema {
    /// The period of `tema` without parameters.
    pub const DEFAULT_PERIOD: usize = 20;

    /// A TEMA over `period` values.
    ///
    /// # Errors
    /// [`IndicatorError::InvalidParameter`] unless `1 <= period <= 100_000`.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        Ok(Self {
            period: check_period("tema", "period", period, 1)?,
        })
    }

    /// The period.
    pub fn period(&self) -> usize {
        self.period
    }

    /// Inputs before the first output: `3·(period − 1)`.
    pub fn lookback(&self) -> usize {
        3 * (self.period - 1)
    }

    /// A fresh streaming state.
    pub fn state(&self) -> TemaState {
        TemaState {
            period: self.period,
            ema1: EmaState::new(self.period),
            ema2: EmaState::new(self.period),
            ema3: EmaState::new(self.period),
        }
    }

    /// The TEMA of every value of `input`: as long as `input`, NaN through the lookback.
    pub fn batch(&self, input: &[f64]) -> Vec<f64> {
        run(self.state(), input.iter().copied())
    }
}

impl Default for Tema {
    fn default() -> Self {
        Self {
            period: Self::DEFAULT_PERIOD,
        }
    }
}

impl fmt::Display for Tema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tema:{}", self.period)
    }
}

/// `e3 + (3·e1 − 3·e2)`, in TA-Lib's order.
#[inline(always)]
pub(crate) fn tema(e1: f64, e2: f64, e3: f64) -> f64 {
    e3 + ((3.0 * e1) - (3.0 * e2))
}

/// Streaming state of a [`Tema`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TemaState {
    period: usize,
    ema1: EmaState,
    ema2: EmaState,
    ema3: EmaState,
}

impl Indicator for TemaState {
    type Input = f64;
    type Output = f64;

    #[inline(always)]
    fn update(&mut self, x: f64) -> Option<f64> {
        let e1 = self.ema1.update(x)?;
        let e2 = self.ema2.update(e1)?;
        let e3 = self.ema3.update(e2)?;
        Some(tema(e1, e2, e3))
    }

    fn reset(&mut self) {
        self.ema1.reset();
        self.ema2.reset();
        self.ema3.reset();
    }

    fn lookback(&self) -> usize {
        3 * (self.period - 1)
    }
}
