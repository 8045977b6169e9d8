//! What the loads of the feed found, kept by the service itself (the cache
//! entry lives only for the TTL, so it cannot tell a quiet site from one
//! that recovered): since when they fail, for the alert watchdog, and the
//! pause after a failed first load. With no last good feed to fall back on,
//! every visitor (and every readiness probe) would otherwise ask Instagram
//! again, hammering an API that is already failing or telling us to slow
//! down.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use super::FeedUnavailable;

/// First pause after a failed load; doubles per failure, up to [`MAX`].
pub const BASE: Duration = Duration::from_secs(2);
/// First pause when Instagram said to slow down (rate limit codes).
pub const THROTTLED_BASE: Duration = Duration::from_secs(60);
/// The longest pause.
pub const MAX: Duration = Duration::from_secs(15 * 60);

/// The record of the loads; one lock, updated once per load.
#[derive(Default)]
pub struct Loads(Mutex<Record>);

#[derive(Default)]
struct Record {
    /// Since when the loads have failed; `None` once one succeeds.
    failing_since: Option<SystemTime>,
    /// Failed loads in a row since the last success or new token.
    failures: u32,
    /// A failed first load, answered until its pause ends.
    paused: Option<(FeedUnavailable, Instant)>,
}

impl Loads {
    fn record(&self) -> std::sync::MutexGuard<'_, Record> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Since when the loads have failed, if the last one did.
    pub fn failing_since(&self) -> Option<SystemTime> {
        self.record().failing_since
    }

    /// The failure to answer with now, if a pause stands.
    pub fn paused(&self) -> Option<FeedUnavailable> {
        self.record()
            .paused
            .as_ref()
            .filter(|(_, until)| Instant::now() < *until)
            .map(|(error, _)| error.clone())
    }

    /// A load succeeded: nothing fails any more.
    pub fn succeeded(&self) {
        *self.record() = Record::default();
    }

    /// A load failed. `never_fetched` is the answer when there is no last
    /// good feed to serve instead: it then stands for a pause that grows
    /// with each failure in a row.
    pub fn failed(&self, never_fetched: Option<FeedUnavailable>, throttled: bool) {
        let mut record = self.record();
        record.failing_since.get_or_insert_with(SystemTime::now);
        record.failures += 1;
        if let Some(error) = never_fetched {
            let pause = pause(record.failures, throttled);
            tracing::info!(
                pause_s = pause.as_secs(),
                failures = record.failures,
                "not asking Instagram again before the pause ends"
            );
            record.paused = Some((error, Instant::now() + pause));
        }
    }

    /// A new token (or a purge): worth trying at once, but the loads have
    /// not succeeded yet.
    pub fn end_pause(&self) {
        let mut record = self.record();
        record.failures = 0;
        record.paused = None;
    }
}

/// The pause after `failures` failures in a row.
fn pause(failures: u32, throttled: bool) -> Duration {
    let base = if throttled { THROTTLED_BASE } else { BASE };
    base.saturating_mul(1 << failures.saturating_sub(1).min(16))
        .min(MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_the_cap_and_throttling_waits_longer() {
        assert_eq!(pause(1, false), BASE);
        assert_eq!(pause(2, false), BASE * 2);
        assert_eq!(pause(40, false), MAX);
        assert_eq!(pause(1, true), THROTTLED_BASE);
        assert!(pause(1, true) > pause(3, false));
    }

    #[test]
    fn a_failed_first_load_pauses_until_a_success_or_a_new_token() {
        let loads = Loads::default();
        assert!(loads.paused().is_none() && loads.failing_since().is_none());
        loads.failed(None, false);
        assert!(loads.paused().is_none(), "a stale feed is served: no pause");
        let since = loads.failing_since().unwrap();
        loads.failed(Some(FeedUnavailable::NeverFetched("down".into())), false);
        assert!(loads.paused().is_some());
        assert_eq!(
            loads.failing_since(),
            Some(since),
            "still failing since the first"
        );
        loads.end_pause();
        assert!(loads.paused().is_none());
        assert_eq!(loads.failing_since(), Some(since));
        loads.succeeded();
        assert!(loads.failing_since().is_none());
    }
}
