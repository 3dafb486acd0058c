//! End-to-end tests of the 451 reply: when a copy cannot be made durable,
//! the client gets 451 4.3.0, nothing is left in any `new/`, and the session
//! goes on.
//!
//! The full-disk case mounts a 256 KiB tmpfs over one user's mail directory.
//! That needs root, so as another user the test prints why it did not run.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{Server, SmtpClient};

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
fn full_disk_gets_451_and_leaves_nothing() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("full_disk_gets_451_and_leaves_nothing: not run, mounting a tmpfs needs root");
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
    reply.assert_status(451, "4.3.0", "message larger than the free space");

    let maildir = server.maildir("alice");
    assert_eq!(
        files_in(&maildir.join("new")),
        Vec::<String>::new(),
        "new/ after 451"
    );
    assert_eq!(
        files_in(&maildir.join("tmp")),
        Vec::<String>::new(),
        "tmp/ after 451"
    );

    let reply = client.transaction(
        "sender@localhost",
        &["alice@localhost"],
        &small_message("fits"),
    );
    reply.assert_status(250, "2.0.0", "small message after the 451");
    assert_eq!(
        files_in(&maildir.join("new")).len(),
        1,
        "new/ after the small message"
    );
    client.quit();
}

#[test]
fn broken_maildir_gets_451_and_no_copy_anywhere() {
    let server = Server::start(&[("alice", "alice-password"), ("bob", "bob-password")]);

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
    reply.assert_status(451, "4.3.0", "one recipient's Maildir is broken");
    assert_eq!(
        files_in(&server.maildir("alice").join("new")),
        Vec::<String>::new(),
        "alice new/"
    );
    assert_eq!(files_in(&bob.join("new")), Vec::<String>::new(), "bob new/");

    let reply = client.transaction(
        "sender@localhost",
        &["alice@localhost"],
        &small_message("alice only"),
    );
    reply.assert_status(250, "2.0.0", "delivery to the working Maildir");
    assert_eq!(
        files_in(&server.maildir("alice").join("new")).len(),
        1,
        "alice new/ afterwards"
    );
    client.quit();
}
