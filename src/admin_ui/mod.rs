//! The admin web page (`/admin/`): what it keeps between requests —
//! sessions, pending Instagram authorizations, failed logins — and the
//! pages themselves ([`pages`]). The handlers are in
//! `routes/admin_ui.rs` and `routes/connect.rs`.
//!
//! - A **session** starts when the admin key is typed into the login form:
//!   a random id in an `HttpOnly`, `SameSite=Strict` cookie (`Path=/admin`,
//!   `Secure` when `IGFEED_PUBLIC_URL` is https), kept server-side for 12
//!   hours, by its SHA-256 only. Each session has its own CSRF token, which
//!   every form that changes something carries, and a one-line flash
//!   message shown by the next page (redirect after POST).
//! - A **pending authorization** (Connect with Instagram) is the `state`
//!   sent to Instagram: 32 random bytes, single use, valid 10 minutes,
//!   bound to the session that started it and to the account name. The
//!   callback arrives from Instagram, a cross-site navigation on which
//!   browsers withhold `SameSite=Strict` cookies; the browser is then
//!   recognised by a second cookie of its session, `SameSite=Lax` and sent
//!   to `/admin/oauth/` only.
//! - **Failed logins** are counted per client address (an IPv6 /64 counts
//!   as one): 5 in a minute and the login form answers 429 until the
//!   minute is over.
//!
//! Every store is bounded in size; the oldest entries make room.

mod expiring;
pub mod pages;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, header};
use base64::prelude::{BASE64_URL_SAFE_NO_PAD, Engine as _};
use sha2::{Digest, Sha256};

use crate::accounts::AccountName;
use crate::config::Config;
use crate::graph::login::LoginApp;
pub use expiring::{Expiring, Taken};

/// The session cookie (`SameSite=Strict`, `Path=/admin`).
pub const SESSION_COOKIE: &str = "igfeed_session";
/// The session's second cookie, sent back by the browser on its return
/// from Instagram (`SameSite=Lax`, `Path=/admin/oauth`).
pub const OAUTH_COOKIE: &str = "igfeed_oauth";
/// The login form's CSRF cookie (`Path=/admin/login`).
pub const LOGIN_COOKIE: &str = "igfeed_login";

/// Where Instagram sends people back to, under `IGFEED_PUBLIC_URL`.
pub const CALLBACK_PATH: &str = "/admin/oauth/callback";

/// Sessions kept at most (the oldest make room).
const MAX_SESSIONS: usize = 1_000;
/// Pending authorizations kept at most.
const MAX_PENDING: usize = 1_000;
/// Client addresses whose failed logins are counted at most.
const MAX_CLIENTS: usize = 10_000;

/// Limits of the admin page: fixed in production, shortened by tests.
#[derive(Clone, Copy, Debug)]
pub struct UiTuning {
    /// How long a session lasts after login.
    pub session_ttl: Duration,
    /// How long a `state` sent to Instagram stays usable.
    pub state_ttl: Duration,
    /// Failed logins from one client allowed per window…
    pub login_failures: u32,
    /// … and the window.
    pub login_window: Duration,
}

impl Default for UiTuning {
    fn default() -> Self {
        Self {
            session_ttl: Duration::from_secs(12 * 3600),
            state_ttl: Duration::from_secs(10 * 60),
            login_failures: 5,
            login_window: Duration::from_secs(60),
        }
    }
}

/// A store key: the SHA-256 of a secret a browser holds.
pub type Key = [u8; 32];

/// The SHA-256 of `secret`.
pub fn key_of(secret: &str) -> Key {
    Sha256::digest(secret.as_bytes()).into()
}

/// 32 random bytes, URL-safe base64 (43 characters).
pub fn random_secret() -> String {
    BASE64_URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// Compares in time independent of where the inputs differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    crate::routes::admin::constant_time_eq(a.as_bytes(), b.as_bytes())
}

/// A one-line message for the next page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flash {
    /// A success (else an error).
    pub ok: bool,
    pub text: String,
}

impl Flash {
    pub fn ok(text: impl Into<String>) -> Self {
        Self {
            ok: true,
            text: text.into(),
        }
    }

    pub fn error(text: impl Into<String>) -> Self {
        Self {
            ok: false,
            text: text.into(),
        }
    }
}

/// One logged-in browser.
#[derive(Clone, Debug)]
pub struct Session {
    /// The CSRF token of its forms.
    pub csrf: String,
    /// The key of its [`OAUTH_COOKIE`].
    oauth: Key,
    flash: Option<Flash>,
}

/// A session just started: the values of its two cookies.
pub struct NewSession {
    pub id: String,
    pub oauth: String,
}

/// A `state` sent to Instagram, waiting for the person to come back.
#[derive(Clone, Debug)]
pub struct Pending {
    /// The session that started it.
    pub session: Key,
    /// The account the token will be stored as.
    pub account: AccountName,
}

#[derive(Clone, Debug)]
struct Failures {
    count: u32,
    until: Instant,
}

/// The admin page's state. Share it behind an `Arc`.
pub struct AdminUi {
    sessions: Expiring<Key, Session>,
    pending: Expiring<Key, Pending>,
    failures: Expiring<IpAddr, Failures>,
    pub tuning: UiTuning,
    /// Connect with Instagram, when its settings are all there.
    pub login: Option<LoginApp>,
    /// The settings Connect with Instagram lacks, by variable name.
    pub missing: Vec<&'static str>,
    /// Cookies carry `Secure` (`IGFEED_PUBLIC_URL` is https).
    pub secure: bool,
    /// The pages' `Content-Security-Policy`.
    pub policy: HeaderValue,
}

impl AdminUi {
    pub fn new(config: &Config, tuning: UiTuning) -> Self {
        let mut missing = Vec::new();
        if config.ig_app_id.is_none() {
            missing.push("IGFEED_IG_APP_ID");
        }
        if config.ig_app_secret.is_none() {
            missing.push("IGFEED_IG_APP_SECRET");
        }
        if config.public_url.is_none() {
            missing.push("IGFEED_PUBLIC_URL");
        }
        let login = match (&config.ig_app_id, &config.ig_app_secret, &config.public_url) {
            (Some(id), Some(secret), Some(public)) => Some(LoginApp {
                app_id: id.clone(),
                app_secret: secret.clone(),
                redirect_uri: format!("{public}{CALLBACK_PATH}"),
                authorize_base: config.oauth_url.clone(),
                api_base: config.oauth_api_url.clone(),
            }),
            _ => None,
        };
        let secure = config
            .public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"));
        let policy = pages::policy(login.as_ref().map(|l| &l.authorize_base));
        Self {
            sessions: Expiring::new(MAX_SESSIONS),
            pending: Expiring::new(MAX_PENDING),
            failures: Expiring::new(MAX_CLIENTS),
            tuning,
            login,
            missing,
            secure,
            policy,
        }
    }

    /// Starts a session (after a correct key).
    pub fn start_session(&self) -> NewSession {
        let id = random_secret();
        let oauth = random_secret();
        let session = Session {
            csrf: random_secret(),
            oauth: key_of(&oauth),
            flash: None,
        };
        self.sessions
            .insert(key_of(&id), session, self.tuning.session_ttl);
        NewSession { id, oauth }
    }

    /// The live session of a session cookie's value.
    pub fn session(&self, id: &str) -> Option<(Key, Session)> {
        let key = key_of(id);
        self.sessions.get(&key).map(|s| (key, s))
    }

    /// The live session under `key`.
    pub fn session_by_key(&self, key: &Key) -> Option<Session> {
        self.sessions.get(key)
    }

    /// Whether `oauth` (an [`OAUTH_COOKIE`] value) is `session`'s.
    pub fn is_oauth_cookie_of(&self, session: &Session, oauth: &str) -> bool {
        crate::routes::admin::constant_time_eq(&key_of(oauth), &session.oauth)
    }

    /// Ends a session (logout).
    pub fn end_session(&self, key: &Key) {
        self.sessions.remove(key);
    }

    /// Sessions live now (for tests and the bound).
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// Leaves `flash` for the session's next page.
    pub fn flash(&self, key: &Key, flash: Flash) {
        self.sessions.update(key, |s| s.flash = Some(flash));
    }

    /// The session's flash message, once.
    pub fn take_flash(&self, key: &Key) -> Option<Flash> {
        let mut taken = None;
        self.sessions.update(key, |s| taken = s.flash.take());
        taken
    }

    /// A new `state` for `account`, bound to `session`.
    pub fn start_connect(&self, session: Key, account: AccountName) -> String {
        let state = random_secret();
        self.pending.insert(
            key_of(&state),
            Pending { session, account },
            self.tuning.state_ttl,
        );
        state
    }

    /// The authorization `state` stands for; it cannot be used again.
    pub fn take_connect(&self, state: &str) -> Taken<Pending> {
        self.pending.take(&key_of(state))
    }

    /// How long logins from `ip` are refused still, if they are.
    pub fn login_blocked(&self, ip: IpAddr) -> Option<Duration> {
        let f = self.failures.get(&bucket(ip))?;
        (f.count >= self.tuning.login_failures)
            .then(|| f.until.saturating_duration_since(Instant::now()))
    }

    /// Counts a failed login from `ip`.
    pub fn login_failed(&self, ip: IpAddr) {
        let key = bucket(ip);
        if !self.failures.update(&key, |f| f.count += 1) {
            let window = self.tuning.login_window;
            let first = Failures {
                count: 1,
                until: Instant::now() + window,
            };
            self.failures.insert(key, first, window);
        }
    }

    /// A correct login from `ip` forgets its failures.
    pub fn login_succeeded(&self, ip: IpAddr) {
        self.failures.remove(&bucket(ip));
    }

    /// A `Set-Cookie` value: `HttpOnly`, `SameSite` as given, `Secure`
    /// behind https; `max_age` zero removes the cookie.
    pub fn cookie(
        &self,
        name: &str,
        value: &str,
        path: &str,
        same_site: &str,
        max_age: Duration,
    ) -> HeaderValue {
        let same_site = if same_site == "Lax" {
            cookie::SameSite::Lax
        } else {
            cookie::SameSite::Strict
        };
        let max_age =
            cookie::time::Duration::seconds(i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX));
        let c = cookie::Cookie::build((name, value))
            .path(path)
            .max_age(max_age)
            .http_only(true)
            .same_site(same_site)
            .secure(self.secure)
            .build();
        HeaderValue::from_str(&c.to_string()).expect("cookie values are base64url")
    }
}

/// The address failed logins are counted under: an IPv6 client usually
/// has a whole /64, so that is one client.
fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

/// The value of the cookie `name` in `headers`, if sent.
pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .and_then(|c| c.value_raw())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ui() -> AdminUi {
        AdminUi::new(&Config::defaults(), UiTuning::default())
    }

    #[test]
    fn sessions_keep_a_flash_once_and_end() {
        let ui = ui();
        let s = ui.start_session();
        let (key, session) = ui.session(&s.id).unwrap();
        assert_eq!(session.csrf.len(), 43);
        assert!(ui.is_oauth_cookie_of(&session, &s.oauth));
        assert!(!ui.is_oauth_cookie_of(&session, &s.id));
        ui.flash(&key, Flash::ok("done"));
        assert_eq!(ui.take_flash(&key), Some(Flash::ok("done")));
        assert_eq!(ui.take_flash(&key), None);
        ui.end_session(&key);
        assert!(ui.session(&s.id).is_none());
        assert!(ui.session("made-up").is_none());
    }

    #[test]
    fn a_state_is_single_use_and_bound_to_its_session_and_account() {
        let ui = ui();
        let s = ui.start_session();
        let (key, _) = ui.session(&s.id).unwrap();
        let state = ui.start_connect(key, AccountName::parse("shop").unwrap());
        match ui.take_connect(&state) {
            Taken::Valid(p) => {
                assert_eq!(p.session, key);
                assert_eq!(p.account.as_str(), "shop");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(ui.take_connect(&state), Taken::Unknown));
    }

    #[test]
    fn failed_logins_are_limited_per_client_and_ipv6_slash_64() {
        let ui = ui();
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "192.0.2.7".parse().unwrap();
        for _ in 0..4 {
            ui.login_failed(a);
        }
        assert!(ui.login_blocked(b).is_none());
        ui.login_failed(b);
        let left = ui.login_blocked(a).expect("the same /64 is blocked");
        assert!(left <= Duration::from_secs(60) && left > Duration::from_secs(50));
        assert!(ui.login_blocked(c).is_none());
        ui.login_succeeded(a);
        assert!(ui.login_blocked(b).is_none());
    }

    #[test]
    fn cookies_are_http_only_and_secure_behind_https() {
        let mut config = Config::defaults();
        let plain = AdminUi::new(&config, UiTuning::default());
        // Attributes in any order (RFC 6265 does not order them), each
        // exactly once, and nothing else.
        let attributes = |v: HeaderValue| {
            let mut parts: Vec<String> = v
                .to_str()
                .unwrap()
                .split("; ")
                .map(str::to_string)
                .collect();
            parts[1..].sort();
            parts
        };
        let c = plain.cookie("n", "v", "/admin", "Strict", Duration::from_secs(60));
        assert_eq!(
            attributes(c),
            [
                "n=v",
                "HttpOnly",
                "Max-Age=60",
                "Path=/admin",
                "SameSite=Strict"
            ]
        );
        config.public_url = Some("https://feeds.example.com".into());
        let tls = AdminUi::new(&config, UiTuning::default());
        let c = tls.cookie("n", "v", "/admin", "Lax", Duration::ZERO);
        assert_eq!(
            attributes(c),
            [
                "n=v",
                "HttpOnly",
                "Max-Age=0",
                "Path=/admin",
                "SameSite=Lax",
                "Secure"
            ]
        );
        assert!(tls.login.is_none());
        assert_eq!(tls.missing, ["IGFEED_IG_APP_ID", "IGFEED_IG_APP_SECRET"]);
    }

    #[test]
    fn cookies_are_read_from_every_cookie_header() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; b=2"));
        h.append(header::COOKIE, HeaderValue::from_static("c=3"));
        assert_eq!(cookie_value(&h, "b"), Some("2"));
        assert_eq!(cookie_value(&h, "c"), Some("3"));
        assert_eq!(cookie_value(&h, "d"), None);
    }
}
