//! Command-line arguments of `ringmail-loadgen` and their checks.
//!
//! [`Cli`] is the clap parser, with one subcommand per load mode ([`Command`]).
//! [`SmtpArgs::validate`] turns the raw SMTP arguments into an [`SmtpPlan`]
//! that the load run trusts, or returns a [`UsageError`], which the binary
//! prints on one line before exiting with status 2.
//!
//! Every count has a named maximum, so a typo cannot exhaust memory, file
//! descriptors or ports: see the constants below for each reason.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::message::{Template, TemplateError};
use crate::smtp_cli::{SmtpModeArgs, SmtpModes};

/// Maximum number of concurrent connections. Each has a socket and up to
/// [`crate::smtp::WRITE_CHUNK_LEN`] of buffers, and Linux's default ephemeral
/// port range (32768 to 60999) allows about 28 000 connections to one target.
pub const CONNECTIONS_MAX: usize = 20_000;

/// Maximum number of messages in one run: a billion keeps sequence numbers and
/// byte counters far from overflow and is more than any closed-loop run sends.
pub const MESSAGES_MAX: u64 = 1_000_000_000;

/// Maximum run length in seconds (one day); longer soak tests run in turns.
pub const DURATION_SECS_MAX: u64 = 86_400;

/// Maximum body size in octets (64 MiB), above the 25 MiB default message
/// size limit of Ringmail so that the server's limit can be tested. A
/// `--size` body is held once in memory and shared by every connection. A
/// `--size-dist` body is generated per message in each connection's buffers.
pub const BODY_LEN_MAX: usize = 64 * 1024 * 1024;

/// Maximum recipients per message. RFC 5321 section 4.5.3.1.8 requires
/// servers to take at least 100; 1000 leaves room to test a server's limit.
pub const RCPTS_MAX: usize = 1000;

/// Maximum number of `--to` templates; each is used by at least one recipient.
pub const TO_TEMPLATES_MAX: usize = RCPTS_MAX;

/// Maximum number of worker threads. Workers are pinned one per core, so more
/// threads than cores only add context switches.
pub const WORKERS_MAX: usize = 1024;

/// The top-level parser.
#[derive(Debug, Parser)]
#[command(
    name = "ringmail-loadgen",
    version,
    about = "Load generator for mail servers"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The load modes.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Send messages over SMTP on N connections, each sending the next message
    /// as soon as the previous one got its final reply, or at a fixed --rate.
    Smtp(SmtpArgs),
    /// Run IMAP sessions (or POP3 with --pop3) in a loop on N connections:
    /// login, read, flag, append and expunge, as imaptest does.
    Imap(crate::imap_cli::ImapArgs),
    /// Accept SMTP mail as fast as possible and store none of it.
    Sink(crate::sink_cli::SinkArgs),
    /// Check that every acknowledged message was delivered exactly once.
    Verify(crate::sink_cli::VerifyArgs),
}

/// Arguments of `ringmail-loadgen smtp`, as parsed.
#[derive(Debug, Args)]
pub struct SmtpArgs {
    /// Server to send to, as HOST:PORT; a name resolves once, to its first address.
    #[arg(long, value_name = "HOST:PORT")]
    pub target: String,

    /// Number of concurrent connections.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub connections: usize,

    /// Total number of messages to send (default 1000).
    #[arg(long, value_name = "M", conflicts_with = "duration")]
    pub messages: Option<u64>,

    /// Send for this many seconds instead of a fixed number of messages.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<u64>,

    /// Body size of each message in octets, before dot stuffing; headers
    /// come on top (default 4096). Excludes --size-dist and --corpus.
    #[arg(long, value_name = "BYTES")]
    pub size: Option<usize>,

    /// Recipients per message (default: the number of --to addresses).
    #[arg(long, value_name = "K")]
    pub rcpts: Option<usize>,

    /// Messages per connection before QUIT and a new connection.
    #[arg(long, value_name = "P", default_value_t = 100)]
    pub per_connection: u64,

    /// Send MAIL, every RCPT and DATA in one write and read the replies after
    /// (RFC 2920). The server must advertise PIPELINING.
    #[arg(long)]
    pub pipelining: bool,

    /// Envelope sender; {n} becomes the message's sequence number, from 0.
    #[arg(long, value_name = "TEMPLATE", default_value = "loadgen@localhost")]
    pub from: String,

    /// Envelope recipient; {n} becomes the recipient's index in the message,
    /// from 0. Repeat to alternate: recipient i uses the (i mod count)th.
    #[arg(long, value_name = "TEMPLATE", default_value = "postmaster@localhost")]
    pub to: Vec<String>,

    /// Worker threads, each with its own io_uring (default: one per core).
    #[arg(long, value_name = "W")]
    pub workers: Option<usize>,

    /// Also write the figures as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Write the id of every message that got 250 after DATA to this file,
    /// one per line.
    #[arg(long, value_name = "FILE")]
    pub ack_log: Option<PathBuf>,

    #[command(flatten)]
    pub modes: SmtpModeArgs,
}

/// How much a run sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    /// This many messages in total.
    Messages(u64),
    /// As many messages as fit in this time; messages in flight at the end finish.
    Duration(Duration),
}

/// Checked settings of an SMTP run.
#[derive(Debug, Clone)]
pub struct SmtpPlan {
    pub target: SocketAddr,
    pub connections: usize,
    pub amount: Amount,
    pub rcpts: usize,
    pub per_connection: u64,
    pub pipelining: bool,
    pub from: Template,
    pub to: Vec<Template>,
    pub workers: usize,
    pub json: Option<PathBuf>,
    pub ack_log: Option<PathBuf>,
    pub modes: SmtpModes,
}

/// An invalid argument, with the option it concerns and the value seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Default of `--messages` when neither it nor `--duration` is given.
pub const MESSAGES_DEFAULT: u64 = 1000;

impl SmtpArgs {
    /// Checks every argument and resolves the target.
    pub fn validate(self) -> Result<SmtpPlan, UsageError> {
        let connections = check_range("--connections", self.connections, 1, CONNECTIONS_MAX)?;
        let amount = self.amount()?;
        let per_connection = check_range("--per-connection", self.per_connection, 1, MESSAGES_MAX)?;
        let workers = match self.workers {
            Some(workers) => check_range("--workers", workers, 1, WORKERS_MAX)?,
            None => ringmail_engine::runtime::available_cores().min(WORKERS_MAX),
        };

        let from = parse_template("--from", &self.from)?;
        let to_count = check_range("number of --to", self.to.len(), 1, TO_TEMPLATES_MAX)?;
        let to = self
            .to
            .iter()
            .map(|text| parse_template("--to", text))
            .collect::<Result<Vec<_>, _>>()?;
        let rcpts = check_range("--rcpts", self.rcpts.unwrap_or(to_count), 1, RCPTS_MAX)?;
        if rcpts < to_count {
            return Err(usage(format!(
                "invalid --rcpts {rcpts}: fewer than the {to_count} --to addresses given"
            )));
        }

        Ok(SmtpPlan {
            target: resolve_target(&self.target)?,
            connections,
            amount,
            rcpts,
            per_connection,
            pipelining: self.pipelining,
            from,
            to,
            workers: workers.min(connections),
            json: self.json,
            ack_log: self.ack_log,
            modes: self.modes.validate(self.size)?,
        })
    }

    fn amount(&self) -> Result<Amount, UsageError> {
        match (self.messages, self.duration) {
            (_, Some(secs)) => {
                let secs = check_range("--duration", secs, 1, DURATION_SECS_MAX)?;
                Ok(Amount::Duration(Duration::from_secs(secs)))
            }
            (messages, None) => {
                let messages = messages.unwrap_or(MESSAGES_DEFAULT);
                Ok(Amount::Messages(check_range(
                    "--messages",
                    messages,
                    1,
                    MESSAGES_MAX,
                )?))
            }
        }
    }
}

pub(crate) fn usage(message: impl Into<String>) -> UsageError {
    UsageError(message.into())
}

pub(crate) fn check_range<T>(option: &str, value: T, min: T, max: T) -> Result<T, UsageError>
where
    T: PartialOrd + fmt::Display + Copy,
{
    if value < min || value > max {
        return Err(usage(format!(
            "invalid {option} {value}: must be from {min} to {max}"
        )));
    }
    Ok(value)
}

fn parse_template(option: &str, text: &str) -> Result<Template, UsageError> {
    Template::parse(text)
        .map_err(|error: TemplateError| usage(format!("invalid {option} {text:?}: {error}")))
}

pub(crate) fn resolve_target(target: &str) -> Result<SocketAddr, UsageError> {
    let mut addrs = target.to_socket_addrs().map_err(|error| {
        usage(format!(
            "invalid --target {target:?}: {error}; expected HOST:PORT"
        ))
    })?;
    addrs.next().ok_or_else(|| {
        usage(format!(
            "invalid --target {target:?}: the name has no address"
        ))
    })
}

#[cfg(test)]
#[path = "cli_tests.rs"]
mod tests;
