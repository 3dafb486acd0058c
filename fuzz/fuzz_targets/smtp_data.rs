//! Fuzz target: arbitrary bytes through `DataReceiver`, whole and in chunks.
//!
//! The first two input bytes pick a chunk length and small limits; the rest
//! is the DATA stream. Beyond "no panic", the target checks three things.
//! Feeding in chunks gives the same end, result and message as feeding all
//! at once. The data ends only right after `CRLF . CRLF`, or after `. CRLF`
//! at the very start. `received_len` matches the bytes appended.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringmail_protocols::smtp::{DataLimits, DataOutcome, DataReceiver};

fn receive(input: &[u8], limits: DataLimits, chunk_len: usize) -> (Option<(usize, bool)>, Vec<u8>) {
    let mut receiver = DataReceiver::new(limits);
    let mut message = Vec::new();
    let mut start = 0;
    for chunk in input.chunks(chunk_len) {
        match receiver.feed(chunk, &mut message) {
            DataOutcome::NeedMore { consumed } => assert_eq!(consumed, chunk.len()),
            DataOutcome::Done { consumed, result } => {
                assert!(consumed <= chunk.len());
                assert_eq!(receiver.received_len(), message.len());
                return (Some((start + consumed, result.is_ok())), message);
            }
        }
        start += chunk.len();
    }
    assert_eq!(receiver.received_len(), message.len());
    (None, message)
}

fuzz_target!(|input: &[u8]| {
    let [chunk_byte, limit_byte, data @ ..] = input else {
        return;
    };
    let chunk_len = usize::from(*chunk_byte % 16) + 1;
    let limits = if *limit_byte & 1 == 0 {
        DataLimits {
            message_size_max: usize::MAX,
            line_len_max: usize::MAX,
        }
    } else {
        DataLimits {
            message_size_max: usize::from(*limit_byte),
            line_len_max: usize::from(*limit_byte >> 3),
        }
    };

    let whole = receive(data, limits, data.len().max(1));
    let chunked = receive(data, limits, chunk_len);
    assert_eq!(whole, chunked);

    if let Some((end, _)) = whole.0 {
        assert!(data[..end].ends_with(b".\r\n"));
        assert!(end == 3 || data[..end - 3].ends_with(b"\r\n"));
    }
});
