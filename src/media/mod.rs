//! The media proxy: images, videos and thumbnails of the feed served from
//! this origin, kept in a byte-bounded cache, with expired CDN URLs
//! recovered through the Graph API.
//!
//! Only ids of some account's last good feed are served (no open proxy);
//! media come only from hosts in `IGFEED_MEDIA_HOSTS`; objects larger than
//! `IGFEED_MEDIA_MAX_OBJECT` are streamed through, never held whole.
//!
//! - [`cache`]: the cached objects and how a CDN answer becomes one.
//! - [`cdn`]: the CDN client (allowed hosts, served types, URL expiry).
//! - [`index`]: which ids the accounts' feeds have, with their CDN URLs.
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

use crate::accounts::Accounts;
use crate::config::HostList;
use crate::feed::Snapshot;
use crate::graph::GraphClient;
use crate::metrics::Metrics;
pub use cache::Cached;
pub use cdn::CdnClient;
pub use index::{MediaIndex, Source};

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
    index: MediaIndex,
    accounts: Arc<Accounts>,
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
        accounts: Arc<Accounts>,
        graph: GraphClient,
        metrics: &Metrics,
    ) -> Result<Self, reqwest::Error> {
        let cdn = CdnClient::new(settings.hosts, settings.timeout, metrics.clone())?
            .with_limit(graph.limit());
        Ok(Self {
            cdn,
            timeout: settings.timeout,
            max_object: settings.max_object,
            cache: cache::new_cache(settings.budget, metrics),
            large: Cache::builder().max_capacity(10_000).build(),
            fresh_urls: Mutex::new(HashMap::new()),
            index: MediaIndex::default(),
            accounts,
            graph,
            hits: metrics.media_lookup("hit"),
            misses: metrics.media_lookup("miss"),
        })
    }

    /// The accounts whose media this serves.
    pub fn accounts(&self) -> &Arc<Accounts> {
        &self.accounts
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

    /// Drops the cached objects of a removed account's last feed.
    pub async fn forget(&self, snapshot: &Snapshot) {
        for key in index::keys(snapshot) {
            self.cache.invalidate(&key).await;
            self.large.invalidate(&key).await;
        }
        self.index.update(&self.accounts);
    }

    /// Where `key` comes from: which account, and the CDN URL to fetch
    /// (a renewed one if learnt). URLs renewed for feeds that have since
    /// been replaced are dropped: a new feed brings new URLs.
    fn source(&self, key: &MediaKey) -> Result<Source, MediaError> {
        let (source, changed) = self.index.lookup(&self.accounts, key);
        let mut fresh = self.fresh_urls.lock().unwrap_or_else(|e| e.into_inner());
        for gone in &changed.gone {
            fresh.remove(gone);
        }
        let mut source = source.ok_or(MediaError::NotFound)?;
        if let Some(url) = fresh.get(key) {
            source.url = url.clone();
        }
        Ok(source)
    }

    /// Serves `key`: from the cache, or fetched once however many ask at
    /// once; too-large objects come back as a stream (with `range` passed on).
    pub async fn get(&self, key: &MediaKey, range: Option<&str>) -> Result<Fetched, MediaError> {
        // Known ids only, before anything touches the cache or the CDN.
        self.source(key)?;
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
        let source = self.source(key)?;
        if !cdn::url_expired(&source.url) {
            match self.cdn.get(&source.url, range).await {
                Err(e) if e.is_expired_url() => {}
                other => return other,
            }
        }
        self.cdn.count_expired();
        let url = self.recover(key, &source).await?;
        self.cdn.get(&url, range).await
    }

    /// Asks the Graph API, with the token of the media's account, for its
    /// current URL and remembers it.
    async fn recover(&self, key: &MediaKey, source: &Source) -> Result<String, MediaError> {
        let account = self
            .accounts
            .get(&source.account)
            .ok_or(MediaError::NotFound)?;
        let token = account
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
