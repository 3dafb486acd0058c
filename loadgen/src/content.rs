//! Message content of a run, and the per-connection buffers that contain
//! each message while it is sent.
//!
//! [`Content`] is the run's choice: one fixed body size, a body size drawn
//! per message from a uniform distribution, or the files of a [`Corpus`].
//! [`MessageSource::prepare`] lays out message `seq` as a head (written per
//! message) and a body (shared where possible), in the [`Framing`] the
//! session sends: dot-stuffed with the terminating `.` line for DATA, or
//! plain CRLF for BDAT.
//!
//! Contract: every message carries `X-Loadgen-Id: RUN-SEQ`. Generated
//! messages have the full header block of [`MessageFactory::write_header`].
//! A corpus message gets only the `X-Loadgen-Id` line, inserted before its
//! first header line, so the rest arrives byte for byte as in the file
//! (after CRLF normalization).
//!
//! The uniform size of message `seq` is a function of the seed and `seq`
//! alone, so two runs with the same `--seed` send the same sizes for the
//! same sequence numbers whatever the timing.

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use ringmail_protocols::smtp::dot_stuff;

use crate::corpus::Corpus;
use crate::message::{generate_body, MessageFactory};

/// The content of every message of a run.
#[derive(Debug, Clone)]
pub enum Content {
    /// Generated bodies of exactly this many octets.
    Fixed { body_len: usize },
    /// Generated bodies of MIN to MAX octets, inclusive, drawn per message.
    Uniform { min: usize, max: usize, seed: u64 },
    /// The files of a corpus, cycled.
    Corpus(Arc<Corpus>),
}

impl Content {
    /// Returns the body length of the shared generated body: the fixed size,
    /// or 0 when bodies are drawn per message or come from a corpus.
    pub fn shared_body_len(&self) -> usize {
        match self {
            Content::Fixed { body_len } => *body_len,
            Content::Uniform { .. } | Content::Corpus(_) => 0,
        }
    }

    /// Describes the content for the report, e.g. `fixed 4096`.
    pub fn describe(&self) -> String {
        match self {
            Content::Fixed { body_len } => format!("fixed {body_len}"),
            Content::Uniform { min, max, seed } => format!("uniform {min}-{max} seed {seed}"),
            Content::Corpus(corpus) => format!("corpus of {} files", corpus.len()),
        }
    }
}

/// Framing of the message data on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// After DATA: dot-stuffed, ending with the `.` line.
    Data,
    /// In BDAT chunks: the message as is.
    Bdat,
}

/// Location of the prepared message's body.
enum Body {
    /// A body shared by many messages.
    Shared(Arc<[u8]>),
    /// The connection's own buffer, written for this message.
    Owned,
}

/// The buffers one connection prepares its messages in.
pub struct MessageSource {
    head: Vec<u8>,
    body: Body,
    owned: Vec<u8>,
    /// Generated body before dot stuffing, for uniform sizes.
    scratch: Vec<u8>,
}

impl Default for MessageSource {
    fn default() -> Self {
        MessageSource::new()
    }
}

impl MessageSource {
    /// Creates empty buffers.
    pub fn new() -> Self {
        MessageSource {
            head: Vec::new(),
            body: Body::Owned,
            owned: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Lays out message `seq` and returns its length in octets before dot
    /// stuffing, head included.
    pub fn prepare(
        &mut self,
        content: &Content,
        factory: &MessageFactory,
        seq: u64,
        framing: Framing,
    ) -> usize {
        self.head.clear();
        match content {
            Content::Fixed { .. } => {
                factory.write_header(seq, ringmail_engine::time::unix_now(), &mut self.head);
                let body = match framing {
                    Framing::Data => factory.stuffed_body_shared(),
                    Framing::Bdat => factory.body_shared(),
                };
                self.body = Body::Shared(body);
                self.head.len() + factory.body_len()
            }
            Content::Uniform { min, max, seed } => {
                // NOTE: each connection keeps two body buffers of up to MAX
                // octets, so many connections with a large MAX need
                // connections * 2 * MAX of memory.
                factory.write_header(seq, ringmail_engine::time::unix_now(), &mut self.head);
                let body_len = uniform_body_len(*min, *max, *seed, seq);
                self.scratch = generate_body(body_len);
                self.owned.clear();
                match framing {
                    Framing::Data => dot_stuff(&self.scratch, &mut self.owned),
                    Framing::Bdat => self.owned.extend_from_slice(&self.scratch),
                }
                self.body = Body::Owned;
                self.head.len() + body_len
            }
            Content::Corpus(corpus) => {
                self.head.extend_from_slice(b"X-Loadgen-Id: ");
                factory.write_id(seq, &mut self.head);
                self.head.extend_from_slice(b"\r\n");
                let message = corpus.message(seq);
                let body = match framing {
                    Framing::Data => Arc::clone(&message.stuffed),
                    Framing::Bdat => Arc::clone(&message.crlf),
                };
                self.body = Body::Shared(body);
                self.head.len() + message.crlf.len()
            }
        }
    }

    /// Returns the head of the prepared message. It has no line that starts
    /// with a dot, so it is the same in both framings.
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// Returns the body of the prepared message in its framing.
    pub fn body(&self) -> &[u8] {
        match &self.body {
            Body::Shared(body) => body,
            Body::Owned => &self.owned,
        }
    }
}

/// Draws the body length of message `seq` from MIN..=MAX. A draw of 1,
/// possible only when MIN is 0, becomes 0, because a non-empty body ends
/// with CRLF.
pub fn uniform_body_len(min: usize, max: usize, seed: u64, seq: u64) -> usize {
    // One generator per message, seeded from the run seed and `seq` mixed
    // by the splitmix64 increment, keeps the size independent of timing.
    let mut rng = StdRng::seed_from_u64(seed ^ seq.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    match rng.gen_range(min..=max) {
        1 => 0,
        len => len,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_len_stays_in_bounds() {
        for (min, max) in [(0, 0), (0, 5), (2, 2), (100, 200), (2, 10_000)] {
            for seq in 0..500 {
                let len = uniform_body_len(min, max, 7, seq);
                assert!(len >= min, "{len} below {min}");
                assert!(len <= max, "{len} above {max}");
                assert_ne!(len, 1, "a body of 1 octet cannot end with CRLF");
            }
        }
    }

    #[test]
    fn uniform_len_repeats_for_same_seed() {
        let first: Vec<usize> = (0..50)
            .map(|seq| uniform_body_len(0, 9999, 42, seq))
            .collect();
        let again: Vec<usize> = (0..50)
            .map(|seq| uniform_body_len(0, 9999, 42, seq))
            .collect();
        let other: Vec<usize> = (0..50)
            .map(|seq| uniform_body_len(0, 9999, 43, seq))
            .collect();
        assert_eq!(first, again);
        assert_ne!(first, other);
    }
}
