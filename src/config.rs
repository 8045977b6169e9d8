//! Configuration: one typed struct, every field a flag and an `IGFEED_*`
//! environment variable (see `design/API.md`). Bad values stop start-up with
//! exit code 2 and a one-line message naming the variable and the accepted
//! form; see [`Config::parse_or_exit`].

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

/// The largest feed the service keeps (API.md: "at most 200").
pub const MAX_FEED_SIZE: usize = 200;

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

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// igfeed: a self-hosted Instagram feed. Keeps the access token alive, caches
/// the feed and serves it as JSON at /feed, and proxies the images at /media.
#[derive(Parser, Debug, Clone)]
#[command(name = "igfeed", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub config: Config,
}

/// Subcommands besides serving.
#[derive(Subcommand, Debug, Clone)]
pub enum Command {
    /// Exit 0 when the local service answers /healthz (for container health checks).
    Healthcheck,
    /// Print the OpenAPI document (as committed in openapi/openapi.json).
    #[command(hide = true)]
    Openapi,
    /// Run only the fake Instagram (Graph API + CDN) on a loopback address,
    /// for benchmarks and contract tests; prints its URL and a valid token.
    #[cfg(feature = "demo")]
    #[command(hide = true)]
    FakeUpstream {
        /// Loopback address to listen on.
        #[arg(long, default_value = "127.0.0.1:0", value_parser = parse_addr)]
        addr: SocketAddr,
        /// How many sample posts the account has.
        #[arg(long, default_value_t = 25)]
        posts: usize,
        /// Size of each image in bytes (videos are 4x).
        #[arg(long, default_value_t = 2048, value_parser = parse_size)]
        image_size: u64,
    },
}

/// Every setting of the service.
#[derive(Args, Debug, Clone)]
pub struct Config {
    /// Address to serve on.
    #[arg(long, env = "IGFEED_LISTEN", default_value = "127.0.0.1:8080", value_parser = parse_addr)]
    pub listen: SocketAddr,

    /// Base URL of the Instagram Graph API (tests point it at a local fake).
    #[arg(long, env = "IGFEED_GRAPH_URL", default_value = "https://graph.instagram.com", value_parser = parse_url)]
    pub graph_url: url::Url,

    /// Graph API version path segment for user and media calls.
    #[arg(long, env = "IGFEED_GRAPH_VERSION", default_value = "v25.0", value_parser = parse_version)]
    pub graph_version: String,

    /// Long-lived access token to start from when the data dir holds none.
    #[arg(long, env = "IGFEED_ACCESS_TOKEN", hide_env_values = true, value_parser = parse_secret)]
    pub access_token: Option<Secret>,

    /// Bearer key for /admin/*; when unset every /admin/* route answers 404.
    #[arg(long, env = "IGFEED_ADMIN_KEY", hide_env_values = true, value_parser = parse_secret)]
    pub admin_key: Option<Secret>,

    /// Where the token state and the last good feed are kept across restarts.
    #[arg(long, env = "IGFEED_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// How long a fetched feed is fresh (e.g. 90s, 5m).
    #[arg(long, env = "IGFEED_FEED_TTL", default_value = "5m", value_parser = parse_duration)]
    pub feed_ttl: Duration,

    /// How many most recent posts are kept (1 to 200).
    #[arg(long, env = "IGFEED_FEED_SIZE", default_value = "25", value_parser = parse_feed_size)]
    pub feed_size: usize,

    /// Byte budget of the in-memory media cache (e.g. 256MB, 1GiB).
    #[arg(long, env = "IGFEED_MEDIA_CACHE_SIZE", default_value = "256MB", value_parser = parse_size)]
    pub media_cache_size: u64,

    /// Larger media are streamed through, never held in memory whole.
    #[arg(long, env = "IGFEED_MEDIA_MAX_OBJECT", default_value = "16MB", value_parser = parse_size)]
    pub media_max_object: u64,

    /// Comma-separated host suffixes that media may be fetched from.
    #[arg(long, env = "IGFEED_MEDIA_HOSTS", default_value = "cdninstagram.com,fbcdn.net", value_parser = parse_hosts)]
    pub media_hosts: HostList,

    /// External base URL used to build absolute media URLs (else the request's Host).
    #[arg(long, env = "IGFEED_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<String>,

    /// Comma-separated origins allowed by CORS, or `*`.
    #[arg(long, env = "IGFEED_CORS_ORIGINS", default_value = "*", value_parser = parse_origins)]
    pub cors_origins: CorsOrigins,

    /// Refresh the token once it is this old (or half its lifetime has passed).
    #[arg(long, env = "IGFEED_REFRESH_AFTER", default_value = "7d", value_parser = parse_duration)]
    pub refresh_after: Duration,

    /// Never refresh a token younger than this (Instagram refuses it).
    #[arg(long, env = "IGFEED_REFRESH_MIN_AGE", default_value = "24h", value_parser = parse_duration)]
    pub refresh_min_age: Duration,

    /// Total time allowed for one upstream call.
    #[arg(long, env = "IGFEED_UPSTREAM_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub upstream_timeout: Duration,

    /// Log format.
    #[arg(long, env = "IGFEED_LOG_FORMAT", default_value = "text", value_enum)]
    pub log_format: LogFormat,

    /// URL that receives a JSON POST when the token needs a person or the feed is stale too long.
    #[arg(long, env = "IGFEED_ALERT_WEBHOOK", value_parser = parse_url)]
    pub alert_webhook: Option<url::Url>,

    /// Start with an embedded sample account (no network, no token; needs a
    /// build with the `demo` feature, the default).
    #[arg(long, env = "IGFEED_DEMO")]
    pub demo: bool,
}

impl Config {
    /// A configuration with every default, for tests and embedding.
    pub fn defaults() -> Self {
        Cli::try_parse_from(["igfeed"])
            .expect("defaults parse")
            .config
    }
}

impl Cli {
    /// Parses flags and environment; on a bad value prints one line naming
    /// the variable and the accepted form, and exits with code 2.
    pub fn parse_or_exit() -> Self {
        let mut command = Cli::command();
        let matches = match command.try_get_matches_from_mut(std::env::args_os()) {
            Ok(m) => m,
            Err(err) => exit_with(&command, err),
        };
        match Cli::from_arg_matches(&matches) {
            Ok(cli) => cli,
            Err(err) => exit_with(&command, err),
        }
    }
}

fn exit_with(command: &clap::Command, err: clap::Error) -> ! {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(
        err.kind(),
        ErrorKind::ValueValidation | ErrorKind::InvalidValue
    ) {
        err.exit();
    }
    // Name the environment variable as well as the flag: most deployments set
    // the variable, and clap's own message only shows the flag.
    let arg_name = match err.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => s.clone(),
        _ => String::new(),
    };
    let env = command
        .get_arguments()
        .find(|a| {
            a.get_long().is_some_and(|l| {
                arg_name.starts_with(&format!("--{l} ")) || arg_name == format!("--{l}")
            })
        })
        .and_then(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned());
    let reason = err
        .source_message()
        .unwrap_or_else(|| "not an accepted value".to_string());
    let flag = arg_name.split(' ').next().unwrap_or_default();
    match env {
        Some(env) => eprintln!("igfeed: invalid {env} ({flag}): {reason}"),
        None => eprintln!("igfeed: invalid {flag}: {reason}"),
    }
    std::process::exit(2);
}

trait SourceMessage {
    fn source_message(&self) -> Option<String>;
}

impl SourceMessage for clap::Error {
    fn source_message(&self) -> Option<String> {
        use clap::error::{ContextKind, ContextValue};
        if let Some(src) = std::error::Error::source(self) {
            return Some(src.to_string());
        }
        match self.get(ContextKind::ValidValue) {
            Some(ContextValue::Strings(v)) => Some(format!("expected one of {}", v.join(", "))),
            _ => None,
        }
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

fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|_| format!("'{s}' is not a duration; use a form like 90s, 5m, 24h or 7d"))?;
    if d.is_zero() {
        return Err(format!(
            "'{s}' is zero; use a positive duration like 90s, 5m or 7d"
        ));
    }
    Ok(d)
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

fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    s.trim().parse().map_err(|_| {
        format!("'{s}' is not a socket address; use IP:PORT such as 127.0.0.1:8080 or [::]:8080")
    })
}

fn parse_url(s: &str) -> Result<url::Url, String> {
    let u = url::Url::parse(s.trim())
        .map_err(|_| format!("'{s}' is not a URL; use a form like https://host[:port]/path"))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err(format!("'{s}' is not an http(s) URL with a host"));
    }
    Ok(u)
}

fn parse_public_url(s: &str) -> Result<String, String> {
    let u = parse_url(s)?;
    if u.query().is_some() || u.fragment().is_some() {
        return Err(format!("'{s}' must not carry a query or fragment"));
    }
    Ok(u.as_str().trim_end_matches('/').to_string())
}

fn parse_version(s: &str) -> Result<String, String> {
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

fn parse_secret(s: &str) -> Result<Secret, String> {
    let t = s.trim();
    if t.is_empty() || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must be a non-empty string without spaces (value not shown)".into());
    }
    Ok(Secret::new(t))
}

fn parse_feed_size(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_FEED_SIZE).contains(&n) => Ok(n),
        _ => Err(format!(
            "'{s}' is not a whole number from 1 to {MAX_FEED_SIZE}"
        )),
    }
}

fn parse_hosts(s: &str) -> Result<HostList, String> {
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

fn parse_origins(s: &str) -> Result<CorsOrigins, String> {
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
}
