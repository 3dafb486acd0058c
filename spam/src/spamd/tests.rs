use proptest::prelude::*;

use super::*;
use crate::rules::RuleModel;
use crate::score::{Hit, Verdict};

fn read_all(input: &[u8], limits: Limits) -> Result<Option<Request>, SpamdError> {
    RequestReader::new(limits).feed(input)
}

fn error_code(input: &[u8], limits: Limits) -> ExitCode {
    match read_all(input, limits) {
        Err(error) => error.code,
        Ok(result) => panic!("expected an error, got {result:?}"),
    }
}

fn verdict(score: f64, rules: &[(&str, f64)]) -> Verdict {
    Verdict {
        score,
        required: 5.0,
        is_spam: score >= 5.0,
        hits: rules
            .iter()
            .map(|(name, score)| Hit {
                name: name.to_string(),
                score: *score,
                hits: 1,
            })
            .collect(),
        score_set: 0,
        evals_unimplemented: 0,
    }
}

#[test]
fn check_request_parses() {
    let request = read_all(
        b"CHECK SPAMC/1.5\r\nContent-length: 5\r\nUser: jane\r\n\r\nHello",
        Limits::default(),
    )
    .unwrap()
    .unwrap();
    assert_eq!(request.verb, Verb::Check);
    assert_eq!(request.version_minor, 5);
    assert_eq!(request.user.as_deref(), Some("jane"));
    assert_eq!(request.body, b"Hello");
}

#[test]
fn bare_lf_lines_parse() {
    let request = read_all(
        b"PROCESS SPAMC/1.2\ncontent-LENGTH:2\n\nHi",
        Limits::default(),
    )
    .unwrap()
    .unwrap();
    assert_eq!(request.verb, Verb::Process);
    assert_eq!(request.body, b"Hi");
}

#[test]
fn ping_completes_after_request_line() {
    let request = read_all(b"PING SPAMC/1.5\r\n", Limits::default())
        .unwrap()
        .unwrap();
    assert_eq!(request.verb, Verb::Ping);
    assert!(request.body.is_empty());
}

#[test]
fn every_verb_parses() {
    let cases = [
        ("CHECK", Verb::Check),
        ("SYMBOLS", Verb::Symbols),
        ("REPORT", Verb::Report),
        ("REPORT_IFSPAM", Verb::ReportIfSpam),
        ("PROCESS", Verb::Process),
        ("HEADERS", Verb::Headers),
        ("SKIP", Verb::Skip),
        ("TELL", Verb::Tell),
    ];
    for (word, expected) in cases {
        let input = format!("{word} SPAMC/1.5\r\nContent-length: 0\r\n\r\n");
        let request = read_all(input.as_bytes(), Limits::default())
            .unwrap()
            .unwrap();
        assert_eq!(request.verb, expected, "{word}");
    }
}

#[test]
fn byte_at_a_time_equals_whole() {
    let input = b"SYMBOLS SPAMC/1.5\r\nContent-length: 11\r\n\r\nSubject: x\n";
    let whole = read_all(input, Limits::default()).unwrap().unwrap();
    let mut reader = RequestReader::new(Limits::default());
    let mut result = None;
    for (index, byte) in input.iter().enumerate() {
        let fed = reader.feed(&[*byte]).unwrap();
        if index + 1 < input.len() {
            assert!(fed.is_none(), "complete early at byte {index}");
        } else {
            result = fed;
        }
    }
    assert_eq!(result, Some(whole));
}

#[test]
fn bad_requests_get_their_codes() {
    let small = Limits {
        header_line_len_max: 40,
        header_count_max: 2,
        body_size_max: 10,
    };
    let cases: &[(&[u8], ExitCode)] = &[
        (b"FETCH SPAMC/1.5\r\n\r\n", ExitCode::Protocol),
        (b"CHECK HTTP/1.1\r\n\r\n", ExitCode::Protocol),
        (b"CHECK SPAMC/1.5 extra\r\n\r\n", ExitCode::Protocol),
        (b"CHECK\r\n\r\n", ExitCode::Protocol),
        (b"CHECK SPAMC/1.5\r\n\r\n", ExitCode::Protocol),
        (
            b"CHECK SPAMC/1.5\r\nContent-length: -1\r\n\r\n",
            ExitCode::Protocol,
        ),
        (
            b"CHECK SPAMC/1.5\r\nContent-length: 1x\r\n\r\n",
            ExitCode::Protocol,
        ),
        (b"CHECK SPAMC/1.5\r\nno colon\r\n\r\n", ExitCode::Protocol),
        (
            b"CHECK SPAMC/1.5\r\nContent-length: 11\r\n\r\n",
            ExitCode::TooBig,
        ),
        (
            b"CHECK SPAMC/1.5\r\nContent-length: 99999999999999999999999\r\n\r\n",
            ExitCode::Protocol,
        ),
        (
            b"CHECK SPAMC/1.5\r\nCompress: zlib\r\n\r\n",
            ExitCode::Unavailable,
        ),
        (
            b"CHECK SPAMC/1.5\r\nA: 1\r\nB: 2\r\nC: 3\r\n",
            ExitCode::Protocol,
        ),
        (
            b"CHECK SPAMC/1.5\r\nUser: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
            ExitCode::Protocol,
        ),
        (
            b"CHECK SPAMC/1.5\r\nContent-length: 1\r\n\r\nab",
            ExitCode::Protocol,
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(
            error_code(input, small),
            *expected,
            "{}",
            input.escape_ascii()
        );
    }
}

#[test]
fn endless_line_without_newline_is_rejected() {
    let limits = Limits::default();
    let input = vec![b'A'; limits.header_line_len_max];
    assert_eq!(error_code(&input, limits), ExitCode::Protocol);
}

#[test]
fn bytes_after_request_are_rejected() {
    let mut reader = RequestReader::new(Limits::default());
    assert!(reader.feed(b"PING SPAMC/1.5\r\n").unwrap().is_some());
    let error = reader.feed(b"more").unwrap_err();
    assert_eq!(error.code, ExitCode::Protocol);
}

#[test]
fn body_remaining_counts_down() {
    let mut reader = RequestReader::new(Limits::default());
    assert_eq!(
        reader.feed(b"CHECK SPAMC/1.5\r\nContent-length: 4\r\n\r\nab"),
        Ok(None)
    );
    assert_eq!(reader.body_remaining(), 2);
}

#[test]
fn check_response_has_spam_line() {
    let reply = response(Verb::Check, &verdict(7.3, &[]), b"", &RuleModel::new());
    assert_eq!(
        reply,
        b"SPAMD/1.5 0 EX_OK\r\nContent-length: 0\r\nSpam: True ; 7.3 / 5.0\r\n\r\n"
    );
}

#[test]
fn symbols_response_lists_sorted_names() {
    let verdict = verdict(2.0, &[("ZED", 1.0), ("ALPHA", 1.0)]);
    let reply = response(Verb::Symbols, &verdict, b"", &RuleModel::new());
    let text = String::from_utf8(reply).unwrap();
    assert!(
        text.starts_with("SPAMD/1.5 0 EX_OK\r\nContent-length: 9\r\n"),
        "{text}"
    );
    assert!(text.contains("Spam: False ; 2.0 / 5.0\r\n\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nALPHA,ZED"), "{text}");
}

#[test]
fn report_ifspam_is_empty_for_ham() {
    let ham = verdict(1.0, &[("ALPHA", 1.0)]);
    let reply = response(Verb::ReportIfSpam, &ham, b"", &RuleModel::new());
    assert!(reply.ends_with(b"Content-length: 0\r\nSpam: False ; 1.0 / 5.0\r\n\r\n"));

    let spam = verdict(6.0, &[("ALPHA", 6.0)]);
    let reply =
        String::from_utf8(response(Verb::ReportIfSpam, &spam, b"", &RuleModel::new())).unwrap();
    assert!(reply.contains("(6.0 points, 5.0 required)"), "{reply}");
    assert!(reply.contains(" 6.0 ALPHA "), "{reply}");
}

#[test]
fn process_replaces_forged_spam_fields() {
    let message = b"Subject: hi\r\nX-Spam-Flag: NO\r\nX-Spam-Status: No,\r\n\tscore=0\r\nTo: a@b\r\n\r\nbody\r\n";
    let reply = response(
        Verb::Process,
        &verdict(6.0, &[("ALPHA", 6.0)]),
        message,
        &RuleModel::new(),
    );
    let text = String::from_utf8(reply).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.contains("Content-length: "), "{text}");
    assert!(
        body.starts_with("Subject: hi\r\nTo: a@b\r\nX-Spam-Flag: YES\r\n"),
        "{body}"
    );
    assert!(!body.contains("X-Spam-Flag: NO"), "{body}");
    assert!(!body.contains("score=0"), "{body}");
    assert!(body.ends_with("\r\n\r\nbody\r\n"), "{body}");
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("Content-length: "))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(length, body.len());
}

#[test]
fn headers_response_omits_body() {
    let message = b"Subject: hi\n\nbody\n";
    let reply = response(
        Verb::Headers,
        &verdict(0.0, &[]),
        message,
        &RuleModel::new(),
    );
    let text = String::from_utf8(reply).unwrap();
    let body = text.split_once("\r\n\r\n").unwrap().1;
    assert!(
        body.starts_with("Subject: hi\nX-Spam-Score: 0.0\n"),
        "{body}"
    );
    assert!(body.ends_with("\n\n"), "{body}");
    assert!(!body.contains("body"), "{body}");
}

#[test]
fn process_of_header_only_message() {
    let reply = response(
        Verb::Process,
        &verdict(0.0, &[]),
        b"Subject: hi",
        &RuleModel::new(),
    );
    let text = String::from_utf8(reply).unwrap();
    let body = text.split_once("\r\n\r\n").unwrap().1;
    assert!(
        body.starts_with("Subject: hi\nX-Spam-Score: 0.0\n"),
        "{body}"
    );
}

#[test]
fn error_response_names_code() {
    let error = SpamdError {
        code: ExitCode::TooBig,
        message: "content-length 9 exceeds\r\nthe maximum".to_string(),
    };
    assert_eq!(
        error_response(&error),
        b"SPAMD/1.5 98 EX_TOOBIG content-length 9 exceeds  the maximum\r\n"
    );
    assert_eq!(pong_response(), b"SPAMD/1.5 0 PONG\r\n");
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let limits = Limits { header_line_len_max: 64, header_count_max: 4, body_size_max: 256 };
        let mut reader = RequestReader::new(limits);
        for chunk in input.chunks(7) {
            if reader.feed(chunk).is_err() {
                break;
            }
        }
    }

    #[test]
    fn split_point_does_not_change_result(
        body in proptest::collection::vec(any::<u8>(), 0..300),
        split in 0usize..400,
    ) {
        let mut input = format!("PROCESS SPAMC/1.5\r\nContent-length: {}\r\n\r\n", body.len()).into_bytes();
        input.extend_from_slice(&body);
        let split = split.min(input.len());
        let whole = read_all(&input, Limits::default());
        let mut reader = RequestReader::new(Limits::default());
        let first = reader.feed(&input[..split]);
        let result = match first {
            Ok(None) => reader.feed(&input[split..]),
            other => other,
        };
        prop_assert_eq!(&result, &whole);
        prop_assert_eq!(whole.unwrap().unwrap().body, body);
    }

    #[test]
    fn process_keeps_body_and_length(
        body in "[ -~\n]{0,200}",
        spam in any::<bool>(),
    ) {
        let message = format!("Subject: x\nX-Spam-Level: ***\n\n{body}");
        let score = if spam { 9.0 } else { 0.0 };
        let reply = response(Verb::Process, &verdict(score, &[]), message.as_bytes(), &RuleModel::new());
        let text = String::from_utf8(reply).unwrap();
        let (_, output) = text.split_once("\r\n\r\n").unwrap();
        let expected_end = format!("\n\n{body}");
        prop_assert!(output.ends_with(&expected_end));
        prop_assert_eq!(output.matches("X-Spam-Level").count(), 1);
    }
}
