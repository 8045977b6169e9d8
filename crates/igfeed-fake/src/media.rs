//! The fake accounts' posts and the bytes its CDN serves for them.

use std::collections::HashMap;

use bytes::Bytes;
use serde_json::{Value, json};

use crate::fields::Fields;
use crate::photo::{bomb_jpeg, pad_jpeg, photo_jpeg};
use crate::state::Asset;

/// One post of the fake account.
#[derive(Clone, Debug)]
pub struct FakeMedia {
    pub id: String,
    /// `IMAGE`, `VIDEO` or `CAROUSEL_ALBUM`.
    pub media_type: String,
    pub caption: Option<String>,
    pub timestamp: String,
    pub permalink: String,
    /// The image or video; `None` for a copyright-flagged video (no `media_url`).
    pub content: Option<Bytes>,
    /// A video's thumbnail.
    pub thumbnail: Option<Bytes>,
    pub children: Vec<FakeChild>,
    /// The post's alternative text; answered as `alt_text` only when set
    /// and asked for in `fields` (Instagram leaves out what a post lacks).
    pub alt_text: Option<String>,
}

/// One item of a fake carousel.
#[derive(Clone, Debug)]
pub struct FakeChild {
    pub id: String,
    pub media_type: String,
    pub content: Bytes,
    pub thumbnail: Option<Bytes>,
    /// The item's alternative text; answered as `alt_text` only when set
    /// and asked for inside `children{...}`.
    pub alt_text: Option<String>,
}

fn content_type(media_type: &str) -> (&'static str, &'static str) {
    if media_type == "VIDEO" {
        ("video/mp4", "mp4")
    } else {
        ("image/jpeg", "jpg")
    }
}

/// The content type of real image bytes (the demo's PNGs), else `default`.
fn sniff(bytes: &[u8], default: &'static str) -> &'static str {
    if bytes.starts_with(b"\x89PNG") {
        "image/png"
    } else {
        default
    }
}

/// FNV-1a of `s`: the seed of an asset's bytes, from its name.
fn seed_of(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

/// Deterministic bytes that start like a JPEG (or MP4) file.
pub fn fake_bytes(seed: &str, len: usize, media_type: &str) -> Bytes {
    let mut out = Vec::with_capacity(len);
    if media_type == "VIDEO" {
        out.extend_from_slice(&[
            0, 0, 0, 0x18, b'f', b't', b'y', b'p', b'm', b'p', b'4', b'2',
        ]);
    } else {
        out.extend_from_slice(&[0xFF, 0xD8, 0xFF, 0xE0]);
    }
    let mut x = seed_of(seed);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}

impl FakeMedia {
    /// An image post.
    pub fn image(id: &str, caption: Option<&str>, timestamp: &str) -> Self {
        Self {
            id: id.into(),
            media_type: "IMAGE".into(),
            caption: caption.map(Into::into),
            timestamp: timestamp.into(),
            permalink: format!("https://www.instagram.com/p/{id}/"),
            content: Some(fake_bytes(id, 2048, "IMAGE")),
            thumbnail: None,
            children: Vec::new(),
            alt_text: None,
        }
    }

    /// A video (reel) with a thumbnail.
    pub fn video(id: &str, caption: Option<&str>, timestamp: &str) -> Self {
        Self {
            media_type: "VIDEO".into(),
            permalink: format!("https://www.instagram.com/reel/{id}/"),
            content: Some(fake_bytes(id, 8192, "VIDEO")),
            thumbnail: Some(fake_bytes(&format!("{id}t"), 1024, "IMAGE")),
            ..Self::image(id, caption, timestamp)
        }
    }

    /// A carousel of the given children.
    pub fn carousel(
        id: &str,
        caption: Option<&str>,
        timestamp: &str,
        children: Vec<FakeChild>,
    ) -> Self {
        Self {
            media_type: "CAROUSEL_ALBUM".into(),
            content: children.first().map(|c| c.content.clone()),
            children,
            ..Self::image(id, caption, timestamp)
        }
    }

    /// An image post whose content is a real JPEG ([`photo_jpeg`]) of
    /// `width`×`height`, mostly of colour `rgb` (its noise seeded by `id`).
    ///
    /// # Panics
    /// As [`photo_jpeg`].
    pub fn photo(
        id: &str,
        caption: Option<&str>,
        timestamp: &str,
        width: u32,
        height: u32,
        rgb: [u8; 3],
    ) -> Self {
        Self {
            content: Some(photo_jpeg(width, height, rgb, seed_of(id))),
            ..Self::image(id, caption, timestamp)
        }
    }

    /// A video (reel) whose thumbnail is a real JPEG ([`photo_jpeg`]) of
    /// `width`×`height`, mostly of colour `rgb`; the video itself is the
    /// same fake bytes as [`Self::video`]'s.
    ///
    /// # Panics
    /// As [`photo_jpeg`].
    pub fn video_with_poster(
        id: &str,
        caption: Option<&str>,
        timestamp: &str,
        width: u32,
        height: u32,
        rgb: [u8; 3],
    ) -> Self {
        Self {
            thumbnail: Some(photo_jpeg(width, height, rgb, seed_of(&format!("{id}t")))),
            ..Self::video(id, caption, timestamp)
        }
    }

    /// An image post without caption whose content is a decompression bomb
    /// ([`bomb_jpeg`]): a small JPEG that declares 20,000×20,000 pixels.
    pub fn bomb(id: &str, timestamp: &str) -> Self {
        Self {
            content: Some(bomb_jpeg()),
            ..Self::image(id, None, timestamp)
        }
    }

    /// This post with alternative text `alt`.
    pub fn with_alt(mut self, alt: &str) -> Self {
        self.alt_text = Some(alt.into());
        self
    }

    /// Media bytes of this post, for asset names.
    fn assets(&self) -> Vec<(String, &'static str, Bytes)> {
        let mut out = Vec::new();
        let (ct, ext) = content_type(&self.media_type);
        if let Some(c) = &self.content {
            // A carousel's media_url is its first child's image.
            let ct = if self.media_type == "CAROUSEL_ALBUM" {
                self.children
                    .first()
                    .map(|c| content_type(&c.media_type).0)
                    .unwrap_or(ct)
            } else {
                ct
            };
            out.push((format!("{}_n.{ext}", self.id), ct, c.clone()));
        }
        if let Some(t) = &self.thumbnail {
            out.push((format!("{}_t.jpg", self.id), "image/jpeg", t.clone()));
        }
        for c in &self.children {
            let (ct, ext) = content_type(&c.media_type);
            out.push((format!("{}_n.{ext}", c.id), ct, c.content.clone()));
            if let Some(t) = &c.thumbnail {
                out.push((format!("{}_t.jpg", c.id), "image/jpeg", t.clone()));
            }
        }
        out
    }

    pub(super) fn register_assets(&self, account: usize, assets: &mut HashMap<String, Asset>) {
        for (name, ct, bytes) in self.assets() {
            let content_type = sniff(&bytes, ct);
            assets.insert(
                name,
                Asset {
                    account,
                    content_type,
                    bytes,
                },
            );
        }
    }

    /// The asset names (media, thumbnail) of this post or one of its children.
    pub(super) fn find(&self, id: &str) -> Option<(Option<String>, Option<String>)> {
        if self.id == id {
            let ext = content_type(&self.media_type).1;
            return Some((
                self.content.as_ref().map(|_| format!("{id}_n.{ext}")),
                self.thumbnail.as_ref().map(|_| format!("{id}_t.jpg")),
            ));
        }
        self.children.iter().find(|c| c.id == id).map(|c| {
            (
                Some(format!("{id}_n.{}", content_type(&c.media_type).1)),
                c.thumbnail.as_ref().map(|_| format!("{id}_t.jpg")),
            )
        })
    }

    /// The Graph API JSON of this post; absent values are left out, and so
    /// is `alt_text` when `fields` does not ask for it (see
    /// [`crate::fields`]).
    pub(super) fn to_json(
        &self,
        sign: impl Fn(&str) -> String,
        username: &str,
        fields: &Fields,
    ) -> Value {
        let mut v = json!({
            "id": self.id,
            "media_type": self.media_type,
            "permalink": self.permalink,
            "timestamp": self.timestamp,
            "username": username,
        });
        if let Some(c) = &self.caption {
            v["caption"] = Value::String(c.clone());
        }
        let (media, thumb) = self.find(&self.id).unwrap_or((None, None));
        if let Some(a) = media {
            v["media_url"] = Value::String(sign(&a));
        }
        if let Some(a) = thumb {
            v["thumbnail_url"] = Value::String(sign(&a));
        }
        if let Some(alt) = self.alt_text.as_ref().filter(|_| fields.post("alt_text")) {
            v["alt_text"] = Value::String(alt.clone());
        }
        if self.media_type == "CAROUSEL_ALBUM" {
            let children: Vec<Value> = self
                .children
                .iter()
                .map(|c| {
                    let (media, thumb) = self.find(&c.id).unwrap_or((None, None));
                    let mut cv = json!({"id": c.id, "media_type": c.media_type});
                    if let Some(a) = media {
                        cv["media_url"] = Value::String(sign(&a));
                    }
                    if let Some(a) = thumb {
                        cv["thumbnail_url"] = Value::String(sign(&a));
                    }
                    if let Some(alt) = c.alt_text.as_ref().filter(|_| fields.child("alt_text")) {
                        cv["alt_text"] = Value::String(alt.clone());
                    }
                    cv
                })
                .collect();
            v["children"] = json!({ "data": children });
        }
        v
    }
}

impl FakeChild {
    pub fn image(id: &str) -> Self {
        Self {
            id: id.into(),
            media_type: "IMAGE".into(),
            content: fake_bytes(id, 2048, "IMAGE"),
            thumbnail: None,
            alt_text: None,
        }
    }

    pub fn video(id: &str) -> Self {
        Self {
            id: id.into(),
            media_type: "VIDEO".into(),
            content: fake_bytes(id, 8192, "VIDEO"),
            thumbnail: Some(fake_bytes(&format!("{id}t"), 1024, "IMAGE")),
            alt_text: None,
        }
    }

    /// An image item whose content is a real JPEG ([`photo_jpeg`]) of
    /// `width`×`height`, mostly of colour `rgb` (its noise seeded by `id`).
    ///
    /// # Panics
    /// As [`photo_jpeg`].
    pub fn photo(id: &str, width: u32, height: u32, rgb: [u8; 3]) -> Self {
        Self {
            content: photo_jpeg(width, height, rgb, seed_of(id)),
            ..Self::image(id)
        }
    }

    /// A video item whose thumbnail is a real JPEG ([`photo_jpeg`]) of
    /// `width`×`height`, mostly of colour `rgb`; the video is the same fake
    /// bytes as [`Self::video`]'s.
    ///
    /// # Panics
    /// As [`photo_jpeg`].
    pub fn video_with_poster(id: &str, width: u32, height: u32, rgb: [u8; 3]) -> Self {
        Self {
            thumbnail: Some(photo_jpeg(width, height, rgb, seed_of(&format!("{id}t")))),
            ..Self::video(id)
        }
    }

    /// This item with alternative text `alt`.
    pub fn with_alt(mut self, alt: &str) -> Self {
        self.alt_text = Some(alt.into());
        self
    }
}

/// `n` posts, newest first, cycling through every kind of post the Graph
/// API returns: image, video with thumbnail, carousel (image + video
/// children), image without caption, copyright-flagged video without
/// `media_url`. Ids are `17900000000NNNNN`, children `17800000000NNNNN`.
pub fn sample_media(n: usize) -> Vec<FakeMedia> {
    sample_posts(
        n,
        |k| format!("17900000000{k:05}"),
        |k| format!("17800000000{k:05}"),
    )
}

/// The posts of [`sample_media`] for another account: the same `n` posts
/// (kinds, captions, timestamps) under ids of their own, digits only, so
/// that every seed's ids differ from every other seed's and from those of
/// [`sample_media`]. Ids are `179SSSSSSNNNNNNN`, children
/// `178SSSSSSNNNNNNN`, with the seed in `SSSSSS`; use seeds from 1 for the
/// accounts after the main one.
///
/// # Panics
/// If `seed` has more than six digits or `n` is 5,000,000 or more (the ids
/// would no longer be distinct).
pub fn sample_media_for(seed: usize, n: usize) -> Vec<FakeMedia> {
    check_seeded(seed, n);
    sample_posts(n, |k| seeded_post_id(seed, k), |k| seeded_child_id(seed, k))
}

/// The posts of `like` (made by [`sample_media`] or [`sample_media_for`],
/// resized or not) under the ids [`sample_media_for`]`(seed, like.len())`
/// gives them, sharing their bytes instead of making new ones: many
/// accounts of the same posts for a benchmark, in the memory and time of
/// one. Tests that must tell accounts' bytes apart want
/// [`sample_media_for`].
///
/// # Panics
/// As [`sample_media_for`], and if a post has more than two children.
pub fn sample_media_like(seed: usize, like: &[FakeMedia]) -> Vec<FakeMedia> {
    let n = like.len();
    check_seeded(seed, n);
    like.iter()
        .enumerate()
        .map(|(i, m)| {
            let k = n - i;
            assert!(
                m.children.len() <= 2,
                "sample_media_like: post {} has more than two children",
                m.id
            );
            let id = seeded_post_id(seed, k);
            let children = m
                .children
                .iter()
                .enumerate()
                .map(|(j, c)| FakeChild {
                    id: seeded_child_id(seed, 2 * k + j),
                    ..c.clone()
                })
                .collect();
            FakeMedia {
                permalink: m.permalink.replace(&m.id, &id),
                id,
                children,
                ..m.clone()
            }
        })
        .collect()
}

fn check_seeded(seed: usize, n: usize) {
    assert!(seed < 1_000_000, "sample media: seed {seed} is too large");
    assert!(n < 5_000_000, "sample media: {n} posts are too many");
}

fn seeded_post_id(seed: usize, k: usize) -> String {
    format!("179{seed:06}{k:07}")
}

fn seeded_child_id(seed: usize, k: usize) -> String {
    format!("178{seed:06}{k:07}")
}

fn sample_posts(
    n: usize,
    post_id: impl Fn(usize) -> String,
    child_id: impl Fn(usize) -> String,
) -> Vec<FakeMedia> {
    (0..n)
        .map(|i| {
            let id = post_id(n - i);
            // One post a day, newest first, in Instagram's `+0000` form.
            let day = 28 - (i % 28);
            let month = 11 - (i / 28) % 11;
            let ts = format!("2026-{month:02}-{day:02}T10:{:02}:00+0000", (n - i) % 60);
            let caption = format!("Post number {} #igfeed", n - i);
            match i % 5 {
                0 => FakeMedia::image(&id, Some(&caption), &ts),
                1 => FakeMedia::video(&id, Some(&caption), &ts),
                2 => FakeMedia::carousel(
                    &id,
                    Some(&caption),
                    &ts,
                    vec![
                        FakeChild::image(&child_id(2 * (n - i))),
                        FakeChild::video(&child_id(2 * (n - i) + 1)),
                    ],
                ),
                3 => FakeMedia::image(&id, None, &ts),
                _ => FakeMedia {
                    content: None,
                    ..FakeMedia::video(&id, Some(&caption), &ts)
                },
            }
        })
        .collect()
}

/// Regenerates every image at `image_size` bytes and every video at four
/// times that (benchmarks want realistic sizes, tests small ones).
pub fn resize_media(media: &mut [FakeMedia], image_size: usize) {
    let size = |media_type: &str| {
        if media_type == "VIDEO" {
            image_size * 4
        } else {
            image_size
        }
    };
    for m in media.iter_mut() {
        if m.content.is_some() {
            let kind = if m.media_type == "CAROUSEL_ALBUM" {
                m.children
                    .first()
                    .map(|c| c.media_type.clone())
                    .unwrap_or_default()
            } else {
                m.media_type.clone()
            };
            m.content = Some(fake_bytes(&m.id, size(&kind), &kind));
        }
        if m.thumbnail.is_some() {
            m.thumbnail = Some(fake_bytes(&format!("{}t", m.id), image_size, "IMAGE"));
        }
        for c in m.children.iter_mut() {
            c.content = fake_bytes(&c.id, size(&c.media_type), &c.media_type);
            if c.thumbnail.is_some() {
                c.thumbnail = Some(fake_bytes(&format!("{}t", c.id), image_size, "IMAGE"));
            }
        }
        if m.media_type == "CAROUSEL_ALBUM" {
            m.content = m.children.first().map(|c| c.content.clone());
        }
    }
}

/// The size of the photos [`use_photos`] puts in: Instagram's portrait
/// format.
pub const PHOTO_SIZE: (u32, u32) = (1080, 1350);

/// Colours of [`use_photos`]' photos.
const PHOTO_COLOURS: [[u8; 3]; 6] = [
    [200, 60, 50],
    [40, 120, 200],
    [60, 170, 90],
    [230, 180, 40],
    [140, 70, 170],
    [90, 90, 90],
];

/// Makes every picture (image posts and carousel items, videos'
/// thumbnails) a real JPEG ([`photo_jpeg`], [`PHOTO_SIZE`]) that igfeed
/// can measure and resize, padded ([`pad_jpeg`]) to `image_size` bytes
/// when it is smaller (run [`resize_media`] first: pictures stay the
/// size it made them). Videos keep their bytes. The photos are six, one
/// per colour, shared by the pictures (chosen by their ids): a few
/// encodings instead of hundreds.
pub fn use_photos(media: &mut [FakeMedia], image_size: usize) {
    let (w, h) = PHOTO_SIZE;
    let photos: Vec<Bytes> = PHOTO_COLOURS
        .iter()
        .zip(0u64..)
        .map(|(&rgb, seed)| pad_jpeg(&photo_jpeg(w, h, rgb, seed), image_size))
        .collect();
    let photo = |id: &str| photos[(seed_of(id) % photos.len() as u64) as usize].clone();
    for m in media.iter_mut() {
        if m.media_type == "IMAGE" && m.content.is_some() {
            m.content = Some(photo(&m.id));
        }
        if m.thumbnail.is_some() {
            m.thumbnail = Some(photo(&format!("{}t", m.id)));
        }
        for c in m.children.iter_mut() {
            if c.media_type == "IMAGE" {
                c.content = photo(&c.id);
            }
            if c.thumbnail.is_some() {
                c.thumbnail = Some(photo(&format!("{}t", c.id)));
            }
        }
        if m.media_type == "CAROUSEL_ALBUM" {
            m.content = m.children.first().map(|c| c.content.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zune_jpeg::JpegDecoder;
    use zune_jpeg::zune_core::bytestream::ZCursor;

    /// A JPEG's size as igfeed's decoder reads it from the headers.
    fn jpeg_dimensions(bytes: &[u8]) -> (usize, usize) {
        let mut decoder = JpegDecoder::new(ZCursor::new(bytes));
        decoder.decode_headers().expect("JPEG headers");
        decoder.dimensions().expect("dimensions")
    }

    #[test]
    fn photos_replace_every_picture_and_keep_the_videos() {
        let size = 150_000;
        let mut media = sample_media(10);
        resize_media(&mut media, size);
        let videos: Vec<Bytes> = media
            .iter()
            .flat_map(|m| {
                let own = (m.media_type == "VIDEO")
                    .then(|| m.content.clone())
                    .flatten();
                let kids = m.children.iter().filter(|c| c.media_type == "VIDEO");
                own.into_iter().chain(kids.map(|c| c.content.clone()))
            })
            .collect();
        use_photos(&mut media, size);

        let mut pictures = Vec::new();
        let mut after = Vec::new();
        for m in &media {
            match (m.media_type.as_str(), &m.content) {
                ("IMAGE", Some(c)) => pictures.push(c.clone()),
                ("VIDEO", Some(c)) => after.push(c.clone()),
                _ => {}
            }
            pictures.extend(m.thumbnail.clone());
            for c in &m.children {
                if c.media_type == "IMAGE" {
                    pictures.push(c.content.clone());
                } else {
                    after.push(c.content.clone());
                }
                pictures.extend(c.thumbnail.clone());
            }
            if m.media_type == "CAROUSEL_ALBUM" {
                assert_eq!(m.content.as_ref(), Some(&m.children[0].content));
            }
        }
        assert_eq!(after, videos, "videos are left alone");
        // 4 image posts, 2 carousel images, 6 thumbnails.
        assert_eq!(pictures.len(), 12);
        for p in &pictures {
            assert_eq!(p.len(), size);
            assert_eq!(jpeg_dimensions(p), (1080, 1350));
        }
        assert!(
            pictures.iter().any(|p| p != &pictures[0]),
            "more than one photo"
        );
        // And one decodes whole, padding and all.
        let mut decoder = JpegDecoder::new(ZCursor::new(&pictures[0][..]));
        let pixels = decoder.decode().expect("decodes");
        assert_eq!(pixels.len(), 1080 * 1350 * 3);
    }
}
