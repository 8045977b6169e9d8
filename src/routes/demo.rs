//! `GET /demo`: the example page (`examples/feed.html`), in demo mode only.

use std::sync::LazyLock;

use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};

use base64::prelude::{BASE64_STANDARD, Engine as _};
use sha2::{Digest, Sha256};

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
    (
        [
            (header::CACHE_CONTROL, "no-cache"),
            (
                header::CONTENT_SECURITY_POLICY,
                EXAMPLE_PAGE_POLICY.as_str(),
            ),
        ],
        Html(EXAMPLE_PAGE),
    )
        .into_response()
}

/// The example page's policy: derived from the page, which is fixed at
/// build time, so hashed once.
static EXAMPLE_PAGE_POLICY: LazyLock<String> = LazyLock::new(|| page_policy(EXAMPLE_PAGE));

/// A strict `Content-Security-Policy` for a page whose only script and
/// style are inline in `page`: exactly those blocks may run (by hash),
/// everything else comes from this origin, nothing may frame it.
fn page_policy(page: &str) -> String {
    let hashes = |tag: &str| -> String {
        inline_blocks(page, tag)
            .into_iter()
            .map(|block| {
                let digest = Sha256::digest(block.as_bytes());
                format!(" 'sha256-{}'", BASE64_STANDARD.encode(digest))
            })
            .collect()
    };
    format!(
        "default-src 'none'; script-src{}; style-src{}; img-src 'self' data:; \
         media-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'",
        hashes("script"),
        hashes("style"),
    )
}

/// The text of every inline `<tag>…</tag>` block of `page`.
fn inline_blocks<'a>(page: &'a str, tag: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    page.split(open.as_str())
        .skip(1)
        .filter_map(|rest| rest.split_once(close.as_str()).map(|(block, _)| block))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_exactly_the_pages_inline_blocks() {
        let policy = page_policy("<style>a{}</style><script>go()</script><script>x</script>");
        // sha256("go()") and sha256("x"), base64.
        assert!(policy.contains("script-src 'sha256-"), "{policy}");
        assert_eq!(policy.matches("'sha256-").count(), 3, "{policy}");
        assert!(policy.contains("frame-ancestors 'none'"));
        assert!(!policy.contains("unsafe-inline"));
        // The hash of "go()" as a browser computes it (openssl dgst -sha256 -binary | base64).
        assert!(
            policy.contains("'sha256-5KYv+PUboo5h+0+YAtGRPbwv5d/QxzHslP4YGnUaxRw='"),
            "{policy}"
        );
    }
}
