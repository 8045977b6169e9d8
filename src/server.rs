//! The HTTP server loop: the service ([`Front`]) on hyper, with the limits
//! that keep slow or hostile clients from tying the service up (a header
//! read timeout, a cap on header size) and a bounded graceful drain.
//!
//! `axum::serve` offers no header read timeout, hence this small loop.

use std::future::Future;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::front::Front;

/// A client has this long to send a request's headers (slowloris guard).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The most header bytes one HTTP/1 request may send (then 431).
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// How long open requests may take to finish after a shutdown signal.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

/// Serves `front` on `listener` until `shutdown`, then drains.
pub async fn serve(
    listener: TcpListener,
    front: Front,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, front, shutdown, HEADER_READ_TIMEOUT).await
}

/// [`serve`] with a chosen header read timeout (tests use a short one).
pub async fn serve_with(
    listener: TcpListener,
    front: Front,
    shutdown: impl Future<Output = ()> + Send + 'static,
    header_read_timeout: Duration,
) -> std::io::Result<()> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .max_buf_size(MAX_HEADER_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEADER_BYTES as u32);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let front = front.clone();
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            // Responses are written whole (head and body in one go), so
            // Nagle's delay would only hold back their last segment.
            let _ = stream.set_nodelay(true);
            let service =
                service_fn(move |req: hyper::Request<Incoming>| front.clone().answer(req));
            let conn = builder.serve_connection_with_upgrades(
                TokioIo::new(crate::zerocopy::Conn::new(stream)),
                service,
            );
            if let Err(e) = watcher.watch(conn.into_owned()).await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections drained"),
        () = tokio::time::sleep(DRAIN_TIMEOUT) => tracing::warn!("drain timed out; closing open connections"),
    }
    Ok(())
}
