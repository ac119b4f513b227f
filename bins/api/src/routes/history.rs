//! Stored bars and highs: `GET /v1/symbols/{symbol}/history` (daily bars from `daily_bars`,
//! intraday from `intraday_bars`) and `GET /v1/symbols/{symbol}/highs` (the all-time high, its
//! date and the current drop from it).

use actix_web::get;
use actix_web::web::{Data, Json, Path, Query};
use chrono::{DateTime, NaiveDate, Utc};
use finstage_domain::{Bar, BarTime, Interval, Symbol};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorBody, echo};
use crate::routes::{is_known, limit, parse_symbol, unknown_symbol};
use crate::state::AppState;

/// The most bars one page of history holds.
pub const HISTORY_PAGE_MAX: u32 = 10_000;
/// Bars per page when `limit` is absent.
pub const HISTORY_PAGE_DEFAULT: u32 = 1_000;

/// The earliest and latest dates a query may name.
pub(crate) fn date_bounds() -> (NaiveDate, NaiveDate) {
    (NaiveDate::MIN.max(earliest()), latest())
}

fn earliest() -> NaiveDate {
    NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN)
}

fn latest() -> NaiveDate {
    NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or(NaiveDate::MAX)
}

/// One bar.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BarDto {
    /// The trading date (`2024-05-01`) of a daily bar, the opening instant (RFC 3339 UTC) of an
    /// intraday one.
    #[schema(example = "2013-01-02")]
    pub time: String,
    /// Opening price.
    pub open: f64,
    /// Highest price.
    pub high: f64,
    /// Lowest price.
    pub low: f64,
    /// Closing price.
    pub close: f64,
    /// Close adjusted for splits and dividends, when known.
    pub adj_close: Option<f64>,
    /// Traded volume.
    pub volume: u64,
}

impl From<&Bar> for BarDto {
    fn from(bar: &Bar) -> Self {
        Self {
            time: bar.time().to_string(),
            open: bar.open(),
            high: bar.high(),
            low: bar.low(),
            close: bar.close(),
            adj_close: bar.adj_close(),
            volume: bar.volume(),
        }
    }
}

/// The query of a history.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// `1d` (default; stored daily bars) or an intraday interval (`1m`, `5m`, `15m`, `1h`).
    pub interval: Option<String>,
    /// The first date or instant (`2013-01-02` or RFC 3339); absent: the newest `limit` bars up
    /// to `to`.
    pub from: Option<String>,
    /// The last date or instant, included; absent: no bound.
    pub to: Option<String>,
    /// Bars per page, 1 to 10,000 (default 1,000).
    pub limit: Option<u32>,
}

/// A page of bars, oldest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HistoryPage {
    /// The ticker.
    pub symbol: String,
    /// The interval.
    pub interval: String,
    /// The bars.
    pub bars: Vec<BarDto>,
    /// When more bars follow (with `from`): the `from` of the next page.
    pub next_from: Option<String>,
}

pub(crate) fn parse_time(name: &str, value: Option<&str>) -> Result<Option<BarTime>, ApiError> {
    value
        .map(|v| {
            v.parse::<BarTime>().map_err(|_| {
                ApiError::invalid_query(format!(
                    "{name} must be a date (YYYY-MM-DD) or an RFC 3339 time, not \"{}\"",
                    echo(v)
                ))
            })
        })
        .transpose()
}

fn to_date(time: BarTime) -> NaiveDate {
    match time {
        BarTime::Date(d) => d,
        BarTime::Timestamp(t) => t.date_naive(),
    }
}

/// The page of `bars` (oldest first, all in the asked range): from the start up to `limit`
/// when paging forward, else the newest `limit`.
fn page(mut bars: Vec<Bar>, forward: bool, limit: u32) -> (Vec<Bar>, Option<String>) {
    let limit = limit as usize;
    if bars.len() <= limit {
        return (bars, None);
    }
    if forward {
        let next = bars[limit].time().to_string();
        bars.truncate(limit);
        (bars, Some(next))
    } else {
        (bars.split_off(bars.len() - limit), None)
    }
}

/// Stored bars of a symbol.
#[utoipa::path(get, path = "/v1/symbols/{symbol}/history", tag = "history",
    params(("symbol" = String, Path, description = "The ticker", example = "AAPL"), HistoryQuery),
    responses(
        (status = 200, body = HistoryPage),
        (status = 400, description = "`invalid_symbol` or `invalid_query`", body = ErrorBody),
        (status = 404, description = "Unknown symbol", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
#[get("/v1/symbols/{symbol}/history")]
pub(crate) async fn history(
    state: Data<AppState>,
    path: Path<String>,
    query: Query<HistoryQuery>,
) -> Result<Json<HistoryPage>, ApiError> {
    let symbol = parse_symbol(&path)?;
    let interval = match query.interval.as_deref() {
        None => Interval::D1,
        Some(s) => s
            .parse::<Interval>()
            .map_err(|e| ApiError::invalid_query(e.to_string()))?,
    };
    if matches!(interval, Interval::W1 | Interval::Mo1) {
        return Err(ApiError::invalid_query(format!(
            "interval {interval} is not stored: use 1d, or 1m, 5m, 15m, 1h"
        )));
    }
    let from = parse_time("from", query.from.as_deref())?;
    let to = parse_time("to", query.to.as_deref())?;
    if let (Some(f), Some(t)) = (from, to)
        && f.to_utc() > t.to_utc()
    {
        return Err(ApiError::invalid_query("from must not be after to"));
    }
    let limit = limit(query.limit, HISTORY_PAGE_DEFAULT, HISTORY_PAGE_MAX)?;
    let bars = if interval.is_intraday() {
        let first = from.map_or(DateTime::<Utc>::UNIX_EPOCH, BarTime::to_utc);
        let last = to.map_or_else(|| latest().and_time(chrono::NaiveTime::MIN).and_utc(), BarTime::to_utc);
        state
            .store
            .intraday_bars()
            .range(&symbol, interval, first, last)
            .await?
    } else {
        let (min, max) = date_bounds();
        let first = from.map_or(min, to_date).max(min);
        let last = to.map_or(max, to_date).min(max);
        state.store.daily_bars().range(&symbol, first, last).await?
    };
    if bars.is_empty() && !is_known(&state, &symbol).await? {
        return Err(unknown_symbol(&symbol));
    }
    let (bars, next_from) = page(bars, from.is_some(), limit);
    Ok(Json(HistoryPage {
        symbol: symbol.to_string(),
        interval: interval.to_string(),
        bars: bars.iter().map(BarDto::from).collect(),
        next_from,
    }))
}

/// A symbol's all-time high and the drop from it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HighsDto {
    /// The ticker.
    pub symbol: String,
    /// The highest price ever stored.
    pub all_time_high: f64,
    /// The date of that high.
    pub all_time_high_date: NaiveDate,
    /// The current price: the stored latest quote, or the last stored close when it is newer.
    pub price: f64,
    /// When that price was quoted or closed.
    pub price_time: DateTime<Utc>,
    /// How far the price is below the high, in percent (0 at a new high).
    pub drop_percent: f64,
}

async fn current(
    state: &AppState,
    symbol: &Symbol,
    last: Option<&Bar>,
) -> Result<Option<(f64, DateTime<Utc>)>, ApiError> {
    let quote = state.store.quotes().get(symbol).await?;
    let from_bar = last.map(|b| (b.close(), b.time().to_utc()));
    Ok(match (quote, from_bar) {
        (Some(q), Some((close, at))) if at > q.time() => Some((close, at)),
        (Some(q), _) => Some((q.price(), q.time())),
        (None, bar) => bar,
    })
}

/// The all-time high (from the recorded highs, else the stored bars), its date, and the drop of
/// the current price from it.
#[utoipa::path(get, path = "/v1/symbols/{symbol}/highs", tag = "history",
    params(("symbol" = String, Path, description = "The ticker", example = "AAPL")),
    responses(
        (status = 200, body = HighsDto),
        (status = 400, description = "`invalid_symbol`", body = ErrorBody),
        (status = 404, description = "Unknown symbol, or no stored history", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
#[get("/v1/symbols/{symbol}/highs")]
pub(crate) async fn highs(state: Data<AppState>, path: Path<String>) -> Result<Json<HighsDto>, ApiError> {
    let symbol = parse_symbol(&path)?;
    let latest_bar = state.store.daily_bars().latest(&symbol, 1).await?.pop();
    let recorded = state.store.highs().get(&symbol).await?;
    let high = match recorded {
        Some(record) => Some((record.high, record.date)),
        None if latest_bar.is_some() => {
            let (min, max) = date_bounds();
            let bars = state.store.daily_bars().range(&symbol, min, max).await?;
            bars.iter()
                .max_by(|a, b| a.high().total_cmp(&b.high()))
                .map(|b| (b.high(), to_date(b.time())))
        }
        None => None,
    };
    let current = current(&state, &symbol, latest_bar.as_ref()).await?;
    let (Some((high, date)), Some((price, price_time))) = (high, current) else {
        return Err(if is_known(&state, &symbol).await? {
            ApiError::NotFound(format!("no stored history for {symbol}"))
        } else {
            unknown_symbol(&symbol)
        });
    };
    let drop_percent = if price >= high {
        0.0
    } else {
        (high - price) / high * 100.0
    };
    Ok(Json(HighsDto {
        symbol: symbol.to_string(),
        all_time_high: high,
        all_time_high_date: date,
        price,
        price_time,
        drop_percent,
    }))
}
