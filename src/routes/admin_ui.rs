//! The admin web page: `/admin/` (the dashboard), `/admin/login`,
//! `/admin/logout` and the forms' `/admin/actions/*` — HTML for people,
//! with a cookie session and a CSRF token in every form that changes
//! something (see [`crate::admin_ui`]). The actions call the same
//! functions as the JSON admin API (`admin.rs`), whose bearer key the
//! cookie never stands in for. Results come back as a flash message on the
//! dashboard (redirect after POST), in words.
//!
//! Without `IGFEED_ADMIN_KEY` every path here is a 404, as the rest of
//! `/admin/*`. These routes are not in the OpenAPI document: they are
//! pages, not API.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use maud::Markup;

use crate::accounts::{Account, AccountName};
use crate::admin_ui::pages::{self, AccountView, Connect, Dashboard, Preview};
use crate::admin_ui::{
    Flash, Key, LOGIN_COOKIE, OAUTH_COOKIE, SESSION_COOKIE, Session, cookie_value, random_secret,
    same_secret,
};
use crate::error::ApiError;
use crate::state::AppState;
use crate::token::status_of;

use super::admin;

/// Posts shown per account.
const PREVIEW_POSTS: usize = 6;
/// How long the login form stays usable.
const LOGIN_FORM_TTL: Duration = Duration::from_secs(3600);

/// An HTML answer with the pages' headers (the admin routes add
/// `Cache-Control: no-store`).
pub(crate) fn page(state: &AppState, status: StatusCode, markup: Markup) -> Response {
    let mut res = (status, markup.into_string()).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CONTENT_SECURITY_POLICY, state.ui.policy.clone());
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

/// A `303 See Other` to `location` (redirect after POST).
pub(crate) fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => (StatusCode::SEE_OTHER, [(header::LOCATION, v)]).into_response(),
        Err(_) => ApiError::Internal.into_response(),
    }
}

/// The page is on only with an admin key; otherwise its paths answer
/// [`off`], as any `/admin/*` path.
pub(crate) fn enabled(state: &AppState) -> bool {
    state.config.admin_key.is_some()
}

/// The 404 of every admin path without an admin key.
pub(crate) fn off() -> Response {
    ApiError::NotFound("no such resource").into_response()
}

/// The client's address (for the login limit); unknown outside the server.
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip()),
        ))
    }
}

/// A logged-in browser: its session. Without one, the answer is a
/// redirect to the login form (a 404 when the page is off).
pub struct LoggedIn {
    pub key: Key,
    pub session: Session,
}

impl FromRequestParts<AppState> for LoggedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        if !enabled(state) {
            return Err(off());
        }
        cookie_value(&parts.headers, SESSION_COOKIE)
            .and_then(|id| state.ui.session(id))
            .map(|(key, session)| LoggedIn { key, session })
            .ok_or_else(|| see_other("/admin/login"))
    }
}

/// The fields of a form body (`application/x-www-form-urlencoded`).
pub(crate) fn form(body: &Bytes) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// The 403 page for a form without its session's CSRF token.
fn forbidden(state: &AppState) -> Response {
    page(
        state,
        StatusCode::FORBIDDEN,
        pages::message(
            "This form has expired",
            "The form did not carry this session's security token, so nothing was changed. \
             Open the dashboard again and repeat what you did.",
            ("/admin/", "Back to the dashboard"),
        ),
    )
}

/// A posted form from a logged-in browser that carries its session's CSRF
/// token: what every state-changing action takes first. A form without
/// the token is answered with [`forbidden`], and nothing changes.
pub struct Posted {
    pub who: LoggedIn,
    pub fields: HashMap<String, String>,
}

impl FromRequest<AppState> for Posted {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let who = LoggedIn::from_request_parts(&mut parts, state).await?;
        let body = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let fields = form(&body);
        let ok = fields
            .get("csrf")
            .is_some_and(|given| same_secret(given, &who.session.csrf));
        if !ok {
            tracing::warn!("admin page: a form without a valid CSRF token was refused");
            return Err(forbidden(state));
        }
        Ok(Posted { who, fields })
    }
}

/// Back to the dashboard with `flash`.
pub(crate) fn back(state: &AppState, key: &Key, flash: Flash) -> Response {
    state.ui.flash(key, flash);
    see_other("/admin/")
}

/// Back to the dashboard with what an action did, or why it did nothing.
fn done(state: &AppState, who: &LoggedIn, result: Result<Flash, Flash>) -> Response {
    back(state, &who.key, result.unwrap_or_else(|why| why))
}

/// `GET /admin/icon.svg`: the pages' icon.
pub async fn icon(State(state): State<AppState>) -> Response {
    if !enabled(&state) {
        return off();
    }
    ([(header::CONTENT_TYPE, "image/svg+xml")], pages::ICON).into_response()
}

/// `GET /admin`: the dashboard is `/admin/`.
pub async fn admin_root(State(state): State<AppState>) -> Response {
    if !enabled(&state) {
        return off();
    }
    (
        StatusCode::PERMANENT_REDIRECT,
        [(header::LOCATION, "/admin/")],
    )
        .into_response()
}

/// `GET /admin/login`: the admin key form (a logged-in browser goes on to
/// the dashboard).
pub async fn login_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if !enabled(&state) {
        return off();
    }
    if cookie_value(&headers, SESSION_COOKIE).is_some_and(|id| state.ui.session(id).is_some()) {
        return see_other("/admin/");
    }
    let note = query
        .contains_key("logged_out")
        .then_some("You have logged out.");
    login_page(&state, StatusCode::OK, None, note)
}

/// The login form with a new CSRF value (cookie and field).
fn login_page(
    state: &AppState,
    status: StatusCode,
    error: Option<&str>,
    note: Option<&str>,
) -> Response {
    let csrf = random_secret();
    let mut res = page(state, status, pages::login(&csrf, error, note));
    let cookie = state.ui.cookie(
        LOGIN_COOKIE,
        &csrf,
        "/admin/login",
        "Strict",
        LOGIN_FORM_TTL,
    );
    res.headers_mut().append(header::SET_COOKIE, cookie);
    res
}

/// `POST /admin/login`: a correct key starts a session; a wrong one shows
/// the form again. Failed logins per client are limited.
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(admin_key) = state.config.admin_key.as_ref() else {
        return off();
    };
    if let Some(wait) = state.ui.login_blocked(ip) {
        tracing::warn!(%ip, "admin page: login refused, too many failed attempts");
        let secs = wait.as_secs().max(1);
        let mut res = page(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            pages::message(
                "Too many attempts",
                &format!(
                    "Too many wrong keys were tried from your address. \
                     Try again in {secs} second{}.",
                    if secs == 1 { "" } else { "s" }
                ),
                ("/admin/login", "Back to the login form"),
            ),
        );
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return res;
    }
    let fields = form(&body);
    let form_csrf = fields.get("csrf").map(String::as_str).unwrap_or("");
    let cookie_csrf = cookie_value(&headers, LOGIN_COOKIE).unwrap_or("");
    if form_csrf.is_empty() || !same_secret(form_csrf, cookie_csrf) {
        tracing::warn!("admin page: a login form without a valid CSRF token was refused");
        return login_page(
            &state,
            StatusCode::FORBIDDEN,
            Some("The login form had expired; nothing was checked. Please try again."),
            None,
        );
    }
    let given = fields.get("key").map(|k| k.trim()).unwrap_or("");
    if !admin::constant_time_eq(given.as_bytes(), admin_key.expose().as_bytes()) {
        state.ui.login_failed(ip);
        tracing::warn!(%ip, "admin page: login with a wrong key");
        return login_page(
            &state,
            StatusCode::FORBIDDEN,
            Some("That is not the admin key."),
            None,
        );
    }
    state.ui.login_succeeded(ip);
    let session = state.ui.start_session();
    tracing::info!(%ip, "admin page: logged in");
    let ttl = state.ui.tuning.session_ttl;
    let mut res = see_other("/admin/");
    let h = res.headers_mut();
    let ui = &state.ui;
    h.append(
        header::SET_COOKIE,
        ui.cookie(SESSION_COOKIE, &session.id, "/admin", "Strict", ttl),
    );
    h.append(
        header::SET_COOKIE,
        ui.cookie(OAUTH_COOKIE, &session.oauth, "/admin/oauth", "Lax", ttl),
    );
    h.append(
        header::SET_COOKIE,
        ui.cookie(LOGIN_COOKIE, "", "/admin/login", "Strict", Duration::ZERO),
    );
    res
}

/// `POST /admin/logout`: ends the session and removes its cookies.
pub async fn logout(State(state): State<AppState>, Posted { who, .. }: Posted) -> Response {
    state.ui.end_session(&who.key);
    tracing::info!("admin page: logged out");
    let mut res = see_other("/admin/login?logged_out");
    let h = res.headers_mut();
    let ui = &state.ui;
    h.append(
        header::SET_COOKIE,
        ui.cookie(SESSION_COOKIE, "", "/admin", "Strict", Duration::ZERO),
    );
    h.append(
        header::SET_COOKIE,
        ui.cookie(OAUTH_COOKIE, "", "/admin/oauth", "Lax", Duration::ZERO),
    );
    res
}

/// What the dashboard shows of `account`.
fn account_view(state: &AppState, account: &Account, now: SystemTime) -> AccountView {
    let rec = account.tokens.record();
    let last = account.feed.last_good();
    let pictures = state.feed.pictures();
    let preview = last
        .iter()
        .flat_map(|s| s.media.iter())
        .filter_map(|m| {
            let display = crate::feed::render::post_display("", m, &pictures);
            let src = display.sizes?.w320;
            let alt = m
                .alt_text
                .as_deref()
                .or(m.caption.as_deref())
                .map(|t| t.chars().take(120).collect::<String>())
                .unwrap_or_else(|| "A post".into());
            Some(Preview {
                src,
                alt,
                link: m.permalink.clone(),
            })
        })
        .take(PREVIEW_POSTS)
        .collect();
    let last_error = rec.as_ref().and_then(|r| {
        r.invalid
            .as_ref()
            .map(|why| format!("Instagram rejected the token: {why}"))
            .or_else(|| r.last_error.clone())
    });
    AccountView {
        name: account.name.to_string(),
        status: status_of(rec.as_ref(), now),
        username: rec
            .as_ref()
            .and_then(|r| r.user.as_ref().map(|u| u.username.clone()))
            .or_else(|| last.as_ref().map(|s| s.account.username.clone()))
            .filter(|u| !u.is_empty()),
        expires_at: rec.as_ref().map(|r| r.expires_at),
        expiry_known: rec.as_ref().is_some_and(|r| r.expiry_known),
        refreshed_at: rec.as_ref().and_then(|r| r.refreshed_at),
        next_refresh_at: account.tokens.next_refresh_at(),
        last_error,
        feed_fetched_at: last.as_ref().map(|s| s.fetched_at),
        posts: last.as_ref().map(|s| s.media.len()),
        preview,
    }
}

/// `GET /admin/`: every account, what can be done with it, and adding one.
pub async fn dashboard(who: LoggedIn, State(state): State<AppState>) -> Response {
    let now = SystemTime::now();
    let connect = match &state.ui.login {
        Some(app) => Connect::Ready {
            redirect_uri: app.redirect_uri.clone(),
        },
        None => Connect::Missing(state.ui.missing.clone()),
    };
    let d = Dashboard {
        csrf: who.session.csrf.clone(),
        flash: state.ui.take_flash(&who.key),
        accounts: state
            .accounts
            .list()
            .iter()
            .map(|a| account_view(&state, a, now))
            .collect(),
        connect,
        now,
    };
    page(&state, StatusCode::OK, pages::dashboard(&d))
}

/// The account name a form (or query) gives; else why nothing was done
/// (`nothing`: "Nothing deleted", …).
pub(crate) fn named(fields: &HashMap<String, String>, nothing: &str) -> Result<AccountName, Flash> {
    let raw = fields.get("account").map(|s| s.trim()).unwrap_or("");
    AccountName::parse(raw).map_err(|e| Flash::error(format!("{nothing}: {e}.")))
}

/// The existing account a form (or query) names; else why nothing was done.
fn named_account(
    state: &AppState,
    fields: &HashMap<String, String>,
    nothing: &str,
) -> Result<Arc<Account>, Flash> {
    let name = named(fields, nothing)?;
    state
        .accounts
        .get(&name)
        .ok_or_else(|| Flash::error(format!("{nothing}: there is no account named '{name}'.")))
}

/// Fetches a new token's feed in the background, so that the dashboard
/// shows its posts moments later.
pub(crate) fn warm_feed(state: &AppState, account: Arc<Account>) {
    let state = state.clone();
    tokio::spawn(async move {
        let _ = state.feed.current(&account).await;
    });
}

/// The words for a stored token.
pub(crate) fn stored_words(stored: &admin::Stored, verb: &str) -> String {
    let rec = stored.account.tokens.record();
    let expiry = rec.map_or_else(String::new, |r| {
        let when = pages::relative(r.expires_at, SystemTime::now());
        if r.expiry_known {
            format!("; the token expires {when}")
        } else {
            format!("; the token expires {when} (assumed until its first refresh)")
        }
    });
    format!(
        "{verb} {} (Instagram: @{}){expiry}.",
        stored.account.name, stored.user.username
    )
}

/// `POST /admin/actions/add`: a new account from a pasted token, checked
/// with Instagram first.
pub async fn add(State(state): State<AppState>, Posted { who, fields }: Posted) -> Response {
    let result = async {
        let name = named(&fields, "Nothing added")?;
        if state.accounts.get(&name).is_some() {
            return Err(Flash::error(format!(
                "There is already an account named {name}; use “Replace the token” on it instead."
            )));
        }
        let token = fields.get("access_token").map(String::as_str).unwrap_or("");
        let stored = admin::put_token(&state, name.clone(), token, None)
            .await
            .map_err(|e| Flash::error(format!("Could not add {name}: {e}.")))?;
        warm_feed(&state, stored.account.clone());
        Ok(Flash::ok(stored_words(&stored, "Added")))
    };
    done(&state, &who, result.await)
}

/// `POST /admin/actions/replace`: a pasted token for an existing account,
/// checked with Instagram first.
pub async fn replace(State(state): State<AppState>, Posted { who, fields }: Posted) -> Response {
    let result = async {
        let account = named_account(&state, &fields, "Nothing replaced")?;
        let token = fields.get("access_token").map(String::as_str).unwrap_or("");
        let stored = admin::put_token(&state, account.name.clone(), token, None)
            .await
            .map_err(|e| {
                Flash::error(format!(
                    "Could not replace the token of {}: {e}. The current token stays.",
                    account.name
                ))
            })?;
        warm_feed(&state, stored.account.clone());
        Ok(Flash::ok(stored_words(&stored, "Replaced the token of")))
    };
    done(&state, &who, result.await)
}

/// `POST /admin/actions/refresh`: refreshes an account's token now.
pub async fn refresh(State(state): State<AppState>, Posted { who, fields }: Posted) -> Response {
    let result = async {
        let account = named_account(&state, &fields, "Nothing refreshed")?;
        admin::refresh(&state, &account).await.map_err(|e| {
            Flash::error(format!(
                "Could not refresh the token of {}: {e}.",
                account.name
            ))
        })?;
        let expiry = account.tokens.record().map_or_else(String::new, |r| {
            format!(
                "; it expires {} ({})",
                pages::relative(r.expires_at, SystemTime::now()),
                pages::date(r.expires_at)
            )
        });
        Ok(Flash::ok(format!(
            "Refreshed the token of {}{expiry}.",
            account.name
        )))
    };
    done(&state, &who, result.await)
}

/// `POST /admin/actions/purge`: drops the cached feeds and media.
pub async fn purge(State(state): State<AppState>, Posted { who, .. }: Posted) -> Response {
    admin::purge(&state).await;
    let flash = Flash::ok("Dropped the cached feeds and media of every account.");
    done(&state, &who, Ok(flash))
}

/// The account the confirmation step names, unless it is `default`
/// (which stays: no point asking).
fn deletable(state: &AppState, fields: &HashMap<String, String>) -> Result<Arc<Account>, Flash> {
    let account = named_account(state, fields, "Nothing deleted")?;
    if account.name.is_default() {
        return Err(Flash::error(
            "The account default cannot be deleted (it is what /feed serves); replace its token instead.",
        ));
    }
    Ok(account)
}

/// `GET /admin/actions/delete?account=`: the confirmation step.
pub async fn delete_confirm(
    who: LoggedIn,
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    match deletable(&state, &query) {
        Ok(account) => page(
            &state,
            StatusCode::OK,
            pages::confirm_delete(&who.session.csrf, &account.name),
        ),
        Err(why) => done(&state, &who, Err(why)),
    }
}

/// `POST /admin/actions/delete`: removes an account, once confirmed.
pub async fn delete(State(state): State<AppState>, Posted { who, fields }: Posted) -> Response {
    // `default` is refused by the removal itself (as in the JSON API).
    let account = match named_account(&state, &fields, "Nothing deleted") {
        Ok(account) => account,
        Err(why) => return done(&state, &who, Err(why)),
    };
    if fields.get("confirm").map(String::as_str) != Some("yes") {
        let path = "/admin/actions/delete?".to_string();
        let start = path.len();
        let mut to = url::form_urlencoded::Serializer::for_suffix(path, start);
        to.append_pair("account", &account.name);
        return see_other(&to.finish());
    }
    let result = admin::remove_account(&state, &account.name)
        .await
        .map(|()| Flash::ok(format!("Deleted the account {}.", account.name)))
        .map_err(|e| Flash::error(format!("Could not delete {}: {e}.", account.name)));
    done(&state, &who, result)
}
