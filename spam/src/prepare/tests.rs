//! Whole-message tests: handcrafted broken messages, arbitrary bytes, and
//! the SpamAssassin public corpus when it has been fetched.

use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;

fn body_text(prepared: &Prepared<'_>) -> String {
    prepared.body().concat()
}

#[test]
fn plain_message_body_starts_with_subject() {
    let message = b"Subject: Hello there\r\nFrom: a@example.com\r\n\r\nFirst line\r\nsame paragraph\r\n\r\nSecond one\r\n";
    let prepared = Prepared::new(message);
    assert_eq!(
        prepared.body(),
        [
            "Hello there\n",
            "First line same paragraph\n",
            "Second one "
        ]
    );
    assert_eq!(prepared.rawbody().len(), 1);
    assert_eq!(
        &*prepared.rawbody()[0],
        b"First line\nsame paragraph\n\nSecond one\n"
    );
}

#[test]
fn missing_subject_gives_empty_first_line() {
    let prepared = Prepared::new(b"From: a@example.com\n\nbody\n");
    assert_eq!(prepared.body()[0], "\n");
}

#[test]
fn lf_message_rawbody_is_borrowed() {
    let prepared = Prepared::new(b"Subject: s\n\nplain body\n");
    assert!(matches!(prepared.rawbody()[0], Cow::Borrowed(_)));
}

#[test]
fn multipart_alternative_renders_both_parts() {
    let message = b"Subject: alt\n\
Content-Type: multipart/alternative; boundary=\"b1\"\n\
\n\
--b1\n\
Content-Type: text/plain; charset=iso-8859-1\n\
Content-Transfer-Encoding: quoted-printable\n\
\n\
Caf=E9 ouvert www.example.com\n\
--b1\n\
Content-Type: text/html; charset=utf-8\n\
Content-Transfer-Encoding: base64\n\
\n\
PHA+PGEgaHJlZj0iaHR0cDovL0xpbmsuRXhhbXBsZS9wIj5jbGljazwvYT48L3A+\n\
--b1--\n";
    let prepared = Prepared::new(message);
    let text = body_text(&prepared);
    assert!(text.contains("Café ouvert"), "{text:?}");
    assert!(text.contains("click"), "{text:?}");
    assert!(!text.contains("<a"), "{text:?}");
    assert_eq!(
        prepared.uris(),
        ["http://link.example/p", "http://www.example.com"]
    );
    assert_eq!(prepared.html().len(), 1);
    let rawbody: Vec<u8> = prepared.rawbody().concat();
    assert!(rawbody.windows(7).any(|window| window == b"<a href"));
    assert!(rawbody.windows(5).any(|window| window == b"Caf\xe9 "));
}

#[test]
fn missing_boundary_is_read_as_text() {
    let message = b"Subject: s\nContent-Type: multipart/mixed\n\nno boundary here\n";
    let prepared = Prepared::new(message);
    assert!(body_text(&prepared).contains("no boundary here"));
}

#[test]
fn unclosed_boundary_keeps_last_part() {
    let message =
        b"Content-Type: multipart/mixed; boundary=x\n\n--x\n\nfirst\n--x\n\nsecond never closed\n";
    let prepared = Prepared::new(message);
    let text = body_text(&prepared);
    assert!(
        text.contains("first") && text.contains("second never closed"),
        "{text:?}"
    );
}

#[test]
fn boundary_never_seen_gives_no_text() {
    let message = b"Content-Type: multipart/mixed; boundary=x\n\n--y\n\ntext\n";
    let prepared = Prepared::new(message);
    assert_eq!(prepared.limits_reached(), LimitsReached::default());
    assert!(prepared.body().len() <= 2);
}

#[test]
fn multipart_nested_100_deep_stops_at_depth_max() {
    let mut message = Vec::new();
    for level in 0..100 {
        message.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=\"b{level}\"\n\n--b{level}\n")
                .as_bytes(),
        );
    }
    message.extend_from_slice(b"Content-Type: text/plain\n\ndeep text\n");
    let started = Instant::now();
    let prepared = Prepared::new(&message);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(prepared.limits_reached().mime_depth);
}

#[test]
fn rfc822_nested_deeply_stops_at_depth_max() {
    let mut message = Vec::new();
    for _ in 0..100 {
        message.extend_from_slice(b"Content-Type: message/rfc822\n\n");
    }
    message.extend_from_slice(b"Subject: inner\n\ninner text\n");
    let prepared = Prepared::new(&message);
    assert!(prepared.limits_reached().mime_depth);
}

#[test]
fn bad_base64_decodes_what_it_can() {
    let message =
        b"Subject: s\nContent-Transfer-Encoding: base64\n\naGVs!!!bG8g*d29y\nbGQ=====junk\n";
    let prepared = Prepared::new(message);
    assert_eq!(prepared.body()[1], "hello world");
}

#[test]
fn unknown_charset_reads_as_latin1() {
    let message = b"Subject: s\nContent-Type: text/plain; charset=x-made-up\n\ncaf\xe9\n";
    let prepared = Prepared::new(message);
    assert_eq!(prepared.body()[1], "café ");
}

#[test]
fn truncated_quoted_printable_keeps_text() {
    let message = b"Subject: s\nContent-Transfer-Encoding: quoted-printable\n\nabc =4";
    let prepared = Prepared::new(message);
    assert_eq!(prepared.body()[1], "abc =4");
}

#[test]
fn many_parts_stop_at_leaves_max() {
    let mut message = b"Content-Type: multipart/mixed; boundary=b\n\n".to_vec();
    for _ in 0..MIME_LEAVES_MAX + 50 {
        message.extend_from_slice(b"--b\n\nx\n");
    }
    message.extend_from_slice(b"--b--\n");
    let prepared = Prepared::new(&message);
    assert_eq!(prepared.leaves(), MIME_LEAVES_MAX);
    assert!(prepared.limits_reached().mime_leaves);
}

#[test]
fn non_text_parts_are_skipped() {
    let message = b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: application/octet-stream\n\nBINARY http://hidden.example/\n--b\nContent-Type: text/calendar\n\nCALENDAR\n--b--\n";
    let prepared = Prepared::new(message);
    let text = body_text(&prepared);
    assert!(
        !text.contains("BINARY") && !text.contains("CALENDAR"),
        "{text:?}"
    );
    assert!(prepared.rawbody().is_empty());
    assert!(prepared.uris().is_empty());
}

#[test]
fn crlf_message_reads_as_lf() {
    let prepared = Prepared::new(b"Subject: s\r\n\r\nline one\r\nline two\r\n");
    assert_eq!(&*prepared.rawbody()[0], b"line one\nline two\n");
}

#[test]
fn header_only_and_empty_messages() {
    for message in [&b""[..], b"\n", b"Subject: only", b"\r\n\r\n", b"::::\n\n"] {
        let prepared = Prepared::new(message);
        assert!(!prepared.body().is_empty());
        assert_eq!(prepared.full(), message);
    }
}

#[test]
fn split_lines_space_past_limit() {
    // A space at byte BODY_LINE_LEN_MAX (the first byte past the limit)
    // used to end a piece of BODY_LINE_LEN_MAX + 1 bytes.
    for space_at in [
        BODY_LINE_LEN_MAX - 1,
        BODY_LINE_LEN_MAX,
        BODY_LINE_LEN_MAX + 1,
    ] {
        let mut line = "x".repeat(space_at);
        line.push(' ');
        line.push_str(&"y".repeat(100));
        let mut lines = Vec::new();
        text::split_short_lines(&line, &mut lines);
        assert!(
            lines.iter().all(|piece| piece.len() <= BODY_LINE_LEN_MAX),
            "space at {space_at}: piece lengths {:?}",
            lines.iter().map(String::len).collect::<Vec<_>>()
        );
        assert_eq!(lines.concat(), line, "space at {space_at}");
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let prepared = Prepared::new(&bytes);
        prop_assert!(prepared.body().iter().all(|line| line.len() <= BODY_LINE_LEN_MAX));
    }

    #[test]
    fn mime_shaped_input_never_panics(
        parts in proptest::collection::vec(
            (
                prop::sample::select(vec!["text/plain", "text/html", "multipart/mixed; boundary=b", "message/rfc822", "text/plain; charset=bogus"]),
                prop::sample::select(vec!["7bit", "base64", "quoted-printable"]),
                "[ -~\\n<>=&]{0,200}",
            ),
            0..8,
        )
    ) {
        let mut message = b"Content-Type: multipart/mixed; boundary=b\n\n".to_vec();
        for (content_type, encoding, body) in parts {
            message.extend_from_slice(
                format!("--b\nContent-Type: {content_type}\nContent-Transfer-Encoding: {encoding}\n\n{body}\n").as_bytes(),
            );
        }
        let _ = Prepared::new(&message);
    }
}

/// Returns the corpus directory written by tests/corpus/fetch.py.
fn corpus_dir() -> Option<std::path::PathBuf> {
    let home = std::env::var_os("HOME")?;
    let dir = std::path::Path::new(&home).join(".cache/ringmail/spamassassin-corpus-0.2.3/eml");
    dir.is_dir().then_some(dir)
}

/// Time allowed for one corpus message. The slowest takes a few
/// milliseconds in a debug build, so this only catches runaway work.
const CORPUS_MESSAGE_TIME_MAX: Duration = Duration::from_secs(2);

#[test]
fn corpus_prepares_every_message() {
    let Some(dir) = corpus_dir() else {
        eprintln!("skipped: corpus not found, run `python3 tests/corpus/fetch.py`");
        return;
    };
    let mut count = 0;
    let mut slowest = Duration::ZERO;
    let mut entries = Vec::new();
    let mut directories = vec![dir.clone()];
    while let Some(directory) = directories.pop() {
        for entry in std::fs::read_dir(&directory).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                directories.push(path);
            } else {
                entries.push(path);
            }
        }
    }
    entries.sort();
    for path in entries {
        let message = std::fs::read(&path).unwrap();
        let started = Instant::now();
        let prepared = Prepared::new(&message);
        let elapsed = started.elapsed();
        assert!(!prepared.body().is_empty(), "{}", path.display());
        assert!(
            elapsed < CORPUS_MESSAGE_TIME_MAX,
            "{} took {elapsed:?}, over {CORPUS_MESSAGE_TIME_MAX:?}",
            path.display()
        );
        slowest = slowest.max(elapsed);
        count += 1;
    }
    eprintln!("prepared {count} corpus messages, slowest {slowest:?}");
    assert!(count > 0, "corpus directory {} is empty", dir.display());
}

#[test]
fn visible_body_keeps_earlier_parts() {
    let raw = b"From: a@example.com\nSubject: hi\nMIME-Version: 1.0\n\
        Content-Type: multipart/mixed; boundary=\"b\"\n\n\
        --b\nContent-Type: text/plain\n\nplain words\n\
        --b\nContent-Type: text/html\n\n<p>shown</p><span style=\"display:none\">secret</span>\n\
        --b--\n";
    let message = Prepared::new(raw);
    let visible = message.visible_body().join(" ");
    assert!(visible.contains("plain words"), "{visible:?}");
    assert!(visible.contains("shown"), "{visible:?}");
    assert!(!visible.contains("secret"), "{visible:?}");
    assert_eq!(message.invisible_body().join(" "), "secret");
    assert!(message.body().join(" ").contains("secret"));
}

#[test]
fn visible_body_without_invisible_text_is_body() {
    let raw = b"From: a@example.com\nSubject: hi\nContent-Type: text/html\n\n<p>all shown</p>\n";
    let message = Prepared::new(raw);
    assert_eq!(&*message.visible_body(), message.body());
    assert!(message.invisible_body().is_empty());
}
