//! Finstage's HTTP API (actix-web): quotes, history, highs, indicators, signals and the
//! watchlist under `/v1`, health and metrics, an OpenAPI document generated from the code
//! (`/openapi.json`) and its interactive page (`/docs/`).
//!
//! [`Application::build`] takes an [`AppState`] (explicit values: store, cache, provider, task
//! queue, …; nothing read from the environment here) and [`ApiOptions`], binds (port 0 in
//! tests) and runs until stopped. Every error is [`ApiError`]'s JSON body.

pub mod bootstrap;
pub mod error;
pub mod middleware;
pub mod routes;
pub mod startup;
pub mod state;
pub mod stream;

pub use error::{ApiError, ErrorBody, ErrorDetail};
pub use startup::{Application, BuildError, StopHandle, openapi};
pub use state::{ApiOptions, AppState, RateLimitOptions, WatchEntry};
