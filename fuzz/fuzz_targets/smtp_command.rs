//! Fuzz target: arbitrary bytes through `LineReader` and `parse_command`.
//!
//! Checks, beyond "no panic": every line handed out is shorter than the
//! maximum and lies inside the input, the reader always makes progress, and
//! every error reply fits one reply line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringmail_protocols::smtp::{
    parse_command, LineOutcome, LineReader, COMMAND_LINE_MAX, REPLY_LINE_MAX,
};

fuzz_target!(|input: &[u8]| {
    let mut reader = LineReader::new(COMMAND_LINE_MAX);
    let mut rest = input;
    loop {
        match reader.next(rest) {
            LineOutcome::Line { line, consumed } => {
                assert!(line.len() < COMMAND_LINE_MAX);
                assert!(consumed > line.len());
                assert!(consumed <= rest.len());
                if let Err(error) = parse_command(line) {
                    let mut wire = Vec::new();
                    error.reply().write_to(&mut wire, true);
                    assert!(wire.len() <= REPLY_LINE_MAX);
                }
                rest = &rest[consumed..];
            }
            LineOutcome::TooLong { consumed } => {
                assert!(consumed > 0);
                assert!(consumed <= rest.len());
                rest = &rest[consumed..];
            }
            LineOutcome::NeedMore { consumed: 0 } => break,
            LineOutcome::NeedMore { consumed } => {
                assert!(consumed <= rest.len());
                rest = &rest[consumed..];
            }
        }
    }
});
