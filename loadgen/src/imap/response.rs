//! A client-side reader of IMAP server responses (RFC 3501 section 7), with no I/O.
//!
//! [`read_response`] finds where the first response in a buffer ends and
//! classifies it as a [`Response`]: a continuation request, an untagged
//! response or a tagged status. A response is one line, unless that line
//! ends with a literal header `{N}` (or `~{N}` for literal8, RFC 3516). Then
//! N octets of literal data follow, then the rest of the response on the
//! next line, which may end with a literal header again. Not enough bytes
//! yet is [`ResponseOutcome::NeedMore`], not an error.
//!
//! Limits bound the memory a server can make the reader buffer:
//! [`TEXT_LEN_MAX`] for the text outside literals, [`LITERAL_LEN_MAX`] for
//! each literal and [`LITERALS_MAX`] for the number of literals in one
//! response. Crossing one is a [`ResponseError`] naming the limit and the value.
//!
//! A `{N}` inside a quoted string at the end of a line would be taken for a
//! literal header. Servers quote no such text, and the mistake would only
//! show as a malformed response, never as unbounded reading.

use std::fmt;
use std::ops::Range;

/// Maximum octets of response text outside literals (64 KiB): a `FETCH 1:*
/// FLAGS` returns one response per message, so no single response needs
/// more than a line of flags, and a SEARCH result of some thousand numbers fits.
pub const TEXT_LEN_MAX: usize = 64 * 1024;

/// Maximum octets of one literal (64 MiB): above the message size limits
/// that servers commonly set (Ringmail's default is 25 MiB).
pub const LITERAL_LEN_MAX: usize = 64 * 1024 * 1024;

/// Maximum literals in one response. A FETCH of a body and a few header
/// sections has a handful; 64 leaves room without letting a response made of
/// empty literals run on for ever.
pub const LITERALS_MAX: usize = 64;

/// Status of a tagged or untagged status response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    No,
    Bad,
    Preauth,
    Bye,
}

/// The kind of the first response in the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `+ text`: the server waits for literal data.
    Continuation,
    /// `* ...`: `rest` is the text after `* `, up to the first literal or the line end.
    Untagged { rest: Range<usize> },
    /// `TAG STATUS text`.
    Tagged {
        tag: Range<usize>,
        status: Status,
        text: Range<usize>,
    },
}

/// One whole response at the start of the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Octets the response occupies, through its last line's LF.
    pub len: usize,
    pub kind: Kind,
    /// Position of each literal's data in the buffer.
    pub literals: Vec<Range<usize>>,
}

/// Result of looking for one response at the start of a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseOutcome {
    Complete(Response),
    /// The buffer holds only the start of a response, within every limit.
    NeedMore,
}

/// A response that breaks the grammar or a limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseError {
    /// The text outside literals is longer than [`TEXT_LEN_MAX`].
    TextTooLong { len: usize },
    /// A literal is announced longer than [`LITERAL_LEN_MAX`].
    LiteralTooLong { len: u64 },
    /// More than [`LITERALS_MAX`] literals in one response.
    TooManyLiterals,
    /// A tagged line without a valid status, or an empty line.
    Malformed { line: String },
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseError::TextTooLong { len } => write!(
                f,
                "response text of at least {len} octets, more than the maximum of {TEXT_LEN_MAX}"
            ),
            ResponseError::LiteralTooLong { len } => write!(
                f,
                "literal of {len} octets, more than the maximum of {LITERAL_LEN_MAX}"
            ),
            ResponseError::TooManyLiterals => {
                write!(
                    f,
                    "more than the maximum of {LITERALS_MAX} literals in one response"
                )
            }
            ResponseError::Malformed { line } => write!(f, "malformed response {line:?}"),
        }
    }
}

impl std::error::Error for ResponseError {}

/// Finds and classifies the first response in `input`.
pub fn read_response(input: &[u8]) -> Result<ResponseOutcome, ResponseError> {
    let mut line_start = 0;
    let mut text_len = 0;
    let mut first_line: Option<Range<usize>> = None;
    let mut literals = Vec::new();

    loop {
        // Each pass reads one line, then skips the literal it announces.
        let rest = &input[line_start..];
        let Some(lf_index) = rest.iter().position(|&byte| byte == b'\n') else {
            if text_len + rest.len() > TEXT_LEN_MAX {
                return Err(ResponseError::TextTooLong {
                    len: text_len + rest.len(),
                });
            }
            return Ok(ResponseOutcome::NeedMore);
        };

        let lf = line_start + lf_index;
        let line_end = if lf > line_start && input[lf - 1] == b'\r' {
            lf - 1
        } else {
            lf
        };
        text_len += lf_index + 1;
        if text_len > TEXT_LEN_MAX {
            return Err(ResponseError::TextTooLong { len: text_len });
        }

        let line = &input[line_start..line_end];
        let header = trailing_literal_header(line)?;
        if first_line.is_none() {
            let text_end = header
                .as_ref()
                .map_or(line_end, |header| line_start + header.start);
            first_line = Some(line_start..text_end);
        }

        let Some(header) = header else {
            let first = first_line.unwrap_or(line_start..line_end);
            let kind = classify(input, first)?;
            return Ok(ResponseOutcome::Complete(Response {
                len: lf + 1,
                kind,
                literals,
            }));
        };

        if literals.len() == LITERALS_MAX {
            return Err(ResponseError::TooManyLiterals);
        }
        let data_start = lf + 1;
        let data_end = data_start + header.len;
        if input.len() < data_end {
            return Ok(ResponseOutcome::NeedMore);
        }
        literals.push(data_start..data_end);
        line_start = data_end;
    }
}

/// A literal header at the end of a line.
struct LiteralHeader {
    /// Offset of `{` (or of `~` before it) in the line.
    start: usize,
    len: usize,
}

/// Returns the literal header that ends `line`, if any.
fn trailing_literal_header(line: &[u8]) -> Result<Option<LiteralHeader>, ResponseError> {
    let Some(inner) = line.strip_suffix(b"}") else {
        return Ok(None);
    };
    let Some(open) = inner.iter().rposition(|&byte| byte == b'{') else {
        return Ok(None);
    };
    let digits = &inner[open + 1..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Ok(None);
    }

    // Digits saturate instead of overflowing, so a huge header is reported
    // with a value above the limit rather than wrapping to a small one.
    let len = digits.iter().fold(0u64, |len, &digit| {
        len.saturating_mul(10)
            .saturating_add(u64::from(digit - b'0'))
    });
    if len > LITERAL_LEN_MAX as u64 {
        return Err(ResponseError::LiteralTooLong { len });
    }

    let start = match open.checked_sub(1) {
        Some(tilde) if inner[tilde] == b'~' => tilde,
        _ => open,
    };
    Ok(Some(LiteralHeader {
        start,
        len: len as usize,
    }))
}

/// Classifies a response by its first line.
fn classify(input: &[u8], first: Range<usize>) -> Result<Kind, ResponseError> {
    let line = &input[first.clone()];
    let malformed = || ResponseError::Malformed {
        line: String::from_utf8_lossy(line).into_owned(),
    };

    if line.first() == Some(&b'+') {
        return Ok(Kind::Continuation);
    }
    if let Some(rest) = line.strip_prefix(b"* ") {
        let start = first.end - rest.len();
        return Ok(Kind::Untagged {
            rest: start..first.end,
        });
    }

    let space = line
        .iter()
        .position(|&byte| byte == b' ')
        .ok_or_else(malformed)?;
    if space == 0 {
        return Err(malformed());
    }
    let after_tag = &line[space + 1..];
    let (word, text) = match after_tag.iter().position(|&byte| byte == b' ') {
        Some(index) => (&after_tag[..index], &after_tag[index + 1..]),
        None => (after_tag, &after_tag[after_tag.len()..]),
    };
    let status = parse_status(word).ok_or_else(malformed)?;
    if matches!(status, Status::Preauth | Status::Bye) {
        return Err(malformed());
    }

    Ok(Kind::Tagged {
        tag: first.start..first.start + space,
        status,
        text: first.end - text.len()..first.end,
    })
}

/// Parses a status word, ignoring ASCII case.
pub fn parse_status(word: &[u8]) -> Option<Status> {
    let statuses = [
        (&b"OK"[..], Status::Ok),
        (b"NO", Status::No),
        (b"BAD", Status::Bad),
        (b"PREAUTH", Status::Preauth),
        (b"BYE", Status::Bye),
    ];
    statuses
        .iter()
        .find(|(name, _)| word.eq_ignore_ascii_case(name))
        .map(|(_, status)| *status)
}

/// Splits untagged text `N WORD ...` into the number and the upper-cased word,
/// for EXISTS, EXPUNGE and FETCH responses.
pub fn numbered(rest: &[u8]) -> Option<(u32, String)> {
    let mut words = rest.split(|&byte| byte == b' ');
    let number = std::str::from_utf8(words.next()?).ok()?.parse().ok()?;
    let word = std::str::from_utf8(words.next()?).ok()?;
    Some((number, word.to_ascii_uppercase()))
}

/// Returns the numbers of a `SEARCH n n ...` untagged text, or `None` when
/// the text is not a SEARCH response.
pub fn search_numbers(rest: &[u8]) -> Option<Vec<u32>> {
    let mut words = rest
        .split(|&byte| byte == b' ')
        .filter(|word| !word.is_empty());
    if !words.next()?.eq_ignore_ascii_case(b"SEARCH") {
        return None;
    }
    Some(
        words
            .filter_map(|word| std::str::from_utf8(word).ok()?.parse().ok())
            .collect(),
    )
}

/// Returns whether a capability list in `text` (a `CAPABILITY ...` response
/// or a `[CAPABILITY ...]` response code) names `capability`.
pub fn has_capability(text: &[u8], capability: &str) -> bool {
    let text = String::from_utf8_lossy(text).to_ascii_uppercase();
    let Some(start) = text.find("CAPABILITY ") else {
        return false;
    };
    text[start..]
        .split([' ', ']'])
        .any(|word| word == capability.to_ascii_uppercase())
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
