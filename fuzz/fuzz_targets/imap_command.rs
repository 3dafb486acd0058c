//! Fuzz target for `ringmail_protocols::imap::parse_command`.
//!
//! Feeds arbitrary bytes under small limits, so that the limits themselves
//! are reached often, and checks the outcome's contract: no panic, and no
//! `consumed` or `literal_offset` past the end of the buffer. It then
//! parses the rest of the buffer the way a session would, command by
//! command, which exercises pipelining.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringmail_protocols::imap::{parse_command, Limits, ParseOutcome};

/// Small limits, so that fuzzed inputs cross each of them.
const LIMITS: Limits = Limits {
    line_len_max: 512,
    literal_len_max: 256,
    depth_max: 8,
    items_max: 32,
};

fuzz_target!(|data: &[u8]| {
    let mut offset = 0;
    while offset < data.len() {
        let rest = &data[offset..];
        let consumed = match parse_command(rest, &LIMITS) {
            ParseOutcome::Complete { consumed, .. } | ParseOutcome::Error { consumed, .. } => {
                consumed
            }
            ParseOutcome::NeedContinuation { literal_offset, .. } => {
                assert!(literal_offset <= rest.len());
                break;
            }
            ParseOutcome::Incomplete => break,
        };
        assert!(consumed > 0);
        assert!(consumed <= rest.len());
        offset += consumed;
    }
});
