//! Tests for the BDAT chunk receiver.

use super::*;
use proptest::prelude::*;

/// Feeds `input` to `receiver` in pieces that end at each of `cuts`, for a
/// chunk already announced. Returns the offset in `input` where the chunk
/// ended (if it did) with its result.
fn feed_in_pieces(
    receiver: &mut BdatReceiver,
    input: &[u8],
    cuts: &[usize],
    message: &mut Vec<u8>,
) -> Option<(usize, Result<(), BdatError>)> {
    let mut bounds: Vec<usize> = cuts.iter().map(|&cut| cut.min(input.len())).collect();
    bounds.push(input.len());
    bounds.sort_unstable();

    let mut start = 0;
    for end in bounds {
        // A piece may be empty, which is how a read that returns no new
        // chunk bytes looks to the receiver.
        let piece = &input[start..end];
        match receiver.feed(piece, message) {
            ChunkOutcome::NeedMore { consumed } => {
                assert_eq!(consumed, piece.len(), "NeedMore left input behind");
                start = end;
            }
            ChunkOutcome::Done { consumed, result } => return Some((start + consumed, result)),
        }
    }
    None
}

/// One row of `chunk_table`: message_size_max, chunk size, input, the
/// offset where the chunk ends, its result and the appended message.
type ChunkCase<'a> = (
    usize,
    u64,
    &'a [u8],
    Option<usize>,
    Result<(), BdatError>,
    &'a [u8],
);

#[test]
fn chunk_table() {
    let too_big = Err(BdatError::TooBig { max: 4 });
    let cases: &[ChunkCase<'_>] = &[
        (100, 3, b"abcMAIL FROM:<a@b>\r\n", Some(3), Ok(()), b"abc"),
        (100, 0, b"QUIT\r\n", Some(0), Ok(()), b""),
        (100, 0, b"", Some(0), Ok(()), b""),
        (100, 5, b"ab", None, Ok(()), b"ab"),
        (100, 4, b"\0\n\r.", Some(4), Ok(()), b"\0\n\r."),
        (100, 6, b"a\r\n.\r\nb", Some(6), Ok(()), b"a\r\n.\r\n"),
        (4, 4, b"abcd", Some(4), Ok(()), b"abcd"),
        (4, 5, b"abcdeRSET\r\n", Some(5), too_big, b""),
        (4, u64::MAX, b"abcdef", None, Ok(()), b""),
    ];
    for &(size_max, size, input, end, result, expected) in cases {
        let mut receiver = BdatReceiver::new(size_max);
        receiver.start_chunk(size);
        let mut message = Vec::new();
        let got = feed_in_pieces(&mut receiver, input, &[], &mut message);
        let context = format!("size {size}, input {input:?}");
        assert_eq!(got.map(|(at, _)| at), end, "{context}");
        if let Some((_, got_result)) = got {
            assert_eq!(got_result, result, "{context}");
        }
        assert_eq!(message, expected, "{context}");
        assert_eq!(receiver.received_len(), message.len(), "{context}");
    }
}

#[test]
fn oversize_across_chunks_discards_the_rest() {
    let mut receiver = BdatReceiver::new(5);
    let mut message = Vec::new();

    receiver.start_chunk(3);
    assert_eq!(
        receiver.feed(b"abc", &mut message),
        ChunkOutcome::Done {
            consumed: 3,
            result: Ok(())
        }
    );

    receiver.start_chunk(3);
    assert_eq!(
        receiver.feed(b"defNOOP\r\n", &mut message),
        ChunkOutcome::Done {
            consumed: 3,
            result: Err(BdatError::TooBig { max: 5 })
        }
    );
    assert_eq!(message, b"abc", "the chunk that overflows is not appended");

    receiver.start_chunk(1);
    assert_eq!(
        receiver.feed(b"g", &mut message),
        ChunkOutcome::Done {
            consumed: 1,
            result: Err(BdatError::TooBig { max: 5 })
        },
        "a chunk after the overflow still fails"
    );
    assert_eq!(message, b"abc");
}

#[test]
fn skipped_chunk_is_consumed_without_error() {
    let mut receiver = BdatReceiver::new(0);
    let mut message = Vec::new();
    receiver.skip_chunk(4);
    assert_eq!(
        receiver.feed(b"ab", &mut message),
        ChunkOutcome::NeedMore { consumed: 2 }
    );
    assert_eq!(receiver.remaining(), 2);
    assert_eq!(
        receiver.feed(b"cdQUIT\r\n", &mut message),
        ChunkOutcome::Done {
            consumed: 2,
            result: Ok(())
        }
    );
    assert!(message.is_empty(), "a skipped chunk appended {message:?}");
    assert_eq!(receiver.error(), None);
}

#[test]
fn bdat_error_reply_is_552_5_3_4() {
    let wire = BdatError::TooBig { max: 10 }.reply().to_bytes(true);
    assert_eq!(
        String::from_utf8_lossy(&wire),
        "552 5.3.4 message larger than the maximum of 10 octets\r\n"
    );
}

proptest! {
    #[test]
    fn every_split_gives_the_same_message(
        message in proptest::collection::vec(any::<u8>(), 0..300),
        chunk_cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..5),
        read_cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
        trailer in proptest::collection::vec(any::<u8>(), 0..20),
    ) {
        // Split the message into chunks at `chunk_cuts`, then send each chunk
        // followed by the bytes of the next command, cut into reads at
        // `read_cuts`.
        let mut bounds: Vec<usize> = chunk_cuts.iter().map(|cut| cut.index(message.len() + 1)).collect();
        bounds.push(0);
        bounds.push(message.len());
        bounds.sort_unstable();

        let mut receiver = BdatReceiver::new(message.len());
        let mut received = Vec::new();
        for pair in bounds.windows(2) {
            let chunk = &message[pair[0]..pair[1]];
            let mut wire = chunk.to_vec();
            wire.extend_from_slice(&trailer);
            let cuts: Vec<usize> = read_cuts.iter().map(|cut| cut.index(wire.len() + 1)).collect();

            receiver.start_chunk(chunk.len() as u64);
            let end = feed_in_pieces(&mut receiver, &wire, &cuts, &mut received);
            prop_assert_eq!(end, Some((chunk.len(), Ok(()))));
        }
        prop_assert_eq!(&received, &message);
        prop_assert_eq!(receiver.received_len(), message.len());
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        size_max in 0usize..64,
        sizes in proptest::collection::vec(0u64..80, 1..5),
        input in proptest::collection::vec(any::<u8>(), 0..200),
        skip in any::<bool>(),
    ) {
        let mut receiver = BdatReceiver::new(size_max);
        let mut message = Vec::new();
        let mut rest = input.as_slice();
        for size in sizes {
            if skip {
                receiver.skip_chunk(size);
            } else {
                receiver.start_chunk(size);
            }
            match receiver.feed(rest, &mut message) {
                ChunkOutcome::NeedMore { consumed } => {
                    prop_assert_eq!(consumed, rest.len());
                    rest = &[];
                }
                ChunkOutcome::Done { consumed, .. } => {
                    prop_assert!(consumed as u64 <= size);
                    rest = &rest[consumed..];
                }
            }
            prop_assert!(message.len() <= size_max);
            prop_assert_eq!(receiver.received_len(), message.len());
        }
    }
}
