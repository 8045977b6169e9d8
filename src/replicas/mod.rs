//! Replicas on Redis (`IGFEED_REDIS_URL`): accounts, tokens and last good
//! feeds live in Redis, behind the [`crate::store`] traits the data dir
//! implements too, and any number of replicas share them.
//!
//! # Keys (all under `igfeed:`)
//! - `accounts`: the set of account names;
//! - `token:{name}`: a hash, `rec` (the token record, JSON) and `v` (its
//!   version, +1 per write);
//! - `feed:{name}`: the last good feed (JSON);
//! - `fresh:{name}`: present while that feed is fresh (expires with the TTL);
//! - `walk:{name}`: the walk lock, `walking {replica}` while one replica
//!   fetches the feed, then `failed {reason}` for a while if it failed;
//! - `lease:{name}`: the refresh lease, the holder's replica id;
//! - `epoch`: an id written once; when it is gone, Redis lost its data
//!   (restarted without persistence) and the replicas write back what they
//!   hold.
//!
//! Changes are announced on the channel `igfeed:events` (see [`sync`]).
//!
//! # Guarantees
//! - One refresher per token: a replica refreshes a token only while it
//!   holds the token's lease (`SET NX PX`, renewed every tick, released on
//!   shutdown; a dead holder's lease expires). Every token write is a
//!   compare-and-swap on `v` in a Lua script: a write based on an older
//!   token never replaces a newer one.
//! - One walk per feed TTL: a replica whose cached feed expired reads the
//!   shared copy; only when that is stale too does it take `walk:{name}`
//!   and fetch, while the others wait for its result.
//! - While Redis cannot be reached, replicas serve from memory, fetch feeds
//!   on their own, and refresh nothing (their leases lapse).
//!
//! One Redis server (or a primary with replicas); Redis Cluster is not
//! supported (the scripts touch keys of several accounts).

pub mod sync;

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use redis::Script;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::accounts::{AccountName, Accounts};
use crate::config::{RedisUrl, Secret};
use crate::feed::Snapshot;
use crate::metrics::Metrics;
use crate::store::{AccountStore, FeedStore, Slots, Swap, TokenStore, Versioned};
use crate::token::{RefreshPolicy, TokenManager, TokenRecord};

/// The channel changes are announced on.
pub const CHANNEL: &str = "igfeed:events";
const PREFIX: &str = "igfeed:";
/// How long a walk lock lives unless renewed (every quarter of it, while
/// its walk or refresh runs): a replica that dies holding one blocks the
/// others' fetches for this long at most.
const WALK_LOCK: Duration = Duration::from_secs(2);

/// Longest wait for one Redis command (a replica must not hang on a Redis
/// that stopped answering: it serves from memory instead).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

fn key(kind: &str, name: &str) -> String {
    format!("{PREFIX}{kind}:{name}")
}

fn redis_error(e: redis::RedisError) -> io::Error {
    io::Error::other(format!("Redis: {e}"))
}

fn json_error(what: &str, e: serde_json::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{what}: {e}"))
}

/// The Lua scripts: each runs atomically in Redis.
struct Scripts {
    /// KEYS: accounts, token, versions, epoch. ARGV: name, expected
    /// version, record, channel. {3} when Redis lost its data (no epoch, or
    /// less than this replica wrote), {0} when the account is gone, {2, v,
    /// rec} when a newer token is stored, else writes at a new version and
    /// returns {1, v}. Versions come from one counter (`versions`), so an
    /// account removed and added again never reuses one.
    swap: Script,
    /// KEYS: accounts, token, feed, fresh, walk, lease. ARGV: name, channel.
    remove: Script,
    /// KEYS: accounts, token, feed, versions. ARGV: name, version, record
    /// or '', feed or '', channel. Writes back what a replica holds, where
    /// Redis holds less; keeps the version counter above it.
    write_back: Script,
    /// KEYS: epoch, accounts, purges. Returns {epoch or '', purges, name,
    /// v, name, v, …}.
    survey: Script,
    /// KEYS: lease keys. ARGV: replica id, lease ms. Takes or renews each;
    /// 1 where this replica holds it.
    leases: Script,
    /// KEYS: lease keys. ARGV: replica id. Lets go of those it holds.
    release: Script,
    /// KEYS: feed, fresh, walk. Returns {feed or '', fresh ms left, walk lock or ''}.
    shared_feed: Script,
    /// KEYS: accounts, feed, fresh, walk, token. ARGV: name, feed, ttl ms,
    /// replica id, the feed's Instagram user id. Stores nothing when the
    /// stored token is another Instagram user's (a token put meanwhile).
    store_feed: Script,
    /// KEYS: walk. ARGV: value. Deletes the walk lock if it holds `value`.
    release_walk: Script,
    /// KEYS: walk. ARGV: value, ms. Takes the walk lock unless a walk or a
    /// refresh holds it (a failed walk's record is overwritten).
    hold_walks: Script,
    /// KEYS: walk. ARGV: value, ms. Renews the walk lock if it holds `value`.
    renew_walk: Script,
    /// KEYS: walk. ARGV: replica id, reason, ms. Marks this replica's walk failed.
    walk_failed: Script,
    /// KEYS: accounts, purges. ARGV: prefix, channel, replica id. Returns
    /// the purge's number.
    purge: Script,
}

impl Scripts {
    fn new() -> Self {
        Self {
            swap: Script::new(
                r"
if redis.call('EXISTS', KEYS[4]) == 0 then return {3, 0, ''} end
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return {0, 0, ''} end
local v = tonumber(redis.call('HGET', KEYS[2], 'v') or '0')
local expected = tonumber(ARGV[2])
if v > expected then
  return {2, v, redis.call('HGET', KEYS[2], 'rec') or ''}
end
if v < expected then return {3, 0, ''} end
local new = redis.call('INCR', KEYS[3])
if new <= expected then
  new = expected + 1
  redis.call('SET', KEYS[3], new)
end
redis.call('HSET', KEYS[2], 'v', new, 'rec', ARGV[3])
redis.call('PUBLISH', ARGV[4], 'token ' .. ARGV[1] .. ' ' .. new)
return {1, new, ''}
",
            ),
            remove: Script::new(
                r"
local n = redis.call('SREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6])
redis.call('PUBLISH', ARGV[2], 'removed ' .. ARGV[1])
return n
",
            ),
            write_back: Script::new(
                r"
redis.call('SADD', KEYS[1], ARGV[1])
if tonumber(redis.call('GET', KEYS[4]) or '0') < tonumber(ARGV[2]) then
  redis.call('SET', KEYS[4], ARGV[2])
end
local wrote = 0
if ARGV[3] ~= '' then
  local v = tonumber(redis.call('HGET', KEYS[2], 'v') or '0')
  if v < tonumber(ARGV[2]) then
    redis.call('HSET', KEYS[2], 'v', ARGV[2], 'rec', ARGV[3])
    redis.call('PUBLISH', ARGV[5], 'token ' .. ARGV[1] .. ' ' .. ARGV[2])
    wrote = 1
  end
end
if ARGV[4] ~= '' and redis.call('EXISTS', KEYS[3]) == 0 then
  redis.call('SET', KEYS[3], ARGV[4])
end
return {wrote, tonumber(redis.call('HGET', KEYS[2], 'v') or '0')}
",
            ),
            survey: Script::new(
                r"
local out = {redis.call('GET', KEYS[1]) or '', redis.call('GET', KEYS[3]) or '0'}
for _, n in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  out[#out + 1] = n
  out[#out + 1] = redis.call('HGET', 'igfeed:token:' .. n, 'v') or '0'
end
return out
",
            ),
            leases: Script::new(
                r"
local out = {}
for i, k in ipairs(KEYS) do
  local holder = redis.call('GET', k)
  if holder == ARGV[1] then
    redis.call('PEXPIRE', k, ARGV[2])
    out[i] = 1
  elseif not holder then
    redis.call('SET', k, ARGV[1], 'PX', ARGV[2])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
",
            ),
            release: Script::new(
                r"
local n = 0
for _, k in ipairs(KEYS) do
  if redis.call('GET', k) == ARGV[1] then redis.call('DEL', k); n = n + 1 end
end
return n
",
            ),
            shared_feed: Script::new(
                r"
return {redis.call('GET', KEYS[1]) or '', redis.call('PTTL', KEYS[2]), redis.call('GET', KEYS[3]) or ''}
",
            ),
            store_feed: Script::new(
                r"
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return 0 end
local rec = redis.call('HGET', KEYS[5], 'rec')
if rec then
  local user = cjson.decode(rec).user
  if type(user) == 'table' and user.id ~= ARGV[5] then return 0 end
end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SET', KEYS[3], '1', 'PX', ARGV[3])
if redis.call('GET', KEYS[4]) == 'walking ' .. ARGV[4] then redis.call('DEL', KEYS[4]) end
return 1
",
            ),
            release_walk: Script::new(
                r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
",
            ),
            renew_walk: Script::new(
                r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
",
            ),
            hold_walks: Script::new(
                r"
local held = redis.call('GET', KEYS[1])
if held and string.sub(held, 1, 7) ~= 'failed ' then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
",
            ),
            walk_failed: Script::new(
                r"
if redis.call('GET', KEYS[1]) == 'walking ' .. ARGV[1] then
  redis.call('SET', KEYS[1], 'failed ' .. ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
",
            ),
            purge: Script::new(
                r"
local n = 0
for _, name in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  n = n + redis.call('DEL', ARGV[1] .. 'fresh:' .. name, ARGV[1] .. 'walk:' .. name)
end
local p = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[2], 'purge ' .. ARGV[3] .. ' ' .. p)
return p
",
            ),
        }
    }
}

/// What a tick reads from Redis.
struct Survey {
    /// '' when Redis lost its data.
    epoch: String,
    /// Purges so far.
    purges: u64,
    /// Every account, with its token's version.
    accounts: Vec<(String, u64)>,
}

/// The walk lock of a feed, as [`Redis::shared_feed`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalkLock {
    /// Nobody walks.
    Free,
    /// A replica walks now.
    Walking,
    /// The last walk failed, for this reason; nobody walks again until the
    /// lock expires.
    Failed(String),
}

/// A feed as the replicas share it.
#[derive(Debug)]
pub struct SharedFeed {
    /// The last good feed.
    pub snapshot: Option<Snapshot>,
    /// How long it stays fresh; `None` when it is not fresh.
    pub fresh_for: Option<Duration>,
    pub lock: WalkLock,
}

/// The connection to Redis and what this replica knows of it. Share it
/// behind an `Arc`.
pub struct Redis {
    conn: ConnectionManager,
    client: redis::Client,
    scripts: Scripts,
    /// This replica's id (host, process, random), the value of its leases.
    id: String,
    lease: Duration,
    feed_ttl: Duration,
    walk_timeout: Duration,
    /// The leases held, until when (locally: a renewal is due well before).
    leases: Mutex<HashMap<AccountName, Instant>>,
    /// Since when Redis cannot be reached; `None` while it answers.
    down_since: Mutex<Option<SystemTime>>,
    /// The epoch this replica's state belongs to.
    epoch: Mutex<String>,
    /// The last purge this replica applied (see [`Self::note_purge`]).
    purges: std::sync::atomic::AtomicU64,
    metrics: Metrics,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// How replicas share Redis: the settings that shape it.
#[derive(Clone, Debug)]
pub struct Settings {
    pub url: RedisUrl,
    pub lease: Duration,
    pub feed_ttl: Duration,
    pub upstream_timeout: Duration,
}

impl Redis {
    /// A connection to `settings.url`, made when first used and remade
    /// whenever it breaks. Fails only on a URL the client refuses.
    pub fn new(settings: &Settings, metrics: Metrics) -> Result<Arc<Self>, String> {
        let client = redis::Client::open(settings.url.expose()).map_err(|e| e.to_string())?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|e| e.to_string())?;
        let host = std::env::var("HOSTNAME").unwrap_or_default();
        let id = format!(
            "{}{}{}-{:08x}",
            host,
            if host.is_empty() { "" } else { "-" },
            std::process::id(),
            rand::random::<u32>()
        );
        Ok(Arc::new(Self {
            conn,
            client,
            scripts: Scripts::new(),
            id,
            lease: settings.lease,
            feed_ttl: settings.feed_ttl,
            // A walk is a few Graph calls, each bounded by the timeout.
            walk_timeout: settings.upstream_timeout * 3 + Duration::from_secs(1),
            leases: Mutex::new(HashMap::new()),
            down_since: Mutex::new(None),
            epoch: Mutex::new(String::new()),
            purges: Default::default(),
            metrics,
        }))
    }

    /// How long a walk may hold a feed's lock.
    pub fn walk_timeout(&self) -> Duration {
        self.walk_timeout
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// Since when Redis cannot be reached, if it cannot.
    pub fn down_since(&self) -> Option<SystemTime> {
        *self.down_since.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Notes that Redis answered (`true`) or not; logs and counts the
    /// changes. True when Redis just came back.
    fn mark(&self, up: bool, error: Option<&io::Error>) -> bool {
        let mut since = self.down_since.lock().unwrap_or_else(|e| e.into_inner());
        match (up, since.is_some()) {
            (true, true) => {
                *since = None;
                self.metrics.redis_down.set(0);
                tracing::info!("Redis answers again; sharing state with the other replicas");
                true
            }
            (false, false) => {
                *since = Some(SystemTime::now());
                self.metrics.redis_down.set(1);
                self.leases
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clear();
                let error = error.map(ToString::to_string).unwrap_or_default();
                tracing::error!(%error, "Redis cannot be reached; serving from memory and refreshing no token until it answers again");
                false
            }
            _ => false,
        }
    }

    /// Runs a Redis call; a failure marks Redis down. While Redis is down,
    /// calls fail at once (nothing waits on it) until [`Self::probe`] finds
    /// it back.
    async fn call<T>(&self, f: impl Future<Output = redis::RedisResult<T>>) -> io::Result<T> {
        if self.down_since().is_some() {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "Redis cannot be reached",
            ));
        }
        self.attempt(f).await
    }

    async fn attempt<T>(&self, f: impl Future<Output = redis::RedisResult<T>>) -> io::Result<T> {
        match tokio::time::timeout(COMMAND_TIMEOUT, f).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                let e = redis_error(e);
                self.mark(false, Some(&e));
                Err(e)
            }
            Err(_) => {
                let e = io::Error::new(io::ErrorKind::TimedOut, "Redis did not answer in time");
                self.mark(false, Some(&e));
                Err(e)
            }
        }
    }

    /// Asks Redis whether it answers, even while it is marked down; true
    /// when it does (it is then marked up again).
    pub async fn probe(&self) -> bool {
        let mut conn = self.conn();
        let answered = self
            .attempt(redis::cmd("PING").query_async::<String>(&mut conn))
            .await
            .is_ok();
        if answered {
            self.mark(true, None);
        }
        answered
    }

    /// Runs a Lua script; a failure marks Redis down.
    async fn script<T: redis::FromRedisValue>(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> io::Result<T> {
        let mut conn = self.conn();
        self.call(invocation.invoke_async(&mut conn)).await
    }

    /// Runs a command; a failure marks Redis down.
    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> io::Result<T> {
        let mut conn = self.conn();
        self.call(cmd.query_async(&mut conn)).await
    }

    /// Adds `name` to the account set.
    async fn add_name(&self, name: &AccountName) -> io::Result<()> {
        let _: i64 = self
            .query(
                redis::cmd("SADD")
                    .arg(format!("{PREFIX}accounts"))
                    .arg(name.as_str()),
            )
            .await?;
        Ok(())
    }

    /// The stored token of `name`.
    pub async fn load_token(&self, name: &AccountName) -> io::Result<Option<Versioned>> {
        let (v, rec): (Option<u64>, Option<String>) = self
            .query(
                redis::cmd("HMGET")
                    .arg(key("token", name))
                    .arg("v")
                    .arg("rec"),
            )
            .await?;
        match (v, rec) {
            (Some(version), Some(rec)) => Ok(Some(Versioned {
                version,
                record: serde_json::from_str(&rec)
                    .map_err(|e| json_error(&key("token", name), e))?,
            })),
            _ => Ok(None),
        }
    }

    /// The stored last good feed of `name`.
    pub async fn load_feed(&self, name: &AccountName) -> io::Result<Option<Snapshot>> {
        let feed: Option<String> = self.query(redis::cmd("GET").arg(key("feed", name))).await?;
        match feed {
            Some(feed) => match serde_json::from_str(&feed) {
                Ok(s) => Ok(Some(s)),
                Err(e) => {
                    tracing::error!(account = %name, error = %e, "the shared last good feed cannot be read; ignoring it");
                    Ok(None)
                }
            },
            None => Ok(None),
        }
    }

    async fn swap(
        &self,
        name: &AccountName,
        expected: u64,
        record: &TokenRecord,
    ) -> io::Result<Swap> {
        let rec = serde_json::to_string(record).map_err(io::Error::other)?;
        let (code, v, newer): (i64, u64, String) = self
            .script(
                self.scripts
                    .swap
                    .key(format!("{PREFIX}accounts"))
                    .key(key("token", name))
                    .key(format!("{PREFIX}versions"))
                    .key(format!("{PREFIX}epoch"))
                    .arg(name.as_str())
                    .arg(expected)
                    .arg(rec)
                    .arg(CHANNEL),
            )
            .await?;
        match code {
            1 => Ok(Swap::Stored(v)),
            2 => Ok(Swap::Newer(Versioned {
                version: v,
                record: serde_json::from_str(&newer)
                    .map_err(|e| json_error(&key("token", name), e))?,
            })),
            // Kept in memory until the tick writes it back.
            3 => Err(io::Error::other(
                "Redis lost its data; the state is written back at the next tick",
            )),
            _ => Ok(Swap::Gone),
        }
    }

    /// The survey of a tick: the epoch ('' when Redis lost it), the purges
    /// so far, and every account with its token's version.
    async fn survey(&self) -> io::Result<Survey> {
        let out: Vec<String> = self
            .script(
                self.scripts
                    .survey
                    .key(format!("{PREFIX}epoch"))
                    .key(format!("{PREFIX}accounts"))
                    .key(format!("{PREFIX}purges")),
            )
            .await?;
        let mut it = out.into_iter();
        let epoch = it.next().unwrap_or_default();
        let purges = it.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        let mut accounts = Vec::new();
        while let (Some(name), Some(v)) = (it.next(), it.next()) {
            accounts.push((name, v.parse().unwrap_or(0)));
        }
        Ok(Survey {
            epoch,
            purges,
            accounts,
        })
    }

    /// Notes purge number `n` (an event's, or a survey's); true when it is
    /// one this replica has not applied yet.
    pub(crate) fn note_purge(&self, n: u64) -> bool {
        let seen = self.purges.swap(n, std::sync::atomic::Ordering::AcqRel);
        n > seen
    }

    /// Makes sure Redis has an epoch, and returns it.
    async fn claim_epoch(&self) -> io::Result<String> {
        let fresh = uuid::Uuid::new_v4().to_string();
        let _: Option<String> = self
            .query(
                redis::cmd("SET")
                    .arg(format!("{PREFIX}epoch"))
                    .arg(&fresh)
                    .arg("NX"),
            )
            .await?;
        let epoch: Option<String> = self
            .query(redis::cmd("GET").arg(format!("{PREFIX}epoch")))
            .await?;
        let epoch = epoch.unwrap_or(fresh);
        *self.epoch.lock().unwrap_or_else(|e| e.into_inner()) = epoch.clone();
        Ok(epoch)
    }

    fn epoch(&self) -> String {
        self.epoch.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Writes back an account this replica holds, where Redis holds less
    /// (it lost its data); whether the token was written, and the version
    /// Redis now holds.
    async fn write_back(
        &self,
        name: &AccountName,
        version: u64,
        record: Option<&TokenRecord>,
        feed: Option<&Snapshot>,
    ) -> io::Result<(bool, u64)> {
        let version = version.max(1);
        let rec = match record {
            Some(r) => serde_json::to_string(r).map_err(io::Error::other)?,
            None => String::new(),
        };
        let feed = match feed {
            Some(f) => serde_json::to_string(f).map_err(io::Error::other)?,
            None => String::new(),
        };
        let (wrote, stored): (i64, u64) = self
            .script(
                self.scripts
                    .write_back
                    .key(format!("{PREFIX}accounts"))
                    .key(key("token", name))
                    .key(key("feed", name))
                    .key(format!("{PREFIX}versions"))
                    .arg(name.as_str())
                    .arg(version)
                    .arg(rec)
                    .arg(feed)
                    .arg(CHANNEL),
            )
            .await?;
        Ok((wrote == 1, stored))
    }

    /// Takes or renews the refresh lease of every account in `names`;
    /// afterwards [`Self::holds`] answers for them.
    async fn renew_leases(&self, names: &[AccountName]) -> io::Result<()> {
        if names.is_empty() {
            return Ok(());
        }
        let sent = Instant::now();
        let mut script = self.scripts.leases.prepare_invoke();
        for name in names {
            script.key(key("lease", name));
        }
        script.arg(&self.id).arg(self.lease.as_millis() as u64);
        let held: Vec<i64> = self.script(&script).await?;
        // Held for two thirds of the lease from when the renewal was sent:
        // the next tick renews well before Redis lets it go.
        let until = sent + self.lease * 2 / 3;
        let mut leases = self.leases.lock().unwrap_or_else(|e| e.into_inner());
        leases.clear();
        for (name, held) in names.iter().zip(held) {
            if held == 1 {
                leases.insert(name.clone(), until);
            }
        }
        Ok(())
    }

    /// Whether this replica holds the refresh lease of `name` now.
    pub fn holds(&self, name: &AccountName) -> bool {
        self.down_since().is_none()
            && self
                .leases
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(name)
                .is_some_and(|until| *until > Instant::now())
    }

    /// Lets go of every lease this replica holds (at shutdown), so another
    /// replica takes them over at its next tick rather than after expiry.
    pub async fn release_leases(&self) {
        let names: Vec<AccountName> = {
            let mut leases = self.leases.lock().unwrap_or_else(|e| e.into_inner());
            leases.drain().map(|(n, _)| n).collect()
        };
        if names.is_empty() {
            return;
        }
        let mut script = self.scripts.release.prepare_invoke();
        for name in &names {
            script.key(key("lease", name));
        }
        script.arg(&self.id);
        match self.script::<i64>(&script).await {
            Ok(n) => tracing::info!(leases = n, "released this replica's refresh leases"),
            Err(e) => {
                tracing::warn!(error = %e, "could not release the refresh leases; they expire by themselves")
            }
        }
    }

    /// The shared copy of `name`'s feed, its freshness and its walk lock.
    pub async fn shared_feed(&self, name: &AccountName) -> io::Result<SharedFeed> {
        let (feed, fresh_ms, lock): (String, i64, String) = self
            .script(
                self.scripts
                    .shared_feed
                    .key(key("feed", name))
                    .key(key("fresh", name))
                    .key(key("walk", name)),
            )
            .await?;
        let snapshot = if feed.is_empty() {
            None
        } else {
            serde_json::from_str(&feed).ok()
        };
        let lock = if let Some(reason) = lock.strip_prefix("failed ") {
            WalkLock::Failed(reason.to_string())
        } else if lock.is_empty() {
            WalkLock::Free
        } else {
            WalkLock::Walking
        };
        Ok(SharedFeed {
            fresh_for: (fresh_ms > 0 && snapshot.is_some())
                .then(|| Duration::from_millis(fresh_ms as u64)),
            snapshot,
            lock,
        })
    }

    /// Takes the walk lock of `name`; false when another replica holds it.
    pub async fn lock_walk(&self, name: &AccountName) -> io::Result<bool> {
        let set: Option<String> = self
            .query(
                redis::cmd("SET")
                    .arg(key("walk", name))
                    .arg(self.walking())
                    .arg("NX")
                    .arg("PX")
                    .arg(WALK_LOCK.as_millis() as u64),
            )
            .await?;
        Ok(set.is_some())
    }

    /// Lets go of this replica's walk lock of `name` (storing the feed does;
    /// this is for when that failed).
    pub async fn release_walk(&self, name: &AccountName) -> io::Result<()> {
        self.unlock_walks(name, &self.walking()).await
    }

    /// The walk lock's value while this replica walks.
    pub fn walking(&self) -> String {
        format!("walking {}", self.id)
    }

    /// Keeps the walk lock of `name` while it holds `value` (never ends:
    /// run it beside the walk or refresh that holds the lock).
    pub async fn keep_walk_lock(
        &self,
        name: &AccountName,
        value: &str,
    ) -> std::convert::Infallible {
        loop {
            tokio::time::sleep(WALK_LOCK / 4).await;
            let _: io::Result<i64> = self
                .script(
                    self.scripts
                        .renew_walk
                        .key(key("walk", name))
                        .arg(value)
                        .arg(WALK_LOCK.as_millis() as u64),
                )
                .await;
        }
    }

    async fn unlock_walks(&self, name: &AccountName, value: &str) -> io::Result<()> {
        let _: i64 = self
            .script(self.scripts.release_walk.key(key("walk", name)).arg(value))
            .await?;
        Ok(())
    }

    /// Holds the feed walks of `name` off for a refresh: waits (at most a
    /// walk's time) for a walk running on any replica to end, then takes
    /// the walk lock, so every walk starts after the refresh, with its
    /// token. Gives up waiting on Redis errors: the fence still protects
    /// the token.
    async fn hold_walks(&self, name: &AccountName) {
        let value = format!("refreshing {}", self.id);
        let until = Instant::now() + self.walk_timeout;
        while Instant::now() < until {
            let taken: io::Result<i64> = self
                .script(
                    self.scripts
                        .hold_walks
                        .key(key("walk", name))
                        .arg(&value)
                        .arg(WALK_LOCK.as_millis() as u64),
                )
                .await;
            match taken {
                Ok(0) => tokio::time::sleep(Duration::from_millis(20)).await,
                _ => return,
            }
        }
    }

    /// This replica's walk of `name` failed: the others serve their last
    /// good copy, without walking, for `hold`.
    pub async fn walk_failed(
        &self,
        name: &AccountName,
        reason: &str,
        hold: Duration,
    ) -> io::Result<()> {
        let _: i64 = self
            .script(
                self.scripts
                    .walk_failed
                    .key(key("walk", name))
                    .arg(&self.id)
                    .arg(reason)
                    .arg(hold.as_millis().max(1) as u64),
            )
            .await?;
        Ok(())
    }

    /// The shared copy of `name`'s feed is not fresh any more (a new token).
    pub async fn expire_feed(&self, name: &AccountName) -> io::Result<()> {
        let _: i64 = self
            .query(
                redis::cmd("DEL")
                    .arg(key("fresh", name))
                    .arg(key("walk", name)),
            )
            .await?;
        Ok(())
    }

    /// Every shared feed is not fresh any more, and every replica drops its
    /// caches (a purge).
    pub async fn purge(&self) -> io::Result<()> {
        let n: u64 = self
            .script(
                self.scripts
                    .purge
                    .key(format!("{PREFIX}accounts"))
                    .key(format!("{PREFIX}purges"))
                    .arg(PREFIX)
                    .arg(CHANNEL)
                    .arg(&self.id),
            )
            .await?;
        self.note_purge(n);
        Ok(())
    }

    /// Asks the replica holding `name`'s lease to refresh its token now.
    pub async fn request_refresh(&self, name: &AccountName) -> io::Result<()> {
        let _: i64 = self
            .query(
                redis::cmd("PUBLISH")
                    .arg(CHANNEL)
                    .arg(format!("refresh {name}")),
            )
            .await?;
        Ok(())
    }

    /// The stores of `name`.
    fn slots(self: &Arc<Self>, name: &AccountName) -> Slots {
        let slot = Arc::new(Slot {
            redis: self.clone(),
            name: name.clone(),
        });
        Slots {
            token: slot.clone(),
            feed: slot,
        }
    }

    /// Reads every account from Redis (creating `default`), applying the
    /// seeding rule of `IGFEED_ACCESS_TOKEN` to `default`.
    pub async fn open(
        self: &Arc<Self>,
        seed: Option<&Secret>,
        policy: RefreshPolicy,
        now: SystemTime,
    ) -> io::Result<Accounts> {
        if !self.probe().await {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "Redis cannot be reached",
            ));
        }
        let epoch = self.claim_epoch().await?;
        self.add_name(&AccountName::default_account()).await?;
        let accounts = Accounts::empty(Some(Arc::new(SharedAccounts(self.clone()))), policy);
        let survey = self.survey().await?;
        self.note_purge(survey.purges);
        for (name, _) in survey.accounts {
            let Ok(name) = AccountName::parse(&name) else {
                tracing::warn!(%name, "ignoring a Redis account that is not an account name");
                continue;
            };
            let mut token = self.load_token(&name).await?;
            if name.is_default() {
                let stored = token.as_ref().map(|v| v.record.clone());
                let (rec, mut write) = crate::token::seeded(stored, seed, now);
                let seeds = format!("{PREFIX}seeds:{name}");
                if let (true, Some(seed)) = (write && token.is_some(), seed) {
                    // A replica restarted with an IGFEED_ACCESS_TOKEN that
                    // another one already replaced (a rolling change of the
                    // setting) does not bring the old token back.
                    let replaced: bool = self
                        .query(
                            redis::cmd("SISMEMBER")
                                .arg(&seeds)
                                .arg(crate::token::fingerprint(seed)),
                        )
                        .await?;
                    if replaced {
                        tracing::warn!(
                            "IGFEED_ACCESS_TOKEN is one the replicas already replaced; keeping the stored token"
                        );
                        write = false;
                    }
                }
                if let (Some(seed), true) = (seed, write) {
                    let _: i64 = self
                        .query(
                            redis::cmd("SADD")
                                .arg(&seeds)
                                .arg(crate::token::fingerprint(seed)),
                        )
                        .await?;
                }
                if let (Some(rec), true) = (rec, write) {
                    let expected = token.as_ref().map_or(0, |v| v.version);
                    token = match self.swap(&name, expected, &rec).await? {
                        Swap::Stored(version) => Some(Versioned {
                            version,
                            record: rec,
                        }),
                        Swap::Newer(newer) => Some(newer),
                        Swap::Gone => None,
                    };
                }
            } else if token.is_none() {
                // Being added by another replica (its token comes next) or
                // left half-added: it is picked up once it has a token.
                continue;
            }
            let feed = self.load_feed(&name).await?;
            let slots = self.slots(&name);
            let tokens = TokenManager::stored(slots.token.clone(), token, policy);
            accounts.insert_stored(name, tokens, slots, feed);
        }
        tracing::info!(
            epoch = %epoch,
            replica = %self.id,
            accounts = accounts.len(),
            "accounts read from Redis"
        );
        Ok(accounts)
    }
}

/// The account set in Redis.
struct SharedAccounts(Arc<Redis>);

impl AccountStore for SharedAccounts {
    fn create<'a>(&'a self, name: &'a AccountName) -> BoxFuture<'a, io::Result<Slots>> {
        async move {
            self.0.add_name(name).await?;
            Ok(self.0.slots(name))
        }
        .boxed()
    }

    fn remove<'a>(&'a self, name: &'a AccountName) -> BoxFuture<'a, io::Result<()>> {
        async move {
            let _: i64 = self
                .0
                .script(
                    self.0
                        .scripts
                        .remove
                        .key(format!("{PREFIX}accounts"))
                        .key(key("token", name))
                        .key(key("feed", name))
                        .key(key("fresh", name))
                        .key(key("walk", name))
                        .key(key("lease", name))
                        .arg(name.as_str())
                        .arg(CHANNEL),
                )
                .await?;
            Ok(())
        }
        .boxed()
    }
}

/// One account's token and feed in Redis.
struct Slot {
    redis: Arc<Redis>,
    name: AccountName,
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redis({})", self.name)
    }
}

impl TokenStore for Slot {
    fn describe(&self) -> &'static str {
        "Redis"
    }

    fn newer_than(&self, version: u64) -> BoxFuture<'_, io::Result<Option<Versioned>>> {
        async move {
            Ok(self
                .redis
                .load_token(&self.name)
                .await?
                .filter(|v| v.version > version))
        }
        .boxed()
    }

    fn compare_and_swap<'a>(
        &'a self,
        expected: u64,
        record: &'a TokenRecord,
    ) -> BoxFuture<'a, io::Result<Swap>> {
        self.redis.swap(&self.name, expected, record).boxed()
    }

    fn may_refresh(&self) -> bool {
        self.redis.holds(&self.name)
    }

    fn begin_refresh(&self) -> BoxFuture<'_, ()> {
        self.redis.hold_walks(&self.name).boxed()
    }

    fn keep_refresh(&self) -> BoxFuture<'_, std::convert::Infallible> {
        async move {
            let value = format!("refreshing {}", self.redis.id);
            self.redis.keep_walk_lock(&self.name, &value).await
        }
        .boxed()
    }

    fn end_refresh(&self) -> BoxFuture<'_, ()> {
        async move {
            let value = format!("refreshing {}", self.redis.id);
            let _ = self.redis.unlock_walks(&self.name, &value).await;
        }
        .boxed()
    }

    fn speaks(&self) -> bool {
        self.redis.down_since().is_some() || self.redis.holds(&self.name)
    }
}

impl FeedStore for Slot {
    fn store<'a>(&'a self, snapshot: &'a Snapshot) -> BoxFuture<'a, io::Result<()>> {
        async move {
            let feed = serde_json::to_string(snapshot).map_err(io::Error::other)?;
            let redis = &self.redis;
            let _: i64 = redis
                .script(
                    redis
                        .scripts
                        .store_feed
                        .key(format!("{PREFIX}accounts"))
                        .key(key("feed", &self.name))
                        .key(key("fresh", &self.name))
                        .key(key("walk", &self.name))
                        .key(key("token", &self.name))
                        .arg(self.name.as_str())
                        .arg(feed)
                        .arg(redis.feed_ttl.as_millis().max(1) as u64)
                        .arg(&redis.id)
                        .arg(&snapshot.account.id),
                )
                .await?;
            Ok(())
        }
        .boxed()
    }
}
