//! Fuzz target: arbitrary bytes as a SpamAssassin `.cf` file through the
//! rule loader and the rule compiler.
//!
//! The input is loaded as `/rules/a.cf`, and the same bytes are also
//! available as `/rules/b.cf`, so `include b.cf` lines exercise the include
//! path. Checks, beyond "no panic": the warning list respects
//! `WARNINGS_MAX`, every defined rule has a name the parser accepts, and
//! every compiled target can match the input itself. The input is then
//! scored as a message with those rules, which runs its capture rules,
//! template rules and redirector patterns.
#![no_main]

use std::path::PathBuf;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use ringmail_spam::compile::CompiledRules;
use ringmail_spam::rules::{load, LoadOptions, MemorySource, WARNINGS_MAX};
use ringmail_spam::score::Scorer;

fuzz_target!(|input: &[u8]| {
    let source = MemorySource {
        files: [
            (PathBuf::from("/rules/a.cf"), input.to_vec()),
            (PathBuf::from("/rules/b.cf"), input.to_vec()),
        ]
        .into_iter()
        .collect(),
    };
    let Ok(model) = load(
        &source,
        &[PathBuf::from("/rules/a.cf")],
        LoadOptions::default(),
    ) else {
        return;
    };
    assert!(model.warnings.len() <= WARNINGS_MAX);
    for (_, rule) in model.defined() {
        let first = rule.name.chars().next().unwrap();
        assert!(first.is_ascii_alphabetic() || first == '_');
    }

    let (rules, _stats) = CompiledRules::compile(&model);
    let targets: Vec<_> = rules.targets().map(|(target, _)| target.clone()).collect();
    for target in targets {
        for found in rules.match_target(&target, input) {
            assert!(found.hits >= 1);
        }
    }

    let scorer = Scorer::new(Arc::new(model), Arc::new(rules));
    let prepared = scorer.prepare(input);
    let _ = scorer.score(&prepared, &|_, _, _| None, None);
});
