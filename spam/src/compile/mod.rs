//! The rule compiler: a [`RuleModel`] into [`CompiledRules`], built once at
//! start and shared read-only by every worker (it is `Send + Sync`, checked
//! at compile time below).
//!
//! Regex rules are grouped by [`Target`]: one per header spec (`from:addr`),
//! per `mimeheader` spec, and one each for body (and body without the
//! Subject, for `tflags nosubject`), rawbody, uri and full. For
//! each target, the literal factors of all its rules ([`prefilter`]) go into
//! one aho-corasick automaton; a rule without usable factors is an "always
//! candidate". Matching scans the text once with the automaton, then confirms
//! each candidate with its own regex:
//!
//! 1. the pattern is translated from Perl syntax ([`translate`]);
//! 2. regex-automata's `meta::Regex` compiles it, in byte mode with ASCII
//!    classes, as Perl matches byte strings;
//! 3. if the pattern needs lookaround or backreferences, or step 2 fails,
//!    fancy-regex compiles it (counted as a fallback), behind a superset
//!    regex when [`superset`] can build one: a text the superset misses is
//!    a miss without running fancy-regex, and the superset's literals are
//!    the rule's prefilter. When every match begins with one of a few
//!    literals ([`prefilter::start_literals`]), or at a line start or the
//!    text start, fancy-regex runs anchored at those places (where the
//!    superset also matches) instead of trying every position;
//! 4. if every engine fails, the rule is counted and skipped with its error.
//!
//! [`CompiledRules::match_lines`] matches a list of lines (body, rawbody
//! pieces, URIs) with the per-line result of `match_target`. Rules without
//! prefilter literals first run once over the joined lines, when that is a
//! sound test ([`superset::is_line_safe`]), so most of them skip every line.
//!
//! Eval, `exists:` and meta rules are kept for the scorer, with counts of the
//! eval functions Ringmail implements ([`CompileOptions::implemented_evals`]).
//!
//! NOTE: one meta regex per rule confirms candidates. A multi-pattern meta
//! regex (overlapping search) over the always-candidate body rules was
//! measured slower than one regex per rule, in groups of 4, 8, 16 and 32
//! patterns. A likely cause: the lazy DFA's states multiply with the
//! patterns, so its cache keeps clearing. One union regex per group of 4 to
//! 16 of those rules, tested with `is_match` to rule the whole group out,
//! was no faster either. So no multi-pattern regex is built.

pub mod capture;
pub mod prefilter;
pub mod superset;
pub mod translate;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex_automata::meta;
use regex_automata::util::syntax;
use regex_syntax::hir::Look;

use crate::prepare::{Redirectors, Tlds, UriRules};
use crate::rules::{EvalCall, HeaderSpec, MetaExpr, Pattern, RuleId, RuleKind, RuleModel, Test};
use capture::{CaptureRule, TemplateRule};
use translate::{translate, Translation};

/// Maximum hits counted for a `tflags multiple` rule without `maxhits`,
/// which bounds the time spent counting one rule on one text.
pub const HITS_MAX: u32 = 1_000;
/// Maximum backtracking steps of one fancy-regex match; past it the match
/// counts as a miss, so one pathological rule cannot stall a worker.
pub const BACKTRACK_LIMIT: usize = 100_000;
/// Maximum bytes of one rule's compiled NFA in regex-automata; larger
/// rules go to fancy-regex or fail.
pub const NFA_SIZE_MAX: usize = 8 * 1024 * 1024;
/// Maximum places one fancy-regex rule runs anchored on one text. Each run
/// has its own [`BACKTRACK_LIMIT`], so this bounds the work per text. Past
/// it, the rule runs once over the whole text.
pub const START_POSITIONS_MAX: usize = 128;
/// Maximum bytes of the lazy DFA cache of one rule regex in one thread.
/// The cache grows only as far as a regex needs. Large alternations of
/// form-field words (the `__FILL_THIS_FORM_` rules) filled regex-automata's
/// default of 2 MiB, which clears the cache and rebuilds states. On the test
/// split, `spam check` scored about 8 % more messages per second with 8 MiB
/// than with 2 MiB, and its peak memory rose from about 310 to 340 MB.
pub const DFA_CACHE_MAX: usize = 8 * 1024 * 1024;
/// Maximum nesting of groups and repetitions in one pattern.
pub const NEST_MAX: u32 = 100;
/// Maximum threads that compile rules at start.
pub const COMPILE_THREADS_MAX: usize = 8;

/// The text a regex rule runs on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// A header value, keyed by [`HeaderSpec::key`].
    Header(String),
    /// A MIME part header value, keyed by [`HeaderSpec::key`].
    Mimeheader(String),
    Body,
    /// The body without its Subject lines, for `tflags nosubject` rules.
    BodyNoSubject,
    Rawbody,
    Uri,
    Full,
}

/// The engine that confirms a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// regex-automata's meta regex.
    Automata,
    /// fancy-regex, for Perl-only constructs.
    Fancy,
}

/// A rule that hit a text, with its hit count (1 unless `tflags multiple`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleMatch {
    pub rule: RuleId,
    pub hits: u32,
}

/// Compiler settings.
#[derive(Debug, Clone, Default)]
pub struct CompileOptions {
    /// Eval functions that count as implemented in the statistics.
    pub implemented_evals: BTreeSet<String>,
}

/// Counts for one rule kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct KindStats {
    /// Defined rules of this kind.
    pub total: usize,
    /// Regex rules compiled with regex-automata.
    pub compiled: usize,
    /// Regex rules compiled with fancy-regex.
    pub fallback: usize,
    /// Regex rules no engine compiled.
    pub unsupported: usize,
    /// Compiled regex rules with a literal prefilter.
    pub prefiltered: usize,
    /// Compiled regex rules without one, run on every text.
    pub always_candidate: usize,
    /// `exists:` header rules.
    pub exists: usize,
    pub eval_implemented: usize,
    pub eval_missing: usize,
    pub meta: usize,
}

/// A regex rule that no engine compiled.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuleFailure {
    pub rule: String,
    pub error: String,
}

/// Statistics of one compile.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CompileStats {
    pub kinds: BTreeMap<RuleKind, KindStats>,
    /// Names with a score, description or flags but no definition.
    pub undefined: usize,
    pub failures: Vec<RuleFailure>,
    /// Eval functions that are not implemented, with how many rules call each.
    pub missing_evals: BTreeMap<String, usize>,
    /// `redirector_pattern` rules compiled; those that failed are in
    /// `failures`.
    pub redirector_patterns: usize,
    pub compile_ms: u64,
}

impl CompileStats {
    /// Returns the sum over all kinds.
    pub fn total(&self) -> KindStats {
        let mut sum = KindStats::default();
        for stats in self.kinds.values() {
            sum.total += stats.total;
            sum.compiled += stats.compiled;
            sum.fallback += stats.fallback;
            sum.unsupported += stats.unsupported;
            sum.prefiltered += stats.prefiltered;
            sum.always_candidate += stats.always_candidate;
            sum.exists += stats.exists;
            sum.eval_implemented += stats.eval_implemented;
            sum.eval_missing += stats.eval_missing;
            sum.meta += stats.meta;
        }
        sum
    }
}

enum Matcher {
    Automata(meta::Regex),
    Fancy(FancyMatcher),
}

/// A fancy-regex rule and the regex-automata parts that narrow its search.
struct FancyMatcher {
    regex: fancy_regex::Regex,
    /// The superset regex, when the rule has one ([`superset`]): a text the
    /// superset does not match is a miss.
    superset: Option<meta::Regex>,
    /// The places where every match starts, when the pattern fixes them.
    /// fancy-regex then runs anchored at those places instead of trying
    /// every position.
    starts: Option<StartPlaces>,
}

/// The places where every match of a fancy-regex rule starts.
enum StartPlaces {
    /// Each place one of these literals occurs ([`prefilter::start_literals`]).
    Literals(AhoCorasick),
    /// At the start of the text or of a line: the pattern begins with a
    /// multi-line `^`.
    Lines,
    /// At the start of the text only: the pattern begins with `\A`.
    Text,
}

impl StartPlaces {
    /// Returns the start places of a pattern with this HIR (the pattern
    /// itself or its superset), or `None` when a match may start anywhere.
    fn of(hir: &regex_syntax::hir::Hir) -> Option<StartPlaces> {
        let prefix = hir.properties().look_set_prefix();
        if prefix.contains(Look::Start) {
            return Some(StartPlaces::Text);
        }
        if let Some(literals) = prefilter::start_literals(hir) {
            let automaton = AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .build(&literals)
                .ok()?;
            return Some(StartPlaces::Literals(automaton));
        }
        prefix.contains(Look::StartLF).then_some(StartPlaces::Lines)
    }
}

impl Matcher {
    /// Returns the regex-automata regex that every match of this matcher
    /// also matches: the regex itself, or a fancy rule's superset.
    fn plain(&self) -> Option<&meta::Regex> {
        match self {
            Matcher::Automata(regex) => Some(regex),
            Matcher::Fancy(fancy) => fancy.superset.as_ref(),
        }
    }
}

/// Whether a confirm may narrow a fancy rule's search with its superset
/// regex and start places (`On`), or runs the plain search (`Off`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gate {
    On,
    Off,
}

struct CompiledRule {
    id: RuleId,
    matcher: Matcher,
    negated: bool,
    hits_max: u32,
    /// Whether [`Matcher::plain`] is line-safe ([`superset::is_line_safe`]).
    line_safe: bool,
}

/// The rules of one target and their prefilter.
struct TargetRules {
    spec: Option<HeaderSpec>,
    rules: Vec<CompiledRule>,
    prefilter: Option<AhoCorasick>,
    /// Slot in `rules` of each automaton pattern.
    pattern_slots: Vec<u32>,
    /// Slots without a prefilter.
    always: Vec<u32>,
}

/// An eval rule, for the scorer.
#[derive(Debug, Clone)]
pub struct EvalRule {
    pub id: RuleId,
    pub kind: RuleKind,
    pub call: EvalCall,
    pub implemented: bool,
}

/// All rules of a model, compiled.
pub struct CompiledRules {
    targets: BTreeMap<Target, TargetRules>,
    names: Vec<String>,
    evals: Vec<EvalRule>,
    exists: Vec<(RuleId, String)>,
    metas: Vec<(RuleId, MetaExpr)>,
    /// fancy-regex matches that hit [`BACKTRACK_LIMIT`] and counted as misses.
    backtrack_limit_hits: AtomicU64,
    /// The `redirector_pattern` rules and the known top-level domains,
    /// for message preparation.
    uri_rules: UriRules,
    /// Rules with named groups, whose hits set tags ([`capture`]).
    captures: Vec<CaptureRule>,
    /// Rules with `%{NAME}` templates, run per message with the tags.
    templates: Vec<TemplateRule>,
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<CompiledRules>();
};

/// A target's rules while compiling.
#[derive(Default)]
struct TargetBuilder {
    spec: Option<HeaderSpec>,
    rules: Vec<CompiledRule>,
    literals: Vec<(Vec<u8>, u32)>,
    always: Vec<u32>,
}

impl CompiledRules {
    /// Compiles `model` with no eval function counted as implemented.
    pub fn compile(model: &RuleModel) -> (CompiledRules, CompileStats) {
        CompiledRules::compile_with(model, &CompileOptions::default())
    }

    /// Compiles `model`.
    pub fn compile_with(
        model: &RuleModel,
        options: &CompileOptions,
    ) -> (CompiledRules, CompileStats) {
        let started = Instant::now();
        let mut stats = CompileStats::default();
        let mut builders: BTreeMap<Target, TargetBuilder> = BTreeMap::new();
        let mut evals = Vec::new();
        let mut exists = Vec::new();
        let mut metas = Vec::new();
        let mut captures = Vec::new();
        let mut templates = Vec::new();
        stats.undefined = model.rules.len() - model.defined().count();

        // Regex rules are compiled in parallel ([`compile_patterns`]), then
        // added in rule order, so the result does not depend on the threads.
        let mut jobs: Vec<RegexJob<'_>> = Vec::new();
        for (id, rule) in model.defined() {
            let Some((kind, test)) = &rule.definition else {
                continue;
            };
            let kind_stats = stats.kinds.entry(*kind).or_default();
            kind_stats.total += 1;

            let (target, pattern, negated, spec) = match test {
                Test::Regex(pattern) => {
                    let target = match regex_target(*kind) {
                        Target::Body if rule.tflags.nosubject => Target::BodyNoSubject,
                        target => target,
                    };
                    (target, pattern, false, None)
                }
                Test::Header {
                    spec,
                    pattern,
                    negated,
                    ..
                } => {
                    let target = match kind {
                        RuleKind::Mimeheader => Target::Mimeheader(spec.key()),
                        _ => Target::Header(spec.key()),
                    };
                    (target, pattern, *negated, Some(spec.clone()))
                }
                Test::Exists(field) => {
                    kind_stats.exists += 1;
                    exists.push((id, field.clone()));
                    continue;
                }
                Test::Eval(call) => {
                    let implemented = options.implemented_evals.contains(&call.function);
                    if implemented {
                        kind_stats.eval_implemented += 1;
                    } else {
                        kind_stats.eval_missing += 1;
                        *stats
                            .missing_evals
                            .entry(call.function.clone())
                            .or_default() += 1;
                    }
                    evals.push(EvalRule {
                        id,
                        kind: *kind,
                        call: call.clone(),
                        implemented,
                    });
                    continue;
                }
                Test::Meta(expr) => {
                    kind_stats.meta += 1;
                    metas.push((id, expr.clone()));
                    continue;
                }
            };
            let template = TemplateRule::new(
                id,
                target.clone(),
                spec.clone(),
                negated,
                hits_max(rule),
                pattern,
            );
            match template {
                Some(Ok(template)) => {
                    kind_stats.compiled += 1;
                    templates.push(template);
                    continue;
                }
                Some(Err(error)) => {
                    kind_stats.unsupported += 1;
                    stats.failures.push(RuleFailure {
                        rule: rule.name.clone(),
                        error,
                    });
                    continue;
                }
                None => {}
            }
            if let Some(capture) = CaptureRule::new(id, target.clone(), spec.clone(), pattern) {
                captures.push(capture);
            }
            jobs.push(RegexJob {
                id,
                kind: *kind,
                target,
                pattern,
                negated,
                spec,
            });
        }

        let results = compile_patterns(&jobs);
        for (job, result) in jobs.into_iter().zip(results) {
            let rule = &model.rules[job.id.index()];
            let kind_stats = stats.kinds.entry(job.kind).or_default();
            let compiled = match result {
                Ok(compiled) => compiled,
                Err(error) => {
                    kind_stats.unsupported += 1;
                    stats.failures.push(RuleFailure {
                        rule: rule.name.clone(),
                        error,
                    });
                    continue;
                }
            };
            match compiled.engine {
                Engine::Automata => kind_stats.compiled += 1,
                Engine::Fancy => kind_stats.fallback += 1,
            }

            let builder = builders.entry(job.target).or_default();
            builder.spec = job.spec;
            let slot = builder.rules.len() as u32;
            match compiled.factors {
                Some(factors) => {
                    kind_stats.prefiltered += 1;
                    builder
                        .literals
                        .extend(factors.into_iter().map(|literal| (literal, slot)));
                }
                None => {
                    kind_stats.always_candidate += 1;
                    builder.always.push(slot);
                }
            }
            let hits_max = hits_max(rule);
            builder.rules.push(CompiledRule {
                id: job.id,
                matcher: compiled.matcher,
                negated: job.negated,
                hits_max,
                line_safe: compiled.line_safe,
            });
        }

        let targets = builders
            .into_iter()
            .map(|(target, builder)| (target, build_target(builder)))
            .collect();
        let redirectors = compile_redirectors(model, &mut stats);
        stats.compile_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let compiled = CompiledRules {
            targets,
            uri_rules: UriRules {
                redirectors,
                tlds: Tlds::from_lines(
                    model
                        .settings
                        .get("util_rb_tld")
                        .into_iter()
                        .flatten()
                        .map(String::as_str),
                ),
            },
            captures,
            templates,
            names: model.rules.iter().map(|rule| rule.name.clone()).collect(),
            evals,
            exists,
            metas,
            backtrack_limit_hits: AtomicU64::new(0),
        };
        (compiled, stats)
    }

    /// Returns the rules whose named groups set tags.
    pub fn capture_rules(&self) -> &[CaptureRule] {
        &self.captures
    }

    /// Returns the rules with `%{NAME}` templates.
    pub fn template_rules(&self) -> &[TemplateRule] {
        &self.templates
    }

    /// Returns the compiled `redirector_pattern` rules and the known
    /// top-level domains.
    pub fn uri_rules(&self) -> &UriRules {
        &self.uri_rules
    }

    /// Returns the rules of `target` that hit `text`, each once, in rule
    /// order. A `!~` header rule hits when its regex does not match. A
    /// `tflags multiple` rule reports up to its `maxhits` (or [`HITS_MAX`])
    /// non-overlapping matches.
    pub fn match_target(
        &self,
        target: &Target,
        text: &[u8],
    ) -> impl Iterator<Item = RuleMatch> + '_ {
        self.match_target_live(target, text, None)
    }

    /// Returns what [`CompiledRules::match_target`] returns, restricted to
    /// the rules marked in `live` (indexed by rule id; `None` means every
    /// rule). The other rules do not run at all.
    pub fn match_target_live(
        &self,
        target: &Target,
        text: &[u8],
        live: Option<&[bool]>,
    ) -> impl Iterator<Item = RuleMatch> + '_ {
        let matches = match self.targets.get(target) {
            Some(rules) => self.run_target(rules, text, live),
            None => Vec::new(),
        };
        matches.into_iter()
    }

    /// Returns whether `target` has compiled rules.
    pub fn has_target(&self, target: &Target) -> bool {
        self.targets.contains_key(target)
    }

    /// Returns every target with compiled rules, with its header spec for
    /// header and mimeheader targets.
    pub fn targets(&self) -> impl Iterator<Item = (&Target, Option<&HeaderSpec>)> {
        self.targets
            .iter()
            .map(|(target, rules)| (target, rules.spec.as_ref()))
    }

    /// Returns the name of rule `id`.
    pub fn rule_name(&self, id: RuleId) -> &str {
        self.names.get(id.index()).map_or("", String::as_str)
    }

    /// Returns the eval rules.
    pub fn evals(&self) -> &[EvalRule] {
        &self.evals
    }

    /// Returns the `exists:` rules with their field names.
    pub fn exists_rules(&self) -> &[(RuleId, String)] {
        &self.exists
    }

    /// Returns the meta rules.
    pub fn metas(&self) -> &[(RuleId, MetaExpr)] {
        &self.metas
    }

    /// Returns how many fancy-regex matches hit [`BACKTRACK_LIMIT`] so far.
    pub fn backtrack_limit_hits(&self) -> u64 {
        self.backtrack_limit_hits.load(Ordering::Relaxed)
    }

    /// Returns the rules of `target` whose regex matches `text`, running
    /// every rule's regex without the prefilter and without superset regexes. Tests compare this with
    /// [`CompiledRules::match_target`].
    pub fn match_target_unfiltered(&self, target: &Target, text: &[u8]) -> Vec<RuleMatch> {
        let Some(rules) = self.targets.get(target) else {
            return Vec::new();
        };
        rules
            .rules
            .iter()
            .filter_map(|rule| self.confirm(rule, text, Gate::Off))
            .collect()
    }

    /// Returns the rules of `target` that hit any of `lines`, as if
    /// [`CompiledRules::match_target`] ran on each line and the hits were
    /// summed per rule, up to the rule's `maxhits` (or [`HITS_MAX`]).
    ///
    /// Rules without a prefilter first run once over the lines joined with
    /// `\n` when their regex-automata form is line-safe
    /// ([`superset::is_line_safe`]). A rule that misses there misses every
    /// line, and a rule that hits runs only from the line where the joined
    /// match starts, because no line before it can match.
    pub fn match_lines(&self, target: &Target, lines: &[&[u8]]) -> Vec<RuleMatch> {
        self.match_lines_live(target, lines, None)
    }

    /// Returns what [`CompiledRules::match_lines`] returns, restricted to
    /// the rules marked in `live` as in [`CompiledRules::match_target_live`].
    pub fn match_lines_live(
        &self,
        target: &Target,
        lines: &[&[u8]],
        live: Option<&[bool]>,
    ) -> Vec<RuleMatch> {
        let Some(rules) = self.targets.get(target) else {
            return Vec::new();
        };
        let always = self.gate_always(rules, lines, live);

        let mut counts = vec![0u32; rules.rules.len()];
        // Rules at their maximum hits, which need not run on later lines.
        let mut done = vec![false; rules.rules.len()];
        let mut candidate = vec![false; rules.rules.len()];
        let mut line_hits = Vec::new();
        for (index, line) in lines.iter().enumerate() {
            let active = always
                .iter()
                .filter(|(slot, first_line)| *first_line <= index && !done[*slot as usize])
                .map(|(slot, _)| *slot as usize);
            self.run_text(
                rules,
                line,
                active,
                live,
                &done,
                &mut candidate,
                |slot, hits| {
                    line_hits.push((slot, hits));
                },
            );
            for (slot, hits) in line_hits.drain(..) {
                let hits_max = rules.rules[slot].hits_max.max(1);
                counts[slot] = counts[slot].saturating_add(hits).min(hits_max);
                done[slot] = counts[slot] == hits_max;
            }
        }

        rules
            .rules
            .iter()
            .zip(counts)
            .filter(|(_, hits)| *hits > 0)
            .map(|(rule, hits)| RuleMatch {
                rule: rule.id,
                hits,
            })
            .collect()
    }

    /// Returns each always-candidate slot of `rules` that can hit `lines`,
    /// with the index of the first line it has to run on.
    fn gate_always(
        &self,
        rules: &TargetRules,
        lines: &[&[u8]],
        live: Option<&[bool]>,
    ) -> Vec<(u32, usize)> {
        let live_always: Vec<u32> = rules
            .always
            .iter()
            .copied()
            .filter(|slot| is_live(live, rules.rules[*slot as usize].id))
            .collect();
        let gated = live_always.iter().any(|slot| {
            let rule = &rules.rules[*slot as usize];
            rule.line_safe && !rule.negated
        });
        if !gated || lines.len() < 2 {
            return live_always.iter().map(|slot| (*slot, 0)).collect();
        }

        let joined = lines.join(&b'\n');
        // Offset in `joined` just past each line's last byte.
        let mut line_ends = Vec::with_capacity(lines.len());
        let mut offset = 0usize;
        for line in lines {
            offset += line.len();
            line_ends.push(offset);
            offset += 1;
        }

        let mut always = Vec::with_capacity(live_always.len());
        for slot in &live_always {
            let rule = &rules.rules[*slot as usize];
            let gate = rule
                .matcher
                .plain()
                .filter(|_| rule.line_safe && !rule.negated);
            match gate {
                None => always.push((*slot, 0)),
                Some(regex) => {
                    if let Some(found) = regex.find(joined.as_slice()) {
                        let first_line = line_ends.partition_point(|end| *end < found.start());
                        always.push((*slot, first_line));
                    }
                }
            }
        }
        always
    }

    fn run_target(
        &self,
        rules: &TargetRules,
        text: &[u8],
        live: Option<&[bool]>,
    ) -> Vec<RuleMatch> {
        let mut candidate = vec![false; rules.rules.len()];
        let mut matches = Vec::new();
        let always = rules.always.iter().map(|slot| *slot as usize);
        self.run_text(
            rules,
            text,
            always,
            live,
            &[],
            &mut candidate,
            |slot, hits| {
                matches.push(RuleMatch {
                    rule: rules.rules[slot].id,
                    hits,
                });
            },
        );
        matches
    }

    /// Runs the live rules of one target on `text`: the `always` slots and
    /// the prefilter's candidates, calling `hit` with each hit slot and its
    /// count in slot order. Slots marked in `done` (indexed by slot, and
    /// shorter than the rules when none are marked) do not run. `candidate`
    /// is scratch space, all `false` on entry and on return.
    #[allow(clippy::too_many_arguments)]
    fn run_text(
        &self,
        rules: &TargetRules,
        text: &[u8],
        always: impl Iterator<Item = usize>,
        live: Option<&[bool]>,
        done: &[bool],
        candidate: &mut [bool],
        mut hit: impl FnMut(usize, u32),
    ) {
        for slot in always {
            candidate[slot] = true;
        }
        if let Some(automaton) = &rules.prefilter {
            for found in automaton.find_overlapping_iter(text) {
                candidate[rules.pattern_slots[found.pattern().as_usize()] as usize] = true;
            }
        }

        for (slot, rule) in rules.rules.iter().enumerate() {
            if !is_live(live, rule.id) || done.get(slot).copied().unwrap_or(false) {
                candidate[slot] = false;
                continue;
            }
            if candidate[slot] {
                candidate[slot] = false;
                if let Some(found) = self.confirm(rule, text, Gate::On) {
                    hit(slot, found.hits);
                }
            } else if rule.negated {
                // Without a factor in the text the regex cannot match, so a
                // `!~` rule hits.
                hit(slot, 1);
            }
        }
    }

    /// Runs one rule's regex on `text`.
    fn confirm(&self, rule: &CompiledRule, text: &[u8], gate: Gate) -> Option<RuleMatch> {
        let hits = if rule.negated {
            u32::from(!self.is_match(&rule.matcher, text, gate))
        } else if rule.hits_max > 1 {
            self.count(&rule.matcher, text, rule.hits_max, gate)
        } else {
            u32::from(self.is_match(&rule.matcher, text, gate))
        };
        (hits > 0).then_some(RuleMatch {
            rule: rule.id,
            hits,
        })
    }

    fn is_match(&self, matcher: &Matcher, text: &[u8], gate: Gate) -> bool {
        match matcher {
            Matcher::Automata(regex) => regex.is_match(text),
            Matcher::Fancy(fancy) => match fancy.is_match(text, gate) {
                Ok(found) => found,
                Err(_) => {
                    self.backtrack_limit_hits.fetch_add(1, Ordering::Relaxed);
                    false
                }
            },
        }
    }

    fn count(&self, matcher: &Matcher, text: &[u8], cap: u32, gate: Gate) -> u32 {
        let cap = cap as usize;
        let count = match matcher {
            Matcher::Automata(regex) => regex.find_iter(text).take(cap).count(),
            Matcher::Fancy(fancy) => {
                let (count, limit_hit) = fancy.count(text, cap, gate);
                if limit_hit {
                    self.backtrack_limit_hits.fetch_add(1, Ordering::Relaxed);
                }
                count
            }
        };
        u32::try_from(count).unwrap_or(u32::MAX)
    }
}

impl FancyMatcher {
    /// Returns whether the regex matches `text`, or the error of a match
    /// that hit [`BACKTRACK_LIMIT`]. It runs at the places
    /// [`FancyMatcher::plan`] returns.
    fn is_match(&self, text: &[u8], gate: Gate) -> Result<bool, fancy_regex::Error> {
        let positions = match self.plan(text, gate) {
            Plan::Nowhere => return Ok(false),
            Plan::Everywhere => return self.regex.is_match(text),
            Plan::At(positions) => positions,
        };
        for start in positions {
            if self.regex.is_match_input(anchored_at(text, start))? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Returns how many non-overlapping matches `text` has, leftmost first
    /// and up to `cap`, as `find_iter` counts them, and whether a match hit
    /// [`BACKTRACK_LIMIT`] (the count stops there).
    ///
    /// With start positions, the first position whose anchored run matches
    /// gives the same match as a search from the end of the previous one:
    /// the search tries positions in order with the same priorities. Every
    /// start literal is at least one byte, so no match is empty.
    fn count(&self, text: &[u8], cap: usize, gate: Gate) -> (usize, bool) {
        let mut count = 0;
        let positions = match self.plan(text, gate) {
            Plan::Nowhere => return (0, false),
            Plan::Everywhere => {
                for found in self.regex.find_iter(text).take(cap) {
                    if found.is_err() {
                        return (count, true);
                    }
                    count += 1;
                }
                return (count, false);
            }
            Plan::At(positions) => positions,
        };
        let mut previous_end = 0;
        for start in positions {
            if count == cap {
                break;
            }
            if start < previous_end {
                continue;
            }
            match self.regex.find_input(anchored_at(text, start)) {
                Ok(Some(found)) => {
                    count += 1;
                    previous_end = found.end();
                }
                Ok(None) => {}
                Err(_) => return (count, true),
            }
        }
        (count, false)
    }

    /// Returns where the regex runs on `text`. With [`Gate::Off`] that is
    /// everywhere, the reference search. With [`Gate::On`] it is the start
    /// places ([`FancyMatcher::start_positions`]) when there are not too
    /// many, else nowhere when the superset regex misses the whole text,
    /// else everywhere.
    fn plan(&self, text: &[u8], gate: Gate) -> Plan {
        if gate == Gate::Off {
            return Plan::Everywhere;
        }
        if let Some(positions) = self.start_positions(text) {
            return Plan::At(positions);
        }
        match &self.superset {
            Some(superset) if !superset.is_match(text) => Plan::Nowhere,
            _ => Plan::Everywhere,
        }
    }

    /// Returns, in order, the places in `text` where a match may start: the
    /// rule's start places where the superset regex, run anchored there,
    /// matches. Returns `None` without start places, or past
    /// [`START_POSITIONS_MAX`] places (or four times as many before the
    /// superset check).
    fn start_positions(&self, text: &[u8]) -> Option<Vec<usize>> {
        let starts = self.starts.as_ref()?;
        let scan_max = START_POSITIONS_MAX * 4;
        let mut positions: Vec<usize> = match starts {
            StartPlaces::Literals(automaton) => automaton
                .find_overlapping_iter(text)
                .take(scan_max + 1)
                .map(|found| found.start())
                .collect(),
            StartPlaces::Lines => std::iter::once(0)
                .chain(memchr::memchr_iter(b'\n', text).map(|newline| newline + 1))
                .take(scan_max + 1)
                .collect(),
            StartPlaces::Text => vec![0],
        };
        if positions.len() > scan_max {
            return None;
        }
        positions.sort_unstable();
        positions.dedup();
        if let Some(superset) = &self.superset {
            positions.retain(|start| {
                let input = regex_automata::Input::new(text)
                    .range(*start..)
                    .anchored(regex_automata::Anchored::Yes);
                superset.is_match(input)
            });
        }
        (positions.len() <= START_POSITIONS_MAX).then_some(positions)
    }
}

/// The places a fancy-regex rule runs at on one text
/// ([`FancyMatcher::plan`]).
enum Plan {
    /// Nowhere: the superset regex misses the text.
    Nowhere,
    /// At every position, in one unanchored search.
    Everywhere,
    /// Anchored at each of these places, in order.
    At(Vec<usize>),
}

/// Returns the fancy-regex input that matches only at `start`, with the
/// whole of `text` in view for lookbehinds and anchors.
fn anchored_at(text: &[u8], start: usize) -> fancy_regex::RegexInput<'_, [u8]> {
    fancy_regex::RegexInput::new(text)
        .from_pos(start)
        .anchored(true)
}

/// One regex rule waiting to be compiled.
struct RegexJob<'m> {
    id: RuleId,
    kind: RuleKind,
    target: Target,
    pattern: &'m Pattern,
    negated: bool,
    spec: Option<HeaderSpec>,
}

/// Compiles the patterns of `jobs` on up to [`COMPILE_THREADS_MAX`] threads
/// and returns the results in job order.
fn compile_patterns(jobs: &[RegexJob<'_>]) -> Vec<Result<CompiledPattern, String>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |count| count.get())
        .clamp(1, COMPILE_THREADS_MAX);
    if threads == 1 || jobs.len() < 2 {
        return jobs
            .iter()
            .map(|job| compile_pattern(job.pattern))
            .collect();
    }
    // Interleaved shares even out the cost, because large rules cluster in
    // the rule files.
    let shares: Vec<Vec<(usize, Result<CompiledPattern, String>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|share| {
                scope.spawn(move || {
                    jobs.iter()
                        .enumerate()
                        .skip(share)
                        .step_by(threads)
                        .map(|(index, job)| (index, compile_pattern(job.pattern)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap_or_default())
            .collect()
    });
    let mut results: Vec<Option<Result<CompiledPattern, String>>> =
        (0..jobs.len()).map(|_| None).collect();
    for (index, result) in shares.into_iter().flatten() {
        results[index] = Some(result);
    }
    results
        .into_iter()
        .map(|result| result.unwrap_or_else(|| Err("compiler thread failed".to_string())))
        .collect()
}

/// Returns whether rule `id` runs under the mask `live` (`None` runs every
/// rule, and an id outside the mask does not run).
fn is_live(live: Option<&[bool]>, id: RuleId) -> bool {
    live.is_none_or(|live| live.get(id.index()).copied().unwrap_or(false))
}

fn regex_target(kind: RuleKind) -> Target {
    match kind {
        RuleKind::Rawbody => Target::Rawbody,
        RuleKind::Uri => Target::Uri,
        RuleKind::Full => Target::Full,
        _ => Target::Body,
    }
}

fn build_target(builder: TargetBuilder) -> TargetRules {
    let (literals, pattern_slots): (Vec<Vec<u8>>, Vec<u32>) = builder.literals.into_iter().unzip();
    let mut always = builder.always;
    let prefilter = if literals.is_empty() {
        None
    } else {
        let built = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&literals);
        match built {
            Ok(automaton) => Some(automaton),
            Err(_) => {
                // Without the automaton every rule must run on every text.
                always = (0..builder.rules.len() as u32).collect();
                None
            }
        }
    };
    TargetRules {
        spec: builder.spec,
        rules: builder.rules,
        prefilter,
        pattern_slots,
        always,
    }
}

/// A compiled pattern and its prefilter literals.
pub struct CompiledPattern {
    matcher: Matcher,
    pub engine: Engine,
    pub factors: Option<Vec<Vec<u8>>>,
    /// Whether the pattern's regex-automata form (the regex itself, or a
    /// fancy pattern's superset) is line-safe ([`superset::is_line_safe`]).
    pub line_safe: bool,
}

impl CompiledPattern {
    /// Returns whether the pattern matches `text`, with a fancy pattern's
    /// superset and start places in use (a backtrack-limit error counts
    /// as no match).
    pub fn is_match(&self, text: &[u8]) -> bool {
        match &self.matcher {
            Matcher::Automata(regex) => regex.is_match(text),
            Matcher::Fancy(fancy) => fancy.is_match(text, Gate::On).unwrap_or(false),
        }
    }

    /// Returns how many non-overlapping matches `text` has, up to `cap`,
    /// with a fancy pattern's superset and start places in use.
    pub fn count(&self, text: &[u8], cap: usize) -> usize {
        match &self.matcher {
            Matcher::Automata(regex) => regex.find_iter(text).take(cap).count(),
            Matcher::Fancy(fancy) => fancy.count(text, cap, Gate::On).0,
        }
    }

    /// Returns how many non-overlapping matches of a fancy pattern `text`
    /// has, up to `cap`, found at its start places, or `None` for a
    /// regex-automata pattern.
    pub fn count_fancy(&self, text: &[u8], cap: usize) -> Option<usize> {
        match &self.matcher {
            Matcher::Automata(_) => None,
            Matcher::Fancy(fancy) => Some(fancy.count(text, cap, Gate::On).0),
        }
    }

    /// Returns whether fancy-regex runs this pattern behind a superset
    /// regex ([`superset`]).
    pub fn has_superset(&self) -> bool {
        matches!(&self.matcher, Matcher::Fancy(fancy) if fancy.superset.is_some())
    }

    /// Returns whether fancy-regex runs this pattern only at its start
    /// places: where a start literal occurs, or at line or text starts.
    pub fn has_start_places(&self) -> bool {
        matches!(&self.matcher, Matcher::Fancy(fancy) if fancy.starts.is_some())
    }

    /// Returns whether fancy-regex alone matches `text`, at every position
    /// and without the superset. Tests compare this with
    /// [`CompiledPattern::is_match`].
    pub fn is_match_fancy_only(&self, text: &[u8]) -> Option<bool> {
        match &self.matcher {
            Matcher::Automata(_) => None,
            Matcher::Fancy(fancy) => Some(fancy.regex.is_match(text).unwrap_or(false)),
        }
    }

    /// Returns what [`CompiledPattern::count_fancy`] returns, with
    /// fancy-regex trying every position.
    pub fn count_fancy_only(&self, text: &[u8], cap: usize) -> Option<usize> {
        match &self.matcher {
            Matcher::Automata(_) => None,
            Matcher::Fancy(fancy) => Some(fancy.count(text, cap, Gate::Off).0),
        }
    }
}

/// Compiles the `redirector_pattern` lines of `model`, counting them in
/// `stats` and listing the lines that fail with the rule failures.
fn compile_redirectors(model: &RuleModel, stats: &mut CompileStats) -> Redirectors {
    let lines = model
        .settings
        .get("redirector_pattern")
        .into_iter()
        .flatten();
    let (redirectors, failures) = Redirectors::compile(lines.map(String::as_str));
    stats.redirector_patterns = redirectors.len();
    stats
        .failures
        .extend(failures.into_iter().map(|(line, error)| RuleFailure {
            rule: format!("redirector_pattern {line}"),
            error,
        }));
    redirectors
}

/// Returns how many hits a rule counts at most: its `maxhits` (or
/// [`HITS_MAX`]) under `tflags multiple`, else 1.
fn hits_max(rule: &crate::rules::Rule) -> u32 {
    if rule.tflags.multiple {
        rule.tflags.maxhits.unwrap_or(HITS_MAX).clamp(1, HITS_MAX)
    } else {
        1
    }
}

/// Compiles one Perl pattern with the first engine that accepts it.
pub fn compile_pattern(pattern: &Pattern) -> Result<CompiledPattern, String> {
    let translation = translate(&pattern.source, &pattern.flags)
        .map_err(|error| format!("unsupported regex construct: {error}"))?;
    let hir = parse_hir(&translation);
    let mut automata_error = None;
    if !translation.needs_fancy {
        match build_automata(&translation) {
            Ok(regex) => {
                return Ok(CompiledPattern {
                    matcher: Matcher::Automata(regex),
                    engine: Engine::Automata,
                    factors: hir.as_ref().and_then(prefilter::factors),
                    line_safe: hir.as_ref().is_some_and(superset::is_line_safe),
                })
            }
            Err(error) => automata_error = Some(error),
        }
    }
    match build_fancy(&translation) {
        Ok(regex) => {
            let superset = build_superset(&translation);
            let superset_hir = superset.as_ref().map(|superset| &superset.hir);
            let factors = hir
                .as_ref()
                .and_then(prefilter::factors)
                .or_else(|| superset_hir.and_then(prefilter::factors));
            let line_safe = superset_hir.is_some_and(superset::is_line_safe);
            let starts = hir.as_ref().or(superset_hir).and_then(StartPlaces::of);
            Ok(CompiledPattern {
                matcher: Matcher::Fancy(FancyMatcher {
                    regex,
                    superset: superset.and_then(|superset| superset.regex),
                    starts,
                }),
                engine: Engine::Fancy,
                factors,
                line_safe,
            })
        }
        Err(fancy_error) => Err(match automata_error {
            Some(automata_error) => {
                format!("regex-automata: {automata_error}; fancy-regex: {fancy_error}")
            }
            None => format!("fancy-regex: {fancy_error}"),
        }),
    }
}

/// The superset of a fancy pattern ([`superset`]).
struct Superset {
    hir: regex_syntax::hir::Hir,
    /// The compiled regex, `None` when regex-automata rejects it (a rule
    /// with large counted repetitions can exceed [`NFA_SIZE_MAX`]). The HIR
    /// still gives the rule's literals.
    regex: Option<meta::Regex>,
}

/// Builds the superset of a fancy pattern, or returns `None` when it has
/// none or regex-syntax cannot parse it.
fn build_superset(translation: &Translation) -> Option<Superset> {
    let pattern = superset::superset_pattern(translation)?;
    let syntax = syntax::Config::new()
        .unicode(false)
        .utf8(false)
        .nest_limit(NEST_MAX);
    let hir = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .nest_limit(NEST_MAX)
        .build()
        .parse(&pattern)
        .ok()?;
    let config = meta_config();
    let regex = meta::Builder::new()
        .configure(config)
        .syntax(syntax)
        .build(&pattern)
        .ok();
    Some(Superset { hir, regex })
}

/// Returns the regex-automata settings of every rule regex: byte-oriented
/// empty matches, the NFA size limit, and a lazy DFA cache of
/// [`DFA_CACHE_MAX`] per regex and thread.
fn meta_config() -> meta::Config {
    meta::Config::new()
        .utf8_empty(false)
        .nfa_size_limit(Some(NFA_SIZE_MAX))
        .hybrid_cache_capacity(DFA_CACHE_MAX)
}

fn syntax_config(translation: &Translation, case_insensitive: bool) -> syntax::Config {
    syntax::Config::new()
        .unicode(false)
        .utf8(false)
        .case_insensitive(case_insensitive)
        .multi_line(translation.flags.multi_line)
        .dot_matches_new_line(translation.flags.dot_matches_new_line)
        .ignore_whitespace(translation.flags.ignore_whitespace)
        .nest_limit(NEST_MAX)
}

fn build_automata(translation: &Translation) -> Result<meta::Regex, String> {
    let config = meta_config();
    meta::Builder::new()
        .configure(config)
        .syntax(syntax_config(
            translation,
            translation.flags.case_insensitive,
        ))
        .build(&translation.pattern)
        .map_err(|error| match error.syntax_error() {
            Some(syntax_error) => one_line(&syntax_error.to_string()),
            None => one_line(&error.to_string()),
        })
}

/// Builds the fancy-regex form of a translated pattern, matching bytes,
/// with the rule flags and [`BACKTRACK_LIMIT`].
pub(crate) fn build_fancy(translation: &Translation) -> Result<fancy_regex::Regex, String> {
    let flags = translation.flags;
    fancy_regex::RegexBuilder::new(&translation.pattern)
        .bytes_mode(fancy_regex::BytesMode::Ascii)
        .case_insensitive(flags.case_insensitive)
        .multi_line(flags.multi_line)
        .dot_matches_new_line(flags.dot_matches_new_line)
        .ignore_whitespace(flags.ignore_whitespace)
        .backtrack_limit(BACKTRACK_LIMIT)
        .delegate_size_limit(NFA_SIZE_MAX)
        .build()
        .map_err(|error| one_line(&error.to_string()))
}

/// Parses the translated pattern case-sensitively, for the prefilter
/// literals (see [`prefilter`]) and the line-safety test. Patterns
/// regex-syntax cannot parse return `None`.
fn parse_hir(translation: &Translation) -> Option<regex_syntax::hir::Hir> {
    let config = syntax_config(translation, false);
    regex_syntax::ParserBuilder::new()
        .unicode(config.get_unicode())
        .utf8(config.get_utf8())
        .multi_line(config.get_multi_line())
        .dot_matches_new_line(config.get_dot_matches_new_line())
        .ignore_whitespace(config.get_ignore_whitespace())
        .nest_limit(NEST_MAX)
        .build()
        .parse(&translation.pattern)
        .ok()
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests;
