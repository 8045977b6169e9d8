//! Real pictures for the fake's posts, for igfeed's picture features
//! (resized variants, `width` / `height` / `dominant_color`): photos a
//! decoder reads to a known size and average colour, and a decompression
//! bomb whose header alone is too large.
//!
//! Encoded with jpeg-encoder as baseline JPEGs with its standard Huffman
//! tables (one interleaved scan): its optimised tables come with one scan
//! per component, a layout zune-jpeg 0.5.15 (igfeed's decoder) decodes
//! into wrong colours when chroma is subsampled.

use bytes::Bytes;
use jpeg_encoder::{ColorType, Encoder};

/// Quality of [`photo_jpeg`] (jpeg-encoder subsamples chroma, 4:2:0,
/// below 90).
const QUALITY: u8 = 85;

/// The most a channel strays from the asked colour (gradient plus noise).
const SPREAD: i32 = 6;

/// The side [`bomb_jpeg`] declares.
const BOMB_SIDE: u16 = 20_000;

/// xorshift64*, seeded; never stuck at zero.
struct Noise(u64);

impl Noise {
    fn new(seed: u64) -> Self {
        Self(seed ^ 0x9E37_79B9_7F4A_7C15 | 1)
    }

    /// In `-3..=3`.
    fn next(&mut self) -> i32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let r = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32;
        (r % 7) as i32 - 3
    }
}

/// A real baseline JPEG of `width`×`height`, mostly of colour `rgb`, with a
/// faint horizontal gradient and noise chosen by `seed` (the same
/// arguments give the same bytes). Gradient and noise cancel out over each
/// row and shrink near 0 and 255 so nothing is clipped: the decoded
/// average colour is within ±3 of `rgb` per channel. Quality 85, chroma
/// 4:2:0, standard Huffman tables.
///
/// # Panics
/// If a side is 0 or more than 65,535 (JPEG's limit).
pub fn photo_jpeg(width: u32, height: u32, rgb: [u8; 3], seed: u64) -> Bytes {
    let (w, h) = jpeg_size(width, height);
    let (wu, hu) = (usize::from(w), usize::from(h));
    // Per channel, how far it may stray without leaving 0..=255.
    let room = rgb.map(|c| {
        let c = i32::from(c);
        c.min(255 - c).min(SPREAD)
    });
    let mut noise = Noise::new(seed);
    let mut pixels = Vec::with_capacity(wu * hu * 3);
    let mut row_noise = vec![0i32; wu];
    for _ in 0..hu {
        // Antithetic pairs (n, -n): each row's noise sums to zero.
        for pair in row_noise.chunks_mut(2) {
            if let [a, b] = pair {
                *a = noise.next();
                *b = -*a;
            } else {
                pair[0] = 0;
            }
        }
        for (x, &n) in row_noise.iter().enumerate() {
            // -3.0..=3.0 across the row, antisymmetric about its middle.
            let g = if wu > 1 {
                3.0 * (2.0 * x as f64 - (wu - 1) as f64) / (wu - 1) as f64
            } else {
                0.0
            };
            for (c, &r) in rgb.iter().zip(&room) {
                // Each part truncated on its own (an odd function), so
                // each still cancels out over the row, and the two stay
                // within `r` together.
                let scale = f64::from(r) / f64::from(SPREAD);
                let d = (g * scale).trunc() as i32 + (f64::from(n) * scale).trunc() as i32;
                pixels.push((i32::from(*c) + d).clamp(0, 255) as u8);
            }
        }
    }
    encode(&pixels, w, h, QUALITY)
}

/// A decompression bomb: a small (well under 2 KB) JPEG whose SOF0 frame
/// header declares 20,000×20,000 pixels (400 Mpx, 1.2 GB of RGB) over the
/// scan of an 8×8 picture. A server must refuse it from its header, before
/// allocating anything for the pixels.
pub fn bomb_jpeg() -> Bytes {
    let pixels = [200u8, 30, 30].repeat(64);
    let mut bytes = encode(&pixels, 8, 8, QUALITY).to_vec();
    let sof = sof0_at(&bytes).expect("jpeg-encoder writes a SOF0 header");
    // FF C0, length (2), precision (1), height (2), width (2).
    let side = BOMB_SIDE.to_be_bytes();
    bytes[sof + 5..sof + 7].copy_from_slice(&side);
    bytes[sof + 7..sof + 9].copy_from_slice(&side);
    Bytes::from(bytes)
}

/// The most payload one JPEG comment (COM) segment holds.
const COM_MAX: usize = u16::MAX as usize - 2;

/// `jpeg` grown to `len` bytes with comment (COM) segments of zeros right
/// after its SOI marker: the same picture to a decoder, as large as a real
/// photo (a benchmark's transfer sizes). Unchanged when it is not at least
/// 4 bytes (a segment's least) shorter than `len`.
///
/// # Panics
/// If `jpeg` does not start with SOI.
pub fn pad_jpeg(jpeg: &[u8], len: usize) -> Bytes {
    assert!(jpeg.starts_with(&[0xFF, 0xD8]), "pad_jpeg: not a JPEG");
    let mut fill = len.saturating_sub(jpeg.len());
    if fill < 4 {
        return Bytes::copy_from_slice(jpeg);
    }
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&jpeg[..2]);
    while fill >= 4 {
        let mut take = fill.min(4 + COM_MAX);
        // Never leave 1 to 3 bytes, too few for the last segment.
        if (1..4).contains(&(fill - take)) {
            take -= 4;
        }
        let size = u16::try_from(take - 2).expect("a COM segment's size fits");
        out.extend_from_slice(&[0xFF, 0xFE]);
        out.extend_from_slice(&size.to_be_bytes());
        out.resize(out.len() + take - 4, 0);
        fill -= take;
    }
    out.extend_from_slice(&jpeg[2..]);
    Bytes::from(out)
}

fn jpeg_size(width: u32, height: u32) -> (u16, u16) {
    let side = |s: u32| {
        u16::try_from(s)
            .ok()
            .filter(|&s| s > 0)
            .unwrap_or_else(|| panic!("photo_jpeg: {width}×{height} is not a JPEG size"))
    };
    (side(width), side(height))
}

fn encode(pixels: &[u8], w: u16, h: u16, quality: u8) -> Bytes {
    let mut out = Vec::new();
    // Standard Huffman tables (the default): see the module's comment.
    Encoder::new(&mut out, quality)
        .encode(pixels, w, h, ColorType::Rgb)
        .expect("RGB pixels of the stated size encode");
    Bytes::from(out)
}

/// Where the SOF0 marker is, found by walking the segments from SOI.
pub(crate) fn sof0_at(bytes: &[u8]) -> Option<usize> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut i = 2;
    while i + 4 <= bytes.len() && bytes[i] == 0xFF {
        let marker = bytes[i + 1];
        if marker == 0xC0 {
            return Some(i);
        }
        if marker == 0xDA {
            return None;
        }
        i += 2 + usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use zune_jpeg::JpegDecoder;
    use zune_jpeg::zune_core::bytestream::ZCursor;
    use zune_jpeg::zune_core::colorspace::ColorSpace;
    use zune_jpeg::zune_core::options::DecoderOptions;

    /// Width, height and RGB pixels, as igfeed decodes them.
    fn decode(bytes: &[u8]) -> (usize, usize, Vec<u8>) {
        let options = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::RGB);
        let mut decoder = JpegDecoder::new_with_options(ZCursor::new(bytes), options);
        let pixels = decoder.decode().expect("decodes");
        let (w, h) = decoder.dimensions().expect("dimensions");
        (w, h, pixels)
    }

    fn mean(pixels: &[u8]) -> [f64; 3] {
        let mut sum = [0u64; 3];
        for px in pixels.chunks_exact(3) {
            for (s, &c) in sum.iter_mut().zip(px) {
                *s += u64::from(c);
            }
        }
        let n = (pixels.len() / 3) as f64;
        sum.map(|s| s as f64 / n)
    }

    /// The SOF0 header's (width, height).
    fn sof0_size(bytes: &[u8]) -> (u16, u16) {
        let sof = sof0_at(bytes).expect("SOF0");
        let be = |i: usize| u16::from_be_bytes([bytes[sof + i], bytes[sof + i + 1]]);
        (be(7), be(5))
    }

    #[test]
    fn photos_decode_to_their_size_and_colour() {
        let cases: [(u32, u32, [u8; 3]); 9] = [
            (640, 480, [200, 30, 30]),
            (1080, 1350, [30, 120, 200]),
            (1, 1, [10, 250, 128]),
            (17, 9, [0, 0, 0]),
            (333, 101, [255, 255, 255]),
            (64, 64, [255, 0, 0]),
            (99, 160, [0, 255, 0]),
            (160, 99, [0, 0, 255]),
            (2000, 8, [128, 128, 128]),
        ];
        for (seed, (w, h, rgb)) in cases.into_iter().enumerate() {
            let bytes = photo_jpeg(w, h, rgb, seed as u64);
            assert_eq!(sof0_size(&bytes), (w as u16, h as u16));
            let (dw, dh, pixels) = decode(&bytes);
            assert_eq!((dw, dh), (w as usize, h as usize), "{rgb:?}");
            assert_eq!(pixels.len(), dw * dh * 3);
            let avg = mean(&pixels);
            for (a, &c) in avg.iter().zip(&rgb) {
                assert!(
                    (a - f64::from(c)).abs() <= 3.0,
                    "{w}×{h} {rgb:?}: average {avg:?}"
                );
            }
        }
    }

    #[test]
    fn photos_are_not_flat_and_are_deterministic() {
        let a = photo_jpeg(96, 64, [90, 140, 60], 7);
        assert_eq!(a, photo_jpeg(96, 64, [90, 140, 60], 7));
        assert_ne!(a, photo_jpeg(96, 64, [90, 140, 60], 8));
        let (_, _, pixels) = decode(&a);
        let first = &pixels[..3];
        assert!(pixels.chunks_exact(3).any(|px| px != first), "flat");
    }

    #[test]
    fn photos_are_baseline_with_standard_huffman_tables() {
        let bytes = photo_jpeg(64, 48, [10, 20, 30], 1);
        let markers: Vec<u8> = bytes
            .windows(2)
            .filter(|w| w[0] == 0xFF)
            .map(|w| w[1])
            .collect();
        assert!(markers.contains(&0xC0), "baseline SOF0");
        assert!(!markers.contains(&0xC2), "not progressive");
        // One scan, interleaving every component.
        let sos = bytes
            .windows(2)
            .position(|w| w == [0xFF, 0xDA])
            .expect("SOS");
        assert_eq!(bytes[sos + 4], 3, "components in the scan");
        assert_eq!(
            bytes.windows(2).filter(|w| *w == [0xFF, 0xDA]).count(),
            1,
            "one scan"
        );
    }

    #[test]
    fn padded_photos_are_the_asked_size_and_the_same_picture() {
        let photo = photo_jpeg(120, 90, [40, 160, 90], 3);
        let (_, _, pixels) = decode(&photo);
        let n = photo.len();
        // Within one segment, across segments, and an awkward remainder.
        for len in [
            n + 4,
            n + 1000,
            n + 65_537,
            n + 65_538,
            n + 200_000,
            n + 131_075,
        ] {
            let padded = pad_jpeg(&photo, len);
            assert_eq!(padded.len(), len);
            assert_eq!(sof0_size(&padded), (120, 90));
            let (w, h, again) = decode(&padded);
            assert_eq!((w, h), (120, 90));
            assert_eq!(again, pixels, "padded to {len}");
        }
        for len in [0, n, n + 3] {
            assert_eq!(pad_jpeg(&photo, len), photo, "{len}");
        }
    }

    #[test]
    #[should_panic(expected = "not a JPEG size")]
    fn a_photo_needs_a_jpeg_size() {
        photo_jpeg(70_000, 10, [0, 0, 0], 0);
    }

    #[test]
    fn the_bomb_declares_20000_square_in_under_2_kb() {
        let bomb = bomb_jpeg();
        assert!(bomb.len() < 2048, "{} bytes", bomb.len());
        assert_eq!(sof0_size(&bomb), (20_000, 20_000));
        assert_eq!(bomb, bomb_jpeg());
        // The header is a valid JPEG one: a decoder reads its size from it.
        let options = DecoderOptions::default()
            .set_max_width(usize::from(u16::MAX))
            .set_max_height(usize::from(u16::MAX));
        let mut decoder = JpegDecoder::new_with_options(ZCursor::new(&bomb[..]), options);
        decoder.decode_headers().expect("headers");
        assert_eq!(decoder.dimensions(), Some((20_000, 20_000)));
    }
}
