//! Capture rules and template rules, SpamAssassin 4's named-capture tags.
//!
//! A regex rule with a named group such as `(?<TO_ADDR>.*)` (an upper-case
//! name) is a capture rule: when it hits, the text its group matched
//! becomes the value of tag `TO_ADDR`. A regex rule that writes `%{TO_ADDR}`
//! is a template rule. It runs once the capture rules have run, with each
//! template replaced by the tag's values as literal text
//! (`(?:value1|value2)`), and does not run at all when a tag it names has
//! no value. `\%{NAME}` stays literal text.
//!
//! The regex of a template rule depends on the message, so it is compiled
//! per message ([`TemplateRule::expand`]). To keep that rare, a template
//! that every match must contain ([`TemplateRule::may_match`]) first has
//! to occur in the text the rule reads.
//!
//! NOTE: SpamAssassin's built-in tags (`%{HEADER(From:addr)}` and the
//! like) are not provided, so a rule naming one never runs. Capture
//! rules run in rule order and a later one overwrites a tag an earlier one
//! set, where SpamAssassin orders them by rule type.

use std::collections::BTreeMap;

use crate::rules::{HeaderSpec, Pattern, RuleId};

use super::translate::translate;
use super::{build_fancy, Target};

/// Maximum values of one tag: a capture rule on a field repeated many
/// times must not make the expanded regex large.
pub const TAG_VALUES_MAX: usize = 16;
/// Maximum bytes of one tag value; longer values are cut at a character
/// boundary.
pub const TAG_VALUE_LEN_MAX: usize = 512;
/// Maximum templates in one rule.
pub const TEMPLATES_PER_RULE_MAX: usize = 8;

/// Tag values captured from one message, by tag name.
pub type Tags = BTreeMap<String, Vec<String>>;

/// A rule whose regex has named groups.
pub struct CaptureRule {
    pub id: RuleId,
    pub target: Target,
    pub spec: Option<HeaderSpec>,
    regex: fancy_regex::Regex,
}

impl CaptureRule {
    /// Builds the capture rule of `pattern`, or returns `None` when it has
    /// no upper-case named group or fancy-regex cannot build it.
    pub fn new(
        id: RuleId,
        target: Target,
        spec: Option<HeaderSpec>,
        pattern: &Pattern,
    ) -> Option<CaptureRule> {
        if !has_named_group(&pattern.source) {
            return None;
        }
        let translation = translate(&pattern.source, &pattern.flags).ok()?;
        let regex = build_fancy(&translation).ok()?;
        let named = regex.capture_names().flatten().any(is_tag_name);
        named.then_some(CaptureRule {
            id,
            target,
            spec,
            regex,
        })
    }

    /// Stores in `tags` the values of the named groups of the first match
    /// in `texts`, and returns whether there was a match. A tag the match
    /// gives values replaces any earlier values.
    pub fn capture(&self, texts: &[&[u8]], tags: &mut Tags) -> bool {
        for text in texts {
            let Ok(Some(captures)) = self.regex.captures(*text) else {
                continue;
            };
            let mut found: Tags = BTreeMap::new();
            for (index, name) in self.regex.capture_names().enumerate() {
                let Some(name) = name.filter(|name| is_tag_name(name)) else {
                    continue;
                };
                let Some(group) = captures.get(index) else {
                    continue;
                };
                let value = cut(&String::from_utf8_lossy(group.as_bytes()));
                let values = found.entry(name.to_string()).or_default();
                if !value.is_empty() && !values.contains(&value) && values.len() < TAG_VALUES_MAX {
                    values.push(value);
                }
            }
            for (name, values) in found {
                if !values.is_empty() {
                    tags.insert(name, values);
                }
            }
            return true;
        }
        false
    }
}

/// A rule whose regex names tags as `%{NAME}` templates.
pub struct TemplateRule {
    pub id: RuleId,
    pub target: Target,
    pub spec: Option<HeaderSpec>,
    pub negated: bool,
    pub hits_max: u32,
    pattern: Pattern,
    /// The templates of `pattern.source`, in order.
    templates: Vec<Template>,
    /// The tags named, each once.
    tags: Vec<String>,
    /// Whether every match contains the text of each template.
    mandatory: bool,
}

impl TemplateRule {
    /// Builds the template rule of `pattern`, or returns `None` when the
    /// pattern names no tag. An error means the pattern does not compile
    /// with sample tag values, or names more than
    /// [`TEMPLATES_PER_RULE_MAX`] templates.
    pub fn new(
        id: RuleId,
        target: Target,
        spec: Option<HeaderSpec>,
        negated: bool,
        hits_max: u32,
        pattern: &Pattern,
    ) -> Option<Result<TemplateRule, String>> {
        let found = templates(&pattern.source);
        if found.is_empty() {
            return None;
        }
        if found.len() > TEMPLATES_PER_RULE_MAX {
            return Some(Err(format!(
                "more than {TEMPLATES_PER_RULE_MAX} %{{NAME}} templates"
            )));
        }
        let mut tags: Vec<String> = found.iter().map(|found| found.name.clone()).collect();
        tags.sort();
        tags.dedup();
        let rule = TemplateRule {
            id,
            target,
            spec,
            negated,
            hits_max,
            pattern: pattern.clone(),
            tags,
            mandatory: found
                .iter()
                .all(|found| is_mandatory(&pattern.source, found)),
            templates: found,
        };
        // The expanded pattern must compile: check with a sample value.
        let sample: Tags = rule
            .tags
            .iter()
            .map(|tag| (tag.clone(), vec!["sample".to_string()]))
            .collect();
        let checked = match rule.expand(&sample) {
            Some(expanded) => super::compile_pattern(&expanded).map(|_| rule),
            None => Err("a template has no sample value".to_string()),
        };
        Some(checked)
    }

    /// Returns the pattern with each template replaced by its tag's values,
    /// or `None` when a tag has no value, in which case the rule does not
    /// run.
    pub fn expand(&self, tags: &Tags) -> Option<Pattern> {
        let mut source = String::with_capacity(self.pattern.source.len());
        let mut from = 0;
        for template in &self.templates {
            let values = tags
                .get(&template.name)
                .filter(|values| !values.is_empty())?;
            source.push_str(&self.pattern.source[from..template.start]);
            source.push_str("(?:");
            for (index, value) in values.iter().enumerate() {
                if index > 0 {
                    source.push('|');
                }
                quote(value, &mut source);
            }
            source.push(')');
            from = template.end;
        }
        source.push_str(&self.pattern.source[from..]);
        Some(Pattern {
            source,
            flags: self.pattern.flags.clone(),
        })
    }

    /// Returns whether the rule can match one of `texts` with `tags`: each
    /// tag has a value, and, when every match must contain the templates,
    /// a value of each tag occurs in one of `texts` (ASCII case ignored
    /// under `/i`).
    pub fn may_match(&self, tags: &Tags, texts: &[&[u8]]) -> bool {
        let case_insensitive = self.pattern.flags.contains('i');
        self.tags.iter().all(|tag| {
            let Some(values) = tags.get(tag).filter(|values| !values.is_empty()) else {
                return false;
            };
            !self.mandatory
                || values.iter().any(|value| {
                    texts
                        .iter()
                        .any(|text| contains(text, value.as_bytes(), case_insensitive))
                })
        })
    }
}

/// One `%{NAME}` in a pattern source.
struct Template {
    name: String,
    /// Byte offsets of `%` and just past `}`.
    start: usize,
    end: usize,
}

/// Returns the `%{NAME}` templates of `source` that no backslash escapes,
/// in order. A name is upper-case words joined by `_`, optionally followed
/// by arguments in parentheses, as SpamAssassin accepts them.
fn templates(source: &str) -> Vec<Template> {
    let bytes = source.as_bytes();
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(offset) = source[at..].find("%{") {
        let start = at + offset;
        at = start + 2;
        if start > 0 && bytes[start - 1] == b'\\' {
            continue;
        }
        let Some(close) = source[start + 2..].find('}') else {
            break;
        };
        let name = &source[start + 2..start + 2 + close];
        if is_template_name(name) {
            found.push(Template {
                name: name.to_string(),
                start,
                end: start + 2 + close + 1,
            });
            at = start + 2 + close + 1;
        }
    }
    found
}

/// Returns whether `name` is `[A-Z][A-Z0-9]*(_[A-Z0-9]+)*`, optionally
/// followed by `(...)` without `)` or `}` inside.
fn is_template_name(name: &str) -> bool {
    let (word, arguments) = match name.find('(') {
        Some(open) => (&name[..open], Some(&name[open..])),
        None => (name, None),
    };
    let arguments_ok = arguments.is_none_or(|arguments| {
        arguments.ends_with(')') && !arguments[1..arguments.len() - 1].contains([')', '}'])
    });
    is_tag_name(word) && arguments_ok
}

/// Returns whether `name` is `[A-Z][A-Z0-9]*(_[A-Z0-9]+)*`, the form of a
/// tag name.
fn is_tag_name(name: &str) -> bool {
    name.starts_with(|first: char| first.is_ascii_uppercase())
        && !name.ends_with('_')
        && !name.contains("__")
        && name
            .bytes()
            .all(|byte| byte.is_ascii_uppercase() || byte.is_ascii_digit() || byte == b'_')
}

/// Returns whether `source` has a named group with an upper-case name, as
/// SpamAssassin's `\(\?P?[<'][A-Z]` test finds capture rules.
fn has_named_group(source: &str) -> bool {
    ["(?<", "(?P<", "(?'", "(?P'"].iter().any(|open| {
        source.match_indices(open).any(|(at, _)| {
            source[at + open.len()..].starts_with(|first: char| first.is_ascii_uppercase())
        })
    })
}

/// Returns whether every match of `source` contains the text of `template`:
/// the template sits outside any group, the pattern has no top-level `|`,
/// and no quantifier follows it. Escapes and classes are skipped when
/// counting groups, and a template inside a class is not mandatory.
fn is_mandatory(source: &str, template: &Template) -> bool {
    let bytes = source.as_bytes();
    let mut depth = 0usize;
    let mut in_class = false;
    let mut at = 0;
    let mut depth_at_template = None;
    while at < bytes.len() {
        if at == template.start {
            // Inside a class the template's text is a set of bytes.
            depth_at_template = (!in_class).then_some(depth);
        }
        match bytes[at] {
            b'\\' => at += 1,
            b'[' if !in_class => in_class = true,
            b']' if in_class => in_class = false,
            b'(' if !in_class => depth += 1,
            b')' if !in_class => depth = depth.saturating_sub(1),
            b'|' if !in_class && depth == 0 => return false,
            _ => {}
        }
        at += 1;
    }
    // Whitespace may separate a quantifier under `/x`.
    let next = bytes[template.end..]
        .iter()
        .find(|byte| !byte.is_ascii_whitespace());
    let quantified = matches!(next, Some(b'?' | b'*' | b'{'));
    depth_at_template == Some(0) && !quantified
}

/// Appends `value` to `source` as literal Perl regex text: ASCII letters,
/// digits and `_` as they are, other ASCII bytes as `\xHH`, and other
/// characters as they are.
fn quote(value: &str, source: &mut String) {
    for character in value.chars() {
        if character.is_ascii_alphanumeric() || character == '_' || !character.is_ascii() {
            source.push(character);
        } else {
            source.push_str(&format!("\\x{:02X}", character as u32));
        }
    }
}

/// Cuts `value` to at most [`TAG_VALUE_LEN_MAX`] bytes at a character
/// boundary.
fn cut(value: &str) -> String {
    let mut end = value.len().min(TAG_VALUE_LEN_MAX);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    value[..end].to_string()
}

/// Returns whether `needle` occurs in `haystack`, ignoring ASCII case when
/// asked.
fn contains(haystack: &[u8], needle: &[u8], case_insensitive: bool) -> bool {
    if needle.is_empty() {
        return true;
    }
    if !case_insensitive {
        return memchr::memmem::find(haystack, needle).is_some();
    }
    haystack
        .windows(needle.len())
        .any(|window| window.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(source: &str, flags: &str) -> Pattern {
        Pattern {
            source: source.to_string(),
            flags: flags.to_string(),
        }
    }

    fn template_rule(source: &str, flags: &str) -> TemplateRule {
        TemplateRule::new(
            RuleId(0),
            Target::Uri,
            None,
            false,
            1,
            &pattern(source, flags),
        )
        .expect("pattern has a template")
        .expect("pattern compiles")
    }

    fn tags(entries: &[(&str, &[&str])]) -> Tags {
        entries
            .iter()
            .map(|(name, values)| {
                (
                    name.to_string(),
                    values.iter().map(|value| value.to_string()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn template_names_table() {
        // (source, names found)
        let cases: &[(&str, &[&str])] = &[
            ("a%{TO_ADDR}b", &["TO_ADDR"]),
            (r"a\%{TO_ADDR}b", &[]),
            ("%{A}%{B2_C}", &["A", "B2_C"]),
            ("%{lower}", &[]),
            ("%{A__B}", &[]),
            ("%{HEADER(From:addr)}", &["HEADER(From:addr)"]),
            ("%{UNCLOSED", &[]),
        ];
        for (source, expected) in cases {
            let names: Vec<String> = templates(source)
                .into_iter()
                .map(|found| found.name)
                .collect();
            assert_eq!(names, *expected, "source {source:?}");
        }
    }

    #[test]
    fn expand_quotes_values_as_literals() {
        let rule = template_rule(r"^https?://.{4,64}\#%{GB_TO_ADDR}", "i");
        let expanded = rule
            .expand(&tags(&[("GB_TO_ADDR", &["a.b+c@example.com", "x@y"])]))
            .unwrap();
        let compiled = super::super::compile_pattern(&expanded).unwrap();
        assert!(compiled.is_match(b"http://host.example/#A.B+C@EXAMPLE.COM"));
        assert!(compiled.is_match(b"http://host.example/#x@y"));
        // The dot and the plus are literal, not regex syntax.
        assert!(!compiled.is_match(b"http://host.example/#aXb+c@example.com"));
        assert!(!compiled.is_match(b"http://host.example/#abbc@example.com"));
    }

    #[test]
    fn missing_tag_stops_the_rule() {
        let rule = template_rule("x%{ONE}y%{TWO}", "");
        assert!(rule.expand(&tags(&[("ONE", &["1"])])).is_none());
        assert!(!rule.may_match(&tags(&[("ONE", &["1"])]), &[b"x1y2"]));
        assert!(rule.may_match(&tags(&[("ONE", &["1"]), ("TWO", &["2"])]), &[b"x1y2"]));
    }

    #[test]
    fn mandatory_template_must_occur_in_text() {
        let rule = template_rule("email=%{ADDR}", "i");
        let values = tags(&[("ADDR", &["Bob@Example.com"])]);
        assert!(rule.may_match(&values, &[b"other", b"EMAIL=bob@example.COM"]));
        assert!(!rule.may_match(&values, &[b"email=alice@example.com"]));
    }

    #[test]
    fn optional_template_skips_the_text_check() {
        let cases = [
            "a(?:%{ADDR})?b",
            "a|%{ADDR}",
            "a(%{ADDR}|c)",
            "a%{ADDR}?",
            "a%{ADDR} *",
            "a[%{ADDR}]",
        ];
        for source in cases {
            let rule = template_rule(source, "");
            assert!(!rule.mandatory, "source {source:?}");
            assert!(
                rule.may_match(&tags(&[("ADDR", &["zzz"])]), &[b"ab"]),
                "source {source:?}"
            );
        }
        let rule = template_rule(r"[|(]%{ADDR}\)", "");
        assert!(rule.mandatory);
    }

    #[test]
    fn capture_rule_stores_named_groups() {
        let capture = CaptureRule::new(
            RuleId(0),
            Target::Body,
            None,
            &pattern(r"release of (?<WHAT>\w+)(?: by (?<WHO>\w+))?", ""),
        )
        .unwrap();
        let mut found = Tags::new();
        assert!(capture.capture(
            &[b"nothing here", b"the release of Ximian today"],
            &mut found
        ));
        assert_eq!(found, tags(&[("WHAT", &["Ximian"])]));
        assert!(!capture.capture(&[b"no match"], &mut found));
        assert!(capture.capture(&[b"release of gnome by bob"], &mut found));
        assert_eq!(found, tags(&[("WHAT", &["gnome"]), ("WHO", &["bob"])]));
    }

    #[test]
    fn lower_case_group_is_not_a_capture_rule() {
        let rule = CaptureRule::new(RuleId(0), Target::Body, None, &pattern("(?<name>x)", ""));
        assert!(rule.is_none());
        let rule = CaptureRule::new(RuleId(0), Target::Body, None, &pattern("(x)", ""));
        assert!(rule.is_none());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_source_and_values_never_panic(
            prefix in "[%{}()|?*a-z\\\\\\[\\]]{0,12}",
            name in "[A-Z][A-Z_a-z(]{0,6}",
            suffix in "[%{}()|?*a-z\\\\\\[\\]]{0,12}",
            value in proptest::prelude::any::<String>(),
            text in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
        ) {
            let source = format!("{prefix}%{{{name}}}{suffix}(?<{name}>.)");
            let pattern = pattern(&source, "i");
            for found in templates(&source) {
                let _ = is_mandatory(&source, &found);
            }
            if let Some(Ok(rule)) =
                TemplateRule::new(RuleId(0), Target::Body, None, false, 1, &pattern)
            {
                let values: Tags = rule
                    .tags
                    .iter()
                    .map(|tag| (tag.clone(), vec![value.clone()]))
                    .collect();
                let _ = rule.may_match(&values, &[&text]);
                if let Some(expanded) = rule.expand(&values) {
                    let _ = super::super::compile_pattern(&expanded);
                }
            }
            if let Some(capture) = CaptureRule::new(RuleId(0), Target::Body, None, &pattern) {
                let _ = capture.capture(&[&text], &mut Tags::new());
            }
        }
    }

    #[test]
    fn long_tag_value_is_cut() {
        let capture =
            CaptureRule::new(RuleId(0), Target::Body, None, &pattern("(?<ALL>.*)", "")).unwrap();
        let text = "é".repeat(TAG_VALUE_LEN_MAX);
        let mut found = Tags::new();
        assert!(capture.capture(&[text.as_bytes()], &mut found));
        let value = &found["ALL"][0];
        assert!(value.len() <= TAG_VALUE_LEN_MAX);
        assert!(value.chars().all(|character| character == 'é'));
    }
}
