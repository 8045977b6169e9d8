//! A token that cannot be stored (disk full, read-only data dir): the new
//! token stays in use, the failure is reported — admin answer, alert,
//! metric, `/readyz` — and the write is retried until it succeeds.

use std::path::PathBuf;
use std::time::Duration;

use igfeed::alerts::AlertSettings;
use igfeed::app::Tuning;
use igfeed::config::Secret;
use igfeed_fake::{FakeOptions, Route, sample_media};
use reqwest::Method;
use serde_json::Value;

use crate::helpers::*;

fn tuning() -> Tuning {
    Tuning {
        alerts: AlertSettings {
            every: Duration::from_millis(100),
            retry_base: Duration::from_millis(50),
            ..AlertSettings::default()
        },
        persist_retry: Duration::from_millis(50),
        ..Tuning::default()
    }
}

/// An app with the admin key whose alerts go to `hook_url`.
async fn app_with_hook(hook_url: &str, tweak: impl FnOnce(&mut igfeed::config::Config)) -> TestApp {
    let hook_url = hook_url.to_string();
    spawn_app_tuned(
        FakeOptions::default(),
        sample_media(3),
        move |c| {
            c.admin_key = Some(Secret::new(ADMIN_KEY));
            c.alert_webhook = Some(hook_url.parse().unwrap());
            tweak(c);
        },
        tuning(),
    )
    .await
}

fn token_json(app: &TestApp) -> PathBuf {
    app.default_dir().join("token.json")
}

/// Makes every write of `token.json` fail, also for root (who ignores
/// permissions): its place is taken by a directory, which the atomic
/// write's rename cannot replace.
fn break_the_store(app: &TestApp) {
    std::fs::remove_file(token_json(app)).unwrap();
    std::fs::create_dir(token_json(app)).unwrap();
}

fn heal_the_store(app: &TestApp) {
    std::fs::remove_dir(token_json(app)).unwrap();
}

/// The token stored in `token.json`, if it can be read.
fn stored_token(app: &TestApp) -> Option<String> {
    let text = std::fs::read_to_string(token_json(app)).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    v["access_token"].as_str().map(str::to_string)
}

fn failed_writes(app: &TestApp) -> u32 {
    let state = app.state.as_ref().expect("state");
    state
        .accounts
        .default_account()
        .tokens
        .persist_failure()
        .map_or(0, |f| f.failures)
}

async fn metric(app: &TestApp, line_start: &str) -> String {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find(|l| l.starts_with(line_start))
        .unwrap_or_else(|| panic!("{line_start} in {text}"))
        .to_string()
}

async fn readiness(app: &TestApp) -> Value {
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 200, "a feed can be served");
    res.json().await.unwrap()
}

#[tokio::test]
async fn a_refreshed_token_that_cannot_be_stored_stays_in_use_and_is_stored_later() {
    let (logs, _guard) = capture_logs();
    let (hook, url) = Hook::start(0).await;
    let app = app_with_hook(&url, |_| {}).await;
    app.get_feed().await;
    assert_eq!(
        metric(&app, r#"igfeed_token_persist_failed{account="default"} "#).await,
        r#"igfeed_token_persist_failed{account="default"} 0"#
    );
    assert_eq!(readiness(&app).await["warnings"], serde_json::json!([]));
    let old = app.token.clone();
    break_the_store(&app);

    let res = app
        .admin(Method::POST, "/admin/token/refresh", Some(ADMIN_KEY), None)
        .await;
    let problem = assert_problem(res, 500).await;
    assert_eq!(problem["type"], "urn:igfeed:persist-failed");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("refreshed but could not be stored"),
        "{detail}"
    );
    // The new token is in use: Instagram has already invalidated the old.
    let new = app.current_token().await;
    assert_ne!(new, old);
    assert!(app.fake.token_is_valid(&new) && !app.fake.token_is_valid(&old));
    assert!(!problem.to_string().contains(&new));
    assert!(token_json(&app).is_dir(), "nothing was stored");
    // The feed is served with it.
    app.admin(Method::POST, "/admin/cache/purge", Some(ADMIN_KEY), None)
        .await;
    assert_eq!(app.get_feed().await["stale"], false);

    // Reported: an alert, the metric, readiness.
    let alert = eventually(Duration::from_secs(10), "persist_failed alert", || async {
        let received = hook.received.lock().unwrap().clone();
        received
            .into_iter()
            .find(|a| a["event"] == "persist_failed")
    })
    .await;
    let message = alert["message"].as_str().unwrap();
    assert!(message.contains("IGFEED_DATA_DIR"), "{message}");
    assert_eq!(
        metric(&app, r#"igfeed_token_persist_failed{account="default"} "#).await,
        r#"igfeed_token_persist_failed{account="default"} 1"#
    );
    let ready = readiness(&app).await;
    assert_eq!(ready["status"], "ok");
    let warning = ready["warnings"][0].as_str().unwrap_or_default();
    assert!(warning.contains("not stored"), "{ready}");

    // Retried while the fault lasts, with backoff.
    eventually(Duration::from_secs(10), "two retries", || async {
        (failed_writes(&app) >= 3).then_some(())
    })
    .await;
    assert!(token_json(&app).is_dir());

    // The fault is gone: a retry stores the new token, all clear.
    heal_the_store(&app);
    eventually(Duration::from_secs(10), "the new token stored", || async {
        (stored_token(&app).as_deref() == Some(new.as_str())).then_some(())
    })
    .await;
    hook.wait_for("recovered:persist_failed", Duration::from_secs(10))
        .await;
    assert_eq!(
        metric(&app, r#"igfeed_token_persist_failed{account="default"} "#).await,
        r#"igfeed_token_persist_failed{account="default"} 0"#
    );
    assert_eq!(readiness(&app).await["warnings"], serde_json::json!([]));
    assert_eq!(
        hook.events()
            .iter()
            .filter(|e| *e == "persist_failed")
            .count(),
        1,
        "{:?}",
        hook.events()
    );

    // No secret in alerts or logs.
    let alerts = serde_json::to_string(&*hook.received.lock().unwrap()).unwrap();
    let logs = logs.text();
    for secret in [old.as_str(), new.as_str(), ADMIN_KEY] {
        assert!(!alerts.contains(secret) && !logs.contains(secret));
    }

    // A restart loads the new token.
    let app = app.restart().await;
    assert_eq!(app.current_token().await, new);
    assert_eq!(app.get_feed().await["stale"], false);
}

#[tokio::test]
async fn a_put_token_that_cannot_be_stored_is_in_use_and_stored_later() {
    let app = spawn_app_tuned(
        FakeOptions::default(),
        sample_media(3),
        |c| c.admin_key = Some(Secret::new(ADMIN_KEY)),
        tuning(),
    )
    .await;
    break_the_store(&app);
    let fresh = app.fake.issue_token();
    let problem = assert_problem(app.put_token(&fresh).await, 500).await;
    assert_eq!(problem["type"], "urn:igfeed:persist-failed");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("accepted but could not be stored"),
        "{detail}"
    );
    assert!(!detail.contains(&fresh));
    assert_eq!(app.current_token().await, fresh);
    assert_eq!(app.get_feed().await["stale"], false);
    heal_the_store(&app);
    eventually(Duration::from_secs(10), "the put token stored", || async {
        (stored_token(&app).as_deref() == Some(fresh.as_str())).then_some(())
    })
    .await;
}

#[tokio::test]
async fn the_background_refresher_reports_a_token_it_cannot_store() {
    let (hook, url) = Hook::start(0).await;
    let app = app_with_hook(&url, |c| {
        c.refresh_after = Duration::from_secs(1);
        c.refresh_min_age = Duration::from_millis(500);
    })
    .await;
    break_the_store(&app);
    // The refresher rotates the token; it cannot be stored.
    eventually(Duration::from_secs(10), "a background refresh", || async {
        (app.current_token().await != app.token).then_some(())
    })
    .await;
    assert!(app.fake.calls(Route::Refresh) >= 1);
    hook.wait_for("persist_failed", Duration::from_secs(10))
        .await;
    assert!(token_json(&app).is_dir());
    heal_the_store(&app);
    // Stored: what is on disk is what is in use (refreshes go on meanwhile).
    eventually(
        Duration::from_secs(10),
        "the token in use stored",
        || async {
            let current = app.current_token().await;
            (stored_token(&app) == Some(current) && failed_writes(&app) == 0).then_some(())
        },
    )
    .await;
    hook.wait_for("recovered:persist_failed", Duration::from_secs(10))
        .await;
}
