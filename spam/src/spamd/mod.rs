//! The spamd protocol (SPAMC/1.x requests, SPAMD/1.5 responses), with no
//! I/O, as spamc 4.0.1 speaks it (checked against spamc's man page,
//! SpamAssassin 4.0.1's `Mail::SpamAssassin::Client` and the real spamc).
//!
//! A request is a line `VERB SPAMC/1.x`, header lines `Name: value`, an
//! empty line and then exactly `Content-length` bytes of message. Lines end
//! with CRLF, and a bare LF is accepted too. [`RequestReader`] takes the
//! bytes as they arrive and returns the [`Request`] once it is complete, or
//! a [`SpamdError`] that carries the sysexits code the response sends.
//! `PING` is complete after its request line, because spamc may send
//! nothing more. One request is read per connection.
//!
//! [`response`] formats the reply to a scored request. Every reply but
//! `PONG` carries `Content-length` and `Spam: True ; 7.3 / 5.0`. `CHECK`
//! has no body, and `SYMBOLS` returns the hit rule names joined by commas.
//! `REPORT` returns a table of the hit rules, and `REPORT_IFSPAM` returns
//! it only for spam. `PROCESS` returns the message with the `X-Spam-*`
//! fields added, and `HEADERS` only its rewritten header block. `TELL` (learning) and
//! `Compress: zlib` are rejected with `EX_UNAVAILABLE`.
//!
//! Limits, in [`Limits`]: a header line longer than `header_line_len_max`
//! or more than `header_count_max` header lines end the request with
//! `EX_PROTOCOL`, because a peer that sends them is not spamc. A
//! `Content-length` over `body_size_max` ends it with `EX_TOOBIG` before any
//! body byte is read, because the message is held in memory while it is
//! scored. spamc never sends one that large by default: it returns the
//! message unscanned instead.

#[cfg(test)]
mod tests;

mod reply;

pub use reply::{error_response, pong_response, response, spam_line};

/// Protocol version written in every response line.
pub const PROTOCOL_VERSION: &str = "SPAMD/1.5";

/// Default maximum message size, spamc's default `--max-size` (500 KiB)
/// rounded up, so that every message spamc sends by default fits.
pub const BODY_SIZE_MAX_DEFAULT: usize = 512 * 1024;
/// Default maximum length of the request line or one header line, CRLF
/// included. spamc's lines are shorter than 100 bytes unless the user name
/// is long.
pub const HEADER_LINE_LEN_MAX_DEFAULT: usize = 1024;
/// Default maximum header lines after the request line. SpamAssassin
/// 4.0.1's `Client.pm` sends at most five (Content-length, User, Compress,
/// Message-class, Set or Remove).
pub const HEADER_COUNT_MAX_DEFAULT: usize = 32;

/// The limits a [`RequestReader`] enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub header_line_len_max: usize,
    pub header_count_max: usize,
    pub body_size_max: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_line_len_max: HEADER_LINE_LEN_MAX_DEFAULT,
            header_count_max: HEADER_COUNT_MAX_DEFAULT,
            body_size_max: BODY_SIZE_MAX_DEFAULT,
        }
    }
}

/// A request verb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Check,
    Symbols,
    Report,
    ReportIfSpam,
    Process,
    Headers,
    Ping,
    /// Close the connection without a reply.
    Skip,
    Tell,
}

impl Verb {
    /// Parses a verb as spamc writes it (upper case).
    pub fn parse(word: &[u8]) -> Option<Verb> {
        let verb = match word {
            b"CHECK" => Verb::Check,
            b"SYMBOLS" => Verb::Symbols,
            b"REPORT" => Verb::Report,
            b"REPORT_IFSPAM" => Verb::ReportIfSpam,
            b"PROCESS" => Verb::Process,
            b"HEADERS" => Verb::Headers,
            b"PING" => Verb::Ping,
            b"SKIP" => Verb::Skip,
            b"TELL" => Verb::Tell,
            _ => return None,
        };
        Some(verb)
    }

    /// Returns whether a message body follows the request's headers.
    pub fn has_body(self) -> bool {
        !matches!(self, Verb::Ping | Verb::Skip)
    }
}

/// The sysexits codes spamd sends in a response line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    Ok,
    Usage,
    DataErr,
    NoUser,
    Unavailable,
    Software,
    IoErr,
    TempFail,
    Protocol,
    TooBig,
}

impl ExitCode {
    /// Returns the numeric code.
    pub fn code(self) -> u8 {
        match self {
            ExitCode::Ok => 0,
            ExitCode::Usage => 64,
            ExitCode::DataErr => 65,
            ExitCode::NoUser => 67,
            ExitCode::Unavailable => 69,
            ExitCode::Software => 70,
            ExitCode::IoErr => 74,
            ExitCode::TempFail => 75,
            ExitCode::Protocol => 76,
            ExitCode::TooBig => 98,
        }
    }

    /// Returns the sysexits name, such as `EX_PROTOCOL`.
    pub fn name(self) -> &'static str {
        match self {
            ExitCode::Ok => "EX_OK",
            ExitCode::Usage => "EX_USAGE",
            ExitCode::DataErr => "EX_DATAERR",
            ExitCode::NoUser => "EX_NOUSER",
            ExitCode::Unavailable => "EX_UNAVAILABLE",
            ExitCode::Software => "EX_SOFTWARE",
            ExitCode::IoErr => "EX_IOERR",
            ExitCode::TempFail => "EX_TEMPFAIL",
            ExitCode::Protocol => "EX_PROTOCOL",
            ExitCode::TooBig => "EX_TOOBIG",
        }
    }
}

/// A request that cannot be served, with the code its response carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpamdError {
    pub code: ExitCode,
    /// Lowercase text naming the problem and the value seen.
    pub message: String,
}

impl SpamdError {
    fn new(code: ExitCode, message: impl Into<String>) -> SpamdError {
        SpamdError {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for SpamdError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}: {}", self.code.name(), self.message)
    }
}

impl std::error::Error for SpamdError {}

/// One complete request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub verb: Verb,
    /// The minor version of `SPAMC/1.x`.
    pub version_minor: u32,
    /// The `User` header, when sent.
    pub user: Option<String>,
    /// The message, empty for `PING` and `SKIP`.
    pub body: Vec<u8>,
}

/// The reader's state: still in the header block, or reading the body.
#[derive(Debug)]
enum State {
    Head,
    Body { head: Request, body_len: usize },
    Done,
}

/// Assembles one request from the bytes read from a connection.
#[derive(Debug)]
pub struct RequestReader {
    limits: Limits,
    buffer: Vec<u8>,
    state: State,
}

/// Header values collected while reading the head.
#[derive(Default)]
struct HeadFields {
    verb: Option<(Verb, u32)>,
    content_length: Option<usize>,
    user: Option<String>,
}

impl RequestReader {
    /// Creates a reader that enforces `limits`.
    pub fn new(limits: Limits) -> RequestReader {
        RequestReader {
            limits,
            buffer: Vec::new(),
            state: State::Head,
        }
    }

    /// Adds `bytes` and returns the request once it is complete, `None`
    /// while more bytes are needed. After a request or an error, later
    /// calls return an error, because a connection carries one request.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Option<Request>, SpamdError> {
        if matches!(self.state, State::Done) {
            return Err(SpamdError::new(
                ExitCode::Protocol,
                "bytes after the end of the request",
            ));
        }
        self.buffer.extend_from_slice(bytes);
        let result = self.advance();
        if !matches!(result, Ok(None)) {
            self.state = State::Done;
        }
        result
    }

    /// Returns the body bytes still missing, or 0 while in the head.
    pub fn body_remaining(&self) -> usize {
        match &self.state {
            State::Body { body_len, .. } => body_len.saturating_sub(self.buffer.len()),
            _ => 0,
        }
    }

    fn advance(&mut self) -> Result<Option<Request>, SpamdError> {
        if matches!(self.state, State::Head) {
            let Some(head) = self.read_head()? else {
                return Ok(None);
            };
            self.state = head;
        }
        let State::Body { head, body_len } = &mut self.state else {
            return Ok(None);
        };
        if self.buffer.len() < *body_len {
            return Ok(None);
        }
        if self.buffer.len() > *body_len {
            return Err(SpamdError::new(
                ExitCode::Protocol,
                format!("message is longer than its content-length of {body_len} bytes"),
            ));
        }
        let mut request = head.clone();
        request.body = std::mem::take(&mut self.buffer);
        Ok(Some(request))
    }

    /// Reads complete lines of the head. Returns the body state once the
    /// empty line (or, for `PING`, the request line) has been read.
    fn read_head(&mut self) -> Result<Option<State>, SpamdError> {
        let mut fields = HeadFields::default();
        // The head is parsed again from the start on each call, which costs
        // little because it is at most header_count_max short lines.
        let mut start = 0;
        let mut header_count = 0;
        loop {
            let rest = &self.buffer[start..];
            let Some(newline) = memchr::memchr(b'\n', rest) else {
                if rest.len() >= self.limits.header_line_len_max {
                    return Err(line_too_long(rest.len(), self.limits));
                }
                return Ok(None);
            };
            if newline + 1 > self.limits.header_line_len_max {
                return Err(line_too_long(newline + 1, self.limits));
            }
            let line = trim_line_end(&rest[..newline]);
            start += newline + 1;

            match fields.verb {
                None => {
                    let (verb, minor) = parse_request_line(line)?;
                    fields.verb = Some((verb, minor));
                    if verb == Verb::Ping {
                        return Ok(Some(self.finish_head(fields, start)?));
                    }
                }
                Some(_) if line.is_empty() => {
                    return Ok(Some(self.finish_head(fields, start)?));
                }
                Some(_) => {
                    header_count += 1;
                    if header_count > self.limits.header_count_max {
                        return Err(SpamdError::new(
                            ExitCode::Protocol,
                            format!(
                                "more than the maximum of {} header lines",
                                self.limits.header_count_max
                            ),
                        ));
                    }
                    parse_header(line, &mut fields, self.limits)?;
                }
            }
        }
    }

    /// Drops the head bytes and moves to the body state.
    fn finish_head(&mut self, fields: HeadFields, head_len: usize) -> Result<State, SpamdError> {
        let Some((verb, version_minor)) = fields.verb else {
            return Err(SpamdError::new(ExitCode::Protocol, "missing request line"));
        };
        let body_len = if verb.has_body() {
            fields.content_length.ok_or_else(|| {
                // NOTE: older spamd releases may also read a body without
                // Content-length up to end of input. spamc 4.0.1 always
                // sends the header, so this server requires it.
                SpamdError::new(ExitCode::Protocol, "missing content-length header")
            })?
        } else {
            0
        };
        if verb == Verb::Ping {
            // Anything after PING's request line (such as the empty line
            // spamc sends) is not part of the request.
            self.buffer.clear();
        } else {
            self.buffer.drain(..head_len);
        }
        let head = Request {
            verb,
            version_minor,
            user: fields.user,
            body: Vec::new(),
        };
        Ok(State::Body { head, body_len })
    }
}

fn line_too_long(length: usize, limits: Limits) -> SpamdError {
    SpamdError::new(
        ExitCode::Protocol,
        format!(
            "header line of {length} bytes or more exceeds the maximum of {}",
            limits.header_line_len_max
        ),
    )
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Parses `VERB SPAMC/1.x`.
fn parse_request_line(line: &[u8]) -> Result<(Verb, u32), SpamdError> {
    let mut words = line
        .split(|&byte| byte == b' ')
        .filter(|word| !word.is_empty());
    let (Some(verb_word), Some(protocol), None) = (words.next(), words.next(), words.next()) else {
        return Err(SpamdError::new(
            ExitCode::Protocol,
            format!("invalid request line: {}", printable(line)),
        ));
    };
    let verb = Verb::parse(verb_word).ok_or_else(|| {
        SpamdError::new(
            ExitCode::Protocol,
            format!("unknown verb: {}", printable(verb_word)),
        )
    })?;
    let minor = protocol
        .strip_prefix(b"SPAMC/1.")
        .and_then(|digits| std::str::from_utf8(digits).ok())
        .and_then(|digits| digits.parse::<u32>().ok())
        .ok_or_else(|| {
            SpamdError::new(
                ExitCode::Protocol,
                format!("unsupported protocol: {}", printable(protocol)),
            )
        })?;
    Ok((verb, minor))
}

/// Parses one `Name: value` line into `fields`. Header names are matched
/// without regard to case. Unknown headers are ignored.
fn parse_header(line: &[u8], fields: &mut HeadFields, limits: Limits) -> Result<(), SpamdError> {
    let Some(colon) = memchr::memchr(b':', line) else {
        return Err(SpamdError::new(
            ExitCode::Protocol,
            format!("invalid header line: {}", printable(line)),
        ));
    };
    let name = &line[..colon];
    let value = line[colon + 1..].trim_ascii();

    if name.eq_ignore_ascii_case(b"content-length") {
        let length = std::str::from_utf8(value)
            .ok()
            .filter(|text| !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()))
            .and_then(|text| text.parse::<u64>().ok())
            .ok_or_else(|| {
                SpamdError::new(
                    ExitCode::Protocol,
                    format!("invalid content-length: {}", printable(value)),
                )
            })?;
        if length > limits.body_size_max as u64 {
            return Err(SpamdError::new(
                ExitCode::TooBig,
                format!(
                    "content-length {length} exceeds the maximum of {} bytes",
                    limits.body_size_max
                ),
            ));
        }
        fields.content_length = Some(length as usize);
    } else if name.eq_ignore_ascii_case(b"user") {
        fields.user = Some(String::from_utf8_lossy(value).into_owned());
    } else if name.eq_ignore_ascii_case(b"compress") {
        return Err(SpamdError::new(
            ExitCode::Unavailable,
            format!("compression is not supported: {}", printable(value)),
        ));
    }
    Ok(())
}

/// Maximum bytes of a peer's value quoted in an error message.
const QUOTE_LEN_MAX: usize = 64;

/// Returns `bytes` as text for an error message: at most [`QUOTE_LEN_MAX`]
/// bytes, with control characters and non-ASCII bytes escaped.
fn printable(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(QUOTE_LEN_MAX)];
    let mut text: String = shown.escape_ascii().to_string();
    if shown.len() < bytes.len() {
        text.push_str("...");
    }
    text
}
