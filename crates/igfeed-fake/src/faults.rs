//! The ways the fake can misbehave on purpose, because igfeed's resilience
//! (retries, timeouts, body limits, error pages) can only be tested against
//! an upstream that fails on demand.

use std::collections::VecDeque;
use std::time::Duration;

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::Route;
use crate::graph::graph_error;
use crate::state::Inner;

/// A way for a call to fail.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer normally (to queue a fault behind good answers).
    Pass,
    /// This HTTP status with an HTML body (a load balancer's error page).
    Status(u16),
    /// A Graph error envelope with this HTTP status and `error.code`.
    GraphError {
        status: u16,
        code: i64,
        message: String,
    },
    /// 200 with a body that is not JSON.
    Garbage,
    /// 200 with JSON cut off in the middle.
    Truncated,
    /// Never answers (until the client gives up).
    Hang,
    /// Answers 200 but trickles the body over this long.
    Slow(Duration),
    /// 200 with a JSON body of about this many bytes.
    Huge(usize),
    /// 200 with this content type and a small body (a CDN handing out what
    /// is not a picture, e.g. `image/svg+xml`).
    Typed(&'static str),
}

impl Inner {
    /// A standing fault wins over queued ones so a test can break a route
    /// outright without first draining what it queued.
    pub(crate) fn take_fault(&mut self, route: Route) -> Option<Fault> {
        if let Some(f) = self.always.get(&route) {
            return Some(f.clone());
        }
        self.faults.get_mut(&route).and_then(VecDeque::pop_front)
    }
}

pub(crate) async fn apply_fault(fault: Fault) -> Response {
    match fault {
        Fault::Pass => StatusCode::NO_CONTENT.into_response(),
        Fault::Status(s) => (
            StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body>Service Unavailable</body></html>",
        )
            .into_response(),
        Fault::GraphError {
            status,
            code,
            message,
        } => graph_error(status, code, &message),
        Fault::Garbage => json_like("<html>this is not json".into()),
        Fault::Truncated => json_like(r#"{"data":[{"id":"1790000","media_type":"IMA"#.into()),
        Fault::Hang => {
            std::future::pending::<()>().await;
            unreachable!()
        }
        Fault::Slow(total) => {
            let body = br#"{"data":[],"paging":{}}"#.to_vec();
            let step = total / body.len() as u32;
            let stream = futures_util::stream::unfold(0usize, move |i| {
                let body = body.clone();
                async move {
                    if i >= body.len() {
                        return None;
                    }
                    tokio::time::sleep(step).await;
                    Some((
                        Ok::<_, std::io::Error>(Bytes::copy_from_slice(&body[i..=i])),
                        i + 1,
                    ))
                }
            });
            (
                [(header::CONTENT_TYPE, "application/json")],
                Body::from_stream(stream),
            )
                .into_response()
        }
        Fault::Typed(content_type) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, content_type)],
            r#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#,
        )
            .into_response(),
        Fault::Huge(n) => {
            let filler = "x".repeat(n);
            json_like(format!(r#"{{"data":[],"filler":"{filler}"}}"#))
        }
    }
}

/// Labelled JSON whatever the body is, so igfeed has to cope with a bad body
/// rather than reject it on its content type.
fn json_like(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}
