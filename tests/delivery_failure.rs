//! End-to-end tests of a failed Maildir delivery. The message goes to the
//! spool and the client gets `250 2.0.0 Ok: queued as <id>`. No partial copy
//! is left in any `new/`, the session goes on, and the queue runner delivers
//! the message once the Maildir works again.
//!
//! The full-disk case mounts a 256 KiB tmpfs over one user's mail directory.
//! That needs root, so as another user the test prints why it did not run.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use std::thread;
use std::time::{Duration, Instant};

use common::{Server, SmtpClient};

/// Configuration with a one-second first retry, so a repaired Maildir gets
/// its spooled message within the test's wait.
const FAST_RETRY_CONFIG: &str = "[spool]\nretry_min_secs = 1\nretry_max_secs = 2\n";

/// Maximum wait for the queue runner to deliver a spooled message.
const SPOOL_DELIVERY_WAIT_MS: u64 = 15_000;

/// Waits until `dir` has `count` files, at most [`SPOOL_DELIVERY_WAIT_MS`].
fn wait_file_count(dir: &Path, count: usize) -> bool {
    let deadline = Instant::now() + Duration::from_millis(SPOOL_DELIVERY_WAIT_MS);
    while Instant::now() < deadline {
        if files_in(dir).len() == count {
            return true;
        }
        thread::sleep(Duration::from_millis(100));
    }
    files_in(dir).len() == count
}

/// Size of the tmpfs that plays the full disk.
const TMPFS_SIZE: &str = "256k";

fn small_message(subject: &str) -> Vec<u8> {
    format!("Subject: {subject}\r\n\r\nshort body\r\n").into_bytes()
}

/// Builds a message larger than the tmpfs, so its write fails with ENOSPC.
fn large_message() -> Vec<u8> {
    let mut message = b"Subject: too large for the disk\r\n\r\n".to_vec();
    let line = [b'x'; 76];
    while message.len() < 512 * 1024 {
        message.extend_from_slice(&line);
        message.extend_from_slice(b"\r\n");
    }
    message
}

fn files_in(dir: &Path) -> Vec<String> {
    match fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Unmounts the tmpfs when the test ends, pass or fail.
struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn full_disk_defers_to_spool_and_leaves_nothing() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!(
            "full_disk_defers_to_spool_and_leaves_nothing: not run, mounting a tmpfs needs root"
        );
        return;
    }
    let server = Server::start(&[("alice", "alice-password")]);
    let user_dir = server.data_dir().join("mail").join("alice");
    fs::create_dir_all(&user_dir).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={TMPFS_SIZE}"), "tmpfs"])
        .arg(&user_dir)
        .status()
        .expect("run mount");
    assert!(
        mounted.success(),
        "mount tmpfs on {} failed",
        user_dir.display()
    );
    let _mount = Mount(user_dir.clone());

    let (mut client, greeting) = SmtpClient::connect(server.smtp_port);
    assert_eq!(greeting.code, 220);
    client.ehlo("client.test");

    let reply = client.transaction("sender@localhost", &["alice@localhost"], &large_message());
    reply.assert_status(250, "2.0.0", "message larger than the free space");
    assert!(reply.text().contains("queued as"), "reply: {reply}");

    let maildir = server.maildir("alice");
    assert_eq!(
        files_in(&maildir.join("new")),
        Vec::<String>::new(),
        "new/ after the spooled message"
    );
    assert_eq!(
        files_in(&maildir.join("tmp")),
        Vec::<String>::new(),
        "tmp/ after the spooled message"
    );

    let reply = client.transaction(
        "sender@localhost",
        &["alice@localhost"],
        &small_message("fits"),
    );
    reply.assert_status(250, "2.0.0", "small message after the spooled one");
    assert_eq!(
        files_in(&maildir.join("new")).len(),
        1,
        "new/ after the small message"
    );
    client.quit();
}

#[test]
fn broken_maildir_defers_and_delivers_each_recipient_once() {
    let mut server = Server::start_with_config(
        &[("alice", "alice-password"), ("bob", "bob-password")],
        Some(FAST_RETRY_CONFIG),
    );

    // Bob's Maildir cannot take mail: its tmp/ is a regular file.
    let bob = server.maildir("bob");
    fs::create_dir_all(bob.join("new")).unwrap();
    fs::create_dir_all(bob.join("cur")).unwrap();
    fs::write(bob.join("tmp"), b"not a directory").unwrap();

    let (mut client, _) = SmtpClient::connect(server.smtp_port);
    client.ehlo("client.test");
    let reply = client.transaction(
        "sender@localhost",
        &["alice@localhost", "bob@localhost"],
        &small_message("to both"),
    );
    reply.assert_status(250, "2.0.0", "one recipient's Maildir is broken");
    assert!(reply.text().contains("queued as"), "reply: {reply}");

    // The queue runner delivers alice's copy; bob's waits for a retry.
    let alice_new = server.maildir("alice").join("new");
    assert!(
        wait_file_count(&alice_new, 1),
        "alice new/: {:?}",
        files_in(&alice_new)
    );
    assert_eq!(files_in(&bob.join("new")), Vec::<String>::new(), "bob new/");

    fs::remove_file(bob.join("tmp")).unwrap();
    fs::create_dir(bob.join("tmp")).unwrap();
    assert!(
        wait_file_count(&bob.join("new"), 1),
        "bob new/: {:?}",
        files_in(&bob.join("new"))
    );
    assert_eq!(files_in(&alice_new).len(), 1, "alice got no second copy");

    let reply = client.transaction(
        "sender@localhost",
        &["alice@localhost"],
        &small_message("alice only"),
    );
    reply.assert_status(250, "2.0.0", "delivery to the working Maildir");
    assert!(reply.text().contains("delivered as"), "reply: {reply}");
    assert_eq!(files_in(&alice_new).len(), 2, "alice new/ afterwards");
    client.quit();
    server.stop();
}
