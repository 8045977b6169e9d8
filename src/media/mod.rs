//! The media proxy: images, videos and thumbnails of the feed served from
//! this origin, kept in a byte-bounded cache, with expired CDN URLs
//! recovered through the Graph API.
//!
//! Only ids of the current or last good feed are served (no open proxy);
//! media come only from hosts in `IGFEED_MEDIA_HOSTS`; objects larger than
//! `IGFEED_MEDIA_MAX_OBJECT` are streamed through, never held whole.

mod index;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::HeaderValue;
use bytes::Bytes;
use futures_util::StreamExt;
use moka::future::Cache;
use moka::notification::RemovalCause;
use prometheus_client::metrics::counter::Counter;
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use url::Url;

use crate::config::HostList;
use crate::feed::FeedService;
use crate::graph::{self, GraphClient};
use crate::metrics::{Metrics, ResultLabels, UpstreamLabels};
use crate::token::TokenManager;
use crate::zerocopy::SealedWriter;
pub use index::MediaIndex;

/// Time allowed to connect to the CDN.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Media fetched at once when warming the cache after a new feed.
pub const WARM_CONCURRENCY: usize = 4;
/// Per-entry bookkeeping added to an object's weight.
const ENTRY_OVERHEAD: u64 = 256;

/// A media item: a post's or child's image/video, or a video's thumbnail.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MediaKey {
    pub id: String,
    pub thumbnail: bool,
}

/// One cached object.
#[derive(Debug)]
pub struct Cached {
    pub bytes: Bytes,
    /// Response headers, made once per object.
    pub content_type: HeaderValue,
    /// Strong ETag (quoted).
    pub etag: HeaderValue,
}

/// Why a media item cannot be served.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MediaError {
    #[error("no such media in the feed")]
    NotFound,
    #[error("the media's URL host is not in IGFEED_MEDIA_HOSTS")]
    HostNotAllowed,
    #[error("the CDN answered {0}")]
    Upstream(String),
    #[error("the CDN did not answer in time")]
    Timeout,
    #[error("the CDN sent {0}, not an image or video")]
    NotMedia(String),
    /// Internal: larger than the max object; stream it instead.
    #[error("too large to cache")]
    TooLarge,
}

/// The media proxy. Share it behind an `Arc`.
pub struct MediaService {
    http: reqwest::Client,
    hosts: HostList,
    timeout: Duration,
    max_object: u64,
    cache: Cache<MediaKey, Arc<Cached>>,
    /// Keys known to exceed the max object (stream them directly).
    large: Cache<MediaKey, ()>,
    /// Fresh CDN URLs learnt from the Graph API after an expiry.
    fresh_urls: Mutex<HashMap<MediaKey, String>>,
    index: index::IndexCache,
    feed: Arc<FeedService>,
    tokens: Arc<TokenManager>,
    graph: GraphClient,
    metrics: Metrics,
    hits: Counter,
    misses: Counter,
    /// Tells this service's per-thread index memos from another's.
    id: u64,
}

thread_local! {
    /// The media index this thread used last: (service id, feed version,
    /// index). Checking an id against it takes no lock.
    static INDEX: RefCell<Option<(u64, u64, Arc<MediaIndex>)>> = const { RefCell::new(None) };
}

/// What an upstream fetch gave.
pub enum Fetched {
    Cached(Arc<Cached>),
    Stream(reqwest::Response),
}

impl MediaService {
    #[expect(clippy::too_many_arguments, reason = "built once, in App::build")]
    pub fn new(
        hosts: HostList,
        budget: u64,
        max_object: u64,
        timeout: Duration,
        feed: Arc<FeedService>,
        tokens: Arc<TokenManager>,
        graph: GraphClient,
        metrics: Metrics,
    ) -> Result<Self, reqwest::Error> {
        let redirect_hosts = hosts.clone();
        let http = reqwest::Client::builder()
            .user_agent(graph::user_agent())
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(timeout)
            // Follow CDN redirects only to allowed hosts.
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                let ok =
                    attempt.previous().len() < 3 && url_allowed(&redirect_hosts, attempt.url());
                if ok { attempt.follow() } else { attempt.stop() }
            }))
            .build()?;
        let evictions = metrics.media_evictions.clone();
        let cache = Cache::builder()
            .max_capacity(budget)
            .weigher(|_: &MediaKey, v: &Arc<Cached>| {
                u32::try_from(v.bytes.len() as u64 + ENTRY_OVERHEAD).unwrap_or(u32::MAX)
            })
            .eviction_listener(move |_, _, cause| {
                if cause == RemovalCause::Size {
                    evictions.inc();
                }
            })
            .build();
        let count = |result| {
            metrics
                .media_cache
                .get_or_create(&ResultLabels { result })
                .clone()
        };
        let (hits, misses) = (count("hit"), count("miss"));
        Ok(Self {
            http,
            hosts,
            timeout,
            max_object,
            cache,
            large: Cache::builder().max_capacity(10_000).build(),
            fresh_urls: Mutex::new(HashMap::new()),
            index: index::IndexCache::default(),
            feed,
            tokens,
            graph,
            hits,
            misses,
            metrics,
            id: crate::instance_id(),
        })
    }

    /// Bytes held by the cache now (after moka's pending bookkeeping).
    pub async fn cached_bytes(&self) -> u64 {
        self.cache.run_pending_tasks().await;
        self.cache.weighted_size()
    }

    /// Drops every cached object (renewed URLs stay until the next feed).
    pub fn purge(&self) {
        self.cache.invalidate_all();
        self.large.invalidate_all();
    }

    /// `f` of the last good feed's index, fetching the feed once if none
    /// was loaded yet (shared with `/feed`).
    async fn with_index<R>(&self, f: impl Fn(&MediaIndex) -> R) -> Option<R> {
        if let Some(r) = self.with_index_now(&f) {
            return Some(r);
        }
        let _ = self.feed.current().await;
        self.with_index_now(f)
    }

    /// `f` of the last good feed's index, without fetching anything (`None`
    /// before the first good feed). This thread's copy of the index is
    /// used while the feed version stands: no lock, no reference count.
    fn with_index_now<R>(&self, f: impl FnOnce(&MediaIndex) -> R) -> Option<R> {
        let version = self.feed.version();
        let current = INDEX.with_borrow(
            |memo| matches!(memo, Some((id, v, _)) if *id == self.id && *v == version),
        );
        if !current {
            let index = self.indexed(&self.feed.last_good()?);
            INDEX.set(Some((self.id, version, index)));
        }
        INDEX.with_borrow(|memo| memo.as_ref().map(|(_, _, index)| f(index)))
    }

    /// Whether `key` is a media of the current or last good feed.
    async fn knows(&self, key: &MediaKey) -> bool {
        self.with_index(|index| index.url(key).is_some()).await == Some(true)
    }

    /// The index of `snapshot`; a new feed brings new CDN URLs, so the ones
    /// learnt for the previous feed are dropped.
    fn indexed(&self, snapshot: &Arc<crate::feed::Snapshot>) -> Arc<MediaIndex> {
        let (index, new) = self.index.get(snapshot);
        if new {
            self.fresh_urls
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clear();
        }
        index
    }

    /// The CDN URL to fetch `key` from (a fresh one if learnt).
    async fn url_of(&self, key: &MediaKey) -> Result<String, MediaError> {
        let url = self
            .with_index(|index| index.url(key).map(str::to_string))
            .await
            .flatten()
            .ok_or(MediaError::NotFound)?;
        let fresh = self
            .fresh_urls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned();
        Ok(fresh.unwrap_or(url))
    }

    /// `key` if it is cached now, for a fast path that falls back to
    /// [`Self::get`]: fetches nothing, not even the feed.
    pub async fn peek(&self, key: &MediaKey) -> Option<Arc<Cached>> {
        if self.with_index_now(|index| index.url(key).is_some()) != Some(true) {
            return None;
        }
        let hit = self.cache.get(key).await?;
        self.hits.inc();
        Some(hit)
    }

    /// Serves `key`: from the cache, or fetched once however many ask at
    /// once; too-large objects come back as a stream (with `range` passed on).
    pub async fn get(&self, key: &MediaKey, range: Option<&str>) -> Result<Fetched, MediaError> {
        // Known ids only, before anything touches the cache or the CDN.
        if !self.knows(key).await {
            return Err(MediaError::NotFound);
        }
        if let Some(hit) = self.cache.get(key).await {
            self.hits.inc();
            return Ok(Fetched::Cached(hit));
        }
        // Boxed, so a cache hit does not carry (and move) the fetch's
        // large state.
        Box::pin(self.fetch(key, range)).await
    }

    /// A miss: fetched whole into the cache, or streamed if too large.
    async fn fetch(&self, key: &MediaKey, range: Option<&str>) -> Result<Fetched, MediaError> {
        if self.large.get(key).await.is_none() {
            self.misses.inc();
            match self
                .cache
                .try_get_with(key.clone(), self.fetch_whole(key))
                .await
            {
                Ok(v) => return Ok(Fetched::Cached(v)),
                Err(e) if matches!(*e, MediaError::TooLarge) => {
                    self.large.insert(key.clone(), ()).await;
                }
                Err(e) => return Err((*e).clone()),
            }
        }
        self.open(key, range).await.map(Fetched::Stream)
    }

    /// Fetches into the cache if allowed and not there (for warm-up).
    pub async fn warm(&self, key: &MediaKey) {
        if self.cache.contains_key(key) || self.large.contains_key(key) {
            return;
        }
        match self
            .cache
            .try_get_with(key.clone(), self.fetch_whole(key))
            .await
        {
            Ok(_) => {}
            Err(e) if matches!(*e, MediaError::TooLarge) => {
                self.large.insert(key.clone(), ()).await
            }
            Err(e) => tracing::debug!(id = %key.id, error = %e, "warm-up fetch failed"),
        }
    }

    fn cdn_outcome(&self, outcome: &'static str) {
        self.metrics
            .upstream
            .get_or_create(&UpstreamLabels {
                call: "cdn",
                outcome,
                code: "none",
            })
            .inc();
    }

    /// Opens the CDN response for `key`, recovering an expired URL once.
    async fn open(
        &self,
        key: &MediaKey,
        range: Option<&str>,
    ) -> Result<reqwest::Response, MediaError> {
        let url = self.url_of(key).await?;
        if !url_expired(&url) {
            match self.request(&url, range).await {
                Err(MediaError::Upstream(status)) if status == "403" || status == "410" => {}
                other => return other,
            }
        }
        self.cdn_outcome("expired");
        let url = self.recover(key).await?;
        self.request(&url, range).await
    }

    async fn request(
        &self,
        url: &str,
        range: Option<&str>,
    ) -> Result<reqwest::Response, MediaError> {
        let parsed = Url::parse(url).map_err(|_| MediaError::HostNotAllowed)?;
        if !url_allowed(&self.hosts, &parsed) {
            tracing::warn!(
                host = parsed.host_str().unwrap_or(""),
                "media URL host not allowed"
            );
            self.cdn_outcome("refused");
            return Err(MediaError::HostNotAllowed);
        }
        let mut req = self.http.get(parsed);
        if let Some(range) = range {
            req = req.header(reqwest::header::RANGE, range);
        }
        let res = req.send().await.map_err(|e| {
            self.cdn_outcome("transient");
            if e.is_timeout() {
                MediaError::Timeout
            } else {
                MediaError::Upstream(graph::describe(&e))
            }
        })?;
        let status = res.status();
        if !(status.is_success() || status == reqwest::StatusCode::RANGE_NOT_SATISFIABLE) {
            if status != reqwest::StatusCode::FORBIDDEN && status != reqwest::StatusCode::GONE {
                self.cdn_outcome("transient");
            }
            return Err(MediaError::Upstream(status.as_u16().to_string()));
        }
        let content_type = res
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        if !(content_type.starts_with("image/") || content_type.starts_with("video/")) {
            self.cdn_outcome("refused");
            return Err(MediaError::NotMedia(if content_type.is_empty() {
                "no content type".into()
            } else {
                content_type
            }));
        }
        self.cdn_outcome("ok");
        Ok(res)
    }

    /// Asks the Graph API for the media's current URL and remembers it.
    async fn recover(&self, key: &MediaKey) -> Result<String, MediaError> {
        let token = self
            .tokens
            .usable()
            .map_err(|e| MediaError::Upstream(format!("an expired URL and {e}")))?;
        let urls = self.graph.media_urls(&token, &key.id).await.map_err(|e| {
            MediaError::Upstream(format!(
                "an expired URL that the Graph API could not renew: {}",
                e.kind()
            ))
        })?;
        let url = if key.thumbnail {
            urls.thumbnail_url
        } else {
            urls.media_url
        }
        .ok_or(MediaError::NotFound)?;
        tracing::info!(id = %key.id, "renewed an expired media URL");
        self.fresh_urls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.clone(), url.clone());
        Ok(url)
    }

    /// The whole object, if it fits the max object size.
    async fn fetch_whole(&self, key: &MediaKey) -> Result<Arc<Cached>, MediaError> {
        let work = async {
            let res = self.open(key, None).await?;
            if res.content_length().is_some_and(|n| n > self.max_object) {
                return Err(MediaError::TooLarge);
            }
            let content_type = res
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/octet-stream")
                .to_string();
            let mut body = Body::with_length(res.content_length());
            let mut stream = res.bytes_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| MediaError::Upstream(graph::describe(&e)))?;
                if (body.len() + chunk.len()) as u64 > self.max_object {
                    return Err(MediaError::TooLarge);
                }
                body.extend(&chunk)?;
            }
            let body = body.finish()?;
            let digest = Sha256::digest(&body);
            let etag = format!(
                "\"{}\"",
                digest[..16]
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            );
            Ok(Arc::new(Cached {
                bytes: body,
                content_type: HeaderValue::from_str(&content_type)
                    .unwrap_or(HeaderValue::from_static("application/octet-stream")),
                etag: HeaderValue::from_str(&etag).expect("hex in quotes"),
            }))
        };
        match tokio::time::timeout(self.timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(MediaError::Timeout),
        }
    }

    /// Fetches the media of every new last good feed into the cache, a few
    /// at a time, while their CDN URLs are fresh. Ends on shutdown.
    pub async fn warm_up(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut feeds = self.feed.subscribe();
        loop {
            let snapshot = feeds.borrow_and_update().clone();
            if let Some(snapshot) = snapshot {
                let keys = self.indexed(&snapshot).keys();
                let work =
                    futures_util::stream::iter(keys).for_each_concurrent(WARM_CONCURRENCY, |k| {
                        let me = self.clone();
                        async move { me.warm(&k).await }
                    });
                tokio::select! {
                    () = work => tracing::debug!("media warm-up done"),
                    _ = shutdown.wait_for(|s| *s) => break,
                }
            }
            tokio::select! {
                changed = feeds.changed() => if changed.is_err() { break },
                _ = shutdown.wait_for(|s| *s) => break,
            }
        }
        tracing::info!("media warm-up stopped (shutdown)");
    }
}

/// Whether `url` is http(s) on an allowed host.
fn url_allowed(hosts: &HostList, url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| hosts.allows(h))
}

/// Whether a signed CDN URL is past its `oe` (hex Unix seconds) expiry.
fn url_expired(url: &str) -> bool {
    let Ok(url) = Url::parse(url) else {
        return false;
    };
    let oe = url
        .query_pairs()
        .find(|(k, _)| k == "oe")
        .and_then(|(_, v)| u64::from_str_radix(&v, 16).ok());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    oe.is_some_and(|oe| oe <= now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_read_from_oe() {
        assert!(url_expired(
            "https://scontent.cdninstagram.com/v/x.jpg?oe=5F000000&oh=1"
        ));
        assert!(!url_expired(
            "https://scontent.cdninstagram.com/v/x.jpg?oe=FFFFFFFF&oh=1"
        ));
        assert!(!url_expired("https://scontent.cdninstagram.com/v/x.jpg"));
    }

    #[test]
    fn only_allowed_hosts_over_http() {
        let hosts = HostList(vec!["cdninstagram.com".into()]);
        let ok = |u: &str| url_allowed(&hosts, &Url::parse(u).unwrap());
        assert!(ok("https://scontent-ams2-1.cdninstagram.com/a.jpg"));
        assert!(!ok("https://evil.example/a.jpg"));
        assert!(!ok("ftp://scontent.cdninstagram.com/a.jpg"));
        assert!(!ok("https://cdninstagram.com.evil.example/a.jpg"));
    }
}

/// Objects at least this large are kept in a sealed memfd of their own
/// ([`crate::zerocopy`]): sent to clients with `sendfile`, without a copy,
/// and returned to the OS the moment the cache lets them go. From the
/// heap, a stream of large objects of varied sizes spread over each
/// thread's malloc arena and stayed there: a media sweep 5x the cache
/// budget left 74 MB resident for a 16 MB budget.
const OWN_MAPPING_AT: usize = 64 * 1024;

/// A media body being received: written straight into its memfd when
/// the CDN says it is large, else into a `Vec` (moved to a memfd at the
/// end if it turns out large).
enum Body {
    Sealed {
        writer: SealedWriter,
        expected: usize,
    },
    Heap(Vec<u8>),
}

impl Body {
    fn with_length(length: Option<u64>) -> Self {
        match length.and_then(|n| usize::try_from(n).ok()) {
            Some(n) if n >= OWN_MAPPING_AT => match SealedWriter::new() {
                Ok(writer) => Body::Sealed {
                    writer,
                    expected: n,
                },
                Err(_) => Body::Heap(Vec::with_capacity(n)),
            },
            n => Body::Heap(Vec::with_capacity(n.unwrap_or(0))),
        }
    }

    fn len(&self) -> usize {
        match self {
            Body::Sealed { writer, .. } => writer.len(),
            Body::Heap(v) => v.len(),
        }
    }

    fn extend(&mut self, chunk: &[u8]) -> Result<(), MediaError> {
        match self {
            Body::Sealed { writer, expected } => {
                if writer.len() + chunk.len() > *expected {
                    return Err(MediaError::Upstream(
                        "the CDN sent more than its Content-Length".into(),
                    ));
                }
                writer.write(chunk).map_err(keep_failed)?;
            }
            Body::Heap(v) => v.extend_from_slice(chunk),
        }
        Ok(())
    }

    fn finish(self) -> Result<Bytes, MediaError> {
        let heap = match self {
            Body::Sealed { writer, expected } if writer.len() == expected => {
                return writer.finish().map_err(keep_failed);
            }
            Body::Sealed { .. } => {
                return Err(MediaError::Upstream(
                    "the CDN sent less than its Content-Length".into(),
                ));
            }
            Body::Heap(v) => v,
        };
        if heap.len() < OWN_MAPPING_AT {
            return Ok(Bytes::from(heap));
        }
        let sealed = SealedWriter::new().and_then(|mut w| {
            w.write(&heap)?;
            w.finish()
        });
        Ok(sealed.unwrap_or_else(|_| Bytes::from(heap)))
    }
}

fn keep_failed(e: std::io::Error) -> MediaError {
    MediaError::Upstream(format!("cannot keep the body: {e}"))
}

#[cfg(test)]
mod body_tests {
    use super::*;

    fn receive(length: Option<u64>, chunks: &[&[u8]]) -> Result<Bytes, MediaError> {
        let mut body = Body::with_length(length);
        for c in chunks {
            body.extend(c)?;
        }
        body.finish()
    }

    #[test]
    fn bodies_are_kept_exactly_whatever_their_size_and_length_header() {
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let (a, b) = big.split_at(70_001);
        for length in [Some(big.len() as u64), None] {
            let got = receive(length, &[a, b]).unwrap();
            assert_eq!(&got[..], &big[..]);
        }
        let got = receive(Some(5), &[b"he", b"llo"]).unwrap();
        assert_eq!(&got[..], b"hello");
        assert_eq!(&receive(None, &[]).unwrap()[..], b"");
    }

    #[test]
    fn a_body_that_disagrees_with_its_length_is_refused() {
        let big = vec![7u8; OWN_MAPPING_AT + 10];
        assert!(receive(Some(big.len() as u64 - 1), &[&big]).is_err());
        assert!(receive(Some(big.len() as u64 + 1), &[&big]).is_err());
    }
}
