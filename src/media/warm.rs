//! The background warm-up: each new feed's media are fetched into the cache
//! a few at a time, while their signed CDN URLs are still fresh, so the
//! first visitor does not wait for the CDN.

use std::sync::Arc;

use futures_util::StreamExt;
use tokio::sync::watch;

use super::MediaService;

/// Media fetched at once when warming the cache after a new feed.
pub const WARM_CONCURRENCY: usize = 4;

/// Warms the cache for every new last good feed until shutdown.
pub async fn run(media: Arc<MediaService>, mut shutdown: watch::Receiver<bool>) {
    let mut feeds = media.feed().subscribe();
    loop {
        let snapshot = feeds.borrow_and_update().clone();
        if let Some(snapshot) = snapshot {
            let keys = media.indexed(&snapshot).keys();
            let work =
                futures_util::stream::iter(keys).for_each_concurrent(WARM_CONCURRENCY, |k| {
                    let media = media.clone();
                    async move { media.warm(&k).await }
                });
            tokio::select! {
                () = work => tracing::debug!("media warm-up done"),
                _ = shutdown.wait_for(|s| *s) => break,
            }
        }
        tokio::select! {
            changed = feeds.changed() => if changed.is_err() { break },
            _ = shutdown.wait_for(|s| *s) => break,
        }
    }
    tracing::info!("media warm-up stopped (shutdown)");
}
