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

/// The stock-report field names of BodyEval.pm's `check_stock_info`, as a
/// pattern over a field name reduced to the letters a to z. Only the first
/// alternative must start the name, so `^` is left out of
/// `STOCK_FIELD_REST`, which is tried at later positions.
const STOCK_FIELD_FIRST: &str = r"^(?:trad(?:e|ing)date|company(?:name)?|s\w?(?:t\w?o\w?c\w?k|y\w?m(?:\w?b\w?o\w?l)?)|t(?:arget|icker)|(?:opening|current)p(?:rice)?|p(?:rojected|osition)|expectations|weeks?high|marketperformance|(?:year|week|month|day|price)(?:target|estimates?)|sector|r(?:ecommendation|ating))$";
const STOCK_FIELD_REST: &str = r"^(?:company(?:name)?|s\w?(?:t\w?o\w?c\w?k|y\w?m(?:\w?b\w?o\w?l)?)|t(?:arget|icker)|(?:opening|current)p(?:rice)?|p(?:rojected|osition)|expectations|weeks?high|marketperformance|(?:year|week|month|day|price)(?:target|estimates?)|sector|r(?:ecommendation|ating))$";

/// Minimum and maximum bytes of a field name `check_stock_info` reads
/// before a colon: one byte, then 2 to 29 more.
const STOCK_FIELD_NAME_LEN_MIN: usize = 3;
const STOCK_FIELD_NAME_LEN_MAX: usize = 30;

/// Returns how many different stock-report field names ("Ticker:",
/// "Current Price:", ...) start lines of the first text/plain part, as
/// BodyEval.pm's `_check_stock_info` counts them.
pub fn stock_info_count(message: &Prepared<'_>) -> usize {
    let Some(text) = first_plain_text(message) else {
        return 0;
    };
    let (Some(first), Some(rest)) = (
        super::cached_pattern(STOCK_FIELD_FIRST),
        super::cached_pattern(STOCK_FIELD_REST),
    ) else {
        return 0;
    };

    let mut pieces = Vec::new();
    crate::prepare::text::split_short_paragraphs(std::borrow::Cow::Owned(text), &mut pieces);
    let mut hits = std::collections::BTreeSet::new();
    for piece in &pieces {
        for name in field_names(piece) {
            let letters: Vec<u8> = name
                .iter()
                .map(u8::to_ascii_lowercase)
                .filter(u8::is_ascii_lowercase)
                .collect();
            // The leftmost suffix that is a field name is what the Perl
            // captures, and distinct captures are counted.
            let found = (0..letters.len()).find(|&start| {
                let pattern = if start == 0 { &first } else { &rest };
                pattern.is_match(&letters[start..])
            });
            if let Some(start) = found {
                hits.insert(letters[start..].to_vec());
            }
        }
    }
    hits.len()
}

/// Returns the field names of `text` as the multi-line, global Perl pattern
/// `^\s*([^:\s][^:\n]{2,29})\s*:\s*\S` finds them. A name is 3 to 30
/// bytes without a colon or line feed, after a line start and optional
/// whitespace. A colon follows it, after optional whitespace, and then
/// something other than whitespace.
fn field_names(text: &[u8]) -> Vec<&[u8]> {
    let mut names = Vec::new();
    let mut line_start = 0;
    // A global match resumes after the end of the previous one.
    let mut resume_at = 0;
    loop {
        if line_start >= resume_at {
            if let Some((name, end)) = field_name_at(text, line_start) {
                names.push(name);
                resume_at = end;
            }
        }
        match memchr::memchr(b'\n', &text[line_start..]) {
            Some(at) => line_start += at + 1,
            None => break,
        }
    }
    names
}

/// Matches the field pattern of [`field_names`] at `start`, and returns the
/// name without trailing whitespace and the offset after the match.
fn field_name_at(text: &[u8], start: usize) -> Option<(&[u8], usize)> {
    let skip_spaces = |from: usize| {
        from + text
            .get(from..)
            .unwrap_or_default()
            .iter()
            .take_while(|&&byte| is_perl_space(byte))
            .count()
    };
    let name_start = skip_spaces(start);
    let name_len = text[name_start..]
        .iter()
        .take_while(|&&byte| byte != b':' && byte != b'\n')
        .count();
    let name = &text[name_start..name_start + name_len];
    let spaces_after = name
        .iter()
        .rev()
        .take_while(|&&byte| is_perl_space(byte))
        .count();
    let trimmed = &name[..name_len - spaces_after];

    // The name may end anywhere in its trailing whitespace, so it fits
    // when its text without that whitespace does.
    let fits = name_len >= STOCK_FIELD_NAME_LEN_MIN && trimmed.len() <= STOCK_FIELD_NAME_LEN_MAX;
    let starts_well = name.first().is_some_and(|&byte| !is_perl_space(byte));
    let colon = skip_spaces(name_start + name_len);
    if !fits || !starts_well || text.get(colon) != Some(&b':') {
        return None;
    }
    let value = skip_spaces(colon + 1);
    (value < text.len()).then_some((trimmed, value + 1))
}

fn is_perl_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Returns the decoded bytes of the first part SpamAssassin types
/// text/plain: a text part other than HTML, calendar and x-vcard, or one
/// without a Content-Type, in the order `find_parts` lists parts.
fn first_plain_text(message: &Prepared<'_>) -> Option<Vec<u8>> {
    use ringmail_protocols::message::{parse, Content, Part};
    fn find(part: &Part) -> Option<&Part> {
        match &part.content {
            Content::Leaf => {
                let content_type = &part.content_type;
                let is_plain = content_type.media_type.eq_ignore_ascii_case(b"text")
                    && !content_type.is(b"text", b"html")
                    && !content_type.is(b"text", b"calendar")
                    && !content_type.is(b"text", b"x-vcard");
                is_plain.then_some(part)
            }
            Content::Multipart(children) => children.iter().find_map(find),
            Content::Message(inner) => find(inner),
        }
    }
    let full = message.full();
    let root = parse(full);
    let part = find(&root)?;
    let body = full.get(part.body.clone())?;
    let body = &body[..body.len().min(crate::prepare::PART_DECODED_LEN_MAX)];
    let encoding = &part.encoding;
    Some(if encoding.eq_ignore_ascii_case(b"base64") {
        crate::prepare::decode::base64(body)
    } else if encoding.eq_ignore_ascii_case(b"quoted-printable") {
        crate::prepare::decode::quoted_printable(body).into_owned()
    } else {
        body.to_vec()
    })
}
