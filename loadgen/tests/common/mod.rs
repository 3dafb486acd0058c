//! Helpers shared by the loadgen end-to-end tests: the binaries, free
//! loopback ports, and a `ringmail serve` child with its own data directory.
//!
//! The server binary is not a dependency of this package: run
//! `cargo build -p ringmail` first. It is looked up in
//! `$CARGO_TARGET_DIR/debug`, or else in the workspace's `target/debug`.
#![allow(dead_code)] // Each test file uses a different subset.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Time allowed for the server to start listening, or to exit after SIGTERM.
pub const SERVER_WAIT: Duration = Duration::from_secs(30);

pub const LOADGEN: &str = env!("CARGO_BIN_EXE_ringmail-loadgen");

pub fn ringmail_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let binary = target.join("debug/ringmail");
    assert!(
        binary.is_file(),
        "{} not found; build it first with `cargo build -p ringmail`",
        binary.display()
    );
    binary
}

pub fn free_loopback_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
    listener.local_addr().expect("local address")
}

/// A `ringmail serve` child process with its own data directory.
pub struct Server {
    child: Child,
    pub data: tempfile::TempDir,
    pub smtp: SocketAddr,
}

impl Server {
    /// Adds `users` with a fixed password, then starts the server and waits
    /// until its SMTP port accepts connections.
    pub fn start(users: &[&str]) -> Server {
        let data = tempfile::tempdir().expect("create data dir");
        for user in users {
            add_user(data.path(), user);
        }

        let smtp = free_loopback_addr();
        let imap = free_loopback_addr();
        let child = Command::new(ringmail_binary())
            .arg("serve")
            .arg("--data")
            .arg(data.path())
            .arg("--smtp")
            .arg(smtp.to_string())
            .arg("--imap")
            .arg(imap.to_string())
            .arg("--submission")
            .arg(free_loopback_addr().to_string())
            .arg("--submission-tls")
            .arg(free_loopback_addr().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ringmail serve");
        let server = Server { child, data, smtp };

        let started = Instant::now();
        while TcpStream::connect(smtp).is_err() {
            assert!(
                started.elapsed() < SERVER_WAIT,
                "server did not listen on {smtp}"
            );
            sleep(Duration::from_millis(50));
        }
        server
    }

    /// Returns the `new/` directory of `user`'s inbox.
    pub fn inbox_new(&self, user: &str) -> PathBuf {
        self.data.path().join("mail").join(user).join("Maildir/new")
    }

    /// Sends SIGTERM and expects exit status 0.
    pub fn stop(mut self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");

        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for server") {
                break status;
            }
            assert!(
                started.elapsed() < SERVER_WAIT,
                "server did not exit after SIGTERM"
            );
            sleep(Duration::from_millis(50));
        };
        assert_eq!(status.code(), Some(0), "server exit status after SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Reached with the child still running only when a test failed.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn add_user(data: &Path, user: &str) {
    let mut child = Command::new(ringmail_binary())
        .args(["user", "add", user, "--password-stdin", "--data"])
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ringmail user add");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(b"load-test-password\n")
        .expect("write password");
    let output = child
        .wait_with_output()
        .expect("wait for ringmail user add");
    assert!(
        output.status.success(),
        "user add {user}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

pub fn loadgen(args: &[&str]) -> Output {
    Command::new(LOADGEN)
        .args(args)
        .output()
        .expect("run ringmail-loadgen")
}

pub fn stdout_of(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}
