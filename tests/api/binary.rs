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
        ("IGFEED_REDIS_URL", "localhost:6379", "redis://"),
        ("IGFEED_REDIS_URL", "http://cache:6379", "redis://"),
        ("IGFEED_REDIS_LEASE", "10ms", "300ms to 1h"),
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
fn a_bad_redis_url_is_refused_without_echoing_its_password() {
    let out = igfeed(&[("IGFEED_REDIS_URL", "redis//:hunter2secret@cache:6379")])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("IGFEED_REDIS_URL"));
    assert!(!stderr.contains("hunter2secret"), "{stderr}");
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
    // Start-up lines (process limits), then the listening line.
    loop {
        let line = lines.next().expect("a log line").unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).expect("a JSON log line");
        assert!(!line.contains("IGAAnotused"));
        if v["message"] == "igfeed listening" {
            break;
        }
    }

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
    // Nothing answering (a bound port nobody serves, held for the whole
    // check so no other test can take it meanwhile): failure.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let out = check(silent.local_addr().unwrap().to_string())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    drop(silent);
}

/// The real binary, started with a low soft open-files limit, raises it to
/// the hard limit and marks itself non-dumpable before it listens.
#[cfg(target_os = "linux")]
#[test]
fn start_up_raises_the_open_files_limit_and_forbids_core_dumps() {
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::process::CommandExt;

    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("sh");
    // `$0` is the binary: `ulimit` lowers the soft limit, `exec` keeps the pid.
    cmd.args(["-c", "ulimit -Sn 256 && exec \"$0\"", BIN])
        .env_clear()
        .env("IGFEED_LISTEN", "127.0.0.1:0")
        .env("IGFEED_LOG_FORMAT", "json")
        .env("IGFEED_DATA_DIR", dir.path())
        .env("IGFEED_ACCESS_TOKEN", "IGAAnotused")
        .env("IGFEED_GRAPH_URL", "http://127.0.0.1:9")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    // A non-dumpable process's procfs entries belong to root, which shows
    // only for a process that does not run as root itself: as root, the
    // binary runs as nobody.
    let nobody = 65534;
    if rustix::process::getuid().is_root() {
        std::os::unix::fs::chown(dir.path(), Some(nobody), Some(nobody)).unwrap();
        cmd.uid(nobody).gid(nobody);
    }
    let mut child = cmd.spawn().unwrap();
    let pid = child.id();
    let mut logs = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).expect("a JSON log line");
        logs.push(v.clone());
        if v["message"] == "igfeed listening" {
            break;
        }
    }
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let owner = std::fs::metadata(format!("/proc/{pid}/status"))
        .unwrap()
        .uid();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();

    assert!(
        logs.iter().any(|v| v["message"] == "igfeed listening"),
        "the binary did not start: {logs:?}"
    );
    // "Max open files            20000                20000                files"
    let open_files: Vec<&str> = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("an open files line")
        .split_whitespace()
        .skip(3)
        .take(2)
        .collect();
    let (soft, hard) = (open_files[0], open_files[1]);
    assert_eq!(soft, hard, "soft limit raised to the hard one: {limits}");
    let raised = logs
        .iter()
        .find(|v| v["soft"].is_string())
        .expect("a log line with the limits");
    assert_eq!(raised["level"], "INFO", "{raised}");
    assert_eq!(raised["soft"], hard, "{raised}");
    assert_eq!(raised["hard"], hard, "{raised}");

    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().next())
        .expect("a Uid line");
    assert_ne!(uid, "0", "the check needs a process not running as root");
    assert_eq!(owner, 0, "non-dumpable: /proc/{pid}/status belongs to root");
}
