use super::*;

fn complete(input: &[u8]) -> Response {
    match read_response(input) {
        Ok(ResponseOutcome::Complete(response)) => response,
        other => panic!("expected a complete response for {input:?}, got {other:?}"),
    }
}

#[test]
fn tagged_status_is_split() {
    let input = b"a12 NO [TRYCREATE] no such mailbox\r\n* next";
    let response = complete(input);
    assert_eq!(response.len, input.len() - b"* next".len());
    let Kind::Tagged { tag, status, text } = response.kind else {
        panic!("expected a tagged response");
    };
    assert_eq!(&input[tag], b"a12");
    assert_eq!(status, Status::No);
    assert_eq!(&input[text], b"[TRYCREATE] no such mailbox");
}

#[test]
fn fetch_with_literal_spans_lines() {
    let input = b"* 3 FETCH (BODY[] {11}\r\nhello\r\nbye!)\r\na1 OK done\r\n";
    let response = complete(input);
    assert_eq!(response.len, input.len() - b"a1 OK done\r\n".len());
    assert_eq!(response.literals.len(), 1);
    assert_eq!(&input[response.literals[0].clone()], b"hello\r\nbye!");
    let Kind::Untagged { rest } = response.kind else {
        panic!("expected an untagged response");
    };
    assert_eq!(numbered(&input[rest]), Some((3, "FETCH".to_string())));
}

#[test]
fn literal_containing_crlf_and_brace_is_skipped() {
    let input = b"* 1 FETCH (BODY[] {8}\r\nx {99}\r\n)\r\n";
    let response = complete(input);
    assert_eq!(response.len, input.len());
    assert_eq!(&input[response.literals[0].clone()], b"x {99}\r\n");
}

#[test]
fn literal8_header_is_read() {
    let input = b"* 1 FETCH (BINARY[] ~{2}\r\nab)\r\n";
    let response = complete(input);
    assert_eq!(&input[response.literals[0].clone()], b"ab");
}

#[test]
fn partial_inputs_need_more() {
    let whole: &[u8] = b"* 1 FETCH (BODY[] {5}\r\nhello)\r\n";
    for end in 0..whole.len() {
        assert_eq!(
            read_response(&whole[..end]),
            Ok(ResponseOutcome::NeedMore),
            "prefix of {end} octets"
        );
    }
    assert!(matches!(
        read_response(whole),
        Ok(ResponseOutcome::Complete(_))
    ));
}

#[test]
fn continuation_and_bare_lf() {
    assert_eq!(complete(b"+ Ready\r\n").kind, Kind::Continuation);
    assert_eq!(complete(b"+\n").kind, Kind::Continuation);
    assert_eq!(complete(b"a OK\n").len, 5);
}

#[test]
fn endless_line_is_rejected() {
    let input = vec![b'x'; TEXT_LEN_MAX + 1];
    assert!(matches!(
        read_response(&input),
        Err(ResponseError::TextTooLong { .. })
    ));
}

#[test]
fn huge_literal_header_is_rejected() {
    let cases: &[&[u8]] = &[
        b"* 1 FETCH (BODY[] {67108865}\r\n",
        b"* 1 FETCH (BODY[] {99999999999999999999999999}\r\n",
    ];
    for input in cases {
        assert!(
            matches!(
                read_response(input),
                Err(ResponseError::LiteralTooLong { .. })
            ),
            "{input:?}"
        );
    }
}

#[test]
fn many_empty_literals_are_rejected() {
    let mut input = b"* 1 FETCH (".to_vec();
    for _ in 0..=LITERALS_MAX {
        input.extend_from_slice(b"X {0}\r\n");
    }
    input.extend_from_slice(b")\r\n");
    assert_eq!(read_response(&input), Err(ResponseError::TooManyLiterals));
}

#[test]
fn malformed_tagged_lines_are_errors() {
    let cases: &[&[u8]] = &[
        b"\r\n",
        b"a1\r\n",
        b"a1 MAYBE done\r\n",
        b" OK x\r\n",
        b"a1 BYE x\r\n",
    ];
    for input in cases {
        assert!(
            matches!(read_response(input), Err(ResponseError::Malformed { .. })),
            "{input:?}"
        );
    }
}

#[test]
fn search_and_capability_helpers() {
    assert_eq!(search_numbers(b"SEARCH 2 5 9"), Some(vec![2, 5, 9]));
    assert_eq!(search_numbers(b"SEARCH"), Some(vec![]));
    assert_eq!(search_numbers(b"3 EXISTS"), None);
    assert!(has_capability(
        b"[CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS] hi",
        "uidplus"
    ));
    assert!(!has_capability(b"CAPABILITY IMAP4rev1 LITERAL+", "UIDPLUS"));
    assert!(!has_capability(b"OK ready", "IMAP4rev1"));
}
