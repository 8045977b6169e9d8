//! The CDN client: fetches media bytes from Instagram's CDN, only from
//! hosts in `IGFEED_MEDIA_HOSTS` (redirects included), only images and
//! videos, and tells an expired signed URL from other failures.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::Semaphore;

use url::Url;

use super::MediaError;
use crate::config::HostList;
use crate::graph;
use crate::metrics::Metrics;

/// Time allowed to connect to the CDN.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Redirects followed at most (each to an allowed host).
const MAX_REDIRECTS: usize = 3;

/// Image types passed on: raster formats only. SVG (which can carry
/// script) and anything else but video is refused.
const RASTER_IMAGES: [&str; 6] = [
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/gif",
    "image/avif",
    "image/heic",
];

/// An HTTP client for the CDN. Cheap to clone.
#[derive(Clone, Debug)]
pub struct CdnClient {
    http: reqwest::Client,
    hosts: HostList,
    metrics: Metrics,
    /// The bound on upstream calls in flight (shared with the Graph client).
    limit: Arc<Semaphore>,
}

impl CdnClient {
    /// Shares `limit`, the bound on upstream calls in flight.
    pub fn with_limit(mut self, limit: Arc<Semaphore>) -> Self {
        self.limit = limit;
        self
    }

    /// A client that reads each body chunk within `timeout`.
    pub fn new(
        hosts: HostList,
        timeout: Duration,
        metrics: Metrics,
    ) -> Result<Self, reqwest::Error> {
        let redirect_hosts = hosts.clone();
        let http = reqwest::Client::builder()
            .user_agent(graph::user_agent())
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(timeout)
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                let ok = attempt.previous().len() < MAX_REDIRECTS
                    && url_allowed(&redirect_hosts, attempt.url());
                if ok { attempt.follow() } else { attempt.stop() }
            }))
            .build()?;
        Ok(Self {
            http,
            hosts,
            metrics,
            limit: Arc::new(Semaphore::new(graph::UPSTREAM_CONCURRENCY)),
        })
    }

    /// GETs `url` (with `range` passed on): a success, a 416, or why not.
    pub async fn get(
        &self,
        url: &str,
        range: Option<&str>,
    ) -> Result<reqwest::Response, MediaError> {
        let parsed = Url::parse(url).map_err(|_| MediaError::HostNotAllowed)?;
        if !url_allowed(&self.hosts, &parsed) {
            tracing::warn!(
                host = parsed.host_str().unwrap_or(""),
                "media URL host not allowed"
            );
            self.metrics.upstream("cdn", "refused", None);
            return Err(MediaError::HostNotAllowed);
        }
        let mut req = self.http.get(parsed);
        if let Some(range) = range {
            req = req.header(reqwest::header::RANGE, range);
        }
        // Held until the answer's head arrives; the body is read (or
        // streamed to the client) after, so a slow viewer of a long video
        // never holds up other calls.
        let permit = self.limit.acquire().await;
        let res = req.send().await;
        drop(permit);
        let res = res.map_err(|e| {
            self.metrics.upstream("cdn", "transient", None);
            if e.is_timeout() {
                MediaError::Timeout
            } else {
                MediaError::Unreachable(graph::describe(&e))
            }
        })?;
        let status = res.status();
        if !(status.is_success() || status == reqwest::StatusCode::RANGE_NOT_SATISFIABLE) {
            let error = MediaError::Upstream {
                status: status.as_u16(),
            };
            if !error.is_expired_url() {
                self.metrics.upstream("cdn", "transient", None);
            }
            return Err(error);
        }
        let content_type = res
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !is_served_type(content_type) {
            self.metrics.upstream("cdn", "refused", None);
            return Err(MediaError::NotMedia(if content_type.is_empty() {
                "no content type".into()
            } else {
                content_type.chars().take(64).collect()
            }));
        }
        self.metrics.upstream("cdn", "ok", None);
        Ok(res)
    }

    /// Counts a URL found expired (by its `oe` or by the CDN's answer).
    pub fn count_expired(&self) {
        self.metrics.upstream("cdn", "expired", None);
    }
}

/// Whether `content_type` is a raster image or a video.
fn is_served_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    RASTER_IMAGES.contains(&essence.as_str())
        || essence
            .strip_prefix("video/")
            .is_some_and(|subtype| !subtype.is_empty())
}

/// Whether `url` is http(s) on an allowed host.
fn url_allowed(hosts: &HostList, url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| hosts.allows(h))
}

/// Whether a signed CDN URL is past its `oe` (hex Unix seconds) expiry.
pub fn url_expired(url: &str) -> bool {
    let Ok(url) = Url::parse(url) else {
        return false;
    };
    let oe = url
        .query_pairs()
        .find(|(k, _)| k == "oe")
        .and_then(|(_, v)| u64::from_str_radix(&v, 16).ok());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    oe.is_some_and(|oe| oe <= now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_read_from_oe() {
        assert!(url_expired(
            "https://scontent.cdninstagram.com/v/x.jpg?oe=5F000000&oh=1"
        ));
        assert!(!url_expired(
            "https://scontent.cdninstagram.com/v/x.jpg?oe=FFFFFFFF&oh=1"
        ));
        assert!(!url_expired("https://scontent.cdninstagram.com/v/x.jpg"));
    }

    #[test]
    fn only_allowed_hosts_over_http() {
        let hosts = HostList(vec!["cdninstagram.com".into()]);
        let ok = |u: &str| url_allowed(&hosts, &Url::parse(u).unwrap());
        assert!(ok("https://scontent-ams2-1.cdninstagram.com/a.jpg"));
        assert!(!ok("https://evil.example/a.jpg"));
        assert!(!ok("ftp://scontent.cdninstagram.com/a.jpg"));
        assert!(!ok("https://cdninstagram.com.evil.example/a.jpg"));
    }

    #[test]
    fn only_raster_images_and_video_are_passed_on() {
        for ok in ["image/jpeg", "IMAGE/PNG", "image/webp; q=1", "video/mp4"] {
            assert!(is_served_type(ok), "{ok}");
        }
        for refused in [
            "image/svg+xml",
            "text/html",
            "",
            "video/",
            "application/json",
        ] {
            assert!(!is_served_type(refused), "{refused}");
        }
    }
}
