use super::*;

macro_rules! complete {
    ($code:expr, $consumed:expr) => {
        Ok(ReplyOutcome::Complete {
            code: $code,
            consumed: $consumed,
        })
    };
}

#[test]
fn reply_table() {
    let long_line = format!("250 {}\r\n", "x".repeat(REPLY_LINE_MAX));
    let unfinished_long = "x".repeat(REPLY_LINE_MAX);
    let many_lines = "250-x\r\n".repeat(REPLY_LINES_MAX) + "250 x\r\n";

    let cases: &[(&str, &[u8], Result<ReplyOutcome, ReplyError>)] = &[
        ("single line", b"250 ok\r\n", complete!(250, 8)),
        ("code only", b"354\r\n", complete!(354, 5)),
        ("bare lf accepted", b"221 bye\n", complete!(221, 8)),
        (
            "multiline",
            b"250-a\r\n250-b\r\n250 c\r\n",
            complete!(250, 21),
        ),
        (
            "next reply left alone",
            b"250 a\r\n550 b\r\n",
            complete!(250, 7),
        ),
        ("empty input", b"", Ok(ReplyOutcome::NeedMore)),
        ("partial line", b"250 o", Ok(ReplyOutcome::NeedMore)),
        (
            "partial multiline",
            b"250-a\r\n250",
            Ok(ReplyOutcome::NeedMore),
        ),
        (
            "code mismatch",
            b"250-a\r\n550 b\r\n",
            Err(ReplyError::CodeMismatch {
                first: 250,
                seen: 550,
            }),
        ),
        (
            "letters for code",
            b"abc def\r\n",
            Err(ReplyError::Malformed {
                line: "abc def".into(),
            }),
        ),
        (
            "code out of range",
            b"999 x\r\n",
            Err(ReplyError::Malformed {
                line: "999 x".into(),
            }),
        ),
        (
            "short line",
            b"25\r\n",
            Err(ReplyError::Malformed { line: "25".into() }),
        ),
        (
            "bad separator",
            b"250+x\r\n",
            Err(ReplyError::Malformed {
                line: "250+x".into(),
            }),
        ),
        (
            "control bytes hidden",
            b"25\x00\x1b\r\n",
            Err(ReplyError::Malformed {
                line: "25??".into(),
            }),
        ),
        (
            "line past max",
            long_line.as_bytes(),
            Err(ReplyError::LineTooLong {
                len: REPLY_LINE_MAX + 6,
            }),
        ),
        (
            "unfinished line at max",
            unfinished_long.as_bytes(),
            Err(ReplyError::LineTooLong {
                len: REPLY_LINE_MAX,
            }),
        ),
        (
            "too many lines",
            many_lines.as_bytes(),
            Err(ReplyError::TooManyLines {
                lines: REPLY_LINES_MAX + 1,
            }),
        ),
    ];

    for (name, input, expected) in cases {
        assert_eq!(&parse_reply(input), expected, "case {name}");
    }
}

#[test]
fn reply_at_line_max_is_accepted() {
    let text = "x".repeat(REPLY_LINE_MAX - 6);
    let line = format!("250 {text}\r\n");
    assert_eq!(line.len(), REPLY_LINE_MAX);
    assert_eq!(parse_reply(line.as_bytes()), complete!(250, REPLY_LINE_MAX));
}

#[test]
fn extension_found_in_ehlo_reply() {
    let reply = b"250-mx.example\r\n250-SIZE 1000\r\n250-pipelining\r\n250 8BITMIME\r\n";
    assert!(has_extension(reply, "PIPELINING"));
    assert!(has_extension(reply, "SIZE"));
    assert!(has_extension(reply, "8bitmime"));
    assert!(!has_extension(reply, "CHUNKING"));
    assert!(!has_extension(reply, "PIPE"));
}
