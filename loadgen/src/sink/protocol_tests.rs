//! Tests of the sink's sans-I/O session: replies to commands, DATA, BDAT.

use std::rc::Rc;

use super::*;

/// Feeds `input` in one piece, finishing every message with `verdict`, and
/// returns the output and the lengths of the messages that ended.
fn drive(input: &[u8], verdict: Verdict) -> (String, Vec<u64>) {
    let mut out = Vec::new();
    let mut session = SinkSession::new(Rc::from("sink.test"), true, &mut out);
    let mut start = 0;
    let mut ended = Vec::new();
    loop {
        match session.step(&input[start..], &mut out) {
            Step::NeedMore { consumed } => {
                start += consumed;
                if start == input.len() {
                    break;
                }
            }
            Step::Progress { consumed } | Step::Rejected { consumed } => start += consumed,
            Step::MessageEnd { consumed, len } => {
                start += consumed;
                ended.push(len);
                if session.finish_message(verdict, &mut out) {
                    break;
                }
            }
            Step::Close { .. } => break,
        }
    }
    (String::from_utf8(out).unwrap(), ended)
}

#[test]
fn ehlo_advertises_extensions() {
    let (out, _) = drive(b"EHLO client\r\n", Verdict::Accept);
    for keyword in [
        "PIPELINING",
        "SIZE 268435456",
        "8BITMIME",
        "ENHANCEDSTATUSCODES",
        "CHUNKING",
    ] {
        assert!(out.contains(keyword), "{keyword} missing: {out}");
    }
    assert!(out.starts_with("220 sink.test ESMTP"), "{out}");
}

#[test]
fn pipelined_transaction_gets_every_reply() {
    let input = b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nX-Loadgen-Id: r-1\r\n\r\nhi\r\n..dot\r\n.\r\nQUIT\r\n";
    let (out, ended) = drive(input, Verdict::Accept);
    assert_eq!(
        ended,
        vec![b"X-Loadgen-Id: r-1\r\n\r\nhi\r\n.dot\r\n".len() as u64]
    );
    let codes: Vec<&str> = out.lines().map(|line| &line[..4]).collect();
    assert_eq!(
        codes[codes.len() - 5..],
        ["250 ", "250 ", "354 ", "250 ", "221 "],
        "{out}"
    );
}

#[test]
fn bare_lf_dot_does_not_end_data() {
    let input =
        b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nline\n.\nMAIL FROM:<x@y>\r\n.\r\n";
    let (out, ended) = drive(input, Verdict::Accept);
    assert!(ended.is_empty(), "bare LF message was accepted: {out}");
    assert!(
        out.ends_with("550 5.5.2 bare LF in message data is not allowed\r\n"),
        "{out}"
    );
}

#[test]
fn bdat_chunks_end_at_last() {
    let input =
        b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 5\r\nab\r\ncBDAT 3 LAST\r\n.\r\n";
    let (out, ended) = drive(input, Verdict::Accept);
    assert_eq!(ended, vec![8]);
    assert!(out.contains("250 2.0.0 5 octets received\r\n"), "{out}");
    assert!(
        out.ends_with("250 2.0.0 sink: message accepted\r\n"),
        "{out}"
    );
}

#[test]
fn bdat_without_mail_consumes_chunk() {
    let input = b"EHLO c\r\nBDAT 6 LAST\r\nNOOP\r\nNOOP\r\n";
    let (out, ended) = drive(input, Verdict::Accept);
    assert!(ended.is_empty());
    assert!(out.contains("503 5.5.1 need MAIL"), "{out}");
    assert_eq!(
        out.matches("250 2.0.0 ok").count(),
        1,
        "chunk octets taken as commands: {out}"
    );
}

#[test]
fn bdat_syntax_table() {
    let cases: &[(&[u8], Option<Result<(u64, bool), ()>>)] = &[
        (b"BDAT 10", Some(Ok((10, false)))),
        (b"bdat 0 last", Some(Ok((0, true)))),
        (b"BDAT  7  LAST", Some(Ok((7, true)))),
        (b"BDAT", Some(Err(()))),
        (b"BDAT x", Some(Err(()))),
        (b"BDAT -1", Some(Err(()))),
        (b"BDAT 99999999999999999999999", Some(Err(()))),
        (b"BDAT 1 LAST more", Some(Err(()))),
        (b"BDAT 1 FIRST", Some(Err(()))),
        (b"BDATX 1", None),
        (b"DATA", None),
    ];
    for (line, expected) in cases {
        let got = parse_bdat(line).map(|result| result.map_err(|_| ()));
        assert_eq!(got, *expected, "{}", String::from_utf8_lossy(line));
    }
}

#[test]
fn injected_failures_use_their_codes() {
    let input = b"EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n.\r\n";
    let (out, _) = drive(input, Verdict::Temporary);
    assert!(
        out.ends_with("451 4.3.0 sink: injected temporary failure\r\n"),
        "{out}"
    );
    let (out, _) = drive(input, Verdict::Permanent);
    assert!(
        out.ends_with("554 5.3.0 sink: injected permanent failure\r\n"),
        "{out}"
    );
}

#[test]
fn garbage_commands_close_session() {
    let input = b"garbage\r\n".repeat(ERRORS_MAX as usize + 5);
    let (out, _) = drive(&input, Verdict::Accept);
    assert_eq!(out.matches("500 ").count(), ERRORS_MAX as usize, "{out}");
    assert!(
        out.ends_with("too many invalid commands (20), closing\r\n"),
        "{out}"
    );
}

#[test]
fn data_before_rcpt_rejected() {
    let (out, _) = drive(b"EHLO c\r\nMAIL FROM:<a@b>\r\nDATA\r\n", Verdict::Accept);
    assert!(
        out.ends_with("503 5.5.1 need RCPT before DATA or BDAT\r\n"),
        "{out}"
    );
}
