//! What providers are asked ([`HistoryRequest`], [`Span`], [`Range`]) and what they answer
//! ([`History`], [`SymbolMeta`], [`Highs`], corporate actions).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use finstage_domain::{Bar, Interval, Symbol};
use serde::{Deserialize, Serialize};

use crate::MarketDataError;

/// A span counted back from the latest bar, named as Yahoo names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Range {
    /// The current session (`1d`).
    #[serde(rename = "1d")]
    D1,
    /// Five sessions (`5d`).
    #[serde(rename = "5d")]
    D5,
    /// One month (`1mo`).
    #[serde(rename = "1mo")]
    Mo1,
    /// Three months (`3mo`).
    #[serde(rename = "3mo")]
    Mo3,
    /// Six months (`6mo`).
    #[serde(rename = "6mo")]
    Mo6,
    /// One year (`1y`).
    #[serde(rename = "1y")]
    Y1,
    /// Two years (`2y`).
    #[serde(rename = "2y")]
    Y2,
    /// Five years (`5y`).
    #[serde(rename = "5y")]
    Y5,
    /// Ten years (`10y`).
    #[serde(rename = "10y")]
    Y10,
    /// Since the first of January (`ytd`).
    #[serde(rename = "ytd")]
    Ytd,
    /// Everything the upstream has (`max`).
    #[serde(rename = "max")]
    Max,
}

impl Range {
    /// Every range, shortest first.
    pub const ALL: &'static [Range] = &[
        Self::D1,
        Self::D5,
        Self::Mo1,
        Self::Mo3,
        Self::Mo6,
        Self::Y1,
        Self::Y2,
        Self::Y5,
        Self::Y10,
        Self::Ytd,
        Self::Max,
    ];

    /// Yahoo's name for the range.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::D1 => "1d",
            Self::D5 => "5d",
            Self::Mo1 => "1mo",
            Self::Mo3 => "3mo",
            Self::Mo6 => "6mo",
            Self::Y1 => "1y",
            Self::Y2 => "2y",
            Self::Y5 => "5y",
            Self::Y10 => "10y",
            Self::Ytd => "ytd",
            Self::Max => "max",
        }
    }

    /// The first date the range covers when the latest date is `last` (`None` for `max`).
    pub fn start(self, last: NaiveDate) -> Option<NaiveDate> {
        use chrono::{Datelike, Months, TimeDelta};
        let months = |n| last.checked_sub_months(Months::new(n));
        match self {
            Self::D1 => Some(last),
            // Five sessions: a week of calendar days.
            Self::D5 => last.checked_sub_signed(TimeDelta::days(6)),
            Self::Mo1 => months(1),
            Self::Mo3 => months(3),
            Self::Mo6 => months(6),
            Self::Y1 => months(12),
            Self::Y2 => months(24),
            Self::Y5 => months(60),
            Self::Y10 => months(120),
            Self::Ytd => NaiveDate::from_ymd_opt(last.year(), 1, 1),
            Self::Max => None,
        }
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Range {
    type Err = MarketDataError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.iter().copied().find(|r| r.as_str() == s).ok_or_else(|| {
            MarketDataError::InvalidRequest(format!(
                "unknown range {s:?} (expected 1d, 5d, 1mo, 3mo, 6mo, 1y, 2y, 5y, 10y, ytd or max)"
            ))
        })
    }
}

/// Which bars a history request covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Span {
    /// A named range back from the latest bar.
    Range(Range),
    /// From `from` (inclusive) to `to` (exclusive), as instants.
    Between {
        /// First instant covered.
        from: DateTime<Utc>,
        /// First instant not covered.
        to: DateTime<Utc>,
    },
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Range(range) => write!(f, "range={range}"),
            Self::Between { from, to } => write!(f, "{}..{}", from.timestamp(), to.timestamp()),
        }
    }
}

/// A request for bars of one symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HistoryRequest {
    /// The instrument.
    pub symbol: Symbol,
    /// The bar size.
    pub interval: Interval,
    /// Which bars.
    pub span: Span,
    /// Ask for dividends and splits too.
    pub events: bool,
    /// Whether a caching layer may answer from its cache and keep the answer (default `true`).
    /// A caller that stores the bars itself turns it off ([`HistoryRequest::uncached`]): the
    /// scheduler's window ends at its clock's now, so no one would ask for that answer again,
    /// and ten years of every watched symbol would only fill the cache.
    #[serde(default = "yes")]
    pub use_cache: bool,
}

fn yes() -> bool {
    true
}

impl HistoryRequest {
    /// Bars of `interval` over a named `range`, with corporate actions.
    pub fn range(symbol: Symbol, interval: Interval, range: Range) -> Self {
        Self {
            symbol,
            interval,
            span: Span::Range(range),
            events: true,
            use_cache: true,
        }
    }

    /// Bars of `interval` from `from` (inclusive) to `to` (exclusive), with corporate actions.
    ///
    /// # Errors
    /// [`MarketDataError::InvalidRequest`] when `from` is not before `to`.
    pub fn between(
        symbol: Symbol,
        interval: Interval,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Self, MarketDataError> {
        if from >= to {
            return Err(MarketDataError::InvalidRequest(format!(
                "empty span: from {from} is not before to {to}"
            )));
        }
        Ok(Self {
            symbol,
            interval,
            span: Span::Between { from, to },
            events: true,
            use_cache: true,
        })
    }

    /// The same request, answered by the upstream every time and kept in no cache.
    #[must_use]
    pub fn uncached(self) -> Self {
        Self {
            use_cache: false,
            ..self
        }
    }

    /// A stable text key for caches and request coalescing.
    pub fn key(&self) -> String {
        format!(
            "{}:{}:{}:{}",
            self.symbol,
            self.interval,
            self.span,
            u8::from(self.events)
        )
    }
}

/// A cash dividend.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Dividend {
    /// The ex-dividend date, in the exchange's time zone.
    pub date: NaiveDate,
    /// Amount per share, in the instrument's currency.
    pub amount: f64,
}

/// A stock split: `numerator` new shares for `denominator` old ones (`4:1` is 4 for 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    /// The date the split took effect, in the exchange's time zone.
    pub date: NaiveDate,
    /// New shares.
    pub numerator: u32,
    /// Old shares.
    pub denominator: u32,
}

/// What the upstream says about an instrument.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SymbolMeta {
    /// The symbol, as the upstream spells it.
    pub symbol: Symbol,
    /// Long name (`Apple Inc.`), or the short name when there is no long one.
    pub name: Option<String>,
    /// Price currency (`USD`; Yahoo's `GBp` is pence).
    pub currency: Option<String>,
    /// Exchange code (`NMS`).
    pub exchange: Option<String>,
    /// Exchange name (`NasdaqGS`).
    pub full_exchange_name: Option<String>,
    /// Instrument type (`EQUITY`, `INDEX`, `ETF`, `FUTURE`, `CURRENCY`, `CRYPTOCURRENCY`).
    pub instrument_type: Option<String>,
    /// The exchange's IANA time zone (`America/New_York`).
    pub timezone: Option<String>,
    /// The exchange's current offset from UTC, in seconds.
    pub gmt_offset_seconds: i32,
    /// The first day the instrument traded.
    pub first_trade: Option<DateTime<Utc>>,
}

/// Highs and lows an alert can be measured against.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Highs {
    /// The symbol.
    pub symbol: Symbol,
    /// The highest price of the last 52 weeks.
    pub fifty_two_week_high: Option<f64>,
    /// The lowest price of the last 52 weeks.
    pub fifty_two_week_low: Option<f64>,
    /// The all-time high over the whole history the upstream has, with the date of the bar that
    /// made it.
    pub all_time_high: Option<(f64, NaiveDate)>,
}

/// Bars of one symbol, with what came with them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// The instrument's description.
    pub meta: SymbolMeta,
    /// The bar size.
    pub interval: Interval,
    /// Valid bars, oldest first, one per time.
    pub bars: Vec<Bar>,
    /// Dividends in the span, oldest first (empty unless asked for).
    pub dividends: Vec<Dividend>,
    /// Splits in the span, oldest first (empty unless asked for).
    pub splits: Vec<Split>,
    /// Rows the upstream sent that were not valid bars (a null element, a zero or non-finite
    /// price, low above high, ...): left out, counted here and in metrics.
    pub skipped: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_round_trip_and_count_back() {
        for range in Range::ALL {
            assert_eq!(range.as_str().parse::<Range>().unwrap(), *range);
        }
        assert!("2w".parse::<Range>().is_err());
        let last = NaiveDate::from_ymd_opt(2024, 3, 31).unwrap();
        assert_eq!(Range::Mo1.start(last), NaiveDate::from_ymd_opt(2024, 2, 29));
        assert_eq!(Range::Y10.start(last), NaiveDate::from_ymd_opt(2014, 3, 31));
        assert_eq!(Range::Ytd.start(last), NaiveDate::from_ymd_opt(2024, 1, 1));
        assert_eq!(Range::Max.start(last), None);
    }

    #[test]
    fn an_empty_span_is_refused() {
        let symbol = Symbol::parse("AAPL").unwrap();
        let t = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert!(HistoryRequest::between(symbol, Interval::D1, t, t).is_err());
    }
}
