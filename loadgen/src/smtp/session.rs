//! One SMTP session of the load: greeting, EHLO, up to `--per-connection`
//! transactions, QUIT.
//!
//! A transaction is MAIL, one RCPT per recipient, DATA, then the header
//! block and the shared body. Stepwise, each command waits for its reply.
//! With pipelining (RFC 2920), MAIL, the RCPTs and DATA go out in one write
//! and their replies are read after. Either way, the message ends with one
//! code that the stats count. When the server took the envelope, that is the
//! final reply after the data. Otherwise it is the first negative reply: to
//! MAIL, to the first RCPT when no RCPT was accepted, or to DATA. A rejected transaction
//! is followed by RSET, so the next MAIL starts clean. A 421 ends the session
//! at once, as the server closes the connection after it.
//!
//! The latency of a message runs from writing MAIL to the reply that ends it.

use std::time::Instant;

use super::client::{Client, SessionError};
use super::{AckBuffer, RunShared};
use crate::reply::has_extension;
use crate::stats::Stats;

/// Domain sent with EHLO. `.localhost` names are reserved for loopback use
/// (RFC 6761), which is where this tool runs.
const EHLO_DOMAIN: &str = "loadgen.localhost";

/// Maximum bytes in one write of message data (64 KiB). The body is copied
/// into the connection's output buffer in pieces this large, so a connection
/// never buffers a whole large message.
pub const WRITE_CHUNK_LEN: usize = 64 * 1024;

/// Reply code with which a server announces that it closes the connection.
const SERVICE_CLOSING: u16 = 421;

/// Outcome of a transaction, for the session loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TransactionEnd {
    /// The next transaction can start.
    Continue,
    /// The server replied 421 and is closing the connection.
    ServerClosing,
}

/// Outcome of the envelope (MAIL, RCPTs, DATA).
enum Envelope {
    /// DATA got 354: the message data is due.
    Ready,
    /// The transaction ended with this negative code.
    Rejected(u16),
}

/// Runs one session. `pending` is the sequence number claimed for the
/// session's first message. It stays set until that message's MAIL is about
/// to be written, so a session that fails before that leaves it to the next.
pub async fn run_session(
    shared: &RunShared,
    stats: &mut Stats,
    acks: &mut AckBuffer,
    pending: &mut Option<u64>,
) -> Result<(), SessionError> {
    let mut client = open(shared, stats).await?;

    for _ in 0..shared.plan.per_connection {
        let Some(seq) = pending.take().or_else(|| shared.claim()) else {
            break;
        };
        stats.sent += 1;
        if send_message(shared, &mut client, seq, stats, acks).await?
            == TransactionEnd::ServerClosing
        {
            return Ok(());
        }
    }

    quit(&mut client).await;
    Ok(())
}

/// Connects, reads the greeting and sends EHLO.
async fn open(shared: &RunShared, stats: &mut Stats) -> Result<Client, SessionError> {
    let started = Instant::now();
    let mut client = Client::connect(shared.plan.target).await?;
    stats.connections += 1;

    let code = client.read_reply("greeting").await?;
    if code != 220 {
        return Err(SessionError::Rejected {
            stage: "greeting",
            code,
        });
    }
    stats.record_connect(started.elapsed());

    let ehlo = format!("EHLO {EHLO_DOMAIN}\r\n");
    client.output().extend_from_slice(ehlo.as_bytes());
    client.flush("EHLO reply").await?;
    let code = client.read_reply("EHLO reply").await?;
    if code != 250 {
        return Err(SessionError::Rejected {
            stage: "ehlo",
            code,
        });
    }
    if shared.plan.pipelining && !has_extension(client.last_reply(), "PIPELINING") {
        return Err(SessionError::NoPipelining);
    }
    Ok(client)
}

/// Sends QUIT and reads the 221. Failures are ignored, because every message
/// of the session already has its final reply.
async fn quit(client: &mut Client) {
    client.output().extend_from_slice(b"QUIT\r\n");
    if client.flush("QUIT reply").await.is_ok() {
        let _ = client.read_reply("QUIT reply").await;
    }
}

/// Runs the transaction of message `seq` and records its outcome.
async fn send_message(
    shared: &RunShared,
    client: &mut Client,
    seq: u64,
    stats: &mut Stats,
    acks: &mut AckBuffer,
) -> Result<TransactionEnd, SessionError> {
    let started = Instant::now();
    let envelope = if shared.plan.pipelining {
        send_envelope_pipelined(shared, client, seq, stats).await?
    } else {
        send_envelope_stepwise(shared, client, seq, stats).await?
    };

    if let Envelope::Rejected(code) = envelope {
        stats.record_message(code, 0, started.elapsed());
        if code == SERVICE_CLOSING {
            return Ok(TransactionEnd::ServerClosing);
        }
        reset(client).await?;
        return Ok(TransactionEnd::Continue);
    }

    let message_len = send_data(shared, client, seq).await?;
    let code = client.read_reply("reply after data").await?;
    stats.record_message(code, message_len, started.elapsed());
    if (200..300).contains(&code) {
        acks.push(shared, seq);
    }

    match code {
        SERVICE_CLOSING => Ok(TransactionEnd::ServerClosing),
        _ => Ok(TransactionEnd::Continue),
    }
}

/// Sends each envelope command and waits for its reply before the next.
async fn send_envelope_stepwise(
    shared: &RunShared,
    client: &mut Client,
    seq: u64,
    stats: &mut Stats,
) -> Result<Envelope, SessionError> {
    let factory = &shared.factory;

    factory.write_mail_from(seq, client.output());
    client.flush("MAIL reply").await?;
    let code = client.read_reply("MAIL reply").await?;
    if !is_positive(code) {
        return Ok(Envelope::Rejected(code));
    }

    let mut recipients = RecipientReplies::default();
    for index in 0..factory.rcpts() {
        factory.write_rcpt_to(index, client.output());
        client.flush("RCPT reply").await?;
        let code = client.read_reply("RCPT reply").await?;
        if code == SERVICE_CLOSING {
            return Ok(Envelope::Rejected(code));
        }
        recipients.record(code, stats);
    }
    if let Some(code) = recipients.rejection() {
        return Ok(Envelope::Rejected(code));
    }

    client.output().extend_from_slice(b"DATA\r\n");
    client.flush("DATA reply").await?;
    match client.read_reply("DATA reply").await? {
        354 => Ok(Envelope::Ready),
        code => Ok(Envelope::Rejected(code)),
    }
}

/// Sends MAIL, every RCPT and DATA in one write, then reads their replies.
async fn send_envelope_pipelined(
    shared: &RunShared,
    client: &mut Client,
    seq: u64,
    stats: &mut Stats,
) -> Result<Envelope, SessionError> {
    let factory = &shared.factory;

    factory.write_mail_from(seq, client.output());
    for index in 0..factory.rcpts() {
        factory.write_rcpt_to(index, client.output());
    }
    client.output().extend_from_slice(b"DATA\r\n");
    client.flush("MAIL reply").await?;

    let mail = client.read_reply("MAIL reply").await?;
    if mail == SERVICE_CLOSING {
        return Ok(Envelope::Rejected(mail));
    }
    let mut recipients = RecipientReplies::default();
    for _ in 0..factory.rcpts() {
        let code = client.read_reply("RCPT reply").await?;
        if code == SERVICE_CLOSING {
            return Ok(Envelope::Rejected(code));
        }
        recipients.record(code, stats);
    }
    let data = client.read_reply("DATA reply").await?;

    let rejection = match (is_positive(mail), recipients.rejection()) {
        (false, _) => Some(mail),
        (true, Some(code)) => Some(code),
        (true, None) => None,
    };
    match (rejection, data) {
        (None, 354) => Ok(Envelope::Ready),
        (None, code) => Ok(Envelope::Rejected(code)),
        (Some(code), 354) => {
            // RFC 2920 section 3.1: a server may accept DATA although no
            // recipient was accepted; an empty message ends that transaction.
            client.output().extend_from_slice(b".\r\n");
            client.flush("reply after empty data").await?;
            client.read_reply("reply after empty data").await?;
            Ok(Envelope::Rejected(code))
        }
        (Some(code), _) => Ok(Envelope::Rejected(code)),
    }
}

/// Sends the header block and the body with its terminating dot, in writes
/// of at most [`WRITE_CHUNK_LEN`] bytes. Returns the message length before
/// dot stuffing, headers included.
async fn send_data(
    shared: &RunShared,
    client: &mut Client,
    seq: u64,
) -> Result<usize, SessionError> {
    let factory = &shared.factory;
    let unix_secs = ringmail_engine::time::unix_now();
    factory.write_header(seq, unix_secs, client.output());
    let header_len = client.output().len();

    let body = factory.stuffed_body();
    let mut offset = 0;
    while offset < body.len() {
        let room = WRITE_CHUNK_LEN.saturating_sub(client.output().len());
        if room == 0 {
            client.flush("reply after data").await?;
            continue;
        }
        let end = body.len().min(offset + room);
        client.output().extend_from_slice(&body[offset..end]);
        offset = end;
    }
    client.flush("reply after data").await?;

    Ok(header_len + factory.body_len())
}

/// Sends RSET after a rejected transaction and reads its reply. A negative
/// reply is ignored: the next MAIL's reply shows whether the state is clean.
async fn reset(client: &mut Client) -> Result<(), SessionError> {
    client.output().extend_from_slice(b"RSET\r\n");
    client.flush("RSET reply").await?;
    client.read_reply("RSET reply").await?;
    Ok(())
}

/// Replies to the RCPT commands of one transaction.
#[derive(Default)]
struct RecipientReplies {
    accepted: usize,
    first_rejection: Option<u16>,
}

impl RecipientReplies {
    fn record(&mut self, code: u16, stats: &mut Stats) {
        if is_positive(code) {
            self.accepted += 1;
        } else {
            stats.record_rcpt_rejected(code);
            self.first_rejection.get_or_insert(code);
        }
    }

    /// Returns the code that ends the transaction when no recipient was accepted.
    fn rejection(&self) -> Option<u16> {
        match self.accepted {
            0 => Some(self.first_rejection.unwrap_or(554)),
            _ => None,
        }
    }
}

fn is_positive(code: u16) -> bool {
    (200..300).contains(&code)
}
