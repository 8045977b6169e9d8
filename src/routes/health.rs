//! `GET /healthz` (the process serves) and `GET /readyz` (a feed can be
//! served).

use axum::extract::State;
use serde::Serialize;

use crate::error::{ApiError, Json, Problem};
use crate::state::AppState;
use crate::token::TokenUnavailable;

/// A health answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Liveness: 200 while the process serves.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process serves", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: 200 when a feed can be served (fresh or the last good one).
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "A feed can be served", body = Health),
        (status = 503, description = "No feed can be served; `detail` says why", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    if state.feed.last_good().is_some() {
        return Ok(Json(Health { status: "ok" }));
    }
    let not_ready = ApiError::NotReady;
    match state.tokens.usable() {
        Err(TokenUnavailable::Missing) => Err(not_ready("no access token is configured".into())),
        Err(TokenUnavailable::Invalid(_)) => Err(not_ready(
            "the access token is invalid and no feed was fetched yet".into(),
        )),
        Err(TokenUnavailable::Expired) => Err(not_ready(
            "the access token has expired and no feed was fetched yet".into(),
        )),
        // Never fetched but a token is there: try (shared with /feed, cached).
        Ok(_) => match state.feed.current().await {
            Ok(_) => Ok(Json(Health { status: "ok" })),
            Err(e) => Err(not_ready(e.to_string())),
        },
    }
}
