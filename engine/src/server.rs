//! `ringmail serve`: binds the listeners, starts one worker per core and runs
//! SMTP and IMAP sessions until SIGTERM or SIGINT.
//!
//! The SMTP listeners are the relay (`[smtp] listen`), submission with
//! STARTTLS (`[submission] listen`) and submission over implicit TLS
//! (`[submission] listen_tls`). All three share the SMTP connection limits
//! and the one TLS configuration built at start.
//!
//! Every worker binds its own socket for each listen address with
//! SO_REUSEPORT, so the kernel spreads connections across workers and a
//! connection stays on the worker that accepted it.
//!
//! Shutdown: the first SIGTERM or SIGINT closes every listener; sessions
//! finish the transaction they are in (an SMTP session mid-DATA completes its
//! delivery and reply) and then close with a 421 or BYE. After
//! `shutdown_grace_secs` the workers stop whatever is left and the process
//! exits 0.

use std::cell::Cell;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::config::Config;
use crate::mailstore::MailStore;
use crate::runtime::{self, net, Worker};
use crate::smtp::auth::AuthFailures;
use crate::smtp::limits::{self, ConnectionCounter, ConnectionPermit};
use crate::spam::SpamFilter;
use crate::spool;
use crate::users::UserDb;

/// State shared by every worker: read-only, except for the SMTP connection
/// counts.
pub struct Shared {
    /// The validated configuration.
    pub config: Config,
    /// Host name in greetings and Received headers.
    pub hostname: String,
    /// The user database.
    pub users: UserDb,
    /// The Maildir store.
    pub store: MailStore,
    /// Open SMTP connections, in total and per client IP.
    pub smtp_connections: Arc<ConnectionCounter>,
    /// Failed SMTP AUTH counts per client IP.
    pub auth_failures: AuthFailures,
    /// The TLS configuration of STARTTLS and the implicit-TLS listeners.
    pub tls: Arc<rustls::ServerConfig>,
    /// Spam scoring, when `[spam] enabled` is set.
    pub spam: Option<SpamFilter>,
}

/// A protocol served on a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// SMTP receiver for relay (port 25).
    Smtp,
    /// SMTP submission with STARTTLS (port 587).
    Submission,
    /// SMTP submission over implicit TLS (port 465).
    SubmissionTls,
    /// IMAP server.
    Imap,
}

impl Service {
    /// Returns every service with its configured listen addresses.
    fn listen_lists(config: &Config) -> [(Service, &Vec<SocketAddr>); 4] {
        [
            (Service::Smtp, &config.smtp.listen),
            (Service::Submission, &config.submission.listen),
            (Service::SubmissionTls, &config.submission.listen_tls),
            (Service::Imap, &config.imap.listen),
        ]
    }
}

/// Signal to sessions that the server is stopping. Sessions check it between
/// commands and close once their current transaction is done.
#[derive(Clone)]
pub struct Shutdown {
    receiver: watch::Receiver<bool>,
}

impl Shutdown {
    /// Returns whether shutdown has begun.
    pub fn is_started(&self) -> bool {
        *self.receiver.borrow()
    }

    /// Waits until shutdown begins.
    pub async fn started(&mut self) {
        // An error means the sender is gone, which also means stop.
        let _ = self.receiver.wait_for(|stopping| *stopping).await;
    }
}

/// Runs the server on `config` with its data in `data_dir` until a signal
/// stops it.
pub fn serve(config: Config, data_dir: &Path) -> io::Result<()> {
    let shared = Arc::new(open_shared(config, data_dir)?);
    let workers = shared.config.worker_count();

    let (stop_sender, stop_receiver) = watch::channel(false);
    install_signal_handler(stop_sender)?;

    // Bind every worker's sockets before any worker starts, so that a busy
    // port fails the start instead of a worker later.
    check_addresses_free(&shared.config)?;
    let mut bound: Vec<Vec<(Service, std::net::TcpListener)>> = Vec::with_capacity(workers);
    for _ in 0..workers {
        bound.push(bind_all(&shared.config)?);
    }
    for (service, addrs) in Service::listen_lists(&shared.config) {
        for addr in addrs {
            tracing::info!(?service, %addr, workers, "listening");
        }
    }

    // Recovery finishes before any worker starts, so no listener accepts
    // while the spool is being read.
    let spool_dir = data_dir.join("spool");
    let recovered = recover_spool(&spool_dir, workers)?;

    let bound = Arc::new(std::sync::Mutex::new(bound));
    runtime::run_workers(workers, move |worker: Worker| {
        let shared = shared.clone();
        let listeners = bound
            .lock()
            .expect("listener list lock poisoned")
            .pop()
            .expect("one listener set per worker");
        let spool = WorkerSpool {
            dir: spool_dir.clone(),
            recovered: recovered.lock().expect("spool recovery lock poisoned")[worker.index]
                .take()
                .unwrap_or_default(),
        };
        let shutdown = Shutdown {
            receiver: stop_receiver.clone(),
        };
        async move { run_worker(worker, shared, listeners, spool, shutdown).await }
    })?;

    tracing::info!("stopped");
    Ok(())
}

/// The spool directory and the recovered queue that one worker starts with.
struct WorkerSpool {
    dir: PathBuf,
    recovered: spool::WorkerRecovery,
}

/// Runs spool recovery for `workers` workers and logs what it found.
fn recover_spool(
    spool_dir: &Path,
    workers: usize,
) -> io::Result<Arc<std::sync::Mutex<Vec<Option<spool::WorkerRecovery>>>>> {
    let recovered = spool::recover(spool_dir, workers).map_err(|error| {
        io::Error::new(
            error.kind(),
            format!("spool recovery in {} failed: {error}", spool_dir.display()),
        )
    })?;
    let stats = recovered.stats;
    tracing::info!(
        segments = stats.segments,
        messages = stats.messages,
        queued = stats.queued,
        torn_bytes = stats.torn_bytes,
        corrupt_records = stats.corrupt_records,
        adopted_dirs = stats.adopted_dirs,
        "spool recovered"
    );
    let per_worker = recovered.workers.into_iter().map(Some).collect();
    Ok(Arc::new(std::sync::Mutex::new(per_worker)))
}

/// Opens the user database and the mail store under `data_dir`.
fn open_shared(config: Config, data_dir: &Path) -> io::Result<Shared> {
    std::fs::create_dir_all(data_dir).map_err(|error| {
        io::Error::new(
            error.kind(),
            format!(
                "cannot create data directory {}: {error}",
                data_dir.display()
            ),
        )
    })?;
    let users = UserDb::open(data_dir).map_err(io::Error::other)?;
    let store = MailStore::open(data_dir)?;
    let hostname = config.resolved_hostname();
    let tls = crate::tls::server_config(&config.tls, data_dir, &hostname)
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error.to_string()))?;
    // The rules load and compile here, before any listener is bound, so a
    // broken rule file stops the start instead of failing mail later.
    let spam = if config.spam.enabled {
        let filter = SpamFilter::start(&config.spam, data_dir, config.worker_count())
            .map_err(io::Error::other)?;
        Some(filter)
    } else {
        None
    };
    let smtp_connections = Arc::new(ConnectionCounter::new(
        config.smtp.connections_max,
        config.smtp.connections_per_ip_max,
    ));
    Ok(Shared {
        config,
        hostname,
        users,
        store,
        smtp_connections,
        auth_failures: AuthFailures::new(),
        tls,
        spam,
    })
}

/// Fails when another process already listens on one of the addresses.
///
/// SO_REUSEPORT lets any socket of the same user join a port, so a second
/// `ringmail serve` would silently share connections (and split mail between
/// two data directories). A probe socket bound without SO_REUSEPORT gets
/// EADDRINUSE in that case. The probe closes before the workers bind.
/// NOTE: a process that binds between the probe and the workers still gets in.
fn check_addresses_free(config: &Config) -> io::Result<()> {
    for addr in config.listen_addresses() {
        let probe = socket2::Socket::new(
            socket2::Domain::for_address(*addr),
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )?;
        probe.set_reuse_address(true)?;
        if addr.is_ipv6() {
            probe.set_only_v6(true)?;
        }
        probe.bind(&(*addr).into()).map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("cannot listen on {addr}: {error} (is another server running?)"),
            )
        })?;
    }
    Ok(())
}

/// Binds one socket per listen address for one worker.
fn bind_all(config: &Config) -> io::Result<Vec<(Service, std::net::TcpListener)>> {
    let mut listeners = Vec::new();
    for (service, addrs) in Service::listen_lists(config) {
        for addr in addrs {
            let listener = net::bind_reuseport(*addr).map_err(|error| {
                io::Error::new(error.kind(), format!("cannot listen on {addr}: {error}"))
            })?;
            listeners.push((service, listener));
        }
    }
    Ok(listeners)
}

/// Starts a thread that waits for SIGTERM or SIGINT and then begins shutdown.
/// A second signal while stopping exits at once with status 1.
fn install_signal_handler(stop: watch::Sender<bool>) -> io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("ringmail-signals".to_string())
        .spawn(move || {
            let mut seen = 0;
            for signal in signals.forever() {
                seen += 1;
                if seen == 1 {
                    tracing::info!(signal, "shutdown requested, finishing open sessions");
                    let _ = stop.send(true);
                } else {
                    // Log lines still queued for the log thread are lost
                    // by the exit, so this one goes to stderr directly.
                    use std::io::Write as _;
                    let _ = writeln!(
                        std::io::stderr(),
                        "ringmail: second signal {signal}, exiting now"
                    );
                    std::process::exit(1);
                }
            }
        })?;
    Ok(())
}

/// Counts the sessions open on one worker.
#[derive(Clone, Default)]
struct SessionCount(Rc<Cell<usize>>);

/// Decrements the session count when a session task ends, however it ends.
struct SessionGuard(SessionCount);

impl SessionCount {
    fn enter(&self) -> SessionGuard {
        self.0.set(self.0.get() + 1);
        SessionGuard(self.clone())
    }

    fn get(&self) -> usize {
        self.0.get()
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        let count = &self.0 .0;
        count.set(count.get() - 1);
    }
}

/// Runs one worker: accept loops for each listener, then the grace period.
async fn run_worker(
    worker: Worker,
    shared: Arc<Shared>,
    listeners: Vec<(Service, std::net::TcpListener)>,
    spool: WorkerSpool,
    shutdown: Shutdown,
) -> io::Result<()> {
    tracing::debug!(worker = worker.index, core = ?worker.core, "worker started");
    let sessions = SessionCount::default();

    // NOTE: a worker whose spool fails to open stops, while the others keep
    // serving; the process exits with the error only once they all stop.
    let worker_spool = spool::Spool::open(
        &spool.dir,
        worker.index as u32,
        &shared.config.spool,
        spool.recovered,
    )
    .await
    .map_err(|error| {
        tracing::error!(worker = worker.index, %error, "cannot open the spool");
        error
    })?;
    spool::set_current(worker_spool.clone());
    let queue_runner = runtime::spawn(spool::run_queue(
        worker_spool,
        shared.store.clone(),
        shutdown.clone(),
    ));

    let mut accept_tasks = Vec::new();
    for (service, listener) in listeners {
        let listener = net::TcpListener::from_std(listener);
        accept_tasks.push(runtime::spawn(accept_loop(
            service,
            listener,
            shared.clone(),
            sessions.clone(),
            shutdown.clone(),
        )));
    }
    for task in accept_tasks {
        let _ = task.await;
    }
    let _ = queue_runner.await;

    let grace = Duration::from_secs(shared.config.shutdown_grace_secs);
    let deadline = Instant::now() + grace;
    while sessions.get() > 0 && Instant::now() < deadline {
        runtime::sleep(Duration::from_millis(20)).await;
    }
    if sessions.get() > 0 {
        tracing::warn!(
            worker = worker.index,
            sessions = sessions.get(),
            "grace period over, closing sessions"
        );
    }
    log_batch_counters(worker);
    log_spool_counters(worker);
    Ok(())
}

/// Logs the totals of the worker's Maildir batcher, if the worker started one.
fn log_batch_counters(worker: Worker) {
    let Some(counters) = crate::mailstore::batch::current_counters() else {
        return;
    };
    tracing::info!(
        worker = worker.index,
        batches = counters.batches,
        messages = counters.messages,
        failed_messages = counters.failed_messages,
        file_syncs = counters.file_syncs,
        dir_syncs = counters.dir_syncs,
        largest_batch = counters.largest_batch,
        "maildir batch totals"
    );
}

/// Logs this worker's spool counters, so a benchmark run can show how many
/// appends each group commit covered.
fn log_spool_counters(worker: Worker) {
    let Some(spool) = crate::spool::current() else {
        return;
    };
    let counters = spool.counters();
    tracing::info!(
        worker = worker.index,
        appends = counters.appends,
        syncs = counters.syncs,
        writes = counters.writes,
        direct_writes = counters.direct_writes,
        segments_recycled = counters.segments_recycled,
        "spool totals"
    );
}

/// Accepts connections until shutdown and spawns a session for each.
async fn accept_loop(
    service: Service,
    listener: net::TcpListener,
    shared: Arc<Shared>,
    sessions: SessionCount,
    mut shutdown: Shutdown,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.started() => {
                // Refuse new connections at once. Otherwise the socket stays
                // open, and completes handshakes that get no greeting, until
                // the ring finishes cancelling the accept.
                listener.stop_accepting();
                return;
            }
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // EMFILE, ENFILE, ENOBUFS: back off instead of spinning.
                tracing::warn!(?service, %error, "accept failed");
                runtime::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let guard = sessions.enter();
        let permit = match admit(service, &shared, peer) {
            Ok(permit) => permit,
            Err(rejection) => {
                runtime::spawn(async move {
                    let _guard = guard;
                    limits::reject_connection(stream, peer, rejection).await;
                });
                continue;
            }
        };
        let shared = shared.clone();
        let shutdown = shutdown.clone();
        runtime::spawn(async move {
            let _guard = guard;
            let _permit = permit;
            run_session(service, stream, peer, shared, shutdown).await;
        });
    }
}

/// Counts a new SMTP or submission connection against the connection limits. IMAP
/// connections are not limited here and get no permit.
fn admit(
    service: Service,
    shared: &Arc<Shared>,
    peer: SocketAddr,
) -> Result<Option<ConnectionPermit>, limits::Rejection> {
    match service {
        Service::Smtp | Service::Submission | Service::SubmissionTls => {
            shared.smtp_connections.admit(peer.ip()).map(Some)
        }
        Service::Imap => Ok(None),
    }
}

/// Runs one session of `service` to its end and logs how it ended.
async fn run_session(
    service: Service,
    stream: net::TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Shutdown,
) {
    use crate::smtp::SmtpService;
    let result = match service {
        Service::Smtp => {
            crate::smtp::run_session(stream, peer, SmtpService::Relay, shared, shutdown).await
        }
        Service::Submission => {
            crate::smtp::run_session(stream, peer, SmtpService::Submission, shared, shutdown).await
        }
        Service::SubmissionTls => {
            crate::smtp::run_tls_session(stream, peer, SmtpService::Submission, shared, shutdown)
                .await
        }
        Service::Imap => crate::imap::run_session(stream, peer, shared, shutdown).await,
    };
    if let Err(error) = result {
        tracing::debug!(?service, %peer, %error, "session ended with an error");
    }
}

/// Returns the default data directory, `./ringmail-data`.
pub fn default_data_dir() -> PathBuf {
    PathBuf::from("ringmail-data")
}
