//! The hooks of the request `TraceLayer`: a span per request (method,
//! route template, request id), and when the response head is ready one
//! INFO line and the request metrics.

use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use tower_http::trace::OnResponse;
use tracing::Span;

use super::X_REQUEST_ID;
use crate::metrics::Metrics;

/// The route template of a request without a route.
const UNMATCHED: &str = "unmatched";

/// What the logs and metrics call a request, carried on its response from
/// the router (which knows the route) to [`Record`] (which sees only the
/// response).
#[derive(Clone, Debug)]
pub struct RouteLabel {
    /// Shares the router's string: no copy per request.
    route: Option<MatchedPath>,
    method: Method,
}

/// The route template of `req` (set by the router), if it has one.
fn route(req: &Request) -> Option<&MatchedPath> {
    req.extensions().get::<MatchedPath>()
}

/// The request's span.
pub fn span(req: &Request) -> Span {
    let route = route(req).map_or(UNMATCHED, MatchedPath::as_str);
    let request_id = req
        .headers()
        .get(X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!("request", method = %req.method(), route, request_id)
}

/// The label [`Record`] finds on the response: insert it into the
/// response's extensions.
pub fn label(req: &Request) -> RouteLabel {
    RouteLabel {
        route: route(req).cloned(),
        method: req.method().clone(),
    }
}

/// Logs the INFO line and records the metrics of each response.
#[derive(Clone, Debug)]
pub struct Record {
    metrics: Metrics,
}

impl Record {
    pub fn new(metrics: Metrics) -> Self {
        Self { metrics }
    }
}

impl<B> OnResponse<B> for Record {
    fn on_response(self, res: &axum::http::Response<B>, latency: Duration, _: &Span) {
        let (route, method) = res
            .extensions()
            .get::<RouteLabel>()
            .map_or((UNMATCHED, "-"), |l| {
                let route = l.route.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
                (route, l.method.as_str())
            });
        let status = res.status().as_u16();
        // Method, route and request id are the span's fields, printed with
        // the line: not repeated here.
        tracing::info!(
            status,
            latency_ms = latency.as_secs_f64() * 1000.0,
            "request served"
        );
        self.metrics.http(route, method, status, latency);
    }
}
