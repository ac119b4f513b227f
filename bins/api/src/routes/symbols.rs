//! The watchlist: `GET /v1/symbols` (configured and stored symbols with their categories),
//! `POST /v1/symbols` and `DELETE /v1/symbols/{symbol}` (admin).
//!
//! Adding a symbol stores it and enqueues a task of kind `backfill` with the payload
//! `{"symbol": "NVDA", "years": 10}` (unique per symbol while pending), run by the scheduler's
//! `backfill` job — in this process in the embedded shape, by a `finstage-scheduler`
//! otherwise; until a worker takes it, the task waits in the queue.

use std::collections::HashSet;

use actix_web::web::{Data, Json, Path};
use actix_web::{HttpResponse, delete, get, post};
use chrono::{DateTime, Utc};
use finstage_domain::{Category, Currency, Symbol};
use finstage_marketdata::MarketDataError;
use finstage_store::SymbolRecord;
use finstage_tasks::TaskOptions;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody, echo};
use crate::middleware::Admin;
use crate::routes::parse_symbol;
use crate::state::AppState;

/// The task kind a new symbol's history is fetched by.
pub const BACKFILL_KIND: &str = "backfill";
/// How many years of history a new symbol gets.
pub const BACKFILL_YEARS: u32 = 10;
/// The longest display name accepted.
pub const NAME_MAX_CHARS: usize = 100;

/// One symbol of the watchlist.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SymbolDto {
    /// The ticker.
    #[schema(example = "AAPL")]
    pub symbol: String,
    /// `index`, `future`, `stock`, `etf`, `fx` or `crypto`.
    #[schema(example = "stock")]
    pub category: String,
    /// A display name.
    pub name: Option<String>,
    /// `config` (from the configuration) or `api` (added through this API).
    #[schema(example = "config")]
    pub source: String,
    /// When it was added through the API.
    pub added_at: Option<DateTime<Utc>>,
}

/// The watchlist.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SymbolList {
    /// The symbols: the configured ones first, then those added through the API.
    pub items: Vec<SymbolDto>,
}

/// A symbol to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddSymbol {
    /// The ticker (`AAPL`, `^GSPC`, `BTC-USD`, …).
    #[schema(example = "NVDA")]
    pub symbol: String,
    /// Its category; inferred from the ticker when absent.
    pub category: Option<String>,
    /// A display name (at most 100 characters); the upstream's when absent.
    pub name: Option<String>,
}

/// The backfill task enqueued for a new symbol.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BackfillTask {
    /// The task's id.
    pub task_id: i64,
    /// `false` when a backfill of the symbol was already waiting (that task is the one).
    pub created: bool,
}

/// The symbol added.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Added {
    /// The stored symbol.
    pub symbol: SymbolDto,
    /// Its backfill.
    pub backfill: BackfillTask,
}

fn from_record(record: &SymbolRecord, configured: bool) -> SymbolDto {
    SymbolDto {
        symbol: record.symbol.to_string(),
        category: record.category.to_string(),
        name: record.name.clone(),
        source: if configured { "config" } else { "api" }.to_owned(),
        added_at: Some(record.added_at),
    }
}

/// The watchlist with categories.
#[utoipa::path(get, path = "/v1/symbols", tag = "symbols",
    responses(
        (status = 200, body = SymbolList),
        (status = 429, description = "Rate limited", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ))]
#[get("/v1/symbols")]
pub(crate) async fn list(state: Data<AppState>) -> Result<Json<SymbolList>, ApiError> {
    let stored = state.store.symbols().active().await?;
    let mut seen = HashSet::new();
    let mut items = Vec::with_capacity(state.watchlist.len() + stored.len());
    for entry in state.watchlist.iter() {
        if seen.insert(entry.symbol) {
            items.push(SymbolDto {
                symbol: entry.symbol.to_string(),
                category: entry.category.to_string(),
                name: entry.name.clone(),
                source: "config".to_owned(),
                added_at: stored.iter().find(|r| r.symbol == entry.symbol).map(|r| r.added_at),
            });
        }
    }
    for record in &stored {
        if seen.insert(record.symbol) {
            items.push(from_record(record, false));
        }
    }
    Ok(Json(SymbolList { items }))
}

/// Adds a symbol (admin): checks it with the provider (404 when the upstream does not know it;
/// stored without details when the upstream is unreachable), stores it and enqueues its
/// ten-year backfill (kind `backfill`, payload `{symbol, years}`), which the scheduler runs.
#[utoipa::path(post, path = "/v1/symbols", tag = "symbols", request_body = AddSymbol,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Added", body = Added),
        (status = 200, description = "Already stored: updated, backfill enqueued unless one waits", body = Added),
        (status = 400, description = "`invalid_symbol` or `invalid_body`", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 403, description = "`admin_disabled`", body = ErrorBody),
        (status = 404, description = "Unknown to the upstream", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
    ))]
#[post("/v1/symbols")]
pub(crate) async fn add(_admin: Admin, state: Data<AppState>, body: Json<AddSymbol>) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let symbol = parse_symbol(&body.symbol)?;
    let category = match body.category.as_deref() {
        None => Category::infer(&symbol),
        Some(c) => c
            .parse::<Category>()
            .map_err(|e| ApiError::bad_request("invalid_body", e.to_string()))?,
    };
    if let Some(name) = &body.name
        && (name.trim().is_empty() || name.chars().count() > NAME_MAX_CHARS)
    {
        return Err(ApiError::bad_request(
            "invalid_body",
            format!("name must be 1 to {NAME_MAX_CHARS} characters, not \"{}\"", echo(name)),
        ));
    }
    let meta = match state.provider.metadata(symbol).await {
        Ok(meta) => Some(meta),
        Err(e @ (MarketDataError::NotFound { .. } | MarketDataError::NoData { .. })) => {
            return Err(ApiError::from_market(&e));
        }
        Err(error) => {
            tracing::warn!(%symbol, %error, "adding a symbol without upstream details");
            None
        }
    };
    let existed = state.store.symbols().get(&symbol).await?.is_some();
    let record = SymbolRecord {
        symbol,
        name: body
            .name
            .map(|n| n.trim().to_owned())
            .or_else(|| meta.as_ref().and_then(|m| m.name.clone())),
        category,
        currency: meta
            .as_ref()
            .and_then(|m| m.currency.as_deref())
            .and_then(|c| Currency::parse(c).ok()),
        exchange: meta.as_ref().and_then(|m| m.exchange.clone()),
        timezone: meta.as_ref().and_then(|m| m.timezone.clone()),
        active: true,
        added_at: state.queue.clock().now(),
    };
    state.store.symbols().upsert(&record).await?;
    let stored = state.store.symbols().get(&symbol).await?.unwrap_or(record);
    let enqueued = state
        .queue
        .enqueue(
            BACKFILL_KIND,
            &serde_json::json!({ "symbol": symbol, "years": BACKFILL_YEARS }),
            TaskOptions::default().unique_key(format!("{BACKFILL_KIND}:{symbol}")),
        )
        .await
        .map_err(ApiError::from_tasks)?;
    let configured = state.watchlist.iter().any(|w| w.symbol == symbol);
    let body = Added {
        symbol: from_record(&stored, configured),
        backfill: BackfillTask {
            task_id: enqueued.id.0,
            created: enqueued.created,
        },
    };
    Ok(if existed {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::Created().json(body)
    })
}

/// Removes a symbol added through the API (admin). Its stored bars, quotes and signals are
/// kept; configured symbols change with the configuration.
#[utoipa::path(delete, path = "/v1/symbols/{symbol}", tag = "symbols",
    params(("symbol" = String, Path, description = "The ticker", example = "NVDA")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "`invalid_symbol`", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 403, description = "`admin_disabled`", body = ErrorBody),
        (status = 404, description = "Not stored", body = ErrorBody),
    ))]
#[delete("/v1/symbols/{symbol}")]
pub(crate) async fn remove(_admin: Admin, state: Data<AppState>, path: Path<String>) -> Result<HttpResponse, ApiError> {
    let symbol: Symbol = parse_symbol(&path)?;
    if state.store.symbols().remove(&symbol).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound(format!("{symbol} is not on the stored watchlist")))
    }
}
