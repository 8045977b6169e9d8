//! The data dir's file rules: a symlink planted there cannot redirect the
//! token to another file, and temp files left by interrupted writes are
//! removed at start-up.

#![cfg(unix)]

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};

use igfeed_fake::{FakeOptions, sample_media};

use crate::helpers::{ADMIN_KEY, spawn_app_with};

#[tokio::test]
async fn a_planted_symlink_does_not_redirect_the_token() {
    let app = spawn_app_with(FakeOptions::default(), sample_media(2), |c| {
        c.admin_key = Some(igfeed::config::Secret::new(ADMIN_KEY));
    })
    .await;
    let dir = &app.default_dir();
    let elsewhere = tempfile::tempdir().unwrap();
    let victim = elsewhere.path().join("victim");
    fs::write(&victim, b"untouched").unwrap();
    // Links at the temp name an earlier version used (fixed per process:
    // the app runs in this test's process) and at the target itself.
    symlink(
        &victim,
        dir.join(format!(".token.json.tmp-{}", std::process::id())),
    )
    .unwrap();
    let target = dir.join("token.json");
    fs::remove_file(&target).unwrap();
    symlink(&victim, &target).unwrap();

    let fresh = app.fake.issue_token();
    assert_eq!(app.put_token(&fresh).await.status(), 200);

    assert_eq!(fs::read_to_string(&victim).unwrap(), "untouched");
    let meta = fs::symlink_metadata(&target).unwrap();
    assert!(meta.file_type().is_file(), "token.json is a regular file");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert!(fs::read_to_string(&target).unwrap().contains(&fresh));
}

#[tokio::test]
async fn stale_temp_files_are_removed_at_start_up() {
    let mut app = spawn_app_with(FakeOptions::default(), sample_media(2), |_| {}).await;
    app.stop().await;
    let dir = app.default_dir();
    let elsewhere = tempfile::tempdir().unwrap();
    let victim = elsewhere.path().join("victim");
    fs::write(&victim, b"untouched").unwrap();
    let stale = [
        ".token.json.tmp-q8ZrT2mWx4Yb7NcE",
        ".feed.json.tmp-Hk3PzL9sV1dQ6uAo",
        ".token.json.tmp-31337",
    ];
    for name in stale {
        fs::write(dir.join(name), b"half a write").unwrap();
    }
    symlink(&victim, dir.join(".token.json.tmp-Lnk0Lnk0Lnk0Lnk0")).unwrap();

    let app = app.restart().await;

    let left: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(left.is_empty(), "temp files left: {left:?}");
    assert_eq!(fs::read_to_string(&victim).unwrap(), "untouched");
    assert!(dir.join("token.json").is_file());
    assert_eq!(app.get_feed().await["stale"], false);
}
