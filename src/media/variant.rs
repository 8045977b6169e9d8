//! Image variants: a picture of the feed resized to one of a few widths and
//! encoded as WebP or JPEG, plus what the feed shows about a picture (its
//! pixel size and average colour).
//!
//! Pure, synchronous CPU work with no global or thread-local state: callers
//! run it on tokio's blocking pool. Sources are JPEG (what the Instagram CDN
//! serves), PNG or WebP. Every entry point reads the source's header first
//! and refuses a picture of more than [`MAX_PIXELS`] before allocating
//! anything for its pixels, so a small file declaring a huge size (a
//! decompression bomb) costs nothing.
//!
//! Transparent sources (PNG, WebP) are flattened onto white: both outputs
//! are opaque. EXIF orientation is not applied (the CDN's pictures are
//! already upright) and metadata is not copied.

use std::io::Cursor;

use bytes::Bytes;
use fast_image_resize as fir;
use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;

/// Largest source accepted, in pixels (width × height).
pub const MAX_PIXELS: u64 = 50_000_000;

/// WebP quality (libwebp's 0–100 scale), the same as `vipsthumbnail`'s
/// `[Q=80]` that the benchmark compares against.
const WEBP_QUALITY: f32 = 80.0;
/// libwebp's speed/size trade-off (0 fast … 6 small); 4 is its default and
/// libvips' too.
const WEBP_METHOD: i32 = 4;
/// JPEG quality (1–100); below 90 the encoder subsamples chroma (4:2:0).
const JPEG_QUALITY: u8 = 80;
/// Largest side libwebp can encode.
const WEBP_MAX_SIDE: u32 = 16_383;
/// Largest side a JPEG can declare.
const JPEG_MAX_SIDE: u32 = 65_535;

/// Allowed widths of `?w=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Width {
    W320,
    W640,
    W1080,
}

impl Width {
    /// Every allowed width, narrowest first.
    pub const ALL: [Width; 3] = [Width::W320, Width::W640, Width::W1080];

    /// The width named by a `?w=` value: exactly `320`, `640` or `1080`.
    pub fn parse(s: &str) -> Option<Width> {
        Width::ALL.into_iter().find(|w| w.as_str() == s)
    }

    /// The width in pixels.
    pub fn px(self) -> u32 {
        match self {
            Width::W320 => 320,
            Width::W640 => 640,
            Width::W1080 => 1080,
        }
    }

    /// The width as written in `?w=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Width::W320 => "320",
            Width::W640 => "640",
            Width::W1080 => "1080",
        }
    }
}

/// The encoding of a variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    Webp,
    Jpeg,
}

impl Format {
    /// The `Content-Type` of a variant in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Webp => "image/webp",
            Format::Jpeg => "image/jpeg",
        }
    }

    /// WebP when the `Accept` header names `image/webp` with a non-zero
    /// quality, else JPEG. Wildcards (`image/*`, `*/*`) do not count: browsers
    /// without WebP send them too.
    pub fn from_accept(accept: Option<&str>) -> Format {
        let Some(accept) = accept else {
            return Format::Jpeg;
        };
        let allows_webp = accept.split(',').any(|range| {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or_default().trim();
            media.eq_ignore_ascii_case("image/webp") && accepted_quality(parts)
        });
        if allows_webp {
            Format::Webp
        } else {
            Format::Jpeg
        }
    }
}

/// Whether the parameters of a media range leave it acceptable: no `q`, or
/// a `q` above zero. An unreadable `q` does not count as acceptance.
fn accepted_quality<'a>(params: impl Iterator<Item = &'a str>) -> bool {
    for param in params {
        let Some((name, value)) = param.split_once('=') else {
            continue;
        };
        if name.trim().eq_ignore_ascii_case("q") {
            return value.trim().parse::<f32>().is_ok_and(|q| q > 0.0);
        }
    }
    true
}

/// Why a picture cannot be probed or made into a variant.
#[derive(Debug, thiserror::Error)]
pub enum VariantError {
    /// More than [`MAX_PIXELS`], or an output side larger than its format
    /// allows; refused from the header alone.
    #[error("the picture is {width}x{height} pixels, too large to process")]
    TooLarge { width: u32, height: u32 },
    /// Not a JPEG, PNG or WebP picture.
    #[error("not a JPEG, PNG or WebP picture")]
    Unsupported,
    /// A supported format that could not be read or written.
    #[error("the picture could not be processed: {0}")]
    Broken(String),
}

fn broken(e: impl std::fmt::Display) -> VariantError {
    VariantError::Broken(e.to_string())
}

/// What the feed shows about a picture: pixel size and average colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PictureInfo {
    pub width: u32,
    pub height: u32,
    /// The mean sRGB colour of every pixel.
    pub dominant_color: [u8; 3],
}

impl PictureInfo {
    /// The colour as CSS `#rrggbb`.
    pub fn hex(&self) -> String {
        let [r, g, b] = self.dominant_color;
        format!("#{r:02x}{g:02x}{b:02x}")
    }
}

/// A resized, encoded picture.
#[derive(Clone, Debug)]
pub struct Variant {
    pub bytes: Bytes,
    pub width: u32,
    pub height: u32,
    pub format: Format,
}

/// The pixel size from the header alone; refuses more than [`MAX_PIXELS`]
/// before anything is allocated for the pixels.
pub fn dimensions(src: &[u8]) -> Result<(u32, u32), VariantError> {
    match sniff(src)? {
        Kind::Jpeg => jpeg_header(src).map(|(_, size)| size),
        Kind::Png => png_header(src).map(|(_, size)| size),
        Kind::Webp => webp_header(src).map(|(_, size)| size),
    }
}

/// Decodes the picture (within [`MAX_PIXELS`]) for its size and average
/// colour.
pub fn probe(src: &[u8]) -> Result<PictureInfo, VariantError> {
    let image = decode(src)?;
    Ok(PictureInfo {
        width: image.width,
        height: image.height,
        dominant_color: image.mean_color(),
    })
}

/// The picture resized to `width` pixels wide (aspect ratio kept; a
/// narrower source keeps its width) and encoded as `format`.
pub fn make(src: &[u8], width: Width, format: Format) -> Result<Variant, VariantError> {
    let (src_w, src_h) = dimensions(src)?;
    let (out_w, out_h) = fit(src_w, src_h, width.px());
    let max_side = match format {
        Format::Webp => WEBP_MAX_SIDE,
        Format::Jpeg => JPEG_MAX_SIDE,
    };
    if out_w > max_side || out_h > max_side {
        return Err(VariantError::TooLarge {
            width: src_w,
            height: src_h,
        });
    }
    let image = decode(src)?.resized(out_w, out_h)?;
    let bytes = match format {
        Format::Webp => encode_webp(&image)?,
        Format::Jpeg => encode_jpeg(&image)?,
    };
    Ok(Variant {
        bytes,
        width: image.width,
        height: image.height,
        format,
    })
}

/// The output size for a `src_w`×`src_h` source at `target` pixels wide:
/// never wider than the source, height rounded, at least one pixel.
fn fit(src_w: u32, src_h: u32, target: u32) -> (u32, u32) {
    let w = target.min(src_w);
    if w == src_w {
        return (src_w, src_h);
    }
    let h = (u64::from(src_h) * u64::from(w) + u64::from(src_w) / 2) / u64::from(src_w);
    // h <= src_h since w < src_w.
    (w, u32::try_from(h).unwrap_or(src_h).max(1))
}

/// The source formats, told by their first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Jpeg,
    Png,
    Webp,
}

fn sniff(src: &[u8]) -> Result<Kind, VariantError> {
    if src.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Ok(Kind::Jpeg)
    } else if src.starts_with(b"\x89PNG\r\n\x1a\n") {
        Ok(Kind::Png)
    } else if src.len() >= 12 && &src[..4] == b"RIFF" && &src[8..12] == b"WEBP" {
        Ok(Kind::Webp)
    } else {
        Err(VariantError::Unsupported)
    }
}

/// Width and height in pixels.
type Size = (u32, u32);

/// Refuses an empty or too large picture.
fn checked(width: u32, height: u32) -> Result<Size, VariantError> {
    if width == 0 || height == 0 {
        return Err(VariantError::Broken(format!(
            "the picture declares a {width}x{height} size"
        )));
    }
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(VariantError::TooLarge { width, height });
    }
    Ok((width, height))
}

/// Decoded pixels: 8-bit RGB, row by row.
struct Rgb {
    pixels: Vec<u8>,
    width: u32,
    height: u32,
}

impl Rgb {
    fn mean_color(&self) -> [u8; 3] {
        let mut sums = [0u64; 3];
        for px in self.pixels.chunks_exact(3) {
            for (sum, &c) in sums.iter_mut().zip(px) {
                *sum += u64::from(c);
            }
        }
        let count = (self.pixels.len() / 3).max(1) as u64;
        sums.map(|sum| u8::try_from((sum + count / 2) / count).unwrap_or(u8::MAX))
    }

    /// Lanczos3 resampling (as libvips' thumbnails), in sRGB.
    fn resized(self, width: u32, height: u32) -> Result<Rgb, VariantError> {
        if (width, height) == (self.width, self.height) {
            return Ok(self);
        }
        let src = fir::images::Image::from_vec_u8(
            self.width,
            self.height,
            self.pixels,
            fir::PixelType::U8x3,
        )
        .map_err(broken)?;
        let mut dst = fir::images::Image::new(width, height, fir::PixelType::U8x3);
        let options = fir::ResizeOptions::new()
            .resize_alg(fir::ResizeAlg::Convolution(fir::FilterType::Lanczos3));
        fir::Resizer::new()
            .resize(&src, &mut dst, &options)
            .map_err(broken)?;
        Ok(Rgb {
            pixels: dst.into_vec(),
            width,
            height,
        })
    }
}

fn decode(src: &[u8]) -> Result<Rgb, VariantError> {
    match sniff(src)? {
        Kind::Jpeg => decode_jpeg(src),
        Kind::Png => decode_png(src),
        Kind::Webp => decode_webp(src),
    }
}

/// A zune-jpeg decoder reading from memory.
type Jpeg<'a> = JpegDecoder<ZCursor<&'a [u8]>>;

/// A JPEG decoder that has read the headers (up to the first scan, no
/// pixel data) and accepted the size.
fn jpeg_header(src: &[u8]) -> Result<(Jpeg<'_>, Size), VariantError> {
    // zune's own size limit (16384 a side by default) would refuse some
    // pictures under MAX_PIXELS and answer first; ours is the one that counts.
    let options = DecoderOptions::default()
        .jpeg_set_out_colorspace(ColorSpace::RGB)
        .set_max_width(usize::from(u16::MAX))
        .set_max_height(usize::from(u16::MAX));
    let mut decoder = JpegDecoder::new_with_options(ZCursor::new(src), options);
    decoder.decode_headers().map_err(broken)?;
    let (w, h) = decoder
        .dimensions()
        .ok_or_else(|| broken("no JPEG frame header"))?;
    let size = checked(
        u32::try_from(w).map_err(broken)?,
        u32::try_from(h).map_err(broken)?,
    )?;
    refuse_split_sequential_scans(src)?;
    Ok((decoder, size))
}

/// zune-jpeg 0.5.15 decodes a sequential (non-progressive) JPEG whose
/// chroma is subsampled and whose components come in separate scans into
/// wrong colours, without an error (fixed in 0.5.16, a pre-release as of
/// this writing). Such files are rare (cameras, libjpeg and CDNs write one
/// interleaved scan; jpeg-encoder's optimised-Huffman mode writes them), so
/// they are refused rather than served with wrong colours. Reads the
/// markers up to the first scan header; anything it cannot follow is left
/// to the decoder to judge.
fn refuse_split_sequential_scans(src: &[u8]) -> Result<(), VariantError> {
    // (components, subsampled) of a sequential frame.
    let mut sequential: Option<(u8, bool)> = None;
    let mut i = 2;
    while let Some(&[0xFF, marker]) = src.get(i..i + 2) {
        if marker == 0xFF {
            i += 1; // fill byte
            continue;
        }
        if marker == 0x01 || (0xD0..=0xD8).contains(&marker) {
            i += 2; // no payload
            continue;
        }
        let Some(&[hi, lo]) = src.get(i + 2..i + 4) else {
            return Ok(());
        };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        let Some(segment) = src.get(i + 4..i + 2 + len.max(2)) else {
            return Ok(());
        };
        match marker {
            // Baseline or extended sequential, Huffman-coded: P, Y, X, Nf,
            // then (id, HV sampling, table) per component.
            0xC0 | 0xC1 => {
                let components = segment.get(5).copied().unwrap_or(0);
                let samplings: Vec<u8> = segment
                    .get(6..)
                    .unwrap_or_default()
                    .chunks_exact(3)
                    .map(|c| c[1])
                    .collect();
                let subsampled = samplings.windows(2).any(|w| w[0] != w[1]);
                sequential = Some((components, subsampled));
            }
            // Start of scan: Ns first.
            0xDA => {
                let scan_components = segment.first().copied().unwrap_or(0);
                return match sequential {
                    Some((components, true)) if scan_components < components => Err(broken(
                        "sequential JPEG with subsampled chroma in separate scans",
                    )),
                    _ => Ok(()),
                };
            }
            _ => {}
        }
        i += 2 + len;
    }
    Ok(())
}

fn decode_jpeg(src: &[u8]) -> Result<Rgb, VariantError> {
    let (mut decoder, (width, height)) = jpeg_header(src)?;
    // Whatever the colour space inside (grey, YCbCr, CMYK…), RGB out.
    let len = decoder
        .output_buffer_size()
        .ok_or_else(|| broken("no JPEG output size"))?;
    if len != width as usize * height as usize * 3 {
        return Err(broken("unexpected JPEG output size"));
    }
    let mut pixels = vec![0; len];
    decoder.decode_into(&mut pixels).map_err(broken)?;
    Ok(Rgb {
        pixels,
        width,
        height,
    })
}

/// A png decoder reading from memory.
type Png<'a> = png::Decoder<Cursor<&'a [u8]>>;

/// A PNG decoder that has read the IHDR chunk and accepted the size.
fn png_header(src: &[u8]) -> Result<(Png<'_>, Size), VariantError> {
    let mut decoder = png::Decoder::new(Cursor::new(src));
    let info = decoder.read_header_info().map_err(broken)?;
    let size = checked(info.width, info.height)?;
    Ok((decoder, size))
}

fn decode_png(src: &[u8]) -> Result<Rgb, VariantError> {
    let (mut decoder, (width, height)) = png_header(src)?;
    // Palette, low bit depths and tRNS expanded; 16-bit stripped to 8.
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(broken)?;
    let len = reader
        .output_buffer_size()
        .ok_or_else(|| broken("PNG too large for this platform"))?;
    let mut buf = vec![0; len];
    let frame = reader.next_frame(&mut buf).map_err(broken)?;
    if (frame.width, frame.height) != (width, height) {
        return Err(broken("PNG frame size differs from its header"));
    }
    buf.truncate(frame.buffer_size());
    let pixels = match frame.color_type {
        png::ColorType::Rgb => buf,
        png::ColorType::Rgba => flatten(&buf, 4),
        png::ColorType::Grayscale => flatten(&buf, 1),
        png::ColorType::GrayscaleAlpha => flatten(&buf, 2),
        png::ColorType::Indexed => return Err(broken("PNG palette not expanded")),
    };
    Ok(Rgb {
        pixels,
        width,
        height,
    })
}

/// Grey, grey+alpha or RGBA samples to RGB, alpha composited onto white.
fn flatten(samples: &[u8], channels: usize) -> Vec<u8> {
    fn over_white(c: u8, a: u8) -> u8 {
        let (c, a) = (u32::from(c), u32::from(a));
        // c·a + 255·(255 − a), over 255, rounded: at most 255.
        u8::try_from((c * a + 255 * (255 - a) + 127) / 255).unwrap_or(u8::MAX)
    }
    let mut out = Vec::with_capacity(samples.len() / channels * 3);
    for px in samples.chunks_exact(channels) {
        match *px {
            [g] => out.extend_from_slice(&[g, g, g]),
            [g, a] => out.extend_from_slice(&[over_white(g, a); 3]),
            [r, g, b, a] => {
                out.extend_from_slice(&[over_white(r, a), over_white(g, a), over_white(b, a)]);
            }
            _ => out.extend_from_slice(&px[..3]),
        }
    }
    out
}

/// The WebP header's features (libwebp reads the first chunks only), with
/// the size accepted.
fn webp_header(src: &[u8]) -> Result<(webp::BitstreamFeatures, Size), VariantError> {
    let features =
        webp::BitstreamFeatures::new(src).ok_or_else(|| broken("unreadable WebP header"))?;
    let size = checked(features.width(), features.height())?;
    if features.has_animation() {
        return Err(VariantError::Unsupported);
    }
    Ok((features, size))
}

fn decode_webp(src: &[u8]) -> Result<Rgb, VariantError> {
    let (features, (width, height)) = webp_header(src)?;
    let image = webp::Decoder::new(src)
        .decode()
        .ok_or_else(|| broken("undecodable WebP"))?;
    if (image.width(), image.height()) != (width, height) {
        return Err(broken("WebP size differs from its header"));
    }
    let pixels = if features.has_alpha() {
        flatten(&image, 4)
    } else {
        image.to_vec()
    };
    if pixels.len() != width as usize * height as usize * 3 {
        return Err(broken("unexpected WebP output size"));
    }
    Ok(Rgb {
        pixels,
        width,
        height,
    })
}

fn encode_webp(image: &Rgb) -> Result<Bytes, VariantError> {
    let mut config = webp::WebPConfig::new().map_err(|()| broken("libwebp config"))?;
    config.quality = WEBP_QUALITY;
    config.method = WEBP_METHOD;
    let encoded = webp::Encoder::from_rgb(&image.pixels, image.width, image.height)
        .encode_advanced(&config)
        .map_err(|e| broken(format!("WebP encoding failed: {e:?}")))?;
    Ok(Bytes::copy_from_slice(&encoded))
}

fn encode_jpeg(image: &Rgb) -> Result<Bytes, VariantError> {
    let (w, h) = (
        u16::try_from(image.width).map_err(broken)?,
        u16::try_from(image.height).map_err(broken)?,
    );
    let mut out = Vec::with_capacity(image.pixels.len() / 8);
    // Standard Huffman tables: jpeg-encoder's optimised ones come with one
    // scan per component, a layout some decoders get wrong (see
    // `refuse_split_sequential_scans`).
    jpeg_encoder::Encoder::new(&mut out, JPEG_QUALITY)
        .encode(&image.pixels, w, h, jpeg_encoder::ColorType::Rgb)
        .map_err(broken)?;
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A smooth RGB test picture (a photo-like gradient with some texture).
    fn picture(width: u32, height: u32) -> Vec<u8> {
        let mut px = Vec::with_capacity(width as usize * height as usize * 3);
        for y in 0..height {
            for x in 0..width {
                let r = (x * 255 / width.max(1)) as u8;
                let g = (y * 255 / height.max(1)) as u8;
                let b = ((x ^ y) & 0x3f) as u8 + 96;
                px.extend_from_slice(&[r, g, b]);
            }
        }
        px
    }

    fn solid(width: u32, height: u32, rgb: [u8; 3]) -> Vec<u8> {
        rgb.repeat(width as usize * height as usize)
    }

    fn jpeg(width: u32, height: u32, pixels: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        jpeg_encoder::Encoder::new(&mut out, 90)
            .encode(
                pixels,
                width as u16,
                height as u16,
                jpeg_encoder::ColorType::Rgb,
            )
            .unwrap();
        out
    }

    fn png(width: u32, height: u32, color: png::ColorType, samples: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(color);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(samples).unwrap();
        writer.finish().unwrap();
        out
    }

    fn webp_lossy(width: u32, height: u32, pixels: &[u8]) -> Vec<u8> {
        webp::Encoder::from_rgb(pixels, width, height)
            .encode(90.0)
            .to_vec()
    }

    fn be16(b: &[u8]) -> u32 {
        u32::from(b[0]) << 8 | u32::from(b[1])
    }

    /// The size in a JPEG's SOF0/SOF2 header, read without the decoder.
    fn jpeg_sof(bytes: &[u8]) -> (u32, u32) {
        assert_eq!(&bytes[..2], &[0xFF, 0xD8], "no SOI");
        let mut i = 2;
        loop {
            assert_eq!(bytes[i], 0xFF, "marker expected at {i}");
            let marker = bytes[i + 1];
            if matches!(marker, 0xC0..=0xC2) {
                return (be16(&bytes[i + 7..]), be16(&bytes[i + 5..]));
            }
            i += 2 + be16(&bytes[i + 2..]) as usize;
        }
    }

    /// Where a JPEG's SOF0 marker is.
    fn sof0_at(bytes: &[u8]) -> usize {
        bytes
            .windows(2)
            .position(|w| w == [0xFF, 0xC0])
            .expect("SOF0")
    }

    /// The size in a lossy WebP's VP8 frame header, read without libwebp.
    fn webp_vp8(bytes: &[u8]) -> (u32, u32) {
        assert_eq!(&bytes[..4], b"RIFF");
        assert_eq!(&bytes[8..12], b"WEBP");
        assert_eq!(&bytes[12..16], b"VP8 ", "a simple lossy WebP");
        // Chunk header (8), frame tag (3), start code (3), then the sizes.
        assert_eq!(&bytes[23..26], &[0x9d, 0x01, 0x2a]);
        let le14 = |b: &[u8]| (u32::from(b[0]) | u32::from(b[1]) << 8) & 0x3fff;
        (le14(&bytes[26..]), le14(&bytes[28..]))
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &byte in data {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    fn close(a: [u8; 3], b: [u8; 3], tolerance: u8) -> bool {
        a.iter().zip(b).all(|(&x, y)| x.abs_diff(y) <= tolerance)
    }

    #[test]
    fn widths_parse_exactly() {
        assert_eq!(Width::parse("320"), Some(Width::W320));
        assert_eq!(Width::parse("640"), Some(Width::W640));
        assert_eq!(Width::parse("1080"), Some(Width::W1080));
        for bad in [
            "", "0", "321", "0320", " 320", "320px", "+640", "1080.0", "2160",
        ] {
            assert_eq!(Width::parse(bad), None, "{bad:?}");
        }
        let px: Vec<u32> = Width::ALL.iter().map(|w| w.px()).collect();
        assert_eq!(px, [320, 640, 1080]);
        for w in Width::ALL {
            assert_eq!(Width::parse(w.as_str()), Some(w));
        }
    }

    #[test]
    fn format_follows_accept() {
        let webp = [
            "image/webp",
            "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
            "IMAGE/WEBP;Q=0.5",
            "image/png, image/webp ; q=0.001",
            "image/webp;foo=bar",
        ];
        for accept in webp {
            assert_eq!(Format::from_accept(Some(accept)), Format::Webp, "{accept}");
        }
        let jpeg = [
            "",
            "*/*",
            "image/*",
            "image/png,image/*;q=0.8,*/*;q=0.5",
            "image/webp;q=0",
            "image/webp; q=0.000",
            "image/webp;q=nope",
            "image/webpx",
            "text/html,image/jpeg",
        ];
        for accept in jpeg {
            assert_eq!(Format::from_accept(Some(accept)), Format::Jpeg, "{accept}");
        }
        assert_eq!(Format::from_accept(None), Format::Jpeg);
        assert_eq!(Format::Webp.content_type(), "image/webp");
        assert_eq!(Format::Jpeg.content_type(), "image/jpeg");
    }

    #[test]
    fn fit_keeps_aspect_and_never_upscales() {
        assert_eq!(fit(1080, 1350, 320), (320, 400));
        assert_eq!(fit(1080, 1350, 640), (640, 800));
        assert_eq!(fit(1080, 1350, 1080), (1080, 1350));
        assert_eq!(fit(1440, 1800, 1080), (1080, 1350));
        assert_eq!(fit(1000, 333, 320), (320, 107));
        assert_eq!(fit(200, 150, 320), (200, 150));
        assert_eq!(fit(10_000, 1, 320), (320, 1));
    }

    #[test]
    fn each_width_and_format_has_the_exact_size() {
        let src = jpeg(1080, 1350, &picture(1080, 1350));
        assert_eq!(dimensions(&src).unwrap(), (1080, 1350));
        let expected = [(320, 400), (640, 800), (1080, 1350)];
        for (width, (w, h)) in Width::ALL.into_iter().zip(expected) {
            let v = make(&src, width, Format::Webp).unwrap();
            assert_eq!((v.width, v.height, v.format), (w, h, Format::Webp));
            assert_eq!(&v.bytes[..4], b"RIFF");
            assert_eq!(&v.bytes[8..12], b"WEBP");
            assert_eq!(webp_vp8(&v.bytes), (w, h), "{width:?} webp");

            let v = make(&src, width, Format::Jpeg).unwrap();
            assert_eq!((v.width, v.height, v.format), (w, h, Format::Jpeg));
            assert_eq!(&v.bytes[..2], &[0xFF, 0xD8]);
            assert_eq!(jpeg_sof(&v.bytes), (w, h), "{width:?} jpeg");
        }
    }

    #[test]
    fn outputs_decode_to_the_same_picture() {
        let pixels = picture(640, 480);
        let src = jpeg(640, 480, &pixels);
        let before = probe(&src).unwrap();
        for format in [Format::Webp, Format::Jpeg] {
            let v = make(&src, Width::W320, format).unwrap();
            let after = probe(&v.bytes).unwrap();
            assert_eq!((after.width, after.height), (320, 240), "{format:?}");
            assert!(
                close(after.dominant_color, before.dominant_color, 3),
                "{format:?}: {} vs {}",
                after.hex(),
                before.hex()
            );
        }
    }

    #[test]
    fn odd_aspect_ratios_are_kept() {
        let src = jpeg(1000, 333, &picture(1000, 333));
        let v = make(&src, Width::W320, Format::Jpeg).unwrap();
        assert_eq!(jpeg_sof(&v.bytes), (320, 107));
        let v = make(&src, Width::W640, Format::Webp).unwrap();
        assert_eq!(webp_vp8(&v.bytes), (640, 213));
    }

    #[test]
    fn a_narrow_source_is_not_upscaled() {
        let src = jpeg(200, 150, &picture(200, 150));
        for width in Width::ALL {
            let v = make(&src, width, Format::Webp).unwrap();
            assert_eq!(webp_vp8(&v.bytes), (200, 150), "{width:?}");
            let v = make(&src, width, Format::Jpeg).unwrap();
            assert_eq!(jpeg_sof(&v.bytes), (200, 150), "{width:?}");
            assert_eq!((v.width, v.height), (200, 150));
        }
    }

    #[test]
    fn a_jpeg_bomb_is_refused_from_its_header() {
        let mut bomb = jpeg(8, 8, &solid(8, 8, [200, 10, 10]));
        let sof = sof0_at(&bomb);
        // FF C0, length (2), precision (1), height (2), width (2).
        bomb[sof + 5..sof + 9].copy_from_slice(&[0x4E, 0x20, 0x4E, 0x20]);
        assert!(bomb.len() < 1024, "{} bytes", bomb.len());
        assert_eq!(jpeg_sof(&bomb), (20_000, 20_000));

        let too_large = |r: Result<(), VariantError>| {
            matches!(
                r,
                Err(VariantError::TooLarge {
                    width: 20_000,
                    height: 20_000
                })
            )
        };
        assert!(too_large(dimensions(&bomb).map(drop)));
        assert!(too_large(probe(&bomb).map(drop)));
        for width in Width::ALL {
            for format in [Format::Webp, Format::Jpeg] {
                assert!(too_large(make(&bomb, width, format).map(drop)));
            }
        }
        // 7000×7000 = 49 Mpx is allowed: only the header is read here.
        bomb[sof + 5..sof + 9].copy_from_slice(&[0x1B, 0x58, 0x1B, 0x58]);
        assert_eq!(dimensions(&bomb).unwrap(), (7000, 7000));
        // 7072×7072 is just over.
        bomb[sof + 5..sof + 9].copy_from_slice(&[0x1B, 0xA0, 0x1B, 0xA0]);
        assert!(matches!(
            dimensions(&bomb),
            Err(VariantError::TooLarge { .. })
        ));
    }

    #[test]
    fn a_png_bomb_is_refused_from_its_header() {
        let mut bomb = png(8, 8, png::ColorType::Rgb, &solid(8, 8, [1, 2, 3]));
        // IHDR: length (8..12), type (12..16), width, height, …, CRC (29..33).
        assert_eq!(&bomb[12..16], b"IHDR");
        bomb[16..24].copy_from_slice(&[0, 0, 0x4E, 0x20, 0, 0, 0x4E, 0x20]);
        let crc = crc32(&bomb[12..29]);
        bomb[29..33].copy_from_slice(&crc.to_be_bytes());
        for r in [
            dimensions(&bomb).map(drop),
            probe(&bomb).map(drop),
            make(&bomb, Width::W320, Format::Webp).map(drop),
        ] {
            assert!(
                matches!(
                    r,
                    Err(VariantError::TooLarge {
                        width: 20_000,
                        height: 20_000
                    })
                ),
                "{r:?}"
            );
        }
    }

    #[test]
    fn an_output_too_tall_for_webp_is_refused() {
        let src = jpeg(1, 20_000, &solid(1, 20_000, [9, 9, 9]));
        assert!(matches!(
            make(&src, Width::W320, Format::Webp),
            Err(VariantError::TooLarge {
                width: 1,
                height: 20_000
            })
        ));
        let v = make(&src, Width::W320, Format::Jpeg).unwrap();
        assert_eq!((v.width, v.height), (1, 20_000));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut noise = Vec::with_capacity(4096);
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..4096 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            noise.push(x as u8);
        }
        for src in [&b""[..], b"hello", b"GIF89a", b"<svg/>", &noise] {
            assert!(matches!(dimensions(src), Err(VariantError::Unsupported)));
            assert!(matches!(probe(src), Err(VariantError::Unsupported)));
            assert!(matches!(
                make(src, Width::W320, Format::Webp),
                Err(VariantError::Unsupported)
            ));
        }
        // The right magic bytes in front of noise.
        for magic in [
            &b"\xFF\xD8\xFF"[..],
            b"\x89PNG\r\n\x1a\n",
            b"RIFF\0\0\0\0WEBP",
        ] {
            let src = [magic, &noise].concat();
            assert!(matches!(dimensions(&src), Err(VariantError::Broken(_))));
            assert!(matches!(probe(&src), Err(VariantError::Broken(_))));
            assert!(matches!(
                make(&src, Width::W320, Format::Jpeg),
                Err(VariantError::Broken(_))
            ));
        }
    }

    #[test]
    fn truncated_or_corrupt_pictures_do_not_panic() {
        let pixels = picture(48, 40);
        let sources = [
            jpeg(48, 40, &pixels),
            png(48, 40, png::ColorType::Rgb, &pixels),
            webp_lossy(48, 40, &pixels),
        ];
        for src in &sources {
            for len in (0..src.len()).step_by(7) {
                let _ = probe(&src[..len]);
                let _ = make(&src[..len], Width::W320, Format::Jpeg);
            }
            for at in (0..src.len()).step_by(11) {
                let mut bad = src.clone();
                bad[at] ^= 0x5A;
                let _ = probe(&bad);
                let _ = make(&bad, Width::W320, Format::Webp);
            }
        }
    }

    #[test]
    fn split_sequential_scans_are_refused_only_when_subsampled() {
        // jpeg-encoder's optimised Huffman mode writes one scan per
        // component; below quality 90 it subsamples chroma (4:2:0).
        let pixels = picture(64, 48);
        let split = |quality| {
            let mut out = Vec::new();
            let mut encoder = jpeg_encoder::Encoder::new(&mut out, quality);
            encoder.set_optimized_huffman_tables(true);
            encoder
                .encode(&pixels, 64, 48, jpeg_encoder::ColorType::Rgb)
                .unwrap();
            out
        };
        let subsampled = split(80);
        assert!(matches!(
            dimensions(&subsampled),
            Err(VariantError::Broken(_))
        ));
        assert!(matches!(probe(&subsampled), Err(VariantError::Broken(_))));
        let full = split(95);
        let expected = probe(&jpeg(64, 48, &pixels)).unwrap();
        let info = probe(&full).unwrap();
        assert_eq!((info.width, info.height), (64, 48));
        assert!(close(info.dominant_color, expected.dominant_color, 2));
    }

    #[test]
    fn progressive_and_grey_jpegs_work() {
        let pixels = picture(400, 300);
        let expected = probe(&jpeg(400, 300, &pixels)).unwrap();
        let mut progressive = Vec::new();
        let mut encoder = jpeg_encoder::Encoder::new(&mut progressive, 80);
        encoder.set_progressive(true);
        encoder
            .encode(&pixels, 400, 300, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        let info = probe(&progressive).unwrap();
        assert!(
            close(info.dominant_color, expected.dominant_color, 2),
            "{} vs {}",
            info.hex(),
            expected.hex()
        );
        let v = make(&progressive, Width::W320, Format::Webp).unwrap();
        assert_eq!(webp_vp8(&v.bytes), (320, 240));

        let mut grey = Vec::new();
        jpeg_encoder::Encoder::new(&mut grey, 90)
            .encode(&[0x55; 64 * 32], 64, 32, jpeg_encoder::ColorType::Luma)
            .unwrap();
        let info = probe(&grey).unwrap();
        assert!(close(info.dominant_color, [0x55; 3], 1), "{}", info.hex());
        let v = make(&grey, Width::W320, Format::Jpeg).unwrap();
        assert_eq!(jpeg_sof(&v.bytes), (64, 32));
    }

    #[test]
    fn the_dominant_colour_of_a_solid_picture() {
        let src = jpeg(120, 90, &solid(120, 90, [0x33, 0x66, 0x99]));
        let info = probe(&src).unwrap();
        assert_eq!((info.width, info.height), (120, 90));
        assert!(
            close(info.dominant_color, [0x33, 0x66, 0x99], 2),
            "{}",
            info.hex()
        );

        let src = png(
            30,
            20,
            png::ColorType::Rgb,
            &solid(30, 20, [0x33, 0x66, 0x99]),
        );
        assert_eq!(probe(&src).unwrap().hex(), "#336699");
    }

    #[test]
    fn the_dominant_colour_is_the_mean() {
        // Left half black, right half white: mid grey.
        let mut pixels = Vec::new();
        for _ in 0..10 {
            pixels.extend(solid(10, 1, [0, 0, 0]));
            pixels.extend(solid(10, 1, [255, 255, 255]));
        }
        let src = png(20, 10, png::ColorType::Rgb, &pixels);
        assert_eq!(probe(&src).unwrap().hex(), "#808080");
    }

    #[test]
    fn png_sources_work() {
        let pixels = picture(640, 480);
        let src = png(640, 480, png::ColorType::Rgb, &pixels);
        assert_eq!(dimensions(&src).unwrap(), (640, 480));
        let v = make(&src, Width::W320, Format::Webp).unwrap();
        assert_eq!(webp_vp8(&v.bytes), (320, 240));
        let v = make(&src, Width::W1080, Format::Jpeg).unwrap();
        assert_eq!(jpeg_sof(&v.bytes), (640, 480));

        // Transparent pixels are flattened onto white; grey expands to RGB.
        let clear = png(4, 4, png::ColorType::Rgba, &[0; 64]);
        assert_eq!(probe(&clear).unwrap().hex(), "#ffffff");
        let half = png(4, 4, png::ColorType::GrayscaleAlpha, &[0, 128].repeat(16));
        assert_eq!(probe(&half).unwrap().hex(), "#7f7f7f");
        let grey = png(4, 4, png::ColorType::Grayscale, &[0x44; 16]);
        assert_eq!(probe(&grey).unwrap().hex(), "#444444");
        let v = make(&grey, Width::W320, Format::Jpeg).unwrap();
        assert_eq!(jpeg_sof(&v.bytes), (4, 4));
    }

    #[test]
    fn webp_sources_work() {
        let src = webp_lossy(800, 600, &picture(800, 600));
        assert_eq!(dimensions(&src).unwrap(), (800, 600));
        let v = make(&src, Width::W320, Format::Jpeg).unwrap();
        assert_eq!(jpeg_sof(&v.bytes), (320, 240));
        let v = make(&src, Width::W640, Format::Webp).unwrap();
        assert_eq!(webp_vp8(&v.bytes), (640, 480));

        let solid_webp = webp_lossy(64, 64, &solid(64, 64, [0x33, 0x66, 0x99]));
        let info = probe(&solid_webp).unwrap();
        assert!(
            close(info.dominant_color, [0x33, 0x66, 0x99], 3),
            "{}",
            info.hex()
        );
    }
}
