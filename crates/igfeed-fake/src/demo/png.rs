//! Generated demo images: colourful PNG tiles with the post's number,
//! encoded with flate2 (zlib) and its CRC-32.

use std::io::Write;

/// Side of a demo image in pixels.
pub const SIZE: usize = 320;

/// 5×7 bitmaps of the digits 0–9, one row per byte (low 5 bits).
const DIGITS: [[u8; 7]; 10] = [
    [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
    [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
    [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
    [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
    [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
    [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
    [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
    [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
    [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
    [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
];

fn hue(h: f32) -> [f32; 3] {
    let h = (h.rem_euclid(1.0)) * 6.0;
    let x = 1.0 - ((h % 2.0) - 1.0).abs();
    match h as u32 {
        0 => [1.0, x, 0.0],
        1 => [x, 1.0, 0.0],
        2 => [0.0, 1.0, x],
        3 => [0.0, x, 1.0],
        4 => [x, 0.0, 1.0],
        _ => [1.0, 0.0, x],
    }
}

/// A `SIZE`×`SIZE` PNG: a diagonal gradient chosen by `seed` with `label`
/// written large in the middle.
pub fn tile(seed: usize, label: usize) -> Vec<u8> {
    let a = hue(seed as f32 * 0.618_034);
    let b = hue(seed as f32 * 0.618_034 + 0.33);
    let text = label.to_string();
    let scale = 12;
    let text_w = text.len() * 6 * scale - scale;
    let (x0, y0) = ((SIZE - text_w) / 2, (SIZE - 7 * scale) / 2);
    let mut raw = Vec::with_capacity(SIZE * (SIZE * 3 + 1));
    for y in 0..SIZE {
        raw.push(0); // filter: none
        for x in 0..SIZE {
            let t = (x + y) as f32 / (2 * SIZE) as f32;
            let mut px = [0u8; 3];
            for (c, p) in px.iter_mut().enumerate() {
                *p = ((a[c] * (1.0 - t) + b[c] * t) * 200.0 + 30.0) as u8;
            }
            // The number, in white.
            if x >= x0 && y >= y0 && y < y0 + 7 * scale && x < x0 + text_w {
                let (cx, cy) = ((x - x0) / scale, (y - y0) / scale);
                let (digit, col) = (cx / 6, cx % 6);
                if col < 5 {
                    let d = (text.as_bytes()[digit] - b'0') as usize;
                    if DIGITS[d][cy] & (0x10 >> col) != 0 {
                        px = [255, 255, 255];
                    }
                }
            }
            raw.extend_from_slice(&px);
        }
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&raw).expect("writing to a Vec");
    let idat = z.finish().expect("writing to a Vec");

    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&(SIZE as u32).to_be_bytes());
    ihdr.extend_from_slice(&(SIZE as u32).to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &idat);
    chunk(&mut out, b"IEND", &[]);
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_are_pngs() {
        let png = tile(3, 42);
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert_eq!(&png[12..16], b"IHDR");
        assert!(png.ends_with(&[0xAE, 0x42, 0x60, 0x82]), "IEND CRC");
        assert_ne!(tile(4, 42), png);
    }
}
