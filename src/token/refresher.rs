//! The background refresher: one scheduler for every account, a loop of
//! `select! { next due, a token changed, shutdown }` around
//! [`refresh_step`], which does exactly one step so tests can drive it
//! directly.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use rand::Rng;
use tokio::sync::watch;

use super::{ASSUMED_LIFETIME, TokenManager, TokenRecord};
use crate::accounts::{Account, AccountName, Accounts};
use crate::config::Secret;
use crate::graph::{GraphClient, GraphError};

/// First retry delay after a failed refresh; doubles per failure.
pub const BACKOFF_BASE: Duration = Duration::from_secs(30);
/// Longest retry delay.
pub const BACKOFF_MAX: Duration = Duration::from_secs(3600);
/// Shortest retry delay (however close the expiry).
pub const BACKOFF_MIN: Duration = Duration::from_millis(250);

/// What one step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// No token: wait for one.
    Missing,
    /// The token is invalid: wait for a new one.
    Invalid,
    /// Nothing to do before this time.
    NotDue(SystemTime),
    /// Another replica holds the token's refresh lease (or Redis cannot be
    /// reached to take it): this one refreshes nothing.
    Elsewhere,
    /// Refreshed; the next refresh is due at this time.
    Refreshed(SystemTime),
    /// Refreshed and in use, but the new token could not be stored: it is
    /// kept in memory (the old one may be dead already) and the write is
    /// retried (see [`super::persist`]). The next refresh is due at this time.
    RefreshedNotStored(SystemTime),
    /// Failed; `invalid` when Instagram rejected the token for good,
    /// otherwise retry after `retry_in`.
    Failed {
        error: String,
        invalid: bool,
        retry_in: Duration,
    },
}

/// The delay before retry number `failures` (1-based), with ±20% jitter,
/// at most a quarter of the time left before `expires_at`.
pub fn backoff(base: Duration, failures: u32, now: SystemTime, expires_at: SystemTime) -> Duration {
    let exp = base.saturating_mul(1u32 << failures.saturating_sub(1).min(16));
    let mut delay = exp.min(BACKOFF_MAX);
    // Before the expiry, retry often enough to get several tries in; past
    // it (an assumed expiry), plain exponential backoff.
    if let Ok(left) = expires_at.duration_since(now) {
        delay = delay.min(left / 4);
    }
    let jitter = rand::rng().random_range(0.8..1.2);
    delay.mul_f64(jitter).max(BACKOFF_MIN)
}

/// One refresher step at `now`: refresh when due (or when `force`d), store
/// the new token durably before using it, classify failures.
pub async fn refresh_step(
    tokens: &TokenManager,
    graph: &GraphClient,
    now: SystemTime,
    force: bool,
) -> Step {
    refresh_step_with(tokens, graph, now, force, BACKOFF_BASE).await
}

/// [`refresh_step`] with a chosen first retry delay.
pub async fn refresh_step_with(
    tokens: &TokenManager,
    graph: &GraphClient,
    now: SystemTime,
    force: bool,
    backoff_base: Duration,
) -> Step {
    if !tokens.may_refresh() {
        return Step::Elsewhere;
    }
    // With replicas, no feed fetch runs on any replica meanwhile (it would
    // use the string the refresh kills); held before the writer lock, which
    // a fetch in progress may wait for.
    tokens
        .refreshing(locked_step(tokens, graph, now, force, backoff_base))
        .await
}

/// [`refresh_step_with`] under the writer lock.
async fn locked_step(
    tokens: &TokenManager,
    graph: &GraphClient,
    now: SystemTime,
    force: bool,
    backoff_base: Duration,
) -> Step {
    let held = tokens.lock().await;
    if !tokens.may_refresh() {
        return Step::Elsewhere;
    }
    // With replicas: the lease may have just come from a replica that
    // refreshed before letting go; its token is the one to refresh.
    if let Err(e) = tokens.catch_up(&held).await {
        tracing::warn!(error = %e, "cannot read the stored token; not refreshing now");
        return Step::Elsewhere;
    }
    let Some(rec) = tokens.record() else {
        return Step::Missing;
    };
    if rec.invalid.is_some() {
        return Step::Invalid;
    }
    let due = tokens.policy().due_at(&rec);
    if !force && now < due {
        return Step::NotDue(due);
    }
    refresh_call(tokens, &held, graph, rec, now, backoff_base).await
}

/// The refresh call of [`refresh_step_with`], and what is stored after it.
async fn refresh_call(
    tokens: &TokenManager,
    held: &super::WriteGuard<'_>,
    graph: &GraphClient,
    rec: TokenRecord,
    now: SystemTime,
    backoff_base: Duration,
) -> Step {
    match graph.refresh(&rec.access_token).await {
        Ok(fresh) => {
            let lifetime = fresh
                .expires_in
                .map(Duration::from_secs)
                .unwrap_or(ASSUMED_LIFETIME);
            let next = TokenRecord {
                access_token: fresh.access_token,
                issued_at: now,
                refreshed_at: Some(now),
                expires_at: now + lifetime,
                expiry_known: fresh.expires_in.is_some(),
                invalid: None,
                last_error: None,
                ..rec
            };
            let due = tokens.policy().due_at(&next);
            let stored = match tokens.store(held, next).await {
                Ok(()) => true,
                Err(super::StoreError::Io(_)) => false,
                Err(super::StoreError::Superseded) => {
                    // A person put a token meanwhile; it stays.
                    tracing::warn!("a token was put while this refresh ran; the put one is kept");
                    return match tokens.next_refresh_at() {
                        Some(due) => Step::NotDue(due),
                        None => Step::Invalid,
                    };
                }
                Err(super::StoreError::Gone) => return Step::Missing,
            };
            tokens.set_refresh_failures(0);
            tracing::info!(
                expires_in_s = lifetime.as_secs(),
                stored,
                "access token refreshed"
            );
            if stored {
                Step::Refreshed(due)
            } else {
                tracing::error!(
                    "the refreshed token is in use but not stored; a restart before the write succeeds would load the old token"
                );
                Step::RefreshedNotStored(due)
            }
        }
        Err(err) => {
            let failures = tokens.refresh_failures() + 1;
            tokens.set_refresh_failures(failures);
            let invalid = matches!(err, GraphError::TokenInvalid { .. });
            let error = err.to_string();
            let mut failed = TokenRecord {
                last_error: Some(error.clone()),
                ..rec.clone()
            };
            if invalid {
                failed.invalid = Some(error.clone());
                tracing::error!(%error, "Instagram rejected the token on refresh; a person must put a new one");
            } else {
                tracing::warn!(%error, failures, "token refresh failed; keeping the working token and retrying");
            }
            let _ = tokens.store(held, failed).await;
            Step::Failed {
                error,
                invalid,
                retry_in: backoff(backoff_base, failures, now, rec.expires_at),
            }
        }
    }
}

/// How often a replica without a due token's lease looks whether the
/// lease came to it.
const LEASE_LOOK: Duration = Duration::from_millis(250);

/// Refreshes started at once by the scheduler, at most (each one's Graph
/// call also counts against the shared bound on upstream calls).
pub const REFRESH_CONCURRENCY: usize = 8;

/// A delay added to each token's due time, the same for a given account
/// and token age, up to a tenth of the wait and at most an hour: tokens
/// put or refreshed together (a restore, a batch of new accounts) come due
/// spread out rather than all at once.
pub fn jitter(account: &str, rec: &TokenRecord, due: SystemTime) -> Duration {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    account.hash(&mut h);
    rec.issued_at.hash(&mut h);
    let fraction = (h.finish() % 10_000) as f64 / 10_000.0;
    let wait = due.duration_since(rec.issued_at).unwrap_or_default();
    (wait / 10).min(Duration::from_secs(3600)).mul_f64(fraction)
}

/// When the scheduler should next look at `account`: its retry time after
/// a failure, else its due time plus [`jitter`]; `None` when it has
/// nothing to refresh (no token, or an invalid one).
fn next_look(account: &Account, retry_at: Option<SystemTime>) -> Option<SystemTime> {
    let rec = account.tokens.record()?;
    if rec.invalid.is_some() {
        return None;
    }
    if let Some(at) = retry_at {
        return Some(at);
    }
    let due = account.tokens.policy().due_at(&rec);
    Some(due + jitter(&account.name, &rec, due))
}

/// The one refresher of every account, until `shutdown` turns true: it
/// sleeps until the next refresh is due (or a token changes), runs the due
/// ones, at most [`REFRESH_CONCURRENCY`] at once, and keeps each account's
/// retry time after a failure (backoff stays per account).
pub async fn run(
    accounts: Arc<Accounts>,
    graph: GraphClient,
    backoff_base: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut changes = accounts.subscribe_tokens();
    // Per account: the token a failed refresh was for, and when to retry.
    let mut retries: HashMap<AccountName, (Secret, SystemTime)> = HashMap::new();
    loop {
        changes.mark_unchanged();
        let now = SystemTime::now();
        let list = accounts.list();
        // A new token (or a removed account) ends the wait of a failure.
        retries.retain(|name, (token, _)| {
            list.iter().any(|a| {
                &a.name == name && a.tokens.record().is_some_and(|r| r.access_token == *token)
            })
        });
        let mut due = Vec::new();
        let mut next: Option<SystemTime> = None;
        for account in list {
            let retry_at = retries.get(&account.name).map(|(_, at)| *at);
            match next_look(&account, retry_at) {
                // With replicas, only the lease holder refreshes; the others
                // look again when the lease may have come to them.
                Some(at) if at <= now && !account.tokens.may_refresh() => {
                    let at = now + LEASE_LOOK;
                    next = Some(next.map_or(at, |n| n.min(at)));
                }
                Some(at) if at <= now => due.push(account),
                Some(at) => next = Some(next.map_or(at, |n| n.min(at))),
                None => {}
            }
        }
        if !due.is_empty() {
            let steps = futures_util::stream::iter(due)
                .map(|account| {
                    let graph = &graph;
                    async move {
                        let token = account.tokens.record().map(|r| r.access_token);
                        // Not forced: a token put since the list was taken
                        // is not due, and is left alone.
                        let step = refresh_step_with(
                            &account.tokens,
                            graph,
                            SystemTime::now(),
                            false,
                            backoff_base,
                        )
                        .await;
                        (account, token, step)
                    }
                })
                .buffer_unordered(REFRESH_CONCURRENCY)
                .collect::<Vec<_>>();
            let steps = tokio::select! {
                steps = steps => steps,
                _ = shutdown.wait_for(|stop| *stop) => break,
            };
            for (account, token, step) in steps {
                match (step, token) {
                    (
                        Step::Failed {
                            retry_in,
                            invalid: false,
                            ..
                        },
                        Some(token),
                    ) => {
                        let at = SystemTime::now() + retry_in;
                        retries.insert(account.name.clone(), (token, at));
                    }
                    // The lease went, or the stored token could not be
                    // read: look again shortly, not at once.
                    (Step::Elsewhere, Some(token)) => {
                        let at = SystemTime::now() + LEASE_LOOK;
                        retries.insert(account.name.clone(), (token, at));
                    }
                    _ => {
                        retries.remove(&account.name);
                    }
                }
            }
            // Look again at once: the results changed the due times.
            continue;
        }
        let wait = next
            .map(|at| at.duration_since(SystemTime::now()).unwrap_or_default())
            .unwrap_or(Duration::MAX)
            .min(Duration::from_secs(365 * 24 * 3600));
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            changed = changes.changed() => if changed.is_err() { return },
            _ = shutdown.wait_for(|stop| *stop) => break,
        }
    }
    tracing::info!("token refresher stopped (shutdown)");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With tokio's clock paused, the loop sleeps until the refresh is due
    /// (no call is made: the Graph URL is unroutable) and stops at once on
    /// shutdown.
    #[tokio::test(start_paused = true)]
    async fn the_loop_waits_for_the_due_time_and_stops_on_shutdown() {
        let accounts = Arc::new(Accounts::in_memory(
            Some(Secret::new("t")),
            super::super::RefreshPolicy::default(),
        ));
        let tokens = accounts.default_account();
        let tokens = &tokens.tokens;
        let graph = GraphClient::new(
            "http://127.0.0.1:9".parse().unwrap(),
            "v25.0",
            Duration::from_secs(1),
        )
        .unwrap();
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(accounts.clone(), graph, BACKOFF_BASE, stopped));
        // Days pass on tokio's clock; the token is not due for a week.
        tokio::time::advance(Duration::from_secs(3 * 24 * 3600)).await;
        tokio::task::yield_now().await;
        assert!(!task.is_finished());
        assert_eq!(tokens.refresh_failures(), 0, "no refresh was attempted");
        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(1), task)
            .await
            .expect("stops promptly")
            .unwrap();
    }

    /// Tokens put together come due spread over a tenth of the wait (at
    /// most an hour), each account at its own, stable offset.
    #[test]
    fn jitter_spreads_accounts_and_is_stable() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let rec = TokenRecord::first_seen(Secret::new("t"), t0, None);
        let day = Duration::from_secs(24 * 3600);
        let due = t0 + 7 * day;
        let offsets: Vec<Duration> = (0..1000)
            .map(|i| jitter(&format!("acct{i}"), &rec, due))
            .collect();
        assert!(offsets.iter().all(|o| *o <= Duration::from_secs(3600)));
        let mut distinct = offsets.clone();
        distinct.sort();
        distinct.dedup();
        assert!(distinct.len() > 900, "spread: {} distinct", distinct.len());
        let late = offsets
            .iter()
            .filter(|o| **o > Duration::from_secs(1800))
            .count();
        assert!(
            (300..700).contains(&late),
            "about half in the second half hour: {late}"
        );
        assert_eq!(jitter("acct1", &rec, due), offsets[1], "stable");
        // A short wait: at most a tenth of it.
        let soon = t0 + Duration::from_secs(10);
        assert!(jitter("acct1", &rec, soon) <= Duration::from_secs(1));
    }

    #[test]
    fn backoff_grows_and_respects_the_expiry() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let far = now + Duration::from_secs(60 * 24 * 3600);
        let d1 = backoff(BACKOFF_BASE, 1, now, far);
        let d3 = backoff(BACKOFF_BASE, 3, now, far);
        assert!(
            d1 >= Duration::from_secs(24) && d1 <= Duration::from_secs(36),
            "{d1:?}"
        );
        assert!(
            d3 >= Duration::from_secs(96) && d3 <= Duration::from_secs(144),
            "{d3:?}"
        );
        assert!(backoff(BACKOFF_BASE, 30, now, far) <= BACKOFF_MAX.mul_f64(1.2));
        // 8s left: never more than ~2s.
        let near = now + Duration::from_secs(8);
        assert!(backoff(BACKOFF_BASE, 5, now, near) <= Duration::from_millis(2400));
        // Past the expiry: plain exponential, not a tight loop.
        assert!(backoff(BACKOFF_BASE, 5, near, now) >= Duration::from_secs(300));
    }
}
