//! Fuzz target: arbitrary chunk sizes and bytes through `BdatReceiver`.
//!
//! The first input byte picks the read length and the second a small
//! `message_size_max`. The rest is split into announced chunks: each chunk's
//! size is one byte of the input, and the bytes after it are the wire. Beyond
//! "no panic", the target checks that a chunk never consumes more than it
//! announced, that the message never grows past `message_size_max`, and that
//! feeding in short reads gives the same message and results as one read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringmail_protocols::smtp::{BdatReceiver, ChunkOutcome};

/// Announces chunks whose sizes come from `wire` and feeds them in reads of
/// `read_len`. Returns the message and each chunk's end offset and result.
fn receive(wire: &[u8], size_max: usize, read_len: usize) -> (Vec<u8>, Vec<(usize, bool)>) {
    let mut receiver = BdatReceiver::new(size_max);
    let mut message = Vec::new();
    let mut ends = Vec::new();
    let mut position = 0;

    while let Some(&size) = wire.get(position) {
        position += 1;
        receiver.start_chunk(u64::from(size));
        loop {
            let end = wire.len().min(position + read_len);
            match receiver.feed(&wire[position..end], &mut message) {
                ChunkOutcome::NeedMore { consumed } => {
                    assert_eq!(consumed, end - position);
                    position = end;
                    if position == wire.len() {
                        return (message, ends);
                    }
                }
                ChunkOutcome::Done { consumed, result } => {
                    assert!(consumed <= end - position);
                    position += consumed;
                    ends.push((position, result.is_ok()));
                    break;
                }
            }
        }
        assert!(message.len() <= size_max);
        assert_eq!(receiver.received_len(), message.len());
    }
    (message, ends)
}

fuzz_target!(|input: &[u8]| {
    let [read_byte, limit_byte, wire @ ..] = input else {
        return;
    };
    let read_len = usize::from(*read_byte % 16) + 1;
    let size_max = usize::from(*limit_byte) * 4;

    let whole = receive(wire, size_max, wire.len().max(1));
    let pieces = receive(wire, size_max, read_len);
    assert_eq!(whole, pieces);
});
