//! End-to-end tests of the SMTP connection limits of `ringmail serve`:
//! `messages_per_connection_max`, `connections_max`, `connections_per_ip_max`
//! and the pre-greeting talker check behind `greet_pause_ms`.
//!
//! Each test ends with a full transaction on a new connection that must end
//! in 250 with the message in the Maildir, because a limit must reject the
//! offending connection and cost nothing else.
//!
//! The harness checks that the server is up by connecting and closing at
//! once, and each probe session keeps a connection slot until the server
//! reads its end of stream. [`connect_admitted`] therefore retries a 421 for
//! a short while, which also covers the moment between a QUIT and the
//! release of its slot.

mod common;

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use common::{Reply, Server, SmtpClient};

/// Time a freed connection slot may take to become free on the server.
const SLOT_RELEASE_WAIT_MS: u64 = 3_000;

/// `[smtp] greet_pause_ms` of the talker test server.
const GREET_PAUSE_MS: u64 = 300;

const SENDER: &str = "sender@localhost";
const ALICE: &str = "alice@localhost";

fn start(config: &str) -> Server {
    Server::start_with_config(&[("alice", "alice-password")], Some(config))
}

/// Connects until the server sends a 220 instead of a 421, for at most
/// [`SLOT_RELEASE_WAIT_MS`].
fn connect_admitted(server: &Server, context: &str) -> SmtpClient {
    let deadline = Instant::now() + Duration::from_millis(SLOT_RELEASE_WAIT_MS);
    loop {
        let (client, greeting) = SmtpClient::connect(server.smtp_port);
        if greeting.code == 220 {
            return client;
        }
        assert_eq!(greeting.code, 421, "{context}: greeting {greeting}");
        assert!(
            Instant::now() < deadline,
            "{context}: still 421 after {SLOT_RELEASE_WAIT_MS} ms: {greeting}"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// Asserts that the server closed the connection after its last reply.
fn assert_closed(client: &mut SmtpClient, context: &str) {
    match client.try_read_reply() {
        Ok(reply) => panic!("{context}: expected end of stream, got {reply}"),
        Err(error) => assert!(
            matches!(
                error.kind(),
                io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
            ),
            "{context}: expected end of stream, got {error}"
        ),
    }
}

/// Runs one transaction on a new connection, which must end in 250 and add a
/// message to alice's Maildir: proof that the server still serves.
fn assert_server_serves(server: &Server, context: &str) {
    let before = server.maildir_count("alice");
    let mut client = connect_admitted(server, context);
    client.ehlo("client.example");
    let reply = client.transaction(SENDER, &[ALICE], b"Subject: proof\r\n\r\nstill serving\r\n");
    assert_eq!(
        reply.code, 250,
        "{context}: transaction afterwards: {reply}"
    );
    client.quit();
    assert_eq!(
        server.maildir_count("alice"),
        before + 1,
        "{context}: message after 250 not in Maildir"
    );
}

/// Asserts a 421 4.7.0 with `text` and the close that follows it.
fn assert_rejected(mut client: SmtpClient, greeting: Reply, text: &str, context: &str) {
    greeting.assert_status(421, "4.7.0", context);
    assert!(
        greeting.text().contains(text),
        "{context}: expected {text:?} in {greeting}"
    );
    assert_closed(&mut client, context);
}

#[test]
fn third_mail_over_message_limit_closes() {
    let server = start("[smtp]\nmessages_per_connection_max = 2\n");
    let mut client = connect_admitted(&server, "first connection");
    client.ehlo("client.example");

    for index in 1..=2 {
        let body = format!("Subject: message {index}\r\n\r\nbody\r\n");
        let reply = client.transaction(SENDER, &[ALICE], body.as_bytes());
        assert_eq!(reply.code, 250, "message {index}: {reply}");
    }
    let reply = client.command(&format!("MAIL FROM:<{SENDER}>"));
    reply.assert_status(421, "4.7.0", "third MAIL");
    assert!(
        reply
            .text()
            .contains("too many messages in this connection"),
        "third MAIL: {reply}"
    );
    assert_closed(&mut client, "after the third MAIL");
    assert_eq!(
        server.maildir_count("alice"),
        2,
        "messages before the limit"
    );

    assert_server_serves(&server, "new connection after the message limit");
}

#[test]
fn rset_loop_counts_toward_message_limit() {
    let server = start("[smtp]\nmessages_per_connection_max = 2\n");
    let mut client = connect_admitted(&server, "first connection");
    client.ehlo("client.example");

    for index in 1..=2 {
        let reply = client.command(&format!("MAIL FROM:<{SENDER}>"));
        assert_eq!(reply.code, 250, "MAIL {index}: {reply}");
        let reply = client.command("RSET");
        assert_eq!(reply.code, 250, "RSET {index}: {reply}");
    }
    let reply = client.command(&format!("MAIL FROM:<{SENDER}>"));
    reply.assert_status(421, "4.7.0", "third MAIL after RSETs");
    assert_closed(&mut client, "after the third MAIL");

    assert_server_serves(&server, "new connection after the message limit");
}

#[test]
fn third_connection_from_one_ip_rejected() {
    let server = start("[smtp]\nconnections_per_ip_max = 2\n");
    let mut first = connect_admitted(&server, "first connection");
    let second = connect_admitted(&server, "second connection");

    let (third, greeting) = SmtpClient::connect(server.smtp_port);
    assert_rejected(
        third,
        greeting,
        "too many connections from 127.0.0.1",
        "third connection",
    );

    first.quit();
    assert_server_serves(&server, "connection after the first quit");
    drop(second);
}

#[test]
fn fourth_connection_over_total_rejected() {
    let server = start("[smtp]\nconnections_max = 3\n");
    let mut held = Vec::new();
    for index in 1..=3 {
        held.push(connect_admitted(&server, &format!("connection {index}")));
    }

    let (fourth, greeting) = SmtpClient::connect(server.smtp_port);
    assert_rejected(
        fourth,
        greeting,
        "too many connections",
        "fourth connection",
    );

    held.remove(0).quit();
    assert_server_serves(&server, "connection after one quit");
}

#[test]
fn rejected_connection_releases_no_slot() {
    let server = start("[smtp]\nconnections_per_ip_max = 1\n");
    let mut first = connect_admitted(&server, "first connection");
    for attempt in 1..=5 {
        let (client, greeting) = SmtpClient::connect(server.smtp_port);
        let context = format!("rejected attempt {attempt}");
        assert_rejected(client, greeting, "too many connections", &context);
    }

    first.quit();
    assert_server_serves(&server, "connection after the rejected attempts");
}

#[test]
fn imap_not_limited_by_smtp_connections() {
    let server = start("[smtp]\nconnections_max = 1\n");
    let _smtp = connect_admitted(&server, "smtp connection");
    let _imap_first = server.imap();
    let _imap_second = server.imap();
}

#[test]
fn ehlo_before_greeting_gets_554() {
    let server = start(&format!("[smtp]\ngreet_pause_ms = {GREET_PAUSE_MS}\n"));

    let mut talker = TcpStream::connect(("127.0.0.1", server.smtp_port)).expect("connect");
    talker
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("set read timeout");
    talker
        .write_all(b"EHLO talker.example\r\n")
        .expect("send EHLO at once");
    let received = read_until_close(&mut talker);
    assert_eq!(
        String::from_utf8_lossy(&received),
        "554 5.5.0 protocol error: talked before the greeting\r\n",
        "reply to a client that talked first"
    );

    let logged = wait_stderr_line(&server, "talked before the greeting");
    let logged = logged.expect("talker event not logged");
    assert!(
        logged.contains("127.0.0.1"),
        "log line lacks the peer: {logged}"
    );

    let started = Instant::now();
    assert_server_serves(&server, "polite client after the talker");
    assert!(
        started.elapsed() >= Duration::from_millis(GREET_PAUSE_MS),
        "greeting came before greet_pause_ms"
    );
}

/// Waits up to 5 seconds for a line of the server's log (on stderr) that
/// contains `needle`.
fn wait_stderr_line(server: &Server, needle: &str) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = server.stderr_text();
        if let Some(line) = text.lines().find(|line| line.contains(needle)) {
            return Some(line.to_owned());
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Reads until the server closes, for at most the read timeout.
fn read_until_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return received,
            Ok(count) => received.extend_from_slice(&chunk[..count]),
            Err(error) if error.kind() == io::ErrorKind::ConnectionReset => return received,
            Err(error) => panic!("reading the reply failed: {error}; got {received:?}"),
        }
    }
}
