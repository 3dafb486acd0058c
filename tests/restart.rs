//! End-to-end tests of restarts and shutdown of `ringmail serve`.
//!
//! UIDs and UIDVALIDITY must survive a restart, because IMAP clients cache
//! messages by (UIDVALIDITY, UID) and would show stale or wrong mail if either
//! changed. SIGTERM must end the server with exit status 0 after it finishes
//! the transaction in flight, so a service manager can stop it without losing
//! mail or reporting a failure.

mod common;

use std::time::Duration;

use common::{strip_received, Fetched, ImapClient, Server, SmtpClient};

/// Number of messages delivered before the restart.
const MESSAGE_COUNT: usize = 3;

/// Time between the half-sent message and SIGTERM, so the signal arrives while
/// the server is inside DATA.
const SIGNAL_DELAY_MS: u64 = 300;

fn message(index: usize) -> Vec<u8> {
    format!("Subject: restart test {index}\r\nMessage-ID: <restart.{index}@localhost>\r\n\r\nbody {index}\r\n").into_bytes()
}

/// UIDVALIDITY, UIDs and bodies (Received stripped) of alice's INBOX.
fn read_mailbox(server: &Server) -> (u64, Vec<u32>, Vec<Fetched>) {
    let mut imap: ImapClient = server.imap();
    imap.login("alice", "alice-password");
    let selected = imap.select("INBOX");
    let uidvalidity = selected
        .response_code_number("UIDVALIDITY")
        .unwrap_or_else(|| {
            panic!(
                "SELECT INBOX returned no UIDVALIDITY: {:?}",
                selected.untagged
            )
        });
    let uids = imap.uids();
    let messages = imap.uid_fetch_bodies("1:*", "UID BODY.PEEK[]");
    imap.logout();
    (uidvalidity, uids, messages)
}

#[test]
fn uids_and_uidvalidity_survive_restart() {
    let mut server = Server::start(&[("alice", "alice-password")]);
    for index in 0..MESSAGE_COUNT {
        server.deliver("sender@localhost", &["alice@localhost"], &message(index));
    }

    let (uidvalidity_before, uids_before, messages_before) = read_mailbox(&server);
    assert_eq!(
        uids_before.len(),
        MESSAGE_COUNT,
        "UIDs before restart: {uids_before:?}"
    );
    assert!(
        uids_before.windows(2).all(|pair| pair[0] < pair[1]),
        "UIDs before restart are not strictly ascending: {uids_before:?}"
    );
    for fetched in &messages_before {
        let body = strip_received(&fetched.body).expect("fetched message starts with Received");
        assert!(
            (0..MESSAGE_COUNT).any(|index| body == message(index).as_slice()),
            "UID {} contains an unknown message: {}",
            fetched.uid,
            common::preview(body)
        );
    }

    server.restart();

    let (uidvalidity_after, uids_after, messages_after) = read_mailbox(&server);
    assert_eq!(
        uidvalidity_after, uidvalidity_before,
        "UIDVALIDITY changed across restart"
    );
    assert_eq!(uids_after, uids_before, "UIDs changed across restart");
    for (before, after) in messages_before.iter().zip(&messages_after) {
        assert_eq!(after.uid, before.uid, "FETCH order changed across restart");
        assert_eq!(
            after.body, before.body,
            "message of UID {} changed across restart",
            before.uid
        );
    }

    server.deliver(
        "sender@localhost",
        &["alice@localhost"],
        &message(MESSAGE_COUNT),
    );
    let (_, uids_new, _) = read_mailbox(&server);
    let max_before = *uids_before.iter().max().expect("UIDs before restart");
    assert_eq!(
        uids_new.len(),
        MESSAGE_COUNT + 1,
        "UIDs after a new delivery: {uids_new:?}"
    );
    assert!(
        uids_new[MESSAGE_COUNT] > max_before,
        "UID of a message delivered after restart ({}) is not above the UIDs before it ({max_before})",
        uids_new[MESSAGE_COUNT]
    );

    server.stop();
}

#[test]
fn sigterm_on_idle_server_exits_zero() {
    let mut server = Server::start(&[("alice", "alice-password")]);
    server.stop();
}

#[test]
fn sigterm_with_open_sessions_exits_zero() {
    let mut server = Server::start(&[("alice", "alice-password")]);
    let mut smtp = server.smtp();
    smtp.ehlo("client.test");
    let mut imap = server.imap();
    imap.login("alice", "alice-password");
    imap.select("INBOX");

    server.stop();
}

#[test]
fn sigterm_finishes_transaction_in_flight() {
    let mut server = Server::start(&[("alice", "alice-password")]);
    let (mut smtp, _) = SmtpClient::connect(server.smtp_port);
    smtp.ehlo("client.test");
    let reply = smtp.command("MAIL FROM:<sender@localhost>");
    assert_eq!(reply.code, 250, "MAIL: {reply}");
    let reply = smtp.command("RCPT TO:<alice@localhost>");
    assert_eq!(reply.code, 250, "RCPT: {reply}");
    let reply = smtp.command("DATA");
    assert_eq!(reply.code, 354, "DATA: {reply}");

    smtp.send_raw(b"Subject: in flight\r\n\r\nfirst half\r\n");
    std::thread::sleep(Duration::from_millis(SIGNAL_DELAY_MS));
    server.signal(libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(SIGNAL_DELAY_MS));
    smtp.send_raw(b"second half\r\n.\r\n");

    let reply = smtp.read_reply();
    assert_eq!(
        reply.code, 250,
        "end of data of the transaction in flight at SIGTERM: {reply}"
    );
    assert_eq!(
        server.maildir_count("alice"),
        1,
        "message acknowledged during shutdown is not in the Maildir"
    );

    // After the transaction the server may close the session itself (421 or
    // a plain close), so QUIT is sent but its reply is not required.
    if smtp.try_send_line("QUIT").is_ok() {
        let _ = smtp.try_read_reply();
    }

    let status = server.wait_exit();
    assert!(
        status.success(),
        "ringmail serve exited with {status} after SIGTERM, expected status 0"
    );
}
