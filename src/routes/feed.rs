//! `GET /feed`: the cached feed as JSON, with validators, conditional
//! requests and pre-compressed bodies.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::accounts::Account;
use crate::error::{ApiError, Problem};
use crate::feed::{Effort, Filter, Rendered};
use crate::graph::MediaType;
use crate::http::{self, Encoding};
use crate::state::AppState;

/// The query of a feed (parsed by [`parse_filter`]; described here once
/// for both feed routes).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "describes the query; parse_filter reads it")]
pub struct FeedQuery {
    /// Most posts to return, 1..=IGFEED_FEED_SIZE (the maximum here is this server's setting); default all kept.
    #[param(minimum = 1, maximum = 25)]
    limit: Option<usize>,
    /// Comma list of IMAGE, VIDEO, CAROUSEL_ALBUM; applied before the limit.
    #[param(
        rename = "type",
        example = "IMAGE,CAROUSEL_ALBUM",
        pattern = "^(IMAGE|VIDEO|CAROUSEL_ALBUM)(,(IMAGE|VIDEO|CAROUSEL_ALBUM))*$"
    )]
    kind: Option<String>,
    /// Matching posts to skip (after the type filter).
    #[param(minimum = 0, maximum = 200)]
    offset: Option<usize>,
}

/// The `default` account's recent posts (the same as `/feeds/default`).
#[utoipa::path(
    get,
    path = "/feed",
    tag = "feed",
    params(FeedQuery),
    responses(
        (status = 200, description = "The feed", body = crate::feed::render::FeedResponse,
            headers(("ETag" = String), ("Last-Modified" = String), ("Cache-Control" = String))),
        (status = 304, description = "Not modified (If-None-Match matched)"),
        (status = 400, description = "Bad query parameter", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No feed was ever fetched", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_feed(State(state): State<AppState>, req: Request) -> Result<Response, ApiError> {
    let account = state.accounts.default_account();
    serve(&state, &account, req).await
}

/// An account's recent posts.
#[utoipa::path(
    get,
    path = "/feeds/{account}",
    tag = "feed",
    params(
        ("account" = String, Path, description = "The account's name", pattern = "^[a-z0-9][a-z0-9-]{0,39}$"),
        FeedQuery,
    ),
    responses(
        (status = 200, description = "The feed", body = crate::feed::render::FeedResponse,
            headers(("ETag" = String), ("Last-Modified" = String), ("Cache-Control" = String))),
        (status = 304, description = "Not modified (If-None-Match matched)"),
        (status = 400, description = "Bad account name or query parameter", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such account", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No feed was ever fetched", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_account_feed(
    State(state): State<AppState>,
    Path(name): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let account = super::account(&state, &name)?;
    serve(&state, &account, req).await
}

async fn serve(
    state: &AppState,
    account: &Arc<Account>,
    req: Request,
) -> Result<Response, ApiError> {
    let (query, headers) = (req.uri().query().unwrap_or(""), req.headers());
    let filter = parse_filter(query, state.config.feed_size)?;
    let base = http::public_base(state.config.public_url.as_deref(), req.uri(), headers)?;
    let configured = state.config.public_url.is_some();
    // The one variant most visitors get is worth the best compression;
    // any other is cheap to make, so made-up hosts and filters cost little.
    let effort = if configured && filter == Filter::default() {
        Effort::Best
    } else {
        Effort::Fast
    };
    let rendered = state.feed.answer(account, &base, &filter, effort).await?;
    Ok(respond(&rendered, headers, !configured).await)
}

/// The answer for `r`; `from_request` when its links were built from the
/// request's `Host` and `X-Forwarded-Proto` (a shared cache must tell them
/// apart).
async fn respond(r: &Rendered, req: &HeaderMap, from_request: bool) -> Response {
    let encoding = http::negotiate(req);
    let etag = match encoding {
        Encoding::Identity => &r.etags[0],
        Encoding::Gzip => &r.etags[1],
        Encoding::Brotli => &r.etags[2],
    };
    let mut headers = HeaderMap::with_capacity(6);
    headers.insert(header::ETAG, etag.clone());
    headers.insert(header::CACHE_CONTROL, r.cache_control.clone());
    headers.insert(header::LAST_MODIFIED, r.last_modified_header.clone());
    headers.insert(
        header::VARY,
        HeaderValue::from_static(if from_request {
            "Accept-Encoding, Host, X-Forwarded-Proto"
        } else {
            "Accept-Encoding"
        }),
    );
    if http::etag_matches(req, &r.digest) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(name) = encoding.header_value() {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(name));
    }
    (StatusCode::OK, headers, r.encoded(encoding).await).into_response()
}

/// Parses `limit`, `type` and `offset`; unknown parameters (cache busters)
/// are ignored.
pub fn parse_filter(query: &str, feed_size: usize) -> Result<Filter, ApiError> {
    let mut filter = Filter::default();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "limit" => {
                let n = value
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=feed_size).contains(n));
                filter.limit = Some(n.ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "limit must be a whole number from 1 to {feed_size}, got '{}'",
                        truncate(&value)
                    ))
                })?);
            }
            "offset" => {
                let n = value
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n <= crate::config::MAX_FEED_SIZE);
                filter.offset = n.ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "offset must be a whole number from 0 to {}, got '{}'",
                        crate::config::MAX_FEED_SIZE,
                        truncate(&value)
                    ))
                })?;
            }
            "type" => {
                let mut types = Vec::new();
                // Exact Graph API names, as the OpenAPI pattern says.
                for t in value.split(',') {
                    let t = MediaType::from_name(t).ok_or_else(|| {
                        ApiError::BadRequest(format!(
                            "type must be a comma list of IMAGE, VIDEO, CAROUSEL_ALBUM, got '{}'",
                            truncate(t)
                        ))
                    })?;
                    if !types.contains(&t) {
                        types.push(t);
                    }
                }
                types.sort();
                filter.types = types;
            }
            _ => {}
        }
    }
    Ok(filter)
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_and_reject() {
        let f = parse_filter("limit=3&type=VIDEO,IMAGE&_=123", 25).unwrap();
        assert_eq!(f.limit, Some(3));
        assert_eq!(f.types, vec![MediaType::Image, MediaType::Video]);
        assert!(parse_filter("limit=0", 25).is_err());
        assert!(parse_filter("limit=26", 25).is_err());
        assert!(parse_filter("limit=abc", 25).is_err());
        assert!(parse_filter("type=REEL", 25).is_err());
        assert!(parse_filter("type=image", 25).is_err());
        assert!(parse_filter("type=IMAGE,%20VIDEO", 25).is_err());
        assert!(parse_filter("type=", 25).is_err());
        assert_eq!(parse_filter("", 25).unwrap(), Filter::default());
        assert_eq!(parse_filter("offset=3", 25).unwrap().offset, 3);
        assert!(parse_filter("offset=-1", 25).is_err());
        assert!(parse_filter("offset=201", 25).is_err());
    }
}
