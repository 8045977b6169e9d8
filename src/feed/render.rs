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

use crate::graph::{Account, Media, MediaChild, MediaType};
use crate::http::Encoding;
use crate::media::MediaKey;

use super::pictures::Pictures;
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
    /// The accessibility text the owner wrote; null when there is none.
    pub alt_text: Option<String>,
    pub permalink: Option<String>,
    /// As Instagram gives it, e.g. `2026-11-01T10:00:00+0000`.
    pub timestamp: Option<String>,
    /// This service's `/media/{id}`; null when Instagram has no media URL.
    pub media_url: Option<String>,
    /// This service's `/media/{id}/thumbnail`; set only for videos.
    pub thumbnail_url: Option<String>,
    #[serde(flatten)]
    pub display: Display,
    /// Present only on carousels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub children: Option<Vec<Child>>,
}

/// One item of a carousel.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Child {
    pub id: String,
    pub media_type: MediaType,
    /// The accessibility text of this item; null when there is none.
    pub alt_text: Option<String>,
    pub media_url: Option<String>,
    pub thumbnail_url: Option<String>,
    #[serde(flatten)]
    pub display: Display,
}

/// The picture to show for a post or carousel item, whatever its type.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Display {
    /// The picture to show: the image, a video's thumbnail, a carousel's
    /// first item's picture; null when there is none.
    pub display_url: Option<String>,
    /// The picture's pixel width; null until igfeed has fetched it once.
    #[schema(example = 1080)]
    pub width: Option<u32>,
    /// The picture's pixel height; null until igfeed has fetched it once.
    #[schema(example = 1350)]
    pub height: Option<u32>,
    /// The picture's average colour, `#rrggbb`; null until igfeed has
    /// fetched it once.
    #[schema(example = "#a1b2c3", pattern = "^#[0-9a-f]{6}$")]
    pub dominant_color: Option<String>,
    /// The picture resized to each width (`/media/{id}?w=`); null when
    /// there is no picture.
    pub sizes: Option<Sizes>,
}

/// The variant URLs of a picture, by width.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Sizes {
    #[serde(rename = "320")]
    pub w320: String,
    #[serde(rename = "640")]
    pub w640: String,
    #[serde(rename = "1080")]
    pub w1080: String,
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

fn media_link(base: &str, key: &MediaKey) -> String {
    if key.thumbnail {
        format!("{base}/media/{}/thumbnail", key.id)
    } else {
        format!("{base}/media/{}", key.id)
    }
}

/// The picture of a post or carousel item with its own media: the image,
/// or a video's thumbnail.
fn own_picture(
    id: &str,
    media_type: MediaType,
    media_url: &Option<String>,
    thumbnail_url: &Option<String>,
) -> Option<MediaKey> {
    let thumbnail = media_type == MediaType::Video;
    let url = if thumbnail { thumbnail_url } else { media_url };
    url.as_ref().map(|_| MediaKey {
        id: id.to_string(),
        thumbnail,
    })
}

fn child_picture(c: &MediaChild) -> Option<MediaKey> {
    own_picture(&c.id, c.media_type, &c.media_url, &c.thumbnail_url)
}

/// A carousel shows its first item's picture (or, without items, its own
/// `media_url`, which Instagram sets to the first item's image).
fn post_picture(m: &Media) -> Option<MediaKey> {
    if m.media_type == MediaType::CarouselAlbum
        && let Some(first) = m.children.iter().flatten().next()
    {
        return child_picture(first);
    }
    let media_type = match m.media_type {
        MediaType::CarouselAlbum => MediaType::Image,
        other => other,
    };
    own_picture(&m.id, media_type, &m.media_url, &m.thumbnail_url)
}

fn display(base: &str, picture: Option<MediaKey>, pictures: &Pictures) -> Display {
    let Some(key) = picture else {
        return Display {
            display_url: None,
            width: None,
            height: None,
            dominant_color: None,
            sizes: None,
        };
    };
    let url = media_link(base, &key);
    let info = pictures.get(&key);
    Display {
        width: info.map(|i| i.width),
        height: info.map(|i| i.height),
        dominant_color: info.map(|i| i.hex()),
        sizes: Some(Sizes {
            w320: format!("{url}?w=320"),
            w640: format!("{url}?w=640"),
            w1080: format!("{url}?w=1080"),
        }),
        display_url: Some(url),
    }
}

fn link(base: &str, id: &str, thumbnail: bool) -> String {
    let key = MediaKey {
        id: id.to_string(),
        thumbnail,
    };
    media_link(base, &key)
}

fn post(base: &str, m: &Media, pictures: &Pictures) -> Post {
    let is_video = m.media_type == MediaType::Video;
    Post {
        id: m.id.clone(),
        media_type: m.media_type,
        caption: m.caption.clone(),
        alt_text: m.alt_text.clone(),
        permalink: m.permalink.clone(),
        timestamp: m.timestamp.clone(),
        media_url: m.media_url.as_ref().map(|_| link(base, &m.id, false)),
        thumbnail_url: (is_video && m.thumbnail_url.is_some()).then(|| link(base, &m.id, true)),
        display: display(base, post_picture(m), pictures),
        children: (m.media_type == MediaType::CarouselAlbum).then(|| {
            m.children
                .iter()
                .flatten()
                .map(|c| Child {
                    id: c.id.clone(),
                    media_type: c.media_type,
                    alt_text: c.alt_text.clone(),
                    media_url: c.media_url.as_ref().map(|_| link(base, &c.id, false)),
                    thumbnail_url: (c.media_type == MediaType::Video && c.thumbnail_url.is_some())
                        .then(|| link(base, &c.id, true)),
                    display: display(base, child_picture(c), pictures),
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
    pictures: &Pictures,
) -> FeedResponse {
    let limit = filter.limit.unwrap_or(kept);
    let matching = || snapshot.media.iter().filter(|m| filter.admits(m));
    FeedResponse {
        user: snapshot.account.clone(),
        data: matching()
            .skip(filter.offset)
            .take(limit)
            .map(|m| post(base, m, pictures))
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
