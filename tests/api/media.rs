//! `/media/{id}`: exact bytes and headers, no open proxy, one CDN fetch per
//! media, expired URLs recovered, ranges, streaming of large objects.

use std::time::Duration;

use futures_util::future::join_all;
use igfeed::app::Tuning;
use igfeed::config::{HostList, Secret};
use igfeed_fake::{FakeChild, FakeMedia, FakeOptions, Fault, Route};
use reqwest::Method;

use crate::helpers::*;

pub(crate) fn kinds() -> Vec<FakeMedia> {
    vec![
        FakeMedia::carousel(
            "17900000000000003",
            Some("carousel"),
            "2026-11-03T10:00:00+0000",
            vec![
                FakeChild::image("17800000000000001"),
                FakeChild::video("17800000000000002"),
            ],
        ),
        FakeMedia::video(
            "17900000000000002",
            Some("reel"),
            "2026-11-02T10:00:00+0000",
        ),
        FakeMedia::image("17900000000000001", None, "2026-11-01T10:00:00+0000"),
    ]
}

pub(crate) fn cold() -> Tuning {
    Tuning {
        warm_media: false,
        ..Tuning::default()
    }
}

pub(crate) async fn media_app(
    opts: FakeOptions,
    tweak: impl FnOnce(&mut igfeed::config::Config),
) -> TestApp {
    spawn_app_tuned(opts, kinds(), tweak, cold()).await
}

/// Every media link of the feed with the fake CDN asset it must serve.
pub(crate) fn links(feed: &serde_json::Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut add = |v: &serde_json::Value| {
        let id = v["id"].as_str().unwrap();
        let ext = if v["media_type"] == "VIDEO" {
            "mp4"
        } else {
            "jpg"
        };
        if let Some(u) = v["media_url"].as_str() {
            let asset = if v["media_type"] == "CAROUSEL_ALBUM" {
                format!("{id}_n.jpg")
            } else {
                format!("{id}_n.{ext}")
            };
            out.push((u.to_string(), asset));
        }
        if let Some(u) = v["thumbnail_url"].as_str() {
            out.push((u.to_string(), format!("{id}_t.jpg")));
        }
    };
    for post in feed["data"].as_array().unwrap() {
        add(post);
        for c in post["children"].as_array().into_iter().flatten() {
            add(c);
        }
    }
    out
}

#[tokio::test]
async fn every_media_of_the_feed_is_served_byte_exact() {
    let app = media_app(FakeOptions::default(), |_| {}).await;
    let feed = app.get_feed().await;
    let links = links(&feed);
    assert_eq!(
        links.len(),
        7,
        "3 posts, 2 children, 2 thumbnails: {links:?}"
    );
    for (url, asset) in links {
        let res = app
            .client
            .get(&url)
            .header("origin", "https://shop.example")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{url}");
        let h = res.headers().clone();
        let expected = app.fake.asset(&asset).unwrap();
        let ct = if asset.ends_with(".mp4") {
            "video/mp4"
        } else {
            "image/jpeg"
        };
        assert_eq!(h["content-type"], ct, "{url}");
        assert_eq!(h["content-length"], expected.len().to_string().as_str());
        assert_eq!(h["cross-origin-resource-policy"], "cross-origin");
        assert_eq!(h["access-control-allow-origin"], "*");
        assert_eq!(h["accept-ranges"], "bytes");
        assert!(h["cache-control"].to_str().unwrap().contains("max-age="));
        let etag = h["etag"].to_str().unwrap();
        assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() > 10);
        assert_eq!(res.bytes().await.unwrap(), expected, "{url}");
    }
}

#[tokio::test]
async fn unknown_ids_are_404_without_any_upstream_call() {
    let app = media_app(FakeOptions::default(), |_| {}).await;
    app.get_feed().await;
    for path in [
        "/media/17999999999999999",
        "/media/17900000000000001/thumbnail",
        "/media/..%2Fetc",
        "/media/a-b",
        "/media/%00",
        &format!("/media/{}", "1".repeat(100)),
    ] {
        assert_problem(app.get(path).await, 404).await;
    }
    assert_eq!(app.fake.calls(Route::Cdn), 0);
    assert_eq!(app.fake.calls(Route::MediaUrls), 0);
}

#[tokio::test]
async fn hosts_outside_the_allow_list_are_refused() {
    let app = media_app(FakeOptions::default(), |c| {
        c.media_hosts = HostList(vec!["cdninstagram.com".into(), "fbcdn.net".into()]);
    })
    .await;
    app.get_feed().await;
    let body = assert_problem(app.get("/media/17900000000000001").await, 502).await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("IGFEED_MEDIA_HOSTS"),
        "{body}"
    );
    assert_eq!(app.fake.calls(Route::Cdn), 0);
}

#[tokio::test]
async fn only_raster_images_and_videos_are_passed_on() {
    let app = media_app(FakeOptions::default(), |_| {}).await;
    app.get_feed().await;
    for content_type in ["image/svg+xml", "text/html; charset=utf-8"] {
        app.fake.fail(Route::Cdn, Fault::Typed(content_type), 1);
        let body = assert_problem(app.get("/media/17900000000000001").await, 502).await;
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("not an image or video"),
            "{content_type}: {body}"
        );
    }
    // Nothing of it was cached: the next request fetches the real picture.
    let res = app.get("/media/17900000000000001").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/jpeg");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn concurrent_cold_requests_share_one_cdn_fetch() {
    let app = media_app(FakeOptions::default(), |_| {}).await;
    app.get_feed().await;
    let url = format!("{}/media/17900000000000002", app.url);
    let responses = join_all((0..100).map(|_| app.client.get(&url).send())).await;
    let expected = app.fake.asset("17900000000000002_n.mp4").unwrap();
    for res in responses {
        let res = res.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.bytes().await.unwrap(), expected);
    }
    assert_eq!(app.fake.calls(Route::Cdn), 1);
}

#[tokio::test]
async fn each_new_feed_is_warmed_into_the_cache() {
    let app = spawn_app_with(FakeOptions::default(), kinds(), |_| {}).await;
    app.get_feed().await;
    eventually(Duration::from_secs(10), "7 media warmed", || async {
        (app.fake.calls(Route::Cdn) == 7).then_some(())
    })
    .await;
    for (url, _) in links(&app.get_feed().await) {
        assert_eq!(app.client.get(&url).send().await.unwrap().status(), 200);
    }
    assert_eq!(
        app.fake.calls(Route::Cdn),
        7,
        "served from the warmed cache"
    );
}

#[tokio::test]
async fn expired_urls_are_renewed_with_one_graph_call() {
    let opts = FakeOptions {
        url_lifetime: Duration::from_secs(1),
        ..FakeOptions::default()
    };
    let app = media_app(opts, |c| c.admin_key = Some(Secret::new(ADMIN_KEY))).await;
    app.get_feed().await;
    // Wait until the CDN itself refuses the URL the feed was fetched with.
    let stale_url = app.fake.media()[2].id.clone();
    assert_eq!(stale_url, "17900000000000001");
    let snapshot: serde_json::Value =
        serde_json::from_slice(&std::fs::read(app.default_dir().join("feed.json")).unwrap())
            .unwrap();
    let cdn_url = snapshot["media"][2]["media_url"]
        .as_str()
        .unwrap()
        .to_string();
    let probe = reqwest::Client::new();
    eventually(
        Duration::from_secs(5),
        "the signed URL to expire",
        || async {
            let res = probe.get(&cdn_url).send().await.unwrap();
            (res.status() == 403).then_some(())
        },
    )
    .await;
    // Renewed URLs live long.
    app.fake
        .configure(|o| o.url_lifetime = Duration::from_secs(3600));
    let cdn_before = app.fake.calls(Route::Cdn);
    let res = app.get("/media/17900000000000001").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.bytes().await.unwrap(),
        app.fake.asset("17900000000000001_n.jpg").unwrap()
    );
    assert_eq!(app.fake.calls(Route::MediaUrls), 1);
    assert_eq!(
        app.fake.calls(Route::Cdn),
        cdn_before + 1,
        "the expired URL was not even tried (oe)"
    );
    // The fresh URL is used from now on: after a purge, no new Graph call.
    app.admin(Method::POST, "/admin/cache/purge", Some(ADMIN_KEY), None)
        .await;
    assert_eq!(app.get("/media/17900000000000001").await.status(), 200);
    assert_eq!(app.fake.calls(Route::MediaUrls), 1);
}

#[tokio::test]
async fn a_purge_drops_cached_media() {
    let app = media_app(FakeOptions::default(), |c| {
        c.admin_key = Some(Secret::new(ADMIN_KEY))
    })
    .await;
    app.get_feed().await;
    let path = "/media/17900000000000001";
    let asset = app.fake.asset("17900000000000001_n.jpg").unwrap();
    let cdn = app.fake.calls(Route::Cdn);
    for _ in 0..2 {
        let res = app.get(path).await;
        assert_eq!(res.bytes().await.unwrap(), asset);
    }
    assert_eq!(
        app.fake.calls(Route::Cdn),
        cdn + 1,
        "cached after the first"
    );
    app.admin(Method::POST, "/admin/cache/purge", Some(ADMIN_KEY), None)
        .await;
    for _ in 0..2 {
        let res = app.get(path).await;
        assert_eq!(res.bytes().await.unwrap(), asset);
    }
    assert_eq!(app.fake.calls(Route::Cdn), cdn + 2, "fetched again, once");
}

#[tokio::test]
async fn a_cdn_403_is_recovered_too() {
    let app = media_app(FakeOptions::default(), |_| {}).await;
    app.get_feed().await;
    app.fake.fail(Route::Cdn, Fault::Status(403), 1);
    let res = app.get("/media/17800000000000001").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.bytes().await.unwrap(),
        app.fake.asset("17800000000000001_n.jpg").unwrap()
    );
    assert_eq!(app.fake.calls(Route::MediaUrls), 1);
}

#[tokio::test]
async fn cdn_failures_with_nothing_cached_are_502_or_504() {
    let app = media_app(FakeOptions::default(), |c| {
        c.upstream_timeout = Duration::from_secs(1)
    })
    .await;
    app.get_feed().await;
    app.fake.fail_always(Route::Cdn, Fault::Status(500));
    assert_problem(app.get("/media/17900000000000001").await, 502).await;
    app.fake.fail_always(Route::Cdn, Fault::Hang);
    assert_problem(app.get("/media/17800000000000001").await, 504).await;
    app.fake.heal(Route::Cdn);
    assert_eq!(app.get("/media/17800000000000001").await.status(), 200);
}

#[tokio::test]
async fn the_cache_reports_its_size() {
    let app = media_app(FakeOptions::default(), |_| {}).await;
    app.get_feed().await;
    app.get("/media/17900000000000001").await;
    let bytes = app.state.as_ref().unwrap().media.cached_bytes().await;
    assert!(bytes >= 2048, "{bytes}");
}

#[tokio::test]
async fn a_new_feeds_media_are_served_and_dropped_ones_are_not() {
    let app = spawn_app_tuned(
        FakeOptions::default(),
        kinds(),
        |c| c.feed_ttl = Duration::from_millis(200),
        cold(),
    )
    .await;
    app.get_feed().await;
    let new_id = "17900000000000009";
    assert_eq!(app.get(&format!("/media/{new_id}")).await.status(), 404);
    assert_eq!(app.get("/media/17900000000000001").await.status(), 200);

    // Instagram now shows a new post and no longer the old image.
    let mut media = kinds();
    media.retain(|m| m.id != "17900000000000001");
    media.push(FakeMedia::image(new_id, None, "2026-11-04T10:00:00+0000"));
    app.fake.set_media(media);
    let asset = app.fake.asset(&format!("{new_id}_n.jpg")).unwrap();
    eventually(Duration::from_secs(5), "the new feed", || async {
        let feed = app.get_feed().await;
        let ids: Vec<_> = feed["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].clone())
            .collect();
        ids.contains(&new_id.into()).then_some(())
    })
    .await;
    // Same connection, same thread: nothing remembered from before holds.
    let res = app.get(&format!("/media/{new_id}")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap(), asset);
    assert_problem(app.get("/media/17900000000000001").await, 404).await;
}
