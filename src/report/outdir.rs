//! The output directory: created, checked and locked before anything runs.
//!
//! - **Lock.** A run, sweep, tune, compare or merge holds `DIR/.rollsim.lock` (created with
//!   `create_new`, holding the process id) while it writes, and removes it when done. A
//!   second rollsim writing the same directory is refused with the lock's path and the
//!   holder's pid, so two runs never interleave their rows. A lock left by a process that no
//!   longer exists (killed) is taken over on Linux, where `/proc` tells; elsewhere the
//!   message says to remove it.
//! - **Symlinks.** `--out` itself may be a symbolic link to a directory: the user named it,
//!   and it is followed. Inside the directory no symbolic link is ever written through: every
//!   file is written to a fresh temporary (`create_new`) and renamed over its name (see
//!   [`super::atomic`]), which replaces a link planted there instead of following it, and an
//!   appended file that is a link is refused.
//! - **Permissions, read-only and full disks** are the user's to fix: [`user_error`] tells
//!   which errors they are, and the commands exit 2 with the path, leaving no partial file
//!   under a final name (the temporary is removed).

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The lock file's name inside the output directory.
pub const LOCK_FILE: &str = ".rollsim.lock";

/// Holds the directory's lock; dropping it removes the lock file.
#[derive(Debug)]
pub struct OutLock {
    path: PathBuf,
}

impl Drop for OutLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Why the output directory cannot be used.
#[derive(Debug)]
pub struct OutError {
    /// 2 when it is the user's to fix (permissions, read-only, a file in the way, a lock held);
    /// 1 otherwise.
    pub code: i32,
    pub message: String,
}

/// Whether an I/O error is the user's to fix (exit 2): no permission, a read-only file
/// system, a full disk or quota, a file where a directory should be.
pub fn user_error(e: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(
        e.kind(),
        PermissionDenied
            | ReadOnlyFilesystem
            | StorageFull
            | QuotaExceeded
            | NotADirectory
            | AlreadyExists
            | FileTooLarge
    )
}

/// Creates `dir` (and its parents) and takes its lock.
pub fn prepare(dir: &Path) -> Result<OutLock, OutError> {
    if let Err(e) = fs::create_dir_all(dir) {
        let file = dir.is_file();
        let hint = if file { "; it is a file: give --out a directory" } else { "" };
        return Err(OutError {
            code: if file || user_error(&e) { 2 } else { 1 },
            message: format!("error: cannot create the output directory {}: {e}{hint}", dir.display()),
        });
    }
    lock(dir)
}

/// Takes `dir/.rollsim.lock`.
pub fn lock(dir: &Path) -> Result<OutLock, OutError> {
    let path = dir.join(LOCK_FILE);
    for _ in 0..2 {
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut f) => {
                let _ = writeln!(f, "{}", std::process::id());
                return Ok(OutLock { path });
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let holder = fs::read_to_string(&path).ok().and_then(|t| t.trim().parse::<u32>().ok());
                if let Some(pid) = holder
                    && is_gone(pid)
                {
                    // A lock left by a killed run: take it over.
                    let _ = fs::remove_file(&path);
                    continue;
                }
                let who =
                    holder.map_or_else(|| "another rollsim".to_string(), |p| format!("rollsim (pid {p})"));
                return Err(OutError {
                    code: 2,
                    message: format!(
                        "error: {} is in use: {who} is writing to it (lock file {}); wait for it to finish, \
                         or give another --out (remove the lock file only if no rollsim is running)",
                        dir.display(),
                        path.display()
                    ),
                });
            }
            Err(e) => {
                return Err(OutError {
                    code: if user_error(&e) { 2 } else { 1 },
                    message: format!("error: cannot write to the output directory {}: {e}", path.display()),
                });
            }
        }
    }
    Err(OutError { code: 1, message: format!("error: cannot take the lock {}", path.display()) })
}

/// True when `pid` is known not to run (Linux: no `/proc/PID`); false when unknown.
fn is_gone(pid: u32) -> bool {
    Path::new("/proc/self").exists() && !Path::new("/proc").join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_and_dropping_releases_it() {
        let dir = tempfile::tempdir().unwrap();
        let first = prepare(&dir.path().join("out")).unwrap();
        let second = prepare(&dir.path().join("out")).unwrap_err();
        assert_eq!(second.code, 2);
        assert!(second.message.contains("is in use"), "{}", second.message);
        assert!(second.message.contains(&std::process::id().to_string()), "{}", second.message);
        drop(first);
        assert!(!dir.path().join("out").join(LOCK_FILE).exists());
        prepare(&dir.path().join("out")).unwrap();
    }

    #[test]
    fn a_lock_of_a_dead_process_is_taken_over() {
        if !Path::new("/proc/self").exists() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        // Pids are below 2^22 on Linux: this one runs nowhere.
        fs::write(dir.path().join(LOCK_FILE), "4294967\n").unwrap();
        let held = lock(dir.path()).unwrap();
        let pid = fs::read_to_string(dir.path().join(LOCK_FILE)).unwrap();
        assert_eq!(pid.trim(), std::process::id().to_string());
        drop(held);
    }
}
