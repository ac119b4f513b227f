//! Moving average convergence/divergence (MACD).

use std::fmt;

use crate::average::ema::{EmaState, step};
use crate::error::{IndicatorError, check_period};
use crate::indicator::{Indicator, IndicatorOutput, multi_output, run};

/// MACD: the difference of a fast and a slow [EMA](crate::Ema), its signal line (an EMA of the
/// difference) and the histogram between them.
///
/// `macd = EMA(fast) − EMA(slow)`, `signal = EMA(signal) of macd`, `hist = macd − signal`.
///
/// - Parameters: `fast < slow`, `signal`, each from 1 to 100,000 (`slow` from 2)
///   (spec `macd:fast:slow:signal`, default `macd:12:26:9`; outputs `.macd`, `.signal`, `.hist`).
/// - Lookback: `slow + signal − 2` on all three outputs (33 for 12, 26, 9), as in TA-Lib.
/// - TA-Lib's alignment, reproduced here: the fast EMA starts late, so that its SMA seed covers
///   the `fast` values ending where the slow EMA's first value lands (index `slow − 1`). That makes
///   the fast line differ from a standalone `ema:12` over the same data near the start.
///
/// ```
/// use finstage_indicators::Macd;
///
/// let macd = Macd::new(12, 26, 9)?;
/// assert_eq!(macd.lookback(), 33);
/// let input: Vec<f64> = (0..40).map(f64::from).collect();
/// let out = macd.batch(&input);
/// assert!(out.macd[32].is_nan() && !out.macd[33].is_nan());
/// assert!(Macd::new(26, 12, 9).is_err());
/// # Ok::<(), finstage_indicators::IndicatorError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Macd {
    fast: usize,
    slow: usize,
    signal: usize,
}

impl Macd {
    /// The periods of `macd` without parameters: 12, 26, 9.
    pub const DEFAULT_PERIODS: (usize, usize, usize) = (12, 26, 9);

    /// A MACD with the given EMA periods.
    ///
    /// # Errors
    /// [`IndicatorError::InvalidParameter`] unless every period is within 1 to 100,000 and
    /// `fast < slow`.
    pub fn new(fast: usize, slow: usize, signal: usize) -> Result<Self, IndicatorError> {
        let fast = check_period("macd", "fast period", fast, 1)?;
        let slow = check_period("macd", "slow period", slow, 2)?;
        let signal = check_period("macd", "signal period", signal, 1)?;
        if fast >= slow {
            return Err(IndicatorError::InvalidParameter {
                indicator: "macd",
                parameter: "fast period",
                value: fast.to_string(),
                expected: format!("a period shorter than the slow period {slow}"),
            });
        }
        Ok(Self { fast, slow, signal })
    }

    /// The fast EMA period.
    pub fn fast(&self) -> usize {
        self.fast
    }

    /// The slow EMA period.
    pub fn slow(&self) -> usize {
        self.slow
    }

    /// The signal EMA period.
    pub fn signal(&self) -> usize {
        self.signal
    }

    /// Inputs before the first output: `slow + signal − 2`.
    pub fn lookback(&self) -> usize {
        self.slow + self.signal - 2
    }

    /// A fresh streaming state.
    pub fn state(&self) -> MacdState {
        MacdState {
            delay: self.slow - self.fast,
            skipped: 0,
            fast: EmaState::new(self.fast),
            slow: EmaState::new(self.slow),
            signal: EmaState::new(self.signal),
            lookback: self.lookback(),
        }
    }

    /// MACD at every value of `input`: three columns as long as `input`, NaN through the lookback.
    pub fn batch(&self, input: &[f64]) -> MacdSeries {
        run(self.state(), input.iter().copied())
    }
}

impl Default for Macd {
    fn default() -> Self {
        let (fast, slow, signal) = Self::DEFAULT_PERIODS;
        Self { fast, slow, signal }
    }
}

impl fmt::Display for Macd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "macd:{}:{}:{}", self.fast, self.slow, self.signal)
    }
}

multi_output!(
    /// One row of MACD.
    MacdOutput,
    /// MACD over a series, one column per output.
    MacdSeries,
    {
        /// Fast EMA minus slow EMA.
        macd,
        /// EMA of the MACD line.
        signal,
        /// MACD line minus signal line.
        hist,
    }
);

/// Streaming state of a [`Macd`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MacdState {
    /// Inputs the fast EMA skips: `slow − fast`.
    delay: usize,
    skipped: usize,
    fast: EmaState,
    slow: EmaState,
    signal: EmaState,
    lookback: usize,
}

impl Indicator for MacdState {
    type Input = f64;
    type Output = MacdOutput;

    #[inline(always)]
    fn update(&mut self, x: f64) -> Option<MacdOutput> {
        let fast = if self.skipped < self.delay {
            self.skipped += 1;
            None
        } else {
            self.fast.update(x)
        };
        let slow = self.slow.update(x)?;
        let macd = fast? - slow;
        let signal = self.signal.update(macd)?;
        Some(MacdOutput {
            macd,
            signal,
            hist: macd - signal,
        })
    }

    fn reset(&mut self) {
        self.skipped = 0;
        self.fast.reset();
        self.slow.reset();
        self.signal.reset();
    }

    fn lookback(&self) -> usize {
        self.lookback
    }

    fn extend<I: IntoIterator<Item = f64>>(&mut self, inputs: I, out: &mut MacdSeries) {
        let mut inputs = inputs.into_iter();
        // Through `update` until the three EMAs are seeded (and all along for a period of 1,
        // which TA-Lib copies).
        while !(self.fast.is_seeded() && self.slow.is_seeded() && self.signal.is_seeded()) {
            let Some(x) = inputs.next() else { return };
            self.update(x).unwrap_or(MacdOutput::NAN).push_to(out);
        }
        let start = out.len();
        let rows = inputs.size_hint().0;
        out.macd.resize(start + rows, f64::NAN);
        out.signal.resize(start + rows, f64::NAN);
        out.hist.resize(start + rows, f64::NAN);
        let (written, inputs) = self.recur(
            inputs,
            &mut out.macd[start..],
            &mut out.signal[start..],
            &mut out.hist[start..],
        );
        out.macd.truncate(start + written);
        out.signal.truncate(start + written);
        out.hist.truncate(start + written);
        for x in inputs {
            self.update(x).unwrap_or(MacdOutput::NAN).push_to(out);
        }
    }
}

impl MacdState {
    /// The seeded recursions of the three EMAs in one loop, the fast and slow lines side by side:
    /// their chains of dependent operations overlap. The arithmetic is `update`'s (the same
    /// [`step`]s), so the values are the same bits. Returns the rows written.
    #[inline(never)]
    fn recur<I: Iterator<Item = f64>>(
        &mut self,
        mut inputs: I,
        macd: &mut [f64],
        signal: &mut [f64],
        hist: &mut [f64],
    ) -> (usize, I) {
        let (fast_decay, fast_minus_k) = self.fast.coefficients();
        let (slow_decay, slow_minus_k) = self.slow.coefficients();
        let (signal_decay, signal_minus_k) = self.signal.coefficients();
        let mut lines = [self.fast.value(), self.slow.value()];
        let mut smoothed = self.signal.value();
        let mut written = 0;
        for ((macd, signal), hist) in macd.iter_mut().zip(signal.iter_mut()).zip(hist.iter_mut()) {
            let Some(x) = inputs.next() else { break };
            lines = [
                step(lines[0], fast_decay, fast_minus_k * x),
                step(lines[1], slow_decay, slow_minus_k * x),
            ];
            let line = lines[0] - lines[1];
            // `black_box` changes nothing but keeps the optimiser from packing this product
            // with `smoothed · decay` into one vector multiply, whose shuffles would land on the
            // signal's chain.
            smoothed = step(smoothed, signal_decay, std::hint::black_box(signal_minus_k * line));
            (*macd, *signal, *hist) = (line, smoothed, line - smoothed);
            written += 1;
        }
        self.fast.set_value(lines[0]);
        self.slow.set_value(lines[1]);
        self.signal.set_value(smoothed);
        (written, inputs)
    }
}
