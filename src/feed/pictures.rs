//! What igfeed learnt of each picture (an image, a video's thumbnail) when
//! it first fetched it: its pixel size and average colour, shown in the
//! feed as `width`, `height` and `dominant_color`. Shared by the media
//! proxy, which learns them, and the feed's rendering, which shows them.
//!
//! Kept in memory only: after a restart the media warm-up learns them
//! again moments after start-up. The number of pictures kept is bounded;
//! past the bound the record starts over (and is learnt again the same
//! way).

use std::collections::HashMap;
use std::sync::RwLock;

use crate::media::MediaKey;
use crate::media::variant::PictureInfo;

/// Pictures remembered at most (1,000 accounts of 25 posts with a few
/// carousel children each fit well).
const MAX_PICTURES: usize = 200_000;

/// The record of every picture learnt.
#[derive(Default)]
pub struct Pictures {
    known: RwLock<HashMap<MediaKey, PictureInfo>>,
}

impl Pictures {
    /// What is known of `key`, if it was fetched.
    pub fn get(&self, key: &MediaKey) -> Option<PictureInfo> {
        self.known
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .copied()
    }

    /// Records `info` for `key`; `true` when it is new or changed.
    pub fn learn(&self, key: MediaKey, info: PictureInfo) -> bool {
        let mut known = self.known.write().unwrap_or_else(|e| e.into_inner());
        if known.get(&key) == Some(&info) {
            return false;
        }
        if known.len() >= MAX_PICTURES {
            known.clear();
        }
        known.insert(key, info);
        true
    }
}
