//! Pictures that fit: `/media/{id}?w=` variants (sizes, formats, caching,
//! single flight, the shared budget, refusals) and the feed's display
//! fields (null before, values after the first fetch).

use std::time::Duration;

use igfeed::app::Tuning;
use igfeed::media::variant::dimensions;
use igfeed_fake::{FakeChild, FakeMedia, FakeOptions, bomb_jpeg};
use reqwest::Method;
use serde_json::Value;

use crate::helpers::*;

const WEBP: (&str, &str) = (
    "accept",
    "image/avif,image/webp,image/apng,image/*,*/*;q=0.8",
);
const JPEG: (&str, &str) = ("accept", "image/*,*/*;q=0.8");

fn no_warm_up() -> Tuning {
    Tuning {
        warm_media: false,
        ..Tuning::default()
    }
}

fn photos() -> Vec<FakeMedia> {
    vec![
        FakeMedia::carousel(
            "17900000000000005",
            Some("a carousel"),
            "2026-11-05T10:00:00+0000",
            vec![
                FakeChild::photo("17800000000000001", 1080, 1080, [200, 40, 40])
                    .with_alt("a red square"),
                FakeChild::video_with_poster("17800000000000002", 720, 1280, [40, 200, 40]),
            ],
        )
        .with_alt("the carousel"),
        FakeMedia::video_with_poster(
            "17900000000000004",
            Some("a reel"),
            "2026-11-04T10:00:00+0000",
            1080,
            1920,
            [40, 40, 200],
        ),
        FakeMedia::photo(
            "17900000000000003",
            Some("a photo"),
            "2026-11-03T10:00:00+0000",
            1080,
            1350,
            [51, 102, 153],
        )
        .with_alt("a blue photo"),
        FakeMedia {
            content: None,
            ..FakeMedia::video_with_poster(
                "17900000000000002",
                Some("muted for copyright"),
                "2026-11-02T10:00:00+0000",
                640,
                640,
                [120, 120, 120],
            )
        },
        FakeMedia::photo(
            "17900000000000001",
            None,
            "2026-11-01T10:00:00+0000",
            200,
            250,
            [250, 250, 250],
        ),
        FakeMedia::bomb("17900000000000000", "2026-10-31T10:00:00+0000"),
    ]
}

async fn app_with(tweak: impl FnOnce(&mut igfeed::config::Config), tuning: Tuning) -> TestApp {
    let app = spawn_app_tuned(FakeOptions::default(), photos(), tweak, tuning).await;
    app.get_feed().await;
    app
}

async fn fetch(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    app.get_with(path, headers).await
}

fn size_of(bytes: &[u8]) -> (u32, u32) {
    dimensions(bytes).expect("a picture igfeed made can be read")
}

#[tokio::test]
async fn variants_have_the_asked_width_the_asked_format_and_never_grow() {
    let app = app_with(|_| {}, no_warm_up()).await;
    for (w, expected) in [(320, (320, 400)), (640, (640, 800)), (1080, (1080, 1350))] {
        let res = fetch(&app, &format!("/media/17900000000000003?w={w}"), &[WEBP]).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "image/webp");
        let vary = res
            .headers()
            .get_all("vary")
            .iter()
            .map(|v| v.to_str().unwrap().to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join(",");
        assert!(vary.contains("accept"), "Vary: {vary}");
        assert_eq!(
            res.headers()["cross-origin-resource-policy"],
            "cross-origin"
        );
        let bytes = res.bytes().await.unwrap();
        assert!(bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP");
        assert_eq!(size_of(&bytes), expected, "w={w}");
    }
    // Without image/webp in Accept: JPEG.
    let res = fetch(&app, "/media/17900000000000003?w=320", &[JPEG]).await;
    assert_eq!(res.headers()["content-type"], "image/jpeg");
    let bytes = res.bytes().await.unwrap();
    assert!(bytes.starts_with(&[0xFF, 0xD8]));
    assert_eq!(size_of(&bytes), (320, 400));
    // A picture narrower than w keeps its size.
    let res = fetch(&app, "/media/17900000000000001?w=640", &[WEBP]).await;
    assert_eq!(size_of(&res.bytes().await.unwrap()), (200, 250));
    // Video thumbnails and carousel items resize too.
    let res = fetch(&app, "/media/17900000000000004/thumbnail?w=320", &[WEBP]).await;
    assert_eq!(size_of(&res.bytes().await.unwrap()), (320, 569));
    let res = fetch(&app, "/media/17800000000000001?w=320", &[JPEG]).await;
    assert_eq!(size_of(&res.bytes().await.unwrap()), (320, 320));
    // Smaller than the original: the point of it.
    let original = app
        .get("/media/17900000000000003")
        .await
        .bytes()
        .await
        .unwrap();
    let small = fetch(&app, "/media/17900000000000003?w=320", &[WEBP])
        .await
        .bytes()
        .await
        .unwrap();
    assert!(
        small.len() * 4 < original.len(),
        "{} vs {}",
        small.len(),
        original.len()
    );
}

#[tokio::test]
async fn each_variant_has_its_own_etag_and_answers_304_and_head() {
    let app = app_with(|_| {}, no_warm_up()).await;
    let etag = |res: &reqwest::Response| res.headers()["etag"].to_str().unwrap().to_string();
    let original = etag(&app.get("/media/17900000000000003").await);
    let webp320 = etag(&fetch(&app, "/media/17900000000000003?w=320", &[WEBP]).await);
    let jpeg320 = etag(&fetch(&app, "/media/17900000000000003?w=320", &[JPEG]).await);
    let webp640 = etag(&fetch(&app, "/media/17900000000000003?w=640", &[WEBP]).await);
    let all = [&original, &webp320, &jpeg320, &webp640];
    for (i, a) in all.iter().enumerate() {
        assert!(a.starts_with('"'), "strong: {a}");
        for b in &all[i + 1..] {
            assert_ne!(a, b);
        }
    }
    // The same variant asked again: the same tag.
    assert_eq!(
        etag(&fetch(&app, "/media/17900000000000003?w=320", &[WEBP]).await),
        webp320
    );
    let res = fetch(
        &app,
        "/media/17900000000000003?w=320",
        &[WEBP, ("if-none-match", &webp320)],
    )
    .await;
    assert_eq!(res.status(), 304);
    assert!(res.headers()["vary"].to_str().unwrap().contains("Accept"));
    // Another format's tag does not match.
    let res = fetch(
        &app,
        "/media/17900000000000003?w=320",
        &[JPEG, ("if-none-match", &webp320)],
    )
    .await;
    assert_eq!(res.status(), 200);
    let res = app
        .request(Method::HEAD, "/media/17900000000000003?w=320", &[WEBP])
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/webp");
    assert!(
        res.headers()["content-length"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
    assert!(res.bytes().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_requests_for_a_new_variant_make_it_once() {
    let app = app_with(|_| {}, no_warm_up()).await;
    let asks = (0..20).map(|_| fetch(&app, "/media/17900000000000003?w=640", &[WEBP]));
    let answers = futures_util::future::join_all(asks).await;
    let mut bodies = Vec::new();
    for res in answers {
        assert_eq!(res.status(), 200);
        bodies.push(res.bytes().await.unwrap());
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]));
    let text = app.get("/metrics").await.text().await.unwrap();
    assert_eq!(
        metric(&text, "igfeed_media_variants_made_total"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric(&text, "igfeed_media_variant_duration_seconds_count"),
        Some(1.0)
    );
    assert!(metric(&text, "igfeed_media_variant_bytes_saved_total").unwrap() > 0.0);
}

#[tokio::test]
async fn originals_and_variants_share_one_byte_budget() {
    let budget: u64 = 400 * 1024;
    let app = app_with(|c| c.media_cache_size = budget, no_warm_up()).await;
    for id in [
        "17900000000000003",
        "17800000000000001",
        "17900000000000001",
    ] {
        for w in [320, 640, 1080] {
            for accept in [WEBP, JPEG] {
                let res = fetch(&app, &format!("/media/{id}?w={w}"), &[accept]).await;
                assert_eq!(res.status(), 200);
            }
        }
    }
    for thumb in [
        "17900000000000004",
        "17800000000000002",
        "17900000000000002",
    ] {
        let res = fetch(&app, &format!("/media/{thumb}/thumbnail?w=1080"), &[JPEG]).await;
        assert_eq!(res.status(), 200);
    }
    let text = app.get("/metrics").await.text().await.unwrap();
    let held = metric(&text, "igfeed_media_cache_bytes").unwrap();
    assert!(held <= budget as f64, "{held} bytes held, budget {budget}");
    assert!(
        metric(&text, "igfeed_media_cache_evictions_total").unwrap() > 0.0,
        "the sweep exceeded the budget: {text}"
    );
}

#[tokio::test]
async fn bad_widths_and_videos_are_400_and_a_bomb_is_refused_before_decoding() {
    let app = app_with(|_| {}, no_warm_up()).await;
    for q in ["w=100", "w=abc", "w=", "w=320&w=99", "w=3200", "w=-320"] {
        let p = assert_problem(app.get(&format!("/media/17900000000000003?{q}")).await, 400).await;
        assert!(
            p["detail"].as_str().unwrap().contains("320, 640 or 1080"),
            "{p}"
        );
    }
    // A video's own bytes cannot be resized; its thumbnail can.
    let p = assert_problem(app.get("/media/17900000000000004?w=320").await, 400).await;
    assert!(p["detail"].as_str().unwrap().contains("video"), "{p}");
    assert_eq!(
        app.get("/media/17900000000000004/thumbnail?w=320")
            .await
            .status(),
        200
    );
    // Unknown ids stay 404 with a width too.
    assert_problem(app.get("/media/17999999999999999?w=320").await, 404).await;
    // A small file declaring 20000x20000 pixels: refused from its header.
    let bomb = app.get("/media/17900000000000000").await;
    assert_eq!(
        bomb.status(),
        200,
        "the original bytes are passed on as they are"
    );
    assert_eq!(bomb.bytes().await.unwrap(), bomb_jpeg());
    let p = assert_problem(app.get("/media/17900000000000000?w=320").await, 502).await;
    assert_eq!(p["type"], "urn:igfeed:picture-refused");
    assert!(p["detail"].as_str().unwrap().contains("20000x20000"), "{p}");
    let text = app.get("/metrics").await.text().await.unwrap();
    assert_eq!(metric(&text, "igfeed_media_variants_made_total"), Some(1.0));
}

fn post<'a>(feed: &'a Value, id: &str) -> &'a Value {
    feed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id)
        .unwrap_or_else(|| panic!("{id} in the feed"))
}

fn close_to(hex: &Value, rgb: [u8; 3]) -> bool {
    let hex = hex.as_str().unwrap_or_default();
    let parse = |i: usize| u8::from_str_radix(&hex[1 + 2 * i..3 + 2 * i], 16).unwrap();
    hex.len() == 7 && (0..3).all(|i| parse(i).abs_diff(rgb[i]) <= 4)
}

#[tokio::test]
async fn display_fields_are_null_until_the_picture_is_fetched_then_filled_in() {
    let app = app_with(
        |c| c.public_url = Some("https://feeds.example.com".into()),
        no_warm_up(),
    )
    .await;
    let res = app.get("/feed").await;
    let etag_before = res.headers()["etag"].to_str().unwrap().to_string();
    let feed: Value = res.json().await.unwrap();
    let m = |p: &str| format!("https://feeds.example.com/media/{p}");
    let photo = post(&feed, "17900000000000003");
    assert_eq!(photo["display_url"], m("17900000000000003"));
    assert_eq!(photo["alt_text"], "a blue photo");
    assert!(
        photo["width"].is_null() && photo["height"].is_null() && photo["dominant_color"].is_null()
    );
    assert_eq!(
        photo["sizes"]["320"],
        format!("{}?w=320", m("17900000000000003"))
    );
    assert_eq!(
        photo["sizes"]["1080"],
        format!("{}?w=1080", m("17900000000000003"))
    );
    let photo_without_alt = post(&feed, "17900000000000001");
    assert!(photo_without_alt["alt_text"].is_null());

    // The first fetch of the picture: its size and colour show soon after,
    // and the feed's ETag changes.
    assert_eq!(app.get("/media/17900000000000003").await.status(), 200);
    let filled = eventually(
        Duration::from_secs(10),
        "the photo's size in the feed",
        || async {
            let res = app.get("/feed").await;
            let etag = res.headers()["etag"].to_str().unwrap().to_string();
            let feed: Value = res.json().await.unwrap();
            (!post(&feed, "17900000000000003")["width"].is_null()).then_some((etag, feed))
        },
    )
    .await;
    let (etag_after, feed) = filled;
    assert_ne!(etag_after, etag_before);
    let photo = post(&feed, "17900000000000003");
    assert_eq!(
        (photo["width"].clone(), photo["height"].clone()),
        (1080.into(), 1350.into())
    );
    assert!(
        close_to(&photo["dominant_color"], [51, 102, 153]),
        "{}",
        photo["dominant_color"]
    );
    // Pictures not fetched yet are still null.
    assert!(post(&feed, "17900000000000004")["width"].is_null());
}

#[tokio::test]
async fn every_media_type_gets_its_display_fields_after_the_warm_up() {
    let app = app_with(
        |c| c.public_url = Some("https://feeds.example.com".into()),
        Tuning::default(),
    )
    .await;
    let feed = eventually(Duration::from_secs(15), "every picture learnt", || async {
        let feed = app.get_feed().await;
        let done = feed["data"].as_array().unwrap().iter().all(|p| {
            p["id"] == "17900000000000000"
                || (!p["width"].is_null()
                    && p["children"]
                        .as_array()
                        .is_none_or(|c| c.iter().all(|c| !c["width"].is_null())))
        });
        done.then_some(feed)
    })
    .await;
    let m = |p: &str| format!("https://feeds.example.com/media/{p}");
    let check = |v: &Value, url: String, w: u64, h: u64, rgb: [u8; 3]| {
        assert_eq!(v["display_url"], url, "{v}");
        assert_eq!(v["width"], w, "{v}");
        assert_eq!(v["height"], h, "{v}");
        assert!(close_to(&v["dominant_color"], rgb), "{v}");
        assert_eq!(v["sizes"]["640"], format!("{url}?w=640"));
    };
    // A carousel shows its first item; each item shows its own picture.
    let carousel = post(&feed, "17900000000000005");
    assert_eq!(carousel["alt_text"], "the carousel");
    check(carousel, m("17800000000000001"), 1080, 1080, [200, 40, 40]);
    let children = carousel["children"].as_array().unwrap();
    assert_eq!(children[0]["alt_text"], "a red square");
    check(
        &children[0],
        m("17800000000000001"),
        1080,
        1080,
        [200, 40, 40],
    );
    check(
        &children[1],
        m("17800000000000002/thumbnail"),
        720,
        1280,
        [40, 200, 40],
    );
    // A video shows its thumbnail, also without media_url (copyright).
    check(
        post(&feed, "17900000000000004"),
        m("17900000000000004/thumbnail"),
        1080,
        1920,
        [40, 40, 200],
    );
    let muted = post(&feed, "17900000000000002");
    assert!(muted["media_url"].is_null());
    check(
        muted,
        m("17900000000000002/thumbnail"),
        640,
        640,
        [120, 120, 120],
    );
    check(
        post(&feed, "17900000000000003"),
        m("17900000000000003"),
        1080,
        1350,
        [51, 102, 153],
    );
    check(
        post(&feed, "17900000000000001"),
        m("17900000000000001"),
        200,
        250,
        [250, 250, 250],
    );
    // A picture that cannot be read keeps its nulls (and its URL).
    let bomb = post(&feed, "17900000000000000");
    assert_eq!(bomb["display_url"], m("17900000000000000"));
    assert!(bomb["width"].is_null() && bomb["dominant_color"].is_null());
}
