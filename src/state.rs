//! The state every handler shares: one `Arc` of cheap handles, passed with
//! axum's `State`.

use std::sync::Arc;

use crate::accounts::Accounts;
use crate::admin_ui::AdminUi;
use crate::config::Config;
use crate::feed::FeedService;
use crate::graph::GraphClient;
use crate::media::MediaService;
use crate::metrics::Metrics;

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
    /// Every account: its token and its feed's state.
    pub accounts: Arc<Accounts>,
    /// The cached feeds with their last good fallback.
    pub feed: Arc<FeedService>,
    /// The Graph API client (for validating tokens, media URLs).
    pub graph: GraphClient,
    /// Prometheus metrics, rendered at `/metrics`.
    pub metrics: Metrics,
    /// The media proxy and its byte-bounded cache.
    pub media: Arc<MediaService>,
    /// The admin page's sessions, pending authorizations and login limits.
    pub ui: Arc<AdminUi>,
    /// With `IGFEED_REDIS_URL`: the state shared with the other replicas.
    pub replicas: Option<Arc<crate::replicas::Redis>>,
}
