//! End-to-end tests of the spool with the real binary: messages acknowledged
//! with `250 ... queued as` survive kill -9 and are delivered exactly once
//! after the restart, a torn record at a segment's tail is discarded and
//! logged, and finished segments are deleted.
//!
//! The fault that forces spooling is real, not a test switch: the user's
//! mail directory is a regular file, so creating the Maildir fails with
//! ENOTDIR. File permissions would not do, because the tests run as root.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use common::{Server, SmtpClient};

/// A one-second first retry, so the restarted server delivers quickly.
const FAST_RETRY_CONFIG: &str = "[spool]\nretry_min_secs = 1\nretry_max_secs = 2\n";

/// Maximum wait for the queue runner to deliver every spooled message.
const DELIVERY_WAIT_MS: u64 = 30_000;

fn message(index: usize) -> Vec<u8> {
    format!("Subject: spooled {index}\r\n\r\nbody of message {index}\r\n").into_bytes()
}

/// Replaces `user`'s mail directory with a regular file, so delivery fails.
fn break_mail_dir(server: &Server, user: &str) -> PathBuf {
    let path = server.data_dir().join("mail").join(user);
    fs::write(&path, b"not a directory").unwrap();
    path
}

/// Sends `count` messages to alice over one session and asserts that each
/// is queued in the spool.
fn send_spooled(server: &Server, count: usize) {
    let (mut client, greeting) = SmtpClient::connect(server.smtp_port);
    assert_eq!(greeting.code, 220, "greeting: {greeting}");
    client.ehlo("client.test");
    for index in 0..count {
        let reply = client.transaction("sender@localhost", &["alice@localhost"], &message(index));
        reply.assert_status(250, "2.0.0", &format!("message {index}"));
        assert!(
            reply.text().contains("queued as"),
            "message {index}: {reply}"
        );
    }
}

/// Kills the server with SIGKILL, the way a crash would end it.
fn kill_hard(server: &mut Server) {
    server.signal(libc::SIGKILL);
    let status = server.wait_exit();
    assert!(!status.success(), "killed server exited with {status}");
}

/// Waits until alice has `count` messages, at most [`DELIVERY_WAIT_MS`].
fn wait_delivered(server: &Server, count: usize) {
    let deadline = Instant::now() + Duration::from_millis(DELIVERY_WAIT_MS);
    while server.maildir_count("alice") < count && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        server.maildir_count("alice"),
        count,
        "alice's messages; stderr:\n{}",
        common::tail(&server.stderr_text())
    );
}

/// Returns how often each `Subject: spooled N` occurs in alice's Maildir.
fn subject_counts(server: &Server) -> BTreeMap<usize, usize> {
    let mut counts = BTreeMap::new();
    for path in server.maildir_files("alice") {
        let text = String::from_utf8(fs::read(&path).unwrap()).unwrap();
        let index = text
            .lines()
            .find_map(|line| line.strip_prefix("Subject: spooled "))
            .and_then(|number| number.trim().parse::<usize>().ok())
            .unwrap_or_else(|| panic!("no test subject in {}", path.display()));
        *counts.entry(index).or_insert(0) += 1;
    }
    counts
}

/// Returns every segment file under the spool directory.
fn segment_files(data_dir: &Path) -> Vec<PathBuf> {
    let mut segments = Vec::new();
    let Ok(workers) = fs::read_dir(data_dir.join("spool")) else {
        return segments;
    };
    for worker in workers {
        for entry in fs::read_dir(worker.unwrap().path()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|extension| extension == "seg") {
                segments.push(path);
            }
        }
    }
    segments.sort();
    segments
}

/// Waits until `needle` appears in the current run's log.
fn wait_log(server: &Server, needle: &str) -> bool {
    let deadline = Instant::now() + Duration::from_millis(DELIVERY_WAIT_MS);
    while Instant::now() < deadline {
        if server.stderr_text().contains(needle) {
            return true;
        }
        thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn kill_after_queued_replies_loses_nothing() {
    let count = 20;
    let mut server =
        Server::start_with_config(&[("alice", "alice-password")], Some(FAST_RETRY_CONFIG));
    let fault = break_mail_dir(&server, "alice");

    send_spooled(&server, count);
    kill_hard(&mut server);
    let segments_before = segment_files(&server.data_dir());

    let listing_text = server.queue_list();
    assert!(
        listing_text.contains(&format!("{count} queued message(s)")),
        "queue list:\n{listing_text}"
    );
    assert_eq!(
        listing_text
            .matches("to alice@localhost (pending, local)")
            .count(),
        count,
        "queue list:\n{listing_text}"
    );

    fs::remove_file(&fault).unwrap();
    server.start_again();
    assert!(
        wait_log(&server, &format!("queued={count}")),
        "recovery log; stderr:\n{}",
        common::tail(&server.stderr_text())
    );
    wait_delivered(&server, count);
    // Give a duplicate delivery time to show up before counting.
    thread::sleep(Duration::from_millis(1500));

    let counts = subject_counts(&server);
    let duplicates: usize = counts.values().map(|seen| seen - 1).sum();
    assert_eq!(
        counts.len(),
        count,
        "distinct messages delivered: {counts:?}"
    );
    assert_eq!(duplicates, 0, "duplicates: {counts:?}");

    // The first run's segments are finished, so the runner deletes them.
    assert!(
        wait_log(&server, "spool segment recycled"),
        "recycling log; stderr:\n{}",
        common::tail(&server.stderr_text())
    );
    let segments_after = segment_files(&server.data_dir());
    for segment in &segments_before {
        assert!(
            !segments_after.contains(segment),
            "{} still exists after every message in it was delivered",
            segment.display()
        );
    }
    server.stop();
}

#[test]
fn torn_segment_tail_is_discarded_and_logged() {
    let count = 5;
    let mut server =
        Server::start_with_config(&[("alice", "alice-password")], Some(FAST_RETRY_CONFIG));
    let fault = break_mail_dir(&server, "alice");

    send_spooled(&server, count);
    kill_hard(&mut server);

    // Cut the segment with the messages in the middle of its last record.
    let segment = segment_files(&server.data_dir())
        .into_iter()
        .find(|path| fs::read(path).unwrap().iter().any(|byte| *byte != 0))
        .expect("a segment with records");
    let bytes = fs::read(&segment).unwrap();
    let last_record = bytes
        .windows(4)
        .rposition(|window| window == b"RMSP")
        .expect("a record magic in the segment");
    let written_end = bytes.iter().rposition(|byte| *byte != 0).unwrap() + 1;
    let cut = last_record + (written_end - last_record) / 2;
    fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .unwrap()
        .set_len(cut as u64)
        .unwrap();

    fs::remove_file(&fault).unwrap();
    server.start_again();
    assert!(
        wait_log(&server, "discarded a torn record"),
        "torn record log; stderr:\n{}",
        common::tail(&server.stderr_text())
    );
    wait_delivered(&server, count - 1);

    let counts = subject_counts(&server);
    let expected: BTreeMap<usize, usize> = (0..count - 1).map(|index| (index, 1)).collect();
    assert_eq!(
        counts, expected,
        "the torn last message is the only one missing"
    );
    server.stop();
}
