//! Configuration: one typed struct, every field a flag and an `IGFEED_*`
//! environment variable (the README's table lists them). Bad values stop
//! start-up with exit code 2 and a one-line message naming the variable and
//! the accepted form; see [`Cli::parse_or_exit`]. The value types and their
//! parsers are in [`values`].

mod values;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use values::*;
pub use values::{CorsOrigins, HostList, RedisUrl, Secret, parse_size};

/// The largest feed the service keeps (the Graph API pages are followed up
/// to this many posts).
pub const MAX_FEED_SIZE: usize = 200;

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
    /// for benchmarks and contract tests; prints its URL and a valid token
    /// per account.
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
        /// How many accounts to serve, each with `--posts` posts of its own
        /// and its own token (the first is the usual sample account).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=999_999))]
        accounts: u32,
        /// How long every Graph and CDN request waits before it is answered
        /// (a network's round trip), e.g. 5ms.
        #[arg(long, default_value = "0", value_parser = parse_delay)]
        latency: Duration,
        /// Make every picture (images, carousel images, video thumbnails) a
        /// real 1080x1350 JPEG, padded to `--image-size`, that igfeed can
        /// resize (`/media/{id}?w=`) and measure; without it pictures are
        /// bytes that only look like a JPEG.
        #[arg(long)]
        photos: bool,
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

    /// Most upstream calls (Graph API and CDN together, every account) in flight at once (1 to 256).
    #[arg(long, env = "IGFEED_UPSTREAM_CONCURRENCY", default_value = "16", value_parser = parse_concurrency)]
    pub upstream_concurrency: usize,

    /// Log format.
    #[arg(long, env = "IGFEED_LOG_FORMAT", default_value = "text", value_enum)]
    pub log_format: LogFormat,

    /// URL that receives a JSON POST when the token needs a person or the feed is stale too long.
    #[arg(long, env = "IGFEED_ALERT_WEBHOOK", value_parser = parse_url)]
    pub alert_webhook: Option<url::Url>,

    /// URL that receives a `feed.updated` JSON POST when an account's posts change.
    #[arg(long, env = "IGFEED_FEED_WEBHOOK", value_parser = parse_url)]
    pub feed_webhook: Option<url::Url>,

    /// HMAC key for the X-Igfeed-Signature header of every webhook POST.
    #[arg(long, env = "IGFEED_WEBHOOK_SECRET", hide_env_values = true, value_parser = parse_secret)]
    pub webhook_secret: Option<Secret>,

    /// The Instagram app's id (Meta App Dashboard: Instagram > API setup
    /// with Instagram login), for Connect with Instagram in the admin page.
    #[arg(long, env = "IGFEED_IG_APP_ID", value_parser = parse_app_id)]
    pub ig_app_id: Option<String>,

    /// The Instagram app's secret, for Connect with Instagram.
    #[arg(long, env = "IGFEED_IG_APP_SECRET", hide_env_values = true, value_parser = parse_secret)]
    pub ig_app_secret: Option<Secret>,

    /// Where people are sent to authorize the app (Instagram's login page).
    #[arg(long, env = "IGFEED_OAUTH_URL", default_value = "https://www.instagram.com", value_parser = parse_url)]
    pub oauth_url: url::Url,

    /// Where an authorization code is exchanged for a token.
    #[arg(long, env = "IGFEED_OAUTH_API_URL", default_value = "https://api.instagram.com", value_parser = parse_url)]
    pub oauth_api_url: url::Url,

    /// Share accounts, tokens and last good feeds between replicas through
    /// this Redis (redis://[:password@]host[:port][/db], rediss:// for TLS);
    /// unset, they are kept in IGFEED_DATA_DIR.
    #[arg(long, env = "IGFEED_REDIS_URL", hide_env_values = true, value_parser = parse_redis_url)]
    pub redis_url: Option<RedisUrl>,

    /// With IGFEED_REDIS_URL: how long a replica's refresh lease on a token
    /// lasts unless renewed; the tokens of a replica that died are taken
    /// over by another after this.
    #[arg(long, env = "IGFEED_REDIS_LEASE", default_value = "15s", value_parser = parse_lease)]
    pub redis_lease: Duration,

    /// Start with an embedded sample account (no network, no token; needs a
    /// build with the `demo` feature, the default).
    #[arg(long, env = "IGFEED_DEMO")]
    pub demo: bool,
}

impl Config {
    /// A configuration with every default, for tests and embedding. The
    /// caller's `IGFEED_*` environment is not read.
    pub fn defaults() -> Self {
        let command = Cli::command().mut_args(|arg| arg.env(None));
        let matches = command
            .try_get_matches_from(["igfeed"])
            .expect("the defaults parse");
        Cli::from_arg_matches(&matches)
            .expect("the defaults parse")
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Set in the child run of [`defaults_ignore_the_environment`].
    const CHILD: &str = "IGFEED_TEST_DEFAULTS_CHILD";

    #[test]
    fn defaults_ignore_the_environment() {
        if std::env::var_os(CHILD).is_some() {
            // The child: IGFEED_* variables are set, and must not count.
            let config = Config::defaults();
            assert_eq!(config.feed_size, 25);
            assert_eq!(config.feed_ttl, Duration::from_secs(300));
            assert!(config.access_token.is_none());
            return;
        }
        // The environment of a test process cannot be changed safely, so
        // the check runs in a child process of this test binary.
        let status = std::process::Command::new(std::env::current_exe().expect("test binary"))
            .args(["--exact", "config::tests::defaults_ignore_the_environment"])
            .env(CHILD, "1")
            .env("IGFEED_FEED_SIZE", "7")
            .env("IGFEED_FEED_TTL", "1s")
            .env("IGFEED_ACCESS_TOKEN", "IGAAfromtheenvironment")
            .status()
            .expect("the test binary runs");
        assert!(status.success(), "the child run failed: {status}");
    }
}
