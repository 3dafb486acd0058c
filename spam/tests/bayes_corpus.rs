//! Bayes accuracy on the SpamAssassin public corpus, with the fixed split
//! of `ringmail_spam::corpus_split`.
//!
//! The test learns the training set (at most `TRAIN_PER_CLASS_MAX` messages
//! per class, in file name order; the corpus has about 1,320 spam and 2,850
//! ham in it), classifies every message of the test set and prints how much spam
//! was caught and how much ham was wrongly flagged at p > 0.5 and at p > 0.99
//! (BAYES_99 and above). It asserts only broad floors, so that it catches a
//! broken classifier without pinning figures that tokenizer changes move.
//! Without the corpus (`python3 tests/corpus/fetch.py` fetches it) the
//! test prints a note and passes.

use std::path::{Path, PathBuf};

use ringmail_spam::bayes::{BayesStore, Label};
use ringmail_spam::corpus_split::{is_spam_group, is_train};
use ringmail_spam::prepare::Prepared;

/// Maximum training messages per class, so that a larger corpus in
/// `RINGMAIL_CORPUS_DIR` cannot make the test run for long. Ham is capped
/// above the corpus's count because a cap that stops inside easy-ham-1
/// leaves the other ham groups unlearned and doubles the false positives.
const TRAIN_PER_CLASS_MAX: usize = 3_000;

fn corpus_dir() -> PathBuf {
    match std::env::var_os("RINGMAIL_CORPUS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
            .join(".cache/ringmail/spamassassin-corpus-0.2.3"),
    }
}

/// Returns (is_spam, path) of every corpus message, sorted by path.
fn corpus_messages(eml: &Path) -> Vec<(bool, PathBuf)> {
    let mut messages = Vec::new();
    for group in std::fs::read_dir(eml).unwrap().flatten() {
        let spam = is_spam_group(&group.file_name().to_string_lossy());
        for file in std::fs::read_dir(group.path()).unwrap().flatten() {
            messages.push((spam, file.path()));
        }
    }
    messages.sort_by(|a, b| a.1.cmp(&b.1));
    messages
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn bayes_corpus_train_test_split() {
    let cache = corpus_dir();
    if !cache.join("COMPLETE").exists() {
        eprintln!(
            "corpus not found at {}; run tests/corpus/fetch.py",
            cache.display()
        );
        return;
    }
    let messages = corpus_messages(&cache.join("eml"));
    let temp = tempfile::tempdir().unwrap();
    let mut store = BayesStore::open(temp.path()).unwrap();

    let started = std::time::Instant::now();
    let (mut spam_learned, mut ham_learned) = (0, 0);
    for (spam, path) in messages
        .iter()
        .filter(|(_, path)| is_train(&file_name(path)))
    {
        let learned = if *spam {
            &mut spam_learned
        } else {
            &mut ham_learned
        };
        if *learned >= TRAIN_PER_CLASS_MAX {
            continue;
        }
        let raw = std::fs::read(path).unwrap();
        let label = if *spam { Label::Spam } else { Label::Ham };
        store.learn(&raw, label).unwrap();
        *learned += 1;
    }
    let learn_s = started.elapsed().as_secs_f64();

    let started = std::time::Instant::now();
    let (mut spam_total, mut ham_total, mut unscored) = (0, 0, 0);
    let (mut spam_over_half, mut spam_over_99, mut ham_over_half, mut ham_over_99) = (0, 0, 0, 0);
    for (spam, path) in messages
        .iter()
        .filter(|(_, path)| !is_train(&file_name(path)))
    {
        let raw = std::fs::read(path).unwrap();
        let Some(p) = store.probability(&Prepared::new(&raw)) else {
            unscored += 1;
            continue;
        };
        let (total, over_half, over_99) = if *spam {
            (&mut spam_total, &mut spam_over_half, &mut spam_over_99)
        } else {
            (&mut ham_total, &mut ham_over_half, &mut ham_over_99)
        };
        *total += 1;
        *over_half += usize::from(p > 0.5);
        *over_99 += usize::from(p > 0.99);
    }
    let classify_s = started.elapsed().as_secs_f64();

    let percent = |part: usize, whole: usize| 100.0 * part as f64 / whole.max(1) as f64;
    eprintln!(
        "trained on {spam_learned} spam and {ham_learned} ham in {learn_s:.1} s; \
         tokens {}; tested {spam_total} spam and {ham_total} ham in {classify_s:.1} s, \
         {unscored} unscored",
        store.token_count()
    );
    eprintln!(
        "p > 0.5:  spam caught {spam_over_half}/{spam_total} ({:.1}%), \
         ham false positives {ham_over_half}/{ham_total} ({:.2}%)",
        percent(spam_over_half, spam_total),
        percent(ham_over_half, ham_total)
    );
    eprintln!(
        "p > 0.99: spam caught {spam_over_99}/{spam_total} ({:.1}%), \
         ham false positives {ham_over_99}/{ham_total} ({:.2}%)",
        percent(spam_over_99, spam_total),
        percent(ham_over_99, ham_total)
    );

    assert!(spam_total > 300, "test split has only {spam_total} spam");
    assert!(ham_total > 900, "test split has only {ham_total} ham");
    assert!(
        percent(spam_over_half, spam_total) > 95.0,
        "spam caught below 95%"
    );
    assert!(
        percent(ham_over_half, ham_total) < 2.0,
        "ham false positives above 2%"
    );
}
