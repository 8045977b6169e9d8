//! What a running fake knows (options, accounts and their posts, tokens,
//! faults, what it has seen), kept behind one lock because the control API
//! and the request handlers run on different tasks and must see the same
//! accounts. The in-flight gauge sits beside the lock, in atomics, so that
//! counting a request never waits for another one's handler.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;

use crate::graph::FakeToken;
use crate::oauth::FakeCode;
use crate::{FakeAccountId, FakeMedia, FakeOptions, Fault, Route, Seen};

/// One account of the fake.
pub(crate) struct Account {
    /// Username and user id; `None` for the main account, whose name and id
    /// are those of [`FakeOptions`] (a test may change them while running).
    pub(crate) identity: Option<(String, String)>,
    /// Newest first.
    pub(crate) media: Vec<FakeMedia>,
}

/// One file the CDN serves, and the account whose post it belongs to.
pub(crate) struct Asset {
    pub(crate) account: usize,
    pub(crate) content_type: &'static str,
    pub(crate) bytes: Bytes,
}

pub(crate) struct Inner {
    pub(crate) opts: FakeOptions,
    /// Index 0 is the main account; accounts are never removed, so a
    /// [`FakeAccountId`] stays valid for the fake's life.
    pub(crate) accounts: Vec<Account>,
    pub(crate) tokens: HashMap<String, FakeToken>,
    /// Authorization codes the authorize page handed out (used ones stay,
    /// to be refused as used).
    pub(crate) codes: HashMap<String, FakeCode>,
    pub(crate) next_token: u64,
    pub(crate) faults: HashMap<Route, VecDeque<Fault>>,
    pub(crate) always: HashMap<Route, Fault>,
    pub(crate) calls: HashMap<Route, usize>,
    /// Calls that could be told apart by account (a known token, or an
    /// asset of that account).
    pub(crate) calls_by: HashMap<(Route, usize), usize>,
    /// CDN assets of every account, by name.
    pub(crate) assets: HashMap<String, Asset>,
    pub(crate) last: HashMap<Route, Seen>,
    /// Calls answered with error 190 (an unknown, rotated-out or expired
    /// token).
    pub(crate) rejected: std::sync::atomic::AtomicUsize,
}

pub(crate) struct Shared {
    pub(crate) inner: Mutex<Inner>,
    pub(crate) base: String,
    pub(crate) secret: String,
    /// Graph and CDN requests being answered now.
    pub(crate) in_flight: AtomicUsize,
    /// The most there have been at once since start or the last reset.
    pub(crate) peak: AtomicUsize,
}

impl Shared {
    /// A panic while the lock was held must not wedge every later call, so a
    /// poisoned lock is used as is.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts one request in flight until the guard is dropped, which also
    /// happens when the client goes away and the handler is cancelled.
    pub(crate) fn enter(&self) -> InFlight<'_> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        InFlight(self)
    }

    /// The peak restarts from the requests in flight now (they do overlap
    /// whatever comes next).
    pub(crate) fn reset_peak(&self) {
        self.peak
            .store(self.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

pub(crate) struct InFlight<'a>(&'a Shared);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Inner {
    /// The account behind an id.
    ///
    /// # Panics
    /// If this fake never made `id` (an id of another fake).
    pub(crate) fn account(&self, id: FakeAccountId) -> &Account {
        self.accounts
            .get(id.0)
            .unwrap_or_else(|| panic!("{id:?} is not an account of this fake"))
    }

    pub(crate) fn username(&self, account: usize) -> &str {
        match &self.accounts[account].identity {
            Some((username, _)) => username,
            None => &self.opts.username,
        }
    }

    pub(crate) fn user_id(&self, account: usize) -> &str {
        match &self.accounts[account].identity {
            Some((_, user_id)) => user_id,
            None => &self.opts.user_id,
        }
    }

    /// Adds an account with its posts and returns its id.
    pub(crate) fn add_account(
        &mut self,
        identity: Option<(String, String)>,
        media: Vec<FakeMedia>,
    ) -> FakeAccountId {
        let id = FakeAccountId(self.accounts.len());
        self.accounts.push(Account {
            identity,
            media: Vec::new(),
        });
        self.register(id.0, &media);
        self.accounts[id.0].media = media;
        id
    }

    /// The CDN's assets of the account are rebuilt with its posts so it
    /// never serves bytes of a post the account no longer has; the other
    /// accounts' assets stay.
    pub(crate) fn set_media(&mut self, id: FakeAccountId, media: Vec<FakeMedia>) {
        self.account(id);
        self.assets.retain(|_, a| a.account != id.0);
        self.register(id.0, &media);
        self.accounts[id.0].media = media;
    }

    fn register(&mut self, account: usize, media: &[FakeMedia]) {
        for m in media {
            m.register_assets(account, &mut self.assets);
        }
    }

    /// The account a call is made for: the account of its token (even an
    /// expired one), or for the CDN the account of the asset.
    pub(crate) fn account_of_call(&self, route: Route, key: &str) -> Option<usize> {
        match route {
            Route::Cdn => self.assets.get(key).map(|a| a.account),
            Route::OAuthAuthorize | Route::OAuthToken => None,
            _ => self.tokens.get(key).map(|t| t.account),
        }
    }
}
