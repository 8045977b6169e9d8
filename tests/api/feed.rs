//! `GET /feed`: shape, filters, paging, caching, stale fallback, HTTP.

use std::io::Read;
use std::time::Duration;

use futures_util::future::join_all;
use igfeed_fake::{FakeChild, FakeMedia, FakeOptions, Route, sample_media};
use serde_json::json;

use crate::helpers::*;

fn five_kinds() -> Vec<FakeMedia> {
    vec![
        FakeMedia::carousel(
            "17900000000000005",
            Some("a carousel"),
            "2026-11-05T10:00:00+0000",
            vec![
                FakeChild::image("17800000000000001"),
                FakeChild::video("17800000000000002"),
            ],
        ),
        FakeMedia::video(
            "17900000000000004",
            Some("a reel"),
            "2026-11-04T10:00:00+0000",
        ),
        FakeMedia::image("17900000000000003", None, "2026-11-03T10:00:00+0000"),
        FakeMedia {
            content: None,
            ..FakeMedia::video(
                "17900000000000002",
                Some("muted for copyright"),
                "2026-11-02T10:00:00+0000",
            )
        },
        FakeMedia::image(
            "17900000000000001",
            Some("first"),
            "2026-11-01T10:00:00+0000",
        ),
    ]
}

#[tokio::test]
async fn feed_has_the_documented_shape() {
    let app = spawn_app_with(FakeOptions::default(), five_kinds(), |c| {
        c.public_url = Some("https://feeds.example.com".into());
    })
    .await;
    let res = app.get("/feed").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    // Links from IGFEED_PUBLIC_URL do not depend on the request's Host.
    assert_eq!(res.headers()["vary"], "Accept-Encoding");
    let body: serde_json::Value = res.json().await.unwrap();
    let m = |id: &str| format!("https://feeds.example.com/media/{id}");
    let t = |id: &str| format!("https://feeds.example.com/media/{id}/thumbnail");
    // The display fields, before any picture was read (these fake bytes are
    // not decodable pictures, so they stay so): the picture's URL and its
    // variants, no size or colour yet.
    let shown = |mut v: serde_json::Value, url: String| {
        let o = v.as_object_mut().unwrap();
        o.insert("alt_text".into(), json!(null));
        o.insert("display_url".into(), json!(url));
        o.insert("width".into(), json!(null));
        o.insert("height".into(), json!(null));
        o.insert("dominant_color".into(), json!(null));
        o.insert(
            "sizes".into(),
            json!({"320": format!("{url}?w=320"), "640": format!("{url}?w=640"), "1080": format!("{url}?w=1080")}),
        );
        v
    };
    let expected = json!([
        shown(
            json!({"id": "17900000000000005", "media_type": "CAROUSEL_ALBUM", "caption": "a carousel",
            "permalink": "https://www.instagram.com/p/17900000000000005/", "timestamp": "2026-11-05T10:00:00+0000",
            "media_url": m("17900000000000005"), "thumbnail_url": null,
            "children": [
               shown(json!({"id": "17800000000000001", "media_type": "IMAGE", "media_url": m("17800000000000001"), "thumbnail_url": null}), m("17800000000000001")),
               shown(json!({"id": "17800000000000002", "media_type": "VIDEO", "media_url": m("17800000000000002"), "thumbnail_url": t("17800000000000002")}), t("17800000000000002"))
            ]}),
            m("17800000000000001")
        ),
        shown(
            json!({"id": "17900000000000004", "media_type": "VIDEO", "caption": "a reel",
         "permalink": "https://www.instagram.com/reel/17900000000000004/", "timestamp": "2026-11-04T10:00:00+0000",
         "media_url": m("17900000000000004"), "thumbnail_url": t("17900000000000004")}),
            t("17900000000000004")
        ),
        shown(
            json!({"id": "17900000000000003", "media_type": "IMAGE", "caption": null,
         "permalink": "https://www.instagram.com/p/17900000000000003/", "timestamp": "2026-11-03T10:00:00+0000",
         "media_url": m("17900000000000003"), "thumbnail_url": null}),
            m("17900000000000003")
        ),
        shown(
            json!({"id": "17900000000000002", "media_type": "VIDEO", "caption": "muted for copyright",
         "permalink": "https://www.instagram.com/reel/17900000000000002/", "timestamp": "2026-11-02T10:00:00+0000",
         "media_url": null, "thumbnail_url": t("17900000000000002")}),
            t("17900000000000002")
        ),
        shown(
            json!({"id": "17900000000000001", "media_type": "IMAGE", "caption": "first",
         "permalink": "https://www.instagram.com/p/17900000000000001/", "timestamp": "2026-11-01T10:00:00+0000",
         "media_url": m("17900000000000001"), "thumbnail_url": null}),
            m("17900000000000001")
        ),
    ]);
    assert_eq!(body["data"], expected);
    assert_eq!(
        body["user"],
        json!({"id": "17841400000000000", "username": "example"})
    );
    assert_eq!(body["stale"], false);
    let fetched = body["fetched_at"].as_str().unwrap();
    assert!(
        humantime::parse_rfc3339(fetched).is_ok(),
        "fetched_at {fetched}"
    );
    assert_eq!(
        body["paging"],
        json!({"total": expected.as_array().unwrap().len(), "offset": 0, "limit": 25})
    );
    assert_eq!(
        body.as_object().unwrap().len(),
        5,
        "exactly user, data, paging, fetched_at, stale"
    );
}

#[tokio::test]
async fn media_links_follow_the_request_host_without_public_url() {
    // Each answer's links follow its own request, also when the same query
    // comes from another host in a row (the rendered-body cache must key on
    // the base URL), and the answers say so to shared caches.
    let app = spawn_app_with(FakeOptions::default(), five_kinds(), |_| {}).await;
    let (image, newest) = ("17900000000000003", "17900000000000005");
    for (query, host, proto, base, id) in [
        (
            "limit=1&type=IMAGE",
            "shop.example:8443",
            "https",
            "https://shop.example:8443",
            image,
        ),
        ("limit=1", "a.example", "http", "http://a.example", newest),
        ("limit=1", "b.example", "http", "http://b.example", newest),
        ("limit=1", "b.example", "https", "https://b.example", newest),
        ("limit=1", "B.Example", "https", "https://b.example", newest),
        ("limit=1", "a.example", "http", "http://a.example", newest),
    ] {
        let res = app
            .get_with(
                &format!("/feed?{query}"),
                &[("host", host), ("x-forwarded-proto", proto)],
            )
            .await;
        assert_eq!(
            res.headers()["vary"],
            "Accept-Encoding, Host, X-Forwarded-Proto"
        );
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(
            body["data"][0]["media_url"],
            format!("{base}/media/{id}"),
            "Host: {host}, X-Forwarded-Proto: {proto}"
        );
    }
    let body = app.get_feed().await;
    let own = format!("{}/media/17900000000000005", app.url);
    assert_eq!(body["data"][0]["media_url"], own);
    // Same feed version, many hosts: still one upstream walk.
    assert_eq!(app.fake.calls(Route::MediaList), 1);
}

#[tokio::test]
async fn filters_apply_type_before_limit() {
    let app = spawn_app_with(FakeOptions::default(), five_kinds(), |_| {}).await;
    let ids = |v: serde_json::Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_string())
            .collect()
    };
    let body = app.get("/feed?type=VIDEO").await.json().await.unwrap();
    assert_eq!(ids(body), ["17900000000000004", "17900000000000002"]);
    let body = app
        .get("/feed?type=IMAGE,CAROUSEL_ALBUM&limit=2")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(body), ["17900000000000005", "17900000000000003"]);
    let body = app.get("/feed?limit=1").await.json().await.unwrap();
    assert_eq!(ids(body), ["17900000000000005"]);
    // offset applies after the type filter; paging counts the matches.
    let body: serde_json::Value = app
        .get("/feed?type=IMAGE,CAROUSEL_ALBUM&offset=2&limit=1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["paging"], json!({"total": 3, "offset": 2, "limit": 1}));
    assert_eq!(ids(body), ["17900000000000001"]);
    let body: serde_json::Value = app.get("/feed?offset=5").await.json().await.unwrap();
    assert_eq!(
        body["paging"],
        json!({"total": 5, "offset": 5, "limit": 25})
    );
    assert_eq!(ids(body), Vec::<String>::new());
    for bad in [
        "offset=-1",
        "offset=x",
        "limit=0",
        "limit=26",
        "limit=x",
        "type=REEL",
        "type=",
        "limit=-1",
    ] {
        let body = assert_problem(app.get(&format!("/feed?{bad}")).await, 400).await;
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains(bad.split('=').next().unwrap()),
            "{bad}: {body}"
        );
    }
}

#[tokio::test]
async fn pages_are_followed_up_to_feed_size() {
    let opts = FakeOptions {
        max_page_size: 10,
        ..FakeOptions::default()
    };
    let app = spawn_app_with(opts, sample_media(40), |c| c.feed_size = 25).await;
    let body = app.get_feed().await;
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 25);
    let expected: Vec<String> = sample_media(40)
        .iter()
        .take(25)
        .map(|m| m.id.clone())
        .collect();
    let got: Vec<String> = data
        .iter()
        .map(|p| p["id"].as_str().unwrap().into())
        .collect();
    assert_eq!(got, expected, "newest first, in Instagram's order");
    assert_eq!(app.fake.calls(Route::MediaList), 3, "pages of 10, 10, 5");

    // Fewer posts than FEED_SIZE: paging ends when `next` is absent.
    let app = spawn_app_with(
        FakeOptions {
            max_page_size: 4,
            ..FakeOptions::default()
        },
        sample_media(9),
        |_| {},
    )
    .await;
    assert_eq!(app.get_feed().await["data"].as_array().unwrap().len(), 9);
    assert_eq!(app.fake.calls(Route::MediaList), 3);
}

#[tokio::test]
async fn concurrent_cold_requests_share_one_upstream_walk() {
    let app = spawn_app().await;
    let responses = join_all((0..100).map(|_| app.get("/feed"))).await;
    for res in responses {
        assert_eq!(res.status(), 200);
    }
    assert_eq!(app.fake.calls(Route::MediaList), 1);
    assert_eq!(app.fake.calls(Route::Me), 1);
}

#[tokio::test]
async fn feed_is_cached_for_the_ttl_then_refetched() {
    let app = spawn_app_with(FakeOptions::default(), sample_media(5), |c| {
        c.feed_ttl = Duration::from_millis(1500);
    })
    .await;
    let first = app.get_feed().await;
    app.fake.publish(FakeMedia::image(
        "17999999999999999",
        Some("new"),
        "2026-11-29T10:00:00+0000",
    ));
    let second = app.get_feed().await;
    assert_eq!(
        first["data"], second["data"],
        "served from cache within the TTL"
    );
    assert_eq!(app.fake.calls(Route::MediaList), 1);
    eventually(
        Duration::from_secs(10),
        "the new post after the TTL",
        || async {
            let body = app.get_feed().await;
            (body["data"][0]["id"] == "17999999999999999").then_some(())
        },
    )
    .await;
    assert_eq!(app.fake.calls(Route::MediaList), 2);
}

#[tokio::test]
async fn validators_and_compression() {
    let app = spawn_app().await;
    let res = app.get("/feed").await;
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "strong ETag: {etag}"
    );
    let cc = res.headers()["cache-control"].to_str().unwrap().to_string();
    assert!(
        cc.contains("public")
            && cc.contains("max-age=300")
            && cc.contains("stale-while-revalidate"),
        "{cc}"
    );
    let lm = res.headers()["last-modified"].to_str().unwrap().to_string();
    assert!(httpdate::parse_http_date(&lm).is_ok());
    let plain = res.bytes().await.unwrap();

    let res = app.get_with("/feed", &[("if-none-match", &etag)]).await;
    assert_eq!(res.status(), 304);
    assert_eq!(res.headers()["etag"].to_str().unwrap(), etag);
    assert!(res.bytes().await.unwrap().is_empty());

    let res = app.get_with("/feed", &[("accept-encoding", "gzip")]).await;
    assert_eq!(res.headers()["content-encoding"], "gzip");
    // The links follow the request's Host (no IGFEED_PUBLIC_URL here).
    assert_eq!(
        res.headers()["vary"],
        "Accept-Encoding, Host, X-Forwarded-Proto"
    );
    let gz_etag = res.headers()["etag"].to_str().unwrap().to_string();
    assert_ne!(gz_etag, etag, "each encoding has its own strong ETag");
    let zipped = res.bytes().await.unwrap();
    assert!(zipped.len() < plain.len());
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&zipped[..])
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out, plain);
    // The gzip ETag revalidates too.
    let res = app
        .get_with(
            "/feed",
            &[("if-none-match", &gz_etag), ("accept-encoding", "gzip")],
        )
        .await;
    assert_eq!(res.status(), 304);

    let res = app
        .get_with("/feed", &[("accept-encoding", "gzip, br")])
        .await;
    assert_eq!(res.headers()["content-encoding"], "br");
    let br = res.bytes().await.unwrap();
    let mut out = Vec::new();
    brotli::Decompressor::new(&br[..], 4096)
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out, plain);

    // A different ETag is not a match.
    let res = app
        .get_with("/feed", &[("if-none-match", "\"0000\"")])
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn graph_calls_follow_instagram_md() {
    let app = spawn_app_with(FakeOptions::default(), sample_media(3), |c| {
        c.graph_version = "v99.0".into();
        c.feed_size = 7;
    })
    .await;
    app.get_feed().await;
    let media = app.fake.last_seen(Route::MediaList).unwrap();
    assert_eq!(media.path, "/v99.0/me/media", "pinned version");
    assert_eq!(
        media.fields.as_deref(),
        Some(
            "id,caption,alt_text,media_type,media_url,permalink,thumbnail_url,timestamp,username,children{id,media_type,media_url,thumbnail_url,alt_text}"
        ),
        "children in the same call, no media_product_type"
    );
    assert_eq!(media.limit.as_deref(), Some("7"));
    let ua = media.user_agent.unwrap();
    assert_eq!(ua, format!("igfeed/{}", env!("CARGO_PKG_VERSION")));
    let me = app.fake.last_seen(Route::Me).unwrap();
    assert_eq!(me.path, "/v99.0/me");
    assert!(me.fields.unwrap().contains("username"));
}
