//! Instagram Login (OAuth) as the fake plays it, with the shapes igfeed must
//! expect from the real one:
//!
//! - `GET /oauth/authorize` (www.instagram.com): an HTML page asking the
//!   person to allow the app, with Allow and Deny buttons (forms posting
//!   back to `/oauth/authorize`), which redirect to
//!   `redirect_uri?code=CODE&state=S#_` (Instagram appends `#_`) or
//!   `redirect_uri?error=access_denied&error_reason=user_denied&error_description=…&state=S`;
//!   a wrong `client_id` or a missing `redirect_uri` is an error page;
//! - `POST /oauth/access_token` (api.instagram.com): checks `client_id`,
//!   `client_secret`, `grant_type=authorization_code`, the `redirect_uri`
//!   the code was issued for and the code itself (single use, valid one
//!   hour), and answers a short-lived token, flat
//!   (`{"access_token","user_id"}`, `user_id` a JSON number) or as
//!   `{"data":[{"access_token","user_id","permissions"}]}`
//!   ([`crate::FakeOptions::oauth_data_shape`]);
//!   errors are `{"error_type":"OAuthException","code":400,"error_message":…}`;
//! - `GET /access_token?grant_type=ig_exchange_token&client_secret=…&access_token=SHORT`
//!   (graph.instagram.com): a long-lived token of the same account,
//!   `{"access_token","token_type":"bearer","expires_in":…}`; errors in
//!   Graph's envelope.
//!
//! An authorization grants the account [`crate::FakeOptions::oauth_account`].

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::graph::graph_error;
use crate::state::{Inner, Shared};

/// How long an authorization code can be exchanged.
pub(crate) const CODE_LIFETIME: Duration = Duration::from_secs(3600);
/// How long a short-lived token lives.
pub(crate) const SHORT_LIFETIME: Duration = Duration::from_secs(3600);

/// A code the authorize page handed out.
#[derive(Clone, Debug)]
pub(crate) struct FakeCode {
    pub(crate) account: usize,
    pub(crate) redirect_uri: String,
    pub(crate) issued: SystemTime,
    pub(crate) used: bool,
}

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// api.instagram.com's error shape.
fn login_error(message: &str) -> Response {
    let body = json!({
        "error_type": "OAuthException",
        "code": 400,
        "error_message": message,
    });
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn get<'a>(q: &'a HashMap<String, String>, k: &str) -> &'a str {
    q.get(k).map(String::as_str).unwrap_or("")
}

/// Checks the authorize request's app, redirect URI, response type and
/// scope; the error page's words otherwise.
fn check_authorize(inner: &Inner, q: &HashMap<String, String>) -> Result<url::Url, &'static str> {
    if get(q, "client_id") != inner.opts.app_id {
        return Err("Invalid Request: Request parameters are invalid: Invalid platform app");
    }
    let redirect = url::Url::parse(get(q, "redirect_uri"))
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or("Invalid redirect_uri")?;
    if get(q, "response_type") != "code" {
        return Err("Invalid response_type");
    }
    if !get(q, "scope")
        .split(',')
        .any(|s| s.trim() == "instagram_business_basic")
    {
        return Err("Invalid Scopes");
    }
    Ok(redirect)
}

/// Instagram's error page: there is no way back to the app.
fn error_page(words: &str) -> Response {
    html(
        StatusCode::BAD_REQUEST,
        format!(
            "<!doctype html><title>Error</title><h1>Sorry, this content isn't available right now</h1><p>{}</p>",
            escape(words)
        ),
    )
}

/// `GET /oauth/authorize`: the consent page.
pub(crate) fn authorize_page(shared: &Shared, q: &HashMap<String, String>) -> Response {
    let inner = shared.lock();
    if let Err(words) = check_authorize(&inner, q) {
        return error_page(words);
    }
    let account = inner.opts.oauth_account.0;
    let username = escape(inner.username(account));
    let hidden: String = [
        "client_id",
        "redirect_uri",
        "response_type",
        "scope",
        "state",
    ]
    .iter()
    .map(|k| {
        format!(
            r#"<input type="hidden" name="{k}" value="{}">"#,
            escape(get(q, k))
        )
    })
    .collect();
    html(
        StatusCode::OK,
        format!(
            r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,"><title>Allow access · fake Instagram</title></head>
<body>
<h1>Allow this app to access @{username}?</h1>
<p>It will be able to read the profile and media of <strong>@{username}</strong> (instagram_business_basic).</p>
<form method="post" action="/oauth/authorize">{hidden}<button type="submit" name="decision" value="allow">Allow</button></form>
<form method="post" action="/oauth/authorize">{hidden}<button type="submit" name="decision" value="deny">Deny</button></form>
</body></html>"#
        ),
    )
}

/// `POST /oauth/authorize`: the person's decision; back to the app.
pub(crate) fn authorize_decide(shared: &Shared, form: &HashMap<String, String>) -> Response {
    let mut inner = shared.lock();
    let mut redirect = match check_authorize(&inner, form) {
        Ok(u) => u,
        Err(words) => return error_page(words),
    };
    let state = get(form, "state");
    if get(form, "decision") == "allow" {
        let code = format!(
            "AQ{:016x}{:016x}",
            rand::random::<u64>(),
            rand::random::<u64>()
        );
        let fake_code = FakeCode {
            account: inner.opts.oauth_account.0,
            redirect_uri: get(form, "redirect_uri").to_string(),
            issued: SystemTime::now(),
            used: false,
        };
        inner.codes.insert(code.clone(), fake_code);
        redirect
            .query_pairs_mut()
            .append_pair("code", &code)
            .append_pair("state", state);
        redirect.set_fragment(Some("_"));
    } else {
        redirect
            .query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("error_reason", "user_denied")
            .append_pair("error_description", "The user denied your request.")
            .append_pair("state", state);
    }
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, redirect.to_string())],
    )
        .into_response()
}

/// `POST /oauth/access_token`: an authorization code for a short-lived token.
pub(crate) fn access_token(shared: &Shared, form: &HashMap<String, String>) -> Response {
    let mut inner = shared.lock();
    if get(form, "client_id") != inner.opts.app_id {
        return login_error("Invalid platform app");
    }
    if get(form, "client_secret") != inner.opts.app_secret {
        return login_error("Error validating client secret.");
    }
    if get(form, "grant_type") != "authorization_code" {
        return login_error("Unsupported grant_type");
    }
    let redirect_uri = get(form, "redirect_uri");
    if redirect_uri.is_empty() {
        return login_error("Missing redirect_uri");
    }
    let code = get(form, "code").to_string();
    let Some(issued) = inner.codes.get(&code).cloned() else {
        return login_error("Invalid authorization code");
    };
    if issued.used {
        return login_error("This authorization code has been used");
    }
    if issued.issued + CODE_LIFETIME <= SystemTime::now() {
        return login_error("This authorization code has expired");
    }
    if issued.redirect_uri != redirect_uri {
        return login_error(
            "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
        );
    }
    if let Some(c) = inner.codes.get_mut(&code) {
        c.used = true;
    }
    let token = inner.new_short_token(issued.account, SystemTime::now());
    let user_id = inner.user_id(issued.account);
    // Instagram sends the user id as a JSON number.
    let user_id = user_id
        .parse::<u64>()
        .map_or_else(|_| Value::String(user_id.to_string()), Value::from);
    let body = if inner.opts.oauth_data_shape {
        json!({"data": [{
            "access_token": token,
            "user_id": user_id,
            "permissions": "instagram_business_basic",
        }]})
    } else {
        json!({"access_token": token, "user_id": user_id})
    };
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// `GET /access_token?grant_type=ig_exchange_token`: a short-lived token
/// for a long-lived one.
pub(crate) fn exchange(shared: &Shared, q: &HashMap<String, String>) -> Response {
    let mut inner = shared.lock();
    if get(q, "grant_type") != "ig_exchange_token" {
        return graph_error(400, 100, "Unsupported grant type");
    }
    if get(q, "client_secret") != inner.opts.app_secret {
        return graph_error(400, 100, "Error validating client secret.");
    }
    let (account, short) = match inner.check_token(get(q, "access_token")) {
        Ok(t) => (t.account, t.short_lived),
        Err(r) => return *r,
    };
    if !short {
        return graph_error(
            400,
            100,
            "The access token provided is not a short-lived token",
        );
    }
    let lifetime = inner.opts.token_lifetime;
    let token = inner.new_token(account, SystemTime::now(), lifetime);
    (
        [(header::CONTENT_TYPE, "application/json")],
        json!({
            "access_token": token,
            "token_type": "bearer",
            "expires_in": lifetime.as_secs(),
        })
        .to_string(),
    )
        .into_response()
}
