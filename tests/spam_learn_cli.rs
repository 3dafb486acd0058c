//! End-to-end tests of `ringmail spam learn`: learning counts and totals,
//! learning the same directories twice, `--forget`, a corrupt store, and
//! the usage error without a directory.

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn spam_learn(data: &Path, args: &[&str]) -> Output {
    Command::new(common::ringmail_bin())
        .arg("--data")
        .arg(data)
        .args(["spam", "learn"])
        .args(args)
        .output()
        .expect("ringmail runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Writes `count` spam and ham messages under `root` and returns the two
/// directories as strings.
fn write_messages(root: &Path, count: usize) -> (String, String) {
    let spam = root.join("spam");
    let ham = root.join("ham").join("cur");
    std::fs::create_dir_all(&spam).unwrap();
    std::fs::create_dir_all(&ham).unwrap();
    for i in 0..count {
        let message = format!(
            "From: deals@offers.example\nSubject: prize {i}\n\nclaim your casino prize {i}\n"
        );
        std::fs::write(spam.join(format!("{i}.eml")), message).unwrap();
        let message =
            format!("From: team@work.example\nSubject: notes {i}\n\nmeeting agenda item {i}\n");
        std::fs::write(ham.join(format!("{i}.eml")), message).unwrap();
    }
    std::fs::write(spam.join(".hidden"), "not a message").unwrap();
    (
        spam.display().to_string(),
        root.join("ham").display().to_string(),
    )
}

#[test]
fn learn_prints_counts_and_totals() {
    let temp = tempfile::tempdir().unwrap();
    let (spam, ham) = write_messages(temp.path(), 3);
    let data = temp.path().join("data");

    let output = spam_learn(&data, &["--spam", &spam, "--ham", &ham]);
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    assert!(
        text.contains("spam: learned 3, already learned 0"),
        "{text}"
    );
    assert!(text.contains("ham: learned 3, already learned 0"), "{text}");
    assert!(text.contains("totals: nspam 3, nham 3"), "{text}");
    assert!(data.join("spam/bayes.db").is_file());
}

#[test]
fn learn_twice_counts_each_message_once() {
    let temp = tempfile::tempdir().unwrap();
    let (spam, ham) = write_messages(temp.path(), 2);
    let data = temp.path().join("data");
    spam_learn(&data, &["--spam", &spam, "--ham", &ham]);

    let output = spam_learn(&data, &["--spam", &spam, "--ham", &ham]);
    let text = stdout(&output);
    assert!(
        text.contains("spam: learned 0, already learned 2"),
        "{text}"
    );
    assert!(text.contains("totals: nspam 2, nham 2"), "{text}");
}

#[test]
fn learn_ham_as_spam_moves_messages() {
    let temp = tempfile::tempdir().unwrap();
    let (_, ham) = write_messages(temp.path(), 2);
    let data = temp.path().join("data");
    spam_learn(&data, &["--ham", &ham]);

    let output = spam_learn(&data, &["--spam", &ham]);
    let text = stdout(&output);
    assert!(text.contains("moved from the other class 2"), "{text}");
    assert!(text.contains("totals: nspam 2, nham 0"), "{text}");
}

#[test]
fn forget_removes_learned_messages() {
    let temp = tempfile::tempdir().unwrap();
    let (spam, ham) = write_messages(temp.path(), 2);
    let data = temp.path().join("data");
    spam_learn(&data, &["--spam", &spam, "--ham", &ham]);

    let output = spam_learn(&data, &["--forget", "--spam", &spam]);
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    assert!(text.contains("forgotten 2"), "{text}");
    assert!(text.contains("totals: nspam 0, nham 2"), "{text}");

    let output = spam_learn(&data, &["--forget", "--spam", &spam]);
    assert!(stdout(&output).contains("not learned before 2"));
}

#[test]
fn corrupt_store_fails_with_reason() {
    let temp = tempfile::tempdir().unwrap();
    let (spam, _) = write_messages(temp.path(), 1);
    let data = temp.path().join("data");
    std::fs::create_dir_all(data.join("spam")).unwrap();
    std::fs::write(data.join("spam/bayes.db"), b"RMBAYES\x01 truncated").unwrap();

    let output = spam_learn(&data, &["--spam", &spam]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(error.contains("invalid bayes store"), "{error}");
}

#[test]
fn missing_directories_is_usage_error() {
    let temp = tempfile::tempdir().unwrap();
    let output = spam_learn(temp.path(), &[]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
}

#[test]
fn unreadable_directory_fails() {
    let temp = tempfile::tempdir().unwrap();
    let missing = temp.path().join("no-such-dir").display().to_string();
    let output = spam_learn(temp.path(), &["--spam", &missing]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(error.contains("cannot read directory"), "{error}");
}

/// Rules that show which Bayes band a message falls in.
const BAYES_BAND_RULES: &str = "body BAYES_50 eval:check_bayes('0.40', '0.60')\n\
score BAYES_50 0.8\n\
body BAYES_60 eval:check_bayes('0.60', '0.80')\nscore BAYES_60 1.5\n\
body BAYES_80 eval:check_bayes('0.80', '0.95')\nscore BAYES_80 2.0\n\
body BAYES_95 eval:check_bayes('0.95', '0.99')\nscore BAYES_95 3.0\n\
body BAYES_99 eval:check_bayes('0.99', '1.00')\nscore BAYES_99 3.5\n";

/// Returns `spam check --json` output for `message` with the store in `data`.
fn check_json(data: &Path, rules: &Path, message: &Path) -> serde_json::Value {
    let output = Command::new(common::ringmail_bin())
        .arg("--data")
        .arg(data)
        .args(["spam", "check", "--json", "--rules"])
        .arg(rules)
        .arg(message)
        .output()
        .expect("ringmail runs");
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).expect("one JSON object")
}

#[test]
fn forget_undoes_learn() {
    let temp = tempfile::tempdir().unwrap();
    // The store classifies only after 200 spam and 200 ham were learned.
    let (spam, ham) = write_messages(temp.path(), 200);
    let data = temp.path().join("data");
    let rules = temp.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(rules.join("bayes.cf"), BAYES_BAND_RULES).unwrap();
    let extra = temp.path().join("extra");
    std::fs::create_dir(&extra).unwrap();
    for i in 0..50 {
        let message = format!("Subject: zebra {i}\n\nquokka zebra narwhal offer {i}\n");
        std::fs::write(extra.join(format!("{i}.eml")), message).unwrap();
    }
    let message = temp.path().join("message.eml");
    std::fs::write(&message, "Subject: zebra\n\nquokka zebra narwhal\n").unwrap();
    let extra = extra.display().to_string();

    spam_learn(&data, &["--spam", &spam, "--ham", &ham]);
    let before = check_json(&data, &rules, &message);
    let store = ringmail_spam::bayes::BayesStore::open(&data).unwrap();
    let (tokens_before, nspam_before) = (store.token_count(), store.nspam());
    drop(store);
    // No token of the message is known yet, so no Bayes band hits.
    assert_eq!(before["tests"], serde_json::json!([]), "{before}");

    let output = spam_learn(&data, &["--spam", &extra]);
    assert!(stdout(&output).contains("learned 50"), "{output:?}");
    // The message's words are now spam tokens, so a spam-side band hits.
    let learned = check_json(&data, &rules, &message);
    let spam_bands = ["BAYES_60", "BAYES_80", "BAYES_95", "BAYES_99"];
    let band = learned["tests"][0].as_str().unwrap_or_default();
    assert!(spam_bands.contains(&band), "{learned}");

    let output = spam_learn(&data, &["--forget", "--spam", &extra]);
    assert!(stdout(&output).contains("forgotten 50"), "{output:?}");
    let after = check_json(&data, &rules, &message);
    assert_eq!(after, before);
    let store = ringmail_spam::bayes::BayesStore::open(&data).unwrap();
    assert_eq!(store.token_count(), tokens_before);
    assert_eq!(store.nspam(), nspam_before);
}
