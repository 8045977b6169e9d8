//! The typed Instagram Graph API client: token
//! refresh, the account, its recent media (paging followed), and fresh URLs
//! for one media. Errors are classified by Instagram's `error.code`, bodies
//! are capped in size, and no URL (which carries the token) ever reaches an
//! error message or a log line.

mod error;
pub mod login;
mod types;
mod wire;

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderValue, USER_AGENT};
use tokio::sync::Semaphore;
use url::Url;

use crate::config::Secret;
use crate::metrics::Metrics;
use error::{BodyError, read_capped};
pub use error::{GraphError, describe, redact};
pub use types::{Account, Media, MediaChild, MediaType, MediaUrls};

/// Time allowed to open a connection to the Graph API.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest Graph API answer read; larger ones are an error, not a memory hog.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Most media requested per page (Instagram accepts up to 100).
pub const MAX_PAGE_SIZE: usize = 100;
/// Most pages followed in one walk, so a misbehaving `next` chain ends.
pub const MAX_PAGES: usize = 50;
/// Upstream calls (Graph API and CDN together) in flight at once, by
/// default (`IGFEED_UPSTREAM_CONCURRENCY`).
pub const UPSTREAM_CONCURRENCY: usize = 16;

/// Fields of a media list call; children come in the same call.
const MEDIA_FIELDS: &str = "id,caption,alt_text,media_type,media_url,permalink,thumbnail_url,timestamp,username,children{id,media_type,media_url,thumbnail_url,alt_text}";
const ME_FIELDS: &str = "user_id,username";

/// The `User-Agent` sent upstream.
pub fn user_agent() -> &'static str {
    concat!("igfeed/", env!("CARGO_PKG_VERSION"))
}

/// A token as Instagram returned it from a refresh.
#[derive(Debug, Clone)]
pub struct RefreshedToken {
    pub access_token: Secret,
    /// Seconds until expiry, when Instagram said.
    pub expires_in: Option<u64>,
}

impl wire::WireToken {
    /// The token of a refresh or exchange answer (`what`, for the error),
    /// unless it is empty.
    fn checked(self, what: &str) -> Result<RefreshedToken, GraphError> {
        if self.access_token.trim().is_empty() {
            return Err(GraphError::BadResponse(format!(
                "empty access_token in {what}"
            )));
        }
        Ok(RefreshedToken {
            access_token: Secret::new(self.access_token),
            expires_in: self.expires_in,
        })
    }
}

/// The Graph API client. Cheap to clone.
#[derive(Clone, Debug)]
pub struct GraphClient {
    http: reqwest::Client,
    base: Url,
    version: String,
    metrics: Option<Metrics>,
    /// Bounds the upstream calls in flight; shared with the CDN client.
    limit: Arc<Semaphore>,
}

impl GraphClient {
    /// A client for `base` (e.g. `https://graph.instagram.com`), pinned to
    /// `version` for data calls, with `timeout` for each whole call.
    pub fn new(base: Url, version: &str, timeout: Duration) -> Result<Self, reqwest::Error> {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(USER_AGENT, HeaderValue::from_static(user_agent()));
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(timeout)
            // Graph answers never redirect; a redirect would carry the token elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            http,
            base,
            version: version.to_string(),
            metrics: None,
            limit: Arc::new(Semaphore::new(UPSTREAM_CONCURRENCY)),
        })
    }

    /// Allows at most `n` upstream calls in flight at once (this client's
    /// and those of every client given [`Self::limit`]).
    pub fn with_concurrency(mut self, n: usize) -> Self {
        self.limit = Arc::new(Semaphore::new(n.max(1)));
        self
    }

    /// The bound on upstream calls, to share with the CDN client.
    pub fn limit(&self) -> Arc<Semaphore> {
        self.limit.clone()
    }

    /// Counts every call by kind and outcome in `metrics`.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    fn url(&self, versioned: bool, path: &str, query: &[(&str, &str)], token: &Secret) -> Url {
        let mut url = self.base.clone();
        {
            let mut segs = url.path_segments_mut().expect("http base URL has a path");
            segs.pop_if_empty();
            if versioned {
                segs.push(&self.version);
            }
            for seg in path.split('/') {
                segs.push(seg);
            }
        }
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in query {
                q.append_pair(k, v);
            }
            q.append_pair("access_token", token.expose());
        }
        url
    }

    /// The account the token belongs to; also how a new token is validated.
    pub async fn me(&self, token: &Secret) -> Result<Account, GraphError> {
        let url = self.url(true, "me", &[("fields", ME_FIELDS)], token);
        let me: wire::MeAnswer = self.get_json("me", url, token).await?;
        me.into_account()
            .ok_or_else(|| GraphError::BadResponse("no user id in /me answer".into()))
    }

    /// Up to `count` most recent media, newest first, following `next` links
    /// until there are enough or there is no next page.
    pub async fn recent_media(
        &self,
        token: &Secret,
        count: usize,
    ) -> Result<Vec<Media>, GraphError> {
        let limit = count.clamp(1, MAX_PAGE_SIZE).to_string();
        let mut url = self.url(
            true,
            "me/media",
            &[("fields", MEDIA_FIELDS), ("limit", &limit)],
            token,
        );
        let mut out: Vec<Media> = Vec::with_capacity(count);
        for _ in 0..MAX_PAGES {
            let page: wire::Page = self.get_json("media", url, token).await?;
            out.extend(page.data.into_iter().filter_map(wire::checked));
            if out.len() >= count {
                break;
            }
            match page.paging.and_then(|p| p.next) {
                Some(next) => url = self.checked_next(&next)?,
                None => break,
            }
        }
        out.truncate(count);
        Ok(out)
    }

    /// Current CDN URLs of one post or carousel child.
    pub async fn media_urls(&self, token: &Secret, id: &str) -> Result<MediaUrls, GraphError> {
        if !is_media_id(id) {
            return Err(GraphError::BadRequest {
                code: 100,
                message: "malformed media id".into(),
            });
        }
        let url = self.url(true, id, &[("fields", "media_url,thumbnail_url")], token);
        let urls: wire::WireUrls = self.get_json("media_urls", url, token).await?;
        Ok(urls.into())
    }

    /// Exchanges a long-lived token for a fresh one (unversioned path).
    pub async fn refresh(&self, token: &Secret) -> Result<RefreshedToken, GraphError> {
        let url = self.url(
            false,
            "refresh_access_token",
            &[("grant_type", "ig_refresh_token")],
            token,
        );
        let t: wire::WireToken = self.get_json("refresh", url, token).await?;
        t.checked("refresh answer")
    }

    /// `next` links come from Instagram and carry the token; only follow
    /// them to the Graph API's own origin.
    fn checked_next(&self, next: &str) -> Result<Url, GraphError> {
        let url = Url::parse(next)
            .map_err(|_| GraphError::BadResponse("paging.next is not a URL".into()))?;
        if url.origin() != self.base.origin() {
            return Err(GraphError::BadResponse(
                "paging.next points away from the Graph API".into(),
            ));
        }
        Ok(url)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        call: &'static str,
        url: Url,
        token: &Secret,
    ) -> Result<T, GraphError> {
        let result = self.call_json(url, token).await;
        if let Some(m) = &self.metrics {
            match &result {
                Ok(_) => m.upstream(call, "ok", None),
                Err(e) => m.upstream(call, e.kind(), e.code()),
            }
        }
        result
    }

    async fn call_json<T: serde::de::DeserializeOwned>(
        &self,
        url: Url,
        token: &Secret,
    ) -> Result<T, GraphError> {
        let scrub = |s: String| redact(&s, token);
        // Held until the whole answer is read: at most the configured
        // number of calls are in flight, whichever account they are for.
        let _permit = self
            .limit
            .acquire()
            .await
            .map_err(|_| GraphError::Transient("shutting down".into()))?;
        let res = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| GraphError::Transient(scrub(describe(&e))))?;
        let status = res.status();
        let body = read_capped(res, MAX_BODY_BYTES)
            .await
            .map_err(|e| match e {
                BodyError::TooLarge => {
                    GraphError::BadResponse(format!("answer larger than {MAX_BODY_BYTES} bytes"))
                }
                BodyError::Read(e) => GraphError::Transient(scrub(e)),
            })?;
        decode_answer(status.as_u16(), &body, token)
    }
}

/// Turns one Graph API answer (status and body) into a value or a
/// classified error, with the token scrubbed from every message. Public so
/// that property tests can throw arbitrary answers at it.
pub fn decode_answer<T: serde::de::DeserializeOwned>(
    status: u16,
    body: &[u8],
    token: &Secret,
) -> Result<T, GraphError> {
    let scrub = |s: String| redact(&s, token);
    let server_error = (500..600).contains(&status);
    // Branch on Instagram's code, not the HTTP status: throttling has
    // come as 400, 403 and 429.
    if let Ok(wire::Envelope { error: Some(err) }) = serde_json::from_slice(body) {
        let message = scrub(err.message);
        return Err(match err.code {
            Some(code) => {
                let e = GraphError::from_code(code, message);
                if let GraphError::BadRequest { code, message } = &e {
                    tracing::error!(code, subcode = ?err.error_subcode, %message, "Instagram refused a request igfeed made");
                }
                e
            }
            None if server_error => GraphError::Transient(message),
            None => GraphError::BadRequest { code: 0, message },
        });
    }
    if server_error || status == 429 {
        return Err(GraphError::Transient(format!("HTTP {status}")));
    }
    if !(200..300).contains(&status) {
        return Err(GraphError::Transient(format!(
            "HTTP {status} without an error body"
        )));
    }
    serde_json::from_slice(body).map_err(|e| {
        GraphError::BadResponse(format!(
            "undecodable JSON at line {} column {}",
            e.line(),
            e.column()
        ))
    })
}

/// Decodes one page of `/me/media` into media (for property tests).
pub fn decode_media_page(
    status: u16,
    body: &[u8],
    token: &Secret,
) -> Result<Vec<Media>, GraphError> {
    decode_answer::<wire::Page>(status, body, token)
        .map(|p| p.data.into_iter().filter_map(wire::checked).collect())
}

/// Whether `id` has the form of an Instagram media id (digits, at most
/// 64): checked before an id from Instagram goes into a link, and before an
/// id from a client reaches a URL or a lookup.
pub fn is_media_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `url` is a post's page on Instagram, the only kind of permalink
/// passed on (a feed's links end up in other sites' pages).
pub fn is_permalink(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| {
        u.scheme() == "https"
            && u.host_str() == Some("www.instagram.com")
            && u.port().is_none()
            && u.username().is_empty()
            && u.password().is_none()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_ids_and_foreign_permalinks_never_reach_a_feed() {
        let body = br#"{"data": [
            {"id": "17900000000000001", "media_type": "IMAGE",
             "permalink": "https://www.instagram.com/p/ABC/"},
            {"id": "../../admin", "media_type": "IMAGE"},
            {"id": "17900000000000002", "media_type": "IMAGE",
             "permalink": "javascript:alert(1)"},
            {"id": "17900000000000003", "media_type": "CAROUSEL_ALBUM",
             "permalink": "https://www.instagram.com.evil.example/p/X/",
             "children": {"data": [{"id": "17900000000000004"}, {"id": "4<script>"}]}}
        ]}"#;
        let media = decode_media_page(200, body, &Secret::new("t")).unwrap();
        let ids: Vec<_> = media.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "17900000000000001",
                "17900000000000002",
                "17900000000000003"
            ]
        );
        assert_eq!(
            media[0].permalink.as_deref(),
            Some("https://www.instagram.com/p/ABC/")
        );
        assert_eq!(media[1].permalink, None);
        assert_eq!(media[2].permalink, None);
        let children = media[2].children.as_ref().unwrap();
        assert_eq!(children.len(), 1);
        assert_eq!(children[0].id, "17900000000000004");
    }

    #[test]
    fn codes_are_classified_as_instagram_documents() {
        let k = |c| GraphError::from_code(c, String::new()).kind();
        assert_eq!(k(190), "token_invalid");
        assert_eq!(k(102), "token_invalid");
        assert_eq!(k(10), "token_invalid");
        assert_eq!(k(200), "token_invalid");
        assert_eq!(k(299), "token_invalid");
        for c in [4, 17, 32, 613, 80002] {
            assert_eq!(k(c), "throttled");
        }
        assert_eq!(k(1), "transient");
        assert_eq!(k(2), "transient");
        assert_eq!(k(100), "bad_request");
    }

    #[test]
    fn urls_are_versioned_except_token_calls() {
        let c = GraphClient::new(
            Url::parse("http://127.0.0.1:1/").unwrap(),
            "v25.0",
            Duration::from_secs(1),
        )
        .unwrap();
        let t = Secret::new("T");
        assert_eq!(
            c.url(true, "me/media", &[("limit", "5")], &t).as_str(),
            "http://127.0.0.1:1/v25.0/me/media?limit=5&access_token=T"
        );
        assert_eq!(
            c.url(false, "refresh_access_token", &[], &t).path(),
            "/refresh_access_token"
        );
    }

    #[test]
    fn next_links_must_stay_on_the_graph_origin() {
        let c = GraphClient::new(
            Url::parse("http://127.0.0.1:1").unwrap(),
            "v25.0",
            Duration::from_secs(1),
        )
        .unwrap();
        assert!(
            c.checked_next("http://127.0.0.1:1/v25.0/me/media?after=x")
                .is_ok()
        );
        assert!(
            c.checked_next("http://evil.example/v25.0/me/media")
                .is_err()
        );
        assert!(c.checked_next("not a url").is_err());
    }
}
