//! Inputs: one bar for streaming ([`Candle`]), columns of bars for batch ([`Ohlcv`], [`Bars`]).

use crate::error::{IndicatorError, check_lengths};

/// One bar, as the streaming indicators that need more than a single series take it.
///
/// The fields are plain numbers: this crate does not validate prices (use `finstage-domain`'s
/// `Bar` for that). `time` is in seconds since the Unix epoch and is only read by session VWAP.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Candle {
    /// Bar open time, seconds since the Unix epoch (UTC).
    pub time: i64,
    /// Opening price.
    pub open: f64,
    /// Highest price.
    pub high: f64,
    /// Lowest price.
    pub low: f64,
    /// Closing price.
    pub close: f64,
    /// Traded volume.
    pub volume: f64,
}

impl Candle {
    /// A bar without a timestamp (time 0).
    pub const fn new(open: f64, high: f64, low: f64, close: f64, volume: f64) -> Self {
        Self {
            time: 0,
            open,
            high,
            low,
            close,
            volume,
        }
    }

    /// The same bar stamped with `time` (seconds since the Unix epoch).
    #[must_use]
    pub const fn at(self, time: i64) -> Self {
        Self { time, ..self }
    }

    /// The typical price `(high + low + close) / 3`, as TA-Lib computes it.
    #[inline]
    pub fn typical_price(&self) -> f64 {
        typical_price(self.high, self.low, self.close)
    }
}

/// The typical price `(high + low + close) / 3`, in TA-Lib's order of operations.
#[inline]
pub(crate) fn typical_price(high: f64, low: f64, close: f64) -> f64 {
    (high + low + close) / 3.0
}

/// Borrowed columns of bars, all of one length: the batch input of [`compute`](crate::compute)
/// and of every multi-series indicator.
///
/// Build it once with [`Ohlcv::new`] (which checks the lengths) and every computation over it is
/// infallible. Timestamps are optional; only session VWAP needs them.
#[derive(Clone, Copy, Debug)]
pub struct Ohlcv<'a> {
    time: Option<&'a [i64]>,
    open: &'a [f64],
    high: &'a [f64],
    low: &'a [f64],
    close: &'a [f64],
    volume: &'a [f64],
}

impl<'a> Ohlcv<'a> {
    /// Columns of equal length, without timestamps.
    ///
    /// # Errors
    /// [`IndicatorError::LengthMismatch`] when the columns differ in length.
    pub fn new(
        open: &'a [f64],
        high: &'a [f64],
        low: &'a [f64],
        close: &'a [f64],
        volume: &'a [f64],
    ) -> Result<Self, IndicatorError> {
        check_lengths(&[
            ("open", open.len()),
            ("high", high.len()),
            ("low", low.len()),
            ("close", close.len()),
            ("volume", volume.len()),
        ])?;
        Ok(Self {
            time: None,
            open,
            high,
            low,
            close,
            volume,
        })
    }

    /// The same columns with bar timestamps (seconds since the Unix epoch).
    ///
    /// # Errors
    /// [`IndicatorError::LengthMismatch`] when `time` differs in length from the other columns.
    pub fn with_time(self, time: &'a [i64]) -> Result<Self, IndicatorError> {
        check_lengths(&[("close", self.close.len()), ("time", time.len())])?;
        Ok(Self {
            time: Some(time),
            ..self
        })
    }

    /// Number of bars.
    pub fn len(&self) -> usize {
        self.close.len()
    }

    /// Whether there are no bars.
    pub fn is_empty(&self) -> bool {
        self.close.is_empty()
    }

    /// The columns of one bar: time, open, high, low, close, volume.
    #[allow(clippy::type_complexity)]
    pub(crate) fn of_one(columns: &'a ([i64; 1], [f64; 1], [f64; 1], [f64; 1], [f64; 1], [f64; 1])) -> Self {
        let (time, open, high, low, close, volume) = columns;
        Self {
            time: Some(time),
            open,
            high,
            low,
            close,
            volume,
        }
    }

    /// Bar timestamps, if given.
    pub fn time(&self) -> Option<&'a [i64]> {
        self.time
    }

    /// Opening prices.
    pub fn open(&self) -> &'a [f64] {
        self.open
    }

    /// Highest prices.
    pub fn high(&self) -> &'a [f64] {
        self.high
    }

    /// Lowest prices.
    pub fn low(&self) -> &'a [f64] {
        self.low
    }

    /// Closing prices.
    pub fn close(&self) -> &'a [f64] {
        self.close
    }

    /// Volumes.
    pub fn volume(&self) -> &'a [f64] {
        self.volume
    }

    /// Bar `index` as a [`Candle`] (time 0 when there are no timestamps).
    pub fn candle(&self, index: usize) -> Option<Candle> {
        Some(Candle {
            time: self.time.map_or(Some(0), |t| t.get(index).copied())?,
            open: *self.open.get(index)?,
            high: *self.high.get(index)?,
            low: *self.low.get(index)?,
            close: *self.close.get(index)?,
            volume: *self.volume.get(index)?,
        })
    }

    /// Every bar as a [`Candle`], in order.
    pub fn candles(&self) -> impl ExactSizeIterator<Item = Candle> + '_ {
        (0..self.len()).map(|i| Candle {
            time: self.time.map_or(0, |t| t[i]),
            open: self.open[i],
            high: self.high[i],
            low: self.low[i],
            close: self.close[i],
            volume: self.volume[i],
        })
    }

    /// The bars in `range` (clamped to the available bars).
    #[must_use]
    pub fn slice(&self, range: std::ops::Range<usize>) -> Ohlcv<'a> {
        let end = range.end.min(self.len());
        let start = range.start.min(end);
        Ohlcv {
            time: self.time.map(|t| &t[start..end]),
            open: &self.open[start..end],
            high: &self.high[start..end],
            low: &self.low[start..end],
            close: &self.close[start..end],
            volume: &self.volume[start..end],
        }
    }
}

/// Owned columns of bars, filled one [`Candle`] at a time; [`Bars::view`] borrows them as
/// [`Ohlcv`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bars {
    time: Vec<i64>,
    open: Vec<f64>,
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
    volume: Vec<f64>,
}

impl Bars {
    /// No bars.
    pub fn new() -> Self {
        Self::default()
    }

    /// No bars, with room for `capacity`.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            time: Vec::with_capacity(capacity),
            open: Vec::with_capacity(capacity),
            high: Vec::with_capacity(capacity),
            low: Vec::with_capacity(capacity),
            close: Vec::with_capacity(capacity),
            volume: Vec::with_capacity(capacity),
        }
    }

    /// Appends one bar.
    pub fn push(&mut self, candle: Candle) {
        self.time.push(candle.time);
        self.open.push(candle.open);
        self.high.push(candle.high);
        self.low.push(candle.low);
        self.close.push(candle.close);
        self.volume.push(candle.volume);
    }

    /// Number of bars.
    pub fn len(&self) -> usize {
        self.close.len()
    }

    /// Whether there are no bars.
    pub fn is_empty(&self) -> bool {
        self.close.is_empty()
    }

    /// The bars as borrowed columns, with their timestamps.
    pub fn view(&self) -> Ohlcv<'_> {
        Ohlcv {
            time: Some(&self.time),
            open: &self.open,
            high: &self.high,
            low: &self.low,
            close: &self.close,
            volume: &self.volume,
        }
    }
}

impl FromIterator<Candle> for Bars {
    fn from_iter<I: IntoIterator<Item = Candle>>(iter: I) -> Self {
        let mut bars = Bars::new();
        bars.extend(iter);
        bars
    }
}

impl Extend<Candle> for Bars {
    fn extend<I: IntoIterator<Item = Candle>>(&mut self, iter: I) {
        for candle in iter {
            self.push(candle);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ohlcv_rejects_columns_of_different_lengths() {
        let a = [1.0, 2.0];
        let b = [1.0];
        let err = Ohlcv::new(&a, &a, &b, &a, &a).unwrap_err();
        assert_eq!(
            err,
            IndicatorError::LengthMismatch {
                series: "low",
                expected: 2,
                found: 1
            }
        );
        let ok = Ohlcv::new(&a, &a, &a, &a, &a).unwrap();
        assert!(ok.with_time(&[1]).is_err());
        assert_eq!(ok.with_time(&[1, 2]).unwrap().candle(1).unwrap().time, 2);
    }

    #[test]
    fn bars_round_trip_through_the_view() {
        let candles = [
            Candle::new(1.0, 2.0, 0.5, 1.5, 10.0).at(60),
            Candle::new(1.5, 3.0, 1.0, 2.5, 20.0).at(120),
        ];
        let bars: Bars = candles.iter().copied().collect();
        let view = bars.view();
        assert_eq!(view.len(), 2);
        assert_eq!(view.candles().collect::<Vec<_>>(), candles);
        assert_eq!(view.slice(1..9).candles().collect::<Vec<_>>(), candles[1..]);
        assert!(view.slice(5..9).is_empty());
        assert_eq!(view.candle(2), None);
    }

    #[test]
    fn typical_price_follows_ta_lib() {
        let c = Candle::new(0.0, 12.0, 9.0, 10.5, 0.0);
        assert_eq!(c.typical_price(), (12.0 + 9.0 + 10.5) / 3.0);
    }
}
