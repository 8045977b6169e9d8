//! `/admin/*`: the auth matrix, putting tokens, refresh, purge, bad bodies.

use igfeed::config::Secret;
use igfeed_fake::{FakeOptions, Route, sample_media};
use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

async fn with_key() -> TestApp {
    spawn_app_with(FakeOptions::default(), sample_media(3), |c| {
        c.admin_key = Some(Secret::new(ADMIN_KEY));
    })
    .await
}

const ROUTES: [(&str, &str); 5] = [
    ("GET", "/admin/token"),
    ("PUT", "/admin/token"),
    ("POST", "/admin/token/refresh"),
    ("POST", "/admin/cache/purge"),
    ("GET", "/admin/unknown"),
];

fn method(m: &str) -> Method {
    m.parse().unwrap()
}

#[tokio::test]
async fn without_a_configured_key_every_admin_path_is_404() {
    let app = spawn_app().await;
    for (m, path) in ROUTES {
        for key in [None, Some("anything"), Some(ADMIN_KEY)] {
            let res = app
                .admin(method(m), path, key, Some(json!({"access_token": "IGAAx"})))
                .await;
            assert_problem(res, 404).await;
        }
    }
    assert_eq!(app.fake.calls(Route::Refresh), 0);
}

#[tokio::test]
async fn a_wrong_or_missing_key_is_401_and_the_right_one_works() {
    let app = with_key().await;
    for (m, path) in &ROUTES[..4] {
        for key in [
            None,
            Some("wrong"),
            Some(&ADMIN_KEY[..ADMIN_KEY.len() - 1]),
            Some(""),
        ] {
            let res = app
                .admin(method(m), path, key, Some(json!({"access_token": "IGAAx"})))
                .await;
            assert_eq!(res.headers()["www-authenticate"], "Bearer");
            let body = assert_problem(res, 401).await;
            assert!(!body.to_string().contains(ADMIN_KEY));
        }
    }
    let res = app
        .admin(Method::GET, "/admin/token", Some(ADMIN_KEY), None)
        .await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["access_token"], app.token.as_str());
    assert_eq!(body["status"], "valid");
    // Unknown admin paths are 404 even with the key.
    assert_problem(
        app.admin(Method::GET, "/admin/unknown", Some(ADMIN_KEY), None)
            .await,
        404,
    )
    .await;
    // Nothing changed through the refused calls.
    assert_eq!(app.fake.calls(Route::Refresh), 0);
    assert_eq!(app.current_token().await, app.token);
}

#[tokio::test]
async fn a_rejected_token_is_422_and_the_current_one_stays() {
    let app = with_key().await;
    app.get_feed().await;
    let res = app
        .admin(
            Method::PUT,
            "/admin/token",
            Some(ADMIN_KEY),
            Some(json!({"access_token": "IGAArejected123"})),
        )
        .await;
    let body = assert_problem(res, 422).await;
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("Invalid OAuth access token"),
        "Instagram's message: {detail}"
    );
    assert!(!detail.contains("IGAArejected123"));
    assert_eq!(app.current_token().await, app.token);
    let stored = std::fs::read_to_string(app.default_dir().join("token.json")).unwrap();
    assert!(stored.contains(&app.token) && !stored.contains("IGAArejected123"));
    assert_eq!(app.get_feed().await["stale"], false);
}

#[tokio::test]
async fn a_good_token_is_stored_before_the_200() {
    let app = with_key().await;
    let fresh = app.fake.issue_token();
    let res = app.put_token(&fresh).await;
    assert_eq!(res.status(), 200);
    let stored = std::fs::read_to_string(app.default_dir().join("token.json")).unwrap();
    assert!(stored.contains(&fresh));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(app.default_dir().join("token.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test]
async fn bad_bodies_are_4xx_problems() {
    let app = with_key().await;
    let url = format!("{}/admin/token", app.url);
    let send = |ct: &'static str, body: Vec<u8>| {
        app.client
            .put(&url)
            .bearer_auth(ADMIN_KEY)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    assert_problem(send("text/plain", b"IGAAx".to_vec()).await.unwrap(), 415).await;
    assert_problem(
        send("application/json", b"{not json".to_vec())
            .await
            .unwrap(),
        400,
    )
    .await;
    assert_problem(
        send("application/json", b"{\"token\": \"IGAAx\"}".to_vec())
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_problem(
        send("application/json", b"{\"access_token\": \"  \"}".to_vec())
            .await
            .unwrap(),
        422,
    )
    .await;
    let big = format!("{{\"access_token\": \"{}\"}}", "x".repeat(64 * 1024)).into_bytes();
    let res = send("application/json", big).await.unwrap();
    // The unread rest closes the connection, and the answer says so.
    assert_eq!(res.headers()["connection"], "close");
    assert_problem(res, 413).await;
    assert_eq!(app.current_token().await, app.token);
}

#[tokio::test]
async fn refresh_now_and_purge() {
    let app = with_key().await;
    app.get_feed().await;
    let res = app
        .admin(Method::POST, "/admin/token/refresh", Some(ADMIN_KEY), None)
        .await;
    assert_eq!(res.status(), 200);
    let status: serde_json::Value = res.json().await.unwrap();
    assert_eq!(status["status"], "valid");
    assert!(status["refreshed_at"].is_string());
    assert_eq!(app.fake.calls(Route::Refresh), 1);

    let walks = app.fake.calls(Route::MediaList);
    app.get_feed().await;
    assert_eq!(app.fake.calls(Route::MediaList), walks, "cached");
    let res = app
        .admin(Method::POST, "/admin/cache/purge", Some(ADMIN_KEY), None)
        .await;
    assert_eq!(res.status(), 200);
    app.get_feed().await;
    assert_eq!(
        app.fake.calls(Route::MediaList),
        walks + 1,
        "purged: fetched again"
    );
    // The last good feed on disk stays as the fallback.
    assert!(app.default_dir().join("feed.json").exists());

    // A refresh Instagram refuses (transient) is a 502 and keeps the token.
    let before = app.current_token().await;
    app.fake
        .fail(Route::Refresh, igfeed_fake::Fault::Status(503), 1);
    let res = app
        .admin(Method::POST, "/admin/token/refresh", Some(ADMIN_KEY), None)
        .await;
    assert_problem(res, 502).await;
    assert_eq!(app.current_token().await, before);
}
