//! `/health/live`, `/health/ready` (the [`HealthRegistry`](finstage_monitoring::HealthRegistry)'s
//! checks; 503 when a critical one is down) and `/metrics` (Prometheus text).

use actix_web::http::StatusCode;
use actix_web::web::Data;
use actix_web::{HttpResponse, get};
use finstage_monitoring::{CONTENT_TYPE, HealthReport};
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

/// A health report.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthBody {
    /// `ok`, `degraded` or `down`.
    #[schema(example = "ok")]
    pub status: String,
    /// Each check.
    pub checks: Vec<CheckBody>,
}

/// One check's verdict.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckBody {
    /// Its name.
    pub name: String,
    /// `ok`, `degraded` or `down`.
    pub status: String,
    /// Whether it being down makes the service not ready.
    pub critical: bool,
    /// Its explanation.
    pub detail: String,
    /// How long it took, in milliseconds.
    pub duration_ms: f64,
}

fn respond(report: &HealthReport) -> HttpResponse {
    let body = HealthBody {
        status: report.status.as_str().to_owned(),
        checks: report
            .checks
            .iter()
            .map(|c| CheckBody {
                name: c.name.clone(),
                status: c.status.as_str().to_owned(),
                critical: c.critical,
                detail: c.detail.clone(),
                duration_ms: c.duration_ms,
            })
            .collect(),
    };
    let status = StatusCode::from_u16(report.http_status()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    HttpResponse::build(status).json(body)
}

/// Liveness: the process answers (runs no check).
#[utoipa::path(get, path = "/health/live", tag = "health",
    responses((status = 200, description = "Alive", body = HealthBody)))]
#[get("/health/live")]
pub(crate) async fn live(state: Data<AppState>) -> HttpResponse {
    respond(&state.health.liveness())
}

/// Readiness: every registered check (the database among them), each under its own timeout.
#[utoipa::path(get, path = "/health/ready", tag = "health",
    responses(
        (status = 200, description = "Ready (ok or degraded)", body = HealthBody),
        (status = 503, description = "A critical check is down", body = HealthBody),
    ))]
#[get("/health/ready")]
pub(crate) async fn ready(state: Data<AppState>) -> HttpResponse {
    respond(&state.health.readiness().await)
}

/// Every metric, in Prometheus' text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
#[get("/metrics")]
pub(crate) async fn metrics(state: Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .body(state.metrics.render())
}
