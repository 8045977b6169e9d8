//! `/admin/*`: the token (read, put, refresh) and cache purge, behind
//! `Authorization: Bearer $IGFEED_ADMIN_KEY`. Without a configured key every
//! admin path answers 404, as if it did not exist.

use std::time::SystemTime;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::token::{TokenInfo, TokenWithSecret, info};
use crate::app::AppState;
use crate::config::Secret;
use crate::error::{ApiError, Problem};
use crate::graph::{GraphError, redact};
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

/// Guards every admin route: 404 without a configured key, 401 on a wrong
/// or missing bearer key.
pub async fn require_admin(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(key) = state.config.admin_key.as_ref() else {
        return Problem::new(StatusCode::NOT_FOUND, "no such resource").into_response();
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    match given {
        Some(given) if constant_time_eq(given.as_bytes(), key.expose().as_bytes()) => {
            next.run(req).await
        }
        _ => {
            tracing::warn!(path = %req.uri().path(), "admin request without a valid key");
            let mut res = Problem::new(
                StatusCode::UNAUTHORIZED,
                "a valid admin key is required: Authorization: Bearer <IGFEED_ADMIN_KEY>",
            )
            .into_response();
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            res
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
pub async fn get_admin_token(State(state): State<AppState>) -> Json<TokenWithSecret> {
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
        (status = 502, description = "Instagram could not be asked; the current token stays", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn put_admin_token(
    State(state): State<AppState>,
    body: Result<Json<PutToken>, JsonRejection>,
) -> Result<Json<TokenInfo>, ApiError> {
    let Json(body) = body?;
    let candidate = body.access_token.trim();
    if candidate.is_empty() || candidate.len() > 4096 || candidate.chars().any(char::is_whitespace)
    {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "access_token must be a non-empty token without spaces",
        )
        .into());
    }
    let token = Secret::new(candidate);
    let user = state.graph.me(&token).await.map_err(|e| {
        let detail = redact(&e.to_string(), &token);
        tracing::warn!(error = %detail, "admin: new token not accepted");
        match e {
            GraphError::TokenInvalid { .. } | GraphError::BadRequest { .. } => Problem::typed(
                StatusCode::UNPROCESSABLE_ENTITY,
                "urn:igfeed:token-rejected",
                format!("Instagram rejected the token: {detail}"),
            ),
            _ => Problem::typed(
                StatusCode::BAD_GATEWAY,
                "urn:igfeed:upstream-unavailable",
                format!("could not check the token with Instagram: {detail}"),
            ),
        }
    })?;
    let held = state.tokens.lock().await;
    let seed = state.tokens.record().and_then(|r| r.seed);
    let mut rec = TokenRecord::first_seen(token, SystemTime::now(), seed);
    rec.user = Some(user.clone());
    state.tokens.store(&held, rec).await.map_err(|_| {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the token was accepted but could not be stored durably; it is in use until restart",
        )
    })?;
    drop(held);
    state.tokens.set_refresh_failures(0);
    state.feed.purge();
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
        (status = 502, description = "The refresh failed; the current token stays", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn refresh_admin_token(
    State(state): State<AppState>,
) -> Result<Json<TokenInfo>, ApiError> {
    tracing::info!("admin: refresh requested");
    match refresh_step(&state.tokens, &state.graph, SystemTime::now(), true).await {
        Step::Refreshed(_) | Step::NotDue(_) => Ok(Json(info(&state.tokens))),
        Step::Missing => Err(Problem::new(
            StatusCode::CONFLICT,
            "there is no token to refresh; put one first",
        )
        .into()),
        Step::Invalid => {
            Err(Problem::new(StatusCode::CONFLICT, "the token is invalid; put a new one").into())
        }
        Step::Failed {
            error,
            invalid: true,
            ..
        } => Err(Problem::typed(
            StatusCode::UNPROCESSABLE_ENTITY,
            "urn:igfeed:token-rejected",
            format!("Instagram rejected the token: {error}"),
        )
        .into()),
        Step::Failed { error, .. } => Err(Problem::typed(
            StatusCode::BAD_GATEWAY,
            "urn:igfeed:refresh-failed",
            format!("the refresh failed, the current token stays: {error}"),
        )
        .into()),
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
pub async fn purge_cache(State(state): State<AppState>) -> Json<Purged> {
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
