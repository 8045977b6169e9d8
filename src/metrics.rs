//! Prometheus metrics (OpenMetrics text at `/metrics`), one registry per
//! app. Label sets stay bounded: routes are templates (`/media/{id}`), never
//! raw paths; upstream outcomes and Instagram codes come from fixed lists.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, text::encode};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The `Content-Type` of `/metrics`.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub method: &'static str,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpstreamLabels {
    /// `me`, `media`, `media_urls`, `refresh`, `cdn`.
    pub call: &'static str,
    /// `ok` or a [`GraphError::kind`].
    pub outcome: &'static str,
    /// Instagram's error code when one came (from a fixed list), else `none`.
    pub code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: &'static str,
}

/// Every metric of the service. Cheap to clone: one `Arc` (it is cloned
/// per request, and a dozen reference counts bouncing between cores showed
/// up in profiles).
#[derive(Clone)]
pub struct Metrics(Arc<MetricsInner>);

impl std::ops::Deref for Metrics {
    type Target = MetricsInner;

    fn deref(&self) -> &MetricsInner {
        &self.0
    }
}

/// The metric families; reach them through [`Metrics`].
pub struct MetricsInner {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram>,
    pub upstream: Family<UpstreamLabels, Counter>,
    /// Feed lookups by `hit` (cached) or `miss` (an upstream walk ran).
    pub feed_cache: Family<ResultLabels, Counter>,
    /// Per account: seconds since the served feed was fetched.
    pub feed_age: Family<AccountLabels, FloatGauge>,
    /// Per account: 1 when the served feed is stale.
    pub feed_stale: Family<AccountLabels, Gauge>,
    /// Per account: seconds until the token expires (negative once expired).
    pub token_expiry: Family<AccountLabels, FloatGauge>,
    /// Per account: Unix time of the last successful refresh (0: never).
    pub token_refreshed: Family<AccountLabels, FloatGauge>,
    /// Per account: 1 for the token's current status, by status.
    pub token_status: Family<StatusLabels, Gauge>,
    /// Per account: consecutive failed refreshes.
    pub token_refresh_failures: Family<AccountLabels, Gauge>,
    /// Per account: 1 while the token in use is not stored (a write
    /// failed; retried).
    pub token_persist_failed: Family<AccountLabels, Gauge>,
    /// Accounts served.
    pub accounts: Gauge,
    /// 1 while IGFEED_REDIS_URL is set and Redis cannot be reached.
    pub redis_down: Gauge,
    /// Media lookups by `hit` or `miss`.
    pub media_cache: Family<ResultLabels, Counter>,
    /// Media evicted to stay within the byte budget.
    pub media_evictions: Counter,
    /// Bytes held by the media cache.
    pub media_bytes: Gauge,
    /// Resized variants made.
    pub variants_made: Counter,
    /// Time to make a variant (decode, resize, encode), in seconds.
    pub variant_seconds: Histogram,
    /// Bytes saved: the originals' sizes less their variants'.
    pub variant_bytes_saved: Counter,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    pub account: String,
    pub status: &'static str,
}

/// Series of one account (their number grows with the accounts only).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AccountLabels {
    pub account: String,
}

/// A gauge of seconds.
pub type FloatGauge = Gauge<f64, std::sync::atomic::AtomicU64>;

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn latency_histogram() -> Histogram {
    Histogram::new([
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ])
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("igfeed");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route template, method and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to produce the response head, by route template",
            latency.clone(),
        );
        let upstream = Family::<UpstreamLabels, Counter>::default();
        registry.register(
            "upstream_requests",
            "Calls to Instagram by kind and outcome (with Instagram's error code)",
            upstream.clone(),
        );
        let feed_cache = Family::<ResultLabels, Counter>::default();
        registry.register(
            "feed_cache_lookups",
            "Feed lookups: hit (served from cache) or miss (an upstream walk ran)",
            feed_cache.clone(),
        );
        let feed_age = Family::<AccountLabels, FloatGauge>::default();
        registry.register(
            "feed_age_seconds",
            "Seconds since the served feed was fetched from Instagram",
            feed_age.clone(),
        );
        let feed_stale = Family::<AccountLabels, Gauge>::default();
        registry.register(
            "feed_stale",
            "1 when the cached feed is the stale last good copy",
            feed_stale.clone(),
        );
        let token_expiry = Family::<AccountLabels, FloatGauge>::default();
        registry.register(
            "token_expires_in_seconds",
            "Seconds until the access token expires (negative once expired)",
            token_expiry.clone(),
        );
        let token_refreshed = Family::<AccountLabels, FloatGauge>::default();
        registry.register(
            "token_last_refresh_timestamp_seconds",
            "Unix time of the last successful token refresh (0: never)",
            token_refreshed.clone(),
        );
        let token_status = Family::<StatusLabels, Gauge>::default();
        registry.register(
            "token_status",
            "1 for the token's current status",
            token_status.clone(),
        );
        let token_refresh_failures = Family::<AccountLabels, Gauge>::default();
        registry.register(
            "token_refresh_failures",
            "Consecutive failed token refreshes (refresh calls are also counted in upstream_requests{call=\"refresh\"})",
            token_refresh_failures.clone(),
        );
        let token_persist_failed = Family::<AccountLabels, Gauge>::default();
        registry.register(
            "token_persist_failed",
            "1 while the token state in use could not be stored in IGFEED_DATA_DIR (the write is retried)",
            token_persist_failed.clone(),
        );
        let redis_down = Gauge::default();
        registry.register(
            "redis_down",
            "1 while IGFEED_REDIS_URL is set and Redis cannot be reached (replicas serve from memory and refresh nothing)",
            redis_down.clone(),
        );
        let accounts = Gauge::default();
        registry.register(
            "accounts",
            "Accounts served (the account default included)",
            accounts.clone(),
        );
        let media_cache = Family::<ResultLabels, Counter>::default();
        registry.register(
            "media_cache_lookups",
            "Media lookups: hit (served from cache) or miss (fetched from the CDN)",
            media_cache.clone(),
        );
        let media_evictions = Counter::default();
        registry.register(
            "media_cache_evictions",
            "Media evicted to stay within IGFEED_MEDIA_CACHE_SIZE",
            media_evictions.clone(),
        );
        let media_bytes = Gauge::default();
        registry.register(
            "media_cache_bytes",
            "Bytes held by the media cache",
            media_bytes.clone(),
        );
        let variants_made = Counter::default();
        registry.register(
            "media_variants_made",
            "Resized pictures made (each is made once, then cached)",
            variants_made.clone(),
        );
        let variant_seconds =
            Histogram::new([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]);
        registry.register(
            "media_variant_duration_seconds",
            "Time to make a resized picture (decode, resize, encode)",
            variant_seconds.clone(),
        );
        let variant_bytes_saved = Counter::default();
        registry.register(
            "media_variant_bytes_saved",
            "Bytes of the originals less the bytes of the variants made from them",
            variant_bytes_saved.clone(),
        );
        Self(Arc::new(MetricsInner {
            variants_made,
            variant_seconds,
            variant_bytes_saved,
            registry,
            media_cache,
            media_evictions,
            media_bytes,
            token_expiry,
            token_refreshed,
            token_status,
            token_refresh_failures,
            token_persist_failed,
            accounts,
            redis_down,
            requests,
            latency,
            upstream,
            feed_cache,
            feed_age,
            feed_stale,
        }))
    }

    /// Counts one answered request and its latency (`route` is a template).
    pub fn http(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let route = route.to_string();
        self.latency
            .get_or_create(&RouteLabels {
                route: route.clone(),
            })
            .observe(elapsed.as_secs_f64());
        self.requests
            .get_or_create(&RequestLabels {
                route,
                method: method_label(method),
                status,
            })
            .inc();
    }

    /// Counts one upstream call: `call` (`me`, `media`, `refresh`, `cdn` …),
    /// its `outcome` (`ok` or a failure kind) and Instagram's error code.
    pub fn upstream(&self, call: &'static str, outcome: &'static str, code: Option<i64>) {
        self.upstream
            .get_or_create(&UpstreamLabels {
                call,
                outcome,
                code: code_label(code),
            })
            .inc();
    }

    /// Counts one variant made from `original` bytes into `made` bytes.
    pub fn variant_made(&self, took: Duration, original: usize, made: usize) {
        self.variants_made.inc();
        self.variant_seconds.observe(took.as_secs_f64());
        self.variant_bytes_saved
            .inc_by(original.saturating_sub(made) as u64);
    }

    /// The media cache counter for `result` (`hit` or `miss`).
    pub fn media_lookup(&self, result: &'static str) -> Counter {
        self.media_cache
            .get_or_create(&ResultLabels { result })
            .clone()
    }

    /// The OpenMetrics text of every metric (set scrape-time gauges first).
    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// Instagram codes as a bounded label.
fn code_label(code: Option<i64>) -> &'static str {
    match code {
        None => "none",
        Some(1) => "1",
        Some(2) => "2",
        Some(4) => "4",
        Some(10) => "10",
        Some(17) => "17",
        Some(32) => "32",
        Some(100) => "100",
        Some(102) => "102",
        Some(190) => "190",
        Some(613) => "613",
        Some(80002) => "80002",
        Some(200..=299) => "200-299",
        Some(_) => "other",
    }
}

/// Per thread: the request metrics of one [`Metrics`] by route, method
/// and status.
fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        "PATCH" => "PATCH",
        _ => "other",
    }
}
