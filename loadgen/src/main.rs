//! `ringmail-loadgen`: the command-line entry point of the load generator.
//!
//! Prints the figures of the run on stdout as plain text, and as JSON to the
//! `--json` file. Exit status: 0 when at least one message was accepted (or,
//! for `imap`, one session completed), 1 when none was or the run failed, 2
//! for invalid arguments.

use std::process::ExitCode;

use clap::Parser;
use ringmail_loadgen::cli::{Cli, Command, SmtpArgs};
use ringmail_loadgen::smtp;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit status for a run that failed or in which no message was accepted.
pub(crate) const EXIT_FAILURE: u8 = 1;

/// Exit status for invalid arguments, the same as clap's parse errors.
pub(crate) const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Smtp(args) => run_smtp(args),
        Command::Imap(args) => run_imap(args),
        Command::Sink(args) => sink_commands::run_sink(args),
        Command::Verify(args) => sink_commands::run_verify(args),
    }
}

fn run_smtp(args: SmtpArgs) -> ExitCode {
    let plan = match args.validate() {
        Ok(plan) => plan,
        Err(error) => return fail(EXIT_USAGE, &error),
    };

    let report = match smtp::run(&plan) {
        Ok(report) => report,
        Err(error) => return fail(EXIT_FAILURE, &error),
    };
    print!("{}", report.to_text());

    if let Some(path) = &plan.json {
        let json = serde_json::to_string_pretty(&report).expect("the report serializes");
        if let Err(error) = std::fs::write(path, json + "\n") {
            let message = format!("cannot write JSON report {}: {error}", path.display());
            return fail(EXIT_FAILURE, &message);
        }
    }

    if report.accepted == 0 {
        return fail(EXIT_FAILURE, &"no message was accepted");
    }
    ExitCode::SUCCESS
}

mod sink_commands;

/// Runs the IMAP or POP3 load. Exit status 1 when no session completed.
fn run_imap(args: ringmail_loadgen::imap_cli::ImapArgs) -> ExitCode {
    let plan = match args.validate() {
        Ok(plan) => plan,
        Err(error) => return fail(EXIT_USAGE, &error),
    };

    let report = match ringmail_loadgen::imap::run(&plan) {
        Ok(report) => report,
        Err(error) => return fail(EXIT_FAILURE, &error),
    };
    print!("{}", report.to_text());

    if let Some(path) = &plan.json {
        let json = serde_json::to_string_pretty(&report).expect("the report serializes");
        if let Err(error) = std::fs::write(path, json + "\n") {
            let message = format!("cannot write JSON report {}: {error}", path.display());
            return fail(EXIT_FAILURE, &message);
        }
    }

    if report.sessions_completed == 0 {
        return fail(EXIT_FAILURE, &"no session completed");
    }
    ExitCode::SUCCESS
}

pub(crate) fn fail(status: u8, message: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("ringmail-loadgen: {message}");
    ExitCode::from(status)
}
