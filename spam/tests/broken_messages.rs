//! Broken and hostile messages through the whole classifier: each one goes
//! through `Prepared::new` and `Scorer::score`, with Ringmail's embedded
//! rules and, when SpamAssassin is installed, with its stock rules.
//!
//! The small messages are files in `tests/fixtures/broken/`, so that the CLI
//! test and the fuzz corpus can use them too. The large ones (deep nesting, a
//! 10 MB line) are generated here. Each message must score without a panic
//! and within `MESSAGE_TIME_MAX`. The limit is far above the real cost so
//! that only runaway work fails, even in a debug build on a loaded machine.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use ringmail_spam::compile::CompiledRules;
use ringmail_spam::eval;
use ringmail_spam::prepare::{Prepared, MIME_DEPTH_MAX};
use ringmail_spam::rules::{self, LoadOptions};
use ringmail_spam::score::{Scorer, Verdict};

/// Time allowed to prepare and score one message.
const MESSAGE_TIME_MAX: Duration = Duration::from_secs(60);

/// Bytes in the generated single-line body.
const LONG_LINE_LEN: usize = 10 * 1024 * 1024;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/broken")
}

/// Returns every fixture file, sorted by name.
fn fixture_files() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "eml"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// Returns multiparts nested `depth` deep with a text part at the bottom.
fn nested_multipart(depth: usize) -> Vec<u8> {
    let mut message = b"Subject: nested\n".to_vec();
    for level in 0..depth {
        let line = format!("Content-Type: multipart/mixed; boundary=\"b{level}\"\n\n--b{level}\n");
        message.extend_from_slice(line.as_bytes());
    }
    message.extend_from_slice(b"Content-Type: text/plain\n\nbottom text\n");
    for level in (0..depth).rev() {
        message.extend_from_slice(format!("--b{level}--\n").as_bytes());
    }
    message
}

/// Returns a message whose body is one line of `LONG_LINE_LEN` bytes.
fn long_line() -> Vec<u8> {
    let mut message = b"Subject: one long line\nContent-Type: text/html\n\n<p>".to_vec();
    let words = b"cheap viagra http://x.example/ ";
    while message.len() < LONG_LINE_LEN {
        message.extend_from_slice(words);
    }
    message
}

fn embedded_scorer() -> &'static Scorer {
    static SCORER: OnceLock<Scorer> = OnceLock::new();
    SCORER.get_or_init(|| {
        let model = rules::load_embedded(LoadOptions::default()).unwrap();
        let (compiled, _) = CompiledRules::compile(&model);
        Scorer::new(Arc::new(model), Arc::new(compiled))
    })
}

/// Returns a scorer with SpamAssassin's stock rules, or `None` when they
/// are not installed.
fn stock_scorer() -> Option<&'static Scorer> {
    static SCORER: OnceLock<Option<Scorer>> = OnceLock::new();
    SCORER
        .get_or_init(|| {
            let stock = Path::new("/usr/share/spamassassin");
            if !stock.join("50_scores.cf").exists() {
                eprintln!("skipped stock rules: /usr/share/spamassassin not installed");
                return None;
            }
            let model = rules::load_dir(stock, LoadOptions::default()).unwrap();
            let (compiled, _) = CompiledRules::compile(&model);
            Some(Scorer::new(Arc::new(model), Arc::new(compiled)))
        })
        .as_ref()
}

/// Prepares and scores `message` with `scorer`, with evals and a Bayes
/// probability, and checks the time and the verdict's invariants.
fn score_within_limit(scorer: &Scorer, name: &str, message: &[u8]) -> Verdict {
    let started = Instant::now();
    let prepared = Prepared::new(message);
    let verdict = scorer.score(&prepared, &eval::evaluate, Some(0.5));
    let elapsed = started.elapsed();

    assert!(
        elapsed < MESSAGE_TIME_MAX,
        "{name} took {elapsed:?}, over {MESSAGE_TIME_MAX:?}"
    );
    assert!(verdict.score.is_finite(), "{name}: score {}", verdict.score);
    assert_eq!(verdict.is_spam, verdict.score >= verdict.required, "{name}");
    assert_eq!(prepared.full(), message, "{name}");
    verdict
}

/// Scores `message` with the embedded rules and, when installed, the
/// stock rules.
fn score_with_every_rule_set(name: &str, message: &[u8]) {
    score_within_limit(embedded_scorer(), name, message);
    if let Some(scorer) = stock_scorer() {
        score_within_limit(scorer, name, message);
    }
}

#[test]
fn fixtures_score_without_panic() {
    let files = fixture_files();
    assert!(files.len() >= 10, "only {} fixtures", files.len());
    for (name, message) in &files {
        score_with_every_rule_set(name, message);
    }
}

#[test]
fn fixtures_keep_their_readable_text() {
    // Broken structure still yields the text a reader would see.
    let cases = [
        ("missing-final-boundary.eml", "second part, never closed"),
        ("multipart-without-boundary-param.eml", "body text"),
        ("bad-base64.eml", "hello world"),
        ("invalid-quoted-printable.eml", "softbreak =ZZ =4"),
        ("unknown-charset.eml", "café"),
        ("nul-in-header.eml", "body after nul header"),
        ("header-without-colon.eml", "body"),
    ];
    let files = fixture_files();
    for (name, expected) in cases {
        let (_, message) = files
            .iter()
            .find(|(file, _)| file == name)
            .unwrap_or_else(|| panic!("fixture {name} missing"));
        let prepared = Prepared::new(message);
        let body = prepared.body().join("\n");
        assert!(body.contains(expected), "{name}: body {body:?}");
    }
}

#[test]
fn multipart_nested_100_deep_scores() {
    let message = nested_multipart(100);
    let prepared = Prepared::new(&message);
    assert!(prepared.limits_reached().mime_depth);
    score_with_every_rule_set("nested 100", &message);
}

#[test]
fn multipart_nested_10000_deep_hits_depth_limit() {
    // A parser that recursed once per level without a limit could run out
    // of the test thread's 2 MiB stack here.
    let message = nested_multipart(10_000);
    let prepared = Prepared::new(&message);
    assert!(prepared.limits_reached().mime_depth);
    assert!(
        !prepared.body().join("\n").contains("bottom text"),
        "text below depth {MIME_DEPTH_MAX} was read"
    );
    score_with_every_rule_set("nested 10000", &message);
}

#[test]
fn single_line_of_10_mb_scores() {
    let message = long_line();
    let prepared = Prepared::new(&message);
    assert!(prepared
        .body()
        .iter()
        .all(|line| line.len() <= ringmail_spam::prepare::BODY_LINE_LEN_MAX));
    score_with_every_rule_set("10 MB line", &message);
}

#[test]
fn empty_message_scores_as_ham() {
    let verdict = score_within_limit(embedded_scorer(), "empty", b"");
    assert!(!verdict.is_spam, "{verdict:?}");
}
