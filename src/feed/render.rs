//! Turns a snapshot into the `/feed` JSON (the README's "Feed" section),
//! once per feed version, base URL and filter; each compressed form is made
//! once, on first demand, off the async workers.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::http::HeaderValue;

use bytes::Bytes;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::{OnceCell, Semaphore};

use crate::graph::{Account, Media, MediaType};
use crate::http::Encoding;

use super::store::Snapshot;

/// The `/feed` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FeedResponse {
    pub user: Account,
    /// Posts, newest first.
    pub data: Vec<Post>,
    /// Where `data` lies among the posts that match the filter.
    pub paging: Paging,
    /// When this feed was fetched from Instagram (RFC 3339, UTC).
    #[schema(example = "2026-11-28T12:00:00Z")]
    pub fetched_at: String,
    /// True when Instagram failed and this is the last good feed.
    pub stale: bool,
}

/// Where a page of posts lies.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Paging {
    /// Posts that match the filter, before `offset` and `limit`.
    #[schema(example = 25)]
    pub total: usize,
    /// Matching posts skipped before `data`.
    #[schema(example = 0)]
    pub offset: usize,
    /// The most posts `data` holds (the `limit` asked for, or all kept).
    #[schema(example = 25)]
    pub limit: usize,
}

/// One post, with Graph API field names.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Post {
    pub id: String,
    pub media_type: MediaType,
    pub caption: Option<String>,
    pub permalink: Option<String>,
    /// As Instagram gives it, e.g. `2026-11-01T10:00:00+0000`.
    pub timestamp: Option<String>,
    /// This service's `/media/{id}`; null when Instagram has no media URL.
    pub media_url: Option<String>,
    /// This service's `/media/{id}/thumbnail`; set only for videos.
    pub thumbnail_url: Option<String>,
    /// Present only on carousels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub children: Option<Vec<Child>>,
}

/// One item of a carousel.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Child {
    pub id: String,
    pub media_type: MediaType,
    pub media_url: Option<String>,
    pub thumbnail_url: Option<String>,
}

/// Which posts a request asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Filter {
    /// Allowed media types; empty means all.
    pub types: Vec<MediaType>,
    pub limit: Option<usize>,
    /// Matching posts to skip (applied after the type filter).
    pub offset: usize,
}

impl Filter {
    fn admits(&self, m: &Media) -> bool {
        self.types.is_empty() || self.types.contains(&m.media_type)
    }
}

fn media_link(base: &str, id: &str, thumbnail: bool) -> String {
    if thumbnail {
        format!("{base}/media/{id}/thumbnail")
    } else {
        format!("{base}/media/{id}")
    }
}

fn post(base: &str, m: &Media) -> Post {
    let is_video = m.media_type == MediaType::Video;
    Post {
        id: m.id.clone(),
        media_type: m.media_type,
        caption: m.caption.clone(),
        permalink: m.permalink.clone(),
        timestamp: m.timestamp.clone(),
        media_url: m.media_url.as_ref().map(|_| media_link(base, &m.id, false)),
        thumbnail_url: (is_video && m.thumbnail_url.is_some())
            .then(|| media_link(base, &m.id, true)),
        children: (m.media_type == MediaType::CarouselAlbum).then(|| {
            m.children
                .iter()
                .flatten()
                .map(|c| Child {
                    id: c.id.clone(),
                    media_type: c.media_type,
                    media_url: c.media_url.as_ref().map(|_| media_link(base, &c.id, false)),
                    thumbnail_url: (c.media_type == MediaType::Video && c.thumbnail_url.is_some())
                        .then(|| media_link(base, &c.id, true)),
                })
                .collect()
        }),
    }
}

/// Builds the response document; without a `limit` the page holds up to
/// `kept` posts (`IGFEED_FEED_SIZE`).
pub fn response(
    snapshot: &Snapshot,
    stale: bool,
    base: &str,
    filter: &Filter,
    kept: usize,
) -> FeedResponse {
    let limit = filter.limit.unwrap_or(kept);
    let matching = || snapshot.media.iter().filter(|m| filter.admits(m));
    FeedResponse {
        user: snapshot.account.clone(),
        data: matching()
            .skip(filter.offset)
            .take(limit)
            .map(|m| post(base, m))
            .collect(),
        paging: Paging {
            total: matching().count(),
            offset: filter.offset,
            limit,
        },
        fetched_at: humantime::format_rfc3339_seconds(snapshot.fetched_at).to_string(),
        stale,
    }
}

/// One rendered feed body with its validators; compressed forms are made
/// lazily and kept, so each is computed once per feed version.
#[derive(Debug)]
pub struct Rendered {
    pub body: Bytes,
    /// Hex digest of `body`; the ETag of each encoding derives from it.
    pub digest: String,
    pub last_modified: SystemTime,
    pub stale: bool,
    /// Response headers, formatted once: ETags (identity, gzip, br),
    /// `Last-Modified`, `Cache-Control`.
    pub etags: [HeaderValue; 3],
    pub last_modified_header: HeaderValue,
    pub cache_control: HeaderValue,
    effort: Effort,
    /// Bounds how many render and compression jobs run at once.
    jobs: Arc<Semaphore>,
    gzip: OnceCell<Bytes>,
    br: OnceCell<Bytes>,
}

/// How hard a body is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effort {
    /// The feed most visitors get (the whole feed at `IGFEED_PUBLIC_URL`):
    /// compressed once per feed version, as small as it gets.
    Best,
    /// Every other variant (filters, links built from request headers): a
    /// fast level, so a request that misses the cache stays cheap however
    /// many distinct hosts or filters a client makes up.
    Fast,
}

impl Effort {
    fn gzip_level(self) -> u32 {
        match self {
            Effort::Best => 9,
            Effort::Fast => 6,
        }
    }

    fn brotli_quality(self) -> u32 {
        match self {
            Effort::Best => 9,
            Effort::Fast => 4,
        }
    }
}

impl Rendered {
    /// Renders `doc`; `ttl` sets `Cache-Control` (shorter for a stale feed);
    /// compression (later, on demand) takes `effort` and a permit of `jobs`.
    pub fn new(
        doc: &FeedResponse,
        last_modified: SystemTime,
        ttl: Duration,
        effort: Effort,
        jobs: Arc<Semaphore>,
    ) -> Self {
        let body = exact(serde_json::to_vec(doc).expect("feed serializes"));
        let digest = Sha256::digest(&body);
        let digest: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        let header = |s: String| HeaderValue::from_str(&s).expect("ASCII header value");
        let ttl = ttl.as_secs();
        let cache_control = if doc.stale {
            format!("public, max-age={}", ttl.min(super::STALE_RETRY.as_secs()))
        } else {
            format!("public, max-age={ttl}, stale-while-revalidate={ttl}, stale-if-error=86400")
        };
        Self {
            etags: [
                header(format!("\"{digest}\"")),
                header(format!("\"{digest}-gz\"")),
                header(format!("\"{digest}-br\"")),
            ],
            last_modified_header: header(httpdate::fmt_http_date(last_modified)),
            cache_control: header(cache_control),
            body,
            digest,
            last_modified,
            stale: doc.stale,
            effort,
            jobs,
            gzip: OnceCell::new(),
            br: OnceCell::new(),
        }
    }

    /// The body in `encoding`: compressed once, on first demand, on a
    /// blocking thread (brotli of a large feed takes milliseconds), however
    /// many ask at once.
    pub async fn encoded(&self, encoding: Encoding) -> Bytes {
        let (cell, compress): (_, fn(&[u8], Effort) -> Bytes) = match encoding {
            Encoding::Identity => return self.body.clone(),
            Encoding::Gzip => (&self.gzip, gzip),
            Encoding::Brotli => (&self.br, brotli),
        };
        cell.get_or_init(|| {
            let (body, effort) = (self.body.clone(), self.effort);
            blocking(&self.jobs, move || compress(&body, effort))
        })
        .await
        .clone()
    }

    /// Roughly what the rendered cache holds for this body: the body, its
    /// compressed forms (far smaller) and the headers.
    pub fn weight(&self) -> u32 {
        u32::try_from(self.body.len() + self.body.len() / 4 + 1024).unwrap_or(u32::MAX)
    }
}

/// Runs `work` on the blocking pool once `jobs` has a permit for it (so
/// CPU-heavy work never queues up more than the cores can do); a panic
/// there carries on here.
pub async fn blocking<T: Send + 'static>(
    jobs: &Semaphore,
    work: impl FnOnce() -> T + Send + 'static,
) -> T {
    let _permit = jobs
        .acquire()
        .await
        .expect("the jobs semaphore is never closed");
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

fn gzip(body: &[u8], effort: Effort) -> Bytes {
    let level = flate2::Compression::new(effort.gzip_level());
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), level);
    enc.write_all(body).expect("writing to a Vec");
    exact(enc.finish().expect("writing to a Vec"))
}

/// Brotli's window, log2: 256 KiB covers the largest feeds (200 posts),
/// and keeps the compressor's tables small (it sizes them by the window).
const BROTLI_WINDOW: u32 = 18;

fn brotli(body: &[u8], effort: Effort) -> Bytes {
    let mut out = Vec::new();
    {
        let mut w =
            brotli::CompressorWriter::new(&mut out, 4096, effort.brotli_quality(), BROTLI_WINDOW);
        w.write_all(body).expect("writing to a Vec");
    }
    exact(out)
}

/// `bytes` without the spare capacity a growing `Vec` keeps (up to half of
/// it): cached bodies live long, and the cache weighs their length.
fn exact(mut bytes: Vec<u8>) -> Bytes {
    bytes.shrink_to_fit();
    Bytes::from(bytes)
}
