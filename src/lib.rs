//! igfeed: a self-hosted Instagram feed service.
//!
//! # Layout
//! - [`config`]: every setting, as clap flags with `IGFEED_*` variables.
//! - [`app`]: start-up and graceful shutdown: the state, the listener,
//!   the background tasks.
//! - [`state`]: the state every handler shares.
//! - [`routes`]: the one route table (and OpenAPI document); a file per resource.
//! - [`graph`]: the typed Instagram Graph API client and its wire types.
//! - [`feed`]: the cached feed, its last good copy on disk, and rendering.
//! - [`media`]: the media proxy and its byte-bounded cache.
//! - [`accounts`]: the accounts (name, token, feed state) and their directories.
//! - [`store`]: where they are kept: the storage traits (account set, a
//!   token's compare-and-swap, a last good feed) and the data dir's
//!   implementation.
//! - [`replicas`]: the same in Redis (`IGFEED_REDIS_URL`), with refresh
//!   leases, shared feeds and walk locks, and the task that follows the
//!   other replicas.
//! - [`admin_ui`]: the admin web page's sessions, pending Instagram
//!   authorizations, login limits and HTML (its handlers are in `routes`).
//! - [`token`]: an access token: durable store, status; the one background refresher.
//! - [`alerts`]: webhook alerts when only a person can help.
//! - [`webhooks`]: signed webhook delivery, and the `feed.updated` event.
//! - `demo` (with the `demo` feature, on by default): `--demo`, the service
//!   against an embedded sample account served by the fake Instagram of the
//!   `igfeed-fake` crate (`crates/igfeed-fake`), which the integration tests
//!   use too.
//! - [`error`], [`http`]: problem+json errors and HTTP helpers.
//! - [`fsutil`]: atomic, durable file writes.
//! - [`metrics`]: Prometheus metrics.
//! - [`process`]: process limits set at start-up (open files, no core dumps).
//! - [`middleware`]: the tower-http stack around every route.
//! - [`server`]: the HTTP server loop (client limits, drain).
//! - [`telemetry`]: tracing set-up.

pub mod accounts;
pub mod admin_ui;
pub mod alerts;
pub mod app;
pub mod config;
#[cfg(feature = "demo")]
pub mod demo;
pub mod error;
pub mod feed;
pub mod fsutil;
pub mod graph;
pub mod healthcheck;
pub mod http;
pub mod media;
pub mod metrics;
pub mod middleware;
pub mod process;
pub mod replicas;
pub mod routes;
pub mod server;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod token;
pub mod webhooks;
