//! A token that cannot be stored (disk full, read-only data dir): the new
//! token stays in use, the admin answer says it is not stored, and the
//! write is retried until it succeeds.

use std::path::PathBuf;
use std::time::Duration;

use igfeed::app::Tuning;
use igfeed::config::Secret;
use igfeed_fake::{FakeOptions, sample_media};
use serde_json::Value;

use crate::helpers::*;

fn tuning() -> Tuning {
    Tuning {
        persist_retry: Duration::from_millis(50),
        ..Tuning::default()
    }
}

fn token_json(app: &TestApp) -> PathBuf {
    app.data_dir.path().join("token.json")
}

/// Makes every write of `token.json` fail, also for root (who ignores
/// permissions): its place is taken by a directory, which the atomic
/// write's rename cannot replace.
fn break_the_store(app: &TestApp) {
    std::fs::remove_file(token_json(app)).unwrap();
    std::fs::create_dir(token_json(app)).unwrap();
}

fn heal_the_store(app: &TestApp) {
    std::fs::remove_dir(token_json(app)).unwrap();
}

/// The token stored in `token.json`, if it can be read.
fn stored_token(app: &TestApp) -> Option<String> {
    let text = std::fs::read_to_string(token_json(app)).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    v["access_token"].as_str().map(str::to_string)
}

#[tokio::test]
async fn a_put_token_that_cannot_be_stored_is_in_use_and_stored_later() {
    let app = spawn_app_tuned(
        FakeOptions::default(),
        sample_media(3),
        |c| c.admin_key = Some(Secret::new(ADMIN_KEY)),
        tuning(),
    )
    .await;
    break_the_store(&app);
    let fresh = app.fake.issue_token();
    let problem = assert_problem(app.put_token(&fresh).await, 500).await;
    assert_eq!(problem["type"], "urn:igfeed:persist-failed");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("accepted but could not be stored"),
        "{detail}"
    );
    assert!(!detail.contains(&fresh));
    assert_eq!(app.current_token().await, fresh);
    assert_eq!(app.get_feed().await["stale"], false);
    heal_the_store(&app);
    eventually(Duration::from_secs(10), "the put token stored", || async {
        (stored_token(&app).as_deref() == Some(fresh.as_str())).then_some(())
    })
    .await;
}
