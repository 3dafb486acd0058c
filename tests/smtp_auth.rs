//! End-to-end tests of SMTP AUTH and the submission policy against the
//! built binary. swaks and Python's smtplib are the real clients. A raw
//! client covers the error paths: command order, cancel, bad base64,
//! overlong lines, sender ownership, the failure delay and the relay port.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{read_stored, Server, SmtpClient};

const ALICE: (&str, &str) = ("alice", "alice-password");
const BOB: (&str, &str) = ("bob", "bob-password");

/// base64 of `\0alice\0alice-password`, a valid PLAIN message.
const PLAIN_ALICE: &str = "AGFsaWNlAGFsaWNlLXBhc3N3b3Jk";
/// base64 of `\0alice\0wrong-password`.
const PLAIN_ALICE_WRONG: &str = "AGFsaWNlAHdyb25nLXBhc3N3b3Jk";
/// base64 of `bob\0alice\0alice-password`: authzid bob, authcid alice.
const PLAIN_ALICE_AS_BOB: &str = "Ym9iAGFsaWNlAGFsaWNlLXBhc3N3b3Jk";
/// base64 of `alice`, and of `alice-password`, for LOGIN.
const LOGIN_ALICE: &str = "YWxpY2U=";
const LOGIN_ALICE_PASSWORD: &str = "YWxpY2UtcGFzc3dvcmQ=";

/// Starts a server with a submission listener and returns it with the
/// submission port. `extra` adds `[submission]` keys, and the failure
/// delay starts at 200 ms unless `extra` sets it.
fn start_submission(extra: &str) -> (Server, u16) {
    let mut config = format!("[submission]\nauth_failure_delay_max_ms = 1000\n{extra}\n");
    if !extra.contains("auth_failure_delay_base_ms") {
        config.push_str("auth_failure_delay_base_ms = 200\n");
    }
    let server = Server::start_with_config(&[ALICE, BOB], Some(&config));
    let port = server.submission_port;
    (server, port)
}

fn connect(port: u16) -> SmtpClient {
    let (client, greeting) = SmtpClient::connect(port);
    assert_eq!(greeting.code, 220, "greeting: {greeting}");
    client
}

/// Connects to the submission port and authenticates as alice with PLAIN.
fn authenticated(port: u16) -> SmtpClient {
    let mut client = connect(port);
    client.ehlo("client.example");
    client
        .command(&format!("AUTH PLAIN {PLAIN_ALICE}"))
        .assert_status(235, "2.7.0", "AUTH PLAIN");
    client
}

fn has_auth_line(ehlo: &common::Reply) -> bool {
    ehlo.lines.iter().any(|line| line == "AUTH PLAIN LOGIN")
}

fn swaks(args: &[&str]) -> (bool, String) {
    let output = Command::new("swaks")
        .args(["--timeout", "30"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("failed to run swaks: {error}; is swaks installed?"));
    let transcript = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), transcript)
}

#[test]
fn swaks_plain_and_login_deliver() {
    let (server, port) = start_submission("");
    let target = format!("127.0.0.1:{port}");

    for mechanism in ["PLAIN", "LOGIN"] {
        let (ok, transcript) = swaks(&[
            "--server",
            &target,
            "--ehlo",
            "client.example",
            "--auth",
            mechanism,
            "--auth-user",
            "alice",
            "--auth-password",
            "alice-password",
            "--from",
            "alice@localhost",
            "--to",
            "bob@localhost",
        ]);
        assert!(ok, "swaks --auth {mechanism} failed:\n{transcript}");
        assert!(
            transcript.contains("235 2.7.0"),
            "{mechanism}: {transcript}"
        );
    }
    assert_eq!(server.maildir_count("bob"), 2);

    let stored = read_stored(&server.maildir_files("bob")[0]);
    let stored = String::from_utf8_lossy(&stored);
    assert!(stored.contains("with ESMTPA id"), "{stored}");
    assert!(!stored.contains("alice-password"), "{stored}");
    assert!(!server.stdout_text().contains("alice-password"));
    assert!(!server.stdout_text().contains(PLAIN_ALICE));
}

#[test]
fn swaks_wrong_password_gets_535() {
    let (server, port) = start_submission("");
    let target = format!("127.0.0.1:{port}");

    let (ok, transcript) = swaks(&[
        "--server",
        &target,
        "--auth",
        "PLAIN",
        "--auth-user",
        "alice",
        "--auth-password",
        "not-the-password",
        "--from",
        "alice@localhost",
        "--to",
        "bob@localhost",
    ]);
    assert!(!ok, "swaks with a wrong password succeeded:\n{transcript}");
    assert!(transcript.contains("535 5.7.8"), "{transcript}");
    assert_eq!(server.maildir_count("bob"), 0);
    assert!(!server.stdout_text().contains("not-the-password"));
}

/// Runs a Python smtplib script and returns its standard output.
fn python(script: &str) -> String {
    let output = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("failed to run python3: {error}"));
    assert!(
        output.status.success(),
        "python3 failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn smtplib_login_then_relay_to_the_spool() {
    let (server, port) = start_submission("");
    let script = format!(
        r#"
import smtplib
message = "From: alice@localhost\r\nSubject: t\r\n\r\nbody\r\n"
for mechanism in ["default", "PLAIN", "LOGIN"]:
    client = smtplib.SMTP("127.0.0.1", {port}, timeout=30)
    client.ehlo("client.example")
    if mechanism == "default":
        print("login", client.login("alice", "alice-password")[0])
    else:
        client.user, client.password = "alice", "alice-password"
        method = client.auth_plain if mechanism == "PLAIN" else client.auth_login
        print("auth", mechanism, client.auth(mechanism, method)[0])
    print("local", client.sendmail("alice@localhost", ["bob@localhost"], message))
    client.quit()

client = smtplib.SMTP("127.0.0.1", {port}, timeout=30)
client.login("alice", "alice-password")
try:
    client.sendmail("alice@localhost", ["someone@example.net"], message)
    print("remote accepted")
except smtplib.SMTPDataError as error:
    print("remote", error.smtp_code)
client.quit()
"#
    );
    let output = python(&script);
    assert!(output.contains("login 235"), "{output}");
    assert!(output.contains("auth PLAIN 235"), "{output}");
    assert!(output.contains("auth LOGIN 235"), "{output}");
    assert_eq!(output.matches("local {}").count(), 3, "{output}");
    assert!(output.contains("remote accepted"), "{output}");
    assert_eq!(server.maildir_count("bob"), 3);

    // The relayed message waits in the spool until relay exists.
    let listing_text = server.queue_list();
    assert!(
        listing_text
            .contains("to someone@example.net (pending, remote delivery not available yet)"),
        "queue list:\n{listing_text}"
    );
}

#[test]
fn failure_delay_grows_per_client_ip() {
    let (_server, port) = start_submission("");
    let mut elapsed = Vec::new();
    for _ in 0..3 {
        // A new connection each time: the count is per IP, not per connection.
        let mut client = connect(port);
        client.ehlo("client.example");
        let start = Instant::now();
        let reply = client.command(&format!("AUTH PLAIN {PLAIN_ALICE_WRONG}"));
        elapsed.push(start.elapsed());
        reply.assert_status(535, "5.7.8", "wrong password");
        client.quit();
    }
    // Delays are 0, 200 and 400 ms. Only lower bounds are checked: the
    // server sleeps at least that long, while the password check itself can
    // take any time on a loaded machine.
    assert!(elapsed[1] >= Duration::from_millis(200), "{elapsed:?}");
    assert!(elapsed[2] >= Duration::from_millis(400), "{elapsed:?}");
}

#[test]
fn failures_per_connection_close_with_421() {
    let (_server, port) = start_submission("auth_failure_delay_base_ms = 0");
    let mut client = connect(port);
    client.ehlo("client.example");
    for _ in 0..2 {
        client
            .command(&format!("AUTH PLAIN {PLAIN_ALICE_WRONG}"))
            .assert_status(535, "5.7.8", "wrong password");
    }
    client
        .command(&format!("AUTH PLAIN {PLAIN_ALICE_WRONG}"))
        .assert_status(421, "4.7.0", "third wrong password");
    assert!(client.try_read_reply().is_err(), "connection stayed open");
}

#[test]
fn relay_port_offers_no_auth_and_denies_relay() {
    let (server, _port) = start_submission("");
    let mut client = server.smtp();
    let ehlo = client.ehlo("client.example");
    assert!(!has_auth_line(&ehlo), "relay port offered AUTH: {ehlo}");
    client
        .command(&format!("AUTH PLAIN {PLAIN_ALICE}"))
        .assert_status(503, "5.5.1", "AUTH on the relay port");
    client
        .command("MAIL FROM:<alice@localhost>")
        .assert_status(250, "2.1.0", "MAIL");
    client
        .command("RCPT TO:<someone@example.net>")
        .assert_status(554, "5.7.1", "remote RCPT on the relay port");
}

#[test]
fn submission_requires_auth_and_owned_sender() {
    let (_server, port) = start_submission("");
    let mut client = connect(port);
    let ehlo = client.ehlo("client.example");
    assert!(
        has_auth_line(&ehlo),
        "loopback submission lacks AUTH: {ehlo}"
    );
    client
        .command("MAIL FROM:<alice@localhost>")
        .assert_status(530, "5.7.0", "MAIL without AUTH");

    let mut client = authenticated(port);
    // (MAIL line, expected code, expected enhanced code)
    let cases = [
        ("MAIL FROM:<bob@localhost>", 553, "5.7.1"),
        ("MAIL FROM:<alice@example.net>", 553, "5.7.1"),
        ("MAIL FROM:<>", 553, "5.7.1"),
        ("MAIL FROM:<alice+tag@localhost>", 250, "2.1.0"),
    ];
    for (line, code, enhanced) in cases {
        let reply = client.command(line);
        reply.assert_status(code, enhanced, line);
        if code == 553 && line.contains("bob") {
            assert!(
                reply
                    .text()
                    .contains("sender address not owned by user alice"),
                "{reply}"
            );
        }
    }
    client
        .command("RCPT TO:<someone@example.net>")
        .assert_status(250, "2.1.5", "remote RCPT after AUTH");
}

#[test]
fn sender_check_can_be_disabled() {
    let (_server, port) = start_submission("sender_must_match = false");
    let mut client = authenticated(port);
    client.command("MAIL FROM:<bob@localhost>").assert_status(
        250,
        "2.1.0",
        "foreign sender with sender_must_match off",
    );
}

#[test]
fn auth_order_and_mechanism_errors() {
    let (_server, port) = start_submission("");

    let mut client = connect(port);
    // Before EHLO replies carry no enhanced status codes.
    let reply = client.command(&format!("AUTH PLAIN {PLAIN_ALICE}"));
    assert_eq!(reply.code, 503, "AUTH before EHLO: {reply}");
    client.ehlo("client.example");
    client
        .command("AUTH CRAM-MD5")
        .assert_status(504, "5.5.4", "unknown mechanism");
    client
        .command(&format!("AUTH PLAIN {PLAIN_ALICE_AS_BOB}"))
        .assert_status(535, "5.7.8", "authzid other than authcid");
    client
        .command(&format!("AUTH PLAIN {PLAIN_ALICE}"))
        .assert_status(235, "2.7.0", "AUTH PLAIN");
    client
        .command(&format!("AUTH PLAIN {PLAIN_ALICE}"))
        .assert_status(503, "5.5.1", "AUTH twice");

    let mut client = authenticated(port);
    client
        .command("MAIL FROM:<alice@localhost>")
        .assert_status(250, "2.1.0", "MAIL");
    let reply = client.command(&format!("AUTH PLAIN {PLAIN_ALICE}"));
    reply.assert_status(503, "5.5.1", "AUTH during a transaction");
    assert!(reply.text().contains("transaction"), "{reply}");
}

#[test]
fn sasl_cancel_bad_base64_and_overlong_line() {
    let (_server, port) = start_submission("");
    let mut client = connect(port);
    client.ehlo("client.example");

    let challenge = client.command("AUTH PLAIN");
    assert_eq!(challenge.code, 334, "{challenge}");
    client
        .command("*")
        .assert_status(501, "5.7.0", "cancel with *");

    client.command("AUTH PLAIN not*base64").assert_status(
        501,
        "5.5.2",
        "bad base64 initial response",
    );

    assert_eq!(client.command("AUTH LOGIN").code, 334);
    client
        .command("%%%")
        .assert_status(501, "5.5.2", "bad base64 LOGIN user name");

    assert_eq!(client.command("AUTH PLAIN").code, 334);
    let overlong = "A".repeat(20_000);
    client
        .command(&overlong)
        .assert_status(500, "5.5.6", "overlong SASL line");
    client
        .command("NOOP")
        .assert_status(250, "2.0.0", "NOOP after the overlong line");

    // LOGIN step by step, with the RFC challenges.
    let username = client.command("AUTH LOGIN");
    assert_eq!(username.code, 334);
    assert_eq!(username.text(), "VXNlcm5hbWU6");
    let password = client.command(LOGIN_ALICE);
    assert_eq!(password.code, 334);
    assert_eq!(password.text(), "UGFzc3dvcmQ6");
    client
        .command(LOGIN_ALICE_PASSWORD)
        .assert_status(235, "2.7.0", "AUTH LOGIN");
}

#[test]
fn plaintext_auth_off_gets_538() {
    let (_server, port) = start_submission("allow_plaintext_auth_loopback = false");
    let mut client = connect(port);
    let ehlo = client.ehlo("client.example");
    assert!(!has_auth_line(&ehlo), "AUTH offered without TLS: {ehlo}");
    client
        .command(&format!("AUTH PLAIN {PLAIN_ALICE}"))
        .assert_status(538, "5.7.11", "AUTH without TLS");
}

#[test]
fn pipelined_auth_plain_then_mail() {
    // RFC 4954 lets PLAIN with an initial response sit inside a pipelined
    // group, so the MAIL after it must see the authenticated session.
    let (_server, port) = start_submission("");
    let mut client = connect(port);
    client.ehlo("client.example");
    client.send_raw(
        format!("AUTH PLAIN {PLAIN_ALICE}\r\nMAIL FROM:<alice@localhost>\r\nRCPT TO:<bob@localhost>\r\n")
            .as_bytes(),
    );
    client
        .read_reply()
        .assert_status(235, "2.7.0", "pipelined AUTH");
    client
        .read_reply()
        .assert_status(250, "2.1.0", "pipelined MAIL");
    client
        .read_reply()
        .assert_status(250, "2.1.5", "pipelined RCPT");
}
