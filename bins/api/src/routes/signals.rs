//! Signals: `GET /v1/signals` (filters and cursor pagination), `GET /v1/signals/{id}` (with its
//! outcome) and `GET /v1/signals/stats` (per kind, from `finstage_core::kind_stats`).

use actix_web::get;
use actix_web::web::{Data, Json, Path, Query};
use chrono::{DateTime, Utc};
use finstage_core::CoreError;
use finstage_store::{Horizon, PageRequest, SIGNAL_KIND_MAX_LEN, SIGNAL_PAGE_MAX, Signal, SignalCursor, SignalFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorBody, echo};
use crate::routes::{limit, parse_symbol};
use crate::state::AppState;

/// Signals per page when `limit` is absent.
pub const SIGNALS_PAGE_DEFAULT: u32 = 100;

/// A stored signal.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SignalDto {
    /// Its id.
    pub id: i64,
    /// The symbol it fired on.
    #[schema(example = "AAPL")]
    pub symbol: String,
    /// What fired.
    #[schema(example = "rsi_oversold_enter")]
    pub kind: String,
    /// The bars it was computed on.
    #[schema(example = "1d")]
    pub timeframe: String,
    /// When it fired.
    pub triggered_at: DateTime<Utc>,
    /// The price then.
    pub price: f64,
    /// The indicator values behind it.
    #[schema(value_type = Object)]
    pub values: serde_json::Value,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

impl From<Signal> for SignalDto {
    fn from(s: Signal) -> Self {
        Self {
            id: s.id,
            symbol: s.symbol.to_string(),
            kind: s.kind,
            timeframe: s.timeframe,
            triggered_at: s.triggered_at,
            price: s.price,
            values: s.values,
            created_at: s.created_at,
        }
    }
}

/// The filters and page of a signal list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SignalsQuery {
    /// Only this symbol's.
    pub symbol: Option<String>,
    /// Only this kind (`rsi_oversold_enter`, …).
    pub kind: Option<String>,
    /// Only those triggered at or after this RFC 3339 time.
    pub since: Option<DateTime<Utc>>,
    /// The `next_cursor` of the previous page (opaque).
    pub cursor: Option<String>,
    /// Signals per page, 1 to 1,000 (default 100).
    pub limit: Option<u32>,
}

/// A page of signals, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SignalPageDto {
    /// The signals.
    pub items: Vec<SignalDto>,
    /// The `cursor` of the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Stored signals, newest first, filtered, a page at a time.
#[utoipa::path(get, path = "/v1/signals", tag = "signals", params(SignalsQuery),
    responses(
        (status = 200, body = SignalPageDto),
        (status = 400, description = "`invalid_symbol` or `invalid_query` (bad kind, time, cursor or limit)", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
#[get("/v1/signals")]
pub(crate) async fn list(state: Data<AppState>, query: Query<SignalsQuery>) -> Result<Json<SignalPageDto>, ApiError> {
    let query = query.into_inner();
    let symbol = query.symbol.as_deref().map(parse_symbol).transpose()?;
    if let Some(kind) = &query.kind
        && (!(1..=SIGNAL_KIND_MAX_LEN).contains(&kind.len())
            || !kind
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'))
    {
        return Err(ApiError::invalid_query(format!(
            "kind must be 1 to {SIGNAL_KIND_MAX_LEN} characters of a-z, 0-9 and _, not \"{}\"",
            echo(kind)
        )));
    }
    let after = query
        .cursor
        .as_deref()
        .map(|c| {
            c.parse::<SignalCursor>()
                .map_err(|_| ApiError::invalid_query(format!("malformed cursor \"{}\"", echo(c))))
        })
        .transpose()?;
    let limit = limit(query.limit, SIGNALS_PAGE_DEFAULT, SIGNAL_PAGE_MAX)?;
    let filter = SignalFilter {
        symbol,
        kind: query.kind,
        since: query.since,
        ..SignalFilter::default()
    };
    let page = state
        .store
        .signals()
        .list(&filter, PageRequest { limit, after })
        .await?;
    Ok(Json(SignalPageDto {
        items: page.items.into_iter().map(SignalDto::from).collect(),
        next_cursor: page.next.map(|c| c.to_string()),
    }))
}

/// What became of a signal at one horizon.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HorizonDto {
    /// `1h`, `4h`, `1d`, `1w` or `1m`.
    pub horizon: String,
    /// The price then, once measured.
    pub price: Option<f64>,
    /// The return since the signal, once measured.
    #[serde(rename = "return")]
    pub ret: Option<f64>,
    /// Whether the signal's direction was right (`null` for neutral signals or unmeasured).
    pub success: Option<bool>,
}

/// A signal's outcome.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OutcomeDto {
    /// Every horizon measured (or past giving up).
    pub completed: bool,
    /// When it was last updated.
    pub updated_at: DateTime<Utc>,
    /// Per horizon.
    pub horizons: Vec<HorizonDto>,
}

/// A signal with its outcome.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SignalDetail {
    /// The signal.
    #[serde(flatten)]
    pub signal: SignalDto,
    /// Its outcome, once tracking began.
    pub outcome: Option<OutcomeDto>,
}

/// One signal with its outcome.
#[utoipa::path(get, path = "/v1/signals/{id}", tag = "signals",
    params(("id" = i64, Path, description = "The signal's id")),
    responses(
        (status = 200, body = SignalDetail),
        (status = 400, description = "`invalid_path`: not an integer id", body = ErrorBody),
        (status = 404, description = "Unknown signal", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
#[get("/v1/signals/{id}")]
pub(crate) async fn one(state: Data<AppState>, path: Path<i64>) -> Result<Json<SignalDetail>, ApiError> {
    let id = path.into_inner();
    let signal = state
        .store
        .signals()
        .get(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("unknown signal {id}")))?;
    let outcome = state.store.outcomes().get(id).await?.map(|o| OutcomeDto {
        completed: o.completed,
        updated_at: o.updated_at,
        horizons: Horizon::ALL
            .iter()
            .map(|h| {
                let at = o.horizon(*h);
                HorizonDto {
                    horizon: h.as_str().to_owned(),
                    price: at.price,
                    ret: at.ret,
                    success: at.success,
                }
            })
            .collect(),
    });
    Ok(Json(SignalDetail {
        signal: signal.into(),
        outcome,
    }))
}

/// The query of the statistics.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    /// Only signals triggered at or after this RFC 3339 time.
    pub since: Option<DateTime<Utc>>,
}

/// The statistics of one kind at one horizon.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HorizonStatsDto {
    /// The horizon.
    pub horizon: String,
    /// Signals measured at it.
    pub measured: u64,
    /// Directional signals that were right.
    pub wins: u64,
    /// `wins` over the directional signals measured.
    pub win_rate: Option<f64>,
    /// The mean return.
    pub mean_return: Option<f64>,
    /// The median return.
    pub median_return: Option<f64>,
}

/// The statistics of one kind.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct KindStatsDto {
    /// The kind.
    pub kind: String,
    /// Its signals.
    pub count: u64,
    /// Per horizon.
    pub horizons: Vec<HorizonStatsDto>,
}

/// Statistics per kind.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StatsDto {
    /// One entry per kind with measured signals, sorted by kind.
    pub kinds: Vec<KindStatsDto>,
}

/// How each kind of signal played out: counts, win rates and returns per horizon.
#[utoipa::path(get, path = "/v1/signals/stats", tag = "signals", params(StatsQuery),
    responses(
        (status = 200, body = StatsDto),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
#[get("/v1/signals/stats")]
pub(crate) async fn stats(state: Data<AppState>, query: Query<StatsQuery>) -> Result<Json<StatsDto>, ApiError> {
    let stats = finstage_core::kind_stats(&state.store, query.since)
        .await
        .map_err(|e| match e {
            CoreError::Store(e) => ApiError::from_store(e),
            other => {
                tracing::error!(error = %other, "signal statistics");
                ApiError::Internal
            }
        })?;
    let kinds = stats
        .into_iter()
        .map(|k| KindStatsDto {
            kind: k.kind.to_string(),
            count: k.count,
            horizons: Horizon::ALL
                .iter()
                .zip(k.horizons.iter())
                .map(|(h, s)| HorizonStatsDto {
                    horizon: h.as_str().to_owned(),
                    measured: s.measured,
                    wins: s.wins,
                    win_rate: s.win_rate,
                    mean_return: s.mean_return,
                    median_return: s.median_return,
                })
                .collect(),
        })
        .collect();
    Ok(Json(StatsDto { kinds }))
}
