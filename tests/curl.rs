//! End-to-end test with curl as the SMTP and IMAP client.
//!
//! curl uploads one message over SMTP, lists mailboxes over IMAP, EXAMINEs
//! INBOX with a custom request and fetches the message by UID; the fetched
//! bytes must equal the uploaded file once the server's Received header is
//! stripped. Every curl run has `--max-time` [`CURL_TIMEOUT_S`] so a hung
//! server fails the test instead of hanging it.

mod common;

use std::process::{Command, Output, Stdio};

use common::{preview, strip_received, Server};

/// `--max-time` of each curl run, in seconds.
const CURL_TIMEOUT_S: u32 = 30;

/// The uploaded file: CRLF line ends, because curl sends SMTP uploads as they
/// are unless `--crlf` is given, and a line starting with a dot, which curl
/// must dot-stuff and the server must unstuff.
const MESSAGE: &[u8] = b"From: curl <sender@localhost>\r\n\
To: alice@localhost\r\n\
Subject: uploaded with curl\r\n\
\r\n\
Hello from curl.\r\n\
.this line starts with a dot\r\n\
\r\n\
Bye.\r\n";

fn curl(args: &[&str]) -> Output {
    let output = Command::new("curl")
        .args([
            "--silent",
            "--show-error",
            "--max-time",
            &CURL_TIMEOUT_S.to_string(),
        ])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("failed to run curl {args:?}: {e}; is curl installed?"));
    assert!(
        output.status.success(),
        "curl {args:?} exited with {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    output
}

#[test]
fn curl_sends_lists_and_fetches() {
    let server = Server::start(&[("alice", "alice-password")]);
    let message_path = server.dir().join("message.eml");
    std::fs::write(&message_path, MESSAGE).expect("write the message file");
    let smtp_url = format!("smtp://127.0.0.1:{}/client.test", server.smtp_port);
    let imap_root = format!("imap://127.0.0.1:{}", server.imap_port);
    let login = "alice:alice-password";

    curl(&[
        &smtp_url,
        "--mail-from",
        "sender@localhost",
        "--mail-rcpt",
        "alice@localhost",
        "--upload-file",
        message_path.to_str().expect("utf-8 temp path"),
    ]);
    assert_eq!(
        server.maildir_count("alice"),
        1,
        "messages in alice's Maildir after curl's upload"
    );

    let list = curl(&[&format!("{imap_root}/"), "-u", login]);
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(
        list.lines()
            .any(|line| line.starts_with("* LIST") && line.contains("INBOX")),
        "LIST output lacks INBOX:\n{list}"
    );

    let examine = curl(&[
        &format!("{imap_root}/INBOX"),
        "-u",
        login,
        "-X",
        "EXAMINE INBOX",
    ]);
    let examine = String::from_utf8_lossy(&examine.stdout);
    assert!(
        examine.lines().any(|line| line.trim_end() == "* 1 EXISTS"),
        "EXAMINE INBOX output lacks '* 1 EXISTS':\n{examine}"
    );

    let fetched = curl(&[&format!("{imap_root}/INBOX;UID=1"), "-u", login]);
    let body = strip_received(&fetched.stdout).unwrap_or_else(|| {
        panic!(
            "fetched message does not start with Received: {}",
            preview(&fetched.stdout)
        )
    });
    assert_eq!(
        String::from_utf8_lossy(body),
        String::from_utf8_lossy(MESSAGE),
        "message fetched by curl differs from the uploaded file"
    );
}

#[test]
fn curl_login_with_wrong_password_fails() {
    let server = Server::start(&[("alice", "alice-password")]);

    let output = Command::new("curl")
        .args(["--silent", "--max-time", &CURL_TIMEOUT_S.to_string()])
        .arg(format!("imap://127.0.0.1:{}/", server.imap_port))
        .args(["-u", "alice:wrong-password"])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("failed to run curl: {e}; is curl installed?"));

    // curl exits 67 (CURLE_LOGIN_DENIED) when the server rejects the login.
    assert_eq!(
        output.status.code(),
        Some(67),
        "curl with a wrong password: {}",
        output.status
    );
}
