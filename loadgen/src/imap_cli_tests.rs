use clap::Parser;

use super::*;
use crate::cli::{Cli, Command};

fn plan(args: &[&str]) -> Result<ImapPlan, UsageError> {
    let mut argv = vec!["ringmail-loadgen", "imap", "--target", "127.0.0.1:1143"];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(argv).expect("arguments parse");
    match cli.command {
        Command::Imap(args) => args.validate(),
        other => panic!("expected the imap subcommand, got {other:?}"),
    }
}

#[test]
fn defaults_with_one_user() {
    let plan = plan(&["--user", "alice", "--pass", "secret"]).unwrap();
    assert_eq!(plan.protocol, Protocol::Imap);
    assert_eq!(plan.connections, 10);
    assert_eq!(plan.amount, SessionAmount::Sessions(SESSIONS_DEFAULT));
    assert_eq!(plan.users.len(), 1);
    assert_eq!(plan.users[0].user, "alice");
    assert_eq!(plan.mix, Mix::default_for(Protocol::Imap));
}

#[test]
fn pop3_mix_override() {
    let plan = plan(&[
        "--user",
        "a",
        "--pass",
        "p",
        "--pop3",
        "--mix",
        "retr=0, commit=100",
    ])
    .unwrap();
    assert_eq!(plan.protocol, Protocol::Pop3);
    assert_eq!(plan.mix.percent("retr"), 0);
    assert_eq!(plan.mix.percent("commit"), 100);
    assert_eq!(plan.mix.percent("uidl"), 100);
}

#[test]
fn invalid_values_are_rejected() {
    let cases: &[&[&str]] = &[
        &["--user", "a", "--pass", "p", "--connections", "0"],
        &["--user", "a", "--pass", "p", "--sessions", "0"],
        &["--user", "a", "--pass", "p", "--duration", "0"],
        &["--user", "a", "--pass", "p", "--mix", "store=101"],
        &["--user", "a", "--pass", "p", "--mix", "retr=50"],
        &["--user", "a", "--pass", "p", "--pop3", "--mix", "append=50"],
        &["--user", "a", "--pass", "p", "--mix", "store"],
        &["--user", "a b", "--pass", "p"],
        &["--user", "", "--pass", "p"],
        &["--user", "a", "--pass", "p\r\nQUIT"],
    ];
    for args in cases {
        assert!(plan(args).is_err(), "{args:?} was accepted");
    }
}

#[test]
fn users_file_lines() {
    let users = parse_users("# test users\nalice:one\n\nbob:two:with colon\r\n").unwrap();
    assert_eq!(users.len(), 2);
    assert_eq!(users[1].user, "bob");
    assert_eq!(users[1].password, "two:with colon");
}

#[test]
fn users_file_errors_name_the_line() {
    let cases: &[(&str, &str)] = &[
        ("alice:one\nbob\n", "line 2"),
        (":nopass\n", "line 1"),
        ("# only a comment\n", "no user:password"),
    ];
    for &(text, expected) in cases {
        let error = parse_users(text).unwrap_err();
        assert!(error.contains(expected), "{text:?}: {error}");
    }
}

#[test]
fn password_stays_out_of_debug_output() {
    let credentials = Credentials {
        user: "alice".to_string(),
        password: "hunter2".to_string(),
    };
    assert!(!format!("{credentials:?}").contains("hunter2"));
}
