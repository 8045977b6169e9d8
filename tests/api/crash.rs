//! Crash safety: SIGKILL the real binary at random moments while it
//! refreshes its token and rewrites the feed, 50 times over; the state must
//! always load, hold a token Instagram accepts, and leave no temp files.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use igfeed::feed::SnapshotFile;
use igfeed::token::TokenFile;
use igfeed_fake::{FakeInstagram, FakeOptions, Route, sample_media};
use rand::Rng;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn temp_files(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_never_breaks_the_state() {
    // A rotated-out token keeps working for a few seconds here: a kill in the
    // instant between Instagram answering a refresh and igfeed's fsync would
    // otherwise lose the only valid token (see README, "Token lifecycle").
    let fake = FakeInstagram::start(
        FakeOptions {
            rotation_grace: Duration::from_secs(20),
            ..FakeOptions::default()
        },
        sample_media(10),
    )
    .await
    .unwrap();
    let seed = fake.issue_token();
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let mut rng = rand::rng();
    let started = Instant::now();
    for i in 0..50 {
        let port = free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_igfeed"))
            .env_clear()
            .env("IGFEED_LISTEN", format!("127.0.0.1:{port}"))
            .env("IGFEED_GRAPH_URL", fake.base_url())
            .env("IGFEED_ACCESS_TOKEN", &seed)
            .env("IGFEED_DATA_DIR", dir.path())
            .env("IGFEED_MEDIA_HOSTS", "127.0.0.1")
            .env("IGFEED_REFRESH_AFTER", "100ms")
            .env("IGFEED_REFRESH_MIN_AGE", "50ms")
            .env("IGFEED_FEED_TTL", "30ms")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let up = Instant::now();
        while client.get(format!("{url}/healthz")).send().await.is_err() {
            assert!(
                up.elapsed() < Duration::from_secs(10),
                "iteration {i}: did not start"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Traffic (feed rewrites) while the refresher works, for a random time.
        let until = Instant::now() + Duration::from_millis(rng.random_range(20..400));
        while Instant::now() < until {
            let _ = client.get(format!("{url}/feed")).send().await;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let rec = TokenFile::new(dir.path())
            .load()
            .unwrap_or_else(|e| panic!("iteration {i}: token state does not load: {e}"))
            .expect("a token state");
        assert!(
            fake.token_is_valid(rec.access_token.expose()),
            "iteration {i}: the stored token is not accepted"
        );
        SnapshotFile::new(dir.path())
            .load()
            .unwrap_or_else(|e| panic!("iteration {i}: feed.json does not load: {e}"));
        let temps = temp_files(dir.path());
        assert!(
            temps.len() <= 1,
            "iteration {i}: temp files pile up: {temps:?}"
        );
    }
    assert!(
        fake.calls(Route::Refresh) >= 50,
        "refreshes during the run: {}",
        fake.calls(Route::Refresh)
    );
    assert!(started.elapsed() < Duration::from_secs(120));
}
