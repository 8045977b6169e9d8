//! The token state on disk (`token.json` in the data dir, mode 0600),
//! written atomically so a crash leaves the old or the new state.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Secret;
use crate::feed::store::rfc3339;
use crate::fsutil;
use crate::graph::Account;

/// The lifetime assumed for a token whose expiry Instagram has not told yet.
pub const ASSUMED_LIFETIME: Duration = Duration::from_secs(60 * 24 * 3600);

/// Everything igfeed knows about the current token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    #[serde(with = "secret")]
    pub access_token: Secret,
    pub user: Option<Account>,
    /// When this token string was issued: its refresh, or when igfeed first
    /// saw it (env or `PUT`) while its real age is unknown.
    #[serde(with = "rfc3339")]
    pub issued_at: SystemTime,
    /// When igfeed last refreshed it.
    #[serde(with = "rfc3339::option", default)]
    pub refreshed_at: Option<SystemTime>,
    #[serde(with = "rfc3339")]
    pub expires_at: SystemTime,
    /// False while `expires_at` is the assumed 60 days.
    pub expiry_known: bool,
    /// Instagram's reason, once it rejected the token.
    pub invalid: Option<String>,
    /// The last refresh error (kept until a refresh succeeds).
    pub last_error: Option<String>,
    /// Fingerprint of the `IGFEED_ACCESS_TOKEN` this lineage started from.
    pub seed: Option<String>,
}

impl std::fmt::Debug for TokenRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRecord")
            .field("access_token", &self.access_token)
            .field("user", &self.user)
            .field("expires_at", &self.expires_at)
            .field("expiry_known", &self.expiry_known)
            .field("invalid", &self.invalid)
            .finish_non_exhaustive()
    }
}

impl TokenRecord {
    /// A token first seen now, with the assumed lifetime.
    pub fn first_seen(token: Secret, now: SystemTime, seed: Option<String>) -> Self {
        Self {
            access_token: token,
            user: None,
            issued_at: now,
            refreshed_at: None,
            expires_at: now + ASSUMED_LIFETIME,
            expiry_known: false,
            invalid: None,
            last_error: None,
            seed,
        }
    }
}

/// A short, one-way fingerprint of a seed token (never the token itself).
pub fn fingerprint(token: &Secret) -> String {
    let d = Sha256::digest(token.expose().as_bytes());
    d[..12].iter().map(|b| format!("{b:02x}")).collect()
}

/// Where the token state lives.
#[derive(Clone, Debug)]
pub struct TokenFile {
    path: PathBuf,
}

impl TokenFile {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            path: data_dir.join("token.json"),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The stored state; `Ok(None)` when there is none. A file that cannot
    /// be read or parsed is an error: it is never silently replaced.
    pub fn load(&self) -> io::Result<Option<TokenRecord>> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes atomically and durably (blocking).
    pub fn save(&self, record: &TokenRecord) -> io::Result<()> {
        let bytes = serde_json::to_vec_pretty(record).map_err(io::Error::other)?;
        fsutil::write_atomic(&self.path, &bytes)
    }
}

mod secret {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::config::Secret;

    pub fn serialize<S: Serializer>(s: &Secret, ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_str(s.expose())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        let s = String::deserialize(d)?;
        if s.trim().is_empty() {
            return Err(serde::de::Error::custom("empty access_token"));
        }
        Ok(Secret::new(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_never_debugs_the_token() {
        let dir = tempfile::tempdir().unwrap();
        let file = TokenFile::new(dir.path());
        assert!(file.load().unwrap().is_none());
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let rec = TokenRecord::first_seen(Secret::new("IGAAsecret"), now, Some("abc".into()));
        file.save(&rec).unwrap();
        assert_eq!(file.load().unwrap().unwrap(), rec);
        assert!(!format!("{rec:?}").contains("IGAAsecret"));
    }

    #[test]
    fn a_corrupt_file_is_an_error_not_a_reset() {
        let dir = tempfile::tempdir().unwrap();
        let file = TokenFile::new(dir.path());
        std::fs::write(file.path(), b"{\"access_token\": ").unwrap();
        assert_eq!(file.load().unwrap_err().kind(), io::ErrorKind::InvalidData);
        assert_eq!(std::fs::read(file.path()).unwrap(), b"{\"access_token\": ");
    }
}
