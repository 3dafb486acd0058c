//! Shared harness for the end-to-end tests of the `ringmail` binary.
//!
//! - [`Server`] runs `ringmail serve` in a fresh temporary directory on four free
//!   loopback ports (SMTP, IMAP, submission, submission over TLS), with the
//!   users the test requests, and stops it with SIGTERM.
//!   Each run writes its stdout and stderr to `run-N.stdout` and `run-N.stderr`
//!   in that directory, and a failing test prints them.
//! - [`SmtpClient`] is a raw SMTP client over `std::net::TcpStream`: it sends
//!   exact bytes and reads whole (possibly multi-line) [`Reply`]s, so tests can
//!   assert reply codes and enhanced status codes octet for octet.
//! - [`ImapClient`] is a raw IMAP client that reads tagged responses with their
//!   literals, enough for LOGIN, SELECT, FETCH and SEARCH checks.
//!
//! Every wait is bounded: the server gets [`START_TIMEOUT_MS`] to accept on all
//! four ports and [`STOP_TIMEOUT_MS`] to exit after SIGTERM, and every socket read
//! times out after [`IO_TIMEOUT_MS`], so a hung server fails a test instead of
//! hanging the suite. The helpers panic with the bytes seen on any protocol
//! surprise, because a panic is how a test reports failure.

#![allow(dead_code)]

pub mod postfix;

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Maximum time for a started server to accept connections on all its ports.
/// A debug build on a loaded 2-core machine can take a few seconds to start.
pub const START_TIMEOUT_MS: u64 = 20_000;

/// Maximum time for the server to exit after SIGTERM. The server may first
/// finish transactions in flight, and the tests leave none open at that point.
pub const STOP_TIMEOUT_MS: u64 = 10_000;

/// Read and write timeout of every test socket.
pub const IO_TIMEOUT_MS: u64 = 30_000;

/// Maximum time for a one-shot CLI command (`user add`, `config example`).
pub const CLI_TIMEOUT_MS: u64 = 30_000;

/// Number of fresh port pairs tried before a start is reported as failed. A
/// free port found by binding port 0 can be taken by a parallel test before
/// the server binds it, so a failed start is retried on new ports.
pub const START_ATTEMPTS_MAX: u32 = 3;

/// Maximum length of one SMTP reply line or IMAP response line, CRLF included.
/// Longer lines mean a broken server, and the cap keeps a runaway line from
/// filling memory.
pub const RESPONSE_LINE_LEN_MAX: usize = 1 << 20;

/// Maximum number of lines in one multi-line SMTP reply.
pub const REPLY_LINES_MAX: usize = 100;

/// Maximum size of one IMAP literal. The largest corpus message is about
/// 300 KB and the default SMTP message size maximum is 25 MiB.
pub const LITERAL_LEN_MAX: usize = 64 << 20;

/// Maximum number of untagged responses before the tagged one. The corpus
/// test fetches about 6,000 messages in one command.
pub const UNTAGGED_RESPONSES_MAX: usize = 100_000;

/// Pause between the parts of a line that a test sends in separate writes, so
/// the server reads them separately: TCP_NODELAY is set and loopback delivers
/// each write long before this pause ends.
pub const SEGMENT_GAP_MS: u64 = 150;

/// Number of trailing bytes of each server log printed when a test fails.
pub const LOG_TAIL_LEN_MAX: usize = 8_000;

/// Path of the `ringmail` binary that cargo built for these tests.
pub fn ringmail_bin() -> &'static str {
    env!("CARGO_BIN_EXE_ringmail")
}

/// Path of a file under the repository root (`tests/clients/...`).
pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

// ---------------------------------------------------------------------------
// CLI helpers
// ---------------------------------------------------------------------------

/// Runs `ringmail ARGS` with `stdin_text` on standard input, waits at most
/// [`CLI_TIMEOUT_MS`] and returns its output.
pub fn run_ringmail(args: &[&str], stdin_text: Option<&str>, cwd: &Path) -> Output {
    let mut command = Command::new(ringmail_bin());
    command
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command.stdin(if stdin_text.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });

    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("failed to spawn ringmail {args:?}: {e}"));
    if let Some(text) = stdin_text {
        let mut stdin = child.stdin.take().expect("stdin is piped");
        match stdin.write_all(text.as_bytes()) {
            // A command that fails before reading stdin (an unknown user, say)
            // closes the pipe first, and its exit status is the more useful check.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
            Err(e) => panic!("failed to write stdin of ringmail {args:?}: {e}"),
            Ok(()) => {}
        }
    }

    wait_output(
        child,
        Duration::from_millis(CLI_TIMEOUT_MS),
        &format!("ringmail {args:?}"),
    )
}

/// Waits for `child` at most `timeout` and collects its output. On timeout it
/// kills the child and panics.
pub fn wait_output(mut child: Child, timeout: Duration, what: &str) -> Output {
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let stdout_reader = thread::spawn(move || read_all(stdout));
    let stderr_reader = thread::spawn(move || read_all(stderr));

    let status = match wait_with_deadline(&mut child, timeout) {
        Some(status) => status,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not exit within {} ms", timeout.as_millis());
        }
    };

    Output {
        status,
        stdout: stdout_reader.join().expect("stdout reader thread"),
        stderr: stderr_reader.join().expect("stderr reader thread"),
    }
}

fn read_all(source: Option<impl Read>) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Some(mut source) = source {
        let _ = source.read_to_end(&mut bytes);
    }
    bytes
}

/// Polls `child` until it exits or `timeout` passes, and returns `None` while it still runs.
pub fn wait_with_deadline(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => {}
            Err(e) => panic!("failed to wait for child {}: {e}", child.id()),
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Adds `name` with `password` through `ringmail user add --password-stdin`,
/// panicking with the command's output if it fails.
pub fn user_add(data_dir: &Path, name: &str, password: &str) {
    let data = data_dir.to_str().expect("utf-8 temp path");
    let output = run_ringmail(
        &["user", "add", name, "--password-stdin", "--data", data],
        Some(&format!("{password}\n")),
        data_dir.parent().unwrap_or(data_dir),
    );
    assert!(
        output.status.success(),
        "ringmail user add {name} failed with {}: stdout {:?} stderr {:?}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
}

/// Returns two distinct loopback ports that were free a moment ago.
pub fn free_port_pair() -> (u16, u16) {
    let first = TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
    let second = TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
    let ports = (
        first.local_addr().expect("local address").port(),
        second.local_addr().expect("local address").port(),
    );
    drop(first);
    drop(second);
    ports
}

/// Returns `N` distinct loopback ports that were free a moment ago.
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port"))
        .collect();
    std::array::from_fn(|index| listeners[index].local_addr().expect("local address").port())
}

// ---------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------

/// One `ringmail serve` process and its temporary directory, which contains the
/// data directory (`data/`), an optional config file and the run logs.
pub struct Server {
    dir: tempfile::TempDir,
    pub smtp_port: u16,
    pub imap_port: u16,
    /// Submission port with STARTTLS (`--submission`).
    pub submission_port: u16,
    /// Submission port with implicit TLS (`--submission-tls`).
    pub submission_tls_port: u16,
    config_path: Option<PathBuf>,
    /// Environment variables set for every start, beside the inherited ones.
    env: Vec<(String, String)>,
    child: Option<Child>,
    run_count: u32,
}

impl Server {
    /// Starts a server whose user db contains exactly `users` (name, password).
    pub fn start(users: &[(&str, &str)]) -> Server {
        Server::start_with_config(users, None)
    }

    /// Starts a server with `users` and, when given, `config_toml` written to a
    /// file and passed as `--config`. The ports always come from the command
    /// line, which overrides the config.
    pub fn start_with_config(users: &[(&str, &str)], config_toml: Option<&str>) -> Server {
        Server::start_with_env(users, config_toml, &[])
    }

    /// Starts a server as [`Server::start_with_config`] does, with `env` added
    /// to its environment on every start.
    pub fn start_with_env(
        users: &[(&str, &str)],
        config_toml: Option<&str>,
        env: &[(&str, &str)],
    ) -> Server {
        let dir = tempfile::Builder::new()
            .prefix("ringmail-e2e-")
            .tempdir()
            .expect("create a temp dir");
        let data_dir = dir.path().join("data");
        fs::create_dir_all(&data_dir).expect("create the data dir");

        for (name, password) in users {
            user_add(&data_dir, name, password);
        }

        let config_path = config_toml.map(|text| {
            let path = dir.path().join("ringmail.toml");
            fs::write(&path, text).expect("write the config file");
            path
        });

        let mut server = Server {
            dir,
            smtp_port: 0,
            imap_port: 0,
            submission_port: 0,
            submission_tls_port: 0,
            config_path,
            env: Vec::new(),
            child: None,
            run_count: 0,
        };
        server.env = env
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        server.launch_on_free_ports();
        server
    }

    /// Temporary directory that contains the data dir, config and logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Data directory passed as `--data`.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Maildir of `user`: `DATA/mail/<user>/Maildir`.
    pub fn maildir(&self, user: &str) -> PathBuf {
        self.data_dir().join("mail").join(user).join("Maildir")
    }

    /// Message files in `user`'s Maildir `new/` and `cur/`, sorted by path.
    pub fn maildir_files(&self, user: &str) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for sub in ["new", "cur"] {
            let Ok(entries) = fs::read_dir(self.maildir(user).join(sub)) else {
                continue;
            };
            for entry in entries {
                let path = entry.expect("read a Maildir entry").path();
                if path.is_file() {
                    files.push(path);
                }
            }
        }
        files.sort();
        files
    }

    /// Number of messages in `user`'s Maildir (`new/` plus `cur/`).
    pub fn maildir_count(&self, user: &str) -> usize {
        self.maildir_files(user).len()
    }

    /// Standard output of the current (latest) run so far.
    pub fn stdout_text(&self) -> String {
        self.log_text(self.run_count, "stdout")
    }

    /// Standard error of the current (latest) run so far.
    pub fn stderr_text(&self) -> String {
        self.log_text(self.run_count, "stderr")
    }

    /// Standard output of run `run` (1 is the first start).
    pub fn stdout_text_of_run(&self, run: u32) -> String {
        self.log_text(run, "stdout")
    }

    fn log_path(&self, run: u32, stream: &str) -> PathBuf {
        self.dir.path().join(format!("run-{run}.{stream}"))
    }

    fn log_text(&self, run: u32, stream: &str) -> String {
        fs::read(self.log_path(run, stream))
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    }

    /// Waits until a line of the current run's stdout contains `needle`, at
    /// most `timeout_ms`, and returns that line.
    pub fn wait_stdout_line(&self, needle: &str, timeout_ms: u64) -> Option<String> {
        let deadline = Instant::now() + Duration::from_millis(timeout_ms);
        loop {
            let text = self.stdout_text();
            if let Some(line) = text.lines().find(|line| line.contains(needle)) {
                return Some(line.to_owned());
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGTERM and asserts that the server exits with status 0 within
    /// [`STOP_TIMEOUT_MS`].
    pub fn stop(&mut self) {
        let status = self.terminate();
        assert!(
            status.success(),
            "ringmail serve exited with {status} after SIGTERM, expected status 0; stderr:\n{}",
            tail(&self.stderr_text()),
        );
    }

    /// Sends SIGTERM and returns the exit status, panicking if the server is
    /// still running after [`STOP_TIMEOUT_MS`].
    pub fn terminate(&mut self) -> ExitStatus {
        self.signal(libc::SIGTERM);
        self.wait_exit()
    }

    /// Sends `signal` to the running server without waiting for it.
    pub fn signal(&self, signal: libc::c_int) {
        send_signal(self.child.as_ref().expect("server is running"), signal);
    }

    /// Waits at most [`STOP_TIMEOUT_MS`] for the server to exit and returns
    /// its status, panicking (with its stderr) if it is still running.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("server is running");
        match wait_with_deadline(&mut child, Duration::from_millis(STOP_TIMEOUT_MS)) {
            Some(status) => status,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "ringmail serve did not exit within {STOP_TIMEOUT_MS} ms of SIGTERM; stderr:\n{}",
                    tail(&self.stderr_text()),
                );
            }
        }
    }

    /// Stops the server (asserting exit status 0) and starts it again on the
    /// same ports with the same data dir and config.
    pub fn restart(&mut self) {
        self.stop();
        self.start_again();
    }

    /// Starts the stopped server again on the same ports with the same data
    /// dir and config; each start gets new log files.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "server is still running");
        if let Err(reason) = self.launch(self.smtp_port, self.imap_port) {
            panic!("start on the previous ports failed: {reason}");
        }
    }

    fn launch_on_free_ports(&mut self) {
        let mut reasons = Vec::new();
        for _ in 0..START_ATTEMPTS_MAX {
            let [smtp_port, imap_port, submission_port, submission_tls_port] = free_ports();
            (self.submission_port, self.submission_tls_port) =
                (submission_port, submission_tls_port);
            match self.launch(smtp_port, imap_port) {
                Ok(()) => return,
                Err(reason) => reasons.push(reason),
            }
        }
        panic!(
            "ringmail serve failed to start in {START_ATTEMPTS_MAX} attempts:\n{}",
            reasons.join("\n---\n")
        );
    }

    /// Spawns `ringmail serve` on the given SMTP and IMAP ports and the
    /// submission ports in `self`, and waits until all four accept.
    fn launch(&mut self, smtp_port: u16, imap_port: u16) -> Result<(), String> {
        self.run_count += 1;
        self.smtp_port = smtp_port;
        self.imap_port = imap_port;

        let stdout =
            File::create(self.log_path(self.run_count, "stdout")).expect("create stdout log");
        let stderr =
            File::create(self.log_path(self.run_count, "stderr")).expect("create stderr log");
        let data_dir = self.data_dir();
        let smtp_addr = format!("127.0.0.1:{smtp_port}");
        let imap_addr = format!("127.0.0.1:{imap_port}");
        let submission_addr = format!("127.0.0.1:{}", self.submission_port);
        let submission_tls_addr = format!("127.0.0.1:{}", self.submission_tls_port);

        let mut command = Command::new(ringmail_bin());
        command
            .arg("serve")
            .arg("--data")
            .arg(&data_dir)
            .args(["--smtp", &smtp_addr, "--imap", &imap_addr])
            .args(["--submission", &submission_addr])
            .args(["--submission-tls", &submission_tls_addr]);
        if let Some(config) = &self.config_path {
            command.arg("--config").arg(config);
        }
        command
            .envs(self.env.iter().map(|(name, value)| (name, value)))
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        let mut child = command
            .spawn()
            .map_err(|e| format!("failed to spawn ringmail serve: {e}"))?;

        let deadline = Instant::now() + Duration::from_millis(START_TIMEOUT_MS);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "ringmail serve exited with {status} before accepting on {smtp_addr} and {imap_addr}; stderr:\n{}",
                    tail(&self.stderr_text())
                ));
            }
            let submission_ready =
                port_accepts(self.submission_port) && port_accepts(self.submission_tls_port);
            if port_accepts(smtp_port) && port_accepts(imap_port) && submission_ready {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "ringmail serve did not accept on {smtp_addr} and {imap_addr} within {START_TIMEOUT_MS} ms; stderr:\n{}",
                    tail(&self.stderr_text())
                ));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Connects a raw SMTP client and asserts the 220 greeting.
    pub fn smtp(&self) -> SmtpClient {
        let (client, greeting) = SmtpClient::connect(self.smtp_port);
        assert_eq!(greeting.code, 220, "greeting: {greeting}");
        client
    }

    /// Connects a raw IMAP client and reads the `* OK` greeting.
    pub fn imap(&self) -> ImapClient {
        ImapClient::connect(self.imap_port)
    }

    /// Runs `ringmail queue list` on this server's data directory and
    /// returns its output, asserting that it succeeded.
    pub fn queue_list(&self) -> String {
        let data_dir = self.data_dir();
        let data_dir = data_dir.to_str().expect("data dir path is UTF-8");
        let listing = run_ringmail(&["queue", "list", "--data", data_dir], None, self.dir());
        assert!(listing.status.success(), "ringmail queue list: {listing:?}");
        String::from_utf8_lossy(&listing.stdout).into_owned()
    }

    /// Delivers one message to `recipients` over a fresh SMTP session and
    /// asserts every reply, ending with 250 after the final dot.
    pub fn deliver(&self, from: &str, recipients: &[&str], message: &[u8]) {
        let mut smtp = self.smtp();
        smtp.ehlo("client.test");
        let reply = smtp.transaction(from, recipients, message);
        assert_eq!(reply.code, 250, "end of data: {reply}");
        smtp.quit();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!(
                "--- ringmail serve logs (run {}) in {} ---\nstdout:\n{}\nstderr:\n{}",
                self.run_count,
                self.dir.path().display(),
                tail(&self.stdout_text()),
                tail(&self.stderr_text()),
            );
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Sends `signal` to `child`, panicking if the kernel rejects it.
pub fn send_signal(child: &Child, signal: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).expect("pid fits pid_t");
    // SAFETY: kill(2) takes plain integers and touches no memory of ours; the
    // pid belongs to a child that has not been waited for, so it is not reused.
    let result = unsafe { libc::kill(pid, signal) };
    assert_eq!(
        result,
        0,
        "kill({pid}, {signal}) failed: {}",
        io::Error::last_os_error()
    );
}

pub fn port_accepts(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// The last [`LOG_TAIL_LEN_MAX`] bytes of `text`, cut at a char boundary.
pub fn tail(text: &str) -> &str {
    let mut start = text.len().saturating_sub(LOG_TAIL_LEN_MAX);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

// ---------------------------------------------------------------------------
// Message helpers
// ---------------------------------------------------------------------------

/// Converts every bare LF to CRLF and leaves CR alone, so a bare CR in the
/// input stays a bare CR. Appends CRLF when the input does not end with LF.
pub fn lf_to_crlf(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 20 + 2);
    let mut previous = 0u8;
    for &byte in text {
        if byte == b'\n' && previous != b'\r' {
            out.push(b'\r');
        }
        out.push(byte);
        previous = byte;
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Reads a stored Maildir file, checks that its line ends are LF (the
/// Maildir convention that mutt and Dovecot expect), and returns it with
/// CRLF line ends, the form it was sent and is served in.
pub fn read_stored(path: &Path) -> Vec<u8> {
    let stored = fs::read(path)
        .unwrap_or_else(|e| panic!("failed to read stored message {}: {e}", path.display()));
    assert!(
        find(&stored, b"\r\n").is_none(),
        "stored message {} has CRLF line ends: {}",
        path.display(),
        preview(&stored)
    );
    let mut message = Vec::with_capacity(stored.len() + stored.len() / 20);
    for &byte in &stored {
        if byte == b'\n' {
            message.push(b'\r');
        }
        message.push(byte);
    }
    message
}

/// True when `message` contains a CR not followed by LF or an LF not preceded
/// by CR, the two inputs that SMTP smuggling relies on.
pub fn has_bare_cr_or_lf(message: &[u8]) -> bool {
    message.iter().enumerate().any(|(i, &byte)| match byte {
        b'\r' => message.get(i + 1) != Some(&b'\n'),
        b'\n' => i == 0 || message[i - 1] != b'\r',
        _ => false,
    })
}

/// Dot-stuffs `message` for DATA: a `.` that starts the message or follows
/// CRLF gets a second `.` in front (RFC 5321 section 4.5.2).
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 16);
    let mut at_line_start = true;
    for (i, &byte) in message.iter().enumerate() {
        if at_line_start && byte == b'.' {
            out.push(b'.');
        }
        out.push(byte);
        at_line_start = byte == b'\n' && i > 0 && message[i - 1] == b'\r';
    }
    out
}

/// Strips the `Received:` header field the server adds, with its folded
/// continuation lines, and returns the rest. `None` when `stored` does not
/// start with a `Received:` field ending in CRLF.
pub fn strip_received(stored: &[u8]) -> Option<&[u8]> {
    let name = b"received:";
    if stored.len() < name.len() || !stored[..name.len()].eq_ignore_ascii_case(name) {
        return None;
    }

    let mut position = 0;
    loop {
        let line_end = find(&stored[position..], b"\r\n")? + position + 2;
        position = line_end;
        match stored.get(position) {
            Some(b' ') | Some(b'\t') => continue,
            _ => return Some(&stored[position..]),
        }
    }
}

/// Byte offset of the first `needle` in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Short printable preview of `bytes` for failure messages.
pub fn preview(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(300)];
    format!(
        "{:?}{}",
        String::from_utf8_lossy(cut),
        if bytes.len() > 300 { "..." } else { "" }
    )
}

// ---------------------------------------------------------------------------
// SMTP client
// ---------------------------------------------------------------------------

/// One SMTP reply: the code and the text of each line after the code.
#[derive(Debug, Clone)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    /// Enhanced status code (RFC 3463) at the start of the first line, if any.
    pub fn enhanced(&self) -> Option<&str> {
        let first = self.lines.first()?;
        let word = first.split_whitespace().next()?;
        let parts: Vec<&str> = word.split('.').collect();
        let is_code = parts.len() == 3
            && matches!(parts[0], "2" | "4" | "5")
            && parts[1..].iter().all(|part| {
                !part.is_empty() && part.len() <= 3 && part.bytes().all(|b| b.is_ascii_digit())
            });
        is_code.then_some(word)
    }

    /// All lines' text joined with newlines.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }

    /// Asserts the reply code and enhanced status code, naming `context`.
    pub fn assert_status(&self, code: u16, enhanced: &str, context: &str) {
        assert_eq!(self.code, code, "{context}: reply code, reply was {self}");
        assert_eq!(
            self.enhanced(),
            Some(enhanced),
            "{context}: enhanced status code, reply was {self}"
        );
    }
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let last = self.lines.len().saturating_sub(1);
        for (i, line) in self.lines.iter().enumerate() {
            let separator = if i == last { ' ' } else { '-' };
            write!(f, "{}{}{}", self.code, separator, line)?;
            if i != last {
                f.write_str(" | ")?;
            }
        }
        Ok(())
    }
}

/// Raw SMTP client: exact bytes out, whole replies in.
pub struct SmtpClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl SmtpClient {
    /// Connects to `127.0.0.1:port` and returns the client with the greeting.
    pub fn connect(port: u16) -> (SmtpClient, Reply) {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("failed to connect to SMTP port {port}: {e}"));
        let timeout = Some(Duration::from_millis(IO_TIMEOUT_MS));
        stream.set_read_timeout(timeout).expect("set read timeout");
        stream
            .set_write_timeout(timeout)
            .expect("set write timeout");
        stream.set_nodelay(true).expect("set TCP_NODELAY");

        let writer = stream.try_clone().expect("clone the stream");
        let mut client = SmtpClient {
            reader: BufReader::new(stream),
            writer,
        };
        let greeting = client.read_reply();
        (client, greeting)
    }

    /// Sends `bytes` as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.writer
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("failed to send {}: {e}", preview(bytes)));
    }

    /// Sends `line` followed by CRLF, returning the write error if any, for
    /// a session the server may already have closed.
    pub fn try_send_line(&mut self, line: &str) -> io::Result<()> {
        self.writer.write_all(format!("{line}\r\n").as_bytes())
    }

    /// Sends `line` followed by CRLF.
    pub fn send_line(&mut self, line: &str) {
        let mut bytes = Vec::with_capacity(line.len() + 2);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        self.send_raw(&bytes);
    }

    /// Sends one command line and reads its reply.
    pub fn command(&mut self, line: &str) -> Reply {
        self.send_line(line);
        self.read_reply()
    }

    /// Reads one whole reply, panicking on a closed connection, a timeout or a
    /// malformed line.
    pub fn read_reply(&mut self) -> Reply {
        self.try_read_reply()
            .unwrap_or_else(|e| panic!("failed to read an SMTP reply: {e}"))
    }

    /// Reads one whole reply: lines `ddd-text` up to the line `ddd text`.
    pub fn try_read_reply(&mut self) -> io::Result<Reply> {
        let mut code = None;
        let mut lines = Vec::new();
        loop {
            let line = read_crlf_line(&mut self.reader)?;
            let text = String::from_utf8_lossy(&line).into_owned();
            let invalid = || {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("invalid reply line {text:?}"),
                )
            };

            if text.len() < 3 || !text.as_bytes()[..3].iter().all(u8::is_ascii_digit) {
                return Err(invalid());
            }
            let line_code: u16 = text[..3].parse().map_err(|_| invalid())?;
            if *code.get_or_insert(line_code) != line_code {
                return Err(invalid());
            }

            let separator = text.as_bytes().get(3).copied();
            lines.push(text.get(4..).unwrap_or("").to_owned());
            match separator {
                None | Some(b' ') => {
                    return Ok(Reply {
                        code: line_code,
                        lines,
                    })
                }
                Some(b'-') if lines.len() < REPLY_LINES_MAX => {}
                Some(b'-') => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("reply has more than {REPLY_LINES_MAX} lines"),
                    ))
                }
                Some(_) => return Err(invalid()),
            }
        }
    }

    /// Waits `wait_ms` and returns any bytes the server sent unasked, so a test
    /// can prove that no extra reply (a smuggled transaction's) is pending.
    pub fn unexpected_bytes(&mut self, wait_ms: u64) -> Vec<u8> {
        let timeout = Some(Duration::from_millis(wait_ms));
        self.reader
            .get_ref()
            .set_read_timeout(timeout)
            .expect("set read timeout");

        let mut bytes = self.reader.buffer().to_vec();
        self.reader.consume(bytes.len());
        let mut chunk = [0u8; 4096];
        loop {
            match self.reader.get_mut().read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => bytes.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    break
                }
                Err(e) => panic!("failed to read pending bytes: {e}"),
            }
        }

        let timeout = Some(Duration::from_millis(IO_TIMEOUT_MS));
        self.reader
            .get_ref()
            .set_read_timeout(timeout)
            .expect("set read timeout");
        bytes
    }

    /// Sends EHLO and returns the reply, asserting 250.
    pub fn ehlo(&mut self, name: &str) -> Reply {
        let reply = self.command(&format!("EHLO {name}"));
        assert_eq!(reply.code, 250, "EHLO {name}: {reply}");
        reply
    }

    /// Runs MAIL, RCPT for each recipient and DATA, asserting 250/250/354,
    /// then sends `message` (which must end in CRLF) dot-stuffed with the
    /// final dot, and returns the reply to the final dot.
    pub fn transaction(&mut self, from: &str, recipients: &[&str], message: &[u8]) -> Reply {
        let reply = self.command(&format!("MAIL FROM:<{from}>"));
        assert_eq!(reply.code, 250, "MAIL FROM:<{from}>: {reply}");
        for recipient in recipients {
            let reply = self.command(&format!("RCPT TO:<{recipient}>"));
            assert_eq!(reply.code, 250, "RCPT TO:<{recipient}>: {reply}");
        }
        let reply = self.command("DATA");
        assert_eq!(reply.code, 354, "DATA: {reply}");
        self.send_data(message)
    }

    /// Sends `message` dot-stuffed and the final `.` line, and reads the reply.
    pub fn send_data(&mut self, message: &[u8]) -> Reply {
        assert!(message.ends_with(b"\r\n"), "test message must end in CRLF");
        let mut data = dot_stuff(message);
        data.extend_from_slice(b".\r\n");
        self.send_raw(&data);
        self.read_reply()
    }

    /// Sends QUIT and asserts 221.
    pub fn quit(&mut self) {
        let reply = self.command("QUIT");
        assert_eq!(reply.code, 221, "QUIT: {reply}");
    }
}

/// Reads one line ending in LF (at most [`RESPONSE_LINE_LEN_MAX`] bytes) and
/// returns it without the CRLF.
fn read_crlf_line(reader: &mut BufReader<TcpStream>) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    let limit = u64::try_from(RESPONSE_LINE_LEN_MAX).expect("limit fits u64");
    let count = reader.by_ref().take(limit).read_until(b'\n', &mut line)?;
    if count == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed by the server",
        ));
    }
    if !line.ends_with(b"\r\n") {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "line does not end in CRLF within {RESPONSE_LINE_LEN_MAX} bytes: {}",
                preview(&line)
            ),
        ));
    }
    line.truncate(line.len() - 2);
    Ok(line)
}

// ---------------------------------------------------------------------------
// IMAP client
// ---------------------------------------------------------------------------

/// One untagged IMAP response: its text with each literal's bytes left out
/// (the `{n}` marker stays), and the literals in order.
#[derive(Debug, Clone)]
pub struct Untagged {
    pub text: String,
    pub literals: Vec<Vec<u8>>,
}

/// The untagged responses of one command and its tagged status line.
#[derive(Debug, Clone)]
pub struct ImapResponse {
    pub untagged: Vec<Untagged>,
    /// Tagged line without the tag, e.g. `OK LOGIN completed`.
    pub status: String,
}

impl ImapResponse {
    /// True when the tagged status is OK.
    pub fn is_ok(&self) -> bool {
        self.status.starts_with("OK")
    }

    /// Numbers of a `* SEARCH ...` response.
    pub fn search_numbers(&self) -> Vec<u32> {
        self.untagged
            .iter()
            .filter_map(|u| u.text.strip_prefix("* SEARCH"))
            .flat_map(|rest| {
                rest.split_whitespace()
                    .map(|n| n.parse::<u32>().expect("SEARCH number"))
            })
            .collect()
    }

    /// Value of the `[CODE n]` response code in an untagged OK, e.g. UIDVALIDITY.
    pub fn response_code_number(&self, code: &str) -> Option<u64> {
        let marker = format!("[{code} ");
        self.untagged.iter().find_map(|u| {
            let start = u.text.find(&marker)? + marker.len();
            let digits: String = u.text[start..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
    }

    /// Number of the `* n EXISTS` response.
    pub fn exists(&self) -> Option<u32> {
        self.untagged.iter().find_map(|u| {
            let rest = u.text.strip_prefix("* ")?;
            let number = rest.strip_suffix(" EXISTS")?;
            number.parse().ok()
        })
    }
}

/// One message of a FETCH response: its UID and its first literal (the body
/// section asked for).
#[derive(Debug, Clone)]
pub struct Fetched {
    pub uid: u32,
    pub body: Vec<u8>,
}

/// Raw IMAP client with numbered tags `a1`, `a2`, ...
pub struct ImapClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    tag_count: u32,
    pub greeting: String,
}

impl ImapClient {
    /// Connects to `127.0.0.1:port` and asserts the `* OK` greeting.
    pub fn connect(port: u16) -> ImapClient {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("failed to connect to IMAP port {port}: {e}"));
        let timeout = Some(Duration::from_millis(IO_TIMEOUT_MS));
        stream.set_read_timeout(timeout).expect("set read timeout");
        stream
            .set_write_timeout(timeout)
            .expect("set write timeout");
        stream.set_nodelay(true).expect("set TCP_NODELAY");

        let writer = stream.try_clone().expect("clone the stream");
        let mut reader = BufReader::new(stream);
        let greeting = read_crlf_line(&mut reader)
            .unwrap_or_else(|e| panic!("failed to read the IMAP greeting: {e}"));
        let greeting = String::from_utf8_lossy(&greeting).into_owned();
        assert!(greeting.starts_with("* OK"), "IMAP greeting: {greeting:?}");

        ImapClient {
            reader,
            writer,
            tag_count: 0,
            greeting,
        }
    }

    /// Sends `command` with a fresh tag and reads everything up to the tagged
    /// status line.
    pub fn command(&mut self, command: &str) -> ImapResponse {
        let tag = self.next_tag();
        self.send_raw(format!("{tag} {command}\r\n").as_bytes());
        self.read_tagged(&tag)
    }

    /// Sets the read timeout, for tests that expect a quick response and
    /// should fail fast without it.
    pub fn set_read_timeout_ms(&mut self, timeout_ms: u64) {
        let timeout = Some(Duration::from_millis(timeout_ms));
        self.reader
            .get_ref()
            .set_read_timeout(timeout)
            .expect("set read timeout");
    }

    /// Returns a fresh tag for a command the test sends itself with `send_raw`.
    pub fn next_tag(&mut self) -> String {
        self.tag_count += 1;
        format!("a{}", self.tag_count)
    }

    /// Sends `bytes` as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.writer
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("failed to send {}: {e}", preview(bytes)));
    }

    /// Reads one response line without its CRLF, such as a `+ ` continuation
    /// request.
    pub fn read_line(&mut self) -> String {
        let line = read_crlf_line(&mut self.reader)
            .unwrap_or_else(|e| panic!("failed to read an IMAP line: {e}"));
        String::from_utf8_lossy(&line).into_owned()
    }

    /// Reads untagged responses up to the status line tagged `tag`.
    pub fn read_tagged(&mut self, tag: &str) -> ImapResponse {
        let prefix = format!("{tag} ");
        let mut untagged = Vec::new();
        loop {
            let unit = self.read_unit().unwrap_or_else(|e| {
                let seen: Vec<&str> = untagged
                    .iter()
                    .map(|u: &Untagged| u.text.as_str())
                    .collect();
                panic!(
                    "failed to read the response tagged {tag}: {e}; responses before it: {seen:?}"
                )
            });
            if let Some(status) = unit.text.strip_prefix(&prefix) {
                return ImapResponse {
                    untagged,
                    status: status.to_owned(),
                };
            }
            assert!(
                untagged.len() < UNTAGGED_RESPONSES_MAX,
                "more than {UNTAGGED_RESPONSES_MAX} untagged responses before {tag}"
            );
            untagged.push(unit);
        }
    }

    /// Reads one response line and, for each `{n}` at its end, the literal and
    /// the line that continues after it.
    fn read_unit(&mut self) -> io::Result<Untagged> {
        let mut text = String::new();
        let mut literals = Vec::new();
        loop {
            let line = read_crlf_line(&mut self.reader)?;
            let line = String::from_utf8_lossy(&line).into_owned();
            let literal_len = literal_len_at_end(&line);
            text.push_str(&line);

            let Some(len) = literal_len else {
                return Ok(Untagged { text, literals });
            };
            if len > LITERAL_LEN_MAX {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("literal of {len} octets exceeds the maximum {LITERAL_LEN_MAX}"),
                ));
            }
            let mut literal = vec![0u8; len];
            self.reader.read_exact(&mut literal)?;
            literals.push(literal);
        }
    }

    /// Logs in with LOGIN and asserts OK.
    pub fn login(&mut self, user: &str, password: &str) {
        let response = self.command(&format!("LOGIN {} {}", quote(user), quote(password)));
        assert!(response.is_ok(), "LOGIN {user}: {}", response.status);
    }

    /// SELECTs `mailbox`, asserts OK and returns the response.
    pub fn select(&mut self, mailbox: &str) -> ImapResponse {
        let response = self.command(&format!("SELECT {}", quote(mailbox)));
        assert!(response.is_ok(), "SELECT {mailbox}: {}", response.status);
        response
    }

    /// Fetches `items` (which must ask for one body section) for the UID
    /// set `uids` and returns each message's UID and first literal.
    pub fn uid_fetch_bodies(&mut self, uids: &str, items: &str) -> Vec<Fetched> {
        let command = format!("UID FETCH {uids} ({items})");
        let response = self.command(&command);
        assert!(response.is_ok(), "{command}: {}", response.status);

        response
            .untagged
            .iter()
            .filter(|u| u.text.contains(" FETCH "))
            .map(|u| Fetched {
                uid: fetch_uid(&u.text).unwrap_or_else(|| panic!("no UID in {:?}", u.text)),
                body: u.literals.first().cloned().unwrap_or_default(),
            })
            .collect()
    }

    /// Returns the UIDs of all messages in the selected mailbox, in order.
    pub fn uids(&mut self) -> Vec<u32> {
        let response = self.command("UID FETCH 1:* (UID)");
        assert!(response.is_ok(), "UID FETCH 1:* (UID): {}", response.status);
        response
            .untagged
            .iter()
            .filter(|u| u.text.contains(" FETCH "))
            .map(|u| fetch_uid(&u.text).unwrap_or_else(|| panic!("no UID in {:?}", u.text)))
            .collect()
    }

    /// Sends LOGOUT and asserts OK.
    pub fn logout(&mut self) {
        let response = self.command("LOGOUT");
        assert!(response.is_ok(), "LOGOUT: {}", response.status);
    }
}

/// Quotes `value` as an IMAP quoted string.
pub fn quote(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Length `n` of a `{n}` literal marker that ends `line`.
fn literal_len_at_end(line: &str) -> Option<usize> {
    let inner = line.strip_suffix('}')?;
    let open = inner.rfind('{')?;
    let digits = inner[open + 1..].trim_end_matches('+');
    digits.parse().ok()
}

/// Value of the `UID n` item in a FETCH response's text.
fn fetch_uid(text: &str) -> Option<u32> {
    let start = text.find("UID ")? + 4;
    let digits: String = text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}
