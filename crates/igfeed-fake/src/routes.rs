//! The fake's one entry point: every request is named as a [`Route`] first,
//! so the tests can count it, see what it asked for and make it fail the
//! same way whichever handler would have answered it.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

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

pub(crate) async fn dispatch(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let route = match segs.as_slice() {
        ["refresh_access_token"] => Route::Refresh,
        ["cdn", _] => Route::Cdn,
        [v, "me"] if v.starts_with('v') => Route::Me,
        [v, "me", "media"] if v.starts_with('v') => Route::MediaList,
        [v, _] if v.starts_with('v') => Route::MediaUrls,
        _ => return (StatusCode::NOT_FOUND, "unknown path").into_response(),
    };
    let fault = {
        let mut inner = shared.lock();
        *inner.calls.entry(route).or_default() += 1;
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
        inner.take_fault(route)
    };
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
