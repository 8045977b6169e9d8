//! `igfeed --demo`: the real binary with its embedded sample account (in a
//! build with the `demo` feature), and `/demo` outside demo mode.

#[cfg(feature = "demo")]
use std::io::{BufRead, BufReader};
#[cfg(feature = "demo")]
use std::process::{Child, Command, Stdio};

#[cfg(feature = "demo")]
struct Demo {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

#[cfg(feature = "demo")]
impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `igfeed --demo` on a free port and reads the address it logs.
#[cfg(feature = "demo")]
fn start_demo() -> Demo {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_igfeed"))
        .arg("--demo")
        .env_clear()
        .env("IGFEED_LISTEN", "127.0.0.1:0")
        .env("IGFEED_LOG_FORMAT", "json")
        .env("IGFEED_DATA_DIR", dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut url = None;
    for line in lines.map_while(Result::ok) {
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        if v["message"] == "igfeed listening" {
            url = Some(format!("http://{}", v["addr"].as_str().unwrap()));
            break;
        }
    }
    Demo {
        child,
        url: url.expect("the demo logs its address"),
        _dir: dir,
    }
}

#[cfg(feature = "demo")]
async fn get_json(client: &reqwest::Client, url: &str) -> serde_json::Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

#[cfg(feature = "demo")]
#[tokio::test]
async fn demo_mode_serves_every_kind_of_post_offline() {
    let demo = start_demo();
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
}

#[tokio::test]
async fn the_example_page_is_404_outside_demo_mode() {
    let app = crate::helpers::spawn_app().await;
    crate::helpers::assert_problem(app.get("/demo").await, 404).await;
}
