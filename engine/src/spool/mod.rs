//! The spool: each worker's append-only log of accepted messages that are not
//! yet delivered, with group commit, recovery, recycling and a queue runner.
//!
//! Main types: [`Spool`] (one per worker, `Rc`, not `Send`), [`RecordId`] and
//! [`QueuedMessage`]. Submodules: [`record`] (the byte format),
//! [`recovery`] (the scan at start), the queue runner ([`run_queue`]) and the
//! segment file operations.
//!
//! Layout: `<data>/spool/w<worker>/<seq:016x>.seg` contains message records.
//! Beside it, `<seq:016x>.done` contains the done marks of that segment's
//! messages, one per finished recipient. Done marks live in a file per
//! segment, not in the tail of the log. Deleting a finished segment so
//! deletes its marks with it, and no mark points into another segment.
//! Segments can therefore be recycled in any order, and a directory left by
//! a worker that no longer exists is adopted as it is, without copying.
//!
//! Segments are zero-filled when created (see [`segment`]), and the one that
//! follows the active segment is prepared in the background once the active
//! one is half full, so a roll rarely waits for the zero-fill.
//!
//! Contract: [`Spool::append`] returns `Ok` only once the record is durable,
//! which is the condition for a 250 reply. An append only reserves its bytes
//! in the active segment and hands the encoded record to the batch. The
//! writer task takes the batch and writes its records with one write per run
//! of adjacent records, with up to [`BATCH_WRITES_IN_FLIGHT_MAX`] batches in
//! flight. N concurrent appends so cost about one write per batch, not N.
//! A record becomes durable in one of two ways:
//!
//! - Direct: the segment has an O_DIRECT and O_DSYNC descriptor (see
//!   [`segment`]). Each batch starts on a block boundary and is written in
//!   whole blocks, padded with zeros, so batches in flight never share a
//!   block. The write's completion makes the batch durable and releases its
//!   appends. Batches in flight overlap their device flushes.
//! - Buffered: otherwise. The syncer task takes every append whose write has
//!   completed, fdatasyncs each segment written and releases those appends,
//!   while the writer writes the next batch.
//!
//! Each write and sync goes through the worker's io_uring. A buffered write
//! or an fdatasync may run on an io-wq thread, so fewer operations mean
//! fewer handoffs to those threads. A direct write goes to the device from
//! the worker itself.

mod listing;
pub mod record;
pub mod recovery;
mod runner;
mod segment;

#[cfg(test)]
mod tests;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, Notify};

use crate::config::SpoolConfig;
use crate::envelope::Envelope;
use crate::runtime;
use crate::runtime::fs::{AlignedBuf, File, DIRECT_IO_ALIGN};
use segment::{no_pause, ActiveSegment, DoneFile, Fill};

pub use listing::{format_queue, list_queue};
pub use recovery::{recover, Recovered, RecoveryStats, WorkerRecovery};
pub use runner::run_queue;

/// Identity of one segment file: the worker directory it sits in and its
/// sequence number there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SegmentId {
    pub worker: u32,
    pub seq: u64,
}

/// Identity of one message record: its segment and byte offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId {
    pub segment: SegmentId,
    pub offset: u64,
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "w{}/{:016x}@{}",
            self.segment.worker, self.segment.seq, self.offset
        )
    }
}

/// Returns the directory of worker `worker` under `spool_dir`.
pub fn worker_dir(spool_dir: &Path, worker: u32) -> PathBuf {
    spool_dir.join(format!("w{worker}"))
}

/// Returns the path of a segment's message log.
pub fn segment_path(spool_dir: &Path, id: SegmentId) -> PathBuf {
    worker_dir(spool_dir, id.worker).join(format!("{:016x}.seg", id.seq))
}

/// Returns the path of a segment's done marks.
pub fn done_path(spool_dir: &Path, id: SegmentId) -> PathBuf {
    worker_dir(spool_dir, id.worker).join(format!("{:016x}.done", id.seq))
}

/// One message in the queue: its envelope, where its bytes are, and the
/// delivery state of each recipient.
#[derive(Debug, Clone)]
pub struct QueuedMessage {
    pub id: RecordId,
    pub envelope: Envelope,
    /// Offset of the message bytes in the segment file.
    pub message_offset: u64,
    /// Length of the message bytes.
    pub message_len: u64,
    /// Per recipient, in envelope order: whether it is done.
    pub done: Vec<bool>,
    /// Delivery attempts made since this process started.
    pub attempts: u32,
    /// When the queue runner tries next.
    pub next_attempt: Instant,
    /// Whether "remote delivery not available yet" was logged for it.
    pub remote_logged: bool,
    /// Whether "bounce due" was logged for it.
    pub bounce_logged: bool,
}

impl QueuedMessage {
    /// Returns whether every recipient is done.
    pub fn is_done(&self) -> bool {
        self.done.iter().all(|done| *done)
    }
}

/// Counters that show how appends were batched into syncs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpoolCounters {
    /// Records appended and acknowledged.
    pub appends: u64,
    /// fdatasync rounds issued by the syncer.
    pub syncs: u64,
    /// Segment writes issued by the writer, one per run of adjacent records
    /// in a batch.
    pub writes: u64,
    /// The part of `writes` made through a segment's O_DIRECT descriptor,
    /// durable without an fdatasync.
    pub direct_writes: u64,
    /// Segments deleted because every message in them was done.
    pub segments_recycled: u64,
}

/// Capacity of a new run buffer. A batch's records are copied into one
/// buffer per run, and a buffer that starts this large does not reallocate
/// for a typical batch (a few dozen messages of a few KiB).
const RUN_BUFFER_LEN: usize = 256 << 10;

/// Run buffers larger than this are freed after their write instead of
/// kept for the next batch, so one huge message does not pin its memory.
const RUN_BUFFER_KEEP_MAX: usize = 4 << 20;

/// Run buffers kept for reuse per spool: enough for the runs of a batch or
/// two, so steady load allocates none.
const SPARE_RUN_BUFFERS_MAX: usize = 4;

/// Batch writes in flight at once per spool. A direct batch is durable when
/// its write completes, which takes a device flush, so with more than one
/// in flight a slow flush does not hold back the next batch. On the 2-core
/// test machine, limits of 1, 2, 4 and 8 gave the same accept rate within
/// the spread between runs (docs/BENCHMARKS.md).
const BATCH_WRITES_IN_FLIGHT_MAX: usize = 4;

/// The share of the active segment in use after which the next segment is
/// created, zero-filled, in the background, so that the roll does not wait
/// for it.
const PREPARE_NEXT_AT_PERCENT: u64 = 50;

/// The share of the active segment in use after which the background
/// preparation stops pausing between zero-fill steps.
const PREPARE_HURRY_AT_PERCENT: u64 = 80;

/// The pause between zero-fill steps of a background preparation, so that
/// 64 steps of 1 MiB for a default segment spread over about half a second.
/// A roll that comes sooner waits for the rest of the fill, which runs
/// without pauses once the active segment is [`PREPARE_HURRY_AT_PERCENT`]
/// full.
const ZERO_FILL_PAUSE: Duration = Duration::from_millis(8);

/// The segment that appends go to once the active one is full.
enum NextSegment {
    /// Not started: the active segment is less than half full, or the last
    /// preparation failed and the roll creates the segment itself.
    None,
    /// A background task is creating it, and the roll waits on the
    /// [`Notify`].
    Preparing(Rc<Notify>),
    /// Created, zero-filled and synced, waiting for the roll.
    Ready(Rc<ActiveSegment>),
    /// The background preparation failed. The roll creates the segment
    /// itself, and the next preparation starts after that roll.
    Failed,
}

/// The outcome of one batch, sent to every append in it once its records are
/// durable (a direct write or an fdatasync completed) or failed.
type SyncResult = Result<(), (io::ErrorKind, String)>;

/// Encoded records that follow each other in one segment, not yet written.
struct PendingWrite {
    segment: Rc<ActiveSegment>,
    /// Offset of the first record in the segment.
    offset: u64,
    /// Whole records, back to back.
    bytes: Vec<u8>,
}

/// The records reserved since the writer last took the batch, and the
/// appends waiting for their write and sync.
#[derive(Default)]
struct Batch {
    waiters: Vec<oneshot::Sender<SyncResult>>,
    writes: Vec<PendingWrite>,
}

impl Batch {
    /// Encodes `record`, reserved at `offset` in `segment`, at the end of
    /// the run it continues, or starts a new run in a buffer from `spare`.
    fn push_record(
        &mut self,
        segment: &Rc<ActiveSegment>,
        offset: u64,
        record: &record::MessageRecord<'_>,
        spare: &mut Vec<Vec<u8>>,
    ) {
        if let Some(last) = self.writes.last_mut() {
            let end = last.offset + last.bytes.len() as u64;
            if Rc::ptr_eq(&last.segment, segment) && end == offset {
                record.append_to(&mut last.bytes);
                return;
            }
        }
        let mut bytes = spare
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(RUN_BUFFER_LEN));
        record.append_to(&mut bytes);
        self.writes.push(PendingWrite {
            segment: segment.clone(),
            offset,
            bytes,
        });
    }
}

/// Appends whose records are written but not yet covered by an fdatasync,
/// and the segments they were written to.
#[derive(Default)]
struct Unsynced {
    waiters: Vec<oneshot::Sender<SyncResult>>,
    segments: Vec<Rc<ActiveSegment>>,
}

thread_local! {
    /// The spool of the worker running on this thread.
    static CURRENT: RefCell<Option<Rc<Spool>>> = const { RefCell::new(None) };
}

/// Makes `spool` the spool of the worker running on this thread.
pub fn set_current(spool: Rc<Spool>) {
    CURRENT.with(|current| *current.borrow_mut() = Some(spool));
}

/// Returns the spool of the worker running on this thread, if it opened one.
pub fn current() -> Option<Rc<Spool>> {
    CURRENT.with(|current| current.borrow().clone())
}

/// One worker's spool.
pub struct Spool {
    spool_dir: PathBuf,
    worker: u32,
    config: SpoolConfig,
    /// The segment that appends go to.
    active: RefCell<Rc<ActiveSegment>>,
    /// Serializes segment rolls, so concurrent appends that find the active
    /// segment full create one new segment, not several.
    roll_lock: tokio::sync::Mutex<()>,
    /// Sequence number for the next segment created.
    next_seq: Cell<u64>,
    /// The segment prepared to follow the active one.
    next: RefCell<NextSegment>,
    batch: RefCell<Batch>,
    /// Emptied run buffers whose write completed, reused for new runs.
    spare_runs: RefCell<Vec<Vec<u8>>>,
    /// Wakes the writer when a record joins the batch or a batch write ends.
    write_wake: Rc<Notify>,
    /// Batch writes started and not yet finished.
    writes_in_flight: Cell<usize>,
    /// Every direct write's segment and padded byte range, for tests.
    #[cfg(test)]
    direct_ranges: RefCell<Vec<(SegmentId, std::ops::Range<u64>)>>,
    unsynced: RefCell<Unsynced>,
    /// Wakes the syncer when a write completes.
    sync_wake: Rc<Notify>,
    counters: Cell<SpoolCounters>,
    /// Undelivered messages, including those adopted at recovery.
    queue: RefCell<BTreeMap<RecordId, QueuedMessage>>,
    /// Every queued message by its next attempt, so the runner finds the due
    /// ones without scanning a queue that may hold many deferred messages.
    schedule: RefCell<BTreeSet<(Instant, RecordId)>>,
    /// Messages not yet done, per segment; a segment at 0 that is not the
    /// active one is deleted by [`Spool::recycle`].
    live: RefCell<BTreeMap<SegmentId, usize>>,
    /// Open done files, by segment.
    done_files: RefCell<HashMap<SegmentId, Rc<DoneFile>>>,
    /// Wakes the queue runner when a message is added.
    runner_wake: Notify,
    /// Whether this worker logged, at info level, that remote delivery is
    /// not available.
    remote_notice_logged: Cell<bool>,
}

impl Spool {
    /// Opens worker `worker`'s spool under `spool_dir`: creates its directory,
    /// starts a new segment after the recovered ones, loads the recovered
    /// queue and starts the writer and syncer tasks. Call it on the worker's
    /// runtime.
    pub async fn open(
        spool_dir: &Path,
        worker: u32,
        config: &SpoolConfig,
        recovered: WorkerRecovery,
    ) -> io::Result<Rc<Spool>> {
        segment::create_dirs(spool_dir, worker)?;
        let first = SegmentId {
            worker,
            seq: recovered.next_seq,
        };
        let active = segment::create_segment(
            spool_dir,
            first,
            config.segment_size,
            Fill::Zeros(&no_pause),
            config.direct_io,
        )
        .await?;

        let mut live = BTreeMap::new();
        for (segment, count) in recovered.segments {
            live.insert(segment, count);
        }
        live.insert(first, 0);
        let queue: BTreeMap<RecordId, QueuedMessage> = recovered
            .queued
            .into_iter()
            .map(|message| (message.id, message))
            .collect();
        let schedule = queue
            .values()
            .map(|message| (message.next_attempt, message.id))
            .collect();

        let write_wake = Rc::new(Notify::new());
        let sync_wake = Rc::new(Notify::new());
        let spool = Rc::new(Spool {
            spool_dir: spool_dir.to_path_buf(),
            worker,
            config: config.clone(),
            active: RefCell::new(Rc::new(active)),
            roll_lock: tokio::sync::Mutex::new(()),
            next_seq: Cell::new(first.seq + 1),
            next: RefCell::new(NextSegment::None),
            batch: RefCell::new(Batch::default()),
            spare_runs: RefCell::new(Vec::new()),
            write_wake: write_wake.clone(),
            writes_in_flight: Cell::new(0),
            #[cfg(test)]
            direct_ranges: RefCell::new(Vec::new()),
            unsynced: RefCell::new(Unsynced::default()),
            sync_wake: sync_wake.clone(),
            counters: Cell::new(SpoolCounters::default()),
            queue: RefCell::new(queue),
            schedule: RefCell::new(schedule),
            live: RefCell::new(live),
            done_files: RefCell::new(HashMap::new()),
            runner_wake: Notify::new(),
            remote_notice_logged: Cell::new(false),
        });
        runtime::spawn(run_writer(Rc::downgrade(&spool), write_wake));
        runtime::spawn(run_syncer(Rc::downgrade(&spool), sync_wake));
        Ok(spool)
    }

    /// Returns the worker index this spool belongs to.
    pub fn worker(&self) -> u32 {
        self.worker
    }

    /// Returns the spool configuration.
    pub fn config(&self) -> &SpoolConfig {
        &self.config
    }

    /// Returns the append, sync and recycle counters.
    pub fn counters(&self) -> SpoolCounters {
        self.counters.get()
    }

    /// Returns the number of messages in the queue.
    pub fn queue_len(&self) -> usize {
        self.queue.borrow().len()
    }

    /// Appends a message record, waits until the writer has written it and
    /// it is durable (a direct write, or an fdatasync after the write), adds
    /// it to the queue and returns its id.
    ///
    /// An error means the message is not durable and must not be
    /// acknowledged. The reserved bytes then stay zero or partly written, and
    /// recovery skips them.
    pub async fn append(
        self: &Rc<Self>,
        envelope: &Envelope,
        message: &[u8],
    ) -> io::Result<RecordId> {
        let record = record::MessageRecord::new(envelope, message)
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
        let len = record.encoded_len() as u64;
        let (segment, offset) = self.reserve(len).await?;

        let (sender, receiver) = oneshot::channel();
        {
            let mut batch = self.batch.borrow_mut();
            batch.push_record(&segment, offset, &record, &mut self.spare_runs.borrow_mut());
            batch.waiters.push(sender);
        }
        self.write_wake.notify_one();
        let synced = match receiver.await {
            Ok(synced) => synced.map_err(|(kind, text)| io::Error::new(kind, text)),
            Err(_) => Err(io::Error::other(
                "spool writer or syncer stopped before the sync",
            )),
        };
        if let Err(error) = synced {
            self.release(segment.id);
            return Err(error);
        }

        let id = RecordId {
            segment: segment.id,
            offset,
        };
        self.add_to_queue(id, envelope, offset, len, message.len() as u64);
        let mut counters = self.counters.get();
        counters.appends += 1;
        self.counters.set(counters);
        Ok(id)
    }

    /// Reserves `len` bytes at the tail of the active segment, rolling to a
    /// new segment when they do not fit. Returns the segment and the offset.
    async fn reserve(self: &Rc<Self>, len: u64) -> io::Result<(Rc<ActiveSegment>, u64)> {
        if let Some(reserved) = self.try_reserve(len) {
            self.prepare_next_if_due(&reserved.0);
            return Ok(reserved);
        }
        let _roll = self.roll_lock.lock().await;
        // Another append may have rolled while this one waited for the lock.
        if let Some(reserved) = self.try_reserve(len) {
            return Ok(reserved);
        }

        let segment = if len > self.config.segment_size {
            // A record larger than a segment gets a segment of exactly its
            // size. The prepared segment, if any, stays for the next roll.
            let id = self.take_seq();
            let fill = Fill::Preallocate;
            let direct_io = self.config.direct_io;
            Rc::new(segment::create_segment(&self.spool_dir, id, len, fill, direct_io).await?)
        } else {
            self.take_next_segment().await?
        };
        self.live.borrow_mut().entry(segment.id).or_insert(0);
        tracing::debug!(
            worker = self.worker,
            seq = segment.id.seq,
            size = segment.size,
            "spool segment started"
        );
        *self.active.borrow_mut() = segment;
        self.try_reserve(len)
            .ok_or_else(|| io::Error::other("new spool segment has no room for the record"))
    }

    /// Returns the sequence number for a new segment and counts it used.
    fn take_seq(&self) -> SegmentId {
        let seq = self.next_seq.get();
        self.next_seq.set(seq + 1);
        SegmentId {
            worker: self.worker,
            seq,
        }
    }

    /// Returns the prepared next segment, waiting while it is being
    /// prepared, or creates one when there is none.
    async fn take_next_segment(&self) -> io::Result<Rc<ActiveSegment>> {
        loop {
            let state = std::mem::replace(&mut *self.next.borrow_mut(), NextSegment::None);
            match state {
                NextSegment::Ready(segment) => return Ok(segment),
                NextSegment::Preparing(done) => {
                    *self.next.borrow_mut() = NextSegment::Preparing(done.clone());
                    // The preparer stores a permit when no roll waits yet,
                    // and a stale permit only makes this loop look again.
                    done.notified().await;
                }
                NextSegment::None | NextSegment::Failed => {
                    let id = self.take_seq();
                    let size = self.config.segment_size;
                    let fill = Fill::Zeros(&no_pause);
                    let direct_io = self.config.direct_io;
                    return Ok(Rc::new(
                        segment::create_segment(&self.spool_dir, id, size, fill, direct_io).await?,
                    ));
                }
            }
        }
    }

    /// Starts preparing the next segment in the background once `active`
    /// is past [`PREPARE_NEXT_AT_PERCENT`] of its size, unless one is
    /// prepared or being prepared.
    fn prepare_next_if_due(self: &Rc<Self>, active: &ActiveSegment) {
        if active.tail.get() * 100 < active.size * PREPARE_NEXT_AT_PERCENT {
            return;
        }
        let mut next = self.next.borrow_mut();
        if !matches!(*next, NextSegment::None) {
            return;
        }
        let done = Rc::new(Notify::new());
        *next = NextSegment::Preparing(done.clone());
        drop(next);
        let id = self.take_seq();
        runtime::spawn(prepare_segment(Rc::downgrade(self), id, done));
    }

    /// Reserves `len` bytes in the active segment if they fit. The reserved
    /// record counts as live from here on, so the segment cannot be recycled
    /// while the append is still writing or waiting for its sync.
    fn try_reserve(&self, len: u64) -> Option<(Rc<ActiveSegment>, u64)> {
        let active = self.active.borrow();
        let offset = active.tail.get();
        if offset + len > active.size {
            return None;
        }
        active.tail.set(offset + len);
        *self.live.borrow_mut().entry(active.id).or_insert(0) += 1;
        Some((active.clone(), offset))
    }

    /// Takes the records reserved since the last call, for the writer.
    fn take_batch(self: &Rc<Self>) -> Batch {
        let batch = std::mem::take(&mut *self.batch.borrow_mut());
        // The next batch starts on a block boundary, so no two direct writes
        // in flight share a block. The bytes skipped stay zero, which
        // recovery reads as padding.
        let active = self.active.borrow().clone();
        if active.direct.is_some() && !batch.waiters.is_empty() {
            let tail = active.tail.get().next_multiple_of(DIRECT_IO_ALIGN as u64);
            active.tail.set(tail.min(active.size));
            self.prepare_next_if_due(&active);
        }
        batch
    }

    /// Drops the live count of a record that was reserved in `segment` but
    /// not acknowledged, or whose recipients are all done.
    fn release(&self, segment: SegmentId) {
        if let Some(count) = self.live.borrow_mut().get_mut(&segment) {
            *count = count.saturating_sub(1);
        }
    }

    fn add_to_queue(
        &self,
        id: RecordId,
        envelope: &Envelope,
        offset: u64,
        len: u64,
        message_len: u64,
    ) {
        let message_offset = offset + len - record::TRAILER_LEN as u64 - message_len;
        let queued = QueuedMessage {
            id,
            envelope: envelope.clone(),
            message_offset,
            message_len,
            done: vec![false; envelope.recipients.len()],
            attempts: 0,
            next_attempt: Instant::now(),
            remote_logged: false,
            bounce_logged: false,
        };
        self.schedule.borrow_mut().insert((queued.next_attempt, id));
        self.queue.borrow_mut().insert(id, queued);
        self.runner_wake.notify_one();
    }

    /// Counts a delivery attempt made outside the queue runner (the session's
    /// in-line Maildir delivery) and schedules the next one after the first
    /// retry delay instead of at once.
    pub fn count_failed_attempt(&self, id: RecordId) {
        if let Some(message) = self.queue.borrow_mut().get_mut(&id) {
            message.attempts += 1;
            let next = Instant::now() + self.retry_delay(message.attempts);
            self.reschedule(message, next);
        }
    }

    /// Writes a done mark for each of `recipients` of message `id` into its
    /// segment's done file and fdatasyncs it.
    pub async fn mark_done(&self, id: RecordId, recipients: &[u32]) -> io::Result<()> {
        let done_file = self.done_file(id.segment).await?;
        let mut bytes = Vec::with_capacity(recipients.len() * record::record_len(12));
        for recipient in recipients {
            bytes.extend_from_slice(&record::encode_done(record::DoneMark {
                offset: id.offset,
                recipient: *recipient,
            }));
        }
        done_file.append_and_sync(bytes).await
    }

    async fn done_file(&self, segment: SegmentId) -> io::Result<Rc<DoneFile>> {
        if let Some(file) = self.done_files.borrow().get(&segment) {
            return Ok(file.clone());
        }
        let file = Rc::new(DoneFile::open(&self.spool_dir, segment).await?);
        self.done_files.borrow_mut().insert(segment, file.clone());
        Ok(file)
    }

    /// Removes message `id` from the queue after all its recipients are done.
    fn finish(&self, id: RecordId) {
        let removed = self.queue.borrow_mut().remove(&id);
        if let Some(message) = removed {
            self.schedule
                .borrow_mut()
                .remove(&(message.next_attempt, id));
            self.release(id.segment);
        }
    }

    /// Moves `message`'s next attempt to `next`, in the message and in the
    /// schedule.
    pub(super) fn reschedule(&self, message: &mut QueuedMessage, next: Instant) {
        let mut schedule = self.schedule.borrow_mut();
        schedule.remove(&(message.next_attempt, message.id));
        message.next_attempt = next;
        schedule.insert((next, message.id));
    }

    /// Deletes every segment, other than the active one, whose messages are
    /// all done, with its done file. Returns how many were deleted.
    pub async fn recycle(&self) -> io::Result<usize> {
        let active = self.active.borrow().id;
        let finished: Vec<SegmentId> = self
            .live
            .borrow()
            .iter()
            .filter(|(segment, count)| **count == 0 && **segment != active)
            .map(|(segment, _)| *segment)
            .collect();

        for segment in &finished {
            self.done_files.borrow_mut().remove(segment);
            segment::delete_segment(&self.spool_dir, *segment).await?;
            self.live.borrow_mut().remove(segment);
            tracing::info!(
                worker = self.worker,
                segment_worker = segment.worker,
                seq = segment.seq,
                "spool segment recycled"
            );
            let mut counters = self.counters.get();
            counters.segments_recycled += 1;
            self.counters.set(counters);
        }
        Ok(finished.len())
    }

    /// Keeps an emptied run buffer for a later batch, unless enough are kept
    /// or it grew too large to hold on to.
    fn keep_run_buffer(&self, mut bytes: Vec<u8>) {
        let mut spare = self.spare_runs.borrow_mut();
        if spare.len() < SPARE_RUN_BUFFERS_MAX && bytes.capacity() <= RUN_BUFFER_KEEP_MAX {
            bytes.clear();
            spare.push(bytes);
        }
    }

    /// Returns the ids of queued messages due at `now`.
    fn due(&self, now: Instant) -> Vec<RecordId> {
        self.schedule
            .borrow()
            .iter()
            .take_while(|(next, _)| *next <= now)
            .map(|(_, id)| *id)
            .collect()
    }

    /// Returns the earliest next attempt in the queue.
    fn next_attempt(&self) -> Option<Instant> {
        self.schedule.borrow().first().map(|(next, _)| *next)
    }

    /// Returns a copy of every queued message, for listing.
    pub fn queued(&self) -> Vec<QueuedMessage> {
        self.queue.borrow().values().cloned().collect()
    }

    /// Returns the delay before retry number `attempts` (1 for the first
    /// retry): `retry_min_secs` doubled per attempt, capped at `retry_max_secs`.
    pub fn retry_delay(&self, attempts: u32) -> Duration {
        retry_delay(&self.config, attempts)
    }
}

/// Returns the delay before retry number `attempts` under `config`.
pub fn retry_delay(config: &SpoolConfig, attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(32);
    let secs = config
        .retry_min_secs
        .saturating_mul(1u64 << doublings)
        .min(config.retry_max_secs);
    Duration::from_secs(secs)
}

/// Creates segment `id` zero-filled for `spool` and makes it the prepared
/// next segment, then wakes a roll that waits for it. On failure the roll
/// creates the segment itself and reports the error to its append.
async fn prepare_segment(spool: Weak<Spool>, id: SegmentId, done: Rc<Notify>) {
    let Some(spool) = spool.upgrade() else {
        return;
    };
    let size = spool.config.segment_size;
    // Pause between zero-fill steps while the active segment has room, so
    // the fill's writes and syncs stay out of the way of the appends'. Go
    // on at full speed once the roll draws near.
    let active = spool.active.borrow().clone();
    let pace = || {
        let used_percent = active.tail.get() * 100 / active.size.max(1);
        (used_percent < PREPARE_HURRY_AT_PERCENT).then_some(ZERO_FILL_PAUSE)
    };
    let fill = Fill::Zeros(&pace);
    let direct_io = spool.config.direct_io;
    let state = match segment::create_segment(&spool.spool_dir, id, size, fill, direct_io).await {
        Ok(segment) => {
            tracing::debug!(
                worker = spool.worker,
                seq = id.seq,
                size,
                "spool segment prepared"
            );
            NextSegment::Ready(Rc::new(segment))
        }
        Err(error) => {
            tracing::warn!(worker = spool.worker, seq = id.seq, %error, "cannot prepare the next spool segment; the roll will try again");
            NextSegment::Failed
        }
    };
    *spool.next.borrow_mut() = state;
    done.notify_one();
}

/// Runs the writer of one spool: waits for appends and starts a batch write
/// for the records reserved since the last one, while fewer than
/// [`BATCH_WRITES_IN_FLIGHT_MAX`] are in flight. Ends when the spool is
/// dropped.
async fn run_writer(spool: Weak<Spool>, wake: Rc<Notify>) {
    loop {
        wake.notified().await;
        let Some(spool) = spool.upgrade() else {
            return;
        };
        // A finishing batch write wakes this loop again, so records left in
        // the batch here are taken then.
        while spool.writes_in_flight.get() < BATCH_WRITES_IN_FLIGHT_MAX {
            let batch = spool.take_batch();
            if batch.waiters.is_empty() {
                break;
            }
            let in_flight = InFlight::start(&spool);
            runtime::spawn(write_batch(spool.clone(), batch, in_flight));
        }
    }
}

/// Counts one batch write in flight for as long as it lives, so the count
/// drops even if the write's task ends early.
struct InFlight(Rc<Spool>);

impl InFlight {
    fn start(spool: &Rc<Spool>) -> InFlight {
        spool.writes_in_flight.set(spool.writes_in_flight.get() + 1);
        InFlight(spool.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let spool = &self.0;
        spool.writes_in_flight.set(spool.writes_in_flight.get() - 1);
        // The writer may have left records in the batch while all slots
        // were taken.
        spool.write_wake.notify_one();
    }
}

/// Writes one batch. Appends whose runs all went through direct
/// descriptors are released at once; the others go to the syncer.
async fn write_batch(spool: Rc<Spool>, batch: Batch, _in_flight: InFlight) {
    let mut counters = spool.counters.get();
    counters.writes += batch.writes.len() as u64;
    spool.counters.set(counters);

    match write_runs(&spool, batch.writes).await {
        Ok(needs_sync) if needs_sync.is_empty() => {
            for waiter in batch.waiters {
                // A dropped receiver is an append whose session went away.
                let _ = waiter.send(Ok(()));
            }
        }
        Ok(needs_sync) => {
            let mut unsynced = spool.unsynced.borrow_mut();
            unsynced.waiters.extend(batch.waiters);
            for segment in needs_sync {
                if !unsynced
                    .segments
                    .iter()
                    .any(|known| Rc::ptr_eq(known, &segment))
                {
                    unsynced.segments.push(segment);
                }
            }
            drop(unsynced);
            spool.sync_wake.notify_one();
        }
        Err(error) => {
            for waiter in batch.waiters {
                let _ = waiter.send(Err(error.clone()));
            }
        }
    }
}

/// Writes each run of records in `writes` and returns the segments written
/// through their buffered descriptor, which still need an fdatasync. The
/// first failure fails the whole batch, and the segment it hit takes no
/// more appends.
async fn write_runs(
    spool: &Spool,
    writes: Vec<PendingWrite>,
) -> Result<Vec<Rc<ActiveSegment>>, (io::ErrorKind, String)> {
    let mut needs_sync: Vec<Rc<ActiveSegment>> = Vec::with_capacity(1);
    for write in writes {
        let segment = write.segment.clone();
        check_not_failed(&segment)?;
        let result = match &segment.direct {
            Some(direct) => write_direct_run(spool, direct, write).await,
            None => {
                let (result, bytes) = segment.file.write_all_at(write.bytes, write.offset).await;
                spool.keep_run_buffer(bytes);
                if result.is_ok() && !needs_sync.iter().any(|known| Rc::ptr_eq(known, &segment)) {
                    needs_sync.push(segment.clone());
                }
                result
            }
        };
        if let Err(error) = result {
            tracing::error!(worker = spool.worker, seq = segment.id.seq, %error, "spool write failed, abandoning the segment");
            // The records may be half written, so stop appending to this segment.
            abandon(&segment);
            return Err((error.kind(), format!("spool write failed: {error}")));
        }
    }
    Ok(needs_sync)
}

/// Writes one run through its segment's direct descriptor, padded to whole
/// blocks. The run must start on a block boundary: a buffered write there
/// instead could later be written back over a block of another batch.
async fn write_direct_run(spool: &Spool, direct: &File, write: PendingWrite) -> io::Result<()> {
    if !write.offset.is_multiple_of(DIRECT_IO_ALIGN as u64) {
        return Err(io::Error::other(format!(
            "direct spool run at offset {} is not block-aligned",
            write.offset
        )));
    }
    let buf = AlignedBuf::padded_copy(&write.bytes);
    spool.keep_run_buffer(write.bytes);
    #[cfg(test)]
    {
        let range = write.offset..write.offset + buf.as_bytes().len() as u64;
        spool
            .direct_ranges
            .borrow_mut()
            .push((write.segment.id, range));
    }
    let (result, _) = direct.write_all_direct_at(buf, write.offset).await;

    let mut counters = spool.counters.get();
    counters.direct_writes += 1;
    spool.counters.set(counters);
    result
}

/// Runs the syncer of one spool: waits for completed writes, fdatasyncs the
/// segments they went to, and releases their appends. Every append it takes
/// had its write completed before the fdatasync starts, so that fdatasync
/// covers it. Ends when the spool is dropped.
async fn run_syncer(spool: Weak<Spool>, wake: Rc<Notify>) {
    loop {
        wake.notified().await;
        let Some(spool) = spool.upgrade() else {
            return;
        };
        let unsynced = std::mem::take(&mut *spool.unsynced.borrow_mut());
        if unsynced.waiters.is_empty() {
            continue;
        }

        let result = sync_segments(&spool, &unsynced.segments).await;
        let mut counters = spool.counters.get();
        counters.syncs += 1;
        spool.counters.set(counters);

        for waiter in unsynced.waiters {
            // A dropped receiver is an append whose session went away.
            let _ = waiter.send(result.clone());
        }
    }
}

/// fdatasyncs each of `segments`. The first failure fails the whole round,
/// and the segment it hit takes no more appends.
async fn sync_segments(spool: &Spool, segments: &[Rc<ActiveSegment>]) -> SyncResult {
    for segment in segments {
        check_not_failed(segment)?;
        if let Err(error) = segment.file.sync_data().await {
            tracing::error!(worker = spool.worker, seq = segment.id.seq, %error, "spool fdatasync failed, abandoning the segment");
            // After a failed fdatasync the kernel may have dropped the
            // dirty pages and cleared the error, so a later sync of this
            // file proves nothing, and no append may use it again.
            abandon(segment);
            return Err((error.kind(), format!("spool fdatasync failed: {error}")));
        }
    }
    Ok(())
}

/// Returns an error when an earlier write or fdatasync on `segment` failed.
fn check_not_failed(segment: &ActiveSegment) -> SyncResult {
    if segment.failed.get() {
        return Err((
            io::ErrorKind::Other,
            format!(
                "spool segment {:016x} failed an earlier write or fdatasync",
                segment.id.seq
            ),
        ));
    }
    Ok(())
}

/// Marks `segment` failed and full, so no later append reserves room in it.
fn abandon(segment: &ActiveSegment) {
    segment.failed.set(true);
    segment.tail.set(segment.size);
}
