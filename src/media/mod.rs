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
//! - [`variant`]: resized pictures (`?w=`), and a picture's size and colour.
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

use std::time::Instant;

use tokio::sync::Semaphore;

use crate::accounts::Accounts;
use crate::config::HostList;
use crate::feed::{Pictures, Snapshot};
use crate::graph::GraphClient;
use crate::metrics::Metrics;
pub use cache::Cached;
pub use cdn::CdnClient;
pub use index::{MediaIndex, Source};
use variant::{Format, VariantError, Width};

/// A media item: a post's or child's image/video, or a video's thumbnail.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MediaKey {
    pub id: String,
    pub thumbnail: bool,
}

/// What the media cache holds: a media item's bytes as the CDN sent them,
/// or one of its resized variants.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ObjectKey {
    pub media: MediaKey,
    pub variant: Option<(Width, Format)>,
}

impl ObjectKey {
    fn original(media: &MediaKey) -> Self {
        Self {
            media: media.clone(),
            variant: None,
        }
    }
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
    /// `?w=` on a video's own bytes.
    #[error("only pictures (images and video thumbnails) can be resized; this is a video")]
    NotAPicture,
    /// A picture over [`variant::MAX_PIXELS`], refused before decoding.
    #[error("the picture is {width}x{height} pixels, over the 50 megapixels igfeed resizes")]
    PictureTooLarge { width: u32, height: u32 },
    /// A picture that cannot be decoded (or an original too large to hold).
    #[error("the picture cannot be resized: {0}")]
    NotResizable(String),
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
    cache: Cache<ObjectKey, Arc<Cached>>,
    /// Keys known to exceed the max object (stream them directly).
    large: Cache<MediaKey, ()>,
    /// Fresh CDN URLs learnt from the Graph API after an expiry.
    fresh_urls: Mutex<HashMap<MediaKey, String>>,
    index: MediaIndex,
    accounts: Arc<Accounts>,
    graph: GraphClient,
    /// The size and colour of each picture, learnt on its first fetch.
    pictures: Arc<Pictures>,
    /// CPU-heavy jobs (resizing, reading a picture) at once: one per core,
    /// shared with the feed's rendering.
    jobs: Arc<Semaphore>,
    metrics: Metrics,
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
    /// The proxy of `accounts`' media; it records what it learns of each
    /// picture in `pictures` and runs CPU-heavy work under `jobs`.
    pub fn new(
        settings: MediaSettings,
        accounts: Arc<Accounts>,
        graph: GraphClient,
        pictures: Arc<Pictures>,
        jobs: Arc<Semaphore>,
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
            pictures,
            jobs,
            metrics: metrics.clone(),
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
            self.large.invalidate(&key).await;
            self.cache.invalidate(&ObjectKey::original(&key)).await;
            for width in Width::ALL {
                for format in [Format::Webp, Format::Jpeg] {
                    let variant = Some((width, format));
                    let media = key.clone();
                    self.cache.invalidate(&ObjectKey { media, variant }).await;
                }
            }
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
        if let Some(hit) = self.cache.get(&ObjectKey::original(key)).await {
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
        if self.cache.contains_key(&ObjectKey::original(key)) || self.large.contains_key(key) {
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
            let object = cache::receive(res, self.max_object).await?;
            self.learn(key, &object);
            Ok(object)
        };
        let bounded = async {
            tokio::time::timeout(self.timeout, fetch)
                .await
                .unwrap_or(Err(MediaError::Timeout))
        };
        match self
            .cache
            .try_get_with(ObjectKey::original(key), bounded)
            .await
        {
            Ok(v) => Ok(v),
            Err(e) => {
                if matches!(*e, MediaError::TooLarge) {
                    self.large.insert(key.clone(), ()).await;
                }
                Err((*e).clone())
            }
        }
    }

    /// Reads a freshly fetched picture's size and colour in the background
    /// (one job of the CPU bound), for the feed's display fields; its
    /// account's feed then shows them.
    fn learn(&self, key: &MediaKey, object: &Cached) {
        let is_picture = object
            .content_type
            .to_str()
            .is_ok_and(|t| t.starts_with("image/"));
        let Ok(source) = self.source(key) else {
            return;
        };
        if !is_picture || self.pictures.get(key).is_some() {
            return;
        }
        let (bytes, key) = (object.bytes.clone(), key.clone());
        let (jobs, pictures, accounts) = (
            self.jobs.clone(),
            self.pictures.clone(),
            self.accounts.clone(),
        );
        tokio::spawn(async move {
            let probed = crate::feed::render::blocking(&jobs, move || variant::probe(&bytes)).await;
            match probed {
                Ok(info) => {
                    if pictures.learn(key, info)
                        && let Some(account) = accounts.get(&source.account)
                    {
                        account.feed.picture_learnt();
                    }
                }
                Err(e) => {
                    tracing::debug!(id = %key.id, error = %e, "the picture's size and colour cannot be read")
                }
            }
        });
    }

    /// The picture `key` resized to `width` in `format`: from the cache, or
    /// made once (off the async workers, one job per core at most) however
    /// many ask at once, and kept in the same byte budget as the originals.
    pub async fn variant(
        &self,
        key: &MediaKey,
        width: Width,
        format: Format,
    ) -> Result<Arc<Cached>, MediaError> {
        if !self.source(key)?.picture {
            return Err(MediaError::NotAPicture);
        }
        let object = ObjectKey {
            media: key.clone(),
            variant: Some((width, format)),
        };
        if let Some(hit) = self.cache.get(&object).await {
            self.hits.inc();
            return Ok(hit);
        }
        self.misses.inc();
        let make = async {
            let original = match self.get(key, None).await? {
                Fetched::Cached(original) => original,
                Fetched::Stream(_) => {
                    return Err(MediaError::NotResizable(format!(
                        "the original is larger than IGFEED_MEDIA_MAX_OBJECT ({} bytes)",
                        self.max_object
                    )));
                }
            };
            self.resize(&original, width, format).await
        };
        self.cache
            .try_get_with(object, make)
            .await
            .map_err(|e| (*e).clone())
    }

    async fn resize(
        &self,
        original: &Cached,
        width: Width,
        format: Format,
    ) -> Result<Arc<Cached>, MediaError> {
        let started = Instant::now();
        let bytes = original.bytes.clone();
        let made =
            crate::feed::render::blocking(&self.jobs, move || variant::make(&bytes, width, format))
                .await;
        match made {
            Ok(v) => {
                self.metrics
                    .variant_made(started.elapsed(), original.bytes.len(), v.bytes.len());
                Ok(Arc::new(Cached::new(v.bytes, format.content_type())))
            }
            Err(VariantError::TooLarge { width, height }) => {
                Err(MediaError::PictureTooLarge { width, height })
            }
            Err(e) => Err(MediaError::NotResizable(e.to_string())),
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
