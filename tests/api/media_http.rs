//! The media routes as HTTP: ranges, HEAD, conditional requests, streamed
//! objects, and byte-exact bodies under concurrency.

use crate::helpers::*;
use crate::media::{cold, kinds, links, media_app};
use futures_util::future::join_all;
use igfeed_fake::{FakeOptions, Route, resize_media};
use reqwest::Method;

#[tokio::test]
async fn ranges_head_and_conditional_requests() {
    let app = media_app(FakeOptions::default(), |_| {}).await;
    app.get_feed().await;
    let path = "/media/17900000000000002";
    let full = app.fake.asset("17900000000000002_n.mp4").unwrap();
    let total = full.len();

    let res = app.get_with(path, &[("range", "bytes=100-199")]).await;
    assert_eq!(res.status(), 206);
    assert_eq!(
        res.headers()["content-range"],
        format!("bytes 100-199/{total}").as_str()
    );
    assert_eq!(res.headers()["content-length"], "100");
    assert_eq!(res.bytes().await.unwrap(), full.slice(100..200));

    let res = app.get_with(path, &[("range", "bytes=-10")]).await;
    assert_eq!(res.bytes().await.unwrap(), full.slice(total - 10..));

    let res = app
        .get_with(path, &[("range", &format!("bytes={total}-"))])
        .await;
    assert_eq!(
        res.headers()["content-range"],
        format!("bytes */{total}").as_str()
    );
    assert_problem(res, 416).await;

    let head = app.request(Method::HEAD, path, &[]).await;
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], total.to_string().as_str());
    assert_eq!(head.headers()["content-type"], "video/mp4");
    let etag = head.headers()["etag"].to_str().unwrap().to_string();
    assert!(head.bytes().await.unwrap().is_empty());

    let res = app.get_with(path, &[("if-none-match", &etag)]).await;
    assert_eq!(res.status(), 304);
    assert!(res.bytes().await.unwrap().is_empty());
    assert_eq!(app.fake.calls(Route::Cdn), 1, "all from one fetch");
}

#[tokio::test]
async fn objects_over_the_max_are_streamed_with_ranges() {
    let app = media_app(FakeOptions::default(), |c| c.media_max_object = 4096).await;
    app.get_feed().await;
    let path = "/media/17900000000000002";
    let full = app.fake.asset("17900000000000002_n.mp4").unwrap();
    assert!(full.len() > 4096);
    let res = app.get(path).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["cross-origin-resource-policy"],
        "cross-origin"
    );
    assert_eq!(res.headers()["content-type"], "video/mp4");
    assert_eq!(res.bytes().await.unwrap(), full);
    let res = app.get_with(path, &[("range", "bytes=5000-5099")]).await;
    assert_eq!(res.status(), 206);
    assert_eq!(
        res.headers()["content-range"],
        format!("bytes 5000-5099/{}", full.len()).as_str()
    );
    assert_eq!(res.bytes().await.unwrap(), full.slice(5000..5100));
    // A strong ETag, the same for every request of this object, so that
    // If-None-Match and If-Range work on streamed media too.
    let etag = app.get(path).await.headers()["etag"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(etag.starts_with('"') && !etag.starts_with("W/"), "{etag}");
    let res = app.get_with(path, &[("range", "bytes=0-9")]).await;
    assert_eq!(res.headers()["etag"], etag.as_str());
    let res = app.get_with(path, &[("if-none-match", &etag)]).await;
    assert_eq!(res.status(), 304);
    assert!(res.bytes().await.unwrap().is_empty());
    let res = app
        .get_with(path, &[("range", "bytes=0-9"), ("if-range", &etag)])
        .await;
    assert_eq!(res.status(), 206);
    let res = app
        .get_with(path, &[("range", "bytes=0-9"), ("if-range", "\"other\"")])
        .await;
    assert_eq!(res.status(), 200, "another version: the whole object");
    assert_eq!(res.bytes().await.unwrap(), full);
    // Not cached: every request streams from the CDN.
    let calls = app.fake.calls(Route::Cdn);
    assert_eq!(app.get(path).await.bytes().await.unwrap(), full);
    assert_eq!(app.fake.calls(Route::Cdn), calls + 1);
    // Small media are still cached.
    app.get("/media/17900000000000001").await;
    app.get("/media/17900000000000001").await;
    assert_eq!(app.fake.calls(Route::Cdn), calls + 2);
}

#[tokio::test]
async fn large_media_are_sent_byte_exact_under_concurrency() {
    let mut media = kinds();
    resize_media(&mut media, 150_000);
    let app = spawn_app_tuned(FakeOptions::default(), media, |_| {}, cold()).await;
    let feed = app.get_feed().await;
    let links = links(&feed);
    // Many at once, so sends are partial and wait for the socket.
    let fetches = links
        .iter()
        .cycle()
        .take(links.len() * 8)
        .map(|(url, asset)| {
            let client = app.client.clone();
            let expected = app.fake.asset(asset).unwrap();
            async move {
                let res = client.get(url).send().await.unwrap();
                assert_eq!(res.status(), 200);
                assert_eq!(
                    res.headers()["content-length"],
                    expected.len().to_string().as_str()
                );
                assert_eq!(res.bytes().await.unwrap(), expected, "{url}");
                expected.len()
            }
        });
    let sent: usize = join_all(fetches).await.into_iter().sum();
    assert!(sent > links.len() * 8 * 100_000, "{sent} bytes");

    // A range in the middle of a large video, and a HEAD.
    let full = app.fake.asset("17900000000000002_n.mp4").unwrap();
    assert!(full.len() > 500_000);
    let res = app
        .get_with(
            "/media/17900000000000002",
            &[("range", "bytes=70000-469999")],
        )
        .await;
    assert_eq!(res.status(), 206);
    assert_eq!(res.bytes().await.unwrap(), full.slice(70_000..470_000));
    let head = app
        .request(Method::HEAD, "/media/17900000000000002", &[])
        .await;
    assert_eq!(
        head.headers()["content-length"],
        full.len().to_string().as_str()
    );
    assert!(head.bytes().await.unwrap().is_empty());
    assert_eq!(
        app.fake.calls(Route::Cdn),
        links.len(),
        "one fetch per media"
    );
}
