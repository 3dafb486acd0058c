//! End-to-end runs of `ringmail-loadgen smtp` against a real `ringmail serve`
//! on loopback ports, checking the printed counts against the Maildirs.
//!
//! The server binary is not a dependency of this package, so cargo does not
//! build it for these tests: run `cargo build -p ringmail` first. It is looked
//! up in `$CARGO_TARGET_DIR/debug`, or else in the workspace's `target/debug`.

mod common;

use common::{free_loopback_addr, loadgen, stdout_of, Server};

use std::collections::HashSet;
use std::path::Path;

/// Returns the X-Loadgen-Id of every message in `dir`, asserting each has one.
fn loadgen_ids(dir: &Path) -> Vec<String> {
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read Maildir new/") {
        let path = entry.expect("directory entry").path();
        let message = std::fs::read_to_string(&path).expect("read message");
        let id = message
            .lines()
            .find_map(|line| line.strip_prefix("X-Loadgen-Id: "))
            .unwrap_or_else(|| panic!("{} has no X-Loadgen-Id", path.display()));
        ids.push(id.trim_end().to_string());
    }
    ids
}

fn assert_distinct_ids(dir: &Path, count: usize) -> HashSet<String> {
    let ids = loadgen_ids(dir);
    assert_eq!(ids.len(), count, "files in {}", dir.display());
    let distinct: HashSet<String> = ids.into_iter().collect();
    assert_eq!(
        distinct.len(),
        count,
        "distinct X-Loadgen-Id in {}",
        dir.display()
    );
    distinct
}

#[test]
fn two_rcpts_fill_both_maildirs() {
    let server = Server::start(&["postmaster", "alice"]);
    let out_dir = tempfile::tempdir().expect("create output dir");
    let ack_log = out_dir.path().join("acks.txt");
    let json = out_dir.path().join("report.json");
    let target = server.smtp.to_string();

    let output = loadgen(&[
        "smtp",
        "--target",
        &target,
        "--connections",
        "4",
        "--messages",
        "200",
        "--rcpts",
        "2",
        "--per-connection",
        "30",
        "--size",
        "2000",
        "--to",
        "postmaster@localhost",
        "--to",
        "alice@localhost",
        "--ack-log",
        ack_log.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    let stdout = stdout_of(&output);
    assert!(
        output.status.success(),
        "exit status {:?}: {stdout}",
        output.status
    );
    assert!(stdout.contains("messages sent: 200\n"), "{stdout}");
    assert!(stdout.contains("accepted: 200\n"), "{stdout}");
    assert!(stdout.contains("rejected: 0\n"), "{stdout}");
    assert!(stdout.contains("recipients rejected: 0\n"), "{stdout}");
    assert!(stdout.contains("connection errors: 0\n"), "{stdout}");

    let postmaster_ids = assert_distinct_ids(&server.inbox_new("postmaster"), 200);
    let alice_ids = assert_distinct_ids(&server.inbox_new("alice"), 200);
    assert_eq!(
        postmaster_ids, alice_ids,
        "both recipients got the same messages"
    );

    let acked: HashSet<String> = std::fs::read_to_string(&ack_log)
        .expect("read ack log")
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(acked, alice_ids, "ack log lists every stored message");

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("read JSON report"))
            .expect("valid JSON");
    assert_eq!(report["accepted"], 200);
    assert_eq!(report["message_ms"]["count"], 200);
    let opened = report["connections_opened"]
        .as_u64()
        .expect("connections_opened is a number");
    assert!(
        opened >= 7,
        "200 messages at 30 per connection need 7 sessions, got {opened}"
    );

    server.stop();
}

#[test]
fn pipelined_run_is_accepted() {
    let server = Server::start(&["postmaster", "alice"]);
    let target = server.smtp.to_string();

    let output = loadgen(&[
        "smtp",
        "--target",
        &target,
        "--connections",
        "3",
        "--messages",
        "60",
        "--pipelining",
        "--to",
        "alice@localhost",
        "--to",
        "nobody@localhost",
    ]);
    let stdout = stdout_of(&output);
    assert!(
        output.status.success(),
        "exit status {:?}: {stdout}",
        output.status
    );
    assert!(stdout.contains("accepted: 60\n"), "{stdout}");
    assert!(
        stdout.contains("recipients rejected: 60\n  550: 60\n"),
        "{stdout}"
    );
    assert_distinct_ids(&server.inbox_new("alice"), 60);

    server.stop();
}

#[test]
fn unknown_recipient_counts_550() {
    let server = Server::start(&["postmaster"]);
    let target = server.smtp.to_string();

    for pipelining in [false, true] {
        let mut args = vec![
            "smtp",
            "--target",
            &target,
            "--connections",
            "2",
            "--messages",
            "40",
            "--to",
            "nobody@localhost",
        ];
        if pipelining {
            args.push("--pipelining");
        }
        let output = loadgen(&args);
        let stdout = stdout_of(&output);
        assert_eq!(
            output.status.code(),
            Some(1),
            "no message accepted: {stdout}"
        );
        assert!(stdout.contains("accepted: 0\n"), "{stdout}");
        assert!(stdout.contains("rejected: 40\n  550: 40\n"), "{stdout}");
        assert!(stdout.contains("connection errors: 0\n"), "{stdout}");
    }
    assert!(
        !server.inbox_new("nobody").exists(),
        "no Maildir for an unknown user"
    );

    server.stop();
}

#[test]
fn refused_connections_end_the_run() {
    let target = free_loopback_addr().to_string();
    let output = loadgen(&[
        "smtp",
        "--target",
        &target,
        "--connections",
        "2",
        "--messages",
        "5",
    ]);
    let stdout = stdout_of(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("messages sent: 0\n"), "{stdout}");
    assert!(
        stdout.contains("connection errors: 10\n  connect: 10"),
        "{stdout}"
    );
}

#[test]
fn bad_arguments_exit_2() {
    let cases: &[&[&str]] = &[
        &["smtp", "--target", "127.0.0.1:1", "--connections", "0"],
        &["smtp", "--target", "127.0.0.1:1", "--size", "1"],
        &["smtp", "--target", "127.0.0.1:1", "--no-such-option"],
        &[
            "smtp",
            "--target",
            "127.0.0.1:1",
            "--messages",
            "5",
            "--duration",
            "5",
        ],
        &["smtp", "--connections", "1"],
        &["smtp", "--target", "no-port"],
    ];
    for args in cases {
        let output = loadgen(args);
        assert_eq!(output.status.code(), Some(2), "args {args:?}");
        assert!(output.stdout.is_empty(), "args {args:?}: nothing on stdout");
        assert!(
            !output.stderr.is_empty(),
            "args {args:?}: an error on stderr"
        );
    }
}
