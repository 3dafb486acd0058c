//! Tests of the pure helpers in `tests/common`, which the end-to-end tests
//! trust to build wire bytes and to undo the server's additions. A bug here
//! would make every end-to-end comparison wrong, so each helper is pinned by a
//! table of inputs, including the bare CR and LF cases the smuggling tests use.

mod common;

use common::{dot_stuff, has_bare_cr_or_lf, lf_to_crlf, strip_received, Reply};

#[test]
fn lf_to_crlf_keeps_bare_cr() {
    let cases: &[(&[u8], &[u8])] = &[
        (b"a\nb\n", b"a\r\nb\r\n"),
        (b"a\r\nb\r\n", b"a\r\nb\r\n"),
        (b"no final newline", b"no final newline\r\n"),
        (b"bare\rcr\n", b"bare\rcr\r\n"),
        (b"cr at end\r", b"cr at end\r\r\n"),
        (b"\n\n", b"\r\n\r\n"),
        (b"", b"\r\n"),
    ];
    for &(input, expected) in cases {
        assert_eq!(
            lf_to_crlf(input),
            expected,
            "input {:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn bare_cr_or_lf_detection() {
    let cases: &[(&[u8], bool)] = &[
        (b"a\r\nb\r\n", false),
        (b"a\nb\r\n", true),
        (b"\nstart", true),
        (b"a\rb\r\n", true),
        (b"end\r", true),
        (b"a\r\r\n", true),
        (b"\r\n\x00.\r\n", false),
        (b"", false),
    ];
    for &(input, expected) in cases {
        assert_eq!(
            has_bare_cr_or_lf(input),
            expected,
            "input {:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn dot_stuff_only_at_line_start() {
    let cases: &[(&[u8], &[u8])] = &[
        (b".first\r\n", b"..first\r\n"),
        (b"a\r\n.b\r\n", b"a\r\n..b\r\n"),
        (b"a\r\n..b\r\n", b"a\r\n...b\r\n"),
        (b"a.b\r\n", b"a.b\r\n"),
        (b"a\r\n.\r\n", b"a\r\n..\r\n"),
        // A dot after a bare LF or bare CR starts no line in SMTP terms.
        (b"a\n.b\r\n", b"a\n.b\r\n"),
        (b"a\r.b\r\n", b"a\r.b\r\n"),
    ];
    for &(input, expected) in cases {
        assert_eq!(
            dot_stuff(input),
            expected,
            "input {:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn strip_received_removes_folded_field() {
    let cases: &[(&[u8], Option<&[u8]>)] = &[
        (
            b"Received: from x\r\nSubject: s\r\n\r\nbody\r\n",
            Some(b"Subject: s\r\n\r\nbody\r\n"),
        ),
        (
            b"Received: from x\r\n\tby y\r\n  for <a@b>; date\r\nSubject: s\r\n\r\nb\r\n",
            Some(b"Subject: s\r\n\r\nb\r\n"),
        ),
        (b"RECEIVED: upper case\r\n\r\nb\r\n", Some(b"\r\nb\r\n")),
        // The original message's own Received fields stay.
        (
            b"Received: ours\r\nReceived: theirs\r\n\r\n",
            Some(b"Received: theirs\r\n\r\n"),
        ),
        (b"Subject: no trace field\r\n\r\n", None),
        (b"Received: no line end", None),
    ];
    for &(input, expected) in cases {
        assert_eq!(
            strip_received(input),
            expected,
            "input {:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn reply_enhanced_code_parsing() {
    let reply = |code: u16, first: &str| Reply {
        code,
        lines: vec![first.to_owned()],
    };
    let cases: &[(Reply, Option<&str>)] = &[
        (reply(550, "5.5.2 bare LF in data"), Some("5.5.2")),
        (reply(250, "2.0.0 OK"), Some("2.0.0")),
        (reply(552, "5.3.4 message too big"), Some("5.3.4")),
        (reply(220, "localhost ESMTP Ringmail"), None),
        (reply(250, "1.2.3 not a class"), None),
        (reply(250, ""), None),
    ];
    for (reply, expected) in cases {
        assert_eq!(reply.enhanced(), *expected, "reply {reply}");
    }
}
