//! Webhooks: `feed.updated` when an account's posts (or captions) change,
//! `X-Igfeed-Event` and `X-Igfeed-Signature` on every POST (alerts too),
//! retried until the receiver takes it.

use std::time::Duration;

use hmac::{Hmac, Mac};
use igfeed::alerts::AlertSettings;
use igfeed::app::Tuning;
use igfeed::config::Secret;
use igfeed_fake::{FakeMedia, FakeOptions, Route, sample_media};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::*;

const SECRET: &str = "whsec-test-0123456789";

fn tuning() -> Tuning {
    Tuning {
        alerts: AlertSettings {
            every: Duration::from_millis(100),
            attempts: 5,
            retry_base: Duration::from_millis(50),
            ..AlertSettings::default()
        },
        warm_media: false,
        ..Tuning::default()
    }
}

async fn app_with_feed_hook(url: &str, secret: bool, fail_refresh: bool) -> TestApp {
    let url = url.to_string();
    spawn_app_tuned(
        FakeOptions::default(),
        sample_media(3),
        |c| {
            c.admin_key = Some(Secret::new(ADMIN_KEY));
            c.feed_webhook = Some(url.parse().unwrap());
            if fail_refresh {
                c.alert_webhook = Some(url.parse().unwrap());
            }
            if secret {
                c.webhook_secret = Some(Secret::new(SECRET));
            }
        },
        tuning(),
    )
    .await
}

/// Fetches the feed anew (a purge drops the cached one).
async fn refetch(app: &TestApp) {
    let res = app
        .admin(Method::POST, "/admin/cache/purge", Some(ADMIN_KEY), None)
        .await;
    assert_eq!(res.status(), 200);
    app.get_feed().await;
}

async fn nth_event(hook: &Hook, n: usize) -> Value {
    eventually(
        Duration::from_secs(10),
        &format!("webhook event #{n}"),
        || async { hook.received.lock().unwrap().get(n - 1).cloned() },
    )
    .await
}

fn expected_signature(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

#[tokio::test]
async fn feed_updated_says_what_was_added_removed_and_recaptioned_and_nothing_else() {
    let (hook, url) = Hook::start(0).await;
    let app = app_with_feed_hook(&url, true, false).await;
    let first_ids: Vec<String> = app.fake.media().iter().map(|m| m.id.clone()).collect();
    app.get_feed().await;
    // The first good feed: every post is new.
    let first = nth_event(&hook, 1).await;
    assert_eq!(first["event"], "feed.updated");
    assert_eq!(first["account"], "default");
    assert_eq!(first["added"], json!(first_ids));
    assert_eq!(first["removed"], json!([]));
    assert!(humantime::parse_rfc3339(first["fetched_at"].as_str().unwrap()).is_ok());

    // Fetched again, nothing changed: no event. (The next event, below,
    // is the second one: events are delivered in order.)
    refetch(&app).await;
    assert_eq!(app.fake.calls(Route::MediaList), 2);

    // A new post, one gone, one caption edited.
    let mut media = app.fake.media();
    let gone = media.pop().unwrap().id;
    media[0].caption = Some("edited".into());
    let edited = media[0].id.clone();
    media.insert(
        0,
        FakeMedia::image("17900000000000099", Some("new"), "2026-11-29T10:00:00+0000"),
    );
    app.fake.set_media(media);
    refetch(&app).await;
    let second = nth_event(&hook, 2).await;
    assert_eq!(second["added"], json!(["17900000000000099"]));
    assert_eq!(second["removed"], json!([gone]));
    assert_eq!(second["changed"], json!([edited]));
    assert_eq!(
        hook.received.lock().unwrap().len(),
        2,
        "{:?}",
        hook.events()
    );

    // Every POST is signed over its exact body and names its event.
    for (headers, body) in hook.raw.lock().unwrap().iter() {
        assert_eq!(headers["x-igfeed-event"], "feed.updated");
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(
            headers["x-igfeed-signature"].to_str().unwrap(),
            expected_signature(body)
        );
    }
}

#[tokio::test]
async fn a_restart_does_not_announce_the_feed_it_already_had() {
    let (hook, url) = Hook::start(0).await;
    let app = app_with_feed_hook(&url, false, false).await;
    app.get_feed().await;
    nth_event(&hook, 1).await;
    let app = app.restart().await;
    app.get_feed().await;
    app.fake.publish(FakeMedia::image(
        "17900000000000077",
        None,
        "2026-11-29T10:00:00+0000",
    ));
    refetch(&app).await;
    let second = nth_event(&hook, 2).await;
    assert_eq!(second["added"], json!(["17900000000000077"]));
    assert_eq!(hook.received.lock().unwrap().len(), 2);
    // Without IGFEED_WEBHOOK_SECRET: no signature header.
    let raw = hook.raw.lock().unwrap();
    assert!(
        raw.iter()
            .all(|(h, _)| !h.contains_key("x-igfeed-signature"))
    );
}

#[tokio::test]
async fn a_failing_receiver_gets_the_event_again_until_it_takes_it() {
    let (hook, url) = Hook::start(3).await;
    let app = app_with_feed_hook(&url, true, false).await;
    app.get_feed().await;
    let event = nth_event(&hook, 1).await;
    assert_eq!(event["event"], "feed.updated");
    assert_eq!(
        *hook.attempts.lock().unwrap(),
        4,
        "three refusals, then taken"
    );
    let raw = hook.raw.lock().unwrap();
    let (headers, body) = &raw[0];
    assert_eq!(
        headers["x-igfeed-signature"].to_str().unwrap(),
        expected_signature(body)
    );
}

#[tokio::test]
async fn alerts_are_signed_and_named_too() {
    let (hook, url) = Hook::start(0).await;
    let app = app_with_feed_hook(&url, true, true).await;
    app.get_feed().await;
    app.fake.revoke_all();
    refetch(&app).await;
    hook.wait_for("token_invalid", Duration::from_secs(10))
        .await;
    let raw = hook.raw.lock().unwrap();
    let (headers, body) = raw
        .iter()
        .find(|(h, _)| h["x-igfeed-event"] == "token_invalid")
        .expect("the alert");
    assert_eq!(
        headers["x-igfeed-signature"].to_str().unwrap(),
        expected_signature(body)
    );
    let alert: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(alert["account"], "default");
    assert!(!String::from_utf8_lossy(body).contains(SECRET));
}
