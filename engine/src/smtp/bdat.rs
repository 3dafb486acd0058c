//! BDAT (RFC 3030 CHUNKING) in the session: receiving each chunk, its
//! reply, and delivery after `BDAT <n> LAST`.
//!
//! This is a child module of `session`, so it extends `Session` with
//! [`Session::receive_chunk`], which the command loop calls for
//! `Next::Bdat`. The rules, in the order they are checked:
//!
//! - A BDAT outside a transaction, or before any accepted RCPT, gets 503
//!   only after its announced octets are read and dropped. The client sends
//!   them right after the command whatever the reply, so reading them as
//!   commands would put the session out of step.
//! - A chunk is appended as it came: no dot unstuffing and no line-end
//!   checks, so bare LF and NUL octets pass (BINARYMIME needs them).
//! - The chunks of one message together may not pass `message_size_max`.
//!   The chunk that passes it is still read, then gets `552 5.3.4`, and the
//!   transaction is dropped, so later chunks get 503.
//! - Every other chunk gets `250 2.0.0 <n> octets received`. After
//!   `BDAT <n> LAST` (including `BDAT 0 LAST`) the message goes through the
//!   same header policy and delivery as after DATA and gets the same reply.
//! - While chunk octets are owed, each read waits at most the data timeout.
//!
//! The Received header is written before the first chunk, as for DATA, so
//! it has the same form and the header policy checks the same offsets.

use std::io;

use ringmail_protocols::smtp::{BdatReceiver, ChunkOutcome, Reply};

use super::super::transaction::ChunkedMessage;
use super::{status, Session};
use crate::connection::Fill;

/// The end of one chunk's octets.
enum ChunkEnd {
    /// Every announced octet was read; the result of the chunk.
    Complete(Result<(), ringmail_protocols::smtp::BdatError>),
    /// The connection closed or timed out first; the session must end.
    Lost,
}

impl Session {
    /// Receives the chunk of a `BDAT size [LAST]` command and queues its
    /// reply. Returns false when the connection closed or timed out.
    pub(super) async fn receive_chunk(&mut self, size: u64, last: bool) -> io::Result<bool> {
        let rejection = match &self.transaction {
            None => Some("need MAIL command first"),
            Some(transaction) if transaction.envelope.recipients.is_empty() => {
                Some("need RCPT command first")
            }
            Some(_) => None,
        };
        if let Some(text) = rejection {
            return self.discard_chunk(size, text).await;
        }

        let mut chunked = self.take_chunked_message();
        chunked.receiver.start_chunk(size);
        let result = match self
            .read_chunk(&mut chunked.receiver, &mut chunked.message)
            .await?
        {
            ChunkEnd::Complete(result) => result,
            ChunkEnd::Lost => return Ok(false),
        };

        if let Err(error) = result {
            let queue_id = self
                .transaction
                .take()
                .map(|transaction| transaction.envelope.queue_id);
            tracing::info!(peer = %self.peer, queue_id, %error, "message rejected, transaction dropped");
            self.reply(error.reply());
            return Ok(true);
        }

        if !last {
            if let Some(transaction) = self.transaction.as_mut() {
                transaction.chunked = Some(chunked);
            }
            self.reply(Reply::new(
                250,
                status(2, 0, 0),
                format!("{size} octets received"),
            ));
            return Ok(true);
        }

        let reply = match self.transaction.take() {
            Some(transaction) => {
                self.finish_message(transaction.envelope, chunked.message, chunked.trace_len)
                    .await
            }
            None => Reply::new(503, status(5, 5, 1), "need MAIL command first"),
        };
        self.reply(reply);
        Ok(true)
    }

    /// Reads and drops a chunk that cannot be accepted, then queues the 503
    /// with `text`.
    async fn discard_chunk(&mut self, size: u64, text: &'static str) -> io::Result<bool> {
        let mut receiver = BdatReceiver::new(0);
        receiver.skip_chunk(size);
        let mut nothing = Vec::new();
        match self.read_chunk(&mut receiver, &mut nothing).await? {
            ChunkEnd::Complete(_) => {
                self.reply(Reply::new(503, status(5, 5, 1), text));
                Ok(true)
            }
            ChunkEnd::Lost => Ok(false),
        }
    }

    /// Returns the transaction's message in progress, or starts one with
    /// the Received header for the first chunk.
    fn take_chunked_message(&mut self) -> ChunkedMessage {
        if let Some(chunked) = self
            .transaction
            .as_mut()
            .and_then(|transaction| transaction.chunked.take())
        {
            return chunked;
        }

        let mut message = Vec::with_capacity(8192);
        self.write_received_header(&mut message);
        let trace_len = message.len();
        ChunkedMessage {
            receiver: BdatReceiver::new(self.shared.config.smtp.message_size_max),
            message,
            trace_len,
        }
    }

    /// Feeds the connection's input to `receiver` until the chunk is
    /// complete, reading more with the data timeout. On a timeout the 421
    /// is sent before returning `Lost`.
    async fn read_chunk(
        &mut self,
        receiver: &mut BdatReceiver,
        message: &mut Vec<u8>,
    ) -> io::Result<ChunkEnd> {
        loop {
            let input = self.connection.input();
            match receiver.feed(input, message) {
                ChunkOutcome::NeedMore { consumed } => self.connection.consume(consumed),
                ChunkOutcome::Done { consumed, result } => {
                    self.connection.consume(consumed);
                    return Ok(ChunkEnd::Complete(result));
                }
            }

            // Replies to the commands before this BDAT go out while the
            // chunk is still arriving.
            self.connection.flush().await?;
            let timeout = self.shared.config.smtp_data_timeout();
            match self.connection.fill(timeout, None).await? {
                Fill::Data => {}
                Fill::Closed | Fill::Shutdown => {
                    tracing::info!(
                        peer = %self.peer,
                        octets_owed = receiver.remaining(),
                        "connection closed during BDAT, message discarded"
                    );
                    return Ok(ChunkEnd::Lost);
                }
                Fill::TimedOut => {
                    let text = format!("{} timeout exceeded during BDAT", self.shared.hostname);
                    self.reply(Reply::new(421, status(4, 4, 2), text));
                    self.connection.flush().await?;
                    return Ok(ChunkEnd::Lost);
                }
            }
        }
    }
}
