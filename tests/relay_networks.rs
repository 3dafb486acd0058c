//! Relay for trusted client networks (`[smtp] relay_networks`).
//!
//! A client in a listed network may send to other domains without AUTH, as
//! Postfix allows `mynetworks`: the message is accepted into the spool for
//! relay, and `ringmail queue list` shows it waiting. A client outside every
//! listed network still gets 554 5.7.1, so listing a network never opens the
//! relay to anyone else.

mod common;

use common::Server;

const MESSAGE: &[u8] =
    b"From: app@localhost\r\nTo: someone@example.net\r\nSubject: relayed\r\n\r\nbody\r\n";

#[test]
fn listed_network_relays_into_the_spool() {
    let server = Server::start_with_config(
        &[("alice", "secret")],
        Some("[smtp]\nrelay_networks = [\"127.0.0.0/8\"]\n"),
    );
    let mut smtp = server.smtp();
    smtp.ehlo("app.test");
    let reply = smtp.transaction(
        "app@localhost",
        &["someone@example.net", "alice@localhost"],
        MESSAGE,
    );
    assert_eq!(reply.code, 250, "end of data: {reply}");
    assert!(reply.text().contains("Ok: queued as"), "{reply}");
    smtp.quit();

    let text = server.queue_list();
    assert!(
        text.contains("to someone@example.net (pending"),
        "queue list:\n{text}"
    );
}

#[test]
fn unlisted_network_is_not_a_relay() {
    let server = Server::start_with_config(
        &[("alice", "secret")],
        Some("[smtp]\nrelay_networks = [\"10.0.0.0/8\", \"::1/128\"]\n"),
    );
    let mut smtp = server.smtp();
    smtp.ehlo("app.test");
    smtp.command("MAIL FROM:<app@localhost>")
        .assert_status(250, "2.1.0", "MAIL");
    smtp.command("RCPT TO:<someone@example.net>").assert_status(
        554,
        "5.7.1",
        "RCPT from 127.0.0.1 to another domain",
    );
    smtp.command("RCPT TO:<alice@localhost>")
        .assert_status(250, "2.1.5", "local RCPT");
    smtp.quit();
}
