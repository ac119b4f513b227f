//! The HTTP middleware: request ids, tracing, metrics and the JSON error shape ([`observe`]),
//! the per-client-IP rate limit ([`rate_limit`]), and the admin bearer-token check ([`Admin`],
//! an extractor so that only the handlers that take it are guarded).

mod admin;
mod observe;
mod rate_limit;

pub use admin::Admin;
pub use observe::{REQUEST_ID, RequestId, observe};
pub use rate_limit::{RateLimiter, rate_limit};
