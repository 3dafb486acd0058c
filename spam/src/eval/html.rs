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
