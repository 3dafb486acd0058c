//! Literal factors for the aho-corasick prefilter.
//!
//! [`factors`] returns a set of literals of which every match of the regex
//! contains at least one, or `None` when no useful set exists (the rule is
//! then an "always candidate"). The set comes from the regex's HIR:
//!
//! - the prefix literals of a node, from `regex_syntax::hir::literal::Extractor`
//!   (a finite prefix set is necessary: each match starts with one of them);
//! - for a concatenation, the best set of any one child, because a match of
//!   the concatenation contains a match of every child;
//! - for an alternation, the union of every branch's set;
//! - for a group or a repetition of at least one, the set of its inside.
//!
//! Literals are lower-cased and the automaton matches ASCII case-insensitively,
//! so the HIR is parsed without `/i`: case only ever widens the prefilter,
//! and the regex confirms. "Best" means the longest shortest literal, then
//! the fewest literals. Sets with a literal shorter than [`FACTOR_LEN_MIN`]
//! or more than [`FACTORS_PER_RULE_MAX`] literals are not worth it.

use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{Hir, HirKind};

/// Minimum bytes in each literal of a set: shorter literals occur in nearly
/// every message, so the rule would be a candidate anyway.
pub const FACTOR_LEN_MIN: usize = 3;
/// Maximum literals per rule, which bounds the automaton's size.
pub const FACTORS_PER_RULE_MAX: usize = 64;
/// Minimum bytes in each start literal ([`start_literals`]): a shorter one
/// begins at too many places to narrow the search.
pub const START_LEN_MIN: usize = 2;
/// Maximum HIR depth walked; deeper parts fall back to their prefix set.
const DEPTH_MAX: usize = 64;

/// Returns a necessary literal set for `hir`, lower-cased and deduplicated.
pub fn factors(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    walk(hir, &prefix_extractor(), 0)
}

/// Returns literals one of which begins every match of `hir`, lower-cased
/// and deduplicated, or `None` when a match may begin some other way or a
/// literal is shorter than [`START_LEN_MIN`]. Zero-width assertions at the
/// start, such as `^` and `\b`, do not end the prefix.
pub fn start_literals(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    prefix_set(hir, &prefix_extractor(), START_LEN_MIN)
}

fn prefix_extractor() -> Extractor {
    let mut extractor = Extractor::new();
    extractor
        .kind(ExtractKind::Prefix)
        .limit_class(16)
        .limit_repeat(8)
        .limit_literal_len(64)
        .limit_total(256);
    extractor
}

fn walk(hir: &Hir, extractor: &Extractor, depth: usize) -> Option<Vec<Vec<u8>>> {
    let prefix = prefix_set(hir, extractor, FACTOR_LEN_MIN);
    if depth >= DEPTH_MAX {
        return prefix;
    }
    match hir.kind() {
        HirKind::Concat(children) => {
            let mut best = prefix;
            for child in children {
                best = better(best, walk(child, extractor, depth + 1));
            }
            best
        }
        HirKind::Alternation(branches) => {
            let mut union = Vec::new();
            for branch in branches {
                let Some(set) = walk(branch, extractor, depth + 1) else {
                    return prefix;
                };
                union.extend(set);
            }
            better(prefix, normalize(union, FACTOR_LEN_MIN))
        }
        HirKind::Capture(capture) => better(prefix, walk(&capture.sub, extractor, depth + 1)),
        HirKind::Repetition(repetition) if repetition.min >= 1 => {
            better(prefix, walk(&repetition.sub, extractor, depth + 1))
        }
        _ => prefix,
    }
}

/// Returns the prefix literals of `hir` when the set is finite and passes
/// [`normalize`] with `len_min`.
fn prefix_set(hir: &Hir, extractor: &Extractor, len_min: usize) -> Option<Vec<Vec<u8>>> {
    let sequence = extractor.extract(hir);
    let literals = sequence.literals()?;
    // An empty finite set means the regex matches nothing; keep the rule a
    // candidate so the regex decides.
    if literals.is_empty() {
        return None;
    }
    normalize(
        literals
            .iter()
            .map(|literal| literal.as_bytes().to_vec())
            .collect(),
        len_min,
    )
}

/// Lower-cases, deduplicates and checks the limits: every literal at least
/// `len_min` bytes, at most [`FACTORS_PER_RULE_MAX`] literals.
fn normalize(mut literals: Vec<Vec<u8>>, len_min: usize) -> Option<Vec<Vec<u8>>> {
    for literal in &mut literals {
        literal.make_ascii_lowercase();
    }
    literals.sort();
    literals.dedup();
    let too_short = literals.iter().any(|literal| literal.len() < len_min);
    if literals.is_empty() || too_short || literals.len() > FACTORS_PER_RULE_MAX {
        return None;
    }
    Some(literals)
}

fn better(left: Option<Vec<Vec<u8>>>, right: Option<Vec<Vec<u8>>>) -> Option<Vec<Vec<u8>>> {
    let score = |set: &Vec<Vec<u8>>| {
        let shortest = set.iter().map(Vec::len).min().unwrap_or(0);
        (shortest.min(16), std::cmp::Reverse(set.len()))
    };
    match (left, right) {
        (Some(left), Some(right)) => Some(if score(&right) > score(&left) {
            right
        } else {
            left
        }),
        (left, right) => left.or(right),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pattern: &str) -> Hir {
        regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(pattern)
            .unwrap()
    }

    fn strings(pattern: &str) -> Option<Vec<String>> {
        factors(&parse(pattern)).map(|set| {
            set.into_iter()
                .map(|literal| String::from_utf8(literal).unwrap())
                .collect()
        })
    }

    #[test]
    fn factors_table() {
        let cases: &[(&str, Option<&[&str]>)] = &[
            ("viagra", Some(&["viagra"])),
            ("Viagra", Some(&["viagra"])),
            (r"\bclick here\b", Some(&["click here"])),
            (r"\d+ dollars", Some(&[" dollars"])),
            (
                r"(?:cheap|free) pills",
                Some(&["cheap pills", "free pills"]),
            ),
            (r"(?:cheapest|freebie).", Some(&["cheapest", "freebie"])),
            (r"(?i:abc)def", Some(&["abcdef"])),
            (r"x+abcd", Some(&["abcd"])),
            (r"(?:abcd)+", Some(&["abcd"])),
            (r"\d+", None),
            (r"a.b", None),
            (r"(?:abc)?", None),
            (r"abc|d", None),
            (r"^$", None),
        ];
        for (pattern, expected) in cases {
            let expected = expected.map(|set| {
                set.iter()
                    .map(|literal| literal.to_string())
                    .collect::<Vec<_>>()
            });
            assert_eq!(strings(pattern), expected, "pattern {pattern:?}");
        }
    }
}
