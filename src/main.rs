//! The igfeed binary: parse the configuration, set up tracing, run the app.

use std::process::ExitCode;

use igfeed::app::{App, StartError, shutdown_signal};
use igfeed::config::{Cli, Command};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse_or_exit();
    match cli.command {
        Some(Command::Healthcheck) => return igfeed::healthcheck::run(cli.config.listen).await,
        Some(Command::Openapi) => {
            let doc = igfeed::routes::openapi_json();
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
            return ExitCode::SUCCESS;
        }
        None => {}
    }
    igfeed::telemetry::init(cli.config.log_format);
    let shutdown = shutdown_signal();
    let app = match App::build(cli.config).await {
        Ok(app) => app,
        Err(err) => {
            eprintln!("igfeed: {err}");
            return match err {
                StartError::Config { .. } => ExitCode::from(2),
                StartError::Bind { .. } => ExitCode::from(1),
            };
        }
    };
    match app.run(shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("igfeed: server failed: {err}");
            ExitCode::FAILURE
        }
    }
}
