//! Fuzz target: the GIF, PNG and JPEG header parsers must not panic on
//! any bytes, and a size they return has no zero side.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringmail_spam::prepare::image::ImageKind;

fuzz_target!(|data: &[u8]| {
    for kind in ImageKind::ALL {
        if let Some(size) = kind.size(data) {
            assert!(size.width > 0);
            assert!(size.height > 0);
        }
    }
});
