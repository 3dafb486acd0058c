//! Line ends on disk and on the wire.
//!
//! Maildir files hold LF line ends, as Postfix's and Dovecot's deliveries
//! write them and as mutt expects. SMTP and IMAP carry CRLF. Messages are
//! converted to LF when stored and back to CRLF when read. The CRLF size (what
//! IMAP reports as RFC822.SIZE) is kept in the file name as `,W=<size>`, the
//! field Dovecot uses for the same purpose, so listing a folder needs no file
//! reads.

use std::borrow::Cow;

/// Returns `message` with every CRLF replaced by LF. Every other byte is
/// kept: a bare LF, a bare CR and NUL. So a message that already has LF line
/// ends, or mixes LF and CRLF (as BDAT with BINARYMIME may deliver), is
/// stored with LF line ends and its other octets unchanged.
///
/// NOTE: the stored form does not record which LFs had a CR, so binary
/// content does not always read back byte for byte through [`to_crlf`]. A
/// bare LF reads back as CRLF, and a CR right before a CRLF (`\r\r\n`)
/// reads back as one CRLF. DATA never stores either (bare CR and LF are
/// rejected), but BDAT and IMAP APPEND can.
pub fn to_lf(message: &[u8]) -> Vec<u8> {
    let mut stored = Vec::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = memchr::memmem::find(rest, b"\r\n") {
        stored.extend_from_slice(&rest[..at]);
        stored.push(b'\n');
        rest = &rest[at + 2..];
    }
    stored.extend_from_slice(rest);
    stored
}

/// Replaces every CRLF in `message` by LF in place, with the same result as
/// [`to_lf`] but without a second buffer.
pub fn to_lf_in_place(message: &mut Vec<u8>) {
    let crlf = memchr::memmem::Finder::new(b"\r\n");
    let Some(first) = crlf.find(message) else {
        return;
    };
    // message[..write] is converted output; message[read..] is not read yet.
    // Each CRLF shrinks to one byte, so write never passes read.
    let mut write = first;
    let mut read = first;
    while let Some(at) = crlf.find(&message[read..]) {
        let line_end = read + at;
        message.copy_within(read..line_end, write);
        write += line_end - read;
        message[write] = b'\n';
        write += 1;
        read = line_end + 2;
    }
    let len = message.len();
    message.copy_within(read..len, write);
    message.truncate(write + (len - read));
}

/// Returns `stored` with every LF that has no CR before it replaced by
/// CRLF. Borrows when there is nothing to change.
pub fn to_crlf(stored: &[u8]) -> Cow<'_, [u8]> {
    if bare_lf_count(stored) == 0 {
        return Cow::Borrowed(stored);
    }
    let mut message = Vec::with_capacity(stored.len() + stored.len() / 32);
    let mut start = 0;
    for at in memchr::memchr_iter(b'\n', stored) {
        if at > 0 && stored[at - 1] == b'\r' {
            continue;
        }
        message.extend_from_slice(&stored[start..at]);
        message.extend_from_slice(b"\r\n");
        start = at + 1;
    }
    message.extend_from_slice(&stored[start..]);
    Cow::Owned(message)
}

/// Returns the size of `stored` once its line ends are CRLF.
pub fn crlf_len(stored: &[u8]) -> u64 {
    (stored.len() + bare_lf_count(stored)) as u64
}

fn bare_lf_count(bytes: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', bytes)
        .filter(|&at| at == 0 || bytes[at - 1] != b'\r')
        .count()
}

/// Reads the `,W=<size>` field from a Maildir file name, if present.
pub fn virtual_size_from_name(file_name: &str) -> Option<u64> {
    let base = file_name.split(":2,").next().unwrap_or(file_name);
    base.split(',')
        .skip(1)
        .find_map(|field| field.strip_prefix("W="))
        .and_then(|digits| digits.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_of_crlf_message() {
        let message = b"Subject: a\r\n\r\nline\r\n.dot\r\n";
        let stored = to_lf(message);
        assert_eq!(stored, b"Subject: a\n\nline\n.dot\n");
        assert_eq!(to_crlf(&stored).as_ref(), message);
        assert_eq!(crlf_len(&stored), message.len() as u64);
    }

    #[test]
    fn in_place_matches_copy_on_edge_cases() {
        let cases: [&[u8]; 9] = [
            b"",
            b"\r\n",
            b"no line end",
            b"a\r\nb\r\n",
            b"\r\r\n\n",
            b"a\rb\r",
            b"\r\n\r\n\r\n",
            b"x\n\r\ny",
            b"Subject: a\r\n\r\nline\r\n.dot\r\n",
        ];
        for case in cases {
            let mut converted = case.to_vec();
            to_lf_in_place(&mut converted);
            assert_eq!(converted, to_lf(case), "input {case:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn in_place_matches_copy_on_random_bytes(
            bytes in proptest::collection::vec(
                proptest::sample::select(vec![b'\r', b'\n', b'a', 0xff]),
                0..200,
            )
        ) {
            let mut converted = bytes.clone();
            to_lf_in_place(&mut converted);
            proptest::prop_assert_eq!(converted, to_lf(&bytes));
        }
    }

    #[test]
    fn lone_cr_is_kept_both_ways() {
        let message = b"a\rb\r\n";
        let stored = to_lf(message);
        assert_eq!(stored, b"a\rb\n");
        assert_eq!(to_crlf(&stored).as_ref(), message);
    }

    #[test]
    fn lf_and_mixed_messages_keep_their_octets() {
        // (message as received, stored form, form read back)
        let cases: [(&[u8], &[u8], &[u8]); 4] = [
            (b"a\nb\n", b"a\nb\n", b"a\r\nb\r\n"),
            (b"a\nb\r\nc", b"a\nb\nc", b"a\r\nb\r\nc"),
            (b"\0\x80\xff\r\n\0", b"\0\x80\xff\n\0", b"\0\x80\xff\r\n\0"),
            (b"x\r\r\ny", b"x\r\ny", b"x\r\ny"),
        ];
        for (message, stored, read_back) in cases {
            let got = to_lf(message);
            assert_eq!(got, stored, "stored form of {message:?}");
            assert_eq!(
                to_crlf(&got).as_ref(),
                read_back,
                "read back of {message:?}"
            );
            assert_eq!(
                crlf_len(&got),
                read_back.len() as u64,
                "size of {message:?}"
            );
        }
    }

    #[test]
    fn crlf_file_from_elsewhere_reads_unchanged() {
        let stored = b"Subject: a\r\n\r\nbody\r\n";
        assert!(matches!(to_crlf(stored), Cow::Borrowed(_)));
        assert_eq!(crlf_len(stored), stored.len() as u64);
    }

    #[test]
    fn virtual_size_field_is_found() {
        let cases = [
            ("1.M2P3Q4.host,S=10,W=12:2,S", Some(12)),
            ("1.M2P3Q4.host,S=10,W=12", Some(12)),
            ("1.M2P3Q4.host,S=10:2,", None),
            ("1.M2P3Q4.host,W=x:2,", None),
        ];
        for (name, expected) in cases {
            assert_eq!(virtual_size_from_name(name), expected, "{name}");
        }
    }
}
