//! Times `igfeed::media::variant::make` on one picture, for
//! `bench/variants.sh`.
//!
//! Usage: `cargo run --release --example variant_bench -- FILE ITER
//! [--width 320|640|1080] [--format webp|jpeg] [--out PATH]`
//!
//! Prints one line of `key=value` pairs: the first call's time (a fresh
//! process, as a first request is), the median and minimum of ITER calls in
//! milliseconds, the median of ITER `probe` calls, and the output's size
//! and bytes. `--out` writes the output.

use std::error::Error;
use std::time::Instant;

use igfeed::media::variant::{self, Format, Width};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let usage =
        "usage: variant_bench FILE ITER [--width 320|640|1080] [--format webp|jpeg] [--out PATH]";
    let file = args.next().ok_or(usage)?;
    let iterations: usize = args.next().ok_or(usage)?.parse()?;
    let (mut width, mut format, mut out) = (Width::W320, Format::Webp, None);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(usage)?;
        match flag.as_str() {
            "--width" => width = Width::parse(&value).ok_or("--width: 320, 640 or 1080")?,
            "--format" => {
                format = match value.as_str() {
                    "webp" => Format::Webp,
                    "jpeg" => Format::Jpeg,
                    _ => return Err("--format: webp or jpeg".into()),
                }
            }
            "--out" => out = Some(value),
            _ => return Err(usage.into()),
        }
    }
    let src = std::fs::read(&file)?;

    let start = Instant::now();
    let first = variant::make(&src, width, format)?;
    let first_ms = start.elapsed().as_secs_f64() * 1e3;
    let mut times = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let start = Instant::now();
        let v = variant::make(&src, width, format)?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
        std::hint::black_box(v);
    }
    times.sort_by(f64::total_cmp);
    let median = times.get(times.len() / 2).copied().unwrap_or(first_ms);
    let min = times.first().copied().unwrap_or(first_ms);

    // probe(): what the feed shows (size, average colour).
    let mut probes = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let start = Instant::now();
        std::hint::black_box(variant::probe(&src)?);
        probes.push(start.elapsed().as_secs_f64() * 1e3);
    }
    probes.sort_by(f64::total_cmp);
    let probe = probes.get(probes.len() / 2).copied().unwrap_or(f64::NAN);

    if let Some(path) = out {
        std::fs::write(path, &first.bytes)?;
    }
    println!(
        "first_ms={first_ms:.2} median_ms={median:.2} min_ms={min:.2} probe_ms={probe:.2} iterations={iterations} width={} height={} bytes={} src_bytes={}",
        first.width,
        first.height,
        first.bytes.len(),
        src.len()
    );
    Ok(())
}
