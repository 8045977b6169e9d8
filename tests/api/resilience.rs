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
    assert!(
        waited < Duration::from_millis(2500),
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
    bounded_by_upstream_timeout(Fault::Slow(Duration::from_secs(5))).await;
}
