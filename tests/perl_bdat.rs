//! BDAT from a real CHUNKING client: Perl's Net::SMTP.
//!
//! `tests/clients/bdat_send.pl` sends a message with BODY=BINARYMIME in
//! fixed-size BDAT chunks, the last with BDAT LAST. The stored copy must
//! equal what was sent, after Ringmail's Received header, byte for byte.
//! BDAT carries the message as is, with no dot-stuffing, so a line that
//! starts with a dot, a lone dot line, NUL and 8-bit octets must survive.

mod common;

use std::fs;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{read_stored, repo_path, strip_received, wait_output, Server};

/// Maximum run time of the Perl client.
const SCRIPT_TIMEOUT_MS: u64 = 60_000;

#[test]
fn net_smtp_sends_in_bdat_chunks() {
    let server = Server::start(&[("alice", "secret")]);

    let mut message =
        b"From: perl@example.org\r\nTo: alice@localhost\r\nSubject: chunked\r\n\r\n".to_vec();
    for line in 0..200 {
        message.extend_from_slice(format!("line {line}: the quick brown fox\r\n").as_bytes());
    }
    message.extend_from_slice(
        b".a line that starts with a dot\r\n.\r\nbinary \x00\xff\xfe\r\nend\r\n",
    );
    let path = server.dir().join("message.eml");
    fs::write(&path, &message).expect("write the message file");

    let script = repo_path("tests/clients/bdat_send.pl");
    let child = Command::new("perl")
        .arg(&script)
        .arg(server.smtp_port.to_string())
        .args(["perl@example.org", "alice@localhost"])
        .arg(&path)
        .arg("1000")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("failed to run perl {}: {e}", script.display()));
    let output = wait_output(
        child,
        Duration::from_millis(SCRIPT_TIMEOUT_MS),
        "bdat_send.pl",
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("bdat send passed"),
        "bdat_send.pl exited with {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("sent in 7 chunks: 250 2.0.0 Ok: delivered as"),
        "stdout:\n{stdout}"
    );

    let files = server.maildir_files("alice");
    assert_eq!(files.len(), 1, "alice's Maildir: {files:?}");
    let stored = read_stored(&files[0]);
    let body = strip_received(&stored).expect("stored message starts with a Received header");
    assert_eq!(
        body,
        message.as_slice(),
        "stored message differs from the one sent"
    );
}
