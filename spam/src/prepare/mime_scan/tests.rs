//! Each expected value was checked against SpamAssassin 4.0.1's own parser
//! (`Mail::SpamAssassin::Message->new`, `parse_body`, `get_all_headers`
//! and MIMEEval.pm's `_check_base64_length`) on the same message.

use super::{scan, MimeScan, ParseFlags};

/// A base64 line of the usual 76 characters.
const BASE64_76: &str =
    "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0";

const HEADER: &str = "From: Alice <alice@example.com>\nTo: bob@example.org\nSubject: report\nDate: Thu, 22 Aug 2002 13:09:41 +0100\nMIME-Version: 1.0\n";

/// `HEADER` with a multipart/mixed Content-Type and its empty line.
fn mixed(body: &str) -> String {
    format!("{HEADER}Content-Type: multipart/mixed; boundary=\"=_next\"\n\n{body}")
}

fn flags(message: &str) -> ParseFlags {
    scan(message.as_bytes()).flags
}

const NONE: ParseFlags = ParseFlags {
    truncated_header: false,
    missing_head_body_separator: false,
    missing_mime_head_body_separator: false,
    mime_epilogue_exists: false,
    missing_mime_headers: false,
};

#[test]
fn parse_flags_table() {
    let well_formed = mixed(&format!(
        "This is a multi-part message in MIME format.\n\n--=_next\nContent-Type: text/plain; charset=us-ascii\n\nHello Bob,\nthe report is attached.\n\n--=_next\nContent-Type: application/pdf; name=report.pdf\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=report.pdf\n\n{BASE64_76}\n{}\n--=_next--\n",
        &BASE64_76[..40]
    ));
    let long_to = (0..400)
        .map(|index| format!("user{index:04}@example.org"))
        .collect::<Vec<_>>()
        .join(", ");
    let long_value = format!(
        "{}\nbody\n",
        HEADER.replace("To: bob@example.org", &format!("To: {long_to}"))
    );
    let long_name = format!("{HEADER}X-{}: yes\n\nbody\n", "A".repeat(300));
    let fillers: String = (0..10)
        .map(|index| format!("X-Filler-{index}: {}\n", "x".repeat(7000)))
        .collect();
    let long_header_total = format!("{HEADER}{fillers}\nbody\n");

    let cases: Vec<(&str, String, ParseFlags)> = vec![
        ("well formed multipart", well_formed, NONE),
        (
            "message without body",
            HEADER.to_string(),
            ParseFlags {
                missing_head_body_separator: true,
                ..NONE
            },
        ),
        (
            "header runs into boundary",
            format!("{HEADER}Content-Type: multipart/mixed; boundary=\"=_next\"\n--=_next\nContent-Type: text/plain\n\nhi\n--=_next--\n"),
            ParseFlags {
                missing_head_body_separator: true,
                ..NONE
            },
        ),
        (
            "four lines that are not fields",
            format!("{HEADER}this is not a header\nnor this\nnor this one\nnor the fourth\n\nbody\n"),
            ParseFlags {
                missing_head_body_separator: true,
                ..NONE
            },
        ),
        (
            "three lines that are not fields",
            format!("{HEADER}this is not a header\nnor this\nnor this one\n\nbody\n"),
            NONE,
        ),
        (
            "field value over 8192 bytes",
            long_value,
            ParseFlags {
                truncated_header: true,
                ..NONE
            },
        ),
        (
            "field name over 256 bytes",
            long_name,
            ParseFlags {
                truncated_header: true,
                ..NONE
            },
        ),
        (
            "header over 65536 bytes",
            long_header_total,
            ParseFlags {
                truncated_header: true,
                ..NONE
            },
        ),
        (
            "part header without empty line",
            mixed("--=_next\nContent-Type: text/plain\nHello Bob,\n--=_next--\n"),
            ParseFlags {
                missing_mime_head_body_separator: true,
                ..NONE
            },
        ),
        (
            "part without header",
            mixed("--=_next\n\nHello Bob,\n--=_next--\n"),
            ParseFlags {
                missing_mime_headers: true,
                ..NONE
            },
        ),
        (
            "second part starts with text",
            mixed("--=_next\nContent-Type: text/plain\n\nfirst\n--=_next\nsecond part text\n--=_next--\n"),
            ParseFlags {
                missing_mime_head_body_separator: true,
                missing_mime_headers: true,
                ..NONE
            },
        ),
        (
            "text after closing boundary",
            mixed("--=_next\nContent-Type: text/plain\n\nHello\n--=_next--\nThis text follows the closing boundary.\n"),
            ParseFlags {
                mime_epilogue_exists: true,
                ..NONE
            },
        ),
        (
            "dots and blanks after closing boundary",
            mixed("--=_next\nContent-Type: text/plain\n\nHello\n--=_next--\n\n.\n  \n"),
            NONE,
        ),
        (
            "nested part without header",
            mixed("--=_next\nContent-Type: multipart/alternative; boundary=inner\n\n--inner\n\nplain text without a header\n--inner--\n--=_next--\n"),
            ParseFlags {
                missing_mime_headers: true,
                ..NONE
            },
        ),
        (
            "attached message without separator",
            mixed("--=_next\nContent-Type: message/rfc822\n\nFrom: c@example.net\nSubject: inner\nthis header has no separator\nnor this\nnor this\nnor this\n--=_next--\n"),
            NONE,
        ),
        (
            "attached message with epilogue",
            mixed("--=_next\nContent-Type: message/rfc822\n\nFrom: c@example.net\nContent-Type: multipart/mixed; boundary=deep\n\n--deep\nContent-Type: text/plain\n\ninner\n--deep--\nepilogue of the inner message\n--=_next--\n"),
            ParseFlags {
                mime_epilogue_exists: true,
                ..NONE
            },
        ),
        (
            "crlf multipart",
            mixed("--=_next\nContent-Type: text/plain\n\nHello\n--=_next--\n").replace('\n', "\r\n"),
            NONE,
        ),
        (
            "part declares parent boundary",
            mixed("--=_next\nContent-Type: multipart/alternative; boundary=\"=_next\"\n\n--=_next\nContent-Type: text/plain\n\ninner\n--=_next--\n--=_next--\n"),
            NONE,
        ),
        (
            "multipart without opening boundary",
            mixed("Hello, no boundary here.\n"),
            NONE,
        ),
        (
            "mbox separator line",
            format!("From alice@example.com Thu Aug 22 13:09:41 2002\n{HEADER}\nbody\n"),
            NONE,
        ),
        ("empty message", String::new(), NONE),
    ];
    for (name, message, expected) in cases {
        assert_eq!(flags(&message), expected, "{name}");
    }
}

#[test]
fn base64_line_length_table() {
    let line_78 = format!("{BASE64_76}NT");
    let cases: Vec<(&str, String, usize)> = vec![
        (
            "76 characters and newline",
            format!("{HEADER}Content-Type: image/gif\nContent-Transfer-Encoding: base64\n\n{BASE64_76}\n{BASE64_76}\n"),
            77,
        ),
        (
            "78 characters in a part",
            mixed(&format!("--=_next\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n{line_78}\n{line_78}\n--=_next--\n")),
            79,
        ),
        (
            "application/ics is skipped",
            mixed(&format!("--=_next\nContent-Type: application/ics\nContent-Transfer-Encoding: base64\n\n{line_78}\n--=_next--\n")),
            0,
        ),
        (
            "crlf counts as one byte",
            format!("{HEADER}Content-Type: image/gif\nContent-Transfer-Encoding: base64\n\n{BASE64_76}\n").replace('\n', "\r\n"),
            77,
        ),
        (
            "encoding name in capitals",
            mixed(&format!("--=_next\nContent-Type: application/zip\nContent-Transfer-Encoding: BASE64\n\n{line_78}\n{line_78}\n--=_next--\n")),
            79,
        ),
        (
            // The line end before a boundary belongs to the boundary.
            "last line before boundary",
            mixed(&format!("--=_next\nContent-Type: application/zip\nContent-Transfer-Encoding: base64\n\n{BASE64_76}\n{line_78}\n--=_next--\n")),
            78,
        ),
        (
            "line cut at 2048 bytes",
            mixed(&format!("--=_next\nContent-Type: application/zip\nContent-Transfer-Encoding: base64\n\n{}\n--=_next--\n", "A".repeat(5000))),
            2049,
        ),
        (
            "quoted-printable is not measured",
            mixed(&format!("--=_next\nContent-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\n{line_78}\n--=_next--\n")),
            0,
        ),
    ];
    for (name, message, expected) in cases {
        assert_eq!(
            scan(message.as_bytes()).base64_line_len_max,
            expected,
            "{name}"
        );
    }
}

#[test]
fn parts_past_multipart_maximum_stop() {
    let parts: String = (0..1_100)
        .map(|index| format!("--=_next\nContent-Type: text/plain\n\npart {index}\n"))
        .collect();
    let message = mixed(&format!(
        "{parts}--=_next--\ntext after the closing boundary\n"
    ));
    let result: MimeScan = scan(message.as_bytes());
    assert!(result.parts_limit_reached);
    // SpamAssassin stops before the closing boundary, so it never reads
    // the epilogue.
    assert!(!result.flags.mime_epilogue_exists);
}

/// Builds a message of `lines` empty lines inside `depth` nested multiparts.
fn nested_empty_lines(depth: usize, lines: usize) -> String {
    let mut message = format!("{HEADER}Content-Type: multipart/mixed; boundary=\"b0\"\n\n");
    for level in 1..depth {
        message.push_str(&format!(
            "--b{}\nContent-Type: multipart/mixed; boundary=\"b{level}\"\n\n",
            level - 1
        ));
    }
    message.push_str(&format!("--b{}\nContent-Type: text/plain\n\n", depth - 1));
    message.push_str(&"\n".repeat(lines));
    for level in (0..depth).rev() {
        message.push_str(&format!("--b{level}--\n"));
    }
    message
}

#[test]
fn deep_empty_lines_hit_line_budget() {
    let small = scan(nested_empty_lines(5, 1_000).as_bytes());
    assert!(!small.lines_limit_reached);

    // Each level copies its lines, so 5 levels of 300,000 lines would make
    // 1.5 million line records without the budget.
    let large = scan(nested_empty_lines(5, 300_000).as_bytes());
    assert!(large.lines_limit_reached);
}
