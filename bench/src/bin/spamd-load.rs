//! `spamd-load`: a persistent spamd-protocol client and a stub server, for
//! the spam speed comparison (`bench/compare/spam-compare.sh`).
//!
//! `spamd-load send --target ADDR --connections N PATH...` reads every
//! message file (a directory contributes the files directly in it) into
//! memory, then sends each one as a `CHECK SPAMC/1.5` request with
//! `Content-length`, one request per connection as spamc does. N threads
//! each keep one request in flight, so a run costs no process start per
//! message, unlike spamc. A reply counts as scanned when its status line is
//! `SPAMD/1.x 0 EX_OK` and it has a `Spam:` header. The command prints one
//! line, `messages=.. failed=.. seconds=.. msg_per_s=..`, and exits 1 when
//! any request failed.
//!
//! `spamd-load stub --listen ADDR` replies to every request with a fixed
//! ham reply after reading the whole request, without looking at the message.
//! It measures what a client costs by itself: spamc's process start, or
//! this client's own overhead. One thread per connection, until killed.
//!
//! Limits: [`MESSAGE_SIZE_MAX`] per message file, because all messages are
//! held in memory; [`CONNECTIONS_MAX`] client threads; [`REPLY_SIZE_MAX`]
//! per reply read; [`IO_TIMEOUT_MS`] for each read and write, so a stalled
//! server fails the run instead of hanging it. The stub reads at most
//! [`STUB_HEADER_SIZE_MAX`] of request header and [`MESSAGE_SIZE_MAX`] of
//! body.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Maximum size of one message file, in bytes, because every message is
/// held in memory for the whole run.
const MESSAGE_SIZE_MAX: u64 = 64 * 1024 * 1024;
/// Maximum client threads. More connections than this on loopback only
/// measure the scheduler.
const CONNECTIONS_MAX: usize = 256;
/// Maximum reply size read, in bytes: a CHECK reply is a few header lines.
const REPLY_SIZE_MAX: u64 = 1024 * 1024;
/// Maximum wait for one socket read or write, in milliseconds. spamd 4.0.1
/// scanned the corpus at about 1.4 messages per second with 2 children on
/// a loaded 2-core machine, so 60 seconds only cuts off a server that
/// stopped.
const IO_TIMEOUT_MS: u64 = 60_000;
/// Maximum request header size the stub reads, in bytes.
const STUB_HEADER_SIZE_MAX: u64 = 64 * 1024;

const USAGE: &str = "usage: spamd-load send --target ADDR --connections N PATH...\n       \
spamd-load stub --listen ADDR";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("send") => send(&args[1..]),
        Some("stub") => stub(&args[1..]),
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("spamd-load: {message}");
            ExitCode::from(2)
        }
    }
}

/// Options of `send`.
struct SendOptions {
    target: SocketAddr,
    connections: usize,
    paths: Vec<PathBuf>,
}

fn parse_send(args: &[String]) -> Result<SendOptions, String> {
    let mut target = None;
    let mut connections = 1;
    let mut paths = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--target" => {
                let value = rest.next().ok_or("--target needs ADDR")?;
                let address = value
                    .parse()
                    .map_err(|error| format!("invalid --target {value}: {error}"))?;
                target = Some(address);
            }
            "--connections" => {
                let value = rest.next().ok_or("--connections needs N")?;
                connections = value
                    .parse()
                    .map_err(|error| format!("invalid --connections {value}: {error}"))?;
            }
            _ => paths.push(PathBuf::from(arg)),
        }
    }
    let target = target.ok_or(format!("missing --target\n{USAGE}"))?;
    if connections == 0 || connections > CONNECTIONS_MAX {
        return Err(format!(
            "--connections must be 1 to {CONNECTIONS_MAX}, got {connections}"
        ));
    }
    if paths.is_empty() {
        return Err(format!("missing message PATH\n{USAGE}"));
    }
    Ok(SendOptions {
        target,
        connections,
        paths,
    })
}

/// Runs `send`: loads the messages, then sends them from N threads and
/// prints the totals.
fn send(args: &[String]) -> Result<ExitCode, String> {
    let options = parse_send(args)?;
    let messages = Arc::new(load_messages(&options.paths)?);
    if messages.is_empty() {
        return Err("no message files found".to_string());
    }

    let next = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut threads = Vec::with_capacity(options.connections);
    for _ in 0..options.connections {
        let messages = Arc::clone(&messages);
        let next = Arc::clone(&next);
        let failed = Arc::clone(&failed);
        let target = options.target;
        threads.push(std::thread::spawn(move || loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some((path, message)) = messages.get(index) else {
                return;
            };
            if let Err(error) = check_one(target, message) {
                failed.fetch_add(1, Ordering::Relaxed);
                eprintln!("spamd-load: {}: {error}", path.display());
            }
        }));
    }
    for thread in threads {
        thread
            .join()
            .map_err(|_| "a client thread panicked".to_string())?;
    }
    let seconds = started.elapsed().as_secs_f64();

    let failed = failed.load(Ordering::Relaxed);
    let scanned = messages.len() - failed;
    println!(
        "messages={scanned} failed={failed} seconds={seconds:.3} msg_per_s={:.1}",
        scanned as f64 / seconds
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Reads each file named in `paths`, or each file directly in a named
/// directory, in name order.
fn load_messages(paths: &[PathBuf]) -> Result<Vec<(PathBuf, Vec<u8>)>, String> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let entries = std::fs::read_dir(path)
                .map_err(|error| format!("cannot read directory {}: {error}", path.display()))?;
            let mut found: Vec<PathBuf> = entries
                .flatten()
                .map(|entry| entry.path())
                .filter(|entry| entry.is_file())
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    files
        .into_iter()
        .map(|path| read_message(&path).map(|message| (path, message)))
        .collect()
}

fn read_message(path: &Path) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path)
        .map_err(|error| format!("cannot open {}: {error}", path.display()))?;
    let mut message = Vec::new();
    file.take(MESSAGE_SIZE_MAX + 1)
        .read_to_end(&mut message)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    if message.len() as u64 > MESSAGE_SIZE_MAX {
        return Err(format!(
            "{} is larger than the maximum of {MESSAGE_SIZE_MAX} bytes",
            path.display()
        ));
    }
    Ok(message)
}

/// Sends one CHECK request on a new connection and validates the reply.
fn check_one(target: SocketAddr, message: &[u8]) -> Result<(), String> {
    let timeout = Duration::from_millis(IO_TIMEOUT_MS);
    let mut stream = TcpStream::connect_timeout(&target, timeout)
        .map_err(|error| format!("connect to {target} failed: {error}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .and_then(|()| stream.set_nodelay(true))
        .map_err(|error| format!("cannot set socket options: {error}"))?;

    let header = format!(
        "CHECK SPAMC/1.5\r\nContent-length: {}\r\n\r\n",
        message.len()
    );
    stream
        .write_all(header.as_bytes())
        .and_then(|()| stream.write_all(message))
        .map_err(|error| format!("write failed: {error}"))?;

    let mut reply = Vec::new();
    (&mut stream)
        .take(REPLY_SIZE_MAX)
        .read_to_end(&mut reply)
        .map_err(|error| format!("read failed: {error}"))?;
    validate_reply(&reply)
}

/// Accepts a reply whose status line is `SPAMD/1.x 0 EX_OK` and that has a
/// `Spam:` header line.
fn validate_reply(reply: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(reply);
    let mut lines = text.split("\r\n");
    let status = lines.next().unwrap_or("");
    let status_ok = status.starts_with("SPAMD/1.") && status.contains(" 0 EX_OK");
    if !status_ok {
        return Err(format!("unexpected reply status line {status:?}"));
    }
    let has_spam_header = lines
        .take_while(|line| !line.is_empty())
        .any(|line| line.to_ascii_lowercase().starts_with("spam:"));
    if !has_spam_header {
        return Err("reply has no Spam: header".to_string());
    }
    Ok(())
}

/// Runs `stub`: replies to every request with a fixed ham reply until
/// killed.
fn stub(args: &[String]) -> Result<ExitCode, String> {
    let listen = match args {
        [flag, value] if flag == "--listen" => value
            .parse::<SocketAddr>()
            .map_err(|error| format!("invalid --listen {value}: {error}"))?,
        _ => return Err(USAGE.to_string()),
    };
    let listener =
        TcpListener::bind(listen).map_err(|error| format!("cannot listen on {listen}: {error}"))?;
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                std::thread::spawn(move || {
                    if let Err(error) = answer_stub(stream) {
                        eprintln!("spamd-load stub: {error}");
                    }
                });
            }
            Err(error) => eprintln!("spamd-load stub: accept failed: {error}"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads one request (header lines, then `Content-length` bytes) and
/// writes the fixed reply. A PING gets a PONG.
fn answer_stub(stream: TcpStream) -> Result<(), String> {
    let timeout = Duration::from_millis(IO_TIMEOUT_MS);
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|error| format!("cannot set socket options: {error}"))?;
    let mut writer = stream
        .try_clone()
        .map_err(|error| format!("cannot clone socket: {error}"))?;
    let mut reader = BufReader::new(stream);

    let mut header_len: u64 = 0;
    let mut content_len: u64 = 0;
    let mut first = true;
    loop {
        let mut line = String::new();
        let read = (&mut reader)
            .take(STUB_HEADER_SIZE_MAX - header_len)
            .read_line(&mut line)
            .map_err(|error| format!("read failed: {error}"))?;
        header_len += read as u64;
        if header_len >= STUB_HEADER_SIZE_MAX {
            return Err(format!(
                "request header is over the maximum of {STUB_HEADER_SIZE_MAX} bytes"
            ));
        }
        if first && line.starts_with("PING") {
            return writer
                .write_all(b"SPAMD/1.5 0 PONG\r\n")
                .map_err(|error| format!("write failed: {error}"));
        }
        first = false;

        let line = line.trim_end();
        if read == 0 || line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                content_len = value
                    .trim()
                    .parse()
                    .map_err(|error| format!("invalid Content-length {value:?}: {error}"))?;
            }
        }
    }
    if content_len > MESSAGE_SIZE_MAX {
        return Err(format!(
            "Content-length {content_len} is over the maximum of {MESSAGE_SIZE_MAX}"
        ));
    }

    let body_len = std::io::copy(&mut (&mut reader).take(content_len), &mut std::io::sink())
        .map_err(|error| format!("read failed: {error}"))?;
    if body_len != content_len {
        return Err(format!(
            "request ended after {body_len} of {content_len} body bytes"
        ));
    }
    writer
        .write_all(b"SPAMD/1.5 0 EX_OK\r\nContent-length: 0\r\nSpam: False ; 0.0 / 5.0\r\n\r\n")
        .map_err(|error| format!("write failed: {error}"))
}
