//! Deterministic synthetic market data: a random walk of daily OHLCV bars from a fixed seed.

use finstage_indicators::{Candle, IndicatorError, Ohlcv};

/// Ten years of daily bars (252 trading days a year).
pub const TEN_YEARS_DAILY: usize = 2_520;

/// A long series, for throughput without per-call overhead.
pub const ONE_MILLION: usize = 1_000_000;

/// 2000-01-03 00:00:00 UTC, the first bar's time.
const START_TIME: i64 = 946_857_600;
const DAY: i64 = 86_400;

/// SplitMix64: a tiny, fast generator whose output depends only on the seed.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform number in `[0, 1)`, from the top 53 bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A standard normal number (Box–Muller; one of the pair is dropped, which is fine here).
    pub fn normal(&mut self) -> f64 {
        // 1 − u is in (0, 1], so the logarithm is finite.
        let radius = (-2.0 * (1.0 - self.uniform()).ln()).sqrt();
        radius * (std::f64::consts::TAU * self.uniform()).cos()
    }
}

/// Columns of bars: what the batch APIs of every library take.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Bar open times, seconds since the Unix epoch, one day apart.
    pub time: Vec<i64>,
    /// Opening prices.
    pub open: Vec<f64>,
    /// Highest prices: at least the open and the close.
    pub high: Vec<f64>,
    /// Lowest prices: at most the open and the close, and positive.
    pub low: Vec<f64>,
    /// Closing prices.
    pub close: Vec<f64>,
    /// Volumes, all positive.
    pub volume: Vec<f64>,
}

impl Series {
    /// `bars` daily bars of a random walk started at 100 from `seed`.
    ///
    /// The log price takes normal steps of 1 % with a weak pull (0.1 % a bar) back to log 100, so
    /// that a million bars stay in a realistic range (roughly 50 to 200) instead of drifting to
    /// e^±10; opens gap from the previous close by 0.2 %, highs and lows reach up to 1 % beyond
    /// the body, and volumes are log-normal around one million.
    pub fn random_walk(bars: usize, seed: u64) -> Self {
        const ANCHOR: f64 = 4.605_170_185_988_092; // ln 100
        let mut rng = SplitMix64::new(seed);
        let mut series = Self::with_capacity(bars);
        let mut log_close = ANCHOR;
        for i in 0..bars {
            let previous_close = log_close.exp();
            let open = previous_close * (0.002 * rng.normal()).exp();
            log_close += 0.01 * rng.normal() - 0.001 * (log_close - ANCHOR);
            let close = log_close.exp();
            let high = open.max(close) * (1.0 + 0.01 * rng.uniform());
            let low = open.min(close) * (1.0 - 0.01 * rng.uniform());
            let volume = 1e6 * (0.5 * rng.normal()).exp();
            series.time.push(START_TIME + i as i64 * DAY);
            series.open.push(open);
            series.high.push(high);
            series.low.push(low);
            series.close.push(close);
            series.volume.push(volume);
        }
        series
    }

    fn with_capacity(bars: usize) -> Self {
        Self {
            time: Vec::with_capacity(bars),
            open: Vec::with_capacity(bars),
            high: Vec::with_capacity(bars),
            low: Vec::with_capacity(bars),
            close: Vec::with_capacity(bars),
            volume: Vec::with_capacity(bars),
        }
    }

    /// Number of bars.
    pub fn len(&self) -> usize {
        self.close.len()
    }

    /// Whether there are no bars.
    pub fn is_empty(&self) -> bool {
        self.close.is_empty()
    }

    /// The columns as `finstage-indicators` batch input, with timestamps.
    ///
    /// # Errors
    /// Never for a series built here (its columns have one length); the crate checks anyway.
    pub fn view(&self) -> Result<Ohlcv<'_>, IndicatorError> {
        Ohlcv::new(&self.open, &self.high, &self.low, &self.close, &self.volume)?.with_time(&self.time)
    }

    /// Bar `i` as a streaming input. Panics when `i` is out of range.
    #[inline]
    pub fn candle(&self, i: usize) -> Candle {
        Candle::new(self.open[i], self.high[i], self.low[i], self.close[i], self.volume[i]).at(self.time[i])
    }

    /// Every bar as a streaming input, in order.
    pub fn candles(&self) -> impl ExactSizeIterator<Item = Candle> + '_ {
        (0..self.len()).map(|i| self.candle(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_consistent_and_positive() {
        let series = Series::random_walk(100_000, 7);
        assert_eq!(series.len(), 100_000);
        for i in 0..series.len() {
            let (o, h, l, c, v) = (
                series.open[i],
                series.high[i],
                series.low[i],
                series.close[i],
                series.volume[i],
            );
            assert!(l > 0.0 && v > 0.0, "bar {i}");
            assert!(h >= o.max(c) && l <= o.min(c), "bar {i}: {o} {h} {l} {c}");
            assert!(h.is_finite() && v.is_finite(), "bar {i}");
        }
        let (min, max) = series
            .close
            .iter()
            .fold((f64::INFINITY, 0.0_f64), |(lo, hi), &c| (lo.min(c), hi.max(c)));
        assert!(min > 20.0 && max < 500.0, "the walk stays in range: {min}..{max}");
        assert!(series.time.windows(2).all(|w| w[1] - w[0] == DAY));
    }

    #[test]
    fn the_seed_decides_everything() {
        assert_eq!(Series::random_walk(1_000, 42), Series::random_walk(1_000, 42));
        assert_ne!(
            Series::random_walk(1_000, 42).close,
            Series::random_walk(1_000, 43).close
        );
    }

    #[test]
    fn uniform_numbers_are_in_the_unit_interval() {
        let mut rng = SplitMix64::new(1);
        let mean = (0..10_000)
            .map(|_| rng.uniform())
            .inspect(|u| assert!((0.0..1.0).contains(u)))
            .sum::<f64>()
            / 10_000.0;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
    }

    #[test]
    fn the_view_and_candles_agree() {
        let series = Series::random_walk(50, 3);
        let view = series.view().unwrap();
        assert_eq!(view.candles().collect::<Vec<_>>(), series.candles().collect::<Vec<_>>());
    }
}
