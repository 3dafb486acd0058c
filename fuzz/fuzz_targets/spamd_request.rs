//! Fuzz target: the spamd request reader must return a request or an error
//! on any bytes, fed whole or in chunks, and both ways must agree. A
//! request's body must fit in `body_size_max`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringmail_spam::spamd::{Limits, RequestReader};

fuzz_target!(|data: &[u8]| {
    // The first byte picks a chunk size, so that every split point is reached.
    let chunk_len = usize::from(data.first().copied().unwrap_or(1)).max(1);
    let limits = Limits {
        header_line_len_max: 128,
        header_count_max: 8,
        body_size_max: 4096,
    };

    let whole = RequestReader::new(limits).feed(data);

    let mut reader = RequestReader::new(limits);
    let mut chunked = Ok(None);
    for chunk in data.chunks(chunk_len) {
        chunked = reader.feed(chunk);
        if !matches!(chunked, Ok(None)) {
            break;
        }
    }

    match (&whole, &chunked) {
        (Ok(Some(left)), Ok(Some(right))) => {
            assert_eq!(left, right);
            assert!(left.body.len() <= limits.body_size_max);
        }
        (Ok(None), Ok(None)) => {}
        (Err(left), Err(right)) => assert_eq!(left.code, right.code),
        // A chunk may complete the request before later bytes turn it into
        // an error in the whole feed (bytes after PING, or after the body).
        (Err(_), Ok(Some(_))) => {}
        _ => panic!("whole {whole:?} but chunked {chunked:?}"),
    }
});
