//! The access token: who holds it, whether it can be used, and what the
//! feed does when Instagram rejects it.
//!
//! Today the token comes from `IGFEED_ACCESS_TOKEN` and lives in memory; the
//! durable store and the background refresher plug in behind the same
//! [`TokenManager`] methods, so the feed never knows where the token lives.

use std::sync::RwLock;

use serde::Serialize;

use crate::config::Secret;
use crate::graph::GraphError;

/// The token's state as `/token` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TokenStatus {
    Missing,
    Valid,
    Expiring,
    Expired,
    Invalid,
}

/// Why no token can be used right now.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenUnavailable {
    #[error("no access token is configured")]
    Missing,
    #[error("the access token was rejected by Instagram: {0}")]
    Invalid(String),
    #[error("the access token has expired")]
    Expired,
}

#[derive(Debug)]
struct Held {
    token: Option<Secret>,
    invalid: Option<String>,
}

/// Holds the current token. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct TokenManager {
    held: RwLock<Held>,
}

impl TokenManager {
    /// A manager holding `token` in memory only.
    pub fn in_memory(token: Option<Secret>) -> Self {
        Self {
            held: RwLock::new(Held {
                token,
                invalid: None,
            }),
        }
    }

    /// The token to call Instagram with, unless it is missing or known bad.
    pub fn usable(&self) -> Result<Secret, TokenUnavailable> {
        let held = self.held.read().unwrap_or_else(|e| e.into_inner());
        if let Some(reason) = &held.invalid {
            return Err(TokenUnavailable::Invalid(reason.clone()));
        }
        held.token.clone().ok_or(TokenUnavailable::Missing)
    }

    /// Current status.
    pub fn status(&self) -> TokenStatus {
        match self.usable() {
            Ok(_) => TokenStatus::Valid,
            Err(TokenUnavailable::Missing) => TokenStatus::Missing,
            Err(TokenUnavailable::Invalid(_)) => TokenStatus::Invalid,
            Err(TokenUnavailable::Expired) => TokenStatus::Expired,
        }
    }

    /// Tells the manager what a Graph call made with `token` answered; a
    /// "token invalid" answer marks the token invalid until a new one comes.
    pub fn observe(&self, token: &Secret, err: &GraphError) {
        if let GraphError::TokenInvalid { message, .. } = err {
            let mut held = self.held.write().unwrap_or_else(|e| e.into_inner());
            if held.token.as_ref() == Some(token) {
                tracing::warn!(%message, "access token rejected by Instagram; serving the last good feed until a new token arrives");
                held.invalid = Some(message.clone());
            }
        }
    }
}
