//! `ringmail-loadgen smtp`: closed-loop or open-loop SMTP load on io_uring workers.
//!
//! [`run`] starts `--workers` threads with the engine's runtime, one io_uring
//! each, and spreads the `--connections` over them round-robin. Each
//! connection is a task that never leaves its worker. It opens a session and
//! sends up to `--per-connection` messages one after the other, in a closed
//! loop: the next message starts when the previous one has its final reply.
//! Then it quits and reconnects, until the run's messages are all claimed or
//! its duration has passed. Sequence numbers come from one shared atomic counter, so every
//! message id `RUN-SEQ` is unique across workers.
//!
//! With `--rate R` the run is open-loop: message `SEQ` is scheduled at
//! `start + SEQ / R`. A free connection claims the next sequence number and
//! waits for its scheduled time. The message's latency counts from that
//! time, not from when MAIL went out, so a stalled server that leaves every
//! connection busy shows up in the percentiles instead of slowing the
//! schedule (no coordinated omission). How late each message started is
//! recorded as its lag.
//!
//! A connection task gives up after [`SESSION_FAILURES_MAX`] sessions in a row
//! fail without sending a message, so a server that is down ends the run
//! instead of looping on it. Each task keeps its own [`Stats`]; workers merge
//! them, and [`run`] merges the workers' into the [`Report`].
//!
//! The ack log gets the id of every message with a 2xx reply after its data.
//! Each task buffers ids and appends them to the file [`ACK_BUFFER_LEN`]
//! bytes at a time and when it ends.

mod client;
mod session;

use std::fs::File;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ringmail_engine::runtime;

pub use client::{SessionError, CONNECT_TIMEOUT, IO_TIMEOUT};
pub use session::WRITE_CHUNK_LEN;

use crate::cli::{Amount, SmtpPlan};
use crate::content::MessageSource;
use crate::message::{MessageFactory, RunId};
use crate::progress::Progress;
use crate::stats::{Report, RunInfo, Stats};

/// Sessions in a row that may fail without sending a message before a
/// connection task gives up. Five rides out a brief listen backlog overflow.
pub const SESSION_FAILURES_MAX: u32 = 5;

/// Pause before reconnecting after a failed session, so a refusing server
/// is not hammered in a tight loop.
pub const RECONNECT_DELAY: Duration = Duration::from_millis(100);

/// Bytes of ack log lines a connection task buffers before appending them.
pub const ACK_BUFFER_LEN: usize = 64 * 1024;

/// A message claimed by a connection: its sequence number and, in an
/// open-loop run, the time it is scheduled to start.
#[derive(Debug, Clone, Copy)]
pub struct Claim {
    pub seq: u64,
    pub scheduled: Option<Instant>,
}

/// State that every connection task of a run shares.
pub struct RunShared {
    plan: SmtpPlan,
    factory: MessageFactory,
    /// Start of the run, from which an open-loop schedule counts.
    started: Instant,
    /// The client configuration for `--starttls` and `--tls`, shared by every
    /// session.
    tls_config: Option<Arc<rustls::ClientConfig>>,
    progress: Arc<Progress>,
    next_seq: AtomicU64,
    /// End of a `--duration` run.
    deadline: Option<Instant>,
    /// Set when an error makes every further session pointless.
    stopped: AtomicBool,
    ack_log: Option<Mutex<File>>,
    ack_error: Mutex<Option<io::Error>>,
    worker_stats: Mutex<Vec<Stats>>,
}

impl RunShared {
    /// Claims the next message, or returns `None` when the run has sent
    /// enough. In an open-loop run, a message scheduled after the end of a
    /// `--duration` run is not claimed.
    fn claim(&self) -> Option<Claim> {
        if self.stopped.load(Ordering::Relaxed) {
            return None;
        }
        if let Some(deadline) = self.deadline {
            if Instant::now() >= deadline {
                return None;
            }
        }

        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        if let Amount::Messages(total) = self.plan.amount {
            if seq >= total {
                return None;
            }
        }

        let Some(rate) = self.plan.modes.rate else {
            return Some(Claim {
                seq,
                scheduled: None,
            });
        };
        let scheduled = self.started + Duration::from_secs_f64(seq as f64 / rate);
        if self.deadline.is_some_and(|deadline| scheduled >= deadline) {
            return None;
        }
        Some(Claim {
            seq,
            scheduled: Some(scheduled),
        })
    }
}

/// Ack log lines of one connection task, not yet appended to the file.
pub struct AckBuffer {
    lines: Vec<u8>,
}

impl AckBuffer {
    fn new() -> Self {
        AckBuffer { lines: Vec::new() }
    }

    /// Adds the id of message `seq`, appending the buffer to the file when full.
    fn push(&mut self, shared: &RunShared, seq: u64) {
        if shared.ack_log.is_none() {
            return;
        }
        shared.factory.write_id(seq, &mut self.lines);
        self.lines.push(b'\n');
        if self.lines.len() >= ACK_BUFFER_LEN {
            self.flush(shared);
        }
    }

    /// Appends the buffered lines to the ack log. The first write error is
    /// kept for [`run`] to return.
    // NOTE: this is a blocking write on the worker thread. At one write per
    // 64 KiB of ids it costs far less than the SMTP traffic that produced them.
    fn flush(&mut self, shared: &RunShared) {
        let Some(file) = &shared.ack_log else {
            return;
        };
        if self.lines.is_empty() {
            return;
        }

        let result = file
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .write_all(&self.lines);
        if let Err(error) = result {
            shared
                .ack_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get_or_insert(error);
        }
        self.lines.clear();
    }
}

/// Runs the SMTP load described by `plan` and returns its figures.
///
/// Fails when the ack log cannot be created or written, or when a worker
/// cannot start. Refused connections and rejected messages are figures in
/// the report, not errors.
pub fn run(plan: &SmtpPlan) -> io::Result<Report> {
    let ack_log = match &plan.ack_log {
        Some(path) => Some(Mutex::new(File::create(path).map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("cannot create ack log {}: {error}", path.display()),
            )
        })?)),
        None => None,
    };

    let tls_config =
        match plan.modes.starttls || plan.modes.implicit_tls {
            true => Some(crate::tls::client_config().map_err(|error| {
                io::Error::other(format!("cannot set up the tls client: {error}"))
            })?),
            false => None,
        };

    let run_id = RunId::random();
    let factory = MessageFactory::new(
        run_id.clone(),
        plan.from.clone(),
        plan.to.clone(),
        plan.rcpts,
        plan.modes.content.shared_body_len(),
    );
    let progress = Arc::new(Progress::for_stdout());
    let started = Instant::now();
    let shared = Arc::new(RunShared {
        plan: plan.clone(),
        factory,
        started,
        tls_config,
        progress: Arc::clone(&progress),
        next_seq: AtomicU64::new(0),
        deadline: match plan.amount {
            Amount::Duration(duration) => Some(started + duration),
            Amount::Messages(_) => None,
        },
        stopped: AtomicBool::new(false),
        ack_log,
        ack_error: Mutex::new(None),
        worker_stats: Mutex::new(Vec::with_capacity(plan.workers)),
    });

    let display = progress.display();
    let worker_shared = Arc::clone(&shared);
    let result = runtime::run_workers(plan.workers, move |worker| {
        run_worker(Arc::clone(&worker_shared), worker.index)
    });
    let elapsed = started.elapsed();
    display.finish();
    result?;

    if let Some(error) = shared
        .ack_error
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
    {
        return Err(io::Error::new(
            error.kind(),
            format!("writing the ack log failed: {error}"),
        ));
    }
    if let Some(file) = &shared.ack_log {
        file.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .sync_all()?;
    }

    let mut stats = Stats::new();
    for worker_stats in shared
        .worker_stats
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
    {
        stats.merge(worker_stats);
    }
    let info = RunInfo {
        run_id: run_id.to_string(),
        target: plan.target.to_string(),
        connections: plan.connections,
        workers: plan.workers,
        pipelining: plan.pipelining,
        body_bytes: plan.modes.content.shared_body_len(),
        content: plan.modes.content.describe(),
        bdat_chunk_bytes: plan.modes.bdat_chunk_len,
        starttls: plan.modes.starttls,
        implicit_tls: plan.modes.implicit_tls,
        rcpts: plan.rcpts,
        rate: plan.modes.rate,
    };
    Ok(Report::new(info, &stats, elapsed))
}

/// Runs the connection tasks of worker `index` and hands its merged stats
/// to the run.
async fn run_worker(shared: Arc<RunShared>, index: usize) -> io::Result<()> {
    let plan = &shared.plan;
    let slots = (index..plan.connections).step_by(plan.workers).count();

    let mut tasks = Vec::with_capacity(slots);
    for _ in 0..slots {
        tasks.push(runtime::spawn(run_connection(Arc::clone(&shared))));
    }

    let mut stats = Stats::new();
    for task in tasks {
        let task_stats = task
            .await
            .map_err(|error| io::Error::other(format!("connection task failed: {error}")))?;
        stats.merge(&task_stats);
    }

    shared
        .worker_stats
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(stats);
    Ok(())
}

/// Runs sessions one after the other until the run has sent enough or
/// [`SESSION_FAILURES_MAX`] sessions in a row failed.
async fn run_connection(shared: Arc<RunShared>) -> Stats {
    let mut stats = Stats::new();
    let mut acks = AckBuffer::new();
    let mut source = MessageSource::new();
    let mut pending = None;
    let mut failures = 0;

    loop {
        if pending.is_none() {
            pending = shared.claim();
        }
        if pending.is_none() {
            break;
        }

        let sent_before = stats.sent;
        let Err(error) =
            session::run_session(&shared, &mut stats, &mut acks, &mut source, &mut pending).await
        else {
            failures = 0;
            continue;
        };

        stats.record_connection_error(error.kind(), || error.to_string());
        if error.is_fatal() {
            // Every later session would fail the same way, including this
            // task's retry of its pending message.
            shared.stopped.store(true, Ordering::Relaxed);
            break;
        }
        if stats.sent > sent_before {
            failures = 0;
        }
        failures += 1;
        if failures >= SESSION_FAILURES_MAX {
            break;
        }
        runtime::sleep(RECONNECT_DELAY).await;
    }

    acks.flush(&shared);
    stats
}
