//! `igfeed healthcheck`: exits 0 when the local service answers `/healthz`,
//! so container health checks need no curl.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

/// Asks `http://<listen>/healthz` (an unspecified listen address is asked on
/// loopback) and reports the answer as an exit code.
pub async fn run(listen: SocketAddr) -> ExitCode {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let url = format!("http://{}/healthz", SocketAddr::new(ip, listen.port()));
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
    {
        Ok(c) => c,
        Err(_) => return ExitCode::FAILURE,
    };
    match client.get(&url).send().await {
        Ok(res) if res.status().is_success() => ExitCode::SUCCESS,
        Ok(res) => {
            eprintln!("igfeed healthcheck: {url} answered {}", res.status());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("igfeed healthcheck: {url}: {}", igfeed_describe(&e));
            ExitCode::FAILURE
        }
    }
}

fn igfeed_describe(e: &reqwest::Error) -> String {
    crate::graph::describe(e)
}
