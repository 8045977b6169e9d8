//! The one route table: every path of the service, built with utoipa's
//! `OpenApiRouter` so the OpenAPI document and the router cannot drift.
//! Each handler lives in the file of its resource.

pub mod admin;
pub mod demo;
pub mod feed;
pub mod health;
pub mod media;
pub mod ops;
pub mod token;

use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
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
        (name = "media", description = "The feed's images and videos, proxied and cached"),
        (name = "token", description = "The access token's public status"),
        (name = "admin", description = "Token management and cache purge (bearer admin key)"),
        (name = "demo", description = "The example page (demo mode)"),
        (name = "operations", description = "Health, readiness, metrics and this document"),
    ),
    modifiers(&AdminKey)
)]
struct ApiDoc;

/// Declares the bearer admin key used by `/admin/*`.
struct AdminKey;

impl Modify for AdminKey {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("IGFEED_ADMIN_KEY"))
                    .build(),
            ),
        );
    }
}

/// All routes with their OpenAPI document.
pub fn router(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let admin = admin_routes()
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            admin::require_admin,
        ))
        // Refuses a declared-too-large body before reading it, and caps
        // one without a length.
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            crate::app::MAX_BODY_BYTES,
        ));
    let (router, api) = public_routes().merge(admin).split_for_parts();
    (router.with_state(state), api)
}

/// The OpenAPI document, as served at `/openapi.json` and committed as
/// `openapi/openapi.json` (regenerate with `cargo run -q -- openapi > openapi/openapi.json`).
pub fn openapi_json() -> serde_json::Value {
    static DOC: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        let (_, api) = public_routes().merge(admin_routes()).split_for_parts();
        serde_json::to_value(api).expect("the OpenAPI document serializes")
    })
    .clone()
}

/// `/admin/*`, to be guarded by [`admin::require_admin`].
fn admin_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(admin::get_admin_token, admin::put_admin_token))
        .routes(routes!(admin::refresh_admin_token))
        .routes(routes!(admin::purge_cache))
}

fn public_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(token::get_token))
        .routes(routes!(demo::demo_page))
        .routes(routes!(media::get_media))
        .routes(routes!(media::get_thumbnail))
        .routes(routes!(feed::get_feed))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(ops::metrics))
        .routes(routes!(ops::openapi))
}
