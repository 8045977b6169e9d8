//! The one route table: every path of the service, built with utoipa's
//! `OpenApiRouter` so the OpenAPI document and the router cannot drift
//! (the document served is the one `split_for_parts` returns). Each
//! handler lives in the file of its resource.

pub mod admin;
pub mod demo;
pub mod feed;
pub mod health;
pub mod media;
pub mod ops;
pub mod token;

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderValue, header};
use axum::{Extension, Router};
use bytes::Bytes;
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use utoipa_swagger_ui::SwaggerUi;

use crate::accounts::{Account, AccountName};
use crate::error::ApiError;
use crate::middleware::{self, StackSettings};
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "igfeed",
        description = "A self-hosted Instagram feed for one or many accounts: each account's recent posts as JSON, media proxied through a bounded cache, and the access tokens kept alive.",
        license(name = "MIT")
    ),
    tags(
        (name = "feed", description = "The cached Instagram feeds (`/feed` is the account `default`)"),
        (name = "media", description = "The feeds' images and videos, proxied and cached"),
        (name = "token", description = "The access tokens' public status (`/token` is the account `default`)"),
        (name = "admin", description = "Accounts, their tokens, and cache purge (bearer admin key)"),
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

/// The most a request body may be (the only bodies are admin JSON, so
/// the limit is set on `/admin/*`).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The longest a response head may take before the client gets a 504
/// problem; generous, since a cold feed may walk several pages upstream.
pub fn request_timeout(upstream: Duration) -> Duration {
    (upstream * 3).max(Duration::from_secs(30))
}

/// The OpenAPI document of this service as served at `/openapi.json`:
/// made once, at start-up (cheap to clone).
#[derive(Clone, Debug)]
pub struct ApiDocument(pub Bytes);

impl ApiDocument {
    /// `api` as this server describes itself: `limit` goes up to its
    /// `IGFEED_FEED_SIZE` (the committed document shows the default, 25).
    fn new(api: utoipa::openapi::OpenApi, feed_size: usize) -> Self {
        let mut doc = serde_json::to_value(api).expect("the OpenAPI document serializes");
        for path in [
            "/paths/~1feed/get/parameters",
            "/paths/~1feeds~1{account}/get/parameters",
        ] {
            if let Some(params) = doc.pointer_mut(path).and_then(|p| p.as_array_mut()) {
                for p in params.iter_mut().filter(|p| p["name"] == "limit") {
                    p["schema"]["maximum"] = feed_size.into();
                }
            }
        }
        Self(Bytes::from(
            serde_json::to_vec(&doc).expect("the OpenAPI document serializes"),
        ))
    }
}

/// The account named `raw`: a bad name is a 400, an unknown one a 404.
pub fn account(state: &AppState, raw: &str) -> Result<Arc<Account>, ApiError> {
    let name = AccountName::parse(raw).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    state
        .accounts
        .get(&name)
        .ok_or_else(|| ApiError::UnknownAccount(name.to_string()))
}

/// The whole service: every route, `/docs`, the fallback, the HTTP stack.
pub fn router(state: AppState) -> Router {
    let (routes, api) = table().split_for_parts();
    let document = ApiDocument::new(api, state.config.feed_size);
    let stack = StackSettings {
        metrics: state.metrics.clone(),
        cors: state.config.cors_origins.clone(),
        timeout: request_timeout(state.config.upstream_timeout),
    };
    let router = routes
        .layer(Extension(document))
        .with_state(state)
        .merge(docs())
        .fallback(crate::error::not_found);
    middleware::apply(router, stack)
}

/// The browsable API docs at `/docs`, from this origin only (Swagger UI
/// styles its elements inline, hence `'unsafe-inline'` for styles alone),
/// never framed.
fn docs() -> Router {
    const POLICY: HeaderValue = HeaderValue::from_static(
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'",
    );
    let ui = SwaggerUi::new("/docs").config(utoipa_swagger_ui::Config::new(["/openapi.json"]));
    Router::from(ui).layer(SetResponseHeaderLayer::overriding(
        header::CONTENT_SECURITY_POLICY,
        POLICY,
    ))
}

/// The OpenAPI document (for `igfeed openapi`; the committed
/// `openapi/openapi.json` is this, and a test keeps them equal).
pub fn openapi() -> utoipa::openapi::OpenApi {
    table().split_for_parts().1
}

/// Every route with its OpenAPI description. Admin handlers check the key
/// themselves ([`admin::Admin`]).
fn table() -> OpenApiRouter<AppState> {
    // Refuses a declared-too-large body before reading it, and caps one
    // without a length.
    // Admin answers carry the token: never stored by any cache.
    let admin = admin_routes()
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            MAX_BODY_BYTES,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));
    public_routes().merge(admin)
}

/// `/admin/*`.
fn admin_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(admin::get_admin_token, admin::put_admin_token))
        .routes(routes!(admin::refresh_admin_token))
        .routes(routes!(admin::list_accounts))
        .routes(routes!(admin::put_account, admin::delete_account))
        .routes(routes!(admin::get_account_token))
        .routes(routes!(admin::refresh_account_token))
        .routes(routes!(admin::purge_cache))
}

fn public_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(token::get_token))
        .routes(routes!(token::get_account_token))
        .routes(routes!(demo::demo_page))
        .routes(routes!(media::get_media))
        .routes(routes!(media::get_thumbnail))
        .routes(routes!(feed::get_feed))
        .routes(routes!(feed::get_account_feed))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(ops::metrics))
        .routes(routes!(ops::openapi))
}
