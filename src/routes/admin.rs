//! `/admin/*`: the token (read, put, refresh) and cache purge, behind
//! `Authorization: Bearer $IGFEED_ADMIN_KEY`. Without a configured key every
//! admin path answers 404, as if it did not exist.

use std::time::SystemTime;

use axum::extract::{FromRequestParts, State};
use axum::http::header;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};

use super::token::{TokenInfo, TokenWithSecret, info};
use crate::config::Secret;
use crate::error::{ApiError, Json, Problem};
use crate::graph::{GraphError, redact};
use crate::state::AppState;
use crate::token::TokenRecord;
use crate::token::refresher::{Step, refresh_step};

/// Compares in time independent of where the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i % b.len().max(1)).copied().unwrap_or(0));
    }
    diff == 0
}

/// Proof that a request carries the admin key: an extractor every admin
/// handler takes first. Without a configured key the route answers 404 (as
/// if it did not exist); a wrong or missing bearer key is a 401.
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(key) = state.config.admin_key.as_ref() else {
            return Err(ApiError::NotFound("no such resource"));
        };
        let given = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim);
        match given {
            Some(given) if constant_time_eq(given.as_bytes(), key.expose().as_bytes()) => Ok(Admin),
            _ => {
                tracing::warn!(path = %parts.uri.path(), "admin request without a valid key");
                Err(ApiError::Unauthorized)
            }
        }
    }
}

/// The token's status with the token itself.
#[utoipa::path(get, path = "/admin/token", tag = "admin", security(("admin_key" = [])),
    responses(
        (status = 200, description = "Status and token", body = TokenWithSecret),
        (status = 401, description = "Wrong or missing admin key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No admin key is configured", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_admin_token(_: Admin, State(state): State<AppState>) -> Json<TokenWithSecret> {
    tracing::info!("admin: token read");
    let token = state
        .tokens
        .record()
        .map(|r| r.access_token.expose().to_string());
    Json(TokenWithSecret {
        info: info(&state.tokens),
        access_token: token,
    })
}

/// A new token.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct PutToken {
    /// A long-lived Instagram token (`IGAA…`).
    #[schema(min_length = 1, max_length = 4096, pattern = "^\\S+$")]
    pub access_token: String,
}

impl std::fmt::Debug for PutToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PutToken { access_token: [redacted] }")
    }
}

/// Replaces the token after checking it with Instagram.
#[utoipa::path(put, path = "/admin/token", tag = "admin", security(("admin_key" = [])),
    request_body = PutToken,
    responses(
        (status = 200, description = "Accepted and stored; the new status", body = TokenInfo),
        (status = 400, description = "Not a JSON body of the documented shape", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Wrong or missing admin key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No admin key is configured", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Instagram rejected the token; the current one stays", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "Accepted and in use, but not stored (`urn:igfeed:persist-failed`); igfeed retries the write", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "Instagram could not be asked; the current token stays", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn put_admin_token(
    _: Admin,
    State(state): State<AppState>,
    Json(body): Json<PutToken>,
) -> Result<Json<TokenInfo>, ApiError> {
    let candidate = body.access_token.trim();
    if candidate.is_empty() || candidate.len() > 4096 || candidate.chars().any(char::is_whitespace)
    {
        return Err(ApiError::Unprocessable(
            "access_token must be a non-empty token without spaces",
        ));
    }
    let token = Secret::new(candidate);
    let user = state.graph.me(&token).await.map_err(|e| {
        let detail = redact(&e.to_string(), &token);
        tracing::warn!(error = %detail, "admin: new token not accepted");
        match e {
            GraphError::TokenInvalid { .. } | GraphError::BadRequest { .. } => {
                ApiError::TokenRejected(detail)
            }
            _ => ApiError::TokenUnchecked(detail),
        }
    })?;
    let held = state.tokens.lock().await;
    let seed = state.tokens.record().and_then(|r| r.seed);
    let mut rec = TokenRecord::first_seen(token, SystemTime::now(), seed);
    rec.user = Some(user.clone());
    // In use even when the write fails (and then retried): the caller
    // hears that it is not stored yet.
    let stored = state.tokens.store(&held, rec).await;
    drop(held);
    state.tokens.set_refresh_failures(0);
    state.feed.purge();
    if stored.is_err() {
        tracing::error!(user = %user.username, "admin: token replaced in memory but not stored");
        return Err(ApiError::PersistFailed("accepted"));
    }
    tracing::info!(user = %user.username, "admin: token replaced");
    Ok(Json(info(&state.tokens)))
}

/// Refreshes the token now.
#[utoipa::path(post, path = "/admin/token/refresh", tag = "admin", security(("admin_key" = [])),
    responses(
        (status = 200, description = "Refreshed; the new status", body = TokenInfo),
        (status = 401, description = "Wrong or missing admin key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No admin key is configured", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No usable token to refresh", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Instagram rejected the token", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "Refreshed and in use, but the new token could not be stored (`urn:igfeed:persist-failed`); igfeed retries the write", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The refresh failed; the current token stays", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn refresh_admin_token(
    _: Admin,
    State(state): State<AppState>,
) -> Result<Json<TokenInfo>, ApiError> {
    tracing::info!("admin: refresh requested");
    match refresh_step(&state.tokens, &state.graph, SystemTime::now(), true).await {
        Step::Refreshed(_) | Step::NotDue(_) => Ok(Json(info(&state.tokens))),
        Step::RefreshedNotStored(_) => Err(ApiError::PersistFailed("refreshed")),
        Step::Missing => Err(ApiError::Conflict(
            "there is no token to refresh; put one first",
        )),
        Step::Invalid => Err(ApiError::Conflict("the token is invalid; put a new one")),
        Step::Failed {
            error,
            invalid: true,
            ..
        } => Err(ApiError::TokenRejected(error)),
        Step::Failed { error, .. } => Err(ApiError::RefreshFailed(error)),
    }
}

/// What a purge dropped.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Purged {
    /// Always `purged`.
    pub status: &'static str,
}

/// Drops the cached feed and media (the last good feed on disk stays).
#[utoipa::path(post, path = "/admin/cache/purge", tag = "admin", security(("admin_key" = [])),
    responses(
        (status = 200, description = "Caches dropped", body = Purged),
        (status = 401, description = "Wrong or missing admin key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No admin key is configured", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn purge_cache(_: Admin, State(state): State<AppState>) -> Json<Purged> {
    state.feed.purge();
    state.media.purge();
    tracing::info!("admin: caches purged");
    Json(Purged { status: "purged" })
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(constant_time_eq(b"", b""));
    }
}
