//! The scorer: runs compiled rules over one prepared message and sums the
//! scores of the rules that hit, as SpamAssassin 4.0.1's `PerMsgStatus` and
//! `Plugin::Check` do (read from their Perl sources).
//!
//! [`Scorer`] is built once from a [`RuleModel`] and its [`CompiledRules`] and
//! is `Send + Sync`, so every worker shares one. [`Scorer::score`] returns a
//! [`Verdict`]. Eval functions and the Bayes probability are injected, so the
//! scorer runs without either.
//!
//! The rules run in this order, and each rule's value is its hit count:
//! 1. header rules on each header spec's value ([`input`] reads it). A missing
//!    field reads as the rule's `if_unset` text, or as the empty string, which
//!    is what Perl's undefined value matches as. So a `!~` rule on a missing
//!    field hits.
//! 2. `exists:` rules, body rules on each line of `Prepared::body`, rawbody
//!    rules on each rawbody piece, uri rules on each URI (all three through
//!    `CompiledRules::match_lines`), full rules once, and `mimeheader` rules
//!    on each MIME entity's header.
//! 3. eval rules through the injected function. The scorer evaluates
//!    `check_bayes` itself from the Bayes probability. `None` from the
//!    function counts as a miss and in [`Verdict::evals_unimplemented`].
//!    Evals with `tflags net` never run, and those with `tflags learn` run
//!    only with Bayes.
//! 4. meta rules, in dependency order ([`meta`]).
//!
//! A rule without `tflags multiple` counts at most once per message. A
//! `multiple` rule counts every match over all lines, up to its `maxhits` or
//! [`HITS_MAX`], but its score is added once, as SpamAssassin adds it.
//!
//! Score sets follow SpamAssassin: set = 1 with network tests plus 2 with
//! Bayes. Ringmail runs no network tests, so the set is 0 without Bayes and 2
//! with it. A rule whose score in that set is 0 does not run, so meta rules
//! read it as 0. `__` sub-rules always run and are never scored or listed.

pub mod freemail;
pub mod freemail_body;
pub mod input;
pub mod lists;
pub mod meta;
pub mod registry;
pub mod report;
pub mod setting_evals;
pub mod template;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;

use crate::compile::capture::TemplateRule;
use crate::compile::{CompiledRules, Target, HITS_MAX};
use crate::prepare::{HeaderForm, Prepared};
use crate::rules::{HeaderModifier, HeaderSpec, MetaExpr, RuleId, RuleKind, RuleModel, Test};

pub use report::{format_score, spam_headers, SpamHeader};

/// The signature of an eval function: name, arguments, message. `None`
/// means the function is not implemented.
pub type EvalFn<'f> = dyn Fn(&str, &[String], &Prepared<'_>) -> Option<bool> + 'f;

/// Score set without Bayes and without network tests.
pub const SCORE_SET_PLAIN: usize = 0;
/// Score set with Bayes and without network tests.
pub const SCORE_SET_BAYES: usize = 2;

/// The eval function of SpamAssassin's Bayes rules, which the scorer
/// evaluates itself.
const CHECK_BAYES: &str = "check_bayes";

/// One rule that hit and counted.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub name: String,
    /// The score the rule added, from the verdict's score set.
    pub score: f64,
    /// Times the rule hit: 1 unless the rule has `tflags multiple`.
    pub hits: u32,
}

/// The result of scoring one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Sum of the hit rules' scores, rounded to 3 decimals as SpamAssassin
    /// rounds it before comparing.
    pub score: f64,
    /// The model's `required_score`.
    pub required: f64,
    /// Whether `score >= required`.
    pub is_spam: bool,
    /// Hit rules with a non-zero score, without `__` sub-rules, sorted by name.
    pub hits: Vec<Hit>,
    /// The score set used: [`SCORE_SET_PLAIN`] or [`SCORE_SET_BAYES`].
    pub score_set: usize,
    /// Eval rules that would have run but whose function returned `None`.
    pub evals_unimplemented: u32,
}

impl Verdict {
    /// Returns the names of the hit rules, sorted.
    pub fn rule_names(&self) -> Vec<&str> {
        self.hits.iter().map(|hit| hit.name.as_str()).collect()
    }
}

/// Per-rule facts the scorer reads on every message.
struct RuleFacts {
    /// Scores in the four sets.
    scores: [f64; 4],
    is_sub: bool,
    /// Maximum hit count: 1, or `maxhits` (at most [`HITS_MAX`]) for
    /// `tflags multiple`.
    hits_max: u32,
}

/// A header target and what a missing field reads as for each of its rules.
struct HeaderTarget {
    target: Target,
    spec: crate::rules::HeaderSpec,
    /// Rules with an `if_unset` text, by rule.
    if_unset: HashMap<RuleId, String>,
}

/// A rule set ready to score messages, shared read-only by all workers.
pub struct Scorer {
    model: Arc<RuleModel>,
    compiled: Arc<CompiledRules>,
    facts: Vec<RuleFacts>,
    header_targets: Vec<HeaderTarget>,
    /// Targets of `mimeheader` rules, run on every MIME entity's header.
    mime_header_targets: Vec<(Target, HeaderSpec)>,
    /// Indexes into `compiled.metas()`, dependencies first. Metas in a
    /// cycle are left out, so they never hit.
    meta_order: Vec<usize>,
    /// The rule ids named by each of `compiled.metas()`, by index.
    meta_programs: Vec<meta::Program>,
    /// Per score set, the rules whose result can change the score.
    live: [Vec<bool>; 4],
    /// The FreeMail lists, or `None` when the rule set lists no domain.
    setting_evals: setting_evals::SettingEvals,
    /// Template rule regexes compiled for earlier messages.
    template_cache: template::TemplateCache,
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Scorer>();
};

/// Counts of one message while scoring.
struct Tally<'s> {
    facts: &'s [RuleFacts],
    set: usize,
    /// The rules that can change this set's score ([`live_rules`]).
    live: &'s [bool],
    /// A rule's value for meta rules: its hit count, or a meta's result.
    values: Vec<f64>,
    counts: Vec<u32>,
}

impl Tally<'_> {
    /// Returns whether rule `id` runs in this score set. An id outside the
    /// model, from rules compiled for another model, never runs.
    fn runs(&self, id: RuleId) -> bool {
        self.facts
            .get(id.index())
            .is_some_and(|facts| facts.is_sub || facts.scores[self.set] != 0.0)
    }

    fn add(&mut self, id: RuleId, hits: u32) {
        if hits == 0 || !self.runs(id) {
            return;
        }
        let index = id.index();
        let count = self.counts[index]
            .saturating_add(hits)
            .min(self.facts[index].hits_max);
        self.counts[index] = count;
        self.values[index] = f64::from(count);
    }
}

impl Scorer {
    /// Builds a scorer for `model` and its compiled form. `compiled` must
    /// come from this `model`, because rule ids index into both. Rules of
    /// another model are ignored where their ids fall outside `model`.
    pub fn new(model: Arc<RuleModel>, compiled: Arc<CompiledRules>) -> Scorer {
        let facts: Vec<RuleFacts> = model
            .rules
            .iter()
            .map(|rule| RuleFacts {
                scores: [0, 1, 2, 3].map(|set| rule.score(set)),
                is_sub: rule.name.starts_with("__"),
                hits_max: if rule.tflags.multiple {
                    rule.tflags.maxhits.unwrap_or(HITS_MAX).clamp(1, HITS_MAX)
                } else {
                    1
                },
            })
            .collect();
        let header_targets = header_targets(&model, &compiled);
        let mime_header_targets = compiled
            .targets()
            .filter_map(|(target, spec)| match (target, spec) {
                (Target::Mimeheader(_), Some(spec)) => Some((target.clone(), spec.clone())),
                _ => None,
            })
            .collect();
        let meta_order = meta::dependency_order(&model, compiled.metas());
        let meta_programs = compiled
            .metas()
            .iter()
            .map(|(_, expr)| meta::Program::new(&model, expr))
            .collect();
        let live = [0, 1, 2, 3].map(|set| live_rules(&model, &compiled, &facts, set));
        let setting_evals = setting_evals::SettingEvals::from_model(&model);
        Scorer {
            model,
            compiled,
            facts,
            header_targets,
            mime_header_targets,
            meta_order,
            meta_programs,
            live,
            setting_evals,
            template_cache: template::TemplateCache::default(),
        }
    }

    /// Prepares `raw`, a whole message, for [`Scorer::score`], with the
    /// rule set's `redirector_pattern` rules and top-level domains.
    pub fn prepare<'m>(&self, raw: &'m [u8]) -> Prepared<'m> {
        Prepared::with_uri_rules(raw, self.compiled.uri_rules())
    }

    /// Returns the rule model.
    pub fn model(&self) -> &RuleModel {
        &self.model
    }

    /// Scores `message`. `evals` evaluates eval rules, and `bayes` is the
    /// Bayes spam probability, or `None` when Bayes is off or untrained.
    pub fn score(&self, message: &Prepared<'_>, evals: &EvalFn<'_>, bayes: Option<f64>) -> Verdict {
        let set = if bayes.is_some() {
            SCORE_SET_BAYES
        } else {
            SCORE_SET_PLAIN
        };
        let rule_count = self.model.rules.len();
        let mut tally = Tally {
            facts: &self.facts,
            set,
            live: &self.live[set],
            values: vec![0.0; rule_count],
            counts: vec![0; rule_count],
        };

        self.run_headers(message, &mut tally);
        self.run_texts(message, &mut tally);
        self.run_templates(message, &mut tally);
        let evals_unimplemented = self.run_evals(message, evals, bayes, &mut tally);
        meta::run(
            &self.compiled,
            &self.meta_order,
            &self.meta_programs,
            &mut tally,
        );

        self.verdict(&tally, evals_unimplemented)
    }

    fn run_headers(&self, message: &Prepared<'_>, tally: &mut Tally<'_>) {
        for header in &self.header_targets {
            let value = input::header_value(message.headers(), &header.spec);
            match value {
                Some(value) => {
                    let live = Some(tally.live);
                    let text = value.as_bytes();
                    for found in self.compiled.match_target_live(&header.target, text, live) {
                        tally.add(found.rule, found.hits);
                    }
                }
                None => self.run_missing_header(header, tally),
            }
        }
        for (id, field) in self.compiled.exists_rules() {
            if message.headers().exists(field) {
                tally.add(*id, 1);
            }
        }
    }

    /// Runs a target's rules for a missing field: each rule reads its own
    /// `if_unset` text, and the others read the empty string.
    fn run_missing_header(&self, header: &HeaderTarget, tally: &mut Tally<'_>) {
        let live = Some(tally.live);
        for found in self.compiled.match_target_live(&header.target, b"", live) {
            if !header.if_unset.contains_key(&found.rule) {
                tally.add(found.rule, found.hits);
            }
        }
        for (id, text) in &header.if_unset {
            let hit = self
                .compiled
                .match_target_live(&header.target, text.as_bytes(), live)
                .find(|found| found.rule == *id);
            if let Some(found) = hit {
                tally.add(found.rule, found.hits);
            }
        }
    }

    fn run_texts(&self, message: &Prepared<'_>, tally: &mut Tally<'_>) {
        let live = Some(tally.live);
        let body: Vec<&[u8]> = message.body().iter().map(|line| line.as_bytes()).collect();
        for found in self.compiled.match_lines_live(&Target::Body, &body, live) {
            tally.add(found.rule, found.hits);
        }
        if self.compiled.has_target(&Target::BodyNoSubject) {
            let without_subject: Vec<&[u8]> = message
                .body_without_subject()
                .iter()
                .map(|line| line.as_bytes())
                .collect();
            for found in
                self.compiled
                    .match_lines_live(&Target::BodyNoSubject, &without_subject, live)
            {
                tally.add(found.rule, found.hits);
            }
        }
        let rawbody: Vec<&[u8]> = message.rawbody().iter().map(|piece| &piece[..]).collect();
        for found in self
            .compiled
            .match_lines_live(&Target::Rawbody, &rawbody, live)
        {
            tally.add(found.rule, found.hits);
        }
        let uris: Vec<&[u8]> = message.uris().iter().map(|uri| uri.as_bytes()).collect();
        for found in self.compiled.match_lines_live(&Target::Uri, &uris, live) {
            tally.add(found.rule, found.hits);
        }
        for found in self
            .compiled
            .match_target_live(&Target::Full, message.full(), live)
        {
            tally.add(found.rule, found.hits);
        }
        self.run_mime_headers(message, tally);
    }

    /// Runs the template rules with the tags the capture rules set
    /// ([`template`]).
    fn run_templates(&self, message: &Prepared<'_>, tally: &mut Tally<'_>) {
        let live: Vec<&TemplateRule> = self
            .compiled
            .template_rules()
            .iter()
            .filter(|rule| tally.live.get(rule.id.index()).copied().unwrap_or(false))
            .collect();
        if live.is_empty() {
            return;
        }
        let tags = template::capture_tags(message, self.compiled.capture_rules());
        for rule in live {
            let hits = template::template_hits(message, rule, &tags, &self.template_cache);
            tally.add(rule.id, hits);
        }
    }

    /// Runs `mimeheader` rules on the last occurrence of their field in each
    /// MIME entity, as SpamAssassin 4.0.1's MIMEHeader plugin does.
    ///
    /// NOTE: a missing field reads as "", never as the rule's `if_unset`
    /// text. A `!~` rule hits when any one entity does not match, where
    /// SpamAssassin requires that no entity matches.
    fn run_mime_headers(&self, message: &Prepared<'_>, tally: &mut Tally<'_>) {
        if self.mime_header_targets.is_empty() {
            return;
        }
        let live = Some(tally.live);
        for headers in message.part_headers() {
            for (target, spec) in &self.mime_header_targets {
                let form = if spec.modifiers.contains(&HeaderModifier::Raw) {
                    HeaderForm::Raw
                } else {
                    HeaderForm::Decoded
                };
                let value = headers.values(spec.field.as_str(), form).pop();
                let value = value.unwrap_or_default();
                for found in self
                    .compiled
                    .match_target_live(target, value.as_bytes(), live)
                {
                    tally.add(found.rule, 1);
                }
            }
        }
    }

    /// Runs the eval rules and returns how many had no implementation.
    fn run_evals(
        &self,
        message: &Prepared<'_>,
        evals: &EvalFn<'_>,
        bayes: Option<f64>,
        tally: &mut Tally<'_>,
    ) -> u32 {
        let mut unimplemented = 0u32;
        for rule in self.compiled.evals() {
            if rule.kind == RuleKind::Meta || !tally.runs(rule.id) {
                continue;
            }
            // As in SpamAssassin 4.0.1's Check plugin: `net` evals run only
            // in sets with network tests, which Ringmail never uses, and
            // `learn` evals only in sets with Bayes.
            let tflags = &self.model.rules[rule.id.index()].tflags;
            if tflags.net || (tflags.learn && tally.set & SCORE_SET_BAYES == 0) {
                continue;
            }
            // Without a probability no Bayes band hits, as in SpamAssassin
            // with Bayes off.
            let result = if rule.call.function == CHECK_BAYES {
                Some(bayes.is_some_and(|probability| bayes_in_range(probability, &rule.call.args)))
            } else if rule.kind == RuleKind::Rawbody
                && crate::eval::measures_rule_text(&rule.call.function)
            {
                // `EvalFn` gets no rule kind, so the scorer calls the
                // rawbody form of these evals itself.
                crate::eval::evaluate_rawbody(&rule.call.function, &rule.call.args, message)
            } else if setting_evals::SettingEvals::handles(&rule.call.function) {
                self.setting_evals
                    .evaluate(&rule.call.function, &rule.call.args, message)
            } else {
                evals(&rule.call.function, &rule.call.args, message)
            };
            match result {
                Some(true) => tally.add(rule.id, 1),
                Some(false) => {}
                None => unimplemented = unimplemented.saturating_add(1),
            }
        }

        // A rule set without `check_bayes` rules still gets its band rule,
        // when it defines one by that name.
        if let Some(probability) = bayes {
            if let Some(id) = self.model.id(bayes_rule(probability)) {
                let is_check_bayes = matches!(
                    &self.model.rules[id.index()].definition,
                    Some((_, Test::Eval(call))) if call.function == CHECK_BAYES
                );
                if !is_check_bayes {
                    tally.add(id, 1);
                }
            }
        }
        unimplemented
    }

    fn verdict(&self, tally: &Tally<'_>, evals_unimplemented: u32) -> Verdict {
        let mut total = 0.0;
        let mut hits = Vec::new();
        for (index, count) in tally.counts.iter().enumerate() {
            let facts = &self.facts[index];
            let score = facts.scores[tally.set];
            if *count == 0 || facts.is_sub || score == 0.0 {
                continue;
            }
            total += score;
            hits.push(Hit {
                name: self.model.rules[index].name.clone(),
                score,
                hits: *count,
            });
        }
        hits.sort_by(|left, right| left.name.cmp(&right.name));

        let score = round_score(total);
        let required = self.model.required_score;
        Verdict {
            score,
            required,
            is_spam: score >= required,
            hits,
            score_set: tally.set,
            evals_unimplemented,
        }
    }
}

/// Returns, for score set `set`, the rules whose result can change the
/// score: every rule with a score in that set that is not a sub-rule
/// (`__` name), and every rule that runs and that a live meta reads. The
/// others never reach the verdict, so their regexes need not run, as a
/// `__` rule that no scored meta reads adds nothing.
fn live_rules(
    model: &RuleModel,
    compiled: &CompiledRules,
    facts: &[RuleFacts],
    set: usize,
) -> Vec<bool> {
    let runs = |index: usize| facts[index].is_sub || facts[index].scores[set] != 0.0;
    let mut live = vec![false; facts.len()];
    let mut pending: Vec<usize> = (0..facts.len())
        .filter(|index| !facts[*index].is_sub && facts[*index].scores[set] != 0.0)
        .collect();
    for index in &pending {
        live[*index] = true;
    }
    let metas: HashMap<usize, &MetaExpr> = compiled
        .metas()
        .iter()
        .map(|(id, expr)| (id.index(), expr))
        .collect();
    while let Some(index) = pending.pop() {
        let Some(expr) = metas.get(&index) else {
            continue;
        };
        expr.for_each_rule(&mut |name| {
            let Some(read) = model.id(name).map(RuleId::index) else {
                return;
            };
            if read < live.len() && !live[read] && runs(read) {
                live[read] = true;
                pending.push(read);
            }
        });
    }
    live
}

/// Finds every header target and the `if_unset` texts of its rules.
fn header_targets(model: &RuleModel, compiled: &CompiledRules) -> Vec<HeaderTarget> {
    let mut targets: Vec<HeaderTarget> = compiled
        .targets()
        .filter_map(|(target, spec)| match (target, spec) {
            (Target::Header(_), Some(spec)) => Some(HeaderTarget {
                target: target.clone(),
                spec: spec.clone(),
                if_unset: HashMap::new(),
            }),
            _ => None,
        })
        .collect();
    let by_key: HashMap<String, usize> = targets
        .iter()
        .enumerate()
        .map(|(slot, header)| (header.spec.key(), slot))
        .collect();
    for (id, rule) in model.defined() {
        if let Some((
            RuleKind::Header,
            Test::Header {
                spec,
                if_unset: Some(text),
                ..
            },
        )) = &rule.definition
        {
            if let Some(slot) = by_key.get(&spec.key()) {
                targets[*slot].if_unset.insert(id, text.clone());
            }
        }
    }
    targets
}

/// Returns whether `probability` is in the band of a `check_bayes(min, max)`
/// call: above `min` (or any value when `min` is 0) and at most `max` (or
/// any value when `max` is `undef`), as SpamAssassin 4.0.1's Bayes plugin
/// tests it. Unparsable bounds never match.
fn bayes_in_range(probability: f64, args: &[String]) -> bool {
    let (Some(min), Some(max)) = (args.first(), args.get(1)) else {
        return false;
    };
    let Ok(min) = min.trim().parse::<f64>() else {
        return false;
    };
    let above_min = min == 0.0 || probability > min;
    let below_max = match max.trim() {
        "undef" => true,
        text => text.parse::<f64>().is_ok_and(|max| probability <= max),
    };
    above_min && below_max
}

/// Returns SpamAssassin's Bayes rule for `probability`: BAYES_00 for
/// [0, 0.01), BAYES_05 for [0.01, 0.05), and so on up to BAYES_999 for
/// [0.999, 1]. Values outside [0, 1] count as the nearest end, and NaN
/// counts as BAYES_999.
pub fn bayes_rule(probability: f64) -> &'static str {
    const BANDS: [(f64, &str); 9] = [
        (0.01, "BAYES_00"),
        (0.05, "BAYES_05"),
        (0.2, "BAYES_20"),
        (0.4, "BAYES_40"),
        (0.6, "BAYES_50"),
        (0.8, "BAYES_60"),
        (0.95, "BAYES_80"),
        (0.99, "BAYES_95"),
        (0.999, "BAYES_99"),
    ];
    BANDS
        .iter()
        .find(|(upper, _)| probability < *upper)
        .map_or("BAYES_999", |(_, name)| name)
}

/// Rounds a total to 3 decimals, as SpamAssassin 4.0.1 does with
/// `sprintf "%0.3f"` before it compares with `required_score`.
fn round_score(total: f64) -> f64 {
    let rounded = (total * 1000.0).round() / 1000.0;
    if rounded == 0.0 {
        0.0
    } else {
        rounded
    }
}
