//! The admin page's HTML, as maud templates: escaped by default, one
//! inline style block (allowed by its hash in the policy), no script, no
//! resource from anywhere but this origin. Every form works without
//! JavaScript; the layout is one column on a phone.

use std::sync::LazyLock;
use std::time::{Duration, SystemTime};

use axum::http::HeaderValue;
use base64::prelude::{BASE64_STANDARD, Engine as _};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use sha2::{Digest, Sha256};

use super::Flash;
use crate::token::{EXPIRING_WITHIN, TokenStatus};

/// The one style block of every page.
const CSS: &str = "\
:root{color-scheme:light dark;--fg:#1c1c1f;--muted:#62626a;--bg:#f4f4f6;--card:#fff;--line:#d9d9df;\
--ok:#137a38;--warn:#9a5500;--bad:#c0211a;--accent:#2f45c8;--accent-fg:#fff}\
@media (prefers-color-scheme:dark){:root{--fg:#ececf0;--muted:#a3a3ad;--bg:#121214;--card:#1d1d21;\
--line:#34343a;--ok:#4cc27a;--warn:#f0a840;--bad:#ff6b61;--accent:#8795ff;--accent-fg:#111}}\
*{box-sizing:border-box}\
body{margin:0;font:16px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;color:var(--fg);background:var(--bg)}\
header{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;justify-content:space-between;\
padding:.75rem 1rem;background:var(--card);border-bottom:1px solid var(--line)}\
header .brand{font-weight:700;font-size:1.1rem;color:inherit;text-decoration:none}\
main{max-width:66rem;margin:0 auto;padding:1rem}\
h1{font-size:1.5rem;margin:.5rem 0 1rem}h2{font-size:1.2rem;margin:0}h3{font-size:1.05rem;margin:0 0 .5rem}\
.card{background:var(--card);border:1px solid var(--line);border-radius:.6rem;padding:1rem;margin:0 0 1rem}\
.head{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center}\
.badge{display:inline-block;padding:.05rem .55rem;border-radius:1rem;font-size:.85rem;font-weight:600;\
border:1px solid currentColor}\
.valid{color:var(--ok)}.expiring{color:var(--warn)}.expired,.invalid,.bad{color:var(--bad)}.missing,.muted{color:var(--muted)}\
.user{margin:.25rem 0 .5rem;color:var(--muted)}\
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.5rem 0}dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}\
small{color:var(--muted)}\
.preview{display:grid;grid-template-columns:repeat(6,1fr);gap:.35rem;margin:.75rem 0}\
.preview img{width:100%;height:auto;aspect-ratio:1;object-fit:cover;border-radius:.3rem;background:var(--line);display:block}\
.actions{display:flex;flex-wrap:wrap;gap:.5rem;align-items:flex-start;margin-top:.75rem}\
.actions form{margin:0}\
details{width:100%}summary{cursor:pointer;color:var(--accent)}\
label{display:block;font-weight:600;margin:.5rem 0 .2rem}\
input[type=text],input[type=password]{width:100%;max-width:32rem;padding:.5rem;font:inherit;color:inherit;\
background:var(--bg);border:1px solid var(--line);border-radius:.4rem}\
button,.button{display:inline-block;padding:.45rem .9rem;font:inherit;font-weight:600;border-radius:.4rem;cursor:pointer;\
border:1px solid var(--accent);background:var(--accent);color:var(--accent-fg);text-decoration:none}\
button.secondary,.button.secondary{background:transparent;color:var(--accent)}\
button.danger,.button.danger{background:transparent;border-color:var(--bad);color:var(--bad)}\
button.danger.solid{background:var(--bad);color:#fff}\
.row{display:flex;flex-wrap:wrap;gap:.5rem;align-items:flex-end}.row>*{margin-top:.5rem}\
.flash{padding:.75rem 1rem;border-radius:.5rem;margin:0 0 1rem;border:1px solid currentColor;background:var(--card)}\
.flash.ok{color:var(--ok)}.flash.error{color:var(--bad)}\
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:1rem}\
.narrow{max-width:28rem;margin:2rem auto}\
code{overflow-wrap:anywhere}\
@media (max-width:40rem){.preview{grid-template-columns:repeat(3,1fr)}.grid2{grid-template-columns:1fr}\
dl{grid-template-columns:1fr}dd{margin-bottom:.3rem}main{padding:.6rem}}";

/// Where the pages' icon is (else browsers ask for `/favicon.ico`).
pub const ICON_PATH: &str = "/admin/icon.svg";

/// The pages' icon: the feed's grid of squares.
pub const ICON: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 16 16\">\
<rect width=\"16\" height=\"16\" rx=\"3\" fill=\"#2f45c8\"/>\
<g fill=\"#fff\"><rect x=\"3\" y=\"3\" width=\"4\" height=\"4\"/><rect x=\"9\" y=\"3\" width=\"4\" height=\"4\"/>\
<rect x=\"3\" y=\"9\" width=\"4\" height=\"4\"/><rect x=\"9\" y=\"9\" width=\"4\" height=\"4\"/></g></svg>";

/// `'sha256-…'` of the style block.
static STYLE_HASH: LazyLock<String> =
    LazyLock::new(|| BASE64_STANDARD.encode(Sha256::digest(CSS.as_bytes())));

/// The pages' `Content-Security-Policy`: nothing but this origin and the
/// style block; forms post to this origin only, except that the Connect
/// with Instagram form's answer redirects to Instagram (`oauth`), which
/// `form-action` governs too.
pub fn policy(oauth: Option<&url::Url>) -> HeaderValue {
    let form_action = match oauth {
        Some(u) => format!("'self' {}", u.origin().ascii_serialization()),
        None => "'self'".to_string(),
    };
    let policy = format!(
        "default-src 'none'; style-src 'sha256-{}'; img-src 'self'; form-action {form_action}; \
         frame-ancestors 'none'; base-uri 'none'",
        *STYLE_HASH
    );
    HeaderValue::from_str(&policy).expect("an ASCII policy")
}

/// A whole page.
fn layout(title: &str, nav: Option<&str>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                link rel="icon" type="image/svg+xml" href=(ICON_PATH);
                title { (title) " · igfeed admin" }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    a.brand href="/admin/" { "igfeed admin" }
                    @if let Some(csrf) = nav {
                        form method="post" action="/admin/logout" {
                            input type="hidden" name="csrf" value=(csrf);
                            button.secondary type="submit" { "Log out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

fn flash(f: Option<&Flash>) -> Markup {
    html! {
        @if let Some(f) = f {
            @if f.ok {
                p.flash.ok role="status" { (f.text) }
            } @else {
                p.flash.error role="alert" { (f.text) }
            }
        }
    }
}

/// `/admin/login`: the admin key form.
pub fn login(csrf: &str, error: Option<&str>, note: Option<&str>) -> Markup {
    layout(
        "Log in",
        None,
        html! {
            div.narrow.card {
                h1 { "Log in" }
                @if let Some(note) = note { p.flash.ok role="status" { (note) } }
                @if let Some(error) = error { p.flash.error role="alert" { (error) } }
                form method="post" action="/admin/login" {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="key" { "Admin key" }
                    input id="key" type="password" name="key" autocomplete="current-password" required autofocus;
                    p { small { "The value of " code { "IGFEED_ADMIN_KEY" } "." } }
                    button type="submit" { "Log in" }
                }
            }
        },
    )
}

/// A page that says one thing, with a way on.
pub fn message(title: &str, text: &str, link: (&str, &str)) -> Markup {
    layout(
        title,
        None,
        html! {
            div.narrow.card {
                h1 { (title) }
                p { (text) }
                p { a href=(link.0) { (link.1) } }
            }
        },
    )
}

/// After the return from Instagram, a cross-site navigation without the
/// session cookie: a page of this origin that goes on to the dashboard (a
/// navigation the browser makes with the cookie).
pub fn continue_to_dashboard(text: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                meta http-equiv="refresh" content="0;url=/admin/";
                link rel="icon" type="image/svg+xml" href=(ICON_PATH);
                title { "Back to the dashboard · igfeed admin" }
                style { (PreEscaped(CSS)) }
            }
            body {
                main {
                    div.narrow.card {
                        p { (text) }
                        p { a href="/admin/" { "Continue to the dashboard" } }
                    }
                }
            }
        }
    }
}

/// The delete confirmation step.
pub fn confirm_delete(csrf: &str, account: &str) -> Markup {
    layout(
        "Delete an account",
        Some(csrf),
        html! {
            div.narrow.card {
                h1 { "Delete the account " (account) "?" }
                p {
                    "This removes its token, its stored feed and its cached media. "
                    "Sites that show " code { "/feeds/" (account) } " get a 404 from then on. "
                    "It cannot be undone (the account can be added again)."
                }
                div.row {
                    form method="post" action="/admin/actions/delete" {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="account" value=(account);
                        input type="hidden" name="confirm" value="yes";
                        button.danger.solid type="submit" { "Delete " (account) }
                    }
                    a.button.secondary href="/admin/" { "Cancel" }
                }
            }
        },
    )
}

/// One post's picture in an account's preview.
pub struct Preview {
    /// `/media/{id}?w=320` (or its thumbnail's).
    pub src: String,
    pub alt: String,
    /// The post on Instagram.
    pub link: Option<String>,
}

/// What the dashboard shows of one account.
pub struct AccountView {
    pub name: String,
    pub status: TokenStatus,
    pub username: Option<String>,
    pub expires_at: Option<SystemTime>,
    pub expiry_known: bool,
    pub refreshed_at: Option<SystemTime>,
    pub next_refresh_at: Option<SystemTime>,
    /// The last failed refresh, or why Instagram rejected the token.
    pub last_error: Option<String>,
    pub feed_fetched_at: Option<SystemTime>,
    pub posts: Option<usize>,
    /// The latest posts' pictures (up to six).
    pub preview: Vec<Preview>,
}

/// Connect with Instagram: ready (with the redirect URI to register), or
/// the settings it lacks.
pub enum Connect {
    Ready { redirect_uri: String },
    Missing(Vec<&'static str>),
}

/// Everything the dashboard shows.
pub struct Dashboard {
    pub csrf: String,
    pub flash: Option<Flash>,
    pub accounts: Vec<AccountView>,
    pub connect: Connect,
    pub now: SystemTime,
}

/// "3 days", "1 hour", "5 minutes", "moments".
pub fn span_in_words(d: Duration) -> String {
    let s = d.as_secs();
    let (n, unit) = if s >= 2 * 86_400 {
        (s / 86_400, "day")
    } else if s >= 2 * 3_600 {
        (s / 3_600, "hour")
    } else if s >= 120 {
        (s / 60, "minute")
    } else {
        return "moments".into();
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// "in 3 days" or "3 days ago", seen from `now`.
pub fn relative(t: SystemTime, now: SystemTime) -> String {
    match t.duration_since(now) {
        Ok(ahead) => format!("in {}", span_in_words(ahead)),
        Err(e) => format!("{} ago", span_in_words(e.duration())),
    }
}

/// `2027-01-27 12:00 UTC`.
pub fn date(t: SystemTime) -> String {
    let s = humantime::format_rfc3339_seconds(t).to_string();
    format!("{} {} UTC", &s[..10], &s[11..16])
}

fn when(t: SystemTime, now: SystemTime) -> Markup {
    html! {
        (relative(t, now)) " " small { "(" time datetime=(humantime::format_rfc3339_seconds(t).to_string()) { (date(t)) } ")" }
    }
}

fn status_word(s: TokenStatus) -> &'static str {
    match s {
        TokenStatus::Missing => "missing",
        TokenStatus::Valid => "valid",
        TokenStatus::Expiring => "expiring",
        TokenStatus::Expired => "expired",
        TokenStatus::Invalid => "invalid",
    }
}

fn account_card(a: &AccountView, d: &Dashboard) -> Markup {
    let status = status_word(a.status);
    let soon = a.expires_at.is_some_and(|t| {
        t.duration_since(d.now)
            .map_or(true, |left| left < EXPIRING_WITHIN)
    });
    html! {
        article.card id={ "account-" (a.name) } {
            div.head {
                h2 { (a.name) }
                span class={ "badge " (status) } { (status) }
            }
            p.user {
                @match &a.username {
                    Some(u) => { "Instagram: @" (u) }
                    None => { "Instagram account not known yet" }
                }
            }
            dl {
                dt { "Expires" }
                dd {
                    @match a.expires_at {
                        Some(t) => {
                            span class=(if soon { "bad" } else { "" }) { (when(t, d.now)) }
                            @if !a.expiry_known {
                                " " small { "(assumed: Instagram tells the real expiry at the first refresh)" }
                            }
                        }
                        None => { span.muted { "no token" } }
                    }
                }
                dt { "Last refresh" }
                dd {
                    @match a.refreshed_at {
                        Some(t) => { (when(t, d.now)) }
                        None => { span.muted { "never" } }
                    }
                }
                dt { "Next refresh" }
                dd {
                    @match a.next_refresh_at {
                        Some(t) => { (when(t, d.now)) }
                        None => { span.muted { "none planned" } }
                    }
                }
                dt { "Last error" }
                dd {
                    @match &a.last_error {
                        Some(e) => { span.bad { (e) } }
                        None => { span.muted { "none" } }
                    }
                }
                dt { "Feed" }
                dd {
                    @match (a.posts, a.feed_fetched_at) {
                        (Some(n), Some(t)) => { (n) " posts, fetched " (relative(t, d.now)) }
                        _ => { span.muted { "not fetched yet" } }
                    }
                }
            }
            @if !a.preview.is_empty() {
                div.preview {
                    @for p in &a.preview {
                        @match &p.link {
                            Some(link) => {
                                a href=(link) rel="noopener noreferrer" {
                                    img src=(p.src) alt=(p.alt) loading="lazy" width="320" height="320";
                                }
                            }
                            None => { img src=(p.src) alt=(p.alt) loading="lazy" width="320" height="320"; }
                        }
                    }
                }
            }
            div.actions {
                form method="post" action="/admin/actions/refresh" {
                    input type="hidden" name="csrf" value=(d.csrf);
                    input type="hidden" name="account" value=(a.name);
                    button type="submit" { "Refresh token now" }
                }
                @if matches!(d.connect, Connect::Ready { .. }) {
                    form method="get" action="/admin/accounts/connect" {
                        input type="hidden" name="account" value=(a.name);
                        button.secondary type="submit" { "Reconnect with Instagram" }
                    }
                }
                @if a.name != crate::accounts::name::DEFAULT {
                    a.button.danger href={ "/admin/actions/delete?account=" (a.name) } { "Delete…" }
                }
                details {
                    summary { "Replace the token" }
                    form method="post" action="/admin/actions/replace" {
                        input type="hidden" name="csrf" value=(d.csrf);
                        input type="hidden" name="account" value=(a.name);
                        label for={ "token-" (a.name) } { "New long-lived token" }
                        div.row {
                            input id={ "token-" (a.name) } type="password" name="access_token" autocomplete="off" required;
                            button type="submit" { "Check with Instagram and replace" }
                        }
                    }
                }
            }
        }
    }
}

/// `/admin/`: every account and what can be done with it.
pub fn dashboard(d: &Dashboard) -> Markup {
    const NAME_PATTERN: &str = "[a-z0-9][a-z0-9\\-]{0,39}";
    layout(
        "Accounts",
        Some(&d.csrf),
        html! {
            (flash(d.flash.as_ref()))
            h1 { "Accounts " small { "(" (d.accounts.len()) ")" } }
            @for a in &d.accounts { (account_card(a, d)) }
            h1 id="add" { "Add an account" }
            div.grid2 {
                section.card id="connect" {
                    h3 { "Connect with Instagram" }
                    @match &d.connect {
                        Connect::Ready { redirect_uri } => {
                            p { "Log in to Instagram and allow igfeed to read the account's profile and posts; "
                                "the token is stored under the name you give here (an existing account gets the new token)." }
                            form method="get" action="/admin/accounts/connect" {
                                label for="connect-name" { "Account name" }
                                div.row {
                                    input id="connect-name" type="text" name="account" required pattern=(NAME_PATTERN)
                                        placeholder="client-1" autocomplete="off";
                                    button type="submit" { "Connect with Instagram" }
                                }
                            }
                            p { small { "Redirect URI registered with the app: " code { (redirect_uri) } } }
                        }
                        Connect::Missing(vars) => {
                            p.muted id="connect-missing" {
                                "Connect with Instagram is off: set "
                                @for (i, v) in vars.iter().enumerate() {
                                    @if i > 0 { @if i + 1 == vars.len() { " and " } @else { ", " } }
                                    code { (v) }
                                }
                                " (see the README, “Connect with Instagram”). Pasting a token works meanwhile."
                            }
                        }
                    }
                }
                section.card id="paste" {
                    h3 { "Paste a token" }
                    form method="post" action="/admin/actions/add" {
                        input type="hidden" name="csrf" value=(d.csrf);
                        label for="add-name" { "Account name" }
                        input id="add-name" type="text" name="account" required pattern=(NAME_PATTERN)
                            placeholder="client-1" autocomplete="off";
                        label for="add-token" { "Long-lived token" }
                        input id="add-token" type="password" name="access_token" required autocomplete="off";
                        p { small { "Instagram checks the token before the account is added." } }
                        button type="submit" { "Check with Instagram and add" }
                    }
                }
            }
            h1 { "Caches" }
            section.card {
                form method="post" action="/admin/actions/purge" {
                    input type="hidden" name="csrf" value=(d.csrf);
                    button.secondary type="submit" { "Purge caches" }
                }
                p { small { "Drops the cached feeds and media of every account; the next request fetches them anew. "
                    "The last good feeds on disk stay." } }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_the_style_block_by_hash_and_nothing_inline_else() {
        let p = policy(None);
        let p = p.to_str().unwrap();
        assert!(
            p.starts_with("default-src 'none'; style-src 'sha256-"),
            "{p}"
        );
        assert!(p.contains("form-action 'self';"), "{p}");
        assert!(p.contains("frame-ancestors 'none'"));
        assert!(!p.contains("unsafe") && !p.contains("script-src"));
        let with = policy(Some(&url::Url::parse("https://www.instagram.com").unwrap()));
        assert!(
            with.to_str()
                .unwrap()
                .contains("form-action 'self' https://www.instagram.com;")
        );
        // The hash is of exactly what the pages put between the tags.
        let page = login("c", None, None).into_string();
        let block = page
            .split_once("<style>")
            .and_then(|(_, rest)| rest.split_once("</style>"))
            .map(|(b, _)| b)
            .unwrap();
        assert_eq!(
            BASE64_STANDARD.encode(Sha256::digest(block.as_bytes())),
            *STYLE_HASH
        );
    }

    #[test]
    fn spans_in_words() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        let day = Duration::from_secs(86_400);
        assert_eq!(
            relative(now + 59 * day + Duration::from_secs(60), now),
            "in 59 days"
        );
        assert_eq!(
            relative(now - Duration::from_secs(3 * 3600), now),
            "3 hours ago"
        );
        assert_eq!(relative(now + Duration::from_secs(30), now), "in moments");
        assert_eq!(span_in_words(Duration::from_secs(2 * 86_400)), "2 days");
        assert_eq!(span_in_words(Duration::from_secs(180)), "3 minutes");
        assert_eq!(date(now), "2033-05-18 03:33 UTC");
    }

    #[test]
    fn text_is_escaped() {
        let page = message("<t>", "<script>alert(1)</script>", ("/admin/", "back")).into_string();
        assert!(!page.contains("<script>"));
        assert!(page.contains("&lt;script&gt;"));
    }
}
