//! `ringmail spam learn`: train or untrain the Bayes store from directories
//! of messages.
//!
//! `--spam DIR` and `--ham DIR` name directories in which each regular
//! file is one message. Subdirectories are read too, up to `DIR_DEPTH_MAX`
//! levels, so a Maildir's cur/ and new/ both count. Files whose names start
//! with "." are skipped. With `--forget` the messages are removed
//! from the store instead. The store is `<data>/spam/bayes.db` and is
//! written once, atomically, after all files are read. The command prints,
//! per class, how many messages were learned, already learned, moved from
//! the other class, forgotten, not found and skipped, then the store totals.

use std::path::{Path, PathBuf};

use clap::Args;
use ringmail_spam::bayes::{BayesStore, Label, LearnOutcome};

use crate::Failure;

/// Maximum directory depth read below each `--spam` or `--ham` directory,
/// so that a symlink loop or a deep tree cannot make the walk unbounded.
const DIR_DEPTH_MAX: usize = 4;

/// Maximum message file length in bytes. Longer files are skipped, because
/// each message is read whole into memory. 32 MiB matches the prepare
/// stage's total decoded maximum.
const MESSAGE_LEN_MAX: u64 = 32 * 1024 * 1024;

/// Arguments of `ringmail spam learn`.
#[derive(Args)]
pub struct LearnArgs {
    /// Directory of spam messages, one message per file.
    #[arg(long, value_name = "DIR")]
    spam: Option<PathBuf>,
    /// Directory of ham (non-spam) messages, one message per file.
    #[arg(long, value_name = "DIR")]
    ham: Option<PathBuf>,
    /// Remove the messages from the store instead of learning them.
    #[arg(long)]
    forget: bool,
}

/// Counts of what happened to the messages of one class.
#[derive(Default)]
struct Counts {
    learned: usize,
    already_learned: usize,
    relearned: usize,
    forgotten: usize,
    not_learned: usize,
    skipped: usize,
}

/// Runs `ringmail spam learn`.
pub fn learn(data: &Path, args: &LearnArgs) -> Result<(), Failure> {
    if args.spam.is_none() && args.ham.is_none() {
        return Err(Failure::usage(
            "spam learn needs --spam DIR, --ham DIR or both",
        ));
    }
    let mut store = BayesStore::open(data).map_err(|error| Failure::runtime(error.to_string()))?;

    let classes = [
        (Label::Spam, "spam", &args.spam),
        (Label::Ham, "ham", &args.ham),
    ];
    for (label, name, dir) in classes {
        let Some(dir) = dir else {
            continue;
        };
        let counts = learn_dir(&mut store, dir, label, args.forget)?;
        say!(
            "{name}: learned {}, already learned {}, moved from the other class {}, \
             forgotten {}, not learned before {}, skipped {}",
            counts.learned,
            counts.already_learned,
            counts.relearned,
            counts.forgotten,
            counts.not_learned,
            counts.skipped
        );
    }

    store
        .save()
        .map_err(|error| Failure::runtime(error.to_string()))?;
    say!(
        "totals: nspam {}, nham {}, tokens {}",
        store.nspam(),
        store.nham(),
        store.token_count()
    );
    Ok(())
}

fn learn_dir(
    store: &mut BayesStore,
    dir: &Path,
    label: Label,
    forget: bool,
) -> Result<Counts, Failure> {
    let mut files = Vec::new();
    collect_files(dir, 0, &mut files)?;
    files.sort();

    let mut counts = Counts::default();
    for file in files {
        let raw = match read_message(&file) {
            Ok(raw) => raw,
            Err(reason) => {
                tracing::warn!(path = %file.display(), %reason, "message file skipped");
                counts.skipped += 1;
                continue;
            }
        };
        let outcome = if forget {
            store.forget(&raw)
        } else {
            store
                .learn(&raw, label)
                .map_err(|error| Failure::runtime(error.to_string()))?
        };
        match outcome {
            LearnOutcome::Learned => counts.learned += 1,
            LearnOutcome::AlreadyLearned => counts.already_learned += 1,
            LearnOutcome::Relearned => counts.relearned += 1,
            LearnOutcome::Forgotten => counts.forgotten += 1,
            LearnOutcome::NotLearned => counts.not_learned += 1,
        }
    }
    Ok(counts)
}

fn read_message(file: &Path) -> Result<Vec<u8>, String> {
    let len = std::fs::metadata(file)
        .map_err(|error| error.to_string())?
        .len();
    if len > MESSAGE_LEN_MAX {
        return Err(format!(
            "length {len} exceeds the maximum of {MESSAGE_LEN_MAX}"
        ));
    }
    std::fs::read(file).map_err(|error| error.to_string())
}

fn collect_files(dir: &Path, depth: usize, files: &mut Vec<PathBuf>) -> Result<(), Failure> {
    let entries = std::fs::read_dir(dir).map_err(|error| {
        Failure::runtime(format!("cannot read directory {}: {error}", dir.display()))
    })?;
    for entry in entries {
        let entry = entry.map_err(|error| {
            Failure::runtime(format!("cannot read directory {}: {error}", dir.display()))
        })?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        // Follows symlinks, so a link to a message file counts.
        let Ok(metadata) = std::fs::metadata(&path) else {
            continue;
        };
        if metadata.is_file() {
            files.push(path);
        } else if metadata.is_dir() && depth < DIR_DEPTH_MAX {
            collect_files(&path, depth + 1, files)?;
        }
    }
    Ok(())
}
