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

pub mod demo;
mod media;
mod range;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;

use range::Wanted;

pub use media::{FakeChild, FakeMedia, resize_media, sample_media};

/// The parts of the fake whose calls are counted and can be made to fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    /// `GET /{version}/me`
    Me,
    /// `GET /{version}/me/media` (each page counts)
    MediaList,
    /// `GET /{version}/{media-id}`
    MediaUrls,
    /// `GET /refresh_access_token`
    Refresh,
    /// `GET /cdn/...`
    Cdn,
}

/// A way for a call to fail.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer normally (to queue a fault behind good answers).
    Pass,
    /// This HTTP status with an HTML body (a load balancer's error page).
    Status(u16),
    /// A Graph error envelope with this HTTP status and `error.code`.
    GraphError {
        status: u16,
        code: i64,
        message: String,
    },
    /// 200 with a body that is not JSON.
    Garbage,
    /// 200 with JSON cut off in the middle.
    Truncated,
    /// Never answers (until the client gives up).
    Hang,
    /// Answers 200 but trickles the body over this long.
    Slow(Duration),
    /// 200 with a JSON body of about this many bytes.
    Huge(usize),
}

#[derive(Clone, Debug)]
struct FakeToken {
    issued: SystemTime,
    lifetime: Duration,
}

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

struct Inner {
    opts: FakeOptions,
    media: Vec<FakeMedia>,
    tokens: HashMap<String, FakeToken>,
    next_token: u64,
    faults: HashMap<Route, VecDeque<Fault>>,
    always: HashMap<Route, Fault>,
    calls: HashMap<Route, usize>,
    /// CDN assets by name: content type and bytes.
    assets: HashMap<String, (&'static str, Bytes)>,
    last: HashMap<Route, Seen>,
}

/// What the fake saw of the last call to a route (never the token).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Seen {
    /// The path, without the query (which carries the token).
    pub path: String,
    /// The `fields` parameter, if any.
    pub fields: Option<String>,
    /// The `limit` parameter, if any.
    pub limit: Option<String>,
    pub user_agent: Option<String>,
}

struct Shared {
    inner: Mutex<Inner>,
    base: String,
    secret: String,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
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
        let app = Router::new().fallback(dispatch).with_state(shared.clone());
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
        signed_url(&self.shared, asset, SystemTime::now() + lifetime)
    }

    /// The bytes the CDN serves for an asset.
    pub fn asset(&self, asset: &str) -> Option<Bytes> {
        self.shared.lock().assets.get(asset).map(|(_, b)| b.clone())
    }
}

impl Inner {
    fn set_media(&mut self, media: Vec<FakeMedia>) {
        self.assets.clear();
        for m in &media {
            m.register_assets(&mut self.assets);
        }
        self.media = media;
    }

    fn new_token(&mut self, issued: SystemTime, lifetime: Duration) -> String {
        self.next_token += 1;
        let token = format!("IGAAfake{}x{:016x}", self.next_token, rand::random::<u64>());
        self.tokens
            .insert(token.clone(), FakeToken { issued, lifetime });
        token
    }

    fn check_token(&self, token: &str) -> Result<&FakeToken, Box<Response>> {
        match self.tokens.get(token) {
            None => Err(Box::new(graph_error(
                400,
                190,
                "Invalid OAuth access token - Cannot parse access token",
            ))),
            Some(t) if t.issued + t.lifetime <= SystemTime::now() => Err(Box::new(graph_error(
                400,
                190,
                "Error validating access token: Session has expired",
            ))),
            Some(t) => Ok(t),
        }
    }

    fn take_fault(&mut self, route: Route) -> Option<Fault> {
        if let Some(f) = self.always.get(&route) {
            return Some(f.clone());
        }
        self.faults.get_mut(&route).and_then(VecDeque::pop_front)
    }
}

fn graph_error(status: u16, code: i64, message: &str) -> Response {
    let body = json!({"error": {
        "message": message,
        "type": if code == 190 { "OAuthException" } else { "IGApiException" },
        "code": code,
        "fbtrace_id": "AiIN6AR8BYTYzmsXn6aDyj0",
    }});
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn json_ok(v: Value) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], v.to_string()).into_response()
}

fn signature(shared: &Shared, asset: &str, oe: &str) -> String {
    let d = Sha256::digest(format!("{}:{asset}:{oe}", shared.secret).as_bytes());
    d[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn signed_url(shared: &Shared, asset: &str, expires: SystemTime) -> String {
    let oe = format!(
        "{:X}",
        expires
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
    );
    let oh = signature(shared, asset, &oe);
    format!("{}/cdn/{asset}?_nc_ht=fake&oh={oh}&oe={oe}", shared.base)
}

async fn dispatch(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let route = match segs.as_slice() {
        ["refresh_access_token"] => Route::Refresh,
        ["cdn", _] => Route::Cdn,
        [v, "me"] if v.starts_with('v') => Route::Me,
        [v, "me", "media"] if v.starts_with('v') => Route::MediaList,
        [v, _] if v.starts_with('v') => Route::MediaUrls,
        _ => return (StatusCode::NOT_FOUND, "unknown path").into_response(),
    };
    let fault = {
        let mut inner = shared.lock();
        *inner.calls.entry(route).or_default() += 1;
        let seen = Seen {
            path: path.clone(),
            fields: query.get("fields").cloned(),
            limit: query.get("limit").cloned(),
            user_agent: req
                .headers()
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        };
        inner.last.insert(route, seen);
        inner.take_fault(route)
    };
    if let Some(fault) = fault.filter(|f| !matches!(f, Fault::Pass)) {
        return apply_fault(fault).await;
    }
    match route {
        Route::Cdn => cdn(&shared, segs[1], &query, req.headers()),
        Route::Refresh => refresh(&shared, &query),
        Route::Me => me(&shared, &query),
        Route::MediaList => media_list(&shared, segs[0], &query),
        Route::MediaUrls => media_urls(&shared, segs[1], &query),
    }
}

async fn apply_fault(fault: Fault) -> Response {
    match fault {
        Fault::Pass => StatusCode::NO_CONTENT.into_response(),
        Fault::Status(s) => (
            StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body>Service Unavailable</body></html>",
        )
            .into_response(),
        Fault::GraphError {
            status,
            code,
            message,
        } => graph_error(status, code, &message),
        Fault::Garbage => json_like("<html>this is not json".into()),
        Fault::Truncated => json_like(r#"{"data":[{"id":"1790000","media_type":"IMA"#.into()),
        Fault::Hang => {
            std::future::pending::<()>().await;
            unreachable!()
        }
        Fault::Slow(total) => {
            let body = br#"{"data":[],"paging":{}}"#.to_vec();
            let step = total / body.len() as u32;
            let stream = futures_util::stream::unfold(0usize, move |i| {
                let body = body.clone();
                async move {
                    if i >= body.len() {
                        return None;
                    }
                    tokio::time::sleep(step).await;
                    Some((
                        Ok::<_, std::io::Error>(Bytes::copy_from_slice(&body[i..=i])),
                        i + 1,
                    ))
                }
            });
            (
                [(header::CONTENT_TYPE, "application/json")],
                Body::from_stream(stream),
            )
                .into_response()
        }
        Fault::Huge(n) => {
            let filler = "x".repeat(n);
            json_like(format!(r#"{{"data":[],"filler":"{filler}"}}"#))
        }
    }
}

fn json_like(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn token_of(query: &HashMap<String, String>) -> &str {
    query.get("access_token").map(String::as_str).unwrap_or("")
}

fn me(shared: &Shared, query: &HashMap<String, String>) -> Response {
    let inner = shared.lock();
    if let Err(r) = inner.check_token(token_of(query)) {
        return *r;
    }
    json_ok(json!({
        "id": "26000000000000000",
        "user_id": inner.opts.user_id,
        "username": inner.opts.username,
        "account_type": "Business",
        "media_count": inner.media.len(),
    }))
}

fn media_list(shared: &Shared, version: &str, query: &HashMap<String, String>) -> Response {
    let inner = shared.lock();
    let token = token_of(query);
    if let Err(r) = inner.check_token(token) {
        return *r;
    }
    let limit = query
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(25)
        .clamp(1, inner.opts.max_page_size.max(1));
    let start = query
        .get("after")
        .and_then(|a| a.strip_prefix("cursor"))
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0)
        .min(inner.media.len());
    let end = (start + limit).min(inner.media.len());
    let lifetime = inner.opts.url_lifetime;
    let expires = SystemTime::now() + lifetime;
    let data: Vec<Value> = inner.media[start..end]
        .iter()
        .map(|m| {
            m.to_json(
                |asset| signed_url(shared, asset, expires),
                &inner.opts.username,
            )
        })
        .collect();
    let mut paging =
        json!({"cursors": {"before": format!("cursor{start}"), "after": format!("cursor{end}")}});
    if end < inner.media.len() {
        let mut next =
            url::Url::parse(&format!("{}/{version}/me/media", shared.base)).expect("base URL");
        next.query_pairs_mut()
            .append_pair("access_token", token)
            .append_pair(
                "fields",
                query.get("fields").map(String::as_str).unwrap_or("id"),
            )
            .append_pair("limit", &limit.to_string())
            .append_pair("after", &format!("cursor{end}"));
        paging["next"] = Value::String(next.into());
    }
    json_ok(json!({"data": data, "paging": paging}))
}

fn media_urls(shared: &Shared, id: &str, query: &HashMap<String, String>) -> Response {
    let inner = shared.lock();
    if let Err(r) = inner.check_token(token_of(query)) {
        return *r;
    }
    let expires = SystemTime::now() + inner.opts.url_lifetime;
    match inner.media.iter().find_map(|m| m.find(id)) {
        Some((media_asset, thumb_asset)) => {
            let mut v = json!({"id": id});
            if let Some(a) = media_asset {
                v["media_url"] = Value::String(signed_url(shared, &a, expires));
            }
            if let Some(a) = thumb_asset {
                v["thumbnail_url"] = Value::String(signed_url(shared, &a, expires));
            }
            json_ok(v)
        }
        None => graph_error(
            400,
            100,
            "Unsupported get request. Object with ID does not exist",
        ),
    }
}

fn refresh(shared: &Shared, query: &HashMap<String, String>) -> Response {
    let mut inner = shared.lock();
    if query.get("grant_type").map(String::as_str) != Some("ig_refresh_token") {
        return graph_error(400, 100, "Invalid grant_type");
    }
    let token = token_of(query).to_string();
    let issued = match inner.check_token(&token) {
        Ok(t) => t.issued,
        Err(r) => return *r,
    };
    let age = SystemTime::now().duration_since(issued).unwrap_or_default();
    if age < inner.opts.refresh_min_age {
        return graph_error(400, 100, "The access token is too new to be refreshed");
    }
    let lifetime = inner.opts.token_lifetime;
    let new = if inner.opts.rotate_on_refresh {
        let grace = inner.opts.rotation_grace;
        if grace.is_zero() {
            inner.tokens.remove(&token);
        } else if let Some(old) = inner.tokens.get_mut(&token) {
            let age = SystemTime::now()
                .duration_since(old.issued)
                .unwrap_or_default();
            old.lifetime = old.lifetime.min(age + grace);
        }
        inner.new_token(SystemTime::now(), lifetime)
    } else {
        inner.tokens.insert(
            token.clone(),
            FakeToken {
                issued: SystemTime::now(),
                lifetime,
            },
        );
        token
    };
    json_ok(json!({
        "access_token": new,
        "token_type": "bearer",
        "expires_in": lifetime.as_secs(),
    }))
}

fn cdn(
    shared: &Shared,
    asset: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Response {
    let text = |status: StatusCode, body: &'static str| {
        (status, [(header::CONTENT_TYPE, "text/plain")], body).into_response()
    };
    let (Some(oe), Some(oh)) = (query.get("oe"), query.get("oh")) else {
        return text(StatusCode::FORBIDDEN, "Bad URL timestamp");
    };
    if signature(shared, asset, oe) != *oh {
        return text(StatusCode::FORBIDDEN, "URL signature mismatch");
    }
    let Ok(expiry) = u64::from_str_radix(oe, 16) else {
        return text(StatusCode::FORBIDDEN, "Bad URL timestamp");
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    if expiry <= now {
        return text(StatusCode::FORBIDDEN, "URL signature expired");
    }
    let Some((content_type, bytes)) = shared.lock().assets.get(asset).cloned() else {
        return text(StatusCode::NOT_FOUND, "Not Found");
    };
    let total = bytes.len() as u64;
    let mut res_headers = HeaderMap::new();
    res_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    res_headers.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    res_headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    res_headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=1209600, no-transform"),
    );
    let wanted = headers
        .get(header::RANGE)
        .and_then(|r| r.to_str().ok())
        .map_or(Wanted::Everything, |r| range::wanted(r, total));
    match wanted {
        Wanted::Everything => (StatusCode::OK, res_headers, bytes).into_response(),
        Wanted::Slice { first, last } => {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {first}-{last}/{total}")) {
                res_headers.insert(header::CONTENT_RANGE, v);
            }
            let slice = bytes.slice(first as usize..=last as usize);
            (StatusCode::PARTIAL_CONTENT, res_headers, slice).into_response()
        }
        Wanted::Nothing => {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{total}")) {
                res_headers.insert(header::CONTENT_RANGE, v);
            }
            (StatusCode::RANGE_NOT_SATISFIABLE, res_headers).into_response()
        }
    }
}
