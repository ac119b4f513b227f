//! How the mock Yahoo server answers one request: count it, apply the request limit, the
//! user-agent check and any fault, build the answer outside the lock, then wait out the latency.

use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, RETRY_AFTER, USER_AGENT};
use http::{Method, Request, StatusCode};
use tokio::time::Instant;

use super::chart::{Chart, Shape, Snapshot, error_json};
use super::fault::Fault;
use super::log::RecordedRequest;
use super::query::{ChartQuery, Window, chart_symbol};
use super::state::State;
use crate::http::{Handler, Reply, lock, response};

/// Yahoo's exact 404 body for an unknown symbol.
pub(crate) const NOT_FOUND_BODY: &str =
    r#"{"chart":{"result":null,"error":{"code":"Not Found","description":"No data found, symbol may be delisted"}}}"#;
/// Yahoo's plain-text 429 body.
pub(crate) const TOO_MANY_REQUESTS_BODY: &str = "Edge: Too Many Requests";
/// What [`Fault::Malformed`] sends with a JSON content type.
pub(crate) const MALFORMED_BODY: &str = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Yahoo</title></head><body><p>Will be right back...</p><p>Thank you for your patience.</p></body></html>";

const JSON: &str = "application/json;charset=utf-8";
const TEXT: &str = "text/plain;charset=utf-8";
const HTML: &str = "text/html;charset=utf-8";

/// The shared state the server tasks and every [`MockYahoo`](super::MockYahoo) handle hold.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
}

/// A fixed answer.
#[derive(Debug, Clone)]
struct Fixed {
    status: StatusCode,
    content_type: &'static str,
    body: Bytes,
    retry_after: Option<u64>,
}

impl Fixed {
    fn new(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Self {
        Self {
            status,
            content_type,
            body: body.into(),
            retry_after: None,
        }
    }

    fn too_many_requests(retry_after: Option<u64>) -> Self {
        Self {
            retry_after,
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, TEXT, TOO_MANY_REQUESTS_BODY)
        }
    }

    fn unprocessable(description: &str) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            JSON,
            error_json("Unprocessable Entity", description),
        )
    }

    fn html(status: StatusCode) -> Self {
        let title = match status.canonical_reason() {
            Some(reason) => format!("{} {reason}", status.as_u16()),
            None => status.as_u16().to_string(),
        };
        let body = format!(
            "<!DOCTYPE html><html><head><title>{title}</title></head><body><h1>{title}</h1><p>The upstream server could not complete the request.</p></body></html>"
        );
        Self::new(status, HTML, body)
    }
}

/// What the request would get without any fault.
#[derive(Debug)]
enum Base {
    /// A fixed answer (other paths, wrong method, unknown symbol, bad query).
    Fixed(Fixed),
    /// A chart.
    Chart(Box<Snapshot>, ChartQuery),
}

/// The answer decided under the lock.
#[derive(Debug)]
enum Answer {
    Fixed(Fixed),
    Chart(Box<Snapshot>, ChartQuery, Shape),
    InvalidRange {
        query: Option<ChartQuery>,
        chart: Option<(Box<Snapshot>, ChartQuery)>,
    },
    Disconnect,
}

impl Answer {
    fn status(&self) -> u16 {
        match self {
            Answer::Fixed(fixed) => fixed.status.as_u16(),
            Answer::Chart(..) => 200,
            Answer::InvalidRange { .. } => 422,
            Answer::Disconnect => 0,
        }
    }
}

#[derive(Debug)]
struct Plan {
    answer: Answer,
    truncate: bool,
    extra_delay: Duration,
}

impl Plan {
    fn from_base(base: Base) -> Self {
        let answer = match base {
            Base::Fixed(fixed) => Answer::Fixed(fixed),
            Base::Chart(snapshot, query) => Answer::Chart(snapshot, query, Shape::Normal),
        };
        Self {
            answer,
            truncate: false,
            extra_delay: Duration::ZERO,
        }
    }

    fn with_fault(base: Base, fault: &Fault, query: Option<&ChartQuery>) -> Self {
        let fixed = |fixed| Self {
            answer: Answer::Fixed(fixed),
            truncate: false,
            extra_delay: Duration::ZERO,
        };
        let reshape = |base: Base, shape| match base {
            Base::Chart(snapshot, query) => Self {
                answer: Answer::Chart(snapshot, query, shape),
                truncate: false,
                extra_delay: Duration::ZERO,
            },
            other => Self::from_base(other),
        };
        match fault {
            Fault::Status(status) => fixed(Fixed::html(
                StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            )),
            Fault::TooManyRequests { retry_after } => fixed(Fixed::too_many_requests(*retry_after)),
            Fault::Malformed => fixed(Fixed::new(StatusCode::OK, JSON, MALFORMED_BODY)),
            Fault::NotFound => fixed(Fixed::new(StatusCode::NOT_FOUND, JSON, NOT_FOUND_BODY)),
            Fault::Truncated => Self {
                truncate: true,
                ..Self::from_base(base)
            },
            Fault::Delay(delay) => Self {
                extra_delay: *delay,
                ..Self::from_base(base)
            },
            Fault::Nulls => reshape(base, Shape::Nulls),
            Fault::ZeroPrices => reshape(base, Shape::ZeroPrices),
            Fault::EmptyResult => reshape(base, Shape::Empty),
            Fault::InvalidRange => Self {
                answer: Answer::InvalidRange {
                    query: query.cloned(),
                    chart: match base {
                        Base::Chart(snapshot, query) => Some((snapshot, query)),
                        Base::Fixed(_) => None,
                    },
                },
                truncate: false,
                extra_delay: Duration::ZERO,
            },
            Fault::Disconnect => Self {
                answer: Answer::Disconnect,
                truncate: false,
                extra_delay: Duration::ZERO,
            },
        }
    }
}

/// `true` for a `User-Agent` that a browser would send: one starting with `Mozilla/`.
pub fn is_browser_user_agent(user_agent: &str) -> bool {
    user_agent.starts_with("Mozilla/")
}

impl Handler for Shared {
    async fn handle(&self, request: Request<Bytes>) -> Reply {
        let path = request.uri().path().to_owned();
        let raw_query = request.uri().query().map(str::to_owned);
        let user_agent = request
            .headers()
            .get(USER_AGENT)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
        let symbol = chart_symbol(&path);
        // Parsing needs no state: do it before taking the lock.
        let query = symbol.as_ref().map(|_| ChartQuery::parse(raw_query.as_deref()));

        let (plan, latency) = {
            let mut state = lock(&self.state);
            let received_at = Instant::now();
            state.stats.arrived(symbol.as_deref());

            let base = match (&symbol, &query) {
                (None, _) => Base::Fixed(Fixed::new(StatusCode::NOT_FOUND, TEXT, "Not Found")),
                (Some(_), _) if request.method() != Method::GET => {
                    Base::Fixed(Fixed::new(StatusCode::METHOD_NOT_ALLOWED, TEXT, "Method Not Allowed"))
                }
                (Some(symbol), Some(Ok(query))) => match state.snapshot(symbol, query) {
                    Some(snapshot) => Base::Chart(Box::new(snapshot), query.clone()),
                    None => Base::Fixed(Fixed::new(StatusCode::NOT_FOUND, JSON, NOT_FOUND_BODY)),
                },
                (Some(symbol), Some(Err(description))) => {
                    if state.symbols.get(symbol).is_some_and(|data| data.listed) {
                        Base::Fixed(Fixed::unprocessable(description))
                    } else {
                        Base::Fixed(Fixed::new(StatusCode::NOT_FOUND, JSON, NOT_FOUND_BODY))
                    }
                }
                (Some(_), None) => Base::Fixed(Fixed::new(StatusCode::NOT_FOUND, TEXT, "Not Found")),
            };
            let parsed = query.as_ref().and_then(|q| q.as_ref().ok());

            let admitted = match &mut state.limiter {
                Some(limiter) => limiter.admit(received_at),
                None => true,
            };
            let rejected_agent = state
                .user_agent_check
                .clone()
                .filter(|_| !user_agent.as_deref().is_some_and(is_browser_user_agent));
            let (plan, fault) = if !admitted {
                let retry_after = state.limit_retry_after;
                (
                    Plan::from_base(Base::Fixed(Fixed::too_many_requests(retry_after))),
                    None,
                )
            } else if let Some(fault) = rejected_agent {
                (Plan::with_fault(base, &fault, parsed), Some(fault))
            } else if let Some(fault) = symbol.as_deref().and_then(|s| state.faults.take(s)) {
                (Plan::with_fault(base, &fault, parsed), Some(fault))
            } else {
                (Plan::from_base(base), None)
            };

            state.stats.answered(RecordedRequest {
                method: request.method().to_string(),
                path,
                query: raw_query,
                symbol,
                user_agent,
                status: plan.answer.status(),
                fault,
                rate_limited: !admitted,
                received_at,
            });
            (plan, state.latency)
        };

        let reply = build(plan.answer, plan.truncate);
        let delay = latency.saturating_add(plan.extra_delay);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        reply
    }
}

/// Builds the response (serializing the chart, if any) outside the lock.
fn build(answer: Answer, truncate: bool) -> Reply {
    let fixed = match answer {
        Answer::Fixed(fixed) => fixed,
        Answer::Chart(snapshot, query, shape) => match Chart::build(&snapshot, &query).to_json(shape) {
            Ok(body) => Fixed::new(StatusCode::OK, JSON, body),
            Err(e) => Fixed::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                TEXT,
                format!("mock Yahoo: cannot serialize the chart: {e}"),
            ),
        },
        Answer::InvalidRange { query, chart } => {
            let span = chart
                .and_then(|(snapshot, query)| Chart::build(&snapshot, &query).span())
                .unwrap_or((0, 0));
            let (start, end) = match query.as_ref().map(|q| q.window) {
                Some(Window::Period { start, end }) => (start.unwrap_or(span.0), end.unwrap_or(span.1)),
                _ => span,
            };
            let interval = query.as_ref().map_or("1d", |q| q.interval_text.as_str());
            Fixed::unprocessable(&format!(
                "{interval} data not available for startTime={start} and endTime={end}. The requested range must be within the last 60 days."
            ))
        }
        Answer::Disconnect => return Reply::Disconnect,
    };
    let mut body = fixed.body;
    if truncate {
        body.truncate(body.len() / 2);
    }
    let mut response = response(fixed.status, fixed.content_type, body);
    if let Some(seconds) = fixed.retry_after {
        response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    Reply::Respond(response)
}
