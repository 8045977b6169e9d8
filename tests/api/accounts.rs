//! Many accounts in one service: independent feeds, tokens and rotations,
//! a restart, removing one account, migration of a single-account data
//! dir, bad names, concurrent puts, and the shared bound on upstream calls.

use std::time::{Duration, SystemTime};

use igfeed::app::Tuning;
use igfeed::config::Secret;
use igfeed_fake::{FakeAccountId, FakeMedia, FakeOptions, Route, sample_media};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

/// Three posts of a second Instagram account, with ids of their own.
fn shop_media() -> Vec<FakeMedia> {
    (0..3)
        .map(|i| {
            FakeMedia::image(
                &format!("1791000000000000{i}"),
                Some(&format!("shop post {i}")),
                &format!("2026-11-2{}T10:00:00+0000", 3 - i),
            )
        })
        .collect()
}

fn no_warm_up() -> Tuning {
    Tuning {
        warm_media: false,
        ..Tuning::default()
    }
}

/// The app with the fake's first account as `default` and an admin key;
/// the fake also has the account `shop_user`, not yet added to igfeed.
async fn two_account_app(
    tweak: impl FnOnce(&mut igfeed::config::Config),
) -> (TestApp, FakeAccountId) {
    let app = spawn_app_tuned(
        FakeOptions::default(),
        sample_media(4),
        |c| {
            c.admin_key = Some(Secret::new(ADMIN_KEY));
            tweak(c);
        },
        no_warm_up(),
    )
    .await;
    let shop = app
        .fake
        .add_account("shop_user", "17841400000000099", shop_media());
    (app, shop)
}

async fn put_account(app: &TestApp, name: &str, token: &str) -> reqwest::Response {
    let body = json!({ "access_token": token });
    app.admin(
        Method::PUT,
        &format!("/admin/accounts/{name}"),
        Some(ADMIN_KEY),
        Some(body),
    )
    .await
}

async fn json_of(app: &TestApp, path: &str) -> Value {
    let res = app.get(path).await;
    assert_eq!(res.status(), 200, "GET {path}");
    res.json().await.unwrap()
}

async fn account_token(app: &TestApp, name: &str) -> String {
    let res = app
        .admin(
            Method::GET,
            &format!("/admin/accounts/{name}/token"),
            Some(ADMIN_KEY),
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

fn ids(feed: &Value) -> Vec<String> {
    feed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn two_accounts_have_their_own_feeds_tokens_and_media() {
    let (app, shop) = two_account_app(|_| {}).await;
    let shop_token = app.fake.issue_token_for(shop);
    let res = put_account(&app, "shop", &shop_token).await;
    assert_eq!(res.status(), 201, "created");
    let status: Value = res.json().await.unwrap();
    assert_eq!(status["account"], "shop");
    assert_eq!(status["status"], "valid");
    assert_eq!(status["user"]["username"], "shop_user");
    assert!(!status.to_string().contains(&shop_token));

    let shop_feed = json_of(&app, "/feeds/shop").await;
    assert_eq!(shop_feed["user"]["username"], "shop_user");
    assert_eq!(
        ids(&shop_feed),
        [
            "17910000000000000",
            "17910000000000001",
            "17910000000000002"
        ]
    );
    let default_feed = json_of(&app, "/feed").await;
    assert_eq!(default_feed["user"]["username"], "example");
    assert_eq!(
        ids(&default_feed),
        ids(&json_of(&app, "/feeds/default").await)
    );
    assert!(ids(&default_feed).iter().all(|id| !id.starts_with("1791")));

    // Each account's media are served, from its own feed.
    let res = app.get("/media/17910000000000001").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.bytes().await.unwrap(),
        app.fake.asset("17910000000000001_n.jpg").unwrap()
    );
    let default_id = ids(&default_feed)[0].clone();
    assert_eq!(app.get(&format!("/media/{default_id}")).await.status(), 200);

    let token = json_of(&app, "/tokens/shop").await;
    assert_eq!(token["account"], "shop");
    assert_eq!(token["user"]["username"], "shop_user");
    assert_eq!(json_of(&app, "/token").await["account"], "default");

    let list: Value = app
        .admin(Method::GET, "/admin/accounts", Some(ADMIN_KEY), None)
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = list["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["account"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["default", "shop"]);
    assert_eq!(list["accounts"][1]["posts"], 3);
    let text = list.to_string();
    assert!(!text.contains(&shop_token) && !text.contains(&app.token));

    // Putting a new token for an existing account: 200, and it is used.
    let newer = app.fake.issue_token_for(shop);
    assert_eq!(put_account(&app, "shop", &newer).await.status(), 200);
    assert_eq!(account_token(&app, "shop").await, newer);
    assert_eq!(account_token(&app, "default").await, app.token);
}

#[tokio::test]
async fn both_tokens_rotate_on_their_own_while_both_feeds_stay_fresh_and_a_restart_keeps_both() {
    let (app, shop) = two_account_app(|c| {
        c.refresh_after = Duration::from_millis(600);
        c.refresh_min_age = Duration::from_millis(300);
        c.feed_ttl = Duration::from_millis(200);
    })
    .await;
    let shop_token = app.fake.issue_token_for(shop);
    assert_eq!(put_account(&app, "shop", &shop_token).await.status(), 201);
    let (first_default, first_shop) = (app.token.clone(), shop_token.clone());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut rotations = (0, 0);
    let (mut last_default, mut last_shop) = (first_default.clone(), first_shop.clone());
    while rotations.0 < 2 || rotations.1 < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "two rotations of each token within 20 s: {rotations:?}"
        );
        for (path, user) in [("/feed", "example"), ("/feeds/shop", "shop_user")] {
            let feed = json_of(&app, path).await;
            assert_eq!(feed["stale"], false, "{path} stays fresh");
            assert_eq!(feed["user"]["username"], user);
        }
        let (d, s) = (
            account_token(&app, "default").await,
            account_token(&app, "shop").await,
        );
        if d != last_default {
            rotations.0 += 1;
            last_default = d;
        }
        if s != last_shop {
            rotations.1 += 1;
            last_shop = s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Each account's token stays its own account's.
    assert!(app.fake.token_is_valid(&last_shop) && app.fake.token_is_valid(&last_default));
    assert!(!app.fake.token_is_valid(&first_shop));

    let app = app.restart().await;
    let shop_feed = json_of(&app, "/feeds/shop").await;
    assert_eq!(shop_feed["user"]["username"], "shop_user");
    assert_eq!(json_of(&app, "/feed").await["user"]["username"], "example");
    let kept = account_token(&app, "shop").await;
    assert!(
        app.fake.token_is_valid(&kept),
        "the stored token is current"
    );
}

#[tokio::test]
async fn an_account_refreshed_by_hand_gets_a_new_token_and_its_own_metrics() {
    let (app, shop) = two_account_app(|c| c.refresh_min_age = Duration::ZERO).await;
    let shop_token = app.fake.issue_token_for(shop);
    assert_eq!(put_account(&app, "shop", &shop_token).await.status(), 201);
    let res = app
        .admin(
            Method::POST,
            "/admin/accounts/shop/token/refresh",
            Some(ADMIN_KEY),
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    let status: Value = res.json().await.unwrap();
    assert_eq!(status["account"], "shop");
    assert!(status["refreshed_at"].is_string(), "{status}");
    let fresh = account_token(&app, "shop").await;
    assert_ne!(fresh, shop_token);
    assert_eq!(app.fake.token_account(&fresh), Some(shop));
    assert!(!app.fake.token_is_valid(&shop_token), "rotated out");
    assert_eq!(account_token(&app, "default").await, app.token, "untouched");
    // Per-account series, labelled with the account, gone with it.
    let text = app.get("/metrics").await.text().await.unwrap();
    let valid = r#"igfeed_token_status{account="shop",status="valid"}"#;
    assert_eq!(metric(&text, valid), Some(1.0), "{text}");
    assert!(
        metric(
            &text,
            r#"igfeed_token_last_refresh_timestamp_seconds{account="shop"}"#
        )
        .unwrap()
            > 0.0
    );
    assert_eq!(metric(&text, "igfeed_accounts"), Some(2.0));
    let res = app
        .admin(
            Method::DELETE,
            "/admin/accounts/shop",
            Some(ADMIN_KEY),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(!text.contains(r#"account="shop""#), "{text}");
    assert_eq!(metric(&text, "igfeed_accounts"), Some(1.0));
}

#[tokio::test]
async fn deleting_an_account_removes_all_of_it_and_nothing_of_the_others() {
    let (app, shop) = two_account_app(|_| {}).await;
    let shop_token = app.fake.issue_token_for(shop);
    assert_eq!(put_account(&app, "shop", &shop_token).await.status(), 201);
    json_of(&app, "/feeds/shop").await;
    let default_feed = json_of(&app, "/feed").await;
    let default_id = ids(&default_feed)[0].clone();
    assert_eq!(app.get("/media/17910000000000000").await.status(), 200);
    assert_eq!(app.get(&format!("/media/{default_id}")).await.status(), 200);
    let shop_dir = app.data_dir.path().join("accounts/shop");
    assert!(shop_dir.join("token.json").is_file() && shop_dir.join("feed.json").is_file());
    let (walks, cdn) = (app.fake.calls(Route::MediaList), app.fake.calls(Route::Cdn));

    let res = app
        .admin(
            Method::DELETE,
            "/admin/accounts/shop",
            Some(ADMIN_KEY),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    assert!(!shop_dir.exists(), "its state is gone");
    assert_problem(app.get("/feeds/shop").await, 404).await;
    assert_problem(app.get("/tokens/shop").await, 404).await;
    assert_problem(app.get("/media/17910000000000000").await, 404).await;
    let again = app
        .admin(
            Method::DELETE,
            "/admin/accounts/shop",
            Some(ADMIN_KEY),
            None,
        )
        .await;
    assert_problem(again, 404).await;

    // The other account is untouched: feed and media still cached.
    assert_eq!(ids(&json_of(&app, "/feed").await), ids(&default_feed));
    assert_eq!(app.get(&format!("/media/{default_id}")).await.status(), 200);
    assert_eq!(app.fake.calls(Route::MediaList), walks, "no walk");
    assert_eq!(app.fake.calls(Route::Cdn), cdn, "no CDN call");
    assert!(app.default_dir().join("token.json").is_file());

    // And after a restart the account stays gone.
    let app = app.restart().await;
    assert_problem(app.get("/feeds/shop").await, 404).await;
    assert_eq!(json_of(&app, "/feed").await["stale"], false);
}

#[tokio::test]
async fn an_expired_media_url_is_renewed_with_the_token_of_its_account() {
    let (app, shop) = two_account_app(|_| {}).await;
    app.fake
        .configure(|o| o.url_lifetime = Duration::from_secs(1));
    let shop_token = app.fake.issue_token_for(shop);
    assert_eq!(put_account(&app, "shop", &shop_token).await.status(), 201);
    json_of(&app, "/feed").await;
    json_of(&app, "/feeds/shop").await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    app.fake
        .configure(|o| o.url_lifetime = Duration::from_secs(3600));
    // With the default account's token the fake would answer error 100/33.
    let res = app.get("/media/17910000000000002").await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.fake.calls(Route::MediaUrls), 1);
}

#[tokio::test]
async fn bad_names_are_400_and_unknown_accounts_404() {
    let (app, _) = two_account_app(|_| {}).await;
    let long = "a".repeat(41);
    for bad in [
        "UPPER",
        "-lead",
        "under_score",
        "dot.ted",
        long.as_str(),
        "%C3%A9",
    ] {
        let p = assert_problem(app.get(&format!("/feeds/{bad}")).await, 400).await;
        assert!(
            p["detail"].as_str().unwrap().contains("account name"),
            "{p}"
        );
        assert_problem(app.get(&format!("/tokens/{bad}")).await, 400).await;
        let res = put_account(&app, bad, &app.fake.issue_token()).await;
        assert_problem(res, 400).await;
    }
    assert_problem(app.get("/feeds/nobody").await, 404).await;
    assert_problem(app.get("/tokens/nobody").await, 404).await;
    for (method, path) in [
        (Method::GET, "/admin/accounts/nobody/token"),
        (Method::POST, "/admin/accounts/nobody/token/refresh"),
        (Method::DELETE, "/admin/accounts/nobody"),
    ] {
        assert_problem(app.admin(method, path, Some(ADMIN_KEY), None).await, 404).await;
    }
    // `default` is what /feed stands for: it cannot be removed.
    let res = app
        .admin(
            Method::DELETE,
            "/admin/accounts/default",
            Some(ADMIN_KEY),
            None,
        )
        .await;
    assert_problem(res, 409).await;
    assert_eq!(app.get_feed().await["stale"], false);
    // No key: 401 before anything else.
    let res = app.admin(Method::GET, "/admin/accounts", None, None).await;
    assert_problem(res, 401).await;
    // A token Instagram rejects adds nothing.
    let res = put_account(&app, "ghost", "IGAAnotatoken").await;
    assert_problem(res, 422).await;
    assert_problem(app.get("/feeds/ghost").await, 404).await;
    assert!(!app.data_dir.path().join("accounts/ghost").exists());
}

#[tokio::test]
async fn concurrent_puts_of_one_account_keep_a_token_that_validated() {
    let (app, shop) = two_account_app(|_| {}).await;
    let good: Vec<String> = (0..8).map(|_| app.fake.issue_token_for(shop)).collect();
    let bad: Vec<String> = (0..4).map(|i| format!("IGAArevoked{i}")).collect();
    let puts = good
        .iter()
        .chain(bad.iter())
        .map(|t| put_account(&app, "shop", t));
    let statuses: Vec<u16> = futures_util::future::join_all(puts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        7,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 422).count(),
        4,
        "{statuses:?}"
    );
    let kept = account_token(&app, "shop").await;
    assert!(good.contains(&kept), "a token that validated is kept");
    let stored = igfeed::token::TokenFile::new(&app.data_dir.path().join("accounts/shop"))
        .load()
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.access_token.expose(),
        kept,
        "what is stored is what is used"
    );
}

#[tokio::test]
async fn a_single_account_data_dir_is_taken_over_as_default() {
    let fake = std::sync::Arc::new(
        igfeed_fake::FakeInstagram::start(FakeOptions::default(), sample_media(3))
            .await
            .unwrap(),
    );
    let seed = fake.issue_token();
    let refreshed = fake.issue_token();
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    // What the single-account version left: a refreshed descendant of the
    // env token, and its last good feed.
    let mut rec = igfeed::token::TokenRecord::first_seen(
        Secret::new(&refreshed),
        SystemTime::now(),
        Some(igfeed::token::fingerprint(&Secret::new(&seed))),
    );
    rec.refreshed_at = Some(SystemTime::now());
    igfeed::token::TokenFile::new(dir.path())
        .save(&rec)
        .unwrap();
    let feed = r#"{"account":{"id":"17841400000000000","username":"example"},"media":[],"fetched_at":"2026-11-01T10:00:00Z"}"#;
    std::fs::write(dir.path().join("feed.json"), feed).unwrap();

    let app = start_with_dir(fake.clone(), &seed, dir.clone(), |c| {
        c.admin_key = Some(Secret::new(ADMIN_KEY));
    })
    .await;
    assert_eq!(app.current_token().await, refreshed, "never the env token");
    assert!(!dir.path().join("token.json").exists());
    assert!(dir.path().join("accounts/default/token.json").is_file());
    // The taken-over feed is the fallback while Instagram fails.
    fake.fail_always(Route::MediaList, igfeed_fake::Fault::Status(500));
    let body = json_of(&app, "/feed").await;
    assert_eq!(body["stale"], true);
    assert_eq!(body["fetched_at"], "2026-11-01T10:00:00Z");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_cold_feeds_at_once_never_exceed_the_upstream_bound() {
    let app = spawn_app_tuned(
        FakeOptions {
            latency: Duration::from_millis(40),
            ..FakeOptions::default()
        },
        sample_media(3),
        |c| {
            c.admin_key = Some(Secret::new(ADMIN_KEY));
            c.upstream_concurrency = 3;
        },
        Tuning::default(),
    )
    .await;
    let mut names = Vec::new();
    for i in 0..12 {
        let media = vec![FakeMedia::image(
            &format!("179200000000{i:05}"),
            None,
            "2026-11-01T10:00:00+0000",
        )];
        let id = app
            .fake
            .add_account(&format!("user{i}"), &format!("178414000000{i:05}"), media);
        let name = format!("a{i}");
        let token = app.fake.issue_token_for(id);
        assert_eq!(put_account(&app, &name, &token).await.status(), 201);
        names.push(name);
    }
    app.fake.reset_peak();
    let gets = names.iter().map(|n| app.status(format!("/feeds/{n}")));
    let answers = futures_util::future::join_all(gets).await;
    assert!(answers.iter().all(|s| *s == 200), "{answers:?}");
    let peak = app.fake.peak_in_flight();
    assert!(peak <= 3, "at most 3 upstream calls at once, saw {peak}");
    assert!(peak >= 2, "the calls did overlap (peak {peak})");
}
