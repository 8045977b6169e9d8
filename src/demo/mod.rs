//! `igfeed --demo`: the real service against an embedded fake Instagram on
//! a loopback port, with the sample account of [`igfeed_fake::demo`]. No
//! network, no token: the fake issues one.
//!
//! The demo keeps its token and feed in a temporary directory of its own,
//! removed when it stops, and never reads or writes `IGFEED_DATA_DIR`: the
//! fake's token would replace a real one there.

use std::path::Path;

use igfeed_fake::demo::{DEMO_POSTS, demo_media};
use igfeed_fake::{FakeInstagram, FakeOptions};

use crate::config::{Config, HostList, Secret};

/// What demo mode needs while the service runs: the fake Instagram and the
/// demo's data dir. Dropping it stops the fake and removes the directory.
pub struct Demo {
    fake: FakeInstagram,
    state: tempfile::TempDir,
}

impl Demo {
    /// The fake Instagram the service talks to.
    pub fn fake(&self) -> &FakeInstagram {
        &self.fake
    }

    /// The temporary directory that replaces `IGFEED_DATA_DIR`.
    pub fn state_dir(&self) -> &Path {
        self.state.path()
    }
}

/// Starts the fake Instagram and points `config` at it, and at a new
/// temporary data dir.
pub async fn start(config: &mut Config) -> std::io::Result<Demo> {
    let state = tempfile::Builder::new()
        .prefix("igfeed-demo-")
        .tempdir()
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot create its data dir: {e}")))?;
    let fake = FakeInstagram::start(
        FakeOptions {
            username: "igfeed.demo".into(),
            ..FakeOptions::default()
        },
        demo_media(),
    )
    .await
    .map_err(|e| std::io::Error::new(e.kind(), format!("cannot start its fake Instagram: {e}")))?;
    config.graph_url = fake
        .base_url()
        .parse()
        .map_err(|e| std::io::Error::other(format!("{e}")))?;
    config.access_token = Some(Secret::new(fake.issue_token()));
    config.media_hosts = HostList(vec!["127.0.0.1".into()]);
    config.data_dir = state.path().to_path_buf();
    tracing::info!(
        graph = %fake.base_url(),
        posts = DEMO_POSTS,
        state_dir = %state.path().display(),
        "demo mode: serving a sample account from an embedded fake Instagram (IGFEED_DATA_DIR is not used)"
    );
    Ok(Demo { fake, state })
}
