//! The DATA receiver: dot-unstuffing and the one true end of data.
//!
//! [`DataReceiver`] takes the bytes that follow a `354` reply, in chunks of
//! any size, appends the unstuffed message to the caller's buffer and returns
//! [`DataOutcome::Done`] at the end of data. [`dot_stuff`] is the sending side.
//!
//! # The SMTP smuggling defense
//!
//! Only `<CRLF>.<CRLF>` ends DATA, and the start of DATA counts as the start
//! of a line, so an empty message is `.\r\n`. A bare LF (not after CR) or a
//! bare CR (not before LF) is never a line end. When a receiving server takes
//! a sequence such as `<LF>.<CRLF>` as the end of data but the relay that
//! forwarded the message did not, an attacker can hide a second message
//! inside the first (CVE-2023-51764, CVE-2023-51765, CVE-2023-51766). RFC 5321 section 2.3.8 forbids bare CR
//! and LF in data, so this receiver rejects the message with [`DataError`].
//! It stops appending, keeps scanning and discarding through the real end of
//! data, then returns `Done` with the error. Because it consumes exactly
//! through that end, the bytes after it go back to the command parser, and
//! a session is never out of step with its client.
//!
//! # Limits
//!
//! [`DataLimits::message_size_max`] bounds the unstuffed octets appended, so a
//! client cannot make the engine buffer more than the size it advertised in
//! EHLO. [`DataLimits::line_len_max`] bounds one unstuffed line without its
//! CRLF. RFC 5321 section 4.5.3.1.6 sets this at [`TEXT_LINE_LEN_MAX`], and
//! longer lines break downstream software. Both errors use the same
//! discard-through-the-end behaviour as bare CR and LF.
//!
//! # Scanning
//!
//! The state (see `State`) is the position relative to a line: at its start,
//! after a leading dot, after a CR. Inside a line, `memchr2` finds the next CR
//! or LF and the run before it is copied in one call. In pseudo-code:
//!
//! ```text
//! loop:
//!   Body:      copy up to next CR/LF; CR -> Cr; LF -> error BareLf
//!   Cr:        LF -> append CRLF, LineStart; else error BareCr, Body
//!   LineStart: '.' -> Dot; else Body
//!   Dot:       CR -> DotCr; else drop the dot, Body
//!   DotCr:     LF -> Done; else error BareCr, Body
//! ```
//!
//! The tests compare this against a byte-at-a-time reference on random and
//! adversarial input split into random chunks.

use super::reply::{EnhancedStatus, Reply};

/// RFC 5321 4.5.3.1.6: a text line is at most 1000 octets including CRLF.
pub const TEXT_LINE_LEN_MAX: usize = 998;

/// Limits on one message received with DATA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataLimits {
    /// Maximum unstuffed message size in octets, CRLF line ends included.
    pub message_size_max: usize,
    /// Maximum unstuffed line length in octets, CRLF excluded.
    pub line_len_max: usize,
}

/// Every reason a message received with DATA is rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataError {
    /// An LF not preceded by CR.
    BareLf,
    /// A CR not followed by LF.
    BareCr,
    /// A line longer than `max` octets, CRLF excluded.
    LineTooLong { max: usize },
    /// A message larger than `max` octets after unstuffing.
    TooBig { max: usize },
}

impl DataError {
    /// Returns the reply to the end of data that rejects the message.
    pub fn reply(&self) -> Reply {
        match *self {
            DataError::BareLf => Reply::new(
                550,
                Some(EnhancedStatus::new(5, 5, 2)),
                "bare LF in message data is not allowed",
            ),
            DataError::BareCr => Reply::new(
                550,
                Some(EnhancedStatus::new(5, 5, 2)),
                "bare CR in message data is not allowed",
            ),
            DataError::LineTooLong { max } => Reply::new(
                550,
                Some(EnhancedStatus::new(5, 5, 2)),
                format!("message line longer than the maximum of {max} octets"),
            ),
            DataError::TooBig { max } => Reply::new(
                552,
                Some(EnhancedStatus::new(5, 3, 4)),
                format!("message larger than the maximum of {max} octets"),
            ),
        }
    }
}

impl std::fmt::Display for DataError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reply().text)
    }
}

impl std::error::Error for DataError {}

/// Result of one [`DataReceiver::feed`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataOutcome {
    /// All of the input was consumed and the end of data is still ahead.
    NeedMore { consumed: usize },
    /// End of data `CRLF . CRLF` seen; `consumed` counts through its final LF. Bytes after
    /// it belong to the next command (pipelining).
    Done {
        consumed: usize,
        result: Result<(), DataError>,
    },
}

/// Position of the receiver relative to the current line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line: after a CRLF, or at the start of DATA.
    LineStart,
    /// After a `.` at the start of a line.
    Dot,
    /// After `.` CR at the start of a line: LF here ends the data.
    DotCr,
    /// Inside a line.
    Body,
    /// After a CR inside a line: anything but LF makes it a bare CR.
    Cr,
    /// The end of data was seen; `result` is final.
    Finished { result: Result<(), DataError> },
}

/// Receives one message after DATA; see the module documentation.
/// Create one receiver per message.
#[derive(Debug, Clone)]
pub struct DataReceiver {
    limits: DataLimits,
    state: State,
    /// The first error seen. Once set, nothing more is appended.
    error: Option<DataError>,
    /// Unstuffed octets appended so far.
    received_len: usize,
    /// Octets appended to the current line, CRLF excluded.
    line_len: usize,
}

impl DataReceiver {
    /// Builds a receiver positioned at the start of the message.
    pub fn new(limits: DataLimits) -> Self {
        Self {
            limits,
            state: State::LineStart,
            error: None,
            received_len: 0,
            line_len: 0,
        }
    }

    /// Scans `input`, appends the dot-unstuffed message (CRLF line ends, the final
    /// CRLF before the dot included, the terminating ".\r\n" excluded) to `message`.
    ///
    /// Returns `NeedMore` having consumed all of `input`, or `Done` at the end
    /// of data. Once the receiver has returned `Done`, later calls consume
    /// nothing and return the same result.
    pub fn feed(&mut self, input: &[u8], message: &mut Vec<u8>) -> DataOutcome {
        if let State::Finished { result } = self.state {
            return DataOutcome::Done {
                consumed: 0,
                result,
            };
        }

        let mut position = 0;
        while position < input.len() {
            match self.state {
                State::Body => position += self.scan_body(&input[position..], message),
                State::LineStart => {
                    // A line that starts with '.' may be the end of data, or a
                    // stuffed line whose dot is dropped. Neither is appended yet.
                    if input[position] == b'.' {
                        self.state = State::Dot;
                        position += 1;
                    } else {
                        self.state = State::Body;
                    }
                }
                State::Dot => {
                    if input[position] == b'\r' {
                        self.state = State::DotCr;
                        position += 1;
                    } else {
                        // Unstuff: the dot is dropped and this byte starts the
                        // line's content, so Body handles it (an LF here is bare).
                        self.state = State::Body;
                    }
                }
                State::DotCr => {
                    if input[position] == b'\n' {
                        let result = self.error.map_or(Ok(()), Err);
                        self.state = State::Finished { result };
                        return DataOutcome::Done {
                            consumed: position + 1,
                            result,
                        };
                    }
                    // The CR after the dot was bare. Body handles this byte,
                    // which may itself be a CR that starts a real line end.
                    self.fail(DataError::BareCr);
                    self.state = State::Body;
                }
                State::Cr => {
                    if input[position] == b'\n' {
                        self.append_crlf(message);
                        self.state = State::LineStart;
                        position += 1;
                    } else {
                        self.fail(DataError::BareCr);
                        self.state = State::Body;
                    }
                }
                // Not reached, because the DotCr arm returns as soon as the
                // data ends. Returning Done keeps this path panic-free.
                State::Finished { result } => {
                    return DataOutcome::Done {
                        consumed: position,
                        result,
                    }
                }
            }
        }

        DataOutcome::NeedMore {
            consumed: input.len(),
        }
    }

    /// Returns the number of unstuffed octets appended so far.
    pub fn received_len(&self) -> usize {
        self.received_len
    }

    /// Handles the `Body` state: copies the run before the next CR or LF and
    /// moves past that byte. Returns the number of input bytes consumed.
    fn scan_body(&mut self, input: &[u8], message: &mut Vec<u8>) -> usize {
        let Some(index) = memchr::memchr2(b'\r', b'\n', input) else {
            self.append_text(input, message);
            return input.len();
        };

        self.append_text(&input[..index], message);
        if input[index] == b'\r' {
            self.state = State::Cr;
        } else {
            // A bare LF is not a line end, so the receiver stays inside the line.
            self.fail(DataError::BareLf);
        }
        index + 1
    }

    /// Appends line content, stopping at the first byte that would exceed
    /// the line or message limit. The line limit is checked first, so a byte
    /// that exceeds both reports `LineTooLong`.
    fn append_text(&mut self, text: &[u8], message: &mut Vec<u8>) {
        if self.error.is_some() || text.is_empty() {
            return;
        }

        let line_room = self.limits.line_len_max.saturating_sub(self.line_len);
        let size_room = self
            .limits
            .message_size_max
            .saturating_sub(self.received_len);
        if text.len() <= line_room && text.len() <= size_room {
            message.extend_from_slice(text);
            self.line_len += text.len();
            self.received_len += text.len();
            return;
        }

        let (appended_len, error) = if line_room <= size_room {
            (
                line_room,
                DataError::LineTooLong {
                    max: self.limits.line_len_max,
                },
            )
        } else {
            (
                size_room,
                DataError::TooBig {
                    max: self.limits.message_size_max,
                },
            )
        };
        message.extend_from_slice(&text[..appended_len]);
        self.line_len += appended_len;
        self.received_len += appended_len;
        self.fail(error);
    }

    /// Appends the CRLF that ends a line, which counts toward the message
    /// size but not the line length.
    fn append_crlf(&mut self, message: &mut Vec<u8>) {
        self.line_len = 0;
        if self.error.is_some() {
            return;
        }

        let size_room = self
            .limits
            .message_size_max
            .saturating_sub(self.received_len);
        let appended_len = size_room.min(2);
        message.extend_from_slice(&b"\r\n"[..appended_len]);
        self.received_len += appended_len;
        if appended_len < 2 {
            self.fail(DataError::TooBig {
                max: self.limits.message_size_max,
            });
        }
    }

    /// Records `error` unless an earlier error is already recorded.
    fn fail(&mut self, error: DataError) {
        self.error.get_or_insert(error);
    }
}

/// Dot-stuffs `message` for sending (RFC 5321 4.5.2) and appends ".\r\n"-terminated data to `out`.
///
/// Every line that starts with `.` gets a second dot. Every line end is sent
/// as CRLF: a bare LF or bare CR in `message` becomes CRLF, so the output can
/// never carry a smuggling sequence, and a last line without a line end gets
/// one. For a message with only CRLF line ends that is empty or ends in CRLF,
/// [`DataReceiver`] returns exactly `message` from the output.
pub fn dot_stuff(message: &[u8], out: &mut Vec<u8>) {
    // Estimate: one extra dot per 64 octets is generous for real mail.
    out.reserve(message.len() + message.len() / 64 + 5);

    let mut position = 0;
    while position < message.len() {
        // `position` is at the start of a line here.
        if message[position] == b'.' {
            out.push(b'.');
        }

        let rest = &message[position..];
        let Some(index) = memchr::memchr2(b'\r', b'\n', rest) else {
            out.extend_from_slice(rest);
            out.extend_from_slice(b"\r\n");
            break;
        };

        out.extend_from_slice(&rest[..index]);
        out.extend_from_slice(b"\r\n");
        let is_crlf = rest[index] == b'\r' && rest.get(index + 1) == Some(&b'\n');
        position += index + if is_crlf { 2 } else { 1 };
    }

    out.extend_from_slice(b".\r\n");
}

#[cfg(test)]
#[path = "data_tests.rs"]
mod tests;
