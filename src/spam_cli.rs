//! `ringmail spam rules`: load and compile a spam rule set and report on it.
//!
//! Rules come from `--rules DIR` (its `.pre` and `.cf` files) or, without
//! it, from SpamAssassin's stock locations with Ringmail's embedded set as
//! the fallback. `--stats` prints counts per rule kind: rules compiled with
//! regex-automata, rules that needed the fancy-regex fallback, rules with
//! regex features no engine supports, and rules that call implemented or
//! missing eval functions. Then it lists the directives kept as settings, by
//! count. `--json` prints the same as one JSON object. Without `--stats` the
//! command lists the rules: name, kind, score in score set 0 and description.
//! With `--json` each listed rule also states whether Ringmail runs it as
//! SpamAssassin does without network tests and Bayes, and why not
//! ([`rule_support`]).
//!
//! `ringmail spam check FILE... | DIR | -`: load and compile the rules once,
//! then score every message and print `path score verdict rule,rule,...`
//! (`none` when no rule hit), or one JSON object per message with `--json`.
//! The exit status is 0 whatever the verdicts, 1 with `--exit-code` when any
//! message is spam, and 2 when the rules do not load or an input cannot be
//! read. An unreadable input is reported and the others are still scored.
//! Messages over [`MESSAGE_SIZE_MAX`] count as unreadable, and directories
//! are read to [`DIRECTORY_DEPTH_MAX`] levels. Messages are scored on one
//! thread per core and printed in input order.
//!
//! With `--timing` the command ends with one line on standard error:
//! `timing: compile_ms=.. score_ms=.. messages=.. errors=.. msg_per_s=..`.
//! It lets a benchmark separate start-up (loading and compiling the rules,
//! opening the Bayes store) from scoring (reading, preparing and scoring
//! each message and printing its line).

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringmail_spam::bayes::BayesStore;
use ringmail_spam::compile::{CompileOptions, CompileStats, CompiledRules, KindStats};
use ringmail_spam::rules::{self, LoadOptions, RuleKind, RuleModel};
use ringmail_spam::score::setting_evals::SettingEvals;
use ringmail_spam::score::{format_score, Scorer, Verdict};

use crate::Failure;

mod rule_support;

/// Maximum warnings and failures printed in text output. The `--json`
/// output contains every one the loader kept.
const TEXT_LIST_MAX: usize = 20;

/// Runs `ringmail spam rules`.
pub fn rules(stats: bool, rules_dir: Option<&Path>, json: bool) -> Result<(), Failure> {
    let (model, sources) = load(rules_dir)?;
    if !stats {
        list_rules(&model, json);
        return Ok(());
    }
    let (_compiled, compile_stats) = CompiledRules::compile_with(&model, &implemented_options());
    if json {
        print_json(&model, &sources, &compile_stats);
    } else {
        print_text(&model, &sources, &compile_stats);
    }
    Ok(())
}

/// Returns compile options that count Ringmail's eval functions as
/// implemented, with the scorer's tests that read the rule set's settings
/// and `check_bayes`.
fn implemented_options() -> CompileOptions {
    CompileOptions {
        implemented_evals: ringmail_spam::eval::implemented()
            .iter()
            .copied()
            .chain(SettingEvals::implemented())
            .chain(["check_bayes"])
            .map(|name| name.to_string())
            .collect(),
    }
}

/// Loads the rules of `rules_dir`, or the default rules without it, and
/// returns them with the names of their sources.
pub(crate) fn load(rules_dir: Option<&Path>) -> Result<(RuleModel, Vec<String>), Failure> {
    let options = LoadOptions::default();
    let result = match rules_dir {
        Some(dir) => {
            rules::load_dir(dir, options).map(|model| (model, vec![dir.display().to_string()]))
        }
        None => rules::load_default(options).map(|(model, paths)| {
            let sources = if paths.is_empty() {
                vec!["embedded ringmail.cf".to_string()]
            } else {
                paths
                    .iter()
                    .map(|path: &PathBuf| path.display().to_string())
                    .collect()
            };
            (model, sources)
        }),
    };
    result.map_err(|error| Failure::runtime(error.to_string()))
}

fn list_rules(model: &RuleModel, json: bool) {
    let support = if json {
        let (_compiled, compile_stats) = CompiledRules::compile_with(model, &implemented_options());
        rule_support::unsupported_reasons(model, &compile_stats)
    } else {
        Vec::new()
    };
    for (id, rule) in model.defined() {
        let kind = rule.kind().map_or("", RuleKind::as_str);
        let description = rule.description.as_deref().unwrap_or("");
        if json {
            let reason = support.get(id.index()).cloned().flatten();
            let line = serde_json::json!({
                "name": rule.name,
                "kind": kind,
                "score": rule.score(0),
                "description": description,
                "supported": reason.is_none(),
                "unsupported_reason": reason,
            });
            say!("{line}");
        } else {
            say!("{}\t{kind}\t{}\t{description}", rule.name, rule.score(0));
        }
    }
}

const COLUMNS: [&str; 10] = [
    "total",
    "compiled",
    "fallback",
    "unsupported",
    "prefiltered",
    "always",
    "exists",
    "eval_impl",
    "eval_missing",
    "meta",
];

fn row(stats: &KindStats) -> [usize; 10] {
    [
        stats.total,
        stats.compiled,
        stats.fallback,
        stats.unsupported,
        stats.prefiltered,
        stats.always_candidate,
        stats.exists,
        stats.eval_implemented,
        stats.eval_missing,
        stats.meta,
    ]
}

fn print_text(model: &RuleModel, sources: &[String], stats: &CompileStats) {
    say!("rules from: {}", sources.join(", "));
    say!(
        "files: {}, rule names: {}, defined: {}, undefined (score or describe only): {}",
        model.files.len(),
        model.rules.len(),
        model.rules.len() - stats.undefined,
        stats.undefined
    );
    say!(
        "warnings: {}",
        model.warnings.len() + model.warnings_dropped
    );
    for warning in model.warnings.iter().take(TEXT_LIST_MAX) {
        say!("  {}: {}", warning.origin, warning.message);
    }

    say!();
    let header: Vec<String> = COLUMNS.iter().map(|name| format!("{name:>13}")).collect();
    say!("{:<11}{}", "kind", header.join(""));
    for kind in RuleKind::ALL {
        let Some(kind_stats) = stats.kinds.get(&kind) else {
            continue;
        };
        let cells: Vec<String> = row(kind_stats)
            .iter()
            .map(|count| format!("{count:>13}"))
            .collect();
        say!("{:<11}{}", kind.as_str(), cells.join(""));
    }
    let cells: Vec<String> = row(&stats.total())
        .iter()
        .map(|count| format!("{count:>13}"))
        .collect();
    say!("{:<11}{}", "all", cells.join(""));
    say!("redirector patterns: {}", stats.redirector_patterns);
    say!("compile time: {} ms", stats.compile_ms);

    if !stats.failures.is_empty() {
        say!();
        say!("unsupported regexes: {}", stats.failures.len());
        for failure in stats.failures.iter().take(TEXT_LIST_MAX) {
            say!("  {}: {}", failure.rule, failure.error);
        }
    }

    say!();
    say!(
        "eval functions not implemented: {}",
        stats.missing_evals.len()
    );
    let mut missing: Vec<(&String, &usize)> = stats.missing_evals.iter().collect();
    missing.sort_by(|left, right| right.1.cmp(left.1).then(left.0.cmp(right.0)));
    for (function, count) in missing {
        say!("  {count:>5}  {function}");
    }

    say!();
    let unknown = model.unknown_directive_counts();
    say!(
        "directives kept as settings (not interpreted by the loader): {}",
        unknown.len()
    );
    let mut unknown: Vec<(&str, usize)> = unknown.into_iter().collect();
    unknown.sort_by(|left, right| right.1.cmp(&left.1).then(left.0.cmp(right.0)));
    for (name, count) in unknown {
        say!("  {count:>5}  {name}");
    }
}

fn print_json(model: &RuleModel, sources: &[String], stats: &CompileStats) {
    let warnings: Vec<String> = model
        .warnings
        .iter()
        .map(|warning| format!("{}: {}", warning.origin, warning.message))
        .collect();
    let output = serde_json::json!({
        "sources": sources,
        "files": model.files.len(),
        "rule_names": model.rules.len(),
        "undefined": stats.undefined,
        "warnings": warnings,
        "warnings_dropped": model.warnings_dropped,
        "kinds": stats.kinds,
        "total": stats.total(),
        "failures": stats.failures,
        "missing_evals": stats.missing_evals,
        "redirector_patterns": stats.redirector_patterns,
        "unknown_directives": model.unknown_directive_counts(),
        "compile_ms": stats.compile_ms,
    });
    say!("{output:#}");
}

/// Maximum bytes of one message that `spam check` reads, because a message
/// is held in memory with its decoded parts while it is scored.
const MESSAGE_SIZE_MAX: u64 = 64 * 1024 * 1024;
/// Maximum directory nesting read under a DIR argument, which also ends
/// symbolic link loops.
const DIRECTORY_DEPTH_MAX: usize = 32;

/// Exit status of `spam check` when an input or the rules failed.
const CHECK_ERROR_STATUS: u8 = 2;
/// Exit status of `spam check --exit-code` when a message is spam.
const CHECK_SPAM_STATUS: u8 = 1;

/// Totals of one `spam check` run.
#[derive(Default)]
struct CheckTotals {
    messages: usize,
    spam: usize,
    errors: usize,
}

/// The scoring inputs of `spam check`: the compiled rules, and the Bayes
/// store from the data directory (empty when nothing was learned).
struct Checker {
    scorer: Scorer,
    bayes: BayesStore,
}

/// Output switches of `spam check`.
pub struct CheckOptions {
    /// Print one JSON object per message instead of a text line.
    pub json: bool,
    /// Exit with status 1 when any message is spam.
    pub exit_code: bool,
    /// Print the start-up and scoring times on standard error at the end.
    pub timing: bool,
}

/// Runs `ringmail spam check`, with the Bayes store of `data_dir`.
pub fn check(
    data_dir: &Path,
    inputs: &[PathBuf],
    rules_dir: Option<&Path>,
    options: CheckOptions,
) -> Result<(), Failure> {
    let CheckOptions {
        json,
        exit_code,
        timing,
    } = options;
    let started = Instant::now();
    let (model, _) = load(rules_dir).map_err(|failure| Failure {
        message: failure.message,
        status: CHECK_ERROR_STATUS,
    })?;
    let mut bayes = BayesStore::open(data_dir).map_err(|error| Failure {
        message: format!("bayes store in {}: {error}", data_dir.display()),
        status: CHECK_ERROR_STATUS,
    })?;
    let ignored = model
        .settings
        .get("bayes_ignore_header")
        .cloned()
        .unwrap_or_default();
    bayes.set_ignore_headers(ignored);
    let (compiled, _) = CompiledRules::compile(&model);
    let checker = Checker {
        scorer: Scorer::new(Arc::new(model), Arc::new(compiled)),
        bayes,
    };

    let compiled_at = Instant::now();

    let mut jobs = Vec::new();
    for input in inputs {
        if input.as_os_str() == "-" {
            let result = read_limited(std::io::stdin().lock(), "standard input");
            jobs.push(CheckJob::Read("-".to_string(), result));
        } else if input.is_dir() {
            collect_directory(input, 0, &mut jobs);
        } else {
            jobs.push(CheckJob::File(input.clone()));
        }
    }
    let totals = check_jobs(&checker, &jobs, json);
    if timing {
        print_timing(&totals, compiled_at - started, compiled_at.elapsed());
    }

    if totals.errors > 0 {
        return Err(Failure {
            message: format!(
                "{} of {} inputs could not be scored",
                totals.errors,
                totals.errors + totals.messages
            ),
            status: CHECK_ERROR_STATUS,
        });
    }
    if exit_code && totals.spam > 0 {
        return Err(Failure {
            message: String::new(),
            status: CHECK_SPAM_STATUS,
        });
    }
    Ok(())
}

/// Prints the `--timing` line. The rate counts scored messages only, over
/// the scoring time, and is 0 when nothing was scored.
fn print_timing(totals: &CheckTotals, compile: Duration, scoring: Duration) {
    let score_s = scoring.as_secs_f64();
    let rate = if score_s > 0.0 {
        totals.messages as f64 / score_s
    } else {
        0.0
    };
    eprintln!(
        "timing: compile_ms={:.3} score_ms={:.3} messages={} errors={} msg_per_s={rate:.1}",
        compile.as_secs_f64() * 1000.0,
        score_s * 1000.0,
        totals.messages,
        totals.errors,
    );
}

/// One input of `spam check`: a file to read, or a message already read
/// (standard input) or an error found while listing directories.
enum CheckJob {
    File(PathBuf),
    Read(String, Result<Vec<u8>, String>),
}

/// The printed result of one input.
#[derive(Default)]
struct CheckOutcome {
    stdout: Option<String>,
    stderr: Option<String>,
    is_message: bool,
    is_spam: bool,
    is_error: bool,
}

/// Adds every file under `directory` to `jobs`, in name order.
fn collect_directory(directory: &Path, depth: usize, jobs: &mut Vec<CheckJob>) {
    let label = directory.display().to_string();
    if depth >= DIRECTORY_DEPTH_MAX {
        let error = format!("directory nesting exceeds the maximum of {DIRECTORY_DEPTH_MAX}");
        jobs.push(CheckJob::Read(label, Err(error)));
        return;
    }
    let entries = match std::fs::read_dir(directory) {
        Ok(entries) => entries,
        Err(error) => {
            let error = format!("cannot read directory: {error}");
            jobs.push(CheckJob::Read(label, Err(error)));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|entry| entry.path()).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            collect_directory(&path, depth + 1, jobs);
        } else {
            jobs.push(CheckJob::File(path));
        }
    }
}

/// Scores `jobs` on one thread per core and prints each result in job
/// order, as soon as every earlier one is printed.
fn check_jobs(checker: &Checker, jobs: &[CheckJob], json: bool) -> CheckTotals {
    let threads = std::thread::available_parallelism()
        .map_or(1, |count| count.get())
        .clamp(1, jobs.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (sender, receiver) = std::sync::mpsc::channel::<(usize, CheckOutcome)>();
    let mut totals = CheckTotals::default();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let sender = sender.clone();
            let next = &next;
            scope.spawn(move || loop {
                let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(job) = jobs.get(index) else {
                    break;
                };
                let outcome = match job {
                    CheckJob::File(path) => check_one(
                        checker,
                        &path.display().to_string(),
                        read_message(path),
                        json,
                    ),
                    CheckJob::Read(label, result) => {
                        check_one(checker, label, result.clone(), json)
                    }
                };
                if sender.send((index, outcome)).is_err() {
                    break;
                }
            });
        }
        drop(sender);

        let mut waiting = std::collections::BTreeMap::new();
        let mut printed = 0usize;
        for (index, outcome) in receiver {
            waiting.insert(index, outcome);
            while let Some(outcome) = waiting.remove(&printed) {
                if let Some(line) = &outcome.stderr {
                    eprintln!("{line}");
                }
                if let Some(line) = &outcome.stdout {
                    say!("{line}");
                }
                totals.messages += usize::from(outcome.is_message);
                totals.spam += usize::from(outcome.is_spam);
                totals.errors += usize::from(outcome.is_error);
                printed += 1;
            }
        }
    });
    totals
}

fn read_message(path: &Path) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|error| format!("cannot open: {error}"))?;
    read_limited(file, "file")
}

/// Reads at most [`MESSAGE_SIZE_MAX`] bytes, and fails when there are more.
fn read_limited(reader: impl std::io::Read, source_name: &str) -> Result<Vec<u8>, String> {
    let mut message = Vec::new();
    reader
        .take(MESSAGE_SIZE_MAX + 1)
        .read_to_end(&mut message)
        .map_err(|error| format!("cannot read {source_name}: {error}"))?;
    if message.len() as u64 > MESSAGE_SIZE_MAX {
        return Err(format!(
            "message is larger than the maximum of {MESSAGE_SIZE_MAX} bytes"
        ));
    }
    Ok(message)
}

/// Scores one message, or reports why it could not be read, and returns
/// the result line.
fn check_one(
    checker: &Checker,
    label: &str,
    message: Result<Vec<u8>, String>,
    json: bool,
) -> CheckOutcome {
    let message = match message {
        Ok(message) => message,
        Err(error) => {
            let stdout =
                json.then(|| serde_json::json!({ "path": label, "error": error }).to_string());
            return CheckOutcome {
                stdout,
                stderr: Some(format!("ringmail: {label}: {error}")),
                is_error: true,
                ..CheckOutcome::default()
            };
        }
    };

    let prepared = checker.scorer.prepare(&message);
    let probability = checker.bayes.probability(&prepared);
    let verdict = checker
        .scorer
        .score(&prepared, &ringmail_spam::eval::evaluate, probability);

    let line = if json {
        verdict_json(label, &verdict).to_string()
    } else {
        let rules = verdict.rule_names();
        let rules = if rules.is_empty() {
            "none".to_string()
        } else {
            rules.join(",")
        };
        let answer = if verdict.is_spam { "spam" } else { "ham" };
        format!("{label} {} {answer} {rules}", format_score(verdict.score))
    };
    CheckOutcome {
        stdout: Some(line),
        is_message: true,
        is_spam: verdict.is_spam,
        ..CheckOutcome::default()
    }
}

fn verdict_json(label: &str, verdict: &Verdict) -> serde_json::Value {
    let hits: Vec<serde_json::Value> = verdict
        .hits
        .iter()
        .map(|hit| serde_json::json!({ "name": hit.name, "score": hit.score, "hits": hit.hits }))
        .collect();
    serde_json::json!({
        "path": label,
        "score": verdict.score,
        "required": verdict.required,
        "verdict": if verdict.is_spam { "spam" } else { "ham" },
        "tests": verdict.rule_names(),
        "hits": hits,
        "score_set": verdict.score_set,
        "evals_unimplemented": verdict.evals_unimplemented,
    })
}
