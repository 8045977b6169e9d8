//! The account set on disk: taking over a single-account data dir, adding,
//! removing, and what an interrupted step leaves.

use std::time::{Duration, SystemTime};

use super::*;
use crate::feed::Snapshot;
use crate::graph::Account as User;
use crate::token::TokenRecord;

fn policy() -> RefreshPolicy {
    RefreshPolicy::default()
}

fn name(s: &str) -> AccountName {
    AccountName::parse(s).unwrap()
}

fn snapshot() -> Snapshot {
    Snapshot {
        account: User {
            id: "17841400000000000".into(),
            username: "example".into(),
        },
        media: Vec::new(),
        fetched_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
    }
}

/// A single-account data dir: the refreshed token (descending from the env
/// seed) and the last good feed at the top of the data dir.
fn single_account_dir(seed: &Secret) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut rec = TokenRecord::first_seen(
        Secret::new("IGAArefreshed"),
        SystemTime::now(),
        Some(crate::token::fingerprint(seed)),
    );
    rec.refreshed_at = Some(SystemTime::now());
    TokenFile::new(dir.path()).save(&rec).unwrap();
    SnapshotFile::new(dir.path()).save(&snapshot()).unwrap();
    dir
}

#[test]
fn a_single_account_data_dir_becomes_the_default_account_keeping_the_refreshed_token() {
    let seed = Secret::new("IGAAseed");
    let dir = single_account_dir(&seed);
    let accounts = Accounts::open(dir.path(), Some(&seed), policy(), SystemTime::now()).unwrap();
    let default = accounts.default_account();
    assert_eq!(default.tokens.usable().unwrap().expose(), "IGAArefreshed");
    assert_eq!(*default.feed.last_good().unwrap(), snapshot());
    assert!(!dir.path().join("token.json").exists());
    assert!(!dir.path().join("feed.json").exists());
    assert!(dir.path().join("accounts/default/token.json").exists());
    // And again: nothing left to take over, the same state.
    drop(accounts);
    let accounts = Accounts::open(dir.path(), Some(&seed), policy(), SystemTime::now()).unwrap();
    let default = accounts.default_account();
    assert_eq!(default.tokens.usable().unwrap().expose(), "IGAArefreshed");
}

#[test]
fn an_interrupted_take_over_is_done_again_and_a_finished_one_is_cleaned_up() {
    let seed = Secret::new("IGAAseed");
    // Interrupted before the rename: a staging dir with a partial copy.
    let dir = single_account_dir(&seed);
    let staging = dir.path().join("accounts/.migrating-default");
    std::fs::create_dir_all(&staging).unwrap();
    std::fs::write(staging.join("token.json"), b"{\"access_tok").unwrap();
    let accounts = Accounts::open(dir.path(), Some(&seed), policy(), SystemTime::now()).unwrap();
    assert_eq!(
        accounts.default_account().tokens.usable().unwrap().expose(),
        "IGAArefreshed"
    );
    assert!(!staging.exists());
    // Interrupted after the rename: the old files are leftovers.
    let dir = single_account_dir(&seed);
    drop(Accounts::open(dir.path(), Some(&seed), policy(), SystemTime::now()).unwrap());
    let mut stale = TokenRecord::first_seen(Secret::new("IGAAolder"), SystemTime::now(), None);
    stale.refreshed_at = None;
    TokenFile::new(dir.path()).save(&stale).unwrap();
    let accounts = Accounts::open(dir.path(), Some(&seed), policy(), SystemTime::now()).unwrap();
    assert_eq!(
        accounts.default_account().tokens.usable().unwrap().expose(),
        "IGAArefreshed",
        "the account dir wins over a leftover"
    );
    assert!(!dir.path().join("token.json").exists());
}

#[tokio::test]
async fn accounts_are_added_kept_and_removed_whole() {
    let dir = tempfile::tempdir().unwrap();
    let accounts = Accounts::open(dir.path(), None, policy(), SystemTime::now()).unwrap();
    assert_eq!(accounts.len(), 1, "default, without a token");
    assert!(accounts.default_account().tokens.record().is_none());
    let held = accounts.lock().await;
    let (shop, created) = accounts.get_or_create(&held, &name("shop")).await.unwrap();
    assert!(created);
    let guard = shop.tokens.lock().await;
    let rec = TokenRecord::first_seen(Secret::new("IGAAshop"), SystemTime::now(), None);
    shop.tokens.store(&guard, rec).await.unwrap();
    drop(guard);
    // A directory without a stored token: an add interrupted by a crash.
    accounts.get_or_create(&held, &name("half")).await.unwrap();
    drop(held);
    drop(accounts);
    let accounts = Accounts::open(dir.path(), None, policy(), SystemTime::now()).unwrap();
    let names: Vec<String> = accounts.list().iter().map(|a| a.name.to_string()).collect();
    assert_eq!(names, ["default", "shop"]);
    assert!(!dir.path().join("accounts/half").exists());
    let shop = accounts.get(&name("shop")).unwrap();
    assert_eq!(shop.tokens.usable().unwrap().expose(), "IGAAshop");
    let held = accounts.lock().await;
    assert!(
        accounts
            .remove(&held, &name("shop"))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        accounts
            .remove(&held, &name("shop"))
            .await
            .unwrap()
            .is_none()
    );
    // A write for the removed account (a refresh in flight) fails rather
    // than bring it back.
    let guard = shop.tokens.lock().await;
    let rec = TokenRecord::first_seen(Secret::new("IGAAlate"), SystemTime::now(), None);
    assert!(shop.tokens.store(&guard, rec).await.is_err());
    drop(guard);
    // `default` is never removed.
    assert!(
        accounts
            .remove(&held, &name("default"))
            .await
            .unwrap()
            .is_none()
    );
    drop(held);
    let entries: Vec<String> = std::fs::read_dir(dir.path().join("accounts"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(entries, ["default"]);
}
