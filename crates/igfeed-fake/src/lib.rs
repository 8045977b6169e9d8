//! A fake Instagram for igfeed: the Graph API and the CDN that serves the
//! media, on a loopback port, with faults and call counts for the tests.
//!
//! It serves any number of accounts. The main one
//! ([`FakeAccountId::MAIN`]) is made by [`FakeInstagram::start`] from
//! [`FakeOptions::username`] / [`FakeOptions::user_id`] and the media given
//! there, and is the one the short controls ([`FakeInstagram::issue_token`],
//! [`FakeInstagram::set_media`], [`FakeInstagram::publish`]…) act on; more
//! come from [`FakeInstagram::add_account`], each driven by the `*_for` /
//! `*_of` / `*_to` controls. Every token belongs to one account (a refresh
//! keeps it), and the Graph API answers for that account only.
//!
//! It behaves the way igfeed has to expect the real one to:
//! - `GET /{version}/me` answers the token's account (`id`, app-scoped and
//!   distinct per account, `user_id`, `username`, `account_type`,
//!   `media_count`);
//! - `GET /{version}/me/media` answers its posts newest first, in pages of
//!   at most `limit` (capped by [`FakeOptions::max_page_size`]), with a
//!   `paging.next` URL (which carries the token) while more remain;
//!   carousels list their `children`; every field is answered whatever
//!   `fields` asks, except `alt_text` (of posts, and of children inside
//!   `children{...}`), answered only when `fields` asks for it and the
//!   post has one ([`FakeMedia::with_alt`], [`FakeChild::with_alt`]);
//! - `GET /{version}/{media-id}` answers fresh `media_url` /
//!   `thumbnail_url` of one post or carousel child of the token's account;
//!   an id of another account, like an unknown one, gets Instagram's
//!   `GraphMethodException` (HTTP 400, code 100, subcode 33);
//! - `GET /refresh_access_token?grant_type=ig_refresh_token` refuses tokens
//!   younger than [`FakeOptions::refresh_min_age`] and, by default, returns
//!   a new string and invalidates the old one at once;
//! - unknown, revoked and expired tokens get a Graph error envelope with
//!   code 190 (`OAuthException`);
//! - the CDN (`/cdn/...`), one host for every account, only serves URLs
//!   signed by the fake (`oh`) that have not expired (`oe`, hex seconds);
//!   it answers `Accept-Ranges: bytes` and single byte ranges, and
//!   `Cross-Origin-Resource-Policy: same-origin`, so browsers cannot embed
//!   its media directly.
//!
//! - Instagram Login (OAuth, `src/oauth.rs`): `GET /oauth/authorize` is a
//!   page with Allow and Deny buttons that send the browser back to the
//!   app's `redirect_uri` with a code (plus Instagram's `#_`) or
//!   `error=access_denied`; `POST /oauth/access_token` exchanges the code
//!   (single use) for a short-lived token of
//!   [`FakeOptions::oauth_account`], flat or in a `data` list
//!   ([`FakeOptions::oauth_data_shape`]), after checking
//!   [`FakeOptions::app_id`], [`FakeOptions::app_secret`] and the redirect
//!   URI; `GET /access_token?grant_type=ig_exchange_token` exchanges that
//!   for a long-lived token with its `expires_in`.
//!
//! Every Graph and CDN request waits [`FakeOptions::latency`] (zero by
//! default) before it is answered, so that a benchmark's calls overlap as
//! over a real network, and is counted in flight from the moment it is
//! routed until its answer is made (faults included):
//! [`FakeInstagram::in_flight`], [`FakeInstagram::peak_in_flight`],
//! [`FakeInstagram::reset_peak`].
//!
//! The tests drive it ([`FakeInstagram::fail`], [`FakeInstagram::calls`],
//! [`FakeInstagram::calls_by`], token rules through [`FakeOptions`]);
//! `igfeed --demo` and `igfeed fake-upstream` run the real service against
//! it, the demo with the sample account of [`demo`]. Scripts that only
//! have its URL read `GET /_fake/stats`
//! (`{"in_flight":n,"peak_in_flight":n,"calls":{"me":n,"media_list":n,"media_urls":n,"refresh":n,"cdn":n}}`)
//! and restart the peak with `POST /_fake/reset_peak`; those two are
//! neither counted as calls nor in flight.
//!
//! Posts carry fake bytes that only start like a JPEG or MP4
//! ([`FakeMedia::image`], [`sample_media`]…), or, for igfeed's picture
//! features (resized variants, `width` / `height` / `dominant_color`),
//! real baseline JPEGs of a chosen size and average colour
//! ([`photo_jpeg`], [`FakeMedia::photo`], [`FakeMedia::video_with_poster`],
//! [`FakeChild::photo`], [`FakeChild::video_with_poster`]) and a
//! decompression bomb that declares 20,000×20,000 pixels in under 2 KB
//! ([`bomb_jpeg`], [`FakeMedia::bomb`]); the CDN serves every picture as
//! `image/jpeg` (the demo's PNGs as `image/png`).
//!
//! This module holds only what callers touch: starting the fake, its
//! options, and the controls the tests pull while it runs.

mod cdn;
pub mod demo;
mod faults;
mod fields;
mod graph;
mod media;
mod oauth;
mod photo;
mod range;
mod routes;
mod state;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use bytes::Bytes;
use tokio::task::JoinHandle;

use state::{Inner, Shared};

pub use faults::Fault;
pub use media::{
    FakeChild, FakeMedia, PHOTO_SIZE, resize_media, sample_media, sample_media_for,
    sample_media_like, use_photos,
};
pub use photo::{bomb_jpeg, pad_jpeg, photo_jpeg};
pub use routes::{Route, Seen};

/// One account of a fake: a cheap handle, valid for the life of the fake
/// that made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FakeAccountId(pub usize);

impl FakeAccountId {
    /// The account the fake starts with, named by [`FakeOptions`].
    pub const MAIN: Self = Self(0);
}

/// Knobs of the fake; `Default` is a plausible Instagram.
#[derive(Clone, Debug)]
pub struct FakeOptions {
    /// Username of the main account.
    pub username: String,
    /// `user_id` of the main account.
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
    /// How long every Graph and CDN request waits before it is answered
    /// (zero: at once), as a network's round trip would.
    pub latency: Duration,
    /// The Instagram app's id that Instagram Login accepts (`client_id`).
    pub app_id: String,
    /// The app's secret (`client_secret`).
    pub app_secret: String,
    /// The account an authorization on the fake's authorize page grants.
    pub oauth_account: FakeAccountId,
    /// The code exchange answers `{"data":[{…}]}` instead of the flat
    /// `{"access_token","user_id"}` (Instagram has answered both).
    pub oauth_data_shape: bool,
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
            latency: Duration::ZERO,
            app_id: "990602627938098".into(),
            app_secret: "fake-app-secret-0123456789abcdef".into(),
            oauth_account: FakeAccountId::MAIN,
            oauth_data_shape: false,
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
    /// Starts with `opts` and the main account's `media` on `127.0.0.1`, on
    /// a free port.
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
            accounts: Vec::new(),
            tokens: HashMap::new(),
            codes: HashMap::new(),
            next_token: 0,
            faults: HashMap::new(),
            always: HashMap::new(),
            calls: HashMap::new(),
            rejected: Default::default(),
            calls_by: HashMap::new(),
            assets: HashMap::new(),
            last: HashMap::new(),
        };
        inner.add_account(None, media);
        let shared = Arc::new(Shared {
            inner: Mutex::new(inner),
            base: format!("http://{addr}"),
            secret,
            in_flight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
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

    /// Adds an account with its posts (newest first). Media ids must not be
    /// those of another account's posts ([`sample_media_for`] makes
    /// distinct ones).
    pub fn add_account(
        &self,
        username: &str,
        user_id: &str,
        media: Vec<FakeMedia>,
    ) -> FakeAccountId {
        self.shared
            .lock()
            .add_account(Some((username.to_string(), user_id.to_string())), media)
    }

    /// Every account, the main one first.
    pub fn accounts(&self) -> Vec<FakeAccountId> {
        (0..self.shared.lock().accounts.len())
            .map(FakeAccountId)
            .collect()
    }

    /// Issues a new valid long-lived token of the main account, as the App
    /// Dashboard would.
    pub fn issue_token(&self) -> String {
        self.issue_token_for(FakeAccountId::MAIN)
    }

    /// Issues a token of the main account as if it had been issued at
    /// `issued`.
    pub fn issue_token_at(&self, issued: SystemTime) -> String {
        self.issue_token_for_at(FakeAccountId::MAIN, issued)
    }

    /// Issues a new valid long-lived token of `account`.
    ///
    /// # Panics
    /// If `account` is not an account of this fake (so do the other
    /// controls that take one).
    pub fn issue_token_for(&self, account: FakeAccountId) -> String {
        self.issue_token_for_at(account, SystemTime::now())
    }

    /// Issues a token of `account` as if it had been issued at `issued`.
    pub fn issue_token_for_at(&self, account: FakeAccountId, issued: SystemTime) -> String {
        let mut inner = self.shared.lock();
        inner.account(account);
        let lifetime = inner.opts.token_lifetime;
        inner.new_token(account.0, issued, lifetime)
    }

    /// Whether Instagram would accept `token` now.
    pub fn token_is_valid(&self, token: &str) -> bool {
        self.shared.lock().lookup_token(token).is_ok()
    }

    /// The account `token` was issued for, while the fake knows the token
    /// (valid or expired, not revoked or rotated out).
    pub fn token_account(&self, token: &str) -> Option<FakeAccountId> {
        let inner = self.shared.lock();
        inner.tokens.get(token).map(|t| FakeAccountId(t.account))
    }

    /// Every token that is currently valid, of every account.
    pub fn valid_tokens(&self) -> Vec<String> {
        self.valid_tokens_where(|_| true)
    }

    /// Every token of `account` that is currently valid.
    pub fn valid_tokens_of(&self, account: FakeAccountId) -> Vec<String> {
        self.valid_tokens_where(|a| a == account.0)
    }

    fn valid_tokens_where(&self, keep: impl Fn(usize) -> bool) -> Vec<String> {
        let inner = self.shared.lock();
        inner
            .tokens
            .iter()
            .filter(|(t, ft)| keep(ft.account) && inner.lookup_token(t).is_ok())
            .map(|(t, _)| t.clone())
            .collect()
    }

    /// Invalidates every token of every account (a password change, or
    /// the app's access withdrawn).
    pub fn revoke_all(&self) {
        self.shared.lock().tokens.clear();
    }

    /// Invalidates every token of `account` (its password changed), and
    /// only those.
    pub fn revoke_account(&self, account: FakeAccountId) {
        let mut inner = self.shared.lock();
        inner.account(account);
        inner.tokens.retain(|_, t| t.account != account.0);
    }

    /// Replaces the main account's media (newest first).
    pub fn set_media(&self, media: Vec<FakeMedia>) {
        self.set_media_of(FakeAccountId::MAIN, media);
    }

    /// Replaces the media of `account` (newest first).
    pub fn set_media_of(&self, account: FakeAccountId, media: Vec<FakeMedia>) {
        self.shared.lock().set_media(account, media);
    }

    /// Adds a newest post to the main account.
    pub fn publish(&self, m: FakeMedia) {
        self.publish_to(FakeAccountId::MAIN, m);
    }

    /// Adds a newest post to `account`.
    pub fn publish_to(&self, account: FakeAccountId, m: FakeMedia) {
        let mut inner = self.shared.lock();
        let mut media = inner.account(account).media.clone();
        media.insert(0, m);
        inner.set_media(account, media);
    }

    /// The main account's media (newest first).
    pub fn media(&self) -> Vec<FakeMedia> {
        self.media_of(FakeAccountId::MAIN)
    }

    /// The media of `account` (newest first).
    pub fn media_of(&self, account: FakeAccountId) -> Vec<FakeMedia> {
        self.shared.lock().account(account).media.clone()
    }

    /// Changes options (page size, lifetimes, latency…) while running.
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

    /// Calls answered with error 190 (a token that is unknown, rotated out
    /// or expired) since the start.
    pub fn rejected_tokens(&self) -> usize {
        self.shared
            .lock()
            .rejected
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many calls `route` has answered (or failed), for every account.
    pub fn calls(&self, route: Route) -> usize {
        self.shared.lock().calls.get(&route).copied().unwrap_or(0)
    }

    /// How many of those calls were made for `account`: with a token of it
    /// (even an expired one), or, on the CDN, for an asset of it. Calls
    /// with a token the fake does not know count for no account.
    pub fn calls_by(&self, route: Route, account: FakeAccountId) -> usize {
        let inner = self.shared.lock();
        inner
            .calls_by
            .get(&(route, account.0))
            .copied()
            .unwrap_or(0)
    }

    /// Graph and CDN requests being answered now.
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight.load(Ordering::SeqCst)
    }

    /// The most Graph and CDN requests that were answered at once since the
    /// start or [`Self::reset_peak`].
    pub fn peak_in_flight(&self) -> usize {
        self.shared.peak.load(Ordering::SeqCst)
    }

    /// Restarts the peak from the requests in flight now.
    pub fn reset_peak(&self) {
        self.shared.reset_peak();
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

    /// The bytes the CDN serves for an asset (of any account).
    pub fn asset(&self, asset: &str) -> Option<Bytes> {
        self.shared
            .lock()
            .assets
            .get(asset)
            .map(|a| a.bytes.clone())
    }
}
