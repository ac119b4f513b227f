//! Money flow index (MFI).

use std::fmt;

use crate::error::{IndicatorError, check_lengths, check_period};
use crate::indicator::{Indicator, run};
use crate::input::Candle;
use crate::math::{is_zero_scaled, keep_if};
use crate::window::{Cursor, slots};

/// Money flow index: an RSI of money flow (typical price × volume).
///
/// A bar's money flow `tp·volume` counts as positive when the typical price rose from the
/// previous bar, negative when it fell, and not at all when unchanged (to 14 significant
/// digits); over the last `period` bars, `MFI = 100·positive / (positive + negative)`, 0 when no
/// money flowed.
///
/// - Parameters: `period` from 1 to 100,000 (spec `mfi:period`, default `mfi:14`).
/// - Lookback: `period`. Range: [0, 100].
/// - As TA-Lib 0.8 keeps them, bit for bit: running sums from which the flow leaving the window is
///   subtracted before the new one is added, reset to exactly 0 after `period` bars without any
///   flow, and the positive sum clamped into [0, total].
///
/// ```
/// use finstage_indicators::Mfi;
///
/// let high = [10.0, 11.0, 10.5];
/// let low = [9.0, 10.0, 9.5];
/// let close = [9.5, 10.5, 10.0];
/// let volume = [100.0, 100.0, 100.0];
/// let out = Mfi::new(2)?.batch(&high, &low, &close, &volume)?;
/// // flows: +10.5·100, −10·100
/// assert!((out[2] - 100.0 * 1050.0 / 2050.0).abs() < 1e-12);
/// # Ok::<(), finstage_indicators::IndicatorError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Mfi {
    period: usize,
}

impl Mfi {
    /// The period of `mfi` without parameters.
    pub const DEFAULT_PERIOD: usize = 14;

    /// An MFI over `period` bars.
    ///
    /// # Errors
    /// [`IndicatorError::InvalidParameter`] unless `1 <= period <= 100_000`.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        Ok(Self {
            period: check_period("mfi", "period", period, 1)?,
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
    pub fn state(&self) -> MfiState {
        MfiState::new(self.period)
    }

    /// The MFI at every bar: as long as the input, NaN through the lookback.
    ///
    /// # Errors
    /// [`IndicatorError::LengthMismatch`] when the series differ in length.
    pub fn batch(&self, high: &[f64], low: &[f64], close: &[f64], volume: &[f64]) -> Result<Vec<f64>, IndicatorError> {
        let len = check_lengths(&[
            ("high", high.len()),
            ("low", low.len()),
            ("close", close.len()),
            ("volume", volume.len()),
        ])?;
        let bars = (0..len).map(|i| Candle {
            high: high[i],
            low: low[i],
            close: close[i],
            volume: volume[i],
            ..Candle::default()
        });
        Ok(run(self.state(), bars))
    }
}

impl Default for Mfi {
    fn default() -> Self {
        Self {
            period: Self::DEFAULT_PERIOD,
        }
    }
}

impl fmt::Display for Mfi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mfi:{}", self.period)
    }
}

/// Streaming state of an [`Mfi`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MfiState {
    period: usize,
    core: MfiCore,
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    positive: Box<[f64]>,
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    negative: Box<[f64]>,
}

/// The running part of an [`MfiState`], apart from its windows (see [`Cursor`]).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct MfiCore {
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    previous: Option<f64>,
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    positive_sum: f64,
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    negative_sum: f64,
    /// Consecutive bars without money flow, up to `period`.
    idle: usize,
    /// One cursor for both windows, which move together.
    cursor: Cursor,
}

impl MfiState {
    pub(crate) fn new(period: usize) -> Self {
        Self {
            period,
            core: MfiCore::default(),
            positive: slots(period),
            negative: slots(period),
        }
    }

    #[inline(always)]
    fn advance(
        period: usize,
        core: &mut MfiCore,
        positives: &mut [f64],
        negatives: &mut [f64],
        typical: f64,
        volume: f64,
    ) -> Option<f64> {
        let previous = core.previous.replace(typical)?;
        if core.cursor.is_full(positives) {
            core.positive_sum -= core.cursor.oldest(positives);
            core.negative_sum -= core.cursor.oldest(negatives);
        }
        let change = typical - previous;
        let flow = if is_zero_scaled(change, typical.abs() + previous.abs()) {
            0.0
        } else {
            typical * volume
        };
        // Masks, not a branch: whether the typical price fell is a coin toss to the processor.
        let fell = change < 0.0;
        let (positive, negative) = (keep_if(!fell, flow), keep_if(fell, flow));
        // Both windows share the cursor: write the negative slot, then push the positive one.
        let mut shadow = core.cursor;
        shadow.push(negatives, negative);
        core.cursor.push(positives, positive);
        core.positive_sum += positive;
        core.negative_sum += negative;
        core.idle = if flow == 0.0 { core.idle + 1 } else { 0 };
        if core.idle >= period {
            // A whole window without flow: drop the sums' rounding residue.
            core.idle = period;
            core.positive_sum = 0.0;
            core.negative_sum = 0.0;
        }
        if !core.cursor.is_full(positives) {
            return None;
        }
        let total = core.positive_sum + core.negative_sum;
        let positive = if core.positive_sum < 0.0 {
            0.0
        } else if core.positive_sum > total {
            total
        } else {
            core.positive_sum
        };
        Some(if total <= 0.0 { 0.0 } else { 100.0 * (positive / total) })
    }

    /// Adds one bar given its typical price and volume; the MFI once the window is full.
    #[inline(always)]
    pub(crate) fn update_typical(&mut self, typical: f64, volume: f64) -> Option<f64> {
        Self::advance(
            self.period,
            &mut self.core,
            &mut self.positive,
            &mut self.negative,
            typical,
            volume,
        )
    }

    /// Adds every bar given typical prices and volumes; writes the MFI (NaN while warming up).
    #[inline(never)]
    pub(crate) fn run(&mut self, typical: &[f64], volume: &[f64], out: &mut [f64]) {
        let mut core = self.core;
        let (positives, negatives) = (&mut self.positive[..], &mut self.negative[..]);
        for ((&tp, &v), o) in typical.iter().zip(volume).zip(out) {
            *o = Self::advance(self.period, &mut core, positives, negatives, tp, v).unwrap_or(f64::NAN);
        }
        self.core = core;
    }
}

impl Indicator for MfiState {
    type Input = Candle;
    type Output = f64;

    #[inline(always)]
    fn update(&mut self, bar: Candle) -> Option<f64> {
        self.update_typical(bar.typical_price(), bar.volume)
    }

    fn reset(&mut self) {
        // Keeps the windows' buffers: a reset computation allocates nothing.
        self.core = MfiCore::default();
        self.positive.fill(0.0);
        self.negative.fill(0.0);
    }

    fn lookback(&self) -> usize {
        self.period
    }
}
