//! The client side of one SMTP connection: the socket, its buffers and the
//! ways a session can fail.
//!
//! [`Client`] collects commands in an output buffer and sends them in one
//! write per [`Client::flush`], which is what lets a pipelined envelope go out
//! as one segment. [`Client::read_reply`] reads until one whole reply is
//! buffered and returns its code; replies that arrived together are taken
//! one per call. [`SessionError`] names every way a session ends early, and
//! [`SessionError::kind`] is the label the report counts it under.
//!
//! Every read and write waits at most [`IO_TIMEOUT`], and connecting at most
//! [`CONNECT_TIMEOUT`], so a stalled server ends the session instead of the run.
//!
//! After [`Client::start_tls`], the same calls go through a [`TlsLayer`]:
//! `flush` seals the output into records and `fill` opens received records,
//! so the session code is the same with and without TLS.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use ringmail_engine::runtime::{self, net::TcpStream};

use crate::reply::{parse_reply, ReplyError, ReplyOutcome};
use crate::tls::{PeerState, TlsLayer};

/// Time allowed for the TCP handshake.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Time allowed for one read or write. RFC 5321 section 4.5.3.2 gives servers
/// up to 10 minutes after the final dot. A minute is ample for a benchmark,
/// and a longer wait hides a stalled server.
pub const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// Bytes reserved before each read: many pipelined replies fit in one read.
pub const READ_CHUNK_LEN: usize = 16 * 1024;

/// Reason a session ended before QUIT.
#[derive(Debug)]
pub enum SessionError {
    /// The TCP connection could not be opened.
    Connect(io::Error),
    /// The TCP handshake did not finish within [`CONNECT_TIMEOUT`].
    ConnectTimeout,
    /// A read or write failed.
    Io(io::Error),
    /// No reply, or no progress writing, within [`IO_TIMEOUT`].
    Timeout { waiting_for: &'static str },
    /// The server closed the connection while a reply was due.
    Closed { waiting_for: &'static str },
    /// The server sent bytes that are not a valid reply.
    Reply(ReplyError),
    /// The greeting or the EHLO reply was not positive.
    Rejected { stage: &'static str, code: u16 },
    /// The server does not advertise PIPELINING, which --pipelining requires.
    NoPipelining,
    /// The server does not advertise CHUNKING, which --bdat requires.
    NoChunking,
    /// The server does not advertise STARTTLS, which --starttls requires.
    NoStartTls,
    /// The TLS handshake or a TLS record failed.
    Tls(String),
}

impl SessionError {
    /// Returns the label the report counts this error under.
    pub fn kind(&self) -> &'static str {
        match self {
            SessionError::Connect(_) => "connect",
            SessionError::ConnectTimeout => "connect timeout",
            SessionError::Io(_) => "io",
            SessionError::Timeout { .. } => "timeout",
            SessionError::Closed { .. } => "closed",
            SessionError::Reply(_) => "malformed reply",
            SessionError::Rejected { stage, .. } => stage,
            SessionError::NoPipelining => "no pipelining",
            SessionError::NoChunking => "no chunking",
            SessionError::NoStartTls => "no starttls",
            SessionError::Tls(_) => "tls",
        }
    }

    /// Returns whether every later session would fail the same way, so the
    /// run should stop instead of reconnecting.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            SessionError::NoPipelining | SessionError::NoChunking | SessionError::NoStartTls
        )
    }
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Connect(error) => write!(f, "connect failed: {error}"),
            SessionError::ConnectTimeout => {
                write!(f, "connect timed out after {} s", CONNECT_TIMEOUT.as_secs())
            }
            SessionError::Io(error) => write!(f, "socket error: {error}"),
            SessionError::Timeout { waiting_for } => write!(
                f,
                "timed out after {} s waiting for {waiting_for}",
                IO_TIMEOUT.as_secs()
            ),
            SessionError::Closed { waiting_for } => {
                write!(
                    f,
                    "server closed the connection while waiting for {waiting_for}"
                )
            }
            SessionError::Reply(error) => write!(f, "invalid reply: {error}"),
            SessionError::Rejected { stage, code } => write!(f, "{stage} rejected with {code}"),
            SessionError::NoPipelining => write!(
                f,
                "server does not advertise PIPELINING; run without --pipelining"
            ),
            SessionError::NoChunking => {
                write!(f, "server does not advertise CHUNKING; run without --bdat")
            }
            SessionError::NoStartTls => write!(
                f,
                "server does not advertise STARTTLS; run without --starttls"
            ),
            SessionError::Tls(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for SessionError {}

/// An open SMTP connection with its input and output buffers.
pub struct Client {
    stream: TcpStream,
    /// Bytes read; those before `start` are consumed.
    input: Vec<u8>,
    start: usize,
    /// Position in `input` of the reply [`Client::read_reply`] returned last.
    last_reply: Range<usize>,
    output: Vec<u8>,
    /// Set once STARTTLS succeeded; every byte then goes through it.
    tls: Option<TlsLayer>,
    /// TLS records on their way to or from the socket.
    wire: Vec<u8>,
}

impl Client {
    /// Opens a connection to `target` from the current worker.
    pub async fn connect(target: SocketAddr) -> Result<Self, SessionError> {
        let stream = runtime::timeout(CONNECT_TIMEOUT, TcpStream::connect(target))
            .await
            .map_err(|_| SessionError::ConnectTimeout)?
            .map_err(SessionError::Connect)?;

        Ok(Client {
            stream,
            input: Vec::with_capacity(READ_CHUNK_LEN),
            start: 0,
            last_reply: 0..0,
            output: Vec::with_capacity(READ_CHUNK_LEN),
            tls: None,
            wire: Vec::new(),
        })
    }

    /// Runs the TLS handshake after the server's 220 reply to STARTTLS.
    ///
    /// Fails when the server sent bytes after that reply: they arrived in
    /// plaintext and must not be taken as replies inside TLS (the STARTTLS
    /// command injection of CVE-2011-0411 in reverse).
    pub async fn start_tls(
        &mut self,
        config: Arc<rustls::ClientConfig>,
        target: SocketAddr,
    ) -> Result<(), SessionError> {
        if self.start != self.input.len() {
            return Err(SessionError::Tls(format!(
                "server sent {} bytes after its STARTTLS reply, before the tls handshake",
                self.input.len() - self.start
            )));
        }
        let layer = TlsLayer::new(config, target)
            .map_err(|error| SessionError::Tls(format!("tls setup failed: {error}")))?;
        self.tls = Some(layer);

        loop {
            self.send_records("tls handshake").await?;
            let handshaking = self.tls.as_ref().is_some_and(TlsLayer::is_handshaking);
            if !handshaking {
                return Ok(());
            }
            if self.receive_records("tls handshake").await? == PeerState::Closed {
                return Err(SessionError::Closed {
                    waiting_for: "tls handshake",
                });
            }
        }
    }

    /// Returns the output buffer, for commands to be appended before a flush.
    pub fn output(&mut self) -> &mut Vec<u8> {
        &mut self.output
    }

    /// Sends the whole output buffer and empties it.
    pub async fn flush(&mut self, waiting_for: &'static str) -> Result<(), SessionError> {
        if self.output.is_empty() {
            return Ok(());
        }

        if let Some(tls) = &mut self.tls {
            tls.seal(&self.output, &mut self.wire)
                .map_err(|error| SessionError::Tls(format!("tls write failed: {error}")))?;
            self.output.clear();
            return self.write_wire(waiting_for).await;
        }

        let output = std::mem::take(&mut self.output);
        let (result, mut output) = runtime::timeout(IO_TIMEOUT, self.stream.write_all(output))
            .await
            .map_err(|_| SessionError::Timeout { waiting_for })?;
        result.map_err(SessionError::Io)?;

        output.clear();
        self.output = output;
        Ok(())
    }

    /// Sends the records rustls has queued, if any.
    async fn send_records(&mut self, waiting_for: &'static str) -> Result<(), SessionError> {
        let Some(tls) = &mut self.tls else {
            return Ok(());
        };
        if !tls.wants_write() {
            return Ok(());
        }
        tls.take_records(&mut self.wire)
            .map_err(|error| SessionError::Tls(format!("tls write failed: {error}")))?;
        self.write_wire(waiting_for).await
    }

    /// Writes and empties the record buffer.
    async fn write_wire(&mut self, waiting_for: &'static str) -> Result<(), SessionError> {
        let wire = std::mem::take(&mut self.wire);
        let (result, mut wire) = runtime::timeout(IO_TIMEOUT, self.stream.write_all(wire))
            .await
            .map_err(|_| SessionError::Timeout { waiting_for })?;
        result.map_err(SessionError::Io)?;

        wire.clear();
        self.wire = wire;
        Ok(())
    }

    /// Reads one batch of records and appends their plaintext to the input.
    async fn receive_records(
        &mut self,
        waiting_for: &'static str,
    ) -> Result<PeerState, SessionError> {
        self.wire.clear();
        self.wire.reserve(READ_CHUNK_LEN);
        let wire = std::mem::take(&mut self.wire);
        let (result, wire) = runtime::timeout(IO_TIMEOUT, self.stream.read(wire))
            .await
            .map_err(|_| SessionError::Timeout { waiting_for })?;
        self.wire = wire;
        if result.map_err(SessionError::Io)? == 0 {
            return Err(SessionError::Closed { waiting_for });
        }

        let Some(tls) = &mut self.tls else {
            return Ok(PeerState::Open);
        };
        let peer = tls
            .open(&self.wire, &mut self.input)
            .map_err(SessionError::Tls)?;
        self.wire.clear();
        // Alerts and key updates that rustls queued in reply go out now.
        self.send_records(waiting_for).await?;
        Ok(peer)
    }

    /// Reads until one whole reply is buffered, consumes it and returns its
    /// code. `waiting_for` names the reply in errors.
    pub async fn read_reply(&mut self, waiting_for: &'static str) -> Result<u16, SessionError> {
        loop {
            match parse_reply(&self.input[self.start..]).map_err(SessionError::Reply)? {
                ReplyOutcome::Complete { code, consumed } => {
                    self.last_reply = self.start..self.start + consumed;
                    self.start += consumed;
                    return Ok(code);
                }
                ReplyOutcome::NeedMore => self.fill(waiting_for).await?,
            }
        }
    }

    /// Returns the bytes of the reply that [`Client::read_reply`] returned last.
    pub fn last_reply(&self) -> &[u8] {
        &self.input[self.last_reply.clone()]
    }

    /// Reads more bytes after the unconsumed input.
    async fn fill(&mut self, waiting_for: &'static str) -> Result<(), SessionError> {
        // Drop consumed bytes first, so the buffer grows only with replies
        // still to be parsed, which `parse_reply`'s limits bound.
        self.input.drain(..self.start);
        self.start = 0;
        self.last_reply = 0..0;
        self.input.reserve(READ_CHUNK_LEN);

        if self.tls.is_some() {
            // A batch of records may carry no plaintext (a session ticket),
            // so read until some arrives.
            let before = self.input.len();
            while self.input.len() == before {
                if self.receive_records(waiting_for).await? == PeerState::Closed
                    && self.input.len() == before
                {
                    return Err(SessionError::Closed { waiting_for });
                }
            }
            return Ok(());
        }

        let input = std::mem::take(&mut self.input);
        let (result, input) = runtime::timeout(IO_TIMEOUT, self.stream.read(input))
            .await
            .map_err(|_| SessionError::Timeout { waiting_for })?;
        self.input = input;

        match result.map_err(SessionError::Io)? {
            0 => Err(SessionError::Closed { waiting_for }),
            _ => Ok(()),
        }
    }
}
