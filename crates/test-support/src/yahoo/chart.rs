//! The chart JSON: which stored bars a query selects, weekly/monthly aggregation, the derived
//! `meta`, and serialization in Yahoo's exact shape (serde structs, no string building).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{Datelike, Months, NaiveDate, NaiveTime};
use finstage_domain::{Bar, Interval};
use serde::Serialize;
use serde::ser::{SerializeSeq, Serializer};

use super::market_time::MarketClock;
use super::meta::MockMeta;
use super::query::{ChartQuery, VALID_RANGES, Window};

/// Everything a chart answer needs, copied out of the mock's state under its lock (the bars are
/// shared, not copied).
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    /// The symbol, upper-case.
    pub(crate) symbol: String,
    /// The bars of the requested interval: the daily history for `1d`, `1wk` and `1mo`.
    pub(crate) series: Arc<[Bar]>,
    /// The bars `meta` is derived from: the daily history, or `series` when there is none.
    pub(crate) reference: Arc<[Bar]>,
    /// The test's overrides.
    pub(crate) meta: MockMeta,
    /// Dividends by date (only when the query asked for them).
    pub(crate) dividends: Vec<(NaiveDate, f64)>,
    /// Splits by date as (numerator, denominator) (only when the query asked for them).
    pub(crate) splits: Vec<(NaiveDate, u32, u32)>,
}

/// How a chart is doctored before it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// As stored.
    Normal,
    /// [`Fault::Nulls`](super::Fault::Nulls)'s pattern.
    Nulls,
    /// [`Fault::ZeroPrices`](super::Fault::ZeroPrices)'s pattern.
    ZeroPrices,
    /// [`Fault::EmptyResult`](super::Fault::EmptyResult): meta only.
    Empty,
}

/// One served bar as Yahoo numbers it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Row {
    timestamp: i64,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    volume: u64,
    adjclose: f64,
}

/// A chart answer, ready to serialize.
#[derive(Debug)]
pub(crate) struct Chart {
    rows: Vec<Row>,
    meta: MetaJson,
    events: Option<EventsJson>,
    adjclose: bool,
}

impl Chart {
    /// Selects and prepares what `query` asks of `snapshot`: O(bars served + log(bars held)),
    /// plus one pass over the last year of the reference bars for the 52-week figures.
    pub(crate) fn build(snapshot: &Snapshot, query: &ChartQuery) -> Self {
        let overrides = &snapshot.meta;
        let clock = MarketClock::new(
            overrides.gmtoffset,
            overrides.market_open.unwrap_or(NINE_THIRTY),
            overrides.market_close.unwrap_or(FOUR_PM),
        );
        let series = &snapshot.series[..];
        let (start, end) = select(series, query.window, &clock);
        let served = &series[start..end];

        let mut rows: Vec<Row> = served.iter().map(|bar| row(bar, &clock)).collect();
        if matches!(query.interval, Interval::W1 | Interval::Mo1) {
            rows = aggregate(served, &rows, query.interval, &clock);
        }

        let chart_previous_close = match (start, served.first()) {
            (1.., _) => Some(series[start - 1].close()),
            (0, Some(first)) => Some(first.open()),
            (0, None) => None,
        };
        let meta = derive_meta(snapshot, query, &clock, chart_previous_close);
        let events = match (served.first(), served.last()) {
            (Some(first), Some(last)) => events(
                snapshot,
                clock.local_date(first.time()),
                clock.local_date(last.time()),
                &clock,
            ),
            _ => None,
        };
        Self {
            rows,
            meta,
            events,
            adjclose: query.adjclose,
        }
    }

    /// The first and last timestamps served, if any bar is.
    pub(crate) fn span(&self) -> Option<(i64, i64)> {
        Some((self.rows.first()?.timestamp, self.rows.last()?.timestamp))
    }

    /// The `{"chart":{"result":[…],"error":null}}` body.
    ///
    /// # Errors
    /// Only if serde_json fails, which these types never make it do.
    pub(crate) fn to_json(&self, shape: Shape) -> serde_json::Result<Vec<u8>> {
        let empty = shape == Shape::Empty || self.rows.is_empty();
        let doctor = match shape {
            Shape::Nulls => Doctor::Nulls,
            Shape::ZeroPrices => Doctor::ZeroPrices,
            Shape::Normal | Shape::Empty => Doctor::None,
        };
        let rows = if empty { &[][..] } else { &self.rows[..] };
        let column = |field| (!empty).then_some(Column { rows, field, doctor });
        let result = ResultJson {
            meta: &self.meta,
            timestamp: (!empty).then_some(Timestamps(rows)),
            events: if empty { None } else { self.events.as_ref() },
            indicators: Indicators {
                quote: [QuoteJson {
                    low: column(Field::Low),
                    high: column(Field::High),
                    volume: column(Field::Volume),
                    open: column(Field::Open),
                    close: column(Field::Close),
                }],
                adjclose: self.adjclose.then_some([AdjCloseJson {
                    adjclose: column(Field::AdjClose),
                }]),
            },
        };
        serde_json::to_vec(&Envelope {
            chart: ChartJson {
                result: Some([result]),
                error: None,
            },
        })
    }
}

/// `{"chart":{"result":null,"error":{"code":…,"description":…}}}`.
pub(crate) fn error_json(code: &str, description: &str) -> Vec<u8> {
    let envelope: Envelope<'_> = Envelope {
        chart: ChartJson {
            result: None,
            error: Some(ErrorJson { code, description }),
        },
    };
    // Two strings cannot fail to serialize; the fallback keeps the shape anyway.
    serde_json::to_vec(&envelope).unwrap_or_else(|_| br#"{"chart":{"result":null,"error":null}}"#.to_vec())
}

const NINE_THIRTY: NaiveTime = NaiveTime::from_hms_opt(9, 30, 0).expect("09:30 is a time");
const FOUR_PM: NaiveTime = NaiveTime::from_hms_opt(16, 0, 0).expect("16:00 is a time");
const FOUR_AM: NaiveTime = NaiveTime::from_hms_opt(4, 0, 0).expect("04:00 is a time");
const EIGHT_PM: NaiveTime = NaiveTime::from_hms_opt(20, 0, 0).expect("20:00 is a time");

fn row(bar: &Bar, clock: &MarketClock) -> Row {
    Row {
        timestamp: clock.timestamp(bar.time()),
        open: bar.open(),
        high: bar.high(),
        low: bar.low(),
        close: bar.close(),
        volume: bar.volume(),
        adjclose: bar.adj_close().unwrap_or(bar.close()),
    }
}

/// The index range of `bars` (sorted, oldest first) that `window` selects. Ranges count back
/// from the newest bar held, never from the wall clock.
fn select(bars: &[Bar], window: Window, clock: &MarketClock) -> (usize, usize) {
    let Some(last) = bars.last() else {
        return (0, 0);
    };
    let last_date = clock.local_date(last.time());
    let date_at = |i: usize| clock.local_date(bars[i].time());
    let first_after = |cutoff: NaiveDate| bars.partition_point(|bar| clock.local_date(bar.time()) <= cutoff);
    let len = bars.len();
    match window {
        Window::Days(n) => {
            // Walk back over the last n distinct trading dates.
            let mut start = len;
            let mut dates = 0;
            while start > 0 {
                let date = date_at(start - 1);
                if start == len || date != date_at(start) {
                    if dates == n {
                        break;
                    }
                    dates += 1;
                }
                start -= 1;
            }
            (start, len)
        }
        Window::Months(n) => match last_date.checked_sub_months(Months::new(n)) {
            Some(cutoff) => (first_after(cutoff), len),
            None => (0, len),
        },
        Window::Ytd => match NaiveDate::from_ymd_opt(last_date.year(), 1, 1).and_then(|d| d.pred_opt()) {
            Some(cutoff) => (first_after(cutoff), len),
            None => (0, len),
        },
        Window::Max => (0, len),
        Window::Period { start, end } => {
            let index = |bound: Option<i64>, default: usize| {
                bound.map_or(default, |t| bars.partition_point(|bar| clock.timestamp(bar.time()) < t))
            };
            let (from, to) = (index(start, 0), index(end, len));
            (from, to.max(from))
        }
    }
}

/// Weekly (ISO weeks, Monday to Sunday) or monthly (calendar months) bars from daily ones: open
/// of the first day, highest high, lowest low, close and adjusted close of the last day, summed
/// volume, stamped with the first day's timestamp.
fn aggregate(bars: &[Bar], rows: &[Row], interval: Interval, clock: &MarketClock) -> Vec<Row> {
    let bucket = |bar: &Bar| {
        let date = clock.local_date(bar.time());
        match interval {
            Interval::W1 => (date.iso_week().year(), date.iso_week().week()),
            _ => (date.year(), date.month()),
        }
    };
    let mut out: Vec<Row> = Vec::new();
    let mut current = None;
    for (bar, row) in bars.iter().zip(rows) {
        let key = bucket(bar);
        match out.last_mut() {
            Some(agg) if current == Some(key) => {
                agg.high = agg.high.max(row.high);
                agg.low = agg.low.min(row.low);
                agg.close = row.close;
                agg.adjclose = row.adjclose;
                agg.volume = agg.volume.saturating_add(row.volume);
            }
            _ => {
                out.push(*row);
                current = Some(key);
            }
        }
    }
    out
}

fn events(snapshot: &Snapshot, first: NaiveDate, last: NaiveDate, clock: &MarketClock) -> Option<EventsJson> {
    let within = |date: &NaiveDate| (first..=last).contains(date);
    let dividends: BTreeMap<i64, DividendJson> = snapshot
        .dividends
        .iter()
        .filter(|(date, _)| within(date))
        .map(|&(date, amount)| {
            let date = clock.open_instant(date);
            (date, DividendJson { amount, date })
        })
        .collect();
    let splits: BTreeMap<i64, SplitJson> = snapshot
        .splits
        .iter()
        .filter(|(date, ..)| within(date))
        .map(|&(date, numerator, denominator)| {
            let date = clock.open_instant(date);
            let split = SplitJson {
                date,
                numerator,
                denominator,
                split_ratio: format!("{numerator}:{denominator}"),
            };
            (date, split)
        })
        .collect();
    (!dividends.is_empty() || !splits.is_empty()).then_some(EventsJson { dividends, splits })
}

/// Figures of the reference bars' last day.
struct LastDay {
    date: NaiveDate,
    close: f64,
    high: f64,
    low: f64,
    volume: u64,
    previous_close: Option<f64>,
    time: i64,
}

fn last_day(bars: &[Bar], clock: &MarketClock) -> Option<LastDay> {
    let last = bars.last()?;
    let date = clock.local_date(last.time());
    let start = bars.partition_point(|bar| clock.local_date(bar.time()) < date);
    let day = &bars[start..];
    Some(LastDay {
        date,
        close: last.close(),
        high: day.iter().map(Bar::high).fold(f64::NEG_INFINITY, f64::max),
        low: day.iter().map(Bar::low).fold(f64::INFINITY, f64::min),
        volume: day.iter().map(Bar::volume).fold(0, u64::saturating_add),
        previous_close: start.checked_sub(1).map(|i| bars[i].close()),
        time: if last.time().is_date() {
            clock.close_instant(date)
        } else {
            clock.timestamp(last.time())
        },
    })
}

fn derive_meta(
    snapshot: &Snapshot,
    query: &ChartQuery,
    clock: &MarketClock,
    chart_previous_close: Option<f64>,
) -> MetaJson {
    let m = &snapshot.meta;
    let reference = &snapshot.reference[..];
    let day = last_day(reference, clock);
    let is_index = snapshot.symbol.starts_with('^');
    let or = |value: &Option<String>, default: &str| value.clone().unwrap_or_else(|| default.to_owned());

    let (change, change_percent) = match &day {
        Some(LastDay {
            close,
            previous_close: Some(previous),
            ..
        }) => (Some(close - previous), Some((close - previous) / previous * 100.0)),
        _ => (None, None),
    };
    let (year_high, year_low) = match &day {
        Some(day) => {
            let cutoff = day.date.checked_sub_months(Months::new(12)).unwrap_or(NaiveDate::MIN);
            let from = reference.partition_point(|bar| clock.local_date(bar.time()) <= cutoff);
            let year = &reference[from..];
            (
                Some(year.iter().map(Bar::high).fold(f64::NEG_INFINITY, f64::max)),
                Some(year.iter().map(Bar::low).fold(f64::INFINITY, f64::min)),
            )
        }
        None => (None, None),
    };
    // Dates for the zone figures: the last day, or the epoch when nothing is held.
    let zone_date = day.as_ref().map_or(NaiveDate::default(), |day| day.date);
    let timezone = m.timezone.clone().unwrap_or_else(|| clock.abbreviation_on(zone_date));
    let gmtoffset = clock.offset_on(zone_date);
    let trading_period = day.as_ref().map(|day| {
        let period = |start: i64, end: i64| TradingPeriodJson {
            timezone: timezone.clone(),
            start,
            end,
            gmtoffset,
        };
        let (open, close) = (clock.open_instant(day.date), clock.close_instant(day.date));
        CurrentTradingPeriodJson {
            pre: period(clock.local_instant(day.date, FOUR_AM), open),
            regular: period(open, close),
            post: period(close, clock.local_instant(day.date, EIGHT_PM)),
        }
    });

    MetaJson {
        currency: or(&m.currency, "USD"),
        symbol: snapshot.symbol.clone(),
        exchange_name: or(&m.exchange_name, if is_index { "SNP" } else { "NMS" }),
        full_exchange_name: or(&m.full_exchange_name, if is_index { "SNP" } else { "NasdaqGS" }),
        instrument_type: or(&m.instrument_type, if is_index { "INDEX" } else { "EQUITY" }),
        first_trade_date: m
            .first_trade_date
            .or_else(|| reference.first().map(|bar| clock.timestamp(bar.time()))),
        regular_market_time: m.regular_market_time.or(day.as_ref().map(|day| day.time)),
        has_pre_post_market_data: m.has_pre_post_market_data.unwrap_or(false),
        gmtoffset,
        timezone,
        exchange_timezone_name: or(&m.exchange_timezone_name, "America/New_York"),
        regular_market_price: m.regular_market_price.or(day.as_ref().map(|day| day.close)),
        regular_market_change_percent: m.regular_market_change_percent.or(change_percent),
        fullday_price: m.fullday_price.or(day.as_ref().map(|day| day.close)),
        fullday_change: m.fullday_change.or(change),
        fullday_change_percent: m.fullday_change_percent.or(change_percent),
        fifty_two_week_high: m.fifty_two_week_high.or(year_high),
        fifty_two_week_low: m.fifty_two_week_low.or(year_low),
        regular_market_day_high: m.regular_market_day_high.or(day.as_ref().map(|day| day.high)),
        regular_market_day_low: m.regular_market_day_low.or(day.as_ref().map(|day| day.low)),
        regular_market_volume: m.regular_market_volume.or(day.as_ref().map(|day| day.volume)),
        long_name: or(&m.long_name, &snapshot.symbol),
        short_name: or(&m.short_name, &snapshot.symbol),
        chart_previous_close: m.chart_previous_close.or(chart_previous_close),
        previous_close: if query.window == Window::Days(1) && !query.range_text.is_empty() {
            m.previous_close.or(day.as_ref().and_then(|day| day.previous_close))
        } else {
            None
        },
        price_hint: m.price_hint.unwrap_or(2),
        current_trading_period: trading_period,
        data_granularity: query.interval_text.clone(),
        range: query.range_text.clone(),
        valid_ranges: VALID_RANGES,
    }
}

// ---- JSON shapes: field order and names as in the real capture ----

#[derive(Serialize)]
struct Envelope<'a> {
    chart: ChartJson<'a>,
}

#[derive(Serialize)]
struct ChartJson<'a> {
    result: Option<[ResultJson<'a>; 1]>,
    error: Option<ErrorJson<'a>>,
}

#[derive(Serialize)]
struct ErrorJson<'a> {
    code: &'a str,
    description: &'a str,
}

#[derive(Serialize)]
struct ResultJson<'a> {
    meta: &'a MetaJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<Timestamps<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    events: Option<&'a EventsJson>,
    indicators: Indicators<'a>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct MetaJson {
    currency: String,
    symbol: String,
    exchange_name: String,
    full_exchange_name: String,
    instrument_type: String,
    first_trade_date: Option<i64>,
    regular_market_time: Option<i64>,
    has_pre_post_market_data: bool,
    #[serde(rename = "gmtoffset")]
    gmtoffset: i32,
    timezone: String,
    exchange_timezone_name: String,
    regular_market_price: Option<f64>,
    regular_market_change_percent: Option<f64>,
    fullday_price: Option<f64>,
    fullday_change: Option<f64>,
    fullday_change_percent: Option<f64>,
    fifty_two_week_high: Option<f64>,
    fifty_two_week_low: Option<f64>,
    regular_market_day_high: Option<f64>,
    regular_market_day_low: Option<f64>,
    regular_market_volume: Option<u64>,
    long_name: String,
    short_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    chart_previous_close: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_close: Option<f64>,
    price_hint: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    current_trading_period: Option<CurrentTradingPeriodJson>,
    data_granularity: String,
    range: String,
    valid_ranges: [&'static str; 11],
}

#[derive(Debug, Serialize)]
struct CurrentTradingPeriodJson {
    pre: TradingPeriodJson,
    regular: TradingPeriodJson,
    post: TradingPeriodJson,
}

#[derive(Debug, Serialize)]
struct TradingPeriodJson {
    timezone: String,
    start: i64,
    end: i64,
    gmtoffset: i32,
}

#[derive(Debug, Serialize)]
struct EventsJson {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    dividends: BTreeMap<i64, DividendJson>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    splits: BTreeMap<i64, SplitJson>,
}

#[derive(Debug, Serialize)]
struct DividendJson {
    amount: f64,
    date: i64,
}

#[derive(Debug, Serialize)]
struct SplitJson {
    date: i64,
    numerator: u32,
    denominator: u32,
    #[serde(rename = "splitRatio")]
    split_ratio: String,
}

#[derive(Serialize)]
struct Indicators<'a> {
    quote: [QuoteJson<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    adjclose: Option<[AdjCloseJson<'a>; 1]>,
}

/// Yahoo's key order: low, high, volume, open, close.
#[derive(Serialize)]
struct QuoteJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    low: Option<Column<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    high: Option<Column<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    volume: Option<Column<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    open: Option<Column<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    close: Option<Column<'a>>,
}

#[derive(Serialize)]
struct AdjCloseJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    adjclose: Option<Column<'a>>,
}

/// The `timestamp` array.
struct Timestamps<'a>(&'a [Row]);

impl Serialize for Timestamps<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|row| row.timestamp))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Open,
    High,
    Low,
    Close,
    Volume,
    AdjClose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Doctor {
    None,
    Nulls,
    ZeroPrices,
}

/// One value array, written straight from the rows (no intermediate vectors).
struct Column<'a> {
    rows: &'a [Row],
    field: Field,
    doctor: Doctor,
}

impl Serialize for Column<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.rows.len()))?;
        for (i, row) in self.rows.iter().enumerate() {
            match cell(self.doctor, i, row, self.field) {
                Cell::Null => seq.serialize_element(&())?,
                Cell::Price(value) => seq.serialize_element(&value)?,
                Cell::Volume(value) => seq.serialize_element(&value)?,
            }
        }
        seq.end()
    }
}

enum Cell {
    Null,
    Price(f64),
    Volume(u64),
}

/// The value of `field` for served bar `i`, after the doctoring documented on
/// [`Fault::Nulls`](super::Fault::Nulls) and [`Fault::ZeroPrices`](super::Fault::ZeroPrices).
fn cell(doctor: Doctor, i: usize, row: &Row, field: Field) -> Cell {
    match (doctor, i % 3, field) {
        (Doctor::Nulls, 0, _) | (Doctor::Nulls, 1, Field::Close) => Cell::Null,
        (Doctor::ZeroPrices, 0, Field::Open) => Cell::Price(0.0),
        (Doctor::ZeroPrices, 1, Field::Volume) => Cell::Volume(0),
        (Doctor::ZeroPrices, 1, _) => Cell::Price(0.0),
        (_, _, field) => match field {
            Field::Open => Cell::Price(row.open),
            Field::High => Cell::Price(row.high),
            Field::Low => Cell::Price(row.low),
            Field::Close => Cell::Price(row.close),
            Field::Volume => Cell::Volume(row.volume),
            Field::AdjClose => Cell::Price(row.adjclose),
        },
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn clock() -> MarketClock {
        MarketClock::new(None, NINE_THIRTY, FOUR_PM)
    }

    /// Weekdays from `start`, prices rising by 1 a day.
    fn daily(start: NaiveDate, count: usize) -> Vec<Bar> {
        start
            .iter_days()
            .filter(|d| d.weekday().num_days_from_monday() < 5)
            .take(count)
            .enumerate()
            .map(|(i, d)| {
                let p = 10.0 + i as f64;
                Bar::new(d, p, p + 0.5, p - 0.5, p + 0.25, 100).unwrap()
            })
            .collect()
    }

    fn dates(bars: &[Bar], (start, end): (usize, usize)) -> Vec<NaiveDate> {
        bars[start..end].iter().map(|b| clock().local_date(b.time())).collect()
    }

    #[test]
    fn day_and_month_windows_count_back_from_the_newest_bar() {
        // 2013-01-01 (Tue) .. : 70 weekdays, the last is 2013-04-08 (Mon).
        let bars = daily(date(2013, 1, 1), 70);
        assert_eq!(clock().local_date(bars[69].time()), date(2013, 4, 8));
        assert_eq!(
            dates(&bars, select(&bars, Window::Days(1), &clock())),
            [date(2013, 4, 8)]
        );
        assert_eq!(select(&bars, Window::Days(5), &clock()), (65, 70));
        // One month back from 8 April is 8 March: dates after it, so from 11 March (Monday).
        let (start, _) = select(&bars, Window::Months(1), &clock());
        assert_eq!(clock().local_date(bars[start].time()), date(2013, 3, 11));
        assert_eq!(clock().local_date(bars[start - 1].time()), date(2013, 3, 8));
        assert_eq!(select(&bars, Window::Ytd, &clock()), (0, 70));
        assert_eq!(select(&bars, Window::Max, &clock()), (0, 70));
        assert_eq!(select(&bars, Window::Days(500), &clock()), (0, 70));
        assert_eq!(select(&[], Window::Max, &clock()), (0, 0));
    }

    #[test]
    fn day_windows_count_distinct_dates_of_intraday_bars() {
        // Three days of 30-minute bars from 09:30 to 15:30 EST.
        let mut bars = Vec::new();
        for day in [2, 3, 4] {
            for k in 0..13 {
                let ts = Utc.with_ymd_and_hms(2013, 1, day, 14, 30, 0).unwrap() + chrono::TimeDelta::minutes(30 * k);
                bars.push(Bar::new(ts, 1.0, 1.0, 1.0, 1.0, 1).unwrap());
            }
        }
        assert_eq!(select(&bars, Window::Days(1), &clock()), (26, 39));
        assert_eq!(select(&bars, Window::Days(2), &clock()), (13, 39));
        assert_eq!(select(&bars, Window::Days(5), &clock()), (0, 39));
    }

    #[test]
    fn periods_are_half_open_on_yahoo_timestamps() {
        let bars = daily(date(2013, 1, 1), 10);
        let ts = |i: usize| clock().timestamp(bars[i].time());
        let period = |start, end| Window::Period { start, end };
        assert_eq!(select(&bars, period(Some(ts(2)), Some(ts(5))), &clock()), (2, 5));
        assert_eq!(
            select(&bars, period(Some(ts(2) + 1), Some(ts(5) + 1)), &clock()),
            (3, 6)
        );
        assert_eq!(select(&bars, period(None, Some(ts(1))), &clock()), (0, 1));
        assert_eq!(select(&bars, period(Some(ts(9)), None), &clock()), (9, 10));
        assert_eq!(select(&bars, period(Some(0), Some(1)), &clock()), (0, 0));
    }

    #[test]
    fn weekly_and_monthly_aggregation() {
        // 2013-01-28 (Mon) .. 2013-02-08 (Fri): two ISO weeks, two months.
        let bars = daily(date(2013, 1, 28), 10);
        let rows: Vec<Row> = bars.iter().map(|b| row(b, &clock())).collect();
        let weeks = aggregate(&bars, &rows, Interval::W1, &clock());
        assert_eq!(weeks.len(), 2);
        assert_eq!(weeks[0].timestamp, rows[0].timestamp);
        assert_eq!((weeks[0].open, weeks[0].close), (rows[0].open, rows[4].close));
        assert_eq!((weeks[0].high, weeks[0].low), (rows[4].high, rows[0].low));
        assert_eq!(weeks[0].volume, 500);
        assert_eq!(weeks[1].timestamp, rows[5].timestamp);
        let months = aggregate(&bars, &rows, Interval::Mo1, &clock());
        assert_eq!(months.len(), 2);
        // January: 28..31 (4 days); February: 1..8 (6 days).
        assert_eq!((months[0].volume, months[1].volume), (400, 600));
        assert_eq!(months[1].timestamp, rows[4].timestamp);
        assert_eq!(months[1].adjclose, rows[9].adjclose);
    }

    #[test]
    fn doctoring_patterns() {
        let r = Row {
            timestamp: 0,
            open: 1.0,
            high: 2.0,
            low: 0.5,
            close: 1.5,
            volume: 7,
            adjclose: 1.4,
        };
        let all = [
            Field::Open,
            Field::High,
            Field::Low,
            Field::Close,
            Field::Volume,
            Field::AdjClose,
        ];
        let is_null = |d, i, f| matches!(cell(d, i, &r, f), Cell::Null);
        assert!(all.iter().all(|&f| is_null(Doctor::Nulls, 3, f)));
        assert!(is_null(Doctor::Nulls, 4, Field::Close));
        assert!(!is_null(Doctor::Nulls, 4, Field::AdjClose) && !is_null(Doctor::Nulls, 4, Field::Open));
        assert!(all.iter().all(|&f| !is_null(Doctor::Nulls, 5, f)));
        assert!(matches!(cell(Doctor::ZeroPrices, 0, &r, Field::Open), Cell::Price(0.0)));
        assert!(matches!(cell(Doctor::ZeroPrices, 0, &r, Field::High), Cell::Price(2.0)));
        assert!(matches!(
            cell(Doctor::ZeroPrices, 1, &r, Field::AdjClose),
            Cell::Price(0.0)
        ));
        assert!(matches!(
            cell(Doctor::ZeroPrices, 1, &r, Field::Volume),
            Cell::Volume(0)
        ));
        assert!(matches!(
            cell(Doctor::ZeroPrices, 2, &r, Field::Close),
            Cell::Price(1.5)
        ));
    }
}
