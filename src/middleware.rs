//! The HTTP stack every request passes through, as one middleware: request
//! ids, the request span, CORS, one INFO line and metrics per request, the
//! response timeout, and problem+json for the framework's plain errors.
//!
//! This was eight tower / tower-http layers. Each cost a clone, a boxed
//! future and some allocations per request, and together they took about
//! 8 µs of the 10 µs of CPU a cached `/feed` used (measured with `perf` and
//! per-request CPU time under `wrk`). Done here in one pass they cost well
//! under a microsecond, and a request that is answered at once (every
//! cache hit) never arms a timer.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use tower::{Layer, Service};
use tracing::Instrument;

use crate::config::CorsOrigins;
use crate::error::{self, Problem};
use crate::metrics::Metrics;

/// The request id header: accepted from clients, generated otherwise,
/// echoed on the response and recorded in the request's span.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Methods and request headers browsers may use cross-origin.
const ALLOW_METHODS: HeaderValue = HeaderValue::from_static("GET,HEAD");
const ALLOW_HEADERS: HeaderValue = HeaderValue::from_static("if-none-match,range,x-request-id");
/// Response headers a cross-origin script may read.
const EXPOSE_HEADERS: HeaderValue =
    HeaderValue::from_static("etag,last-modified,content-length,content-range,accept-ranges");
/// How long browsers may cache a preflight answer.
const PREFLIGHT_MAX_AGE: HeaderValue = HeaderValue::from_static("600");

/// Wraps every route (apply with `Router::layer`, so the matched route
/// template is known for logs and metrics).
#[derive(Clone)]
pub struct StackLayer(Arc<Settings>);

struct Settings {
    metrics: Metrics,
    cors: Cors,
    timeout: Duration,
}

impl StackLayer {
    /// `timeout` bounds how long a response's head may take (then 504).
    pub fn new(metrics: Metrics, origins: &CorsOrigins, timeout: Duration) -> Self {
        Self(Arc::new(Settings {
            metrics,
            cors: Cors::new(origins),
            timeout,
        }))
    }
}

impl<S> Layer<S> for StackLayer {
    type Service = Stack<S>;

    fn layer(&self, inner: S) -> Stack<S> {
        Stack {
            inner,
            settings: self.0.clone(),
        }
    }
}

/// The service [`StackLayer`] builds around a route.
#[derive(Clone)]
pub struct Stack<S> {
    inner: S,
    settings: Arc<Settings>,
}

impl<S> Service<Request> for Stack<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let settings = self.settings.clone();
        let route = req.extensions().get::<MatchedPath>().cloned();
        let (begun, span) = Begun::new(&req, route_name(&route));
        let preflight = begun.method == Method::OPTIONS
            && begun.origin.is_some()
            && req
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        let inner = (!preflight).then(|| self.inner.call(req));
        Box::pin(
            async move {
                let res = match inner {
                    None => settings.cors.preflight(begun.origin.as_ref()),
                    Some(inner) => {
                        let mut inner = std::pin::pin!(inner);
                        // Answered at once (a cache hit): no timer needed.
                        let res = match futures_util::poll!(inner.as_mut()) {
                            Poll::Ready(res) => res,
                            Poll::Pending => {
                                let deadline = tokio::time::Instant::from_std(
                                    begun.started + settings.timeout,
                                );
                                match tokio::time::timeout_at(deadline, inner).await {
                                    Ok(res) => res,
                                    Err(_) => Ok(Problem::new(
                                        StatusCode::GATEWAY_TIMEOUT,
                                        "the response took too long",
                                    )
                                    .into_response()),
                                }
                            }
                        };
                        let Ok(res) = res;
                        let mut res = error::problem_for_plain_errors(res);
                        if res.status() == StatusCode::PAYLOAD_TOO_LARGE {
                            // The rest of the body is never read, so the
                            // connection closes: say so, lest the client
                            // reuse it and lose its next request.
                            res.headers_mut()
                                .insert(header::CONNECTION, HeaderValue::from_static("close"));
                        }
                        settings
                            .cors
                            .decorate(begun.origin.as_ref(), res.headers_mut());
                        res
                    }
                };
                Ok(settings.finish(begun, route_name(&route), res))
            }
            .instrument(span),
        )
    }
}

impl StackLayer {
    /// Answers a request of a known `route` at once with `answer`, with
    /// everything the stack adds: for the fast path that bypasses the
    /// router ([`crate::front`]). `answer` must not fail or take long
    /// (no problem+json mapping, no timeout here).
    pub fn answer_now<B>(
        &self,
        route: &'static str,
        req: &axum::http::Request<B>,
        answer: impl FnOnce() -> Response,
    ) -> Response {
        let (begun, span) = Begun::new(req, route);
        span.in_scope(|| {
            let mut res = answer();
            self.0
                .cors
                .decorate(begun.origin.as_ref(), res.headers_mut());
            self.0.finish(begun, route, res)
        })
    }
}

/// What the stack notes of a request before it is answered.
struct Begun {
    started: Instant,
    request_id: HeaderValue,
    method: Method,
    origin: Option<HeaderValue>,
}

impl Begun {
    /// Notes `req` and opens its span.
    fn new<B>(req: &axum::http::Request<B>, route: &str) -> (Self, tracing::Span) {
        // A client's id is a slice of the read buffer (no copy); it goes
        // to the span and the response, as no route reads it.
        let request_id = match req.headers().get(X_REQUEST_ID) {
            Some(id) => id.clone(),
            None => new_request_id(),
        };
        let method = req.method().clone();
        let span = tracing::info_span!(
            "request",
            %method,
            route,
            request_id = request_id.to_str().unwrap_or("-"),
        );
        let begun = Self {
            started: Instant::now(),
            request_id,
            method,
            origin: req.headers().get(header::ORIGIN).cloned(),
        };
        (begun, span)
    }
}

impl Settings {
    /// The request id on the response, the INFO line, the metrics.
    fn finish(&self, begun: Begun, route: &str, mut res: Response) -> Response {
        let Begun {
            started,
            request_id,
            method,
            ..
        } = begun;
        res.headers_mut().entry(X_REQUEST_ID).or_insert(request_id);
        let elapsed = started.elapsed();
        let status = res.status().as_u16();
        tracing::info!(%method, route, status, latency_ms = elapsed.as_secs_f64() * 1000.0, "request served");
        self.metrics.http(route, method.as_str(), status, elapsed);
        res
    }
}

/// The route template for logs and labels (`unmatched` without a route);
/// raw paths never are: they are unbounded.
fn route_name(route: &Option<MatchedPath>) -> &str {
    route.as_ref().map_or("unmatched", MatchedPath::as_str)
}

/// A fresh random request id (a UUID v4).
fn new_request_id() -> HeaderValue {
    let mut buf = uuid::Uuid::encode_buffer();
    let id = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf);
    HeaderValue::from_str(id).unwrap_or(HeaderValue::from_static("-"))
}

/// CORS per `IGFEED_CORS_ORIGINS`: `*` lets any page read the answers;
/// a list lets exactly those origins (and says `Vary: Origin`).
struct Cors {
    any: bool,
    allowed: Vec<HeaderValue>,
}

impl Cors {
    fn new(origins: &CorsOrigins) -> Self {
        match origins {
            CorsOrigins::Any => Self {
                any: true,
                allowed: Vec::new(),
            },
            CorsOrigins::List(list) => Self {
                any: false,
                allowed: list.iter().filter_map(|o| o.parse().ok()).collect(),
            },
        }
    }

    /// The `Access-Control-Allow-Origin` value for this request, if any.
    fn allow_origin(&self, origin: Option<&HeaderValue>) -> Option<HeaderValue> {
        if self.any {
            return Some(HeaderValue::from_static("*"));
        }
        origin
            .filter(|o| self.allowed.iter().any(|a| a == *o))
            .cloned()
    }

    /// Adds the CORS headers to an ordinary answer.
    fn decorate(&self, origin: Option<&HeaderValue>, headers: &mut HeaderMap) {
        if !self.any {
            headers.append(header::VARY, HeaderValue::from_static("origin"));
        }
        if let Some(allow) = self.allow_origin(origin) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow);
            headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSE_HEADERS);
        }
    }

    /// The answer to a preflight (`OPTIONS` with `Origin` and
    /// `Access-Control-Request-Method`): 204, and the grant only for an
    /// allowed origin.
    fn preflight(&self, origin: Option<&HeaderValue>) -> Response {
        let mut res = StatusCode::NO_CONTENT.into_response();
        let headers = res.headers_mut();
        headers.insert(
            header::VARY,
            HeaderValue::from_static(
                "origin, access-control-request-method, access-control-request-headers",
            ),
        );
        if let Some(allow) = self.allow_origin(origin) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow);
            headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW_METHODS);
            headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS);
            headers.insert(header::ACCESS_CONTROL_MAX_AGE, PREFLIGHT_MAX_AGE);
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use tower::ServiceExt;

    use super::*;

    fn stack<F>(
        timeout: Duration,
        answer: fn() -> F,
    ) -> Stack<impl Clone + Service<Request, Response = Response, Error = Infallible, Future = F>>
    where
        F: std::future::Future<Output = Result<Response, Infallible>> + Send + 'static,
    {
        StackLayer::new(Metrics::new(), &CorsOrigins::Any, timeout)
            .layer(tower::service_fn(move |_: Request| answer()))
    }

    #[tokio::test]
    async fn a_slow_answer_ends_as_a_504_problem_with_the_usual_headers() {
        let answer = stack(Duration::from_millis(50), std::future::pending)
            .oneshot(Request::new(Body::empty()));
        // A deadline so that a missing timeout fails the test, not hangs it.
        let res = tokio::time::timeout(Duration::from_secs(5), answer)
            .await
            .expect("the middleware's timeout fired")
            .unwrap();
        assert_eq!(res.status(), StatusCode::GATEWAY_TIMEOUT);
        let h = res.headers();
        assert_eq!(h[header::CONTENT_TYPE], error::PROBLEM_JSON);
        assert_eq!(h[X_REQUEST_ID].len(), 36, "a generated UUID");
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    }

    #[tokio::test]
    async fn an_answer_ready_at_once_never_meets_the_timeout() {
        // Even a zero timeout: the answer is polled before any timer.
        let res = stack(Duration::ZERO, || async {
            Ok(StatusCode::OK.into_response())
        })
        .oneshot(Request::new(Body::empty()))
        .await
        .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
}
