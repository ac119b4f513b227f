//! [`observe`], the outermost middleware: gives every request an id (the client's
//! `x-request-id` when it is sane, else a new one) carried by the request's tracing span and
//! echoed on every response; records `finstage_http_requests_total`,
//! `finstage_http_request_duration_milliseconds` (labelled by route template, never the raw
//! path) and `finstage_http_requests_in_flight`; and turns any error response that is not JSON
//! yet (actix's 404/405, CORS rejections, …) into the shared error body.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, ResponseError};
use finstage_monitoring::catalog;
use tracing::Instrument;

use crate::error::ApiError;

/// The request id header.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The route label of requests that matched no route.
const UNMATCHED: &str = "unmatched";

/// The request's id, in its extensions for handlers that want it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// A client-supplied id is kept when it is 1 to 128 characters of `A-Z a-z 0-9 - _ . : / + =`.
fn sane(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/' | b'+' | b'='))
}

/// 32 hex digits, unpredictable (random hash keys) and unique in the process (a counter).
fn new_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut a = std::hash::RandomState::new().build_hasher();
    a.write_u64(n);
    let mut b = std::hash::RandomState::new().build_hasher();
    b.write_u64(!n);
    format!("{:016x}{:016x}", a.finish(), b.finish())
}

struct InFlight;

impl InFlight {
    fn enter() -> Self {
        metrics::gauge!(catalog::HTTP_REQUESTS_IN_FLIGHT.name).increment(1.0);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics::gauge!(catalog::HTTP_REQUESTS_IN_FLIGHT.name).decrement(1.0);
    }
}

/// The JSON error an error status gets when the response is not JSON already.
fn shaped(status: StatusCode) -> HttpResponse {
    let error = match status {
        StatusCode::NOT_FOUND => ApiError::NotFound("no such route".to_owned()),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge("the body is too large".to_owned()),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType("unsupported content type".to_owned()),
        s if s.is_client_error() => ApiError::bad_request("bad_request", s.canonical_reason().unwrap_or("bad request")),
        _ => ApiError::Internal,
    };
    let mut response = error.error_response();
    if response.status() != status && status.is_client_error() {
        *response.status_mut() = status;
    }
    response
}

fn is_json(response: &HttpResponse<impl MessageBody>) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// The middleware (install it outermost, with `actix_web::middleware::from_fn`).
///
/// # Errors
/// None: an inner error becomes its response here.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let _in_flight = InFlight::enter();
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| sane(v))
        .map_or_else(new_id, str::to_owned);
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    let span = tracing::info_span!("http", request_id = %id, method = %method, path = %req.path());
    let result = next.call(req).instrument(span.clone()).await;
    let mut response = match result {
        Ok(response) => response.map_into_boxed_body(),
        Err(error) => {
            // Only a middleware fails this way (handlers' errors are responses by now); actix
            // renders it. Counted, without a route.
            let status = error.as_response_error().status_code();
            metrics::counter!(
                catalog::HTTP_REQUESTS_TOTAL.name,
                "method" => method.as_str().to_owned(),
                "route" => UNMATCHED,
                "status" => status.as_str().to_owned(),
            )
            .increment(1);
            return Err(error);
        }
    };
    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        if !is_json(response.response()) {
            let (request, _) = response.into_parts();
            response = ServiceResponse::new(request, shaped(status));
        } else if status.is_server_error()
            && let Some(error) = response.response().error()
        {
            tracing::error!(parent: &span, %error, "request failed");
        }
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| UNMATCHED.to_owned());
    let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    let status = response.status();
    metrics::counter!(
        catalog::HTTP_REQUESTS_TOTAL.name,
        "method" => method.as_str().to_owned(),
        "route" => route.clone(),
        "status" => status.as_str().to_owned(),
    )
    .increment(1);
    metrics::histogram!(
        catalog::HTTP_REQUEST_DURATION_MILLISECONDS.name,
        "method" => method.as_str().to_owned(),
        "route" => route,
    )
    .record(elapsed_ms);
    tracing::debug!(parent: &span, status = status.as_u16(), elapsed_ms, "request served");
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_kept_when_sane() {
        assert!(sane("abc-123_x.y:z"));
        assert!(!sane(""));
        assert!(!sane("has space"));
        assert!(!sane("<script>"));
        assert!(!sane(&"a".repeat(129)));
        let (a, b) = (new_id(), new_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(sane(&a));
    }
}
