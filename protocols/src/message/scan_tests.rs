//! Tests of the header scan: expected results on named inputs, and the
//! memchr scan against the scalar reference on random bytes, adversarial
//! headers and the SpamAssassin corpus in LF and CRLF forms.

use super::*;
use proptest::prelude::*;
use std::path::{Path, PathBuf};

/// Scans `message` with both scans, asserts that they agree and returns the result.
fn scan_both(message: &[u8], limits: ScanLimits) -> HeaderScan {
    let fast = scan_header(message, limits);
    let scalar = scan_header_scalar(message, limits);
    assert_eq!(
        fast,
        scalar,
        "scans differ on {:?}",
        String::from_utf8_lossy(message)
    );
    fast
}

fn text<'a>(message: &'a [u8], range: &Option<Range<usize>>) -> Option<&'a str> {
    range
        .clone()
        .map(|range| std::str::from_utf8(&message[range]).expect("test values are UTF-8"))
}

/// Replaces every LF that has no CR before it with CRLF.
fn to_crlf(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 32);
    for (index, &byte) in message.iter().enumerate() {
        if byte == b'\n' && (index == 0 || message[index - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(byte);
    }
    out
}

/// Replaces every CRLF with LF.
fn to_lf(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len());
    for (index, &byte) in message.iter().enumerate() {
        if byte == b'\r' && message.get(index + 1) == Some(&b'\n') {
            continue;
        }
        out.push(byte);
    }
    out
}

/// One row of `header_ends_table`: input, end, header_len, body_start,
/// fields, folds, malformed.
type EndRow = (
    &'static [u8],
    HeaderEnd,
    usize,
    Option<usize>,
    usize,
    usize,
    usize,
);

#[test]
fn header_ends_table() {
    let cases: &[EndRow] = &[
        (b"", HeaderEnd::EndOfMessage, 0, None, 0, 0, 0),
        (b"\r\n", HeaderEnd::BlankLine, 0, Some(2), 0, 0, 0),
        (b"\n", HeaderEnd::BlankLine, 0, Some(1), 0, 0, 0),
        (
            b"A: 1\r\n\r\nbody",
            HeaderEnd::BlankLine,
            6,
            Some(8),
            1,
            0,
            0,
        ),
        (b"A: 1\n\nbody", HeaderEnd::BlankLine, 5, Some(6), 1, 0, 0),
        (b"A: 1\n\r\nbody", HeaderEnd::BlankLine, 5, Some(7), 1, 0, 0),
        (b"A: 1\r\n", HeaderEnd::EndOfMessage, 6, None, 1, 0, 0),
        (b"A: 1", HeaderEnd::EndOfMessage, 4, None, 1, 0, 0),
        (
            b"A: 1\r\n \r\nB: 2\r\n\r\n",
            HeaderEnd::BlankLine,
            15,
            Some(17),
            2,
            1,
            0,
        ),
        (
            b"A: 1\r\n\r\r\n\r\n",
            HeaderEnd::BlankLine,
            9,
            Some(11),
            1,
            0,
            1,
        ),
        (b"A: 1\r\n\r", HeaderEnd::EndOfMessage, 7, None, 1, 0, 1),
        (
            b"no colon here\r\nA: 1\r\n\r\n",
            HeaderEnd::BlankLine,
            21,
            Some(23),
            1,
            0,
            1,
        ),
        (
            b" leading fold\r\nA: 1\r\n\r\n",
            HeaderEnd::BlankLine,
            21,
            Some(23),
            1,
            1,
            0,
        ),
        (
            b"Bad Name: 1\r\n\r\n",
            HeaderEnd::BlankLine,
            13,
            Some(15),
            0,
            0,
            1,
        ),
        (
            b"Name : 1\r\n\r\n",
            HeaderEnd::BlankLine,
            10,
            Some(12),
            1,
            0,
            0,
        ),
        (
            b": empty name\r\n\r\n",
            HeaderEnd::BlankLine,
            14,
            Some(16),
            0,
            0,
            1,
        ),
    ];
    for (index, &(input, end, header_len, body_start, fields, folds, malformed)) in
        cases.iter().enumerate()
    {
        let scan = scan_both(input, ScanLimits::default());
        assert_eq!(scan.end, end, "case {index}: end");
        assert_eq!(scan.header_len, header_len, "case {index}: header_len");
        assert_eq!(scan.body_start, body_start, "case {index}: body_start");
        assert_eq!(scan.fields, fields, "case {index}: fields");
        assert_eq!(scan.folds, folds, "case {index}: folds");
        assert_eq!(scan.malformed, malformed, "case {index}: malformed");
    }
}

#[test]
fn policy_fields_found() {
    let message = b"Received: from a\r\n\tby b\r\nreceived: from c\r\n\
Message-ID: <1@example.org>\r\nFROM: Ann <ann@example.org>\r\n\
Date: Fri, 4 Dec 2026 10:00:00 +0000\r\nSubject: hello\r\n world\r\n\
Subject: second\r\n\r\nSubject: in body\r\n";
    let scan = scan_both(message, ScanLimits::default());
    assert_eq!(scan.received, 2);
    assert_eq!(scan.folds, 2);
    assert_eq!(scan.fields, 7);
    assert_eq!(text(message, &scan.message_id), Some(" <1@example.org>"));
    assert_eq!(text(message, &scan.from), Some(" Ann <ann@example.org>"));
    assert_eq!(
        text(message, &scan.date),
        Some(" Fri, 4 Dec 2026 10:00:00 +0000")
    );
    assert_eq!(text(message, &scan.subject), Some(" hello\r\n world"));
}

#[test]
fn fold_of_malformed_line_ignored() {
    let message = b"Subject\r\n more\r\nSubject: real\r\n\r\n";
    let scan = scan_both(message, ScanLimits::default());
    assert_eq!(scan.malformed, 1);
    assert_eq!(scan.folds, 1);
    assert_eq!(text(message, &scan.subject), Some(" real"));
}

#[test]
fn lf_and_crlf_forms_agree() {
    let lf = b"Received: x\nFrom: a\n b\nSubject: s\n\nbody\n";
    let crlf = to_crlf(lf);
    let scan_lf = scan_both(lf, ScanLimits::default());
    let scan_crlf = scan_both(&crlf, ScanLimits::default());
    assert_eq!(scan_lf.fields, scan_crlf.fields);
    assert_eq!(scan_lf.folds, scan_crlf.folds);
    assert_eq!(scan_lf.received, scan_crlf.received);
    assert_eq!(text(lf, &scan_lf.from), Some(" a\n b"));
    assert_eq!(text(&crlf, &scan_crlf.from), Some(" a\r\n b"));
}

#[test]
fn header_over_size_limit() {
    let limits = ScanLimits {
        header_size_max: 10,
        fields_max: 100,
    };
    // (input, end, header_len)
    let cases: &[(&[u8], HeaderEnd, usize)] = &[
        (b"A: 12345\r\n\r\nbody", HeaderEnd::BlankLine, 10),
        (b"A: 123456\r\n\r\nbody", HeaderEnd::SizeLimit, 11),
        (b"A: 1234567\n\nbody", HeaderEnd::SizeLimit, 11),
        (b"A: 12345678901234567890\r\n\r\n", HeaderEnd::SizeLimit, 0),
        (b"A: 1\r\nB: 2\r\nC: 3\r\n\r\n", HeaderEnd::SizeLimit, 12),
        (b"A: 123456", HeaderEnd::EndOfMessage, 9),
        (b"A: 12345678", HeaderEnd::SizeLimit, 11),
        (b"A: 12345678\r\n", HeaderEnd::SizeLimit, 0),
    ];
    for (index, &(input, end, header_len)) in cases.iter().enumerate() {
        let scan = scan_both(input, limits);
        assert_eq!(scan.end, end, "case {index}: end");
        assert_eq!(scan.header_len, header_len, "case {index}: header_len");
        if end != HeaderEnd::BlankLine {
            assert_eq!(scan.body_start, None, "case {index}: body_start");
        }
    }
}

#[test]
fn fields_limit_stops_scan() {
    let limits = ScanLimits {
        header_size_max: 1024,
        fields_max: 2,
    };
    let message = b"Received: 1\r\nReceived: 2\r\nReceived: 3\r\n\r\n";
    let scan = scan_both(message, limits);
    assert_eq!(scan.end, HeaderEnd::FieldsLimit);
    assert_eq!(scan.fields, 2);
    assert_eq!(scan.received, 2);
    assert_eq!(scan.header_len, 26);
}

#[test]
fn ten_thousand_received_lines() {
    let mut message = Vec::new();
    for hop in 0..10_000 {
        message.extend_from_slice(format!("Received: from hop{hop} by example.org\r\n").as_bytes());
    }
    message.extend_from_slice(b"Subject: loop\r\n\r\nbody\r\n");
    let scan = scan_both(&message, ScanLimits::default());
    assert_eq!(scan.end, HeaderEnd::FieldsLimit);
    assert_eq!(scan.received, 10_000);

    let limits = ScanLimits {
        fields_max: 20_000,
        ..ScanLimits::default()
    };
    let scan = scan_both(&message, limits);
    assert_eq!(scan.end, HeaderEnd::BlankLine);
    assert_eq!(scan.received, 10_000);
    assert!(scan.subject.is_some());
}

#[test]
fn fold_at_window_end() {
    // Each window size cuts the message at a different byte, so some cut the
    // fold and others the line after it. Only the whole 16-octet header fits.
    let message = b"A: 1\r\n 2\r\nB: 3\r\n\r\n";
    for header_size_max in 0..message.len() + 2 {
        let limits = ScanLimits {
            header_size_max,
            fields_max: 100,
        };
        let scan = scan_both(message, limits);
        let fits = header_size_max >= 16;
        assert_eq!(
            scan.end == HeaderEnd::BlankLine,
            fits,
            "header_size_max {header_size_max}"
        );
    }
}

/// Adversarial inputs for the differential test: folds at buffer ends,
/// lone CR, LF against CRLF blank lines, no blank line, names with spaces,
/// colon-less lines.
const ADVERSARIAL: &[&[u8]] = &[
    b" ",
    b"\t",
    b"\r",
    b"\r\r\n",
    b"\n\n",
    b"\r\n\r\n",
    b"A:\r\n ",
    b"A:\r\n\t",
    b"A: 1\r\n \r",
    b"A: 1\r\n \n",
    b"A: 1\n \n\n",
    b"A: 1\r\r\n\r\n",
    b"A: 1\rB: 2\r\n\r\n",
    b"A b: 1\r\nA\tb: 2\r\n\r\n",
    b"A \t : 1\r\n\r\n",
    b"no colon\r\nstill none\nA: 1",
    b"::::\r\n\r\n",
    b"Received:\r\n\r\n",
    b"received :x\nRECEIVED: y\n\n",
    b"From: a\r\n\r\nFrom: b\r\n",
    b"Subject: \xff\xfe\r\n\r\n",
    b"\xff: x\r\n\r\n",
    b"A: 1\n\r\n",
    b"A: 1\n\r",
];

#[test]
fn adversarial_inputs_agree() {
    for limits in [
        ScanLimits::default(),
        ScanLimits {
            header_size_max: 0,
            fields_max: 0,
        },
        ScanLimits {
            header_size_max: 3,
            fields_max: 1,
        },
    ] {
        for input in ADVERSARIAL {
            scan_both(input, limits);
            scan_both(&to_crlf(input), limits);
            scan_both(&to_lf(input), limits);
        }
    }
}

/// Bytes that matter to the scan, weighted toward line structure.
fn header_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        4 => prop::sample::select(b"\r\n :\tAaRrFfMmSsDd-".to_vec()),
        1 => any::<u8>(),
    ]
}

/// Header-like lines joined into one message.
fn header_lines() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        Just(b"Received: from x".to_vec()),
        Just(b"From: a@b".to_vec()),
        Just(b"Subject: s".to_vec()),
        Just(b"Message-ID: <m>".to_vec()),
        Just(b"Date: d".to_vec()),
        Just(b" fold".to_vec()),
        Just(b"\tfold".to_vec()),
        Just(b"bad line".to_vec()),
        Just(Vec::new()),
        prop::collection::vec(header_byte(), 0..12),
    ];
    let end = prop::sample::select(vec![&b"\r\n"[..], b"\n", b"\r", b""]);
    prop::collection::vec((line, end), 0..24).prop_map(|lines| {
        let mut out = Vec::new();
        for (line, end) in lines {
            out.extend_from_slice(&line);
            out.extend_from_slice(end);
        }
        out
    })
}

fn small_limits() -> impl Strategy<Value = ScanLimits> {
    prop_oneof![
        Just(ScanLimits::default()),
        (0usize..64, 0usize..8).prop_map(|(header_size_max, fields_max)| ScanLimits {
            header_size_max,
            fields_max,
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_agree(input in prop::collection::vec(any::<u8>(), 0..256), limits in small_limits()) {
        prop_assert_eq!(scan_header(&input, limits), scan_header_scalar(&input, limits));
    }

    #[test]
    fn header_bytes_agree(input in prop::collection::vec(header_byte(), 0..256), limits in small_limits()) {
        prop_assert_eq!(scan_header(&input, limits), scan_header_scalar(&input, limits));
    }

    #[test]
    fn header_lines_agree(input in header_lines(), limits in small_limits()) {
        prop_assert_eq!(scan_header(&input, limits), scan_header_scalar(&input, limits));
        let crlf = to_crlf(&input);
        prop_assert_eq!(scan_header(&crlf, limits), scan_header_scalar(&crlf, limits));
    }
}

/// Returns the corpus cache directory that `tests/corpus/fetch.py` fills.
fn corpus_dir() -> PathBuf {
    match std::env::var_os("RINGMAIL_CORPUS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let home = std::env::var_os("HOME").unwrap_or_default();
            Path::new(&home).join(".cache/ringmail/spamassassin-corpus-0.2.3")
        }
    }
}

/// Collects every .eml file under `dir`, sorted.
fn eml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            eml_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "eml") {
            out.push(path);
        }
    }
    out.sort();
}

#[test]
fn spamassassin_corpus_agrees() {
    let dir = corpus_dir();
    if !dir.join("COMPLETE").exists() {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus/fetch.py");
        let status = std::process::Command::new("python3").arg(&script).status();
        match status {
            Ok(status) if status.success() => {}
            other => {
                eprintln!("corpus not available ({other:?}), skipping the corpus scan test");
                return;
            }
        }
    }

    let mut files = Vec::new();
    eml_files(&dir.join("eml"), &mut files);
    assert!(!files.is_empty(), "no .eml files under {}", dir.display());

    let mut blank_line_ends = 0;
    for path in &files {
        let message = std::fs::read(path).expect("corpus file is readable");
        let lf = to_lf(&message);
        let crlf = to_crlf(&lf);
        let scan_lf = scan_both(&lf, ScanLimits::default());
        let scan_crlf = scan_both(&crlf, ScanLimits::default());
        assert_eq!(scan_lf.fields, scan_crlf.fields, "{}", path.display());
        assert_eq!(scan_lf.folds, scan_crlf.folds, "{}", path.display());
        assert_eq!(scan_lf.received, scan_crlf.received, "{}", path.display());
        assert_eq!(scan_lf.end, scan_crlf.end, "{}", path.display());
        if scan_crlf.end == HeaderEnd::BlankLine {
            blank_line_ends += 1;
        }

        // The scan and the header iterator agree on where the body starts.
        if let Some(body_start) = scan_crlf.body_start {
            assert_eq!(
                body_start,
                crate::message::body_start(&crlf),
                "{}",
                path.display()
            );
        }
    }
    eprintln!(
        "corpus: {} messages, {blank_line_ends} with an empty line",
        files.len()
    );
    assert!(blank_line_ends * 10 >= files.len() * 9);
}
