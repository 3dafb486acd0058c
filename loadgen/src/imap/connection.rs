//! The socket of one IMAP or POP3 session, its buffers, and the ways a
//! session can end early.
//!
//! [`Connection`] collects a command in its output buffer and sends it with
//! [`Connection::flush`]. Readers parse [`Connection::buffered`] and call
//! [`Connection::consume`] for what they used, or [`Connection::fill`] for
//! more bytes. [`SessionError`] names each way a session ends before its
//! logout, and [`SessionError::kind`] is the label the report counts it under.
//!
//! Every read and write waits at most [`IO_TIMEOUT`], and connecting at most
//! [`CONNECT_TIMEOUT`], so a stalled server ends the session instead of the run.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use ringmail_engine::runtime::{self, net::TcpStream};

use super::response::ResponseError;

/// Time allowed for the TCP handshake.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Time allowed for one read or write. A minute is far above any healthy
/// reply time, and a longer wait hides a stalled server.
pub const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// Bytes reserved before each read (16 KiB).
pub const READ_CHUNK_LEN: usize = 16 * 1024;

/// Reason a session ended before its logout.
#[derive(Debug)]
pub enum SessionError {
    /// The TCP connection could not be opened.
    Connect(io::Error),
    /// The TCP handshake did not finish within [`CONNECT_TIMEOUT`].
    ConnectTimeout,
    /// A read or write failed.
    Io(io::Error),
    /// No response, or no progress writing, within [`IO_TIMEOUT`].
    Timeout { waiting_for: &'static str },
    /// The server closed the connection while a response was due.
    Closed { waiting_for: &'static str },
    /// The server sent bytes that are not a valid IMAP response.
    Response(ResponseError),
    /// The server sent bytes that are not a valid POP3 reply.
    Pop3Reply(String),
    /// A step the session cannot go on without failed: the greeting, login
    /// or mailbox selection. `text` is the server's response text.
    Rejected { step: &'static str, text: String },
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
            SessionError::Response(_) | SessionError::Pop3Reply(_) => "malformed response",
            SessionError::Rejected { step, .. } => step,
        }
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
            SessionError::Closed { waiting_for } => write!(
                f,
                "server closed the connection while waiting for {waiting_for}"
            ),
            SessionError::Response(error) => write!(f, "invalid response: {error}"),
            SessionError::Pop3Reply(error) => write!(f, "invalid POP3 reply: {error}"),
            SessionError::Rejected { step, text } => write!(f, "{step} failed: {text}"),
        }
    }
}

impl std::error::Error for SessionError {}

/// An open connection with its input and output buffers.
pub struct Connection {
    stream: TcpStream,
    /// Bytes read; those before `start` are consumed.
    input: Vec<u8>,
    start: usize,
    output: Vec<u8>,
}

impl Connection {
    /// Opens a connection to `target` from the current worker.
    pub async fn connect(target: SocketAddr) -> Result<Self, SessionError> {
        let stream = runtime::timeout(CONNECT_TIMEOUT, TcpStream::connect(target))
            .await
            .map_err(|_| SessionError::ConnectTimeout)?
            .map_err(SessionError::Connect)?;

        Ok(Connection {
            stream,
            input: Vec::with_capacity(READ_CHUNK_LEN),
            start: 0,
            output: Vec::with_capacity(READ_CHUNK_LEN),
        })
    }

    /// Returns the output buffer, for a command to be appended before a flush.
    pub fn output(&mut self) -> &mut Vec<u8> {
        &mut self.output
    }

    /// Sends the whole output buffer and empties it.
    pub async fn flush(&mut self, waiting_for: &'static str) -> Result<(), SessionError> {
        if self.output.is_empty() {
            return Ok(());
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

    /// Returns the bytes read and not yet consumed.
    pub fn buffered(&self) -> &[u8] {
        &self.input[self.start..]
    }

    /// Marks the first `len` buffered bytes as consumed.
    pub fn consume(&mut self, len: usize) {
        debug_assert!(
            len <= self.input.len() - self.start,
            "consume past the input"
        );
        self.start = (self.start + len).min(self.input.len());
    }

    /// Reads more bytes after the unconsumed input.
    pub async fn fill(&mut self, waiting_for: &'static str) -> Result<(), SessionError> {
        // Consumed bytes go first, so the buffer only grows with the one
        // response still being read, which the readers' limits bound.
        self.input.drain(..self.start);
        self.start = 0;
        self.input.reserve(READ_CHUNK_LEN);

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
