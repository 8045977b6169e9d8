//! Tracing set-up: text or JSON lines on stdout, filtered by `RUST_LOG`
//! (default `info`). Lines go through a non-blocking writer: a request
//! hands its INFO line to a background thread instead of waiting on
//! stdout, so logging at the default level costs the request little.

use std::io::IsTerminal;

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Lines held for the writer thread; past this a burst waits for it
/// rather than dropping lines.
const BUFFERED_LINES: usize = 64 * 1024;

/// Installs the global subscriber. Call once, from `main`, and keep the
/// guard until exit: dropping it flushes the lines still buffered.
pub fn init(format: LogFormat) -> WorkerGuard {
    let (writer, guard) = NonBlockingBuilder::default()
        .buffered_lines_limit(BUFFERED_LINES)
        .lossy(false)
        .finish(std::io::stdout());
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person at a terminal, not in files and collectors.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal())
        .with_writer(writer);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    guard
}
