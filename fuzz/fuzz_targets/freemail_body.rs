//! Fuzz target: FreeMail's body address scan must not panic on any text,
//! and every address it finds must lie inside the text and contain `@`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringmail_spam::score::freemail_body::{find_addresses, strip_line, TopLevelDomains};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines = ["com net org uk example".to_string()];
    let tlds = TopLevelDomains::from_lines(lines.iter());
    let stripped = strip_line(&text, &tlds);
    for found in find_addresses(&stripped, &tlds) {
        assert!(found.start < found.end);
        assert!(found.end <= stripped.len());
        assert!(found.email.contains('@'));
    }
});
