//! Tests for the DATA receiver and `dot_stuff`, with a scalar reference.

use super::*;
use crate::smtp::command::{parse_command, Command};
use crate::smtp::line::{LineOutcome, LineReader, COMMAND_LINE_MAX};
use proptest::prelude::*;

const ROOMY: DataLimits = DataLimits {
    message_size_max: 1 << 20,
    line_len_max: TEXT_LINE_LEN_MAX,
};

/// What a receiver produced from one input: where the data ended (if it
/// did), the result there, the appended message and `received_len`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Run {
    end: Option<(usize, Result<(), DataError>)>,
    message: Vec<u8>,
    received_len: usize,
}

/// Byte-at-a-time reference receiver. It takes the whole input at once and
/// looks ahead instead of keeping a state enum, so it shares no logic with
/// `DataReceiver` beyond the rules it implements.
fn reference(input: &[u8], limits: DataLimits) -> Run {
    let mut message = Vec::new();
    let mut error = None;
    let mut line_len = 0;
    let mut at_line_start = true;
    let mut index = 0;

    let fail = |error: &mut Option<DataError>, new: DataError| {
        if error.is_none() {
            *error = Some(new);
        }
    };

    while index < input.len() {
        if at_line_start && input[index..].starts_with(b".\r\n") {
            let received_len = message.len();
            return Run {
                end: Some((index + 3, error.map_or(Ok(()), Err))),
                message,
                received_len,
            };
        }
        if at_line_start && input[index] == b'.' {
            index += 1;
            at_line_start = false;
            continue;
        }
        at_line_start = false;

        match (input[index], input.get(index + 1)) {
            (b'\r', None) => break,
            (b'\r', Some(b'\n')) => {
                for byte in [b'\r', b'\n'] {
                    if error.is_none() {
                        if message.len() == limits.message_size_max {
                            fail(
                                &mut error,
                                DataError::TooBig {
                                    max: limits.message_size_max,
                                },
                            );
                        } else {
                            message.push(byte);
                        }
                    }
                }
                line_len = 0;
                at_line_start = true;
                index += 2;
            }
            (b'\r', Some(_)) => {
                fail(&mut error, DataError::BareCr);
                index += 1;
            }
            (b'\n', _) => {
                fail(&mut error, DataError::BareLf);
                index += 1;
            }
            (byte, _) => {
                if error.is_none() {
                    if line_len == limits.line_len_max {
                        fail(
                            &mut error,
                            DataError::LineTooLong {
                                max: limits.line_len_max,
                            },
                        );
                    } else if message.len() == limits.message_size_max {
                        fail(
                            &mut error,
                            DataError::TooBig {
                                max: limits.message_size_max,
                            },
                        );
                    } else {
                        message.push(byte);
                        line_len += 1;
                    }
                }
                index += 1;
            }
        }
    }

    let received_len = message.len();
    Run {
        end: None,
        message,
        received_len,
    }
}

/// Feeds `input` to a `DataReceiver` in chunks ending at `cuts` (sorted,
/// clamped to the input) and records where it ended.
fn receive_chunked(input: &[u8], limits: DataLimits, cuts: &[usize]) -> Run {
    let mut receiver = DataReceiver::new(limits);
    let mut message = Vec::new();
    let mut start = 0;
    let mut ends = cuts
        .iter()
        .map(|&cut| cut.min(input.len()))
        .collect::<Vec<_>>();
    ends.sort_unstable();
    ends.push(input.len());

    for end in ends {
        if end < start {
            continue;
        }
        match receiver.feed(&input[start..end], &mut message) {
            DataOutcome::NeedMore { consumed } => {
                assert_eq!(
                    consumed,
                    end - start,
                    "NeedMore must consume the whole chunk"
                );
                start = end;
            }
            DataOutcome::Done { consumed, result } => {
                assert!(consumed <= end - start);
                return Run {
                    end: Some((start + consumed, result)),
                    message,
                    received_len: receiver.received_len(),
                };
            }
        }
    }

    Run {
        end: None,
        message,
        received_len: receiver.received_len(),
    }
}

fn receive(input: &[u8], limits: DataLimits) -> Run {
    receive_chunked(input, limits, &[])
}

/// The pipelined commands that follow each smuggling sequence: an attacker
/// hopes the receiver ends the first message at the sequence and runs these.
const SMUGGLED: &[u8] = b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nsecond\r\n.\r\n";

/// Each sequence some MTA once took (or could take) as end of data, and
/// whether it contains a bare CR or LF.
const SMUGGLING_SEQUENCES: &[(&[u8], Option<DataError>)] = &[
    (b"\n.\n", Some(DataError::BareLf)),
    (b"\r.\r", Some(DataError::BareCr)),
    (b"\r.\n", Some(DataError::BareCr)),
    (b"\n.\r", Some(DataError::BareLf)),
    (b"\n.\r\n", Some(DataError::BareLf)),
    (b"\r\n.\n", Some(DataError::BareLf)),
    (b"\r.\r\n", Some(DataError::BareCr)),
    (b"\r\n.\r", Some(DataError::BareCr)),
    (b"\r\n\x00.\r\n", None),
    (b"\r\n.\r\r\n", Some(DataError::BareCr)),
];

fn smuggling_input(sequence: &[u8]) -> Vec<u8> {
    let mut input = b"Subject: first\r\n\r\nfirst".to_vec();
    input.extend_from_slice(sequence);
    input.extend_from_slice(SMUGGLED);
    input
}

#[test]
fn smuggling_sequences_never_end_data() {
    for (sequence, expected_error) in SMUGGLING_SEQUENCES {
        let input = smuggling_input(sequence);
        let expected_result = expected_error.map_or(Ok(()), Err);

        let run = receive(&input, ROOMY);
        assert_eq!(
            run.end,
            Some((input.len(), expected_result)),
            "sequence {:?} must end only at the final CRLF.CRLF",
            sequence.escape_ascii().to_string()
        );
    }
}

#[test]
fn smuggling_sequences_split_at_every_byte() {
    for (sequence, expected_error) in SMUGGLING_SEQUENCES {
        let input = smuggling_input(sequence);
        let expected = Some((input.len(), expected_error.map_or(Ok(()), Err)));

        for cut in 0..=input.len() {
            let run = receive_chunked(&input, ROOMY, &[cut]);
            assert_eq!(
                run.end,
                expected,
                "sequence {:?} cut at {cut}",
                sequence.escape_ascii().to_string()
            );
        }

        let every_byte = (0..input.len()).collect::<Vec<_>>();
        let run = receive_chunked(&input, ROOMY, &every_byte);
        assert_eq!(
            run.end,
            expected,
            "sequence {:?} byte by byte",
            sequence.escape_ascii().to_string()
        );
    }
}

#[test]
fn nul_before_dot_kept_as_data() {
    let input = smuggling_input(b"\r\n\x00.\r\n");
    let run = receive(&input, ROOMY);
    let mut expected = b"Subject: first\r\n\r\nfirst\r\n\x00.\r\n".to_vec();
    expected.extend_from_slice(&SMUGGLED[..SMUGGLED.len() - 3]);
    assert_eq!(
        run.message.escape_ascii().to_string(),
        expected.escape_ascii().to_string()
    );
}

#[test]
fn bytes_after_end_are_next_commands() {
    let mut input = b"hello\r\n.\r\n".to_vec();
    input.extend_from_slice(b"MAIL FROM:<a@b>\r\nQUIT\r\n");

    let mut receiver = DataReceiver::new(ROOMY);
    let mut message = Vec::new();
    let DataOutcome::Done { consumed, result } = receiver.feed(&input, &mut message) else {
        panic!("data must end");
    };
    assert_eq!(result, Ok(()));
    assert_eq!(message, b"hello\r\n");

    let mut reader = LineReader::new(COMMAND_LINE_MAX);
    let LineOutcome::Line { line, .. } = reader.next(&input[consumed..]) else {
        panic!("a command line must follow");
    };
    assert!(matches!(parse_command(line), Ok(Command::MailFrom { .. })));
}

#[test]
fn feed_after_done_consumes_nothing() {
    let mut receiver = DataReceiver::new(ROOMY);
    let mut message = Vec::new();
    assert_eq!(
        receiver.feed(b"a\nb\r\n.\r\n", &mut message),
        DataOutcome::Done {
            consumed: 8,
            result: Err(DataError::BareLf)
        }
    );
    assert_eq!(
        receiver.feed(b"more\r\n.\r\n", &mut message),
        DataOutcome::Done {
            consumed: 0,
            result: Err(DataError::BareLf)
        }
    );
    assert_eq!(message, b"a");
}

#[test]
fn receiver_table() {
    let tight = |message_size_max, line_len_max| DataLimits {
        message_size_max,
        line_len_max,
    };
    type Row = (
        &'static str,
        DataLimits,
        &'static [u8],
        Option<(usize, Result<(), DataError>)>,
        &'static [u8],
    );
    let cases: &[Row] = &[
        ("empty message", ROOMY, b".\r\n", Some((3, Ok(()))), b""),
        (
            "one line",
            ROOMY,
            b"hi\r\n.\r\n",
            Some((7, Ok(()))),
            b"hi\r\n",
        ),
        (
            "empty lines kept",
            ROOMY,
            b"\r\n\r\n.\r\n",
            Some((7, Ok(()))),
            b"\r\n\r\n",
        ),
        (
            "stuffed dot removed",
            ROOMY,
            b"..hidden\r\n.\r\n",
            Some((13, Ok(()))),
            b".hidden\r\n",
        ),
        (
            "lone dot line stuffed",
            ROOMY,
            b"..\r\n.\r\n",
            Some((7, Ok(()))),
            b".\r\n",
        ),
        (
            "unstuffed dot dropped",
            ROOMY,
            b".x\r\n.\r\n",
            Some((7, Ok(()))),
            b"x\r\n",
        ),
        (
            "dot mid line kept",
            ROOMY,
            b"a.b\r\n.\r\n",
            Some((8, Ok(()))),
            b"a.b\r\n",
        ),
        (
            "dot dot crlf mid text",
            ROOMY,
            b"a\r\n..\r\n.\r\n",
            Some((10, Ok(()))),
            b"a\r\n.\r\n",
        ),
        ("no end yet", ROOMY, b"hi\r\n.\r", None, b"hi\r\n"),
        (
            "dot space is not end",
            ROOMY,
            b". \r\n.\r\n",
            Some((7, Ok(()))),
            b" \r\n",
        ),
        ("bare lf at start", ROOMY, b"\n.\r\n", None, b""),
        (
            "bare lf then real end",
            ROOMY,
            b"a\nb\r\n.\r\n",
            Some((8, Err(DataError::BareLf))),
            b"a",
        ),
        (
            "bare cr then real end",
            ROOMY,
            b"a\rb\r\n.\r\n",
            Some((8, Err(DataError::BareCr))),
            b"a",
        ),
        (
            "cr cr lf",
            ROOMY,
            b"a\r\r\n.\r\n",
            Some((7, Err(DataError::BareCr))),
            b"a",
        ),
        (
            "dot lf at line start",
            ROOMY,
            b".\n\r\n.\r\n",
            Some((7, Err(DataError::BareLf))),
            b"",
        ),
        ("dot lf is no line end", ROOMY, b".\n.\r\n", None, b""),
        (
            "dot cr x at line start",
            ROOMY,
            b".\rx\r\n.\r\n",
            Some((8, Err(DataError::BareCr))),
            b"",
        ),
        (
            "first error wins",
            ROOMY,
            b"\r \n\r\n.\r\n",
            Some((8, Err(DataError::BareCr))),
            b"",
        ),
        (
            "line at max",
            tight(100, 3),
            b"abc\r\n.\r\n",
            Some((8, Ok(()))),
            b"abc\r\n",
        ),
        (
            "line over max",
            tight(100, 3),
            b"abcd\r\n.\r\n",
            Some((9, Err(DataError::LineTooLong { max: 3 }))),
            b"abc",
        ),
        (
            "stuffed dot not counted",
            tight(100, 3),
            b"..ab\r\n.\r\n",
            Some((9, Ok(()))),
            b".ab\r\n",
        ),
        (
            "size at max",
            tight(5, 10),
            b"abc\r\n.\r\n",
            Some((8, Ok(()))),
            b"abc\r\n",
        ),
        (
            "size over max in crlf",
            tight(4, 10),
            b"abc\r\n.\r\n",
            Some((8, Err(DataError::TooBig { max: 4 }))),
            b"abc\r",
        ),
        (
            "size over max in text",
            tight(2, 10),
            b"abc\r\n.\r\n",
            Some((8, Err(DataError::TooBig { max: 2 }))),
            b"ab",
        ),
        (
            "line limit checked before size",
            tight(3, 3),
            b"abcd\r\n.\r\n",
            Some((9, Err(DataError::LineTooLong { max: 3 }))),
            b"abc",
        ),
    ];

    for (name, limits, input, end, message) in cases {
        let run = receive(input, *limits);
        assert_eq!(run.end, *end, "case {name}: end");
        assert_eq!(run.message, *message, "case {name}: message");
        assert_eq!(run.received_len, message.len(), "case {name}: received_len");
        assert_eq!(reference(input, *limits), run, "case {name}: reference");
    }
}

#[test]
fn data_error_reply_table() {
    let cases: &[(DataError, u16, EnhancedStatus, &str)] = &[
        (
            DataError::BareLf,
            550,
            EnhancedStatus::new(5, 5, 2),
            "bare LF in message data is not allowed",
        ),
        (
            DataError::BareCr,
            550,
            EnhancedStatus::new(5, 5, 2),
            "bare CR in message data is not allowed",
        ),
        (
            DataError::LineTooLong { max: 998 },
            550,
            EnhancedStatus::new(5, 5, 2),
            "message line longer than the maximum of 998 octets",
        ),
        (
            DataError::TooBig { max: 1000 },
            552,
            EnhancedStatus::new(5, 3, 4),
            "message larger than the maximum of 1000 octets",
        ),
    ];
    for (error, code, status, text) in cases {
        let reply = error.reply();
        assert_eq!(reply.code, *code, "{error:?}");
        assert_eq!(reply.status, Some(*status), "{error:?}");
        assert_eq!(reply.text, *text, "{error:?}");
    }
}

#[test]
fn dot_stuff_table() {
    let cases: &[(&[u8], &[u8])] = &[
        (b"", b".\r\n"),
        (b"a\r\n", b"a\r\n.\r\n"),
        (b"a", b"a\r\n.\r\n"),
        (b".\r\n", b"..\r\n.\r\n"),
        (b"a\r\n.b\r\n..\r\n", b"a\r\n..b\r\n...\r\n.\r\n"),
        (b"a.b\r\n", b"a.b\r\n.\r\n"),
        (b"a\n.b\n", b"a\r\n..b\r\n.\r\n"),
        (b"a\r.b", b"a\r\n..b\r\n.\r\n"),
        (b"a\r\r\n", b"a\r\n\r\n.\r\n"),
    ];
    for (message, expected) in cases {
        let mut out = Vec::new();
        dot_stuff(message, &mut out);
        assert_eq!(
            out.escape_ascii().to_string(),
            expected.escape_ascii().to_string(),
            "message {:?}",
            message.escape_ascii().to_string()
        );
    }
}

/// Bytes weighted toward the ones the receiver branches on.
fn adversarial_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => prop::sample::select(vec![b'\r', b'\n', b'.', b'a', 0u8, 0xff]).prop_map(|byte| vec![byte]),
        2 => prop::sample::select(SMUGGLING_SEQUENCES.iter().map(|(sequence, _)| sequence.to_vec()).collect::<Vec<_>>()),
        2 => Just(b"\r\n".to_vec()),
        1 => Just(b"\r\n.\r\n".to_vec()),
        1 => Just(SMUGGLED.to_vec()),
        1 => proptest::collection::vec(any::<u8>(), 0..40),
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

fn small_limits() -> impl Strategy<Value = DataLimits> {
    prop_oneof![
        Just(ROOMY),
        (0usize..80, 0usize..12).prop_map(|(message_size_max, line_len_max)| DataLimits {
            message_size_max,
            line_len_max,
        }),
    ]
}

proptest! {
    #[test]
    fn receiver_matches_reference_in_any_chunks(
        input in adversarial_bytes(),
        limits in small_limits(),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let cuts = cuts.iter().map(|cut| cut.index(input.len() + 1)).collect::<Vec<_>>();
        prop_assert_eq!(receive_chunked(&input, limits, &cuts), reference(&input, limits));
    }

    #[test]
    fn receiver_matches_reference_on_arbitrary_bytes(
        input in proptest::collection::vec(any::<u8>(), 0..400),
        limits in small_limits(),
        cut in any::<prop::sample::Index>(),
    ) {
        let cut = cut.index(input.len() + 1);
        prop_assert_eq!(receive_chunked(&input, limits, &[cut]), reference(&input, limits));
    }

    #[test]
    fn receiver_ends_only_at_crlf_dot_crlf(
        input in adversarial_bytes(),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let cuts = cuts.iter().map(|cut| cut.index(input.len() + 1)).collect::<Vec<_>>();
        if let Some((end, _)) = receive_chunked(&input, ROOMY, &cuts).end {
            prop_assert!(input[..end].ends_with(b".\r\n"));
            let before_dot = &input[..end - 3];
            prop_assert!(before_dot.is_empty() || before_dot.ends_with(b"\r\n"));
        }
    }

    #[test]
    fn dot_stuff_round_trips_crlf_messages(
        lines in proptest::collection::vec(
            proptest::collection::vec(
                any::<u8>().prop_filter("no line end", |byte| *byte != b'\r' && *byte != b'\n'),
                0..30,
            ),
            0..20,
        ),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let mut message = Vec::new();
        for line in &lines {
            message.extend_from_slice(line);
            message.extend_from_slice(b"\r\n");
        }

        let mut wire = Vec::new();
        dot_stuff(&message, &mut wire);
        let cuts = cuts.iter().map(|cut| cut.index(wire.len() + 1)).collect::<Vec<_>>();
        let run = receive_chunked(&wire, ROOMY, &cuts);
        prop_assert_eq!(run.end, Some((wire.len(), Ok(()))));
        prop_assert_eq!(run.message, message);
    }

    #[test]
    fn dot_stuff_output_always_accepted(message in adversarial_bytes()) {
        let mut wire = Vec::new();
        dot_stuff(&message, &mut wire);
        let run = receive(&wire, ROOMY);
        prop_assert_eq!(run.end, Some((wire.len(), Ok(()))));
    }
}
