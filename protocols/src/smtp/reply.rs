//! SMTP replies and the command error taxonomy that maps to them.
//!
//! [`Reply`] is one reply: a three-digit code, an optional enhanced status
//! code (RFC 3463, advertised with ENHANCEDSTATUSCODES, RFC 2034) and text.
//! [`Reply::write_to`] and [`write_multiline`] are the only places that put
//! reply bytes on the wire. [`CommandError`] is every way a command line can
//! be rejected, and [`CommandError::reply`] is the one place that picks its
//! reply code, enhanced status code and text.
//!
//! Contract: whatever the text contains, the bytes written are well-formed
//! reply lines. Reply text can echo client input (a domain, a verb), so CR,
//! LF inside a line, other control characters and non-ASCII characters are
//! each replaced with `?`, and every line is cut to [`REPLY_LINE_MAX`] octets
//! including its CRLF. That limit is the RFC 5321 section 4.5.3.1.5 maximum,
//! which receiving clients may enforce.

use std::borrow::Cow;
use std::fmt;

/// RFC 5321 4.5.3.1.5: a reply line is at most 512 octets including CRLF.
pub const REPLY_LINE_MAX: usize = 512;

/// An RFC 3463 enhanced status code such as `5.5.1`: class, subject, detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnhancedStatus {
    pub class: u8,
    pub subject: u16,
    pub detail: u16,
}

impl EnhancedStatus {
    /// Builds the status `class.subject.detail`.
    pub const fn new(class: u8, subject: u16, detail: u16) -> Self {
        Self {
            class,
            subject,
            detail,
        }
    }
}

impl fmt::Display for EnhancedStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// One SMTP reply: code, optional enhanced status code and text.
///
/// A `'\n'` in `text` separates the lines of a multi-line reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub status: Option<EnhancedStatus>,
    pub text: Cow<'static, str>,
}

impl Reply {
    /// Builds a reply. Codes outside 200..=599 are written as given; callers
    /// pass the RFC 5321 codes.
    pub fn new(
        code: u16,
        status: Option<EnhancedStatus>,
        text: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            code,
            status,
            text: text.into(),
        }
    }

    /// Writes the reply as `CODE X.Y.Z text\r\n`.
    ///
    /// Text with `'\n'` inside becomes a multi-line reply (`CODE-X.Y.Z first`
    /// ... `CODE X.Y.Z last`), with the status code on every line as RFC 2034
    /// requires. `enhanced` false omits the status code, for sessions that did
    /// not start with EHLO.
    pub fn write_to(&self, out: &mut Vec<u8>, enhanced: bool) {
        let status = if enhanced { self.status } else { None };
        let mut lines = self.text.split('\n').peekable();

        while let Some(line) = lines.next() {
            let separator = if lines.peek().is_some() { b'-' } else { b' ' };
            write_line(out, self.code, separator, status, line);
        }
    }

    /// Returns the reply as wire bytes; a convenience for tests and logs.
    pub fn to_bytes(&self, enhanced: bool) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out, enhanced);
        out
    }
}

/// Writes a multi-line reply without enhanced status codes, one line per
/// entry: `250-a\r\n250-b\r\n250 c\r\n`. This is the shape of the EHLO reply.
/// An empty `lines` writes the bare code line `CODE\r\n`.
pub fn write_multiline(out: &mut Vec<u8>, code: u16, lines: &[&str]) {
    if lines.is_empty() {
        write_line(out, code, b' ', None, "");
        return;
    }

    let last = lines.len() - 1;
    for (index, line) in lines.iter().enumerate() {
        let separator = if index == last { b' ' } else { b'-' };
        write_line(out, code, separator, None, line);
    }
}

/// Writes one reply line: code, separator, optional status, sanitized text, CRLF.
fn write_line(
    out: &mut Vec<u8>,
    code: u16,
    separator: u8,
    status: Option<EnhancedStatus>,
    text: &str,
) {
    let start = out.len();
    // Codes are three digits on the wire. A code above 999 would be a caller
    // bug, so it is clamped rather than written as four digits.
    let code = code.min(999);
    out.extend_from_slice(&[
        b'0' + (code / 100) as u8,
        b'0' + (code / 10 % 10) as u8,
        b'0' + (code % 10) as u8,
    ]);

    // "250 \r\n" with a trailing space is legal but untidy, so the separator
    // is left out of a last line that has neither status nor text.
    let text = text.strip_suffix('\r').unwrap_or(text);
    if status.is_none() && text.is_empty() && separator == b' ' {
        out.extend_from_slice(b"\r\n");
        return;
    }
    out.push(separator);

    if let Some(status) = status {
        out.extend_from_slice(status.to_string().as_bytes());
        if !text.is_empty() {
            out.push(b' ');
        }
    }

    let room = REPLY_LINE_MAX.saturating_sub(out.len() - start + 2);
    for &byte in text.as_bytes().iter().take(room) {
        out.push(sanitize_reply_byte(byte));
    }
    out.extend_from_slice(b"\r\n");
}

/// Maps one byte of reply text to a byte that cannot break the reply line.
/// Each byte of a multi-byte UTF-8 character becomes one `?`, so cutting the
/// text at any byte never leaves a partial character behind.
fn sanitize_reply_byte(byte: u8) -> u8 {
    match byte {
        b'\t' | 0x20..=0x7e => byte,
        _ => b'?',
    }
}

/// Every reason `parse_command` rejects a command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandError {
    /// The verb is not an SMTP verb.
    Unrecognized,
    /// The verb is known but its arguments do not follow the RFC 5321 grammar.
    Syntax { reason: &'static str },
    /// A MAIL or RCPT parameter keyword this server does not support.
    UnknownParameter,
    /// The local part is longer than [`LOCAL_PART_MAX`](super::command::LOCAL_PART_MAX).
    LocalPartTooLong { len: usize, max: usize },
    /// The domain is longer than [`DOMAIN_MAX`](super::command::DOMAIN_MAX).
    DomainTooLong { len: usize, max: usize },
    /// The path, brackets included, is longer than [`PATH_MAX`](super::command::PATH_MAX).
    PathTooLong { len: usize, max: usize },
    /// More MAIL or RCPT parameters than [`PARAMETER_COUNT_MAX`](super::command::PARAMETER_COUNT_MAX).
    TooManyParameters { count: usize, max: usize },
}

impl CommandError {
    /// Returns the reply that rejects the command.
    pub fn reply(&self) -> Reply {
        match *self {
            CommandError::Unrecognized => Reply::new(
                500,
                Some(EnhancedStatus::new(5, 5, 1)),
                "command not recognized",
            ),
            CommandError::Syntax { reason } => Reply::new(
                501,
                Some(EnhancedStatus::new(5, 5, 4)),
                format!("syntax error: {reason}"),
            ),
            CommandError::UnknownParameter => Reply::new(
                555,
                Some(EnhancedStatus::new(5, 5, 4)),
                "unsupported MAIL or RCPT parameter",
            ),
            CommandError::LocalPartTooLong { len, max } => Reply::new(
                501,
                Some(EnhancedStatus::new(5, 1, 3)),
                format!("local part is {len} octets, more than the maximum of {max}"),
            ),
            CommandError::DomainTooLong { len, max } => Reply::new(
                501,
                Some(EnhancedStatus::new(5, 1, 3)),
                format!("domain is {len} octets, more than the maximum of {max}"),
            ),
            CommandError::PathTooLong { len, max } => Reply::new(
                501,
                Some(EnhancedStatus::new(5, 1, 3)),
                format!("path is {len} octets, more than the maximum of {max}"),
            ),
            CommandError::TooManyParameters { count, max } => Reply::new(
                501,
                Some(EnhancedStatus::new(5, 5, 4)),
                format!("{count} parameters, more than the maximum of {max}"),
            ),
        }
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reply().text)
    }
}

impl std::error::Error for CommandError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(class: u8, subject: u16, detail: u16) -> Option<EnhancedStatus> {
        Some(EnhancedStatus::new(class, subject, detail))
    }

    #[test]
    fn reply_single_line_table() {
        let cases: &[(Reply, bool, &[u8])] = &[
            (
                Reply::new(250, status(2, 0, 0), "ok"),
                true,
                b"250 2.0.0 ok\r\n",
            ),
            (Reply::new(250, status(2, 0, 0), "ok"), false, b"250 ok\r\n"),
            (Reply::new(354, None, "go ahead"), true, b"354 go ahead\r\n"),
            (Reply::new(250, None, ""), true, b"250\r\n"),
            (Reply::new(250, status(2, 0, 0), ""), true, b"250 2.0.0\r\n"),
            (
                Reply::new(421, status(4, 3, 2), "shutting down"),
                true,
                b"421 4.3.2 shutting down\r\n",
            ),
        ];
        for (reply, enhanced, expected) in cases {
            assert_eq!(
                reply.to_bytes(*enhanced),
                *expected,
                "reply {reply:?} enhanced={enhanced}"
            );
        }
    }

    #[test]
    fn reply_multi_line_on_newline() {
        let reply = Reply::new(550, status(5, 7, 1), "first\nsecond\nthird");
        assert_eq!(
            reply.to_bytes(true),
            b"550-5.7.1 first\r\n550-5.7.1 second\r\n550 5.7.1 third\r\n"
        );
        assert_eq!(
            reply.to_bytes(false),
            b"550-first\r\n550-second\r\n550 third\r\n"
        );
    }

    #[test]
    fn reply_crlf_in_text_becomes_line_break() {
        let reply = Reply::new(250, None, "a\r\nb");
        assert_eq!(reply.to_bytes(false), b"250-a\r\n250 b\r\n");
    }

    #[test]
    fn reply_injected_cr_and_controls_sanitized() {
        let reply = Reply::new(501, None, "bad \r250 ok\x00\x1b\u{e9}");
        assert_eq!(reply.to_bytes(false), b"501 bad ?250 ok????\r\n");
    }

    #[test]
    fn reply_overlong_text_cut_to_line_max() {
        let text = "x".repeat(2 * REPLY_LINE_MAX);
        let bytes = Reply::new(250, status(2, 0, 0), text).to_bytes(true);
        assert_eq!(bytes.len(), REPLY_LINE_MAX);
        assert!(bytes.ends_with(b"xx\r\n"));
        assert!(bytes.starts_with(b"250 2.0.0 xx"));
    }

    #[test]
    fn multiline_ehlo_shape() {
        let mut out = Vec::new();
        write_multiline(&mut out, 250, &["mx.example", "PIPELINING", "8BITMIME"]);
        assert_eq!(out, b"250-mx.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n");
    }

    #[test]
    fn multiline_single_and_empty() {
        let mut out = Vec::new();
        write_multiline(&mut out, 250, &["only"]);
        assert_eq!(out, b"250 only\r\n");

        out.clear();
        write_multiline(&mut out, 250, &[]);
        assert_eq!(out, b"250\r\n");
    }

    #[test]
    fn multiline_line_with_newline_sanitized() {
        let mut out = Vec::new();
        write_multiline(&mut out, 250, &["a\nb", "c"]);
        assert_eq!(out, b"250-a?b\r\n250 c\r\n");
    }

    #[test]
    fn command_error_reply_table() {
        let cases: &[(CommandError, u16, EnhancedStatus, &str)] = &[
            (
                CommandError::Unrecognized,
                500,
                EnhancedStatus::new(5, 5, 1),
                "command not recognized",
            ),
            (
                CommandError::Syntax {
                    reason: "missing domain",
                },
                501,
                EnhancedStatus::new(5, 5, 4),
                "syntax error: missing domain",
            ),
            (
                CommandError::UnknownParameter,
                555,
                EnhancedStatus::new(5, 5, 4),
                "unsupported",
            ),
            (
                CommandError::LocalPartTooLong { len: 65, max: 64 },
                501,
                EnhancedStatus::new(5, 1, 3),
                "local part is 65 octets, more than the maximum of 64",
            ),
            (
                CommandError::DomainTooLong { len: 300, max: 255 },
                501,
                EnhancedStatus::new(5, 1, 3),
                "domain is 300 octets",
            ),
            (
                CommandError::PathTooLong { len: 257, max: 256 },
                501,
                EnhancedStatus::new(5, 1, 3),
                "path is 257 octets",
            ),
            (
                CommandError::TooManyParameters { count: 17, max: 16 },
                501,
                EnhancedStatus::new(5, 5, 4),
                "17 parameters, more than the maximum of 16",
            ),
        ];
        for (error, code, status, text) in cases {
            let reply = error.reply();
            assert_eq!(reply.code, *code, "{error:?}");
            assert_eq!(reply.status, Some(*status), "{error:?}");
            assert!(reply.text.contains(text), "{error:?}: {}", reply.text);
        }
    }
}
