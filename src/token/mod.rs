//! The access token: stored durably in the data dir, refreshed in the
//! background before it expires, and never lost or overwritten by a failure.
//!
//! - [`store`]: the state file (`token.json`), written atomically.
//! - [`refresher`]: the background task and its one-step function.
//! - [`persist`]: a write that failed, reported and retried until it succeeds.
//!
//! Seeding: at start-up a token from `IGFEED_ACCESS_TOKEN` is compared (by
//! fingerprint) with the seed the stored lineage started from. The stored
//! token wins when it descends from the same seed (it may have been refreshed
//! since); a different env token replaces it; without an env token the
//! stored one is used.

pub mod persist;
pub mod refresher;
pub mod store;

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::sync::{Mutex, MutexGuard, watch};

use crate::config::Secret;
use crate::graph::{Account, GraphError};
use crate::store::{Swap, TokenStore, Versioned};
pub use persist::PersistFailure;
pub use store::{ASSUMED_LIFETIME, TokenFile, TokenRecord, fingerprint};

/// Under this much life left, a token is `expiring`.
pub const EXPIRING_WITHIN: Duration = Duration::from_secs(7 * 24 * 3600);

/// The token's state as `/token` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TokenStatus {
    Missing,
    Valid,
    Expiring,
    Expired,
    Invalid,
}

/// Why no token can be used right now.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenUnavailable {
    #[error("no access token is configured")]
    Missing,
    #[error("the access token was rejected by Instagram: {0}")]
    Invalid(String),
    #[error("the access token has expired")]
    Expired,
}

/// When to refresh (`IGFEED_REFRESH_AFTER`, `IGFEED_REFRESH_MIN_AGE`).
#[derive(Clone, Copy, Debug)]
pub struct RefreshPolicy {
    pub after: Duration,
    pub min_age: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            after: Duration::from_secs(7 * 24 * 3600),
            min_age: Duration::from_secs(24 * 3600),
        }
    }
}

impl RefreshPolicy {
    /// Once `after` old or half its lifetime gone, whichever is sooner;
    /// never before `min_age`.
    pub fn due_at(&self, rec: &TokenRecord) -> SystemTime {
        let lifetime = rec
            .expires_at
            .duration_since(rec.issued_at)
            .unwrap_or_default();
        let wait = self.after.min(lifetime / 2).max(self.min_age);
        rec.issued_at + wait
    }
}

/// The status of `rec` at `now`.
pub fn status_of(rec: Option<&TokenRecord>, now: SystemTime) -> TokenStatus {
    let Some(rec) = rec else {
        return TokenStatus::Missing;
    };
    if rec.invalid.is_some() {
        return TokenStatus::Invalid;
    }
    match rec.expires_at.duration_since(now) {
        Err(_) if rec.expiry_known => TokenStatus::Expired,
        Ok(left) if left > EXPIRING_WITHIN => TokenStatus::Valid,
        _ => TokenStatus::Expiring,
    }
}

/// Why a token write did not land (see [`TokenManager::store`]).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store could not be written: the token is in use from memory and
    /// the write is retried (see [`persist`]).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A newer token was stored meanwhile (another replica, or a person):
    /// it is in use instead of the one written.
    #[error("a newer token was stored meanwhile; it is used instead")]
    Superseded,
    /// The account was removed meanwhile.
    #[error("the account was removed meanwhile")]
    Gone,
}

/// The seeding rule (see the module's documentation): the token to start
/// with, given the `stored` one and `IGFEED_ACCESS_TOKEN`; `true` when it
/// must be written (the env token replaces the stored one).
pub fn seeded(
    stored: Option<TokenRecord>,
    seed: Option<&Secret>,
    now: SystemTime,
) -> (Option<TokenRecord>, bool) {
    let seed_fp = seed.map(fingerprint);
    match (stored, seed) {
        (Some(rec), Some(_)) if rec.seed == seed_fp => {
            tracing::info!(
                "using the stored token (it descends from the configured IGFEED_ACCESS_TOKEN)"
            );
            (Some(rec), false)
        }
        (stored, Some(seed)) => {
            if stored.is_some() {
                tracing::info!("IGFEED_ACCESS_TOKEN changed; it replaces the stored token");
            }
            let rec = TokenRecord::first_seen(seed.clone(), now, seed_fp);
            (Some(rec), true)
        }
        (stored, None) => (stored, false),
    }
}

/// Holds the current token; share it behind an `Arc`.
#[derive(Debug)]
pub struct TokenManager {
    state: RwLock<Option<TokenRecord>>,
    /// The version of `state` in the store (see [`crate::store`]).
    version: AtomicU64,
    store: Option<std::sync::Arc<dyn TokenStore>>,
    policy: RefreshPolicy,
    /// Serialises writers (refresh, `PUT`, invalidation): a refresh in
    /// flight cannot overwrite a token put meanwhile, and vice versa.
    write: Mutex<()>,
    /// Bumped on every change; the refresher and the alert watchdog follow
    /// it. Shared by every account's manager (see [`Self::with_changes`]).
    changed: Arc<watch::Sender<u64>>,
    /// Consecutive failed refreshes (for alerts and metrics).
    failures: AtomicU32,
    /// A failed write of the state not yet made good (see [`persist`]).
    unsaved: std::sync::Mutex<Option<PersistFailure>>,
}

/// A writer's hold on the token; see [`TokenManager::lock`].
pub struct WriteGuard<'a> {
    _guard: MutexGuard<'a, ()>,
}

impl TokenManager {
    /// A manager holding `token` in memory only (tests, tools).
    pub fn in_memory(token: Option<Secret>) -> Self {
        let now = SystemTime::now();
        Self::with_state(
            token.map(|t| TokenRecord::first_seen(t, now, None)),
            None,
            RefreshPolicy::default(),
        )
    }

    /// Opens the state in `file`, applying the seeding rule for `seed`
    /// (`IGFEED_ACCESS_TOKEN`). A corrupt or unreadable state is an error.
    pub fn open(
        file: TokenFile,
        seed: Option<&Secret>,
        policy: RefreshPolicy,
        now: SystemTime,
    ) -> std::io::Result<Self> {
        let (state, write) = seeded(file.load()?, seed, now);
        if let (Some(rec), true) = (&state, write) {
            file.save(rec)?;
        }
        Ok(Self::with_state(
            state,
            Some(std::sync::Arc::new(file)),
            policy,
        ))
    }

    /// A manager without a token yet, storing into `store` if given (a new
    /// account, before its first token is stored).
    pub fn empty(store: Option<std::sync::Arc<dyn TokenStore>>, policy: RefreshPolicy) -> Self {
        Self::with_state(None, store, policy)
    }

    /// A manager holding what `store` holds (`stored`, read by the caller).
    pub fn stored(
        store: std::sync::Arc<dyn TokenStore>,
        stored: Option<Versioned>,
        policy: RefreshPolicy,
    ) -> Self {
        let version = stored.as_ref().map_or(0, |v| v.version);
        let this = Self::with_state(stored.map(|v| v.record), Some(store), policy);
        this.version.store(version, Ordering::Release);
        this
    }

    /// Announces this manager's changes on `changes` (one channel for
    /// every account, so one task can follow them all).
    pub fn with_changes(mut self, changes: Arc<watch::Sender<u64>>) -> Self {
        self.changed = changes;
        self
    }

    /// The same manager with another refresh policy.
    pub fn with_policy(mut self, policy: RefreshPolicy) -> Self {
        self.policy = policy;
        self
    }

    fn with_state(
        state: Option<TokenRecord>,
        store: Option<std::sync::Arc<dyn TokenStore>>,
        policy: RefreshPolicy,
    ) -> Self {
        Self {
            state: RwLock::new(state),
            version: AtomicU64::new(0),
            store,
            policy,
            write: Mutex::new(()),
            changed: Arc::new(watch::channel(0).0),
            failures: AtomicU32::new(0),
            unsaved: std::sync::Mutex::new(None),
        }
    }

    /// The current record (with the token; keep it away from responses).
    pub fn record(&self) -> Option<TokenRecord> {
        self.state.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The token to call Instagram with, unless it is missing or known bad.
    pub fn usable(&self) -> Result<Secret, TokenUnavailable> {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        let rec = state.as_ref().ok_or(TokenUnavailable::Missing)?;
        match status_of(Some(rec), SystemTime::now()) {
            TokenStatus::Invalid => Err(TokenUnavailable::Invalid(
                rec.invalid.clone().unwrap_or_default(),
            )),
            TokenStatus::Expired => Err(TokenUnavailable::Expired),
            _ => Ok(rec.access_token.clone()),
        }
    }

    /// Current status.
    pub fn status(&self) -> TokenStatus {
        status_of(self.record().as_ref(), SystemTime::now())
    }

    pub fn policy(&self) -> RefreshPolicy {
        self.policy
    }

    /// When the next refresh is due (`None` without a usable token).
    pub fn next_refresh_at(&self) -> Option<SystemTime> {
        let rec = self.record()?;
        (rec.invalid.is_none()).then(|| self.policy.due_at(&rec))
    }

    /// Follows changes of the token (a counter that increases).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Consecutive failed refreshes.
    pub fn refresh_failures(&self) -> u32 {
        self.failures.load(Ordering::Relaxed)
    }

    pub(crate) fn set_refresh_failures(&self, n: u32) {
        self.failures.store(n, Ordering::Relaxed);
    }

    /// Takes the writer lock; hold it across a refresh call.
    pub async fn lock(&self) -> WriteGuard<'_> {
        WriteGuard {
            _guard: self.write.lock().await,
        }
    }

    /// The writer lock if nobody holds it (a refresh or a put in flight).
    pub fn try_lock(&self) -> Option<WriteGuard<'_>> {
        self.write
            .try_lock()
            .ok()
            .map(|guard| WriteGuard { _guard: guard })
    }

    /// The version of the current token in the store.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// What the state is written to, for messages.
    pub fn store_name(&self) -> &'static str {
        self.store.as_ref().map_or("memory", |s| s.describe())
    }

    /// Runs `refresh` between [`TokenStore::begin_refresh`] and
    /// [`TokenStore::end_refresh`].
    pub async fn refreshing<T>(&self, refresh: impl Future<Output = T>) -> T {
        let Some(store) = &self.store else {
            return refresh.await;
        };
        store.begin_refresh().await;
        let done = tokio::select! {
            done = refresh => done,
            never = store.keep_refresh() => match never {},
        };
        store.end_refresh().await;
        done
    }

    /// Whether this process raises the token's alerts (see
    /// [`TokenStore::speaks`]).
    pub fn speaks(&self) -> bool {
        self.store.as_ref().is_none_or(|s| s.speaks())
    }

    /// Whether this process may refresh the token now (with replicas: it
    /// holds the token's refresh lease).
    pub fn may_refresh(&self) -> bool {
        self.store.as_ref().is_none_or(|s| s.may_refresh())
    }

    fn set(&self, rec: TokenRecord, version: Option<u64>) {
        *self.state.write().unwrap_or_else(|e| e.into_inner()) = Some(rec);
        if let Some(v) = version {
            self.version.store(v, Ordering::Release);
        }
        self.changed.send_modify(|n| *n += 1);
    }

    /// Stores `rec` durably if the stored token is still the one held (a
    /// fenced write), then makes it current (the caller holds the writer
    /// lock). A failed write still switches in memory — the new token may
    /// be the only valid one — is kept as [`Self::persist_failure`] and
    /// retried by [`persist::run`], and returns the error to report. A
    /// newer stored token (another replica's) wins: it becomes current and
    /// `rec` is dropped — unless that newer write only annotated the token
    /// `rec` replaces (another replica saw the old string die, or learnt its
    /// user, while this one refreshed it): a new token always beats news of
    /// the old one, which would otherwise be lost for good.
    pub async fn store(&self, _held: &WriteGuard<'_>, rec: TokenRecord) -> Result<(), StoreError> {
        let replaced = self
            .record()
            .map(|old| old.access_token)
            .filter(|old| *old != rec.access_token);
        loop {
            return match self.persist(&rec).await {
                Ok(Swap::Stored(v)) => {
                    self.set(rec, Some(v));
                    Ok(())
                }
                Ok(Swap::Newer(newer)) if replaced.as_ref() == Some(&newer.record.access_token) => {
                    self.version.store(newer.version, Ordering::Release);
                    continue;
                }
                Ok(Swap::Newer(newer)) => {
                    tracing::info!(
                        version = newer.version,
                        "a newer token was stored meanwhile; using it instead of this write"
                    );
                    self.set(newer.record, Some(newer.version));
                    Err(StoreError::Superseded)
                }
                Ok(Swap::Gone) => Err(StoreError::Gone),
                Err(e) => {
                    self.set(rec, None);
                    Err(StoreError::Io(e))
                }
            };
        }
    }

    /// Stores `rec` whatever token is stored now (a person's `PUT`): the
    /// last one put wins.
    pub async fn replace(&self, held: &WriteGuard<'_>, rec: TokenRecord) -> Result<(), StoreError> {
        loop {
            match self.store(held, rec.clone()).await {
                Err(StoreError::Superseded) => continue,
                other => return other,
            }
        }
    }

    /// Makes `newer` current if it is newer than the token held (another
    /// replica stored it); true when it was.
    fn adopt_held(&self, newer: Versioned) -> bool {
        if newer.version <= self.version() {
            return false;
        }
        self.set(newer.record, Some(newer.version));
        self.set_refresh_failures(0);
        true
    }

    /// Catches up with the store (the caller holds the writer lock): a newer
    /// token another replica stored becomes current. True when it did.
    pub async fn catch_up(&self, _held: &WriteGuard<'_>) -> std::io::Result<bool> {
        let Some(store) = &self.store else {
            return Ok(false);
        };
        match store.newer_than(self.version()).await? {
            Some(newer) => Ok(self.adopt_held(newer)),
            None => Ok(false),
        }
    }

    /// Applies `f` to the current record (if the token is still `token`)
    /// and stores the result.
    pub async fn update(
        &self,
        token: &Secret,
        f: impl FnOnce(&mut TokenRecord),
    ) -> Result<bool, StoreError> {
        let held = self.lock().await;
        let Some(mut rec) = self.record().filter(|r| r.access_token == *token) else {
            return Ok(false);
        };
        f(&mut rec);
        self.store(&held, rec).await.map(|()| true)
    }

    /// Tells the manager what a Graph call made with `token` answered; a
    /// "token invalid" answer marks the token invalid until a new one comes.
    pub async fn observe(&self, token: &Secret, err: &GraphError) {
        if let GraphError::TokenInvalid { message, .. } = err {
            self.mark_invalid(token, message).await;
        }
    }

    /// Marks `token` invalid (if it is still the current one).
    pub async fn mark_invalid(&self, token: &Secret, message: &str) {
        let message = crate::graph::redact(message, token);
        let changed = self
            .update(token, |rec| {
                if rec.invalid.is_none() {
                    rec.invalid = Some(message.clone());
                }
            })
            .await;
        if let Ok(true) = changed {
            tracing::warn!(%message, "access token rejected by Instagram; serving the last good feed until a new token is put");
        }
    }

    /// Remembers the account the token belongs to.
    pub async fn set_user(&self, token: &Secret, user: &Account) {
        if self.record().is_some_and(|r| r.user.as_ref() == Some(user)) {
            return;
        }
        let user = user.clone();
        let _ = self.update(token, |rec| rec.user = Some(user)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(issued: u64, lifetime: u64) -> TokenRecord {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(issued);
        TokenRecord {
            expires_at: t0 + Duration::from_secs(lifetime),
            expiry_known: true,
            ..TokenRecord::first_seen(Secret::new("t"), t0, None)
        }
    }

    #[test]
    fn refresh_is_due_at_the_sooner_of_after_and_half_life_never_before_min_age() {
        let day = 24 * 3600;
        let p = RefreshPolicy::default();
        let r = rec(1_000_000, 60 * day);
        assert_eq!(p.due_at(&r), r.issued_at + Duration::from_secs(7 * day));
        let r = rec(1_000_000, 10 * day);
        assert_eq!(p.due_at(&r), r.issued_at + Duration::from_secs(5 * day));
        let r = rec(1_000_000, day);
        assert_eq!(
            p.due_at(&r),
            r.issued_at + Duration::from_secs(day),
            "min age wins"
        );
    }

    #[test]
    fn statuses() {
        let day = 24 * 3600;
        let r = rec(1_000_000, 60 * day);
        let at = |d: u64| r.issued_at + Duration::from_secs(d);
        assert_eq!(status_of(None, at(0)), TokenStatus::Missing);
        assert_eq!(status_of(Some(&r), at(day)), TokenStatus::Valid);
        assert_eq!(status_of(Some(&r), at(54 * day)), TokenStatus::Expiring);
        assert_eq!(status_of(Some(&r), at(61 * day)), TokenStatus::Expired);
        let unknown = TokenRecord {
            expiry_known: false,
            ..r.clone()
        };
        assert_eq!(
            status_of(Some(&unknown), at(61 * day)),
            TokenStatus::Expiring,
            "an assumed expiry is not proof"
        );
        let invalid = TokenRecord {
            invalid: Some("x".into()),
            ..r
        };
        assert_eq!(status_of(Some(&invalid), at(day)), TokenStatus::Invalid);
    }

    #[test]
    fn seeding_rule() {
        let dir = tempfile::tempdir().unwrap();
        let file = TokenFile::new(dir.path());
        let now = SystemTime::now();
        let seed = Secret::new("IGAAseed");
        let m =
            TokenManager::open(file.clone(), Some(&seed), RefreshPolicy::default(), now).unwrap();
        assert_eq!(m.usable().unwrap(), seed);
        // A refreshed descendant of the same seed wins over the seed.
        let mut refreshed = m.record().unwrap();
        refreshed.access_token = Secret::new("IGAArefreshed");
        file.save(&refreshed).unwrap();
        let m =
            TokenManager::open(file.clone(), Some(&seed), RefreshPolicy::default(), now).unwrap();
        assert_eq!(m.usable().unwrap().expose(), "IGAArefreshed");
        // No env token: the stored one.
        let m = TokenManager::open(file.clone(), None, RefreshPolicy::default(), now).unwrap();
        assert_eq!(m.usable().unwrap().expose(), "IGAArefreshed");
        // A changed env token replaces it.
        let new = Secret::new("IGAAnewseed");
        let m =
            TokenManager::open(file.clone(), Some(&new), RefreshPolicy::default(), now).unwrap();
        assert_eq!(m.usable().unwrap(), new);
        assert_eq!(file.load().unwrap().unwrap().access_token, new);
        // The stored state never holds the seed's fingerprint as the token.
        let text = std::fs::read_to_string(file.path()).unwrap();
        assert!(!text.contains("IGAAseed\""));
    }
}
