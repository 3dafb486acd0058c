//! One SMTP session of the load: greeting, EHLO, optionally STARTTLS and a
//! second EHLO, up to `--per-connection` transactions, QUIT.
//!
//! A transaction is MAIL, one RCPT per recipient, DATA, then the message
//! that [`MessageSource`] prepared. Stepwise, each command waits for its
//! reply. With pipelining (RFC 2920), MAIL, the RCPTs and DATA go out in one
//! write and their replies are read after. With `--bdat` (RFC 3030), DATA
//! is left out and the message goes in `BDAT n` chunks of `--chunk-size`
//! octets, the last one marked `LAST`. Each chunk waits for its reply,
//! unless pipelining is on, in which case up to [`BDAT_IN_FLIGHT_MAX`]
//! chunks are sent ahead. Either way, the message ends with one
//! code that the stats count. When the server took the envelope, that is the
//! final reply after the data. Otherwise it is the first negative reply: to
//! MAIL, to the first RCPT when no RCPT was accepted, or to DATA. A rejected transaction
//! is followed by RSET, so the next MAIL starts clean. A 421 ends the session
//! at once, as the server closes the connection after it.
//!
//! The latency of a message runs from writing MAIL, or in an open-loop run
//! from its scheduled time, to the reply that ends it. The latency of a
//! session runs from connecting to the reply to QUIT.

use std::time::Instant;

use ringmail_engine::runtime;

use super::client::{Client, SessionError};
use super::{AckBuffer, Claim, RunShared};
use crate::content::{Framing, MessageSource};
use crate::reply::has_extension;
use crate::stats::Stats;

/// Domain sent with EHLO. `.localhost` names are reserved for loopback use
/// (RFC 6761), which is where this tool runs.
const EHLO_DOMAIN: &str = "loadgen.localhost";

/// Maximum bytes in one write of message data (64 KiB). The body is copied
/// into the connection's output buffer in pieces this large, so a connection
/// never buffers a whole large message.
pub const WRITE_CHUNK_LEN: usize = 64 * 1024;

/// Maximum BDAT chunks sent ahead of their replies with `--pipelining`
/// (RFC 3030 lets a client pipeline BDAT). 32 unread replies of
/// about 30 octets are under 1 KiB, far below a default socket send buffer,
/// so the server does not block on writing replies while the client still
/// writes chunks.
pub const BDAT_IN_FLIGHT_MAX: usize = 32;

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

/// Runs one session. `pending` is the message claimed for the session's
/// first message. It stays set until that message's MAIL is about to be
/// written, so a session that fails before that leaves it to the next.
pub async fn run_session(
    shared: &RunShared,
    stats: &mut Stats,
    acks: &mut AckBuffer,
    source: &mut MessageSource,
    pending: &mut Option<Claim>,
) -> Result<(), SessionError> {
    let session_started = Instant::now();
    let mut client = open(shared, stats).await?;

    for _ in 0..shared.plan.per_connection {
        let Some(claim) = pending.take().or_else(|| shared.claim()) else {
            break;
        };
        let started = wait_for_schedule(claim, stats).await;
        stats.sent += 1;
        shared.progress.add_sent();
        let message = Message {
            seq: claim.seq,
            started,
        };
        if send_message(shared, &mut client, message, stats, acks, source).await?
            == TransactionEnd::ServerClosing
        {
            return Ok(());
        }
    }

    if quit(&mut client).await {
        stats.record_session(session_started.elapsed());
    }
    Ok(())
}

/// A message about to be sent: its sequence number and the instant its
/// latency counts from.
#[derive(Debug, Clone, Copy)]
struct Message {
    seq: u64,
    started: Instant,
}

/// Waits until the claimed message's scheduled time, records how late it
/// starts, and returns the instant its latency counts from: the scheduled
/// time in an open-loop run, else now.
async fn wait_for_schedule(claim: Claim, stats: &mut Stats) -> Instant {
    let Some(scheduled) = claim.scheduled else {
        return Instant::now();
    };

    // NOTE: the connection idles until the scheduled time. At low rates a
    // server's idle timeout may close it first; the message then fails as a
    // session error and is not retried.
    let now = Instant::now();
    if scheduled > now {
        runtime::sleep(scheduled - now).await;
    }
    stats.record_lag(Instant::now().saturating_duration_since(scheduled));
    scheduled
}

/// Connects, reads the greeting and sends EHLO.
async fn open(shared: &RunShared, stats: &mut Stats) -> Result<Client, SessionError> {
    let started = Instant::now();
    let mut client = Client::connect(shared.plan.target).await?;
    stats.connections += 1;
    if shared.plan.modes.implicit_tls {
        if let Some(config) = &shared.tls_config {
            client
                .start_tls(std::sync::Arc::clone(config), shared.plan.target)
                .await?;
        }
    }

    let code = client.read_reply("greeting").await?;
    if code != 220 {
        return Err(SessionError::Rejected {
            stage: "greeting",
            code,
        });
    }
    stats.record_connect(started.elapsed());

    ehlo(&mut client).await?;
    let starttls_config = match shared.plan.modes.starttls {
        true => shared.tls_config.as_ref(),
        false => None,
    };
    if let Some(config) = starttls_config {
        start_tls(shared, &mut client, config).await?;
        // RFC 3207 section 4.2: the client discards the extensions it got
        // before TLS and sends EHLO again.
        ehlo(&mut client).await?;
    }

    if shared.plan.pipelining && !has_extension(client.last_reply(), "PIPELINING") {
        return Err(SessionError::NoPipelining);
    }
    if shared.plan.modes.bdat_chunk_len.is_some() && !has_extension(client.last_reply(), "CHUNKING")
    {
        return Err(SessionError::NoChunking);
    }
    Ok(client)
}

/// Sends EHLO and expects 250. The reply stays readable as
/// [`Client::last_reply`] for the extension checks.
async fn ehlo(client: &mut Client) -> Result<(), SessionError> {
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
    Ok(())
}

/// Sends STARTTLS, expects 220 and runs the TLS handshake.
async fn start_tls(
    shared: &RunShared,
    client: &mut Client,
    config: &std::sync::Arc<rustls::ClientConfig>,
) -> Result<(), SessionError> {
    if !has_extension(client.last_reply(), "STARTTLS") {
        return Err(SessionError::NoStartTls);
    }
    client.output().extend_from_slice(b"STARTTLS\r\n");
    client.flush("STARTTLS reply").await?;
    let code = client.read_reply("STARTTLS reply").await?;
    if code != 220 {
        return Err(SessionError::Rejected {
            stage: "starttls",
            code,
        });
    }
    client
        .start_tls(std::sync::Arc::clone(config), shared.plan.target)
        .await
}

/// Sends QUIT and reads the 221, returning whether the reply arrived.
/// Failures are not errors, because every message of the session already
/// has its final reply.
async fn quit(client: &mut Client) -> bool {
    client.output().extend_from_slice(b"QUIT\r\n");
    if client.flush("QUIT reply").await.is_err() {
        return false;
    }
    client.read_reply("QUIT reply").await.is_ok()
}

/// Runs the transaction of `message` and records its outcome.
async fn send_message(
    shared: &RunShared,
    client: &mut Client,
    message: Message,
    stats: &mut Stats,
    acks: &mut AckBuffer,
    source: &mut MessageSource,
) -> Result<TransactionEnd, SessionError> {
    let Message { seq, started } = message;
    let bdat_chunk_len = shared.plan.modes.bdat_chunk_len;
    let framing = match bdat_chunk_len {
        Some(_) => Framing::Bdat,
        None => Framing::Data,
    };
    let with_data = framing == Framing::Data;
    let bdat_in_flight_max = match shared.plan.pipelining {
        true => BDAT_IN_FLIGHT_MAX,
        false => 1,
    };

    let envelope = if shared.plan.pipelining {
        send_envelope_pipelined(shared, client, seq, stats, with_data).await?
    } else {
        send_envelope_stepwise(shared, client, seq, stats, with_data).await?
    };
    if let Envelope::Rejected(code) = envelope {
        return end_rejected(client, code, started, stats).await;
    }

    let message_len = source.prepare(&shared.plan.modes.content, &shared.factory, seq, framing);
    let code = match bdat_chunk_len {
        Some(chunk_len) => match send_bdat(client, source, chunk_len, bdat_in_flight_max).await? {
            BdatEnd::Final(code) => code,
            BdatEnd::Rejected(code) => return end_rejected(client, code, started, stats).await,
        },
        None => {
            send_data(client, source).await?;
            client.read_reply("reply after data").await?
        }
    };

    stats.record_message(code, message_len, started.elapsed());
    if (200..300).contains(&code) {
        acks.push(shared, seq);
        shared.progress.add_accepted();
    }
    match code {
        SERVICE_CLOSING => Ok(TransactionEnd::ServerClosing),
        _ => Ok(TransactionEnd::Continue),
    }
}

/// Records a transaction that ended with the negative `code` before its
/// final reply, and resets the session unless the server is closing it.
async fn end_rejected(
    client: &mut Client,
    code: u16,
    started: Instant,
    stats: &mut Stats,
) -> Result<TransactionEnd, SessionError> {
    stats.record_message(code, 0, started.elapsed());
    if code == SERVICE_CLOSING {
        return Ok(TransactionEnd::ServerClosing);
    }
    reset(client).await?;
    Ok(TransactionEnd::Continue)
}

/// Sends each envelope command and waits for its reply before the next.
async fn send_envelope_stepwise(
    shared: &RunShared,
    client: &mut Client,
    seq: u64,
    stats: &mut Stats,
    with_data: bool,
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
    if !with_data {
        return Ok(Envelope::Ready);
    }

    client.output().extend_from_slice(b"DATA\r\n");
    client.flush("DATA reply").await?;
    match client.read_reply("DATA reply").await? {
        354 => Ok(Envelope::Ready),
        code => Ok(Envelope::Rejected(code)),
    }
}

/// Sends MAIL, every RCPT and DATA (unless `with_data` is false, for BDAT)
/// in one write, then reads their replies.
async fn send_envelope_pipelined(
    shared: &RunShared,
    client: &mut Client,
    seq: u64,
    stats: &mut Stats,
    with_data: bool,
) -> Result<Envelope, SessionError> {
    let factory = &shared.factory;

    factory.write_mail_from(seq, client.output());
    for index in 0..factory.rcpts() {
        factory.write_rcpt_to(index, client.output());
    }
    if with_data {
        client.output().extend_from_slice(b"DATA\r\n");
    }
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

    let rejection = match (is_positive(mail), recipients.rejection()) {
        (false, _) => Some(mail),
        (true, Some(code)) => Some(code),
        (true, None) => None,
    };
    if !with_data {
        return Ok(match rejection {
            Some(code) => Envelope::Rejected(code),
            None => Envelope::Ready,
        });
    }

    let data = client.read_reply("DATA reply").await?;
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

/// Sends the prepared head and the dot-stuffed body with its terminating
/// dot, in writes of at most [`WRITE_CHUNK_LEN`] bytes.
async fn send_data(client: &mut Client, source: &MessageSource) -> Result<(), SessionError> {
    let len = source.head().len() + source.body().len();
    send_range(client, source, 0..len, "reply after data").await?;
    client.flush("reply after data").await
}

/// End of a BDAT transfer.
enum BdatEnd {
    /// The reply to `BDAT n LAST`.
    Final(u16),
    /// A chunk before the last was rejected with this code.
    Rejected(u16),
}

/// Sends the prepared message in `BDAT n` chunks of `chunk_len` octets, the
/// last one `BDAT n LAST`. An empty message is one `BDAT 0 LAST`.
///
/// Stepwise (`in_flight_max` 1), each chunk waits for its reply. Pipelined,
/// up to `in_flight_max` chunks go out before their replies are read. After
/// a negative reply to a chunk before the last, no further chunk is sent and
/// the replies still due are read, so the session can go on with RSET.
async fn send_bdat(
    client: &mut Client,
    source: &MessageSource,
    chunk_len: usize,
    in_flight_max: usize,
) -> Result<BdatEnd, SessionError> {
    debug_assert!(in_flight_max >= 1, "at least one chunk is in flight");
    let len = source.head().len() + source.body().len();
    let mut replies = BdatReplies::default();
    let mut offset = 0;

    loop {
        let end = len.min(offset + chunk_len);
        let last = end == len;
        let command = match last {
            true => format!("BDAT {} LAST\r\n", end - offset),
            false => format!("BDAT {}\r\n", end - offset),
        };
        client.output().extend_from_slice(command.as_bytes());
        send_range(client, source, offset..end, "BDAT reply").await?;
        replies.unanswered += 1;
        if last {
            replies.last_sent = true;
            break;
        }

        if replies.unanswered == in_flight_max {
            client.flush("BDAT reply").await?;
            replies.read_one(client).await?;
            if replies.first_rejection.is_some() {
                break;
            }
        }
        offset = end;
    }

    client.flush("BDAT reply").await?;
    while replies.unanswered > 0 {
        replies.read_one(client).await?;
    }
    match replies.first_rejection {
        Some(code) => Ok(BdatEnd::Rejected(code)),
        None => Ok(BdatEnd::Final(replies.last_code)),
    }
}

/// Replies to the BDAT commands of one message.
#[derive(Default)]
struct BdatReplies {
    /// Chunks sent whose reply has not been read.
    unanswered: usize,
    /// Whether `BDAT n LAST` was sent.
    last_sent: bool,
    /// The first negative reply to a chunk before the last.
    first_rejection: Option<u16>,
    /// The reply read last; after the reply to LAST, the final reply.
    last_code: u16,
}

impl BdatReplies {
    /// Reads the reply to the oldest unanswered chunk.
    async fn read_one(&mut self, client: &mut Client) -> Result<(), SessionError> {
        let code = client.read_reply("BDAT reply").await?;
        self.unanswered -= 1;
        self.last_code = code;
        let is_final = self.last_sent && self.unanswered == 0;
        if !is_final && !is_positive(code) {
            self.first_rejection.get_or_insert(code);
        }
        Ok(())
    }
}

/// Appends `range` of the prepared message (head then body, as one run of
/// octets) to the output, flushing whenever [`WRITE_CHUNK_LEN`] is reached.
/// The tail stays in the output for the caller's flush.
async fn send_range(
    client: &mut Client,
    source: &MessageSource,
    range: std::ops::Range<usize>,
    waiting_for: &'static str,
) -> Result<(), SessionError> {
    let head = source.head();
    let body = source.body();
    let mut offset = range.start;
    while offset < range.end {
        let room = WRITE_CHUNK_LEN.saturating_sub(client.output().len());
        if room == 0 {
            client.flush(waiting_for).await?;
            continue;
        }
        let (part, part_offset) = match offset < head.len() {
            true => (&head[..range.end.min(head.len())], offset),
            false => (&body[..range.end - head.len()], offset - head.len()),
        };
        let piece_end = part.len().min(part_offset + room);
        client
            .output()
            .extend_from_slice(&part[part_offset..piece_end]);
        offset += piece_end - part_offset;
    }
    Ok(())
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
