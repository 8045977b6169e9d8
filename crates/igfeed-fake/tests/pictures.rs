//! The fake's pictures seen over HTTP the way igfeed sees them: real
//! photos and posters, the decompression bomb, and `alt_text` answered
//! only when a post has one and `fields` asks for it.

use igfeed_fake::{FakeChild, FakeInstagram, FakeMedia, FakeOptions, bomb_jpeg, sample_media};
use serde_json::Value;

const V: &str = "v25.0";
/// What igfeed asks for today, without `alt_text`.
const FIELDS: &str = "id,caption,media_type,media_url,permalink,thumbnail_url,timestamp,username,children{id,media_type,media_url,thumbnail_url}";

async fn media_page(fake: &FakeInstagram, fields: Option<&str>) -> Vec<Value> {
    let token = fake.issue_token();
    let mut url = url::Url::parse(&format!("{}/{V}/me/media", fake.base_url())).expect("base URL");
    url.query_pairs_mut().append_pair("access_token", &token);
    if let Some(f) = fields {
        url.query_pairs_mut().append_pair("fields", f);
    }
    let res = reqwest::get(url).await.expect("media list");
    assert_eq!(res.status(), 200);
    let page: Value = res.json().await.expect("json");
    page["data"].as_array().expect("data").clone()
}

/// The bytes and content type the CDN serves at a signed URL.
async fn fetch(url: &Value) -> (String, Vec<u8>) {
    let res = reqwest::get(url.as_str().expect("a URL"))
        .await
        .expect("cdn");
    assert_eq!(res.status(), 200);
    let ct = res.headers()["content-type"]
        .to_str()
        .expect("ASCII")
        .to_string();
    (ct, res.bytes().await.expect("body").to_vec())
}

fn pictures() -> Vec<FakeMedia> {
    vec![
        FakeMedia::carousel(
            "17900000000000004",
            Some("a carousel"),
            "2026-11-04T10:00:00+0000",
            vec![
                FakeChild::photo("17800000000000001", 300, 200, [20, 90, 200])
                    .with_alt("A blue square"),
                FakeChild::video_with_poster("17800000000000002", 120, 160, [240, 200, 10]),
            ],
        ),
        FakeMedia::photo(
            "17900000000000003",
            Some("a photo"),
            "2026-11-03T10:00:00+0000",
            640,
            480,
            [200, 30, 30],
        )
        .with_alt("A red photo"),
        FakeMedia::video_with_poster(
            "17900000000000002",
            Some("a reel"),
            "2026-11-02T10:00:00+0000",
            90,
            160,
            [10, 10, 10],
        ),
        FakeMedia::bomb("17900000000000001", "2026-11-01T10:00:00+0000"),
    ]
}

async fn fake_with_pictures() -> FakeInstagram {
    FakeInstagram::start(FakeOptions::default(), pictures())
        .await
        .expect("fake starts")
}

#[tokio::test]
async fn alt_text_is_answered_only_when_set_and_asked_for() {
    let fake = fake_with_pictures().await;
    let with_alt =
        format!("{FIELDS},alt_text").replace("thumbnail_url}", "thumbnail_url,alt_text}");

    let data = media_page(&fake, Some(&with_alt)).await;
    assert_eq!(data[1]["alt_text"], "A red photo");
    let children = data[0]["children"]["data"].as_array().unwrap();
    assert_eq!(children[0]["alt_text"], "A blue square");
    // Not set: left out, as Instagram leaves out what a post lacks.
    for absent in [&data[0], &children[1], &data[2], &data[3]] {
        assert!(absent.get("alt_text").is_none(), "{absent}");
    }

    // Not asked for: left out even where set.
    for fields in [Some(FIELDS), None, Some("id,alt_text_hint")] {
        let data = media_page(&fake, fields).await;
        assert!(
            data.iter().all(|m| m.get("alt_text").is_none()),
            "{fields:?}"
        );
        let children = data[0]["children"]["data"].as_array().unwrap();
        assert!(children.iter().all(|c| c.get("alt_text").is_none()));
    }

    // Asked for on posts only, or on children only.
    let data = media_page(&fake, Some(&format!("{FIELDS},alt_text"))).await;
    assert_eq!(data[1]["alt_text"], "A red photo");
    assert!(data[0]["children"]["data"][0].get("alt_text").is_none());
    let children_only = FIELDS.replace("thumbnail_url}", "thumbnail_url,alt_text}");
    let data = media_page(&fake, Some(&children_only)).await;
    assert!(data[1].get("alt_text").is_none());
    assert_eq!(data[0]["children"]["data"][0]["alt_text"], "A blue square");
}

#[tokio::test]
async fn sample_media_never_has_alt_text() {
    let fake = FakeInstagram::start(FakeOptions::default(), sample_media(10))
        .await
        .expect("fake starts");
    assert!(
        fake.media()
            .iter()
            .all(|m| m.alt_text.is_none() && m.children.iter().all(|c| c.alt_text.is_none()))
    );
    let fields = format!("{FIELDS},alt_text").replace("thumbnail_url}", "thumbnail_url,alt_text}");
    let data = media_page(&fake, Some(&fields)).await;
    assert_eq!(data.len(), 10);
    assert!(data.iter().all(|m| m.get("alt_text").is_none()));
}

#[tokio::test]
async fn pictures_are_served_as_jpeg() {
    let fake = fake_with_pictures().await;
    let data = media_page(&fake, Some(FIELDS)).await;
    let media = fake.media();

    // The photo post: the JPEG it was made with.
    let (ct, bytes) = fetch(&data[1]["media_url"]).await;
    assert_eq!(ct, "image/jpeg");
    assert_eq!(bytes, media[1].content.as_ref().unwrap().to_vec());
    assert!(bytes.starts_with(&[0xFF, 0xD8]) && bytes.ends_with(&[0xFF, 0xD9]));

    // Carousel: its media_url is the first child's photo.
    let (ct, bytes) = fetch(&data[0]["media_url"]).await;
    assert_eq!(ct, "image/jpeg");
    assert_eq!(bytes, media[0].children[0].content.to_vec());
    let children = data[0]["children"]["data"].as_array().unwrap();
    let (ct, _) = fetch(&children[0]["media_url"]).await;
    assert_eq!(ct, "image/jpeg");
    // The video child and the reel: video, with a real JPEG poster.
    for (video, poster) in [
        (&children[1], media[0].children[1].thumbnail.clone()),
        (&data[2], media[2].thumbnail.clone()),
    ] {
        let (ct, _) = fetch(&video["media_url"]).await;
        assert_eq!(ct, "video/mp4");
        let (ct, bytes) = fetch(&video["thumbnail_url"]).await;
        assert_eq!(ct, "image/jpeg");
        assert_eq!(bytes, poster.unwrap().to_vec());
    }

    // The bomb.
    let (ct, bytes) = fetch(&data[3]["media_url"]).await;
    assert_eq!(ct, "image/jpeg");
    assert_eq!(bytes, bomb_jpeg().to_vec());
    assert_eq!(data[3]["media_type"], "IMAGE");
    assert!(data[3].get("caption").is_none());
}

#[test]
fn constructors_use_photo_jpeg() {
    let m = FakeMedia::photo("p1", None, "2026-11-01T10:00:00+0000", 64, 48, [1, 2, 3]);
    assert_eq!(m.media_type, "IMAGE");
    assert!(m.thumbnail.is_none() && m.alt_text.is_none());
    let again = FakeMedia::photo("p1", None, "2026-11-01T10:00:00+0000", 64, 48, [1, 2, 3]);
    assert_eq!(m.content, again.content, "deterministic");
    let v = FakeMedia::video_with_poster(
        "v1",
        Some("c"),
        "2026-11-01T10:00:00+0000",
        64,
        48,
        [9, 9, 9],
    );
    assert_eq!(v.media_type, "VIDEO");
    assert_eq!(v.content, FakeMedia::video("v1", None, "t").content);
    let c = FakeChild::video_with_poster("c1", 16, 16, [5, 5, 5]);
    assert_eq!(c.media_type, "VIDEO");
    assert_eq!(c.content, FakeChild::video("c1").content);
    assert!(c.thumbnail.unwrap().starts_with(&[0xFF, 0xD8]));
    let c = FakeChild::photo("c2", 16, 16, [5, 5, 5]);
    assert_eq!(c.media_type, "IMAGE");
    assert!(c.thumbnail.is_none());
    // Seeded by id: another id, other noise.
    assert_ne!(c.content, FakeChild::photo("c3", 16, 16, [5, 5, 5]).content);
    assert!(c.content.starts_with(&[0xFF, 0xD8]));
    assert_eq!(
        FakeMedia::bomb("b1", "2026-11-01T10:00:00+0000").content,
        Some(bomb_jpeg())
    );
}
