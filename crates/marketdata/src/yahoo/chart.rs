//! Yahoo's v8 chart JSON: the wire shapes, and their conversion into validated domain values.
//!
//! The wire structs accept everything Yahoo is known to send (every field optional, `null`
//! anywhere in the arrays) and nothing is trusted: a row becomes a [`Bar`] only if every one of
//! its prices and its volume is present, finite and consistent (see [`Bar::new`]); otherwise it
//! is skipped and counted. A zero price never becomes a bar.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use finstage_domain::{Bar, BarTime, Interval, Quote, Symbol};
use serde::Deserialize;

use crate::{Dividend, History, MarketDataError, Split, SymbolMeta};

const PROVIDER: &str = "yahoo";

#[derive(Debug, Deserialize)]
struct Envelope {
    chart: Chart,
}

#[derive(Debug, Deserialize)]
struct Chart {
    #[serde(default)]
    result: Option<Vec<ChartResult>>,
    #[serde(default)]
    error: Option<ChartError>,
}

/// The `chart.error` object Yahoo sends with 404 and 422 (and sometimes 200).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ChartError {
    #[serde(default)]
    pub(crate) code: Option<String>,
    #[serde(default)]
    pub(crate) description: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ChartResult {
    #[serde(default)]
    meta: Option<Meta>,
    #[serde(default)]
    timestamp: Option<Vec<Option<i64>>>,
    #[serde(default)]
    events: Option<Events>,
    #[serde(default)]
    indicators: Option<Indicators>,
}

/// `chart.result[0].meta`. Every field may be missing or null.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Meta {
    pub(crate) currency: Option<String>,
    pub(crate) symbol: Option<String>,
    pub(crate) exchange_name: Option<String>,
    pub(crate) full_exchange_name: Option<String>,
    pub(crate) instrument_type: Option<String>,
    pub(crate) first_trade_date: Option<i64>,
    pub(crate) regular_market_time: Option<i64>,
    pub(crate) gmtoffset: Option<i32>,
    pub(crate) exchange_timezone_name: Option<String>,
    pub(crate) regular_market_price: Option<f64>,
    pub(crate) fifty_two_week_high: Option<f64>,
    pub(crate) fifty_two_week_low: Option<f64>,
    pub(crate) regular_market_day_high: Option<f64>,
    pub(crate) regular_market_day_low: Option<f64>,
    pub(crate) regular_market_volume: Option<f64>,
    pub(crate) long_name: Option<String>,
    pub(crate) short_name: Option<String>,
    pub(crate) chart_previous_close: Option<f64>,
    pub(crate) previous_close: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
struct Indicators {
    #[serde(default)]
    quote: Option<Vec<QuoteArrays>>,
    #[serde(default)]
    adjclose: Option<Vec<AdjCloseArray>>,
}

#[derive(Debug, Default, Deserialize)]
struct QuoteArrays {
    #[serde(default)]
    open: Option<Vec<Option<f64>>>,
    #[serde(default)]
    high: Option<Vec<Option<f64>>>,
    #[serde(default)]
    low: Option<Vec<Option<f64>>>,
    #[serde(default)]
    close: Option<Vec<Option<f64>>>,
    #[serde(default)]
    volume: Option<Vec<Option<f64>>>,
}

#[derive(Debug, Default, Deserialize)]
struct AdjCloseArray {
    #[serde(default)]
    adjclose: Option<Vec<Option<f64>>>,
}

#[derive(Debug, Default, Deserialize)]
struct Events {
    #[serde(default)]
    dividends: Option<HashMap<String, DividendEvent>>,
    #[serde(default)]
    splits: Option<HashMap<String, SplitEvent>>,
}

#[derive(Debug, Deserialize)]
struct DividendEvent {
    amount: Option<f64>,
    date: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct SplitEvent {
    date: Option<i64>,
    numerator: Option<f64>,
    denominator: Option<f64>,
}

/// A chart response, parsed and validated.
#[derive(Debug, Clone)]
pub(crate) struct ParsedChart {
    pub(crate) meta: Meta,
    pub(crate) history: History,
}

/// Reads the `chart.error` of an error body (404, 422), if the body is chart JSON at all.
pub(crate) fn parse_error(body: &[u8]) -> Option<ChartError> {
    serde_json::from_slice::<Envelope>(body).ok()?.chart.error
}

/// Parses a 200 chart body for `symbol`.
///
/// # Errors
/// - [`MarketDataError::Malformed`]: not JSON, not the chart shape, arrays of different lengths;
/// - [`MarketDataError::NotFound`] / [`MarketDataError::InvalidRange`]: a `chart.error` in a 200;
/// - [`MarketDataError::NoData`]: no result.
pub(crate) fn parse_chart(body: &[u8], symbol: Symbol, interval: Interval) -> Result<ParsedChart, MarketDataError> {
    let malformed = |message: String| MarketDataError::Malformed {
        provider: PROVIDER,
        symbol,
        message,
    };
    let envelope: Envelope = serde_json::from_slice(body).map_err(|e| malformed(format!("not chart JSON: {e}")))?;
    if let Some(error) = envelope.chart.error {
        return Err(chart_error(error, symbol));
    }
    let Some(result) = envelope
        .chart
        .result
        .and_then(|mut r| (!r.is_empty()).then(|| r.swap_remove(0)))
    else {
        return Err(MarketDataError::NoData {
            provider: PROVIDER,
            symbol,
        });
    };
    let meta = result.meta.unwrap_or_default();
    let offset = meta.gmtoffset.unwrap_or(0);
    let timestamps = result.timestamp.unwrap_or_default();
    let mut bars = Vec::with_capacity(timestamps.len());
    let mut skipped = 0;
    if !timestamps.is_empty() {
        let indicators = result.indicators.unwrap_or_default();
        let quote = indicators
            .quote
            .and_then(|mut q| (!q.is_empty()).then(|| q.swap_remove(0)))
            .ok_or_else(|| malformed("timestamps without indicators.quote".to_owned()))?;
        let n = timestamps.len();
        let column = |name: &str, values: Option<Vec<Option<f64>>>| match values {
            Some(values) if values.len() == n => Ok(values),
            Some(values) => Err(malformed(format!(
                "{name} has {} values for {n} timestamps",
                values.len()
            ))),
            None => Err(malformed(format!("indicators.quote has no {name}"))),
        };
        let open = column("open", quote.open)?;
        let high = column("high", quote.high)?;
        let low = column("low", quote.low)?;
        let close = column("close", quote.close)?;
        let volume = column("volume", quote.volume)?;
        let adjclose = match indicators
            .adjclose
            .and_then(|mut a| (!a.is_empty()).then(|| a.swap_remove(0).adjclose))
            .flatten()
        {
            Some(values) if values.len() == n => Some(values),
            Some(values) => {
                return Err(malformed(format!(
                    "adjclose has {} values for {n} timestamps",
                    values.len()
                )));
            }
            None => None,
        };
        for i in 0..n {
            let row = (timestamps[i], open[i], high[i], low[i], close[i], volume[i]);
            let (Some(ts), Some(o), Some(h), Some(l), Some(c), Some(v)) = row else {
                skipped += 1;
                continue;
            };
            let Some(time) = bar_time(ts, offset, interval) else {
                skipped += 1;
                continue;
            };
            let Some(volume) = whole_volume(v) else {
                skipped += 1;
                continue;
            };
            let Ok(mut bar) = Bar::new(time, o, h, l, c, volume) else {
                skipped += 1;
                continue;
            };
            if let Some(adj) = adjclose.as_ref().and_then(|a| a[i]) {
                // An invalid adjusted close loses only itself, not the bar.
                if let Ok(adjusted) = bar.with_adj_close(adj) {
                    bar = adjusted;
                }
            }
            bars.push(bar);
        }
        // Oldest first, one bar per time: Yahoo repeats the live bar at the end of a range now
        // and then; the later row is the fresher one.
        if bars.windows(2).any(|w| w[0].time() >= w[1].time()) {
            let before = bars.len();
            bars.reverse();
            bars.sort_by_key(Bar::time);
            bars.dedup_by_key(|b| b.time());
            skipped += before - bars.len();
        }
    }
    let (dividends, splits) = events(result.events, offset);
    let meta_out = symbol_meta(&meta, symbol);
    Ok(ParsedChart {
        history: History {
            meta: meta_out,
            interval,
            bars,
            dividends,
            splits,
            skipped,
        },
        meta,
    })
}

/// Maps a `chart.error` to the typed error it means.
pub(crate) fn chart_error(error: ChartError, symbol: Symbol) -> MarketDataError {
    let code = error.code.unwrap_or_default();
    let description = error.description.unwrap_or_default();
    match code.as_str() {
        "Not Found" => MarketDataError::NotFound {
            provider: PROVIDER,
            symbol,
        },
        "Unprocessable Entity" | "Bad Request" => MarketDataError::InvalidRange {
            provider: PROVIDER,
            symbol,
            message: excerpt(&description),
        },
        _ => MarketDataError::Malformed {
            provider: PROVIDER,
            symbol,
            message: excerpt(&format!("chart.error {code}: {description}")),
        },
    }
}

/// The quote a chart's meta describes.
pub(crate) fn quote_from_meta(meta: &Meta, symbol: Symbol) -> Result<Quote, MarketDataError> {
    let no_data = || MarketDataError::NoData {
        provider: PROVIDER,
        symbol,
    };
    let price = meta.regular_market_price.ok_or_else(no_data)?;
    let time = meta
        .regular_market_time
        .and_then(|t| DateTime::from_timestamp(t, 0))
        .ok_or_else(no_data)?;
    // A zero or non-finite price is Yahoo's placeholder, not a price.
    let mut quote = Quote::new(symbol, price, time).map_err(|_| no_data())?;
    // The optional details are taken when valid and left out when not: a quote is worth more
    // without a bogus day range than not at all.
    if let Some(previous) = meta.previous_close.or(meta.chart_previous_close) {
        quote = quote.with_previous_close(previous).unwrap_or(quote);
    }
    if let (Some(low), Some(high)) = (meta.regular_market_day_low, meta.regular_market_day_high) {
        quote = quote.with_day_range(low, high).unwrap_or(quote);
    }
    if let Some(volume) = meta.regular_market_volume.and_then(whole_volume) {
        quote = quote.with_volume(volume).unwrap_or(quote);
    }
    if let Some(currency) = meta.currency.as_deref() {
        quote = quote.with_currency(currency).unwrap_or(quote);
    }
    Ok(quote)
}

pub(crate) fn symbol_meta(meta: &Meta, asked: Symbol) -> SymbolMeta {
    let symbol = meta
        .symbol
        .as_deref()
        .and_then(|s| Symbol::parse(s).ok())
        .unwrap_or(asked);
    SymbolMeta {
        symbol,
        name: meta.long_name.clone().or_else(|| meta.short_name.clone()),
        currency: meta.currency.clone(),
        exchange: meta.exchange_name.clone(),
        full_exchange_name: meta.full_exchange_name.clone(),
        instrument_type: meta.instrument_type.clone(),
        timezone: meta.exchange_timezone_name.clone(),
        gmt_offset_seconds: meta.gmtoffset.unwrap_or(0),
        first_trade: meta.first_trade_date.and_then(|t| DateTime::from_timestamp(t, 0)),
    }
}

/// A daily (or longer) bar's timestamp is the session's opening instant: its trading date is
/// the date in the exchange's time zone, found with the meta's `gmtoffset`.
fn bar_time(ts: i64, gmt_offset: i32, interval: Interval) -> Option<BarTime> {
    let instant = DateTime::from_timestamp(ts, 0)?;
    if interval.is_intraday() {
        Some(BarTime::Timestamp(instant))
    } else {
        Some(BarTime::Date(local_date(instant, gmt_offset)?))
    }
}

fn local_date(instant: DateTime<Utc>, gmt_offset: i32) -> Option<NaiveDate> {
    Some(
        instant
            .checked_add_signed(TimeDelta::seconds(i64::from(gmt_offset)))?
            .date_naive(),
    )
}

/// Volumes come as JSON numbers; only whole, non-negative, finite ones are volumes.
fn whole_volume(v: f64) -> Option<u64> {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    (v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < 1.8e19).then_some(v as u64)
}

fn events(events: Option<Events>, offset: i32) -> (Vec<Dividend>, Vec<Split>) {
    let Some(events) = events else {
        return (Vec::new(), Vec::new());
    };
    let date = |ts: Option<i64>, key: &str| {
        let ts = ts.or_else(|| key.parse().ok())?;
        local_date(DateTime::from_timestamp(ts, 0)?, offset)
    };
    let mut dividends: Vec<Dividend> = events
        .dividends
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(key, d)| {
            let amount = d.amount.filter(|a| a.is_finite() && *a > 0.0)?;
            Some(Dividend {
                date: date(d.date, &key)?,
                amount,
            })
        })
        .collect();
    dividends.sort_by_key(|d| d.date);
    let ratio_part = |x: Option<f64>| {
        let x = x.filter(|x| x.is_finite() && *x >= 1.0 && x.fract() == 0.0 && *x <= f64::from(u32::MAX))?;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Some(x as u32)
    };
    let mut splits: Vec<Split> = events
        .splits
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(key, s)| {
            Some(Split {
                date: date(s.date, &key)?,
                numerator: ratio_part(s.numerator)?,
                denominator: ratio_part(s.denominator)?,
            })
        })
        .collect();
    splits.sort_by_key(|s| s.date);
    (dividends, splits)
}

/// At most 200 characters of an upstream text, for messages.
pub(crate) fn excerpt(text: &str) -> String {
    const MAX: usize = 200;
    let trimmed = text.trim();
    match trimmed.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &trimmed[..cut]),
        None => trimmed.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::prop_assert;
    use proptest::prelude::prop_assert_eq;

    use super::*;

    fn aapl() -> Symbol {
        Symbol::parse("AAPL").unwrap()
    }

    fn body(rows: &str) -> String {
        format!(
            r#"{{"chart":{{"result":[{{"meta":{{"currency":"USD","symbol":"AAPL","gmtoffset":-14400,"regularMarketPrice":10.5,"regularMarketTime":1700000000}},{rows}}}],"error":null}}}}"#
        )
    }

    #[test]
    fn null_and_zero_rows_are_skipped_never_stored() {
        let json = body(
            r#""timestamp":[1700055000,1700141400,1700227800,1700314200],
               "indicators":{"quote":[{"open":[10,null,0,11],"high":[11,12,12,12],"low":[9,9,9,10],"close":[10.5,11,11,11.5],"volume":[100,200,300,null]}],
               "adjclose":[{"adjclose":[10.4,11,11,11.4]}]}"#,
        );
        let parsed = parse_chart(json.as_bytes(), aapl(), Interval::D1).unwrap();
        let bars = &parsed.history.bars;
        assert_eq!(bars.len(), 1);
        assert_eq!(parsed.history.skipped, 3);
        assert_eq!(
            bars[0].time(),
            BarTime::Date(NaiveDate::from_ymd_opt(2023, 11, 15).unwrap())
        );
        assert_eq!(bars[0].adj_close(), Some(10.4));
    }

    #[test]
    fn arrays_of_different_lengths_are_malformed() {
        let json = body(
            r#""timestamp":[1700055000,1700141400],
               "indicators":{"quote":[{"open":[10],"high":[11,12],"low":[9,9],"close":[10.5,11],"volume":[1,2]}]}"#,
        );
        let err = parse_chart(json.as_bytes(), aapl(), Interval::D1).unwrap_err();
        assert!(
            matches!(err, MarketDataError::Malformed { ref message, .. } if message.contains("open has 1 values")),
            "{err}"
        );
    }

    #[test]
    fn a_repeated_live_bar_keeps_the_later_row() {
        let json = body(
            r#""timestamp":[1700055000,1700141400,1700141400],
               "indicators":{"quote":[{"open":[10,11,11],"high":[11,12,13],"low":[9,9,9],"close":[10.5,11,12.5],"volume":[1,2,3]}]}"#,
        );
        let parsed = parse_chart(json.as_bytes(), aapl(), Interval::D1).unwrap();
        assert_eq!(parsed.history.bars.len(), 2);
        assert_eq!(parsed.history.bars[1].close(), 12.5);
        assert_eq!(parsed.history.skipped, 1);
    }

    #[test]
    fn a_chart_error_in_a_200_is_typed() {
        let json = r#"{"chart":{"result":null,"error":{"code":"Not Found","description":"No data found, symbol may be delisted"}}}"#;
        assert!(matches!(
            parse_chart(json.as_bytes(), aapl(), Interval::D1),
            Err(MarketDataError::NotFound { .. })
        ));
        let json = r#"{"chart":{"result":[],"error":null}}"#;
        assert!(matches!(
            parse_chart(json.as_bytes(), aapl(), Interval::D1),
            Err(MarketDataError::NoData { .. })
        ));
    }

    #[test]
    fn a_zero_price_is_not_a_quote() {
        let meta = Meta {
            regular_market_price: Some(0.0),
            regular_market_time: Some(1_700_000_000),
            ..Meta::default()
        };
        assert!(matches!(
            quote_from_meta(&meta, aapl()),
            Err(MarketDataError::NoData { .. })
        ));
    }

    const SOX: &[u8] = include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../test-support/data/yahoo/chart_SOX_1d_1mo_captured-2026-10-05.json"
    ));
    const NOT_FOUND: &[u8] = include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../test-support/data/yahoo/chart_error_404_not_found.json"
    ));

    #[test]
    fn the_real_index_capture_parses() {
        let sox = Symbol::parse("^SOX").unwrap();
        let parsed = parse_chart(SOX, sox, Interval::D1).unwrap();
        let history = &parsed.history;
        assert_eq!(history.bars.len() + history.skipped, 20);
        assert!(
            history.bars.len() >= 19,
            "{} bars, {} skipped",
            history.bars.len(),
            history.skipped
        );
        // 1788874200 is 2026-09-08 13:30 UTC: 09:30 in New York, the session's date.
        assert_eq!(
            history.bars[0].time(),
            BarTime::Date(NaiveDate::from_ymd_opt(2026, 9, 8).unwrap())
        );
        assert!(history.bars.windows(2).all(|w| w[0].time() < w[1].time()));
        assert!(history.bars.iter().all(|b| b.volume() == 0), "an index has no volume");
        assert_eq!(history.meta.symbol, sox);
        assert_eq!(history.meta.currency.as_deref(), Some("USD"));
        assert_eq!(history.meta.timezone.as_deref(), Some("America/New_York"));
        assert_eq!(history.meta.gmt_offset_seconds, -14400);
        assert_eq!(history.meta.name.as_deref(), Some("PHLX Semiconductor"));
        let quote = quote_from_meta(&parsed.meta, sox).unwrap();
        assert_eq!(quote.price(), 13128.23);
        assert_eq!((quote.day_low(), quote.day_high()), (Some(13004.668), Some(13152.674)));
        assert_eq!(quote.previous_close(), Some(11735.26));
        assert_eq!(quote.volume(), Some(0));
        assert_eq!(parsed.meta.fifty_two_week_high, Some(14655.29));
    }

    #[test]
    fn the_real_404_body_is_an_unknown_symbol() {
        let error = parse_error(NOT_FOUND).unwrap();
        let nope = Symbol::parse("NOPE").unwrap();
        assert!(matches!(chart_error(error, nope), MarketDataError::NotFound { .. }));
        assert!(matches!(
            parse_chart(NOT_FOUND, nope, Interval::D1),
            Err(MarketDataError::NotFound { .. })
        ));
    }

    type Row = (Option<f64>, Option<f64>, Option<f64>, Option<f64>, Option<f64>);

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse_chart(&body, aapl(), Interval::D1);
            let _ = parse_error(&body);
        }

        #[test]
        fn cut_real_bodies_never_panic(cut in 0usize..4_000) {
            let cut = cut.min(SOX.len());
            let result = parse_chart(&SOX[..cut], aapl(), Interval::D1);
            prop_assert!(cut == SOX.len() || result.is_err());
        }

        #[test]
        fn random_rows_give_only_valid_bars(rows in proptest::collection::vec(
            (proptest::option::of(-10.0f64..100.0), proptest::option::of(-10.0f64..100.0), proptest::option::of(-10.0f64..100.0),
             proptest::option::of(-10.0f64..100.0), proptest::option::of(0.0f64..1e6)), 1..50)) {
            let col = |f: &dyn Fn(&Row) -> Option<f64>| {
                let values: Vec<String> = rows.iter().map(|r| f(r).map_or("null".to_owned(), |v| v.to_string())).collect();
                values.join(",")
            };
            let timestamps: Vec<String> = (0..rows.len()).map(|i| (1_700_055_000 + 86_400 * i as i64).to_string()).collect();
            let json = body(&format!(
                r#""timestamp":[{}],"indicators":{{"quote":[{{"open":[{}],"high":[{}],"low":[{}],"close":[{}],"volume":[{}]}}]}}"#,
                timestamps.join(","), col(&|r| r.0), col(&|r| r.1), col(&|r| r.2), col(&|r| r.3), col(&|r| r.4)
            ));
            let parsed = parse_chart(json.as_bytes(), aapl(), Interval::D1).unwrap();
            prop_assert_eq!(parsed.history.bars.len() + parsed.history.skipped, rows.len());
            for bar in &parsed.history.bars {
                prop_assert!(bar.low() > 0.0 && bar.low() <= bar.open().min(bar.close()) && bar.high() >= bar.open().max(bar.close()));
            }
        }
    }

    #[test]
    fn excerpts_are_cut_on_a_char_boundary() {
        let long = "é".repeat(300);
        assert_eq!(excerpt(&long).chars().count(), 201);
    }
}
