//! Text shaping that SpamAssassin 4.0.1 applies before rules run (read from
//! Mail/SpamAssassin/Message.pm): whitespace collapsing into paragraphs,
//! splitting into bounded lines, and per-part scan truncation.
//!
//! `BODY_LINE_LEN_MAX` is SpamAssassin's MAX_BODY_LINE_LENGTH. Rules match
//! one array element at a time, so the element size bounds the text any one
//! regex scans.

use std::borrow::Cow;

/// Maximum length in bytes of one body line or rawbody paragraph
/// (SpamAssassin's MAX_BODY_LINE_LENGTH).
pub const BODY_LINE_LEN_MAX: usize = 2_048;

/// Bytes of each part's rendered text that `body` rules see
/// (SpamAssassin's `body_part_scan_size` default).
pub const BODY_PART_SCAN_LEN: usize = 50_000;

/// Bytes of each part's decoded text that `rawbody` rules see
/// (SpamAssassin's `rawbody_part_scan_size` default).
pub const RAWBODY_PART_SCAN_LEN: usize = 500_000;

/// How far past the scan length truncation looks for a good cut.
const SCAN_SLACK_LEN: usize = 1_024;

/// Collapses whitespace as SpamAssassin does for body text. A whitespace
/// run with two or more line feeds becomes a paragraph break ("\n"), and any
/// other run becomes one space. The break keeps a space before it when the
/// run had whitespace before its first line feed, and one after it when the
/// run had whitespace after its last line feed.
pub fn collapse_whitespace(text: &str) -> String {
    let mut output = String::with_capacity(text.len());
    let mut characters = text.char_indices().peekable();
    while let Some((start, character)) = characters.next() {
        if !character.is_whitespace() {
            output.push(character);
            continue;
        }
        let mut end = start + character.len_utf8();
        while let Some(&(at, next)) = characters.peek() {
            if !next.is_whitespace() {
                break;
            }
            end = at + next.len_utf8();
            characters.next();
        }
        let run = &text[start..end];
        let first_feed = run.find('\n');
        let last_feed = run.rfind('\n');
        match (first_feed, last_feed) {
            (Some(first), Some(last)) if first != last => {
                if first > 0 {
                    output.push(' ');
                }
                output.push('\n');
                if last + 1 < run.len() {
                    output.push(' ');
                }
            }
            _ => output.push(' '),
        }
    }
    output
}

/// Splits `text` into lines (each keeping its "\n") and cuts lines longer
/// than `BODY_LINE_LEN_MAX` bytes after their last space within the limit,
/// or at the limit when there is no space.
pub fn split_short_lines(text: &str, lines: &mut Vec<String>) {
    for line in text.split_inclusive('\n') {
        let mut rest = line;
        while rest.len() > BODY_LINE_LEN_MAX {
            // The piece keeps its space, so the space must sit within the
            // first `BODY_LINE_LEN_MAX` bytes for the piece to fit.
            let window = &rest[..floor_char_boundary(rest, BODY_LINE_LEN_MAX)];
            let mut cut = window.rfind(' ').map_or(0, |at| at + 1);
            if cut == 0 {
                cut = floor_char_boundary(rest, BODY_LINE_LEN_MAX);
            }
            if cut == 0 {
                // One character longer than the limit: emit it whole.
                cut = rest.chars().next().map_or(rest.len(), char::len_utf8);
            }
            lines.push(rest[..cut].to_string());
            rest = &rest[cut..];
        }
        lines.push(rest.to_string());
    }
}

/// Splits `text` into pieces of `BODY_LINE_LEN_MAX` to twice that many
/// bytes, each ending after a line feed, else after a `>`, else after a
/// space, else at the limit. Borrowed input gives borrowed pieces.
pub fn split_short_paragraphs<'t>(text: Cow<'t, [u8]>, pieces: &mut Vec<Cow<'t, [u8]>>) {
    if text.len() <= BODY_LINE_LEN_MAX {
        pieces.push(text);
        return;
    }
    let mut ranges = Vec::new();
    let bytes: &[u8] = &text;
    let mut offset = 0;
    while bytes.len() - offset > 2 * BODY_LINE_LEN_MAX {
        let search_from = offset + BODY_LINE_LEN_MAX;
        let fits = |at: usize| at - offset < 2 * BODY_LINE_LEN_MAX;
        let cut = [b'\n', b'>', b' ']
            .iter()
            .find_map(|&byte| {
                memchr::memchr(byte, &bytes[search_from..])
                    .map(|at| search_from + at)
                    .filter(|&at| fits(at))
            })
            .unwrap_or(offset + BODY_LINE_LEN_MAX);
        ranges.push(offset..cut + 1);
        offset = cut + 1;
    }
    if offset < bytes.len() {
        ranges.push(offset..bytes.len());
    }
    match text {
        Cow::Borrowed(borrowed) => pieces.extend(
            ranges
                .into_iter()
                .map(|range| Cow::Borrowed(&borrowed[range])),
        ),
        Cow::Owned(owned) => pieces.extend(
            ranges
                .into_iter()
                .map(|range| Cow::Owned(owned[range].to_vec())),
        ),
    }
}

/// Returns the length `text` is cut to for a scan length of `scan_len`:
/// just after a line feed within `SCAN_SLACK_LEN` bytes past the limit,
/// else after one of `fallbacks` in that window, else at the limit.
pub fn scan_cut(text: &[u8], scan_len: usize, fallbacks: &[u8]) -> usize {
    if text.len() <= scan_len {
        return text.len();
    }
    let window_end = (scan_len + SCAN_SLACK_LEN + 1).min(text.len());
    let window = &text[scan_len..window_end];
    std::iter::once(&b'\n')
        .chain(fallbacks)
        .find_map(|&byte| memchr::memchr(byte, window))
        .map_or(scan_len, |at| scan_len + at + 1)
}

/// Returns the largest char boundary of `text` at or below `index`.
pub fn floor_char_boundary(text: &str, index: usize) -> usize {
    let mut index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collapse_cases() {
        let cases: &[(&str, &str)] = &[
            ("a  b\tc", "a b c"),
            ("a\nb", "a b"),
            ("a\n\nb", "a\nb"),
            ("a\n \n\n b", "a\n b"),
            ("a  \n\nb", "a \nb"),
            ("a\u{a0}b", "a b"),
            ("\n\nlead", "\nlead"),
            ("", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(collapse_whitespace(input), *expected, "input {input:?}");
        }
    }

    #[test]
    fn long_line_splits_after_space() {
        let line = format!("{} {}", "a".repeat(2_000), "b".repeat(100));
        let mut lines = Vec::new();
        split_short_lines(&line, &mut lines);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), 2_001);
        assert!(lines[1].starts_with('b'));
    }

    #[test]
    fn long_line_without_space_splits_at_maximum() {
        let mut lines = Vec::new();
        split_short_lines(&"x".repeat(5_000), &mut lines);
        let lengths: Vec<usize> = lines.iter().map(String::len).collect();
        assert_eq!(lengths, vec![2_048, 2_048, 904]);
    }

    #[test]
    fn long_multibyte_line_splits_on_char_boundary() {
        let mut lines = Vec::new();
        split_short_lines(&"é".repeat(3_000), &mut lines);
        assert!(lines.iter().all(|line| line.len() <= BODY_LINE_LEN_MAX));
        assert_eq!(lines.concat(), "é".repeat(3_000));
    }

    #[test]
    fn paragraphs_are_borrowed_and_bounded() {
        let text = "line of text\n".repeat(1_000);
        let mut pieces = Vec::new();
        split_short_paragraphs(Cow::Borrowed(text.as_bytes()), &mut pieces);
        assert!(pieces.len() > 1);
        assert!(pieces.iter().all(|piece| matches!(piece, Cow::Borrowed(_))));
        assert!(pieces
            .iter()
            .all(|piece| piece.len() <= 2 * BODY_LINE_LEN_MAX));
        assert_eq!(pieces.concat(), text.as_bytes());
    }

    #[test]
    fn scan_cut_prefers_line_feed() {
        let text = format!("{}\nrest", "a".repeat(60));
        assert_eq!(scan_cut(text.as_bytes(), 50, b" "), 61);
        assert_eq!(scan_cut(b"short", 50, b" "), 5);
    }
}
