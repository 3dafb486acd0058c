//! The spam classifier.
//!
//! This first version contains the part every later rule kind builds on: a rule
//! set compiled once into one aho-corasick automaton, shared read-only by all
//! workers, and a scorer that runs one pass over a message and sums the
//! scores of the rules that hit. Each rule counts once per message however
//! often its phrase occurs, as SpamAssassin's body rules do.
//!
//! [`rules`] loads SpamAssassin's `.cf` files into a rule model and
//! [`compile`] turns that model into per-target prefilters and regexes, and
//! [`prepare`] gives each message the views rules match against.
//! [`bayes`] learns token counts from labelled mail and returns a spam
//! probability, and [`corpus_split`] fixes the corpus train/test split.
//! [`eval`] implements SpamAssassin's local eval functions.
//! [`score`] scores one message with the compiled rules, meta rules,
//! injected eval results and a Bayes probability, and formats
//! SpamAssassin's `X-Spam-*` header fields.
//! [`spamd`] parses spamc requests and formats spamd responses.
#![forbid(unsafe_code)]

pub mod bayes;
pub mod compile;
pub mod corpus_split;
pub mod eval;
pub mod prepare;
pub mod rules;
pub mod score;
pub mod spamd;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

/// Maximum rules in one set, because the automaton's memory grows with the total phrase
/// length, so an unbounded rule file could exhaust memory at start.
pub const RULES_MAX: usize = 100_000;

/// One phrase rule: a name, the literal it looks for (ASCII case-insensitive)
/// and the score it adds.
#[derive(Debug, Clone, PartialEq)]
pub struct PhraseRule {
    pub name: String,
    pub phrase: String,
    pub score: f64,
}

/// Error from compiling a rule set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleError {
    /// More rules than [`RULES_MAX`].
    TooManyRules { count: usize },
    /// A rule's phrase is empty, which would match every message.
    EmptyPhrase { name: String },
    /// The automaton could not be built.
    Build(String),
}

impl std::fmt::Display for RuleError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RuleError::TooManyRules { count } => {
                write!(formatter, "{count} rules exceed the maximum of {RULES_MAX}")
            }
            RuleError::EmptyPhrase { name } => write!(formatter, "rule {name} has an empty phrase"),
            RuleError::Build(message) => {
                write!(formatter, "cannot build rule automaton: {message}")
            }
        }
    }
}

impl std::error::Error for RuleError {}

/// A compiled rule set.
pub struct RuleSet {
    rules: Vec<PhraseRule>,
    automaton: AhoCorasick,
}

/// The result of scoring one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    /// Sum of the scores of the rules that hit.
    pub total: f64,
    /// Names of the rules that hit, in rule order.
    pub hits: Vec<String>,
}

impl RuleSet {
    /// Compiles `rules` into one automaton.
    pub fn compile(rules: Vec<PhraseRule>) -> Result<RuleSet, RuleError> {
        if rules.len() > RULES_MAX {
            return Err(RuleError::TooManyRules { count: rules.len() });
        }
        if let Some(rule) = rules.iter().find(|rule| rule.phrase.is_empty()) {
            return Err(RuleError::EmptyPhrase {
                name: rule.name.clone(),
            });
        }
        let automaton = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(rules.iter().map(|rule| rule.phrase.as_bytes()))
            .map_err(|error| RuleError::Build(error.to_string()))?;
        Ok(RuleSet { rules, automaton })
    }

    /// Returns the number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Returns whether the set has no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Scores `message` in one pass over its bytes. Overlapping phrases all
    /// count.
    pub fn score(&self, message: &[u8]) -> Score {
        let mut hit = vec![false; self.rules.len()];
        for found in self.automaton.find_overlapping_iter(message) {
            hit[found.pattern().as_usize()] = true;
        }
        let mut total = 0.0;
        let mut hits = Vec::new();
        for (rule, was_hit) in self.rules.iter().zip(hit) {
            if was_hit {
                total += rule.score;
                hits.push(rule.name.clone());
            }
        }
        Score { total, hits }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(name: &str, phrase: &str, score: f64) -> PhraseRule {
        PhraseRule {
            name: name.to_string(),
            phrase: phrase.to_string(),
            score,
        }
    }

    #[test]
    fn each_rule_counts_once_and_case_is_ignored() {
        let set = RuleSet::compile(vec![
            rule("FREE_MONEY", "free money", 2.5),
            rule("CLICK_HERE", "click here", 1.0),
            rule("UNUSED", "nothing like this", 9.0),
        ])
        .unwrap();
        let score = set.score(b"FREE MONEY! free money! Click Here now");
        assert_eq!(score.hits, vec!["FREE_MONEY", "CLICK_HERE"]);
        assert!((score.total - 3.5).abs() < 1e-9);
    }

    #[test]
    fn overlapping_phrases_both_hit() {
        let set = RuleSet::compile(vec![rule("A", "viagra", 1.0), rule("B", "agra", 1.0)]).unwrap();
        assert_eq!(set.score(b"cheap viagra").hits, vec!["A", "B"]);
    }

    #[test]
    fn empty_phrase_is_rejected() {
        let error = RuleSet::compile(vec![rule("EMPTY", "", 1.0)])
            .err()
            .unwrap();
        assert_eq!(
            error,
            RuleError::EmptyPhrase {
                name: "EMPTY".to_string()
            }
        );
    }
}
