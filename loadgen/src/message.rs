//! The messages a run sends: address templates, the run id, envelope
//! commands, header block and the shared body.
//!
//! [`Template`] is an address with `{n}` placeholders. [`RunId`] is the random
//! hex id that starts every message id `RUN-SEQ`. [`MessageFactory`] writes the
//! envelope commands and the header block of message `SEQ` and holds the body,
//! which is generated and dot-stuffed once per run and shared by every
//! connection.
//!
//! Contract: every message carries `X-Loadgen-Id: RUN-SEQ`, unique within the
//! run, and the body is exactly the requested number of octets before dot
//! stuffing: CRLF lines of [`BODY_LINE_LEN`] characters, the last one shorter.
//! Header lines start with a letter or a space, so only the body needs dot
//! stuffing.
//!
//! Limits: an address is at most [`PATH_LEN_MAX`] octets with its angle
//! brackets (RFC 5321 section 4.5.3.1.3), checked on the template rendered
//! with the widest sequence number.

use std::fmt;
use std::sync::Arc;

use ringmail_protocols::smtp::dot_stuff;

/// RFC 5321 section 4.5.3.1.3: a path is at most 256 octets, angle brackets
/// included.
pub const PATH_LEN_MAX: usize = 256;

/// Characters per body line before CRLF; 76 keeps lines under the RFC 5322
/// recommendation of 78.
pub const BODY_LINE_LEN: usize = 76;

/// One body line in this many starts with a dot, so the server's dot
/// unstuffing is exercised like it is by real text.
const DOT_LINE_EVERY: usize = 10;

/// The placeholder that [`Template::render`] replaces.
const PLACEHOLDER: &str = "{n}";

/// Widest decimal rendering of a `u64` sequence number.
const SEQ_DIGITS_MAX: usize = 20;

/// Number of random bytes in a run id, written as twice as many hex digits.
const RUN_ID_BYTES: usize = 8;

/// An address in which every `{n}` is replaced by a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    text: String,
}

/// Reason an address template is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// The template is empty.
    Empty,
    /// The template contains a byte that cannot appear in an SMTP path here:
    /// a control character, space, `<`, `>` or a non-ASCII byte.
    InvalidByte { byte: u8 },
    /// The rendered address is longer than [`PATH_LEN_MAX`] allows.
    TooLong { len: usize },
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::Empty => write!(f, "address is empty"),
            TemplateError::InvalidByte { byte } => {
                write!(f, "address contains the invalid byte 0x{byte:02x}")
            }
            TemplateError::TooLong { len } => write!(
                f,
                "address can render to {len} octets, max {} without angle brackets",
                PATH_LEN_MAX - 2
            ),
        }
    }
}

impl std::error::Error for TemplateError {}

impl Template {
    /// Checks `text` and wraps it. The widest rendering, with a 20-digit
    /// number in every placeholder, must fit in an SMTP path.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        if text.is_empty() {
            return Err(TemplateError::Empty);
        }
        if let Some(&byte) = text
            .as_bytes()
            .iter()
            .find(|&&byte| !byte.is_ascii_graphic() || byte == b'<' || byte == b'>')
        {
            return Err(TemplateError::InvalidByte { byte });
        }

        let placeholders = text.matches(PLACEHOLDER).count();
        let widest_len =
            text.len() - placeholders * PLACEHOLDER.len() + placeholders * SEQ_DIGITS_MAX;
        if widest_len > PATH_LEN_MAX - 2 {
            return Err(TemplateError::TooLong { len: widest_len });
        }

        Ok(Template {
            text: text.to_string(),
        })
    }

    /// Appends the address with every `{n}` replaced by `n`.
    pub fn render(&self, n: u64, out: &mut Vec<u8>) {
        let mut pieces = self.text.split(PLACEHOLDER);
        if let Some(first) = pieces.next() {
            out.extend_from_slice(first.as_bytes());
        }
        for piece in pieces {
            out.extend_from_slice(n.to_string().as_bytes());
            out.extend_from_slice(piece.as_bytes());
        }
    }

    /// Returns the template as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// The random id shared by every message of one run, as lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunId(String);

impl RunId {
    /// Draws a new run id from the thread's random generator.
    pub fn random() -> Self {
        let bytes: [u8; RUN_ID_BYTES] = rand::random();
        RunId(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
    }

    /// Returns the id as hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Everything needed to write any message of a run.
#[derive(Debug, Clone)]
pub struct MessageFactory {
    run_id: RunId,
    from: Template,
    to: Vec<Template>,
    rcpts: usize,
    body_len: usize,
    /// The body before dot stuffing, for BDAT.
    body: Arc<[u8]>,
    /// The body after dot stuffing, with the terminating `.` line.
    stuffed_body: Arc<[u8]>,
}

impl MessageFactory {
    /// Builds the factory and generates the body of `body_len` octets.
    /// Recipient `i` of a message uses `to[i % to.len()]` with `{n}` = `i`.
    ///
    /// `body_len` must not be 1, because a non-empty body ends with CRLF;
    /// argument checking rejects it before this point.
    pub fn new(
        run_id: RunId,
        from: Template,
        to: Vec<Template>,
        rcpts: usize,
        body_len: usize,
    ) -> Self {
        assert!(
            !to.is_empty(),
            "at least one recipient template is required"
        );
        assert!(rcpts > 0, "at least one recipient is required");

        let body = generate_body(body_len);
        let mut stuffed = Vec::with_capacity(body.len() + body.len() / BODY_LINE_LEN + 8);
        dot_stuff(&body, &mut stuffed);

        MessageFactory {
            run_id,
            from,
            to,
            rcpts,
            body_len,
            body: body.into(),
            stuffed_body: stuffed.into(),
        }
    }

    /// Returns the run id.
    pub fn run_id(&self) -> &RunId {
        &self.run_id
    }

    /// Returns the number of recipients per message.
    pub fn rcpts(&self) -> usize {
        self.rcpts
    }

    /// Appends the message id `RUN-SEQ` of message `seq`.
    pub fn write_id(&self, seq: u64, out: &mut Vec<u8>) {
        out.extend_from_slice(self.run_id.as_str().as_bytes());
        out.push(b'-');
        out.extend_from_slice(seq.to_string().as_bytes());
    }

    /// Appends `MAIL FROM:<...>` with its CRLF.
    pub fn write_mail_from(&self, seq: u64, out: &mut Vec<u8>) {
        out.extend_from_slice(b"MAIL FROM:<");
        self.from.render(seq, out);
        out.extend_from_slice(b">\r\n");
    }

    /// Appends `RCPT TO:<...>` for recipient `index` with its CRLF.
    pub fn write_rcpt_to(&self, index: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(b"RCPT TO:<");
        self.render_recipient(index, out);
        out.extend_from_slice(b">\r\n");
    }

    /// Appends the header block of message `seq`, blank line included.
    pub fn write_header(&self, seq: u64, unix_secs: i64, out: &mut Vec<u8>) {
        out.extend_from_slice(b"From: <");
        self.from.render(seq, out);
        out.extend_from_slice(b">\r\nTo: ");
        for index in 0..self.rcpts {
            if index > 0 {
                // One address per folded line keeps every line short.
                out.extend_from_slice(b",\r\n ");
            }
            out.push(b'<');
            self.render_recipient(index, out);
            out.push(b'>');
        }

        out.extend_from_slice(b"\r\nSubject: ringmail-loadgen ");
        self.write_id(seq, out);
        out.extend_from_slice(b"\r\nDate: ");
        out.extend_from_slice(ringmail_engine::time::rfc5322_date(unix_secs).as_bytes());
        out.extend_from_slice(b"\r\nMessage-ID: <");
        self.write_id(seq, out);
        out.extend_from_slice(b"@loadgen.invalid>\r\nX-Loadgen-Id: ");
        self.write_id(seq, out);
        out.extend_from_slice(b"\r\n\r\n");
    }

    /// Returns the body after dot stuffing, ending with the `.` line.
    pub fn stuffed_body(&self) -> &[u8] {
        &self.stuffed_body
    }

    /// Returns a shared handle to the body before dot stuffing.
    pub fn body_shared(&self) -> Arc<[u8]> {
        Arc::clone(&self.body)
    }

    /// Returns a shared handle to the body after dot stuffing.
    pub fn stuffed_body_shared(&self) -> Arc<[u8]> {
        Arc::clone(&self.stuffed_body)
    }

    /// Returns the body length before dot stuffing, in octets.
    pub fn body_len(&self) -> usize {
        self.body_len
    }

    fn render_recipient(&self, index: usize, out: &mut Vec<u8>) {
        self.to[index % self.to.len()].render(index as u64, out);
    }
}

/// Generates a body of exactly `len` octets: CRLF lines of [`BODY_LINE_LEN`]
/// printable characters, with a shorter last line. Every
/// [`DOT_LINE_EVERY`]th line starts with a dot. An empty body is `len` 0.
///
/// A `len` of 1 cannot end in CRLF, so it yields 2 octets.
pub fn generate_body(len: usize) -> Vec<u8> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

    let mut body = Vec::with_capacity(len.max(2));
    let mut line_index = 0;
    while body.len() < len {
        let remaining = len - body.len();
        let mut text_len = remaining.saturating_sub(2).min(BODY_LINE_LEN);
        // A rest of one octet after this line could not hold a CRLF, so this
        // line gives up one character to the last line.
        if remaining - (text_len + 2).min(remaining) == 1 {
            text_len -= 1;
        }

        for column in 0..text_len {
            let byte = if column == 0 && line_index % DOT_LINE_EVERY == DOT_LINE_EVERY - 1 {
                b'.'
            } else {
                ALPHABET[(line_index + column) % ALPHABET.len()]
            };
            body.push(byte);
        }
        body.extend_from_slice(b"\r\n");
        line_index += 1;
    }
    body
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
