//! Start-up and shutdown: the state is built from the configuration, the
//! listener bound, the background tasks started, and on a signal the server
//! drains and the tasks stop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use std::time::{Duration, SystemTime};

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::media::{MediaService, MediaSettings};
use crate::metrics::Metrics;
use crate::server::Limits;
use crate::state::{AppState, Shared};

use crate::accounts::Accounts;
use crate::admin_ui::{AdminUi, UiTuning};
use crate::alerts::{AlertSettings, Watchdog};
use crate::config::Config;
use crate::feed::FeedService;
use crate::graph::GraphClient;
use crate::replicas::{self, Redis, sync::Replicas};
use crate::token::RefreshPolicy;
use crate::webhooks::FeedUpdated;

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A setting is unusable; `main` exits with code 2.
    #[error("invalid {setting}: {reason}")]
    Config {
        setting: &'static str,
        reason: String,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Knobs that are not settings: fixed in production, shortened by tests.
#[derive(Clone, Debug)]
pub struct Tuning {
    pub alerts: AlertSettings,
    /// First retry delay after a failed token refresh (doubles per failure).
    pub refresh_backoff: Duration,
    /// First delay before writing the token state again after a failed
    /// write (doubles per failure, bounded).
    pub persist_retry: Duration,
    /// Fetch each new feed's media into the cache in the background.
    pub warm_media: bool,
    /// The server's limits on clients.
    pub limits: Limits,
    /// The admin page's session, authorization and login limits.
    pub admin_ui: UiTuning,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            alerts: AlertSettings::default(),
            refresh_backoff: crate::token::refresher::BACKOFF_BASE,
            persist_retry: crate::token::persist::RETRY_BASE,
            warm_media: true,
            limits: Limits::default(),
            admin_ui: UiTuning::default(),
        }
    }
}

/// A built service, bound to its address, ready to run.
pub struct App {
    listener: TcpListener,
    tuning: Tuning,
    /// Where `feed.updated` events go, for the sender task `run` starts.
    feed_updates: Option<(url::Url, mpsc::Receiver<FeedUpdated>)>,
    /// The state behind the router, for tests and embedding.
    pub state: AppState,
}

impl App {
    /// Prepares the data dir, builds the state and binds the listener.
    pub async fn build(config: Config) -> Result<Self, StartError> {
        Self::build_tuned(config, Tuning::default()).await
    }

    /// [`App::build`] with non-default [`Tuning`].
    pub async fn build_tuned(config: Config, tuning: Tuning) -> Result<Self, StartError> {
        let metrics = Metrics::new();
        let graph = GraphClient::new(
            config.graph_url.clone(),
            &config.graph_version,
            config.upstream_timeout,
        )
        .map_err(|e| StartError::Config {
            setting: "IGFEED_GRAPH_URL",
            reason: crate::graph::describe(&e),
        })?
        .with_metrics(metrics.clone())
        .with_concurrency(config.upstream_concurrency);
        let policy = RefreshPolicy {
            after: config.refresh_after,
            min_age: config.refresh_min_age,
        };
        let started = std::time::Instant::now();
        let replicas = match &config.redis_url {
            Some(url) => Some(
                Redis::new(
                    &replicas::Settings {
                        url: url.clone(),
                        lease: config.redis_lease,
                        feed_ttl: config.feed_ttl,
                        upstream_timeout: config.upstream_timeout,
                    },
                    metrics.clone(),
                )
                .map_err(|reason| StartError::Config {
                    setting: "IGFEED_REDIS_URL",
                    reason,
                })?,
            ),
            None => None,
        };
        let accounts = match &replicas {
            Some(redis) => open_shared(redis, &config, policy).await?,
            None => open_data_dir(&config, policy)?,
        };
        tracing::info!(
            accounts = accounts.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "accounts loaded"
        );
        let accounts = Arc::new(accounts);
        let mut feed = FeedService::new(graph.clone(), config.feed_size, config.feed_ttl)
            .with_metrics(metrics.clone());
        let mut feed_updates = None;
        if let Some(url) = config.feed_webhook.clone() {
            let (tx, rx) = mpsc::channel(1024);
            feed = feed.with_updates(tx);
            feed_updates = Some((url, rx));
        }
        if let Some(redis) = &replicas {
            feed = feed.with_replicas(redis.clone());
        }
        let feed = Arc::new(feed);
        let media = MediaService::new(
            MediaSettings {
                hosts: config.media_hosts.clone(),
                budget: config.media_cache_size,
                max_object: config.media_max_object,
                timeout: config.upstream_timeout,
            },
            accounts.clone(),
            graph.clone(),
            feed.pictures(),
            feed.jobs(),
            &metrics,
        )
        .map_err(|e| StartError::Config {
            setting: "IGFEED_MEDIA_HOSTS",
            reason: crate::graph::describe(&e),
        })?;
        let ui = Arc::new(AdminUi::new(&config, tuning.admin_ui));
        let state = AppState::from(Shared {
            ui,
            config: Arc::new(config),
            accounts,
            feed,
            graph,
            metrics,
            media: Arc::new(media),
            replicas,
        });
        let addr = state.config.listen;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        Ok(Self {
            listener,
            tuning,
            feed_updates,
            state,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Starts the background tasks, serves until `shutdown` completes,
    /// drains open requests, then stops the tasks.
    pub async fn run(mut self, shutdown: impl Future<Output = ()> + Send + 'static) {
        tracing::info!(addr = %self.local_addr(), "igfeed listening");
        let (stop, stopped) = watch::channel(false);
        let tasks = self.spawn_tasks(&stopped);
        let router = crate::routes::router(self.state.clone());
        crate::server::serve(self.listener, router, self.tuning.limits, shutdown).await;
        tracing::info!("http server stopped");
        let _ = stop.send(true);
        for (name, task) in tasks {
            match tokio::time::timeout(Duration::from_secs(10), task).await {
                Ok(Ok(())) => tracing::info!(task = name, "task ended"),
                Ok(Err(e)) => tracing::error!(task = name, error = %e, "task failed"),
                Err(_) => tracing::warn!(task = name, "task did not stop within 10s"),
            }
        }
        // Once the refresher has stopped: another replica takes the leases
        // over at its next tick.
        if let Some(redis) = &self.state.replicas {
            redis.release_leases().await;
        }
    }

    fn spawn_tasks(
        &mut self,
        stopped: &watch::Receiver<bool>,
    ) -> Vec<(&'static str, JoinHandle<()>)> {
        let s = &self.state;
        let mut tasks = vec![(
            "token refresher",
            tokio::spawn(crate::token::refresher::run(
                s.accounts.clone(),
                s.graph.clone(),
                self.tuning.refresh_backoff,
                stopped.clone(),
            )),
        )];
        tasks.push((
            "token store retry",
            tokio::spawn(crate::token::persist::run(
                s.accounts.clone(),
                self.tuning.persist_retry,
                stopped.clone(),
            )),
        ));
        if let Some(redis) = s.replicas.clone() {
            let replicas = Replicas {
                redis,
                accounts: s.accounts.clone(),
                feed: s.feed.clone(),
                media: s.media.clone(),
                graph: s.graph.clone(),
            };
            tasks.push(("replica sync", tokio::spawn(replicas.run(stopped.clone()))));
        }
        if self.tuning.warm_media {
            tasks.push((
                "media warm-up",
                tokio::spawn(crate::media::warm::run(s.media.clone(), stopped.clone())),
            ));
        }
        let retry = crate::webhooks::Retry {
            attempts: self.tuning.alerts.attempts,
            base: self.tuning.alerts.retry_base,
        };
        if let Some(url) = s.config.alert_webhook.clone() {
            let settings = self.tuning.alerts;
            let (tx, rx) = mpsc::channel(64);
            let watchdog = Watchdog::new(s.accounts.clone(), settings, tx);
            tasks.push((
                "alert watchdog",
                tokio::spawn(watchdog.run(stopped.clone())),
            ));
            tasks.push((
                "alert sender",
                tokio::spawn(crate::webhooks::deliver(
                    url,
                    s.config.webhook_secret.clone(),
                    rx,
                    retry,
                    stopped.clone(),
                )),
            ));
        }
        if let Some((url, rx)) = self.feed_updates.take() {
            tasks.push((
                "feed webhook sender",
                tokio::spawn(crate::webhooks::deliver(
                    url,
                    s.config.webhook_secret.clone(),
                    rx,
                    retry,
                    stopped.clone(),
                )),
            ));
        }
        tasks
    }
}

/// Opens the accounts kept in the data dir (one process).
fn open_data_dir(config: &Config, policy: RefreshPolicy) -> Result<Accounts, StartError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|e| StartError::Config {
        setting: "IGFEED_DATA_DIR",
        reason: format!("cannot create {}: {e}", config.data_dir.display()),
    })?;
    if let Ok(removed) = crate::fsutil::remove_stale_temps(&config.data_dir) {
        for path in removed {
            tracing::info!(path = %path.display(), "removed a temp file left by an interrupted write");
        }
    }
    Accounts::open(
        &config.data_dir,
        config.access_token.as_ref(),
        policy,
        SystemTime::now(),
    )
    .map_err(|e| StartError::Config {
        setting: "IGFEED_DATA_DIR",
        reason: format!(
            "the stored accounts cannot be used ({e}); fix or move away the file named, and set IGFEED_ACCESS_TOKEN if it was the default account's"
        ),
    })
}

/// Opens the accounts kept in Redis, waiting for Redis to answer (a replica
/// that starts before Redis comes up once it does). A state Redis holds
/// that cannot be read stops start-up.
async fn open_shared(
    redis: &Arc<Redis>,
    config: &Config,
    policy: RefreshPolicy,
) -> Result<Accounts, StartError> {
    let mut waited = false;
    loop {
        match redis
            .open(config.access_token.as_ref(), policy, SystemTime::now())
            .await
        {
            Ok(accounts) => return Ok(accounts),
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(StartError::Config {
                    setting: "IGFEED_REDIS_URL",
                    reason: format!(
                        "the state in Redis cannot be used ({e}); fix or delete the key named"
                    ),
                });
            }
            Err(e) => {
                if !waited {
                    tracing::warn!(url = %config.redis_url.as_ref().map(ToString::to_string).unwrap_or_default(), error = %e, "waiting for Redis to answer before serving");
                    waited = true;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed when this is
/// called, not when the future is first polled, so a signal that arrives
/// while the server is starting is not lost (nor fatal).
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM received; shutting down"),
                    _ = int.recv() => tracing::info!("SIGINT received; shutting down"),
                },
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                    tracing::info!("SIGINT received; shutting down");
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("SIGINT received; shutting down");
    }
}
