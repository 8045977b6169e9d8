//! The value types of the settings and their parsers: each parser's
//! error says what form is accepted, and start-up prints it with the
//! variable's name.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use super::MAX_FEED_SIZE;

/// A secret string (access token, admin key). `Debug` and `Display` never
/// show it; call [`Secret::expose`] where the value really has to go out.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that has to send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Host suffixes that media may be fetched from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostList(pub Vec<String>);

impl HostList {
    /// Whether `host` is one of the suffixes or a subdomain of one.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.0.iter().any(|suffix| {
            host == *suffix
                || (host.ends_with(suffix.as_str())
                    && host.as_bytes()[host.len() - suffix.len() - 1] == b'.')
        })
    }
}

/// Allowed CORS origins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CorsOrigins {
    Any,
    List(Vec<String>),
}

pub(super) fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|_| format!("'{s}' is not a duration; use a form like 90s, 5m, 24h or 7d"))?;
    if d.is_zero() {
        return Err(format!(
            "'{s}' is zero; use a positive duration like 90s, 5m or 7d"
        ));
    }
    Ok(d)
}

/// A delay that may be zero (`0`, `0s`, `5ms`, `1s`), unlike the durations
/// of the service's settings (`igfeed fake-upstream --latency`).
#[cfg(feature = "demo")]
pub(super) fn parse_delay(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|_| format!("'{s}' is not a duration; use a form like 0, 5ms, 50ms or 1s"))
}

/// Parses `64MB`, `1GiB`, `512k` or plain bytes (decimal units are powers
/// of 1000, binary units of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let err = || format!("'{s}' is not a size; use plain bytes or a form like 64MB, 512KiB, 1GiB");
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: f64 = num.parse().map_err(|_| err())?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => return Err(err()),
    };
    let bytes = num * mult as f64;
    if !bytes.is_finite() || bytes < 1.0 || bytes > (1u64 << 50) as f64 {
        return Err(err());
    }
    Ok(bytes as u64)
}

pub(super) fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    s.trim().parse().map_err(|_| {
        format!("'{s}' is not a socket address; use IP:PORT such as 127.0.0.1:8080 or [::]:8080")
    })
}

pub(super) fn parse_url(s: &str) -> Result<url::Url, String> {
    let u = url::Url::parse(s.trim())
        .map_err(|_| format!("'{s}' is not a URL; use a form like https://host[:port]/path"))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err(format!("'{s}' is not an http(s) URL with a host"));
    }
    Ok(u)
}

pub(super) fn parse_public_url(s: &str) -> Result<String, String> {
    let u = parse_url(s)?;
    if u.query().is_some() || u.fragment().is_some() {
        return Err(format!("'{s}' must not carry a query or fragment"));
    }
    Ok(u.as_str().trim_end_matches('/').to_string())
}

pub(super) fn parse_version(s: &str) -> Result<String, String> {
    let ok =
        s.starts_with('v') && s.len() > 1 && s[1..].chars().all(|c| c.is_ascii_digit() || c == '.');
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "'{s}' is not a Graph API version; use a form like v25.0"
        ))
    }
}

/// A Redis URL; its password never shows in `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl(url::Url);

impl RedisUrl {
    /// The URL with its password, for the Redis client only.
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }
}

impl std::str::FromStr for RedisUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        parse_redis_url(s)
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.0.clone();
        if shown.password().is_some() {
            let _ = shown.set_password(Some("redacted"));
        }
        f.write_str(shown.as_str())
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisUrl({self})")
    }
}

pub(super) fn parse_redis_url(s: &str) -> Result<RedisUrl, String> {
    let err = || {
        "not a Redis URL; use redis://[:password@]host[:port][/db] or rediss://… (value not shown)"
            .to_string()
    };
    let u = url::Url::parse(s.trim()).map_err(|_| err())?;
    let ok = match u.scheme() {
        "redis" | "rediss" => u.host_str().is_some_and(|h| !h.is_empty()),
        "redis+unix" | "unix" => !u.path().is_empty(),
        _ => false,
    };
    if !ok {
        return Err(err());
    }
    Ok(RedisUrl(u))
}

pub(super) fn parse_lease(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < Duration::from_millis(300) || d > Duration::from_secs(3600) {
        return Err(format!("'{s}' is out of range; use 300ms to 1h"));
    }
    Ok(d)
}

pub(super) fn parse_secret(s: &str) -> Result<Secret, String> {
    let t = s.trim();
    if t.is_empty() || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must be a non-empty string without spaces (value not shown)".into());
    }
    Ok(Secret::new(t))
}

/// An app id is what the App Dashboard shows: digits (checked loosely,
/// Instagram tells the rest).
pub(super) fn parse_app_id(s: &str) -> Result<String, String> {
    let t = s.trim();
    if t.is_empty() || t.len() > 64 || !t.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(format!(
            "'{s}' is not an app id; use the Instagram app id from the Meta App Dashboard (digits)"
        ));
    }
    Ok(t.to_string())
}

pub(super) fn parse_feed_size(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_FEED_SIZE).contains(&n) => Ok(n),
        _ => Err(format!(
            "'{s}' is not a whole number from 1 to {MAX_FEED_SIZE}"
        )),
    }
}

pub(super) fn parse_concurrency(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=256).contains(&n) => Ok(n),
        _ => Err(format!("'{s}' is not a whole number from 1 to 256")),
    }
}

pub(super) fn parse_hosts(s: &str) -> Result<HostList, String> {
    let hosts: Vec<String> = s
        .split(',')
        .map(|h| h.trim().trim_start_matches('.').to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect();
    let valid = |h: &String| {
        h.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == ':')
    };
    if hosts.is_empty() || !hosts.iter().all(valid) {
        return Err(format!(
            "'{s}' is not a list of host names; use a form like cdninstagram.com,fbcdn.net"
        ));
    }
    Ok(HostList(hosts))
}

pub(super) fn parse_origins(s: &str) -> Result<CorsOrigins, String> {
    if s.trim() == "*" {
        return Ok(CorsOrigins::Any);
    }
    let mut list = Vec::new();
    for o in s.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let u = url::Url::parse(o).map_err(|_| {
            format!(
                "'{o}' is not an origin; use * or a list like https://a.example,https://b.example"
            )
        })?;
        if u.host_str().is_none() || !matches!(u.scheme(), "http" | "https") {
            return Err(format!("'{o}' is not an http(s) origin"));
        }
        list.push(u.origin().ascii_serialization());
    }
    if list.is_empty() {
        return Err("empty; use * or a list like https://a.example".into());
    }
    Ok(CorsOrigins::List(list))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "demo")]
    #[test]
    fn delays_may_be_zero() {
        assert_eq!(parse_delay("0"), Ok(Duration::ZERO));
        assert_eq!(parse_delay("5ms"), Ok(Duration::from_millis(5)));
        assert!(parse_delay("soon").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64MB"), Ok(64_000_000));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("1234"), Ok(1234));
        assert_eq!(parse_size("1.5 KiB"), Ok(1536));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("0").is_err());
        assert!(parse_size("-5MB").is_err());
    }

    #[test]
    fn host_suffixes_match_whole_labels() {
        let hosts = parse_hosts("cdninstagram.com, .fbcdn.net").unwrap();
        assert!(hosts.allows("scontent-ams2-1.cdninstagram.com"));
        assert!(hosts.allows("fbcdn.net"));
        assert!(!hosts.allows("evilcdninstagram.com"));
        assert!(!hosts.allows("cdninstagram.com.evil.example"));
    }

    #[test]
    fn app_ids_are_alphanumeric() {
        assert_eq!(
            parse_app_id(" 990602627938098 "),
            Ok("990602627938098".into())
        );
        assert!(parse_app_id("").is_err());
        assert!(parse_app_id("99 06").is_err());
        assert!(parse_app_id("id&x=1").is_err());
    }

    #[test]
    fn secrets_do_not_debug() {
        let s = Secret::new("IGAAsecret");
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
    }

    #[test]
    fn origins() {
        assert_eq!(parse_origins("*"), Ok(CorsOrigins::Any));
        assert_eq!(
            parse_origins("https://a.example/, http://b.example:8080"),
            Ok(CorsOrigins::List(vec![
                "https://a.example".into(),
                "http://b.example:8080".into()
            ]))
        );
        assert!(parse_origins("nope").is_err());
    }

    #[test]
    fn redis_urls_keep_their_password_out_of_sight() {
        let url = parse_redis_url("redis://:s3cret@cache:6379/2").unwrap();
        assert_eq!(url.expose(), "redis://:s3cret@cache:6379/2");
        assert_eq!(url.to_string(), "redis://:redacted@cache:6379/2");
        assert!(!format!("{url:?}").contains("s3cret"));
        assert!(parse_redis_url("rediss://user:pw@cache").is_ok());
        assert!(parse_redis_url("redis+unix:///run/redis.sock").is_ok());
        for bad in ["cache:6379", "http://cache", "redis://", "redis:///0"] {
            let err = parse_redis_url(bad).unwrap_err();
            assert!(err.contains("redis://"), "{bad}: {err}");
        }
    }
}
