//! Fuzz target: the memchr header scan must equal the scalar reference on
//! any bytes, with the default limits and with limits small enough that the
//! input crosses them. Ranges must lie inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringmail_protocols::message::{scan_header, scan_header_scalar, ScanLimits};

fuzz_target!(|data: &[u8]| {
    // The first two bytes pick small limits, so that limit edges are reached.
    let small = ScanLimits {
        header_size_max: data.first().map_or(0, |&byte| usize::from(byte)),
        fields_max: data.get(1).map_or(0, |&byte| usize::from(byte % 16)),
    };
    for limits in [ScanLimits::default(), small] {
        let fast = scan_header(data, limits);
        let scalar = scan_header_scalar(data, limits);
        assert_eq!(fast, scalar);
        for range in [&fast.message_id, &fast.from, &fast.date, &fast.subject]
            .into_iter()
            .flatten()
        {
            assert!(range.start <= range.end);
            assert!(range.end <= data.len());
        }
        if let Some(body_start) = fast.body_start {
            assert!(fast.header_len < body_start);
            assert!(body_start <= data.len());
        }
    }
});
