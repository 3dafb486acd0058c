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

use std::path::{Path, PathBuf};

use ringmail_spam::compile::{CompileOptions, CompileStats, CompiledRules, KindStats};
use ringmail_spam::rules::{self, LoadOptions, RuleKind, RuleModel};

use crate::Failure;

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
    let options = CompileOptions {
        implemented_evals: ringmail_spam::eval::implemented()
            .iter()
            .map(|name| name.to_string())
            .collect(),
    };
    let (_compiled, compile_stats) = CompiledRules::compile_with(&model, &options);
    if json {
        print_json(&model, &sources, &compile_stats);
    } else {
        print_text(&model, &sources, &compile_stats);
    }
    Ok(())
}

fn load(rules_dir: Option<&Path>) -> Result<(RuleModel, Vec<String>), Failure> {
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
    for (_, rule) in model.defined() {
        let kind = rule.kind().map_or("", RuleKind::as_str);
        let description = rule.description.as_deref().unwrap_or("");
        if json {
            let line = serde_json::json!({
                "name": rule.name,
                "kind": kind,
                "score": rule.score(0),
                "description": description,
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
        "unknown_directives": model.unknown_directive_counts(),
        "compile_ms": stats.compile_ms,
    });
    say!("{output:#}");
}
