//! The CDN side of the fake: it serves the media bytes of every account
//! (one host for all, as Instagram's CDN is), only through URLs it
//! signed and that have not expired, with byte ranges and a same-origin
//! resource policy, because those are the rules that force igfeed to
//! refresh URLs and proxy media instead of handing browsers CDN links.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::range::{self, Wanted};
use crate::state::Shared;

/// Keyed by the fake's own secret so igfeed cannot forge or extend a URL;
/// it can only ask the Graph API for a fresh one.
fn signature(shared: &Shared, asset: &str, oe: &str) -> String {
    let d = Sha256::digest(format!("{}:{asset}:{oe}", shared.secret).as_bytes());
    d[..8].iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn signed_url(shared: &Shared, asset: &str, expires: SystemTime) -> String {
    let oe = format!(
        "{:X}",
        expires
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
    );
    let oh = signature(shared, asset, &oe);
    format!("{}/cdn/{asset}?_nc_ht=fake&oh={oh}&oe={oe}", shared.base)
}

pub(crate) fn cdn(
    shared: &Shared,
    asset: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Response {
    let text = |status: StatusCode, body: &'static str| {
        (status, [(header::CONTENT_TYPE, "text/plain")], body).into_response()
    };
    let (Some(oe), Some(oh)) = (query.get("oe"), query.get("oh")) else {
        return text(StatusCode::FORBIDDEN, "Bad URL timestamp");
    };
    if signature(shared, asset, oe) != *oh {
        return text(StatusCode::FORBIDDEN, "URL signature mismatch");
    }
    let Ok(expiry) = u64::from_str_radix(oe, 16) else {
        return text(StatusCode::FORBIDDEN, "Bad URL timestamp");
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    if expiry <= now {
        return text(StatusCode::FORBIDDEN, "URL signature expired");
    }
    let found = shared
        .lock()
        .assets
        .get(asset)
        .map(|a| (a.content_type, a.bytes.clone()));
    let Some((content_type, bytes)) = found else {
        return text(StatusCode::NOT_FOUND, "Not Found");
    };
    let total = bytes.len() as u64;
    let mut res_headers = HeaderMap::new();
    res_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    res_headers.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    res_headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    res_headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=1209600, no-transform"),
    );
    let wanted = headers
        .get(header::RANGE)
        .and_then(|r| r.to_str().ok())
        .map_or(Wanted::Everything, |r| range::wanted(r, total));
    match wanted {
        Wanted::Everything => (StatusCode::OK, res_headers, bytes).into_response(),
        Wanted::Slice { first, last } => {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {first}-{last}/{total}")) {
                res_headers.insert(header::CONTENT_RANGE, v);
            }
            let slice = bytes.slice(first as usize..=last as usize);
            (StatusCode::PARTIAL_CONTENT, res_headers, slice).into_response()
        }
        Wanted::Nothing => {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{total}")) {
                res_headers.insert(header::CONTENT_RANGE, v);
            }
            (StatusCode::RANGE_NOT_SATISFIABLE, res_headers).into_response()
        }
    }
}
