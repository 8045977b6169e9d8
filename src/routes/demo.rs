//! `GET /demo`: the example page (`examples/feed.html`), in demo mode only.

use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};

use crate::error::{ApiError, Problem};
use crate::state::AppState;

/// The example page, served at `/demo` in demo mode.
pub const EXAMPLE_PAGE: &str = include_str!("../../examples/feed.html");

/// The example feed page (only with `--demo`; 404 otherwise).
#[utoipa::path(get, path = "/demo", tag = "demo",
    responses(
        (status = 200, description = "The example page", content_type = "text/html", body = String),
        (status = 404, description = "Not in demo mode", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn demo_page(State(state): State<AppState>) -> Response {
    if !state.config.demo {
        return ApiError::NotFound("the example page is served in demo mode only").into_response();
    }
    ([(header::CACHE_CONTROL, "no-cache")], Html(EXAMPLE_PAGE)).into_response()
}
