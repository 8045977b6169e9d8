//! The Graph API side of the fake: the account, its media pages, fresh
//! media URLs and token refresh, answered with the shapes and error
//! envelopes igfeed must parse from the real Instagram.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::cdn::signed_url;
use crate::state::{Inner, Shared};

#[derive(Clone, Debug)]
pub(crate) struct FakeToken {
    pub(crate) issued: SystemTime,
    pub(crate) lifetime: Duration,
}

impl Inner {
    /// The random part keeps a token one fake issued from being valid at
    /// another fake that has issued as many.
    pub(crate) fn new_token(&mut self, issued: SystemTime, lifetime: Duration) -> String {
        self.next_token += 1;
        let token = format!("IGAAfake{}x{:016x}", self.next_token, rand::random::<u64>());
        self.tokens
            .insert(token.clone(), FakeToken { issued, lifetime });
        token
    }

    /// The error is boxed because a `Response` is large and the token is
    /// good on almost every call.
    pub(crate) fn check_token(&self, token: &str) -> Result<&FakeToken, Box<Response>> {
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
    if let Err(r) = inner.check_token(token_of(query)) {
        return *r;
    }
    json_ok(json!({
        "id": "26000000000000000",
        "user_id": inner.opts.user_id,
        "username": inner.opts.username,
        "account_type": "Business",
        "media_count": inner.media.len(),
    }))
}

pub(crate) fn media_list(
    shared: &Shared,
    version: &str,
    query: &HashMap<String, String>,
) -> Response {
    let inner = shared.lock();
    let token = token_of(query);
    if let Err(r) = inner.check_token(token) {
        return *r;
    }
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
        .min(inner.media.len());
    let end = (start + limit).min(inner.media.len());
    let lifetime = inner.opts.url_lifetime;
    let expires = SystemTime::now() + lifetime;
    let data: Vec<Value> = inner.media[start..end]
        .iter()
        .map(|m| {
            m.to_json(
                |asset| signed_url(shared, asset, expires),
                &inner.opts.username,
            )
        })
        .collect();
    let mut paging =
        json!({"cursors": {"before": format!("cursor{start}"), "after": format!("cursor{end}")}});
    if end < inner.media.len() {
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
    if let Err(r) = inner.check_token(token_of(query)) {
        return *r;
    }
    let expires = SystemTime::now() + inner.opts.url_lifetime;
    match inner.media.iter().find_map(|m| m.find(id)) {
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
        None => graph_error(
            400,
            100,
            "Unsupported get request. Object with ID does not exist",
        ),
    }
}

pub(crate) fn refresh(shared: &Shared, query: &HashMap<String, String>) -> Response {
    let mut inner = shared.lock();
    if query.get("grant_type").map(String::as_str) != Some("ig_refresh_token") {
        return graph_error(400, 100, "Invalid grant_type");
    }
    let token = token_of(query).to_string();
    let issued = match inner.check_token(&token) {
        Ok(t) => t.issued,
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
        inner.new_token(SystemTime::now(), lifetime)
    } else {
        inner.tokens.insert(
            token.clone(),
            FakeToken {
                issued: SystemTime::now(),
                lifetime,
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
