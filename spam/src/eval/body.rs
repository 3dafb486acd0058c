//! Body evals after SpamAssassin 4.0.1's MIMEEval.pm (`check_for_uppercase`)
//! and BodyEval.pm (`check_blank_line_ratio`).

use crate::prepare::{HeaderForm, Prepared};

use super::charset_likely_caps;

/// Minimum characters of counted body lines before the upper case share
/// means anything. Below it the share is 0, as in the Perl.
const UPPERCASE_TEXT_LEN_MIN: usize = 200;

/// Returns the percentage of capitals among letters and digits in body
/// lines of two or more words, or 0 for short bodies and for charsets
/// whose text is often all capitals.
pub fn uppercase_percent(message: &Prepared<'_>) -> f64 {
    if body_charsets(message)
        .iter()
        .any(|charset| charset_likely_caps(charset))
    {
        return 0.0;
    }
    let mut len = 0;
    let mut lower = 0;
    let mut upper = 0;
    for line in message.body() {
        if !has_two_words(line) || looks_base64(line) {
            continue;
        }
        len += line.chars().count();
        lower += line
            .bytes()
            .filter(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit())
            .count();
        upper += line.bytes().filter(u8::is_ascii_uppercase).count();
    }
    if len < UPPERCASE_TEXT_LEN_MIN || upper + lower == 0 {
        return 0.0;
    }
    upper as f64 / (upper + lower) as f64 * 100.0
}

/// Returns the top-level Content-Type charset and every part's charset.
fn body_charsets(message: &Prepared<'_>) -> Vec<String> {
    let mut charsets = Vec::new();
    if let Some(content_type) = message.header("Content-Type", HeaderForm::Raw) {
        let lower = content_type.to_ascii_lowercase();
        if let Some(at) = lower.find("charset=") {
            let value = content_type[at + 8..].trim_start_matches(['"', '\'']);
            let end = value
                .find(|c: char| c == '"' || c == '\'' || c.is_whitespace() || c == ';')
                .unwrap_or(value.len());
            charsets.push(value[..end].to_string());
        }
    }
    let root = ringmail_protocols::message::parse(message.full());
    collect_charsets(&root, &mut charsets);
    charsets
}

fn collect_charsets(part: &ringmail_protocols::message::Part, charsets: &mut Vec<String>) {
    use ringmail_protocols::message::Content;
    if let Some(charset) = part.content_type.param(b"charset") {
        charsets.push(String::from_utf8_lossy(charset).into_owned());
    }
    match &part.content {
        Content::Multipart(children) => children
            .iter()
            .for_each(|child| collect_charsets(child, charsets)),
        Content::Message(inner) => collect_charsets(inner, charsets),
        Content::Leaf => {}
    }
}

/// Returns whether `line` has whitespace between two non-space characters.
fn has_two_words(line: &str) -> bool {
    let trimmed = line.trim();
    trimmed.contains(char::is_whitespace)
}

/// Returns whether `line` starts with two runs of 60 to 76 base64
/// characters, each followed by a space: base64 text left in the body.
fn looks_base64(line: &str) -> bool {
    let mut rest = line.as_bytes();
    for _ in 0..2 {
        let run = rest
            .iter()
            .take_while(|&&byte| byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'/' | b'='))
            .count();
        if !(60..=76).contains(&run) || rest.get(run) != Some(&b' ') {
            return false;
        }
        rest = &rest[run + 1..];
    }
    true
}

/// Returns whether the percentage of blank lines in the decoded body is in
/// `(min, max]` (or `[0, max]` when `min` is 0). A body of fewer than
/// `lines_min` lines has a ratio of -1.
pub fn blank_line_ratio_in(message: &Prepared<'_>, min: f64, max: f64, lines_min: f64) -> bool {
    let lines_min = lines_min.max(1.0);
    let mut lines = 0usize;
    let mut blank = 0usize;
    for piece in message.rawbody() {
        for line in piece.split_inclusive(|&byte| byte == b'\n') {
            lines += 1;
            if line.iter().all(u8::is_ascii_whitespace) {
                blank += 1;
            }
        }
    }
    let ratio = if (lines as f64) < lines_min {
        -1.0
    } else {
        100.0 * blank as f64 / lines as f64
    };
    (min == 0.0 || ratio > min) && ratio <= max
}

/// Returns the largest share of spaces in a body line longer than 5
/// characters, as BodyEval.pm's `tvd_vertical_words` computes it: 100 when
/// a line has more spaces than other characters, else spaces per other
/// character in whole percent. Returns -1 without such a line.
pub fn vertical_words_percent(message: &Prepared<'_>) -> i64 {
    let mut largest = -1;
    for line in message.body() {
        let length = line.chars().count();
        if length <= 5 {
            continue;
        }
        let spaces = line.chars().filter(|character| *character == ' ').count();
        let others = length - spaces;
        let percent = if spaces > others || others == 0 {
            100
        } else {
            (100 * spaces / others) as i64
        };
        largest = largest.max(percent);
    }
    largest
}
