//! `GET /token`: the token's public status — never the token itself.

use std::time::SystemTime;

use crate::error::Json;
use axum::extract::State;
use serde::Serialize;

use crate::graph::Account;
use crate::state::AppState;
use crate::token::{TokenManager, TokenStatus, status_of};

/// The token's status.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenInfo {
    /// `missing`, `valid`, `expiring` (under 7 days left), `expired` or `invalid`.
    pub status: TokenStatus,
    /// The account the token belongs to, once known.
    pub user: Option<Account>,
    /// When the token expires (assumed 60 days after igfeed first saw it
    /// until a refresh tells the truth).
    #[schema(example = "2027-01-27T12:00:00Z")]
    pub expires_at: Option<String>,
    /// When igfeed last refreshed it.
    pub refreshed_at: Option<String>,
    /// When the next refresh is due.
    pub next_refresh_at: Option<String>,
}

/// The status with the token, for trusted consumers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenWithSecret {
    #[serde(flatten)]
    pub info: TokenInfo,
    /// The access token itself.
    pub access_token: Option<String>,
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// The public status of `tokens` now.
pub fn info(tokens: &TokenManager) -> TokenInfo {
    let rec = tokens.record();
    TokenInfo {
        status: status_of(rec.as_ref(), SystemTime::now()),
        user: rec.as_ref().and_then(|r| r.user.clone()),
        expires_at: rec.as_ref().map(|r| rfc3339(r.expires_at)),
        refreshed_at: rec.as_ref().and_then(|r| r.refreshed_at).map(rfc3339),
        next_refresh_at: tokens.next_refresh_at().map(rfc3339),
    }
}

/// The token's public status (never the token).
#[utoipa::path(get, path = "/token", tag = "token",
    responses((status = 200, description = "Token status", body = TokenInfo)))]
pub async fn get_token(State(state): State<AppState>) -> Json<TokenInfo> {
    Json(info(&state.tokens))
}
