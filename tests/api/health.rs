//! `/healthz` and `/readyz` transitions.

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
    // Instagram back: ready (readiness fetches the feed once).
    app.fake.heal(Route::MediaList);
    assert_eq!(app.get("/readyz").await.status(), 200);
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
