//! The server with io_uring's cooperative task running turned off by
//! `RINGMAIL_COOP_TASKRUN=0`: local delivery and the spool both work, and
//! the start-up log states which mode the rings use. Every other end-to-end
//! test runs with the default, where the kernel allows it, on.

mod common;

use common::{Server, SmtpClient};

/// Lets the loopback client relay, so a remote recipient goes to the spool.
const RELAY_CONFIG: &str = "[smtp]\nrelay_networks = [\"127.0.0.0/8\"]\n";

fn message(index: usize) -> Vec<u8> {
    format!("Subject: runtime {index}\r\n\r\nbody {index}\r\n").into_bytes()
}

#[test]
fn coop_taskrun_off_delivers_locally_and_spools() {
    let mut server = Server::start_with_env(
        &[("alice", "alice-password")],
        Some(RELAY_CONFIG),
        &[("RINGMAIL_COOP_TASKRUN", "0")],
    );
    let (mut client, greeting) = SmtpClient::connect(server.smtp_port);
    assert_eq!(greeting.code, 220, "greeting: {greeting}");
    client.ehlo("client.test");
    for index in 0..20 {
        let reply = client.transaction("sender@localhost", &["alice@localhost"], &message(index));
        reply.assert_status(250, "2.0.0", &format!("local message {index}"));
    }
    for index in 0..20 {
        let reply = client.transaction(
            "sender@localhost",
            &["someone@example.net"],
            &message(index),
        );
        reply.assert_status(250, "2.0.0", &format!("relayed message {index}"));
        assert!(
            reply.text().contains("queued as"),
            "relayed message {index}: {reply}"
        );
    }

    assert_eq!(server.maildir_count("alice"), 20);
    let log = server.stderr_text();
    assert!(
        log.contains("io_uring cooperative task running off: RINGMAIL_COOP_TASKRUN=0"),
        "start-up log:\n{}",
        common::tail(&log)
    );
    server.stop();
}
