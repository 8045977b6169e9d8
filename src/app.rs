//! The application: shared state, the HTTP stack around the route table,
//! start-up and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use std::time::{Duration, SystemTime};

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use utoipa_swagger_ui::SwaggerUi;

use crate::front::Front;
use crate::media::MediaService;
use crate::metrics::Metrics;
use crate::middleware::StackLayer;

use crate::alerts::{AlertSettings, Watchdog};
use crate::config::Config;
use crate::error;
use crate::feed::{FeedService, SnapshotFile};
use crate::graph::GraphClient;
use crate::routes;
use crate::token::{RefreshPolicy, TokenFile, TokenManager};

/// Everything a handler needs, behind one `Arc`: axum clones the state for
/// every request, so a clone must be a single reference count.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl From<Shared> for AppState {
    fn from(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

/// The service's shared handles; reach them through [`AppState`].
pub struct Shared {
    /// The settings the service was started with.
    pub config: Arc<Config>,
    /// The cached feed with its last good fallback.
    pub feed: Arc<FeedService>,
    /// The access token and its status.
    pub tokens: Arc<TokenManager>,
    /// The Graph API client (for validating tokens, media URLs).
    pub graph: GraphClient,
    /// Prometheus metrics, rendered at `/metrics`.
    pub metrics: Metrics,
    /// The media proxy and its byte-bounded cache.
    pub media: Arc<MediaService>,
}

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
    /// Fetch each new feed's media into the cache in the background.
    pub warm_media: bool,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            alerts: AlertSettings::default(),
            refresh_backoff: crate::token::refresher::BACKOFF_BASE,
            warm_media: true,
        }
    }
}

/// A built service, bound to its address, ready to run.
pub struct App {
    listener: TcpListener,
    front: Front,
    tuning: Tuning,
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
        std::fs::create_dir_all(&config.data_dir).map_err(|e| StartError::Config {
            setting: "IGFEED_DATA_DIR",
            reason: format!("cannot create {}: {e}", config.data_dir.display()),
        })?;
        if let Ok(removed) = crate::fsutil::remove_stale_temps(&config.data_dir) {
            for path in removed {
                tracing::info!(path = %path.display(), "removed a temp file left by an interrupted write");
            }
        }
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
        .with_metrics(metrics.clone());
        let policy = RefreshPolicy {
            after: config.refresh_after,
            min_age: config.refresh_min_age,
        };
        let token_file = TokenFile::new(&config.data_dir);
        let tokens = TokenManager::open(
            token_file.clone(),
            config.access_token.as_ref(),
            policy,
            SystemTime::now(),
        )
        .map_err(|e| StartError::Config {
            setting: "IGFEED_DATA_DIR",
            reason: format!(
                "the token state {} cannot be used ({e}); fix it or move it away and set IGFEED_ACCESS_TOKEN",
                token_file.path().display()
            ),
        })?;
        let tokens = Arc::new(tokens);
        let feed = Arc::new(
            FeedService::new(
                graph.clone(),
                tokens.clone(),
                config.feed_size,
                config.feed_ttl,
                SnapshotFile::new(&config.data_dir),
            )
            .with_metrics(metrics.clone()),
        );
        let media = MediaService::new(
            config.media_hosts.clone(),
            config.media_cache_size,
            config.media_max_object,
            config.upstream_timeout,
            feed.clone(),
            tokens.clone(),
            graph.clone(),
            metrics.clone(),
        )
        .map_err(|e| StartError::Config {
            setting: "IGFEED_MEDIA_HOSTS",
            reason: crate::graph::describe(&e),
        })?;
        let state = AppState::from(Shared {
            config: Arc::new(config),
            feed,
            tokens,
            graph,
            metrics,
            media: Arc::new(media),
        });
        let front = front(state.clone());
        let addr = state.config.listen;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        Ok(Self {
            listener,
            front,
            tuning,
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
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        tracing::info!(addr = %self.local_addr(), "igfeed listening");
        let (stop, stopped) = watch::channel(false);
        let tasks = self.spawn_tasks(&stopped);
        let served = crate::server::serve(self.listener, self.front, shutdown).await;
        tracing::info!("http server stopped");
        let _ = stop.send(true);
        for (name, task) in tasks {
            match tokio::time::timeout(Duration::from_secs(10), task).await {
                Ok(Ok(())) => tracing::info!(task = name, "task ended"),
                Ok(Err(e)) => tracing::error!(task = name, error = %e, "task failed"),
                Err(_) => tracing::warn!(task = name, "task did not stop within 10s"),
            }
        }
        served
    }

    fn spawn_tasks(&self, stopped: &watch::Receiver<bool>) -> Vec<(&'static str, JoinHandle<()>)> {
        let s = &self.state;
        let mut tasks = vec![(
            "token refresher",
            tokio::spawn(crate::token::refresher::run(
                s.tokens.clone(),
                s.graph.clone(),
                self.tuning.refresh_backoff,
                stopped.clone(),
            )),
        )];
        if self.tuning.warm_media {
            tasks.push((
                "media warm-up",
                tokio::spawn(s.media.clone().warm_up(stopped.clone())),
            ));
        }
        if let Some(url) = s.config.alert_webhook.clone() {
            let settings = self.tuning.alerts;
            let (tx, rx) = mpsc::channel(64);
            let watchdog = Watchdog::new(s.tokens.clone(), s.feed.clone(), settings, tx);
            tasks.push((
                "alert watchdog",
                tokio::spawn(watchdog.run(stopped.clone())),
            ));
            tasks.push((
                "alert sender",
                tokio::spawn(crate::alerts::deliver(url, rx, settings, stopped.clone())),
            ));
        }
        tasks
    }
}

/// The most a request body may be (the only bodies are admin JSON, so
/// the limit is set on `/admin/*`).
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// The longest a response head may take before the client gets a 504
/// problem; generous, since a cold feed may walk several pages upstream.
pub fn request_timeout(upstream: Duration) -> Duration {
    (upstream * 3).max(Duration::from_secs(30))
}

/// The route table wrapped in the HTTP stack ([`crate::middleware`]):
/// problem+json errors, request ids, one INFO log line and metrics per
/// request, timeout, CORS; with the fast path for cached media in front
/// ([`crate::front`]), wrapped in the same stack.
pub fn front(state: AppState) -> Front {
    let stack = StackLayer::new(
        state.metrics.clone(),
        &state.config.cors_origins,
        request_timeout(state.config.upstream_timeout),
    );
    let media = state.media.clone();
    let (routes, _api) = routes::router(state);
    let router = routes
        .merge(SwaggerUi::new("/docs").config(utoipa_swagger_ui::Config::new(["/openapi.json"])))
        .fallback(error::not_found)
        .layer(stack.clone());
    Front::new(router, media, stack)
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
