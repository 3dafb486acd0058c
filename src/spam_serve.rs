//! `ringmail spam serve`: a spamd-protocol server for spamc and other spamd
//! clients.
//!
//! The rules are loaded and compiled once, with the Bayes store of the data
//! directory (unused until it has learned enough mail), and shared by all
//! workers. There is one worker thread per core. Each one accepts a
//! connection, reads one request with [`RequestReader`], scores it and
//! writes the reply, then closes the connection, so one request is served
//! per connection. SIGTERM or SIGINT stops accepting. Requests already
//! being read are finished, and then the command returns.
//!
//! Limits: each request must arrive within [`REQUEST_TIMEOUT_MS`], and the
//! reply must be written within it too, so a client that stalls keeps a
//! worker busy no longer than that. After each reply, up to
//! [`DRAIN_SIZE_MAX`] unread bytes are read and dropped for at most
//! [`DRAIN_TIMEOUT_MS`], so that closing the socket does not send a reset
//! that destroys the reply before the client reads it.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringmail_spam::bayes::BayesStore;
use ringmail_spam::compile::CompiledRules;
use ringmail_spam::score::Scorer;
use ringmail_spam::spamd::{self, ExitCode, Limits, Request, RequestReader, SpamdError, Verb};

use crate::Failure;

/// Maximum time to read one request and to write its reply, in
/// milliseconds, scoring included. spamc 4.0.1 waits 600 seconds by
/// default, but a request is at most a few hundred KiB on loopback or a
/// LAN, so 30 seconds only cuts off clients that stall.
const REQUEST_TIMEOUT_MS: u64 = 30_000;
/// Maximum time spent reading and dropping unread request bytes after a
/// reply, in milliseconds.
const DRAIN_TIMEOUT_MS: u64 = 1_000;
/// Maximum unread request bytes read and dropped after a reply.
const DRAIN_SIZE_MAX: usize = 1024 * 1024;
/// Size of one socket read.
const READ_BUFFER_LEN: usize = 64 * 1024;

/// The compiled rules, Bayes store and request limits that every worker
/// shares.
struct Service {
    scorer: Scorer,
    bayes: BayesStore,
    limits: Limits,
}

/// Runs `ringmail spam serve` on `listen` until SIGTERM or SIGINT.
pub fn serve(data_dir: &Path, listen: SocketAddr, rules_dir: Option<&Path>) -> Result<(), Failure> {
    let service = Arc::new(load_service(data_dir, rules_dir)?);

    let listener = TcpListener::bind(listen)
        .map_err(|error| Failure::runtime(format!("cannot listen on {listen}: {error}")))?;
    let local = listener
        .local_addr()
        .map_err(|error| Failure::runtime(format!("cannot read listen address: {error}")))?;
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
    ])
    .map_err(|error| Failure::runtime(format!("cannot install signal handlers: {error}")))?;

    // NOTE: a client that stalls occupies its worker until the request
    // timeout, so on a machine with few cores a few stalled clients delay
    // every other request. More workers than cores would make that less
    // likely.
    let workers_len = std::thread::available_parallelism().map_or(1, |count| count.get());
    let stopping = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::with_capacity(workers_len);
    for index in 0..workers_len {
        let listener = listener
            .try_clone()
            .map_err(|error| Failure::runtime(format!("cannot clone listener: {error}")))?;
        let service = Arc::clone(&service);
        let stopping = Arc::clone(&stopping);
        let worker = std::thread::Builder::new()
            .name(format!("spamd-{index}"))
            .spawn(move || accept_loop(&listener, &service, &stopping))
            .map_err(|error| Failure::runtime(format!("cannot start worker thread: {error}")))?;
        workers.push(worker);
    }
    tracing::info!(address = %local, workers = workers_len, "spamd server started");

    let signal = signals.forever().next();
    tracing::info!(?signal, "spamd server stopping");
    stopping.store(true, Ordering::SeqCst);
    wake_workers(local, workers_len);
    for worker in workers {
        if worker.join().is_err() {
            tracing::error!("spamd worker thread panicked");
        }
    }
    tracing::info!("spamd server stopped");
    Ok(())
}

/// Loads and compiles the rules and opens the Bayes store. The store is
/// read once, so mail learned later counts only after a restart.
fn load_service(data_dir: &Path, rules_dir: Option<&Path>) -> Result<Service, Failure> {
    let (model, _) = crate::spam_cli::load(rules_dir)?;
    let mut bayes = BayesStore::open(data_dir).map_err(|error| {
        Failure::runtime(format!("bayes store in {}: {error}", data_dir.display()))
    })?;
    let ignored = model
        .settings
        .get("bayes_ignore_header")
        .cloned()
        .unwrap_or_default();
    bayes.set_ignore_headers(ignored);
    let (compiled, _) = CompiledRules::compile(&model);
    Ok(Service {
        scorer: Scorer::new(Arc::new(model), Arc::new(compiled)),
        bayes,
        limits: Limits::default(),
    })
}

/// Unblocks every worker waiting in accept(2) by connecting to the
/// listener once per worker.
fn wake_workers(local: SocketAddr, workers_len: usize) {
    let mut target = local;
    if target.ip().is_unspecified() {
        let loopback: std::net::IpAddr = if target.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        };
        target.set_ip(loopback);
    }
    for _ in 0..workers_len {
        if let Err(error) =
            TcpStream::connect_timeout(&target, Duration::from_millis(DRAIN_TIMEOUT_MS))
        {
            tracing::warn!(%target, %error, "cannot wake a spamd worker");
        }
    }
}

fn accept_loop(listener: &TcpListener, service: &Service, stopping: &AtomicBool) {
    loop {
        let accepted = listener.accept();
        if stopping.load(Ordering::SeqCst) {
            return;
        }
        match accepted {
            Ok((stream, peer)) => handle_connection(stream, peer, service),
            Err(error) => {
                tracing::warn!(%error, "spamd accept failed");
                // Running out of file descriptors fails every accept, so
                // pause instead of spinning.
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// Reads one request from `stream`, writes its reply and closes it.
fn handle_connection(mut stream: TcpStream, peer: SocketAddr, service: &Service) {
    let deadline = Instant::now() + Duration::from_millis(REQUEST_TIMEOUT_MS);
    let request = match read_request(&mut stream, deadline, service.limits) {
        Ok(Some(request)) => request,
        Ok(None) => {
            tracing::debug!(%peer, "spamd client closed the connection before a request");
            return;
        }
        Err(error) => {
            tracing::warn!(%peer, %error, "spamd request rejected");
            let _ = write_reply(&mut stream, deadline, &spamd::error_response(&error));
            drain_and_close(stream);
            return;
        }
    };

    let reply = reply_to(&request, service);
    tracing::debug!(%peer, verb = ?request.verb, user = ?request.user, size = request.body.len(), "spamd request served");
    if let Some(reply) = reply {
        if let Err(error) = write_reply(&mut stream, deadline, &reply) {
            tracing::warn!(%peer, %error, "spamd reply write failed");
        }
    }
    // PING's request may be followed by an empty line that was not read.
    drain_and_close(stream);
}

/// Reads until a request is complete. Returns `None` when the client
/// closed the connection before sending anything.
fn read_request(
    stream: &mut TcpStream,
    deadline: Instant,
    limits: Limits,
) -> Result<Option<Request>, SpamdError> {
    let mut reader = RequestReader::new(limits);
    let mut buffer = vec![0u8; READ_BUFFER_LEN];
    let mut received = 0usize;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() || stream.set_read_timeout(Some(remaining)).is_err() {
            return Err(timed_out());
        }
        // Read no further than the end of the body, so that bytes after it
        // stay unread instead of being taken as part of this request.
        let want = match reader.body_remaining() {
            0 => buffer.len(),
            remaining => remaining.min(buffer.len()),
        };
        let count = match stream.read(&mut buffer[..want]) {
            Ok(count) => count,
            Err(error) if is_timeout(&error) => return Err(timed_out()),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => {
                return Err(SpamdError {
                    code: ExitCode::IoErr,
                    message: format!("read failed: {error}"),
                })
            }
        };
        if count == 0 {
            if received == 0 {
                return Ok(None);
            }
            return Err(SpamdError {
                code: ExitCode::Protocol,
                message: format!(
                    "connection closed after {received} bytes of an incomplete request"
                ),
            });
        }
        received += count;
        if let Some(request) = reader.feed(&buffer[..count])? {
            return Ok(Some(request));
        }
    }
}

fn is_timeout(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

fn timed_out() -> SpamdError {
    SpamdError {
        code: ExitCode::TempFail,
        message: format!("request not received within {REQUEST_TIMEOUT_MS} ms"),
    }
}

/// Scores the request and returns the reply, or `None` for `SKIP`.
fn reply_to(request: &Request, service: &Service) -> Option<Vec<u8>> {
    match request.verb {
        Verb::Ping => return Some(spamd::pong_response()),
        Verb::Skip => return None,
        Verb::Tell => {
            let error = SpamdError {
                code: ExitCode::Unavailable,
                message: "tell is not supported: learn with `ringmail spam learn`".to_string(),
            };
            return Some(spamd::error_response(&error));
        }
        _ => {}
    }
    let prepared = service.scorer.prepare(&request.body);
    let probability = service.bayes.probability(&prepared);
    let verdict = service
        .scorer
        .score(&prepared, &ringmail_spam::eval::evaluate, probability);
    Some(spamd::response(
        request.verb,
        &verdict,
        &request.body,
        service.scorer.model(),
    ))
}

fn write_reply(stream: &mut TcpStream, deadline: Instant, reply: &[u8]) -> std::io::Result<()> {
    let remaining = deadline.saturating_duration_since(Instant::now());
    stream.set_write_timeout(Some(remaining.max(Duration::from_millis(1))))?;
    stream.write_all(reply)?;
    stream.flush()
}

/// Ends the write side, then reads and drops what the client still sends,
/// within [`DRAIN_SIZE_MAX`] and [`DRAIN_TIMEOUT_MS`].
fn drain_and_close(mut stream: TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let deadline = Instant::now() + Duration::from_millis(DRAIN_TIMEOUT_MS);
    let mut buffer = vec![0u8; READ_BUFFER_LEN];
    let mut drained = 0usize;
    while drained < DRAIN_SIZE_MAX {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() || stream.set_read_timeout(Some(remaining)).is_err() {
            break;
        }
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(count) => drained += count,
        }
    }
}
