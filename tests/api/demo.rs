//! `igfeed --demo`: the real binary with its embedded sample account (in a
//! build with the `demo` feature), and `/demo` outside demo mode.

#[cfg(feature = "demo")]
use std::collections::BTreeMap;
#[cfg(feature = "demo")]
use std::io::{BufRead, BufReader};
#[cfg(feature = "demo")]
use std::path::{Path, PathBuf};
#[cfg(feature = "demo")]
use std::process::{Child, Command, Stdio};
#[cfg(feature = "demo")]
use std::time::{Duration, Instant, SystemTime};

#[cfg(feature = "demo")]
struct Demo {
    child: Child,
    url: String,
    /// Where the demo says it keeps its state, from its log.
    state_dir: Option<PathBuf>,
}

#[cfg(feature = "demo")]
impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(feature = "demo")]
impl Demo {
    /// SIGTERM, then waits for a clean exit.
    fn stop(&mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "exits on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(status.code(), Some(0));
    }
}

/// Starts `igfeed --demo` on a free port with `IGFEED_DATA_DIR=data_dir`
/// and reads the address it logs.
#[cfg(feature = "demo")]
fn start_demo(data_dir: &Path) -> Demo {
    let mut child = Command::new(env!("CARGO_BIN_EXE_igfeed"))
        .arg("--demo")
        .env_clear()
        .env("IGFEED_LISTEN", "127.0.0.1:0")
        .env("IGFEED_LOG_FORMAT", "json")
        .env("IGFEED_DATA_DIR", data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut url, mut state_dir) = (None, None);
    for line in lines.map_while(Result::ok) {
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        if let Some(dir) = v["state_dir"].as_str() {
            state_dir = Some(PathBuf::from(dir));
        }
        if v["message"] == "igfeed listening" {
            url = Some(format!("http://{}", v["addr"].as_str().unwrap()));
            break;
        }
    }
    Demo {
        child,
        url: url.expect("the demo logs its address"),
        state_dir,
    }
}

/// Every file and directory under `dir`: contents (files), permissions and
/// modification time, so that any write shows.
#[cfg(feature = "demo")]
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (Option<Vec<u8>>, u32, SystemTime)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(path) = todo.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let contents = if meta.is_dir() {
            todo.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            None
        } else {
            Some(std::fs::read(&path).unwrap())
        };
        let key = path.strip_prefix(dir).unwrap().to_path_buf();
        out.insert(
            key,
            (
                contents,
                meta.permissions().mode(),
                meta.modified().unwrap(),
            ),
        );
    }
    out
}

#[cfg(feature = "demo")]
async fn get_json(client: &reqwest::Client, url: &str) -> serde_json::Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

#[cfg(feature = "demo")]
#[tokio::test]
async fn demo_mode_serves_every_kind_of_post_offline() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let demo = start_demo(&data_dir);
    let client = reqwest::Client::new();
    let feed: serde_json::Value = get_json(&client, &format!("{}/feed", demo.url)).await;
    let data = feed["data"].as_array().unwrap();
    assert_eq!(data.len(), 25);
    assert_eq!(feed["user"]["username"], "igfeed.demo");
    let has = |f: &dyn Fn(&serde_json::Value) -> bool| data.iter().any(f);
    assert!(has(&|p| p["media_type"] == "IMAGE"));
    assert!(has(&|p| p["media_type"] == "VIDEO"
        && p["thumbnail_url"].is_string()
        && p["media_url"].is_string()));
    assert!(
        has(&|p| p["media_type"] == "VIDEO" && p["media_url"].is_null()),
        "a video without media_url"
    );
    assert!(has(&|p| p["media_type"] == "CAROUSEL_ALBUM"
        && p["children"].as_array().is_some_and(|c| c.len() == 2)));
    assert!(has(&|p| p["caption"].is_null()), "a post without caption");

    // Images are real PNGs, videos real MP4s, through the media proxy.
    let image = data.iter().find(|p| p["media_type"] == "IMAGE").unwrap();
    let res = client
        .get(image["media_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "image/png");
    assert!(res.bytes().await.unwrap().starts_with(b"\x89PNG"));
    let video = data
        .iter()
        .find(|p| p["media_type"] == "VIDEO" && p["media_url"].is_string())
        .unwrap();
    let res = client
        .get(video["media_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "video/mp4");
    assert_eq!(&res.bytes().await.unwrap()[4..8], b"ftyp");

    let token: serde_json::Value = get_json(&client, &format!("{}/token", demo.url)).await;
    assert_eq!(token["status"], "valid");
    let page = client
        .get(format!("{}/demo", demo.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("URLSearchParams"));
    assert_eq!(
        client
            .get(format!("{}/docs/", demo.url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    drop(demo);
    assert!(!data_dir.exists(), "the demo never creates IGFEED_DATA_DIR");
}

/// `--demo` used to keep its state in `IGFEED_DATA_DIR`, where its fake
/// token replaced a real one. It has a temporary directory of its own now,
/// removed when it exits.
#[cfg(feature = "demo")]
#[tokio::test]
async fn demo_mode_leaves_the_data_dir_alone() {
    let dir = tempfile::tempdir().unwrap();
    let real = igfeed::token::TokenRecord::first_seen(
        igfeed::config::Secret::new("IGAArealtokenofarealaccount"),
        SystemTime::now() - Duration::from_secs(3 * 24 * 3600),
        None,
    );
    igfeed::token::TokenFile::new(dir.path())
        .save(&real)
        .unwrap();
    // igfeed removes temp files of interrupted writes at start-up.
    std::fs::write(dir.path().join(".token.json.tmp-1234"), b"{").unwrap();
    let before = snapshot(dir.path());

    let mut demo = start_demo(dir.path());
    let client = reqwest::Client::new();
    let token = get_json(&client, &format!("{}/token", demo.url)).await;
    assert_eq!(token["status"], "valid", "{token}");
    let feed = get_json(&client, &format!("{}/feed", demo.url)).await;
    assert_eq!(feed["user"]["username"], "igfeed.demo");
    let state_kept = demo
        .state_dir
        .as_ref()
        .map(|d| d.join("accounts/default/token.json").exists());
    demo.stop();

    // The data dir is untouched: the same files, each byte for byte, and
    // no modification time moved (not even the directory's).
    let after = snapshot(dir.path());
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>(),
        "no file added or removed"
    );
    for (path, was) in &before {
        assert!(after[path] == *was, "{path:?} changed");
    }
    let state_dir = demo.state_dir.clone().expect("the demo logs its state_dir");
    assert_eq!(
        state_kept,
        Some(true),
        "the demo keeps its token in {state_dir:?}"
    );
    assert!(!state_dir.starts_with(dir.path()));
    assert!(!state_dir.exists(), "the demo's state is removed at exit");
}

#[tokio::test]
async fn the_example_page_is_404_outside_demo_mode() {
    let app = crate::helpers::spawn_app().await;
    crate::helpers::assert_problem(app.get("/demo").await, 404).await;
}
