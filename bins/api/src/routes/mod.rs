//! The endpoints, each documented with `#[utoipa::path]` and registered through
//! utoipa-actix-web, so that `/openapi.json` is generated from the code: [`health`]
//! (`/health/*`, `/metrics`), [`symbols`], [`quotes`], [`history`] (bars and highs),
//! [`indicators`], [`signals`], [`backtests`], [`reports`], and the admin [`tasks`] and
//! [`notifications`].

pub mod backtests;
pub mod health;
pub mod history;
pub mod indicators;
pub mod notifications;
pub mod quotes;
pub mod reports;
pub mod signals;
pub mod symbols;
pub mod tasks;

use actix_web::HttpResponse;
use finstage_domain::Symbol;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// The document's fixed parts: info, tags, the bearer scheme and the error body; the paths come
/// from the registered handlers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Finstage API",
        description = "Market data and investment signals. Errors share one body: \
            `{\"error\":{\"code\":\"…\",\"message\":\"…\"}}`. Times are RFC 3339 UTC. Public \
            endpoints are rate limited per client IP (429 `rate_limited` with `Retry-After`). \
            Admin endpoints need `Authorization: Bearer <token>`; with no token configured they \
            answer 403 `admin_disabled`."
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerScheme),
    tags(
        (name = "health", description = "Liveness, readiness and metrics"),
        (name = "symbols", description = "The watchlist"),
        (name = "quotes", description = "Latest quotes"),
        (name = "history", description = "Stored bars and highs"),
        (name = "indicators", description = "Technical indicators"),
        (name = "signals", description = "Detected signals, their outcomes and statistics"),
        (name = "backtests", description = "Strategies backtested over stored history, as queued tasks"),
        (name = "reports", description = "The daily report of the watchlist"),
        (name = "tasks", description = "The task queue (admin)"),
        (name = "notifications", description = "Notifications (admin)"),
    )
)]
pub struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Registers every endpoint (order matters where templates overlap: `/v1/signals/stats` before
/// `/v1/signals/{id}`).
pub fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(health::live)
        .service(health::ready)
        .service(health::metrics)
        // The hot routes first: actix tries routes in order, each `{parameter}` template a
        // regex match, so a quote request no longer fails four `/v1/symbols/{symbol}…`
        // matches before its own (docs/PERFORMANCE.md, the HTTP API).
        .service(quotes::one)
        .service(quotes::many)
        .service(symbols::list)
        .service(symbols::add)
        .service(symbols::remove)
        .service(history::history)
        .service(history::highs)
        .service(indicators::stored)
        .service(indicators::supplied)
        .service(signals::stats)
        .service(signals::list)
        .service(signals::one)
        .service(backtests::submit)
        .service(backtests::status)
        .service(backtests::result)
        .service(reports::latest)
        .service(reports::send)
        .service(tasks::list)
        .service(tasks::one)
        .service(tasks::cancel)
        .service(notifications::test)
        // The live stream; it answers 503 `stream_unavailable` when the state has no hub.
        .service(crate::stream::stream);
}

/// The JSON 404 of every path that matches no route.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound("no such route".to_owned()))
}

/// Parses a path's symbol: 400 `invalid_symbol` when it is not one.
pub(crate) fn parse_symbol(input: &str) -> Result<Symbol, ApiError> {
    Symbol::parse(input).map_err(|e| ApiError::invalid_symbol(&e))
}

/// Whether the API knows `symbol`: configured, stored, or with stored bars.
pub(crate) async fn is_known(state: &AppState, symbol: &Symbol) -> Result<bool, ApiError> {
    if state.watchlist.iter().any(|w| w.symbol == *symbol) {
        return Ok(true);
    }
    if state.store.symbols().get(symbol).await?.is_some() {
        return Ok(true);
    }
    Ok(state.store.daily_bars().span(symbol).await?.is_some())
}

/// 404 for a symbol the API does not know.
pub(crate) fn unknown_symbol(symbol: &Symbol) -> ApiError {
    ApiError::NotFound(format!("unknown symbol {symbol}"))
}

/// Parses an optional `limit` within `1..=max`.
pub(crate) fn limit(value: Option<u32>, default: u32, max: u32) -> Result<u32, ApiError> {
    match value {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::invalid_query(format!(
            "limit must be from 1 to {max}, not {n}"
        ))),
    }
}
