//! `GET /metrics` (Prometheus) and `GET /openapi.json` (this API's spec).

use std::time::SystemTime;

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::metrics::{AccountLabels, StatusLabels};
use crate::routes::ApiDocument;
use crate::state::AppState;

/// Metrics in the Prometheus/OpenMetrics text format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    // Scrape-time gauges: read the state now rather than tracking it.
    // Cleared first, so a removed account's series go with it.
    let m = &state.metrics;
    m.feed_age.clear();
    m.feed_stale.clear();
    m.token_status.clear();
    m.token_expiry.clear();
    m.token_refreshed.clear();
    m.token_refresh_failures.clear();
    m.token_persist_failed.clear();
    let now = SystemTime::now();
    let accounts = state.accounts.list();
    m.accounts
        .set(i64::try_from(accounts.len()).unwrap_or(i64::MAX));
    for account in &accounts {
        let label = AccountLabels {
            account: account.name.to_string(),
        };
        let current = state.feed.peek(&account.name).await;
        let fetched = match &current {
            Some(current) => Some(current.snapshot.fetched_at),
            None => account.feed.last_good().map(|s| s.fetched_at),
        };
        if let Some(fetched) = fetched {
            let age = now.duration_since(fetched).unwrap_or_default();
            m.feed_age.get_or_create(&label).set(age.as_secs_f64());
            let stale = current.is_some_and(|c| c.stale);
            m.feed_stale.get_or_create(&label).set(i64::from(stale));
        }
        let rec = account.tokens.record();
        let status = crate::token::status_of(rec.as_ref(), now);
        for s in ["missing", "valid", "expiring", "expired", "invalid"] {
            let on = serde_json::to_value(status)
                .ok()
                .and_then(|v| v.as_str().map(|v| v == s))
                == Some(true);
            m.token_status
                .get_or_create(&StatusLabels {
                    account: label.account.clone(),
                    status: s,
                })
                .set(i64::from(on));
        }
        if let Some(rec) = &rec {
            let left = match rec.expires_at.duration_since(now) {
                Ok(d) => d.as_secs_f64(),
                Err(e) => -e.duration().as_secs_f64(),
            };
            m.token_expiry.get_or_create(&label).set(left);
            let refreshed = rec
                .refreshed_at
                .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                .map_or(0.0, |d| d.as_secs_f64());
            m.token_refreshed.get_or_create(&label).set(refreshed);
        }
        m.token_refresh_failures
            .get_or_create(&label)
            .set(i64::from(account.tokens.refresh_failures()));
        m.token_persist_failed
            .get_or_create(&label)
            .set(i64::from(account.tokens.persist_failure().is_some()));
    }
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
