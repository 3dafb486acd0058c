//! Sans-I/O IMAP4rev1 server parser (RFC 3501) and response writers.
//!
//! The engine appends what it reads from a session to one buffer and calls
//! `parse_command` on it. The result is a `ParseOutcome`: a `Command` that
//! borrows the buffer and the number of octets it used, or "need more bytes"
//! (`Incomplete`), or "send a continuation for this literal"
//! (`NeedContinuation`), or an `Error` with the octets to drop so the
//! session can go on. Calling again from the start of the buffer after more
//! bytes arrive is cheap: literal data is skipped by length, never scanned.
//!
//! Supported beyond RFC 3501: LITERAL+ non-synchronizing literals `{N+}`
//! (RFC 7888), SASL-IR (RFC 4959), UNSELECT (RFC 3691) and IDLE (RFC 2177).
//! Lines end in CRLF, and a bare LF is accepted too.
//!
//! `Limits` bounds the work and memory one command can cost:
//! - `line_len_max` bounds the command text outside literals, so a client
//!   cannot make the engine buffer an endless line.
//! - `literal_len_max` bounds one literal. It is checked before the engine
//!   sends "+", so the client never sends data the engine would drop.
//! - `depth_max` bounds nesting (parentheses, SEARCH `NOT`/`OR`, MIME part
//!   paths) and so the parser's recursion depth.
//! - `items_max` bounds each list (flags, fetch attributes, search keys,
//!   sequence ranges, status items, header field names).
//!
//! `response` writes strings, flags, dates and mailbox names for replies,
//! and `decode_sasl_plain` splits an AUTHENTICATE PLAIN message.
//!
//! NOTE: RENAME, STARTTLS, NAMESPACE, ENABLE, ID, MOVE and UID EXPUNGE are
//! not parsed yet and come back as `ParseError::UnknownCommand`.

mod command;
mod cursor;
mod error;
mod fetch;
mod frame;
pub mod response;
mod sasl;
mod search;
mod types;

#[cfg(test)]
mod tests;

pub use error::{ParseError, ECHO_LEN_MAX};
pub use response::{
    write_flags, write_internal_date, write_literal, write_mailbox, write_nstring, write_string,
};
pub use sasl::{decode_sasl_plain, SaslPlainParts, SASL_PLAIN_FIELD_LEN_MAX};
pub use types::{
    Command, CommandBody, Date, FetchAttribute, Flag, MailboxName, SearchKey, Section, SectionText,
    SequenceNumber, SequenceRange, SequenceSet, StatusItem, StoreKind,
};

use cursor::{is_tag_char, Stop};
use frame::Frame;

/// The default `line_len_max`, in octets.
pub const LINE_LEN_MAX_DEFAULT: usize = 8192;

/// The default `literal_len_max`, in octets (64 MiB).
pub const LITERAL_LEN_MAX_DEFAULT: u32 = 64 * 1024 * 1024;

/// The default `depth_max`, in levels.
pub const DEPTH_MAX_DEFAULT: usize = 16;

/// The default `items_max`, in elements per list.
pub const ITEMS_MAX_DEFAULT: usize = 1000;

/// Bounds on one command. See the module documentation for why each exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The maximum command text, in octets, outside literals and line ends.
    pub line_len_max: usize,
    /// The maximum length of one literal, in octets.
    pub literal_len_max: u32,
    /// The maximum nesting of parentheses, SEARCH `NOT`/`OR` and MIME part
    /// numbers. The parser recurses once per level, so a large value costs stack.
    pub depth_max: usize,
    /// The maximum number of elements in one list of a command.
    ///
    /// NOTE: a sequence set counts each comma-separated range as an element,
    /// and a client that sends long UID sets after many expunges may exceed
    /// the default of 1000. Raise this limit if clients report BAD replies.
    pub items_max: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            line_len_max: LINE_LEN_MAX_DEFAULT,
            literal_len_max: LITERAL_LEN_MAX_DEFAULT,
            depth_max: DEPTH_MAX_DEFAULT,
            items_max: ITEMS_MAX_DEFAULT,
        }
    }
}

/// The outcome of `parse_command` for the start of the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseOutcome<'a> {
    /// A whole command, which used the first `consumed` octets of the buffer.
    Complete {
        command: Command<'a>,
        consumed: usize,
    },
    /// More bytes are needed, because the buffer contains an incomplete command.
    Incomplete,
    /// The buffer ends right after a synchronizing literal header "{N}\r\n" whose
    /// bytes have not arrived. The engine sends "+ ..." once for this literal
    /// (it remembers `literal_offset`, the buffer offset just after that CRLF) and waits.
    ///
    /// The same outcome, with the same offset, comes back while the data is
    /// partly in the buffer. It also comes for an empty literal `{0}`, because
    /// the client sends the rest of the command only after the "+".
    NeedContinuation {
        literal_offset: usize,
        literal_len: u32,
    },
    /// Invalid command. `tag` when one could be read (reply "<tag> BAD ..." else "* BAD ...").
    ///
    /// `consumed` covers the offending command, literals included, so the
    /// session goes on with the next one. When the error comes at or before
    /// a literal header, the command ends at that header's line end, because
    /// the client sends no data for a synchronizing literal without "+".
    ///
    /// Two errors need more from the engine. After
    /// `error.discard_to_line_end()`, `consumed` is the whole buffer and the
    /// engine must also drop what arrives up to and including the next LF.
    /// After `error.closes_connection()`, the engine replies and closes,
    /// because the client is already sending a literal that the parser will
    /// not read.
    Error {
        tag: Option<&'a str>,
        error: ParseError,
        consumed: usize,
    },
}

/// Parses the command at the start of `buf`.
///
/// Never panics, and `consumed` never exceeds `buf.len()`.
pub fn parse_command<'a>(buf: &'a [u8], limits: &Limits) -> ParseOutcome<'a> {
    match frame::scan(buf, limits) {
        Frame::Incomplete => ParseOutcome::Incomplete,
        Frame::Invalid { error, consumed } => ParseOutcome::Error {
            tag: read_tag(buf),
            error,
            consumed,
        },
        Frame::Complete { end } => parse_framed(buf, end, limits),
        Frame::AwaitingLiteral {
            literal_offset,
            literal_len,
        } => {
            // Parse up to the literal first, so a command that is already
            // invalid is rejected before the client is invited to send data.
            match command::parse(&buf[..literal_offset], limits, true) {
                Err(Stop::NeedMore) => ParseOutcome::NeedContinuation {
                    literal_offset,
                    literal_len,
                },
                Err(Stop::Invalid(error)) => ParseOutcome::Error {
                    tag: read_tag(buf),
                    error,
                    consumed: literal_offset,
                },
                Ok(_) => unexpected_end(buf, literal_offset),
            }
        }
    }
}

/// Parses the command that framing found in `buf[..end]`.
fn parse_framed<'a>(buf: &'a [u8], end: usize, limits: &Limits) -> ParseOutcome<'a> {
    match command::parse(&buf[..end], limits, false) {
        Ok(command) => ParseOutcome::Complete {
            command,
            consumed: end,
        },
        Err(Stop::Invalid(error)) => ParseOutcome::Error {
            tag: read_tag(buf),
            error,
            consumed: end,
        },
        Err(Stop::NeedMore) => unexpected_end(buf, end),
    }
}

/// Reports a command that framing and grammar disagree on. Framing and the
/// grammar agree on where literals are, so this is a fallback, not a path
/// any known input takes.
fn unexpected_end(buf: &[u8], end: usize) -> ParseOutcome<'_> {
    let error = ParseError::Syntax {
        expected: "complete command",
        offset: end,
        found: None,
    };
    ParseOutcome::Error {
        tag: read_tag(buf),
        error,
        consumed: end,
    }
}

/// Reads the tag at the start of `buf`, if one is there and ends in a space or line end.
fn read_tag(buf: &[u8]) -> Option<&str> {
    let len = buf.iter().position(|&byte| !is_tag_char(byte))?;
    if len == 0 || !matches!(buf[len], b' ' | b'\r' | b'\n') {
        return None;
    }
    Some(cursor::ascii_str(&buf[..len]))
}
