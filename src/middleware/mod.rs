//! The HTTP stack around every route: a `ServiceBuilder` of tower-http
//! layers, one concern each, outermost first:
//!
//! 1. request ids: a client's `X-Request-Id` is kept if it is short and
//!    printable, otherwise replaced by a UUID; echoed on the response;
//! 2. the request span, one INFO line and the metrics per request
//!    ([`trace`]);
//! 3. response headers every answer carries (`X-Content-Type-Options`);
//! 4. the route label for (2), and problem+json for the framework's plain
//!    errors (405, 413, 504);
//! 5. CORS from `IGFEED_CORS_ORIGINS` (preflights answered here);
//! 6. a panic in a handler becomes a 500 problem;
//! 7. the request timeout becomes a 504 problem.
//!
//! Applied with `Router::layer`, so the matched route template is known to
//! the span, the log line and the metrics (raw paths never are: they are
//! unbounded).

pub mod trace;

use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::config::CorsOrigins;
use crate::error::{self, ApiError};
use crate::metrics::Metrics;

/// The request id header: accepted from clients, generated otherwise,
/// echoed on the response and recorded in the request's span.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The longest client request id kept (a longer one is replaced).
pub const MAX_REQUEST_ID: usize = 128;

/// Request headers browsers may send cross-origin.
const ALLOW_HEADERS: [HeaderName; 3] = [header::IF_NONE_MATCH, header::RANGE, X_REQUEST_ID];
/// Response headers a cross-origin script may read.
const EXPOSE_HEADERS: [HeaderName; 5] = [
    header::ETAG,
    header::LAST_MODIFIED,
    header::CONTENT_LENGTH,
    header::CONTENT_RANGE,
    header::ACCEPT_RANGES,
];
/// How long browsers may cache a preflight answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// The settings the stack is built from.
#[derive(Clone, Debug)]
pub struct StackSettings {
    pub metrics: Metrics,
    pub cors: CorsOrigins,
    /// How long a response's head may take (then 504).
    pub timeout: Duration,
}

/// Wraps every route of `router` (and its fallback) in the stack.
pub fn apply(router: Router, settings: StackSettings) -> Router {
    let stack = ServiceBuilder::new()
        .map_request(drop_unusable_request_id)
        .layer(SetRequestIdLayer::new(X_REQUEST_ID, MakeRequestUuid))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(trace::span)
                .on_request(())
                .on_response(trace::Record::new(settings.metrics))
                .on_failure(()),
        )
        .layer(PropagateRequestIdLayer::new(X_REQUEST_ID))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(axum::middleware::from_fn(label_and_normalize))
        .layer(cors(&settings.cors))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::Internal.into_response()
        }))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::GATEWAY_TIMEOUT,
            settings.timeout,
        ));
    router.layer(stack)
}

/// Removes a client's request id that is too long or not printable, so a
/// fresh one is made: ids end up in logs and responses.
fn drop_unusable_request_id(mut req: Request) -> Request {
    let usable = req.headers().get(X_REQUEST_ID).is_none_or(|id| {
        id.len() <= MAX_REQUEST_ID && id.as_bytes().iter().all(|b| b.is_ascii_graphic())
    });
    if !usable {
        req.headers_mut().remove(X_REQUEST_ID);
    }
    req
}

/// Labels the response for the log line and metrics ([`trace::label`]),
/// and keeps one error format everywhere: the framework's plain errors
/// become problems; a 413 also closes the connection, as the rest of the
/// body is never read (a reused connection would lose the client's next
/// request).
async fn label_and_normalize(req: Request, next: Next) -> Response {
    let label = trace::label(&req);
    let mut res = error::problem_for_plain_errors(next.run(req).await);
    res.extensions_mut().insert(label);
    if res.status() == StatusCode::PAYLOAD_TOO_LARGE {
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    res
}

/// CORS per `IGFEED_CORS_ORIGINS`: `*` lets any page read the answers; a
/// list lets exactly those origins.
fn cors(origins: &CorsOrigins) -> CorsLayer {
    let allow = match origins {
        CorsOrigins::Any => AllowOrigin::any(),
        CorsOrigins::List(list) => {
            AllowOrigin::list(list.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
        }
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::GET, Method::HEAD])
        .allow_headers(ALLOW_HEADERS)
        .expose_headers(EXPOSE_HEADERS)
        .max_age(PREFLIGHT_MAX_AGE)
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    fn app(timeout: Duration) -> Router {
        let router = Router::new()
            .route("/slow", get(std::future::pending::<&'static str>))
            .route(
                "/panic",
                get(|| async {
                    if true {
                        panic!("a handler bug");
                    }
                    ""
                }),
            )
            .route("/ok", get(|| async { "ok" }));
        apply(
            router,
            StackSettings {
                metrics: Metrics::new(),
                cors: CorsOrigins::Any,
                timeout,
            },
        )
    }

    async fn call(app: Router, uri: &str, id: Option<&str>) -> Response {
        let mut req = Request::builder().uri(uri);
        if let Some(id) = id {
            req = req.header(X_REQUEST_ID, id);
        }
        let answer = app.oneshot(req.body(Body::empty()).unwrap());
        // A deadline so that a missing timeout fails the test, not hangs it.
        tokio::time::timeout(Duration::from_secs(10), answer)
            .await
            .expect("the stack answered")
            .unwrap()
    }

    #[tokio::test]
    async fn a_slow_answer_ends_as_a_504_problem_with_the_usual_headers() {
        let res = call(app(Duration::from_millis(50)), "/slow", None).await;
        assert_eq!(res.status(), StatusCode::GATEWAY_TIMEOUT);
        let h = res.headers();
        assert_eq!(h[header::CONTENT_TYPE], error::PROBLEM_JSON);
        assert_eq!(h[X_REQUEST_ID].len(), 36, "a generated UUID");
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }

    #[tokio::test]
    async fn a_panic_is_a_500_problem_and_the_service_goes_on() {
        let app = app(Duration::from_secs(5));
        let res = call(app.clone(), "/panic", Some("abc")).await;
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(res.headers()[header::CONTENT_TYPE], error::PROBLEM_JSON);
        assert_eq!(res.headers()[X_REQUEST_ID], "abc");
        let body = axum::body::to_bytes(res.into_body(), 4096).await.unwrap();
        assert!(!String::from_utf8_lossy(&body).contains("a handler bug"));
        assert_eq!(call(app, "/ok", None).await.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn client_request_ids_are_kept_only_when_short_and_printable() {
        let app = app(Duration::from_secs(5));
        let kept = "a".repeat(MAX_REQUEST_ID);
        let res = call(app.clone(), "/ok", Some(&kept)).await;
        assert_eq!(res.headers()[X_REQUEST_ID], kept.as_str());
        let long = "a".repeat(MAX_REQUEST_ID + 1);
        let res = call(app.clone(), "/ok", Some(&long)).await;
        assert_eq!(res.headers()[X_REQUEST_ID].len(), 36, "replaced by a UUID");
        let res = call(app, "/ok", Some("a b")).await;
        assert_eq!(res.headers()[X_REQUEST_ID].len(), 36, "replaced by a UUID");
    }
}
