//! End-to-end tests of `ringmail-loadgen sink` and `ringmail-loadgen verify`
//! on loopback ports: the loadgen against the sink, raw BDAT and pipelined
//! sessions, and verification of Maildirs filled by `ringmail serve`.
//!
//! The server binary is not a dependency of this package: run
//! `cargo build -p ringmail` first. It is looked up in
//! `$CARGO_TARGET_DIR/debug`, or else in the workspace's `target/debug`.

mod common;

use common::{free_loopback_addr, loadgen, ringmail_binary, stdout_of, LOADGEN};

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Time allowed for a server to listen, or to exit after SIGTERM.
const SERVER_WAIT: Duration = Duration::from_secs(20);

fn wait_for_listener(addr: SocketAddr) {
    let started = Instant::now();
    while TcpStream::connect(addr).is_err() {
        assert!(started.elapsed() < SERVER_WAIT, "nothing listens on {addr}");
        sleep(Duration::from_millis(20));
    }
}

/// Sends SIGTERM to `child` and returns its output once it exited.
fn terminate(child: Child) -> Output {
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -TERM failed");
    wait_with_deadline(child)
}

fn wait_with_deadline(mut child: Child) -> Output {
    let started = Instant::now();
    while child.try_wait().expect("wait for child").is_none() {
        if started.elapsed() > SERVER_WAIT {
            let _ = child.kill();
            panic!("child did not exit in time");
        }
        sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("collect output")
}

/// A running `ringmail-loadgen sink`.
struct Sink {
    child: Option<Child>,
    addr: SocketAddr,
}

impl Sink {
    fn start(extra: &[&str]) -> Sink {
        let addr = free_loopback_addr();
        let child = Command::new(LOADGEN)
            .args([
                "sink",
                "--listen",
                &addr.to_string(),
                "--workers",
                "2",
                "--hostname",
                "sink.test",
            ])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the sink");
        wait_for_listener(addr);
        Sink {
            child: Some(child),
            addr,
        }
    }

    /// Stops the sink with SIGTERM and returns its printed report.
    fn stop(mut self) -> String {
        let output = terminate(self.child.take().expect("sink running"));
        let stdout = String::from_utf8(output.stdout).expect("stdout is UTF-8");
        assert_eq!(output.status.code(), Some(0), "sink exit status: {stdout}");
        stdout
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

#[test]
fn loadgen_against_sink_counts_match() {
    let dir = tempfile::tempdir().unwrap();
    let sink_log = dir.path().join("sink.log");
    let ack_log = dir.path().join("acks.txt");
    let sink = Sink::start(&["--log", path_str(&sink_log)]);

    let output = loadgen(&[
        "smtp",
        "--target",
        &sink.addr.to_string(),
        "--connections",
        "4",
        "--messages",
        "300",
        "--per-connection",
        "40",
        "--pipelining",
        "--ack-log",
        path_str(&ack_log),
    ]);
    let stdout = stdout_of(&output);
    assert!(output.status.success(), "loadgen: {stdout}");
    assert!(stdout.contains("accepted: 300\n"), "{stdout}");

    let report = sink.stop();
    assert!(report.contains("messages accepted: 300\n"), "{report}");
    assert!(report.contains("4xx injected: 0\n"), "{report}");
    assert!(report.contains("5xx injected: 0\n"), "{report}");
    let connections: u64 = report
        .lines()
        .find_map(|line| line.strip_prefix("connections: "))
        .expect("connections line")
        .parse()
        .unwrap();
    assert!(
        connections >= 8,
        "300 messages at 40 per connection need 8 sessions: {report}"
    );

    let logged: Vec<String> = std::fs::read_to_string(&sink_log)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(logged.len(), 300, "log lines");
    let distinct: HashSet<&String> = logged.iter().collect();
    assert_eq!(distinct.len(), 300, "distinct ids in the log");

    let verify = loadgen(&[
        "verify",
        "--ack-log",
        path_str(&ack_log),
        "--sink-log",
        path_str(&sink_log),
    ]);
    let text = stdout_of(&verify);
    assert_eq!(verify.status.code(), Some(0), "{text}");
    assert!(text.contains("acknowledged: 300\n"), "{text}");
    assert!(text.contains("lost: 0\n"), "{text}");
    assert!(text.contains("duplicates: 0\n"), "{text}");
}

#[test]
fn fail_rate_4xx_rejects_everything() {
    let dir = tempfile::tempdir().unwrap();
    let sink_log = dir.path().join("sink.log");
    let ack_log = dir.path().join("acks.txt");
    let sink = Sink::start(&["--fail-rate", "4xx:1.0", "--log", path_str(&sink_log)]);

    let output = loadgen(&[
        "smtp",
        "--target",
        &sink.addr.to_string(),
        "--connections",
        "2",
        "--messages",
        "50",
        "--ack-log",
        path_str(&ack_log),
    ]);
    let stdout = stdout_of(&output);
    assert_eq!(
        output.status.code(),
        Some(1),
        "no message accepted: {stdout}"
    );
    assert!(stdout.contains("accepted: 0\n"), "{stdout}");
    assert!(stdout.contains("  451: 50\n"), "{stdout}");

    let report = sink.stop();
    assert!(report.contains("messages accepted: 0\n"), "{report}");
    assert!(report.contains("4xx injected: 50\n"), "{report}");

    let verify = loadgen(&[
        "verify",
        "--ack-log",
        path_str(&ack_log),
        "--sink-log",
        path_str(&sink_log),
    ]);
    let text = stdout_of(&verify);
    assert_eq!(
        verify.status.code(),
        Some(0),
        "nothing acknowledged, so nothing lost: {text}"
    );
    assert!(text.contains("acknowledged: 0\n"), "{text}");
    assert!(text.contains("lost: 0\n"), "{text}");
}

/// Reads one reply, multi-line included, and returns its last line.
fn read_reply(reader: &mut BufReader<TcpStream>) -> String {
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("read reply line");
        assert!(line.ends_with("\r\n"), "incomplete reply line {line:?}");
        if line.as_bytes().get(3) != Some(&b'-') {
            return line;
        }
    }
}

fn raw_session(addr: SocketAddr) -> (TcpStream, BufReader<TcpStream>) {
    let stream = TcpStream::connect(addr).expect("connect to the sink");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    assert!(read_reply(&mut reader).starts_with("220 sink.test "));
    (stream, reader)
}

#[test]
fn bdat_chunks_with_raw_client() {
    let dir = tempfile::tempdir().unwrap();
    let sink_log = dir.path().join("sink.log");
    let sink = Sink::start(&["--log", path_str(&sink_log)]);
    let (mut stream, mut reader) = raw_session(sink.addr);

    stream.write_all(b"EHLO raw\r\n").unwrap();
    let mut ehlo = String::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        ehlo.push_str(&line);
        if line.as_bytes()[3] == b' ' {
            break;
        }
    }
    assert!(
        ehlo.contains("250-CHUNKING\r\n") || ehlo.contains("250 CHUNKING\r\n"),
        "{ehlo}"
    );

    stream.write_all(b"MAIL FROM:<a@example.org>\r\n").unwrap();
    assert!(read_reply(&mut reader).starts_with("250 "));
    stream.write_all(b"RCPT TO:<b@example.org>\r\n").unwrap();
    assert!(read_reply(&mut reader).starts_with("250 "));

    // The first chunk ends with a lone "." line, which must not end anything.
    let first = b"X-Loadgen-Id: bdat-1\r\n\r\n.\r\n";
    stream
        .write_all(format!("BDAT {}\r\n", first.len()).as_bytes())
        .unwrap();
    stream.write_all(first).unwrap();
    assert_eq!(
        read_reply(&mut reader),
        format!("250 2.0.0 {} octets received\r\n", first.len())
    );

    let second = b"body\r\n";
    stream
        .write_all(format!("BDAT {} LAST\r\n", second.len()).as_bytes())
        .unwrap();
    stream.write_all(second).unwrap();
    assert_eq!(
        read_reply(&mut reader),
        "250 2.0.0 sink: message accepted\r\n"
    );

    stream.write_all(b"BDAT 0 LAST\r\n").unwrap();
    assert!(
        read_reply(&mut reader).starts_with("503 5.5.1 "),
        "BDAT after the message needs MAIL"
    );

    stream.write_all(b"QUIT\r\n").unwrap();
    assert!(read_reply(&mut reader).starts_with("221 "));

    let report = sink.stop();
    assert!(report.contains("messages accepted: 1\n"), "{report}");
    let bytes = first.len() + second.len();
    assert!(
        report.contains(&format!("bytes accepted: {bytes}\n")),
        "{report}"
    );
    assert_eq!(std::fs::read_to_string(&sink_log).unwrap(), "bdat-1\n");
}

#[test]
fn pipelined_raw_session_gets_replies_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let sink_log = dir.path().join("sink.log");
    let sink = Sink::start(&["--log", path_str(&sink_log)]);
    let (mut stream, mut reader) = raw_session(sink.addr);

    // Two messages, the second without an id, and QUIT in one write.
    stream
        .write_all(
            b"EHLO raw\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nRCPT TO:<c@x>\r\nDATA\r\n\
              X-Loadgen-Id: pipe-1\r\n\r\n..stuffed\r\n.\r\n\
              MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\nSubject: none\r\n\r\n.\r\nQUIT\r\n",
        )
        .unwrap();
    let mut codes = Vec::new();
    for _ in 0..10 {
        codes.push(read_reply(&mut reader)[..3].to_string());
    }
    assert_eq!(
        codes,
        ["250", "250", "250", "250", "354", "250", "250", "250", "354", "250"]
    );
    assert!(read_reply(&mut reader).starts_with("221 "));
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "bytes after 221: {rest:?}");

    let report = sink.stop();
    assert!(report.contains("messages accepted: 2\n"), "{report}");
    assert_eq!(std::fs::read_to_string(&sink_log).unwrap(), "pipe-1\n-\n");
}

#[test]
fn max_messages_stops_the_sink() {
    let addr = free_loopback_addr();
    let child = Command::new(LOADGEN)
        .args([
            "sink",
            "--listen",
            &addr.to_string(),
            "--workers",
            "1",
            "--max-messages",
            "20",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the sink");
    wait_for_listener(addr);

    let output = loadgen(&[
        "smtp",
        "--target",
        &addr.to_string(),
        "--connections",
        "1",
        "--messages",
        "20",
    ]);
    assert!(
        stdout_of(&output).contains("accepted: 20\n"),
        "{}",
        stdout_of(&output)
    );

    let output = wait_with_deadline(child);
    let report = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(0), "{report}");
    assert!(report.contains("messages accepted: 20\n"), "{report}");
}

/// Starts `ringmail serve` with user `postmaster` and returns it with its
/// data directory and SMTP address.
fn start_ringmail() -> (Child, tempfile::TempDir, SocketAddr) {
    let data = tempfile::tempdir().unwrap();
    let mut add = Command::new(ringmail_binary())
        .args(["user", "add", "postmaster", "--password-stdin", "--data"])
        .arg(data.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ringmail user add");
    add.stdin
        .take()
        .unwrap()
        .write_all(b"verify-test-password\n")
        .unwrap();
    assert!(add.wait().unwrap().success(), "ringmail user add failed");

    let smtp = free_loopback_addr();
    let imap = free_loopback_addr();
    let child = Command::new(ringmail_binary())
        .arg("serve")
        .arg("--data")
        .arg(data.path())
        .args(["--smtp", &smtp.to_string(), "--imap", &imap.to_string()])
        .args(["--submission", &free_loopback_addr().to_string()])
        .args(["--submission-tls", &free_loopback_addr().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ringmail serve");
    wait_for_listener(smtp);
    (child, data, smtp)
}

#[test]
fn verify_names_lost_and_duplicate_maildir_messages() {
    let (server, data, smtp) = start_ringmail();
    let out = tempfile::tempdir().unwrap();
    let ack_log = out.path().join("acks.txt");
    let output = loadgen(&[
        "smtp",
        "--target",
        &smtp.to_string(),
        "--connections",
        "4",
        "--messages",
        "100",
        "--size",
        "500",
        "--ack-log",
        path_str(&ack_log),
    ]);
    assert!(
        stdout_of(&output).contains("accepted: 100\n"),
        "{}",
        stdout_of(&output)
    );
    let server_output = terminate(server);
    assert_eq!(server_output.status.code(), Some(0), "ringmail exit status");

    let maildir = data.path().join("mail/postmaster/Maildir");
    let maildir_arg = path_str(&maildir).to_string();
    let verify = |expected_status: i32| {
        let output = loadgen(&[
            "verify",
            "--ack-log",
            path_str(&ack_log),
            "--maildir",
            &maildir_arg,
        ]);
        let text = stdout_of(&output);
        assert_eq!(output.status.code(), Some(expected_status), "{text}");
        text
    };
    let text = verify(0);
    assert!(text.contains("acknowledged: 100\n"), "{text}");
    assert!(text.contains("delivered: 100\n"), "{text}");
    assert!(text.contains("lost: 0\n"), "{text}");

    let mut files: Vec<PathBuf> = std::fs::read_dir(maildir.join("new"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    let id_of = |path: &Path| {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .find_map(|line| line.strip_prefix("X-Loadgen-Id: ").map(str::to_string))
            .expect("message has an id")
    };

    // Duplicate: the same message once more, in a Maildir++ folder's cur/.
    let copied_id = id_of(&files[1]);
    std::fs::create_dir_all(maildir.join(".Archive/cur")).unwrap();
    std::fs::copy(&files[1], maildir.join(".Archive/cur/copy:2,S")).unwrap();
    let text = verify(0);
    assert!(text.contains("duplicates: 1\n"), "{text}");
    assert!(
        text.contains(&format!("  {copied_id} (2 times)\n")),
        "{text}"
    );

    // Lost: delete one message on purpose.
    let deleted_id = id_of(&files[0]);
    std::fs::remove_file(&files[0]).unwrap();
    let text = verify(1);
    assert!(text.contains("lost: 1\n"), "{text}");
    assert!(text.contains(&format!("  {deleted_id}\n")), "{text}");
    assert!(text.contains("unacknowledged deliveries: 0\n"), "{text}");
}

#[test]
fn bad_arguments_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let acks = dir.path().join("acks.txt");
    std::fs::write(&acks, "a-1\n").unwrap();
    let missing = dir.path().join("missing.log");
    let cases: &[(&str, Vec<&str>)] = &[
        (
            "fail rate above 1",
            vec!["sink", "--listen", "127.0.0.1:0", "--fail-rate", "4xx:1.5"],
        ),
        (
            "fail rate sum above 1",
            vec![
                "sink",
                "--listen",
                "127.0.0.1:0",
                "--fail-rate",
                "4xx:0.6,5xx:0.6",
            ],
        ),
        (
            "fail rate class",
            vec!["sink", "--listen", "127.0.0.1:0", "--fail-rate", "2xx:0.1"],
        ),
        (
            "fail rate format",
            vec!["sink", "--listen", "127.0.0.1:0", "--fail-rate", "half"],
        ),
        ("listen without port", vec!["sink", "--listen", "127.0.0.1"]),
        (
            "zero workers",
            vec!["sink", "--listen", "127.0.0.1:0", "--workers", "0"],
        ),
        (
            "delay too long",
            vec!["sink", "--listen", "127.0.0.1:0", "--delay-ms", "600000"],
        ),
        (
            "zero max messages",
            vec!["sink", "--listen", "127.0.0.1:0", "--max-messages", "0"],
        ),
        (
            "verify without source",
            vec!["verify", "--ack-log", path_str(&acks)],
        ),
        (
            "verify unreadable sink log",
            vec![
                "verify",
                "--ack-log",
                path_str(&acks),
                "--sink-log",
                path_str(&missing),
            ],
        ),
        (
            "verify unreadable ack log",
            vec![
                "verify",
                "--ack-log",
                path_str(&missing),
                "--sink-log",
                path_str(&acks),
            ],
        ),
        (
            "verify missing maildir",
            vec![
                "verify",
                "--ack-log",
                path_str(&acks),
                "--maildir",
                path_str(&missing),
            ],
        ),
        (
            "verify two sources",
            vec![
                "verify",
                "--ack-log",
                path_str(&acks),
                "--maildir",
                "x",
                "--sink-log",
                "y",
            ],
        ),
    ];
    for (name, args) in cases {
        let output = loadgen(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "case {name}: {stderr}");
        assert!(!stderr.trim().is_empty(), "case {name}: no error message");
    }
}
