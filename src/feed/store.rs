//! The last good feed on disk (`feed.json` in the data dir), so a restart
//! with Instagram down still serves it.

use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::fsutil;
use crate::graph::{Account, Media};

/// One successful fetch of the feed, as Instagram described it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub account: Account,
    /// Newest first.
    pub media: Vec<Media>,
    #[serde(with = "rfc3339")]
    pub fetched_at: SystemTime,
}

/// Where the last good feed is kept.
#[derive(Clone, Debug)]
pub struct SnapshotFile {
    path: PathBuf,
}

impl SnapshotFile {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            path: data_dir.join("feed.json"),
        }
    }

    /// The stored snapshot; `Ok(None)` when there is none yet. A corrupt file
    /// is an error the caller reports (the feed then starts cold).
    pub fn load(&self) -> io::Result<Option<Snapshot>> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes atomically (blocking; call from `spawn_blocking`).
    pub fn save(&self, snapshot: &Snapshot) -> io::Result<()> {
        let bytes = serde_json::to_vec(snapshot).map_err(io::Error::other)?;
        fsutil::write_atomic(&self.path, &bytes)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// RFC 3339 (UTC, seconds) for `SystemTime` fields.
pub mod rfc3339 {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_rfc3339_seconds(*t).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_rfc3339_weak(&s).map_err(serde::de::Error::custom)
    }

    /// The same for `Option<SystemTime>`.
    pub mod option {
        use std::time::SystemTime;

        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => super::serialize(t, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<SystemTime>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|s| humantime::parse_rfc3339_weak(&s).map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}
