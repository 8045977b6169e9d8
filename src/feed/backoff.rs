//! A failed first load is remembered for a while: with no last good feed to
//! fall back on, every visitor (and every readiness probe) would otherwise
//! ask Instagram again, hammering an API that is already failing or telling
//! us to slow down.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::FeedUnavailable;

/// First pause after a failed load; doubles per failure, up to [`MAX`].
pub const BASE: Duration = Duration::from_secs(2);
/// First pause when Instagram said to slow down (rate limit codes).
pub const THROTTLED_BASE: Duration = Duration::from_secs(60);
/// The longest pause.
pub const MAX: Duration = Duration::from_secs(15 * 60);

/// The last failed load and until when it stands.
#[derive(Default)]
pub struct FailureMemo(Mutex<Option<Failed>>);

struct Failed {
    error: FeedUnavailable,
    until: Instant,
    failures: u32,
}

impl FailureMemo {
    /// The failure to answer with now, if one stands.
    pub fn active(&self) -> Option<FeedUnavailable> {
        let memo = self.0.lock().unwrap_or_else(|e| e.into_inner());
        memo.as_ref()
            .filter(|f| Instant::now() < f.until)
            .map(|f| f.error.clone())
    }

    /// Remembers a failed load; the pause grows with each failure in a row.
    pub fn record(&self, error: FeedUnavailable, throttled: bool) {
        let mut memo = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let failures = memo.as_ref().map_or(0, |f| f.failures) + 1;
        let pause = pause(failures, throttled);
        tracing::info!(
            pause_s = pause.as_secs(),
            failures,
            "not asking Instagram again before the pause ends"
        );
        *memo = Some(Failed {
            error,
            until: Instant::now() + pause,
            failures,
        });
    }

    /// Forgets the failure (a load succeeded, or a new token came).
    pub fn clear(&self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = None;
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
    fn a_failure_stands_until_cleared() {
        let memo = FailureMemo::default();
        assert!(memo.active().is_none());
        memo.record(FeedUnavailable::NeverFetched("down".into()), false);
        assert!(memo.active().is_some());
        memo.clear();
        assert!(memo.active().is_none());
    }
}
