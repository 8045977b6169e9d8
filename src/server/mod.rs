//! The HTTP server: the router on hyper, with the limits that keep slow or
//! hostile clients from tying the service up, and a bounded graceful drain.
//!
//! `axum::serve` would do, but it cannot set hyper's header read timeout
//! nor a header size cap, and it neither caps connections nor closes one
//! that never sends a byte or on which nothing moves ([`idle`]): a few
//! hundred such sockets would exhaust the descriptors and stop all service
//! (`tests/api/slow_clients.rs` shows each limit). Hence this small accept
//! loop on hyper-util's builder.

mod idle;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// The limits the server enforces.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// A client has this long to send its first byte and each request's
    /// headers (slowloris guard).
    pub header_read_timeout: Duration,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// A connection on which no byte moves either way for this long is
    /// closed (an unused keep-alive, an HTTP/2 connection without streams,
    /// a client that stopped reading).
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: HEADER_READ_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
            idle_timeout: IDLE_TIMEOUT,
        }
    }
}

/// See [`Limits::header_read_timeout`].
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// See [`Limits::idle_timeout`].
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// See [`Limits::max_connections`].
pub const MAX_CONNECTIONS: usize = 8192;
/// The most header bytes one request may send (then 431).
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// How long open requests may take to finish after a shutdown signal.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

/// Serves `router` on `listener` until `shutdown`, then drains.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(MAX_HEADER_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEADER_BYTES as u32);
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => tokio::select! {
                    accepted = listener.accept() => Some((accepted, permit)),
                    () = &mut shutdown => None,
                },
                Err(_) => None,
            },
            () = &mut shutdown => None,
        };
        let Some((accepted, permit)) = accepted else {
            break;
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: back off, keep serving.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Handlers may read the client's address (the admin login limit).
        let service = TowerToHyperService::new(tower::util::MapRequest::new(
            router.clone(),
            move |mut req: axum::http::Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                req
            },
        ));
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _permit = permit;
            if !sends_within(&stream, limits.header_read_timeout).await {
                return;
            }
            // Responses are written whole (head and body in one go), so
            // Nagle's delay would only hold back their last segment.
            let _ = stream.set_nodelay(true);
            let activity = idle::Activity::new();
            let io = TokioIo::new(idle::Watched::new(stream, activity.clone()));
            let conn = builder.serve_connection_with_upgrades(io, service);
            tokio::select! {
                served = watcher.watch(conn.into_owned()) => if let Err(e) = served {
                    tracing::debug!(error = %e, "connection ended with an error");
                },
                () = activity.idle_for(limits.idle_timeout) => {
                    tracing::debug!("closed a connection on which nothing moved");
                }
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections drained"),
        () = tokio::time::sleep(DRAIN_TIMEOUT) => tracing::warn!("drain timed out; closing open connections"),
    }
}

/// What an HTTP/2 connection starts with.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Whether the client starts a request within `timeout`: some bytes, and
/// the whole HTTP/2 preface if it is sending one (hyper's own timeouts only
/// start once it knows the protocol and reads a request).
async fn sends_within(stream: &TcpStream, timeout: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut start = [0u8; H2_PREFACE.len()];
    loop {
        let n = match tokio::time::timeout_at(deadline, stream.peek(&mut start)).await {
            Ok(Ok(n)) => n,
            _ => return false,
        };
        if n == 0 {
            return false;
        }
        if n == start.len() || !H2_PREFACE.starts_with(&start[..n]) {
            return true;
        }
        // Part of a preface: peek returns the same bytes at once until
        // more come (so the timeout above never fires), hence a pause and
        // an explicit deadline.
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
