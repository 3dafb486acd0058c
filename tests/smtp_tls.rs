//! End-to-end tests of SMTP over TLS: STARTTLS on the relay and submission
//! ports, implicit TLS on the submission-TLS port, REQUIRETLS, the server
//! certificate, and the attacks STARTTLS invites.
//!
//! Real clients do the TLS: swaks (`--tls` for STARTTLS, `--tlsc` for
//! implicit TLS) and Python's smtplib through `tests/clients/smtp_tls.py`.
//! The raw [`SmtpClient`] covers the plaintext side of the attacks: commands
//! pipelined after STARTTLS (CVE-2011-0411) and bytes that are not a TLS
//! ClientHello. Every wait is bounded by the harness's socket timeouts and by
//! [`CLIENT_TIMEOUT_MS`] for the client programs.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{free_ports, read_stored, repo_path, run_ringmail, wait_output, Server, SmtpClient};

/// Maximum run time of one swaks or Python client run. Each needs about a
/// second against a local server; the bound only catches a hung server.
const CLIENT_TIMEOUT_MS: u64 = 60_000;

const USERS: &[(&str, &str)] = &[("alice", "alice-password")];

/// Runs a client program to completion and returns its stdout, failing the
/// test with the transcript when it exits non-zero.
fn run_client(program: &str, args: &[&str]) -> String {
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("failed to run {program}: {error}; is it installed?"));
    let output = wait_output(child, Duration::from_millis(CLIENT_TIMEOUT_MS), program);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{program} {args:?} exited with {}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn swaks(port: u16, tls_flag: &str, subject: &str) -> String {
    swaks_with(port, tls_flag, subject, &["--from", "sender@localhost"])
}

/// Runs swaks as alice with AUTH LOGIN, as submission requires.
fn swaks_auth(port: u16, tls_flag: &str, subject: &str) -> String {
    swaks_with(
        port,
        tls_flag,
        subject,
        &[
            "--from",
            "alice@localhost",
            "--auth",
            "LOGIN",
            "--auth-user",
            "alice",
            "--auth-password",
            "alice-password",
        ],
    )
}

fn swaks_with(port: u16, tls_flag: &str, subject: &str, extra: &[&str]) -> String {
    let target = format!("127.0.0.1:{port}");
    let header = format!("Subject: {subject}");
    let mut args = vec![
        "--timeout",
        "30",
        "--server",
        &target,
        tls_flag,
        "--to",
        "alice@localhost",
        "--header",
        &header,
    ];
    args.extend_from_slice(extra);
    run_client("swaks", &args)
}

fn python_tls(args: &[&str]) -> String {
    let script = repo_path("tests/clients/smtp_tls.py");
    let script = script.to_str().expect("script path is UTF-8");
    let mut full = vec!["-u", script];
    full.extend_from_slice(args);
    run_client("python3", &full)
}

/// Returns the stored message whose Subject is `subject`, with its header.
fn stored_with_subject(server: &Server, subject: &str) -> String {
    let needle = format!("Subject: {subject}");
    for path in server.maildir_files("alice") {
        let text = String::from_utf8_lossy(&read_stored(&path)).into_owned();
        if text.contains(&needle) {
            return text;
        }
    }
    panic!("no stored message with {needle:?} for alice");
}

/// Asserts that the first Received field records that the message came over TLS.
fn assert_received_over_tls(stored: &str) {
    let received_end = stored.find(";").expect("Received field ends with ';'");
    let received = &stored[..received_end];
    assert!(received.starts_with("Received: "), "{stored}");
    assert!(
        received.contains("with ESMTPS id") || received.contains("with ESMTPSA id"),
        "{received}"
    );
    assert!(received.contains("(using TLSv1."), "{received}");
    assert!(received.contains(" with cipher TLS_"), "{received}");
}

/// Returns whether the server's log (stderr) contains `needle` within
/// five seconds; the server logs after it replies.
fn wait_log(server: &Server, needle: &str) -> bool {
    for _ in 0..100 {
        if server.stderr_text().contains(needle) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Reads until the server closes the connection and returns what arrived.
/// Panics if the server keeps the connection open past the socket timeout.
fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return bytes,
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => return bytes,
            Err(error) => panic!("server did not close the connection: {error}"),
        }
    }
}

#[test]
fn swaks_starttls_on_relay_and_submission() {
    let server = Server::start(USERS);

    let transcript = swaks(server.smtp_port, "--tls", "relay starttls");
    assert!(
        transcript.contains("TLS started with cipher"),
        "{transcript}"
    );
    assert!(
        transcript.contains("250 2.0.0 Ok: delivered as"),
        "{transcript}"
    );
    assert_received_over_tls(&stored_with_subject(&server, "relay starttls"));

    let transcript = swaks_auth(server.submission_port, "--tls", "submission starttls");
    assert!(
        transcript.contains("TLS started with cipher"),
        "{transcript}"
    );
    assert!(
        transcript.contains("235 2.7.0 Authentication successful"),
        "{transcript}"
    );
    assert_received_over_tls(&stored_with_subject(&server, "submission starttls"));
}

#[test]
fn swaks_implicit_tls_on_submission_tls() {
    let server = Server::start(USERS);
    let transcript = swaks_auth(server.submission_tls_port, "--tlsc", "implicit tls");
    assert!(
        transcript.contains("TLS started with cipher"),
        "{transcript}"
    );
    assert!(
        transcript.contains("250 2.0.0 Ok: delivered as"),
        "{transcript}"
    );
    assert_received_over_tls(&stored_with_subject(&server, "implicit tls"));
}

#[test]
fn smtplib_starttls_keywords_and_requiretls() {
    let server = Server::start(USERS);
    let port = server.smtp_port.to_string();
    let stdout = python_tls(&["starttls", "--port", &port]);
    assert!(stdout.contains("starttls passed"), "{stdout}");
    assert_received_over_tls(&stored_with_subject(&server, "starttls requiretls"));
}

#[test]
fn smtplib_smtp_ssl_on_submission_tls() {
    let server = Server::start(USERS);
    let port = server.submission_tls_port.to_string();
    let stdout = python_tls(&["implicit", "--port", &port]);
    assert!(stdout.contains("implicit passed"), "{stdout}");
    assert_received_over_tls(&stored_with_subject(&server, "implicit tls"));
}

#[test]
fn smtplib_starttls_then_login_on_submission() {
    let server = Server::start_with_config(
        USERS,
        Some("[submission]\nallow_plaintext_auth_loopback = false\n"),
    );
    let port = server.submission_port.to_string();
    let stdout = python_tls(&["submission", "--port", &port, "--no-plaintext-auth"]);
    assert!(stdout.contains("AUTH before TLS: 538"), "{stdout}");
    assert!(stdout.contains("submission passed"), "{stdout}");
    let stored = stored_with_subject(&server, "submission starttls login");
    let received = &stored[..stored.find(';').expect("Received field ends with ';'")];
    assert!(received.contains("with ESMTPSA id"), "{received}");
}

#[test]
fn auth_before_starttls_is_forgotten() {
    let server = Server::start(USERS);
    let port = server.submission_port.to_string();
    let stdout = python_tls(&["auth-reset", "--port", &port]);
    assert!(stdout.contains("MAIL after STARTTLS: 530"), "{stdout}");
    assert!(stdout.contains("auth-reset passed"), "{stdout}");
}

#[test]
fn relay_without_starttls_does_not_offer_it() {
    let server = Server::start_with_config(USERS, Some("[smtp]\nstarttls = false\n"));
    let mut client = server.smtp();
    let ehlo = client.ehlo("client.example");
    assert!(!ehlo.text().contains("STARTTLS"), "{ehlo}");
    client
        .command("STARTTLS")
        .assert_status(502, "5.5.1", "STARTTLS where not offered");

    let (mut submission, _) = SmtpClient::connect(server.submission_port);
    let ehlo = submission.ehlo("client.example");
    assert!(ehlo.text().contains("STARTTLS"), "submission: {ehlo}");
}

#[test]
fn requiretls_over_plaintext_rejected() {
    let server = Server::start(USERS);
    let mut client = server.smtp();
    let ehlo = client.ehlo("client.example");
    assert!(ehlo.text().contains("STARTTLS"), "{ehlo}");
    assert!(!ehlo.text().contains("REQUIRETLS"), "{ehlo}");
    client
        .command("MAIL FROM:<sender@localhost> REQUIRETLS")
        .assert_status(530, "5.7.10", "REQUIRETLS in plaintext");
    client
        .command("MAIL FROM:<sender@localhost>")
        .assert_status(250, "2.1.0", "MAIL after the rejected one");
}

#[test]
fn starttls_with_parameter_rejected() {
    let server = Server::start(USERS);
    let mut client = server.smtp();
    client.ehlo("client.example");
    client
        .command("STARTTLS now")
        .assert_status(501, "5.5.4", "STARTTLS with a parameter");
    client
        .command("NOOP")
        .assert_status(250, "2.0.0", "session after the 501");
}

#[test]
fn pipelined_command_after_starttls_rejected() {
    let server = Server::start(USERS);
    let mut client = server.smtp();
    client.ehlo("client.example");

    // One write: the MAIL must not survive into the TLS session.
    client.send_raw(b"STARTTLS\r\nMAIL FROM:<x@y>\r\n");
    let reply = client.read_reply();
    reply.assert_status(554, "5.5.0", "STARTTLS with a pipelined command");
    assert!(reply.text().contains("pipelined"), "{reply}");
    let after = client.try_read_reply();
    assert!(
        after.is_err(),
        "server replied after rejecting STARTTLS: {after:?}"
    );
    assert!(
        wait_log(&server, "commands pipelined after STARTTLS"),
        "rejection not logged; stderr:\n{}",
        server.stderr_text()
    );

    let mut next = server.smtp();
    next.ehlo("next.example");
    next.quit();
}

#[test]
fn garbage_instead_of_client_hello_closes_session() {
    let server = Server::start(USERS);
    let (mut raw, _) = SmtpClient::connect(server.smtp_port);
    raw.ehlo("raw.example");
    raw.send_line("STARTTLS");
    raw.read_reply().assert_status(220, "2.0.0", "STARTTLS");
    raw.send_raw(b"this is not a tls client hello\r\n\r\n");
    let after = raw.try_read_reply();
    assert!(after.is_err(), "server replied in plaintext: {after:?}");
    drop(raw);

    let mut next = server.smtp();
    next.ehlo("next.example");
    next.quit();
}

#[test]
fn client_closing_during_handshake_leaves_server_up() {
    let server = Server::start(USERS);
    let mut stream = TcpStream::connect(("127.0.0.1", server.submission_tls_port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    // A TLS record header that announces a handshake record, then garbage.
    stream
        .write_all(&[0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5])
        .unwrap();
    read_until_closed(&mut stream);

    let stdout = python_tls(&[
        "implicit",
        "--port",
        &server.submission_tls_port.to_string(),
    ]);
    assert!(stdout.contains("implicit passed"), "{stdout}");
}

#[test]
fn submission_connection_counts_against_smtp_limit() {
    let server = Server::start_with_config(USERS, Some("[smtp]\nconnections_max = 1\n"));
    // The harness's readiness probes may still hold their permits briefly.
    std::thread::sleep(Duration::from_millis(300));
    let (mut submission, greeting) = SmtpClient::connect(server.submission_port);
    assert_eq!(greeting.code, 220, "submission greeting: {greeting}");

    let (_, rejected) = SmtpClient::connect(server.smtp_port);
    assert_eq!(
        rejected.code, 421,
        "relay greeting while submission is open: {rejected}"
    );
    submission.quit();
}

#[test]
fn generated_certificate_reused_after_restart() {
    let mut server = Server::start(USERS);
    let cert_path = server.data_dir().join("tls/cert.pem");
    let key_path = server.data_dir().join("tls/key.pem");
    let first = fs::read(&cert_path).expect("first start writes tls/cert.pem");
    assert!(key_path.exists(), "first start writes tls/key.pem");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&key_path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "key file mode");
    }

    let port = server.submission_tls_port.to_string();
    let pem = cert_path.to_str().unwrap().to_string();
    let stdout = python_tls(&["peer-cert", "--port", &port, "--pem", &pem]);
    assert!(stdout.contains("peer-cert passed"), "{stdout}");

    server.restart();
    let second = fs::read(&cert_path).unwrap();
    assert_eq!(first, second, "restart generated a new certificate");
    let stdout = python_tls(&["peer-cert", "--port", &port, "--pem", &pem]);
    assert!(stdout.contains("peer-cert passed"), "{stdout}");
}

#[test]
fn configured_pem_files_are_served() {
    // The first server's generated certificate serves as a configured one.
    let donor = Server::start(USERS);
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("chain.pem");
    let key = dir.path().join("private.pem");
    fs::copy(donor.data_dir().join("tls/cert.pem"), &cert).unwrap();
    fs::copy(donor.data_dir().join("tls/key.pem"), &key).unwrap();
    drop(donor);

    let config = format!(
        "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
        cert.display(),
        key.display()
    );
    let server = Server::start_with_config(USERS, Some(&config));
    assert!(
        !server.data_dir().join("tls/cert.pem").exists(),
        "a certificate was generated although one is configured"
    );
    let port = server.submission_tls_port.to_string();
    let stdout = python_tls(&[
        "peer-cert",
        "--port",
        &port,
        "--pem",
        cert.to_str().unwrap(),
    ]);
    assert!(stdout.contains("peer-cert passed"), "{stdout}");
}

#[test]
fn broken_pem_fails_start() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("broken-cert.pem");
    let key = dir.path().join("broken-key.pem");
    fs::write(
        &cert,
        "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let config_path = dir.path().join("ringmail.toml");
    let config = format!(
        "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
        cert.display(),
        key.display()
    );
    fs::write(&config_path, config).unwrap();

    let ports = free_ports::<4>().map(|port| format!("127.0.0.1:{port}"));
    let data = dir.path().join("data");
    let output = run_ringmail(
        &[
            "serve",
            "--data",
            data.to_str().unwrap(),
            "--config",
            config_path.to_str().unwrap(),
            "--smtp",
            &ports[0],
            "--imap",
            &ports[1],
            "--submission",
            &ports[2],
            "--submission-tls",
            &ports[3],
        ],
        None,
        dir.path(),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "server started with a broken certificate"
    );
    assert!(stderr.contains("broken-cert.pem"), "{stderr}");
}
