//! The token lifecycle: background refresh with rotating, short-lived
//! tokens; failures that keep the working token; invalid tokens; restarts.

use std::time::{Duration, Instant, SystemTime};

use igfeed::app::Tuning;
use igfeed::token::refresher::{Step, refresh_step};
use igfeed_fake::{FakeOptions, Fault, Route, sample_media};
use reqwest::Method;

use crate::helpers::*;

fn short_lived(lifetime_s: u64) -> FakeOptions {
    FakeOptions {
        token_lifetime: Duration::from_secs(lifetime_s),
        rotate_on_refresh: true,
        ..FakeOptions::default()
    }
}

/// An app that refreshes every second tokens that live `lifetime_s`.
async fn refreshing_app(lifetime_s: u64) -> TestApp {
    spawn_app_tuned(
        short_lived(lifetime_s),
        sample_media(3),
        |c| {
            c.admin_key = Some(igfeed::config::Secret::new(ADMIN_KEY));
            c.refresh_after = Duration::from_secs(1);
            c.refresh_min_age = Duration::from_millis(500);
            c.feed_ttl = Duration::from_millis(150);
        },
        fast_tuning(),
    )
    .await
}

fn fast_tuning() -> Tuning {
    Tuning {
        refresh_backoff: Duration::from_millis(200),
        ..Tuning::default()
    }
}

#[tokio::test]
async fn refreshes_before_every_expiry_and_the_feed_never_fails() {
    // Tokens live 8s and are refreshed every second; the old one dies at
    // each refresh, so a feed walk racing a refresh must pick up the new
    // token. The 7s of margin make a late refresher a defect, not load.
    let app = refreshing_app(8).await;
    let started = Instant::now();
    let mut seen = std::collections::HashSet::new();
    while started.elapsed() < Duration::from_secs(7) {
        let body = app.get_feed().await;
        assert_eq!(
            body["stale"],
            false,
            "the feed failed at {:?}",
            started.elapsed()
        );
        // A refresh in flight has already rotated the token at Instagram
        // but not yet stored the new one: give it a moment, not forever.
        let current = eventually(
            Duration::from_secs(2),
            "igfeed to hold a valid token",
            || async {
                let t = app.current_token().await;
                app.fake.token_is_valid(&t).then_some(t)
            },
        )
        .await;
        seen.insert(current);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        app.fake.calls(Route::Refresh) >= 4,
        "refreshes: {}",
        app.fake.calls(Route::Refresh)
    );
    assert!(seen.len() >= 4, "rotated tokens in use: {}", seen.len());
    let status: serde_json::Value = app.get("/token").await.json().await.unwrap();
    assert_eq!(
        status["status"], "expiring",
        "an 8s token is under 7 days: {status}"
    );
    assert!(status["refreshed_at"].is_string() && status["next_refresh_at"].is_string());
}

#[tokio::test]
async fn failed_refreshes_keep_the_working_token_and_retry() {
    let app = refreshing_app(8).await;
    let first = app.token.clone();
    app.fake.fail(Route::Refresh, Fault::Status(500), 1);
    app.fake.fail(Route::Refresh, Fault::Hang, 1);
    app.fake.fail(
        Route::Refresh,
        Fault::GraphError {
            status: 400,
            code: 4,
            message: "throttled".into(),
        },
        1,
    );
    // While refreshes fail, the first token stays in use and works.
    eventually(
        Duration::from_secs(20),
        "three failed refreshes",
        || async {
            let body = app.get_feed().await;
            assert_eq!(body["stale"], false);
            assert_eq!(
                app.current_token().await,
                first,
                "a failed refresh replaced the token"
            );
            (app.fake.calls(Route::Refresh) >= 3).then_some(())
        },
    )
    .await;
    // Then a retry succeeds and the new token takes over.
    let rotated = eventually(Duration::from_secs(20), "a successful retry", || async {
        let t = app.current_token().await;
        (t != first).then_some(t)
    })
    .await;
    assert!(app.fake.token_is_valid(&rotated));
    assert!(!app.fake.token_is_valid(&first), "the fake rotated it");
    assert_eq!(app.get_feed().await["stale"], false);
}

#[tokio::test]
async fn the_refresh_step_classifies_failures() {
    let app = spawn_app_with(FakeOptions::default(), sample_media(2), |c| {
        c.admin_key = Some(igfeed::config::Secret::new(ADMIN_KEY));
    })
    .await;
    let default = app_state(&app).accounts.default_account();
    let tokens = &default.tokens;
    let graph = &app_state(&app).graph;
    let now = SystemTime::now();
    // Not due: nothing happens.
    assert!(matches!(
        refresh_step(tokens, graph, now, false).await,
        Step::NotDue(_)
    ));
    assert_eq!(app.fake.calls(Route::Refresh), 0);
    // Transient: retried later, token kept.
    app.fake.fail(Route::Refresh, Fault::Status(502), 1);
    match refresh_step(tokens, graph, now, true).await {
        Step::Failed {
            invalid: false,
            retry_in,
            ..
        } => assert!(retry_in > Duration::ZERO),
        other => panic!("{other:?}"),
    }
    assert_eq!(tokens.usable().unwrap().expose(), app.token);
    assert_eq!(tokens.refresh_failures(), 1);
    // Success: a new token, stored before use.
    assert!(matches!(
        refresh_step(tokens, graph, now, true).await,
        Step::Refreshed(_)
    ));
    let new = tokens.usable().unwrap();
    assert_ne!(new.expose(), app.token);
    let stored = std::fs::read_to_string(app.default_dir().join("token.json")).unwrap();
    assert!(stored.contains(new.expose()));
    assert_eq!(tokens.refresh_failures(), 0);
    // 190: invalid, and no more refreshes.
    app.fake.revoke_all();
    assert!(matches!(
        refresh_step(tokens, graph, now, true).await,
        Step::Failed { invalid: true, .. }
    ));
    assert_eq!(refresh_step(tokens, graph, now, true).await, Step::Invalid);
    let status: serde_json::Value = app.get("/token").await.json().await.unwrap();
    assert_eq!(status["status"], "invalid");
}

fn app_state(app: &TestApp) -> &igfeed::state::AppState {
    app.state.as_ref().expect("state")
}

#[tokio::test]
async fn an_invalid_token_serves_stale_until_a_new_one_is_put() {
    let app = spawn_app_with(FakeOptions::default(), sample_media(4), |c| {
        c.admin_key = Some(igfeed::config::Secret::new(ADMIN_KEY));
        c.feed_ttl = Duration::from_millis(150);
    })
    .await;
    let good = app.get_feed().await;
    app.fake.revoke_all();
    eventually(Duration::from_secs(10), "invalid + stale", || async {
        let body = app.get_feed().await;
        let status: serde_json::Value = app.get("/token").await.json().await.unwrap();
        (body["stale"] == true && status["status"] == "invalid").then_some(())
    })
    .await;
    assert_eq!(app.get_feed().await["data"], good["data"]);
    // A person puts a new token: recovered without a restart.
    let fresh = app.fake.issue_token();
    let res = app.put_token(&fresh).await;
    assert_eq!(res.status(), 200);
    let status: serde_json::Value = res.json().await.unwrap();
    assert_eq!(status["status"], "valid");
    assert_eq!(status["user"]["username"], "example");
    assert!(!status.to_string().contains(&fresh));
    assert_eq!(app.get_feed().await["stale"], false);
    assert_eq!(app.current_token().await, fresh);
}

#[tokio::test]
async fn the_rotated_token_survives_a_restart() {
    let app = spawn_app_with(FakeOptions::default(), sample_media(2), |c| {
        c.admin_key = Some(igfeed::config::Secret::new(ADMIN_KEY));
    })
    .await;
    let res = app
        .admin(Method::POST, "/admin/token/refresh", Some(ADMIN_KEY), None)
        .await;
    assert_eq!(res.status(), 200);
    let rotated = app.current_token().await;
    assert_ne!(rotated, app.token);
    assert!(!app.fake.token_is_valid(&app.token));
    // Same IGFEED_ACCESS_TOKEN in the environment: the stored descendant wins.
    let app = app.restart().await;
    assert_eq!(app.current_token().await, rotated);
    assert_eq!(app.get_feed().await["stale"], false);
}

#[tokio::test]
async fn a_changed_env_token_replaces_the_stored_one() {
    let app = spawn_app_with(FakeOptions::default(), sample_media(2), |c| {
        c.admin_key = Some(igfeed::config::Secret::new(ADMIN_KEY));
    })
    .await;
    app.admin(Method::POST, "/admin/token/refresh", Some(ADMIN_KEY), None)
        .await;
    let mut app = app;
    app.stop().await;
    let new_seed = app.fake.issue_token();
    app.config.access_token = Some(igfeed::config::Secret::new(&new_seed));
    let app = app.restart().await;
    assert_eq!(app.current_token().await, new_seed);
}

#[tokio::test]
async fn a_corrupt_token_state_stops_start_up_and_is_kept() {
    let fake = igfeed_fake::FakeInstagram::start(FakeOptions::default(), sample_media(1))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token.json"), b"{\"access_token\": \"IGAA").unwrap();
    let config = test_config(&fake, &fake.issue_token(), &dir);
    let err = igfeed::app::App::build(config)
        .await
        .err()
        .expect("refuses to start");
    let text = err.to_string();
    assert!(
        text.contains("IGFEED_DATA_DIR") && text.contains("token.json"),
        "{text}"
    );
    assert!(
        matches!(err, igfeed::app::StartError::Config { .. }),
        "exit code 2"
    );
    assert_eq!(
        std::fs::read(dir.path().join("token.json")).unwrap(),
        b"{\"access_token\": \"IGAA",
        "not replaced"
    );
}

#[tokio::test]
async fn token_status_never_shows_the_token_and_logs_never_do() {
    let (logs, _guard) = capture_logs();
    let app = spawn_app_with(FakeOptions::default(), sample_media(2), |c| {
        c.admin_key = Some(igfeed::config::Secret::new(ADMIN_KEY));
    })
    .await;
    app.get_feed().await;
    let body = app.get("/token").await.text().await.unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "valid");
    assert_eq!(v["user"]["id"], "17841400000000000");
    assert!(v.get("access_token").is_none());
    assert!(!body.contains(&app.token));
    for key in [
        "status",
        "user",
        "expires_at",
        "refreshed_at",
        "next_refresh_at",
    ] {
        assert!(v.get(key).is_some(), "{key} in {body}");
    }
    app.admin(Method::POST, "/admin/token/refresh", Some(ADMIN_KEY), None)
        .await;
    let rotated = app.current_token().await;
    let bad = app
        .admin(
            Method::PUT,
            "/admin/token",
            Some(ADMIN_KEY),
            Some(serde_json::json!({"access_token": "IGAAnot-a-real-token"})),
        )
        .await;
    assert_eq!(bad.status(), 422);
    let logs = logs.text();
    assert!(logs.contains("access token refreshed"), "logs captured");
    for secret in [
        app.token.as_str(),
        rotated.as_str(),
        "IGAAnot-a-real-token",
        ADMIN_KEY,
    ] {
        assert!(!logs.contains(secret), "a secret in the logs");
    }
}
