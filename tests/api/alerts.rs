//! Webhook alerts: once per condition, a recovery when fixed, retried
//! delivery, no secrets.

use std::time::{Duration, SystemTime};

use igfeed::alerts::AlertSettings;
use igfeed::app::Tuning;
use igfeed::config::Secret;
use igfeed::token::{TokenFile, TokenRecord, fingerprint};
use igfeed_fake::{FakeOptions, Fault, Route, sample_media};
use reqwest::Method;
use serde_json::Value;

use crate::helpers::*;

fn tuning() -> Tuning {
    Tuning {
        alerts: AlertSettings {
            every: Duration::from_millis(100),
            stale_after: Duration::from_millis(400),
            failed_refreshes: 2,
            attempts: 5,
            retry_base: Duration::from_millis(50),
        },
        refresh_backoff: Duration::from_millis(100),
        ..Tuning::default()
    }
}

async fn app_with_hook(
    hook_url: &str,
    opts: FakeOptions,
    tweak: impl FnOnce(&mut igfeed::config::Config),
) -> TestApp {
    let hook_url = hook_url.to_string();
    spawn_app_tuned(
        opts,
        sample_media(3),
        move |c| {
            c.admin_key = Some(Secret::new(ADMIN_KEY));
            c.alert_webhook = Some(hook_url.parse().unwrap());
            c.feed_ttl = Duration::from_millis(100);
            tweak(c);
        },
        tuning(),
    )
    .await
}

#[tokio::test]
async fn token_invalid_alerts_once_and_recovers_after_put() {
    let (hook, url) = Hook::start(0).await;
    let app = app_with_hook(&url, FakeOptions::default(), |_| {}).await;
    app.get_feed().await;
    app.fake.revoke_all();
    eventually(Duration::from_secs(10), "token_invalid alert", || async {
        app.get_feed().await;
        hook.events()
            .contains(&"token_invalid".to_string())
            .then_some(())
    })
    .await;
    // Several more checks: no flood.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        hook.events()
            .iter()
            .filter(|e| *e == "token_invalid")
            .count(),
        1,
        "{:?}",
        hook.events()
    );
    let alert = hook.received.lock().unwrap()[0].clone();
    assert_eq!(alert["token_status"], "invalid");
    assert_eq!(alert["account"], "default");
    assert!(
        alert["message"]
            .as_str()
            .unwrap()
            .contains("PUT /admin/accounts/default")
    );
    assert!(alert["time"].is_string() && alert["expires_at"].is_string());

    let fresh = app.fake.issue_token();
    let res = app.put_token(&fresh).await;
    assert_eq!(res.status(), 200);
    hook.wait_for("recovered:token_invalid", Duration::from_secs(10))
        .await;
    let all = hook.received.lock().unwrap().clone();
    let text = serde_json::to_string(&all).unwrap();
    assert!(!text.contains(&app.token) && !text.contains(&fresh) && !text.contains(ADMIN_KEY));
}

#[tokio::test]
async fn failing_refreshes_alert_past_the_threshold_and_recover() {
    let (hook, url) = Hook::start(0).await;
    let opts = FakeOptions {
        token_lifetime: Duration::from_secs(30),
        ..FakeOptions::default()
    };
    let app = app_with_hook(&url, opts, |c| {
        c.refresh_after = Duration::from_secs(1);
        c.refresh_min_age = Duration::from_millis(500);
    })
    .await;
    app.fake.fail(Route::Refresh, Fault::Status(500), 3);
    hook.wait_for("refresh_failing", Duration::from_secs(15))
        .await;
    eventually(
        Duration::from_secs(15),
        "recovery after a good refresh",
        || async {
            hook.events()
                .contains(&"recovered:refresh_failing".to_string())
                .then_some(())
        },
    )
    .await;
    assert_eq!(
        hook.events()
            .iter()
            .filter(|e| *e == "refresh_failing")
            .count(),
        1
    );
}

#[tokio::test]
async fn a_feed_stale_too_long_alerts_and_recovers() {
    let (hook, url) = Hook::start(0).await;
    let app = app_with_hook(&url, FakeOptions::default(), |_| {}).await;
    app.get_feed().await;
    app.fake.fail_always(Route::MediaList, Fault::Status(500));
    eventually(Duration::from_secs(10), "feed_stale alert", || async {
        app.get_feed().await;
        hook.events()
            .contains(&"feed_stale".to_string())
            .then_some(())
    })
    .await;
    app.fake.heal(Route::MediaList);
    eventually(Duration::from_secs(10), "recovery", || async {
        app.get_feed().await;
        hook.events()
            .contains(&"recovered:feed_stale".to_string())
            .then_some(())
    })
    .await;
    assert_eq!(
        hook.events().iter().filter(|e| *e == "feed_stale").count(),
        1,
        "{:?}",
        hook.events()
    );
}

/// Nobody visits: the cache entry of the stale feed lives only for the TTL,
/// but the watchdog must keep seeing the feed fail — one `feed_stale`, no
/// false `recovered`, no repeats, over many watchdog periods.
#[tokio::test]
async fn a_quiet_site_with_a_failing_upstream_alerts_once_and_never_falsely_recovers() {
    let (hook, url) = Hook::start(0).await;
    let app = app_with_hook(&url, FakeOptions::default(), |_| {}).await;
    app.get_feed().await;
    // The last good feed gets older than `stale_after` (400ms), so the
    // first failed load is already stale too long.
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.fake.fail_always(Route::MediaList, Fault::Status(500));
    eventually(Duration::from_secs(10), "one failed load", || async {
        (app.get_feed().await["stale"] == true).then_some(())
    })
    .await;
    // From here on the site is quiet: no request reaches /feed.
    hook.wait_for("feed_stale", Duration::from_secs(10)).await;
    let walks = app.fake.calls(Route::MediaList);
    // 15 watchdog periods (and many cache lifetimes) pass.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(hook.events(), ["feed_stale"]);
    assert_eq!(app.fake.calls(Route::MediaList), walks, "quiet: no fetch");
    let alert = hook.received.lock().unwrap()[0].clone();
    assert!(
        alert["message"].as_str().unwrap().contains("failing since"),
        "{alert}"
    );
}

#[tokio::test]
async fn an_expiring_token_alerts() {
    let (hook, url) = Hook::start(0).await;
    // Instagram says the refreshed token lives 6 days: under 7 is "expiring".
    let opts = FakeOptions {
        token_lifetime: Duration::from_secs(6 * 24 * 3600),
        ..FakeOptions::default()
    };
    let app = app_with_hook(&url, opts, |_| {}).await;
    let res = app
        .admin(Method::POST, "/admin/token/refresh", Some(ADMIN_KEY), None)
        .await;
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "expiring");
    hook.wait_for("token_expiring", Duration::from_secs(10))
        .await;
    let alert = hook.received.lock().unwrap()[0].clone();
    let message = alert["message"].as_str().unwrap();
    assert!(
        message.contains("expires in ") && !message.contains("expired"),
        "{message}"
    );
}

#[tokio::test]
async fn an_expired_token_alert_says_it_expired() {
    let (hook, url) = Hook::start(0).await;
    let app = app_with_hook(&url, FakeOptions::default(), |c| {
        // The stored descendant of the configured token expired an hour
        // ago (and is not due for a refresh: issued two hours ago).
        let seed = c.access_token.clone().unwrap();
        let now = SystemTime::now();
        let rec = TokenRecord {
            issued_at: now - Duration::from_secs(2 * 3600),
            expires_at: now - Duration::from_secs(3600),
            expiry_known: true,
            ..TokenRecord::first_seen(seed.clone(), now, Some(fingerprint(&seed)))
        };
        TokenFile::new(&c.data_dir).save(&rec).unwrap();
    })
    .await;
    let status: Value = app.get("/token").await.json().await.unwrap();
    assert_eq!(status["status"], "expired");
    hook.wait_for("token_expiring", Duration::from_secs(10))
        .await;
    let alert = hook.received.lock().unwrap()[0].clone();
    assert_eq!(alert["token_status"], "expired");
    let message = alert["message"].as_str().unwrap();
    assert!(message.contains("expired at"), "{message}");
    assert!(!message.contains("expires"), "{message}");
}

#[tokio::test]
async fn delivery_is_retried_until_the_webhook_takes_it() {
    let (hook, url) = Hook::start(2).await;
    let app = app_with_hook(&url, FakeOptions::default(), |_| {}).await;
    app.get_feed().await;
    app.fake.revoke_all();
    app.get_feed().await;
    eventually(
        Duration::from_secs(10),
        "delivered on the third attempt",
        || async {
            app.get_feed().await;
            (hook.events() == ["token_invalid"]).then_some(())
        },
    )
    .await;
    assert_eq!(*hook.attempts.lock().unwrap(), 3);
    // The service kept serving meanwhile.
    assert_eq!(app.get("/healthz").await.status(), 200);
}
