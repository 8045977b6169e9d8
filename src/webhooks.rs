//! Webhook delivery: every POST is JSON with `X-Igfeed-Event` and, when
//! `IGFEED_WEBHOOK_SECRET` is set, `X-Igfeed-Signature: sha256=<hex
//! HMAC-SHA256 of the body>`. Each webhook URL has its own sender task that
//! retries with backoff, so whatever queues an event never waits.
//!
//! Events: the alerts (see [`crate::alerts`]) and `feed.updated` (see
//! [`FeedUpdated`]).

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use tokio::sync::{mpsc, watch};

use crate::config::Secret;

/// An event a webhook carries.
pub trait Event: Serialize + Send + 'static {
    /// Its name, sent as `X-Igfeed-Event`.
    fn name(&self) -> &str;
}

/// How deliveries are retried.
#[derive(Clone, Copy, Debug)]
pub struct Retry {
    /// Attempts per event.
    pub attempts: u32,
    /// First delay between attempts (doubles).
    pub base: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            attempts: 6,
            base: Duration::from_secs(2),
        }
    }
}

/// `sha256=` and the hex HMAC-SHA256 of `body` under `secret`.
pub fn signature(secret: &Secret, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// A fetched feed whose posts (or their captions) differ from the
/// previous good feed of the same account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FeedUpdated {
    /// Always `feed.updated`.
    #[schema(example = "feed.updated")]
    pub event: &'static str,
    #[schema(example = "default")]
    pub account: String,
    /// Ids of posts that are new.
    pub added: Vec<String>,
    /// Ids of posts that are gone.
    pub removed: Vec<String>,
    /// Ids of posts whose caption changed.
    pub changed: Vec<String>,
    /// When the new feed was fetched (RFC 3339, UTC).
    #[schema(example = "2026-11-28T12:00:00Z")]
    pub fetched_at: String,
}

impl Event for FeedUpdated {
    fn name(&self) -> &str {
        self.event
    }
}

impl FeedUpdated {
    /// What changed from `before` to `after` (posts and captions); `None`
    /// when nothing did. Without a previous feed every post is new.
    pub fn between(
        account: &str,
        before: Option<&crate::feed::Snapshot>,
        after: &crate::feed::Snapshot,
    ) -> Option<Self> {
        let old: std::collections::HashMap<&str, &Option<String>> = before
            .map(|b| {
                b.media
                    .iter()
                    .map(|m| (m.id.as_str(), &m.caption))
                    .collect()
            })
            .unwrap_or_default();
        let new: std::collections::HashSet<&str> =
            after.media.iter().map(|m| m.id.as_str()).collect();
        let mut added = Vec::new();
        let mut changed = Vec::new();
        for m in &after.media {
            match old.get(m.id.as_str()) {
                None => added.push(m.id.clone()),
                Some(caption) if **caption != m.caption => changed.push(m.id.clone()),
                Some(_) => {}
            }
        }
        let removed: Vec<String> = before
            .map(|b| {
                b.media
                    .iter()
                    .filter(|m| !new.contains(m.id.as_str()))
                    .map(|m| m.id.clone())
                    .collect()
            })
            .unwrap_or_default();
        if added.is_empty() && removed.is_empty() && changed.is_empty() {
            return None;
        }
        Some(Self {
            event: "feed.updated",
            account: account.to_string(),
            added,
            removed,
            changed,
            fetched_at: humantime::format_rfc3339_seconds(after.fetched_at).to_string(),
        })
    }
}

/// Delivers the events of `rx` to `url` until `shutdown`, each with up to
/// `retry.attempts` tries, signed with `secret` when there is one.
pub async fn deliver<E: Event>(
    url: url::Url,
    secret: Option<Secret>,
    mut rx: mpsc::Receiver<E>,
    retry: Retry,
    mut shutdown: watch::Receiver<bool>,
) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .user_agent(crate::graph::user_agent())
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %crate::graph::describe(&e), "webhook sender could not start");
            return;
        }
    };
    loop {
        let event = tokio::select! {
            e = rx.recv() => match e { Some(e) => e, None => return },
            _ = shutdown.wait_for(|s| *s) => {
                tracing::info!("webhook sender stopped (shutdown)");
                return;
            }
        };
        let name = event.name().to_string();
        let body = match serde_json::to_vec(&event) {
            Ok(body) => body,
            Err(e) => {
                tracing::error!(event = %name, error = %e, "webhook event not serializable");
                continue;
            }
        };
        let signed = secret.as_ref().map(|s| signature(s, &body));
        let mut delay = retry.base;
        for attempt in 1..=retry.attempts {
            let mut req = client
                .post(url.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header("x-igfeed-event", &name)
                .body(body.clone());
            if let Some(sig) = &signed {
                req = req.header("x-igfeed-signature", sig);
            }
            match req.send().await {
                Ok(res) if res.status().is_success() => {
                    tracing::info!(event = %name, "webhook delivered");
                    break;
                }
                Ok(res) => {
                    tracing::warn!(event = %name, attempt, status = res.status().as_u16(), "webhook refused the event")
                }
                Err(e) => {
                    tracing::warn!(event = %name, attempt, error = %crate::graph::describe(&e), "webhook unreachable")
                }
            }
            if attempt == retry.attempts {
                tracing::error!(event = %name, "webhook event given up after {attempt} attempts");
                break;
            }
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
            delay = delay.saturating_mul(2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231, test case 2.
    #[test]
    fn signatures_are_hmac_sha256() {
        let sig = signature(&Secret::new("Jefe"), b"what do ya want for nothing?");
        assert_eq!(
            sig,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
