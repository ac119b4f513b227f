//! Notifications (admin): `POST /v1/notifications/test` sends
//! [`finstage_notify::format::test_message`] through the state's notifier (Telegram when
//! configured, else the log), to check the channel end to end.

use actix_web::post;
use actix_web::web::{Data, Json};
use finstage_notify::format::test_message;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::middleware::Admin;
use crate::state::AppState;

/// What a delivered notification took.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeliveryDto {
    /// The channel it went through: `telegram`, or `log` when none is configured.
    #[schema(example = "telegram")]
    pub channel: String,
    /// How many parts the message was split into.
    pub parts: usize,
    /// Requests made in all, retries included.
    pub attempts: u32,
    /// The channel's ids of the messages sent, one per part (empty for the log).
    pub message_ids: Vec<i64>,
}

/// Sends a test notification (admin), signed with the instance's name.
#[utoipa::path(post, path = "/v1/notifications/test", tag = "notifications",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Delivered", body = DeliveryDto),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 403, description = "`admin_disabled`", body = ErrorBody),
        (status = 502, description = "`notification_rejected`: the channel refused the message for good (its description says why)", body = ErrorBody),
        (status = 503, description = "`upstream_unavailable`: the channel failed still after retries", body = ErrorBody),
    ))]
#[post("/v1/notifications/test")]
pub(crate) async fn test(_admin: Admin, state: Data<AppState>) -> Result<Json<DeliveryDto>, ApiError> {
    let message = test_message(&state.instance_name);
    let delivery = state
        .notifier
        .send(&message)
        .await
        .map_err(|e| ApiError::from_notify(&e))?;
    Ok(Json(DeliveryDto {
        channel: state.notifier.channel().to_owned(),
        parts: delivery.parts,
        attempts: delivery.attempts,
        message_ids: delivery.message_ids,
    }))
}
