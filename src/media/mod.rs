//! The media proxy: images, videos and thumbnails of the feed served from
//! this origin, kept in a byte-bounded cache, with expired CDN URLs
//! recovered through the Graph API.
//!
//! Only ids of the current or last good feed are served (no open proxy);
//! media come only from hosts in `IGFEED_MEDIA_HOSTS`; objects larger than
//! `IGFEED_MEDIA_MAX_OBJECT` are streamed through, never held whole.
//!
//! - [`cache`]: the cached objects and how a CDN answer becomes one.
//! - [`cdn`]: the CDN client (allowed hosts, served types, URL expiry).
//! - [`index`]: which ids the feed has, with their CDN URLs.
//! - [`warm`]: the background warm-up after each new feed.

pub mod cache;
pub mod cdn;
mod index;
pub mod variant;
pub mod warm;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use moka::future::Cache;
use prometheus_client::metrics::counter::Counter;

use crate::config::HostList;
use crate::feed::{FeedService, Snapshot};
use crate::graph::GraphClient;
use crate::metrics::Metrics;
use crate::token::TokenManager;
pub use cache::Cached;
pub use cdn::CdnClient;
pub use index::MediaIndex;

/// A media item: a post's or child's image/video, or a video's thumbnail.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MediaKey {
    pub id: String,
    pub thumbnail: bool,
}

/// Why a media item cannot be served.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MediaError {
    #[error("no such media in the feed")]
    NotFound,
    #[error("the media's URL host is not in IGFEED_MEDIA_HOSTS")]
    HostNotAllowed,
    #[error("the CDN answered {status}")]
    Upstream { status: u16 },
    #[error("the CDN could not be reached: {0}")]
    Unreachable(String),
    #[error("the CDN did not answer in time")]
    Timeout,
    #[error("the CDN sent {0}, not an image or video")]
    NotMedia(String),
    #[error("the media's URL expired and could not be renewed: {0}")]
    NotRenewed(String),
    /// Internal: larger than the max object; stream it instead.
    #[error("too large to cache")]
    TooLarge,
}

impl MediaError {
    /// What the CDN says of a signed URL past its expiry (or revoked).
    fn is_expired_url(&self) -> bool {
        matches!(self, MediaError::Upstream { status: 403 | 410 })
    }
}

/// What a lookup gave.
pub enum Fetched {
    Cached(Arc<Cached>),
    Stream(reqwest::Response),
}

/// The media proxy. Share it behind an `Arc`.
pub struct MediaService {
    cdn: CdnClient,
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
    hits: Counter,
    misses: Counter,
}

/// The settings of a [`MediaService`].
#[derive(Clone, Debug)]
pub struct MediaSettings {
    /// `IGFEED_MEDIA_HOSTS`.
    pub hosts: HostList,
    /// `IGFEED_MEDIA_CACHE_SIZE`, in bytes.
    pub budget: u64,
    /// `IGFEED_MEDIA_MAX_OBJECT`, in bytes.
    pub max_object: u64,
    /// `IGFEED_UPSTREAM_TIMEOUT`.
    pub timeout: Duration,
}

impl MediaService {
    pub fn new(
        settings: MediaSettings,
        feed: Arc<FeedService>,
        tokens: Arc<TokenManager>,
        graph: GraphClient,
        metrics: &Metrics,
    ) -> Result<Self, reqwest::Error> {
        let cdn = CdnClient::new(settings.hosts, settings.timeout, metrics.clone())?;
        Ok(Self {
            cdn,
            timeout: settings.timeout,
            max_object: settings.max_object,
            cache: cache::new_cache(settings.budget, metrics),
            large: Cache::builder().max_capacity(10_000).build(),
            fresh_urls: Mutex::new(HashMap::new()),
            index: index::IndexCache::default(),
            feed,
            tokens,
            graph,
            hits: metrics.media_lookup("hit"),
            misses: metrics.media_lookup("miss"),
        })
    }

    /// The feed whose media this serves.
    pub fn feed(&self) -> &Arc<FeedService> {
        &self.feed
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

    /// The index of the last good feed, fetching the feed once if none was
    /// loaded yet (shared with `/feed`).
    async fn current_index(&self) -> Option<Arc<MediaIndex>> {
        let snapshot = match self.feed.last_good() {
            Some(snapshot) => snapshot,
            None => {
                let _ = self.feed.current().await;
                self.feed.last_good()?
            }
        };
        Some(self.indexed(&snapshot))
    }

    /// The index of `snapshot`; a new feed brings new CDN URLs, so the ones
    /// learnt for the previous feed are dropped.
    fn indexed(&self, snapshot: &Arc<Snapshot>) -> Arc<MediaIndex> {
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
        let index = self.current_index().await.ok_or(MediaError::NotFound)?;
        let url = index.url(key).ok_or(MediaError::NotFound)?;
        let fresh = self
            .fresh_urls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned();
        Ok(fresh.unwrap_or_else(|| url.to_string()))
    }

    /// Serves `key`: from the cache, or fetched once however many ask at
    /// once; too-large objects come back as a stream (with `range` passed on).
    pub async fn get(&self, key: &MediaKey, range: Option<&str>) -> Result<Fetched, MediaError> {
        // Known ids only, before anything touches the cache or the CDN.
        let index = self.current_index().await.ok_or(MediaError::NotFound)?;
        if index.url(key).is_none() {
            return Err(MediaError::NotFound);
        }
        if let Some(hit) = self.cache.get(key).await {
            self.hits.inc();
            return Ok(Fetched::Cached(hit));
        }
        if self.large.get(key).await.is_none() {
            self.misses.inc();
            match self.fill(key).await {
                Ok(v) => return Ok(Fetched::Cached(v)),
                Err(MediaError::TooLarge) => {}
                Err(e) => return Err(e),
            }
        }
        self.open(key, range).await.map(Fetched::Stream)
    }

    /// Fetches into the cache if allowed and not there (for warm-up).
    pub async fn warm(&self, key: &MediaKey) {
        if self.cache.contains_key(key) || self.large.contains_key(key) {
            return;
        }
        match self.fill(key).await {
            Ok(_) | Err(MediaError::TooLarge) => {}
            Err(e) => tracing::debug!(id = %key.id, error = %e, "warm-up fetch failed"),
        }
    }

    /// The whole object into the cache: one fetch however many ask at once.
    /// A too-large object is remembered, to be streamed from then on.
    async fn fill(&self, key: &MediaKey) -> Result<Arc<Cached>, MediaError> {
        let fetch = async {
            let res = self.open(key, None).await?;
            cache::receive(res, self.max_object).await
        };
        let bounded = async {
            tokio::time::timeout(self.timeout, fetch)
                .await
                .unwrap_or(Err(MediaError::Timeout))
        };
        match self.cache.try_get_with(key.clone(), bounded).await {
            Ok(v) => Ok(v),
            Err(e) => {
                if matches!(*e, MediaError::TooLarge) {
                    self.large.insert(key.clone(), ()).await;
                }
                Err((*e).clone())
            }
        }
    }

    /// Opens the CDN response for `key`, recovering an expired URL once.
    async fn open(
        &self,
        key: &MediaKey,
        range: Option<&str>,
    ) -> Result<reqwest::Response, MediaError> {
        let url = self.url_of(key).await?;
        if !cdn::url_expired(&url) {
            match self.cdn.get(&url, range).await {
                Err(e) if e.is_expired_url() => {}
                other => return other,
            }
        }
        self.cdn.count_expired();
        let url = self.recover(key).await?;
        self.cdn.get(&url, range).await
    }

    /// Asks the Graph API for the media's current URL and remembers it.
    async fn recover(&self, key: &MediaKey) -> Result<String, MediaError> {
        let token = self
            .tokens
            .usable()
            .map_err(|e| MediaError::NotRenewed(e.to_string()))?;
        let urls = self
            .graph
            .media_urls(&token, &key.id)
            .await
            .map_err(|e| MediaError::NotRenewed(e.kind().to_string()))?;
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
}
