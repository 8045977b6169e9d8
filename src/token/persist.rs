//! Keeping `token.json` in step with the token in use. A write can fail
//! (disk full, read-only data dir); the token in memory may then be the only
//! one Instagram accepts (a refresh invalidates the old string), so it stays
//! in use, the failure is kept here for the admin answer, the alert, the
//! metric and `/readyz`, and [`run`] writes the state again with backoff
//! until a write succeeds.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;

use super::{TokenManager, TokenRecord};
use crate::accounts::Accounts;
use crate::store::Swap;

/// First delay before writing the state again after a failed write.
pub const RETRY_BASE: Duration = Duration::from_secs(2);
/// The delay doubles per failed write up to `2^MAX_DOUBLINGS` times the
/// first one (16s with the default 2s): a full disk that gets space again
/// is noticed within seconds.
const MAX_DOUBLINGS: u32 = 3;

/// The state in memory could not be written to `token.json`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersistFailure {
    /// The last write's error (an I/O error: never the token).
    pub error: String,
    /// When the first of these failed writes happened.
    pub since: SystemTime,
    /// Failed writes in a row.
    pub failures: u32,
    /// When the last write was tried.
    last_try: Instant,
}

impl PersistFailure {
    /// When to write again, with first delay `base`.
    pub fn retry_at(&self, base: Duration) -> Instant {
        self.last_try + retry_delay(base, self.failures)
    }
}

/// The delay after `failures` failed writes in a row (1-based): `base`,
/// doubling, at most `2^MAX_DOUBLINGS × base`.
pub fn retry_delay(base: Duration, failures: u32) -> Duration {
    base.saturating_mul(1 << failures.saturating_sub(1).min(MAX_DOUBLINGS))
}

impl TokenManager {
    /// The failed write not yet made good, if any.
    pub fn persist_failure(&self) -> Option<PersistFailure> {
        self.unsaved
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Writes `rec` durably (when there is a store) if the stored version is
    /// still the one held, and records the outcome; the caller holds the
    /// writer lock.
    pub(super) async fn persist(&self, rec: &TokenRecord) -> io::Result<Swap> {
        let version = self.version();
        let Some(store) = &self.store else {
            return Ok(Swap::Stored(version + 1));
        };
        let result = store.compare_and_swap(version, rec).await;
        if matches!(result, Ok(Swap::Gone)) {
            // Nothing left to write to.
            self.unsaved
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            return result;
        }
        let mut unsaved = self.unsaved.lock().unwrap_or_else(|e| e.into_inner());
        match &result {
            Ok(_) => {
                if let Some(failed) = unsaved.take() {
                    tracing::info!(
                        failed_writes = failed.failures,
                        "the token state is stored again"
                    );
                }
            }
            Err(e) => {
                let failures = unsaved.as_ref().map_or(0, |f| f.failures) + 1;
                let since = unsaved.as_ref().map_or_else(SystemTime::now, |f| f.since);
                tracing::error!(error = %e, store = store.describe(), failures, "could not store the token state durably; the token stays in use from memory and the write is retried");
                *unsaved = Some(PersistFailure {
                    error: e.to_string(),
                    since,
                    failures,
                    last_try: Instant::now(),
                });
            }
        }
        result
    }

    /// After a failed write, writes the current state again; true once it
    /// is stored (or a newer stored token made it moot). A success is
    /// announced like a token change, so the alert watchdog sees it at once.
    pub async fn retry_persist(&self) -> bool {
        let held = self.lock().await;
        let (Some(_), Some(rec)) = (self.persist_failure(), self.record()) else {
            return true;
        };
        match self.persist(&rec).await {
            Ok(Swap::Stored(v)) => {
                self.version.store(v, std::sync::atomic::Ordering::Release);
                self.changed.send_modify(|n| *n += 1);
                true
            }
            // Another replica stored a newer token meanwhile: it wins (the
            // general rule of `store`, which decides).
            Ok(Swap::Newer(_)) => {
                let _ = self.store(&held, rec).await;
                true
            }
            Ok(Swap::Gone) => true,
            Err(_) => false,
        }
    }

    /// The state in memory was written by other means (written back to a
    /// Redis that lost it) at `version`: the failed write is made good.
    pub fn stored_as(&self, _held: &super::WriteGuard<'_>, version: u64) {
        self.version
            .store(version, std::sync::atomic::Ordering::Release);
        if self
            .unsaved
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .is_some()
        {
            self.changed.send_modify(|n| *n += 1);
        }
    }
}

/// Writes the state of every account again after each failed write, first
/// after `base`, then with doubling delays (see [`retry_delay`]), until a
/// write succeeds; runs until `shutdown` turns true.
pub async fn run(accounts: Arc<Accounts>, base: Duration, mut shutdown: watch::Receiver<bool>) {
    let mut changes = accounts.subscribe_tokens();
    loop {
        // Marked before reading, so a write failing meanwhile wakes the loop.
        changes.mark_unchanged();
        let now = Instant::now();
        let mut next: Option<Instant> = None;
        let mut retried = false;
        for account in accounts.list() {
            let Some(failed) = account.tokens.persist_failure() else {
                continue;
            };
            let at = failed.retry_at(base);
            if at <= now {
                account.tokens.retry_persist().await;
                retried = true;
            } else {
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        }
        if retried {
            // Their next tries are due later: look again.
            continue;
        }
        let due = async move {
            match next {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = due => {}
            changed = changes.changed() => if changed.is_err() { return },
            _ = shutdown.wait_for(|stop| *stop) => {
                tracing::info!("token store retry stopped (shutdown)");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use crate::token::{RefreshPolicy, TokenFile};

    #[test]
    fn the_retry_delay_doubles_and_is_bounded() {
        let s = Duration::from_secs;
        let delays: Vec<_> = (1..=6).map(|n| retry_delay(s(2), n)).collect();
        assert_eq!(delays, [s(2), s(4), s(8), s(16), s(16), s(16)]);
    }

    /// The state file's place is taken by a directory, which the atomic
    /// write cannot replace (root included): the new token stays in use,
    /// the failure is kept, and a retry after the fault is gone stores it.
    #[tokio::test]
    async fn a_failed_write_keeps_the_token_in_use_until_a_retry_stores_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = TokenFile::new(dir.path());
        let seed = Secret::new("IGAAold");
        let now = SystemTime::now();
        let tokens =
            TokenManager::open(file.clone(), Some(&seed), RefreshPolicy::default(), now).unwrap();
        std::fs::remove_file(file.path()).unwrap();
        std::fs::create_dir(file.path()).unwrap();
        let mut rec = tokens.record().unwrap();
        rec.access_token = Secret::new("IGAAnew");
        let held = tokens.lock().await;
        assert!(tokens.store(&held, rec).await.is_err());
        drop(held);
        assert_eq!(tokens.usable().unwrap().expose(), "IGAAnew");
        let failed = tokens.persist_failure().expect("the failure is kept");
        assert_eq!(failed.failures, 1);
        assert!(!failed.error.contains("IGAA"));
        assert!(!tokens.retry_persist().await, "still failing");
        assert_eq!(tokens.persist_failure().unwrap().failures, 2);
        std::fs::remove_dir(file.path()).unwrap();
        assert!(tokens.retry_persist().await);
        assert_eq!(tokens.persist_failure(), None);
        assert_eq!(
            file.load().unwrap().unwrap().access_token.expose(),
            "IGAAnew"
        );
    }
}
