//! Which media ids the feed has, and their CDN URLs: built once per
//! snapshot, so a request costs one hash lookup.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::MediaKey;
use crate::feed::Snapshot;

/// The CDN URL of every media, video thumbnail and carousel child.
#[derive(Debug, Default)]
pub struct MediaIndex {
    urls: HashMap<MediaKey, String>,
}

impl MediaIndex {
    pub fn build(snapshot: &Snapshot) -> Self {
        let mut urls = HashMap::new();
        let mut add = |id: &str, media: &Option<String>, thumb: &Option<String>| {
            if let Some(u) = media {
                urls.insert(
                    MediaKey {
                        id: id.to_string(),
                        thumbnail: false,
                    },
                    u.clone(),
                );
            }
            if let Some(u) = thumb {
                urls.insert(
                    MediaKey {
                        id: id.to_string(),
                        thumbnail: true,
                    },
                    u.clone(),
                );
            }
        };
        for m in &snapshot.media {
            add(&m.id, &m.media_url, &m.thumbnail_url);
            for c in m.children.iter().flatten() {
                add(&c.id, &c.media_url, &c.thumbnail_url);
            }
        }
        Self { urls }
    }

    pub fn url(&self, key: &MediaKey) -> Option<&str> {
        self.urls.get(key).map(String::as_str)
    }

    /// Every key, posts before thumbnails.
    pub fn keys(&self) -> Vec<MediaKey> {
        let mut keys: Vec<MediaKey> = self.urls.keys().cloned().collect();
        keys.sort_by(|a, b| (a.thumbnail, &a.id).cmp(&(b.thumbnail, &b.id)));
        keys
    }
}

/// The index of the latest snapshot seen.
#[derive(Default)]
pub(super) struct IndexCache {
    last: RwLock<Option<(Arc<Snapshot>, Arc<MediaIndex>)>>,
}

impl IndexCache {
    /// The index of `snapshot`, and whether it was just built (a new feed).
    pub fn get(&self, snapshot: &Arc<Snapshot>) -> (Arc<MediaIndex>, bool) {
        if let Some((s, i)) = &*self.last.read().unwrap_or_else(|e| e.into_inner())
            && Arc::ptr_eq(s, snapshot)
        {
            return (i.clone(), false);
        }
        let index = Arc::new(MediaIndex::build(snapshot));
        *self.last.write().unwrap_or_else(|e| e.into_inner()) =
            Some((snapshot.clone(), index.clone()));
        (index, true)
    }
}
