//! The front door of every request: a cached media is answered before the
//! router; everything else goes through it.
//!
//! A cached `/media/{id}` is the hottest path, and the one measured against
//! nginx serving the same file. Through axum's router it took 24
//! allocations and ~6 µs of user CPU (route match, URL parameters, request
//! extensions, a route clone, boxed futures); answered here, 8 allocations
//! and ~3-4 µs (a uprobe on `malloc` and CPU time per request, under wrk).
//! The answer is the same: the same code builds it, the same stack
//! (request id, CORS, log line, metrics) wraps it, and anything other than
//! a GET of a media cached now goes to the router. A test compares the two
//! paths header for header and byte for byte.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use hyper::body::Incoming;
use tower::ServiceExt;

use crate::media::MediaService;
use crate::middleware::StackLayer;
use crate::routes::media;

/// The router with the fast path in front (cheap to clone).
#[derive(Clone)]
pub struct Front(Arc<Inner>);

struct Inner {
    router: Router,
    media: Arc<MediaService>,
    stack: StackLayer,
}

impl Front {
    /// `router` must carry `stack` (see [`crate::app::front`]), so both
    /// paths wrap their answers alike.
    pub fn new(router: Router, media: Arc<MediaService>, stack: StackLayer) -> Self {
        Self(Arc::new(Inner {
            router,
            media,
            stack,
        }))
    }

    /// Answers `req`: from the media cache if it can, else by the router.
    pub async fn answer(self, req: hyper::Request<Incoming>) -> Result<Response, Infallible> {
        if let Some((key, route)) = media::fast_key(&req)
            && let Some(hit) = self.0.media.peek(&key).await
        {
            let res = self
                .0
                .stack
                .answer_now(route, &req, || media::cached(&hit, req.headers()));
            return Ok(res);
        }
        self.0.router.clone().oneshot(req.map(Body::new)).await
    }
}
