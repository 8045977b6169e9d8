//! What the media cache holds: whole objects with the headers made once,
//! weighed in bytes so the cache stays within `IGFEED_MEDIA_CACHE_SIZE`.

use std::sync::Arc;

use axum::http::HeaderValue;
use bytes::Bytes;
use futures_util::StreamExt;
use moka::future::Cache;
use moka::notification::RemovalCause;
use sha2::{Digest, Sha256};

use super::{MediaError, ObjectKey};
use crate::metrics::Metrics;

/// Per-entry bookkeeping added to an object's weight.
const ENTRY_OVERHEAD: u64 = 256;

/// One cached object.
#[derive(Debug)]
pub struct Cached {
    pub bytes: Bytes,
    /// Response headers, made once per object.
    pub content_type: HeaderValue,
    /// Strong ETag (quoted).
    pub etag: HeaderValue,
}

/// The byte-bounded cache of whole objects; evictions are counted.
pub fn new_cache(budget: u64, metrics: &Metrics) -> Cache<ObjectKey, Arc<Cached>> {
    let evictions = metrics.media_evictions.clone();
    Cache::builder()
        .max_capacity(budget)
        .weigher(|_: &ObjectKey, v: &Arc<Cached>| {
            u32::try_from(v.bytes.len() as u64 + ENTRY_OVERHEAD).unwrap_or(u32::MAX)
        })
        .eviction_listener(move |_, _, cause| {
            if cause == RemovalCause::Size {
                evictions.inc();
            }
        })
        .build()
}

impl Cached {
    /// `bytes` of `content_type`, with its ETag.
    pub fn new(bytes: Bytes, content_type: &'static str) -> Self {
        Self {
            etag: etag_of(&bytes),
            content_type: HeaderValue::from_static(content_type),
            bytes,
        }
    }
}

/// Reads a CDN answer whole, if it is at most `max_object` bytes.
pub async fn receive(res: reqwest::Response, max_object: u64) -> Result<Arc<Cached>, MediaError> {
    if res.content_length().is_some_and(|n| n > max_object) {
        return Err(MediaError::TooLarge);
    }
    let content_type = res
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let expected = res
        .content_length()
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0);
    let mut body = Vec::with_capacity(expected);
    let mut stream = res.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| MediaError::Unreachable(crate::graph::describe(&e)))?;
        if (body.len() + chunk.len()) as u64 > max_object {
            return Err(MediaError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    // Kept at its exact size: slack from growing by chunks would stay
    // allocated for as long as the object is cached.
    body.shrink_to_fit();
    let bytes = Bytes::from(body);
    let etag = etag_of(&bytes);
    Ok(Arc::new(Cached {
        bytes,
        content_type,
        etag,
    }))
}

/// A strong ETag from the bytes: the same object always gets the same tag.
fn etag_of(bytes: &[u8]) -> HeaderValue {
    let digest = Sha256::digest(bytes);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    HeaderValue::from_str(&format!("\"{hex}\"")).expect("hex in quotes is a header value")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_follow_the_bytes() {
        assert_eq!(etag_of(b"a"), etag_of(b"a"));
        assert_ne!(etag_of(b"a"), etag_of(b"b"));
        assert_eq!(etag_of(b"a").len(), 34);
    }
}
