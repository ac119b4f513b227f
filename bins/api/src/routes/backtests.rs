//! Backtests: `POST /v1/backtests` validates a request and queues a task of kind
//! [`BACKTEST_KIND`] (identical requests share the queued task), `GET /v1/backtests/{id}` tells
//! where it is, `GET /v1/backtests/{id}/result` answers its result once it succeeded.
//!
//! Public and rate limited like the other public endpoints: a backtest reads stored data and
//! changes none. The work is done by whichever worker pool has the handler of
//! [`register_handler`] (it runs [`finstage_core::backtests::run_backtest`] and stores the
//! result's [summary](finstage_core::backtests::BacktestResult::summary)); until one runs, a
//! backtest stays `queued`.

use actix_web::http::header;
use actix_web::web::{Data, Json, Path};
use actix_web::{HttpResponse, get, post};
use chrono::{DateTime, NaiveDate, Utc};
use finstage_analysis::SignalKind;
use finstage_analysis::backtest::{Mode, StrategyConfig, Trigger};
use finstage_core::backtests::{BACKTEST_KIND, BacktestRequest};
use finstage_domain::Symbol;
use finstage_tasks::{Task, TaskId, TaskOptions, TaskState};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody, ErrorDetail, echo};
use crate::routes::history::date_bounds;
use crate::state::AppState;

pub use finstage_core::backtests::register_handler;

/// Which signals on a bar fire a trigger: exactly one of `any` and `all`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerDto {
    /// Fires on a bar where at least one of these kinds fired.
    #[schema(example = json!(["macd_cross_up"]))]
    pub any: Option<Vec<String>>,
    /// Fires on a bar where every one of these kinds fired.
    pub all: Option<Vec<String>>,
}

/// A strategy: only `entry` is required.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StrategyDto {
    /// The signals that open a long position (long/short: and close a short).
    pub entry: TriggerDto,
    /// The signals that close a long position (long/short: and open a short).
    pub exit: Option<TriggerDto>,
    /// `long_only` (default) or `long_short`.
    #[schema(example = "long_only")]
    pub mode: Option<String>,
    /// Close a position at the open of the `N`th bar after its entry (at least 1).
    pub max_hold_bars: Option<u32>,
    /// Stop-loss as a fraction of the entry price, in (0, 1).
    pub stop_loss: Option<f64>,
    /// Take-profit as a fraction of the entry price, > 0.
    pub take_profit: Option<f64>,
    /// Fee per fill, in basis points of its notional, in [0, 10000) (default 0).
    pub fee_bps: Option<f64>,
    /// Slippage per fill, in basis points, in [0, 10000) (default 0).
    pub slippage_bps: Option<f64>,
    /// The fraction of equity each entry commits, in (0, 1] (default 1).
    pub fraction: Option<f64>,
    /// The starting equity, > 0 (default 10000).
    pub initial_equity: Option<f64>,
    /// The annual risk-free rate of the Sharpe and Sortino ratios, > -1 (default 0).
    pub risk_free_rate: Option<f64>,
}

/// A backtest to run.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BacktestRequestDto {
    /// The symbols, 1 to 50.
    #[schema(example = json!(["AAPL", "MSFT"]))]
    pub symbols: Vec<String>,
    /// The strategies, 1 to 10 (and at most 100 symbol × strategy runs); results name them by
    /// their index here.
    pub strategies: Vec<StrategyDto>,
    /// The first day (`2005-01-03`); default: each symbol's first stored bar.
    #[schema(example = "2005-01-03")]
    pub from: Option<String>,
    /// The last day, included; default: each symbol's last stored bar.
    #[schema(example = "2013-12-31")]
    pub to: Option<String>,
}

fn bad_body(message: String) -> ApiError {
    ApiError::bad_request("invalid_body", message)
}

fn kinds(field: &str, names: &[String]) -> Result<Vec<SignalKind>, ApiError> {
    names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            name.parse::<SignalKind>()
                .map_err(|_| bad_body(format!("{field}[{i}]: unknown signal kind \"{}\"", echo(name))))
        })
        .collect()
}

fn trigger(field: &str, dto: &TriggerDto) -> Result<Trigger, ApiError> {
    match (&dto.any, &dto.all) {
        (Some(any), None) => Ok(Trigger::Any(kinds(&format!("{field}.any"), any)?)),
        (None, Some(all)) => Ok(Trigger::All(kinds(&format!("{field}.all"), all)?)),
        _ => Err(bad_body(format!("{field}: give exactly one of \"any\" and \"all\""))),
    }
}

fn strategy(i: usize, dto: &StrategyDto) -> Result<StrategyConfig, ApiError> {
    let field = format!("strategies[{i}]");
    let mut config = StrategyConfig::new(trigger(&format!("{field}.entry"), &dto.entry)?);
    config.exit = dto
        .exit
        .as_ref()
        .map(|exit| trigger(&format!("{field}.exit"), exit))
        .transpose()?;
    config.mode = match dto.mode.as_deref() {
        None | Some("long_only") => Mode::LongOnly,
        Some("long_short") => Mode::LongShort,
        Some(other) => {
            return Err(bad_body(format!(
                "{field}.mode: \"long_only\" or \"long_short\", not \"{}\"",
                echo(other)
            )));
        }
    };
    config.max_hold_bars = dto.max_hold_bars;
    config.stop_loss = dto.stop_loss;
    config.take_profit = dto.take_profit;
    config.fee_bps = dto.fee_bps.unwrap_or(config.fee_bps);
    config.slippage_bps = dto.slippage_bps.unwrap_or(config.slippage_bps);
    config.fraction = dto.fraction.unwrap_or(config.fraction);
    config.initial_equity = dto.initial_equity.unwrap_or(config.initial_equity);
    config.risk_free_rate = dto.risk_free_rate.unwrap_or(config.risk_free_rate);
    Ok(config)
}

fn date(field: &str, value: Option<&str>) -> Result<Option<NaiveDate>, ApiError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let (min, max) = date_bounds();
    match NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        Ok(date) if (min..=max).contains(&date) => Ok(Some(date)),
        _ => Err(bad_body(format!(
            "{field} must be a date from {min} to {max} (YYYY-MM-DD), not \"{}\"",
            echo(value)
        ))),
    }
}

impl BacktestRequestDto {
    /// The core request: 400 for what does not parse (a symbol, a kind, a mode, a trigger, a
    /// date); the values' ranges are [`BacktestRequest::validate`]'s.
    fn into_request(self) -> Result<BacktestRequest, ApiError> {
        let symbols = self
            .symbols
            .iter()
            .map(|s| Symbol::parse(s).map_err(|e| ApiError::invalid_symbol(&e)))
            .collect::<Result<Vec<_>, _>>()?;
        let strategies = self
            .strategies
            .iter()
            .enumerate()
            .map(|(i, dto)| strategy(i, dto))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(BacktestRequest {
            symbols,
            strategies,
            from: date("from", self.from.as_deref())?,
            to: date("to", self.to.as_deref())?,
        })
    }
}

/// A queued backtest.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BacktestAccepted {
    /// The backtest's id (its task's).
    pub id: i64,
    /// `queued` or `running` (`running` when an identical backtest was already under way).
    #[schema(example = "queued")]
    pub status: String,
    /// `false` when an identical backtest was queued or running already: this is that one.
    pub created: bool,
    /// Where its status is (also the `Location` header).
    #[schema(example = "/v1/backtests/42")]
    pub status_url: String,
    /// Where its result will be.
    #[schema(example = "/v1/backtests/42/result")]
    pub result_url: String,
}

/// Where a backtest is.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BacktestStatusDto {
    /// Its id.
    pub id: i64,
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    #[schema(example = "running")]
    pub status: String,
    /// Attempts started so far.
    pub attempts: u32,
    /// Attempts in all.
    pub max_attempts: u32,
    /// The latest attempt's error (a failed backtest's reason).
    pub error: Option<String>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When its latest attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// Where its result is, once succeeded.
    pub result_url: Option<String>,
}

/// A backtest's figures (undefined ones are `null`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MetricsDto {
    /// The equity at the last close.
    pub final_equity: f64,
    /// `final_equity / initial_equity − 1`.
    pub total_return: f64,
    /// Compound annual growth rate.
    pub cagr: Option<f64>,
    /// Annualised volatility of the daily returns.
    pub volatility: Option<f64>,
    /// Annualised Sharpe ratio.
    pub sharpe: Option<f64>,
    /// Annualised Sortino ratio.
    pub sortino: Option<f64>,
    /// Maximum drawdown, a fraction ≥ 0.
    pub max_drawdown: f64,
    /// Its duration in bars.
    pub max_drawdown_bars: usize,
    /// Its duration in calendar days.
    pub max_drawdown_days: i64,
    /// Closed trades.
    pub trades: usize,
    /// Winning trades / trades.
    pub win_rate: Option<f64>,
    /// Gross profit / gross loss.
    pub profit_factor: Option<f64>,
    /// Bars in the market / bars.
    pub exposure: f64,
}

/// One closed trade.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TradeDto {
    /// `long` or `short`.
    #[schema(example = "long")]
    pub side: String,
    /// The index of the bar it was entered on (at its open).
    pub entry_bar: usize,
    /// That bar's date.
    #[schema(example = "2013-01-02")]
    pub entry_time: String,
    /// The entry fill price, slippage included.
    pub entry_price: f64,
    /// The index of the bar it was closed on.
    pub exit_bar: usize,
    /// That bar's date.
    pub exit_time: String,
    /// The exit fill price, slippage included.
    pub exit_price: f64,
    /// Shares (fractional).
    pub quantity: f64,
    /// Fees of both fills.
    pub fees: f64,
    /// Net profit.
    pub pnl: f64,
    /// Net profit over the equity committed.
    pub net_return: f64,
    /// `signal`, `time`, `stop_loss`, `take_profit` or `end`.
    #[schema(example = "signal")]
    pub reason: String,
}

/// The equity at one bar's close.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EquityPointDto {
    /// The bar's date.
    #[schema(example = "2013-12-31")]
    pub time: String,
    /// Cash plus the open position marked at the close.
    pub equity: f64,
}

/// Buy-and-hold over the same bars.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BenchmarkDto {
    /// Its figures.
    pub metrics: MetricsDto,
    /// Its equity, sampled like the strategy's.
    pub equity: Vec<EquityPointDto>,
}

/// One strategy on one symbol.
///
/// Read from the stored result: a summary (`BacktestResult::summary`), or a full result (every
/// trade and equity point, no index), whose runs take their index from their position.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StrategyRunDto {
    /// The strategy's index in the request.
    #[serde(default)]
    pub strategy: usize,
    /// Its figures, over every trade.
    pub metrics: MetricsDto,
    /// The latest 100 trades, in order.
    pub trades: Vec<TradeDto>,
    /// The earlier trades left out.
    #[serde(default)]
    pub trades_omitted: usize,
    /// The equity curve: at most 200 closes, evenly spread, the first and last included.
    pub equity: Vec<EquityPointDto>,
    /// Buy-and-hold beside it.
    pub buy_and_hold: BenchmarkDto,
}

/// Why a symbol has no backtest.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SymbolErrorDto {
    /// `no_data` (no stored daily bars, or none in the range) or `invalid_data`.
    #[schema(example = "no_data")]
    pub code: String,
    /// What happened.
    pub message: String,
}

/// One symbol's backtests, or why there are none.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SymbolBacktestDto {
    /// The symbol.
    #[schema(example = "AAPL")]
    pub symbol: String,
    /// The first bar's date.
    pub from: Option<NaiveDate>,
    /// The last bar's date.
    pub to: Option<NaiveDate>,
    /// Bars backtested.
    pub bars: usize,
    /// Signals the rules detected on them.
    pub signals: usize,
    /// One per strategy, in request order (empty with an error).
    pub strategies: Vec<StrategyRunDto>,
    /// Why there is no backtest.
    pub error: Option<SymbolErrorDto>,
}

/// A backtest's result: per symbol, in the request's normal order (sorted, each once).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BacktestResultDto {
    /// Per symbol.
    pub symbols: Vec<SymbolBacktestDto>,
}

fn status_name(state: TaskState) -> &'static str {
    match state {
        TaskState::Pending => "queued",
        TaskState::Running => "running",
        TaskState::Succeeded => "succeeded",
        TaskState::Dead => "failed",
        TaskState::Cancelled => "cancelled",
    }
}

fn status_url(id: i64) -> String {
    format!("/v1/backtests/{id}")
}

fn result_url(id: i64) -> String {
    format!("/v1/backtests/{id}/result")
}

/// The backtest `id`: 404 for an unknown id or a task of another kind.
async fn backtest_task(state: &AppState, id: i64) -> Result<Task, ApiError> {
    let task = state.queue.status(TaskId(id)).await.map_err(ApiError::from_tasks)?;
    task.filter(|t| t.kind == BACKTEST_KIND)
        .ok_or_else(|| ApiError::NotFound(format!("unknown backtest {id}")))
}

/// A 409 with its own code, in the shared error body.
fn conflict(code: &str, message: String) -> HttpResponse {
    HttpResponse::Conflict().json(ErrorBody {
        error: ErrorDetail {
            code: code.to_owned(),
            message,
        },
    })
}

/// Queues a backtest: the symbols' stored daily bars, the signals of the rules in force over
/// them, each strategy traded on those signals. An identical request (the same once symbols
/// and kinds are sorted and deduplicated) that is still queued or running is the same backtest.
#[utoipa::path(post, path = "/v1/backtests", tag = "backtests", request_body = BacktestRequestDto,
    responses(
        (status = 202, description = "Queued (or already queued or running: that backtest)", body = BacktestAccepted,
            headers(("Location" = String, description = "The backtest's status URL"))),
        (status = 400, description = "`invalid_body` (malformed JSON, an unknown signal kind, mode, trigger or a bad date) or `invalid_symbol`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "`invalid_backtest`: no or too many symbols or strategies, a strategy value out of range, `from` after `to`; the message names the field", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
#[post("/v1/backtests")]
pub(crate) async fn submit(state: Data<AppState>, body: Json<BacktestRequestDto>) -> Result<HttpResponse, ApiError> {
    let request = body.into_inner().into_request()?;
    request.validate().map_err(|e| ApiError::Unprocessable {
        code: "invalid_backtest",
        message: e.to_string(),
    })?;
    let request = request.normalized();
    let enqueued = state
        .queue
        .enqueue(
            BACKTEST_KIND,
            &request,
            TaskOptions::default().unique_key(request.unique_key()),
        )
        .await
        .map_err(ApiError::from_tasks)?;
    let id = enqueued.id.0;
    let now = match state.queue.status(enqueued.id).await.map_err(ApiError::from_tasks)? {
        Some(task) => status_name(task.state),
        None => status_name(TaskState::Pending),
    };
    Ok(HttpResponse::Accepted()
        .insert_header((header::LOCATION, status_url(id)))
        .json(BacktestAccepted {
            id,
            status: now.to_owned(),
            created: enqueued.created,
            status_url: status_url(id),
            result_url: result_url(id),
        }))
}

/// Where a backtest is: queued, running, succeeded, failed (with its error) or cancelled.
#[utoipa::path(get, path = "/v1/backtests/{id}", tag = "backtests",
    params(("id" = i64, Path, description = "The backtest's id")),
    responses(
        (status = 200, body = BacktestStatusDto),
        (status = 400, description = "`invalid_path`: not an integer id", body = ErrorBody),
        (status = 404, description = "Unknown backtest", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
#[get("/v1/backtests/{id}")]
pub(crate) async fn status(state: Data<AppState>, path: Path<i64>) -> Result<Json<BacktestStatusDto>, ApiError> {
    let id = path.into_inner();
    let task = backtest_task(&state, id).await?;
    Ok(Json(BacktestStatusDto {
        id,
        status: status_name(task.state).to_owned(),
        attempts: task.attempts,
        max_attempts: task.max_attempts,
        error: task.last_error,
        created_at: task.created_at,
        started_at: task.started_at,
        finished_at: task.finished_at,
        result_url: (task.state == TaskState::Succeeded).then(|| result_url(id)),
    }))
}

/// A succeeded backtest's result: per symbol, each strategy's figures, its latest trades and
/// its sampled equity curve beside buy-and-hold's.
#[utoipa::path(get, path = "/v1/backtests/{id}/result", tag = "backtests",
    params(("id" = i64, Path, description = "The backtest's id")),
    responses(
        (status = 200, body = BacktestResultDto),
        (status = 400, description = "`invalid_path`: not an integer id", body = ErrorBody),
        (status = 404, description = "Unknown backtest", body = ErrorBody),
        (status = 409, description = "`not_finished` (queued or running: ask again later) or `no_result` (failed or cancelled)", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
#[get("/v1/backtests/{id}/result")]
pub(crate) async fn result(state: Data<AppState>, path: Path<i64>) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let task = backtest_task(&state, id).await?;
    let name = status_name(task.state);
    match task.state {
        TaskState::Pending | TaskState::Running => {
            return Ok(conflict(
                "not_finished",
                format!("backtest {id} is {name}: its result is not ready yet"),
            ));
        }
        TaskState::Dead | TaskState::Cancelled => {
            let reason = task.last_error.map(|e| format!(": {e}")).unwrap_or_default();
            return Ok(conflict(
                "no_result",
                format!("backtest {id} {name} and has no result{reason}"),
            ));
        }
        TaskState::Succeeded => {}
    }
    let raw = task.result.as_deref().unwrap_or("null");
    let mut body: BacktestResultDto = serde_json::from_str(raw).map_err(|error| {
        tracing::error!(task = id, %error, "a stored backtest result does not read");
        ApiError::Internal
    })?;
    for symbol in &mut body.symbols {
        for (index, run) in symbol.strategies.iter_mut().enumerate() {
            run.strategy = index;
        }
    }
    Ok(HttpResponse::Ok().json(body))
}
