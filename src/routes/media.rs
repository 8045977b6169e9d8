//! `GET /media/{id}` and `GET /media/{id}/thumbnail`: the feed's images and
//! videos from this origin, embeddable anywhere.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::error::{ApiError, Problem};
use crate::http::{ByteRange, parse_range};
use crate::media::{Cached, Fetched, MediaError, MediaKey};

/// Media ids are stable, so browsers and CDNs may keep the bytes.
const CACHE_CONTROL: &str = "public, max-age=604800, stale-while-revalidate=86400";
const CORP: HeaderName = HeaderName::from_static("cross-origin-resource-policy");

/// A post's or carousel child's image or video.
#[utoipa::path(get, path = "/media/{id}", tag = "media",
    params(("id" = String, Path, description = "A media id from /feed (post or carousel child)", pattern = "^[0-9A-Za-z_]{1,64}$")),
    responses(
        (status = 200, description = "The bytes (an image or a video)",
            content((Vec<u8> = "image/*"), (Vec<u8> = "video/*")),
            headers(("ETag" = String), ("Cache-Control" = String), ("Cross-Origin-Resource-Policy" = String))),
        (status = 206, description = "The requested byte range", content((Vec<u8> = "image/*"), (Vec<u8> = "video/*"))),
        (status = 304, description = "Not modified (If-None-Match matched)"),
        (status = 404, description = "Not a media of the feed", body = Problem, content_type = "application/problem+json"),
        (status = 416, description = "Range not satisfiable", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The CDN failed and nothing is cached", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "The CDN timed out and nothing is cached", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_media(
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    serve(
        &state,
        MediaKey {
            id,
            thumbnail: false,
        },
        req.headers(),
    )
    .await
}

/// A video's thumbnail image.
#[utoipa::path(get, path = "/media/{id}/thumbnail", tag = "media",
    params(("id" = String, Path, description = "A video's id from /feed", pattern = "^[0-9A-Za-z_]{1,64}$")),
    responses(
        (status = 200, description = "The thumbnail image", content((Vec<u8> = "image/*")),
            headers(("ETag" = String), ("Cache-Control" = String), ("Cross-Origin-Resource-Policy" = String))),
        (status = 206, description = "The requested byte range", content((Vec<u8> = "image/*"))),
        (status = 304, description = "Not modified (If-None-Match matched)"),
        (status = 404, description = "Not a video of the feed", body = Problem, content_type = "application/problem+json"),
        (status = 416, description = "Range not satisfiable", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The CDN failed and nothing is cached", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "The CDN timed out and nothing is cached", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_thumbnail(
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    serve(
        &state,
        MediaKey {
            id,
            thumbnail: true,
        },
        req.headers(),
    )
    .await
}

/// The route templates (as axum matches them) for logs and metrics.
const ROUTE: &str = "/media/{id}";
const THUMBNAIL_ROUTE: &str = "/media/{id}/thumbnail";

/// The media a plain `GET /media/{id}[/thumbnail]` asks for, with its
/// route template, for the fast path ([`crate::front`]). Anything else,
/// percent-encoded ids included, is left to the router.
pub fn fast_key<B>(req: &axum::http::Request<B>) -> Option<(MediaKey, &'static str)> {
    if req.method() != axum::http::Method::GET {
        return None;
    }
    let rest = req.uri().path().strip_prefix("/media/")?;
    let (id, thumbnail, route) = match rest.split_once('/') {
        None => (rest, false, ROUTE),
        Some((id, "thumbnail")) => (id, true, THUMBNAIL_ROUTE),
        Some(_) => return None,
    };
    if !crate::graph::is_media_id(id) {
        return None;
    }
    let key = MediaKey {
        id: id.to_string(),
        thumbnail,
    };
    Some((key, route))
}

async fn serve(state: &AppState, key: MediaKey, req: &HeaderMap) -> Result<Response, ApiError> {
    if !crate::graph::is_media_id(&key.id) {
        return Err(ApiError::NotFound("no such media".into()));
    }
    let range = req.get(header::RANGE).and_then(|v| v.to_str().ok());
    match state.media.get(&key, range).await {
        Ok(Fetched::Cached(c)) => Ok(cached(&c, req)),
        Ok(Fetched::Stream(res)) => Ok(streamed(res)),
        Err(MediaError::NotFound) => Err(ApiError::NotFound("no such media in the feed".into())),
        Err(MediaError::Timeout) => Err(Problem::typed(
            StatusCode::GATEWAY_TIMEOUT,
            "urn:igfeed:cdn-timeout",
            "the Instagram CDN did not answer in time",
        )
        .into()),
        Err(e) => {
            tracing::warn!(id = %key.id, error = %e, "media unavailable");
            Err(Problem::typed(
                StatusCode::BAD_GATEWAY,
                "urn:igfeed:cdn-failed",
                format!("the media could not be fetched: {e}"),
            )
            .into())
        }
    }
}

fn common_headers(h: &mut HeaderMap) {
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    h.insert(CORP, HeaderValue::from_static("cross-origin"));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
}

/// The response headers' capacity: room for this route's and the
/// middleware's (request id, CORS) without regrowing the map.
const HEADERS: usize = 12;

/// A response with `status`, `headers` and `body`, built directly: the
/// tuple form would add a content type and merge two header maps, growing
/// one (this is the hot path of a cached media).
fn response(status: StatusCode, headers: HeaderMap, body: Body) -> Response {
    let mut res = Response::new(body);
    *res.status_mut() = status;
    *res.headers_mut() = headers;
    res
}

/// The answer for a cached media (also used by the fast path).
pub fn cached(c: &Cached, req: &HeaderMap) -> Response {
    let mut h = HeaderMap::with_capacity(HEADERS);
    common_headers(&mut h);
    h.insert(header::ETAG, c.etag.clone());
    let digest = c.etag.to_str().unwrap_or_default().trim_matches('"');
    if crate::http::etag_matches(req, digest) {
        return response(StatusCode::NOT_MODIFIED, h, Body::empty());
    }
    h.insert(header::CONTENT_TYPE, c.content_type.clone());
    let total = c.bytes.len() as u64;
    // If-Range: only honour the range for the same version.
    let if_range_ok = req
        .get(header::IF_RANGE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.trim().as_bytes() == c.etag.as_bytes());
    let range = req
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .filter(|_| if_range_ok)
        .map_or(ByteRange::Whole, |r| parse_range(r, total));
    match range {
        ByteRange::Whole => response(StatusCode::OK, h, Body::from(c.bytes.clone())),
        ByteRange::Part(start, end) => {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{total}")) {
                h.insert(header::CONTENT_RANGE, v);
            }
            let part = c.bytes.slice(start as usize..=end as usize);
            response(StatusCode::PARTIAL_CONTENT, h, Body::from(part))
        }
        ByteRange::Unsatisfiable => {
            let mut res = Problem::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                format!("the range is outside the {total} bytes of this media"),
            )
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{total}")) {
                res.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            res
        }
    }
}

/// A large object streamed through: the CDN's status (200/206/416) and
/// range headers, this service's caching and embedding headers.
fn streamed(res: reqwest::Response) -> Response {
    let status = StatusCode::from_u16(res.status().as_u16()).unwrap_or(StatusCode::OK);
    let mut h = HeaderMap::with_capacity(HEADERS);
    common_headers(&mut h);
    for name in [
        header::CONTENT_TYPE,
        header::CONTENT_LENGTH,
        header::CONTENT_RANGE,
    ] {
        if let Some(v) = res.headers().get(name.as_str())
            && let Ok(v) = HeaderValue::from_bytes(v.as_bytes())
        {
            h.insert(name, v);
        }
    }
    if status == StatusCode::RANGE_NOT_SATISFIABLE {
        let mut p = Problem::new(status, "the range is outside this media").into_response();
        if let Some(v) = h.get(header::CONTENT_RANGE).cloned() {
            p.headers_mut().insert(header::CONTENT_RANGE, v);
        }
        return p;
    }
    response(status, h, Body::from_stream(res.bytes_stream()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(method: &str, uri: &str) -> Option<(String, bool, &'static str)> {
        let req = axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .body(())
            .unwrap();
        fast_key(&req).map(|(k, route)| (k.id, k.thumbnail, route))
    }

    #[test]
    fn only_plain_gets_of_valid_ids_take_the_fast_path() {
        assert_eq!(
            key("GET", "/media/123_a"),
            Some(("123_a".into(), false, ROUTE))
        );
        assert_eq!(key("GET", "/media/9?w=1"), Some(("9".into(), false, ROUTE)));
        assert_eq!(
            key("GET", "/media/9/thumbnail"),
            Some(("9".into(), true, THUMBNAIL_ROUTE))
        );
        for (method, uri) in [
            ("HEAD", "/media/9"),
            ("POST", "/media/9"),
            ("GET", "/media/%39"),
            ("GET", "/media/"),
            ("GET", "/media/9/"),
            ("GET", "/media/9/other"),
            ("GET", "/media/9/thumbnail/"),
            ("GET", "/media/a.b"),
            ("GET", "/feed"),
        ] {
            assert_eq!(key(method, uri), None, "{method} {uri}");
        }
        let long = format!("/media/{}", "1".repeat(65));
        assert_eq!(key("GET", &long), None);
    }
}
