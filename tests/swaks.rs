//! End-to-end test with swaks, the SMTP test tool named in the README: a
//! plain send, and a pipelined send with two recipients.

mod common;

use std::process::{Command, Stdio};

use common::{strip_received, Server};

fn swaks(args: &[&str]) -> String {
    let output = Command::new("swaks")
        .args(["--timeout", "30"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| {
            panic!("failed to run swaks: {error}; is swaks installed? (tests/run installs it)")
        });
    let transcript = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "swaks {args:?} exited with {}\n{transcript}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    transcript
}

#[test]
fn swaks_plain_and_pipelined_sends() {
    let server = Server::start(&[("alice", "alice-password"), ("bob", "bob-password")]);
    let target = format!("127.0.0.1:{}", server.smtp_port);

    let transcript = swaks(&[
        "--server",
        &target,
        "--from",
        "sender@localhost",
        "--to",
        "alice@localhost",
        "--header",
        "Subject: from swaks",
        "--body",
        "plain send",
    ]);
    assert!(
        transcript.contains("<-  250 2.0.0 Ok: delivered as"),
        "{transcript}"
    );

    let transcript = swaks(&[
        "--server",
        &target,
        "--pipeline",
        "--from",
        "sender@localhost",
        "--to",
        "alice@localhost,bob@localhost",
        "--body",
        "pipelined send",
    ]);
    assert!(transcript.contains("PIPELINING"), "{transcript}");
    assert!(
        transcript.contains("250 2.0.0 Ok: delivered as"),
        "{transcript}"
    );

    assert_eq!(server.maildir_count("alice"), 2, "alice's messages");
    assert_eq!(server.maildir_count("bob"), 1, "bob's messages");

    let bodies: Vec<Vec<u8>> = server
        .maildir_files("alice")
        .iter()
        .map(|path| common::read_stored(path))
        .collect();
    let found = bodies.iter().any(|stored| {
        let message = strip_received(stored).expect("stored copy starts with Received");
        String::from_utf8_lossy(message).contains("Subject: from swaks")
    });
    assert!(found, "no stored copy carries the swaks subject");
}
