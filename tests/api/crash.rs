//! Crash safety: SIGKILL the real binary at random moments while it
//! refreshes the tokens of several accounts, rewrites their feeds and adds
//! and removes an account, 50 times over; every account's state must
//! always load, hold a token Instagram accepts, and leave no temp files.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use igfeed::feed::SnapshotFile;
use igfeed::token::TokenFile;
use igfeed_fake::{FakeInstagram, FakeOptions, Route, sample_media};
use rand::Rng;

/// The address `child` (started with `IGFEED_LISTEN=127.0.0.1:0` and JSON
/// logs) says it listens on: asking the OS for a free port and passing it
/// on would race with other tests binding ports meanwhile.
fn listening_addr(child: &mut std::process::Child) -> String {
    use std::io::BufRead;
    let stdout = child.stdout.take().expect("stdout is piped");
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.expect("the log is text");
        let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if let Some(addr) = event["addr"].as_str() {
            return addr.to_string();
        }
    }
    panic!("igfeed ended without saying where it listens");
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
    let shop_token = fake.issue_token();
    let dir = tempfile::tempdir().unwrap();
    let accounts = dir.path().join("accounts");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let mut rng = rand::rng();
    let started = Instant::now();
    for i in 0..50 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_igfeed"))
            .env_clear()
            .env("IGFEED_LISTEN", "127.0.0.1:0")
            .env("IGFEED_GRAPH_URL", fake.base_url())
            .env("IGFEED_ACCESS_TOKEN", &seed)
            .env("IGFEED_DATA_DIR", dir.path())
            .env("IGFEED_ADMIN_KEY", "crash-test-admin-key")
            .env("IGFEED_MEDIA_HOSTS", "127.0.0.1")
            .env("IGFEED_REFRESH_AFTER", "100ms")
            .env("IGFEED_REFRESH_MIN_AGE", "50ms")
            .env("IGFEED_FEED_TTL", "30ms")
            .env("RUST_LOG", "warn,igfeed::app=info")
            .env("IGFEED_LOG_FORMAT", "json")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let addr = tokio::task::block_in_place(|| listening_addr(&mut child));
        let url = format!("http://{addr}");
        let up = Instant::now();
        while client.get(format!("{url}/healthz")).send().await.is_err() {
            assert!(
                up.elapsed() < Duration::from_secs(10),
                "iteration {i}: did not start"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let admin = |req: reqwest::RequestBuilder| req.bearer_auth("crash-test-admin-key");
        if i == 0 {
            let res = admin(client.put(format!("{url}/admin/accounts/shop")))
                .json(&serde_json::json!({ "access_token": shop_token }))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 201);
        }
        // Traffic (feed rewrites) while the refresher works, and an account
        // added and removed, for a random time.
        let until = Instant::now() + Duration::from_millis(rng.random_range(20..400));
        let mut n = 0;
        while Instant::now() < until {
            let _ = client.get(format!("{url}/feed")).send().await;
            let _ = client.get(format!("{url}/feeds/shop")).send().await;
            let temp = format!("{url}/admin/accounts/temp");
            let _ = if n % 2 == 0 {
                let body = serde_json::json!({ "access_token": fake.issue_token() });
                admin(client.put(temp)).json(&body).send().await
            } else {
                admin(client.delete(temp)).send().await
            };
            n += 1;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let mut names: Vec<String> = std::fs::read_dir(&accounts)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        assert!(
            names == ["default", "shop"] || names == ["default", "shop", "temp"],
            "iteration {i}: accounts on disk: {names:?}"
        );
        for name in &names {
            let account = accounts.join(name);
            let rec = TokenFile::new(&account).load().unwrap_or_else(|e| {
                panic!("iteration {i}: the token state of {name} does not load: {e}")
            });
            // `temp` may have been caught between its directory and its
            // token (a PUT never answered): igfeed drops it at start-up.
            let Some(rec) = rec else {
                assert_eq!(name, "temp", "iteration {i}: {name} has no token");
                continue;
            };
            assert!(
                fake.token_is_valid(rec.access_token.expose()),
                "iteration {i}: the stored token of {name} is not accepted"
            );
            SnapshotFile::new(&account).load().unwrap_or_else(|e| {
                panic!("iteration {i}: feed.json of {name} does not load: {e}")
            });
            let temps = temp_files(&account);
            assert!(
                temps.len() <= 1,
                "iteration {i}: temp files pile up in {name}: {temps:?}"
            );
        }
    }
    assert!(
        fake.calls(Route::Refresh) >= 50,
        "refreshes during the run: {}",
        fake.calls(Route::Refresh)
    );
    assert!(started.elapsed() < Duration::from_secs(120));
}

/// Replicas on Redis, SIGKILLed one at a time at random moments (a lease
/// holder among them, mid-refresh sometimes) and started again, while
/// traffic flows and an account comes and goes: Redis always holds a token
/// Instagram accepts for every account, and the replicas left serve.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_replicas_at_random_moments_never_loses_a_token() {
    use crate::replicas::{RedisServer, Replica, Setup};
    // As above: a kill between Instagram's refresh answer and the write
    // to Redis would otherwise lose the only valid token.
    let fake = FakeInstagram::start(
        FakeOptions {
            rotation_grace: Duration::from_secs(20),
            ..FakeOptions::default()
        },
        sample_media(6),
    )
    .await
    .unwrap();
    let redis = RedisServer::start();
    let setup = Setup {
        graph_url: fake.base_url(),
        redis_url: redis.url(),
        seed: fake.issue_token(),
        env: vec![
            ("IGFEED_REFRESH_AFTER", "150ms".into()),
            ("IGFEED_REFRESH_MIN_AGE", "100ms".into()),
            ("IGFEED_FEED_TTL", "50ms".into()),
            ("IGFEED_REDIS_LEASE", "600ms".into()),
        ],
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let admin = |req: reqwest::RequestBuilder| req.bearer_auth("replica-test-admin-key");
    let mut replicas: Vec<Replica> = (0..3).map(|_| Replica::start(&setup)).collect();
    let res = admin(client.put(format!("{}/admin/accounts/shop", replicas[0].url)))
        .json(&serde_json::json!({ "access_token": fake.issue_token() }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let mut rng = rand::rng();
    let started = Instant::now();
    for i in 0..20 {
        let victim = rng.random_range(0..replicas.len());
        let until = Instant::now() + Duration::from_millis(rng.random_range(50..400));
        let mut n = 0;
        while Instant::now() < until {
            let url = &replicas[n % replicas.len()].url;
            let _ = client.get(format!("{url}/feed")).send().await;
            let _ = client.get(format!("{url}/feeds/shop")).send().await;
            let temp = format!("{url}/admin/accounts/temp");
            let _ = if n % 2 == 0 {
                let body = serde_json::json!({ "access_token": fake.issue_token() });
                admin(client.put(temp)).json(&body).send().await
            } else {
                admin(client.delete(temp)).send().await
            };
            n += 1;
        }
        replicas[victim].kill(); // SIGKILL
        let members = redis.members("igfeed:accounts");
        assert!(
            members == ["default", "shop"] || members == ["default", "shop", "temp"],
            "iteration {i}: accounts in Redis: {members:?}"
        );
        for name in ["default", "shop"] {
            let token = redis
                .token(name)
                .unwrap_or_else(|| panic!("iteration {i}: {name} has no token in Redis"));
            assert!(
                fake.token_is_valid(&token),
                "iteration {i}: the token of {name} in Redis is not accepted"
            );
        }
        for (k, r) in replicas.iter().enumerate() {
            if k != victim {
                let res = client.get(format!("{}/feed", r.url)).send().await.unwrap();
                assert_eq!(
                    res.status(),
                    200,
                    "iteration {i}: a replica left does not serve"
                );
            }
        }
        replicas[victim] = Replica::start(&setup);
    }
    // Every replica ends up on the token Redis holds.
    let stored = redis.token("default").unwrap();
    for r in &replicas {
        crate::helpers::eventually(Duration::from_secs(2), "replicas agree", || async {
            let now = redis.token("default")?;
            (r.token(&client, "default").await? == now).then_some(())
        })
        .await;
    }
    assert!(fake.token_is_valid(&stored) || fake.token_is_valid(&redis.token("default").unwrap()));
    assert!(
        fake.calls(Route::Refresh) >= 20,
        "refreshes during the run: {}",
        fake.calls(Route::Refresh)
    );
    assert!(started.elapsed() < Duration::from_secs(120));
}
