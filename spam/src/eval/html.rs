//! HTML evals after SpamAssassin 4.0.1's Plugin/HTMLEval.pm, reading the
//! `HtmlFacts` of each HTML part. A test hits when any one part meets it.
//!
//! The values `html_range` and `html_eval` can read are those `HtmlFacts`
//! records: `length` (characters of HTML source, as HTML.pm counts the
//! text it parses), `closed_extra_ratio`,
//! `bad_tag_ratio`, `non_element_ratio`, `max_size` and `min_size`. Other
//! names (`obfuscation_ratio`) return `None`.

use super::cached_pattern;
use crate::prepare::html::HtmlFacts;
use crate::prepare::Prepared;

/// Maximum length of a comparison argument such as `"!= 0"`, because it is
/// rule text and real ones are a few characters.
const COMPARISON_LEN_MAX: usize = 32;

/// Returns whether any HTML part has a `tag` start or end tag.
pub fn tag_exists(message: &Prepared<'_>, tag: &str) -> bool {
    message
        .html()
        .iter()
        .any(|facts| facts.inside.contains_key(tag))
}

/// Returns whether, in a part that has `tag`, its balance of start over
/// end tags meets `comparison` (such as `"!= 0"`).
pub fn tag_balance(message: &Prepared<'_>, tag: &str, comparison: &str) -> Option<bool> {
    if tag.is_empty() || !tag.bytes().all(|byte| byte.is_ascii_alphanumeric()) {
        return Some(false);
    }
    let (operator, operand) = parse_comparison(comparison)?;
    Some(message.html().iter().any(|facts| {
        facts
            .inside
            .get(tag)
            .is_some_and(|&balance| operator.holds(balance as f64, operand))
    }))
}

/// Returns whether a part's value `name` is greater than `min` and at most
/// `max`.
pub fn range(message: &Prepared<'_>, name: &str, min: f64, max: f64) -> Option<bool> {
    let mut any = false;
    for facts in message.html() {
        match value(facts, name) {
            Err(()) => return None,
            Ok(Some(found)) if found > min && found <= max => any = true,
            Ok(_) => {}
        }
    }
    Some(any)
}

/// Returns whether a part's value `name` meets `comparison`.
pub fn compare(message: &Prepared<'_>, name: &str, comparison: &str) -> Option<bool> {
    let (operator, operand) = parse_comparison(comparison)?;
    let mut any = false;
    for facts in message.html() {
        match value(facts, name) {
            Err(()) => return None,
            Ok(Some(found)) if operator.holds(found, operand) => any = true,
            Ok(_) => {}
        }
    }
    Some(any)
}

/// Returns whether a part with an image has more than `min` and at most
/// `max` characters of HTML source.
pub fn image_only(message: &Prepared<'_>, min: f64, max: f64) -> bool {
    message.html().iter().any(|facts| {
        let length = facts.source_len as f64;
        facts.inside.contains_key("img") && length > min && length <= max
    })
}

/// Returns whether a part's non-space text characters per pixel of image
/// area is greater than `min` and at most `max`.
pub fn image_ratio(message: &Prepared<'_>, min: f64, max: f64) -> bool {
    message.html().iter().any(|facts| {
        if facts.image_area == 0 {
            return false;
        }
        let ratio = facts.non_space_len as f64 / facts.image_area as f64;
        ratio > min && ratio <= max
    })
}

/// Returns the value `name` of one part: `Ok(None)` when the part has no
/// such value (a ratio over zero tags), `Err(())` for an unknown name.
fn value(facts: &HtmlFacts, name: &str) -> Result<Option<f64>, ()> {
    let tags = facts.tags as f64;
    let per_tag = |count: f64| (facts.tags > 0).then(|| count / tags);
    match name {
        "length" => Ok(Some(facts.source_len as f64)),
        "max_size" => Ok(Some(facts.max_size as f64)),
        "min_size" => Ok(Some(facts.min_size as f64)),
        "closed_extra_ratio" => Ok(per_tag(facts.closed_extra as f64)),
        // HTML.pm sets the ratio only once a piece of text joined a word.
        "obfuscation_ratio" => Ok((facts.obfuscation > 0)
            .then(|| per_tag(facts.obfuscation as f64))
            .flatten()),
        "bad_tag_ratio" => Ok(per_tag((facts.tags - facts.elements) as f64)),
        "non_element_ratio" => {
            let seen = facts.inside.len();
            let elements_seen = facts
                .inside
                .keys()
                .filter(|name| crate::prepare::html::is_element(name))
                .count();
            Ok((seen > 0).then(|| (seen - elements_seen) as f64 / seen as f64))
        }
        _ => Err(()),
    }
}

/// A comparison operator of `html_tag_balance` and `html_eval`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Operator {
    Equal,
    NotEqual,
    Less,
    LessEqual,
    Greater,
    GreaterEqual,
}

impl Operator {
    fn holds(self, left: f64, right: f64) -> bool {
        match self {
            Operator::Equal => left == right,
            Operator::NotEqual => left != right,
            Operator::Less => left < right,
            Operator::LessEqual => left <= right,
            Operator::Greater => left > right,
            Operator::GreaterEqual => left >= right,
        }
    }
}

/// Parses `"<op> <number>"`, such as `"!= 0"` or `"< 512"`. Returns `None`
/// for anything else, where the Perl would run arbitrary code.
fn parse_comparison(text: &str) -> Option<(Operator, f64)> {
    if text.len() > COMPARISON_LEN_MAX {
        return None;
    }
    let text = text.trim();
    let (operator, rest) = [
        ("==", Operator::Equal),
        ("!=", Operator::NotEqual),
        ("<=", Operator::LessEqual),
        (">=", Operator::GreaterEqual),
        ("<", Operator::Less),
        (">", Operator::Greater),
    ]
    .into_iter()
    .find_map(|(symbol, operator)| text.strip_prefix(symbol).map(|rest| (operator, rest)))?;
    Some((operator, rest.trim().parse().ok()?))
}

/// Returns `html_test(name)` for `html` (the message has an HTML part),
/// `font_low_contrast` and `font_invalid_color` (some HTML part had such
/// text). Other flags (font faces, forms, embeds) are not recorded and
/// return `None`.
pub fn test(message: &Prepared<'_>, name: &str) -> Option<bool> {
    let html = message.html();
    match name {
        "html" => Some(!html.is_empty()),
        "font_low_contrast" => Some(html.iter().any(|facts| facts.font_low_contrast)),
        "font_invalid_color" => Some(html.iter().any(|facts| facts.font_invalid_color)),
        _ => None,
    }
}

/// Returns whether a string of list `field` (`comment`, `anchor` or
/// `title`) of any HTML part matches the Perl regex `pattern`. An invalid
/// pattern never matches, as in HTMLEval.pm.
pub fn text_match(message: &Prepared<'_>, field: &str, pattern: &str) -> Option<bool> {
    if !matches!(field, "comment" | "anchor" | "title") {
        return None;
    }
    if message.html().is_empty() {
        return Some(false);
    }
    let Some(compiled) = cached_pattern(pattern) else {
        return Some(false);
    };
    Some(message.html().iter().any(|facts| {
        let strings: &[String] = match field {
            "comment" => &facts.comments,
            "anchor" => &facts.anchor_texts,
            _ => std::slice::from_ref(&facts.title),
        };
        strings
            .iter()
            .any(|text| compiled.is_match(text.as_bytes()))
    }))
}

/// Returns whether an HTML part has an `iframe` with a `src`
/// (`check_iframe_src`).
pub fn iframe_src(message: &Prepared<'_>) -> bool {
    message.html().iter().any(|facts| facts.iframe_src)
}

/// Returns whether a link to a numeric IPv4 `http` or `https` address has
/// anchor text that names an `https:` URI other than such an address
/// (`check_https_ip_mismatch`, URIEval.pm).
pub fn https_ip_mismatch(message: &Prepared<'_>) -> bool {
    message.html().iter().any(|facts| {
        facts
            .anchor_hrefs
            .iter()
            .zip(&facts.anchor_texts)
            .any(|(href, text)| {
                starts_with_ip_url(href, &["http:", "https:"])
                    && !starts_with_ip_url(text, &["https:"])
                    && contains_ignore_case(text, "https:")
            })
    })
}

/// Returns whether `text` starts with one of `schemes`, any slashes, an
/// optional `user@` and four dot-separated digit runs, as URIEval.pm's
/// `^https?:/*(?:[^@/]+@)?\d+\.\d+\.\d+\.\d+` (without case).
fn starts_with_ip_url(text: &str, schemes: &[&str]) -> bool {
    let Some(rest) = schemes.iter().find_map(|scheme| {
        text.get(..scheme.len())
            .filter(|head| head.eq_ignore_ascii_case(scheme))
            .map(|_| &text[scheme.len()..])
    }) else {
        return false;
    };
    let rest = rest.trim_start_matches('/');
    if starts_with_dotted_quad(rest) {
        return true;
    }
    // The user part runs to the first `@` or `/`, and must end at an `@`.
    match rest.find(['@', '/']) {
        Some(at) if at > 0 && rest.as_bytes()[at] == b'@' => {
            starts_with_dotted_quad(&rest[at + 1..])
        }
        _ => false,
    }
}

/// Returns whether `text` starts with `\d+\.\d+\.\d+\.\d+`.
fn starts_with_dotted_quad(text: &str) -> bool {
    let mut rest = text.as_bytes();
    for index in 0..4 {
        let digits = rest.iter().take_while(|byte| byte.is_ascii_digit()).count();
        if digits == 0 {
            return false;
        }
        rest = &rest[digits..];
        if index < 3 {
            let Some(after_dot) = rest.strip_prefix(b".") else {
                return false;
            };
            rest = after_dot;
        }
    }
    true
}

fn contains_ignore_case(text: &str, needle: &str) -> bool {
    text.as_bytes()
        .windows(needle.len())
        .any(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
}

/// Returns whether the title of an HTML part is more than `ratio` times as
/// long as the Subject, in characters (`html_title_subject_ratio`).
/// SpamAssassin measures the Subject with a "\n" after each Subject field,
/// and a message without one never hits.
///
/// NOTE: HTML.pm keeps one string per `title` element and takes the
/// longest. `HtmlFacts::title` joins them, so a part with two titles is
/// measured by their sum.
pub fn title_subject_ratio(message: &Prepared<'_>, ratio: f64) -> bool {
    let subjects = message
        .headers()
        .values("Subject", crate::prepare::HeaderForm::Decoded);
    let subject_len: usize = subjects
        .iter()
        .map(|subject| subject.chars().count() + 1)
        .sum();
    if subject_len == 0 {
        return false;
    }
    message.html().iter().any(|facts| {
        // Perl skips a title that is false: empty or "0".
        if facts.title.is_empty() || facts.title == "0" {
            return false;
        }
        facts.title.chars().count() as f64 / subject_len as f64 > ratio
    })
}

/// Returns whether a URI was cut to `URI_LEN_MAX` bytes, in an HTML
/// attribute or among the message's URIs (`check_uri_truncated`).
pub fn uri_truncated(message: &Prepared<'_>) -> bool {
    use crate::prepare::uri::URI_LEN_MAX;
    // NOTE: `normalize` cuts a longer URI to at most `URI_LEN_MAX` bytes
    // without saying so, so a URI of exactly that length also counts.
    message.html().iter().any(|facts| facts.uri_truncated)
        || message.uris().iter().any(|uri| uri.len() >= URI_LEN_MAX)
}
