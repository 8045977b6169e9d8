//! `GET /healthz` (the process serves) and `GET /readyz` (a feed can be
//! served).

use axum::extract::State;
use serde::Serialize;

use crate::error::{ApiError, Json, Problem};
use crate::state::AppState;
use crate::token::{TokenManager, TokenUnavailable};

/// A health answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// A readiness answer: a feed can be served, and what needs attention
/// without stopping that.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: &'static str,
    /// Problems a person should know about that do not stop the feed (empty
    /// when all is well): e.g. the token in use could not be stored.
    #[schema(example = json!(["the token in use is not stored: writing to IGFEED_DATA_DIR has failed since 2026-11-28T12:00:00Z (attempts: 3); igfeed retries, and a restart before a write succeeds would load the previous token"]))]
    pub warnings: Vec<String>,
}

impl Readiness {
    fn now(tokens: &TokenManager) -> Self {
        let warnings = tokens
            .persist_failure()
            .map(|f| {
                format!(
                    "the token in use is not stored: writing to IGFEED_DATA_DIR has failed since {} (attempts: {}); igfeed retries, and a restart before a write succeeds would load the previous token",
                    humantime::format_rfc3339_seconds(f.since),
                    f.failures
                )
            })
            .into_iter()
            .collect();
        Self {
            status: "ok",
            warnings,
        }
    }
}

/// Liveness: 200 while the process serves.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process serves", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: 200 when a feed can be served (fresh or the last good one).
///
/// The body's `warnings` list what needs a person without stopping the feed.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "A feed can be served; `warnings` lists what needs attention", body = Readiness),
        (status = 503, description = "No feed can be served; `detail` says why", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Readiness>, ApiError> {
    if state.feed.last_good().is_some() {
        return Ok(Json(Readiness::now(&state.tokens)));
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
            Ok(_) => Ok(Json(Readiness::now(&state.tokens))),
            Err(e) => Err(not_ready(e.to_string())),
        },
    }
}
