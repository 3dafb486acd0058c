//! `ParseError`, the one error type of the IMAP parser.
//!
//! Every variant maps to one tagged (or untagged) `BAD` reply. `message()`
//! returns the reply text: lowercase, naming the limit and the value seen.
//! Two conditions ask the engine for more than a reply, and `ParseError`
//! exposes them as methods so the engine does not match on variants.
//! `discard_to_line_end()` is true after a line exceeded `line_len_max`
//! before its line end arrived. `closes_connection()` is true when the
//! client is sending a non-synchronizing literal that the parser will not read.
//!
//! Values copied from client input into an error (a command name) are cut
//! to `ECHO_LEN_MAX` octets so that an error never carries a whole line.

use std::fmt;

/// The maximum number of client octets that an error message repeats.
pub const ECHO_LEN_MAX: usize = 32;

/// The reason a command, or a SASL PLAIN message, is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The command's text, literals excluded, exceeds `line_len_max`.
    LineTooLong {
        /// The configured maximum.
        line_len_max: usize,
        /// The octets seen so far, literals excluded.
        line_len: usize,
        /// Whether the line end of the offending line was in the buffer.
        /// When false, the engine must keep discarding input through the next LF.
        line_end_seen: bool,
        /// Whether that line ended with a non-synchronizing literal header,
        /// whose data the client sends without waiting.
        non_sync_literal_follows: bool,
    },
    /// A literal header announces more octets than `literal_len_max`.
    LiteralTooLong {
        /// The configured maximum.
        literal_len_max: u32,
        /// The announced length, saturated at `u64::MAX`.
        literal_len: u64,
        /// True for `{N}`, false for the non-synchronizing `{N+}`.
        synchronizing: bool,
    },
    /// The line does not start with a tag.
    MissingTag,
    /// The command name is not one this parser supports.
    UnknownCommand {
        /// The name as sent, cut to `ECHO_LEN_MAX` octets.
        name: String,
    },
    /// The input does not match the grammar of RFC 3501.
    Syntax {
        /// The input that the grammar allows at this point.
        expected: &'static str,
        /// The offset of the offending octet from the start of the command.
        offset: usize,
        /// The offending octet, `None` at the end of the command.
        found: Option<u8>,
    },
    /// A sequence number or UID of 0, which RFC 3501 does not allow.
    ZeroInSequenceSet,
    /// A number that does not fit in 32 bits.
    NumberTooLarge {
        /// The offset of the number from the start of the command.
        offset: usize,
    },
    /// Parentheses, `NOT`, `OR` or MIME part numbers nest deeper than `depth_max`.
    DepthExceeded {
        /// The configured maximum.
        depth_max: usize,
    },
    /// A list contains more elements than `items_max`.
    TooManyItems {
        /// The kind of list, such as "fetch attributes".
        what: &'static str,
        /// The configured maximum.
        items_max: usize,
    },
    /// A date or date-time that is malformed or names a day that does not exist.
    InvalidDate {
        /// The offset of the date from the start of the command.
        offset: usize,
    },
    /// A SASL PLAIN message (RFC 4616) that does not have the form
    /// `[authzid] NUL authcid NUL password`.
    InvalidSaslPlain {
        /// The defect found in the message.
        reason: &'static str,
    },
}

impl ParseError {
    /// Formats the text of the `BAD` reply: lowercase, with the limit and the value seen.
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// Whether the engine must drop further input through the next LF before
    /// parsing again, because the offending line had not ended in the buffer.
    pub fn discard_to_line_end(&self) -> bool {
        matches!(
            self,
            ParseError::LineTooLong {
                line_end_seen: false,
                ..
            }
        )
    }

    /// Whether the engine should reply `BAD` and close the connection.
    ///
    /// True for an oversized non-synchronizing literal, and for a line too
    /// long that ends in a non-synchronizing literal header. The client sends
    /// such a literal without waiting, and the parser would read its bytes as
    /// commands.
    pub fn closes_connection(&self) -> bool {
        matches!(
            self,
            ParseError::LiteralTooLong {
                synchronizing: false,
                ..
            } | ParseError::LineTooLong {
                non_sync_literal_follows: true,
                ..
            }
        )
    }

    /// Builds `UnknownCommand` from the raw name, cut to `ECHO_LEN_MAX` octets.
    pub(crate) fn unknown_command(name: &[u8]) -> ParseError {
        let shown = &name[..name.len().min(ECHO_LEN_MAX)];
        ParseError::UnknownCommand {
            name: String::from_utf8_lossy(shown).into_owned(),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::LineTooLong {
                line_len_max,
                line_len,
                ..
            } => write!(
                f,
                "command line too long: {line_len} octets exceed line_len_max {line_len_max}"
            ),
            ParseError::LiteralTooLong {
                literal_len_max,
                literal_len,
                ..
            } => write!(
                f,
                "literal too long: {literal_len} octets exceed literal_len_max {literal_len_max}"
            ),
            ParseError::MissingTag => write!(f, "missing tag at the start of the line"),
            ParseError::UnknownCommand { name } => write!(f, "unknown command {name:?}"),
            ParseError::Syntax {
                expected,
                offset,
                found,
            } => {
                write!(
                    f,
                    "invalid syntax at offset {offset}: expected {expected}, found "
                )?;
                match found {
                    Some(byte) => write!(f, "{:?}", char::from(*byte)),
                    None => write!(f, "end of command"),
                }
            }
            ParseError::ZeroInSequenceSet => {
                write!(f, "invalid sequence number 0, because numbers start at 1")
            }
            ParseError::NumberTooLarge { offset } => write!(
                f,
                "number at offset {offset} exceeds the 32-bit maximum {}",
                u32::MAX
            ),
            ParseError::DepthExceeded { depth_max } => {
                write!(
                    f,
                    "nesting too deep: more than depth_max {depth_max} levels"
                )
            }
            ParseError::TooManyItems { what, items_max } => {
                write!(f, "too many {what}: more than items_max {items_max}")
            }
            ParseError::InvalidDate { offset } => write!(f, "invalid date at offset {offset}"),
            ParseError::InvalidSaslPlain { reason } => {
                write!(f, "invalid sasl plain message: {reason}")
            }
        }
    }
}

impl std::error::Error for ParseError {}
