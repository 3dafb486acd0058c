//! Fuzz target: the HTML colour parser must not panic on any attribute
//! value or `style` text, and a parsed colour must compare with itself as
//! low contrast.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringmail_spam::prepare::html_color::{low_contrast, parse, style_colors};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let color = parse(&text);
    assert!(low_contrast(color, color));
    let _ = style_colors(&text);
});
