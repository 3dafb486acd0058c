//! Client-side SMTP reply parser: finds one complete reply at the front of
//! the bytes read from a server.
//!
//! [`parse_reply`] is sans-I/O. It takes the unconsumed input and returns
//! [`ReplyOutcome::Complete`] with the reply code and the number of bytes the
//! reply took, or [`ReplyOutcome::NeedMore`] when the last line has not
//! arrived yet. "Need more bytes" is an outcome, not an error; [`ReplyError`]
//! is only for input that can never become a valid reply.
//!
//! A reply is one or more lines `ddd-text` closed by a line `ddd text` or
//! `ddd` (RFC 5321 section 4.2.1), and every line carries the same code.
//! Lines end at LF, with the CR before it optional, because a load generator
//! should measure lenient servers rather than fail on them.
//!
//! Limits: a line is at most [`REPLY_LINE_MAX`] octets (the RFC 5321 section
//! 4.5.3.1.5 maximum, CRLF included), and a reply has at most
//! [`REPLY_LINES_MAX`] lines, so a broken or hostile server cannot make the
//! client buffer without bound.

use std::fmt;

pub use ringmail_protocols::smtp::REPLY_LINE_MAX;

/// Maximum number of lines in one reply. An EHLO reply lists one extension per
/// line, and real servers advertise fewer than 30.
pub const REPLY_LINES_MAX: usize = 128;

/// Result of looking for a reply at the front of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyOutcome {
    /// A whole reply: its code and the number of input bytes it took.
    Complete { code: u16, consumed: usize },
    /// The reply is not complete yet; read more and call again.
    NeedMore,
}

/// Input that cannot start a valid reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyError {
    /// A line reached [`REPLY_LINE_MAX`] octets without ending.
    LineTooLong { len: usize },
    /// The reply had more than [`REPLY_LINES_MAX`] lines.
    TooManyLines { lines: usize },
    /// A line did not start with three digits followed by `-`, space or the
    /// line end. Holds the start of the line, with unprintable bytes as `?`.
    Malformed { line: String },
    /// A continuation line carried a code other than the first line's.
    CodeMismatch { first: u16, seen: u16 },
}

impl fmt::Display for ReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplyError::LineTooLong { len } => write!(
                f,
                "reply line of {len} octets has no end, max {REPLY_LINE_MAX} octets"
            ),
            ReplyError::TooManyLines { lines } => {
                write!(f, "reply has {lines} lines, max {REPLY_LINES_MAX}")
            }
            ReplyError::Malformed { line } => write!(f, "malformed reply line {line:?}"),
            ReplyError::CodeMismatch { first, seen } => {
                write!(
                    f,
                    "reply code {seen} on a continuation line of a {first} reply"
                )
            }
        }
    }
}

impl std::error::Error for ReplyError {}

/// Number of bytes of a malformed line that [`ReplyError::Malformed`] keeps.
const MALFORMED_EXCERPT_LEN: usize = 40;

/// Looks for one complete reply at the front of `input`.
pub fn parse_reply(input: &[u8]) -> Result<ReplyOutcome, ReplyError> {
    let mut first_code = None;
    let mut position = 0;

    for _ in 0..REPLY_LINES_MAX {
        let rest = &input[position..];
        let Some(newline) = memchr_lf(rest) else {
            if rest.len() >= REPLY_LINE_MAX {
                return Err(ReplyError::LineTooLong { len: rest.len() });
            }
            return Ok(ReplyOutcome::NeedMore);
        };
        if newline + 1 > REPLY_LINE_MAX {
            return Err(ReplyError::LineTooLong { len: newline + 1 });
        }

        let line = strip_cr(&rest[..newline]);
        let (code, is_last) = parse_line(line)?;
        let first = *first_code.get_or_insert(code);
        if code != first {
            return Err(ReplyError::CodeMismatch { first, seen: code });
        }
        position += newline + 1;

        if is_last {
            return Ok(ReplyOutcome::Complete {
                code,
                consumed: position,
            });
        }
    }

    Err(ReplyError::TooManyLines {
        lines: REPLY_LINES_MAX + 1,
    })
}

/// Returns whether the reply in `reply` (as taken by [`parse_reply`]) lists
/// `keyword` as an extension, that is, as the first word of a line's text.
/// Comparison ignores ASCII case, as EHLO keywords do (RFC 5321 section 2.4).
pub fn has_extension(reply: &[u8], keyword: &str) -> bool {
    reply
        .split(|&byte| byte == b'\n')
        .filter(|line| line.len() > 4)
        .map(|line| strip_cr(&line[4..]))
        .any(|text| {
            let word = text.split(|&byte| byte == b' ').next().unwrap_or(&[]);
            word.eq_ignore_ascii_case(keyword.as_bytes())
        })
}

/// Parses the code of one line and whether it is the reply's last line.
fn parse_line(line: &[u8]) -> Result<(u16, bool), ReplyError> {
    let malformed = || ReplyError::Malformed {
        line: printable_excerpt(line),
    };

    let digits = line.get(..3).ok_or_else(malformed)?;
    if !digits.iter().all(u8::is_ascii_digit) || !(b'2'..=b'5').contains(&digits[0]) {
        return Err(malformed());
    }
    let code = digits
        .iter()
        .fold(0u16, |code, digit| code * 10 + u16::from(digit - b'0'));

    match line.get(3) {
        None | Some(b' ') => Ok((code, true)),
        Some(b'-') => Ok((code, false)),
        Some(_) => Err(malformed()),
    }
}

fn memchr_lf(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&byte| byte == b'\n')
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn printable_excerpt(line: &[u8]) -> String {
    line.iter()
        .take(MALFORMED_EXCERPT_LEN)
        .map(|&byte| {
            if byte.is_ascii_graphic() || byte == b' ' {
                char::from(byte)
            } else {
                '?'
            }
        })
        .collect()
}

#[cfg(test)]
#[path = "reply_tests.rs"]
mod tests;
