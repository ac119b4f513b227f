//! [`Admin`]: the extractor that guards admin endpoints with `Authorization: Bearer <token>`,
//! compared in constant time. With no token configured every admin endpoint answers 403
//! `admin_disabled`: disabled, never open.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::web::Data;
use actix_web::{FromRequest, HttpRequest};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::state::AppState;

/// Proof that the request carried the admin token. Take it as the first argument of an admin
/// handler, so that it is checked before the body is read.
#[derive(Debug, Clone, Copy)]
pub struct Admin(());

fn check(req: &HttpRequest) -> Result<Admin, ApiError> {
    let state = req.app_data::<Data<AppState>>().ok_or(ApiError::Internal)?;
    let Some(token) = state.admin_token.as_deref() else {
        return Err(ApiError::AdminDisabled);
    };
    let presented = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, credentials)| credentials.trim());
    match presented {
        Some(candidate) if bool::from(token.expose_secret().as_bytes().ct_eq(candidate.as_bytes())) => Ok(Admin(())),
        _ => Err(ApiError::Unauthorized),
    }
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(check(req))
    }
}
