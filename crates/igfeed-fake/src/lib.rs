//! A fake Instagram for igfeed: the Graph API and the CDN that serves the
//! media, on a loopback port, with faults and call counts for the tests.
//!
//! It behaves the way igfeed has to expect the real one to:
//! - `GET /{version}/me` answers the account (`id`, `user_id`, `username`,
//!   `account_type`, `media_count`);
//! - `GET /{version}/me/media` answers the posts newest first, in pages of
//!   at most `limit` (capped by [`FakeOptions::max_page_size`]), with a
//!   `paging.next` URL (which carries the token) while more remain;
//!   carousels list their `children`;
//! - `GET /{version}/{media-id}` answers fresh `media_url` /
//!   `thumbnail_url` of one post or carousel child;
//! - `GET /refresh_access_token?grant_type=ig_refresh_token` refuses tokens
//!   younger than [`FakeOptions::refresh_min_age`] and, by default, returns
//!   a new string and invalidates the old one at once;
//! - unknown, revoked and expired tokens get a Graph error envelope with
//!   code 190 (`OAuthException`), unknown media code 100;
//! - the CDN (`/cdn/...`) only serves URLs signed by the fake (`oh`) that
//!   have not expired (`oe`, hex seconds); it answers `Accept-Ranges: bytes`
//!   and single byte ranges, and `Cross-Origin-Resource-Policy: same-origin`,
//!   so browsers cannot embed its media directly.
//!
//! The tests drive it ([`FakeInstagram::fail`], [`FakeInstagram::calls`],
//! token rules through [`FakeOptions`]); `igfeed --demo` and
//! `igfeed fake-upstream` run the real service against it, the demo with
//! the sample account of [`demo`].
//!
//! This module holds only what callers touch: starting the fake, its
//! options, and the controls the tests pull while it runs.

mod cdn;
pub mod demo;
mod faults;
mod graph;
mod media;
mod range;
mod routes;
mod state;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use bytes::Bytes;
use tokio::task::JoinHandle;

use state::{Inner, Shared};

pub use faults::Fault;
pub use media::{FakeChild, FakeMedia, resize_media, sample_media};
pub use routes::{Route, Seen};

/// Knobs of the fake; `Default` is a plausible Instagram.
#[derive(Clone, Debug)]
pub struct FakeOptions {
    pub username: String,
    pub user_id: String,
    /// The most media the fake puts on one page, whatever `limit` asks.
    pub max_page_size: usize,
    /// Lifetime of issued and refreshed tokens.
    pub token_lifetime: Duration,
    /// Tokens younger than this cannot be refreshed.
    pub refresh_min_age: Duration,
    /// Whether a refresh returns a new string and invalidates the old one.
    pub rotate_on_refresh: bool,
    /// How long a rotated-out token keeps working (zero: it dies at once,
    /// the safe assumption about the real Instagram).
    pub rotation_grace: Duration,
    /// How long signed CDN URLs stay valid.
    pub url_lifetime: Duration,
}

impl Default for FakeOptions {
    fn default() -> Self {
        Self {
            username: "example".into(),
            user_id: "17841400000000000".into(),
            max_page_size: 25,
            token_lifetime: Duration::from_secs(60 * 24 * 3600),
            refresh_min_age: Duration::ZERO,
            rotate_on_refresh: true,
            rotation_grace: Duration::ZERO,
            url_lifetime: Duration::from_secs(3 * 24 * 3600),
        }
    }
}

/// A running fake Instagram; stops when dropped.
pub struct FakeInstagram {
    shared: Arc<Shared>,
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for FakeInstagram {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeInstagram {
    /// Starts with `opts` and `media` on `127.0.0.1`, on a free port.
    pub async fn start(opts: FakeOptions, media: Vec<FakeMedia>) -> std::io::Result<Self> {
        Self::start_on("127.0.0.1:0".parse().expect("loopback"), opts, media).await
    }

    /// Starts on a given loopback address.
    pub async fn start_on(
        addr: SocketAddr,
        opts: FakeOptions,
        media: Vec<FakeMedia>,
    ) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let secret = format!("{:x}", rand::random::<u64>());
        let mut inner = Inner {
            opts,
            media: Vec::new(),
            tokens: HashMap::new(),
            next_token: 0,
            faults: HashMap::new(),
            always: HashMap::new(),
            calls: HashMap::new(),
            assets: HashMap::new(),
            last: HashMap::new(),
        };
        inner.set_media(media);
        let shared = Arc::new(Shared {
            inner: Mutex::new(inner),
            base: format!("http://{addr}"),
            secret,
        });
        let app = Router::new()
            .fallback(routes::dispatch)
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { shared, addr, task })
    }

    /// `http://127.0.0.1:PORT`, the Graph API base and the CDN host.
    pub fn base_url(&self) -> String {
        self.shared.base.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Issues a new valid long-lived token, as the App Dashboard would.
    pub fn issue_token(&self) -> String {
        self.issue_token_at(SystemTime::now())
    }

    /// Issues a token as if it had been issued at `issued`.
    pub fn issue_token_at(&self, issued: SystemTime) -> String {
        let mut inner = self.shared.lock();
        let lifetime = inner.opts.token_lifetime;
        inner.new_token(issued, lifetime)
    }

    /// Whether Instagram would accept `token` now.
    pub fn token_is_valid(&self, token: &str) -> bool {
        self.shared.lock().check_token(token).is_ok()
    }

    /// Every token that is currently valid.
    pub fn valid_tokens(&self) -> Vec<String> {
        let inner = self.shared.lock();
        inner
            .tokens
            .keys()
            .filter(|t| inner.check_token(t).is_ok())
            .cloned()
            .collect()
    }

    /// Invalidates every token (a password change).
    pub fn revoke_all(&self) {
        self.shared.lock().tokens.clear();
    }

    /// Replaces the account's media (newest first).
    pub fn set_media(&self, media: Vec<FakeMedia>) {
        self.shared.lock().set_media(media);
    }

    /// Adds a newest post.
    pub fn publish(&self, m: FakeMedia) {
        let mut inner = self.shared.lock();
        let mut media = std::mem::take(&mut inner.media);
        media.insert(0, m);
        inner.set_media(media);
    }

    /// The account's media (newest first).
    pub fn media(&self) -> Vec<FakeMedia> {
        self.shared.lock().media.clone()
    }

    /// Changes options (page size, lifetimes…) while running.
    pub fn configure(&self, f: impl FnOnce(&mut FakeOptions)) {
        f(&mut self.shared.lock().opts);
    }

    /// The next `times` calls to `route` fail with `fault`.
    pub fn fail(&self, route: Route, fault: Fault, times: usize) {
        let mut inner = self.shared.lock();
        let q = inner.faults.entry(route).or_default();
        for _ in 0..times {
            q.push_back(fault.clone());
        }
    }

    /// Every call to `route` fails with `fault` until [`Self::heal`].
    pub fn fail_always(&self, route: Route, fault: Fault) {
        self.shared.lock().always.insert(route, fault);
    }

    /// Ends the faults of `route`.
    pub fn heal(&self, route: Route) {
        let mut inner = self.shared.lock();
        inner.always.remove(&route);
        inner.faults.remove(&route);
    }

    /// How many calls `route` has answered (or failed).
    pub fn calls(&self, route: Route) -> usize {
        self.shared.lock().calls.get(&route).copied().unwrap_or(0)
    }

    /// What the last call to `route` looked like.
    pub fn last_seen(&self, route: Route) -> Option<Seen> {
        self.shared.lock().last.get(&route).cloned()
    }

    /// A signed CDN URL for an asset, valid for the configured URL lifetime.
    pub fn cdn_url(&self, asset: &str) -> String {
        let lifetime = self.shared.lock().opts.url_lifetime;
        cdn::signed_url(&self.shared, asset, SystemTime::now() + lifetime)
    }

    /// The bytes the CDN serves for an asset.
    pub fn asset(&self, asset: &str) -> Option<Bytes> {
        self.shared.lock().assets.get(asset).map(|(_, b)| b.clone())
    }
}
