//! Segment files: [`ActiveSegment`] (the message log that appends go to) and
//! [`DoneFile`] (a segment's done marks), and creating and deleting them.
//!
//! A segment is preallocated to its full size when it is created and, unless
//! it is made for one oversized record, filled with zeros and synced before any
//! append goes to it. Preallocation alone leaves the blocks unwritten: the
//! first write to each block then changes the file's extent map, and the
//! fdatasync that covers it must write the inode as well as the data. On
//! written zeros, an append's fdatasync flushes data only, which docs/
//! BENCHMARKS.md measured at about 40 % less time and CPU per sync on ext4.
//! Zero bytes are what recovery takes as the end of the written part, or as
//! padding when a record follows them.
//!
//! A zero-filled segment is also opened a second time with O_DIRECT and
//! O_DSYNC when the configuration allows it and the file system supports it
//! ([`ActiveSegment::direct`]). Appends then write whole blocks through that
//! descriptor, and each write is durable when it completes, with no
//! fdatasync: one device write and one cache flush, without the handoff to
//! an io-wq thread that a buffered write and an fdatasync each take.

use std::cell::Cell;
use std::io;
use std::path::Path;
use std::time::Duration;

use super::{done_path, record, segment_path, worker_dir, SegmentId};
use crate::runtime;
use crate::runtime::fs::{self, AlignedBuf, File, DIRECT_IO_ALIGN};

/// A segment open for appends.
pub struct ActiveSegment {
    pub id: SegmentId,
    pub file: File,
    /// The same file opened with O_DIRECT and O_DSYNC, for appends in whole
    /// blocks that need no fdatasync. `None` for a segment made for one
    /// oversized record, when `spool.direct_io` is off, or when the file
    /// system refuses O_DIRECT.
    pub direct: Option<File>,
    /// The preallocated size in bytes.
    pub size: u64,
    /// The offset where the next record goes.
    pub tail: Cell<u64>,
    /// Set when a write or fdatasync on it failed; no append may then count
    /// on it.
    pub failed: Cell<bool>,
}

/// Creates the spool directory and the worker's directory in it, and makes
/// their entries durable.
pub fn create_dirs(spool_dir: &Path, worker: u32) -> io::Result<()> {
    let dir = worker_dir(spool_dir, worker);
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(&dir).map_err(|error| {
        io::Error::new(
            error.kind(),
            format!("cannot create spool directory {}: {error}", dir.display()),
        )
    })?;
    for synced in [spool_dir, spool_dir.parent().unwrap_or(spool_dir)] {
        crate::mailstore::durable::sync_dir(synced)?;
    }
    Ok(())
}

/// Bytes written and synced per zero-fill step. The next segment is filled
/// while appends to the active one wait on their fdatasyncs, and one
/// fdatasync of a whole segment delays those by tens of milliseconds. One
/// MiB per step keeps each delay short.
const ZERO_FILL_CHUNK: usize = 1 << 20;

/// The spacing of a zero-fill's steps: called after each step, it returns
/// the pause before the next one, or `None` to go on at once.
pub type Pace<'a> = &'a dyn Fn() -> Option<Duration>;

/// Returns no pause: the [`Pace`] for a segment that an append waits for.
pub fn no_pause() -> Option<Duration> {
    None
}

/// The preparation of a new segment's blocks.
#[derive(Clone, Copy)]
pub enum Fill<'a> {
    /// Preallocate and write zeros over every byte, for segments that take
    /// many appends, with the pauses between steps that the pace returns.
    Zeros(Pace<'a>),
    /// Preallocate only, for a segment made to the size of one oversized
    /// record, which is written and synced once.
    Preallocate,
}

/// Creates segment `id` with `size` bytes preallocated, filled as `fill`
/// sets, and makes its directory entry durable. With `direct_io`, a
/// zero-filled segment whose size is a whole number of blocks also gets its
/// [`ActiveSegment::direct`] descriptor. A segment whose creation fails is
/// removed again, so recovery never meets a half-filled one.
pub async fn create_segment(
    spool_dir: &Path,
    id: SegmentId,
    size: u64,
    fill: Fill<'_>,
    direct_io: bool,
) -> io::Result<ActiveSegment> {
    let path = segment_path(spool_dir, id);
    let file = File::create_new(&path).await.map_err(|error| {
        io::Error::new(
            error.kind(),
            format!("cannot create spool segment {}: {error}", path.display()),
        )
    })?;
    let direct = match prepare_blocks(&file, size, fill).await {
        Ok(()) => open_direct_if_able(&path, size, fill, direct_io).await,
        Err(error) => Err(io::Error::new(
            error.kind(),
            format!(
                "cannot prepare {size} bytes for spool segment {}: {error}",
                path.display()
            ),
        )),
    };
    let direct = match direct {
        Ok(direct) => direct,
        Err(error) => {
            let _ = file.close().await;
            let _ = fs::remove_file(&path).await;
            return Err(error);
        }
    };
    fs::sync_dir(&worker_dir(spool_dir, id.worker)).await?;
    Ok(ActiveSegment {
        id,
        file,
        direct,
        size,
        tail: Cell::new(0),
        failed: Cell::new(false),
    })
}

/// Opens the zero-filled segment at `path` with O_DIRECT and O_DSYNC when
/// `direct_io` is on and `size` is a whole number of blocks. Returns `None`
/// when it is not, or when the file system refuses O_DIRECT at the open or at
/// a first aligned write, so appends fall back to buffered writes and
/// fdatasync.
async fn open_direct_if_able(
    path: &Path,
    size: u64,
    fill: Fill<'_>,
    direct_io: bool,
) -> io::Result<Option<File>> {
    let whole_blocks = size.is_multiple_of(DIRECT_IO_ALIGN as u64);
    if !direct_io || !whole_blocks || !matches!(fill, Fill::Zeros(_)) {
        return Ok(None);
    }

    let unsupported = |error: &io::Error| error.raw_os_error() == Some(libc::EINVAL);
    let failed = |error: io::Error| {
        io::Error::new(
            error.kind(),
            format!(
                "cannot open spool segment {} for direct writes: {error}",
                path.display()
            ),
        )
    };
    let file = match File::open_direct_sync(path).await {
        Ok(file) => file,
        Err(error) if unsupported(&error) => {
            tracing::debug!(segment = %path.display(), %error, "O_DIRECT not supported by the file system; spool appends use fdatasync");
            return Ok(None);
        }
        Err(error) => return Err(failed(error)),
    };

    // Some file systems open with O_DIRECT but reject aligned writes (a
    // block size above DIRECT_IO_ALIGN, some FUSE mounts). Rewriting the
    // first block's zeros finds out before any append depends on it.
    let (probe, _) = file
        .write_all_direct_at(AlignedBuf::padded_copy(&[]), 0)
        .await;
    match probe {
        Ok(()) => Ok(Some(file)),
        Err(error) if unsupported(&error) => {
            tracing::debug!(segment = %path.display(), %error, "aligned O_DIRECT write failed; spool appends use fdatasync");
            let _ = file.close().await;
            Ok(None)
        }
        Err(error) => {
            let _ = file.close().await;
            Err(failed(error))
        }
    }
}

/// Preallocates `size` bytes of `file` and, for [`Fill::Zeros`], writes
/// zeros over them, one fdatasync per [`ZERO_FILL_CHUNK`].
async fn prepare_blocks(file: &File, size: u64, fill: Fill<'_>) -> io::Result<()> {
    file.allocate(size).await?;
    let Fill::Zeros(pace) = fill else {
        return Ok(());
    };
    let mut zeros = vec![0u8; ZERO_FILL_CHUNK.min(size as usize)];
    let mut offset = 0u64;
    while offset < size {
        let len = (size - offset).min(ZERO_FILL_CHUNK as u64) as usize;
        zeros.truncate(len);
        let (written, returned) = file.write_all_at(zeros, offset).await;
        written?;
        file.sync_data().await?;
        zeros = returned;
        offset += len as u64;
        if offset < size {
            if let Some(pause) = pace() {
                runtime::sleep(pause).await;
            }
        }
    }
    Ok(())
}

/// Deletes a segment and its done file, and makes the removal durable.
pub async fn delete_segment(spool_dir: &Path, id: SegmentId) -> io::Result<()> {
    for path in [segment_path(spool_dir, id), done_path(spool_dir, id)] {
        match fs::remove_file(&path).await {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(io::Error::new(
                    error.kind(),
                    format!("cannot delete spool file {}: {error}", path.display()),
                ))
            }
        }
    }
    fs::sync_dir(&worker_dir(spool_dir, id.worker)).await
}

/// A segment's done file, open for appending marks.
pub struct DoneFile {
    file: File,
    tail: Cell<u64>,
}

impl DoneFile {
    /// Opens or creates the done file of segment `id`. Appends start after the
    /// last valid mark, so a torn mark from a crash is overwritten.
    pub async fn open(spool_dir: &Path, id: SegmentId) -> io::Result<DoneFile> {
        let path = done_path(spool_dir, id);
        let (existed, valid_len) = match std::fs::read(&path) {
            Ok(bytes) => (true, valid_prefix_len(&bytes)),
            Err(error) if error.kind() == io::ErrorKind::NotFound => (false, 0),
            Err(error) => return Err(error),
        };
        let file = File::open_or_create(&path).await?;
        if !existed {
            fs::sync_dir(&worker_dir(spool_dir, id.worker)).await?;
        }
        Ok(DoneFile {
            file,
            tail: Cell::new(valid_len as u64),
        })
    }

    /// Writes `bytes` (whole encoded marks) at the tail and fdatasyncs them.
    pub async fn append_and_sync(&self, bytes: Vec<u8>) -> io::Result<()> {
        let offset = self.tail.get();
        self.tail.set(offset + bytes.len() as u64);
        let (written, _) = self.file.write_all_at(bytes, offset).await;
        written?;
        self.file.sync_data().await
    }
}

/// Returns the length of the run of valid records at the start of `bytes`.
pub fn valid_prefix_len(bytes: &[u8]) -> usize {
    let mut pos = 0;
    while let record::Decoded::Record { len, .. } = record::decode(&bytes[pos..]) {
        pos += len;
    }
    pos
}
