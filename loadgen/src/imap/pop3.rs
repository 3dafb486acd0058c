//! One POP3 session of the load (RFC 1939), and a reader of POP3 replies.
//!
//! In order: connect and greeting, USER, PASS, STAT, then the steps the mix
//! draws for this session:
//!
//! - `uidl`: UIDL of every message.
//! - `retr`: RETR of [`RETRS`] random messages.
//! - `dele`: TOP n 0 of up to [`DELE_PROBES`] random messages until one has
//!   an `X-Loadgen-Id` header, then DELE of that one. A message without the
//!   header is never deleted.
//! - `commit`: the session ends with QUIT, which makes the deletion final.
//!   Sessions that do not draw it send RSET before QUIT, which undoes it.
//!
//! Every command is recorded under its name with its latency, and -ERR
//! counts as an error of that command. USER or PASS failing ends the session.
//!
//! Replies are read with two limits: [`STATUS_LINE_LEN_MAX`] for a status
//! line and [`MULTILINE_LEN_MAX`] for the data of a multi-line reply.

use std::time::Instant;

use rand::seq::index::sample;
use rand::Rng;

use super::connection::{Connection, SessionError};
use super::stats::MailboxStats;
use super::SessionContext;

/// Messages one `retr` step retrieves.
pub const RETRS: usize = 3;

/// Messages whose header one `dele` step reads, at most, looking for a
/// loadgen message. It bounds the work in a maildrop of foreign mail.
pub const DELE_PROBES: usize = 5;

/// Maximum octets of a status line, CRLF included. RFC 2449 section 4
/// allows 512; twice that tolerates servers with long texts.
pub const STATUS_LINE_LEN_MAX: usize = 1024;

/// Maximum octets of the data of one multi-line reply (64 MiB), above
/// the message size limits that servers commonly set.
pub const MULTILINE_LEN_MAX: usize = 64 * 1024 * 1024;

/// The header field that marks a message written by a loadgen.
const LOADGEN_ID_FIELD: &[u8] = b"X-Loadgen-Id:";

/// Outcome of reading a status line: the whole line, or a request for more bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum StatusLine {
    /// `+OK` (`ok` true) or `-ERR`, with the text after it, and the octets
    /// the line occupies.
    Complete {
        ok: bool,
        text: String,
        len: usize,
    },
    NeedMore,
}

/// Finds the status line at the start of `input`.
pub fn read_status_line(input: &[u8]) -> Result<StatusLine, String> {
    let Some(lf) = input.iter().position(|&byte| byte == b'\n') else {
        if input.len() > STATUS_LINE_LEN_MAX {
            return Err(format!(
                "status line of at least {} octets, more than the maximum of {STATUS_LINE_LEN_MAX}",
                input.len()
            ));
        }
        return Ok(StatusLine::NeedMore);
    };
    if lf + 1 > STATUS_LINE_LEN_MAX {
        return Err(format!(
            "status line of {} octets, more than the maximum of {STATUS_LINE_LEN_MAX}",
            lf + 1
        ));
    }

    let line = input[..lf].strip_suffix(b"\r").unwrap_or(&input[..lf]);
    let (ok, rest) = if let Some(rest) = line.strip_prefix(b"+OK") {
        (true, rest)
    } else if let Some(rest) = line.strip_prefix(b"-ERR") {
        (false, rest)
    } else {
        return Err(format!(
            "status line {:?} starts with neither +OK nor -ERR",
            String::from_utf8_lossy(line)
        ));
    };
    Ok(StatusLine::Complete {
        ok,
        text: String::from_utf8_lossy(rest).trim().to_string(),
        len: lf + 1,
    })
}

/// Finds the end of multi-line data at the start of `input`: the line that
/// is a single dot. Returns the data length (without the dot line) and the
/// octets consumed, or `None` when the dot line has not arrived.
/// `searched` is how far an earlier call looked, so a long reply is scanned once.
pub fn find_multiline_end(input: &[u8], searched: usize) -> Option<(usize, usize)> {
    if input.starts_with(b".\r\n") {
        return Some((0, 3));
    }
    // The terminator is CRLF "." CRLF; back up 4 octets so one split across
    // two reads is still found.
    let from = searched.saturating_sub(4);
    input[from..]
        .windows(5)
        .position(|window| window == b"\r\n.\r\n")
        .map(|index| {
            let data_len = from + index + 2;
            (data_len, data_len + 3)
        })
}

/// A POP3 connection after its greeting.
struct Pop3Client {
    connection: Connection,
}

/// The final reply of a command; `data` is set for multi-line replies.
struct Reply {
    ok: bool,
    text: String,
    data: Vec<u8>,
}

impl Pop3Client {
    /// Sends `command` and reads a single-line reply, or a multi-line one
    /// when `multiline` and the status is +OK.
    async fn command(
        &mut self,
        command: &[u8],
        multiline: bool,
        waiting_for: &'static str,
    ) -> Result<Reply, SessionError> {
        self.connection.output().extend_from_slice(command);
        self.connection.output().extend_from_slice(b"\r\n");
        self.connection.flush(waiting_for).await?;

        let (ok, text) = self.read_status(waiting_for).await?;
        let data = if ok && multiline {
            self.read_multiline(waiting_for).await?
        } else {
            Vec::new()
        };
        Ok(Reply { ok, text, data })
    }

    async fn read_status(
        &mut self,
        waiting_for: &'static str,
    ) -> Result<(bool, String), SessionError> {
        loop {
            match read_status_line(self.connection.buffered()).map_err(SessionError::Pop3Reply)? {
                StatusLine::Complete { ok, text, len } => {
                    self.connection.consume(len);
                    return Ok((ok, text));
                }
                StatusLine::NeedMore => self.connection.fill(waiting_for).await?,
            }
        }
    }

    async fn read_multiline(&mut self, waiting_for: &'static str) -> Result<Vec<u8>, SessionError> {
        let mut searched = 0;
        loop {
            let input = self.connection.buffered();
            if let Some((data_len, consumed)) = find_multiline_end(input, searched) {
                let data = input[..data_len].to_vec();
                self.connection.consume(consumed);
                return Ok(data);
            }
            if input.len() > MULTILINE_LEN_MAX {
                return Err(SessionError::Pop3Reply(format!(
                    "multi-line reply of at least {} octets, more than the maximum of {MULTILINE_LEN_MAX}",
                    input.len()
                )));
            }
            searched = input.len();
            self.connection.fill(waiting_for).await?;
        }
    }
}

/// Runs one POP3 session, recording each command into `stats`.
pub async fn run_session(
    mut context: SessionContext<'_>,
    stats: &mut MailboxStats,
) -> Result<(), SessionError> {
    let mut client = open(&context, stats).await?;

    let stat = timed(&mut client, stats, "STAT", b"STAT", false).await?;
    let count = parse_stat_count(&stat.text).unwrap_or(0);

    if context.runs_step("uidl") {
        timed(&mut client, stats, "UIDL", b"UIDL", true).await?;
    }
    if context.runs_step("retr") {
        retrieve(&mut context, &mut client, stats, count).await?;
    }
    if context.runs_step("dele") {
        delete_one(&mut context, &mut client, stats, count).await?;
    }
    if !context.runs_step("commit") {
        timed(&mut client, stats, "RSET", b"RSET", false).await?;
    }
    timed(&mut client, stats, "QUIT", b"QUIT", false).await?;
    Ok(())
}

/// Sends `command` and records it under `name`.
async fn timed(
    client: &mut Pop3Client,
    stats: &mut MailboxStats,
    name: &'static str,
    command: &[u8],
    multiline: bool,
) -> Result<Reply, SessionError> {
    let started = Instant::now();
    let reply = client.command(command, multiline, name).await?;
    stats.record_command(name, reply.ok, started.elapsed());
    Ok(reply)
}

/// Connects, reads the greeting and logs in with USER and PASS.
async fn open(
    context: &SessionContext<'_>,
    stats: &mut MailboxStats,
) -> Result<Pop3Client, SessionError> {
    let started = Instant::now();
    let connection = Connection::connect(context.shared.plan().target).await?;
    stats.connections += 1;
    let mut client = Pop3Client { connection };
    let (ok, text) = client.read_status("greeting").await?;
    if !ok {
        return Err(SessionError::Rejected {
            step: "greeting",
            text,
        });
    }
    stats.record_command("CONNECT", true, started.elapsed());

    let user = format!("USER {}", context.credentials.user);
    let reply = timed(&mut client, stats, "USER", user.as_bytes(), false).await?;
    if !reply.ok {
        return Err(SessionError::Rejected {
            step: "login",
            text: reply.text,
        });
    }
    let pass = format!("PASS {}", context.credentials.password);
    let reply = timed(&mut client, stats, "PASS", pass.as_bytes(), false).await?;
    if !reply.ok {
        return Err(SessionError::Rejected {
            step: "login",
            text: reply.text,
        });
    }
    Ok(client)
}

/// Returns the message count of a STAT reply text `count size`.
fn parse_stat_count(text: &str) -> Option<usize> {
    text.split_whitespace().next()?.parse().ok()
}

async fn retrieve(
    context: &mut SessionContext<'_>,
    client: &mut Pop3Client,
    stats: &mut MailboxStats,
    count: usize,
) -> Result<(), SessionError> {
    if count == 0 {
        stats.record_skip("retr: empty maildrop");
        return Ok(());
    }
    for _ in 0..RETRS {
        let number = context.rng.gen_range(1..=count);
        let command = format!("RETR {number}");
        timed(client, stats, "RETR", command.as_bytes(), true).await?;
    }
    Ok(())
}

/// Marks one message with an X-Loadgen-Id header for deletion.
async fn delete_one(
    context: &mut SessionContext<'_>,
    client: &mut Pop3Client,
    stats: &mut MailboxStats,
    count: usize,
) -> Result<(), SessionError> {
    let probes = count.min(DELE_PROBES);
    for index in sample(context.rng, count, probes) {
        let number = index + 1;
        let top = format!("TOP {number} 0");
        let reply = timed(client, stats, "TOP", top.as_bytes(), true).await?;
        if !reply.ok || !header_has_field(&reply.data, LOADGEN_ID_FIELD) {
            continue;
        }

        let dele = format!("DELE {number}");
        timed(client, stats, "DELE", dele.as_bytes(), false).await?;
        return Ok(());
    }
    stats.record_skip("dele: no loadgen message found");
    Ok(())
}

/// Returns whether the header block at the start of `message` has a line
/// starting with `field` (ASCII case ignored).
pub fn header_has_field(message: &[u8], field: &[u8]) -> bool {
    for line in message.split(|&byte| byte == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return false;
        }
        if line.len() >= field.len() && line[..field.len()].eq_ignore_ascii_case(field) {
            return true;
        }
    }
    false
}

#[cfg(test)]
#[path = "pop3_tests.rs"]
mod tests;
