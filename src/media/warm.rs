//! The background warm-up: each new feed's media are fetched into the cache
//! a few at a time, while their signed CDN URLs are still fresh, so the
//! first visitor does not wait for the CDN. One task follows every account.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::StreamExt;
use tokio::sync::watch;

use super::{MediaService, index};
use crate::accounts::AccountName;
use crate::feed::Snapshot;

/// Media fetched at once when warming the cache after a new feed (the
/// shared bound on upstream calls applies on top).
pub const WARM_CONCURRENCY: usize = 4;

/// Warms the cache for every new last good feed until shutdown.
pub async fn run(media: Arc<MediaService>, mut shutdown: watch::Receiver<bool>) {
    let mut feeds = media.accounts().subscribe_feeds();
    let mut warmed: HashMap<AccountName, Arc<Snapshot>> = HashMap::new();
    loop {
        feeds.mark_unchanged();
        let mut keys = Vec::new();
        let accounts = media.accounts().list();
        warmed.retain(|name, _| accounts.iter().any(|a| &a.name == name));
        for account in accounts {
            let Some(snapshot) = account.feed.last_good() else {
                continue;
            };
            if warmed
                .get(&account.name)
                .is_some_and(|w| Arc::ptr_eq(w, &snapshot))
            {
                continue;
            }
            keys.extend(index::keys(&snapshot));
            warmed.insert(account.name.clone(), snapshot);
        }
        if !keys.is_empty() {
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
