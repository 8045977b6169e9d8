//! Account names: `[a-z0-9][a-z0-9-]{0,39}`, checked once where they enter
//! (a path, a request body, a directory name) and cheap to clone after.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

/// The account `IGFEED_ACCESS_TOKEN` seeds, and that `/feed`, `/token` and
/// `/admin/token` stand for.
pub const DEFAULT: &str = "default";

/// A valid account name.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct AccountName(Arc<str>);

/// Why a string is not an account name (its message is the problem detail).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "an account name is 1 to 40 characters of a-z, 0-9 and '-', starting with a letter or digit; got '{0}'"
)]
pub struct BadName(String);

impl AccountName {
    /// Checks `s`.
    pub fn parse(s: &str) -> Result<Self, BadName> {
        let b = s.as_bytes();
        let ok = !b.is_empty()
            && b.len() <= 40
            && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
        if ok {
            Ok(Self(Arc::from(s)))
        } else {
            Err(BadName(s.chars().take(48).collect()))
        }
    }

    /// `default`.
    pub fn default_account() -> Self {
        Self(Arc::from(DEFAULT))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_default(&self) -> bool {
        &*self.0 == DEFAULT
    }
}

impl fmt::Display for AccountName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AccountName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl std::ops::Deref for AccountName {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_pattern() {
        for ok in ["default", "a", "0", "client-1", "a-", &"x".repeat(40)] {
            assert!(AccountName::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-a",
            "A",
            "ab_c",
            "a.b",
            "a b",
            "é",
            "..",
            &"x".repeat(41),
            "a/b",
        ] {
            assert!(AccountName::parse(bad).is_err(), "{bad}");
        }
    }
}
