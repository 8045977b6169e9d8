//! The HTTP edge's one error type. Handlers return [`ApiError`] (with `?`
//! on domain errors); its `IntoResponse` is the single place that picks a
//! status and a problem `type`, and renders `application/problem+json`
//! (RFC 9457). Internal causes are logged where they happen, never shown.

use axum::extract::FromRequest;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::feed::FeedUnavailable;
use crate::media::MediaError;

/// The media type of error bodies.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI reference naming the problem type (`about:blank` or a tag).
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong for this request.
    pub detail: String,
}

impl Problem {
    /// A problem of type `about:blank`, titled after the status.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            kind: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            status: status.as_u16(),
            detail: detail.into(),
        }
    }

    fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.title, self.detail)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut res = (status, body).into_response();
        let h = res.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        res
    }
}

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A bad query, path or header.
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(&'static str),
    /// No account has this name.
    #[error("there is no account named '{0}'")]
    UnknownAccount(String),
    /// The data dir refused a change before anything changed.
    #[error("could not change the stored accounts in IGFEED_DATA_DIR: {0}")]
    Storage(String),
    /// The admin key is missing or wrong.
    #[error("a valid admin key is required: Authorization: Bearer <IGFEED_ADMIN_KEY>")]
    Unauthorized,
    /// The request conflicts with the state (e.g. no token to refresh).
    #[error("{0}")]
    Conflict(&'static str),
    /// A well-formed body whose content cannot be used.
    #[error("{0}")]
    Unprocessable(&'static str),
    /// A body the JSON extractor refused (400, 413, 415, 422).
    #[error("{detail}")]
    Rejected { status: StatusCode, detail: String },
    #[error(transparent)]
    Feed(#[from] FeedUnavailable),
    /// `/readyz`: no feed can be served, and why.
    #[error("{0}")]
    NotReady(String),
    #[error(transparent)]
    Media(#[from] MediaError),
    /// A `Range` outside the body (`total` bytes, when known).
    #[error("the range is outside the bytes of this media")]
    RangeNotSatisfiable { total: Option<u64> },
    /// Instagram refused a token (redacted message).
    #[error("Instagram rejected the token: {0}")]
    TokenRejected(String),
    /// Instagram could not be asked to check a token.
    #[error("could not check the token with Instagram: {0}")]
    TokenUnchecked(String),
    /// A refresh failed for a reason that may pass.
    #[error("the refresh failed, the current token stays: {0}")]
    RefreshFailed(String),
    /// A new token (`refreshed` or `accepted`) is in use but could not be
    /// written to the data dir; igfeed retries the write.
    #[error(
        "the token was {0} but could not be stored in IGFEED_DATA_DIR; it is in use from memory and igfeed retries the write — a restart before the write succeeds would load the previous token, which Instagram may already have invalidated"
    )]
    PersistFailed(&'static str),
    /// The answer took longer than the request timeout.
    #[error("the response took too long")]
    Timeout,
    /// A handler panicked.
    #[error("an internal error occurred")]
    Internal,
}

/// Problem types beyond `about:blank`: stable names clients may match on.
mod kinds {
    pub const FEED_UNAVAILABLE: &str = "urn:igfeed:feed-unavailable";
    pub const NOT_READY: &str = "urn:igfeed:not-ready";
    pub const CDN_FAILED: &str = "urn:igfeed:cdn-failed";
    pub const CDN_TIMEOUT: &str = "urn:igfeed:cdn-timeout";
    pub const TOKEN_REJECTED: &str = "urn:igfeed:token-rejected";
    pub const UPSTREAM_UNAVAILABLE: &str = "urn:igfeed:upstream-unavailable";
    pub const REFRESH_FAILED: &str = "urn:igfeed:refresh-failed";
    pub const PERSIST_FAILED: &str = "urn:igfeed:persist-failed";
    pub const PICTURE_REFUSED: &str = "urn:igfeed:picture-refused";
}

impl ApiError {
    /// The status and problem type of this error.
    fn classify(&self) -> (StatusCode, &'static str) {
        use ApiError as E;
        match self {
            E::BadRequest(_) => (StatusCode::BAD_REQUEST, "about:blank"),
            E::NotFound(_) | E::UnknownAccount(_) | E::Media(MediaError::NotFound) => {
                (StatusCode::NOT_FOUND, "about:blank")
            }
            E::Storage(_) => (StatusCode::INTERNAL_SERVER_ERROR, kinds::PERSIST_FAILED),
            E::Unauthorized => (StatusCode::UNAUTHORIZED, "about:blank"),
            E::Conflict(_) => (StatusCode::CONFLICT, "about:blank"),
            E::Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "about:blank"),
            E::Rejected { status, .. } => (*status, "about:blank"),
            E::Feed(_) => (StatusCode::SERVICE_UNAVAILABLE, kinds::FEED_UNAVAILABLE),
            E::NotReady(_) => (StatusCode::SERVICE_UNAVAILABLE, kinds::NOT_READY),
            E::Media(MediaError::Timeout) => (StatusCode::GATEWAY_TIMEOUT, kinds::CDN_TIMEOUT),
            E::Media(MediaError::NotAPicture) => (StatusCode::BAD_REQUEST, "about:blank"),
            E::Media(MediaError::PictureTooLarge { .. } | MediaError::NotResizable(_)) => {
                (StatusCode::BAD_GATEWAY, kinds::PICTURE_REFUSED)
            }
            E::Media(_) => (StatusCode::BAD_GATEWAY, kinds::CDN_FAILED),
            E::RangeNotSatisfiable { .. } => (StatusCode::RANGE_NOT_SATISFIABLE, "about:blank"),
            E::TokenRejected(_) => (StatusCode::UNPROCESSABLE_ENTITY, kinds::TOKEN_REJECTED),
            E::TokenUnchecked(_) => (StatusCode::BAD_GATEWAY, kinds::UPSTREAM_UNAVAILABLE),
            E::RefreshFailed(_) => (StatusCode::BAD_GATEWAY, kinds::REFRESH_FAILED),
            E::PersistFailed(_) => (StatusCode::INTERNAL_SERVER_ERROR, kinds::PERSIST_FAILED),
            E::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "about:blank"),
            E::Timeout => (StatusCode::GATEWAY_TIMEOUT, "about:blank"),
        }
    }

    /// The problem document for this error.
    pub fn problem(&self) -> Problem {
        let (status, kind) = self.classify();
        let detail = match self {
            ApiError::Media(MediaError::Timeout) => {
                "the Instagram CDN did not answer in time".into()
            }
            ApiError::Media(MediaError::NotFound) => "no such media in the feed".into(),
            ApiError::Media(
                e @ (MediaError::NotAPicture
                | MediaError::PictureTooLarge { .. }
                | MediaError::NotResizable(_)),
            ) => e.to_string(),
            ApiError::Media(e) => format!("the media could not be fetched: {e}"),
            ApiError::RangeNotSatisfiable { total: Some(total) } => {
                format!("the range is outside the {total} bytes of this media")
            }
            other => other.to_string(),
        };
        Problem {
            kind: kind.into(),
            ..Problem::new(status, detail)
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = self.problem().into_response();
        let h = res.headers_mut();
        match self {
            ApiError::Unauthorized => {
                h.append(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::RangeNotSatisfiable { total: Some(total) } => {
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{total}")) {
                    h.append(header::CONTENT_RANGE, v);
                }
            }
            _ => {}
        }
        res
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::BadRequest(r.body_text())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        ApiError::Rejected {
            status: r.status(),
            detail: r.body_text(),
        }
    }
}

/// `axum::Json` whose rejections are problems like every other error.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// The answer for a path no route has.
pub async fn not_found() -> ApiError {
    ApiError::NotFound("no such resource")
}

/// Turns the framework's plain-text or empty error answers (405 wrong
/// method, 413 body too large, a timeout's 504 …) into problems, so
/// clients see one error format everywhere. Headers such as `Allow` stay.
pub fn problem_for_plain_errors(res: Response) -> Response {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if is_problem {
        return res;
    }
    let (parts, _) = res.into_parts();
    let problem = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            Problem::new(status, "method not allowed for this resource")
        }
        StatusCode::PAYLOAD_TOO_LARGE => Problem::new(status, "request body too large"),
        StatusCode::GATEWAY_TIMEOUT => ApiError::Timeout.problem(),
        _ => Problem::new(
            status,
            status
                .canonical_reason()
                .unwrap_or("error")
                .to_ascii_lowercase(),
        ),
    };
    let mut new = problem.into_response();
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.headers_mut().append(name.clone(), value.clone());
        }
    }
    new
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_errors_become_problems_keeping_every_header_value() {
        let res = Response::builder()
            .status(StatusCode::METHOD_NOT_ALLOWED)
            .header(header::ALLOW, "GET")
            .header(header::ALLOW, "HEAD")
            .header(header::VARY, "origin")
            .body(axum::body::Body::from("Method Not Allowed"))
            .unwrap();
        let res = problem_for_plain_errors(res);
        assert_eq!(res.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        let allow: Vec<_> = res.headers().get_all(header::ALLOW).iter().collect();
        assert_eq!(allow, ["GET", "HEAD"]);
        assert_eq!(res.headers()[header::VARY], "origin");
    }

    #[test]
    fn problem_types_and_statuses_come_from_one_place() {
        let p = ApiError::Media(MediaError::Timeout).problem();
        assert_eq!((p.status, p.kind.as_str()), (504, "urn:igfeed:cdn-timeout"));
        let p = ApiError::Media(MediaError::Upstream { status: 500 }).problem();
        assert_eq!((p.status, p.kind.as_str()), (502, "urn:igfeed:cdn-failed"));
        let p = ApiError::Media(MediaError::NotFound).problem();
        assert_eq!((p.status, p.kind.as_str()), (404, "about:blank"));
    }
}
