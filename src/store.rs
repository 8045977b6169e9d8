//! Where accounts, tokens and last good feeds are kept: the data dir (one
//! process, the default) or Redis (replicas, see [`crate::replicas`]). The
//! rest of the code talks to these traits only:
//!
//! - [`AccountStore`]: the set of accounts (create, remove);
//! - [`TokenStore`]: one account's token (`load`, `compare_and_swap`);
//! - [`FeedStore`]: one account's last good feed (`store`).
//!
//! Every token write is a compare-and-swap on a version: in the data dir
//! one process is the only writer (its writer lock serialises them), so the
//! version only counts writes; in Redis it fences replicas, so a write based
//! on an older token never replaces a newer one.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use crate::accounts::AccountName;
use crate::feed::{Snapshot, SnapshotFile};
use crate::token::{TokenFile, TokenRecord};

/// A stored token and the version of that write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Versioned {
    pub version: u64,
    pub record: TokenRecord,
}

/// What a [`TokenStore::compare_and_swap`] did.
#[derive(Debug)]
pub enum Swap {
    /// Written; the new version.
    Stored(u64),
    /// Not written: a newer token was stored meanwhile (by another replica
    /// or a person); here it is.
    Newer(Versioned),
    /// Not written: the account is no longer stored.
    Gone,
}

/// One account's token.
pub trait TokenStore: Send + Sync + std::fmt::Debug {
    /// What the state is written to, for messages (`IGFEED_DATA_DIR`, `Redis`).
    fn describe(&self) -> &'static str;

    /// A stored token newer than `version`, if the store can hold one that
    /// this process did not write (Redis); the data dir never does.
    fn newer_than(&self, version: u64) -> BoxFuture<'_, io::Result<Option<Versioned>>>;

    /// Writes `record` if the stored version is still `expected`.
    fn compare_and_swap<'a>(
        &'a self,
        expected: u64,
        record: &'a TokenRecord,
    ) -> BoxFuture<'a, io::Result<Swap>>;

    /// Whether this process may refresh the token now: always in the data
    /// dir; with replicas, only while it holds the token's refresh lease.
    fn may_refresh(&self) -> bool {
        true
    }

    /// Holds the account's feed fetches off while a refresh kills the old
    /// string (with replicas: waits for a fetch running on any replica to
    /// end, and makes new ones wait); nothing in the data dir, where a fetch
    /// that meets the rotation retries with the new token.
    fn begin_refresh(&self) -> BoxFuture<'_, ()> {
        std::future::ready(()).boxed()
    }

    /// Keeps what [`Self::begin_refresh`] took while the refresh runs
    /// (never completes).
    fn keep_refresh(&self) -> BoxFuture<'_, std::convert::Infallible> {
        std::future::pending().boxed()
    }

    /// Ends [`Self::begin_refresh`].
    fn end_refresh(&self) -> BoxFuture<'_, ()> {
        std::future::ready(()).boxed()
    }

    /// Whether this process raises the token's alerts: always in the data
    /// dir; with replicas, the lease holder speaks for the token, and every
    /// replica while Redis cannot be reached (a duplicate alert beats
    /// silence).
    fn speaks(&self) -> bool {
        true
    }
}

/// One account's last good feed.
pub trait FeedStore: Send + Sync + std::fmt::Debug {
    fn store<'a>(&'a self, snapshot: &'a Snapshot) -> BoxFuture<'a, io::Result<()>>;
}

/// An account's stores, as [`AccountStore::create`] makes them.
pub struct Slots {
    pub token: Arc<dyn TokenStore>,
    pub feed: Arc<dyn FeedStore>,
}

/// The set of accounts.
pub trait AccountStore: Send + Sync {
    /// Makes `name` a stored account (nothing if it is one), durably.
    fn create<'a>(&'a self, name: &'a AccountName) -> BoxFuture<'a, io::Result<Slots>>;

    /// Removes `name` and its state, atomically.
    fn remove<'a>(&'a self, name: &'a AccountName) -> BoxFuture<'a, io::Result<()>>;
}

impl TokenStore for TokenFile {
    fn describe(&self) -> &'static str {
        "IGFEED_DATA_DIR"
    }

    fn newer_than(&self, _: u64) -> BoxFuture<'_, io::Result<Option<Versioned>>> {
        std::future::ready(Ok(None)).boxed()
    }

    fn compare_and_swap<'a>(
        &'a self,
        expected: u64,
        record: &'a TokenRecord,
    ) -> BoxFuture<'a, io::Result<Swap>> {
        let (file, copy) = (self.clone(), record.clone());
        async move {
            blocking(move || file.save(&copy)).await?;
            Ok(Swap::Stored(expected + 1))
        }
        .boxed()
    }
}

impl FeedStore for SnapshotFile {
    fn store<'a>(&'a self, snapshot: &'a Snapshot) -> BoxFuture<'a, io::Result<()>> {
        let (file, copy) = (self.clone(), snapshot.clone());
        blocking(move || file.save(&copy)).boxed()
    }
}

/// Runs a file write on the blocking pool.
async fn blocking(f: impl FnOnce() -> io::Result<()> + Send + 'static) -> io::Result<()> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(io::Error::other(e.to_string())))
}

/// The accounts' directories in the data dir (`IGFEED_DATA_DIR/accounts`).
pub struct DiskAccounts {
    pub root: PathBuf,
}

impl AccountStore for DiskAccounts {
    fn create<'a>(&'a self, name: &'a AccountName) -> BoxFuture<'a, io::Result<Slots>> {
        async move {
            crate::accounts::disk::create_dir(&self.root, name)?;
            let dir = self.root.join(name.as_str());
            Ok(Slots {
                token: Arc::new(TokenFile::new(&dir)),
                feed: Arc::new(SnapshotFile::new(&dir)),
            })
        }
        .boxed()
    }

    fn remove<'a>(&'a self, name: &'a AccountName) -> BoxFuture<'a, io::Result<()>> {
        std::future::ready(crate::accounts::disk::remove_dir(&self.root, name)).boxed()
    }
}
