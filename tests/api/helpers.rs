//! `spawn_app()` and one helper per endpoint; log capture for leak checks;
//! a webhook receiver for alerts.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use igfeed::app::{App, Tuning};
use igfeed::config::{Config, Secret};
use igfeed_fake::{FakeInstagram, FakeMedia, FakeOptions, sample_media};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Everything the tests logged, to check that no secret reaches a log line.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

struct LogWriter(Logs);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = std::io::stderr().write_all(buf);
        }
        self.0.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures every event at TRACE (including reqwest's and hyper's) for the
/// current thread; `#[tokio::test]` runs the app on this thread, so this
/// sees all its log lines. Silent unless `TEST_LOG` is set.
pub fn capture_logs() -> (Logs, tracing::subscriber::DefaultGuard) {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || LogWriter(writer.clone()))
        .finish();
    (logs, tracing::subscriber::set_default(subscriber))
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub url: String,
    pub fake: Arc<FakeInstagram>,
    pub token: String,
    pub data_dir: Arc<tempfile::TempDir>,
    pub config: Config,
    pub tuning: Tuning,
    /// The running app's state, for driving one-step functions directly.
    pub state: Option<igfeed::state::AppState>,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

/// A config pointing at `fake`, with a fresh token and a temp data dir.
pub fn test_config(fake: &FakeInstagram, token: &str, data_dir: &tempfile::TempDir) -> Config {
    let mut c = Config::defaults();
    c.listen = "127.0.0.1:0".parse().unwrap();
    c.graph_url = fake.base_url().parse().unwrap();
    c.access_token = Some(Secret::new(token));
    c.data_dir = data_dir.path().to_path_buf();
    c.media_hosts = igfeed::config::HostList(vec!["127.0.0.1".into()]);
    c.upstream_timeout = Duration::from_secs(3);
    c
}

/// The app against a fake with 25 sample posts.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(FakeOptions::default(), sample_media(25), |_| {}).await
}

/// The app against a fake with `media`, after `tweak` adjusts the config.
pub async fn spawn_app_with(
    opts: FakeOptions,
    media: Vec<FakeMedia>,
    tweak: impl FnOnce(&mut Config),
) -> TestApp {
    spawn_app_tuned(opts, media, tweak, Tuning::default()).await
}

/// [`spawn_app_with`] with shortened timings.
pub async fn spawn_app_tuned(
    opts: FakeOptions,
    media: Vec<FakeMedia>,
    tweak: impl FnOnce(&mut Config),
    tuning: Tuning,
) -> TestApp {
    let fake = Arc::new(FakeInstagram::start(opts, media).await.unwrap());
    let token = fake.issue_token();
    let data_dir = Arc::new(tempfile::tempdir().unwrap());
    let mut config = test_config(&fake, &token, &data_dir);
    tweak(&mut config);
    start(fake, token, data_dir, config, tuning).await
}

/// The app against `fake` with `seed` as `IGFEED_ACCESS_TOKEN` and an
/// existing data dir.
pub async fn start_with_dir(
    fake: Arc<FakeInstagram>,
    seed: &str,
    data_dir: Arc<tempfile::TempDir>,
    tweak: impl FnOnce(&mut Config),
) -> TestApp {
    let mut config = test_config(&fake, seed, &data_dir);
    tweak(&mut config);
    start(fake, seed.to_string(), data_dir, config, Tuning::default()).await
}

/// The admin key the token tests configure.
pub const ADMIN_KEY: &str = "test-admin-key-0123456789";

async fn start(
    fake: Arc<FakeInstagram>,
    token: String,
    data_dir: Arc<tempfile::TempDir>,
    config: Config,
    tuning: Tuning,
) -> TestApp {
    let app = App::build_tuned(config.clone(), tuning.clone())
        .await
        .expect("app builds");
    let addr = app.local_addr();
    let state = Some(app.state.clone());
    let (tx, rx) = oneshot::channel();
    let handle = tokio::spawn(app.run(async {
        let _ = rx.await;
    }));
    TestApp {
        addr,
        url: format!("http://{addr}"),
        fake,
        token,
        data_dir,
        config,
        tuning,
        state,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        shutdown: Some(tx),
        handle: Some(handle),
    }
}

impl TestApp {
    /// Where the account `default` keeps its state.
    pub fn default_dir(&self) -> std::path::PathBuf {
        self.data_dir.path().join("accounts/default")
    }

    /// Stops the service gracefully and waits for it.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            tokio::time::timeout(Duration::from_secs(10), h)
                .await
                .expect("app stops within 10s")
                .unwrap();
        }
    }

    /// Stops this instance and starts a new one on the same data dir and fake.
    pub async fn restart(mut self) -> TestApp {
        self.stop().await;
        let mut config = self.config.clone();
        config.listen = "127.0.0.1:0".parse().unwrap();
        start(
            self.fake.clone(),
            self.token.clone(),
            self.data_dir.clone(),
            config,
            self.tuning.clone(),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.get_with(path, &[]).await
    }

    /// The status of `GET path`.
    pub async fn status(&self, path: String) -> u16 {
        self.get(&path).await.status().as_u16()
    }

    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        self.request(reqwest::Method::GET, path, headers).await
    }

    /// A `method` request for `path` with extra `headers`.
    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = self.client.request(method, format!("{}{path}", self.url));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.unwrap()
    }

    /// An admin request with `key` (None: no Authorization header).
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> reqwest::Response {
        let mut req = self.client.request(method, format!("{}{path}", self.url));
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.unwrap()
    }

    /// `PUT /admin/token` with `token`, using the right admin key.
    pub async fn put_token(&self, token: &str) -> reqwest::Response {
        let body = serde_json::json!({ "access_token": token });
        self.admin(
            reqwest::Method::PUT,
            "/admin/token",
            Some(ADMIN_KEY),
            Some(body),
        )
        .await
    }

    /// The token igfeed currently uses (through the admin API).
    pub async fn current_token(&self) -> String {
        let res = self
            .admin(reqwest::Method::GET, "/admin/token", Some(ADMIN_KEY), None)
            .await;
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = res.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_string()
    }

    pub async fn get_feed(&self) -> serde_json::Value {
        let res = self.get("/feed").await;
        assert_eq!(res.status(), 200, "GET /feed");
        res.json().await.unwrap()
    }
}

/// The value of the sample `name_and_labels` in a `/metrics` text.
pub fn metric(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name_and_labels) && l[name_and_labels.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Polls `check` until it returns `Some`, failing after `deadline`.
pub async fn eventually<T, F, Fut>(deadline: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(start.elapsed() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Asserts a problem+json answer with `status`.
pub async fn assert_problem(res: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(res.status(), status);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert!(body["title"].is_string() && body["type"].is_string());
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    body
}

/// A webhook receiver on loopback that fails the first `fail_first` posts.
#[derive(Clone, Default)]
pub struct Hook {
    pub received: Arc<Mutex<Vec<Value>>>,
    /// Each accepted post as sent: its headers and raw body.
    pub raw: Arc<Mutex<Vec<(axum::http::HeaderMap, bytes::Bytes)>>>,
    pub attempts: Arc<Mutex<usize>>,
    fail_first: usize,
}

impl Hook {
    pub async fn start(fail_first: usize) -> (Hook, String) {
        let hook = Hook {
            fail_first,
            ..Hook::default()
        };
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(hook.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (hook, url)
    }

    /// The events received, a recovery as `recovered:<condition>`.
    pub fn events(&self) -> Vec<String> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|v| match v["resolves"].as_str() {
                Some(r) => format!("recovered:{r}"),
                None => v["event"].as_str().unwrap().to_string(),
            })
            .collect()
    }

    /// Waits (up to `deadline`) for an `event` (`recovered:<condition>`
    /// for a recovery) to arrive.
    pub async fn wait_for(&self, event: &str, deadline: Duration) {
        eventually(deadline, &format!("a {event} alert"), || async {
            self.events().iter().any(|e| e == event).then_some(())
        })
        .await;
    }
}

async fn receive(
    State(hook): State<Hook>,
    headers: axum::http::HeaderMap,
    body: bytes::Bytes,
) -> StatusCode {
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let attempt = {
        let mut a = hook.attempts.lock().unwrap();
        *a += 1;
        *a
    };
    if attempt <= hook.fail_first {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    hook.received.lock().unwrap().push(v);
    hook.raw.lock().unwrap().push((headers, body));
    StatusCode::NO_CONTENT
}
