//! Process-wide settings made once at start-up, before the token is read or
//! a connection accepted: the open-files limit is raised to what the system
//! allows, and the process is made non-dumpable so that no core dump (and no
//! other user's debugger) can read the access token out of its memory.
//!
//! Each step is best effort: a refused call is a warning, never a reason
//! not to start.

/// Applies [`raise_open_files_limit`] and [`forbid_core_dumps`].
pub fn harden() {
    raise_open_files_limit();
    forbid_core_dumps();
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit: every connection,
/// upstream call and file holds a descriptor, and the common soft default
/// (1024) is below the 8,192 connections the server accepts. Logs both
/// values at INFO.
#[cfg(unix)]
pub fn raise_open_files_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let before = getrlimit(Resource::Nofile);
    let (soft, hard) = (limit(before.current), limit(before.maximum));
    if before.current == before.maximum {
        tracing::info!(
            soft,
            hard,
            "open files limit: the soft limit is the hard one"
        );
        return;
    }
    let raised = Rlimit {
        current: before.maximum,
        maximum: before.maximum,
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => {
            let after = limit(getrlimit(Resource::Nofile).current);
            tracing::info!(
                soft = after,
                hard,
                was = soft,
                "open files limit: raised the soft limit to the hard one"
            );
        }
        Err(e) => tracing::warn!(
            soft,
            hard,
            error = %e,
            "open files limit: cannot raise the soft limit; keeping it"
        ),
    }
}

/// No resource limits to raise here.
#[cfg(not(unix))]
pub fn raise_open_files_limit() {}

/// A limit for the logs: `None` is no limit at all.
#[cfg(unix)]
fn limit(value: Option<u64>) -> String {
    value.map_or_else(|| "unlimited".to_string(), |v| v.to_string())
}

/// `prctl(PR_SET_DUMPABLE, 0)`: no core dump, no `ptrace` attach without
/// `CAP_SYS_PTRACE`, and the process's procfs entries owned by root, so the
/// token in memory does not end up in a core file.
#[cfg(target_os = "linux")]
pub fn forbid_core_dumps() {
    use rustix::process::{DumpableBehavior, set_dumpable_behavior};
    match set_dumpable_behavior(DumpableBehavior::NotDumpable) {
        Ok(()) => tracing::info!("process marked non-dumpable: no core dumps"),
        Err(e) => tracing::warn!(error = %e, "cannot mark the process non-dumpable"),
    }
}

/// Only Linux has `PR_SET_DUMPABLE`.
#[cfg(not(target_os = "linux"))]
pub fn forbid_core_dumps() {}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use rustix::process::{DumpableBehavior, Resource, Rlimit, dumpable_behavior, getrlimit};

    /// Set in the child run of [`harden_raises_the_limit_and_forbids_dumps`].
    const CHILD: &str = "IGFEED_TEST_HARDEN_CHILD";

    #[test]
    fn harden_raises_the_limit_and_forbids_dumps() {
        if std::env::var_os(CHILD).is_some() {
            // The child: lower the soft limit, then harden.
            let hard = getrlimit(Resource::Nofile).maximum;
            let low = hard.map_or(256, |h| h.min(256));
            rustix::process::setrlimit(
                Resource::Nofile,
                Rlimit {
                    current: Some(low),
                    maximum: hard,
                },
            )
            .expect("lowering a soft limit is always allowed");
            assert_eq!(dumpable_behavior().unwrap(), DumpableBehavior::Dumpable);

            super::harden();

            assert_eq!(getrlimit(Resource::Nofile).current, hard);
            assert_eq!(dumpable_behavior().unwrap(), DumpableBehavior::NotDumpable);
            return;
        }
        // Hardening changes the whole process for good, so it runs in a
        // child process of this test binary, not in this one.
        let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--exact",
                "process::tests::harden_raises_the_limit_and_forbids_dumps",
            ])
            .env(CHILD, "1")
            .output()
            .expect("the test binary runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "the child run failed: {}\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
