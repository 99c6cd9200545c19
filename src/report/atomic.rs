//! Crash-safe file replacement: write a sibling temporary file, fsync it, rename it over the
//! target. A rename within one directory is atomic on POSIX file systems (and replaces the
//! target on Windows), so readers — and a user whose run was interrupted — see either the
//! old file or the whole new one.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinguishes temporary files of concurrent writes from one process.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `path` by calling `write` on a buffered temporary file in the same directory, then
/// flushing, fsyncing and renaming it over `path`.
///
/// If `write` returns an error (or panics), or any step fails, the temporary file is removed
/// and `path` is left untouched (absent if it did not exist). The parent directory must
/// exist. On Unix the directory is fsynced after the rename (best effort) so the new name
/// survives a power loss too.
pub fn write_atomically<F>(path: &Path, write: F) -> io::Result<()>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let (file, tmp) = create_temp(dir, &name.to_string_lossy())?;
    let guard = RemoveOnDrop(Some(tmp));

    let mut out = BufWriter::new(file);
    write(&mut out)?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    drop(file);

    let tmp = guard.0.as_deref().expect("guard armed");
    fs::rename(tmp, path)?;
    guard.disarm();
    sync_dir(dir);
    Ok(())
}

/// Creates `.{name}.{pid}.{n}.tmp` in `dir`, refusing to reuse an existing file.
fn create_temp(dir: &Path, name: &str) -> io::Result<(File, PathBuf)> {
    let pid = std::process::id();
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{name}.{pid}.{n}.tmp"));
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(f) => return Ok((f, tmp)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Removes the temporary file unless disarmed, on errors and panics alike.
struct RemoveOnDrop(Option<PathBuf>);

impl RemoveOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_file(p);
        }
    }
}

#[cfg(unix)]
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn writes_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.csv");
        write_atomically(&path, |w| w.write_all(b"first\n")).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "first\n");
        write_atomically(&path, |w| w.write_all(b"second\n")).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "second\n");
        assert_eq!(entries(dir.path()), vec!["runs.csv"]);
    }

    #[test]
    fn failing_writer_leaves_no_target_and_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.json");
        let err = write_atomically(&path, |w| {
            w.write_all(b"{\"half\": ")?;
            Err(io::Error::other("interrupted"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "interrupted");
        assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
    }

    #[test]
    fn failing_writer_keeps_the_previous_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.json");
        fs::write(&path, "old").unwrap();
        let _ = write_atomically(&path, |w| {
            w.write_all(&[b'x'; 100_000])?; // more than the buffer: reaches the temp file
            Err(io::Error::other("interrupted"))
        });
        assert_eq!(fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(entries(dir.path()), vec!["summary.json"]);
    }

    #[test]
    fn panicking_writer_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("timeline.csv");
        let result = std::panic::catch_unwind(|| {
            write_atomically(&path, |_| panic!("writer bug")).unwrap();
        });
        assert!(result.is_err());
        assert!(entries(dir.path()).is_empty());
    }

    #[test]
    fn missing_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no/such/dir/runs.csv");
        let err = write_atomically(&path, |w| w.write_all(b"x")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}
