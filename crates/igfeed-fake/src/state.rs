//! What a running fake knows (options, posts, tokens, faults, what it has
//! seen), kept behind one lock because the control API and the request
//! handlers run on different tasks and must see the same account.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;

use crate::graph::FakeToken;
use crate::{FakeMedia, FakeOptions, Fault, Route, Seen};

pub(crate) struct Inner {
    pub(crate) opts: FakeOptions,
    pub(crate) media: Vec<FakeMedia>,
    pub(crate) tokens: HashMap<String, FakeToken>,
    pub(crate) next_token: u64,
    pub(crate) faults: HashMap<Route, VecDeque<Fault>>,
    pub(crate) always: HashMap<Route, Fault>,
    pub(crate) calls: HashMap<Route, usize>,
    /// CDN assets by name: content type and bytes.
    pub(crate) assets: HashMap<String, (&'static str, Bytes)>,
    pub(crate) last: HashMap<Route, Seen>,
}

pub(crate) struct Shared {
    pub(crate) inner: Mutex<Inner>,
    pub(crate) base: String,
    pub(crate) secret: String,
}

impl Shared {
    /// A panic while the lock was held must not wedge every later call, so a
    /// poisoned lock is used as is.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    /// The CDN's assets are rebuilt with the posts so it never serves bytes
    /// of a post the account no longer has.
    pub(crate) fn set_media(&mut self, media: Vec<FakeMedia>) {
        self.assets.clear();
        for m in &media {
            m.register_assets(&mut self.assets);
        }
        self.media = media;
    }
}
