//! Fuzz target for the spool record decoder and the segment scan. On any
//! bytes the target asserts that neither panics, that record lengths stay
//! inside the input, and that every accepted record encodes back to the same
//! bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringmail_engine::spool::record::{self, Decoded, Record};
use ringmail_engine::spool::recovery::scan_segment;

fuzz_target!(|data: &[u8]| {
    if let Decoded::Record { record, len } = record::decode(data) {
        assert!(len <= data.len());
        match record {
            Record::Message { envelope, message } => {
                let encoded = record::encode_message(&envelope, message)
                    .expect("a decoded envelope is within the limits");
                assert_eq!(encoded.as_slice(), &data[..len]);
            }
            Record::Done(mark) => assert_eq!(record::encode_done(mark).as_slice(), &data[..len]),
        }
    }

    let scan = scan_segment(data);
    let mut previous_end = 0;
    for (offset, _, len) in &scan.records {
        let offset = *offset as usize;
        assert!(offset >= previous_end);
        assert!(offset + len <= data.len());
        previous_end = offset + len;
    }
});
