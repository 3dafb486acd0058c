//! End-to-end tests of `ringmail spam split`: the two halves cover every
//! message once, labels follow the group name, and a missing set flag or
//! corpus directory is an error.

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn spam_split(args: &[&str]) -> Output {
    Command::new(common::ringmail_bin())
        .args(["spam", "split"])
        .args(args)
        .output()
        .expect("ringmail runs")
}

/// Writes 40 messages into two groups, spam-1 and easy-ham-1, under `root`.
fn write_corpus(root: &Path) {
    for group in ["spam-1", "easy-ham-1"] {
        let dir = root.join(group);
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..20 {
            std::fs::write(dir.join(format!("{i:05}.{group}.eml")), "Subject: x\n\nx\n").unwrap();
        }
        std::fs::write(dir.join(".hidden"), "not a message").unwrap();
    }
}

fn lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn split_halves_cover_corpus_once() {
    let root = tempfile::tempdir().unwrap();
    write_corpus(root.path());
    let corpus = root.path().to_str().unwrap();

    let train = spam_split(&["--train", corpus]);
    let test = spam_split(&["--test", corpus]);
    assert!(train.status.success(), "{train:?}");
    assert!(test.status.success(), "{test:?}");

    let mut all: Vec<String> = lines(&train).into_iter().chain(lines(&test)).collect();
    assert_eq!(all.len(), 40);
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 40);
    for line in &all {
        let (label, path) = line.split_once('\t').expect("label and path");
        let expected = if path.contains("/spam-1/") {
            "spam"
        } else {
            "ham"
        };
        assert_eq!(label, expected, "{line}");
        assert!(!path.ends_with(".hidden"), "{line}");
    }
}

#[test]
fn split_without_set_flag_fails() {
    let root = tempfile::tempdir().unwrap();
    let output = spam_split(&[root.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn split_of_missing_directory_fails() {
    let output = spam_split(&["--test", "/nonexistent/ringmail-corpus"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot read corpus directory"), "{stderr}");
}
