//! Keeping a replica in step with the others: the events channel (within
//! milliseconds) and a tick (every second, sooner with a short lease) that
//! renews the refresh leases, catches up on anything an event missed, and
//! writes back this replica's state when Redis lost it.
//!
//! Events on [`super::CHANNEL`] (one line each):
//! - `token {name} {version}`: a token was stored; replicas holding an
//!   older one read it (or the account, if new to them);
//! - `removed {name}`: an account was removed;
//! - `purge {replica}`: the caches were purged on that replica;
//! - `refresh {name}`: a person asked for a refresh; the lease holder does it.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use tokio::sync::watch;

use super::Redis;
use crate::accounts::{Account, AccountName, Accounts};
use crate::feed::FeedService;
use crate::graph::GraphClient;
use crate::media::MediaService;
use crate::token::TokenManager;

/// The longest time between two ticks.
const TICK_MAX: Duration = Duration::from_secs(1);
/// The pause before subscribing again after the events connection broke.
const RESUBSCRIBE: Duration = Duration::from_millis(250);

/// What a replica shares, and what it changes when others change it.
pub struct Replicas {
    pub redis: Arc<Redis>,
    pub accounts: Arc<Accounts>,
    pub feed: Arc<FeedService>,
    pub media: Arc<MediaService>,
    pub graph: GraphClient,
}

impl Replicas {
    /// Follows the other replicas until `shutdown` turns true. The leases
    /// are released by the caller once the refresher has stopped (see
    /// [`Redis::release_leases`]).
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let this = Arc::new(self);
        let events = tokio::spawn(this.clone().listen(shutdown.clone()));
        let every = (this.redis.lease / 3).min(TICK_MAX);
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let stop = tokio::select! {
                _ = ticks.tick() => false,
                _ = shutdown.wait_for(|stop| *stop) => true,
            };
            if stop {
                break;
            }
            this.tick().await;
        }
        let _ = events.await;
        tracing::info!("replica sync stopped (shutdown)");
    }

    /// One tick: survey Redis, catch up, renew the leases.
    pub async fn tick(&self) {
        // One change of the account set at a time: a PUT or DELETE on this
        // replica is not mistaken for another's.
        if self.redis.down_since().is_some() && !self.redis.probe().await {
            return;
        }
        let set = self.accounts.lock().await;
        let Ok(survey) = self.redis.survey().await else {
            return;
        };
        if self.redis.note_purge(survey.purges) {
            // An event this replica missed.
            self.purge("a purge on another replica");
        }
        let epoch = survey.epoch;
        if epoch.is_empty() || epoch != self.redis.epoch() {
            drop(set);
            self.write_back(epoch.is_empty()).await;
        } else {
            let mut names = HashSet::new();
            for (name, version) in survey.accounts {
                let Ok(name) = AccountName::parse(&name) else {
                    continue;
                };
                match self.accounts.get(&name) {
                    Some(account) if version > account.tokens.version() => {
                        // Without waiting for a refresh or put in flight
                        // here (the leases below must not wait): its write
                        // meets the newer token, or the next tick reads it.
                        if let Some(held) = account.tokens.try_lock() {
                            self.catch_up(&account, held).await;
                        }
                    }
                    None if version > 0 => self.add(&name).await,
                    _ => {}
                }
                names.insert(name);
            }
            for account in self.accounts.list() {
                if !names.contains(&account.name) {
                    self.forget(&account.name).await;
                }
            }
            drop(set);
        }
        let names: Vec<AccountName> = self
            .accounts
            .list()
            .iter()
            .map(|a| a.name.clone())
            .collect();
        let _ = self.redis.renew_leases(&names).await;
    }

    /// Redis lost its data (`lost`), or another replica wrote back first:
    /// writes back every account this replica holds, where Redis holds less.
    async fn write_back(&self, lost: bool) {
        let mut written = 0;
        for account in self.accounts.list() {
            let tokens = &account.tokens;
            let held = tokens.lock().await;
            let record = tokens.record();
            // An unsaved token is newer than the stored one of its version.
            let version = tokens.version() + u64::from(tokens.persist_failure().is_some());
            let last = account.feed.last_good();
            match self
                .redis
                .write_back(&account.name, version, record.as_ref(), last.as_deref())
                .await
            {
                Ok((true, version)) => {
                    tokens.stored_as(&held, version);
                    written += 1;
                }
                Ok((false, _)) => {}
                Err(_) => return,
            }
        }
        if self.redis.claim_epoch().await.is_err() {
            return;
        }
        if lost {
            tracing::warn!(
                accounts = written,
                "Redis held none of igfeed's state (restarted without persistence?); wrote back what this replica holds"
            );
        } else {
            tracing::info!(
                accounts = written,
                "Redis's state was written back by another replica; added what this replica holds"
            );
        }
    }

    /// Reads a newer token of `account` stored by another replica (the
    /// caller holds its writer lock).
    async fn catch_up(&self, account: &Arc<Account>, held: crate::token::WriteGuard<'_>) {
        let before = account.tokens.record();
        match account.tokens.catch_up(&held).await {
            Ok(true) => {
                drop(held);
                let after = account.tokens.record();
                tracing::info!(account = %account.name, version = account.tokens.version(), "using the token another replica stored");
                // A token of another Instagram account, or one after an
                // invalid token: the cached feed is not worth keeping.
                let user = |r: &Option<crate::token::TokenRecord>| {
                    r.as_ref()
                        .and_then(|r| r.user.as_ref().map(|u| u.id.clone()))
                };
                let was_invalid = before.as_ref().is_some_and(|r| r.invalid.is_some());
                if was_invalid || user(&before) != user(&after) {
                    self.feed.forget(account).await;
                }
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(account = %account.name, error = %e, "cannot read the token another replica stored")
            }
        }
    }

    /// Adds an account another replica added.
    async fn add(&self, name: &AccountName) {
        let token = match self.redis.load_token(name).await {
            Ok(Some(token)) => token,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(account = %name, error = %e, "cannot read an account another replica added");
                return;
            }
        };
        let feed = self.redis.load_feed(name).await.unwrap_or_default();
        let slots = self.redis.slots(name);
        let tokens = TokenManager::stored(slots.token.clone(), Some(token), self.accounts.policy());
        self.accounts
            .insert_stored(name.clone(), tokens, slots, feed);
        tracing::info!(account = %name, "account added by another replica");
    }

    /// Forgets an account another replica removed.
    async fn forget(&self, name: &AccountName) {
        if let Some(account) = self.accounts.forget(name) {
            self.feed.forget(&account).await;
            if let Some(last) = account.feed.last_good() {
                self.media.forget(&last).await;
            }
            tracing::info!(account = %name, "account removed by another replica");
        }
    }

    /// Drops this replica's caches after another replica's purge.
    fn purge(&self, by: &str) {
        self.feed.purge(&self.accounts.list());
        self.media.purge();
        tracing::info!(replica = by, "caches purged by another replica");
    }

    /// Follows the events channel, subscribing again whenever the
    /// connection breaks.
    async fn listen(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            let subscribed = async {
                let mut pubsub = self.redis.client.get_async_pubsub().await?;
                pubsub.subscribe(super::CHANNEL).await?;
                Ok::<_, redis::RedisError>(pubsub)
            };
            let pubsub = tokio::select! {
                p = tokio::time::timeout(super::COMMAND_TIMEOUT, subscribed) => p,
                _ = shutdown.wait_for(|stop| *stop) => return,
            };
            if let Ok(Ok(pubsub)) = pubsub {
                let mut messages = pubsub.into_on_message();
                loop {
                    let message = tokio::select! {
                        m = messages.next() => m,
                        _ = shutdown.wait_for(|stop| *stop) => return,
                    };
                    let Some(message) = message else { break };
                    if let Ok(text) = message.get_payload::<String>() {
                        self.clone().on_event(&text);
                    }
                }
                tracing::debug!("the events connection to Redis broke; subscribing again");
            }
            tokio::select! {
                () = tokio::time::sleep(RESUBSCRIBE) => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
        }
    }

    /// Acts on one event (in a task of its own: it may wait for a refresh
    /// in flight to finish).
    fn on_event(self: Arc<Self>, text: &str) {
        let mut words = text.split(' ');
        let (kind, arg) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        let name = AccountName::parse(arg).ok();
        match (kind, name) {
            ("token", Some(name)) => {
                tokio::spawn(async move {
                    match self.accounts.get(&name) {
                        Some(account) => {
                            let held = account.tokens.lock().await;
                            self.catch_up(&account, held).await;
                        }
                        None => {
                            let _set = self.accounts.lock().await;
                            if self.accounts.get(&name).is_none() {
                                self.add(&name).await;
                            }
                        }
                    }
                });
            }
            ("removed", Some(name)) => {
                tokio::spawn(async move { self.forget(&name).await });
            }
            ("purge", _) => {
                let n = words.next().and_then(|n| n.parse().ok()).unwrap_or(0);
                if self.redis.note_purge(n) {
                    self.purge(arg);
                }
            }
            ("refresh", Some(name)) if self.redis.holds(&name) => {
                tokio::spawn(async move {
                    if let Some(account) = self.accounts.get(&name) {
                        tracing::info!(account = %name, "refresh asked for on another replica");
                        let step = crate::token::refresher::refresh_step(
                            &account.tokens,
                            &self.graph,
                            SystemTime::now(),
                            true,
                        )
                        .await;
                        tracing::debug!(account = %name, ?step, "asked-for refresh done");
                    }
                });
            }
            _ => {}
        }
    }
}
