//! `ringmail-loadgen imap`: closed-loop IMAP or POP3 sessions on io_uring
//! workers, in the manner of Dovecot's imaptest.
//!
//! [`run`] starts `--workers` threads with the engine's runtime and spreads
//! the `--connections` over them round-robin. Each connection is a task that
//! never leaves its worker and runs whole sessions one after the other:
//! connect, log in, a mix of commands, log out. Session numbers come from one
//! shared atomic counter until `--sessions` are claimed or `--duration` has
//! passed. Connection `i` logs in as user `i mod users`.
//!
//! The IMAP session is in [`session`] and the POP3 session in [`pop3`]; both
//! record every command into [`MailboxStats`]. [`response`] reads IMAP
//! responses, literals included, without I/O.
//!
//! # Which messages a run deletes
//!
//! A run deletes only messages that a loadgen wrote, and identifies them by
//! their header, never by position:
//!
//! - IMAP expunges only messages that a loadgen APPEND created. Each carries
//!   the header `X-Loadgen-Source: imap-append` ([`APPEND_MARKER`]). The
//!   session finds candidates with `UID SEARCH HEADER`, reads the chosen
//!   message's header to confirm it, and sets \Deleted on it alone. It then
//!   expunges with `UID EXPUNGE` when the server has UIDPLUS. Without UIDPLUS,
//!   it runs EXPUNGE only when every message with \Deleted carries the
//!   marker, and otherwise clears its \Deleted again and skips the step.
//!   Messages delivered by `ringmail-loadgen smtp` have an X-Loadgen-Id but
//!   no marker, so IMAP never deletes them.
//! - POP3 has no APPEND, so it deletes messages with an `X-Loadgen-Id`
//!   header, which every loadgen message has (SMTP and IMAP modes alike).
//!   The session reads the header with TOP before DELE.
//!
//! A connection task gives up after [`SESSION_FAILURES_MAX`] sessions in a
//! row fail, so a server that is down ends the run instead of looping on it.

mod client;
mod connection;
pub mod pop3;
pub mod response;
pub mod session;
pub mod stats;

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use ringmail_engine::runtime;

pub use connection::{SessionError, CONNECT_TIMEOUT, IO_TIMEOUT};

use crate::imap_cli::{Credentials, ImapPlan, Protocol, SessionAmount};
use crate::message::RunId;
use stats::{MailboxReport, MailboxRunInfo, MailboxStats};

/// The header line that marks a message appended by this tool over IMAP,
/// the only kind that an IMAP run expunges.
pub const APPEND_MARKER: &str = "X-Loadgen-Source: imap-append";

/// Sessions in a row that may fail before a connection task gives up. Five
/// rides out a brief listen backlog overflow.
pub const SESSION_FAILURES_MAX: u32 = 5;

/// Pause before the next session after a failed one, so a refusing server is
/// not hammered in a tight loop.
pub const RECONNECT_DELAY: Duration = Duration::from_millis(100);

/// State that every connection task of a run shares.
pub struct RunShared {
    plan: ImapPlan,
    run_id: RunId,
    next_session: AtomicU64,
    /// End of a `--duration` run.
    deadline: Option<Instant>,
    worker_stats: Mutex<Vec<MailboxStats>>,
}

impl RunShared {
    /// Claims the number of the next session, or returns `None` when the run
    /// has run enough sessions.
    fn claim(&self) -> Option<u64> {
        if let Some(deadline) = self.deadline {
            if Instant::now() >= deadline {
                return None;
            }
        }
        let number = self.next_session.fetch_add(1, Ordering::Relaxed);
        match self.plan.amount {
            SessionAmount::Sessions(total) if number >= total => None,
            _ => Some(number),
        }
    }

    /// Returns the run id that appended messages carry.
    pub fn run_id(&self) -> &RunId {
        &self.run_id
    }

    /// Returns the checked settings of the run.
    pub fn plan(&self) -> &ImapPlan {
        &self.plan
    }
}

/// Inputs of one session besides the shared state.
pub struct SessionContext<'a> {
    pub shared: &'a RunShared,
    pub credentials: &'a Credentials,
    /// Number of this session in the run, from 0, unique across workers.
    pub number: u64,
    pub rng: &'a mut StdRng,
}

impl SessionContext<'_> {
    /// Returns whether this session runs step `name`, drawn by the mix's percentage.
    pub fn runs_step(&mut self, name: &str) -> bool {
        let percent = self.shared.plan.mix.percent(name);
        percent > 0 && self.rng.gen_range(0..100) < percent
    }
}

/// Runs the load described by `plan` and returns its figures.
///
/// Fails only when a worker cannot start. Refused connections and failed
/// commands are figures in the report, not errors.
pub fn run(plan: &ImapPlan) -> io::Result<MailboxReport> {
    let run_id = RunId::random();
    let started = Instant::now();
    let shared = Arc::new(RunShared {
        plan: plan.clone(),
        run_id: run_id.clone(),
        next_session: AtomicU64::new(0),
        deadline: match plan.amount {
            SessionAmount::Duration(duration) => Some(started + duration),
            SessionAmount::Sessions(_) => None,
        },
        worker_stats: Mutex::new(Vec::with_capacity(plan.workers)),
    });

    let worker_shared = Arc::clone(&shared);
    runtime::run_workers(plan.workers, move |worker| {
        run_worker(Arc::clone(&worker_shared), worker.index)
    })?;
    let elapsed = started.elapsed();

    let mut stats = MailboxStats::new();
    for worker_stats in shared
        .worker_stats
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
    {
        stats.merge(worker_stats);
    }
    let info = MailboxRunInfo {
        run_id: run_id.to_string(),
        protocol: match plan.protocol {
            Protocol::Imap => "imap",
            Protocol::Pop3 => "pop3",
        },
        target: plan.target.to_string(),
        connections: plan.connections,
        workers: plan.workers,
        users: plan.users.len(),
        mix: plan.mix.steps.clone(),
    };
    Ok(MailboxReport::new(info, &stats, elapsed))
}

/// Runs the connection tasks of worker `index` and hands its merged stats to the run.
async fn run_worker(shared: Arc<RunShared>, index: usize) -> io::Result<()> {
    let plan = &shared.plan;
    let mut tasks = Vec::new();
    for connection in (index..plan.connections).step_by(plan.workers) {
        tasks.push(runtime::spawn(run_connection(
            Arc::clone(&shared),
            connection,
        )));
    }

    let mut stats = MailboxStats::new();
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

/// Runs sessions one after the other until the run has run enough or
/// [`SESSION_FAILURES_MAX`] sessions in a row failed.
async fn run_connection(shared: Arc<RunShared>, connection: usize) -> MailboxStats {
    let mut stats = MailboxStats::new();
    let mut rng = StdRng::from_entropy();
    let credentials = &shared.plan.users[connection % shared.plan.users.len()];
    let mut failures = 0;

    while let Some(number) = shared.claim() {
        stats.sessions += 1;
        let context = SessionContext {
            shared: &shared,
            credentials,
            number,
            rng: &mut rng,
        };
        let result = match shared.plan.protocol {
            Protocol::Imap => session::run_session(context, &mut stats).await,
            Protocol::Pop3 => pop3::run_session(context, &mut stats).await,
        };

        let Err(error) = result else {
            stats.sessions_completed += 1;
            failures = 0;
            continue;
        };
        stats.record_session_error(error.kind(), || error.to_string());
        failures += 1;
        if failures >= SESSION_FAILURES_MAX {
            break;
        }
        runtime::sleep(RECONNECT_DELAY).await;
    }
    stats
}
