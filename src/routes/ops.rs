//! `GET /metrics` (Prometheus) and `GET /openapi.json` (this API's spec).

use std::time::SystemTime;

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::metrics::StatusLabels;
use crate::routes::ApiDocument;
use crate::state::AppState;

/// Metrics in the Prometheus/OpenMetrics text format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    // Scrape-time gauges: read the state now rather than tracking it.
    if let Some(current) = state.feed.peek().await {
        let age = SystemTime::now()
            .duration_since(current.snapshot.fetched_at)
            .unwrap_or_default();
        state.metrics.feed_age.set(age.as_secs_f64());
        state.metrics.feed_stale.set(i64::from(current.stale));
    } else if let Some(last) = state.feed.last_good() {
        let age = SystemTime::now()
            .duration_since(last.fetched_at)
            .unwrap_or_default();
        state.metrics.feed_age.set(age.as_secs_f64());
    }
    let m = &state.metrics;
    let now = SystemTime::now();
    let rec = state.tokens.record();
    let status = crate::token::status_of(rec.as_ref(), now);
    for s in ["missing", "valid", "expiring", "expired", "invalid"] {
        let on = serde_json::to_value(status)
            .ok()
            .and_then(|v| v.as_str().map(|v| v == s))
            == Some(true);
        m.token_status
            .get_or_create(&StatusLabels { status: s })
            .set(i64::from(on));
    }
    if let Some(rec) = &rec {
        let left = match rec.expires_at.duration_since(now) {
            Ok(d) => d.as_secs_f64(),
            Err(e) => -e.duration().as_secs_f64(),
        };
        m.token_expiry.set(left);
        let refreshed = rec
            .refreshed_at
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or(0.0, |d| d.as_secs_f64());
        m.token_refreshed.set(refreshed);
    }
    m.token_refresh_failures
        .set(i64::from(state.tokens.refresh_failures()));
    m.token_persist_failed
        .set(i64::from(state.tokens.persist_failure().is_some()));
    m.media_bytes
        .set(i64::try_from(state.media.cached_bytes().await).unwrap_or(i64::MAX));
    let mut res = state.metrics.render().into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
    );
    res
}

/// The OpenAPI 3.1 document of this API (also committed as `openapi/openapi.json`).
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object)))]
pub async fn openapi(Extension(document): Extension<ApiDocument>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        document.0,
    )
        .into_response()
}
