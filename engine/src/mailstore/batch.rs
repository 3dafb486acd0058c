//! Group commit for local delivery: a [`Batcher`] makes the Maildir copies of
//! many messages durable together, so sessions on one worker share the
//! directory fsyncs instead of paying one each.
//!
//! Each worker thread has one batcher (see [`current`] and [`deliver`]), a
//! task on the worker's ring that owns a queue of submissions. A session
//! calls [`deliver`] with its targets and message and waits for the result
//! of its own message. A batch is every submission queued when the task
//! starts it, up to the limits below. Submissions that arrive while a batch
//! is in flight wait for the next one. For the whole batch the task then:
//!
//! 1. creates, writes and fdatasyncs every copy in `tmp/`, all in flight at once;
//! 2. renames every copy into `new/`, all in flight at once;
//! 3. fsyncs each distinct `new/` directory once;
//! 4. completes every waiter.
//!
//! Up to [`BATCHES_IN_FLIGHT_MAX`] batches commit at once, each in its own
//! task, so one batch's writes overlap the previous batch's directory fsyncs.
//! Two batches never share a file or a waiter.
//!
//! Contract: the same as [`super::deliver`] for each message on its own. A
//! message's result is `Ok` only when all its copies are durable in `new/`.
//! A message whose step fails gets the error, and its files in `tmp/` and
//! `new/` are removed. Other messages in the batch are unaffected, except
//! that a failed directory fsync fails every message with a copy in that
//! directory, because none of those renames is known to be durable.
//! A waiter that stops waiting (its session ended) does not cancel its
//! message: the batch still delivers it, which is an allowed in-flight
//! duplicate because the sender never got a 250 and will retry.
//!
//! Limits: [`BATCH_MESSAGES_MAX`], [`BATCH_BYTES_MAX`] and [`BATCH_FILES_MAX`]
//! bound one batch, so the wait of the first message in a batch stays bounded
//! and one batch keeps at most [`BATCH_FILES_MAX`] files open. A single
//! submission over a byte or file limit still forms a batch of its own. The
//! queue itself needs no limit: each session has at most one message in it,
//! and sessions are bounded by `connections_max`.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use tokio::sync::{oneshot, Notify};

use super::deliver::{
    join_all, plan_copy, remove_if_present, write_tmp, Copy, Delivery, DELIVERY_TARGETS_MAX,
};
use super::line_ends;
use crate::runtime::fs::{self, SharedBuf};

/// Maximum number of messages in one batch. The last message of a full batch
/// waits for every write, rename and sync of the other 255 before its reply.
pub const BATCH_MESSAGES_MAX: usize = 256;

/// Maximum bytes one batch writes (message size times copies). As an
/// estimate, 32 MiB is about a third of a second on a disk that writes 100 MB/s.
pub const BATCH_BYTES_MAX: usize = 32 * 1024 * 1024;

/// Maximum number of files one batch writes. Each keeps an open descriptor
/// and a few ring entries until its copy is synced and closed, so a worker
/// keeps at most `BATCHES_IN_FLIGHT_MAX * BATCH_FILES_MAX` (2048) such files.
pub const BATCH_FILES_MAX: usize = 1024;

/// Maximum number of batches committing at once. With two, the next batch
/// writes and fdatasyncs its files while the previous one renames and
/// fsyncs its directories, so their journal commits can overlap.
pub const BATCHES_IN_FLIGHT_MAX: usize = 2;

/// Totals of one batcher since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchCounters {
    /// Batches committed.
    pub batches: u64,
    /// Messages submitted to those batches, delivered or failed.
    pub messages: u64,
    /// Messages that failed.
    pub failed_messages: u64,
    /// fdatasync calls issued on files in `tmp/`.
    pub file_syncs: u64,
    /// fsync calls issued on `new/` directories.
    pub dir_syncs: u64,
    /// Messages in the largest batch.
    pub largest_batch: u64,
}

/// The result a waiter receives: the paths in `new/`, in target order.
type DeliveryResult = io::Result<Vec<PathBuf>>;

/// One message waiting for a batch.
struct Submission {
    targets: Vec<Delivery>,
    buf: SharedBuf,
    done: oneshot::Sender<DeliveryResult>,
}

impl Submission {
    /// Bytes this submission writes: one copy per target.
    fn bytes(&self) -> usize {
        self.buf.as_bytes().len().saturating_mul(self.targets.len())
    }
}

/// State shared by the batch task and every handle.
struct Queue {
    pending: RefCell<VecDeque<Submission>>,
    wake: Notify,
    /// Batches committing now, at most [`BATCHES_IN_FLIGHT_MAX`].
    batches_in_flight: Cell<usize>,
    /// Signalled each time a batch finishes.
    batch_done: Notify,
    counters: Cell<BatchCounters>,
    /// Whether the batch task still exists. It is cleared when the task's
    /// future is dropped, which happens when its runtime shuts down.
    alive: Cell<bool>,
}

/// A handle to one worker's batch task. Clones share the task. Not `Send`:
/// the task and its files belong to one worker's ring.
#[derive(Clone)]
pub struct Batcher {
    queue: Rc<Queue>,
}

impl Batcher {
    /// Starts a batch task on the current worker and returns its handle.
    /// Must be called inside a worker's runtime (or [`crate::runtime::block_on`]).
    pub fn start() -> Batcher {
        let queue = Rc::new(Queue {
            pending: RefCell::new(VecDeque::new()),
            wake: Notify::new(),
            batches_in_flight: Cell::new(0),
            batch_done: Notify::new(),
            counters: Cell::new(BatchCounters::default()),
            alive: Cell::new(true),
        });
        // The guard is moved into the task before its first poll, so it is
        // dropped even when the runtime drops the task without running it.
        let guard = AliveGuard(queue.clone());
        crate::runtime::spawn(async move {
            let guard = guard;
            run_batches(guard.0.clone()).await;
        });
        Batcher { queue }
    }

    /// Queues `message` for delivery into every target's Maildir and waits
    /// until its batch is committed. Returns the paths in `new/` in target
    /// order, or the first error of this message's copies.
    pub async fn deliver(&self, targets: Vec<Delivery>, message: Rc<[u8]>) -> DeliveryResult {
        if targets.len() > DELIVERY_TARGETS_MAX {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "delivery has {} targets, over the maximum of {DELIVERY_TARGETS_MAX}",
                    targets.len()
                ),
            ));
        }
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        if !self.queue.alive.get() {
            return Err(io::Error::other("delivery batcher has stopped"));
        }

        let (done, result) = oneshot::channel();
        self.queue.pending.borrow_mut().push_back(Submission {
            targets,
            buf: SharedBuf::new(message),
            done,
        });
        self.queue.wake.notify_one();
        result.await.unwrap_or_else(|_| {
            Err(io::Error::other(
                "delivery batcher stopped before the commit",
            ))
        })
    }

    /// Returns the totals since this batcher started.
    pub fn counters(&self) -> BatchCounters {
        self.queue.counters.get()
    }
}

thread_local! {
    /// The batcher of this thread's runtime, once one was needed.
    static CURRENT: RefCell<Option<Batcher>> = const { RefCell::new(None) };
}

/// Delivers `message` into every target's Maildir through this thread's
/// batcher. See [`Batcher::deliver`].
pub async fn deliver(targets: Vec<Delivery>, message: Rc<[u8]>) -> DeliveryResult {
    current().deliver(targets, message).await
}

/// Returns this thread's batcher, starting one on the current runtime when
/// there is none or the previous one's runtime has shut down. Must be called
/// inside a worker's runtime, like [`Batcher::start`].
pub fn current() -> Batcher {
    CURRENT.with(|current| {
        let mut current = current.borrow_mut();
        match current.as_ref() {
            Some(batcher) if batcher.queue.alive.get() => batcher.clone(),
            _ => {
                let batcher = Batcher::start();
                *current = Some(batcher.clone());
                batcher
            }
        }
    })
}

/// Returns the counters of this thread's batcher, or `None` when this
/// thread never started one. Does not start a batcher.
pub fn current_counters() -> Option<BatchCounters> {
    CURRENT.with(|current| current.borrow().as_ref().map(Batcher::counters))
}

/// Marks the batcher stopped and fails its queued submissions when the batch
/// task is dropped.
struct AliveGuard(Rc<Queue>);

impl Drop for AliveGuard {
    fn drop(&mut self) {
        self.0.alive.set(false);
        // Dropping each sender wakes its waiter with an error.
        self.0.pending.borrow_mut().clear();
    }
}

/// Commits batches for as long as the worker runs (the batch task's body).
async fn run_batches(queue: Rc<Queue>) {
    loop {
        if queue.pending.borrow().is_empty() {
            queue.wake.notified().await;
            // Let the other sessions woken by the same ring completions
            // submit too, so the first batch after idle is not a batch of one.
            tokio::task::yield_now().await;
        }
        while queue.batches_in_flight.get() >= BATCHES_IN_FLIGHT_MAX {
            queue.batch_done.notified().await;
        }
        let batch = take_batch(&mut queue.pending.borrow_mut());
        if batch.is_empty() {
            continue;
        }

        queue
            .batches_in_flight
            .set(queue.batches_in_flight.get() + 1);
        let queue = queue.clone();
        crate::runtime::spawn(async move {
            commit_batch(&queue, batch).await;
            queue
                .batches_in_flight
                .set(queue.batches_in_flight.get() - 1);
            queue.batch_done.notify_one();
        });
    }
}

/// Takes submissions from the front of `pending` until one more would pass
/// a batch limit. The first submission is always taken.
fn take_batch(pending: &mut VecDeque<Submission>) -> Vec<Submission> {
    let mut batch = Vec::new();
    let mut bytes = 0usize;
    let mut files = 0usize;
    while let Some(next) = pending.front() {
        let next_bytes = next.bytes();
        let next_files = next.targets.len();
        let full = batch.len() == BATCH_MESSAGES_MAX
            || bytes.saturating_add(next_bytes) > BATCH_BYTES_MAX
            || files + next_files > BATCH_FILES_MAX;
        if full && !batch.is_empty() {
            break;
        }
        bytes = bytes.saturating_add(next_bytes);
        files += next_files;
        batch.extend(pending.pop_front());
    }
    batch
}

/// One message of a batch while it is committed.
struct Planned {
    copies: Vec<Copy>,
    buf: SharedBuf,
    done: oneshot::Sender<DeliveryResult>,
    /// The first error of this message, once one happened.
    failure: Option<io::Error>,
}

/// Syncs issued by one batch, added to the counters at the end.
#[derive(Default)]
struct BatchTally {
    file_syncs: u64,
    dir_syncs: u64,
}

/// Commits one batch (the four steps in the module doc) and completes its
/// waiters.
async fn commit_batch(queue: &Queue, batch: Vec<Submission>) {
    let mut planned: Vec<Planned> = batch.into_iter().map(plan_message).collect();
    let mut tally = BatchTally::default();

    write_all_tmp(&mut planned, &mut tally).await;
    rename_all_into_new(&mut planned).await;
    sync_new_dirs(&mut planned, &mut tally).await;

    let messages = planned.len() as u64;
    let mut failed = 0u64;
    for message in planned {
        let result = match message.failure {
            None => Ok(message
                .copies
                .into_iter()
                .map(|copy| copy.new_path)
                .collect()),
            Some(error) => {
                failed += 1;
                Err(error)
            }
        };
        // A waiter that went away (its session ended) needs no result.
        let _ = message.done.send(result);
    }

    let mut counters = queue.counters.get();
    counters.batches += 1;
    counters.messages += messages;
    counters.failed_messages += failed;
    counters.file_syncs += tally.file_syncs;
    counters.dir_syncs += tally.dir_syncs;
    counters.largest_batch = counters.largest_batch.max(messages);
    queue.counters.set(counters);
    tracing::debug!(
        messages,
        failed,
        file_syncs = tally.file_syncs,
        dir_syncs = tally.dir_syncs,
        "maildir batch committed"
    );
}

fn plan_message(submission: Submission) -> Planned {
    let bytes = submission.buf.as_bytes();
    let size = bytes.len() as u64;
    let virtual_size = line_ends::crlf_len(bytes);
    let copies = submission
        .targets
        .iter()
        .map(|target| plan_copy(target, size, virtual_size))
        .collect();
    Planned {
        copies,
        buf: submission.buf,
        done: submission.done,
        failure: None,
    }
}

/// Step 1: creates, writes and fdatasyncs every copy of every message in
/// `tmp/`. A message with a failed copy gets the error and loses its `tmp/`
/// files.
async fn write_all_tmp(planned: &mut [Planned], tally: &mut BatchTally) {
    let writes = planned
        .iter()
        .flat_map(|message| {
            message
                .copies
                .iter()
                .map(|copy| write_tmp(&copy.tmp_path, message.buf.clone()))
        })
        .collect();
    let mut results = join_all(writes).await.into_iter();

    let mut removals = Vec::new();
    for message in planned.iter_mut() {
        let mut created = Vec::with_capacity(message.copies.len());
        for copy in &message.copies {
            let Some(write) = results.next() else { break };
            tally.file_syncs += u64::from(write.sync_issued);
            if write.created {
                created.push(copy.tmp_path.as_path());
            }
            if let Err(error) = write.result {
                message.failure.get_or_insert(error);
            }
        }
        if message.failure.is_some() {
            removals.extend(created.into_iter().map(remove_if_present));
        }
    }
    join_all(removals).await;
}

/// Step 2: renames every copy of every message still on track into `new/`.
/// A message with a failed rename gets the error and loses its copies in
/// both `new/` and `tmp/`.
async fn rename_all_into_new(planned: &mut [Planned]) {
    let renames = planned
        .iter()
        .filter(|message| message.failure.is_none())
        .flat_map(|message| message.copies.iter())
        .map(|copy| fs::rename(&copy.tmp_path, &copy.new_path))
        .collect();
    let mut results = join_all(renames).await.into_iter();

    let mut removals = Vec::new();
    for message in planned.iter_mut().filter(|m| m.failure.is_none()) {
        let outcomes: Vec<io::Result<()>> = results.by_ref().take(message.copies.len()).collect();
        if outcomes.iter().all(Result::is_ok) {
            continue;
        }
        for (copy, outcome) in message.copies.iter().zip(outcomes) {
            match outcome {
                Ok(()) => removals.push(remove_if_present(&copy.new_path)),
                Err(error) => {
                    message.failure.get_or_insert(error);
                    removals.push(remove_if_present(&copy.tmp_path));
                }
            }
        }
    }
    join_all(removals).await;
}

/// Step 3: fsyncs each distinct `new/` directory of the messages still on
/// track once. A message with a copy in a directory whose fsync failed gets
/// that error and loses all its copies in `new/`.
async fn sync_new_dirs(planned: &mut [Planned], tally: &mut BatchTally) {
    let dirs: Vec<PathBuf> = {
        let distinct: std::collections::BTreeSet<&Path> = planned
            .iter()
            .filter(|message| message.failure.is_none())
            .flat_map(|message| message.copies.iter())
            .map(|copy| copy.new_dir.as_path())
            .collect();
        distinct.into_iter().map(Path::to_path_buf).collect()
    };
    tally.dir_syncs += dirs.len() as u64;
    let syncs = dirs.iter().map(|dir| fs::sync_dir(dir)).collect();
    let results = join_all(syncs).await;

    let failed_dirs: BTreeMap<&Path, io::Error> = dirs
        .iter()
        .zip(results)
        .filter_map(|(dir, result)| result.err().map(|error| (dir.as_path(), error)))
        .collect();
    if failed_dirs.is_empty() {
        return;
    }

    let mut removals = Vec::new();
    for message in planned.iter_mut().filter(|m| m.failure.is_none()) {
        let failed = message
            .copies
            .iter()
            .find_map(|copy| failed_dirs.get_key_value(copy.new_dir.as_path()));
        let Some((dir, error)) = failed else {
            continue;
        };
        // io::Error is not Clone, so each message gets its own copy of it.
        message.failure = Some(io::Error::new(
            error.kind(),
            format!("fsync of {} failed: {error}", dir.display()),
        ));
        removals.extend(
            message
                .copies
                .iter()
                .map(|copy| remove_if_present(&copy.new_path)),
        );
    }
    join_all(removals).await;
}

#[cfg(test)]
mod tests;
