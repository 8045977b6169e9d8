//! `igfeed --demo`: the real service against an embedded fake Instagram on
//! a loopback port, with the sample account of [`igfeed_fake::demo`]. No
//! network, no token: the fake issues one.

use igfeed_fake::demo::{DEMO_POSTS, demo_media};
use igfeed_fake::{FakeInstagram, FakeOptions};

use crate::config::{Config, HostList, Secret};

/// Starts the fake Instagram and points `config` at it.
pub async fn start(config: &mut Config) -> std::io::Result<FakeInstagram> {
    let fake = FakeInstagram::start(
        FakeOptions {
            username: "igfeed.demo".into(),
            ..FakeOptions::default()
        },
        demo_media(),
    )
    .await?;
    config.graph_url = fake
        .base_url()
        .parse()
        .map_err(|e| std::io::Error::other(format!("{e}")))?;
    config.access_token = Some(Secret::new(fake.issue_token()));
    config.media_hosts = HostList(vec!["127.0.0.1".into()]);
    tracing::info!(graph = %fake.base_url(), posts = DEMO_POSTS, "demo mode: serving a sample account from an embedded fake Instagram");
    Ok(fake)
}
