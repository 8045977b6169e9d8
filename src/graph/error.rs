//! How a Graph API call fails, classified by what igfeed must do about it,
//! and the helpers that keep the token out of every error message.

use futures_util::StreamExt;

use crate::config::Secret;

/// Why a Graph API call failed, as far as igfeed must act on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// 190/102 (expired, invalidated) or 10/200–299 (permission missing):
    /// only a new token helps.
    #[error("token rejected by Instagram (code {code}): {message}")]
    TokenInvalid { code: i64, message: String },
    /// 4, 17, 32, 613, 80002: back off and keep serving the cache.
    #[error("throttled by Instagram (code {code}): {message}")]
    Throttled { code: i64, message: String },
    /// 1, 2, HTTP 5xx, timeouts, connection failures: retry later.
    #[error("Instagram unavailable: {0}")]
    Transient(String),
    /// 100 and other codes: a request Instagram refuses (a bug on our side).
    #[error("Instagram refused the request (code {code}): {message}")]
    BadRequest { code: i64, message: String },
    /// A success status with a body that is not what the API documents.
    #[error("unexpected answer from Instagram: {0}")]
    BadResponse(String),
}

impl GraphError {
    /// A short, stable label for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            GraphError::TokenInvalid { .. } => "token_invalid",
            GraphError::Throttled { .. } => "throttled",
            GraphError::Transient(_) => "transient",
            GraphError::BadRequest { .. } => "bad_request",
            GraphError::BadResponse(_) => "bad_response",
        }
    }

    /// Instagram's error code, when it sent one.
    pub fn code(&self) -> Option<i64> {
        match self {
            GraphError::TokenInvalid { code, .. }
            | GraphError::Throttled { code, .. }
            | GraphError::BadRequest { code, .. } => Some(*code),
            _ => None,
        }
    }

    pub(super) fn from_code(code: i64, message: String) -> Self {
        match code {
            190 | 102 | 10 | 200..=299 => GraphError::TokenInvalid { code, message },
            4 | 17 | 32 | 613 | 80002 => GraphError::Throttled { code, message },
            1 | 2 => GraphError::Transient(format!("code {code}: {message}")),
            _ => GraphError::BadRequest { code, message },
        }
    }
}

/// Replaces every occurrence of the token in `text`.
pub fn redact(text: &str, token: &Secret) -> String {
    if token.expose().is_empty() {
        return text.to_string();
    }
    text.replace(token.expose(), "[redacted]")
}

/// A reqwest error without its URL (which carries the token).
pub fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "reading the answer failed"
    } else {
        "request failed"
    };
    // `without_url` drops the URL; the source chain says why (DNS, refused…).
    let mut msg = kind.to_string();
    let mut source = std::error::Error::source(e);
    if let Some(s) = source.take() {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
    }
    msg
}

pub(crate) enum BodyError {
    TooLarge,
    Read(String),
}

/// Reads a body up to `cap` bytes, failing (without reading on) past it.
pub(crate) async fn read_capped(res: reqwest::Response, cap: usize) -> Result<Vec<u8>, BodyError> {
    if res.content_length().is_some_and(|n| n > cap as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    let mut stream = res.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| BodyError::Read(describe(&e)))?;
        if body.len() + chunk.len() > cap {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
