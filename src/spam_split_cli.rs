//! `ringmail spam split --train|--test DIR`: list the messages of one half
//! of the corpus train/test split.
//!
//! DIR is the corpus as `tests/corpus/fetch.py` writes it: one directory per
//! group (easy-ham-1, spam-2, ...) holding one `.eml` file per message. The
//! command prints `LABEL<TAB>PATH` for every message that
//! `ringmail_spam::corpus_split::is_train` puts in the chosen set, where
//! LABEL is `spam` or `ham` after the group name, sorted by path. Scripts
//! use this list, so they split the corpus with the same function as the
//! Rust tests and benches.
//!
//! Only the group directories directly under DIR are read, so the walk is
//! bounded by [`GROUPS_MAX`] directories.

use std::path::{Path, PathBuf};

use clap::Args;
use ringmail_spam::corpus_split;

use crate::Failure;

/// Maximum group directories read under DIR. The corpus has five; the
/// limit keeps a wrong DIR (such as `/`) from listing a whole file system.
const GROUPS_MAX: usize = 64;

/// Arguments of `ringmail spam split`.
#[derive(Args)]
#[command(group = clap::ArgGroup::new("set").required(true))]
pub struct SplitArgs {
    /// The corpus directory, with one subdirectory per group.
    #[arg(value_name = "DIR")]
    corpus: PathBuf,
    /// List the training set.
    #[arg(long, group = "set")]
    train: bool,
    /// List the test set.
    #[arg(long, group = "set")]
    test: bool,
}

/// Runs `ringmail spam split`.
pub fn split(args: &SplitArgs) -> Result<(), Failure> {
    let groups = group_dirs(&args.corpus)?;
    let mut listed = Vec::new();
    for group in &groups {
        listed.extend(messages_in_set(group, args.train)?);
    }
    listed.sort_by(|left, right| left.1.cmp(&right.1));
    for (label, path) in listed {
        say!("{label}\t{}", path.display());
    }
    Ok(())
}

/// Returns the group directories directly under `corpus`, sorted.
fn group_dirs(corpus: &Path) -> Result<Vec<PathBuf>, Failure> {
    let entries = std::fs::read_dir(corpus).map_err(|error| {
        Failure::runtime(format!(
            "cannot read corpus directory {}: {error}",
            corpus.display()
        ))
    })?;
    let mut groups: Vec<PathBuf> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect();
    if groups.len() > GROUPS_MAX {
        return Err(Failure::runtime(format!(
            "{} has {} subdirectories, more than the maximum of {GROUPS_MAX} corpus groups",
            corpus.display(),
            groups.len()
        )));
    }
    groups.sort();
    Ok(groups)
}

/// Returns the label and path of each message of `group` in the training
/// set (`train`) or in the test set.
fn messages_in_set(group: &Path, train: bool) -> Result<Vec<(&'static str, PathBuf)>, Failure> {
    let group_name = group
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let label = if corpus_split::is_spam_group(&group_name) {
        "spam"
    } else {
        "ham"
    };
    let entries = std::fs::read_dir(group).map_err(|error| {
        Failure::runtime(format!(
            "cannot read corpus group {}: {error}",
            group.display()
        ))
    })?;

    let mut messages = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if !path.is_file() || file_name.starts_with('.') {
            continue;
        }
        if corpus_split::is_train(&file_name) == train {
            messages.push((label, path));
        }
    }
    Ok(messages)
}
