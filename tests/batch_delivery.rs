//! End-to-end tests of group commit for local delivery: many SMTP sessions
//! that finish DATA at the same moment share the `new/` directory fsyncs,
//! and a broken Maildir fails only the messages addressed to it.
//!
//! The server runs with one worker so every session shares one batcher. The
//! counters come from the "maildir batch totals" line the worker logs when it
//! stops.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::thread;

use common::Server;

/// Concurrent sessions in each test.
const SESSIONS: usize = 40;

const ONE_WORKER: &str = "workers = 1\n";

/// Runs one session per recipient list in its own thread. Every session
/// sends its message body, then all send the final dot together. Returns
/// the reply code of each end of data, in input order.
fn deliver_together(server: &Server, recipient_lists: &[Vec<&'static str>]) -> Vec<common::Reply> {
    let barrier = Arc::new(Barrier::new(recipient_lists.len()));
    let threads: Vec<_> = recipient_lists
        .iter()
        .enumerate()
        .map(|(index, recipients)| {
            let mut smtp = server.smtp();
            let barrier = barrier.clone();
            let recipients = recipients.clone();
            thread::spawn(move || {
                smtp.ehlo("client.test");
                smtp.command("MAIL FROM:<sender@example.org>")
                    .assert_status(250, "2.1.0", "MAIL");
                for recipient in &recipients {
                    smtp.command(&format!("RCPT TO:<{recipient}>"))
                        .assert_status(250, "2.1.5", "RCPT");
                }
                let reply = smtp.command("DATA");
                assert_eq!(reply.code, 354, "DATA: {reply}");
                smtp.send_raw(format!("Subject: message {index}\r\n\r\nbody\r\n").as_bytes());
                barrier.wait();
                smtp.send_raw(b".\r\n");
                let reply = smtp.read_reply();
                smtp.quit();
                reply
            })
        })
        .collect();
    threads
        .into_iter()
        .map(|thread| thread.join().expect("session thread"))
        .collect()
}

/// Unmounts the tmpfs when the test ends, pass or fail.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Reads `field=N` from the worker's "maildir batch totals" log line.
fn batch_total(stderr: &str, field: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|line| line.contains("maildir batch totals"))
        .unwrap_or_else(|| panic!("no batch totals line in the log:\n{stderr}"));
    let prefix = format!("{field}=");
    line.split_whitespace()
        .find_map(|word| word.strip_prefix(&prefix))
        .and_then(|digits| digits.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in {line:?}"))
}

#[test]
fn concurrent_sessions_share_dir_syncs() {
    let mut server = Server::start_with_config(&[("alice", "alice-password")], Some(ONE_WORKER));
    let recipient_lists = vec![vec!["alice@localhost"]; SESSIONS];

    let codes = deliver_together(&server, &recipient_lists);
    server.stop();

    let codes: Vec<u16> = codes.iter().map(|reply| reply.code).collect();
    assert!(codes.iter().all(|&code| code == 250), "codes {codes:?}");
    assert_eq!(server.maildir_count("alice"), SESSIONS);
    let stderr = server.stderr_text();
    let messages = batch_total(&stderr, "messages");
    let dir_syncs = batch_total(&stderr, "dir_syncs");
    assert_eq!(messages, SESSIONS as u64);
    assert!(
        dir_syncs * 4 <= messages,
        "{dir_syncs} directory syncs for {messages} messages"
    );
}

#[test]
fn broken_maildir_fails_only_its_sessions() {
    let mut server = Server::start_with_config(
        &[("alice", "alice-password"), ("bob", "bob-password")],
        Some(ONE_WORKER),
    );
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("broken_maildir_fails_only_its_sessions: not run, mounting a tmpfs needs root");
        return;
    }
    server.deliver(
        "sender@example.org",
        &["bob@localhost"],
        b"Subject: setup\r\n\r\nbody\r\n",
    );
    // A read-only tmpfs over bob's tmp/ passes the session's Maildir check
    // (tmp/ is a directory) and fails the batcher's create with EROFS.
    let bob_tmp = server.maildir("bob").join("tmp");
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "ro,size=64k", "tmpfs"])
        .arg(&bob_tmp)
        .status()
        .expect("run mount");
    assert!(
        status.success(),
        "mount a read-only tmpfs on {}",
        bob_tmp.display()
    );
    let _mount = Mount(bob_tmp);
    // Every fourth session writes to bob, every eighth to both users.
    let recipient_lists: Vec<Vec<&'static str>> = (0..SESSIONS)
        .map(|index| match index % 8 {
            0 => vec!["alice@localhost", "bob@localhost"],
            4 => vec!["bob@localhost"],
            _ => vec!["alice@localhost"],
        })
        .collect();

    let replies = deliver_together(&server, &recipient_lists);
    server.stop();

    // A message whose Maildir write failed is not lost: it goes to the
    // spool ("queued as"), while its batch neighbours are delivered.
    for (index, (reply, recipients)) in replies.iter().zip(&recipient_lists).enumerate() {
        let expected = if recipients.contains(&"bob@localhost") {
            "Ok: queued as"
        } else {
            "Ok: delivered as"
        };
        assert_eq!(
            reply.code, 250,
            "session {index} to {recipients:?}: {reply}"
        );
        assert!(
            reply.text().contains(expected),
            "session {index} to {recipients:?}: {reply}"
        );
    }
    let alice_only = recipient_lists
        .iter()
        .filter(|list| list.len() == 1 && list[0] == "alice@localhost")
        .count();
    assert_eq!(server.maildir_count("alice"), alice_only);
    assert_eq!(server.maildir_count("bob"), 1, "only the setup message");
    let alice_tmp = std::fs::read_dir(server.maildir("alice").join("tmp"))
        .unwrap()
        .count();
    assert_eq!(alice_tmp, 0, "files left in alice's tmp/");
}
