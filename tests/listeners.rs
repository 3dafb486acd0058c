//! End-to-end tests of the listening sockets: a second server on a port in
//! use fails to start, and a stopping server refuses new connections at once
//! while its open sessions finish.

mod common;

use std::net::TcpStream;
use std::time::Duration;

use common::{run_ringmail, Server, SmtpClient};

#[test]
fn second_server_on_busy_port_fails() {
    let server = Server::start(&[]);
    let other = tempfile::tempdir().unwrap();
    let data = other.path().join("data");
    let smtp = format!("127.0.0.1:{}", server.smtp_port);
    let imap = format!("127.0.0.1:{}", server.imap_port);

    let output = run_ringmail(
        &[
            "serve",
            "--data",
            data.to_str().unwrap(),
            "--smtp",
            &smtp,
            "--imap",
            &imap,
        ],
        None,
        other.path(),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "second server exit status\n{stderr}"
    );
    assert!(
        stderr.contains(&format!("cannot listen on {smtp}")),
        "{stderr}"
    );
    assert!(stderr.contains("Address already in use"), "{stderr}");

    // The first server still takes mail.
    let (_, greeting) = SmtpClient::connect(server.smtp_port);
    assert_eq!(greeting.code, 220);
}

#[test]
fn stopping_server_refuses_new_connections() {
    let mut server = Server::start(&[("alice", "alice-password")]);

    // A transaction in progress keeps the server in its grace period.
    let (mut client, _) = SmtpClient::connect(server.smtp_port);
    client.ehlo("client.test");
    client
        .command("MAIL FROM:<sender@localhost>")
        .assert_status(250, "2.1.0", "MAIL");
    server.signal(libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(500));

    let attempt = TcpStream::connect_timeout(
        &format!("127.0.0.1:{}", server.smtp_port).parse().unwrap(),
        Duration::from_secs(3),
    );
    let error = attempt.expect_err("a new connection during shutdown must be refused");
    assert_eq!(
        error.kind(),
        std::io::ErrorKind::ConnectionRefused,
        "{error}"
    );

    // The open transaction still completes.
    client
        .command("RCPT TO:<alice@localhost>")
        .assert_status(250, "2.1.5", "RCPT");
    let reply = client.command("DATA");
    assert_eq!(reply.code, 354, "DATA during shutdown");
    let reply = client.send_data(b"Subject: during shutdown\r\n\r\nbody\r\n");
    reply.assert_status(250, "2.0.0", "DATA during shutdown");
    let status = server.wait_exit();
    assert!(status.success(), "exit status {status}");
    assert_eq!(server.maildir_count("alice"), 1);
}
