//! Durable files: written atomically (temp file, fsync, rename, fsync the
//! directory) so that a crash at any instant leaves the old or the new
//! content, never a torn or empty file.
//!
//! The temp file is created by the `tempfile` crate next to the target,
//! exclusively (`O_CREAT | O_EXCL`, which never follows a symlink: a name
//! that exists, as a file or as a link, is skipped for another) and under
//! an unpredictable name, so nothing planted in the directory beforehand can
//! redirect the write. The final `rename` replaces whatever is at the
//! target, a symlink included, without writing through it.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// What every temp file name contains, between the target's name and the
/// random part: `.token.json.tmp-Xq3…`.
const TEMP_MARK: &str = ".tmp-";

/// Random characters in a temp file name (62 possibilities each).
const RANDOM_CHARS: usize = 16;

/// Replaces `path` with `bytes` atomically, with file mode 0600 on Unix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let mut prefix = OsString::from(".");
    prefix.push(name);
    prefix.push(TEMP_MARK);
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).rand_bytes(RANDOM_CHARS);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(0o600));
    }
    // On any error the temp file is removed when it is dropped.
    let mut tmp = builder.tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir)
}

/// Removes temp files that an interrupted [`write_atomic`] may have left
/// (`.NAME.tmp-…`, also the older `.NAME.tmp-PID` names). A symlink with
/// such a name is removed itself, never what it points to; directories are
/// left alone.
pub fn remove_stale_temps(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.starts_with('.') && name.contains(TEMP_MARK)) {
            continue;
        }
        // `DirEntry::file_type` does not follow symlinks.
        let kind = entry.file_type()?;
        if kind.is_file() || kind.is_symlink() {
            fs::remove_file(entry.path())?;
            removed.push(entry.path());
        }
    }
    Ok(removed)
}

pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        fs::File::open(dir)?.sync_all()?;
    }
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn replaces_content_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(names(dir.path()), ["state.json"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }

    /// A symlink at a temp name an attacker could predict, or at the target
    /// itself, must not carry the secret to the file it points to.
    #[cfg(unix)]
    #[test]
    fn planted_symlinks_do_not_redirect_the_write() {
        use std::os::unix::fs::{PermissionsExt, symlink};
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let victim = elsewhere.path().join("victim");
        fs::write(&victim, b"untouched").unwrap();
        let target = dir.path().join("token.json");
        let pid = std::process::id();
        let predictable = [
            format!(".token.json.tmp-{pid}"),
            ".token.json.tmp-".to_string(),
            ".token.json.tmp".to_string(),
            "token.json.tmp".to_string(),
        ];
        for name in &predictable {
            symlink(&victim, dir.path().join(name)).unwrap();
        }
        symlink(&victim, &target).unwrap();

        write_atomic(&target, b"secret").unwrap();

        assert_eq!(fs::read_to_string(&victim).unwrap(), "untouched");
        let meta = fs::symlink_metadata(&target).unwrap();
        assert!(meta.file_type().is_file(), "the target is a regular file");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::read_to_string(&target).unwrap(), "secret");
        // The planted links are still there, untouched, and nothing else is.
        for name in &predictable {
            let link = fs::symlink_metadata(dir.path().join(name)).unwrap();
            assert!(link.file_type().is_symlink(), "{name}");
        }
        assert_eq!(names(dir.path()).len(), predictable.len() + 1);
    }

    #[test]
    fn stale_temps_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("feed.json");
        write_atomic(&p, b"{}").unwrap();
        // What a write interrupted by a crash leaves: this version's names
        // and the older per-PID ones.
        fs::write(dir.path().join(".feed.json.tmp-Ab3dE6gH9jK2mN5p"), b"x").unwrap();
        fs::write(dir.path().join(".token.json.tmp-4242"), b"x").unwrap();
        fs::create_dir(dir.path().join(".dir.tmp-keep")).unwrap();
        fs::write(dir.path().join("notes.tmp-1"), b"kept").unwrap();

        let mut removed = remove_stale_temps(dir.path()).unwrap();
        removed.sort();
        assert_eq!(removed.len(), 2, "{removed:?}");
        assert_eq!(
            names(dir.path()),
            [".dir.tmp-keep", "feed.json", "notes.tmp-1"]
        );
    }

    #[cfg(unix)]
    #[test]
    fn removing_a_stale_temp_symlink_leaves_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let victim = elsewhere.path().join("victim");
        fs::write(&victim, b"untouched").unwrap();
        let link = dir.path().join(".token.json.tmp-Zz9");
        std::os::unix::fs::symlink(&victim, &link).unwrap();

        assert_eq!(remove_stale_temps(dir.path()).unwrap(), [link]);
        assert_eq!(fs::read_to_string(&victim).unwrap(), "untouched");
        assert!(names(dir.path()).is_empty());
    }
}
