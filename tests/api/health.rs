//! `/healthz` and `/readyz` transitions.

use std::time::Duration;

use futures_util::future::join_all;
use igfeed_fake::{FakeOptions, Fault, Route, sample_media};

use crate::helpers::*;

#[tokio::test]
async fn healthz_answers_while_serving() {
    let app = spawn_app_with(FakeOptions::default(), sample_media(2), |c| {
        c.access_token = None
    })
    .await;
    let res = app.get("/healthz").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["status"],
        "ok"
    );
}

#[tokio::test]
async fn readyz_follows_whether_a_feed_can_be_served() {
    // No token: not ready, and says why.
    let app = spawn_app_with(FakeOptions::default(), sample_media(2), |c| {
        c.access_token = None
    })
    .await;
    let body = assert_problem(app.get("/readyz").await, 503).await;
    assert!(
        body["detail"].as_str().unwrap().contains("no access token"),
        "{body}"
    );

    // A token but Instagram down and nothing fetched: not ready.
    let app = spawn_app_with(FakeOptions::default(), sample_media(2), |_| {}).await;
    app.fake.fail_always(Route::MediaList, Fault::Status(500));
    assert_problem(app.get("/readyz").await, 503).await;
    // Instagram back: ready once the pause after the failure ends
    // (readiness then fetches the feed once).
    app.fake.heal(Route::MediaList);
    eventually(Duration::from_secs(30), "ready after the pause", || async {
        (app.get("/readyz").await.status() == 200).then_some(())
    })
    .await;
    // Instagram down again: the last good feed can still be served.
    app.fake.fail_always(Route::MediaList, Fault::Status(500));
    let app = app.restart().await;
    assert_eq!(app.get("/readyz").await.status(), 200);

    // Token rejected before any feed: not ready, naming the token.
    let app = spawn_app_with(FakeOptions::default(), sample_media(2), |_| {}).await;
    app.fake.revoke_all();
    assert_problem(app.get("/readyz").await, 503).await;
    let body = assert_problem(app.get("/readyz").await, 503).await;
    assert!(
        body["detail"].as_str().unwrap().contains("invalid"),
        "{body}"
    );
}

#[tokio::test]
async fn a_throttling_instagram_is_asked_once_per_pause_on_a_cold_start() {
    // Nothing ever fetched, and Instagram says "slow down" (code 4).
    let app = spawn_app_with(FakeOptions::default(), sample_media(2), |c| {
        c.admin_key = Some(igfeed::config::Secret::new(ADMIN_KEY));
    })
    .await;
    app.fake.fail_always(
        Route::MediaList,
        Fault::GraphError {
            status: 400,
            code: 4,
            message: "Application request limit reached".into(),
        },
    );
    // 40 visitors at once, then 20 more and the readiness probe: one walk.
    let visitors = (0..40).map(|_| app.get("/feed"));
    for res in join_all(visitors).await {
        assert_problem(res, 503).await;
    }
    for _ in 0..20 {
        assert_problem(app.get("/feed").await, 503).await;
    }
    assert_problem(app.get("/readyz").await, 503).await;
    assert_eq!(app.fake.calls(Route::MediaList), 1, "one upstream walk");
    // A new token is worth trying at once: the pause ends with it.
    app.fake.heal(Route::MediaList);
    let token = app.fake.issue_token();
    assert_eq!(app.put_token(&token).await.status(), 200);
    assert_eq!(app.get("/feed").await.status(), 200);
    assert_eq!(app.fake.calls(Route::MediaList), 2);
}
