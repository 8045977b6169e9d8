//! `GET /healthz` (the process serves) and `GET /readyz` (a feed can be
//! served).

use axum::extract::State;
use serde::Serialize;

use crate::accounts::Account;
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

/// A readiness answer: a feed can be served, and what needs attention
/// without stopping that.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: &'static str,
    /// Problems a person should know about that do not stop the feed (empty
    /// when all is well): e.g. the token in use could not be stored, or
    /// (replicas) Redis cannot be reached.
    #[schema(example = json!(["the token in use is not stored: writing to IGFEED_DATA_DIR has failed since 2026-11-28T12:00:00Z (attempts: 3); igfeed retries, and a restart before a write succeeds would load the previous token"]))]
    pub warnings: Vec<String>,
}

impl Readiness {
    fn now(state: &AppState, accounts: &[std::sync::Arc<Account>]) -> Self {
        let mut warnings: Vec<String> = Vec::new();
        if let Some(since) = state.replicas.as_ref().and_then(|r| r.down_since()) {
            warnings.push(format!(
                "Redis cannot be reached since {}: this replica serves the feeds it holds and refreshes no token until Redis answers again",
                humantime::format_rfc3339_seconds(since)
            ));
        }
        warnings.extend(accounts.iter().filter_map(|a| {
            let f = a.tokens.persist_failure()?;
            Some(format!(
                "the token in use by account '{}' is not stored: writing to {} has failed since {} (attempts: {}); igfeed retries, and a restart before a write succeeds would load the previous token",
                a.name,
                a.tokens.store_name(),
                humantime::format_rfc3339_seconds(f.since),
                f.failures
            ))
        }));
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
    let accounts = state.accounts.list();
    if accounts.iter().any(|a| a.feed.last_good().is_some()) {
        return Ok(Json(Readiness::now(&state, &accounts)));
    }
    // No feed yet: try the first account with a usable token, `default`
    // first (shared with its feed requests, cached) — one, not all of them.
    let default = state.accounts.default_account();
    let usable = std::iter::once(&default)
        .chain(accounts.iter())
        .find(|a| a.tokens.usable().is_ok());
    if let Some(account) = usable {
        return match state.feed.current(account).await {
            Ok(_) => Ok(Json(Readiness::now(&state, &accounts))),
            Err(e) => Err(ApiError::NotReady(e.to_string())),
        };
    }
    let not_ready = ApiError::NotReady;
    match default.tokens.usable() {
        Err(TokenUnavailable::Invalid(_)) => Err(not_ready(
            "the access token is invalid and no feed was fetched yet".into(),
        )),
        Err(TokenUnavailable::Expired) => Err(not_ready(
            "the access token has expired and no feed was fetched yet".into(),
        )),
        _ => Err(not_ready("no access token is configured".into())),
    }
}
