//! Bars for tests and benchmarks: the repository's real daily history (`data/seed/*.csv`), any
//! CSV in that format, and a deterministic synthetic series for as many symbols as needed.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate, Weekday};
use finstage_domain::{Bar, DomainError};
use serde::Deserialize;

/// The symbols whose daily history ships in `data/seed/` (2000-03-01 to 2013-03-01, 3,270
/// trading days each; Quandl WIKI, public domain).
pub const SEED_SYMBOLS: [&str; 3] = ["AAPL", "MSFT", "IBM"];

/// Why a CSV could not become bars.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FixtureError {
    /// The file could not be opened.
    #[error("cannot open {}: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The CSV is malformed, or a row misses a column or holds text where a number should be.
    #[error("CSV line {line}: {source}")]
    Csv {
        /// The 1-based line (0 when unknown).
        line: u64,
        /// The CSV error.
        #[source]
        source: csv::Error,
    },
    /// A row's prices do not make a valid [`Bar`].
    #[error("CSV line {line}: {source}")]
    InvalidBar {
        /// The 1-based line.
        line: u64,
        /// What is wrong with the bar.
        #[source]
        source: DomainError,
    },
    /// A row's volume is negative, fractional or not finite.
    #[error("CSV line {line}: invalid volume {volume}")]
    InvalidVolume {
        /// The 1-based line.
        line: u64,
        /// The volume read.
        volume: f64,
    },
}

/// One row of `Date,Open,High,Low,Close,Volume[,Adj Close]`.
#[derive(Deserialize)]
struct CsvRow {
    #[serde(rename = "Date")]
    date: NaiveDate,
    #[serde(rename = "Open")]
    open: f64,
    #[serde(rename = "High")]
    high: f64,
    #[serde(rename = "Low")]
    low: f64,
    #[serde(rename = "Close")]
    close: f64,
    #[serde(rename = "Volume")]
    volume: f64,
    #[serde(rename = "Adj Close", default)]
    adj_close: Option<f64>,
}

/// Reads daily bars from CSV text with the header `Date,Open,High,Low,Close,Volume,Adj Close`
/// (columns found by name, in any order; `Adj Close` optional, and an empty cell means none).
/// Dates are `YYYY-MM-DD`; a volume may be written `123` or `123.0`. Rows stay in file order.
///
/// # Errors
/// [`FixtureError`] naming the first bad line.
pub fn read_bars_csv(reader: impl Read) -> Result<Vec<Bar>, FixtureError> {
    let mut csv = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(reader);
    let headers = csv
        .headers()
        .map_err(|source| FixtureError::Csv { line: 1, source })?
        .clone();
    let mut bars = Vec::new();
    for record in csv.records() {
        let record = record.map_err(|source| FixtureError::Csv {
            line: source.position().map_or(0, csv::Position::line),
            source,
        })?;
        let line = record.position().map_or(0, csv::Position::line);
        let row: CsvRow = record
            .deserialize(Some(&headers))
            .map_err(|source| FixtureError::Csv { line, source })?;
        let volume = volume(row.volume).ok_or(FixtureError::InvalidVolume {
            line,
            volume: row.volume,
        })?;
        let bar = Bar::new(row.date, row.open, row.high, row.low, row.close, volume)
            .and_then(|bar| match row.adj_close {
                Some(adj_close) => bar.with_adj_close(adj_close),
                None => Ok(bar),
            })
            .map_err(|source| FixtureError::InvalidBar { line, source })?;
        bars.push(bar);
    }
    Ok(bars)
}

/// A whole, non-negative volume that fits a `u64`.
fn volume(value: f64) -> Option<u64> {
    // 2^64 as f64; anything at or above it does not fit.
    const LIMIT: f64 = 18_446_744_073_709_551_616.0;
    let fits = (0.0..LIMIT).contains(&value) && value.fract() == 0.0;
    // The checks above make the cast exact.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    fits.then_some(value as u64)
}

/// Reads daily bars from a CSV file (see [`read_bars_csv`]).
///
/// # Errors
/// [`FixtureError::Open`], or the first bad line.
pub fn load_bars_csv(path: impl AsRef<Path>) -> Result<Vec<Bar>, FixtureError> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|source| FixtureError::Open {
        path: path.to_owned(),
        source,
    })?;
    read_bars_csv(std::io::BufReader::new(file))
}

/// The path of a seed history, `data/seed/{SYMBOL}.csv` in this repository (found from this
/// crate's source folder at compile time, so it works from any test or benchmark of the
/// workspace).
pub fn seed_csv_path(symbol: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/seed")
        .join(format!("{}.csv", symbol.to_ascii_uppercase()))
}

/// The real daily history of a [`SEED_SYMBOLS`] symbol: 3,270 bars from 2000-03-01 to
/// 2013-03-01, oldest first, unadjusted prices with the source's adjusted close. For a ten-year
/// history take the last 2,520.
///
/// # Panics
/// When the file is missing or invalid (test support: the message says which and why).
pub fn seed_bars(symbol: &str) -> Vec<Bar> {
    let path = seed_csv_path(symbol);
    load_bars_csv(&path).unwrap_or_else(|e| panic!("seed history {}: {e}", path.display()))
}

/// `count` synthetic daily bars on consecutive weekdays from `first_day` (moved to the next
/// Monday if it falls on a weekend): a random walk from 100 with ±2 % daily moves, prices in
/// cents, volumes from 1 to 10 million, adjusted close equal to the close. The same `seed`
/// always gives the same bars; different seeds give different walks (one per symbol of a
/// benchmark, say).
pub fn synthetic_daily_bars(first_day: NaiveDate, count: usize, seed: u64) -> Vec<Bar> {
    let mut random = SplitMix64(seed);
    let mut close = 100.0_f64;
    let mut bars = Vec::with_capacity(count);
    let days = first_day
        .iter_days()
        .filter(|day| !matches!(day.weekday(), Weekday::Sat | Weekday::Sun));
    for day in days.take(count) {
        let open = cents(close * (1.0 + 0.004 * (random.unit() - 0.5))).max(0.01);
        close = cents(open * (1.0 + 0.04 * (random.unit() - 0.5))).max(0.01);
        let high = cents(open.max(close) * (1.0 + 0.01 * random.unit()));
        let low = cents(open.min(close) * (1.0 - 0.01 * random.unit())).max(0.01);
        // Truncation is the point: a volume from 1 to 10 million.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let volume = 1_000_000 + (random.unit() * 9_000_000.0) as u64;
        // Rounding to cents can put open or close a cent outside [low, high]: widen to hold them.
        let (high, low) = (high.max(open).max(close), low.min(open).min(close).max(0.01));
        if let Ok(bar) = Bar::new(day, open, high, low, close, volume).and_then(|bar| bar.with_adj_close(close)) {
            bars.push(bar);
        }
    }
    bars
}

fn cents(price: f64) -> f64 {
    (price * 100.0).round() / 100.0
}

/// Sebastiano Vigna's SplitMix64: tiny, fast, and good enough for test data.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        // The top 53 bits, exactly representable.
        #[allow(clippy::cast_precision_loss)]
        let value = (self.next() >> 11) as f64;
        value / (1_u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volumes() {
        assert_eq!(volume(0.0), Some(0));
        assert_eq!(volume(9_616_100.0), Some(9_616_100));
        assert_eq!(volume(-1.0), None);
        assert_eq!(volume(1.5), None);
        assert_eq!(volume(f64::NAN), None);
        assert_eq!(volume(1e20), None);
    }

    #[test]
    fn synthetic_bars_are_deterministic_weekdays() {
        let monday = NaiveDate::from_ymd_opt(2020, 1, 6).unwrap();
        let bars = synthetic_daily_bars(monday, 2_520, 7);
        assert_eq!(bars.len(), 2_520);
        assert_eq!(bars, synthetic_daily_bars(monday, 2_520, 7));
        assert_ne!(bars, synthetic_daily_bars(monday, 2_520, 8));
        assert!(bars.windows(2).all(|w| w[0].time() < w[1].time()));
        for bar in &bars {
            let finstage_domain::BarTime::Date(date) = bar.time() else {
                panic!("daily bars carry dates");
            };
            assert!(!matches!(date.weekday(), Weekday::Sat | Weekday::Sun));
            assert!((1_000_000..=10_000_000).contains(&bar.volume()));
            assert_eq!(bar.adj_close(), Some(bar.close()));
        }
        // Starting on a Saturday moves to Monday.
        let saturday = NaiveDate::from_ymd_opt(2020, 1, 4).unwrap();
        assert_eq!(synthetic_daily_bars(saturday, 1, 1)[0].time(), monday.into());
    }
}
