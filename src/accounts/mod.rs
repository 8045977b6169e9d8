//! Accounts: a name, a token with its lifecycle, and that token's feed.
//!
//! Each account keeps its state in its own directory of the data dir,
//! `accounts/{name}/` (`token.json`, `feed.json`), written atomically. The
//! account named `default` always exists (it may have no token yet): it is
//! what `IGFEED_ACCESS_TOKEN` seeds and what `/feed`, `/token` and
//! `/admin/token` stand for. Others are added and removed through the admin
//! API.
//!
//! With replicas the same accounts live in Redis instead (see
//! [`crate::replicas`]), behind the same [`crate::store`] traits.
//!
//! - [`name`]: valid account names.
//! - [`disk`]: the directory layout, taking over a single-account data dir,
//!   and removing an account's directory atomically.

pub(crate) mod disk;
pub mod name;

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use tokio::sync::{Mutex, MutexGuard, watch};

use crate::config::Secret;
use crate::feed::{AccountFeed, Snapshot, SnapshotFile};
use crate::store::{AccountStore, DiskAccounts, FeedStore, Slots};
use crate::token::{RefreshPolicy, TokenFile, TokenManager};
pub use name::{AccountName, BadName};

/// One account: its token and its feed's state.
pub struct Account {
    pub name: AccountName,
    pub tokens: TokenManager,
    pub feed: AccountFeed,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("name", &self.name)
            .field("status", &self.tokens.status())
            .finish_non_exhaustive()
    }
}

/// Every account, by name. Share it behind an `Arc`.
pub struct Accounts {
    /// Where the set is kept; `None` keeps everything in memory.
    store: Option<Arc<dyn AccountStore>>,
    policy: RefreshPolicy,
    map: RwLock<BTreeMap<AccountName, Arc<Account>>>,
    /// Bumped when any account's token changes (shared with every
    /// [`TokenManager`]) or an account comes or goes.
    tokens_changed: Arc<watch::Sender<u64>>,
    /// Bumped when any account's last good feed changes or an account
    /// comes or goes.
    feeds_changed: Arc<watch::Sender<u64>>,
    /// Serialises adding, replacing and removing accounts.
    write: Mutex<()>,
}

/// A hold on the account set; see [`Accounts::lock`].
pub struct SetGuard<'a>(#[allow(dead_code)] MutexGuard<'a, ()>);

impl Accounts {
    /// Accounts kept in memory only, with `default` seeded by `token`
    /// (tests, tools).
    pub fn in_memory(token: Option<Secret>, policy: RefreshPolicy) -> Self {
        let this = Self::empty(None, policy);
        let tokens = TokenManager::in_memory(token).with_policy(policy);
        this.insert(this.account(AccountName::default_account(), tokens, None, None));
        this
    }

    /// No accounts yet, kept in `store` (see [`Self::insert_stored`]).
    pub fn empty(store: Option<Arc<dyn AccountStore>>, policy: RefreshPolicy) -> Self {
        Self {
            store,
            policy,
            map: RwLock::new(BTreeMap::new()),
            tokens_changed: Arc::new(watch::channel(0).0),
            feeds_changed: Arc::new(watch::channel(0).0),
            write: Mutex::new(()),
        }
    }

    /// Opens every account stored under `data_dir`, after taking over the
    /// state of a single-account igfeed (see [`disk::migrate`]); `seed`
    /// (`IGFEED_ACCESS_TOKEN`) seeds `default` by the rule of
    /// [`TokenManager::open`]. A corrupt state is an error naming its file.
    pub fn open(
        data_dir: &Path,
        seed: Option<&Secret>,
        policy: RefreshPolicy,
        now: SystemTime,
    ) -> io::Result<Self> {
        let root = disk::prepare(data_dir)?;
        let this = Self::empty(Some(Arc::new(DiskAccounts { root: root.clone() })), policy);
        let mut names = disk::stored_names(&root)?;
        let default = AccountName::default_account();
        if !names.contains(&default) {
            disk::create_dir(&root, &default)?;
            names.push(default);
        }
        for name in names {
            let dir = root.join(name.as_str());
            let seed = if name.is_default() { seed } else { None };
            let file = TokenFile::new(&dir);
            let tokens = TokenManager::open(file.clone(), seed, policy, now)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", file.path().display())))?;
            if tokens.record().is_none() && !name.is_default() {
                // A directory whose account never got its token stored (a
                // crash while it was being added): the PUT was not answered.
                tracing::info!(account = %name, "removing an account that was never stored");
                disk::remove_dir(&root, &name)?;
                continue;
            }
            let feed = SnapshotFile::new(&dir);
            let last = feed.load().unwrap_or_else(|e| {
                tracing::error!(account = %name, path = %feed.path().display(), error = %e, "the stored last good feed cannot be read; starting without it");
                None
            });
            let account = this.account(name, tokens, Some(Arc::new(feed)), last);
            this.insert(account);
        }
        Ok(this)
    }

    fn account(
        &self,
        name: AccountName,
        tokens: TokenManager,
        feed: Option<Arc<dyn FeedStore>>,
        last: Option<Snapshot>,
    ) -> Arc<Account> {
        Arc::new(Account {
            feed: AccountFeed::new(feed, last, self.feeds_changed.clone()),
            tokens: tokens.with_changes(self.tokens_changed.clone()),
            name,
        })
    }

    fn insert(&self, account: Arc<Account>) {
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(account.name.clone(), account);
        self.bump();
    }

    fn bump(&self) {
        self.tokens_changed.send_modify(|n| *n += 1);
        self.feeds_changed.send_modify(|n| *n += 1);
    }

    /// The account named `name`.
    pub fn get(&self, name: &AccountName) -> Option<Arc<Account>> {
        self.map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// The `default` account (it always exists).
    pub fn default_account(&self) -> Arc<Account> {
        self.get(&AccountName::default_account())
            .expect("the default account always exists")
    }

    /// Every account, by name.
    pub fn list(&self) -> Vec<Arc<Account>> {
        self.map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    pub fn len(&self) -> usize {
        self.map.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn policy(&self) -> RefreshPolicy {
        self.policy
    }

    /// Follows token changes of every account, and accounts coming and going.
    pub fn subscribe_tokens(&self) -> watch::Receiver<u64> {
        self.tokens_changed.subscribe()
    }

    /// Follows last good feeds of every account, and accounts coming and going.
    pub fn subscribe_feeds(&self) -> watch::Receiver<u64> {
        self.feeds_changed.subscribe()
    }

    /// The current feed generation (see [`Self::subscribe_feeds`]).
    pub fn feeds_generation(&self) -> u64 {
        *self.feeds_changed.borrow()
    }

    /// Takes the lock that serialises adding, replacing and removing.
    pub async fn lock(&self) -> SetGuard<'_> {
        SetGuard(self.write.lock().await)
    }

    /// The account named `name`, created (without a token, stored durably)
    /// when it does not exist; `true` when it was created. The caller holds
    /// [`Self::lock`] and stores a token before letting go.
    pub async fn get_or_create(
        &self,
        _held: &SetGuard<'_>,
        name: &AccountName,
    ) -> io::Result<(Arc<Account>, bool)> {
        if let Some(account) = self.get(name) {
            return Ok((account, false));
        }
        let (token, feed) = match &self.store {
            Some(store) => {
                let Slots { token, feed } = store.create(name).await?;
                (Some(token), Some(feed))
            }
            None => (None, None),
        };
        let tokens = TokenManager::empty(token, self.policy);
        let account = self.account(name.clone(), tokens, feed, None);
        self.insert(account.clone());
        Ok((account, true))
    }

    /// Adds an account read from the store (with replicas: one another
    /// replica added, or one held at start-up), unless one of that name is
    /// held; the account held is returned either way.
    pub fn insert_stored(
        &self,
        name: AccountName,
        tokens: TokenManager,
        slots: Slots,
        last: Option<Snapshot>,
    ) -> Arc<Account> {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        if let Some(held) = map.get(&name) {
            return held.clone();
        }
        let account = self.account(name.clone(), tokens, Some(slots.feed), last);
        map.insert(name, account.clone());
        drop(map);
        self.bump();
        account
    }

    /// Forgets `name` in memory only (with replicas: another replica removed
    /// it from the store). `default` stays.
    pub fn forget(&self, name: &AccountName) -> Option<Arc<Account>> {
        if name.is_default() {
            return None;
        }
        let removed = self
            .map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
        if removed.is_some() {
            self.bump();
        }
        removed
    }

    /// Removes `name` and its stored state (atomically: a crash leaves the
    /// account whole or gone). `None` when unknown. `default` is never
    /// removed (it is what `/feed` stands for): `None` too, and callers
    /// refuse it first.
    pub async fn remove(
        &self,
        _held: &SetGuard<'_>,
        name: &AccountName,
    ) -> io::Result<Option<Arc<Account>>> {
        if name.is_default() {
            return Ok(None);
        }
        let Some(account) = self.get(name) else {
            return Ok(None);
        };
        if let Some(store) = &self.store {
            store.remove(name).await?;
        }
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
        self.bump();
        Ok(Some(account))
    }
}

#[cfg(test)]
mod tests;
