//! Indicators: `GET /v1/symbols/{symbol}/indicators?specs=…` over the stored daily bars, and
//! `POST /v1/indicators` over bars the caller sends. Specs follow the grammar of
//! `finstage-indicators` (`sma:20,rsi:14,macd:12:26:9.signal`); values are TA-Lib's, `null`
//! through each indicator's lookback.

use actix_web::web::{Data, Json, Path, Query};
use actix_web::{get, post};
use finstage_domain::{Bar, BarTime};
use finstage_indicators::{Ohlcv, OutputSpec, compute, parse_specs};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorBody};
use crate::routes::history::{date_bounds, parse_time};
use crate::routes::{is_known, limit, parse_symbol, unknown_symbol};
use crate::state::AppState;

/// The longest spec list, in characters.
pub const SPECS_MAX_CHARS: usize = 512;
/// The most specs in one list.
pub const SPECS_MAX: usize = 32;
/// The most bars `POST /v1/indicators` takes.
pub const POSTED_BARS_MAX: usize = 50_000;
/// The most rows one answer over stored bars holds.
pub const ROWS_MAX: u32 = 10_000;
/// Rows when `limit` is absent.
pub const ROWS_DEFAULT: u32 = 500;

/// One output column.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Series {
    /// The column's spec (`sma:20`, `macd:12:26:9.signal`).
    #[schema(example = "rsi:14")]
    pub name: String,
    /// One value per row; `null` through the lookback (and for non-finite values).
    pub values: Vec<Option<f64>>,
}

/// Indicator values: one row per bar.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IndicatorTable {
    /// The ticker (absent for caller-supplied bars).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    /// The specs, in their full form.
    pub specs: Vec<String>,
    /// Each row's bar time.
    pub time: Vec<String>,
    /// The columns.
    pub series: Vec<Series>,
    /// With `from`, when more rows follow: the `from` of the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_from: Option<String>,
}

fn specs(list: &str) -> Result<Vec<OutputSpec>, ApiError> {
    if list.chars().count() > SPECS_MAX_CHARS {
        return Err(ApiError::bad_request(
            "invalid_spec",
            format!("specs must be at most {SPECS_MAX_CHARS} characters"),
        ));
    }
    let specs = parse_specs(list).map_err(|e| {
        let message: String = e.to_string().chars().take(300).collect();
        ApiError::bad_request("invalid_spec", message)
    })?;
    if specs.len() > SPECS_MAX {
        return Err(ApiError::bad_request(
            "invalid_spec",
            format!("at most {SPECS_MAX} specs at once"),
        ));
    }
    Ok(specs)
}

/// Computes `specs` over `bars` (oldest first): the columns, rows aligned with `bars`.
fn columns(specs: &[OutputSpec], bars: &[Bar]) -> Result<Vec<Series>, ApiError> {
    let n = bars.len();
    let (mut open, mut high, mut low, mut close, mut volume, mut time) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for bar in bars {
        open.push(bar.open());
        high.push(bar.high());
        low.push(bar.low());
        close.push(bar.close());
        volume.push(bar.volume() as f64);
        time.push(bar.time().unix_seconds());
    }
    let input = Ohlcv::new(&open, &high, &low, &close, &volume)
        .and_then(|o| o.with_time(&time))
        .map_err(|e| {
            tracing::error!(%e, "indicator input");
            ApiError::Internal
        })?;
    let computed = compute(specs, &input).map_err(|e| ApiError::bad_request("invalid_spec", e.to_string()))?;
    Ok(computed
        .iter()
        .map(|(name, values)| Series {
            name: name.to_owned(),
            values: values.iter().map(|v| v.is_finite().then_some(*v)).collect(),
        })
        .collect())
}

fn spec_names(specs: &[OutputSpec]) -> Vec<String> {
    specs.iter().map(ToString::to_string).collect()
}

/// The query of indicators over stored bars.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct IndicatorsQuery {
    /// Comma-separated specs (`sma:20,rsi:14,macd:12:26:9`), at most 32.
    pub specs: Option<String>,
    /// The first date of the rows returned (earlier bars still warm the indicators up);
    /// absent: the newest `limit` rows.
    pub from: Option<String>,
    /// The last date, included.
    pub to: Option<String>,
    /// Rows, 1 to 10,000 (default 500).
    pub limit: Option<u32>,
}

/// Indicators over a symbol's stored daily bars (computed over every stored bar up to `to`, so
/// the first rows returned are warmed up).
#[utoipa::path(get, path = "/v1/symbols/{symbol}/indicators", tag = "indicators",
    params(("symbol" = String, Path, description = "The ticker", example = "AAPL"), IndicatorsQuery),
    responses(
        (status = 200, body = IndicatorTable),
        (status = 400, description = "`invalid_symbol`, `invalid_spec` (naming what is wrong) or `invalid_query`", body = ErrorBody),
        (status = 404, description = "Unknown symbol", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
#[get("/v1/symbols/{symbol}/indicators")]
pub(crate) async fn stored(
    state: Data<AppState>,
    path: Path<String>,
    query: Query<IndicatorsQuery>,
) -> Result<Json<IndicatorTable>, ApiError> {
    let symbol = parse_symbol(&path)?;
    let list = query
        .specs
        .as_deref()
        .ok_or_else(|| ApiError::bad_request("invalid_spec", "specs is required (for example sma:20,rsi:14)"))?;
    let specs = specs(list)?;
    let from = parse_time("from", query.from.as_deref())?;
    let to = parse_time("to", query.to.as_deref())?;
    if let (Some(f), Some(t)) = (from, to)
        && f.to_utc() > t.to_utc()
    {
        return Err(ApiError::invalid_query("from must not be after to"));
    }
    let limit = limit(query.limit, ROWS_DEFAULT, ROWS_MAX)? as usize;
    let (min, max) = date_bounds();
    let last = to.map_or(max, |t| t.to_utc().date_naive()).min(max);
    let bars = state.store.daily_bars().range(&symbol, min, last).await?;
    if bars.is_empty() && !is_known(&state, &symbol).await? {
        return Err(unknown_symbol(&symbol));
    }
    let series = columns(&specs, &bars)?;
    let start = from.map_or(0, |f| {
        let f = f.to_utc();
        bars.partition_point(|b| b.time().to_utc() < f)
    });
    let (rows, next_from) = if from.is_some() {
        let end = (start + limit).min(bars.len());
        (start..end, bars.get(end).map(|b| b.time().to_string()))
    } else {
        (bars.len().saturating_sub(limit)..bars.len(), None)
    };
    Ok(Json(IndicatorTable {
        symbol: Some(symbol.to_string()),
        specs: spec_names(&specs),
        time: bars[rows.clone()].iter().map(|b| b.time().to_string()).collect(),
        series: series
            .into_iter()
            .map(|s| Series {
                name: s.name,
                values: s.values[rows.clone()].to_vec(),
            })
            .collect(),
        next_from,
    }))
}

/// One caller-supplied bar.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BarIn {
    /// A date (`2024-05-01`) or an RFC 3339 time.
    #[schema(example = "2024-05-01")]
    pub time: String,
    /// Opening price.
    pub open: f64,
    /// Highest price.
    pub high: f64,
    /// Lowest price.
    pub low: f64,
    /// Closing price.
    pub close: f64,
    /// Traded volume.
    #[serde(default)]
    pub volume: u64,
}

/// Indicators over caller-supplied bars.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IndicatorRequest {
    /// Comma-separated specs, at most 32.
    #[schema(example = "sma:3,rsi:2")]
    pub specs: String,
    /// The bars, oldest first, at most 50,000 (and within the body limit).
    pub bars: Vec<BarIn>,
}

/// Indicators over bars in the body (each bar validated: prices finite and positive, low ≤
/// open, close ≤ high; times strictly increasing).
#[utoipa::path(post, path = "/v1/indicators", tag = "indicators", request_body = IndicatorRequest,
    responses(
        (status = 200, body = IndicatorTable),
        (status = 400, description = "`invalid_spec` or `invalid_body`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: over the body limit or 50,000 bars", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "`invalid_bar`: a bar breaks a rule, or times do not increase", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
#[post("/v1/indicators")]
pub(crate) async fn supplied(body: Json<IndicatorRequest>) -> Result<Json<IndicatorTable>, ApiError> {
    let body = body.into_inner();
    let specs = specs(&body.specs)?;
    if body.bars.len() > POSTED_BARS_MAX {
        return Err(ApiError::PayloadTooLarge(format!(
            "at most {POSTED_BARS_MAX} bars at once"
        )));
    }
    let mut bars = Vec::with_capacity(body.bars.len());
    for (i, raw) in body.bars.iter().enumerate() {
        let invalid = |message: String| ApiError::Unprocessable {
            code: "invalid_bar",
            message: format!("bar {i}: {message}"),
        };
        let time = parse_time("time", Some(&raw.time)).map_err(|e| invalid(e.to_string()))?;
        let Some(time) = time else { continue };
        let bar =
            Bar::new(time, raw.open, raw.high, raw.low, raw.close, raw.volume).map_err(|e| invalid(e.to_string()))?;
        if let Some(previous) = bars.last().map(|b: &Bar| b.time())
            && bar_order(previous) >= bar_order(time)
        {
            return Err(invalid("times must increase".to_owned()));
        }
        bars.push(bar);
    }
    let series = columns(&specs, &bars)?;
    Ok(Json(IndicatorTable {
        symbol: None,
        specs: spec_names(&specs),
        time: bars.iter().map(|b| b.time().to_string()).collect(),
        series,
        next_from: None,
    }))
}

fn bar_order(time: BarTime) -> chrono::DateTime<chrono::Utc> {
    time.to_utc()
}
