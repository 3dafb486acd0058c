//! A session's connection: the socket with its input and output buffers.
//!
//! Input is read into the spare capacity of one buffer; the parsers borrow
//! from it and the session marks what they consumed. Replies collect in the
//! output buffer and go out in one write per round trip, which is how
//! pipelined SMTP replies and IMAP untagged responses are grouped.

use std::io;
use std::rc::Rc;
use std::time::Duration;

use crate::runtime::{self, net::TcpStream};
use crate::server::Shutdown;

/// Bytes reserved before each read. 16 KiB fits a pipelined command batch or
/// a few DATA packets; larger messages take several reads.
pub const READ_CHUNK: usize = 16 * 1024;

/// Result of waiting for more input.
#[derive(Debug)]
pub enum Fill {
    /// New bytes were appended to the input.
    Data,
    /// The peer closed the connection.
    Closed,
    /// No bytes arrived before the timeout.
    TimedOut,
    /// Shutdown began while waiting.
    Shutdown,
}

/// The socket of one session with its buffers.
pub struct Connection {
    stream: Rc<TcpStream>,
    input: Vec<u8>,
    start: usize,
    output: Vec<u8>,
}

impl Connection {
    /// Wraps an accepted stream.
    pub fn new(stream: TcpStream) -> Self {
        Connection {
            stream: Rc::new(stream),
            input: Vec::with_capacity(READ_CHUNK),
            start: 0,
            output: Vec::with_capacity(4096),
        }
    }

    /// Returns the input not yet consumed.
    pub fn input(&self) -> &[u8] {
        &self.input[self.start..]
    }

    /// Marks `len` bytes at the front of the input as consumed.
    pub fn consume(&mut self, len: usize) {
        assert!(
            len <= self.input.len() - self.start,
            "consumed past the input"
        );
        self.start += len;
        if self.start == self.input.len() {
            self.input.clear();
            self.start = 0;
        }
    }

    /// Returns the unconsumed input and the output buffer together, so a
    /// parser can borrow the input while replies are appended.
    pub fn split(&mut self) -> (&[u8], &mut Vec<u8>) {
        (&self.input[self.start..], &mut self.output)
    }

    /// Returns the length of the input not yet consumed.
    pub fn pending_len(&self) -> usize {
        self.input.len() - self.start
    }

    /// Returns the output buffer, for replies to be appended.
    pub fn output(&mut self) -> &mut Vec<u8> {
        &mut self.output
    }

    /// Sends everything in the output buffer.
    pub async fn flush(&mut self) -> io::Result<()> {
        if self.output.is_empty() {
            return Ok(());
        }
        let output = std::mem::take(&mut self.output);
        let (result, mut output) = self.stream.write_all(output).await;
        output.clear();
        self.output = output;
        result
    }

    /// Reads more input, waiting at most `timeout`. With `shutdown`, also
    /// returns when shutdown begins. After `TimedOut` or `Shutdown` the
    /// unconsumed input is gone and the session must close.
    pub async fn fill(
        &mut self,
        timeout: Duration,
        shutdown: Option<&mut Shutdown>,
    ) -> io::Result<Fill> {
        self.compact();
        self.input.reserve(READ_CHUNK);
        let input = std::mem::take(&mut self.input);

        let read = runtime::timeout(timeout, self.stream.read(input));
        let outcome = match shutdown {
            Some(shutdown) => {
                if shutdown.is_started() {
                    return Ok(Fill::Shutdown);
                }
                tokio::select! {
                    outcome = read => Some(outcome),
                    _ = shutdown.started() => None,
                }
            }
            None => Some(read.await),
        };

        match outcome {
            None => Ok(Fill::Shutdown),
            Some(Err(runtime::Elapsed)) => Ok(Fill::TimedOut),
            Some(Ok((result, input))) => {
                self.input = input;
                match result? {
                    0 => Ok(Fill::Closed),
                    _ => Ok(Fill::Data),
                }
            }
        }
    }

    /// Returns a handle that writes to the socket while the input is
    /// borrowed or a read is pending, as IMAP needs for IDLE updates and for
    /// sending a large FETCH in pieces.
    pub fn writer(&self) -> Writer {
        Writer {
            stream: self.stream.clone(),
        }
    }

    /// Moves unconsumed input to the front of the buffer.
    fn compact(&mut self) {
        if self.start > 0 {
            self.input.drain(..self.start);
            self.start = 0;
        }
    }

    /// Returns whether the peer sent bytes not yet read from the socket,
    /// without blocking. Bytes already in the input buffer do not count.
    pub fn has_pending_input(&self) -> io::Result<bool> {
        self.stream.has_pending_input()
    }

    /// Closes the write half so the peer reads end of stream after the last reply.
    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown_write();
    }
}

/// A second handle to a session's socket, for writing only.
pub struct Writer {
    stream: Rc<TcpStream>,
}

impl Writer {
    /// Sends all of `buf`, then empties it for reuse.
    pub async fn send(&self, buf: &mut Vec<u8>) -> io::Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        let (result, mut returned) = self.stream.write_all(std::mem::take(buf)).await;
        returned.clear();
        *buf = returned;
        result
    }
}
