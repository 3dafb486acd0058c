//! xtext, the encoding of the DSN parameters ENVID and ORCPT (RFC 3461
//! section 4).
//!
//! An xtext is printable ASCII from `!` to `~` except `+` and `=`, and
//! `+XX` with two uppercase hex digits for any other octet. [`decode_xtext`]
//! checks that shape and returns the decoded text, borrowed when there is no
//! `+XX` to decode. [`encode_xtext`] is the reverse, for a server that quotes
//! the values back in a DSN or relays them.
//!
//! The decoded octets must be UTF-8, because the envelope stores them as
//! strings. Plain RFC 3461 values are ASCII; UTF-8 comes in with RFC 6533.
//! NOTE: the RFC 6533 `utf-8-addr-xtext` form with `\x{HEX}` escapes is not
//! decoded: its backslashes are kept as they are.

use std::borrow::Cow;

/// The reason a value is not valid xtext.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XtextError {
    /// A byte outside `!`..=`~`, or a bare `=`.
    InvalidChar { byte: u8 },
    /// A `+` that is not followed by two uppercase hex digits.
    InvalidHex,
    /// The decoded octets are not UTF-8.
    NotUtf8,
}

impl std::fmt::Display for XtextError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            XtextError::InvalidChar { byte } => {
                write!(f, "invalid character 0x{byte:02X} in xtext")
            }
            XtextError::InvalidHex => {
                f.write_str("'+' in xtext must be followed by two uppercase hex digits")
            }
            XtextError::NotUtf8 => f.write_str("decoded xtext is not valid UTF-8"),
        }
    }
}

impl std::error::Error for XtextError {}

/// Decodes `text` from xtext, borrowing when it contains no `+XX`.
pub fn decode_xtext(text: &str) -> Result<Cow<'_, str>, XtextError> {
    let bytes = text.as_bytes();
    if let Some(&byte) = bytes.iter().find(|&&byte| !is_xtext_byte(byte)) {
        return Err(XtextError::InvalidChar { byte });
    }
    if !bytes.contains(&b'+') {
        return Ok(Cow::Borrowed(text));
    }

    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        if byte != b'+' {
            decoded.push(byte);
            index += 1;
            continue;
        }
        let high = bytes.get(index + 1).and_then(|&digit| hex_value(digit));
        let low = bytes.get(index + 2).and_then(|&digit| hex_value(digit));
        let (Some(high), Some(low)) = (high, low) else {
            return Err(XtextError::InvalidHex);
        };
        decoded.push(high << 4 | low);
        index += 3;
    }
    String::from_utf8(decoded)
        .map(Cow::Owned)
        .map_err(|_| XtextError::NotUtf8)
}

/// Appends `text` to `out` as xtext: `+`, `=`, controls, space and every
/// non-ASCII octet become `+XX`.
pub fn encode_xtext(text: &[u8], out: &mut String) {
    const HEX_DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    for &byte in text {
        if byte != b'+' && byte != b'=' && (b'!'..=b'~').contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push('+');
            out.push(char::from(HEX_DIGITS[usize::from(byte >> 4)]));
            out.push(char::from(HEX_DIGITS[usize::from(byte & 0xF)]));
        }
    }
}

/// Returns whether `byte` may appear in xtext: `xchar` or the `+` that
/// starts a `hexchar`.
fn is_xtext_byte(byte: u8) -> bool {
    (b'!'..=b'~').contains(&byte) && byte != b'='
}

/// RFC 3461 hexchar digits are `0-9` and uppercase `A-F` only.
fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decode_table() {
        let cases: &[(&str, Result<&str, XtextError>)] = &[
            ("", Ok("")),
            ("plain-id.123", Ok("plain-id.123")),
            ("a+2Bb", Ok("a+b")),
            ("a+3Db", Ok("a=b")),
            ("+20", Ok(" ")),
            ("+C3+A9", Ok("é")),
            ("a+2b", Err(XtextError::InvalidHex)),
            ("a+2", Err(XtextError::InvalidHex)),
            ("a+", Err(XtextError::InvalidHex)),
            ("+G0", Err(XtextError::InvalidHex)),
            ("a=b", Err(XtextError::InvalidChar { byte: b'=' })),
            ("a b", Err(XtextError::InvalidChar { byte: b' ' })),
            ("é", Err(XtextError::InvalidChar { byte: 0xC3 })),
            ("+FF", Err(XtextError::NotUtf8)),
        ];
        for (text, expected) in cases {
            let got = decode_xtext(text);
            assert_eq!(got.as_deref(), expected.as_ref().map(|s| *s), "{text:?}");
        }
    }

    #[test]
    fn plain_xtext_is_borrowed() {
        assert!(matches!(decode_xtext("abc"), Ok(Cow::Borrowed("abc"))));
    }

    #[test]
    fn encode_escapes_plus_equals_and_space() {
        let mut out = String::new();
        encode_xtext(b"a+b=c d\x01", &mut out);
        assert_eq!(out, "a+2Bb+3Dc+20d+01");
    }

    proptest! {
        #[test]
        fn xtext_round_trip(text in ".{0,40}") {
            let mut encoded = String::new();
            encode_xtext(text.as_bytes(), &mut encoded);
            let decoded = decode_xtext(&encoded);
            prop_assert_eq!(decoded.as_deref(), Ok(text.as_str()));
        }

        #[test]
        fn decode_never_panics(text in "[!-~ +]{0,40}") {
            let _ = decode_xtext(&text);
        }
    }
}
