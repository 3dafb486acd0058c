//! The `sink` and `verify` subcommands of the binary: argument checks, the
//! run and the exit status.
//!
//! `sink` exits 0 after a stop, 1 when it could not run, 2 for invalid
//! arguments. `verify` exits 0 when nothing was lost, 1 when an
//! acknowledged message is missing, 2 for invalid arguments or unreadable
//! files.

use std::process::ExitCode;

use ringmail_loadgen::sink_cli::{SinkArgs, VerifyArgs};
use ringmail_loadgen::{sink, verify};

use crate::{fail, EXIT_FAILURE, EXIT_USAGE};

/// Runs the sink until it is stopped and prints its counts.
pub fn run_sink(args: SinkArgs) -> ExitCode {
    let plan = match args.validate() {
        Ok(plan) => plan,
        Err(error) => return fail(EXIT_USAGE, &error),
    };
    match sink::run(&plan) {
        Ok(report) => {
            print!("{}", report.to_text());
            ExitCode::SUCCESS
        }
        Err(error) => fail(EXIT_FAILURE, &error),
    }
}

/// Compares acknowledged and delivered ids and prints the result.
pub fn run_verify(args: VerifyArgs) -> ExitCode {
    let plan = match args.validate() {
        Ok(plan) => plan,
        Err(error) => return fail(EXIT_USAGE, &error),
    };
    let verification = match verify::run(&plan) {
        Ok(verification) => verification,
        Err(error) => return fail(EXIT_USAGE, &error),
    };
    print!("{}", verification.to_text());
    if verification.lost.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILURE)
    }
}
