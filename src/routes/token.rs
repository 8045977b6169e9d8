//! `GET /tokens/{account}` and `GET /token`: a token's public status —
//! never the token itself.

use std::time::SystemTime;

use axum::extract::{Path, State};
use serde::Serialize;

use crate::accounts::Account;
use crate::error::{ApiError, Json, Problem};
use crate::state::AppState;
use crate::token::{TokenStatus, status_of};

/// An account's token status.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenInfo {
    /// The account's name.
    #[schema(example = "default")]
    pub account: String,
    /// `missing`, `valid`, `expiring` (under 7 days left), `expired` or `invalid`.
    pub status: TokenStatus,
    /// The Instagram user the token belongs to, once known.
    pub user: Option<crate::graph::Account>,
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

/// The public status of `account`'s token now.
pub fn info(account: &Account) -> TokenInfo {
    let tokens = &account.tokens;
    let rec = tokens.record();
    TokenInfo {
        account: account.name.to_string(),
        status: status_of(rec.as_ref(), SystemTime::now()),
        user: rec.as_ref().and_then(|r| r.user.clone()),
        expires_at: rec.as_ref().map(|r| rfc3339(r.expires_at)),
        refreshed_at: rec.as_ref().and_then(|r| r.refreshed_at).map(rfc3339),
        next_refresh_at: tokens.next_refresh_at().map(rfc3339),
    }
}

/// The `default` account's token status (the same as `/tokens/default`;
/// never the token).
#[utoipa::path(get, path = "/token", tag = "token",
    responses((status = 200, description = "Token status", body = TokenInfo)))]
pub async fn get_token(State(state): State<AppState>) -> Json<TokenInfo> {
    Json(info(&state.accounts.default_account()))
}

/// An account's token status (never the token).
#[utoipa::path(get, path = "/tokens/{account}", tag = "token",
    params(("account" = String, Path, description = "The account's name", pattern = "^[a-z0-9][a-z0-9-]{0,39}$")),
    responses(
        (status = 200, description = "Token status", body = TokenInfo),
        (status = 400, description = "Bad account name", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such account", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_account_token(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<TokenInfo>, ApiError> {
    Ok(Json(info(&*super::account(&state, &name)?)))
}
