//! Commodity channel index (CCI).

use std::fmt;

use crate::error::{IndicatorError, check_period};
use crate::indicator::{Indicator, run};
use crate::input::Candle;
use crate::math::is_zero_scaled;
use crate::volatility::trange::hlc;
use crate::window::{Cursor, WindowKernel, slots};

/// Commodity channel index: how far the typical price is from its mean, in units of 1.5 % of
/// the mean absolute deviation.
///
/// With `tp = (high + low + close) / 3` over the last `period` bars:
/// `CCI = (tp − mean(tp)) / (0.015 · mean(|tp − mean(tp)|))`, 0 when either the numerator or
/// the deviation is zero relative to the mean (TA-Lib's flat-window rule).
///
/// - Parameters: `period` from 1 to 100,000 (spec `cci:period`, default `cci:20`).
/// - Lookback: `period − 1`. Unbounded.
/// - O(period) per bar, like TA-Lib: the mean absolute deviation around a moving mean has no
///   exact O(1) update (every deviation changes when the mean moves). This is the one indicator
///   of the crate whose streaming update is not O(1).
///
/// ```
/// use finstage_indicators::Cci;
///
/// let high = [10.0, 12.0, 14.0];
/// let low = [8.0, 10.0, 12.0];
/// let close = [9.0, 11.0, 13.0];
/// let out = Cci::new(3)?.batch(&high, &low, &close)?;
/// // typical prices 9, 11, 13: mean 11, mean deviation 4/3
/// assert!((out[2] - 2.0 / (0.015 * (4.0 / 3.0))).abs() < 1e-12);
/// # Ok::<(), finstage_indicators::IndicatorError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cci {
    period: usize,
}

impl Cci {
    /// The period of `cci` without parameters.
    pub const DEFAULT_PERIOD: usize = 20;

    /// A CCI over `period` bars.
    ///
    /// # Errors
    /// [`IndicatorError::InvalidParameter`] unless `1 <= period <= 100_000`.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        Ok(Self {
            period: check_period("cci", "period", period, 1)?,
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
    pub fn state(&self) -> CciState {
        CciState::new(self.period)
    }

    /// The CCI at every bar: as long as the input, NaN through the lookback.
    ///
    /// # Errors
    /// [`IndicatorError::LengthMismatch`] when the series differ in length.
    pub fn batch(&self, high: &[f64], low: &[f64], close: &[f64]) -> Result<Vec<f64>, IndicatorError> {
        Ok(run(self.state(), hlc(high, low, close)?))
    }
}

impl Default for Cci {
    fn default() -> Self {
        Self {
            period: Self::DEFAULT_PERIOD,
        }
    }
}

impl fmt::Display for Cci {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cci:{}", self.period)
    }
}

/// Streaming state of a [`Cci`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CciState {
    period: usize,
    cursor: Cursor,
    #[cfg_attr(feature = "serde", serde(with = "crate::serde_float"))]
    window: Box<[f64]>,
}

impl CciState {
    pub(crate) fn new(period: usize) -> Self {
        Self {
            period,
            cursor: Cursor::default(),
            window: slots(period),
        }
    }

    /// Adds one typical price; the CCI once the window is full.
    #[inline(always)]
    pub(crate) fn update_typical(&mut self, typical: f64) -> Option<f64> {
        Self::advance(&mut self.cursor, &mut self.window, typical)
    }
}

impl WindowKernel for CciState {
    type Core = Cursor;

    fn parts(&mut self) -> (&mut Cursor, &mut [f64]) {
        (&mut self.cursor, &mut self.window)
    }

    #[inline(always)]
    fn advance(cursor: &mut Cursor, window: &mut [f64], typical: f64) -> Option<f64> {
        cursor.push(window, typical);
        if !cursor.is_full(window) {
            return None;
        }
        // TA-Lib sums its circular buffer in slot order, not in age order.
        let mean = window.iter().fold(0.0, |sum, v| sum + v) / window.len() as f64;
        let deviation = window.iter().fold(0.0, |sum, v| sum + (v - mean).abs());
        Some(cci(typical, mean, deviation, window.len()))
    }

    /// The batch loop, eight rows at a time once the window is full: each row's sums are a chain
    /// of `period` dependent additions, and the eight rows' chains are independent, so they run
    /// side by side. Each row sums its window in slot order, as [`Self::advance`] does (and
    /// TA-Lib), so the values are the same bits. Within a group of eight rows, only the eight
    /// slots the group writes differ from row to row; every other slot adds the same value to
    /// all eight sums.
    #[inline(never)]
    fn run_in_place(&mut self, values: &mut [f64]) {
        let (cursor, window) = self.parts();
        let mut local = *cursor;
        let n = window.len();
        let mut groups = values.chunks_exact_mut(ROWS);
        for group in &mut groups {
            if n < 2 * ROWS || !local.is_full(window) {
                for value in group.iter_mut() {
                    *value = Self::advance(&mut local, window, *value).unwrap_or(f64::NAN);
                }
                continue;
            }
            let typicals: [f64; ROWS] = std::array::from_fn(|row| group[row]);
            let first = local.next_slot();
            // `written[m][row]`: what row `row` sees in the `m`-th slot the group writes.
            let written: [[f64; ROWS]; ROWS] = std::array::from_fn(|m| {
                let old = window[(first + m) % n];
                std::array::from_fn(|row| if row >= m { typicals[m] } else { old })
            });
            let mut sums = [0.0; ROWS];
            in_slot_order(
                &mut sums,
                window,
                first,
                &written,
                |sums, value| {
                    for sum in sums {
                        *sum += value;
                    }
                },
                |sums, seen| {
                    for (sum, value) in sums.iter_mut().zip(seen) {
                        *sum += value;
                    }
                },
            );
            let means = sums.map(|sum| sum / n as f64);
            let mut deviations = [0.0; ROWS];
            in_slot_order(
                &mut deviations,
                window,
                first,
                &written,
                |deviations, value| {
                    for (deviation, mean) in deviations.iter_mut().zip(&means) {
                        *deviation += (value - mean).abs();
                    }
                },
                |deviations, seen| {
                    for ((deviation, mean), value) in deviations.iter_mut().zip(&means).zip(seen) {
                        *deviation += (value - mean).abs();
                    }
                },
            );
            for (row, &typical) in typicals.iter().enumerate() {
                local.push(window, typical);
                group[row] = cci(typical, means[row], deviations[row], n);
            }
        }
        for value in groups.into_remainder() {
            *value = Self::advance(&mut local, window, *value).unwrap_or(f64::NAN);
        }
        *cursor = local;
    }
}

/// Rows per group of [`CciState`]'s batch loop.
const ROWS: usize = 8;

/// Accumulates into `sums` (one per row) the slots of a full `window` in slot order, for a group
/// of [`ROWS`] rows that write the slots `first..first + ROWS` (wrapping): `same` adds the value
/// of a slot no row of the group writes, `seen` the values the rows see in a written slot
/// (`written[m]` for the `m`-th).
#[inline(always)]
fn in_slot_order(
    sums: &mut [f64; ROWS],
    window: &[f64],
    first: usize,
    written: &[[f64; ROWS]; ROWS],
    same: impl Fn(&mut [f64; ROWS], f64),
    seen: impl Fn(&mut [f64; ROWS], &[f64; ROWS]),
) {
    let n = window.len();
    let end = first + ROWS;
    if end <= n {
        window[..first].iter().for_each(|&value| same(sums, value));
        written.iter().for_each(|values| seen(sums, values));
        window[end..].iter().for_each(|&value| same(sums, value));
    } else {
        // The written slots wrap: the tail of `written` is at the start of the window.
        let wrapped = end - n;
        written[ROWS - wrapped..].iter().for_each(|values| seen(sums, values));
        window[wrapped..first].iter().for_each(|&value| same(sums, value));
        written[..ROWS - wrapped].iter().for_each(|values| seen(sums, values));
    }
}

/// The CCI of `typical` given its window's mean and the sum of absolute deviations from it, with
/// TA-Lib's flat-window guards.
#[inline(always)]
fn cci(typical: f64, mean: f64, deviation_sum: f64, n: usize) -> f64 {
    let distance = typical - mean;
    let scale = mean.abs();
    if is_zero_scaled(distance, scale) {
        return 0.0;
    }
    let deviation = deviation_sum / n as f64;
    if is_zero_scaled(deviation, scale) {
        return 0.0;
    }
    let denominator = 0.015 * deviation;
    if denominator != 0.0 {
        distance / denominator
    } else {
        0.0
    }
}

impl Indicator for CciState {
    type Input = Candle;
    type Output = f64;

    #[inline(always)]
    fn update(&mut self, bar: Candle) -> Option<f64> {
        self.update_typical(bar.typical_price())
    }

    fn reset(&mut self) {
        // Keeps the window's buffer: a reset computation allocates nothing.
        self.cursor = Cursor::default();
        self.window.fill(0.0);
    }

    fn lookback(&self) -> usize {
        self.period - 1
    }

    fn extend<I: IntoIterator<Item = Candle>>(&mut self, inputs: I, out: &mut Vec<f64>) {
        let start = out.len();
        out.extend(inputs.into_iter().map(|bar| bar.typical_price()));
        self.run_in_place(&mut out[start..]);
    }
}
