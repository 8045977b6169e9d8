//! The fake's one entry point: every request is named as a [`Route`] first,
//! so the tests can count it (in all and by account), see what it asked
//! for, count it in flight and make it fail the same way whichever handler
//! would have answered it. `/_fake/...` are the fake's own controls.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::state::Shared;
use crate::{Fault, cdn, faults, graph};

/// The parts of the fake whose calls are counted and can be made to fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    /// `GET /{version}/me`
    Me,
    /// `GET /{version}/me/media` (each page counts)
    MediaList,
    /// `GET /{version}/{media-id}`
    MediaUrls,
    /// `GET /refresh_access_token`
    Refresh,
    /// `GET /cdn/...`
    Cdn,
}

/// What the fake saw of the last call to a route (never the token).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Seen {
    /// The path, without the query (which carries the token).
    pub path: String,
    /// The `fields` parameter, if any.
    pub fields: Option<String>,
    /// The `limit` parameter, if any.
    pub limit: Option<String>,
    pub user_agent: Option<String>,
}

impl Route {
    const ALL: [Route; 5] = [
        Route::Me,
        Route::MediaList,
        Route::MediaUrls,
        Route::Refresh,
        Route::Cdn,
    ];

    /// The route's key in `/_fake/stats`.
    fn key(self) -> &'static str {
        match self {
            Route::Me => "me",
            Route::MediaList => "media_list",
            Route::MediaUrls => "media_urls",
            Route::Refresh => "refresh",
            Route::Cdn => "cdn",
        }
    }
}

pub(crate) async fn dispatch(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let route = match segs.as_slice() {
        ["_fake", what] => return control(&shared, req.method(), what),
        ["refresh_access_token"] => Route::Refresh,
        ["cdn", _] => Route::Cdn,
        [v, "me"] if v.starts_with('v') => Route::Me,
        [v, "me", "media"] if v.starts_with('v') => Route::MediaList,
        [v, _] if v.starts_with('v') => Route::MediaUrls,
        _ => return (StatusCode::NOT_FOUND, "unknown path").into_response(),
    };
    // Held until the answer is made, faults and latency included.
    let _in_flight = shared.enter();
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let (fault, latency) = {
        let mut inner = shared.lock();
        *inner.calls.entry(route).or_default() += 1;
        let key = match route {
            Route::Cdn => segs[1],
            _ => query.get("access_token").map(String::as_str).unwrap_or(""),
        };
        if let Some(account) = inner.account_of_call(route, key) {
            *inner.calls_by.entry((route, account)).or_default() += 1;
        }
        let seen = Seen {
            path: path.clone(),
            fields: query.get("fields").cloned(),
            limit: query.get("limit").cloned(),
            user_agent: req
                .headers()
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        };
        inner.last.insert(route, seen);
        (inner.take_fault(route), inner.opts.latency)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(fault) = fault.filter(|f| !matches!(f, Fault::Pass)) {
        return faults::apply_fault(fault).await;
    }
    match route {
        Route::Cdn => cdn::cdn(&shared, segs[1], &query, req.headers()),
        Route::Refresh => graph::refresh(&shared, &query),
        Route::Me => graph::me(&shared, &query),
        Route::MediaList => graph::media_list(&shared, segs[0], &query),
        Route::MediaUrls => graph::media_urls(&shared, segs[1], &query),
    }
}

/// `/_fake/...`, for scripts that run `igfeed fake-upstream` and cannot
/// call [`crate::FakeInstagram`]: neither counted as a route nor in flight.
fn control(shared: &Shared, method: &Method, what: &str) -> Response {
    match (what, method) {
        ("stats", &Method::GET) => {
            let calls: serde_json::Map<String, Value> = {
                let inner = shared.lock();
                Route::ALL
                    .iter()
                    .map(|r| {
                        let n = inner.calls.get(r).copied().unwrap_or(0);
                        (r.key().to_string(), json!(n))
                    })
                    .collect()
            };
            let body = json!({
                "in_flight": shared.in_flight.load(Ordering::SeqCst),
                "peak_in_flight": shared.peak.load(Ordering::SeqCst),
                "calls": calls,
            });
            (
                [(header::CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
                .into_response()
        }
        ("reset_peak", &Method::POST) => {
            shared.reset_peak();
            StatusCode::NO_CONTENT.into_response()
        }
        ("stats", _) => (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "GET")]).into_response(),
        ("reset_peak", _) => {
            (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "POST")]).into_response()
        }
        _ => (StatusCode::NOT_FOUND, "unknown path").into_response(),
    }
}
