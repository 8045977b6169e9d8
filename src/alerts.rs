//! Alerts for a person (`IGFEED_ALERT_WEBHOOK`): a watchdog evaluates the
//! conditions that only a person can fix — refresh failing, token invalid or
//! expiring, token not stored, feed stale too long — on every token change
//! (a failed or recovered write of the token state counts as one) and on a
//! tick, and posts each condition once when it starts and once when it is
//! resolved. A separate sender task ([`crate::webhooks::deliver`]) delivers
//! with retries, so nothing else ever waits. With replicas, the replica
//! holding an account's refresh lease speaks for it (see
//! [`crate::store::TokenStore::speaks`]).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::sync::{mpsc, watch};

use crate::accounts::{Account, AccountName, Accounts};
use crate::token::{TokenRecord, TokenStatus, status_of};

/// Thresholds of the watchdog.
#[derive(Clone, Copy, Debug)]
pub struct AlertSettings {
    /// How often the conditions are evaluated besides token changes.
    pub every: Duration,
    /// Alert once the served feed has been stale this long.
    pub stale_after: Duration,
    /// Alert after this many consecutive failed refreshes.
    pub failed_refreshes: u32,
    /// Delivery attempts per alert.
    pub attempts: u32,
    /// First delay between attempts (doubles).
    pub retry_base: Duration,
}

impl Default for AlertSettings {
    fn default() -> Self {
        Self {
            every: Duration::from_secs(60),
            stale_after: Duration::from_secs(3600),
            failed_refreshes: 3,
            attempts: 6,
            retry_base: Duration::from_secs(2),
        }
    }
}

/// A condition that needs a person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    RefreshFailing,
    TokenInvalid,
    TokenExpiring,
    PersistFailed,
    FeedStale,
}

/// The JSON posted to the webhook.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Alert {
    /// The account the alert is about.
    #[schema(example = "default")]
    pub account: String,
    /// `refresh_failing`, `token_invalid`, `token_expiring`,
    /// `persist_failed`, `feed_stale`, or `recovered` when the condition
    /// named in `resolves` is fixed.
    pub event: String,
    /// The condition a `recovered` event resolves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolves: Option<String>,
    /// What happened and what to do, for a person.
    pub message: String,
    pub token_status: TokenStatus,
    pub expires_at: Option<String>,
    /// When the alert was raised (RFC 3339, UTC).
    pub time: String,
}

impl crate::webhooks::Event for Alert {
    fn name(&self) -> &str {
        &self.event
    }
}

fn name(c: Condition) -> String {
    serde_json::to_value(c)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The `token_expiring` message: how long is left, or that the token has
/// already expired.
fn expiring_message(rec: Option<&TokenRecord>, put: &str, now: SystemTime) -> String {
    let Some(rec) = rec else {
        return String::new();
    };
    let at = humantime::format_rfc3339_seconds(rec.expires_at);
    match rec.expires_at.duration_since(now) {
        Ok(left) => format!(
            "the access token expires in {} (at {at}) and has not been refreshed; check the refresh errors or put a new token with {put}",
            humantime::format_duration(Duration::from_secs(left.as_secs()))
        ),
        Err(_) if rec.expiry_known => format!(
            "the access token expired at {at}; Instagram no longer accepts it, so put a new one with {put} — the site shows the last good feed meanwhile"
        ),
        Err(_) => format!(
            "the access token is past its assumed 60-day lifetime ({at}) and has not been refreshed; it may have expired: check the refresh errors or put a new token with {put}"
        ),
    }
}

/// How a person puts a new token for `account`.
fn put_hint(account: &AccountName) -> String {
    format!("PUT /admin/accounts/{account}")
}

/// The watchdog: evaluates conditions of every account and queues alerts.
pub struct Watchdog {
    accounts: Arc<Accounts>,
    settings: AlertSettings,
    active: HashSet<(AccountName, Condition)>,
    out: mpsc::Sender<Alert>,
}

impl Watchdog {
    pub fn new(accounts: Arc<Accounts>, settings: AlertSettings, out: mpsc::Sender<Alert>) -> Self {
        Self {
            accounts,
            settings,
            active: HashSet::new(),
            out,
        }
    }

    /// Which conditions hold for `account` at `now`, each with its message.
    pub fn conditions(&self, account: &Account, now: SystemTime) -> Vec<(Condition, String)> {
        let mut out = Vec::new();
        let tokens = &account.tokens;
        let put = put_hint(&account.name);
        let rec = tokens.record();
        let status = status_of(rec.as_ref(), now);
        let failures = tokens.refresh_failures();
        if failures >= self.settings.failed_refreshes {
            let error = rec
                .as_ref()
                .and_then(|r| r.last_error.clone())
                .unwrap_or_default();
            out.push((Condition::RefreshFailing, format!(
                "refreshing the Instagram token has failed {failures} times in a row ({error}); igfeed keeps retrying with the working token"
            )));
        }
        if status == TokenStatus::Invalid {
            let reason = rec
                .as_ref()
                .and_then(|r| r.invalid.clone())
                .unwrap_or_default();
            out.push((Condition::TokenInvalid, format!(
                "Instagram rejected the access token ({reason}); put a new one with {put} — the site shows the last good feed meanwhile"
            )));
        }
        if matches!(status, TokenStatus::Expiring | TokenStatus::Expired) {
            out.push((
                Condition::TokenExpiring,
                expiring_message(rec.as_ref(), &put, now),
            ));
        }
        if let Some(failed) = tokens.persist_failure() {
            out.push((Condition::PersistFailed, format!(
                "the token in use could not be stored in {} since {} ({}; attempts: {}); igfeed keeps it in memory and retries the write — free disk space or make the directory writable (or bring Redis back): a restart before the write succeeds would load the previous token, which Instagram may already have invalidated",
                tokens.store_name(),
                humantime::format_rfc3339_seconds(failed.since),
                failed.error,
                failed.failures
            )));
        }
        // The feed's own record of its loads, not the cache entry (which
        // lives only for the TTL): a quiet site keeps its state between
        // visits.
        if let Some(failing_since) = account.feed.failing_since()
            && let Some(last) = account.feed.last_good()
        {
            let age = now.duration_since(last.fetched_at).unwrap_or_default();
            if age >= self.settings.stale_after {
                out.push((Condition::FeedStale, format!(
                    "the feed could not be fetched from Instagram for {} (failing since {}); the last good feed is being served",
                    humantime::format_duration(Duration::from_secs(age.as_secs())),
                    humantime::format_rfc3339_seconds(failing_since)
                )));
            }
        }
        out
    }

    /// One evaluation: queues an alert for each new condition and a
    /// recovery for each resolved one. Never waits for delivery.
    pub async fn check(&mut self, now: SystemTime) {
        let time = humantime::format_rfc3339_seconds(now).to_string();
        let mut queue = Vec::new();
        // Another replica speaks for the accounts whose lease it holds.
        let accounts: Vec<_> = self
            .accounts
            .list()
            .into_iter()
            .filter(|a| a.tokens.speaks())
            .collect();
        for account in &accounts {
            let holding = self.conditions(account, now);
            let rec = account.tokens.record();
            let status = status_of(rec.as_ref(), now);
            let expires_at = rec
                .as_ref()
                .map(|r| humantime::format_rfc3339_seconds(r.expires_at).to_string());
            let alert = |event: String, resolves: Option<String>, message: String| Alert {
                account: account.name.to_string(),
                event,
                resolves,
                message,
                token_status: status,
                expires_at: expires_at.clone(),
                time: time.clone(),
            };
            for (c, message) in &holding {
                if self.active.insert((account.name.clone(), *c)) {
                    tracing::warn!(account = %account.name, condition = name(*c), %message, "alert");
                    queue.push(alert(name(*c), None, message.clone()));
                }
            }
            let resolved: Vec<Condition> = self
                .active
                .iter()
                .filter(|(a, c)| a == &account.name && !holding.iter().any(|(h, _)| h == c))
                .map(|(_, c)| *c)
                .collect();
            for c in resolved {
                self.active.remove(&(account.name.clone(), c));
                tracing::info!(account = %account.name, condition = name(c), "alert resolved");
                queue.push(alert(
                    "recovered".into(),
                    Some(name(c)),
                    format!("resolved: {}", name(c).replace('_', " ")),
                ));
            }
        }
        // A removed account's conditions end with it, without an alert (and
        // so do those of an account another replica now speaks for).
        self.active
            .retain(|(a, _)| accounts.iter().any(|acc| &acc.name == a));
        for a in queue {
            if self.out.try_send(a).is_err() {
                tracing::warn!("alert queue full; an alert was dropped");
            }
        }
    }

    /// Evaluates on every token change and every `settings.every`.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut changes = self.accounts.subscribe_tokens();
        let mut tick = tokio::time::interval(self.settings.every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                changed = changes.changed() => if changed.is_err() { return },
                _ = shutdown.wait_for(|s| *s) => {
                    tracing::info!("alert watchdog stopped (shutdown)");
                    return;
                }
            }
            self.check(SystemTime::now()).await;
        }
    }
}
