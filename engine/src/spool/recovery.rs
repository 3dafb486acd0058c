//! Recovery at start: [`recover`] scans every segment of every worker
//! directory and returns the messages that are committed but not done, per
//! worker, in a [`Recovered`].
//!
//! It runs before any listener accepts, with plain blocking reads, because
//! nothing else touches the spool then. When the worker count went down since
//! the last run, a directory `w<N>` with N at or above the count is adopted
//! by worker `N % workers`. Its files stay where they are.
//!
//! What counts as committed: a record that decodes with a valid checksum. A
//! record cut short or with a bad checksum at the end of the written part is a
//! torn write from a crash, because no append was acknowledged before its
//! write was durable, so it is discarded and the bytes are logged. A corrupt
//! record followed by valid ones is damage in the middle: it is logged as an
//! error, counted, and skipped by its length when its header is sane, or
//! else by a search for the next valid record.
//!
//! The writer keeps several batches in flight, so a crash can also leave a
//! torn batch before a whole later one. It is counted the same way, and none
//! of its appends was acknowledged. Zero bytes between records are padding,
//! not damage.

use std::collections::HashSet;
use std::io;
use std::path::Path;
use std::time::Instant;

use super::record::{self, Decoded, DoneMark, Record};
use super::{done_path, QueuedMessage, RecordId, SegmentId};

/// Maximum segments scanned in one worker directory. Far above what a
/// working server accumulates (each holds up to `segment_size` bytes), so
/// more means a directory that is not a spool.
pub const SEGMENTS_PER_WORKER_MAX: usize = 1_000_000;

/// The result of recovery: each worker's share and the counts.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Index `w` is what worker `w` takes over.
    pub workers: Vec<WorkerRecovery>,
    pub stats: RecoveryStats,
}

/// The queued messages and segments that one worker takes over.
#[derive(Debug, Default)]
pub struct WorkerRecovery {
    /// Messages with at least one recipient not done.
    pub queued: Vec<QueuedMessage>,
    /// Every segment found, with its count of messages not done; those at 0
    /// are deleted by the first recycle.
    pub segments: Vec<(SegmentId, usize)>,
    /// Sequence number for the worker's next new segment.
    pub next_seq: u64,
}

/// Counts from one recovery, for the start-up log and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryStats {
    pub segments: usize,
    pub messages: usize,
    pub done_marks: usize,
    pub queued: usize,
    /// Non-zero bytes discarded at segment tails (torn writes).
    pub torn_bytes: u64,
    /// Corrupt records skipped in the middle of a segment.
    pub corrupt_records: usize,
    /// Worker directories adopted because their worker no longer exists.
    pub adopted_dirs: usize,
}

/// The result of scanning one segment's bytes.
#[derive(Debug, Default)]
pub struct SegmentScan<'a> {
    /// Valid records with their offsets.
    pub records: Vec<(u64, Record<'a>, usize)>,
    /// Non-zero bytes discarded after the last valid record.
    pub torn_bytes: u64,
    /// Corrupt records skipped between valid ones.
    pub corrupt_records: usize,
}

/// Scans `spool_dir` for `workers` workers. A missing directory is an empty
/// spool.
pub fn recover(spool_dir: &Path, workers: usize) -> io::Result<Recovered> {
    assert!(workers > 0, "recovery needs at least one worker");
    let mut recovered = Recovered {
        workers: (0..workers).map(|_| WorkerRecovery::default()).collect(),
        stats: RecoveryStats::default(),
    };
    let directories = match list_worker_dirs(spool_dir) {
        Ok(directories) => directories,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(recovered),
        Err(error) => return Err(error),
    };

    for (worker, dir) in directories {
        let owner = (worker as usize) % workers;
        if worker as usize >= workers {
            recovered.stats.adopted_dirs += 1;
            tracing::warn!(directory = %dir.display(), owner, "adopting the spool of a worker that no longer exists");
        }
        let segments = list_segments(&dir)?;
        if worker as usize == owner {
            let last = segments.last().copied();
            recovered.workers[owner].next_seq = last.map_or(0, |seq| seq + 1);
        }
        for seq in segments {
            let id = SegmentId { worker, seq };
            recover_segment(
                spool_dir,
                id,
                &mut recovered.workers[owner],
                &mut recovered.stats,
            )?;
        }
    }
    Ok(recovered)
}

/// Returns `(worker, path)` for every `w<N>` directory, sorted by N.
fn list_worker_dirs(spool_dir: &Path) -> io::Result<Vec<(u32, std::path::PathBuf)>> {
    let mut directories = Vec::new();
    for entry in std::fs::read_dir(spool_dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(worker) = name
            .to_str()
            .and_then(|name| name.strip_prefix('w'))
            .and_then(|number| number.parse::<u32>().ok())
        else {
            continue;
        };
        if entry.file_type()?.is_dir() {
            directories.push((worker, entry.path()));
        }
    }
    directories.sort();
    Ok(directories)
}

/// Returns the sequence numbers of the `.seg` files in `dir`, sorted.
fn list_segments(dir: &Path) -> io::Result<Vec<u64>> {
    let mut segments = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let Some(seq) = name
            .to_str()
            .and_then(|name| name.strip_suffix(".seg"))
            .filter(|hex| hex.len() == 16)
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        else {
            continue;
        };
        if segments.len() >= SEGMENTS_PER_WORKER_MAX {
            return Err(io::Error::other(format!(
                "spool directory {} has more than {SEGMENTS_PER_WORKER_MAX} segments",
                dir.display()
            )));
        }
        segments.push(seq);
    }
    segments.sort_unstable();
    Ok(segments)
}

fn recover_segment(
    spool_dir: &Path,
    id: SegmentId,
    worker: &mut WorkerRecovery,
    stats: &mut RecoveryStats,
) -> io::Result<()> {
    let path = super::segment_path(spool_dir, id);
    let bytes = std::fs::read(&path)?;
    let scan = scan_segment(&bytes);
    stats.segments += 1;
    if scan.torn_bytes > 0 {
        tracing::warn!(segment = %path.display(), bytes = scan.torn_bytes, "discarded a torn record at the end of a spool segment");
    }
    if scan.corrupt_records > 0 {
        tracing::error!(segment = %path.display(), records = scan.corrupt_records, "skipped corrupt records in the middle of a spool segment");
    }
    stats.torn_bytes += scan.torn_bytes;
    stats.corrupt_records += scan.corrupt_records;

    let marks = read_done_marks(&done_path(spool_dir, id))?;
    stats.done_marks += marks.len();
    let marks: HashSet<(u64, u32)> = marks
        .into_iter()
        .map(|mark| (mark.offset, mark.recipient))
        .collect();

    let mut live = 0;
    for (offset, record, len) in scan.records {
        let Record::Message { envelope, message } = record else {
            continue;
        };
        stats.messages += 1;
        let done: Vec<bool> = (0..envelope.recipients.len() as u32)
            .map(|index| marks.contains(&(offset, index)))
            .collect();
        if done.iter().all(|done| *done) {
            continue;
        }
        live += 1;
        stats.queued += 1;
        let message_len = message.len() as u64;
        worker.queued.push(QueuedMessage {
            id: RecordId {
                segment: id,
                offset,
            },
            envelope,
            message_offset: offset + (len - record::TRAILER_LEN) as u64 - message_len,
            message_len,
            done,
            attempts: 0,
            next_attempt: Instant::now(),
            remote_logged: false,
            bounce_logged: false,
        });
    }
    worker.segments.push((id, live));
    Ok(())
}

/// Reads the valid done marks of a done file; a missing file has none. A
/// torn mark at the end is a crash during the write, and the message is then
/// delivered again (an allowed duplicate of an in-flight message).
pub fn read_done_marks(path: &Path) -> io::Result<Vec<DoneMark>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let scan = scan_segment(&bytes);
    if scan.torn_bytes > 0 || scan.corrupt_records > 0 {
        tracing::warn!(path = %path.display(), torn_bytes = scan.torn_bytes, corrupt = scan.corrupt_records, "spool done file has damaged marks");
    }
    Ok(scan
        .records
        .into_iter()
        .filter_map(|(_, record, _)| match record {
            Record::Done(mark) => Some(mark),
            Record::Message { .. } => None,
        })
        .collect())
}

/// Scans the records of one segment.
///
/// ```text
/// at each offset:
///   rest is all zero            -> end of the written part
///   zero bytes                  -> padding: move to the next non-zero byte
///   valid record                -> keep it, move past it
///   corrupt or cut short:
///     a valid record follows    -> corrupt middle: count, skip to it
///     none follows              -> torn tail: count its non-zero bytes, stop
/// ```
/// "Follows" means the record right after a sane header's length, or else the
/// next offset where the magic starts a valid record.
pub fn scan_segment(bytes: &[u8]) -> SegmentScan<'_> {
    let mut scan = SegmentScan::default();
    // Everything after the last non-zero byte is preallocated space.
    let written_end = bytes
        .iter()
        .rposition(|byte| *byte != 0)
        .map_or(0, |last| last + 1);
    let mut pos = 0;
    while pos < written_end {
        // Direct appends start each batch on a block boundary, and a failed
        // append leaves its reserved bytes zero: neither is damage. A record
        // never starts with a zero byte (see `record::MAGIC`).
        if bytes[pos] == 0 {
            pos += bytes[pos..written_end]
                .iter()
                .position(|byte| *byte != 0)
                .unwrap_or(written_end - pos);
            continue;
        }
        let rest = &bytes[pos..];
        let skip_len = match record::decode(rest) {
            Decoded::Record { record, len } => {
                scan.records.push((pos as u64, record, len));
                pos += len;
                continue;
            }
            Decoded::NeedMore { len } => len,
            Decoded::Corrupt(corruption) => corruption.skip_len,
        };

        match next_valid_record(bytes, pos, skip_len) {
            Some(next) => {
                scan.corrupt_records += 1;
                pos = next;
            }
            None => {
                scan.torn_bytes = written_end.saturating_sub(pos) as u64;
                break;
            }
        }
    }
    scan
}

/// Finds the offset of the next valid record after a bad one at `pos`.
fn next_valid_record(bytes: &[u8], pos: usize, skip_len: Option<usize>) -> Option<usize> {
    if let Some(len) = skip_len {
        let next = pos + len;
        if next < bytes.len() && matches!(record::decode(&bytes[next..]), Decoded::Record { .. }) {
            return Some(next);
        }
    }
    // NOTE: a message body that contains a whole encoded record could be
    // taken for one here, but only while resynchronizing after damage.
    let finder = memchr::memmem::Finder::new(&record::MAGIC);
    let mut from = pos + 1;
    while let Some(found) = finder.find(&bytes[from.min(bytes.len())..]) {
        let candidate = from + found;
        if matches!(record::decode(&bytes[candidate..]), Decoded::Record { .. }) {
            return Some(candidate);
        }
        from = candidate + 1;
    }
    None
}
