//! End-to-end test with Python's stdlib mail clients (smtplib, imaplib).
//!
//! `tests/clients/smtp_imap_roundtrip.py` does the protocol work and the byte
//! comparison. This file starts the server and runs the script with the ports,
//! the data dir and two users. It fails with the script's output when the
//! script exits non-zero. The script has [`SCRIPT_TIMEOUT_MS`] to finish, far more
//! than the second or so it needs, so only a hung server trips it.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{repo_path, wait_output, Server};

/// Maximum run time of the Python client script.
const SCRIPT_TIMEOUT_MS: u64 = 120_000;

#[test]
fn smtplib_and_imaplib_round_trip() {
    let server = Server::start(&[("alice", "alice-password"), ("bob", "b0b:secret")]);
    let script = repo_path("tests/clients/smtp_imap_roundtrip.py");

    let child = Command::new("python3")
        .arg("-u")
        .arg(&script)
        .args(["--smtp-port", &server.smtp_port.to_string()])
        .args(["--imap-port", &server.imap_port.to_string()])
        .arg("--data")
        .arg(server.data_dir())
        .args(["--alice", "alice:alice-password", "--bob", "bob:b0b:secret"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "failed to run python3 {}: {e}; is python3 installed?",
                script.display()
            )
        });
    let output = wait_output(
        child,
        Duration::from_millis(SCRIPT_TIMEOUT_MS),
        "smtp_imap_roundtrip.py",
    );

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "smtp_imap_roundtrip.py exited with {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("round trip passed"),
        "script did not report success:\n{stdout}"
    );
}
