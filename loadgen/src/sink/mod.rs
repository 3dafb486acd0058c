//! `ringmail-loadgen sink`: an SMTP server that accepts every message as fast
//! as it can and stores none, like Postfix's smtp-sink.
//!
//! [`run`] binds one SO_REUSEPORT listener per worker, then starts the
//! workers on the engine's runtime, one io_uring each. Every accepted
//! connection is a task on the worker that accepted it. The task reads,
//! feeds the bytes to the sans-I/O [`SinkSession`] and writes all the replies
//! to one read in one write, which is what pipelining clients expect.
//!
//! At the end of a message the task picks the reply ([`Verdict`]): the
//! `--fail-rate` draws, then `--max-messages`, then 250. With `--delay-ms`
//! the replies already produced are sent first, then the task sleeps on the
//! worker's timer before the final reply, so other sessions run meanwhile.
//!
//! Stopping: the first SIGINT or SIGTERM, or the message that reaches
//! `--max-messages`, sets a watch flag. Workers stop accepting, sessions
//! send 421 at their next read and close, and each worker waits at most
//! [`STOP_GRACE`] for its sessions before it hands over its counts.
//!
//! The `--log` lines are buffered per worker and appended to the file when
//! [`LOG_BUFFER_LEN`] is reached, every [`LOG_FLUSH_INTERVAL`] and at stop.

mod protocol;

use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Write};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ringmail_engine::runtime::{self, net};
use tokio::sync::watch;

pub use protocol::{SinkSession, Step, Verdict, ERRORS_MAX, MESSAGE_SIZE_MAX};

use crate::sink_cli::SinkPlan;

/// Octets reserved before each read. 64 KiB takes a 4 KiB message with a
/// pipelined envelope, or many small commands, in one read.
pub const READ_LEN: usize = 64 * 1024;

/// Time a session may stay silent before it is closed. RFC 5321 section
/// 4.5.3.2.7 requires servers to wait at least 5 minutes for a command.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Time allowed for writing the replies of one read.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// Time each worker waits for its sessions to close after a stop.
pub const STOP_GRACE: Duration = Duration::from_secs(2);

/// Octets of log lines a worker buffers before appending them to the file.
pub const LOG_BUFFER_LEN: usize = 64 * 1024;

/// Interval at which each worker appends its buffered log lines.
pub const LOG_FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// Pause after a failed accept (for example when out of file descriptors),
/// so the worker does not spin on the error.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(100);

/// Poll interval of a worker waiting for its sessions to close.
const STOP_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// Counts of one worker or of the whole sink.
#[derive(Debug, Clone, Default)]
pub struct SinkCounts {
    pub connections: u64,
    pub accepted: u64,
    /// Messages that got the injected 451 reply.
    pub temporary: u64,
    /// Messages that got the injected 554 reply.
    pub permanent: u64,
    /// Messages rejected for bare CR or LF, or for their size.
    pub rejected: u64,
    /// Octets of accepted messages, after dot unstuffing.
    pub bytes: u64,
    pub first_connection: Option<Instant>,
    pub last_accepted: Option<Instant>,
}

impl SinkCounts {
    fn merge(&mut self, other: &SinkCounts) {
        self.connections += other.connections;
        self.accepted += other.accepted;
        self.temporary += other.temporary;
        self.permanent += other.permanent;
        self.rejected += other.rejected;
        self.bytes += other.bytes;
        self.first_connection = earliest(self.first_connection, other.first_connection);
        self.last_accepted = self.last_accepted.max(other.last_accepted);
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The counts of a finished sink run and its timing.
#[derive(Debug, Clone)]
pub struct SinkReport {
    pub listen: String,
    pub workers: usize,
    pub counts: SinkCounts,
    /// From the start of the workers to the stop.
    pub elapsed: Duration,
}

impl SinkReport {
    /// Returns the time from the first connection to the last accepted
    /// message, or zero when no message was accepted.
    pub fn busy(&self) -> Duration {
        match (self.counts.first_connection, self.counts.last_accepted) {
            (Some(first), Some(last)) => last.saturating_duration_since(first),
            _ => Duration::ZERO,
        }
    }

    /// Formats the report as the lines the binary prints.
    pub fn to_text(&self) -> String {
        let counts = &self.counts;
        let busy_secs = self.busy().as_secs_f64();
        let rate = if busy_secs > 0.0 {
            counts.accepted as f64 / busy_secs
        } else {
            0.0
        };

        let mut text = String::new();
        // Writing into a String cannot fail, so the results are ignored.
        let _ = writeln!(text, "sink: {} on {} workers", self.listen, self.workers);
        let _ = writeln!(text, "connections: {}", counts.connections);
        let _ = writeln!(text, "messages accepted: {}", counts.accepted);
        let _ = writeln!(text, "4xx injected: {}", counts.temporary);
        let _ = writeln!(text, "5xx injected: {}", counts.permanent);
        let _ = writeln!(text, "rejected: {}", counts.rejected);
        let _ = writeln!(text, "bytes accepted: {}", counts.bytes);
        let _ = writeln!(text, "elapsed: {:.3} s", self.elapsed.as_secs_f64());
        let _ = writeln!(
            text,
            "busy: {busy_secs:.3} s (first connection to last accepted message)"
        );
        let _ = writeln!(text, "throughput: {rate:.1} msg/s over the busy time");
        text
    }
}

/// State that every worker of the sink shares.
struct SinkShared {
    plan: SinkPlan,
    stop: watch::Sender<bool>,
    /// Messages accepted so far, counted only with `--max-messages`.
    claimed: AtomicU64,
    log: Option<Mutex<File>>,
    log_error: Mutex<Option<io::Error>>,
    worker_counts: Mutex<Vec<SinkCounts>>,
}

impl SinkShared {
    fn request_stop(&self) {
        self.stop.send_replace(true);
    }

    /// Appends `lines` to the log file, keeping the first error for [`run`].
    // NOTE: a blocking write on the worker thread, once per 64 KiB of ids or
    // per second. It lands in the page cache and costs far less than the
    // SMTP traffic that produced the ids.
    fn append_log(&self, lines: &[u8]) {
        let Some(file) = &self.log else {
            return;
        };
        if lines.is_empty() {
            return;
        }
        let result = file
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .write_all(lines);
        if let Err(error) = result {
            self.log_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get_or_insert(error);
        }
    }
}

/// State of one worker, shared by its session tasks on the same thread.
struct WorkerState {
    hostname: Rc<str>,
    counts: RefCell<SinkCounts>,
    log: RefCell<Vec<u8>>,
    sessions: Cell<usize>,
}

impl WorkerState {
    fn flush_log(&self, shared: &SinkShared) {
        let mut log = self.log.borrow_mut();
        shared.append_log(&log);
        log.clear();
    }
}

/// Decrements the worker's session count when a session task ends.
struct SessionGuard(Rc<WorkerState>);

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.0.sessions.set(self.0.sessions.get() - 1);
    }
}

/// Runs the sink until a signal or `--max-messages` stops it, and returns
/// its counts. Fails when a listener cannot be bound, the log cannot be
/// created or written, or a worker cannot start.
pub fn run(plan: &SinkPlan) -> io::Result<SinkReport> {
    let log = match &plan.log {
        Some(path) => Some(Mutex::new(File::create(path).map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("cannot create log {}: {error}", path.display()),
            )
        })?)),
        None => None,
    };

    // Bind every worker's listener first, so a busy port fails the start.
    let mut listeners = Vec::with_capacity(plan.workers);
    for _ in 0..plan.workers {
        let listener = net::bind_reuseport(plan.listen).map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("cannot listen on {}: {error}", plan.listen),
            )
        })?;
        listeners.push(listener);
    }
    let listeners = Arc::new(Mutex::new(listeners));

    let (stop, _) = watch::channel(false);
    let shared = Arc::new(SinkShared {
        plan: plan.clone(),
        stop,
        claimed: AtomicU64::new(0),
        log,
        log_error: Mutex::new(None),
        worker_counts: Mutex::new(Vec::with_capacity(plan.workers)),
    });
    install_signal_handler(Arc::clone(&shared))?;
    eprintln!(
        "ringmail-loadgen sink: listening on {} with {} workers",
        plan.listen, plan.workers
    );

    let started = Instant::now();
    let worker_shared = Arc::clone(&shared);
    runtime::run_workers(plan.workers, move |_worker| {
        let listener = listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        run_worker(Arc::clone(&worker_shared), listener)
    })?;
    let elapsed = started.elapsed();

    finish_log(&shared)?;
    let mut counts = SinkCounts::default();
    for worker_counts in shared
        .worker_counts
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
    {
        counts.merge(worker_counts);
    }
    Ok(SinkReport {
        listen: plan.listen.to_string(),
        workers: plan.workers,
        counts,
        elapsed,
    })
}

/// Returns the first log write error, else syncs the log file.
fn finish_log(shared: &SinkShared) -> io::Result<()> {
    let error = shared
        .log_error
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    if let Some(error) = error {
        return Err(io::Error::new(
            error.kind(),
            format!("writing the log failed: {error}"),
        ));
    }
    if let Some(file) = &shared.log {
        file.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .sync_all()?;
    }
    Ok(())
}

/// Starts a thread that stops the sink at the first SIGINT or SIGTERM and
/// exits at once, with status 1, at the second.
fn install_signal_handler(shared: Arc<SinkShared>) -> io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};

    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("sink-signals".to_string())
        .spawn(move || {
            let mut seen = 0;
            for _signal in signals.forever() {
                seen += 1;
                if seen > 1 {
                    eprintln!("ringmail-loadgen sink: second signal, exiting now");
                    std::process::exit(1);
                }
                shared.request_stop();
            }
        })?;
    Ok(())
}

/// Accepts connections on one worker until the stop, then waits for its
/// sessions and hands over its counts.
async fn run_worker(
    shared: Arc<SinkShared>,
    listener: Option<std::net::TcpListener>,
) -> io::Result<()> {
    let listener = listener.ok_or_else(|| io::Error::other("no listener left for a worker"))?;
    let listener = net::TcpListener::from_std(listener);
    let worker = Rc::new(WorkerState {
        hostname: Rc::from(shared.plan.hostname.as_str()),
        counts: RefCell::new(SinkCounts::default()),
        log: RefCell::new(Vec::with_capacity(if shared.log.is_some() {
            LOG_BUFFER_LEN
        } else {
            0
        })),
        sessions: Cell::new(0),
    });
    if shared.log.is_some() {
        runtime::spawn(flush_log_periodically(
            Arc::clone(&shared),
            Rc::clone(&worker),
        ));
    }

    let mut stop = shared.stop.subscribe();
    loop {
        tokio::select! {
            biased;
            _ = stop.wait_for(|stopping| *stopping) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    worker.sessions.set(worker.sessions.get() + 1);
                    let guard = SessionGuard(Rc::clone(&worker));
                    runtime::spawn(serve_connection(Arc::clone(&shared), guard, stream));
                }
                Err(error) => {
                    eprintln!("ringmail-loadgen sink: accept failed: {error}");
                    runtime::sleep(ACCEPT_RETRY_DELAY).await;
                }
            },
        }
    }

    let deadline = Instant::now() + STOP_GRACE;
    while worker.sessions.get() > 0 && Instant::now() < deadline {
        runtime::sleep(STOP_POLL_INTERVAL).await;
    }

    worker.flush_log(&shared);
    shared
        .worker_counts
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(worker.counts.borrow().clone());
    Ok(())
}

async fn flush_log_periodically(shared: Arc<SinkShared>, worker: Rc<WorkerState>) {
    loop {
        runtime::sleep(LOG_FLUSH_INTERVAL).await;
        worker.flush_log(&shared);
    }
}

/// Reason a connection task stops reading.
enum Next {
    Read,
    Close,
}

/// Runs one SMTP session until QUIT, an error, the idle timeout or the stop.
async fn serve_connection(shared: Arc<SinkShared>, guard: SessionGuard, stream: net::TcpStream) {
    let worker = &guard.0;
    {
        let mut counts = worker.counts.borrow_mut();
        counts.connections += 1;
        counts.first_connection.get_or_insert_with(Instant::now);
    }

    let mut stop = shared.stop.subscribe();
    let mut output = Vec::with_capacity(4096);
    let mut session = SinkSession::new(
        Rc::clone(&worker.hostname),
        shared.log.is_some(),
        &mut output,
    );
    let mut input: Vec<u8> = Vec::with_capacity(READ_LEN);
    let mut next = Next::Read;

    loop {
        if !write_output(&stream, &mut output).await || matches!(next, Next::Close) {
            return;
        }

        input.reserve(READ_LEN);
        let read = tokio::select! {
            biased;
            _ = stop.wait_for(|stopping| *stopping) => {
                session.write_shutdown(&mut output);
                let _ = write_output(&stream, &mut output).await;
                return;
            }
            read = runtime::timeout(IDLE_TIMEOUT, stream.read(input)) => read,
        };
        let Ok((result, returned)) = read else {
            return;
        };
        input = returned;
        match result {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }

        next = process_input(
            &shared,
            worker,
            &mut session,
            &stream,
            &mut input,
            &mut output,
        )
        .await;
    }
}

/// Feeds everything read to the session. Leaves a partial command line at
/// the front of `input` for the next read.
async fn process_input(
    shared: &SinkShared,
    worker: &WorkerState,
    session: &mut SinkSession,
    stream: &net::TcpStream,
    input: &mut Vec<u8>,
    output: &mut Vec<u8>,
) -> Next {
    let mut start = 0;
    let next = loop {
        match session.step(&input[start..], output) {
            Step::NeedMore { consumed } => {
                start += consumed;
                break Next::Read;
            }
            Step::Progress { consumed } => start += consumed,
            Step::Rejected { consumed } => {
                start += consumed;
                worker.counts.borrow_mut().rejected += 1;
            }
            Step::Close { consumed } => {
                start += consumed;
                break Next::Close;
            }
            Step::MessageEnd { consumed, len } => {
                start += consumed;
                let verdict = decide(shared);
                if !shared.plan.delay.is_zero() {
                    if !write_output(stream, output).await {
                        break Next::Close;
                    }
                    runtime::sleep(shared.plan.delay).await;
                }
                record_message(shared, worker, session, verdict, len);
                if session.finish_message(verdict, output) {
                    break Next::Close;
                }
            }
        }
    };
    input.drain(..start);
    next
}

/// Picks the reply to the end of a message: an injected failure, the limit
/// or acceptance. Triggers the stop when this message reaches the limit.
fn decide(shared: &SinkShared) -> Verdict {
    let rate = shared.plan.fail_rate;
    if !rate.is_zero() {
        let draw: f64 = rand::random();
        if draw < rate.temporary {
            return Verdict::Temporary;
        }
        if draw < rate.temporary + rate.permanent {
            return Verdict::Permanent;
        }
    }

    let Some(max) = shared.plan.max_messages else {
        return Verdict::Accept;
    };
    let claimed = shared.claimed.fetch_add(1, Ordering::Relaxed) + 1;
    if claimed > max {
        return Verdict::LimitReached;
    }
    if claimed == max {
        shared.request_stop();
    }
    Verdict::Accept
}

fn record_message(
    shared: &SinkShared,
    worker: &WorkerState,
    session: &SinkSession,
    verdict: Verdict,
    len: u64,
) {
    let mut counts = worker.counts.borrow_mut();
    match verdict {
        Verdict::Accept => {
            counts.accepted += 1;
            counts.bytes += len;
            counts.last_accepted = Some(Instant::now());
        }
        Verdict::Temporary => counts.temporary += 1,
        Verdict::Permanent => counts.permanent += 1,
        Verdict::LimitReached => return,
    }
    if verdict != Verdict::Accept || shared.log.is_none() {
        return;
    }

    let mut log = worker.log.borrow_mut();
    log.extend_from_slice(session.loadgen_id().unwrap_or(b"-"));
    log.push(b'\n');
    if log.len() >= LOG_BUFFER_LEN {
        shared.append_log(&log);
        log.clear();
    }
}

/// Writes and empties `output`. Returns false when the write failed or
/// timed out, which ends the session.
async fn write_output(stream: &net::TcpStream, output: &mut Vec<u8>) -> bool {
    if output.is_empty() {
        return true;
    }
    let buffer = std::mem::take(output);
    let Ok((result, mut buffer)) = runtime::timeout(WRITE_TIMEOUT, stream.write_all(buffer)).await
    else {
        return false;
    };
    buffer.clear();
    *output = buffer;
    result.is_ok()
}
