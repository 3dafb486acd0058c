//! Content-Transfer-Encoding and charset decoding, and RFC 2047 encoded-words.
//!
//! - `quoted_printable` and `base64` decode a part's body the lenient way mail
//!   filters must: invalid escapes stay as written, characters outside the
//!   base64 alphabet are skipped, and a truncated last group keeps its whole
//!   bytes.
//! - `to_utf8` turns a part's bytes into text. A charset that encoding_rs
//!   recognizes is decoded with it. US-ASCII, UTF-8, a missing charset and an
//!   unknown one are read as UTF-8 when the bytes are valid UTF-8, else as
//!   windows-1252 (a superset of latin-1 that maps every byte), so decoding
//!   never fails.
//! - `decode_header_value` decodes encoded-words in an unfolded header value.
//!
//! Every function returns `Cow::Borrowed` when the input needs no change.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};

/// Maximum encoded-words decoded in one header value, because each one
/// costs a charset lookup and a header of millions of tiny words would cost
/// that many.
pub const ENCODED_WORDS_MAX: usize = 1_000;

/// Decodes quoted-printable (RFC 2045 section 6.7). Trailing spaces and tabs
/// before a line end are dropped, `=` before a line end joins the lines,
/// `=XX` becomes the byte XX (either case), and a `=` that starts no valid
/// escape is kept.
pub fn quoted_printable(input: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr(b'=', input).is_none() && !has_trailing_blank(input) {
        return Cow::Borrowed(input);
    }
    let mut output = Vec::with_capacity(input.len());
    for line in input.split_inclusive(|&byte| byte == b'\n') {
        let (content, ending) = split_line_ending(line);
        let content = trim_blank_end(content);
        let mut index = 0;
        let mut soft_break = false;
        while index < content.len() {
            let byte = content[index];
            if byte != b'=' {
                output.push(byte);
                index += 1;
                continue;
            }
            if index + 1 == content.len() {
                soft_break = true;
                break;
            }
            let escape = content
                .get(index + 1..index + 3)
                .and_then(|hex| Some(hex_value(hex[0])? << 4 | hex_value(hex[1])?));
            match escape {
                Some(value) => {
                    output.push(value);
                    index += 3;
                }
                None => {
                    output.push(b'=');
                    index += 1;
                }
            }
        }
        if !soft_break {
            output.extend_from_slice(ending);
        }
    }
    Cow::Owned(output)
}

/// Returns whether some line of `input` ends in a space or tab.
fn has_trailing_blank(input: &[u8]) -> bool {
    memchr::memchr_iter(b'\n', input).any(|at| {
        let content = &input[..at];
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        matches!(content.last(), Some(b' ' | b'\t'))
    })
}

/// Splits a line into its content and its CRLF or LF ending.
fn split_line_ending(line: &[u8]) -> (&[u8], &[u8]) {
    if let Some(content) = line.strip_suffix(b"\r\n") {
        (content, b"\r\n")
    } else if let Some(content) = line.strip_suffix(b"\n") {
        (content, b"\n")
    } else {
        (line, b"")
    }
}

fn trim_blank_end(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|&byte| byte != b' ' && byte != b'\t')
        .map_or(0, |at| at + 1);
    &bytes[..end]
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Decodes base64 (RFC 2045 section 6.8) leniently. Bytes outside the
/// alphabet are skipped, the first `=` ends the data, and a last group of 2
/// or 3 characters yields its 1 or 2 whole bytes. A lone last character
/// carries fewer than 8 bits and is dropped.
pub fn base64(input: &[u8]) -> Vec<u8> {
    let mut output = Vec::with_capacity(input.len() / 4 * 3 + 3);
    let mut group: u32 = 0;
    let mut group_len = 0;
    for &byte in input {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => continue,
        };
        group = group << 6 | u32::from(value);
        group_len += 1;
        if group_len == 4 {
            output.extend_from_slice(&[(group >> 16) as u8, (group >> 8) as u8, group as u8]);
            group = 0;
            group_len = 0;
        }
    }
    match group_len {
        2 => output.push((group >> 4) as u8),
        3 => output.extend_from_slice(&[(group >> 10) as u8, (group >> 2) as u8]),
        _ => {}
    }
    output
}

/// Returns the encoding for a charset label, or `None` for labels that are
/// read as "UTF-8 when valid, else windows-1252": missing, unknown, US-ASCII
/// and UTF-8 itself.
fn known_encoding(charset: Option<&[u8]>) -> Option<&'static Encoding> {
    let label = charset?;
    let encoding = Encoding::for_label(label)?;
    // encoding_rs maps us-ascii to windows-1252, but SpamAssassin 4.0.1
    // (Message/Node.pm) tries UTF-8 first for a us-ascii label too.
    let is_ascii_label =
        label.eq_ignore_ascii_case(b"us-ascii") || label.eq_ignore_ascii_case(b"ascii");
    if encoding == UTF_8 || is_ascii_label {
        return None;
    }
    Some(encoding)
}

/// Decodes `bytes` in `charset` to UTF-8. Malformed sequences become
/// U+FFFD, and labels encoding_rs does not recognize fall back as the module
/// documentation describes, so every input gives text.
pub fn to_utf8<'b>(bytes: &'b [u8], charset: Option<&[u8]>) -> Cow<'b, str> {
    match known_encoding(charset) {
        Some(encoding) => encoding.decode_without_bom_handling(bytes).0,
        None => match std::str::from_utf8(bytes) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => WINDOWS_1252.decode_without_bom_handling(bytes).0,
        },
    }
}

/// Like `to_utf8` for owned bytes, without copying valid UTF-8 again.
pub fn vec_to_utf8(bytes: Vec<u8>, charset: Option<&[u8]>) -> String {
    if known_encoding(charset).is_none() {
        return match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(error) => WINDOWS_1252
                .decode_without_bom_handling(error.as_bytes())
                .0
                .into_owned(),
        };
    }
    to_utf8(&bytes, charset).into_owned()
}

/// One piece of a header value: plain text, or the bytes of encoded-words
/// with their charset.
enum Piece<'v> {
    Plain(&'v [u8]),
    Encoded { charset: &'v [u8], bytes: Vec<u8> },
}

/// Decodes RFC 2047 encoded-words in an unfolded header value and returns
/// UTF-8. Whitespace between two adjacent encoded-words is dropped, and
/// adjacent words in one charset are joined before charset decoding, because
/// senders often split one multi-byte character across two words. Text
/// outside encoded-words is read as `to_utf8` reads an unknown charset.
pub fn decode_header_value(value: &[u8]) -> Cow<'_, str> {
    if memchr::memmem::find(value, b"=?").is_none() {
        return to_utf8(value, None);
    }
    let pieces = split_encoded_words(value);
    let mut text = String::with_capacity(value.len());
    for piece in pieces {
        match piece {
            Piece::Plain(bytes) => text.push_str(&to_utf8(bytes, None)),
            Piece::Encoded { charset, bytes } => text.push_str(&to_utf8(&bytes, Some(charset))),
        }
    }
    Cow::Owned(text)
}

/// Splits `value` into plain and encoded pieces, merging adjacent encoded
/// pieces of one charset.
fn split_encoded_words(value: &[u8]) -> Vec<Piece<'_>> {
    let mut pieces: Vec<Piece<'_>> = Vec::new();
    let mut position = 0;
    let mut plain_start = 0;
    let mut words = 0;
    while let Some(found) = memchr::memmem::find(&value[position..], b"=?") {
        let start = position + found;
        if words >= ENCODED_WORDS_MAX {
            break;
        }
        let Some((charset, bytes, end)) = parse_encoded_word(value, start) else {
            position = start + 2;
            continue;
        };
        words += 1;

        // Whitespace alone between two encoded-words is dropped.
        let between = &value[plain_start..start];
        let follows_word = matches!(pieces.last(), Some(Piece::Encoded { .. }));
        let only_space = between.iter().all(|byte| byte.is_ascii_whitespace());
        if !(between.is_empty() || follows_word && only_space) {
            pieces.push(Piece::Plain(between));
        }
        match pieces.last_mut() {
            Some(Piece::Encoded {
                charset: last_charset,
                bytes: last_bytes,
            }) if last_charset.eq_ignore_ascii_case(charset) => {
                last_bytes.extend_from_slice(&bytes)
            }
            _ => pieces.push(Piece::Encoded { charset, bytes }),
        }
        position = end;
        plain_start = end;
    }
    if plain_start < value.len() {
        pieces.push(Piece::Plain(&value[plain_start..]));
    }
    pieces
}

/// Parses `=?charset?B|Q?text?=` at `start`, returning the charset (without
/// an RFC 2231 language suffix), the decoded bytes and the end offset.
fn parse_encoded_word(value: &[u8], start: usize) -> Option<(&[u8], Vec<u8>, usize)> {
    let rest = &value[start + 2..];
    let charset_len = rest
        .iter()
        .position(|&byte| byte == b'?')
        .filter(|&len| len > 0)?;
    let charset_full = &rest[..charset_len];
    let charset_ok = charset_full.iter().all(|&byte| {
        byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'*' | b'.' | b':')
    });
    if !charset_ok {
        return None;
    }
    let charset = charset_full
        .split(|&byte| byte == b'*')
        .next()
        .unwrap_or(charset_full);

    let encoding = *rest.get(charset_len + 1)?;
    if rest.get(charset_len + 2) != Some(&b'?') {
        return None;
    }

    let text_start = charset_len + 3;
    let text_len = memchr::memmem::find(&rest[text_start..], b"?=")?;
    let text = &rest[text_start..text_start + text_len];
    if text
        .iter()
        .any(|&byte| byte == b'?' || byte.is_ascii_whitespace())
    {
        return None;
    }

    let bytes = match encoding {
        b'B' | b'b' => base64(text),
        b'Q' | b'q' => q_decode(text),
        _ => return None,
    };
    Some((charset, bytes, start + 2 + text_start + text_len + 2))
}

/// Decodes the Q encoding of RFC 2047 section 4.2: `_` is a space and
/// `=XX` a byte.
fn q_decode(text: &[u8]) -> Vec<u8> {
    let mut output = Vec::with_capacity(text.len());
    let mut index = 0;
    while index < text.len() {
        let byte = text[index];
        let escape = (byte == b'=')
            .then(|| text.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| Some(hex_value(hex[0])? << 4 | hex_value(hex[1])?));
        match (byte, escape) {
            (_, Some(value)) => {
                output.push(value);
                index += 3;
                continue;
            }
            (b'_', None) => output.push(b' '),
            (other, None) => output.push(other),
        }
        index += 1;
    }
    output
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_printable_cases() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"plain text", b"plain text"),
            (b"caf=C3=A9", "café".as_bytes()),
            (b"lower =c3=a9", "lower é".as_bytes()),
            (b"soft=\nbreak", b"softbreak"),
            (b"soft=\r\nbreak crlf", b"softbreak crlf"),
            (b"trailing   \nspace", b"trailing\nspace"),
            (b"bad =ZZ escape", b"bad =ZZ escape"),
            (b"truncated =4", b"truncated =4"),
            (b"ends with =", b"ends with "),
            (b"=3D=3d", b"=="),
        ];
        for (input, expected) in cases {
            assert_eq!(
                &*quoted_printable(input),
                *expected,
                "input {:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn quoted_printable_without_escapes_is_borrowed() {
        assert!(matches!(
            quoted_printable(b"nothing to do\n"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn base64_cases() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"aGVsbG8=", b"hello"),
            (b"aGVs\r\nbG8=", b"hello"),
            (b"aGVsbG8", b"hello"),
            (b"aGVsbA", b"hell"),
            (b"a", b""),
            (b"!!aG*Vs#bG8=", b"hello"),
            (b"aGVsbG8=garbage after padding", b"hello"),
            (b"", b""),
        ];
        for (input, expected) in cases {
            assert_eq!(
                base64(input),
                *expected,
                "input {:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn charset_cases() {
        type Case<'c> = (&'c [u8], Option<&'c [u8]>, &'c str);
        let cases: &[Case<'_>] = &[
            (b"ascii", Some(b"us-ascii"), "ascii"),
            ("café".as_bytes(), Some(b"utf-8"), "café"),
            (b"caf\xe9", Some(b"iso-8859-1"), "café"),
            (b"caf\xe9", Some(b"us-ascii"), "café"),
            (b"caf\xe9", None, "café"),
            (b"caf\xe9", Some(b"x-no-such-charset"), "café"),
            ("café".as_bytes(), Some(b"x-no-such-charset"), "café"),
            (b"\xcf\xf0\xe8\xe2\xe5\xf2", Some(b"windows-1251"), "Привет"),
            (
                b"\x1b$B$3$s$K$A$O\x1b(B",
                Some(b"iso-2022-jp"),
                "こんにちは",
            ),
            (b"\xa4\xa4\xa4\xe5", Some(b"big5"), "中文"),
        ];
        for (input, charset, expected) in cases {
            assert_eq!(to_utf8(input, *charset), *expected, "charset {charset:?}");
        }
    }

    #[test]
    fn invalid_utf8_in_utf8_charset_falls_back() {
        assert_eq!(to_utf8(b"\xff\xfe ok", Some(b"utf-8")), "ÿþ ok");
    }

    #[test]
    fn header_encoded_word_cases() {
        let cases: &[(&[u8], &str)] = &[
            (b"plain subject", "plain subject"),
            (b"=?utf-8?B?Y2Fmw6k=?=", "café"),
            (b"=?ISO-8859-1?Q?caf=E9_au_lait?=", "café au lait"),
            (b"a =?utf-8?q?b?= c", "a b c"),
            (b"=?utf-8?q?one?= =?utf-8?q?two?=", "onetwo"),
            (b"=?utf-8?q?one?= and =?utf-8?q?two?=", "one and two"),
            // One UTF-8 character split across two words.
            (b"=?utf-8?B?w6k=?= =?utf-8?B?w6k=?=", "éé"),
            (b"=?utf-8?Q?caf=C3?= =?utf-8?Q?=A9?=", "café"),
            (b"=?utf-8*en?Q?lang?=", "lang"),
            (b"=?bogus?Q?x?=", "x"),
            (b"=?utf-8?X?unknown?=", "=?utf-8?X?unknown?="),
            (b"=?utf-8?Q?unterminated", "=?utf-8?Q?unterminated"),
            (b"=??Q?empty charset?=", "=??Q?empty charset?="),
        ];
        for (input, expected) in cases {
            assert_eq!(
                decode_header_value(input),
                *expected,
                "input {:?}",
                String::from_utf8_lossy(input)
            );
        }
    }
}
