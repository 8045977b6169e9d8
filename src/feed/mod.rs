//! The feeds of every account: each fetched from Instagram at most once
//! per `IGFEED_FEED_TTL` (concurrent requests share one upstream walk),
//! kept on disk as the account's last good copy, and served stale from it
//! when Instagram fails.
//!
//! [`FeedService`] holds what the accounts share (the caches, the render
//! jobs); [`AccountFeed`] what each account has of its own (its last good
//! feed and the record of its loads).

mod loads;
pub mod pictures;
pub mod render;
pub mod store;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use moka::Expiry;
use moka::future::Cache;
use tokio::sync::{Semaphore, mpsc, watch};

use prometheus_client::metrics::counter::Counter;

use crate::accounts::{Account, AccountName};
use crate::graph::{GraphClient, GraphError};
use crate::metrics::{Metrics, ResultLabels};
use crate::replicas::{Redis, WalkLock};
use crate::token::TokenUnavailable;
use crate::webhooks::FeedUpdated;
pub use pictures::Pictures;
pub use render::{Effort, Filter, Rendered};
pub use store::{Snapshot, SnapshotFile};

/// How soon a stale feed (served because Instagram failed) is retried, at
/// most; shorter when the TTL is shorter.
pub const STALE_RETRY: Duration = Duration::from_secs(30);
/// Bytes of rendered variants (feed version × base URL × filter) kept: a
/// client that makes up hosts or filters evicts old variants, it does not
/// grow the process.
const RENDERED_BUDGET: u64 = 16 * 1024 * 1024;

/// The feed as it is served now.
#[derive(Debug, Clone)]
pub struct Current {
    pub snapshot: Arc<Snapshot>,
    /// True when Instagram failed and this is the last good feed.
    pub stale: bool,
    /// Tells loads apart, for the rendered-body cache (a new number with
    /// each load and purge).
    pub version: u64,
    /// When the cache lets it go (see [`lifetime`]).
    pub expires_at: Instant,
}

/// How long a feed is served before Instagram is asked again: the TTL,
/// or for a stale one at most [`STALE_RETRY`].
fn lifetime(ttl: Duration, stale: bool) -> Duration {
    if stale { ttl.min(STALE_RETRY) } else { ttl }
}

/// Why no feed can be served at all.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FeedUnavailable {
    #[error("no feed has been fetched yet: {0}")]
    NeverFetched(String),
}

struct FreshOrStale {
    ttl: Duration,
}

impl Expiry<AccountName, Arc<Current>> for FreshOrStale {
    fn expire_after_create(
        &self,
        _: &AccountName,
        value: &Arc<Current>,
        now: Instant,
    ) -> Option<Duration> {
        // A feed another replica fetched earlier lives what is left of its
        // TTL, not a whole one.
        Some(
            value
                .expires_at
                .saturating_duration_since(now)
                .min(lifetime(self.ttl, value.stale)),
        )
    }
}

/// Why a walk failed.
struct Failed {
    reason: String,
    /// Instagram said to slow down.
    throttled: bool,
}

/// One account's feed: its last good snapshot (in memory and on disk) and
/// the record of its loads.
pub struct AccountFeed {
    last_good: RwLock<Option<Arc<Snapshot>>>,
    store: Option<Arc<dyn crate::store::FeedStore>>,
    /// What the loads found: since when they fail, and the pause after a
    /// failed first load.
    loads: loads::Loads,
    /// Bumped when the last good snapshot changes (shared by every account).
    changed: Arc<watch::Sender<u64>>,
    /// Bumped when a picture of this account's feed is learnt (its size
    /// and colour then show in the feed: a new rendered body and ETag).
    pictures: AtomicU64,
}

impl AccountFeed {
    /// A feed's state: `last`, the last good feed read from `store`, where
    /// new ones are written.
    pub fn new(
        store: Option<Arc<dyn crate::store::FeedStore>>,
        last: Option<Snapshot>,
        changed: Arc<watch::Sender<u64>>,
    ) -> Self {
        Self {
            last_good: RwLock::new(last.map(Arc::new)),
            store,
            loads: loads::Loads::default(),
            changed,
            pictures: AtomicU64::new(0),
        }
    }

    /// A picture of this account's feed was learnt (see [`Pictures`]).
    pub fn picture_learnt(&self) {
        self.pictures.fetch_add(1, Ordering::AcqRel);
    }

    /// The last good snapshot, if any.
    pub fn last_good(&self) -> Option<Arc<Snapshot>> {
        self.last_good
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Makes `snapshot` the last good feed (in memory; the caller stores it).
    pub(crate) fn set_last_good(&self, snapshot: Arc<Snapshot>) {
        *self.last_good.write().unwrap_or_else(|e| e.into_inner()) = Some(snapshot);
        self.changed.send_modify(|n| *n += 1);
    }

    /// Since when the loads of the feed have failed, if the last one did;
    /// unlike the cache entry, this outlives the TTL.
    pub fn failing_since(&self) -> Option<SystemTime> {
        self.loads.failing_since()
    }

    /// A new token or a purge: worth asking Instagram at once.
    pub fn end_pause(&self) {
        self.loads.end_pause();
    }
}

/// Fetches, caches and falls back, for every account. Share it behind an
/// `Arc`.
pub struct FeedService {
    graph: GraphClient,
    size: usize,
    ttl: Duration,
    current: Cache<AccountName, Arc<Current>>,
    /// By feed version, pictures learnt, base URL and filter.
    rendered: Cache<(u64, u64, String, Filter), Arc<Rendered>>,
    /// The size and colour of every picture fetched.
    pictures: Arc<Pictures>,
    /// The last [`Current::version`] handed out (for every account, so a
    /// version names one account's load).
    version: AtomicU64,
    /// Render and compression jobs running at once: at most one per core.
    jobs: Arc<Semaphore>,
    metrics: Option<Metrics>,
    hits: Option<Counter>,
    /// Where `feed.updated` events go (`IGFEED_FEED_WEBHOOK`).
    updates: Option<mpsc::Sender<FeedUpdated>>,
    /// With replicas: the shared copies and walk locks.
    shared: Option<Arc<Redis>>,
}

/// How often a replica waiting for another's walk looks for its result.
const WALK_POLL: Duration = Duration::from_millis(20);

impl FeedService {
    /// A service fetching `size` posts per account with `graph`, fresh for
    /// `ttl`.
    pub fn new(graph: GraphClient, size: usize, ttl: Duration) -> Self {
        Self {
            graph,
            size,
            ttl,
            current: Cache::builder().expire_after(FreshOrStale { ttl }).build(),
            rendered: Cache::builder()
                .max_capacity(RENDERED_BUDGET)
                .weigher(|_, r: &Arc<Rendered>| r.weight())
                .build(),
            pictures: Arc::new(Pictures::default()),
            version: AtomicU64::new(0),
            jobs: Arc::new(Semaphore::new(
                std::thread::available_parallelism().map_or(2, usize::from),
            )),
            metrics: None,
            hits: None,
            updates: None,
            shared: None,
        }
    }

    /// Shares feeds with the other replicas through `redis`: one walk per
    /// TTL across them all.
    pub fn with_replicas(mut self, redis: Arc<Redis>) -> Self {
        self.shared = Some(redis);
        self
    }

    /// Queues a `feed.updated` event on `tx` whenever a fetched feed's
    /// posts (or captions) differ from the account's previous good feed.
    pub fn with_updates(mut self, tx: mpsc::Sender<FeedUpdated>) -> Self {
        self.updates = Some(tx);
        self
    }

    /// Counts cache hits and misses in `metrics`.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.hits = Some(
            metrics
                .feed_cache
                .get_or_create(&ResultLabels { result: "hit" })
                .clone(),
        );
        self.metrics = Some(metrics);
        self
    }

    /// The cached feed of `account`, if any, without fetching.
    pub async fn peek(&self, account: &AccountName) -> Option<Arc<Current>> {
        self.current.get(account).await
    }

    /// The configured freshness.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The record of pictures fetched, for the media proxy to fill in.
    pub fn pictures(&self) -> Arc<Pictures> {
        self.pictures.clone()
    }

    /// The bound on CPU-heavy jobs (rendering, compression, resizing): one
    /// per core, shared with the media proxy.
    pub fn jobs(&self) -> Arc<Semaphore> {
        self.jobs.clone()
    }

    /// The feed of `account` to serve: cached, freshly fetched, or the last
    /// good one.
    pub async fn current(&self, account: &Arc<Account>) -> Result<Arc<Current>, FeedUnavailable> {
        // The hot path: a plain lookup, cheaper than the entry API.
        if let Some(cur) = self.current.get(&account.name).await {
            if let Some(hits) = &self.hits {
                hits.inc();
            }
            return Ok(cur);
        }
        // Concurrent callers share one load (below); later ones within the
        // pause after a failed first load get its answer without a call.
        if let Some(error) = account.feed.loads.paused() {
            return Err(error);
        }
        let entry = self
            .current
            .entry(account.name.clone())
            .or_try_insert_with(self.load(account))
            .await
            .map_err(|e| (*e).clone())?;
        if let Some(m) = &self.metrics {
            let result = if entry.is_fresh() { "miss" } else { "hit" };
            m.feed_cache.get_or_create(&ResultLabels { result }).inc();
        }
        Ok(entry.into_value())
    }

    /// The feed rendered for `base` and `filter`: cached, freshly fetched,
    /// or the last good one.
    /// `effort` says how hard it is compressed (see [`Effort`]).
    pub async fn answer(
        &self,
        account: &Arc<Account>,
        base: &str,
        filter: &Filter,
        effort: Effort,
    ) -> Result<Arc<Rendered>, FeedUnavailable> {
        let current = self.current(account).await?;
        let learnt = account.feed.pictures.load(Ordering::Acquire);
        Ok(self.rendered(&current, learnt, base, filter, effort).await)
    }

    /// A rendered body for this feed version, base URL and filter.
    async fn rendered(
        &self,
        cur: &Current,
        learnt: u64,
        base: &str,
        filter: &Filter,
        effort: Effort,
    ) -> Arc<Rendered> {
        let key = (cur.version, learnt, base.to_string(), filter.clone());
        self.rendered
            .get_with(key, async {
                let (snapshot, stale, ttl) = (cur.snapshot.clone(), cur.stale, self.ttl);
                let (base, filter, jobs) = (base.to_string(), filter.clone(), self.jobs.clone());
                let (kept, pictures) = (self.size, self.pictures.clone());
                render::blocking(&self.jobs, move || {
                    let doc = render::response(&snapshot, stale, &base, &filter, kept, &pictures);
                    Arc::new(Rendered::new(&doc, snapshot.fetched_at, ttl, effort, jobs))
                })
                .await
            })
            .await
    }

    /// Drops the cached feeds of every account (the last good copies stay).
    pub fn purge(&self, accounts: &[Arc<Account>]) {
        self.current.invalidate_all();
        self.rendered.invalidate_all();
        self.bump();
        for account in accounts {
            account.feed.end_pause();
        }
    }

    /// Drops the cached feed of one account (a new token, or the account
    /// removed); its rendered bodies age out of their budget.
    pub async fn forget(&self, account: &Account) {
        self.current.invalidate(&account.name).await;
        account.feed.end_pause();
    }

    /// A new [`Current::version`].
    fn bump(&self) -> u64 {
        self.version.fetch_add(1, Ordering::AcqRel) + 1
    }

    async fn load(&self, account: &Account) -> Result<Arc<Current>, FeedUnavailable> {
        if let Some(redis) = &self.shared
            && let Some(loaded) = self.load_shared(redis, account).await
        {
            return loaded;
        }
        self.walk(account).await.0
    }

    /// With replicas: the shared copy while it is fresh; else one replica
    /// walks (holding the feed's walk lock) while the others wait for its
    /// result. `None` when Redis cannot help (down, or the walker is gone):
    /// the caller walks on its own.
    async fn load_shared(
        &self,
        redis: &Redis,
        account: &Account,
    ) -> Option<Result<Arc<Current>, FeedUnavailable>> {
        if redis.down_since().is_some() {
            // Serve from memory and fetch here, without waiting on Redis.
            return None;
        }
        let deadline = Instant::now() + redis.walk_timeout();
        loop {
            let shared = redis.shared_feed(&account.name).await.ok()?;
            if let (Some(fresh_for), Some(snapshot)) = (shared.fresh_for, shared.snapshot.clone()) {
                let snapshot = self.adopt_shared(account, snapshot);
                account.feed.loads.succeeded();
                return Some(Ok(self.serve(snapshot, false, fresh_for)));
            }
            match shared.lock {
                WalkLock::Free => {
                    if !redis.lock_walk(&account.name).await.ok()? {
                        continue;
                    }
                    // Compare with the newest copy (`feed.updated`), which
                    // another replica may have fetched.
                    if let Some(snapshot) = shared.snapshot {
                        self.adopt_shared(account, snapshot);
                    }
                    // Walk with the stored token: a refresh that just ended
                    // on another replica killed the one held here, if this
                    // replica has not heard of the new one yet. (Not while
                    // this replica writes its token: that is the newest.)
                    if let Some(held) = account.tokens.try_lock() {
                        let _ = account.tokens.catch_up(&held).await;
                    }
                    let walking = redis.walking();
                    let (loaded, failed) = tokio::select! {
                        walked = self.walk(account) => walked,
                        never = redis.keep_walk_lock(&account.name, &walking) => match never {},
                    };
                    let _ = match failed {
                        Some(reason) => {
                            let hold = lifetime(self.ttl, true);
                            redis.walk_failed(&account.name, &reason, hold).await
                        }
                        None => redis.release_walk(&account.name).await,
                    };
                    return Some(loaded);
                }
                WalkLock::Failed(reason) => {
                    // Another replica just failed: serve the last good copy
                    // until it is worth asking again, without a walk.
                    if let Some(snapshot) = shared.snapshot {
                        self.adopt_shared(account, snapshot);
                    }
                    return Some(self.fall_back(account, reason, false));
                }
                WalkLock::Walking if Instant::now() < deadline => {
                    tokio::time::sleep(WALK_POLL).await;
                }
                WalkLock::Walking => {
                    tracing::warn!(account = %account.name, "another replica's walk did not finish in time; fetching here");
                    return None;
                }
            }
        }
    }

    /// Makes a copy read from Redis the account's last good feed (unless it
    /// is the one held) and returns the one held.
    fn adopt_shared(&self, account: &Account, snapshot: Snapshot) -> Arc<Snapshot> {
        match account.feed.last_good() {
            Some(held) if *held == snapshot => held,
            _ => {
                let snapshot = Arc::new(snapshot);
                account.feed.set_last_good(snapshot.clone());
                snapshot
            }
        }
    }

    /// One upstream walk with its fallback; the reason when it failed.
    async fn walk(
        &self,
        account: &Account,
    ) -> (Result<Arc<Current>, FeedUnavailable>, Option<String>) {
        let feed = &account.feed;
        let Failed { reason, throttled } = match self.fetch(account).await {
            Ok(snapshot) => {
                feed.loads.succeeded();
                let snapshot = Arc::new(snapshot);
                persist(account, snapshot.clone()).await;
                if let Some(tx) = &self.updates {
                    let before = feed.last_good();
                    if let Some(event) =
                        FeedUpdated::between(&account.name, before.as_deref(), &snapshot)
                        && tx.try_send(event).is_err()
                    {
                        tracing::warn!(account = %account.name, "feed webhook queue full; a feed.updated event was dropped");
                    }
                }
                feed.set_last_good(snapshot.clone());
                let current = self.serve(snapshot, false, lifetime(self.ttl, false));
                return (Ok(current), None);
            }
            Err(failed) => failed,
        };
        if feed.last_good().is_some() {
            tracing::warn!(account = %account.name, %reason, "feed fetch failed; serving the last good feed as stale");
        } else {
            tracing::warn!(account = %account.name, %reason, "feed fetch failed and there is no last good feed");
        }
        (
            self.fall_back(account, reason.clone(), throttled),
            Some(reason),
        )
    }

    /// After a failed fetch (`reason`): the last good feed as stale until it
    /// is worth asking again, else the failure, paused.
    fn fall_back(
        &self,
        account: &Account,
        reason: String,
        throttled: bool,
    ) -> Result<Arc<Current>, FeedUnavailable> {
        let feed = &account.feed;
        match feed.last_good() {
            Some(snapshot) => {
                feed.loads.failed(None, throttled);
                Ok(self.serve(snapshot, true, lifetime(self.ttl, true)))
            }
            None => {
                let error = FeedUnavailable::NeverFetched(reason);
                feed.loads.failed(Some(error.clone()), throttled);
                Err(error)
            }
        }
    }

    /// `snapshot` to serve for `lasting`, under a new version.
    fn serve(&self, snapshot: Arc<Snapshot>, stale: bool, lasting: Duration) -> Arc<Current> {
        Arc::new(Current {
            snapshot,
            stale,
            version: self.bump(),
            expires_at: Instant::now() + lasting,
        })
    }

    /// One upstream walk: the account and its recent media.
    async fn fetch(&self, account: &Account) -> Result<Snapshot, Failed> {
        let tokens = &account.tokens;
        let unavailable = |e: TokenUnavailable| match e {
            TokenUnavailable::Invalid(_) => "the access token is invalid".to_string(),
            other => other.to_string(),
        };
        let mut token = tokens.usable().map_err(|e| Failed {
            reason: unavailable(e),
            throttled: false,
        })?;
        let started = Instant::now();
        let mut retried = false;
        loop {
            let (user, media) = tokio::join!(
                self.graph.me(&token),
                self.graph.recent_media(&token, self.size)
            );
            match user.and_then(|u| media.map(|m| (u, m))) {
                Ok((user, media)) => {
                    tokens.set_user(&token, &user).await;
                    tracing::info!(
                        account = %account.name,
                        posts = media.len(),
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "fetched the feed from Instagram"
                    );
                    return Ok(Snapshot {
                        account: user,
                        media,
                        fetched_at: SystemTime::now(),
                    });
                }
                Err(err) => {
                    // A refresh may have rotated the token while this walk
                    // ran (the old string dies at once at Instagram): wait
                    // for a refresh still in flight to store its token (with
                    // replicas, read one another replica stored), then retry
                    // with the new one rather than serve stale or blame the
                    // new token.
                    if !retried && matches!(err, GraphError::TokenInvalid { .. }) {
                        let held = tokens.lock().await;
                        let _ = tokens.catch_up(&held).await;
                    }
                    if !retried
                        && matches!(err, GraphError::TokenInvalid { .. })
                        && let Ok(newer) = tokens.usable()
                        && newer != token
                    {
                        tracing::info!(
                            "the token was rotated during the fetch; retrying with the new one"
                        );
                        token = newer;
                        retried = true;
                        continue;
                    }
                    tokens.observe(&token, &err).await;
                    return Err(Failed {
                        reason: err.to_string(),
                        throttled: matches!(err, GraphError::Throttled { .. }),
                    });
                }
            }
        }
    }
}

/// Stores `snapshot` as the account's last good feed (a failure is logged:
/// the feed is served from memory meanwhile).
async fn persist(account: &Account, snapshot: Arc<Snapshot>) {
    let Some(store) = &account.feed.store else {
        return;
    };
    if let Err(e) = store.store(&snapshot).await {
        tracing::error!(account = %account.name, error = %e, "could not store the last good feed");
    }
}

#[cfg(test)]
mod tests;
