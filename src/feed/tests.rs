//! Unit tests of the feed service's caches, which need its internals.

use super::*;
use crate::graph::{Account, Media, MediaType};

/// A snapshot of `posts` posts with captions of realistic length.
fn snapshot(posts: usize) -> Arc<Snapshot> {
    let media = (0..posts)
        .map(|i| Media {
            id: format!("1790000000{i:07}"),
            media_type: MediaType::Image,
            alt_text: None,
            caption: Some(format!(
                "Post {i}: {}",
                "a few words about the picture ".repeat(6)
            )),
            permalink: Some(format!("https://www.instagram.com/p/C{i:08}/")),
            timestamp: Some("2026-11-01T10:00:00+0000".into()),
            media_url: Some(format!(
                "https://scontent.cdninstagram.com/v/{i}_n.jpg?oe=FFFFFFFF"
            )),
            thumbnail_url: None,
            children: None,
        })
        .collect();
    Arc::new(Snapshot {
        account: Account {
            id: "17841400000000000".into(),
            username: "example".into(),
        },
        media,
        fetched_at: SystemTime::now(),
    })
}

fn service() -> FeedService {
    let graph = GraphClient::new(
        "http://127.0.0.1:9".parse().expect("a URL"),
        "v25.0",
        Duration::from_secs(1),
    )
    .expect("a client");
    FeedService::new(graph, 200, Duration::from_secs(300))
}

#[tokio::test]
async fn made_up_hosts_never_hold_more_than_the_rendered_budget() {
    let feed = service();
    let current = Current {
        snapshot: snapshot(200),
        stale: false,
        version: 1,
        expires_at: Instant::now() + Duration::from_secs(300),
    };
    // ~70 KB per variant: 700 made-up hosts would hold ~50 MB.
    for i in 0..700 {
        let base = format!("http://site{i}.example");
        let rendered = feed
            .rendered(&current, 0, &base, &Filter::default(), Effort::Fast)
            .await;
        assert!(rendered.body.len() > 50_000);
    }
    feed.rendered.run_pending_tasks().await;
    let held: u64 = feed.rendered.iter().map(|(_, r)| r.body.len() as u64).sum();
    assert!(
        held <= RENDERED_BUDGET,
        "{held} bytes of rendered bodies held"
    );
}
