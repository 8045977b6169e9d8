//! Accounts: a name, a token with its lifecycle, and that token's feed.
//!
//! Each account keeps its state in its own directory of the data dir,
//! `accounts/{name}/` (`token.json`, `feed.json`), written atomically. The
//! account named `default` always exists (it may have no token yet): it is
//! what `IGFEED_ACCESS_TOKEN` seeds and what `/feed`, `/token` and
//! `/admin/token` stand for. Others are added and removed through the admin
//! API.
//!
//! - [`name`]: valid account names.
//! - [`disk`]: the directory layout, taking over a single-account data dir,
//!   and removing an account's directory atomically.

mod disk;
pub mod name;

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use tokio::sync::{Mutex, MutexGuard, watch};

use crate::config::Secret;
use crate::feed::{AccountFeed, SnapshotFile};
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
    /// `IGFEED_DATA_DIR/accounts`; `None` keeps everything in memory.
    root: Option<PathBuf>,
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
        this.insert(this.account(AccountName::default_account(), tokens, None));
        this
    }

    fn empty(root: Option<PathBuf>, policy: RefreshPolicy) -> Self {
        Self {
            root,
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
        let this = Self::empty(Some(root.clone()), policy);
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
            let account = this.account(name, tokens, Some(SnapshotFile::new(&dir)));
            this.insert(account);
        }
        Ok(this)
    }

    fn account(
        &self,
        name: AccountName,
        tokens: TokenManager,
        feed: Option<SnapshotFile>,
    ) -> Arc<Account> {
        Arc::new(Account {
            feed: AccountFeed::open(&name, feed, self.feeds_changed.clone()),
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

    /// The account named `name`, created (without a token, its directory
    /// made durably) when it does not exist; `true` when it was created.
    /// The caller holds [`Self::lock`] and stores a token before letting go.
    pub fn get_or_create(
        &self,
        _held: &SetGuard<'_>,
        name: &AccountName,
    ) -> io::Result<(Arc<Account>, bool)> {
        if let Some(account) = self.get(name) {
            return Ok((account, false));
        }
        let (file, feed) = match &self.root {
            Some(root) => {
                disk::create_dir(root, name)?;
                let dir = root.join(name.as_str());
                (Some(TokenFile::new(&dir)), Some(SnapshotFile::new(&dir)))
            }
            None => (None, None),
        };
        let tokens = TokenManager::empty(file, self.policy);
        let account = self.account(name.clone(), tokens, feed);
        self.insert(account.clone());
        Ok((account, true))
    }

    /// Forgets an account that [`Self::get_or_create`] just created, when
    /// its first token could not be stored.
    pub fn abandon(&self, held: &SetGuard<'_>, name: &AccountName) {
        let _ = self.remove(held, name);
    }

    /// Removes `name` and its stored state (atomically: a crash leaves the
    /// account whole or gone). `None` when unknown. `default` is never
    /// removed (it is what `/feed` stands for): `None` too, and callers
    /// refuse it first.
    pub fn remove(
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
        if let Some(root) = &self.root {
            disk::remove_dir(root, name)?;
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
