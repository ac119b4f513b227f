//! [`MockMeta`]: what the mock sends in a chart result's `meta`, each field either set by the
//! test or derived from the stored bars.

use chrono::NaiveTime;

/// Overrides for a symbol's chart `meta`. Every field left `None` takes the default named on it,
/// most of them derived from the symbol's stored bars: the daily history when there is one,
/// otherwise the series being served.
///
/// "The last day" is the newest trading date held; "the last bar" is the newest bar.
///
/// ```
/// use finstage_test_support::MockMeta;
///
/// let meta = MockMeta {
///     currency: Some("EUR".into()),
///     exchange_name: Some("GER".into()),
///     gmtoffset: Some(3600),
///     timezone: Some("CET".into()),
///     exchange_timezone_name: Some("Europe/Berlin".into()),
///     ..MockMeta::default()
/// };
/// assert_eq!(meta.long_name, None);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MockMeta {
    /// `currency`; default `"USD"`.
    pub currency: Option<String>,
    /// `exchangeName`; default `"NMS"` (`"SNP"` for a symbol starting with `^`).
    pub exchange_name: Option<String>,
    /// `fullExchangeName`; default `"NasdaqGS"` (`"SNP"` for a symbol starting with `^`).
    pub full_exchange_name: Option<String>,
    /// `instrumentType`; default `"EQUITY"` (`"INDEX"` for a symbol starting with `^`).
    pub instrument_type: Option<String>,
    /// `firstTradeDate` (epoch seconds); default the first bar's timestamp (`null` without bars).
    pub first_trade_date: Option<i64>,
    /// `regularMarketTime` (epoch seconds); default the last day's market close for daily bars,
    /// the last bar's timestamp for intraday bars.
    pub regular_market_time: Option<i64>,
    /// `hasPrePostMarketData`; default `false`.
    pub has_pre_post_market_data: Option<bool>,
    /// `gmtoffset` (seconds east of UTC). Default: New York's, with US daylight saving time
    /// (`-14400` or `-18000`, the one in force on the last day), and every timestamp follows New
    /// York's offset *on its own date* (09:30 EDT = 13:30 UTC in summer, 14:30 UTC in winter).
    /// When set, this one fixed offset is used for every date.
    pub gmtoffset: Option<i32>,
    /// `timezone` and the trading periods' `timezone`; default `"EDT"`/`"EST"` for New York,
    /// `"UTC"` or `"GMT+h"` for a fixed `gmtoffset`.
    pub timezone: Option<String>,
    /// `exchangeTimezoneName`; default `"America/New_York"` (informative only: the offsets come
    /// from `gmtoffset`).
    pub exchange_timezone_name: Option<String>,
    /// `regularMarketPrice`; default the last bar's close.
    pub regular_market_price: Option<f64>,
    /// `regularMarketChangePercent`; default `100 × (last close − previous day's close) /
    /// previous day's close` (`null` without a previous day).
    pub regular_market_change_percent: Option<f64>,
    /// `fulldayPrice`; default the last bar's close.
    pub fullday_price: Option<f64>,
    /// `fulldayChange`; default last close − previous day's close.
    pub fullday_change: Option<f64>,
    /// `fulldayChangePercent`; default as `regularMarketChangePercent`.
    pub fullday_change_percent: Option<f64>,
    /// `fiftyTwoWeekHigh`; default the highest high over trading dates after the last day minus
    /// 12 months.
    pub fifty_two_week_high: Option<f64>,
    /// `fiftyTwoWeekLow`; default the lowest low over the same dates.
    pub fifty_two_week_low: Option<f64>,
    /// `regularMarketDayHigh`; default the highest high of the last day.
    pub regular_market_day_high: Option<f64>,
    /// `regularMarketDayLow`; default the lowest low of the last day.
    pub regular_market_day_low: Option<f64>,
    /// `regularMarketVolume`; default the last day's total volume.
    pub regular_market_volume: Option<u64>,
    /// `longName`; default the symbol.
    pub long_name: Option<String>,
    /// `shortName`; default the symbol.
    pub short_name: Option<String>,
    /// `chartPreviousClose`, sent for every request when set. Default: the close of the bar just
    /// before the first served one, or the first served bar's open when the range starts at the
    /// first bar held; left out when nothing is held.
    pub chart_previous_close: Option<f64>,
    /// `previousClose`, which Yahoo (and the mock) sends only for `range=1d`; default the previous
    /// day's close (left out without a previous day).
    pub previous_close: Option<f64>,
    /// `priceHint`; default `2`.
    pub price_hint: Option<u32>,
    /// The regular session's opening time, local; default 09:30. A daily bar's timestamp is this
    /// time on its date, and `currentTradingPeriod.regular` starts here (`pre` starts at 04:00).
    pub market_open: Option<NaiveTime>,
    /// The regular session's closing time, local; default 16:00 (`post` ends at 20:00).
    pub market_close: Option<NaiveTime>,
}
