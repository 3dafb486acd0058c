//! Ringmail's embedded rule set as the default when SpamAssassin's rules
//! are not installed: `spam rules`, `spam check` and `spam serve` run
//! without `--rules` in a private mount namespace where empty tmpfs mounts
//! hide `/usr/share/spamassassin`, `/etc/spamassassin` and
//! `/var/lib/spamassassin`. The mounts never reach the rest of the machine,
//! because `unshare --mount` makes the new namespace's mounts private.
//!
//! The tests need root and `unshare`; without them they print why and pass.
//! The server listens on 127.0.0.1 only.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Script that hides SpamAssassin's directories, then runs its arguments.
const HIDE_SPAMASSASSIN: &str = "for dir in /usr/share/spamassassin /etc/spamassassin \
/var/lib/spamassassin; do if [ -d \"$dir\" ]; then mount -t tmpfs tmpfs \"$dir\" || exit 97; fi; done; \
exec \"$@\"";

/// Exit status of the script when a mount fails.
const MOUNT_FAILED_STATUS: i32 = 97;

/// Maximum time for the server to accept connections after its start.
const START_TIMEOUT_MS: u64 = 20_000;

/// A message that the embedded rules flag for its missing Date and
/// Message-Id fields.
const NO_DATE: &str = "From: a@example.com\nTo: b@example.org\nSubject: hello\n\nhi\n";

/// Returns a command that runs `ringmail ARGS` with SpamAssassin hidden,
/// or `None` when this process cannot create a mount namespace.
fn hidden_ringmail(args: &[&str]) -> Option<Command> {
    let probe = Command::new("unshare")
        .args(["--mount", "true"])
        .stderr(Stdio::null())
        .status();
    if !probe.is_ok_and(|status| status.success()) {
        eprintln!("skipped: `unshare --mount` failed (needs root and util-linux)");
        return None;
    }
    let mut command = Command::new("unshare");
    command
        .args(["--mount", "sh", "-c", HIDE_SPAMASSASSIN, "sh"])
        .arg(common::ringmail_bin())
        .args(args);
    Some(command)
}

fn run_hidden(args: &[&str], stdin_text: &str) -> Option<Output> {
    let mut command = hidden_ringmail(args)?;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("unshare runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin_text.as_bytes())
        .unwrap();
    let output = common::wait_output(child, Duration::from_secs(60), "hidden ringmail");
    assert_ne!(
        output.status.code(),
        Some(MOUNT_FAILED_STATUS),
        "mount failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(output)
}

#[test]
fn rules_stats_name_embedded_set() {
    let Some(output) = run_hidden(&["spam", "rules", "--stats"], "") else {
        return;
    };
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(text.contains("rules from: embedded ringmail.cf"), "{text}");
    assert!(text.contains("warnings: 0"), "{text}");
}

#[test]
fn check_scores_with_embedded_set() {
    let Some(output) = run_hidden(&["spam", "check", "--json", "-"], NO_DATE) else {
        return;
    };
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let object: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("one JSON object");
    let tests = object["tests"].as_array().unwrap();
    assert!(tests.iter().any(|name| name == "RM_NO_DATE"), "{object}");
    assert!(
        tests.iter().any(|name| name == "RM_NO_MESSAGE_ID"),
        "{object}"
    );
}

/// Stops the server when the test ends, pass or fail.
struct ServerGuard(Child);

impl Drop for ServerGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_scores_with_embedded_set() {
    let data = tempfile::tempdir().unwrap();
    let [port] = common::free_ports::<1>();
    let listen = format!("127.0.0.1:{port}");
    let data_arg = data.path().display().to_string();
    let args = ["--data", &data_arg, "spam", "serve", "--listen", &listen];
    let Some(mut command) = hidden_ringmail(&args) else {
        return;
    };
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("unshare runs");
    let _server = ServerGuard(child);

    let deadline = Instant::now() + Duration::from_millis(START_TIMEOUT_MS);
    let mut stream = loop {
        if let Ok(stream) = TcpStream::connect(("127.0.0.1", port)) {
            break stream;
        }
        assert!(
            Instant::now() < deadline,
            "spam serve did not listen on port {port} within {START_TIMEOUT_MS} ms"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let request = format!(
        "SYMBOLS SPAMC/1.5\r\nContent-length: {}\r\n\r\n{NO_DATE}",
        NO_DATE.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();

    assert!(reply.starts_with("SPAMD/1.5 0 EX_OK"), "{reply}");
    let symbols = reply.split("\r\n\r\n").nth(1).unwrap_or_default();
    assert!(symbols.contains("RM_NO_DATE"), "{reply}");
}
