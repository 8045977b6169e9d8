//! The accounts' directories: `IGFEED_DATA_DIR/accounts/{name}/`.
//!
//! Every change of the set is one `rename` of a directory, so a crash at
//! any instant leaves an account whole or absent:
//! - taking over a single-account data dir copies its `token.json` and
//!   `feed.json` into `accounts/.migrating-default/`, then renames that to
//!   `accounts/default/`, then removes the old files;
//! - removing an account renames its directory to `accounts/.deleted-…`
//!   before deleting it.
//!
//! Names that start with a dot are never account names (see
//! [`AccountName`]), so leftovers of an interrupted step are recognised and
//! cleared at the next start.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::AccountName;
use crate::fsutil;

/// The files of an account's state (and of a single-account data dir).
const STATE_FILES: [&str; 2] = ["token.json", "feed.json"];
const MIGRATING: &str = ".migrating-default";

/// Creates `data_dir/accounts`, clears leftovers of interrupted steps, and
/// takes over a single-account state found at the top of `data_dir`.
pub fn prepare(data_dir: &Path) -> io::Result<PathBuf> {
    let root = data_dir.join("accounts");
    fs::create_dir_all(&root)?;
    for entry in fs::read_dir(&root)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') && entry.file_type()?.is_dir() {
            tracing::info!(dir = %entry.path().display(), "removing what an interrupted step left");
            fs::remove_dir_all(entry.path())?;
        } else if entry.file_type()?.is_dir() {
            fsutil::remove_stale_temps(&entry.path())?;
        }
    }
    migrate(data_dir, &root)?;
    Ok(root)
}

/// Takes over `token.json` / `feed.json` at the top of `data_dir` (written
/// by a single-account igfeed) as the account `default`, keeping the token
/// as it was last refreshed. Copies first, then one rename publishes the
/// account, then the old files go: a crash before the rename leaves the
/// old layout (taken over again at the next start), after it the new one
/// (the old files are then leftovers and are removed).
fn migrate(data_dir: &Path, root: &Path) -> io::Result<()> {
    let old: Vec<PathBuf> = STATE_FILES
        .iter()
        .map(|f| data_dir.join(f))
        .filter(|p| p.exists())
        .collect();
    if old.is_empty() {
        return Ok(());
    }
    let target = root.join(super::name::DEFAULT);
    if !target.exists() {
        // A state that cannot be read stops start-up where it is, untouched.
        let token = crate::token::TokenFile::new(data_dir);
        token
            .load()
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", token.path().display())))?;
        let staging = root.join(MIGRATING);
        fs::create_dir(&staging)?;
        for path in &old {
            let bytes = fs::read(path)?;
            let name = path.file_name().unwrap_or_default();
            fsutil::write_atomic(&staging.join(name), &bytes)?;
        }
        fs::rename(&staging, &target)?;
        fsutil::sync_dir(root)?;
        tracing::info!(
            dir = %target.display(),
            "took over the single-account state as the account 'default'"
        );
    }
    for path in &old {
        fs::remove_file(path)?;
    }
    fsutil::sync_dir(data_dir)
}

/// The names of the stored accounts (directories with a valid name).
pub fn stored_names(root: &Path) -> io::Result<Vec<AccountName>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(root)? {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        match AccountName::parse(&name) {
            Ok(name) => names.push(name),
            Err(_) => {
                tracing::warn!(dir = %entry.path().display(), "ignoring a directory that is not an account name")
            }
        }
    }
    names.sort();
    Ok(names)
}

/// Creates the directory of `name` durably (nothing if it exists).
pub fn create_dir(root: &Path, name: &AccountName) -> io::Result<()> {
    match fs::create_dir(root.join(name.as_str())) {
        Ok(()) => fsutil::sync_dir(root),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Removes the directory of `name`: one rename takes it out of the set,
/// then it is deleted. A write still in flight for the account then fails
/// (its directory is gone) instead of bringing the account back.
pub fn remove_dir(root: &Path, name: &AccountName) -> io::Result<()> {
    let dir = root.join(name.as_str());
    let grave = root.join(format!(".deleted-{name}-{:016x}", rand::random::<u64>()));
    match fs::rename(&dir, &grave) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    fsutil::sync_dir(root)?;
    if let Err(e) = fs::remove_dir_all(&grave) {
        // Out of the set already; the next start clears it.
        tracing::warn!(dir = %grave.display(), error = %e, "could not delete a removed account's files yet");
    }
    Ok(())
}
