//! Command framing: where one command ends in the input buffer.
//!
//! A command is one or more lines, where every line but the last ends with a
//! literal header `{N}` or `{N+}` and is followed by N octets of literal data.
//! `scan` walks the lines with memchr, skips literal data by its length
//! without reading it, and stops at the first line that does not end in a
//! literal header. It enforces the two framing limits before the grammar
//! parser reads any byte: `line_len_max` on the command's text outside
//! literals, so an endless line costs bounded memory, and `literal_len_max`
//! on each announced literal, so the engine never sends "+" for data it
//! would not keep.
//!
//! A `{N}` counts as a literal header only outside a quoted string. A header
//! inside quotes is invalid anyway, and the grammar parser reports it.

use memchr::memchr;

use super::error::ParseError;
use super::Limits;

/// The extent of the command at the start of the buffer, as far as the bytes show.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Frame {
    /// No full command yet and no limit crossed.
    Incomplete,
    /// The command occupies `buf[..end]`, through its last LF.
    Complete { end: usize },
    /// A synchronizing literal's data starts at `literal_offset`, and not all
    /// `literal_len` octets of it are in the buffer.
    AwaitingLiteral {
        literal_offset: usize,
        literal_len: u32,
    },
    /// A framing limit was crossed, and the engine drops `consumed` octets.
    Invalid { error: ParseError, consumed: usize },
}

/// A literal header found at the end of a line.
struct LiteralHeader {
    /// The announced length, saturated at `u64::MAX`.
    len: u64,
    /// False for the non-synchronizing form `{N+}` (RFC 7888).
    synchronizing: bool,
}

/// Finds the end of the first command in `buf`.
pub(super) fn scan(buf: &[u8], limits: &Limits) -> Frame {
    let mut line_start = 0;
    let mut text_len = 0usize;

    loop {
        let rest = &buf[line_start..];
        let Some(lf_index) = memchr(b'\n', rest) else {
            return unterminated_line(buf.len(), text_len + rest.len(), limits);
        };

        let lf = line_start + lf_index;
        let line = strip_cr(&buf[line_start..lf]);
        text_len += line.len();
        let literal_header = trailing_literal_header(line);
        if text_len > limits.line_len_max {
            let error = ParseError::LineTooLong {
                line_len_max: limits.line_len_max,
                line_len: text_len,
                line_end_seen: true,
                non_sync_literal_follows: literal_header
                    .as_ref()
                    .is_some_and(|header| !header.synchronizing),
            };
            return Frame::Invalid {
                error,
                consumed: lf + 1,
            };
        }

        let Some(header) = literal_header else {
            return Frame::Complete { end: lf + 1 };
        };

        let data_start = lf + 1;
        let literal_len = match u32::try_from(header.len) {
            Ok(len) if len <= limits.literal_len_max => len,
            _ => {
                let error = ParseError::LiteralTooLong {
                    literal_len_max: limits.literal_len_max,
                    literal_len: header.len,
                    synchronizing: header.synchronizing,
                };
                return Frame::Invalid {
                    error,
                    consumed: data_start,
                };
            }
        };

        // A client waits for "+" before it sends a synchronizing literal's
        // data and the rest of the command, even when the literal is empty.
        // So nothing after the header means no "+" was sent yet.
        let available = buf.len() - data_start;
        if available < literal_len as usize || (header.synchronizing && available == 0) {
            if header.synchronizing {
                return Frame::AwaitingLiteral {
                    literal_offset: data_start,
                    literal_len,
                };
            }
            return Frame::Incomplete;
        }
        line_start = data_start + literal_len as usize;
    }
}

/// Judges a buffer whose last line has no LF yet: incomplete, or too long already.
fn unterminated_line(buf_len: usize, text_len: usize, limits: &Limits) -> Frame {
    if text_len <= limits.line_len_max {
        return Frame::Incomplete;
    }
    let error = ParseError::LineTooLong {
        line_len_max: limits.line_len_max,
        line_len: text_len,
        line_end_seen: false,
        non_sync_literal_follows: false,
    };
    Frame::Invalid {
        error,
        consumed: buf_len,
    }
}

/// Drops one trailing CR, so that both CRLF and bare LF end a line.
fn strip_cr(line: &[u8]) -> &[u8] {
    match line.split_last() {
        Some((b'\r', head)) => head,
        _ => line,
    }
}

/// Reads `{N}` or `{N+}` at the very end of `line`, unless it sits inside a quoted string.
fn trailing_literal_header(line: &[u8]) -> Option<LiteralHeader> {
    let (last, head) = line.split_last()?;
    if *last != b'}' {
        return None;
    }

    let (synchronizing, digits_end) = match head.last() {
        Some(b'+') => (false, head.len() - 1),
        _ => (true, head.len()),
    };
    let digits_start = head[..digits_end]
        .iter()
        .rposition(|byte| !byte.is_ascii_digit())
        .map_or(0, |index| index + 1);
    if digits_start == digits_end || digits_start == 0 || head[digits_start - 1] != b'{' {
        return None;
    }

    let brace = digits_start - 1;
    if ends_inside_quotes(&line[..brace]) {
        return None;
    }

    let len = head[digits_start..digits_end]
        .iter()
        .fold(0u64, |len, digit| {
            len.saturating_mul(10)
                .saturating_add(u64::from(digit - b'0'))
        });
    Some(LiteralHeader { len, synchronizing })
}

/// Whether `text` leaves a quoted string open, honoring `\` escapes inside quotes.
fn ends_inside_quotes(text: &[u8]) -> bool {
    let mut inside = false;
    let mut escaped = false;
    for &byte in text {
        if escaped {
            escaped = false;
        } else if inside && byte == b'\\' {
            escaped = true;
        } else if byte == b'"' {
            inside = !inside;
        }
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            line_len_max: 64,
            literal_len_max: 100,
            ..Limits::default()
        }
    }

    #[test]
    fn frame_table() {
        let cases: &[(&[u8], Frame)] = &[
            (b"", Frame::Incomplete),
            (b"a NOOP", Frame::Incomplete),
            (b"a NOOP\r\n", Frame::Complete { end: 8 }),
            (b"a NOOP\nb NOOP\n", Frame::Complete { end: 7 }),
            (
                b"a LOGIN {3}\r\n",
                Frame::AwaitingLiteral {
                    literal_offset: 13,
                    literal_len: 3,
                },
            ),
            (
                b"a LOGIN {3}\r\nab",
                Frame::AwaitingLiteral {
                    literal_offset: 13,
                    literal_len: 3,
                },
            ),
            (b"a LOGIN {3+}\r\nab", Frame::Incomplete),
            (
                b"a LOGIN {3}\r\nabc {1}\r\nx\r\n",
                Frame::Complete { end: 25 },
            ),
            (b"a LOGIN {0}\r\n {0}\r\n\r\n", Frame::Complete { end: 21 }),
            (
                b"a LOGIN {0}\r\n",
                Frame::AwaitingLiteral {
                    literal_offset: 13,
                    literal_len: 0,
                },
            ),
            (b"a LOGIN {0+}\r\n", Frame::Incomplete),
            (b"a LOGIN \"{3}\r\n", Frame::Complete { end: 14 }),
            (
                b"a LOGIN \"\\\"\" {3}\r\n",
                Frame::AwaitingLiteral {
                    literal_offset: 18,
                    literal_len: 3,
                },
            ),
            (b"a LOGIN x{}\r\n", Frame::Complete { end: 13 }),
            (b"a LOGIN x+}\r\n", Frame::Complete { end: 13 }),
        ];
        for (input, expected) in cases {
            assert_eq!(
                &scan(input, &limits()),
                expected,
                "input {:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn literal_data_with_lf_is_skipped() {
        let input = b"a APPEND x {4}\r\n\n\n\n\n\r\n";
        assert_eq!(scan(input, &limits()), Frame::Complete { end: input.len() });
    }

    #[test]
    fn oversized_literal_is_rejected_before_data() {
        let frame = scan(b"a APPEND x {101}\r\n", &limits());
        let Frame::Invalid { error, consumed } = frame else {
            panic!("expected invalid, got {frame:?}")
        };
        assert_eq!(consumed, 18);
        assert!(!error.closes_connection());
    }

    #[test]
    fn huge_literal_length_saturates() {
        let frame = scan(b"a APPEND x {99999999999999999999999999+}\r\n", &limits());
        let Frame::Invalid { error, .. } = frame else {
            panic!("expected invalid, got {frame:?}")
        };
        assert!(error.closes_connection());
    }

    #[test]
    fn long_line_before_non_sync_literal_closes() {
        let input = [b"a LOGIN ".as_slice(), &[b'x'; 60], b" {3+}\r\n"].concat();
        let Frame::Invalid { error, .. } = scan(&input, &limits()) else {
            panic!()
        };
        assert!(error.closes_connection());
    }

    #[test]
    fn long_line_without_lf_asks_for_discard() {
        let input = [b'a'; 65];
        let Frame::Invalid { error, consumed } = scan(&input, &limits()) else {
            panic!()
        };
        assert_eq!(consumed, 65);
        assert!(error.discard_to_line_end());
    }

    #[test]
    fn long_text_across_literals_counts_in_total() {
        let mut input = Vec::new();
        for _ in 0..10 {
            input.extend_from_slice(b"a LOGIN {0}\r\n");
        }
        let Frame::Invalid { error, .. } = scan(&input, &limits()) else {
            panic!()
        };
        assert!(!error.discard_to_line_end());
    }
}
