//! `/admin/*`: accounts and their tokens (list, put, delete, read,
//! refresh), and cache purge, behind `Authorization: Bearer
//! $IGFEED_ADMIN_KEY`. `/admin/token…` stands for the account `default`.
//! Without a configured key every admin path answers 404, as if it did not
//! exist.

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::{Deserialize, Serialize};

use super::token::{TokenInfo, TokenWithSecret, info};
use crate::accounts::{Account, AccountName};
use crate::config::Secret;
use crate::error::{ApiError, Json, Problem};
use crate::graph::{GraphError, redact};
use crate::state::AppState;
use crate::token::refresher::{Step, refresh_step};
use crate::token::{StoreError, TokenRecord};

/// Compares in time independent of where the inputs differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
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
    with_secret(&state.accounts.default_account())
}

fn with_secret(account: &Account) -> Json<TokenWithSecret> {
    tracing::info!(account = %account.name, "admin: token read");
    let token = account
        .tokens
        .record()
        .map(|r| r.access_token.expose().to_string());
    Json(TokenWithSecret {
        info: info(account),
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
    let stored = put_token(
        &state,
        AccountName::default_account(),
        &body.access_token,
        None,
    )
    .await?;
    Ok(Json(info(&stored.account)))
}

/// What [`put_token`] did.
pub(crate) struct Stored {
    /// The account was created by it.
    pub created: bool,
    pub account: Arc<Account>,
    /// The Instagram account the token belongs to.
    pub user: crate::graph::Account,
}

/// Checks `candidate` with Instagram, then stores it as `name`'s token,
/// creating the account if needed. `expires_in` is the token's lifetime in
/// seconds when Instagram told it (a token from Instagram Login); without
/// it the lifetime is assumed until the first refresh. Shared by the JSON
/// API and the admin page.
pub(crate) async fn put_token(
    state: &AppState,
    name: AccountName,
    candidate: &str,
    expires_in: Option<u64>,
) -> Result<Stored, ApiError> {
    let candidate = candidate.trim();
    if candidate.is_empty() || candidate.len() > 4096 || candidate.chars().any(char::is_whitespace)
    {
        return Err(ApiError::Unprocessable(
            "access_token must be a non-empty token without spaces",
        ));
    }
    let token = Secret::new(candidate);
    let user = state.graph.me(&token).await.map_err(|e| {
        let detail = redact(&e.to_string(), &token);
        tracing::warn!(account = %name, error = %detail, "admin: new token not accepted");
        match e {
            GraphError::TokenInvalid { .. } | GraphError::BadRequest { .. } => {
                ApiError::TokenRejected(detail)
            }
            _ => ApiError::TokenUnchecked(detail),
        }
    })?;
    // One change of the account set at a time: a concurrent PUT or DELETE
    // of this account waits, so the token stored is one that validated and
    // never lands in a removed account.
    let set = state.accounts.lock().await;
    let (account, created) = state
        .accounts
        .get_or_create(&set, &name)
        .await
        .map_err(|e| ApiError::Storage(e.to_string()))?;
    let held = account.tokens.lock().await;
    let seed = account.tokens.record().and_then(|r| r.seed);
    let now = SystemTime::now();
    let mut rec = TokenRecord::first_seen(token, now, seed);
    if let Some(secs) = expires_in {
        rec.expires_at = now + std::time::Duration::from_secs(secs);
        rec.expiry_known = true;
    }
    rec.user = Some(user.clone());
    // In use even when the write fails (and then retried): the caller
    // hears that it is not stored yet.
    let stored = account.tokens.replace(&held, rec).await;
    drop(held);
    drop(set);
    account.tokens.set_refresh_failures(0);
    if let Some(redis) = &state.replicas {
        // The shared copy was fetched with the old token: the next request
        // on any replica fetches anew (a walk still running with the old
        // token cannot store its result: the token changed).
        let _ = redis.expire_feed(&name).await;
    }
    state.feed.forget(&account).await;
    match stored {
        Ok(()) => {}
        Err(StoreError::Gone) => {
            tracing::warn!(account = %name, "admin: the account was removed while its token was put");
            return Err(ApiError::Conflict(
                "the account was removed (on another replica) while this token was put; put it again to add the account",
            ));
        }
        Err(_) => {
            tracing::error!(account = %name, user = %user.username, "admin: token replaced in memory but not stored");
            return Err(ApiError::PersistFailed("accepted"));
        }
    }
    let verb = if created { "added" } else { "token replaced" };
    tracing::info!(account = %name, user = %user.username, "admin: account {verb}");
    Ok(Stored {
        created,
        account,
        user,
    })
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
    refresh(&state, &state.accounts.default_account()).await
}

pub(crate) async fn refresh(
    state: &AppState,
    account: &Account,
) -> Result<Json<TokenInfo>, ApiError> {
    tracing::info!(account = %account.name, "admin: refresh requested");
    match refresh_step(&account.tokens, &state.graph, SystemTime::now(), true).await {
        Step::Refreshed(_) | Step::NotDue(_) => Ok(Json(info(account))),
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
        Step::Elsewhere => refresh_elsewhere(state, account).await,
    }
}

/// With replicas: asks the replica holding the token's refresh lease to
/// refresh it, and answers with what it stored.
async fn refresh_elsewhere(
    state: &AppState,
    account: &Account,
) -> Result<Json<TokenInfo>, ApiError> {
    let Some(redis) = &state.replicas else {
        return Err(ApiError::RefreshFailed(
            "the token cannot be refreshed now".into(),
        ));
    };
    let before = account.tokens.record();
    let mut changes = account.tokens.subscribe();
    redis.request_refresh(&account.name).await.map_err(|_| {
        ApiError::RefreshFailed("Redis cannot be reached, so no replica may refresh now".into())
    })?;
    // What the holder stores: a refreshed token, or the refresh's error
    // (other writes, such as the account's name learnt by a fetch, are
    // waited past).
    let outcome = |rec: &TokenRecord| -> Option<Result<(), ApiError>> {
        let before = before.as_ref();
        if let Some(reason) = &rec.invalid {
            return Some(Err(ApiError::TokenRejected(reason.clone())));
        }
        let refreshed = before.is_none_or(|b| {
            b.access_token != rec.access_token || b.refreshed_at != rec.refreshed_at
        });
        if refreshed {
            return Some(Ok(()));
        }
        let failed = rec.last_error.is_some()
            && before
                .is_none_or(|b| b.last_error != rec.last_error || b.issued_at != rec.issued_at);
        failed.then(|| {
            Err(ApiError::RefreshFailed(
                rec.last_error.clone().unwrap_or_default(),
            ))
        })
    };
    let wait = state.config.upstream_timeout + std::time::Duration::from_secs(2);
    let answer = tokio::time::timeout(wait, async {
        loop {
            if let Some(answer) = account.tokens.record().as_ref().and_then(outcome) {
                return answer;
            }
            if changes.changed().await.is_err() {
                return Err(ApiError::RefreshFailed("the refresh was not done".into()));
            }
        }
    })
    .await
    .unwrap_or_else(|_| {
        Err(ApiError::RefreshFailed(
            "the replica holding this token's refresh lease did not answer in time; try again"
                .into(),
        ))
    });
    answer.map(|()| Json(info(account)))
}

/// Every account, with its token's status and its feed (never a token).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccountList {
    /// By name.
    pub accounts: Vec<AccountSummary>,
}

/// One account in [`AccountList`].
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccountSummary {
    #[serde(flatten)]
    pub token: TokenInfo,
    /// The last failed refresh's error, until a refresh succeeds.
    pub last_error: Option<String>,
    /// Why Instagram rejected the token, when it is `invalid`.
    pub invalid_reason: Option<String>,
    /// When the account's last good feed was fetched (RFC 3339), if ever.
    pub feed_fetched_at: Option<String>,
    /// Posts in the last good feed.
    pub posts: Option<usize>,
}

/// Every account and its status.
#[utoipa::path(get, path = "/admin/accounts", tag = "admin", security(("admin_key" = [])),
    responses(
        (status = 200, description = "Every account (no tokens)", body = AccountList),
        (status = 401, description = "Wrong or missing admin key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No admin key is configured", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_accounts(_: Admin, State(state): State<AppState>) -> Json<AccountList> {
    let accounts = state
        .accounts
        .list()
        .iter()
        .map(|account| {
            let rec = account.tokens.record();
            let last = account.feed.last_good();
            AccountSummary {
                token: info(account),
                last_error: rec.as_ref().and_then(|r| r.last_error.clone()),
                invalid_reason: rec.as_ref().and_then(|r| r.invalid.clone()),
                feed_fetched_at: last
                    .as_ref()
                    .map(|s| humantime::format_rfc3339_seconds(s.fetched_at).to_string()),
                posts: last.as_ref().map(|s| s.media.len()),
            }
        })
        .collect();
    Json(AccountList { accounts })
}

/// Adds an account, or replaces its token, after checking it with Instagram.
#[utoipa::path(put, path = "/admin/accounts/{account}", tag = "admin", security(("admin_key" = [])),
    params(("account" = String, Path, description = "The account's name", pattern = "^[a-z0-9][a-z0-9-]{0,39}$")),
    request_body = PutToken,
    responses(
        (status = 200, description = "Token replaced and stored; the new status", body = TokenInfo),
        (status = 201, description = "Account added and stored; its status", body = TokenInfo),
        (status = 400, description = "Bad account name, or not a JSON body of the documented shape", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Wrong or missing admin key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No admin key is configured", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "With replicas: the account was removed on another replica while this token was put; nothing stored", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Instagram rejected the token; nothing changed", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "Accepted and in use, but not stored (`urn:igfeed:persist-failed`); igfeed retries the write", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "Instagram could not be asked; nothing changed", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn put_account(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Json(body): Json<PutToken>,
) -> Result<(StatusCode, Json<TokenInfo>), ApiError> {
    let name = AccountName::parse(&name).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let stored = put_token(&state, name, &body.access_token, None).await?;
    let status = if stored.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(info(&stored.account))))
}

/// Removes an account: its stored state, its cached feed and its media.
/// (`default` cannot be removed: 409.)
#[utoipa::path(delete, path = "/admin/accounts/{account}", tag = "admin", security(("admin_key" = [])),
    params(("account" = String, Path, description = "The account's name", pattern = "^[a-z0-9][a-z0-9-]{0,39}$")),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "Bad account name", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Wrong or missing admin key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such account (or no admin key is configured)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The account `default` cannot be removed", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "The data dir refused the change; nothing changed", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_account(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let name = AccountName::parse(&name).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    remove_account(&state, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes `name` with its stored state, cached feed and media (`default`
/// cannot be removed). Shared by the JSON API and the admin page.
pub(crate) async fn remove_account(state: &AppState, name: &AccountName) -> Result<(), ApiError> {
    if name.is_default() {
        return Err(ApiError::Conflict(
            "the account default always exists (it is what /feed serves); give it another token with PUT /admin/token instead",
        ));
    }
    let set = state.accounts.lock().await;
    let removed = state
        .accounts
        .remove(&set, name)
        .await
        .map_err(|e| ApiError::Storage(e.to_string()))?
        .ok_or_else(|| ApiError::UnknownAccount(name.to_string()))?;
    drop(set);
    state.feed.forget(&removed).await;
    if let Some(last) = removed.feed.last_good() {
        state.media.forget(&last).await;
    }
    tracing::info!(account = %name, "admin: account removed");
    Ok(())
}

/// An account's token status with the token itself.
#[utoipa::path(get, path = "/admin/accounts/{account}/token", tag = "admin", security(("admin_key" = [])),
    params(("account" = String, Path, description = "The account's name", pattern = "^[a-z0-9][a-z0-9-]{0,39}$")),
    responses(
        (status = 200, description = "Status and token", body = TokenWithSecret),
        (status = 400, description = "Bad account name", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Wrong or missing admin key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such account (or no admin key is configured)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_account_token(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<TokenWithSecret>, ApiError> {
    Ok(with_secret(&*super::account(&state, &name)?))
}

/// Refreshes an account's token now.
#[utoipa::path(post, path = "/admin/accounts/{account}/token/refresh", tag = "admin", security(("admin_key" = [])),
    params(("account" = String, Path, description = "The account's name", pattern = "^[a-z0-9][a-z0-9-]{0,39}$")),
    responses(
        (status = 200, description = "Refreshed; the new status", body = TokenInfo),
        (status = 400, description = "Bad account name", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Wrong or missing admin key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such account (or no admin key is configured)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No usable token to refresh", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Instagram rejected the token", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "Refreshed and in use, but the new token could not be stored (`urn:igfeed:persist-failed`); igfeed retries the write", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The refresh failed; the current token stays", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn refresh_account_token(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<TokenInfo>, ApiError> {
    let account: Arc<Account> = super::account(&state, &name)?;
    refresh(&state, &account).await
}

/// What a purge dropped.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Purged {
    /// Always `purged`.
    pub status: &'static str,
}

/// Drops the cached feeds and media of every account (the last good feeds
/// on disk stay).
#[utoipa::path(post, path = "/admin/cache/purge", tag = "admin", security(("admin_key" = [])),
    responses(
        (status = 200, description = "Caches dropped", body = Purged),
        (status = 401, description = "Wrong or missing admin key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No admin key is configured", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn purge_cache(_: Admin, State(state): State<AppState>) -> Json<Purged> {
    purge(&state).await;
    Json(Purged { status: "purged" })
}

/// Drops the cached feeds and media of every account (with replicas: on
/// every replica, and the shared copies are no longer fresh). Shared by the
/// JSON API and the admin page.
pub(crate) async fn purge(state: &AppState) {
    if let Some(redis) = &state.replicas
        && let Err(e) = redis.purge().await
    {
        tracing::warn!(error = %e, "admin: the purge could not reach the other replicas (Redis); purged here only");
    }
    state.feed.purge(&state.accounts.list());
    state.media.purge();
    tracing::info!("admin: caches purged");
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
