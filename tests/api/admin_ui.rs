//! The admin web page (`/admin/`, `/admin/login`, the forms) and Connect
//! with Instagram (`/admin/accounts/connect`, `/admin/oauth/callback`),
//! driven as a browser would: cookies kept from `Set-Cookie`, forms posted
//! with the CSRF token read from the page, redirects looked at one by one.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use igfeed::admin_ui::UiTuning;
use igfeed::app::Tuning;
use igfeed::config::{Config, Secret};
use igfeed_fake::{
    FakeAccountId, FakeMedia, FakeOptions, Fault, Route, sample_media, sample_media_for,
};
use reqwest::header::HeaderMap;

use crate::helpers::*;

/// What igfeed is told its public URL is: Instagram sends the browser back
/// there, which the tests play by calling the app themselves.
const PUBLIC: &str = "http://igfeed.test";

/// One answer, read whole.
struct Page {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers["location"].to_str().unwrap()
    }

    fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect()
    }

    /// The set-cookie line of cookie `name`.
    fn set_cookie(&self, name: &str) -> String {
        self.set_cookies()
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no Set-Cookie for {name}: {:?}", self.set_cookies()))
    }

    /// The value of the first hidden `csrf` field.
    fn csrf(&self) -> String {
        field_value(&self.body, "csrf").expect("a CSRF field")
    }

    fn flash(&self) -> Option<String> {
        let start = self.body.find("class=\"flash ")?;
        let rest = &self.body[start..];
        let text = &rest[rest.find('>')? + 1..];
        Some(text[..text.find("</p>")?].to_string())
    }
}

/// The value of the first `name="…" value="…"` field in `html`.
fn field_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    Some(html[start..start + html[start..].find('"')?].to_string())
}

/// A browser: its cookies (kept from `Set-Cookie`, all sent back on every
/// request, path and SameSite aside unless a test drops one), no
/// automatic redirects.
struct Browser {
    base: String,
    client: reqwest::Client,
    jar: Mutex<HashMap<String, String>>,
}

impl Browser {
    fn new(app: &TestApp) -> Self {
        Self::from_address(app, None)
    }

    /// A browser whose connections come from `ip` (a loopback address).
    fn from_address(app: &TestApp, ip: Option<IpAddr>) -> Self {
        let mut b = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
        if let Some(ip) = ip {
            b = b.local_address(ip);
        }
        Self {
            base: app.url.clone(),
            client: b.build().unwrap(),
            jar: Mutex::new(HashMap::new()),
        }
    }

    fn cookie(&self, name: &str) -> Option<String> {
        self.jar.lock().unwrap().get(name).cloned()
    }

    fn drop_cookie(&self, name: &str) {
        self.jar.lock().unwrap().remove(name);
    }

    fn set_cookie(&self, name: &str, value: &str) {
        self.jar
            .lock()
            .unwrap()
            .insert(name.to_string(), value.to_string());
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Page {
        let cookies: Vec<String> = self
            .jar
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let req = if cookies.is_empty() {
            req
        } else {
            req.header("cookie", cookies.join("; "))
        };
        let res = req.send().await.unwrap();
        let page = Page {
            status: res.status().as_u16(),
            headers: res.headers().clone(),
            body: res.text().await.unwrap(),
        };
        for line in page.set_cookies() {
            let (pair, attrs) = line.split_once(';').unwrap_or((&line, ""));
            let (name, value) = pair.split_once('=').unwrap();
            let mut jar = self.jar.lock().unwrap();
            if attrs.contains("Max-Age=0") {
                jar.remove(name);
            } else {
                jar.insert(name.to_string(), value.to_string());
            }
        }
        page
    }

    async fn get(&self, path: &str) -> Page {
        self.send(self.client.get(format!("{}{path}", self.base)))
            .await
    }

    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.send(
            self.client
                .post(format!("{}{path}", self.base))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body),
        )
        .await
    }

    /// Types `key` into the login form.
    async fn try_login(&self, key: &str) -> Page {
        let form = self.get("/admin/login").await;
        assert_eq!(form.status, 200, "{}", form.body);
        let csrf = form.csrf();
        self.post("/admin/login", &[("csrf", &csrf), ("key", key)])
            .await
    }

    async fn login(&self) {
        let res = self.try_login(ADMIN_KEY).await;
        assert_eq!(res.status, 303, "{}", res.body);
        assert_eq!(res.location(), "/admin/");
    }

    async fn dashboard(&self) -> Page {
        let page = self.get("/admin/").await;
        assert_eq!(page.status, 200, "{}", page.body);
        page
    }

    /// Posts a dashboard form with this session's CSRF token; the redirect
    /// is followed to the dashboard, which is returned.
    async fn submit(&self, action: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.dashboard().await.csrf();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        let res = self.post(action, &all).await;
        assert_eq!(res.status, 303, "{action}: {}", res.body);
        assert_eq!(res.location(), "/admin/");
        self.dashboard().await
    }
}

/// The admin key, Connect with Instagram pointed at the fake (whose app id
/// and secret igfeed is given), and `PUBLIC` as the public URL.
fn with_oauth(c: &mut Config) {
    let fake = FakeOptions::default();
    c.admin_key = Some(Secret::new(ADMIN_KEY));
    c.ig_app_id = Some(fake.app_id);
    c.ig_app_secret = Some(Secret::new(fake.app_secret));
    c.public_url = Some(PUBLIC.into());
    c.oauth_url = c.graph_url.clone();
    c.oauth_api_url = c.graph_url.clone();
}

fn with_key(c: &mut Config) {
    c.admin_key = Some(Secret::new(ADMIN_KEY));
}

async fn app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_with(FakeOptions::default(), sample_media(8), tweak).await
}

async fn app_tuned(tweak: impl FnOnce(&mut Config), ui: UiTuning) -> TestApp {
    let tuning = Tuning {
        admin_ui: ui,
        ..Tuning::default()
    };
    spawn_app_tuned(FakeOptions::default(), sample_media(8), tweak, tuning).await
}

async fn logged_in(app: &TestApp) -> Browser {
    let b = Browser::new(app);
    b.login().await;
    b
}

/// The status of `GET /tokens/{account}`.
async fn token_status(app: &TestApp, account: &str) -> u16 {
    app.status(format!("/tokens/{account}")).await
}

fn assert_html_page(page: &Page) {
    let h = &page.headers;
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    assert_eq!(h["cache-control"], "no-store");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.starts_with("default-src 'none'; style-src 'sha256-"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("form-action 'self'"));
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(
        !page.body.contains("<script"),
        "no script on the admin pages"
    );
    assert!(!page.body.contains("src=\"http"), "nothing from elsewhere");
}

#[tokio::test]
async fn login_sets_a_strict_http_only_session_cookie_for_12_hours() {
    let app = app_with(with_key).await;
    let b = Browser::new(&app);
    let form = b.get("/admin/login").await;
    assert_eq!(form.status, 200);
    assert_html_page(&form);
    assert!(form.body.contains("type=\"password\" name=\"key\""));
    let res = b.try_login(ADMIN_KEY).await;
    assert_eq!(res.status, 303);
    assert_eq!(res.location(), "/admin/");
    let cookie = res.set_cookie("igfeed_session");
    for attr in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/admin;",
        "Max-Age=43200",
    ] {
        assert!(cookie.contains(attr), "{attr} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    let value = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("igfeed_session=");
    assert!(value.len() >= 43, "32 random bytes: {value}");
    // The session's second cookie only goes to the OAuth callback.
    let oauth = res.set_cookie("igfeed_oauth");
    assert!(oauth.contains("SameSite=Lax") && oauth.contains("Path=/admin/oauth;"));
    assert!(oauth.contains("HttpOnly") && oauth.contains("Max-Age=43200"));

    let page = b.dashboard().await;
    assert_html_page(&page);
    assert!(page.body.contains("id=\"account-default\""));
    // A logged-in browser skips the login form.
    let again = b.get("/admin/login").await;
    assert_eq!((again.status, again.location()), (303, "/admin/"));
    // The pages' icon (so that browsers do not ask for /favicon.ico).
    assert!(
        page.body
            .contains("<link rel=\"icon\" type=\"image/svg+xml\" href=\"/admin/icon.svg\">")
    );
    let icon = b.get("/admin/icon.svg").await;
    assert_eq!(icon.status, 200);
    assert_eq!(icon.headers["content-type"], "image/svg+xml");
    assert!(icon.body.starts_with("<svg ") && !icon.body.contains("script"));
    // `/admin` leads to the dashboard.
    let root = b.get("/admin").await;
    assert_eq!((root.status, root.location()), (308, "/admin/"));
}

#[tokio::test]
async fn cookies_are_secure_behind_an_https_public_url() {
    let app = app_with(|c| {
        with_key(c);
        c.public_url = Some("https://feeds.example.com".into());
    })
    .await;
    let res = Browser::new(&app).try_login(ADMIN_KEY).await;
    assert_eq!(res.status, 303);
    for name in ["igfeed_session", "igfeed_oauth"] {
        let cookie = res.set_cookie(name);
        // An attribute of its own (attributes come in any order).
        assert!(cookie.split("; ").any(|a| a == "Secure"), "{cookie}");
    }
}

#[tokio::test]
async fn a_wrong_key_shows_the_form_again_and_a_sixth_try_in_a_minute_is_429() {
    let (logs, _guard) = capture_logs();
    let app = app_with(with_key).await;
    let b = Browser::new(&app);
    for _ in 0..5 {
        let res = b.try_login("not-the-key").await;
        assert_eq!(res.status, 403);
        assert_html_page(&res);
        assert!(res.body.contains("That is not the admin key."));
        assert!(res.body.contains("name=\"key\""), "the form again");
        assert!(
            res.headers
                .get_all("set-cookie")
                .iter()
                .all(|c| !c.to_str().unwrap().starts_with("igfeed_session"))
        );
    }
    // Even the right key is refused now, from this address.
    let res = b.try_login(ADMIN_KEY).await;
    assert_eq!(res.status, 429);
    assert_html_page(&res);
    let retry: u64 = res.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert!(
        res.body.contains(&format!("Try again in {retry} second")),
        "{}",
        res.body
    );
    assert!(b.cookie("igfeed_session").is_none());
    // Another address is not held back.
    let other = Browser::from_address(&app, Some("127.0.0.2".parse().unwrap()));
    other.login().await;
    assert_eq!(other.dashboard().await.status, 200);
    assert!(
        !logs.text().contains("not-the-key"),
        "keys are never logged"
    );
}

#[tokio::test]
async fn failed_logins_are_forgotten_after_the_window() {
    let app = app_tuned(
        with_key,
        UiTuning {
            login_failures: 1,
            login_window: Duration::from_millis(300),
            ..UiTuning::default()
        },
    )
    .await;
    let b = Browser::new(&app);
    assert_eq!(b.try_login("wrong").await.status, 403);
    eventually(
        Duration::from_secs(10),
        "the login limit to end",
        || async { (b.try_login(ADMIN_KEY).await.status == 303).then_some(()) },
    )
    .await;
    assert_eq!(b.dashboard().await.status, 200);
}

#[tokio::test]
async fn the_login_form_needs_its_own_csrf_value() {
    let app = app_with(with_key).await;
    let b = Browser::new(&app);
    // No form fetched: no login cookie to match.
    let res = b
        .post("/admin/login", &[("csrf", "x"), ("key", ADMIN_KEY)])
        .await;
    assert_eq!(res.status, 403);
    assert!(res.body.contains("expired"));
    // A form's cookie, but another value in the field.
    b.get("/admin/login").await;
    let res = b
        .post("/admin/login", &[("csrf", "other"), ("key", ADMIN_KEY)])
        .await;
    assert_eq!(res.status, 403);
    assert!(b.cookie("igfeed_session").is_none());
    assert_eq!(app.state.as_ref().unwrap().ui.sessions(), 0);
}

#[tokio::test]
async fn logout_ends_the_session_and_removes_its_cookies() {
    let app = app_with(with_key).await;
    let b = logged_in(&app).await;
    let session = b.cookie("igfeed_session").unwrap();
    let csrf = b.dashboard().await.csrf();
    let res = b.post("/admin/logout", &[("csrf", &csrf)]).await;
    assert_eq!(res.status, 303);
    assert_eq!(res.location(), "/admin/login?logged_out");
    assert!(res.set_cookie("igfeed_session").contains("Max-Age=0"));
    assert!(res.set_cookie("igfeed_oauth").contains("Max-Age=0"));
    let note = b.get("/admin/login?logged_out").await;
    assert!(note.body.contains("You have logged out."));
    // The old cookie no longer opens anything.
    b.set_cookie("igfeed_session", &session);
    let res = b.get("/admin/").await;
    assert_eq!((res.status, res.location()), (303, "/admin/login"));
}

#[tokio::test]
async fn every_page_and_form_needs_a_session() {
    let app = app_with(with_oauth).await;
    let b = Browser::new(&app);
    b.set_cookie("igfeed_session", "made-up-session-id");
    for path in [
        "/admin/",
        "/admin/accounts/connect?account=shop",
        "/admin/actions/delete?account=default",
    ] {
        let res = b.get(path).await;
        assert_eq!(
            (res.status, res.location()),
            (303, "/admin/login"),
            "{path}"
        );
    }
    let token = app.fake.issue_token();
    for action in [
        "/admin/actions/add",
        "/admin/actions/replace",
        "/admin/actions/refresh",
        "/admin/actions/delete",
        "/admin/actions/purge",
        "/admin/logout",
    ] {
        let res = b
            .post(
                action,
                &[
                    ("csrf", "x"),
                    ("account", "default"),
                    ("access_token", &token),
                    ("confirm", "yes"),
                ],
            )
            .await;
        assert_eq!(
            (res.status, res.location()),
            (303, "/admin/login"),
            "{action}"
        );
    }
    assert_eq!(app.fake.calls(Route::Me), 0);
    assert_eq!(app.fake.calls(Route::Refresh), 0);
    assert_eq!(app.current_token().await, app.token);
}

#[tokio::test]
async fn without_an_admin_key_every_admin_page_is_404() {
    let app = app_with(|_| {}).await;
    let b = Browser::new(&app);
    for path in [
        "/admin",
        "/admin/",
        "/admin/login",
        "/admin/accounts/connect?account=x",
        "/admin/oauth/callback?code=c&state=s",
        "/admin/actions/delete?account=x",
        "/admin/icon.svg",
    ] {
        let res = b.get(path).await;
        assert_eq!(res.status, 404, "{path}");
        assert_eq!(res.headers["content-type"], "application/problem+json");
    }
    for path in [
        "/admin/login",
        "/admin/logout",
        "/admin/actions/add",
        "/admin/actions/purge",
    ] {
        assert_eq!(
            b.post(path, &[("key", ADMIN_KEY)]).await.status,
            404,
            "{path}"
        );
    }
}

#[tokio::test]
async fn forms_without_the_sessions_csrf_token_are_403_and_change_nothing() {
    let app = app_with(with_key).await;
    let a = logged_in(&app).await;
    let other = logged_in(&app).await;
    let others_csrf = other.dashboard().await.csrf();
    // An account to try to delete.
    let second = app
        .fake
        .add_account("second", "17841400000000002", sample_media_for(1, 2));
    let page = a
        .submit(
            "/admin/actions/add",
            &[
                ("account", "shop"),
                ("access_token", &app.fake.issue_token_for(second)),
            ],
        )
        .await;
    assert!(
        page.flash().unwrap().starts_with("Added shop"),
        "{:?}",
        page.flash()
    );
    let me_calls = app.fake.calls(Route::Me);
    let fresh = app.fake.issue_token();
    for csrf in [None, Some("wrong"), Some(others_csrf.as_str())] {
        for (action, account) in [
            ("/admin/actions/add", "new-one"),
            ("/admin/actions/replace", "default"),
            ("/admin/actions/refresh", "default"),
            ("/admin/actions/delete", "shop"),
            ("/admin/actions/purge", "default"),
            ("/admin/logout", "default"),
        ] {
            let mut fields = vec![
                ("account", account),
                ("access_token", fresh.as_str()),
                ("confirm", "yes"),
            ];
            if let Some(csrf) = csrf {
                fields.push(("csrf", csrf));
            }
            let res = a.post(action, &fields).await;
            assert_eq!(res.status, 403, "{action} with {csrf:?}");
            assert_html_page(&res);
            assert!(res.body.contains("This form has expired"));
        }
    }
    assert_eq!(app.fake.calls(Route::Me), me_calls, "no token was checked");
    assert_eq!(app.fake.calls(Route::Refresh), 0);
    assert_eq!(app.current_token().await, app.token);
    assert_eq!(token_status(&app, "shop").await, 200);
    assert_eq!(token_status(&app, "new-one").await, 404);
    // Still logged in.
    assert_eq!(a.dashboard().await.status, 200);
}

#[tokio::test]
async fn adding_by_paste_checks_the_token_with_instagram_first() {
    let app = app_with(with_key).await;
    let b = logged_in(&app).await;
    let second = app
        .fake
        .add_account("second", "17841400000000002", sample_media_for(1, 3));
    let token = app.fake.issue_token_for(second);
    let page = b
        .submit(
            "/admin/actions/add",
            &[("account", "shop"), ("access_token", &token)],
        )
        .await;
    let flash = page.flash().unwrap();
    assert!(
        flash.starts_with("Added shop (Instagram: @second); the token expires in 59 days")
            && flash.contains("(assumed until its first refresh)"),
        "{flash}"
    );
    assert!(page.body.contains("id=\"account-shop\""));
    assert_eq!(token_status(&app, "shop").await, 200);
    // The flash shows once.
    assert!(b.dashboard().await.flash().is_none());

    // A token Instagram rejects adds nothing.
    let page = b
        .submit(
            "/admin/actions/add",
            &[("account", "bad"), ("access_token", "IGAArejected0000")],
        )
        .await;
    let flash = page.flash().unwrap();
    assert!(
        flash.starts_with("Could not add bad: Instagram rejected the token")
            && flash.contains("Invalid OAuth access token"),
        "{flash}"
    );
    assert!(page.body.contains("class=\"flash error\""));
    assert!(!page.body.contains("IGAArejected0000"));
    assert_eq!(token_status(&app, "bad").await, 404);
    assert!(!app.data_dir.path().join("accounts/bad").exists());

    // A bad name, an empty token and an existing name are said in words.
    let page = b
        .submit(
            "/admin/actions/add",
            &[("account", "Bad Name"), ("access_token", &token)],
        )
        .await;
    assert!(
        page.flash()
            .unwrap()
            .contains("an account name is 1 to 40 characters")
    );
    let page = b
        .submit(
            "/admin/actions/add",
            &[("account", "empty"), ("access_token", "")],
        )
        .await;
    assert!(
        page.flash().unwrap().contains("non-empty token"),
        "{:?}",
        page.flash()
    );
    let page = b
        .submit(
            "/admin/actions/add",
            &[("account", "shop"), ("access_token", &token)],
        )
        .await;
    assert!(
        page.flash()
            .unwrap()
            .contains("already an account named shop")
    );
}

#[tokio::test]
async fn replacing_and_refreshing_through_the_forms() {
    let app = app_with(with_key).await;
    let b = logged_in(&app).await;
    let fresh = app.fake.issue_token();
    let page = b
        .submit(
            "/admin/actions/replace",
            &[("account", "default"), ("access_token", &fresh)],
        )
        .await;
    assert!(
        page.flash()
            .unwrap()
            .starts_with("Replaced the token of default (Instagram: @example)"),
        "{:?}",
        page.flash()
    );
    assert_eq!(app.current_token().await, fresh);

    let page = b
        .submit(
            "/admin/actions/replace",
            &[("account", "default"), ("access_token", "IGAAnope")],
        )
        .await;
    let flash = page.flash().unwrap();
    assert!(flash.contains("The current token stays"), "{flash}");
    assert_eq!(app.current_token().await, fresh);

    let page = b
        .submit("/admin/actions/refresh", &[("account", "default")])
        .await;
    let flash = page.flash().unwrap();
    assert!(
        flash.starts_with("Refreshed the token of default; it expires in 59 days"),
        "{flash}"
    );
    assert_eq!(app.fake.calls(Route::Refresh), 1);
    assert_ne!(app.current_token().await, fresh, "rotated");
    // The dashboard now knows the real expiry and the refresh.
    let card = account_card(&page.body, "default");
    assert!(card.contains("badge valid"), "{card}");
    assert!(!card.contains("assumed"), "{card}");
    assert!(card.contains("Last refresh</dt><dd>moments ago"), "{card}");

    // A failing refresh says why, and the error stays on the card.
    app.fake.fail(Route::Refresh, Fault::Status(503), 1);
    let page = b
        .submit("/admin/actions/refresh", &[("account", "default")])
        .await;
    let flash = page.flash().unwrap();
    assert!(
        flash.starts_with("Could not refresh the token of default: the refresh failed"),
        "{flash}"
    );
    let card = account_card(&page.body, "default");
    assert!(card.contains("Instagram unavailable: HTTP 503"), "{card}");

    let page = b
        .submit("/admin/actions/refresh", &[("account", "nobody")])
        .await;
    assert!(
        page.flash()
            .unwrap()
            .contains("there is no account named 'nobody'")
    );
}

/// The HTML of account `name`'s card.
fn account_card(body: &str, name: &str) -> String {
    let start = body
        .find(&format!("id=\"account-{name}\""))
        .unwrap_or_else(|| panic!("no card for {name}"));
    let rest = &body[start..];
    rest[..rest.find("</article>").unwrap()].to_string()
}

#[tokio::test]
async fn an_expiry_under_seven_days_is_marked() {
    let app = app_with(with_key).await;
    let b = logged_in(&app).await;
    app.fake
        .configure(|o| o.token_lifetime = Duration::from_secs(3 * 86_400));
    let page = b
        .submit("/admin/actions/refresh", &[("account", "default")])
        .await;
    let card = account_card(&page.body, "default");
    assert!(card.contains("badge expiring"), "{card}");
    assert!(card.contains("<span class=\"bad\">in 2 days"), "{card}");
}

#[tokio::test]
async fn deleting_takes_a_confirmation_step() {
    let app = app_with(with_key).await;
    let b = logged_in(&app).await;
    let second = app
        .fake
        .add_account("second", "17841400000000002", sample_media_for(1, 2));
    b.submit(
        "/admin/actions/add",
        &[
            ("account", "shop"),
            ("access_token", &app.fake.issue_token_for(second)),
        ],
    )
    .await;
    let page = b.dashboard().await;
    assert!(
        page.body
            .contains("href=\"/admin/actions/delete?account=shop\"")
    );
    assert!(
        !page
            .body
            .contains("href=\"/admin/actions/delete?account=default\""),
        "default cannot be deleted"
    );
    let confirm = b.get("/admin/actions/delete?account=shop").await;
    assert_eq!(confirm.status, 200);
    assert_html_page(&confirm);
    assert!(confirm.body.contains("Delete the account shop?"));
    assert!(confirm.body.contains("name=\"confirm\" value=\"yes\""));
    let csrf = confirm.csrf();
    // A post without the confirmation goes to the confirmation step.
    let res = b
        .post(
            "/admin/actions/delete",
            &[("csrf", &csrf), ("account", "shop")],
        )
        .await;
    assert_eq!(
        (res.status, res.location()),
        (303, "/admin/actions/delete?account=shop")
    );
    assert_eq!(token_status(&app, "shop").await, 200);
    let res = b
        .post(
            "/admin/actions/delete",
            &[("csrf", &csrf), ("account", "shop"), ("confirm", "yes")],
        )
        .await;
    assert_eq!((res.status, res.location()), (303, "/admin/"));
    let page = b.dashboard().await;
    assert_eq!(page.flash().unwrap(), "Deleted the account shop.");
    assert!(!page.body.contains("id=\"account-shop\""));
    assert_eq!(token_status(&app, "shop").await, 404);
    // default is refused at both steps.
    let res = b.get("/admin/actions/delete?account=default").await;
    assert_eq!(res.status, 303);
    assert!(
        b.dashboard()
            .await
            .flash()
            .unwrap()
            .contains("cannot be deleted")
    );
    let page = b
        .submit(
            "/admin/actions/delete",
            &[("account", "default"), ("confirm", "yes")],
        )
        .await;
    assert!(
        page.flash()
            .unwrap()
            .contains("the account default always exists")
    );
    assert_eq!(token_status(&app, "default").await, 200);
}

#[tokio::test]
async fn purging_drops_the_cached_feeds() {
    let app = app_with(with_key).await;
    let b = logged_in(&app).await;
    app.get_feed().await;
    let walks = app.fake.calls(Route::MediaList);
    let page = b.submit("/admin/actions/purge", &[]).await;
    assert_eq!(
        page.flash().unwrap(),
        "Dropped the cached feeds and media of every account."
    );
    app.get_feed().await;
    assert_eq!(app.fake.calls(Route::MediaList), walks + 1);
}

#[tokio::test]
async fn the_dashboard_shows_each_account_with_a_preview_of_its_posts() {
    // Real photos: the previews are resized pictures.
    let photos = (0..8u8)
        .map(|i| {
            FakeMedia::photo(
                &format!("1790000000000{:04}", 100 - u32::from(i)),
                Some(&format!("photo {i}")),
                "2026-11-01T10:00:00+0000",
                400,
                500,
                [i * 30, 100, 200],
            )
        })
        .collect();
    let app = spawn_app_with(FakeOptions::default(), photos, with_key).await;
    let b = logged_in(&app).await;
    let page = b.dashboard().await;
    let card = account_card(&page.body, "default");
    assert!(card.contains("badge valid"), "{card}");
    assert!(
        card.contains("Feed</dt><dd><span class=\"muted\">not fetched yet"),
        "{card}"
    );
    assert!(card.contains("Last refresh</dt><dd><span class=\"muted\">never"));
    assert!(card.contains("Last error</dt><dd><span class=\"muted\">none"));
    assert!(card.contains("in 59 days"), "{card}");
    assert!(card.contains("(assumed: Instagram tells the real expiry at the first refresh)"));
    app.get_feed().await;
    let page = b.dashboard().await;
    let card = account_card(&page.body, "default");
    assert!(card.contains("Instagram: @example"), "{card}");
    assert!(card.contains("8 posts, fetched moments ago"), "{card}");
    let feed = app.get_feed().await;
    let srcs: Vec<&str> = card
        .split("<img src=\"")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .collect();
    let expected: Vec<String> = feed["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["sizes"]["320"].as_str())
        .take(6)
        .map(|u| u.trim_start_matches(&app.url).to_string())
        .collect();
    assert_eq!(srcs.len(), 6);
    assert_eq!(srcs, expected, "the feed's own 320 px pictures");
    for src in srcs {
        assert!(
            src.starts_with("/media/") && src.ends_with("?w=320"),
            "{src}"
        );
        let res = app.get(src).await;
        assert_eq!(res.status(), 200, "{src}");
    }
}

#[tokio::test]
async fn no_secret_reaches_a_page() {
    let (logs, _guard) = capture_logs();
    let app = app_with(with_oauth).await;
    let b = logged_in(&app).await;
    let second = app
        .fake
        .add_account("second", "17841400000000002", sample_media_for(1, 2));
    let pasted = app.fake.issue_token_for(second);
    let mut pages = vec![b.get("/admin/login").await];
    pages.push(
        b.submit(
            "/admin/actions/add",
            &[("account", "shop"), ("access_token", &pasted)],
        )
        .await,
    );
    pages.push(
        b.submit(
            "/admin/actions/add",
            &[("account", "bad"), ("access_token", "IGAAsecretlyrejected")],
        )
        .await,
    );
    pages.push(
        b.submit("/admin/actions/refresh", &[("account", "shop")])
            .await,
    );
    pages.push(b.get("/admin/actions/delete?account=shop").await);
    let query = authorize(&app, &b, "via-oauth", "allow").await;
    pages.push(b.get(&format!("/admin/oauth/callback?{query}")).await);
    pages.push(b.dashboard().await);
    let code = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let mut secrets = app.fake.valid_tokens();
    secrets.extend([
        pasted,
        "IGAAsecretlyrejected".into(),
        ADMIN_KEY.into(),
        FakeOptions::default().app_secret,
        code,
    ]);
    for page in &pages {
        for secret in &secrets {
            assert!(
                !page.body.contains(secret.as_str()),
                "a secret in a page: {}",
                page.body
            );
        }
    }
    let text = logs.text();
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "a secret in the logs");
    }
}

// --- Connect with Instagram ---

/// Starts Connect with Instagram for `account` in `b`, plays the person on
/// the fake's authorize page (`allow` or `deny`), and returns the query
/// of Instagram's redirect back (what the browser sends to the callback;
/// the `#_` fragment stays in the browser).
async fn authorize(app: &TestApp, b: &Browser, account: &str, decision: &str) -> String {
    let res = b
        .get(&format!("/admin/accounts/connect?account={account}"))
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let to = url::Url::parse(res.location()).unwrap();
    assert_eq!(to.path(), "/oauth/authorize");
    let params: HashMap<String, String> = to.query_pairs().into_owned().collect();
    let page = app.client.get(to.as_str()).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let mut form: Vec<(String, String)> = params.into_iter().collect();
    form.push(("decision".into(), decision.into()));
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let back = app
        .client
        .post(format!("{}/oauth/authorize", app.fake.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), 303);
    let back = url::Url::parse(back.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(
        format!("{}{}", back.origin().ascii_serialization(), back.path()),
        format!("{PUBLIC}/admin/oauth/callback")
    );
    back.query().unwrap().to_string()
}

/// The state in a callback query.
fn state_of(query: &str) -> String {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

/// The stored token record of `account`.
fn stored_token(app: &TestApp, account: &str) -> serde_json::Value {
    let path = app
        .data_dir
        .path()
        .join(format!("accounts/{account}/token.json"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// An app whose fake grants the account `shopuser` on its authorize page.
async fn oauth_app(tweak: impl FnOnce(&mut Config)) -> (TestApp, FakeAccountId) {
    let app = app_with(|c| {
        with_oauth(c);
        tweak(c);
    })
    .await;
    let shop = app
        .fake
        .add_account("shopuser", "17841400000000042", sample_media_for(2, 3));
    app.fake.configure(|o| o.oauth_account = shop);
    (app, shop)
}

#[tokio::test]
async fn connecting_an_account_stores_its_long_lived_token_with_the_real_expiry() {
    let (app, shop) = oauth_app(|_| {}).await;
    let b = logged_in(&app).await;
    let page = b.dashboard().await;
    assert!(page.body.contains("action=\"/admin/accounts/connect\""));
    assert!(
        page.body
            .contains("http://igfeed.test/admin/oauth/callback")
    );
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains(&format!("form-action 'self' {};", app.fake.base_url())),
        "the connect form's redirect to Instagram is a form action: {csp}"
    );

    let res = b.get("/admin/accounts/connect?account=shop").await;
    assert_eq!(res.status, 303);
    let to = url::Url::parse(res.location()).unwrap();
    assert_eq!(
        format!("{}{}", to.origin().ascii_serialization(), to.path()),
        format!("{}/oauth/authorize", app.fake.base_url())
    );
    let q: Vec<(String, String)> = to.query_pairs().into_owned().collect();
    let names: Vec<&str> = q.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "client_id",
            "redirect_uri",
            "response_type",
            "scope",
            "state"
        ]
    );
    assert_eq!(q[0].1, FakeOptions::default().app_id);
    assert_eq!(q[1].1, "http://igfeed.test/admin/oauth/callback");
    assert_eq!(q[2].1, "code");
    assert_eq!(q[3].1, "instagram_business_basic");
    assert_eq!(q[4].1.len(), 43, "32 random bytes");

    let query = authorize(&app, &b, "shop", "allow").await;
    let before = SystemTime::now();
    let res = b.get(&format!("/admin/oauth/callback?{query}")).await;
    assert_eq!(
        (res.status, res.location()),
        (303, "/admin/"),
        "{}",
        res.body
    );
    let page = b.dashboard().await;
    let flash = page.flash().unwrap();
    assert_eq!(
        flash,
        "Connected shop (Instagram: @shopuser); the token expires in 59 days."
    );
    assert!(page.body.contains("class=\"flash ok\""));
    let card = account_card(&page.body, "shop");
    assert!(
        card.contains("badge valid") && !card.contains("assumed"),
        "{card}"
    );

    // Stored as a PUT would, with the expiry Instagram told.
    let rec = stored_token(&app, "shop");
    assert_eq!(rec["expiry_known"], true);
    let expires = humantime::parse_rfc3339(rec["expires_at"].as_str().unwrap()).unwrap();
    let lifetime = FakeOptions::default().token_lifetime;
    assert!(expires >= before + lifetime - Duration::from_secs(2));
    assert!(expires <= SystemTime::now() + lifetime);
    let token = rec["access_token"].as_str().unwrap();
    assert_eq!(app.fake.token_account(token), Some(shop));
    assert!(
        token.starts_with("IGAA"),
        "the long-lived token, not the short one"
    );
    assert_eq!(app.fake.calls(Route::OAuthToken), 1);
    assert_eq!(app.fake.calls(Route::TokenExchange), 1);
    let status: serde_json::Value = app.get("/tokens/shop").await.json().await.unwrap();
    assert_eq!(status["user"]["username"], "shopuser");
    // The same state cannot be used again: nothing more is exchanged.
    let res = b.get(&format!("/admin/oauth/callback?{query}")).await;
    assert_eq!(res.status, 400);
    assert!(res.body.contains("unknown or was used already"));
    assert_eq!(app.fake.calls(Route::OAuthToken), 1);
    assert_eq!(app.current_token_of("shop").await, token);
}

#[tokio::test]
async fn coming_back_cross_site_with_only_the_lax_cookie_continues_to_the_dashboard() {
    let (app, _) = oauth_app(|_| {}).await;
    let b = logged_in(&app).await;
    let query = authorize(&app, &b, "shop", "allow").await;
    // A browser withholds the Strict session cookie on the navigation from
    // Instagram; it sends the Lax one.
    let session = b.cookie("igfeed_session").unwrap();
    b.drop_cookie("igfeed_session");
    let res = b.get(&format!("/admin/oauth/callback?{query}")).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_html_page(&res);
    assert!(
        res.body
            .contains("<meta http-equiv=\"refresh\" content=\"0;url=/admin/\">")
    );
    assert!(res.body.contains("Connected shop (Instagram: @shopuser)"));
    b.set_cookie("igfeed_session", &session);
    let page = b.dashboard().await;
    assert!(page.flash().unwrap().starts_with("Connected shop"));
    assert_eq!(token_status(&app, "shop").await, 200);
}

#[tokio::test]
async fn instagrams_trailing_marker_is_stripped_from_the_code() {
    let (app, _) = oauth_app(|_| {}).await;
    let b = logged_in(&app).await;
    let query = authorize(&app, &b, "shop", "allow").await;
    // Copied by hand, the code comes with the `#_` Instagram appends.
    let code = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let marked = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("code", &format!("{code}#_"))
        .append_pair("state", &state_of(&query))
        .finish();
    assert!(marked.contains("%23_"));
    let res = b.get(&format!("/admin/oauth/callback?{marked}")).await;
    assert_eq!(res.status, 303);
    assert!(
        b.dashboard()
            .await
            .flash()
            .unwrap()
            .starts_with("Connected shop")
    );
}

#[tokio::test]
async fn the_data_shape_of_the_code_exchange_is_accepted_too() {
    let (app, shop) = oauth_app(|_| {}).await;
    app.fake.configure(|o| o.oauth_data_shape = true);
    let b = logged_in(&app).await;
    let query = authorize(&app, &b, "shop", "allow").await;
    assert_eq!(
        b.get(&format!("/admin/oauth/callback?{query}"))
            .await
            .status,
        303
    );
    assert!(
        b.dashboard()
            .await
            .flash()
            .unwrap()
            .starts_with("Connected shop")
    );
    let token = stored_token(&app, "shop")["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(app.fake.token_account(&token), Some(shop));
}

/// Nothing was stored for `account`, and no code was exchanged.
async fn assert_nothing_stored(app: &TestApp, account: &str) {
    assert_eq!(token_status(app, account).await, 404);
    assert!(
        !app.data_dir
            .path()
            .join(format!("accounts/{account}"))
            .exists()
    );
}

#[tokio::test]
async fn a_missing_unknown_or_reused_state_is_a_400_page() {
    let (app, _) = oauth_app(|_| {}).await;
    let b = logged_in(&app).await;
    let query = authorize(&app, &b, "shop", "allow").await;
    let code = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    for (q, words) in [
        (format!("code={code}"), "carries no state"),
        (format!("code={code}&state="), "carries no state"),
        (
            format!("code={code}&state=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            "unknown or was used already",
        ),
    ] {
        let res = b.get(&format!("/admin/oauth/callback?{q}")).await;
        assert_eq!(res.status, 400, "{q}");
        assert_html_page(&res);
        assert!(res.body.contains(words), "{q}: {}", res.body);
        assert!(res.body.contains("Nothing was stored"));
    }
    assert_eq!(app.fake.calls(Route::OAuthToken), 0);
    assert_nothing_stored(&app, "shop").await;
    // The real state still works once, then is used up.
    assert_eq!(
        b.get(&format!("/admin/oauth/callback?{query}"))
            .await
            .status,
        303
    );
    let again = b.get(&format!("/admin/oauth/callback?{query}")).await;
    assert_eq!(again.status, 400);
    assert_eq!(app.fake.calls(Route::OAuthToken), 1);
}

#[tokio::test]
async fn an_expired_state_is_a_400_page() {
    let app = app_tuned(
        with_oauth,
        UiTuning {
            state_ttl: Duration::from_millis(50),
            ..UiTuning::default()
        },
    )
    .await;
    let b = logged_in(&app).await;
    let query = authorize(&app, &b, "shop", "allow").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let res = b.get(&format!("/admin/oauth/callback?{query}")).await;
    assert_eq!(res.status, 400);
    assert!(res.body.contains("has expired"), "{}", res.body);
    assert_eq!(app.fake.calls(Route::OAuthToken), 0);
    assert_nothing_stored(&app, "shop").await;
}

#[tokio::test]
async fn a_state_from_another_session_is_refused() {
    let (app, _) = oauth_app(|_| {}).await;
    let a = logged_in(&app).await;
    let b = logged_in(&app).await;
    let query = authorize(&app, &a, "shop", "allow").await;
    // Another logged-in browser.
    let res = b.get(&format!("/admin/oauth/callback?{query}")).await;
    assert_eq!(res.status, 400);
    assert!(res.body.contains("another browser session"), "{}", res.body);
    assert_nothing_stored(&app, "shop").await;
    // A browser without any cookie.
    let query = authorize(&app, &a, "shop", "allow").await;
    let stranger = Browser::new(&app);
    let res = stranger
        .get(&format!("/admin/oauth/callback?{query}"))
        .await;
    assert_eq!(res.status, 400);
    // The Lax cookie of another session does not stand for this one.
    let query = authorize(&app, &a, "shop", "allow").await;
    let lax_only = Browser::new(&app);
    lax_only.set_cookie("igfeed_oauth", &b.cookie("igfeed_oauth").unwrap());
    let res = lax_only
        .get(&format!("/admin/oauth/callback?{query}"))
        .await;
    assert_eq!(res.status, 400);
    // A session that ended cannot finish its authorization.
    let query = authorize(&app, &a, "shop", "allow").await;
    let csrf = a.dashboard().await.csrf();
    a.post("/admin/logout", &[("csrf", &csrf)]).await;
    let res = a.get(&format!("/admin/oauth/callback?{query}")).await;
    assert_eq!(res.status, 400);
    assert!(res.body.contains("has ended"), "{}", res.body);
    assert_eq!(app.fake.calls(Route::OAuthToken), 0);
    assert_nothing_stored(&app, "shop").await;
}

#[tokio::test]
async fn a_state_stores_the_account_it_was_made_for_and_no_other() {
    let (app, _) = oauth_app(|_| {}).await;
    let b = logged_in(&app).await;
    let for_one = authorize(&app, &b, "one", "allow").await;
    let for_two = authorize(&app, &b, "two", "allow").await;
    // The callback takes the name from the state, not from the URL.
    let res = b
        .get(&format!("/admin/oauth/callback?{for_one}&account=two"))
        .await;
    assert_eq!(res.status, 303);
    assert!(
        b.dashboard()
            .await
            .flash()
            .unwrap()
            .starts_with("Connected one")
    );
    assert_eq!(token_status(&app, "one").await, 200);
    assert_nothing_stored(&app, "two").await;
    // The other state, and code, used for the other name: still its own.
    assert_eq!(
        b.get(&format!("/admin/oauth/callback?{for_two}"))
            .await
            .status,
        303
    );
    assert!(
        b.dashboard()
            .await
            .flash()
            .unwrap()
            .starts_with("Connected two")
    );
    // A bad name never reaches Instagram.
    let res = b.get("/admin/accounts/connect?account=Not%20Valid").await;
    assert_eq!((res.status, res.location()), (303, "/admin/"));
    assert!(
        b.dashboard()
            .await
            .flash()
            .unwrap()
            .contains("Cannot connect: an account name")
    );
}

#[tokio::test]
async fn access_denied_comes_back_to_the_dashboard_in_words() {
    let (app, _) = oauth_app(|_| {}).await;
    let b = logged_in(&app).await;
    let query = authorize(&app, &b, "shop", "deny").await;
    assert!(query.starts_with("error=access_denied&error_reason=user_denied"));
    let res = b.get(&format!("/admin/oauth/callback?{query}")).await;
    assert_eq!((res.status, res.location()), (303, "/admin/"));
    let page = b.dashboard().await;
    assert_eq!(
        page.flash().unwrap(),
        "shop was not connected: access was denied on Instagram (user_denied): The user denied your request."
    );
    assert!(page.body.contains("class=\"flash error\""));
    assert_eq!(app.fake.calls(Route::OAuthToken), 0);
    assert_nothing_stored(&app, "shop").await;
}

#[tokio::test]
async fn a_failed_code_exchange_comes_back_in_words() {
    // igfeed has a wrong app secret: Instagram refuses the exchange.
    let (app, _) = oauth_app(|c| c.ig_app_secret = Some(Secret::new("not-the-app-secret"))).await;
    let b = logged_in(&app).await;
    let query = authorize(&app, &b, "shop", "allow").await;
    let res = b.get(&format!("/admin/oauth/callback?{query}")).await;
    assert_eq!(res.status, 303);
    let page = b.dashboard().await;
    assert_eq!(
        page.flash().unwrap(),
        "shop was not connected: exchanging the authorization code failed \
         (Instagram refused the request (code 400): OAuthException: Error validating client secret.)."
    );
    assert!(!page.body.contains("not-the-app-secret"));
    assert_eq!(app.fake.calls(Route::TokenExchange), 0);
    assert_nothing_stored(&app, "shop").await;

    // Instagram down during the exchange.
    let (app, _) = oauth_app(|_| {}).await;
    let b = logged_in(&app).await;
    let query = authorize(&app, &b, "shop", "allow").await;
    app.fake.fail(Route::OAuthToken, Fault::Status(502), 1);
    b.get(&format!("/admin/oauth/callback?{query}")).await;
    let flash = b.dashboard().await.flash().unwrap();
    assert!(
        flash.starts_with("shop was not connected: exchanging the authorization code failed (Instagram unavailable: HTTP 502"),
        "{flash}"
    );
    assert_nothing_stored(&app, "shop").await;
}

#[tokio::test]
async fn a_failed_long_lived_exchange_comes_back_in_words() {
    let (app, _) = oauth_app(|_| {}).await;
    let b = logged_in(&app).await;
    let query = authorize(&app, &b, "shop", "allow").await;
    app.fake.fail(
        Route::TokenExchange,
        Fault::GraphError {
            status: 400,
            code: 190,
            message: "Error validating access token: Session has expired".into(),
        },
        1,
    );
    let res = b.get(&format!("/admin/oauth/callback?{query}")).await;
    assert_eq!(res.status, 303);
    let flash = b.dashboard().await.flash().unwrap();
    assert_eq!(
        flash,
        "shop was not connected: getting a long-lived token failed \
         (token rejected by Instagram (code 190): Error validating access token: Session has expired)."
    );
    assert_nothing_stored(&app, "shop").await;
}

#[tokio::test]
async fn without_its_settings_connect_says_what_is_missing() {
    let app = app_with(with_key).await;
    let b = logged_in(&app).await;
    let page = b.dashboard().await;
    assert!(
        !page.body.contains("action=\"/admin/accounts/connect\""),
        "no button"
    );
    assert!(
        page.body.contains(
            "Connect with Instagram is off: set <code>IGFEED_IG_APP_ID</code>, \
             <code>IGFEED_IG_APP_SECRET</code> and <code>IGFEED_PUBLIC_URL</code>"
        ),
        "{}",
        page.body
    );
    let res = b.get("/admin/accounts/connect?account=shop").await;
    assert_eq!(res.status, 409);
    assert_html_page(&res);
    assert!(
        res.body
            .contains("IGFEED_IG_APP_ID, IGFEED_IG_APP_SECRET, IGFEED_PUBLIC_URL"),
        "{}",
        res.body
    );
    // Only what is missing is named.
    let app = app_with(|c| {
        with_oauth(c);
        c.public_url = None;
    })
    .await;
    let b = logged_in(&app).await;
    let page = b.dashboard().await;
    assert!(
        page.body
            .contains("Connect with Instagram is off: set <code>IGFEED_PUBLIC_URL</code> (")
    );
    let res = b.get("/admin/accounts/connect?account=shop").await;
    assert!(
        res.body.contains("which are not set: IGFEED_PUBLIC_URL."),
        "{}",
        res.body
    );
}

#[tokio::test]
async fn the_json_api_still_serves_an_account_named_connect() {
    let app = app_with(with_oauth).await;
    let token = app.fake.issue_token();
    let body = serde_json::json!({ "access_token": token });
    let res = app
        .admin(
            reqwest::Method::PUT,
            "/admin/accounts/connect",
            Some(ADMIN_KEY),
            Some(body),
        )
        .await;
    assert_eq!(res.status(), 201);
    let res = app
        .admin(
            reqwest::Method::GET,
            "/admin/accounts/connect/token",
            Some(ADMIN_KEY),
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    // The cookie is no key for the JSON API.
    let b = logged_in(&app).await;
    let res = b
        .send(
            b.client
                .delete(format!("{}/admin/accounts/connect", app.url)),
        )
        .await;
    assert_eq!(res.status, 401);
    let res = app
        .admin(
            reqwest::Method::DELETE,
            "/admin/accounts/connect",
            Some(ADMIN_KEY),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
}

#[test]
fn help_names_the_settings_and_never_shows_the_app_secret() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_igfeed"))
        .arg("--help")
        .env("IGFEED_IG_APP_SECRET", "app-secret-from-the-environment")
        .env("IGFEED_IG_APP_ID", "990602627938098")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for var in [
        "IGFEED_IG_APP_ID",
        "IGFEED_IG_APP_SECRET",
        "IGFEED_OAUTH_URL",
        "IGFEED_OAUTH_API_URL",
    ] {
        assert!(help.contains(var), "--help names {var}");
    }
    assert!(help.contains("990602627938098"), "the app id is no secret");
    assert!(!help.contains("app-secret-from-the-environment"));
    // A bad value stops start-up naming the variable, not the value.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_igfeed"))
        .env("IGFEED_IG_APP_SECRET", "secret with spaces")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("IGFEED_IG_APP_SECRET") && !stderr.contains("secret with spaces"));
}
