//! Fuzz target: any bytes as a message must give ENVELOPE, BODYSTRUCTURE,
//! BODY and part lookups without a panic, with balanced parentheses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringmail_protocols::message;

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    message::write_envelope(&mut out, data);
    message::write_body_structure(&mut out, data, true);
    message::write_body_structure(&mut out, data, false);
    for path in [&[1u32][..], &[1, 1], &[2, 1, 3]] {
        if let Some(part) = message::find_part(data, path) {
            assert!(part.header.end <= part.body.start);
            assert!(part.body.end <= data.len());
        }
    }
});
