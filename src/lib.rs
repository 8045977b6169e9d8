//! igfeed: a self-hosted Instagram feed service.
//!
//! # Layout
//! - [`config`]: every setting, as clap flags with `IGFEED_*` variables.
//! - [`app`]: the shared state, start-up and graceful shutdown.
//! - [`routes`]: the one route table (and OpenAPI document); a file per resource.
//! - [`graph`]: the typed Instagram Graph API client and its wire types.
//! - [`feed`]: the cached feed, its last good copy on disk, and rendering.
//! - [`media`]: the media proxy and its byte-bounded cache.
//! - [`token`]: the access token: durable store, status, background refresher.
//! - [`alerts`]: webhook alerts when only a person can help.
//! - `demo` (with the `demo` feature, on by default): `--demo`, the service
//!   against an embedded sample account served by the fake Instagram of the
//!   `igfeed-fake` crate (`crates/igfeed-fake`), which the integration tests
//!   use too.
//! - [`error`], [`http`]: problem+json errors and HTTP helpers.
//! - [`fsutil`]: atomic, durable file writes.
//! - [`metrics`]: Prometheus metrics.
//! - [`middleware`]: the HTTP stack around every route, in one pass.
//! - [`front`]: cached media answered before the router.
//! - [`server`]: the HTTP server loop (header timeout, limits, drain).
//! - [`telemetry`]: tracing set-up.
//! - [`zerocopy`]: large cached media sent with `sendfile`.

pub mod alerts;
pub mod app;
pub mod config;
#[cfg(feature = "demo")]
pub mod demo;
pub mod error;
pub mod feed;
pub mod front;
pub mod fsutil;
pub mod graph;
pub mod healthcheck;
pub mod http;
pub mod media;
pub mod metrics;
pub mod middleware;
pub mod routes;
pub mod server;
pub mod telemetry;
pub mod token;
pub mod zerocopy;

/// A number no other instance in this process gets: per-thread memos
/// (feed, media index, metric handles) use it to tell whose they are.
pub(crate) fn instance_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}
