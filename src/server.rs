//! The HTTP server loop: axum's router on hyper, with the limits that keep
//! slow or hostile clients from tying the service up (a header read
//! timeout, a cap on header size) and a bounded graceful drain.
//!
//! `axum::serve` offers no header read timeout, hence this small loop.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// A client has this long to send a request's headers (slowloris guard).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The most header bytes one HTTP/1 request may send (then 431).
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// How long open requests may take to finish after a shutdown signal.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

/// Serves `router` on `listener` until `shutdown`, then drains. Each
/// accepted connection is served on one of `shards`' threads.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    shards: &Shards,
) -> std::io::Result<()> {
    serve_with(listener, router, shutdown, HEADER_READ_TIMEOUT, shards).await
}

/// [`serve`] with a chosen header read timeout (tests use a short one).
pub async fn serve_with(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    header_read_timeout: Duration,
    shards: &Shards,
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
        // Moved to the shard's own I/O driver, so the connection never
        // wakes another thread.
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(e) => {
                tracing::debug!(error = %e, "could not hand a connection over");
                continue;
            }
        };
        let router = router.clone();
        let builder = builder.clone();
        let watcher = graceful.watcher();
        shards.spawn(async move {
            let stream = match tokio::net::TcpStream::from_std(stream) {
                Ok(stream) => stream,
                Err(e) => {
                    tracing::debug!(error = %e, "could not register a connection");
                    return;
                }
            };
            // Responses are written whole (head and body in one go), so
            // Nagle's delay would only hold back their last segment.
            let _ = stream.set_nodelay(true);
            let service = router.map_request(|req: hyper::Request<Incoming>| req.map(Body::new));
            let conn = builder.serve_connection_with_upgrades(
                TokioIo::new(crate::zerocopy::Conn::new(stream)),
                TowerToHyperService::new(service),
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

/// Threads that serve HTTP connections, each with its own single-threaded
/// runtime. A connection stays on one thread from accept to close, so its
/// requests never cross threads: no cross-thread wake-ups or frees per
/// request, which made up much of the CPU a cached answer cost on the
/// work-stealing runtime. Everything else (background tasks, accepting)
/// runs on the caller's runtime.
pub struct Shards {
    handles: Vec<tokio::runtime::Handle>,
    threads: Vec<std::thread::JoinHandle<()>>,
    stop: Option<tokio::sync::watch::Sender<bool>>,
    next: AtomicUsize,
}

impl Shards {
    /// Starts `count` threads (none: connections run on the caller's runtime).
    /// They log to the caller's tracing subscriber.
    pub fn start(count: usize) -> std::io::Result<Self> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let dispatch = tracing::dispatcher::get_default(Clone::clone);
        let mut handles = Vec::with_capacity(count);
        let mut threads = Vec::with_capacity(count);
        for i in 0..count {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            handles.push(runtime.handle().clone());
            let mut stopped = stopped.clone();
            let dispatch = dispatch.clone();
            let thread = std::thread::Builder::new()
                .name(format!("igfeed-http-{i}"))
                .spawn(move || {
                    let _logs = tracing::dispatcher::set_default(&dispatch);
                    runtime.block_on(async move {
                        let _ = stopped.wait_for(|stop| *stop).await;
                    });
                })?;
            threads.push(thread);
        }
        Ok(Self {
            handles,
            threads,
            stop: Some(stop),
            next: AtomicUsize::new(0),
        })
    }

    /// One thread per CPU this process may use.
    pub fn per_cpu() -> std::io::Result<Self> {
        Self::start(std::thread::available_parallelism().map_or(1, usize::from))
    }

    /// Runs `task` on the next thread (round robin).
    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        if self.handles.is_empty() {
            tokio::spawn(task);
            return;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.handles.len();
        self.handles[i].spawn(task);
    }

    /// Stops the threads (after the server has drained) and waits for them.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        let threads = std::mem::take(&mut self.threads);
        let _ = tokio::task::spawn_blocking(move || {
            for thread in threads {
                let _ = thread.join();
            }
        })
        .await;
    }
}
