//! Replicas on Redis: several igfeed processes sharing one real
//! `redis-server` (Debian's package; `scripts/test` installs it), each
//! started on a loopback port by these tests, against the fake Instagram
//! whose refreshed tokens replace the old string at once.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use igfeed_fake::{
    FakeAccountId, FakeInstagram, FakeOptions, Route, sample_media, sample_media_for,
};
use serde_json::{Value, json};

use crate::helpers::{eventually, metric};

const ADMIN_KEY: &str = "replica-test-admin-key";

/// A `redis-server` of its own: loopback, a private directory, no
/// persistence (a restart comes back empty). Killed when dropped.
pub struct RedisServer {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl RedisServer {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for _ in 0..20 {
            // A free port now; another test may take it before Redis does,
            // and then Redis fails to start and another port is tried.
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            if let Some(child) = Self::spawn(port, dir.path()) {
                return Self { child, port, dir };
            }
        }
        panic!("redis-server did not start");
    }

    fn spawn(port: u16, dir: &std::path::Path) -> Option<Child> {
        let mut child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--loglevel", "warning"])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("redis-server cannot be started ({e}): install Debian's redis-server (scripts/test does)")
            });
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = child.try_wait() {
                return None;
            }
            if Self::ping(port) {
                return Some(child);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    fn ping(port: u16) -> bool {
        redis::Client::open(format!("redis://127.0.0.1:{port}"))
            .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(200)))
            .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
            .is_ok()
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops the server (SIGKILL: whatever it held is gone).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again, empty, on the same port.
    pub fn restart_empty(&mut self) {
        self.stop();
        let started = Instant::now();
        loop {
            if let Some(child) = Self::spawn(self.port, self.dir.path()) {
                self.child = child;
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not start again on port {}",
                self.port
            );
        }
    }

    fn conn(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .unwrap()
            .get_connection_with_timeout(Duration::from_secs(2))
            .unwrap()
    }

    pub fn get(&self, key: &str) -> Option<String> {
        redis::cmd("GET").arg(key).query(&mut self.conn()).unwrap()
    }

    pub fn hget(&self, key: &str, field: &str) -> Option<String> {
        redis::cmd("HGET")
            .arg(key)
            .arg(field)
            .query(&mut self.conn())
            .unwrap()
    }

    pub fn members(&self, key: &str) -> Vec<String> {
        let mut names: Vec<String> = redis::cmd("SMEMBERS")
            .arg(key)
            .query(&mut self.conn())
            .unwrap();
        names.sort();
        names
    }

    /// The token Redis holds for `account`.
    pub fn token(&self, account: &str) -> Option<String> {
        let rec = self.hget(&format!("igfeed:token:{account}"), "rec")?;
        let rec: Value = serde_json::from_str(&rec).unwrap();
        rec["access_token"].as_str().map(str::to_string)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One igfeed process; its JSON log lines are kept. Killed when dropped.
pub struct Replica {
    child: Child,
    pub url: String,
    logs: Arc<Mutex<Vec<String>>>,
}

/// The settings every replica of a test shares.
#[derive(Clone)]
pub struct Setup {
    pub graph_url: String,
    pub redis_url: String,
    pub seed: String,
    pub env: Vec<(&'static str, String)>,
}

/// A replica's process, its log lines, and where it listens once it says so.
impl Replica {
    /// Starts a replica and waits until it listens.
    pub fn start(setup: &Setup) -> Self {
        // Killed on the way out if it never listens.
        let (mut replica, addr) = Self::spawn(setup);
        let addr = addr
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|e| {
                panic!(
                    "the replica did not say where it listens ({e}); its log:\n{}",
                    replica.logs()
                )
            });
        replica.url = format!("http://{addr}");
        replica
    }

    /// Starts a replica without waiting: it, without a URL yet, and where
    /// it listens once it says so.
    fn spawn(setup: &Setup) -> (Self, std::sync::mpsc::Receiver<String>) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_igfeed"));
        command
            .env_clear()
            .env("IGFEED_LISTEN", "127.0.0.1:0")
            .env("IGFEED_GRAPH_URL", &setup.graph_url)
            .env("IGFEED_REDIS_URL", &setup.redis_url)
            .env("IGFEED_ACCESS_TOKEN", &setup.seed)
            .env("IGFEED_ADMIN_KEY", ADMIN_KEY)
            .env("IGFEED_MEDIA_HOSTS", "127.0.0.1")
            // Not used with Redis: a directory nobody can create.
            .env("IGFEED_DATA_DIR", "/proc/igfeed-replicas-need-no-data-dir")
            .env("IGFEED_LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (k, v) in &setup.env {
            command.env(k, v);
        }
        let mut child = command.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let kept = logs.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(event) = serde_json::from_str::<Value>(&line)
                    && let Some(addr) = event["fields"]["addr"].as_str().or(event["addr"].as_str())
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(addr.to_string());
                }
                kept.lock().unwrap().push(line);
            }
        });
        let replica = Self {
            child,
            url: String::new(),
            logs,
        };
        (replica, rx)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    pub async fn token(&self, client: &reqwest::Client, account: &str) -> Option<String> {
        let res = client
            .get(format!("{}/admin/accounts/{account}/token", self.url))
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .ok()?;
        if res.status() != 200 {
            return None;
        }
        let body: Value = res.json().await.ok()?;
        body["access_token"].as_str().map(str::to_string)
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

async fn fake_with(opts: FakeOptions) -> FakeInstagram {
    FakeInstagram::start(opts, sample_media(6)).await.unwrap()
}

fn setup(fake: &FakeInstagram, redis: &RedisServer, env: &[(&'static str, &str)]) -> Setup {
    Setup {
        graph_url: fake.base_url(),
        redis_url: redis.url(),
        seed: fake.issue_token(),
        env: env.iter().map(|(k, v)| (*k, v.to_string())).collect(),
    }
}

/// `PUT {url}{path}` of `token` with the admin key; the status.
async fn put(client: &reqwest::Client, url: &str, path: &str, token: &str) -> u16 {
    client
        .put(format!("{url}{path}"))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({ "access_token": token }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn status(client: &reqwest::Client, url: String) -> u16 {
    client
        .get(url)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

/// Waits until every replica uses `token` for `account`.
async fn all_use(
    client: &reqwest::Client,
    replicas: &[&Replica],
    account: &str,
    token: &str,
    within: Duration,
) {
    let start = Instant::now();
    for r in replicas {
        loop {
            if r.token(client, account).await.as_deref() == Some(token) {
                break;
            }
            assert!(
                start.elapsed() < within,
                "a replica did not use the new token of {account} within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Three replicas, tokens due every ~second, old strings dead at once:
/// several rotations, each one refresh call, and no call at the fake ever
/// made with a dead token (a second refresher, or a replica still using the
/// old string, would show as error 190). Every replica uses the new token
/// within a second of each rotation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_refresh_each_token_once_and_all_use_the_newest() {
    let fake = fake_with(FakeOptions::default()).await;
    let mut redis = RedisServer::start();
    let s = setup(
        &fake,
        &redis,
        &[
            ("IGFEED_REFRESH_AFTER", "1s"),
            ("IGFEED_REFRESH_MIN_AGE", "1s"),
            ("IGFEED_FEED_TTL", "200ms"),
            ("IGFEED_REDIS_LEASE", "1500ms"),
        ],
    );
    let replicas: Vec<Replica> = (0..3).map(|_| Replica::start(&s)).collect();
    let all: Vec<&Replica> = replicas.iter().collect();
    let c = client();
    let start = Instant::now();
    let mut seen = vec![s.seed.clone()];
    // Traffic on every replica (feeds re-fetched every 200ms with whatever
    // token each holds) while the tokens rotate.
    while seen.len() < 5 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "rotations in 30s: {}",
            seen.len() - 1
        );
        for r in &replicas {
            assert_eq!(status(&c, format!("{}/feed", r.url)).await, 200);
        }
        let current = redis.token("default").unwrap();
        if seen.last() != Some(&current) {
            // Each replica uses it within a second of its storing.
            all_use(&c, &all, "default", &current, Duration::from_secs(1)).await;
            seen.push(current);
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let rotations = seen.len() - 1;
    let refreshes = fake.calls(Route::Refresh);
    assert!(
        refreshes == rotations || refreshes == rotations + 1,
        "{refreshes} refresh calls for {rotations} rotations (one may be in flight)"
    );
    assert_eq!(
        fake.rejected_tokens(),
        0,
        "a call was made with a dead token"
    );
    assert_eq!(fake.valid_tokens().len(), 1);
    // The walks were shared too: far fewer than one per replica per TTL.
    let walks = fake.calls(Route::Me);
    let ttls = start.elapsed().as_millis() as usize / 200 + 1;
    assert!(walks <= ttls + 2, "{walks} walks in {ttls} TTLs");
    drop(replicas);
    redis.stop();
}

/// A cold feed requested at once from every replica costs one walk; a
/// purge on one replica is seen by the others within a second, and the
/// next burst costs one walk again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_burst_over_all_replicas_costs_one_walk() {
    let fake = fake_with(FakeOptions {
        latency: Duration::from_millis(150),
        ..FakeOptions::default()
    })
    .await;
    let redis = RedisServer::start();
    let s = setup(&fake, &redis, &[("IGFEED_FEED_TTL", "1h")]);
    let replicas: Vec<Replica> = (0..3).map(|_| Replica::start(&s)).collect();
    let c = client();
    let burst = |n: usize| {
        let futures: Vec<_> = (0..n)
            .map(|i| {
                let (c, url) = (c.clone(), replicas[i % 3].url.clone());
                async move {
                    let res = c.get(format!("{url}/feed")).send().await.unwrap();
                    assert_eq!(res.status(), 200);
                    let body: Value = res.json().await.unwrap();
                    body["data"].as_array().unwrap().len()
                }
            })
            .collect();
        futures_util::future::join_all(futures)
    };
    let posts = burst(30).await;
    assert!(posts.iter().all(|n| *n == 6), "{posts:?}");
    assert_eq!(fake.calls(Route::Me), 1, "one walk across three replicas");
    assert_eq!(fake.calls(Route::MediaList), 1);

    // Warm: no more walks on any replica.
    burst(9).await;
    assert_eq!(fake.calls(Route::Me), 1);

    // A purge on the first replica: the others drop their copies too.
    let res = c
        .post(format!("{}/admin/cache/purge", replicas[0].url))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let purged = Instant::now();
    let log = "caches purged by another replica";
    for r in &replicas[1..] {
        eventually(
            Duration::from_secs(1),
            "the purge reached the replica",
            || async { r.logs().contains(log).then_some(()) },
        )
        .await;
    }
    assert!(purged.elapsed() < Duration::from_secs(1));
    burst(30).await;
    assert_eq!(fake.calls(Route::Me), 2, "one walk after the purge");
}

/// An account added, given a new token, and removed on one replica is
/// seen that way on the others within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_changes_reach_every_replica_within_a_second() {
    let fake = fake_with(FakeOptions::default()).await;
    let shop = fake.add_account("shop_user", "17841400000000099", sample_media_for(1, 3));
    let redis = RedisServer::start();
    let s = setup(&fake, &redis, &[]);
    let replicas: Vec<Replica> = (0..3).map(|_| Replica::start(&s)).collect();
    let all: Vec<&Replica> = replicas.iter().collect();
    let c = client();

    let token = fake.issue_token_for(shop);
    assert_eq!(
        put(&c, &replicas[0].url, "/admin/accounts/shop", &token).await,
        201
    );
    all_use(&c, &all, "shop", &token, Duration::from_secs(1)).await;
    for r in &replicas {
        let res = c.get(format!("{}/feeds/shop", r.url)).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["data"].as_array().unwrap().len(), 3);
    }
    assert_eq!(
        fake.calls_by(Route::Me, shop),
        2,
        "the PUT's check, then one walk"
    );

    // A new token for `default` on the third replica.
    let new = fake.issue_token();
    assert_eq!(put(&c, &replicas[2].url, "/admin/token", &new).await, 200);
    all_use(&c, &all, "default", &new, Duration::from_secs(1)).await;

    // Removed on the second replica: gone everywhere within a second.
    let res = c
        .delete(format!("{}/admin/accounts/shop", replicas[1].url))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let removed = Instant::now();
    for r in &replicas {
        eventually(Duration::from_secs(1), "shop is gone", || async {
            (status(&c, format!("{}/feeds/shop", r.url)).await == 404).then_some(())
        })
        .await;
    }
    assert!(removed.elapsed() < Duration::from_secs(1));
    assert_eq!(redis.members("igfeed:accounts"), ["default"]);
    assert_eq!(redis.get("igfeed:feed:shop"), None);
}

/// The replica holding the refresh lease is killed (SIGKILL, no release):
/// its lease expires and another replica refreshes the next rotation in
/// time, with no call made with a dead token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_lease_holder_hands_the_refresh_to_another_replica() {
    let fake = fake_with(FakeOptions::default()).await;
    let redis = RedisServer::start();
    let s = setup(
        &fake,
        &redis,
        &[
            ("IGFEED_REFRESH_AFTER", "2s"),
            ("IGFEED_REFRESH_MIN_AGE", "2s"),
            ("IGFEED_REDIS_LEASE", "1s"),
        ],
    );
    let mut replicas: Vec<Replica> = (0..3).map(|_| Replica::start(&s)).collect();
    let c = client();
    // Wait for a first rotation: the holder has just refreshed, the next
    // refresh is two seconds away.
    let first = eventually(Duration::from_secs(10), "a first rotation", || async {
        redis.token("default").filter(|t| *t != s.seed)
    })
    .await;
    let holder = redis.get("igfeed:lease:default").unwrap();
    let index = replicas
        .iter()
        .position(|r| holder.starts_with(&format!("{}-", r.pid())))
        .unwrap_or_else(|| panic!("the lease holder {holder} is one of the replicas"));
    let killed = Instant::now();
    replicas[index].kill();
    let rest: Vec<&Replica> = replicas
        .iter()
        .filter(|r| r.pid() != replicas[index].pid())
        .collect();
    // Due two seconds after the first rotation (plus up to a tenth as
    // jitter); the lease lapses within a second: the next rotation comes
    // within 2.2s + 1s + a tick of the first.
    let second = eventually(
        Duration::from_secs(6),
        "a rotation after the kill",
        || async { redis.token("default").filter(|t| *t != first) },
    )
    .await;
    assert!(killed.elapsed() < Duration::from_secs(5));
    let taker = redis.get("igfeed:lease:default").unwrap();
    assert_ne!(taker, holder, "another replica holds the lease now");
    all_use(&c, &rest, "default", &second, Duration::from_secs(1)).await;
    for r in &rest {
        assert_eq!(status(&c, format!("{}/feed", r.url)).await, 200);
    }
    assert_eq!(
        fake.rejected_tokens(),
        0,
        "a call was made with a dead token"
    );
    assert!(fake.token_is_valid(&second));
}

/// Redis stops: replicas keep serving, refresh nothing, and say so
/// (`/readyz` 200 with a warning, `igfeed_redis_down 1`, a log line).
/// It comes back empty: the replicas write their state back, the token
/// they use included, and refreshing resumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_empty_gets_the_state_written_back() {
    let fake = fake_with(FakeOptions::default()).await;
    let shop = fake.add_account("shop_user", "17841400000000099", sample_media_for(1, 2));
    let mut redis = RedisServer::start();
    let s = setup(
        &fake,
        &redis,
        &[
            ("IGFEED_REFRESH_AFTER", "1s"),
            ("IGFEED_REFRESH_MIN_AGE", "1s"),
            ("IGFEED_REDIS_LEASE", "900ms"),
            ("IGFEED_FEED_TTL", "300ms"),
        ],
    );
    let replicas: Vec<Replica> = (0..2).map(|_| Replica::start(&s)).collect();
    let c = client();
    assert_eq!(
        put(
            &c,
            &replicas[0].url,
            "/admin/accounts/shop",
            &fake.issue_token_for(shop)
        )
        .await,
        201
    );
    for r in &replicas {
        assert_eq!(status(&c, format!("{}/feed", r.url)).await, 200);
        // The other replica hears of `shop` within a second.
        eventually(Duration::from_secs(2), "shop on every replica", || async {
            (status(&c, format!("{}/feeds/shop", r.url)).await == 200).then_some(())
        })
        .await;
    }
    eventually(Duration::from_secs(10), "a rotation", || async {
        redis.token("default").filter(|t| *t != s.seed)
    })
    .await;

    redis.stop();
    for r in &replicas {
        let ready = eventually(
            Duration::from_secs(5),
            "readyz says Redis is down",
            || async {
                let body: Value = c
                    .get(format!("{}/readyz", r.url))
                    .send()
                    .await
                    .ok()?
                    .json()
                    .await
                    .ok()?;
                body["warnings"]
                    .as_array()?
                    .iter()
                    .any(|w| w.as_str().unwrap_or("").contains("Redis cannot be reached"))
                    .then_some(body)
            },
        )
        .await;
        assert_eq!(ready["status"], "ok");
        let metrics = c
            .get(format!("{}/metrics", r.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(metric(&metrics, "igfeed_redis_down"), Some(1.0));
        // The log line, once this test's reader has it.
        eventually(
            Duration::from_secs(2),
            "the log says Redis is down",
            || async { r.logs().contains("Redis cannot be reached").then_some(()) },
        )
        .await;
    }
    let refreshes = fake.calls(Route::Refresh);
    // Tokens come due every second; for three seconds nobody refreshes,
    // and the feeds are served (from memory, or fetched by each replica).
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        for r in &replicas {
            assert_eq!(status(&c, format!("{}/feed", r.url)).await, 200);
            assert_eq!(status(&c, format!("{}/feeds/shop", r.url)).await, 200);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        fake.calls(Route::Refresh),
        refreshes,
        "no refresh while Redis is down"
    );
    let in_use = replicas[0].token(&c, "default").await.unwrap();

    redis.restart_empty();
    eventually(
        Duration::from_secs(5),
        "the state is written back",
        || async {
            (redis.members("igfeed:accounts") == ["default", "shop"]
                && redis.token("default").is_some()
                && redis.token("shop").is_some()
                && redis.get("igfeed:feed:default").is_some()
                && redis.get("igfeed:feed:shop").is_some())
            .then_some(())
        },
    )
    .await;
    // The token written back is the one in use (or, once refreshing has
    // resumed, its successor).
    let stored = redis.token("default").unwrap();
    assert!(stored == in_use || fake.calls(Route::Refresh) > refreshes);
    for r in &replicas {
        eventually(Duration::from_secs(3), "Redis is up again", || async {
            let metrics = c
                .get(format!("{}/metrics", r.url))
                .send()
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            (metric(&metrics, "igfeed_redis_down") == Some(0.0)).then_some(())
        })
        .await;
    }
    // Refreshing resumes, with no call made with a dead token.
    eventually(
        Duration::from_secs(6),
        "a rotation after Redis came back",
        || async { (fake.calls(Route::Refresh) >= refreshes + 2).then_some(()) },
    )
    .await;
    assert_eq!(
        fake.rejected_tokens(),
        0,
        "a call was made with a dead token"
    );
    // Redis holds a live token (a refresh answered just now is stored a
    // moment later).
    eventually(Duration::from_secs(2), "a live token in Redis", || async {
        redis.token("default").filter(|t| fake.token_is_valid(t))
    })
    .await;
    let shop_token = redis.token("shop").unwrap();
    assert!(fake.token_is_valid(&shop_token));
    assert_eq!(fake.token_account(&shop_token), Some(FakeAccountId(1)));
}

/// A replica started before Redis waits for it (saying so, without the
/// URL's password), then serves once Redis answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_waits_for_redis_and_never_logs_its_password() {
    let fake = fake_with(FakeOptions::default()).await;
    let mut redis = RedisServer::start();
    redis.stop();
    let mut s = setup(&fake, &redis, &[]);
    s.redis_url = format!("redis://:hunter2redis@127.0.0.1:{}", redis.port);
    // The process says where it listens only once Redis answered.
    let started = std::thread::spawn(move || Replica::start(&s));
    tokio::time::sleep(Duration::from_millis(700)).await;
    // `requirepass` makes the password part of the test: a wrong one would
    // keep the replica waiting.
    redis.restart_empty();
    let mut c = redis.conn();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("requirepass")
        .arg("hunter2redis")
        .query(&mut c)
        .unwrap();
    let replica = tokio::task::spawn_blocking(move || started.join().unwrap())
        .await
        .unwrap();
    let c = client();
    assert_eq!(status(&c, format!("{}/feed", replica.url)).await, 200);
    let logs = replica.logs();
    assert!(logs.contains("waiting for Redis"), "{logs}");
    assert!(logs.contains(":redacted@"), "{logs}");
    assert!(!logs.contains("hunter2redis"), "{logs}");
}

/// Two replicas' connections to `redis`, in this process; no sync task
/// runs, so each sees the other's writes only through the store.
fn two_stores(redis: &RedisServer) -> [Arc<igfeed::replicas::Redis>; 2] {
    let settings = igfeed::replicas::Settings {
        url: redis.url().parse().unwrap(),
        lease: Duration::from_secs(5),
        feed_ttl: Duration::from_secs(60),
        upstream_timeout: Duration::from_secs(1),
    };
    [(); 2]
        .map(|()| igfeed::replicas::Redis::new(&settings, igfeed::metrics::Metrics::new()).unwrap())
}

/// The fence itself: two replicas hold the same token; one stores a new
/// one; the other, still on the old version (as a replica that lost its
/// lease would be), cannot overwrite it and uses the newer one instead.
#[tokio::test]
async fn a_write_based_on_an_older_token_never_replaces_a_newer_one() {
    use igfeed::config::Secret;
    use igfeed::token::{RefreshPolicy, StoreError, TokenRecord};
    use std::time::SystemTime;

    let redis = RedisServer::start();
    let [a, b] = two_stores(&redis);
    let seed = Secret::new("IGAAseed");
    let policy = RefreshPolicy::default();
    let now = SystemTime::now();
    let on_a = a
        .open(Some(&seed), policy, now)
        .await
        .unwrap()
        .default_account();
    let on_b = b
        .open(Some(&seed), policy, now)
        .await
        .unwrap()
        .default_account();
    assert_eq!(
        on_a.tokens.version(),
        on_b.tokens.version(),
        "one seed write"
    );
    let old = on_b.tokens.version();

    let newer = TokenRecord::first_seen(Secret::new("IGAAnewer"), now, None);
    let held = on_a.tokens.lock().await;
    on_a.tokens.store(&held, newer).await.unwrap();
    drop(held);
    assert_eq!(on_a.tokens.version(), old + 1);

    // B has not heard of it (no sync task runs here) and writes on top of
    // the version it holds.
    assert_eq!(on_b.tokens.version(), old);
    let stale = TokenRecord::first_seen(Secret::new("IGAAstale"), now, None);
    let held = on_b.tokens.lock().await;
    let err = on_b.tokens.store(&held, stale).await.unwrap_err();
    drop(held);
    assert!(matches!(err, StoreError::Superseded), "{err:?}");
    assert_eq!(on_b.tokens.usable().unwrap().expose(), "IGAAnewer");
    assert_eq!(on_b.tokens.version(), old + 1);
    assert_eq!(redis.token("default").as_deref(), Some("IGAAnewer"));
    assert_eq!(
        redis.hget("igfeed:token:default", "v"),
        Some((old + 1).to_string())
    );
}

/// `POST /admin/token/refresh` answers the same on every replica: one
/// without the lease asks the holder, which refreshes once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_asked_of_any_replica_is_done_once_by_the_lease_holder() {
    let fake = fake_with(FakeOptions::default()).await;
    let redis = RedisServer::start();
    let s = setup(&fake, &redis, &[("IGFEED_REDIS_LEASE", "1s")]);
    let replicas: Vec<Replica> = (0..3).map(|_| Replica::start(&s)).collect();
    let all: Vec<&Replica> = replicas.iter().collect();
    let c = client();
    let holder = eventually(Duration::from_secs(5), "a lease holder", || async {
        redis.get("igfeed:lease:default")
    })
    .await;
    for r in &replicas {
        let before = fake.calls(Route::Refresh);
        let res = c
            .post(format!("{}/admin/token/refresh", r.url))
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap();
        assert_eq!(
            status,
            200,
            "{body}\n{}",
            replicas
                .iter()
                .map(|r| r.logs())
                .collect::<Vec<_>>()
                .join("\n---\n")
        );
        assert!(body["refreshed_at"].is_string(), "{body}");
        assert_eq!(fake.calls(Route::Refresh), before + 1, "one refresh call");
        let token = redis.token("default").unwrap();
        all_use(&c, &all, "default", &token, Duration::from_secs(1)).await;
    }
    assert_eq!(redis.get("igfeed:lease:default").unwrap(), holder);
    assert_eq!(fake.rejected_tokens(), 0);
}

/// An alert is the lease holder's to send: a token Instagram rejects is
/// reported once, not once per replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_token_is_alerted_once_across_replicas() {
    let fake = fake_with(FakeOptions::default()).await;
    let redis = RedisServer::start();
    let (hook, url) = crate::helpers::Hook::start(0).await;
    let s = setup(
        &fake,
        &redis,
        &[
            ("IGFEED_ALERT_WEBHOOK", url.as_str()),
            ("IGFEED_FEED_TTL", "100ms"),
        ],
    );
    let replicas: Vec<Replica> = (0..3).map(|_| Replica::start(&s)).collect();
    let c = client();
    eventually(Duration::from_secs(5), "a lease holder", || async {
        redis.get("igfeed:lease:default")
    })
    .await;
    fake.revoke_all();
    // The next walk, on whichever replica, is told the token is invalid.
    eventually(Duration::from_secs(5), "every replica knows", || async {
        for r in &replicas {
            let body: Value = c
                .get(format!("{}/token", r.url))
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            if body["status"] != "invalid" {
                let _ = c.get(format!("{}/feed", r.url)).send().await;
                return None;
            }
        }
        Some(())
    })
    .await;
    hook.wait_for("token_invalid", Duration::from_secs(5)).await;
    // Give the other replicas every chance to send theirs.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let alerts: Vec<String> = hook
        .events()
        .into_iter()
        .filter(|e| e == "token_invalid")
        .collect();
    assert_eq!(alerts.len(), 1, "{:?}", hook.events());
}

/// Two races the fence must settle for the new token: another replica
/// marking the old string invalid (it saw it die) while this one refreshed
/// it; and an account removed and added again while a replica that missed
/// it still holds the old one.
#[tokio::test]
async fn a_new_token_beats_news_of_the_old_one_and_a_removed_account_stays_removed() {
    use igfeed::accounts::AccountName;
    use igfeed::config::Secret;
    use igfeed::token::{RefreshPolicy, StoreError, TokenRecord};
    use std::time::SystemTime;

    let redis = RedisServer::start();
    let [a, b] = two_stores(&redis);
    let (policy, now) = (RefreshPolicy::default(), SystemTime::now());
    let seed = Secret::new("IGAAold");
    let on_a = a.open(Some(&seed), policy, now).await.unwrap();
    let on_b = b.open(Some(&seed), policy, now).await.unwrap();

    // B sees the old string die and records it; A's refresh of that string
    // lands afterwards, based on the version before B's write.
    let (da, db) = (on_a.default_account(), on_b.default_account());
    db.tokens.mark_invalid(&seed, "Session has expired").await;
    assert!(
        redis
            .hget("igfeed:token:default", "rec")
            .unwrap()
            .contains("Session has expired")
    );
    let refreshed = TokenRecord::first_seen(Secret::new("IGAArefreshed"), now, None);
    let held = da.tokens.lock().await;
    da.tokens.store(&held, refreshed).await.unwrap();
    drop(held);
    assert_eq!(redis.token("default").as_deref(), Some("IGAArefreshed"));
    assert!(
        !redis
            .hget("igfeed:token:default", "rec")
            .unwrap()
            .contains("Session has expired")
    );

    // `shop` on both; B removes it and adds it again with a new token.
    let shop = AccountName::parse("shop").unwrap();
    async fn put(
        accounts: &igfeed::accounts::Accounts,
        name: &AccountName,
        token: &str,
    ) -> std::sync::Arc<igfeed::accounts::Account> {
        let set = accounts.lock().await;
        let (account, _) = accounts.get_or_create(&set, name).await.unwrap();
        let held = account.tokens.lock().await;
        let rec = TokenRecord::first_seen(Secret::new(token), SystemTime::now(), None);
        account.tokens.replace(&held, rec).await.unwrap();
        drop(held);
        account
    }
    let stale = put(&on_a, &shop, "IGAAfirstshop").await;
    // B has not read `shop` (no sync task runs here): it takes it up as
    // stored, then removes it.
    let set = on_b.lock().await;
    let (_, created) = on_b.get_or_create(&set, &shop).await.unwrap();
    assert!(created);
    on_b.remove(&set, &shop).await.unwrap();
    drop(set);
    // A write of A's meanwhile meets a removed account (a PUT answers 409)
    // and brings nothing back.
    let held = stale.tokens.lock().await;
    let rec = TokenRecord::first_seen(Secret::new("IGAAlate"), now, None);
    let err = stale.tokens.store(&held, rec).await.unwrap_err();
    drop(held);
    assert!(matches!(err, StoreError::Gone), "{err:?}");
    assert_eq!(redis.token("shop"), None);
    assert!(
        !redis
            .members("igfeed:accounts")
            .contains(&"shop".to_string())
    );
    put(&on_b, &shop, "IGAAsecondshop").await;
    assert_eq!(redis.token("shop").as_deref(), Some("IGAAsecondshop"));
    // A missed all of it; its write based on the first account's version
    // cannot replace the second account's token.
    let old = TokenRecord::first_seen(Secret::new("IGAAfirstshop-refreshed"), now, None);
    let held = stale.tokens.lock().await;
    let err = stale.tokens.store(&held, old).await.unwrap_err();
    drop(held);
    assert!(matches!(err, StoreError::Superseded), "{err:?}");
    assert_eq!(redis.token("shop").as_deref(), Some("IGAAsecondshop"));
    assert_eq!(stale.tokens.usable().unwrap().expose(), "IGAAsecondshop");
}

/// SIGTERM ends a replica promptly and cleanly, whether it is still
/// waiting for Redis at start-up or Redis went away while it served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_stops_on_sigterm_without_redis() {
    let fake = fake_with(FakeOptions::default()).await;
    let mut redis = RedisServer::start();
    let s = setup(&fake, &redis, &[]);
    let term = |child: &mut Child| {
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let asked = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return (status, asked.elapsed());
            }
            assert!(
                asked.elapsed() < Duration::from_secs(10),
                "no exit within 10s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };

    // Redis gone while serving.
    let mut serving = Replica::start(&s);
    redis.stop();
    let (status, took) = tokio::task::block_in_place(|| term(&mut serving.child));
    assert_eq!(status.code(), Some(0), "{}", serving.logs());
    assert!(took < Duration::from_secs(5), "{took:?}");

    // Never reached Redis.
    let (mut waiting, _) = Replica::spawn(&s);
    eventually(
        Duration::from_secs(20),
        "the replica says it waits",
        || async { waiting.logs().contains("waiting for Redis").then_some(()) },
    )
    .await;
    let (status, took) = tokio::task::block_in_place(|| term(&mut waiting.child));
    assert_eq!(status.code(), Some(0));
    assert!(took < Duration::from_secs(5), "{took:?}");
}
