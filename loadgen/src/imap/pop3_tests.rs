use super::*;

#[test]
fn status_lines_are_read() {
    let cases: &[(&[u8], bool, &str, usize)] = &[
        (b"+OK 2 320\r\nrest", true, "2 320", 11),
        (b"-ERR no such message\r\n", false, "no such message", 22),
        (b"+OK\n", true, "", 4),
    ];
    for &(input, ok, text, len) in cases {
        assert_eq!(
            read_status_line(input),
            Ok(StatusLine::Complete {
                ok,
                text: text.to_string(),
                len
            }),
            "{input:?}"
        );
    }
}

#[test]
fn partial_status_line_needs_more() {
    assert_eq!(read_status_line(b"+OK 2 3"), Ok(StatusLine::NeedMore));
    assert_eq!(read_status_line(b""), Ok(StatusLine::NeedMore));
}

#[test]
fn status_line_without_ok_or_err_is_rejected() {
    assert!(read_status_line(b"* OK imap greeting\r\n").is_err());
}

#[test]
fn endless_status_line_is_rejected() {
    let input = vec![b'+'; STATUS_LINE_LEN_MAX + 1];
    assert!(read_status_line(&input).is_err());
}

#[test]
fn multiline_end_is_found() {
    assert_eq!(find_multiline_end(b".\r\n", 0), Some((0, 3)));
    assert_eq!(
        find_multiline_end(b"a\r\n..b\r\n.\r\n+OK", 0),
        Some((8, 11))
    );
    assert_eq!(find_multiline_end(b"a\r\n.b\r\n", 0), None);
}

#[test]
fn multiline_end_split_across_reads() {
    let whole = b"line one\r\nline two\r\n.\r\n";
    for split in 0..whole.len() {
        let first = find_multiline_end(&whole[..split], 0);
        assert_eq!(first, None, "split at {split}");
        assert_eq!(
            find_multiline_end(whole, split),
            Some((20, 23)),
            "split at {split}"
        );
    }
}

#[test]
fn loadgen_header_is_found_only_in_header() {
    let cases: &[(&[u8], bool)] = &[
        (b"From: a\r\nx-loadgen-id: r-1\r\n\r\n", true),
        (b"From: a\r\n\r\nX-Loadgen-Id: in the body\r\n", false),
        (b"X-Loadgen-Idle: no\r\n\r\n", false),
        (b"", false),
    ];
    for &(message, expected) in cases {
        assert_eq!(
            header_has_field(message, LOADGEN_ID_FIELD),
            expected,
            "{message:?}"
        );
    }
}
