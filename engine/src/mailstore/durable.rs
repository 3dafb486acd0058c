//! Blocking helpers for the small metadata files of the store: an exclusive
//! `flock` guard ([`FileLock`]), an atomic replace ([`write_atomic`]) and a
//! directory fsync ([`sync_dir`]).
//!
//! Contract: [`write_atomic`] either leaves the old contents in place or the
//! new contents durably in place, never a mix, because it writes a temporary
//! file, fsyncs it, renames it over the target and fsyncs the directory. The
//! user database and the UID lists use it under a [`FileLock`], so the fixed
//! temporary name cannot be shared by two writers.
//!
//! NOTE: these calls block the calling thread, including a worker's event
//! loop. The files are small and the locks are held for one read-modify-write;
//! moving them onto io_uring is left for later.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// An exclusive `flock` on a lock file, released when dropped (the kernel
/// releases it when the file descriptor closes).
#[derive(Debug)]
pub(crate) struct FileLock {
    _file: File,
}

impl FileLock {
    /// Opens or creates `path` (mode 0600) and waits for an exclusive lock on it.
    pub(crate) fn acquire(path: &Path) -> io::Result<FileLock> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)?;

        loop {
            // SAFETY: the descriptor belongs to `file`, which is open for the
            // whole call; flock reads no memory of ours.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if rc == 0 {
                return Ok(FileLock { _file: file });
            }
            let error = io::Error::last_os_error();
            if error.kind() != io::ErrorKind::Interrupted {
                return Err(error);
            }
        }
    }
}

/// Replaces the file at `path` with `contents` (mode `mode`) so that a crash
/// leaves either the old or the new file: write `path.tmp`, fsync, rename,
/// fsync the directory. The caller must hold the lock that guards `path`.
pub(crate) fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let tmp_path = tmp_path_for(path);
    let result = write_and_rename(&tmp_path, path, contents, mode);
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp_path);
    }
    result
}

/// Fsyncs directory `path`, making the entries created or renamed in it durable.
pub(crate) fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

fn write_and_rename(tmp_path: &Path, path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    // A temporary file left by a crash may have another mode, and the mode
    // only applies at creation, so start from a fresh file.
    match std::fs::remove_file(tmp_path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
        _ => {}
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(tmp_path)?;
    file.write_all(contents)?;
    file.sync_all()?;
    drop(file);

    std::fs::rename(tmp_path, path)?;
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    sync_dir(parent)
}

fn tmp_path_for(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}
