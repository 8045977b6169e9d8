//! The binary itself: bad configuration exits 2 naming the variable, JSON
//! logs, graceful shutdown on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_igfeed");

fn igfeed(envs: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear();
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd
}

#[test]
fn bad_values_exit_2_naming_the_variable() {
    let cases = [
        ("IGFEED_FEED_TTL", "soon", "90s"),
        ("IGFEED_REFRESH_AFTER", "0s", "duration"),
        ("IGFEED_MEDIA_CACHE_SIZE", "lots", "64MB"),
        ("IGFEED_MEDIA_MAX_OBJECT", "-1", "64MB"),
        ("IGFEED_LISTEN", "localhost", "IP:PORT"),
        ("IGFEED_GRAPH_URL", "ftp://graph.example", "http"),
        ("IGFEED_PUBLIC_URL", "not a url", "URL"),
        ("IGFEED_FEED_SIZE", "500", "1 to 200"),
        ("IGFEED_LOG_FORMAT", "xml", "text"),
        ("IGFEED_CORS_ORIGINS", "nope", "origin"),
        ("IGFEED_MEDIA_HOSTS", "a b", "host"),
        ("IGFEED_GRAPH_VERSION", "25", "v25.0"),
    ];
    for (var, value, hint) in cases {
        let out = igfeed(&[(var, value)]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{var}={value}: {stderr}");
        assert!(
            stderr.contains(var),
            "{var}: message names the variable: {stderr}"
        );
        assert!(
            stderr.contains(hint),
            "{var}: message shows the accepted form ({hint}): {stderr}"
        );
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        assert!(!stderr.contains("panicked"));
    }
}

#[test]
fn a_bad_secret_is_refused_without_echoing_it() {
    let out = igfeed(&[("IGFEED_ACCESS_TOKEN", "IGAA secret with spaces")])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("IGFEED_ACCESS_TOKEN"));
    assert!(!stderr.contains("secret with spaces"), "{stderr}");
}

#[test]
fn help_documents_every_variable() {
    let out = igfeed(&[]).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for var in [
        "IGFEED_LISTEN",
        "IGFEED_GRAPH_URL",
        "IGFEED_FEED_TTL",
        "IGFEED_DATA_DIR",
        "IGFEED_LOG_FORMAT",
        "IGFEED_ACCESS_TOKEN",
    ] {
        assert!(help.contains(var), "--help names {var}");
    }
}

#[test]
fn json_logs_and_graceful_shutdown_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = igfeed(&[
        ("IGFEED_LISTEN", "127.0.0.1:0"),
        ("IGFEED_LOG_FORMAT", "json"),
        ("IGFEED_DATA_DIR", dir.path().to_str().unwrap()),
        ("IGFEED_ACCESS_TOKEN", "IGAAnotused"),
        ("IGFEED_GRAPH_URL", "http://127.0.0.1:9"),
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let v: serde_json::Value = serde_json::from_str(&first).expect("a JSON log line");
    assert_eq!(v["message"], "igfeed listening", "{first}");
    assert!(!first.contains("IGAAnotused"));

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let start = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "exits within 10s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(code, Some(0));
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l.contains("SIGTERM")), "{rest:?}");
}

#[cfg(not(feature = "demo"))]
#[test]
fn demo_is_refused_by_a_build_without_the_demo_feature() {
    for (args, envs) in [
        (&["--demo"][..], &[][..]),
        (&[][..], &[("IGFEED_DEMO", "true")][..]),
    ] {
        let out = igfeed(envs).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("`demo` feature"), "{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    }
}

#[tokio::test]
async fn healthcheck_subcommand_reports_the_local_service() {
    let app = crate::helpers::spawn_app().await;
    let check = |listen: String| {
        tokio::task::spawn_blocking(move || {
            igfeed(&[("IGFEED_LISTEN", listen.as_str())])
                .arg("healthcheck")
                .output()
                .unwrap()
        })
    };
    let out = check(app.addr.to_string()).await.unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // 0.0.0.0 is asked on loopback, as in the container.
    let out = check(format!("0.0.0.0:{}", app.addr.port())).await.unwrap();
    assert_eq!(out.status.code(), Some(0));
    // Nothing listening: failure.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = check(format!("127.0.0.1:{port}")).await.unwrap();
    assert_eq!(out.status.code(), Some(1));
}
