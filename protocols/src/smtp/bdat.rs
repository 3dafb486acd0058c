//! The BDAT chunk receiver (RFC 3030 CHUNKING).
//!
//! After `BDAT <size> [LAST]` the client sends exactly `size` octets, with no
//! dot stuffing and no line-end rules, and then its next command. A message is
//! the concatenation of the chunks of one transaction. [`BdatReceiver`] keeps
//! the state of one message across its chunks: [`BdatReceiver::start_chunk`]
//! announces a chunk, and [`BdatReceiver::feed`] takes at most the octets still
//! owed from the caller's buffer and appends them to the message. It returns
//! [`ChunkOutcome::NeedMore`] until the chunk is complete, then
//! [`ChunkOutcome::Done`], so the bytes after the chunk stay in the buffer for
//! the command parser.
//!
//! # Limits
//!
//! [`BdatReceiver::new`] takes `message_size_max`, which bounds the sum of all
//! chunks of one message, so a client cannot make the engine buffer more than
//! the SIZE it advertised in EHLO. When a chunk would pass it, the receiver
//! stops appending but still consumes every announced octet, because the
//! client sends them whatever the server replies. The chunk then ends with
//! [`BdatError::TooBig`], and every later chunk of the message is discarded
//! and ends with the same error. The announced size itself is a `u64`, so a
//! chunk of up to `u64::MAX` octets costs time (bounded by the engine's data
//! timeout) but no memory.
//!
//! [`BdatReceiver::skip_chunk`] announces a chunk that is consumed and
//! dropped without an error: the engine uses it for a BDAT that is rejected
//! before its octets arrive (no MAIL or RCPT), so the session stays in step
//! with the client.

use super::reply::{EnhancedStatus, Reply};

/// The reason a message received with BDAT is rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BdatError {
    /// The chunks together are larger than `max` octets.
    TooBig { max: usize },
}

impl BdatError {
    /// Returns the reply to the BDAT command whose chunk failed.
    pub fn reply(&self) -> Reply {
        match *self {
            BdatError::TooBig { max } => Reply::new(
                552,
                Some(EnhancedStatus::new(5, 3, 4)),
                format!("message larger than the maximum of {max} octets"),
            ),
        }
    }
}

impl std::fmt::Display for BdatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reply().text)
    }
}

impl std::error::Error for BdatError {}

/// Result of one [`BdatReceiver::feed`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkOutcome {
    /// All of the input was consumed and octets of the chunk are still owed.
    NeedMore { consumed: usize },
    /// The chunk is complete after `consumed` octets of this input. Bytes
    /// after them belong to the next command.
    Done {
        consumed: usize,
        result: Result<(), BdatError>,
    },
}

/// Receives the chunks of one message; see the module documentation.
#[derive(Debug, Clone)]
pub struct BdatReceiver {
    message_size_max: usize,
    /// Octets of the current chunk not yet consumed.
    remaining: u64,
    /// Whether the current chunk is consumed without being appended.
    discard: bool,
    /// Octets appended to the message over all chunks.
    received_len: usize,
    /// The first error seen. Once set, nothing more is appended.
    error: Option<BdatError>,
}

impl BdatReceiver {
    /// Builds a receiver for a message of at most `message_size_max` octets,
    /// with no chunk announced yet.
    pub fn new(message_size_max: usize) -> Self {
        Self {
            message_size_max,
            remaining: 0,
            discard: false,
            received_len: 0,
            error: None,
        }
    }

    /// Announces the next chunk of `size` octets, which are appended to the
    /// message. Any octets still owed by an unfinished chunk are forgotten.
    pub fn start_chunk(&mut self, size: u64) {
        self.remaining = size;
        self.discard = false;
        let fits = usize::try_from(size)
            .ok()
            .and_then(|size| self.received_len.checked_add(size))
            .is_some_and(|total| total <= self.message_size_max);
        if !fits {
            self.fail(BdatError::TooBig {
                max: self.message_size_max,
            });
        }
    }

    /// Announces a chunk of `size` octets that is consumed and dropped,
    /// leaving the message and the error unchanged.
    pub fn skip_chunk(&mut self, size: u64) {
        self.remaining = size;
        self.discard = true;
    }

    /// Consumes up to the octets still owed by the current chunk from
    /// `input` and appends them to `message`, unless the chunk is skipped or
    /// the message is already too big.
    ///
    /// Returns `Done` once the chunk is complete, at once for a chunk of
    /// size 0. For a skipped chunk the result is always `Ok`.
    pub fn feed(&mut self, input: &[u8], message: &mut Vec<u8>) -> ChunkOutcome {
        let take_len =
            usize::try_from(self.remaining).map_or(input.len(), |owed| owed.min(input.len()));
        let taken = &input[..take_len];
        self.remaining -= take_len as u64;

        if !self.discard && self.error.is_none() {
            message.extend_from_slice(taken);
            self.received_len += take_len;
        }

        if self.remaining > 0 {
            return ChunkOutcome::NeedMore { consumed: take_len };
        }
        let result = match (self.discard, self.error) {
            (false, Some(error)) => Err(error),
            _ => Ok(()),
        };
        ChunkOutcome::Done {
            consumed: take_len,
            result,
        }
    }

    /// Returns the number of octets appended over all chunks.
    pub fn received_len(&self) -> usize {
        self.received_len
    }

    /// Returns the octets the current chunk still owes.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// Returns the first error of the message, if any.
    pub fn error(&self) -> Option<BdatError> {
        self.error
    }

    /// Records `error` unless an earlier error is already recorded.
    fn fail(&mut self, error: BdatError) {
        self.error.get_or_insert(error);
    }
}

#[cfg(test)]
#[path = "bdat_tests.rs"]
mod tests;
