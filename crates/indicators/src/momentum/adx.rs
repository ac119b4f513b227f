//! Directional movement: ADX, +DI, −DI and DX, which share one smoothing of the directional
//! movement and the true range.

use std::fmt;

use crate::error::{IndicatorError, check_period};
use crate::indicator::{Indicator, run};
use crate::input::Candle;
use crate::math::{clamp_percent, is_zero, keep_if};
use crate::volatility::trange::{hlc, true_range};

/// The values of the directional system at one bar; `None` where an output is still warming up.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct DirectionalValues {
    pub(crate) plus_di: Option<f64>,
    pub(crate) minus_di: Option<f64>,
    pub(crate) dx: Option<f64>,
    pub(crate) adx: Option<f64>,
}

/// Wilder's directional movement system, as TA-Lib computes it.
///
/// From the second bar, `+DM = high − previous high` when that exceeds both 0 and
/// `−DM = previous low − low` (and symmetrically), and TR is the true range. Each is summed over
/// the first `period − 1` changes, then smoothed as `s − s/period + value`. Then
/// `±DI = 100·(±DM / TR)` (0 when TR is zero), `DX = 100·|+DI − −DI| / (+DI + −DI)`, and ADX is
/// the mean of the first `period` DX values followed by Wilder's smoothing
/// `(ADX·(period−1) + DX) / period`. Where DX is undefined (no range, or both DI under 1e-14), DX
/// repeats its previous value and ADX keeps its value.
///
/// The smoothings are evaluated as `s·((period−1)/period) + value` and
/// `ADX·((period−1)/period) + DX·(1/period)`: one multiplication and one addition on each
/// recursive chain, where TA-Lib's forms put a division (four times slower) on it. Values differ
/// from TA-Lib's by units in the last place.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct Directional {
    period: usize,
    /// `(period − 1) / period`.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    keep: f64,
    /// `1 / period`.
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    inverse: f64,
    /// Bars seen, counted up to `2·period`.
    bars: usize,
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    previous: Option<(f64, f64, f64)>,
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    plus_dm: f64,
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    minus_dm: f64,
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    range: f64,
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    dx: f64,
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    adx: f64,
}

impl Directional {
    pub(crate) fn new(period: usize) -> Self {
        let n = period as f64;
        Self {
            period,
            keep: (n - 1.0) / n,
            inverse: 1.0 / n,
            bars: 0,
            previous: None,
            plus_dm: 0.0,
            minus_dm: 0.0,
            range: 0.0,
            dx: 0.0,
            adx: 0.0,
        }
    }

    #[inline(always)]
    pub(crate) fn update(&mut self, high: f64, low: f64, close: f64) -> DirectionalValues {
        let Some((previous_high, previous_low, previous_close)) = self.previous.replace((high, low, close)) else {
            self.bars = 1;
            return DirectionalValues::default();
        };
        let bar = self.bars;
        if bar < 2 * self.period {
            self.bars += 1;
        }
        let up = high - previous_high;
        let down = previous_low - low;
        // The larger move, if positive, counts: the two conditions exclude each other. Masks,
        // not branches: which way a bar moves is a coin toss the processor cannot predict.
        let plus = keep_if((up > 0.0) & (up > down), up);
        let minus = keep_if((down > 0.0) & (up < down), down);
        let tr = true_range(high, low, previous_close);
        if bar < self.period {
            self.plus_dm += plus;
            self.minus_dm += minus;
            self.range += tr;
            return DirectionalValues::default();
        }
        self.plus_dm = self.plus_dm * self.keep + plus;
        self.minus_dm = self.minus_dm * self.keep + minus;
        self.range = self.range * self.keep + tr;

        let (plus_di, minus_di, dx) = if self.range > 0.0 {
            let plus_di = 100.0 * (self.plus_dm / self.range);
            let minus_di = 100.0 * (self.minus_dm / self.range);
            let sum = minus_di + plus_di;
            let dx = if is_zero(sum) {
                None
            } else {
                Some(100.0 * ((minus_di - plus_di).abs() / sum))
            };
            (plus_di, minus_di, dx)
        } else {
            (0.0, 0.0, None)
        };
        self.dx = match dx {
            Some(dx) => dx,
            None if bar == self.period => 0.0,
            None => self.dx,
        };
        let adx = if bar < 2 * self.period - 1 {
            self.adx += dx.unwrap_or(0.0);
            None
        } else if bar == 2 * self.period - 1 {
            self.adx = (self.adx + dx.unwrap_or(0.0)) / self.period as f64;
            Some(self.adx)
        } else {
            if let Some(dx) = dx {
                self.adx = self.adx * self.keep + dx * self.inverse;
            }
            Some(self.adx)
        };
        DirectionalValues {
            plus_di: Some(clamp_percent(plus_di)),
            minus_di: Some(clamp_percent(minus_di)),
            dx: Some(clamp_percent(self.dx)),
            adx: adx.map(clamp_percent),
        }
    }

    pub(crate) fn reset(&mut self) {
        *self = Self::new(self.period);
    }
}

/// Declares one output of the directional system as an indicator of its own.
macro_rules! directional_indicator {
    (
        $(#[$doc:meta])*
        $name:ident, $state:ident, $spec:literal, $field:ident, lookback = |$p:ident| $lookback:expr
    ) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $name {
            period: usize,
        }

        impl $name {
            /// The period without parameters.
            pub const DEFAULT_PERIOD: usize = 14;

            #[doc = concat!("A ", $spec, " over `period` bars.")]
            ///
            /// # Errors
            /// [`IndicatorError::InvalidParameter`] unless `2 <= period <= 100_000`.
            pub fn new(period: usize) -> Result<Self, IndicatorError> {
                Ok(Self { period: check_period($spec, "period", period, 2)? })
            }

            /// The period.
            pub fn period(&self) -> usize {
                self.period
            }

            /// Inputs before the first output.
            pub fn lookback(&self) -> usize {
                let $p = self.period;
                $lookback
            }

            /// A fresh streaming state.
            pub fn state(&self) -> $state {
                $state { system: Directional::new(self.period), lookback: self.lookback() }
            }

            /// The value at every bar: as long as the input, NaN through the lookback.
            ///
            /// # Errors
            /// [`IndicatorError::LengthMismatch`] when the series differ in length.
            pub fn batch(&self, high: &[f64], low: &[f64], close: &[f64]) -> Result<Vec<f64>, IndicatorError> {
                Ok(run(self.state(), hlc(high, low, close)?))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self { period: Self::DEFAULT_PERIOD }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($spec, ":{}"), self.period)
            }
        }

        #[doc = concat!("Streaming state of [`", stringify!($name), "`].")]
        #[derive(Clone, Debug, PartialEq)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        pub struct $state {
            system: Directional,
            lookback: usize,
        }

        impl Indicator for $state {
            type Input = Candle;
            type Output = f64;

            #[inline(always)]
            fn update(&mut self, bar: Candle) -> Option<f64> {
                self.system.update(bar.high, bar.low, bar.close).$field
            }

            fn reset(&mut self) {
                self.system.reset();
            }

            fn lookback(&self) -> usize {
                self.lookback
            }
        }
    };
}

directional_indicator!(
    /// Average directional index: Wilder's smoothing of [DX](Dx), the strength of a trend
    /// whatever its direction.
    ///
    /// - Parameters: `period` from 2 to 100,000 (spec `adx:period`, default `adx:14`).
    /// - Lookback: `2·period − 1`. Range: [0, 100].
    ///
    /// ```
    /// use finstage_indicators::Adx;
    ///
    /// let adx = Adx::new(14)?;
    /// assert_eq!(adx.lookback(), 27);
    /// let high: Vec<f64> = (0..40).map(|i| 10.0 + i as f64).collect();
    /// let low: Vec<f64> = high.iter().map(|h| h - 1.0).collect();
    /// let out = adx.batch(&high, &low, &low)?;
    /// assert!(out[26].is_nan());
    /// assert_eq!(out[27], 100.0); // a steady rise is all trend
    /// # Ok::<(), finstage_indicators::IndicatorError>(())
    /// ```
    Adx, AdxState, "adx", adx, lookback = |p| 2 * p - 1
);

directional_indicator!(
    /// Plus directional indicator: `100·smoothed(+DM) / smoothed(TR)`, the share of the range
    /// that moved up. See [`Adx`] for the smoothing.
    ///
    /// - Parameters: `period` from 2 to 100,000 (spec `plus_di:period`, default `plus_di:14`).
    /// - Lookback: `period`. Range: [0, 100].
    ///
    /// ```
    /// use finstage_indicators::PlusDi;
    ///
    /// let out = PlusDi::new(2)?.batch(&[10.0, 11.0, 12.0], &[9.0, 10.0, 11.0], &[9.5, 10.5, 11.5])?;
    /// assert!(out[1].is_nan());
    /// assert!(out[2] > 0.0);
    /// # Ok::<(), finstage_indicators::IndicatorError>(())
    /// ```
    PlusDi, PlusDiState, "plus_di", plus_di, lookback = |p| p
);

directional_indicator!(
    /// Minus directional indicator: `100·smoothed(−DM) / smoothed(TR)`, the share of the range
    /// that moved down. See [`Adx`] for the smoothing.
    ///
    /// - Parameters: `period` from 2 to 100,000 (spec `minus_di:period`, default `minus_di:14`).
    /// - Lookback: `period`. Range: [0, 100].
    ///
    /// ```
    /// use finstage_indicators::MinusDi;
    ///
    /// let out = MinusDi::new(2)?.batch(&[10.0, 11.0, 12.0], &[9.0, 10.0, 11.0], &[9.5, 10.5, 11.5])?;
    /// assert_eq!(out[2], 0.0); // no downward movement
    /// # Ok::<(), finstage_indicators::IndicatorError>(())
    /// ```
    MinusDi, MinusDiState, "minus_di", minus_di, lookback = |p| p
);

directional_indicator!(
    /// Directional movement index: `100·|+DI − −DI| / (+DI + −DI)`. Where both DI are zero it
    /// repeats its previous value (0 at the first bar), as in TA-Lib.
    ///
    /// - Parameters: `period` from 2 to 100,000 (spec `dx:period`, default `dx:14`).
    /// - Lookback: `period`. Range: [0, 100].
    ///
    /// ```
    /// use finstage_indicators::Dx;
    ///
    /// let out = Dx::new(2)?.batch(&[10.0, 11.0, 12.0], &[9.0, 10.0, 11.0], &[9.5, 10.5, 11.5])?;
    /// assert_eq!(out[2], 100.0);
    /// # Ok::<(), finstage_indicators::IndicatorError>(())
    /// ```
    Dx, DxState, "dx", dx, lookback = |p| p
);
