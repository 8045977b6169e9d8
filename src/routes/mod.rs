//! The one route table: every path of the service, built with utoipa's
//! `OpenApiRouter` so the OpenAPI document and the router cannot drift.
//! Each handler lives in the file of its resource.

pub mod feed;
pub mod health;

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
        (name = "operations", description = "Health and readiness"),
    )
)]
struct ApiDoc;

/// All routes with their OpenAPI document.
pub fn router(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let (router, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(feed::get_feed))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .split_for_parts();
    (router.with_state(state), api)
}
