//! Upstream faults beyond the plain ones: a token rejected in the middle of
//! paging, hanging and trickling upstreams bounded by the upstream timeout.

use std::time::{Duration, Instant};

use igfeed_fake::{FakeOptions, Fault, Route, sample_media};

use crate::helpers::*;

#[tokio::test]
async fn token_rejected_in_the_middle_of_paging_keeps_the_last_good_feed() {
    let opts = FakeOptions {
        max_page_size: 5,
        ..FakeOptions::default()
    };
    let app = spawn_app_with(opts, sample_media(20), |c| {
        c.feed_size = 20;
        c.feed_ttl = Duration::from_millis(200);
    })
    .await;
    let good = app.get_feed().await;
    assert_eq!(good["data"].as_array().unwrap().len(), 20);
    assert_eq!(app.fake.calls(Route::MediaList), 4);
    // Next walk: page 1 fine, page 2 says the token is invalid.
    app.fake.fail(Route::MediaList, Fault::Pass, 1);
    app.fake.fail(
        Route::MediaList,
        Fault::GraphError {
            status: 400,
            code: 190,
            message: "Error validating access token: The session has been invalidated".into(),
        },
        1,
    );
    let stale = eventually(Duration::from_secs(10), "stale feed", || async {
        let body = app.get_feed().await;
        (body["stale"] == true).then_some(body)
    })
    .await;
    assert_eq!(stale["data"], good["data"], "no half-walked feed is served");
    let calls = app.fake.calls(Route::MediaList);
    assert_eq!(calls, 6, "two pages in the failed walk");
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.get_feed().await;
    assert_eq!(
        app.fake.calls(Route::MediaList),
        calls,
        "no calls once the token is known invalid"
    );
}

async fn bounded_by_upstream_timeout(fault: Fault) {
    let app = spawn_app_with(FakeOptions::default(), sample_media(5), |c| {
        c.feed_ttl = Duration::from_millis(100);
        c.upstream_timeout = Duration::from_secs(1);
    })
    .await;
    let good = app.get_feed().await;
    app.fake.fail_always(Route::MediaList, fault.clone());
    tokio::time::sleep(Duration::from_millis(150)).await;
    let started = Instant::now();
    let body = app.get_feed().await;
    let waited = started.elapsed();
    assert_eq!(body["stale"], true, "{fault:?}");
    assert_eq!(body["data"], good["data"]);
    // The fault lasts 30s or forever; with a 1s upstream timeout the answer
    // comes in about 1s. 10s only guards against a missing bound.
    assert!(
        waited < Duration::from_secs(10),
        "{fault:?}: waited {waited:?} with a 1s upstream timeout"
    );
    // Recovery when the upstream does.
    app.fake.heal(Route::MediaList);
    eventually(Duration::from_secs(40), "recovery", || async {
        (app.get_feed().await["stale"] == false).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_hanging_upstream_never_blocks_beyond_the_timeout() {
    bounded_by_upstream_timeout(Fault::Hang).await;
}

#[tokio::test]
async fn a_trickling_upstream_never_blocks_beyond_the_timeout() {
    bounded_by_upstream_timeout(Fault::Slow(Duration::from_secs(30))).await;
}

async fn assert_stale_fallback(fault: Fault) {
    let app = spawn_app_with(FakeOptions::default(), sample_media(5), |c| {
        c.feed_ttl = Duration::from_millis(300);
        c.upstream_timeout = Duration::from_secs(1);
    })
    .await;
    let good = app.get_feed().await;
    app.fake.fail_always(Route::MediaList, fault.clone());
    let stale = eventually(Duration::from_secs(10), "a stale feed", || async {
        let body = app.get_feed().await;
        (body["stale"] == true).then_some(body)
    })
    .await;
    assert_eq!(
        stale["data"], good["data"],
        "{fault:?}: the last good posts"
    );
    assert_eq!(stale["fetched_at"], good["fetched_at"]);
    app.fake.heal(Route::MediaList);
    if !matches!(fault, Fault::GraphError { code: 190, .. }) {
        eventually(Duration::from_secs(10), "recovery", || async {
            (app.get_feed().await["stale"] == false).then_some(())
        })
        .await;
    }
}

#[tokio::test]
async fn upstream_failures_serve_the_last_good_feed() {
    let graph = |status, code| Fault::GraphError {
        status,
        code,
        message: "boom".into(),
    };
    for fault in [
        Fault::Status(500),
        Fault::Status(503),
        Fault::Garbage,
        Fault::Truncated,
        Fault::Hang,
        Fault::Huge(5 * 1024 * 1024),
        graph(429, 4),
        graph(403, 17),
        graph(400, 32),
        graph(400, 613),
        graph(500, 2),
        graph(400, 190),
    ] {
        assert_stale_fallback(fault).await;
    }
}

#[tokio::test]
async fn invalid_token_stops_upstream_calls_and_serves_stale() {
    let app = spawn_app_with(FakeOptions::default(), sample_media(5), |c| {
        c.feed_ttl = Duration::from_millis(200);
    })
    .await;
    app.get_feed().await;
    app.fake.revoke_all();
    eventually(
        Duration::from_secs(10),
        "stale after revocation",
        || async { (app.get_feed().await["stale"] == true).then_some(()) },
    )
    .await;
    let calls = app.fake.calls(Route::MediaList);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(app.get_feed().await["stale"], true);
    assert_eq!(
        app.fake.calls(Route::MediaList),
        calls,
        "no calls with a known-bad token"
    );
}

#[tokio::test]
async fn last_good_feed_survives_a_restart_with_upstream_down() {
    let app = spawn_app_with(FakeOptions::default(), sample_media(7), |c| {
        c.public_url = Some("https://feeds.example.com".into());
    })
    .await;
    let good = app.get_feed().await;
    app.fake.fail_always(Route::MediaList, Fault::Status(502));
    let app = app.restart().await;
    let body = app.get_feed().await;
    assert_eq!(body["stale"], true);
    assert_eq!(body["data"], good["data"]);
}

#[tokio::test]
async fn never_fetched_is_503_problem() {
    let app = spawn_app_with(FakeOptions::default(), sample_media(3), |_| {}).await;
    app.fake.fail_always(Route::MediaList, Fault::Status(500));
    let body = assert_problem(app.get("/feed").await, 503).await;
    assert!(!body["detail"].as_str().unwrap().contains(&app.token));
    // No token configured at all: 503 too, naming the reason, no upstream call.
    let app = spawn_app_with(FakeOptions::default(), sample_media(3), |c| {
        c.access_token = None
    })
    .await;
    let body = assert_problem(app.get("/feed").await, 503).await;
    assert!(
        body["detail"].as_str().unwrap().contains("no access token"),
        "{body}"
    );
    assert_eq!(app.fake.calls(Route::MediaList), 0);
}
