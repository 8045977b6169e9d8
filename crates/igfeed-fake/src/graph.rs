//! The Graph API side of the fake: the account of a token, its media pages,
//! fresh media URLs and token refresh, answered with the shapes and error
//! envelopes igfeed must parse from the real Instagram.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::cdn::signed_url;
use crate::fields::Fields;
use crate::state::{Inner, Shared};

#[derive(Clone, Debug)]
pub(crate) struct FakeToken {
    pub(crate) issued: SystemTime,
    pub(crate) lifetime: Duration,
    /// The account the token was issued for; a refresh keeps it.
    pub(crate) account: usize,
    /// A short-lived token of Instagram Login (an hour; exchanged for a
    /// long-lived one, never refreshed).
    pub(crate) short_lived: bool,
}

impl Inner {
    /// The random part keeps a token one fake issued from being valid at
    /// another fake that has issued as many.
    pub(crate) fn new_token(
        &mut self,
        account: usize,
        issued: SystemTime,
        lifetime: Duration,
    ) -> String {
        self.next_token += 1;
        let token = format!("IGAAfake{}x{:016x}", self.next_token, rand::random::<u64>());
        self.tokens.insert(
            token.clone(),
            FakeToken {
                issued,
                lifetime,
                account,
                short_lived: false,
            },
        );
        token
    }

    /// A short-lived token of `account` (the code exchange's).
    pub(crate) fn new_short_token(&mut self, account: usize, issued: SystemTime) -> String {
        self.next_token += 1;
        let token = format!("IGQfake{}x{:016x}", self.next_token, rand::random::<u64>());
        self.tokens.insert(
            token.clone(),
            FakeToken {
                issued,
                lifetime: crate::oauth::SHORT_LIFETIME,
                account,
                short_lived: true,
            },
        );
        token
    }

    /// The error is boxed because a `Response` is large and the token is
    /// good on almost every call.
    pub(crate) fn check_token(&self, token: &str) -> Result<&FakeToken, Box<Response>> {
        let checked = self.lookup_token(token);
        if checked.is_err() {
            self.rejected
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        checked
    }

    /// [`Self::check_token`] without counting a rejection (the fake's own
    /// look-ups for tests).
    pub(crate) fn lookup_token(&self, token: &str) -> Result<&FakeToken, Box<Response>> {
        match self.tokens.get(token) {
            None => Err(Box::new(graph_error(
                400,
                190,
                "Invalid OAuth access token - Cannot parse access token",
            ))),
            Some(t) if t.issued + t.lifetime <= SystemTime::now() => Err(Box::new(graph_error(
                400,
                190,
                "Error validating access token: Session has expired",
            ))),
            Some(t) => Ok(t),
        }
    }
}

pub(crate) fn graph_error(status: u16, code: i64, message: &str) -> Response {
    let body = json!({"error": {
        "message": message,
        "type": if code == 190 { "OAuthException" } else { "IGApiException" },
        "code": code,
        "fbtrace_id": "AiIN6AR8BYTYzmsXn6aDyj0",
    }});
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// What Instagram answers for a media id the token's account cannot read:
/// an id that does not exist and one of another account look the same.
fn no_such_object(id: &str) -> Response {
    let body = json!({"error": {
        "message": format!("Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation"),
        "type": "GraphMethodException",
        "code": 100,
        "error_subcode": 33,
        "fbtrace_id": "AiIN6AR8BYTYzmsXn6aDyj0",
    }});
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn json_ok(v: Value) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], v.to_string()).into_response()
}

/// A missing token reads as the empty string, which is never issued, so it
/// fails the check like any unknown token.
fn token_of(query: &HashMap<String, String>) -> &str {
    query.get("access_token").map(String::as_str).unwrap_or("")
}

pub(crate) fn me(shared: &Shared, query: &HashMap<String, String>) -> Response {
    let inner = shared.lock();
    let account = match inner.check_token(token_of(query)) {
        Ok(t) => t.account,
        Err(r) => return *r,
    };
    // The app-scoped id: the main account's is the one it always had.
    let id = 26_000_000_000_000_000u64 + account as u64;
    json_ok(json!({
        "id": id.to_string(),
        "user_id": inner.user_id(account),
        "username": inner.username(account),
        "account_type": "Business",
        "media_count": inner.accounts[account].media.len(),
    }))
}

pub(crate) fn media_list(
    shared: &Shared,
    version: &str,
    query: &HashMap<String, String>,
) -> Response {
    let inner = shared.lock();
    let token = token_of(query);
    let account = match inner.check_token(token) {
        Ok(t) => t.account,
        Err(r) => return *r,
    };
    let media = &inner.accounts[account].media;
    let username = inner.username(account);
    let limit = query
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(25)
        .clamp(1, inner.opts.max_page_size.max(1));
    let start = query
        .get("after")
        .and_then(|a| a.strip_prefix("cursor"))
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0)
        .min(media.len());
    let end = (start + limit).min(media.len());
    let lifetime = inner.opts.url_lifetime;
    let expires = SystemTime::now() + lifetime;
    let fields = Fields::parse(query.get("fields").map(String::as_str).unwrap_or(""));
    let data: Vec<Value> = media[start..end]
        .iter()
        .map(|m| {
            m.to_json(
                |asset| signed_url(shared, asset, expires),
                username,
                &fields,
            )
        })
        .collect();
    let mut paging =
        json!({"cursors": {"before": format!("cursor{start}"), "after": format!("cursor{end}")}});
    if end < media.len() {
        let mut next =
            url::Url::parse(&format!("{}/{version}/me/media", shared.base)).expect("base URL");
        next.query_pairs_mut()
            .append_pair("access_token", token)
            .append_pair(
                "fields",
                query.get("fields").map(String::as_str).unwrap_or("id"),
            )
            .append_pair("limit", &limit.to_string())
            .append_pair("after", &format!("cursor{end}"));
        paging["next"] = Value::String(next.into());
    }
    json_ok(json!({"data": data, "paging": paging}))
}

pub(crate) fn media_urls(shared: &Shared, id: &str, query: &HashMap<String, String>) -> Response {
    let inner = shared.lock();
    let account = match inner.check_token(token_of(query)) {
        Ok(t) => t.account,
        Err(r) => return *r,
    };
    let expires = SystemTime::now() + inner.opts.url_lifetime;
    match inner.accounts[account]
        .media
        .iter()
        .find_map(|m| m.find(id))
    {
        Some((media_asset, thumb_asset)) => {
            let mut v = json!({"id": id});
            if let Some(a) = media_asset {
                v["media_url"] = Value::String(signed_url(shared, &a, expires));
            }
            if let Some(a) = thumb_asset {
                v["thumbnail_url"] = Value::String(signed_url(shared, &a, expires));
            }
            json_ok(v)
        }
        None => no_such_object(id),
    }
}

pub(crate) fn refresh(shared: &Shared, query: &HashMap<String, String>) -> Response {
    let mut inner = shared.lock();
    if query.get("grant_type").map(String::as_str) != Some("ig_refresh_token") {
        return graph_error(400, 100, "Invalid grant_type");
    }
    let token = token_of(query).to_string();
    let (issued, account) = match inner.check_token(&token) {
        Ok(t) if t.short_lived => {
            return graph_error(400, 100, "Short-lived tokens cannot be refreshed");
        }
        Ok(t) => (t.issued, t.account),
        Err(r) => return *r,
    };
    let age = SystemTime::now().duration_since(issued).unwrap_or_default();
    if age < inner.opts.refresh_min_age {
        return graph_error(400, 100, "The access token is too new to be refreshed");
    }
    let lifetime = inner.opts.token_lifetime;
    let new = if inner.opts.rotate_on_refresh {
        let grace = inner.opts.rotation_grace;
        if grace.is_zero() {
            inner.tokens.remove(&token);
        } else if let Some(old) = inner.tokens.get_mut(&token) {
            // Shortened, never lengthened: a grace longer than the token's
            // remaining life must not extend it.
            let age = SystemTime::now()
                .duration_since(old.issued)
                .unwrap_or_default();
            old.lifetime = old.lifetime.min(age + grace);
        }
        inner.new_token(account, SystemTime::now(), lifetime)
    } else {
        inner.tokens.insert(
            token.clone(),
            FakeToken {
                issued: SystemTime::now(),
                lifetime,
                account,
                short_lived: false,
            },
        );
        token
    };
    json_ok(json!({
        "access_token": new,
        "token_type": "bearer",
        "expires_in": lifetime.as_secs(),
    }))
}
