//! Prints the Bayes spam probability and BAYES_xx rule of message files.
//!
//! Usage: `cargo run -p ringmail-spam --example bayes_probability -- DATA FILE...`
//! where DATA is a Ringmail data directory whose `spam/bayes.db` was
//! trained with `ringmail spam learn`. Each output line is the file name,
//! the probability (or "none" while the store is untrained) and the rule,
//! in the form `tests/spam/compare_bayes.sh` compares with SpamAssassin.

use std::path::Path;
use std::process::ExitCode;

use ringmail_spam::bayes::{bayes_rule, BayesStore};
use ringmail_spam::prepare::Prepared;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((data, files)) = args.split_first() else {
        eprintln!("usage: bayes_probability DATA FILE...");
        return ExitCode::from(2);
    };
    let store = match BayesStore::open(Path::new(data)) {
        Ok(store) => store,
        Err(error) => {
            eprintln!("bayes_probability: {error}");
            return ExitCode::FAILURE;
        }
    };
    for file in files {
        let raw = match std::fs::read(file) {
            Ok(raw) => raw,
            Err(error) => {
                eprintln!("bayes_probability: cannot read {file}: {error}");
                return ExitCode::FAILURE;
            }
        };
        match store.probability(&Prepared::new(&raw)) {
            Some(p) => println!("{file}\t{p:.4}\t{}", bayes_rule(p)),
            None => println!("{file}\tnone\t-"),
        }
    }
    ExitCode::SUCCESS
}
