//! `GET /media/{id}` and `GET /media/{id}/thumbnail`: the feed's images and
//! videos from this origin, embeddable anywhere.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;

use sha2::{Digest, Sha256};

use crate::error::{ApiError, Problem};
use crate::http::{ByteRange, parse_range};
use crate::media::variant::{Format, Width};
use crate::media::{Cached, Fetched, MediaError, MediaKey};
use crate::state::AppState;

/// Media ids are stable, so browsers and CDNs may keep the bytes.
const CACHE_CONTROL: &str = "public, max-age=604800, stale-while-revalidate=86400";
const CORP: HeaderName = HeaderName::from_static("cross-origin-resource-policy");

/// A post's or carousel child's image or video; with `w`, the picture
/// resized.
#[utoipa::path(get, path = "/media/{id}", tag = "media",
    params(
        ("id" = String, Path, description = "A media id from a feed (post or carousel child)", pattern = "^[0-9]{1,64}$"),
        ("w" = Option<String>, Query, description = "Resize the picture to this width (never upscaled): WebP when Accept allows image/webp, else JPEG. Not for a video's own bytes.", pattern = "^(320|640|1080)$"),
    ),
    responses(
        (status = 200, description = "The bytes (an image or a video), or the resized picture",
            content((Vec<u8> = "image/*"), (Vec<u8> = "video/*")),
            headers(("ETag" = String), ("Cache-Control" = String), ("Cross-Origin-Resource-Policy" = String), ("Vary" = String, description = "`Accept` on resized pictures"))),
        (status = 206, description = "The requested byte range", content((Vec<u8> = "image/*"), (Vec<u8> = "video/*"))),
        (status = 304, description = "Not modified (If-None-Match matched)"),
        (status = 400, description = "Bad `w`, or `w` on a video", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not a media of any account's feed", body = Problem, content_type = "application/problem+json"),
        (status = 416, description = "Range not satisfiable", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The CDN failed and nothing is cached, or the picture cannot be resized (`urn:igfeed:picture-refused`: over 50 megapixels, or not decodable)", body = Problem, content_type = "application/problem+json"),
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
        req.uri().query(),
        req.headers(),
    )
    .await
}

/// A video's thumbnail image; with `w`, resized.
#[utoipa::path(get, path = "/media/{id}/thumbnail", tag = "media",
    params(
        ("id" = String, Path, description = "A video's id from a feed", pattern = "^[0-9]{1,64}$"),
        ("w" = Option<String>, Query, description = "Resize the thumbnail to this width (never upscaled): WebP when Accept allows image/webp, else JPEG", pattern = "^(320|640|1080)$"),
    ),
    responses(
        (status = 200, description = "The thumbnail image, or resized", content((Vec<u8> = "image/*")),
            headers(("ETag" = String), ("Cache-Control" = String), ("Cross-Origin-Resource-Policy" = String), ("Vary" = String, description = "`Accept` on resized pictures"))),
        (status = 206, description = "The requested byte range", content((Vec<u8> = "image/*"))),
        (status = 304, description = "Not modified (If-None-Match matched)"),
        (status = 400, description = "Bad `w`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not a video of the feed", body = Problem, content_type = "application/problem+json"),
        (status = 416, description = "Range not satisfiable", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The CDN failed and nothing is cached, or the picture cannot be resized (`urn:igfeed:picture-refused`)", body = Problem, content_type = "application/problem+json"),
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
        req.uri().query(),
        req.headers(),
    )
    .await
}

/// The `w` of the query: `None` for the original bytes; anything but
/// 320, 640 or 1080 is a 400. Other parameters (cache busters) are ignored.
fn width(query: Option<&str>) -> Result<Option<Width>, ApiError> {
    let Some(query) = query else {
        return Ok(None);
    };
    let mut width = None;
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        if k == "w" {
            let parsed = Width::parse(&v).ok_or_else(|| {
                let v: String = v.chars().take(20).collect();
                ApiError::BadRequest(format!("w must be 320, 640 or 1080, got '{v}'"))
            })?;
            width = Some(parsed);
        }
    }
    Ok(width)
}

async fn serve(
    state: &AppState,
    key: MediaKey,
    query: Option<&str>,
    req: &HeaderMap,
) -> Result<Response, ApiError> {
    let width = width(query)?;
    if !crate::graph::is_media_id(&key.id) {
        return Err(ApiError::NotFound("no such media"));
    }
    if let Some(width) = width {
        let accept = req.get(header::ACCEPT).and_then(|v| v.to_str().ok());
        let format = Format::from_accept(accept);
        let made = state
            .media
            .variant(&key, width, format)
            .await
            .map_err(|e| {
                if !matches!(e, MediaError::NotFound | MediaError::NotAPicture) {
                    tracing::warn!(id = %key.id, error = %e, "resized picture unavailable");
                }
                ApiError::from(e)
            })?;
        let mut res = cached(&made, req)?;
        res.headers_mut()
            .append(header::VARY, HeaderValue::from_static("Accept"));
        return Ok(res);
    }
    let range = req.get(header::RANGE).and_then(|v| v.to_str().ok());
    let fetched = match state.media.get(&key, range).await {
        // If-Range names another version: the whole object, not a part.
        Ok(Fetched::Stream(res))
            if res.status() == reqwest::StatusCode::PARTIAL_CONTENT
                && req
                    .get(header::IF_RANGE)
                    .is_some_and(|v| *v != streamed_etag(&res)) =>
        {
            state.media.get(&key, None).await
        }
        other => other,
    };
    match fetched {
        Ok(Fetched::Cached(c)) => cached(&c, req),
        Ok(Fetched::Stream(res)) => streamed(res, req),
        Err(e) => {
            if !matches!(e, MediaError::NotFound) {
                tracing::warn!(id = %key.id, error = %e, "media unavailable");
            }
            Err(e.into())
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

/// The answer for a cached media: whole, a range, or 304.
fn cached(c: &Cached, req: &HeaderMap) -> Result<Response, ApiError> {
    let mut h = HeaderMap::with_capacity(HEADERS);
    common_headers(&mut h);
    h.insert(header::ETAG, c.etag.clone());
    let digest = c.etag.to_str().unwrap_or_default().trim_matches('"');
    if crate::http::etag_matches(req, digest) {
        return Ok(response(StatusCode::NOT_MODIFIED, h, Body::empty()));
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
        ByteRange::Whole => Ok(response(StatusCode::OK, h, Body::from(c.bytes.clone()))),
        ByteRange::Part(start, end) => {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{total}")) {
                h.insert(header::CONTENT_RANGE, v);
            }
            let part = c.bytes.slice(start as usize..=end as usize);
            Ok(response(StatusCode::PARTIAL_CONTENT, h, Body::from(part)))
        }
        ByteRange::Unsatisfiable => Err(ApiError::RangeNotSatisfiable { total: Some(total) }),
    }
}

/// A strong ETag for an object streamed through, the same on every request
/// for the same object without reading it: from the CDN asset's path (its
/// signed query changes, the path does not) and its total length.
fn streamed_etag(res: &reqwest::Response) -> HeaderValue {
    let total = res
        .headers()
        .get(reqwest::header::CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit_once('/'))
        .and_then(|(_, total)| total.trim().parse::<u64>().ok())
        .or_else(|| res.content_length());
    let mut hasher = Sha256::new();
    hasher.update(res.url().path().as_bytes());
    hasher.update(total.unwrap_or(0).to_be_bytes());
    let hex: String = hasher.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    HeaderValue::from_str(&format!("\"s{hex}\"")).expect("hex in quotes is a header value")
}

/// A large object streamed through: the CDN's status (200/206/416) and
/// range headers, this service's caching and embedding headers.
fn streamed(res: reqwest::Response, req: &HeaderMap) -> Result<Response, ApiError> {
    let status = StatusCode::from_u16(res.status().as_u16()).unwrap_or(StatusCode::OK);
    if status == StatusCode::RANGE_NOT_SATISFIABLE {
        let total = res
            .headers()
            .get(reqwest::header::CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("bytes */"))
            .and_then(|n| n.trim().parse().ok());
        return Err(ApiError::RangeNotSatisfiable { total });
    }
    let mut h = HeaderMap::with_capacity(HEADERS);
    common_headers(&mut h);
    let etag = streamed_etag(&res);
    h.insert(header::ETAG, etag.clone());
    let digest = etag.to_str().unwrap_or_default().trim_matches('"');
    if crate::http::etag_matches(req, digest) {
        return Ok(response(StatusCode::NOT_MODIFIED, h, Body::empty()));
    }
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
    Ok(response(status, h, Body::from_stream(res.bytes_stream())))
}
