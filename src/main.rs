//! The igfeed binary: parse the configuration, set up tracing, run the app.

use std::process::ExitCode;

use igfeed::app::{App, StartError, shutdown_signal};
use igfeed::config::{Cli, Command, Config};

/// The longest wait, at exit, for blocking work still running (a DNS
/// lookup of a Redis host that went away can take many seconds; nothing
/// waits for its answer any more).
const BLOCKING_AT_EXIT: std::time::Duration = std::time::Duration::from_secs(1);

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("igfeed: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(run());
    runtime.shutdown_timeout(BLOCKING_AT_EXIT);
    code
}

async fn run() -> ExitCode {
    let cli = Cli::parse_or_exit();
    match cli.command {
        Some(Command::Healthcheck) => return igfeed::healthcheck::run(cli.config.listen).await,
        Some(Command::Openapi) => {
            let doc = serde_json::to_value(igfeed::routes::openapi()).unwrap_or_default();
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
            return ExitCode::SUCCESS;
        }
        #[cfg(feature = "demo")]
        Some(Command::FakeUpstream {
            addr,
            posts,
            image_size,
            accounts,
            latency,
            photos,
        }) => {
            return fake_upstream(
                addr,
                posts,
                image_size as usize,
                photos,
                accounts as usize,
                latency,
            )
            .await;
        }
        None => {}
    }
    let _log_writer = igfeed::telemetry::init(cli.config.log_format);
    // Before the token is read or a connection accepted.
    igfeed::process::harden();
    let mut shutdown = Box::pin(shutdown_signal());
    // In demo mode the fake Instagram and the demo's data dir live as long
    // as the service.
    let (config, _demo) = match demo_mode(cli.config).await {
        Ok(started) => started,
        Err(code) => return code,
    };
    // Start-up may wait (for Redis): a signal meanwhile ends it.
    let built = tokio::select! {
        built = App::build(config) => built,
        () = &mut shutdown => {
            tracing::info!("stopped before serving");
            return ExitCode::SUCCESS;
        }
    };
    let app = match built {
        Ok(app) => app,
        Err(err) => {
            eprintln!("igfeed: {err}");
            return match err {
                StartError::Config { .. } => ExitCode::from(2),
                StartError::Bind { .. } => ExitCode::from(1),
            };
        }
    };
    app.run(shutdown).await;
    ExitCode::SUCCESS
}

/// `--demo`: starts the embedded fake Instagram and points `config` at it
/// and at a temporary data dir; the second value keeps both until it is
/// dropped.
#[cfg(feature = "demo")]
async fn demo_mode(mut config: Config) -> Result<(Config, Option<igfeed::demo::Demo>), ExitCode> {
    if !config.demo {
        return Ok((config, None));
    }
    match igfeed::demo::start(&mut config).await {
        Ok(demo) => Ok((config, Some(demo))),
        Err(e) => {
            eprintln!("igfeed: demo mode {e}");
            Err(ExitCode::FAILURE)
        }
    }
}

/// `--demo` in a build without the `demo` feature: refused (exit 2).
#[cfg(not(feature = "demo"))]
async fn demo_mode(config: Config) -> Result<(Config, Option<()>), ExitCode> {
    if config.demo {
        eprintln!(
            "igfeed: --demo (IGFEED_DEMO) is not available: this igfeed was built without the `demo` feature (cargo build --features demo)"
        );
        return Err(ExitCode::from(2));
    }
    Ok((config, None))
}

/// `igfeed fake-upstream`: the fake Instagram alone, for benchmarks and
/// contract tests. Loopback only; prints one JSON line with its URL, a
/// valid token per account (`token` is the first account's, `tokens` all of
/// them) and the Instagram app its OAuth endpoints accept (`app_id`,
/// `app_secret`), then serves until SIGINT/SIGTERM. The accounts after the first
/// are `fakeuser2`, `fakeuser3`… with the first one's posts (and bytes,
/// shared) under ids of their own. With `photos`, its pictures are real
/// JPEGs (padded to `image_size`).
#[cfg(feature = "demo")]
async fn fake_upstream(
    addr: std::net::SocketAddr,
    posts: usize,
    image_size: usize,
    photos: bool,
    accounts: usize,
    latency: std::time::Duration,
) -> ExitCode {
    use igfeed_fake::{
        FakeInstagram, FakeOptions, resize_media, sample_media, sample_media_like, use_photos,
    };
    if !addr.ip().is_loopback() {
        eprintln!("igfeed fake-upstream: --addr must be a loopback address");
        return ExitCode::from(2);
    }
    // The most posts the other accounts' ids have room for.
    if accounts > 1 && posts >= 5_000_000 {
        eprintln!("igfeed fake-upstream: with --accounts, --posts must be below 5000000");
        return ExitCode::from(2);
    }
    let shutdown = shutdown_signal();
    let mut media = sample_media(posts);
    resize_media(&mut media, image_size);
    if photos {
        use_photos(&mut media, image_size);
    }
    let opts = FakeOptions {
        latency,
        ..FakeOptions::default()
    };
    let fake = match FakeInstagram::start_on(addr, opts, media.clone()).await {
        Ok(f) => f,
        Err(e) => {
            eprintln!("igfeed fake-upstream: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut tokens = vec![fake.issue_token()];
    for n in 1..accounts {
        let theirs = sample_media_like(n, &media);
        let user_id = (17_841_400_000_000_000u64 + n as u64).to_string();
        let id = fake.add_account(&format!("fakeuser{}", n + 1), &user_id, theirs);
        tokens.push(fake.issue_token_for(id));
    }
    let app = FakeOptions::default();
    let line = serde_json::json!({
        "graph_url": fake.base_url(),
        "token": tokens[0],
        "tokens": tokens,
        "app_id": app.app_id,
        "app_secret": app.app_secret,
    });
    println!("{line}");
    shutdown.await;
    ExitCode::SUCCESS
}
