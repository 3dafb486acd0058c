//! Superset regexes for fancy-regex rules, and the test of which regexes
//! can run once over joined lines.
//!
//! fancy-regex runs a backtracking VM at every start position of a pattern
//! that begins with a lookaround, which makes such rules the slowest ones.
//! [`superset_pattern`] rewrites a fancy pattern into plain regex syntax
//! that matches every text the fancy pattern matches, so a fast
//! regex-automata search can rule a text out before fancy-regex runs:
//!
//! - a lookaround becomes the empty pattern, because dropping a condition
//!   only widens what matches;
//! - a backreference becomes `(?s:.)*`, because the text it repeats is some
//!   string of bytes;
//! - an atomic group (and so a possessive quantifier) becomes a plain
//!   group, because backtracking into it only adds matches;
//! - a repetition with an upper bound above [`REPEAT_BOUND_MAX`] loses the
//!   bound, because more repetitions only add matches. Counts such as
//!   `[^>]{0,2048}` would otherwise make the regex-automata NFA exceed its
//!   size limit, and the rule would get no superset regex.
//!
//! Any other construct fancy-regex parses but regex-syntax does not have
//! returns `None`, and the rule runs fancy-regex alone, as before.
//!
//! [`is_line_safe`] returns whether a regex that matches one line also matches
//! the lines joined with `\n`. Within a line every position keeps its
//! neighbors, and at a line's edges the joined text has `\n` where the line
//! has its start or end. `\n` is a non-word byte, which is how the text's
//! edges count for `\b`, and multi-line `^` and `$` match next to it. Only
//! the text anchors `\A` and `\z` (and `^` and `$` without `/m`) tell the two
//! apart, so a regex without them is line-safe.

use std::sync::Arc;

use fancy_regex::internal::{FLAG_CASEI, FLAG_DOTNL, FLAG_IGNORE_SPACE, FLAG_MULTI};
use fancy_regex::{Assertion, Expr};
use regex_syntax::hir::{Hir, Look};

use super::translate::Translation;

/// Largest upper bound of a repetition that the superset keeps.
pub const REPEAT_BOUND_MAX: usize = 16;
/// Maximum nesting of the fancy-regex parse tree rewritten, which bounds
/// the recursion of [`relax`].
const DEPTH_MAX: usize = 100;

/// Returns a plain regex pattern that matches every text `translation`
/// matches, with its flags inline, or `None` when the pattern has a
/// construct without a plain superset.
pub fn superset_pattern(translation: &Translation) -> Option<String> {
    // The parse must see the flags fancy-regex's builder sets in
    // `BytesMode::Ascii`, where Unicode is off and `\xHH` above 0x7F is a
    // byte. NOTE: the flag constants sit in fancy-regex's hidden `internal`
    // module, so a fancy-regex upgrade may move them.
    let flags = translation.flags;
    let mut parse_flags = 0;
    for (set, flag) in [
        (flags.case_insensitive, FLAG_CASEI),
        (flags.multi_line, FLAG_MULTI),
        (flags.dot_matches_new_line, FLAG_DOTNL),
        (flags.ignore_whitespace, FLAG_IGNORE_SPACE),
    ] {
        if set {
            parse_flags |= flag;
        }
    }
    let tree = Expr::parse_tree_with_flags(&translation.pattern, parse_flags).ok()?;
    let relaxed = relax(tree.expr, 0)?;
    let mut pattern = String::new();
    relaxed.to_str(&mut pattern, 0);
    Some(pattern)
}

/// Rewrites `expr` as described in the module doc, or returns `None` for a
/// node that `Expr::to_str` cannot print.
fn relax(expr: Expr, depth: usize) -> Option<Expr> {
    if depth >= DEPTH_MAX {
        return None;
    }
    let relaxed = match expr {
        Expr::Empty | Expr::Any { .. } => expr,
        Expr::Literal { val, casei } => relax_literal(&val, casei),
        Expr::LiteralBytes { bytes } => {
            Expr::Concat(bytes.iter().map(|byte| byte_expr(*byte)).collect())
        }
        // A class with non-ASCII text might parse differently in the two
        // engines, so it gets no superset.
        Expr::Delegate { ref inner, .. } if !inner.is_ascii() => return None,
        Expr::Delegate { .. } => expr,
        Expr::Assertion(assertion) => Expr::Assertion(plain_assertion(assertion)?),
        Expr::Concat(children) => Expr::Concat(relax_all(children, depth)?),
        Expr::Alt(children) => Expr::Alt(relax_all(children, depth)?),
        Expr::Group(child) => {
            let child = Arc::try_unwrap(child).unwrap_or_else(|shared| (*shared).clone());
            Expr::Group(Arc::new(relax(child, depth + 1)?))
        }
        Expr::LookAround(..) => Expr::Empty,
        Expr::AtomicGroup(child) => Expr::Concat(vec![relax(*child, depth + 1)?]),
        Expr::Repeat {
            child,
            lo,
            hi,
            greedy,
        } => Expr::Repeat {
            child: Box::new(relax(*child, depth + 1)?),
            lo,
            hi: if hi > REPEAT_BOUND_MAX {
                usize::MAX
            } else {
                hi
            },
            greedy,
        },
        Expr::Backref { .. } | Expr::BackrefWithRelativeRecursionLevel { .. } => any_bytes(),
        _ => return None,
    };
    Some(relaxed)
}

/// Rewrites a literal: ASCII characters stay, with their case flag. A
/// non-ASCII character becomes its UTF-8 bytes, or `(?s:.)*` under
/// case-insensitivity, because fancy-regex may fold its case where
/// regex-syntax without Unicode does not.
fn relax_literal(val: &str, casei: bool) -> Expr {
    if val.is_ascii() {
        return Expr::Literal {
            val: val.to_string(),
            casei,
        };
    }
    let mut parts = Vec::new();
    let mut ascii_run = String::new();
    for character in val.chars() {
        if character.is_ascii() {
            ascii_run.push(character);
            continue;
        }
        if !ascii_run.is_empty() {
            parts.push(Expr::Literal {
                val: std::mem::take(&mut ascii_run),
                casei,
            });
        }
        if casei {
            parts.push(any_bytes());
        } else {
            let mut buffer = [0u8; 4];
            let encoded = character.encode_utf8(&mut buffer);
            parts.extend(encoded.bytes().map(byte_expr));
        }
    }
    if !ascii_run.is_empty() {
        parts.push(Expr::Literal {
            val: ascii_run,
            casei,
        });
    }
    Expr::Concat(parts)
}

/// Returns an expression that matches exactly `byte`.
fn byte_expr(byte: u8) -> Expr {
    Expr::Delegate {
        inner: format!("(?-u:\\x{byte:02X})"),
        casei: false,
    }
}

/// Returns `(?s:.)*`, which matches any byte string.
fn any_bytes() -> Expr {
    Expr::Repeat {
        child: Box::new(Expr::Any {
            newline: true,
            crlf: false,
        }),
        lo: 0,
        hi: usize::MAX,
        greedy: true,
    }
}

fn relax_all(children: Vec<Expr>, depth: usize) -> Option<Vec<Expr>> {
    children
        .into_iter()
        .map(|child| relax(child, depth + 1))
        .collect()
}

/// Returns `assertion` when `Expr::to_str` prints it in regex syntax.
fn plain_assertion(assertion: Assertion) -> Option<Assertion> {
    match assertion {
        Assertion::StartText
        | Assertion::EndText
        | Assertion::StartLine { .. }
        | Assertion::StartLineOniguruma { .. }
        | Assertion::EndLine { .. }
        | Assertion::WordBoundary
        | Assertion::NotWordBoundary
        | Assertion::LeftWordBoundary
        | Assertion::RightWordBoundary
        | Assertion::LeftWordHalfBoundary
        | Assertion::RightWordHalfBoundary => Some(assertion),
        _ => None,
    }
}

/// Returns whether a regex with this HIR that matches one line also
/// matches the lines joined with `\n` (see the module doc).
pub fn is_line_safe(hir: &Hir) -> bool {
    let looks = hir.properties().look_set();
    !looks.contains(Look::Start) && !looks.contains(Look::End)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::translate::translate;

    /// Returns whether the superset regex of `source` matches `text`.
    fn superset_matches(source: &str, flags: &str, text: &[u8]) -> bool {
        let translation = translate(source, flags).unwrap();
        let superset = crate::compile::build_superset(&translation)
            .unwrap_or_else(|| panic!("pattern {source:?} has no superset"));
        let regex = superset
            .regex
            .unwrap_or_else(|| panic!("pattern {source:?} has no superset regex"));
        regex.is_match(text)
    }

    #[test]
    fn superset_match_table() {
        // (pattern, flags, text, expected superset match)
        let cases: &[(&str, &str, &[u8], bool)] = &[
            (r"foo(?!bar)", "", b"foobar", true),
            (r"foo(?!bar)", "", b"fob", false),
            (r"(?<=a)b", "", b"cb", true),
            (r"(a)\1", "", b"ab", true),
            (r"(a)\1", "", b"b", false),
            (r"(?>ab)c", "", b"abc", true),
            (r"(?>ab)c", "", b"abd", false),
            (r"a++b", "", b"aab", true),
            (r"ab(?!c)", "i", b"ABC", true),
            (r"\d+(?=x)", "", b"12", true),
            (r"\d+(?=x)", "", b"x", false),
            ("caf\u{e9}(?!x)", "", "caf\u{e9}x".as_bytes(), true),
            ("caf\u{e9}(?!x)", "", b"cafe", false),
            ("caf\u{e9}(?!x)", "i", "CAF\u{e9}".as_bytes(), true),
            (r"caf\xE9(?!x)", "", b"caf\xe9", true),
            (r"caf\xE9(?!x)", "", "caf\u{e9}".as_bytes(), false),
            (r"(?m)^a(?=b)", "", b"x\nab", true),
            // A large upper bound is dropped, a small one kept.
            (r"<a[^>]{0,2048}>(?!x)", "", b"<a href>", true),
            (r"a{2,4}(?!x)", "", b"aa", true),
            (r"^a{2,4}$(?!x)", "", b"aaaaa", false),
        ];
        for (source, flags, text, expected) in cases {
            assert_eq!(
                superset_matches(source, flags, text),
                *expected,
                "pattern {source:?} flags {flags:?} text {text:?}"
            );
        }
    }

    #[test]
    fn superset_regex_built_for_large_counted_repetitions() {
        // With its counts kept, this rule exceeds the NFA size limit of regex-automata.
        let translation = translate(
            r"<a\s[^>]{0,2048}\bhref=(https?:[^>]{8,29})[^>]{0,2048}>(?:[^<]{0,1024}<(?!\/a)[^>]{1,1024}>){0,99}\s{0,10}(?!\1)https?",
            "i",
        )
        .unwrap();
        let superset = crate::compile::build_superset(&translation).unwrap();
        let regex = superset.regex.unwrap();
        assert!(regex.is_match(b"<a href=http://a.example/x><b>http://b.example"));
        assert!(!regex.is_match(b"<a href=http://a.example/x>click here</a>"));
    }

    #[test]
    fn superset_absent_for_unprintable_constructs() {
        // The translator rejects conditionals, so the pattern is set here.
        let mut translation = translate("a", "").unwrap();
        translation.pattern = r"(a)(?(1)b|c)".to_string();
        assert_eq!(superset_pattern(&translation), None);
    }

    #[test]
    fn line_safety_table() {
        let cases: &[(&str, bool)] = &[
            ("foo", true),
            (r"\bfoo\b", true),
            ("(?m)^foo$", true),
            ("^foo", false),
            (r"foo\z", false),
        ];
        for (pattern, expected) in cases {
            let hir = regex_syntax::ParserBuilder::new()
                .unicode(false)
                .utf8(false)
                .build()
                .parse(pattern)
                .unwrap();
            assert_eq!(is_line_safe(&hir), *expected, "pattern {pattern:?}");
        }
    }
}
