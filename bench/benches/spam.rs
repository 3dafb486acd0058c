//! Criterion bench of the spam stage: preparing and scoring
//! [`MESSAGES`] SpamAssassin corpus messages with the default rules
//! (SpamAssassin's stock rules when installed, else Ringmail's own set).
//! Eval functions and Bayes are off, as in `ringmail spam check` before they
//! merge.
//!
//! The `spam` group reports the same work twice: `per_message` as messages
//! per second and `per_byte` as bytes per second. Messages are taken at an
//! even step over the sorted corpus so that ham and spam groups are both in
//! the sample. Without the corpus the bench prints how to fetch it and
//! measures nothing.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ringmail_spam::compile::CompiledRules;
use ringmail_spam::prepare::Prepared;
use ringmail_spam::rules::{load_default, LoadOptions};
use ringmail_spam::score::Scorer;

/// Messages scored per iteration.
const MESSAGES: usize = 200;

/// Returns [`MESSAGES`] corpus messages, or `None` when the corpus is absent.
fn corpus_messages() -> Option<Vec<Vec<u8>>> {
    let home = std::env::var_os("HOME")?;
    let root = Path::new(&home).join(".cache/ringmail/spamassassin-corpus-0.2.3/eml");
    let mut paths: Vec<PathBuf> = Vec::new();
    for group in std::fs::read_dir(&root).ok()?.flatten() {
        for entry in std::fs::read_dir(group.path()).ok()?.flatten() {
            paths.push(entry.path());
        }
    }
    if paths.is_empty() {
        return None;
    }
    paths.sort();
    let step = (paths.len() / MESSAGES).max(1);
    let messages = paths
        .iter()
        .step_by(step)
        .take(MESSAGES)
        .filter_map(|path| std::fs::read(path).ok())
        .collect();
    Some(messages)
}

fn no_evals(_: &str, _: &[String], _: &Prepared<'_>) -> Option<bool> {
    None
}

fn spam_scoring(c: &mut Criterion) {
    let Some(messages) = corpus_messages() else {
        eprintln!("spam bench skipped: corpus not found, run `python3 tests/corpus/fetch.py`");
        return;
    };
    let (model, paths) = match load_default(LoadOptions::default()) {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("spam bench skipped: default rules do not load: {error}");
            return;
        }
    };
    let source = if paths.is_empty() {
        "embedded ringmail.cf".to_string()
    } else {
        format!("{} files from {}", paths.len(), paths[0].display())
    };
    let (compiled, stats) = CompiledRules::compile(&model);
    eprintln!(
        "spam bench: {} messages, {} bytes, rules: {source}, compiled in {} ms",
        messages.len(),
        messages.iter().map(Vec::len).sum::<usize>(),
        stats.compile_ms
    );
    let scorer = Scorer::new(Arc::new(model), Arc::new(compiled));
    let total_bytes: usize = messages.iter().map(Vec::len).sum();

    let score_all = || {
        let mut spam = 0usize;
        for message in &messages {
            let prepared = scorer.prepare(message);
            let verdict = scorer.score(&prepared, &no_evals, None);
            spam += usize::from(verdict.is_spam);
        }
        spam
    };

    let mut group = c.benchmark_group("spam");
    group.sample_size(10);
    group.throughput(Throughput::Elements(messages.len() as u64));
    group.bench_function("per_message", |b| b.iter(score_all));
    group.throughput(Throughput::Bytes(total_bytes as u64));
    group.bench_function("per_byte", |b| b.iter(score_all));
    group.finish();
}

criterion_group!(benches, spam_scoring);
criterion_main!(benches);
