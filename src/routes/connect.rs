//! Connect with Instagram (Instagram Login, OAuth): from the admin page to
//! Instagram's authorize page (`GET /admin/accounts/connect?account=NAME`)
//! and back (`GET /admin/oauth/callback?code=…&state=…`), where the code
//! is exchanged for a short-lived and then a long-lived token, stored as
//! the account `NAME` by the same path as `PUT /admin/accounts/{account}`.
//!
//! The `state` is single use, valid 10 minutes, and bound to the session
//! that asked and to `NAME` (see [`crate::admin_ui`]): a missing, unknown,
//! expired or reused one, or one of another browser session, is a 400 page
//! and nothing is stored. A refusal by the person, or a failed exchange,
//! comes back to the dashboard in words.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::admin::{self, Admin, PutToken};
use super::admin_ui::{LoggedIn, back, enabled, off, page, see_other, stored_words, warm_feed};
use crate::accounts::AccountName;
use crate::admin_ui::{Flash, OAUTH_COOKIE, SESSION_COOKIE, Taken, cookie_value, key_of, pages};
use crate::error::{ApiError, Json};
use crate::graph::login::clean_code;
use crate::state::AppState;

/// `GET /admin/accounts/connect?account=NAME`: sends the browser to
/// Instagram to authorize the app for the account `NAME`.
pub async fn connect(
    who: LoggedIn,
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some(app) = state.ui.login.as_ref() else {
        let missing = state.ui.missing.join(", ");
        return page(
            &state,
            StatusCode::CONFLICT,
            pages::message(
                "Connect with Instagram is not set up",
                &format!(
                    "It needs these settings, which are not set: {missing}. Set them and restart igfeed \
                     (the README's “Connect with Instagram” says how to create the Instagram app). \
                     Pasting a token works meanwhile."
                ),
                ("/admin/", "Back to the dashboard"),
            ),
        );
    };
    let name = match super::admin_ui::named(&query, "Cannot connect") {
        Ok(name) => name,
        Err(why) => return back(&state, &who.key, why),
    };
    let st = state.ui.start_connect(who.key, name.clone());
    tracing::info!(account = %name, "admin page: sending the browser to Instagram to connect an account");
    see_other(app.authorize_url(&st).as_str())
}

/// The 400 page of a return from Instagram that cannot be used.
fn refused(state: &AppState, why: &str) -> Response {
    tracing::warn!(
        reason = why,
        "admin page: a return from Instagram was refused"
    );
    page(
        state,
        StatusCode::BAD_REQUEST,
        pages::message(
            "This return from Instagram cannot be used",
            &format!(
                "{why} Nothing was stored. Start again with Connect with Instagram on the dashboard."
            ),
            ("/admin/", "Back to the dashboard"),
        ),
    )
}

/// `GET /admin/oauth/callback`: where Instagram sends the browser back.
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if !enabled(&state) {
        return off();
    }
    let Some(st) = query.get("state").filter(|s| !s.is_empty()) else {
        return refused(&state, "It carries no state.");
    };
    let pending = match state.ui.take_connect(st) {
        Taken::Valid(p) => p,
        Taken::Expired => {
            return refused(
                &state,
                "It took longer than 10 minutes: the authorization has expired.",
            );
        }
        Taken::Unknown => {
            return refused(
                &state,
                "Its state is unknown or was used already (each authorization works once).",
            );
        }
    };
    let Some(session) = state.ui.session_by_key(&pending.session) else {
        return refused(
            &state,
            "The admin session that started it has ended (logged out or expired).",
        );
    };
    // The browser must be the one whose session asked: its session cookie
    // (sent when it comes back same-site) or, after the cross-site return
    // from Instagram that withholds it, the session's Lax cookie.
    let session_cookie = cookie_value(&headers, SESSION_COOKIE).map(key_of);
    let by_session = session_cookie == Some(pending.session);
    let by_oauth = cookie_value(&headers, OAUTH_COOKIE)
        .is_some_and(|c| state.ui.is_oauth_cookie_of(&session, c));
    if session_cookie.is_some_and(|k| k != pending.session && state.ui.session_by_key(&k).is_some())
        || !(by_session || by_oauth)
    {
        return refused(
            &state,
            "It was started by another browser session than this one.",
        );
    }
    let name = pending.account;
    let flash = finish(&state, &name, &query).await;
    if !flash.ok {
        tracing::warn!(account = %name, reason = %flash.text, "admin page: connecting an account failed");
    }
    state.ui.flash(&pending.session, flash.clone());
    if by_session {
        see_other("/admin/")
    } else {
        page(
            &state,
            StatusCode::OK,
            pages::continue_to_dashboard(&flash.text),
        )
    }
}

/// Exchanges the code and stores the token: what happened, in words.
async fn finish(state: &AppState, name: &AccountName, query: &HashMap<String, String>) -> Flash {
    if let Some(error) = query.get("error") {
        let reason = query
            .get("error_reason")
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        let description = query
            .get("error_description")
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        let what = if error == "access_denied" {
            "access was denied on Instagram".to_string()
        } else {
            format!("Instagram answered “{error}”")
        };
        let text = format!("{name} was not connected: {what}{reason}{description}");
        return Flash::error(text.chars().take(400).collect::<String>());
    }
    let Some(app) = state.ui.login.as_ref() else {
        return Flash::error(format!(
            "{name} was not connected: Connect with Instagram is not set up."
        ));
    };
    let code = clean_code(query.get("code").map(String::as_str).unwrap_or(""));
    if code.is_empty() {
        return Flash::error(format!(
            "{name} was not connected: Instagram sent no authorization code."
        ));
    }
    let short = match state.graph.exchange_code(app, code).await {
        Ok(t) => t,
        Err(e) => {
            return Flash::error(format!(
                "{name} was not connected: exchanging the authorization code failed ({e})."
            ));
        }
    };
    let long = match state
        .graph
        .exchange_for_long_lived(app, &short.access_token)
        .await
    {
        Ok(t) => t,
        Err(e) => {
            return Flash::error(format!(
                "{name} was not connected: getting a long-lived token failed ({e})."
            ));
        }
    };
    match admin::put_token(
        state,
        name.clone(),
        long.access_token.expose(),
        long.expires_in,
    )
    .await
    {
        Ok(stored) => {
            tracing::info!(account = %name, user = %stored.user.username, "admin page: account connected with Instagram");
            warm_feed(state, stored.account.clone());
            Flash::ok(stored_words(&stored, "Connected"))
        }
        Err(e) => Flash::error(format!("{name} was not connected: {e}.")),
    }
}

/// `PUT /admin/accounts/connect`: the JSON API's `PUT
/// /admin/accounts/{account}` for an account named `connect`, whose path
/// the connect page's route shadows.
pub async fn put_account_named_connect(
    admin: Admin,
    state: State<AppState>,
    body: Json<PutToken>,
) -> Result<impl IntoResponse, ApiError> {
    admin::put_account(admin, state, Path("connect".into()), body).await
}

/// `DELETE /admin/accounts/connect`, as [`put_account_named_connect`].
pub async fn delete_account_named_connect(
    admin: Admin,
    state: State<AppState>,
) -> Result<StatusCode, ApiError> {
    admin::delete_account(admin, state, Path("connect".into())).await
}
