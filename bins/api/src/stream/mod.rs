//! The live WebSocket stream, `GET /v1/stream`: quotes, signals and indicator values from the
//! event bus, per channel, with snapshots and sequence numbers (protocol in `docs/API.md`).
//!
//! - [`StreamHub`] subscribes once to the [`EventBus`](finstage_core::bus::EventBus) and fans
//!   each event out to the connections subscribed to its channel.
//! - [`StreamOptions`]: channels per connection, frame size, send queue, conflation, heartbeat.
//! - [`configure`] mounts the route and the hub in an app built with utoipa-actix-web (the
//!   route is in `/openapi.json`); [`configure_actix`] does the same for a plain actix app.
//! - Shutdown: [`StreamHub::shutdown`] closes every client with 1001 before the server stops.
//!
//! Metrics: `finstage_ws_connections`, `finstage_ws_subscriptions`,
//! `finstage_ws_messages_sent_total{kind}`, `finstage_ws_messages_received_total{op}`,
//! `finstage_ws_disconnects_total{reason}`, `finstage_ws_conflated_total`,
//! `finstage_ws_delivery_milliseconds`.

mod connection;
mod hub;
mod metrics;
mod options;
mod outbox;
mod protocol;

use actix_web::web::{self, Data};
use actix_web::{HttpRequest, HttpResponse, get};

pub use self::hub::{StreamError, StreamHub};
pub use self::metrics::StreamStats;
pub use self::options::{MAX_CLIENT_TIMEOUT, StreamOptions, StreamOptionsError};

/// The stream's path.
pub const PATH: &str = "/v1/stream";

/// Opens the live stream: a WebSocket upgrade. Then JSON text frames both ways: `subscribe`,
/// `unsubscribe`, `ping` from the client; `subscribed`, `snapshot`, `quote`, `signal`,
/// `indicator`, `pong`, `error` from the server (see `docs/API.md`, "WebSocket stream").
#[utoipa::path(get, path = "/v1/stream", tag = "stream",
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, description = "Not a WebSocket upgrade request"),
        (status = 503, description = "`stream_unavailable`: this instance does not serve the stream"),
    ))]
#[get("/v1/stream")]
pub(crate) async fn stream(
    request: HttpRequest,
    body: web::Payload,
    hub: Option<Data<StreamHub>>,
) -> Result<HttpResponse, actix_web::Error> {
    let Some(hub) = hub else {
        return Ok(HttpResponse::ServiceUnavailable().json(serde_json::json!({
            "error": {"code": "stream_unavailable", "message": "this instance does not serve the live stream"}
        })));
    };
    let (response, session, messages) = actix_ws::handle(&request, body)?;
    let max = hub.options().max_frame_size;
    let messages = messages
        .max_frame_size(max)
        .aggregate_continuations()
        .max_continuation_size(max);
    actix_web::rt::spawn(connection::run(hub.get_ref().clone(), session, messages));
    Ok(response)
}

/// Mounts `GET /v1/stream` served by `hub` in a utoipa-actix-web app (documented in the
/// OpenAPI document): `app.configure(stream::configure(hub.clone()))`.
pub fn configure(hub: StreamHub) -> impl FnOnce(&mut utoipa_actix_web::service_config::ServiceConfig<'_>) {
    move |cfg| {
        cfg.app_data(Data::new(hub)).service(stream);
    }
}

/// Mounts `GET /v1/stream` served by `hub` in a plain actix app.
pub fn configure_actix(hub: StreamHub) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(Data::new(hub)).service(stream);
    }
}
