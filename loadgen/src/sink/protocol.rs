//! The sink's SMTP server side, without I/O: commands in, replies out.
//!
//! [`SinkSession`] is fed the bytes a connection read and writes the replies
//! to an output buffer, one [`SinkSession::step`] at a time. Every step
//! returns a [`Step`]: more input is needed, a command was handled, a message
//! ended ([`Step::MessageEnd`], where the I/O layer picks the final reply
//! with [`SinkSession::finish_message`]) or the session is over.
//!
//! Commands go through the engine's parser ([`LineReader`], [`parse_command`]),
//! except BDAT, which is parsed here first with its own, laxer rules (any
//! number of spaces between the words). DATA goes
//! through [`DataReceiver`], so only `CRLF.CRLF` ends it and a bare CR or LF
//! rejects the message with the engine's 550 reply. Unstuffed data lands in a
//! scratch buffer that is cleared after every read, and only the header is
//! kept (by [`HeaderCollector`]) for the `X-Loadgen-Id` log.
//!
//! Limits: a message is at most [`MESSAGE_SIZE_MAX`] octets (advertised with
//! SIZE), and a session that sends [`ERRORS_MAX`] invalid commands is closed.

use ringmail_protocols::smtp::{
    parse_command, write_multiline, Command, DataLimits, DataOutcome, DataReceiver, EnhancedStatus,
    LineOutcome, LineReader, Reply, COMMAND_LINE_MAX,
};

use crate::header::HeaderCollector;

/// Largest message in octets, advertised with SIZE. The sink stores nothing,
/// so the bound only keeps counters honest; 256 MiB is above the loadgen's
/// 64 MiB maximum body.
pub const MESSAGE_SIZE_MAX: u64 = 256 * 1024 * 1024;

/// Invalid commands a session may send before it is closed with 421, so a
/// client that is out of step (or sends garbage) cannot loop forever.
pub const ERRORS_MAX: u32 = 20;

/// Digits of the longest BDAT size, `u64::MAX`.
const BDAT_SIZE_DIGITS_MAX: usize = 20;

/// Outcome of one [`SinkSession::step`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Consumed `consumed` octets and needs more input to go on.
    NeedMore { consumed: usize },
    /// Handled a command or a piece of data; call `step` again.
    Progress { consumed: usize },
    /// A message of `len` octets ended; call [`SinkSession::finish_message`].
    MessageEnd { consumed: usize, len: u64 },
    /// A message was rejected for its content (bare CR or LF, size); the
    /// reply is written.
    Rejected { consumed: usize },
    /// QUIT or too many errors: write the output, then close.
    Close { consumed: usize },
}

/// Reply that the I/O layer chose for the end of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    /// Injected `451 4.3.0`.
    Temporary,
    /// Injected `554 5.3.0`.
    Permanent,
    /// `--max-messages` was reached: `421` and close.
    LimitReached,
}

/// Position of the session in the byte stream.
#[derive(Debug)]
enum Mode {
    Command,
    Data(DataReceiver),
    /// Inside a BDAT chunk with `remaining` octets to go.
    Bdat {
        remaining: u64,
        last: bool,
    },
}

/// The state of one SMTP connection.
#[derive(Debug)]
pub struct SinkSession {
    hostname: std::rc::Rc<str>,
    mode: Mode,
    lines: LineReader,
    /// Whether the client used EHLO, which turns on enhanced status codes.
    enhanced: bool,
    mail: bool,
    rcpts: u64,
    /// Octets of the message received so far.
    message_len: u64,
    /// The reply for a BDAT message that already failed, sent at its LAST chunk.
    bdat_error: Option<Reply>,
    errors: u32,
    header: Option<HeaderCollector>,
    scratch: Vec<u8>,
}

impl SinkSession {
    /// Starts a session and writes the greeting to `out`. With
    /// `collect_header` the header of each message is kept for
    /// [`SinkSession::loadgen_id`].
    pub fn new(hostname: std::rc::Rc<str>, collect_header: bool, out: &mut Vec<u8>) -> Self {
        let greeting = format!("{hostname} ESMTP ringmail-loadgen sink");
        Reply::new(220, None, greeting).write_to(out, false);
        SinkSession {
            hostname,
            mode: Mode::Command,
            lines: LineReader::new(COMMAND_LINE_MAX),
            enhanced: false,
            mail: false,
            rcpts: 0,
            message_len: 0,
            bdat_error: None,
            errors: 0,
            header: collect_header.then(HeaderCollector::new),
            scratch: Vec::new(),
        }
    }

    /// Handles the next command or piece of data at the front of `input`.
    pub fn step(&mut self, input: &[u8], out: &mut Vec<u8>) -> Step {
        match self.mode {
            Mode::Command => self.step_command(input, out),
            Mode::Data(_) => self.step_data(input, out),
            Mode::Bdat { .. } => self.step_bdat(input, out),
        }
    }

    /// Returns the `X-Loadgen-Id` of the message that just ended, when the
    /// session collects headers and the message has one.
    pub fn loadgen_id(&self) -> Option<&[u8]> {
        self.header.as_ref()?.loadgen_id()
    }

    /// Writes the final reply of the message that ended and resets the
    /// transaction. Returns true when the session must close.
    pub fn finish_message(&mut self, verdict: Verdict, out: &mut Vec<u8>) -> bool {
        let reply = match verdict {
            Verdict::Accept => reply(250, (2, 0, 0), "sink: message accepted"),
            Verdict::Temporary => reply(451, (4, 3, 0), "sink: injected temporary failure"),
            Verdict::Permanent => reply(554, (5, 3, 0), "sink: injected permanent failure"),
            Verdict::LimitReached => reply(421, (4, 3, 2), "sink: message limit reached, closing"),
        };
        reply.write_to(out, self.enhanced);
        self.reset_transaction();
        verdict == Verdict::LimitReached
    }

    /// Writes the reply that ends the session when the sink stops.
    pub fn write_shutdown(&self, out: &mut Vec<u8>) {
        reply(421, (4, 3, 2), "sink: shutting down").write_to(out, self.enhanced);
    }

    fn step_command(&mut self, input: &[u8], out: &mut Vec<u8>) -> Step {
        let (line, consumed) = match self.lines.next(input) {
            LineOutcome::Line { line, consumed } => (line, consumed),
            LineOutcome::NeedMore { consumed } => return Step::NeedMore { consumed },
            LineOutcome::TooLong { consumed } => {
                let text =
                    format!("command line longer than the maximum of {COMMAND_LINE_MAX} octets");
                return self.reject(
                    Reply::new(500, Some(EnhancedStatus::new(5, 5, 2)), text),
                    consumed,
                    out,
                );
            }
        };

        if let Some(bdat) = parse_bdat(line) {
            return match bdat {
                Ok((size, last)) => self.start_bdat(size, last, consumed),
                Err(reason) => {
                    let text = format!("syntax error: {reason}");
                    self.reject(
                        Reply::new(501, Some(EnhancedStatus::new(5, 5, 4)), text),
                        consumed,
                        out,
                    )
                }
            };
        }

        let command = match parse_command(line) {
            Ok(command) => command,
            Err(error) => return self.reject(error.reply(), consumed, out),
        };
        match command {
            Command::Ehlo { .. } => {
                self.enhanced = true;
                self.reset_transaction();
                let size = format!("SIZE {MESSAGE_SIZE_MAX}");
                let lines = [
                    &*self.hostname,
                    "PIPELINING",
                    &size,
                    "8BITMIME",
                    "ENHANCEDSTATUSCODES",
                    "CHUNKING",
                ];
                write_multiline(out, 250, &lines);
            }
            Command::Helo { .. } => {
                self.enhanced = false;
                self.reset_transaction();
                Reply::new(250, None, self.hostname.to_string()).write_to(out, false);
            }
            Command::MailFrom { parameters, .. } => {
                if self.mail {
                    return self.reject(
                        reply(503, (5, 5, 1), "nested MAIL command"),
                        consumed,
                        out,
                    );
                }
                if parameters.size.is_some_and(|size| size > MESSAGE_SIZE_MAX) {
                    let text =
                        format!("message size exceeds the maximum of {MESSAGE_SIZE_MAX} octets");
                    Reply::new(552, Some(EnhancedStatus::new(5, 3, 4)), text)
                        .write_to(out, self.enhanced);
                    return Step::Progress { consumed };
                }
                self.mail = true;
                self.write(reply(250, (2, 1, 0), "sender ok"), out);
            }
            Command::RcptTo { .. } => {
                if !self.mail {
                    return self.reject(
                        reply(503, (5, 5, 1), "need MAIL before RCPT"),
                        consumed,
                        out,
                    );
                }
                self.rcpts = self.rcpts.saturating_add(1);
                self.write(reply(250, (2, 1, 5), "recipient ok"), out);
            }
            Command::Data => {
                if let Some(error) = self.transaction_error() {
                    return self.reject(error, consumed, out);
                }
                self.mode = Mode::Data(DataReceiver::new(DataLimits {
                    message_size_max: MESSAGE_SIZE_MAX as usize,
                    // Lines are not buffered, so the message size bounds them.
                    line_len_max: MESSAGE_SIZE_MAX as usize,
                }));
                self.start_message();
                Reply::new(354, None, "end data with <CR><LF>.<CR><LF>").write_to(out, false);
            }
            // Not reached, because `parse_bdat` takes every BDAT line first.
            Command::Bdat { size, last } => return self.start_bdat(size, last, consumed),
            Command::Rset => {
                self.reset_transaction();
                self.write(reply(250, (2, 0, 0), "reset"), out);
            }
            Command::Noop => self.write(reply(250, (2, 0, 0), "ok"), out),
            Command::Quit => {
                self.write(reply(221, (2, 0, 0), "bye"), out);
                return Step::Close { consumed };
            }
            Command::Help { .. } => self.write(
                reply(
                    214,
                    (2, 0, 0),
                    "this is a sink: it accepts any mail and stores none",
                ),
                out,
            ),
            Command::Vrfy { .. } => {
                self.write(reply(252, (2, 5, 2), "cannot verify, but will accept"), out)
            }
            Command::Expn { .. }
            | Command::StartTls
            | Command::Auth { .. }
            | Command::NotImplemented { .. } => {
                return self.reject(
                    reply(502, (5, 5, 1), "command not implemented"),
                    consumed,
                    out,
                );
            }
        }
        Step::Progress { consumed }
    }

    /// Returns the reply that rejects DATA or BDAT now, if any.
    fn transaction_error(&self) -> Option<Reply> {
        if !self.mail {
            return Some(reply(503, (5, 5, 1), "need MAIL before DATA or BDAT"));
        }
        if self.rcpts == 0 {
            return Some(reply(503, (5, 5, 1), "need RCPT before DATA or BDAT"));
        }
        None
    }

    fn step_data(&mut self, input: &[u8], out: &mut Vec<u8>) -> Step {
        let Mode::Data(receiver) = &mut self.mode else {
            return Step::Progress { consumed: 0 };
        };
        let outcome = receiver.feed(input, &mut self.scratch);
        let received_len = receiver.received_len() as u64;
        if let Some(header) = &mut self.header {
            header.push(&self.scratch);
        }
        self.scratch.clear();

        match outcome {
            DataOutcome::NeedMore { consumed } => Step::NeedMore { consumed },
            DataOutcome::Done { consumed, result } => {
                self.mode = Mode::Command;
                match result {
                    Ok(()) => Step::MessageEnd {
                        consumed,
                        len: received_len,
                    },
                    Err(error) => {
                        error.reply().write_to(out, self.enhanced);
                        self.reset_transaction();
                        Step::Rejected { consumed }
                    }
                }
            }
        }
    }

    fn start_bdat(&mut self, size: u64, last: bool, consumed: usize) -> Step {
        // RFC 3030 section 2: the chunk is read in full even when the
        // command is rejected, so the error reply is sent at its end.
        if self.message_len == 0 && self.bdat_error.is_none() {
            self.start_message();
        }
        if self.bdat_error.is_none() {
            self.bdat_error = self.transaction_error();
        }
        self.mode = Mode::Bdat {
            remaining: size,
            last,
        };
        Step::Progress { consumed }
    }

    fn step_bdat(&mut self, input: &[u8], out: &mut Vec<u8>) -> Step {
        let Mode::Bdat { remaining, last } = &mut self.mode else {
            return Step::Progress { consumed: 0 };
        };
        let take = input
            .len()
            .min(usize::try_from(*remaining).unwrap_or(usize::MAX));
        *remaining -= take as u64;
        let (chunk_done, last) = (*remaining == 0, *last);

        self.message_len = self.message_len.saturating_add(take as u64);
        if let Some(header) = &mut self.header {
            header.push(&input[..take]);
        }
        if self.message_len > MESSAGE_SIZE_MAX && self.bdat_error.is_none() {
            let text = format!("message size exceeds the maximum of {MESSAGE_SIZE_MAX} octets");
            self.bdat_error = Some(Reply::new(552, Some(EnhancedStatus::new(5, 3, 4)), text));
        }
        if !chunk_done {
            return Step::NeedMore { consumed: take };
        }

        self.mode = Mode::Command;
        if let Some(error) = &self.bdat_error {
            // Every chunk of a failed message gets the error; the message
            // ends at LAST. A transaction without MAIL or RCPT has no
            // message, so each of its chunks is handled alone.
            error.write_to(out, self.enhanced);
            let has_message = self.mail && self.rcpts > 0;
            if last || !has_message {
                self.reset_transaction();
            }
            if last && has_message {
                return Step::Rejected { consumed: take };
            }
            return Step::Progress { consumed: take };
        }
        if last {
            return Step::MessageEnd {
                consumed: take,
                len: self.message_len,
            };
        }
        let text = format!("{} octets received", self.message_len);
        Reply::new(250, Some(EnhancedStatus::new(2, 0, 0)), text).write_to(out, self.enhanced);
        Step::Progress { consumed: take }
    }

    fn start_message(&mut self) {
        self.message_len = 0;
        if let Some(header) = &mut self.header {
            header.clear();
        }
    }

    fn reset_transaction(&mut self) {
        self.mail = false;
        self.rcpts = 0;
        self.message_len = 0;
        self.bdat_error = None;
    }

    fn write(&self, reply: Reply, out: &mut Vec<u8>) {
        reply.write_to(out, self.enhanced);
    }

    /// Writes an error reply and closes the session after [`ERRORS_MAX`] of them.
    fn reject(&mut self, error: Reply, consumed: usize, out: &mut Vec<u8>) -> Step {
        error.write_to(out, self.enhanced);
        self.errors += 1;
        if self.errors >= ERRORS_MAX {
            let text = format!("too many invalid commands ({ERRORS_MAX}), closing");
            Reply::new(421, Some(EnhancedStatus::new(4, 7, 0)), text).write_to(out, self.enhanced);
            return Step::Close { consumed };
        }
        Step::Progress { consumed }
    }
}

fn reply(code: u16, status: (u8, u16, u16), text: &'static str) -> Reply {
    Reply::new(
        code,
        Some(EnhancedStatus::new(status.0, status.1, status.2)),
        text,
    )
}

/// Parses `BDAT size [LAST]` (RFC 3030 section 2). Returns `None` when the
/// verb is not BDAT, else the chunk size and whether it is the last chunk.
fn parse_bdat(line: &[u8]) -> Option<Result<(u64, bool), &'static str>> {
    let verb_len = b"BDAT".len();
    if line.len() < verb_len || !line[..verb_len].eq_ignore_ascii_case(b"BDAT") {
        return None;
    }
    let rest = &line[verb_len..];
    if !rest.is_empty() && rest[0] != b' ' {
        return None;
    }

    let mut words = rest
        .split(|&byte| byte == b' ')
        .filter(|word| !word.is_empty());
    let Some(size) = words.next() else {
        return Some(Err("BDAT needs a chunk size"));
    };
    if size.len() > BDAT_SIZE_DIGITS_MAX || !size.iter().all(u8::is_ascii_digit) {
        return Some(Err("BDAT chunk size must be a decimal number"));
    }
    let Some(size) = std::str::from_utf8(size)
        .ok()
        .and_then(|size| size.parse::<u64>().ok())
    else {
        return Some(Err("BDAT chunk size must be a decimal number"));
    };
    let last = match words.next() {
        None => false,
        Some(word) if word.eq_ignore_ascii_case(b"LAST") => true,
        Some(_) => return Some(Err("BDAT takes only a size and LAST")),
    };
    if words.next().is_some() {
        return Some(Err("BDAT takes only a size and LAST"));
    }
    Some(Ok((size, last)))
}

#[cfg(test)]
#[path = "protocol_tests.rs"]
mod tests;
