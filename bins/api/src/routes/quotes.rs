//! Latest quotes: `GET /v1/quotes/{symbol}` and `GET /v1/quotes?symbols=A,B,…`, through the
//! resilient provider (cached, coalesced, rate limited); when the upstream is down the stored
//! latest quote answers, marked `stale`.

use std::collections::HashSet;

use actix_web::get;
use actix_web::web::{Data, Json, Path, Query};
use chrono::{DateTime, Utc};
use finstage_domain::{Quote, Symbol};
use finstage_marketdata::MarketDataError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorBody, ErrorDetail, echo};
use crate::routes::parse_symbol;
use crate::state::{ApiOptions, AppState};

/// A latest quote.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct QuoteDto {
    /// The ticker.
    #[schema(example = "AAPL")]
    pub symbol: String,
    /// The last price.
    pub price: f64,
    /// When it was quoted.
    pub time: DateTime<Utc>,
    /// The previous session's close.
    pub previous_close: Option<f64>,
    /// The session's open.
    pub open: Option<f64>,
    /// The session's high.
    pub day_high: Option<f64>,
    /// The session's low.
    pub day_low: Option<f64>,
    /// The session's volume.
    pub volume: Option<u64>,
    /// The currency.
    pub currency: Option<String>,
    /// `price - previous_close`.
    pub change: Option<f64>,
    /// The change in percent of the previous close.
    pub change_percent: Option<f64>,
    /// `true` when the upstream was unavailable and this is the stored latest quote.
    pub stale: bool,
}

impl QuoteDto {
    fn new(quote: &Quote, stale: bool) -> Self {
        Self {
            symbol: quote.symbol().to_string(),
            price: quote.price(),
            time: quote.time(),
            previous_close: quote.previous_close(),
            open: quote.open(),
            day_high: quote.day_high(),
            day_low: quote.day_low(),
            volume: quote.volume(),
            currency: quote.currency().map(|c| c.to_string()),
            change: quote.change(),
            change_percent: quote.change_percent(),
            stale,
        }
    }
}

/// Whether a provider error is an answer about the symbol (not an outage a stored quote can
/// stand in for).
fn is_answer(error: &MarketDataError) -> bool {
    matches!(
        error,
        MarketDataError::NotFound { .. } | MarketDataError::InvalidRequest(_) | MarketDataError::InvalidRange { .. }
    )
}

/// The latest quote of one symbol.
#[utoipa::path(get, path = "/v1/quotes/{symbol}", tag = "quotes",
    params(("symbol" = String, Path, description = "The ticker", example = "AAPL")),
    responses(
        (status = 200, body = QuoteDto),
        (status = 400, description = "`invalid_symbol`", body = ErrorBody),
        (status = 404, description = "Unknown symbol", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
        (status = 503, description = "`upstream_unavailable`: the upstream is down and nothing is stored", body = ErrorBody),
    ))]
#[get("/v1/quotes/{symbol}")]
pub(crate) async fn one(state: Data<AppState>, path: Path<String>) -> Result<Json<QuoteDto>, ApiError> {
    let symbol = parse_symbol(&path)?;
    match state.provider.quote(symbol).await {
        Ok(quote) => Ok(Json(QuoteDto::new(&quote, false))),
        Err(error) if is_answer(&error) => Err(ApiError::from_market(&error)),
        Err(error) => match state.store.quotes().get(&symbol).await {
            Ok(Some(stored)) => Ok(Json(QuoteDto::new(&stored, true))),
            Ok(None) => Err(ApiError::from_market(&error)),
            Err(store_error) => {
                tracing::warn!(%store_error, "no stored quote to fall back on");
                Err(ApiError::from_market(&error))
            }
        },
    }
}

/// The query of a batch of quotes.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct QuotesQuery {
    /// Comma-separated tickers (`AAPL,MSFT,^GSPC`), at most the configured cap (50 by default).
    pub symbols: Option<String>,
}

/// One symbol of a batch: its quote, or its error.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BatchItem {
    /// The ticker.
    pub symbol: String,
    /// The quote, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quote: Option<QuoteDto>,
    /// Why there is none (`not_found`, `upstream_unavailable`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

/// A batch of quotes, in the order asked (duplicates once).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QuoteBatch {
    /// One item per symbol.
    pub items: Vec<BatchItem>,
}

/// The latest quotes of several symbols, fetched concurrently; one symbol's failure is its
/// item's `error` and does not fail the others.
#[utoipa::path(get, path = "/v1/quotes", tag = "quotes", params(QuotesQuery),
    responses(
        (status = 200, body = QuoteBatch),
        (status = 400, description = "`invalid_query` (missing list, too many symbols) or `invalid_symbol`", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
#[get("/v1/quotes")]
pub(crate) async fn many(
    state: Data<AppState>,
    options: Data<ApiOptions>,
    query: Query<QuotesQuery>,
) -> Result<Json<QuoteBatch>, ApiError> {
    let cap = options.batch_quote_cap.max(1);
    let list = query
        .symbols
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ApiError::invalid_query("symbols is required: a comma-separated list of tickers"))?;
    let mut seen = HashSet::new();
    let mut symbols: Vec<Symbol> = Vec::new();
    for (count, part) in list.split(',').enumerate() {
        if count >= cap {
            return Err(ApiError::invalid_query(format!("at most {cap} symbols at once")));
        }
        let part = part.trim();
        if part.is_empty() {
            return Err(ApiError::invalid_query(format!(
                "an empty symbol in \"{}\"",
                echo(list)
            )));
        }
        let symbol = parse_symbol(part)?;
        if seen.insert(symbol) {
            symbols.push(symbol);
        }
    }
    let answers = state.provider.quotes(&symbols).await;
    let failed: Vec<Symbol> = answers
        .iter()
        .filter(|(_, r)| r.as_ref().is_err_and(|e| !is_answer(e)))
        .map(|(s, _)| *s)
        .collect();
    let stored = if failed.is_empty() {
        Vec::new()
    } else {
        state.store.quotes().many(&failed).await.unwrap_or_else(|error| {
            tracing::warn!(%error, "no stored quotes to fall back on");
            Vec::new()
        })
    };
    let items = answers
        .into_iter()
        .map(|(symbol, result)| {
            let (quote, error) = match result {
                Ok(quote) => (Some(QuoteDto::new(&quote, false)), None),
                Err(error) => match stored.iter().find(|q| q.symbol() == symbol) {
                    Some(q) if !is_answer(&error) => (Some(QuoteDto::new(q, true)), None),
                    _ => (None, Some(ApiError::from_market(&error).body().error)),
                },
            };
            BatchItem {
                symbol: symbol.to_string(),
                quote,
                error,
            }
        })
        .collect();
    Ok(Json(QuoteBatch { items }))
}
