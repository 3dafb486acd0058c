//! Fuzz target: message preparation for spam rules must not panic on any
//! input, and body lines must stay within their maximum length. Header
//! reads cover the pseudo-headers and the header of each MIME entity.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringmail_spam::prepare::{HeaderForm, Prepared, BODY_LINE_LEN_MAX};

fuzz_target!(|data: &[u8]| {
    let prepared = Prepared::new(data);
    assert!(prepared.body().iter().all(|line| line.len() <= BODY_LINE_LEN_MAX));
    for name in ["ALL", "ToCc", "MESSAGEID", "EnvelopeFrom", "From", "Subject"] {
        for form in [HeaderForm::Decoded, HeaderForm::Raw, HeaderForm::Addr, HeaderForm::Name] {
            let _ = prepared.header(name, form);
        }
    }
    for headers in prepared.part_headers() {
        let _ = headers.values("Content-Type", HeaderForm::Raw);
        let _ = headers.values("Content-Type", HeaderForm::Decoded);
    }
});
