//! End-to-end tests of the header limits that `ringmail serve` applies at end
//! of data: `[smtp] received_max` (mail loops) and `header_size_max`.
//!
//! Both limits count what the client sent. The server prepends its own
//! Received header, so with the default `received_max = 100` a message that
//! arrives with 100 Received fields is stored (with 101), and one with 101 is
//! rejected with `554 5.4.6` and stores nothing. After each rejection the
//! same session must deliver a normal message with 250.

mod common;

use common::{Server, SmtpClient};

const SENDER: &str = "sender@localhost";
const ALICE: &str = "alice@localhost";

/// `[smtp] header_size_max` of the server in the header size test, in octets.
const HEADER_SIZE_MAX: usize = 4096;

/// Builds a message that arrives with `received` Received fields.
fn message_with_received(received: usize) -> Vec<u8> {
    let mut message = Vec::new();
    for hop in 0..received {
        message.extend_from_slice(
            format!(
                "Received: from hop{hop}.example.org by hop{}.example.org\r\n",
                hop + 1
            )
            .as_bytes(),
        );
    }
    message.extend_from_slice(b"From: sender@localhost\r\nSubject: hops\r\n\r\nbody\r\n");
    message
}

/// Builds a message whose header is `header_len` octets long.
fn message_with_header_len(header_len: usize) -> Vec<u8> {
    let fixed = b"Subject: big\r\nX-Filler: \r\n".len();
    let mut message = b"Subject: big\r\nX-Filler: ".to_vec();
    message.extend(std::iter::repeat_n(b'a', header_len - fixed));
    message.extend_from_slice(b"\r\n\r\nbody\r\n");
    message
}

fn connect(server: &Server) -> SmtpClient {
    let mut client = server.smtp();
    client.ehlo("client.example.org");
    client
}

#[test]
fn mail_loop_received_limit() {
    let server = Server::start(&[("alice", "alice-password")]);
    let mut client = connect(&server);

    let reply = client.transaction(SENDER, &[ALICE], &message_with_received(101));
    reply.assert_status(554, "5.4.6", "101 Received fields");
    assert!(
        reply
            .text()
            .contains("too many Received headers (101), possible mail loop"),
        "{reply}"
    );
    assert_eq!(
        server.maildir_count("alice"),
        0,
        "a looping message is not stored"
    );

    let reply = client.transaction(SENDER, &[ALICE], &message_with_received(100));
    reply.assert_status(250, "2.0.0", "100 Received fields");
    assert_eq!(server.maildir_count("alice"), 1);

    let reply = client.transaction(SENDER, &[ALICE], b"Subject: normal\r\n\r\nbody\r\n");
    reply.assert_status(250, "2.0.0", "normal message after a loop rejection");
    assert_eq!(server.maildir_count("alice"), 2);
    client.quit();
}

#[test]
fn header_over_size_limit() {
    let config = format!("[smtp]\nheader_size_max = {HEADER_SIZE_MAX}\n");
    let server = Server::start_with_config(&[("alice", "alice-password")], Some(&config));
    let mut client = connect(&server);

    let reply = client.transaction(
        SENDER,
        &[ALICE],
        &message_with_header_len(HEADER_SIZE_MAX + 1),
    );
    reply.assert_status(552, "5.3.4", "header one octet over the limit");
    assert!(
        reply.text().contains("message header exceeds 4096 octets"),
        "{reply}"
    );
    assert_eq!(
        server.maildir_count("alice"),
        0,
        "an oversized header is not stored"
    );

    let reply = client.transaction(SENDER, &[ALICE], &message_with_header_len(HEADER_SIZE_MAX));
    reply.assert_status(250, "2.0.0", "header at the limit");

    let reply = client.transaction(SENDER, &[ALICE], b"Subject: normal\r\n\r\nbody\r\n");
    reply.assert_status(250, "2.0.0", "normal message after a size rejection");
    assert_eq!(server.maildir_count("alice"), 2);
    client.quit();
}
