//! Small HTTP helpers shared by the handlers: the public base URL, content
//! negotiation and conditional requests.

use axum::http::{HeaderMap, Uri, header};

use crate::error::ApiError;

/// A response content coding this service can send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Brotli,
}

impl Encoding {
    pub fn header_value(self) -> Option<&'static str> {
        match self {
            Encoding::Identity => None,
            Encoding::Gzip => Some("gzip"),
            Encoding::Brotli => Some("br"),
        }
    }
}

/// Picks br, then gzip, honouring `q` values (`q=0` refuses a coding).
pub fn negotiate(headers: &HeaderMap) -> Encoding {
    let joined: String = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    let mut br = None;
    let mut gzip = None;
    let mut star = None;
    for item in joined.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .or_else(|| p.trim().strip_prefix("Q="))
            })
            .filter_map(|q| q.trim().parse::<f32>().ok())
            .next()
            .unwrap_or(1.0);
        match name.as_str() {
            "br" => br = Some(q),
            "gzip" | "x-gzip" => gzip = Some(q),
            "*" => star = Some(q),
            _ => {}
        }
    }
    let br = br.or(star).unwrap_or(0.0);
    let gzip = gzip.or(star).unwrap_or(0.0);
    if br > 0.0 && br >= gzip {
        Encoding::Brotli
    } else if gzip > 0.0 {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

/// Whether `If-None-Match` names any encoding of the body with `digest`
/// (or is `*`).
pub fn etag_matches(headers: &HeaderMap, digest: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/").trim_matches('"'))
        .any(|t| {
            t == "*"
                || t.strip_prefix(digest)
                    .is_some_and(|rest| rest.is_empty() || rest == "-gz" || rest == "-br")
        })
}

/// The public base URL of this service as a client reached it: the
/// configured `IGFEED_PUBLIC_URL`, else `http(s)://` + the host the client
/// named (`Host`, or the request target's authority, as HTTP/2 sends it in
/// `:authority`), `https` when `X-Forwarded-Proto` says so, lower-cased.
pub fn public_base(
    configured: Option<&str>,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<String, ApiError> {
    if let Some(base) = configured {
        return Ok(base.to_string());
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .ok_or_else(|| {
            ApiError::BadRequest("a Host header is required (or set IGFEED_PUBLIC_URL)".into())
        })?;
    let valid = host.len() <= 255
        && host.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'_')
        });
    if !valid {
        return Err(ApiError::BadRequest(
            "the Host header is not a valid host name".into(),
        ));
    }
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("https")
        });
    let scheme = if https { "https" } else { "http" };
    Ok(format!("{scheme}://{}", host.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(*k, HeaderValue::from_static(v));
        }
        m
    }

    #[test]
    fn negotiation() {
        assert_eq!(negotiate(&h(&[])), Encoding::Identity);
        assert_eq!(
            negotiate(&h(&[("accept-encoding", "gzip, deflate")])),
            Encoding::Gzip
        );
        assert_eq!(
            negotiate(&h(&[("accept-encoding", "gzip, deflate, br")])),
            Encoding::Brotli
        );
        assert_eq!(
            negotiate(&h(&[("accept-encoding", "br;q=0, gzip")])),
            Encoding::Gzip
        );
        assert_eq!(
            negotiate(&h(&[("accept-encoding", "identity")])),
            Encoding::Identity
        );
        assert_eq!(negotiate(&h(&[("accept-encoding", "*")])), Encoding::Brotli);
        assert_eq!(
            negotiate(&h(&[("accept-encoding", "gzip;q=0")])),
            Encoding::Identity
        );
    }

    #[test]
    fn etags() {
        assert!(etag_matches(&h(&[("if-none-match", "\"abc\"")]), "abc"));
        assert!(etag_matches(
            &h(&[("if-none-match", "\"x\", W/\"abc-gz\"")]),
            "abc"
        ));
        assert!(etag_matches(&h(&[("if-none-match", "*")]), "abc"));
        assert!(!etag_matches(&h(&[("if-none-match", "\"abcd\"")]), "abc"));
        assert!(!etag_matches(&h(&[]), "abc"));
    }

    fn public_base(configured: Option<&str>, headers: &HeaderMap) -> Result<String, ApiError> {
        super::public_base(configured, &Uri::from_static("/feed"), headers)
    }

    #[test]
    fn base_urls() {
        assert_eq!(
            public_base(Some("https://x.example"), &h(&[])).unwrap(),
            "https://x.example"
        );
        assert_eq!(
            public_base(None, &h(&[("host", "Feeds.example:8080")])).unwrap(),
            "http://feeds.example:8080"
        );
        assert_eq!(
            public_base(
                None,
                &h(&[("host", "a.example"), ("x-forwarded-proto", "https")])
            )
            .unwrap(),
            "https://a.example"
        );
        assert!(public_base(None, &h(&[("host", "a.example/evil?")])).is_err());
        assert!(public_base(None, &h(&[])).is_err());
        let h2 = Uri::from_static("http://Feeds.example:8080/feed");
        assert_eq!(
            super::public_base(None, &h2, &h(&[])).unwrap(),
            "http://feeds.example:8080",
            "HTTP/2 names the host in :authority"
        );
    }
}

/// What a `Range` header asks of a body of `total` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteRange {
    /// No usable single byte range: send the whole body.
    Whole,
    /// Bytes `start..=end`.
    Part(u64, u64),
    /// A well-formed range outside the body: 416.
    Unsatisfiable,
}

/// Parses a single `bytes=a-b`, `bytes=a-` or `bytes=-n` range. Multiple or
/// malformed ranges are ignored (the whole body is sent), as RFC 9110 allows.
pub fn parse_range(header: &str, total: u64) -> ByteRange {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return ByteRange::Whole;
    };
    if spec.contains(',') {
        return ByteRange::Whole;
    }
    let Some((a, b)) = spec.split_once('-') else {
        return ByteRange::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        return match b.parse::<u64>() {
            Ok(0) => ByteRange::Unsatisfiable,
            Ok(_) if total == 0 => ByteRange::Unsatisfiable,
            Ok(n) => ByteRange::Part(total.saturating_sub(n), total - 1),
            Err(_) => ByteRange::Whole,
        };
    }
    let Ok(start) = a.parse::<u64>() else {
        return ByteRange::Whole;
    };
    let end = if b.is_empty() {
        u64::MAX
    } else {
        match b.parse::<u64>() {
            Ok(end) if end >= start => end,
            _ => return ByteRange::Whole,
        }
    };
    if start >= total {
        return ByteRange::Unsatisfiable;
    }
    ByteRange::Part(start, end.min(total - 1))
}

#[cfg(test)]
mod range_tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), ByteRange::Part(0, 9));
        assert_eq!(parse_range("bytes=90-", 100), ByteRange::Part(90, 99));
        assert_eq!(parse_range("bytes=-10", 100), ByteRange::Part(90, 99));
        assert_eq!(parse_range("bytes=50-500", 100), ByteRange::Part(50, 99));
        assert_eq!(parse_range("bytes=100-", 100), ByteRange::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), ByteRange::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), ByteRange::Whole);
        assert_eq!(parse_range("bytes=9-1", 100), ByteRange::Whole);
        assert_eq!(parse_range("items=0-1", 100), ByteRange::Whole);
        assert_eq!(parse_range("bytes=x-", 100), ByteRange::Whole);
    }
}
