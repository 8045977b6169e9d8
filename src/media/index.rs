//! Which media ids the accounts' feeds have, with their CDN URLs and the
//! account they belong to: kept up to date per account as last good feeds
//! change, so a request costs one hash lookup.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::MediaKey;
use crate::accounts::{AccountName, Accounts};
use crate::feed::Snapshot;
use crate::graph::MediaType;

/// Where a media comes from.
#[derive(Clone, Debug)]
pub struct Source {
    pub account: AccountName,
    pub url: String,
    /// A picture (an image, a thumbnail), not a video's own bytes.
    pub picture: bool,
}

/// The CDN URL of every media, video thumbnail and carousel child of one
/// snapshot, and whether it is a picture.
pub fn urls(snapshot: &Snapshot) -> Vec<(MediaKey, String, bool)> {
    let mut out = Vec::new();
    let mut add = |id: &str, video: bool, media: &Option<String>, thumb: &Option<String>| {
        for (thumbnail, url) in [(false, media), (true, thumb)] {
            if let Some(u) = url {
                let id = id.to_string();
                out.push((MediaKey { id, thumbnail }, u.clone(), thumbnail || !video));
            }
        }
    };
    for m in &snapshot.media {
        let video = m.media_type == MediaType::Video;
        add(&m.id, video, &m.media_url, &m.thumbnail_url);
        for c in m.children.iter().flatten() {
            let video = c.media_type == MediaType::Video;
            add(&c.id, video, &c.media_url, &c.thumbnail_url);
        }
    }
    out
}

/// Every key of `snapshot`, posts before thumbnails (for the warm-up).
pub fn keys(snapshot: &Snapshot) -> Vec<MediaKey> {
    let mut keys: Vec<MediaKey> = urls(snapshot).into_iter().map(|(k, ..)| k).collect();
    keys.sort_by(|a, b| (a.thumbnail, &a.id).cmp(&(b.thumbnail, &b.id)));
    keys
}

#[derive(Default)]
struct Index {
    /// The feeds generation this reflects.
    generation: Option<u64>,
    sources: HashMap<MediaKey, Source>,
    /// Per account: the snapshot indexed, and its keys.
    indexed: HashMap<AccountName, (Arc<Snapshot>, Vec<MediaKey>)>,
}

/// The index of every account's last good feed.
#[derive(Default)]
pub struct MediaIndex {
    inner: RwLock<Index>,
}

/// What an update of the index changed.
#[derive(Default)]
pub struct Changed {
    /// Keys of feeds that were replaced or removed (their renewed URLs and,
    /// for removed accounts, their cached bytes are stale).
    pub gone: Vec<MediaKey>,
}

impl MediaIndex {
    /// Where `key` comes from, bringing the index up to date first when a
    /// feed changed since the last lookup.
    pub fn lookup(&self, accounts: &Accounts, key: &MediaKey) -> (Option<Source>, Changed) {
        let changed = self.update(accounts);
        let source = self
            .inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .sources
            .get(key)
            .cloned();
        (source, changed)
    }

    /// Re-indexes the accounts whose last good feed changed (nothing when
    /// the feeds generation is the one indexed).
    pub fn update(&self, accounts: &Accounts) -> Changed {
        let generation = accounts.feeds_generation();
        if self
            .inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .generation
            == Some(generation)
        {
            return Changed::default();
        }
        let mut index = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if index.generation == Some(generation) {
            return Changed::default();
        }
        let mut changed = Changed::default();
        let mut seen = std::collections::HashSet::new();
        for account in accounts.list() {
            seen.insert(account.name.clone());
            let last = account.feed.last_good();
            let same = match (index.indexed.get(&account.name), &last) {
                (Some((old, _)), Some(new)) => Arc::ptr_eq(old, new),
                (None, None) => true,
                _ => false,
            };
            if same {
                continue;
            }
            index.drop_account(&account.name, &mut changed);
            if let Some(snapshot) = last {
                let entries = urls(&snapshot);
                let keys = entries.iter().map(|(k, ..)| k.clone()).collect();
                for (key, url, picture) in entries {
                    let account = account.name.clone();
                    index.sources.entry(key).or_insert(Source {
                        account,
                        url,
                        picture,
                    });
                }
                index.indexed.insert(account.name.clone(), (snapshot, keys));
            }
        }
        let removed: Vec<AccountName> = index
            .indexed
            .keys()
            .filter(|name| !seen.contains(*name))
            .cloned()
            .collect();
        for name in removed {
            index.drop_account(&name, &mut changed);
        }
        index.generation = Some(generation);
        changed
    }
}

impl Index {
    fn drop_account(&mut self, name: &AccountName, changed: &mut Changed) {
        if let Some((_, keys)) = self.indexed.remove(name) {
            for key in keys {
                if self.sources.get(&key).is_some_and(|s| &s.account == name) {
                    self.sources.remove(&key);
                }
                changed.gone.push(key);
            }
        }
    }
}
