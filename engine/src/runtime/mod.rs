//! The engine's runtime: one worker thread per core, each running its own
//! io_uring event loop.
//!
//! This module is the only place that names `tokio-uring`. Everything else in
//! the engine uses [`Worker`], [`spawn`], [`net::TcpStream`] and the
//! functions of [`fs`], so the event loop underneath can be replaced without
//! touching the sessions or the mail store.
//!
//! Each worker is pinned to one core (when the core exists) and owns every
//! socket it accepts: a connection never moves between workers.

pub mod fs;
pub mod net;

use std::future::Future;
use std::io;
use std::time::Duration;

/// Submission queue depth of each worker's ring. 256 entries cover one read or
/// write per session for a few hundred sessions per core before the submitter
/// has to flush early.
pub const RING_ENTRIES: u32 = 256;

/// Identity of one worker thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Worker {
    /// Index of the worker, from 0 to `workers - 1`.
    pub index: usize,
    /// Core the worker is pinned to, or `None` when pinning failed.
    pub core: Option<usize>,
}

/// Returns the number of cores this process may run on.
pub fn available_cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Starts `workers` threads, each pinned to a core and running `body` on its
/// own io_uring event loop, and waits until every one has returned.
///
/// Returns the first error a worker returned, or an error if a worker panicked.
pub fn run_workers<F, Fut>(workers: usize, body: F) -> io::Result<()>
where
    F: Fn(Worker) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = io::Result<()>>,
{
    assert!(workers > 0, "at least one worker is required");
    let cores = available_cores();

    let mut handles = Vec::with_capacity(workers);
    for index in 0..workers {
        let body = body.clone();
        let handle = std::thread::Builder::new()
            .name(format!("ringmail-worker-{index}"))
            .spawn(move || {
                let core = pin_to_core(index % cores).then_some(index % cores);
                let worker = Worker { index, core };
                ring_builder().start(body(worker))
            })?;
        handles.push(handle);
    }

    let mut first_error = None;
    for handle in handles {
        let result = handle
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("worker thread panicked")));
        if let Err(error) = result {
            first_error.get_or_insert(error);
        }
    }
    match first_error {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// Runs `future` on a single io_uring event loop on the calling thread.
/// Command-line tools and tests use it to reach the same I/O paths as a worker.
pub fn block_on<F: Future>(future: F) -> F::Output {
    ring_builder().start(future)
}

/// Returns the runtime builder for one event loop: [`RING_ENTRIES`] entries
/// and, where the kernel has it (Linux 5.19 and later) and the environment
/// variable `RINGMAIL_COOP_TASKRUN` is not `0`, cooperative task running
/// (IORING_SETUP_COOP_TASKRUN).
///
/// Without that flag, each completion that the kernel finishes outside the
/// worker's own call (an fdatasync on an io-wq thread, say) interrupts a
/// running worker with an inter-processor interrupt. The worker then posts
/// the completion at once. With the flag, a running worker posts
/// completions at its next system call, which its event loop makes every
/// time it submits or waits. A sleeping worker is still woken. In docs/BENCHMARKS.md it raised the spool's durable accept
/// rate by about 8 % and lowered the Maildir path's, which waits on four
/// io-wq operations per message, by about 10 %. `RINGMAIL_COOP_TASKRUN=0`
/// turns it off for a server that mostly delivers locally.
fn ring_builder() -> tokio_uring::Builder {
    let mut builder = tokio_uring::builder();
    builder.entries(RING_ENTRIES);
    if use_coop_taskrun() {
        let mut ring = io_uring::IoUring::builder();
        ring.setup_coop_taskrun();
        builder.uring_builder(&ring);
    }
    builder
}

/// Returns whether rings get IORING_SETUP_COOP_TASKRUN: the environment does
/// not turn it off and this kernel accepts it, which is checked once per
/// process by setting up a small ring with it.
fn use_coop_taskrun() -> bool {
    static USE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *USE.get_or_init(|| {
        if std::env::var("RINGMAIL_COOP_TASKRUN").is_ok_and(|value| value == "0") {
            tracing::info!("io_uring cooperative task running off: RINGMAIL_COOP_TASKRUN=0");
            return false;
        }
        match io_uring::IoUring::<io_uring::squeue::Entry>::builder()
            .setup_coop_taskrun()
            .build(2)
        {
            Ok(_) => {
                tracing::debug!("io_uring cooperative task running on");
                true
            }
            Err(error) => {
                tracing::info!(%error, "io_uring cooperative task running off: the kernel rejected it");
                false
            }
        }
    })
}

/// Spawns a task on the current worker. The task never moves to another thread.
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + 'static,
{
    tokio_uring::spawn(future)
}

/// Runs the blocking function `work` on a thread pool beside the workers and
/// waits for its result, so CPU-heavy work such as password hashing does not
/// stall the worker's other sessions.
pub async fn spawn_blocking<F, T>(work: F) -> io::Result<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| io::Error::other(format!("blocking task failed: {error}")))
}

/// Creates a channel that carries one value from any thread to a task on a
/// worker. Work that runs on a thread of its own (spam scoring) sends its
/// result through it, and the waiting session does not block its worker.
pub fn reply_channel<T>() -> (ReplySender<T>, ReplyReceiver<T>) {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    (ReplySender(sender), ReplyReceiver(receiver))
}

/// Sending half of [`reply_channel`]; it may move to any thread.
pub struct ReplySender<T>(tokio::sync::oneshot::Sender<T>);

impl<T> ReplySender<T> {
    /// Sends `value`. Returns false when the receiver is gone, for example
    /// because its session timed out.
    pub fn send(self, value: T) -> bool {
        self.0.send(value).is_ok()
    }
}

/// Receiving half of [`reply_channel`].
pub struct ReplyReceiver<T>(tokio::sync::oneshot::Receiver<T>);

impl<T> ReplyReceiver<T> {
    /// Waits for the value. Returns `None` when the sender was dropped
    /// without sending.
    pub async fn receive(self) -> Option<T> {
        self.0.await.ok()
    }
}

/// Waits for `duration` on the current worker's timer.
pub async fn sleep(duration: Duration) {
    tokio::time::sleep(duration).await
}

/// Error returned by [`timeout`] when the deadline passed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed;

/// Runs `future` until it completes or `duration` passes.
pub async fn timeout<F: Future>(duration: Duration, future: F) -> Result<F::Output, Elapsed> {
    tokio::time::timeout(duration, future)
        .await
        .map_err(|_| Elapsed)
}

/// Pins the calling thread to `core`. Returns false when the kernel refused,
/// for example when a cpuset excludes that core.
fn pin_to_core(core: usize) -> bool {
    // SAFETY: cpu_set_t is plain data, so all-zero bytes are a valid empty
    // set; CPU_SET writes inside the set for core < CPU_SETSIZE, checked below.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if core >= libc::CPU_SETSIZE as usize {
            return false;
        }
        libc::CPU_SET(core, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}
