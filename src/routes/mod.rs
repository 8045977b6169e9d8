//! The one route table: every path of the service, built with utoipa's
//! `OpenApiRouter` so the OpenAPI document and the router cannot drift.
//! Each handler lives in the file of its resource.

pub mod feed;
pub mod health;
pub mod ops;

use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "igfeed",
        description = "A self-hosted Instagram feed: the account's recent posts as JSON, media proxied through a bounded cache, and the access token kept alive.",
        license(name = "MIT")
    ),
    tags(
        (name = "feed", description = "The cached Instagram feed"),
        (name = "operations", description = "Health, readiness, metrics and this document"),
    )
)]
struct ApiDoc;

/// All routes with their OpenAPI document.
pub fn router(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let (router, api) = routes().split_for_parts();
    (router.with_state(state), api)
}

/// The OpenAPI document, as served at `/openapi.json` and committed as
/// `openapi/openapi.json` (regenerate with `cargo run -q -- openapi > openapi/openapi.json`).
pub fn openapi_json() -> serde_json::Value {
    static DOC: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        let (_, api) = routes().split_for_parts();
        serde_json::to_value(api).expect("the OpenAPI document serializes")
    })
    .clone()
}

fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(feed::get_feed))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(ops::metrics))
        .routes(routes!(ops::openapi))
}
