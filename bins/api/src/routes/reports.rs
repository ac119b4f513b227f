//! The daily report: `GET /v1/reports/latest` builds it from stored data
//! ([`finstage_core::reports::build_daily_report`]) for the watchlist (the configured symbols,
//! then those added through the API), and `POST /v1/reports/send` (admin) also sends it through
//! the state's notifier ([`finstage_core::reports::send_daily_report`]).

use actix_web::web::{Data, Json};
use actix_web::{get, post};
use chrono::NaiveDate;
use finstage_analysis::report::{DailyReport, KindRank, Position, SignalLine, SymbolReport};
use finstage_core::CoreError;
use finstage_core::reports::{build_daily_report, send_daily_report};
use finstage_domain::{Category, Symbol};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::middleware::Admin;
use crate::routes::notifications::DeliveryDto;
use crate::state::AppState;

/// MACD(12, 26, 9) on the last bar.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MacdDto {
    /// The MACD line.
    pub macd: f64,
    /// Its signal line.
    pub signal: f64,
    /// `macd − signal`.
    pub hist: f64,
    /// `bullish` (MACD above its signal), `bearish` or `neutral`.
    #[schema(example = "bullish")]
    pub trend: String,
}

/// One of the day's signals.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SignalLineDto {
    /// What fired.
    #[schema(example = "macd_cross_up")]
    pub kind: String,
    /// `bullish`, `bearish` or `neutral`.
    #[schema(example = "bullish")]
    pub direction: String,
    /// Its strength, 0 to 1 (0 for signals known only from the store, which keeps none).
    pub strength: f64,
    /// The price then.
    pub price: f64,
    /// The bar's date, or the quote's RFC 3339 time.
    #[schema(example = "2013-12-31")]
    pub time: String,
}

/// One symbol of the report; what cannot be computed (no bars, too few) is `null`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SymbolReportDto {
    /// The symbol.
    #[schema(example = "AAPL")]
    pub symbol: String,
    /// Its category.
    #[schema(example = "stock")]
    pub category: String,
    /// The date of its last bar.
    pub date: Option<NaiveDate>,
    /// The last close.
    pub close: Option<f64>,
    /// The change against the close before.
    pub change: Option<f64>,
    /// The same in percent.
    pub change_pct: Option<f64>,
    /// The all-time high.
    pub all_time_high: Option<f64>,
    /// Its date.
    pub all_time_high_date: Option<NaiveDate>,
    /// The close against the all-time high, in percent (≤ 0).
    pub from_high_pct: Option<f64>,
    /// RSI(14).
    pub rsi: Option<f64>,
    /// MACD(12, 26, 9).
    pub macd: Option<MacdDto>,
    /// SMA(50).
    pub sma50: Option<f64>,
    /// SMA(200).
    pub sma200: Option<f64>,
    /// The close against SMA(50): `above` or `below`.
    pub vs_sma50: Option<String>,
    /// The close against SMA(200): `above` or `below`.
    pub vs_sma200: Option<String>,
    /// The day's signals, strongest first.
    pub signals: Vec<SignalLineDto>,
}

/// One watchlist of the report.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WatchlistReportDto {
    /// Its name.
    #[schema(example = "default")]
    pub name: String,
    /// Its symbols, in order.
    pub symbols: Vec<SymbolReportDto>,
}

/// A signal kind ranked by its one-week win rate.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct KindRankDto {
    /// The kind.
    #[schema(example = "golden_cross")]
    pub kind: String,
    /// Its directional signals measured at one week.
    pub measured: u64,
    /// Their win rate, 0 to 1.
    pub win_rate_1w: f64,
    /// Their mean one-week return.
    pub mean_return_1w: Option<f64>,
}

/// The daily report.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DailyReportDto {
    /// The day it reports on: the latest session stored.
    pub date: NaiveDate,
    /// The watchlists.
    pub watchlists: Vec<WatchlistReportDto>,
    /// The kinds with the best one-week win rates (at least 5 measured), best first.
    pub best_kinds: Vec<KindRankDto>,
    /// The kinds with the worst, worst first (none of the best).
    pub worst_kinds: Vec<KindRankDto>,
}

/// The report and its delivery.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SentReportDto {
    /// The report sent.
    pub report: DailyReportDto,
    /// What its delivery took.
    pub delivery: DeliveryDto,
}

fn position(p: Option<Position>) -> Option<String> {
    p.map(|p| {
        match p {
            Position::Above => "above",
            Position::Below => "below",
        }
        .to_owned()
    })
}

fn signal_line(l: &SignalLine) -> SignalLineDto {
    SignalLineDto {
        kind: l.kind.to_string(),
        direction: l.direction.as_str().to_owned(),
        strength: l.strength,
        price: l.price,
        time: l.time.to_string(),
    }
}

fn symbol_report(s: &SymbolReport) -> SymbolReportDto {
    SymbolReportDto {
        symbol: s.symbol.to_string(),
        category: s.category.to_string(),
        date: s.date,
        close: s.close,
        change: s.change,
        change_pct: s.change_pct,
        all_time_high: s.all_time_high,
        all_time_high_date: s.all_time_high_date,
        from_high_pct: s.from_high_pct,
        rsi: s.rsi,
        macd: s.macd.map(|m| MacdDto {
            macd: m.macd,
            signal: m.signal,
            hist: m.hist,
            trend: m.trend.as_str().to_owned(),
        }),
        sma50: s.sma50,
        sma200: s.sma200,
        vs_sma50: position(s.vs_sma50),
        vs_sma200: position(s.vs_sma200),
        signals: s.signals.iter().map(signal_line).collect(),
    }
}

fn kind_rank(r: &KindRank) -> KindRankDto {
    KindRankDto {
        kind: r.kind.to_string(),
        measured: r.measured,
        win_rate_1w: r.win_rate_1w,
        mean_return_1w: r.mean_return_1w,
    }
}

impl From<&DailyReport> for DailyReportDto {
    fn from(report: &DailyReport) -> Self {
        Self {
            date: report.date,
            watchlists: report
                .watchlists
                .iter()
                .map(|w| WatchlistReportDto {
                    name: w.name.clone(),
                    symbols: w.symbols.iter().map(symbol_report).collect(),
                })
                .collect(),
            best_kinds: report.best_kinds.iter().map(kind_rank).collect(),
            worst_kinds: report.worst_kinds.iter().map(kind_rank).collect(),
        }
    }
}

fn from_core(error: CoreError) -> ApiError {
    match error {
        CoreError::Store(e) => ApiError::from_store(e),
        CoreError::Notify(e) => ApiError::from_notify(&e),
        other => {
            tracing::error!(error = %other, "daily report");
            ApiError::Internal
        }
    }
}

/// The report of the configured watchlist and the symbols added through the API, as of the
/// queue's clock.
async fn build(state: &AppState) -> Result<DailyReport, ApiError> {
    let stored = state.store.symbols().active().await?;
    let watchlist: Vec<(Symbol, Category)> = state
        .watchlist
        .iter()
        .map(|w| (w.symbol, w.category))
        .chain(stored.iter().map(|r| (r.symbol, r.category)))
        .collect();
    build_daily_report(&state.store, &watchlist, &state.rules, state.queue.clock().now())
        .await
        .map_err(from_core)
}

/// The daily report, built now from stored data: per symbol the last session's close and
/// change, the distance from the all-time high, RSI, MACD, SMA(50) and SMA(200), and the
/// session's signals; the signal kinds with the best and worst one-week win rates.
#[utoipa::path(get, path = "/v1/reports/latest", tag = "reports",
    responses(
        (status = 200, body = DailyReportDto),
        (status = 429, description = "Rate limited", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    ))]
#[get("/v1/reports/latest")]
pub(crate) async fn latest(state: Data<AppState>) -> Result<Json<DailyReportDto>, ApiError> {
    let report = build(&state).await?;
    Ok(Json(DailyReportDto::from(&report)))
}

/// Builds the daily report and sends it now through the notification channel (admin).
#[utoipa::path(post, path = "/v1/reports/send", tag = "reports",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Delivered", body = SentReportDto),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 403, description = "`admin_disabled`", body = ErrorBody),
        (status = 502, description = "`notification_rejected`: the channel refused the message for good", body = ErrorBody),
        (status = 503, description = "`upstream_unavailable`: the channel failed still after retries; `store_unavailable`", body = ErrorBody),
    ))]
#[post("/v1/reports/send")]
pub(crate) async fn send(_admin: Admin, state: Data<AppState>) -> Result<Json<SentReportDto>, ApiError> {
    let report = build(&state).await?;
    let delivery = send_daily_report(state.notifier.as_ref(), &report)
        .await
        .map_err(from_core)?;
    Ok(Json(SentReportDto {
        report: DailyReportDto::from(&report),
        delivery: DeliveryDto {
            channel: state.notifier.channel().to_owned(),
            parts: delivery.parts,
            attempts: delivery.attempts,
            message_ids: delivery.message_ids,
        },
    }))
}
