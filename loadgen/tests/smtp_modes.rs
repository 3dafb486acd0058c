//! End-to-end runs of the `ringmail-loadgen smtp` modes: open-loop rate,
//! size distributions and a corpus against a real `ringmail serve`, and BDAT
//! and STARTTLS against small SMTP test servers defined here (Ringmail does
//! not advertise CHUNKING or STARTTLS).
//!
//! The server binary is not a dependency of this package: run
//! `cargo build -p ringmail` first. It is looked up in
//! `$CARGO_TARGET_DIR/debug`, or else in the workspace's `target/debug`.

mod common;

use common::{loadgen, stdout_of, Server};

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Maximum line length the test servers read before they drop a client.
const TEST_LINE_MAX: usize = 4096;

fn assert_success(output: &Output) -> String {
    let stdout = stdout_of(output);
    assert!(
        output.status.success(),
        "exit status {:?}: {stdout}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Returns the stored messages in `dir`, by the sequence number at the end
/// of their X-Loadgen-Id.
fn stored_by_seq(dir: &Path) -> BTreeMap<u64, Vec<u8>> {
    let mut messages = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("read Maildir new/") {
        let path = entry.expect("directory entry").path();
        // Maildir files hold LF line ends; the comparisons use the CRLF form
        // that was sent.
        let stored = std::fs::read(&path).expect("read message");
        let mut message = Vec::with_capacity(stored.len() + stored.len() / 20);
        for &byte in &stored {
            if byte == b'\n' {
                message.push(b'\r');
            }
            message.push(byte);
        }
        let text = String::from_utf8_lossy(&message);
        let id = text
            .lines()
            .find_map(|line| line.strip_prefix("X-Loadgen-Id: "))
            .unwrap_or_else(|| panic!("{} has no X-Loadgen-Id", path.display()));
        let seq = id
            .trim_end()
            .rsplit('-')
            .next()
            .and_then(|seq| seq.parse().ok())
            .unwrap_or_else(|| panic!("invalid X-Loadgen-Id {id:?}"));
        messages.insert(seq, message);
    }
    messages
}

/// Returns the octets after the first blank line (CRLF or LF).
fn body_of(message: &[u8]) -> &[u8] {
    let crlf = message.windows(4).position(|window| window == b"\r\n\r\n");
    let lf = message.windows(2).position(|window| window == b"\n\n");
    match (crlf, lf) {
        (Some(index), _) => &message[index + 4..],
        (None, Some(index)) => &message[index + 2..],
        (None, None) => panic!("message has no blank line"),
    }
}

#[test]
fn rate_mode_accepts_all_and_reports_lag() {
    let server = Server::start(&["postmaster"]);
    let out_dir = tempfile::tempdir().expect("create output dir");
    let json = out_dir.path().join("report.json");
    let target = server.smtp.to_string();

    let output = loadgen(&[
        "smtp",
        "--target",
        &target,
        "--connections",
        "4",
        "--messages",
        "200",
        "--rate",
        "200",
        "--size",
        "500",
        "--json",
        json.to_str().unwrap(),
    ]);
    let stdout = assert_success(&output);
    assert!(stdout.contains("accepted: 200\n"), "{stdout}");
    assert!(
        stdout.contains("rate: target 200.0 msg/s, achieved "),
        "{stdout}"
    );
    assert!(stdout.contains(" max lag "), "{stdout}");
    assert!(stdout.contains("\nlag "), "{stdout}");
    assert!(stdout.contains("\nsession "), "{stdout}");
    assert_eq!(stored_by_seq(&server.inbox_new("postmaster")).len(), 200);

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("read JSON report"))
            .expect("valid JSON");
    assert_eq!(report["schedule"]["target_rate"], 200.0);
    assert_eq!(report["schedule"]["lag_ms"]["count"], 200);
    assert_eq!(report["message_ms"]["count"], 200);
    let sessions = report["session_ms"]["count"].as_u64().expect("a count");
    assert!(sessions >= 4, "every connection quit: {sessions}");
}

#[test]
fn size_dist_bodies_stay_in_bounds() {
    let server = Server::start(&["postmaster"]);
    let target = server.smtp.to_string();
    let (min, max) = (100, 3000);

    let output = loadgen(&[
        "smtp",
        "--target",
        &target,
        "--connections",
        "2",
        "--messages",
        "60",
        "--size-dist",
        "uniform:100-3000",
        "--seed",
        "7",
    ]);
    let stdout = assert_success(&output);
    assert!(stdout.contains("accepted: 60\n"), "{stdout}");
    assert!(
        stdout.contains("content: uniform 100-3000 seed 7"),
        "{stdout}"
    );

    let stored = stored_by_seq(&server.inbox_new("postmaster"));
    assert_eq!(stored.len(), 60);
    let mut lens = Vec::new();
    for (seq, message) in &stored {
        let len = body_of(message).len();
        assert!(
            (min..=max).contains(&len),
            "message {seq}: body of {len} octets outside {min}..={max}"
        );
        lens.push(len);
    }
    lens.sort();
    lens.dedup();
    assert!(lens.len() > 10, "sizes vary: {lens:?}");
}

/// The corpus files of the corpus test: name and contents.
const CORPUS_FILES: &[(&str, &[u8])] = &[
    (
        "a.eml",
        b"From: a@example.org\r\nSubject: first\r\n\r\nplain CRLF body\r\n",
    ),
    (
        "sub/b.eml",
        b"From: b@example.org\nSubject: second\n\n.leading dot\n..two dots\nend\n",
    ),
    (
        "sub/c.eml",
        b"From: c@example.org\r\nSubject: third\r\n\r\nmixed\nends\r\nno final line end",
    ),
];

/// The same files with CRLF line ends, as they must arrive.
const CORPUS_EXPECTED: &[&[u8]] = &[
    b"From: a@example.org\r\nSubject: first\r\n\r\nplain CRLF body\r\n",
    b"From: b@example.org\r\nSubject: second\r\n\r\n.leading dot\r\n..two dots\r\nend\r\n",
    b"From: c@example.org\r\nSubject: third\r\n\r\nmixed\r\nends\r\nno final line end\r\n",
];

#[test]
fn corpus_arrives_byte_for_byte() {
    let server = Server::start(&["postmaster"]);
    let target = server.smtp.to_string();
    let corpus = tempfile::tempdir().expect("create corpus dir");
    std::fs::create_dir(corpus.path().join("sub")).expect("create subdir");
    for (name, contents) in CORPUS_FILES {
        std::fs::write(corpus.path().join(name), contents).expect("write corpus file");
    }
    std::fs::write(corpus.path().join("notes.txt"), b"not mail\n").expect("write other file");

    let output = loadgen(&[
        "smtp",
        "--target",
        &target,
        "--connections",
        "1",
        "--messages",
        "6",
        "--corpus",
        corpus.path().to_str().unwrap(),
    ]);
    let stdout = assert_success(&output);
    assert!(stdout.contains("accepted: 6\n"), "{stdout}");
    assert!(stdout.contains("content: corpus of 3 files"), "{stdout}");

    let stored = stored_by_seq(&server.inbox_new("postmaster"));
    assert_eq!(stored.len(), 6);
    for (seq, message) in &stored {
        // Received lines come first, then the inserted X-Loadgen-Id line,
        // then the file as sent.
        let id_at = message
            .windows(14)
            .position(|window| window == b"X-Loadgen-Id: ")
            .expect("X-Loadgen-Id present");
        let line_end = id_at
            + message[id_at..]
                .iter()
                .position(|&byte| byte == b'\n')
                .expect("X-Loadgen-Id line ends");
        let after = &message[line_end + 1..];
        let expected = CORPUS_EXPECTED[*seq as usize % CORPUS_EXPECTED.len()];
        assert_eq!(
            String::from_utf8_lossy(after),
            String::from_utf8_lossy(expected),
            "message {seq}"
        );
        assert!(
            message[..id_at].starts_with(b"Received:"),
            "message {seq} starts with the server's Received"
        );
    }
}

/// One message as a test server received it.
#[derive(Debug, Default, Clone)]
struct Received {
    /// BDAT chunk sizes and LAST flags, in order; empty for DATA.
    chunks: Vec<(usize, bool)>,
    /// The message octets (unstuffed for DATA).
    data: Vec<u8>,
    /// Whether the message came after a finished TLS handshake.
    over_tls: bool,
}

/// Capabilities of a test server.
#[derive(Debug, Clone, Copy, Default)]
struct TestServerOptions {
    chunking: bool,
    starttls: bool,
    /// Index of the BDAT chunk of each message to reject with 552; later
    /// chunks of that transaction get 503 until RSET.
    reject_chunk: Option<usize>,
    /// Send a plaintext reply right behind the 220 to STARTTLS, as an
    /// attacker in the path would.
    inject_after_starttls: bool,
}

/// What a test server saw: the messages it accepted and the RSET count.
#[derive(Debug, Default)]
struct TestLog {
    messages: Vec<Received>,
    rsets: usize,
}

trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// A line-based SMTP server connection for the tests.
struct TestConnection {
    stream: Box<dyn Stream>,
    input: Vec<u8>,
    over_tls: bool,
}

impl TestConnection {
    fn read_more(&mut self) -> bool {
        let mut buf = [0u8; 8192];
        match self.stream.read(&mut buf) {
            Ok(0) | Err(_) => false,
            Ok(read) => {
                self.input.extend_from_slice(&buf[..read]);
                true
            }
        }
    }

    fn read_line(&mut self) -> Option<String> {
        loop {
            if let Some(index) = self.input.iter().position(|&byte| byte == b'\n') {
                let line: Vec<u8> = self.input.drain(..=index).collect();
                return Some(String::from_utf8_lossy(&line).trim_end().to_string());
            }
            if self.input.len() > TEST_LINE_MAX || !self.read_more() {
                return None;
            }
        }
    }

    fn read_exact(&mut self, len: usize) -> Option<Vec<u8>> {
        while self.input.len() < len {
            if !self.read_more() {
                return None;
            }
        }
        Some(self.input.drain(..len).collect())
    }

    /// Reads dot-stuffed data up to the `.` line and returns it unstuffed.
    fn read_data(&mut self) -> Option<Vec<u8>> {
        let mut data = Vec::new();
        loop {
            let line = self.read_line()?;
            if line == "." {
                return Some(data);
            }
            let line = line.strip_prefix('.').unwrap_or(&line);
            data.extend_from_slice(line.as_bytes());
            data.extend_from_slice(b"\r\n");
        }
    }

    fn reply(&mut self, text: &str) {
        let _ = self.stream.write_all(text.as_bytes());
        let _ = self.stream.flush();
    }
}

/// Starts a test SMTP server on a free loopback port and returns its
/// address and the messages it receives. It serves connections one at a
/// time on a thread that lives until the test process exits.
fn start_test_server(options: TestServerOptions) -> (SocketAddr, Arc<Mutex<TestLog>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind test server");
    let addr = listener.local_addr().expect("test server address");
    let received = Arc::new(Mutex::new(TestLog::default()));
    let tls_config = options.starttls.then(server_tls_config);

    let thread_received = Arc::clone(&received);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            stream
                .set_read_timeout(Some(Duration::from_secs(20)))
                .expect("set read timeout");
            let connection = TestConnection {
                stream: Box::new(stream),
                input: Vec::new(),
                over_tls: false,
            };
            serve(connection, options, tls_config.clone(), &thread_received);
        }
    });
    (addr, received)
}

fn server_tls_config() -> Arc<rustls::ServerConfig> {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
        .expect("generate a self-signed certificate");
    let cert = certified.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        certified.key_pair.serialize_der(),
    ));
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("server certificate");
    Arc::new(config)
}

/// Runs one SMTP session of a test server.
fn serve(
    mut connection: TestConnection,
    options: TestServerOptions,
    tls_config: Option<Arc<rustls::ServerConfig>>,
    received: &Mutex<TestLog>,
) {
    connection.reply("220 test.localhost ESMTP\r\n");
    let mut current = Received::default();
    let mut chunking_data = Vec::new();
    let mut transaction_failed = false;

    while let Some(line) = connection.read_line() {
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            let mut reply = String::from("250-test.localhost\r\n250-PIPELINING\r\n");
            if options.chunking {
                reply.push_str("250-CHUNKING\r\n");
            }
            if options.starttls && !connection.over_tls {
                reply.push_str("250-STARTTLS\r\n");
            }
            reply.push_str("250 8BITMIME\r\n");
            connection.reply(&reply);
        } else if upper == "STARTTLS" && !connection.over_tls {
            let Some(config) = tls_config.clone() else {
                connection.reply("502 not supported\r\n");
                continue;
            };
            if options.inject_after_starttls {
                connection.reply("220 go ahead\r\n250 injected\r\n");
            } else {
                connection.reply("220 go ahead\r\n");
            }
            assert!(connection.input.is_empty(), "no plaintext after STARTTLS");
            let Some(upgraded) = upgrade(connection, config) else {
                return;
            };
            connection = upgraded;
        } else if upper.starts_with("MAIL") || upper == "RSET" {
            if upper == "RSET" {
                received.lock().unwrap().rsets += 1;
            }
            current = Received::default();
            chunking_data.clear();
            transaction_failed = false;
            connection.reply("250 ok\r\n");
        } else if upper.starts_with("RCPT") {
            connection.reply("250 ok\r\n");
        } else if upper == "DATA" {
            connection.reply("354 go on\r\n");
            let Some(data) = connection.read_data() else {
                return;
            };
            current.data = data;
            current.over_tls = connection.over_tls;
            received
                .lock()
                .unwrap()
                .messages
                .push(std::mem::take(&mut current));
            connection.reply("250 queued\r\n");
        } else if let Some(arguments) = upper.strip_prefix("BDAT ") {
            let mut words = arguments.split(' ');
            let Some(len) = words.next().and_then(|len| len.parse::<usize>().ok()) else {
                connection.reply("501 bad BDAT\r\n");
                continue;
            };
            let last = words.next() == Some("LAST");
            let Some(chunk) = connection.read_exact(len) else {
                return;
            };
            if transaction_failed {
                connection.reply("503 transaction failed, send RSET\r\n");
                continue;
            }
            if options.reject_chunk == Some(current.chunks.len()) {
                transaction_failed = true;
                connection.reply("552 chunk rejected\r\n");
                continue;
            }
            chunking_data.extend_from_slice(&chunk);
            current.chunks.push((len, last));
            if last {
                current.data = std::mem::take(&mut chunking_data);
                current.over_tls = connection.over_tls;
                received
                    .lock()
                    .unwrap()
                    .messages
                    .push(std::mem::take(&mut current));
                connection.reply("250 message queued\r\n");
            } else {
                connection.reply(&format!("250 {len} octets received\r\n"));
            }
        } else if upper == "QUIT" {
            connection.reply("221 bye\r\n");
            return;
        } else {
            connection.reply("500 unknown command\r\n");
        }
    }
}

/// Runs the server side of the TLS handshake and wraps the connection, or
/// returns `None` when the handshake failed.
fn upgrade(
    connection: TestConnection,
    config: Arc<rustls::ServerConfig>,
) -> Option<TestConnection> {
    struct Plain(Box<dyn Stream>);
    impl Read for Plain {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.0.read(buf)
        }
    }
    impl Write for Plain {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.0.flush()
        }
    }

    let mut tls = rustls::ServerConnection::new(config).expect("server tls connection");
    let mut plain = Plain(connection.stream);
    while tls.is_handshaking() {
        tls.complete_io(&mut plain).ok()?;
    }
    Some(TestConnection {
        stream: Box::new(rustls::StreamOwned::new(tls, plain)),
        input: Vec::new(),
        over_tls: true,
    })
}

#[test]
fn bdat_chunks_have_right_sizes_and_last() {
    let (addr, received) = start_test_server(TestServerOptions {
        chunking: true,
        ..TestServerOptions::default()
    });
    let target = addr.to_string();

    let output = loadgen(&[
        "smtp",
        "--target",
        &target,
        "--connections",
        "1",
        "--messages",
        "3",
        "--bdat",
        "--chunk-size",
        "1000",
        "--size",
        "2500",
    ]);
    let stdout = assert_success(&output);
    assert!(stdout.contains("accepted: 3\n"), "{stdout}");
    assert!(
        stdout.contains("sent with BDAT in chunks of 1000"),
        "{stdout}"
    );

    let received = &received.lock().unwrap().messages;
    assert_eq!(received.len(), 3);
    assert_chunks(received, 1000, 2500);
    for message in received.iter() {
        let text = String::from_utf8_lossy(&message.data);
        assert!(text.contains("X-Loadgen-Id: "), "{text}");
        // BDAT carries the body unstuffed: the generated body's dot lines
        // arrive with one dot.
        assert!(text.contains("\r\n."), "{text}");
        assert!(!text.contains("\r\n.."), "{text}");
    }
}

/// Checks the chunks of each message: all `chunk_len` but the last, which
/// alone is LAST, and together the message whose body is `body_len` octets.
fn assert_chunks(messages: &[Received], chunk_len: usize, body_len: usize) {
    for message in messages {
        let total: usize = message.chunks.iter().map(|(len, _)| len).sum();
        assert_eq!(total, message.data.len());
        let (last, earlier) = message.chunks.split_last().expect("at least one chunk");
        assert!(last.1, "the last chunk is LAST: {:?}", message.chunks);
        assert!(last.0 >= 1, "{:?}", message.chunks);
        assert!(last.0 <= chunk_len, "{:?}", message.chunks);
        for (len, is_last) in earlier {
            assert_eq!(*len, chunk_len, "{:?}", message.chunks);
            assert!(
                !is_last,
                "only the last chunk is LAST: {:?}",
                message.chunks
            );
        }
        assert_eq!(body_of(&message.data).len(), body_len);
    }
}

#[test]
fn bdat_pipelined_chunks_arrive_in_order() {
    let (addr, received) = start_test_server(TestServerOptions {
        chunking: true,
        ..TestServerOptions::default()
    });
    let target = addr.to_string();

    // 5000 octets in chunks of 100 is more than 50 chunks per message, more
    // than the 32 the client sends ahead of their replies.
    let output = loadgen(&[
        "smtp",
        "--target",
        &target,
        "--connections",
        "1",
        "--messages",
        "3",
        "--pipelining",
        "--bdat",
        "--chunk-size",
        "100",
        "--size",
        "5000",
    ]);
    let stdout = assert_success(&output);
    assert!(stdout.contains("accepted: 3\n"), "{stdout}");

    let log = received.lock().unwrap();
    assert_eq!(log.messages.len(), 3);
    assert!(log.messages[0].chunks.len() > 50);
    assert_chunks(&log.messages, 100, 5000);
    assert_eq!(log.rsets, 0);
}

#[test]
fn bdat_rejected_chunk_resets_transaction() {
    let (addr, received) = start_test_server(TestServerOptions {
        chunking: true,
        reject_chunk: Some(1),
        ..TestServerOptions::default()
    });
    let target = addr.to_string();

    for pipelining in [false, true] {
        let mut args = vec![
            "smtp",
            "--target",
            &target,
            "--connections",
            "1",
            "--messages",
            "2",
            "--bdat",
            "--chunk-size",
            "1000",
            "--size",
            "2500",
        ];
        if pipelining {
            args.push("--pipelining");
        }
        let output = loadgen(&args);
        let stdout = stdout_of(&output);
        assert_eq!(output.status.code(), Some(1), "{stdout}");
        assert!(stdout.contains("rejected: 2\n  552: 2\n"), "{stdout}");
        assert!(stdout.contains("connection errors: 0\n"), "{stdout}");
    }

    let log = received.lock().unwrap();
    assert!(log.messages.is_empty());
    assert_eq!(log.rsets, 4, "one RSET per rejected message");
}

#[test]
fn bdat_corpus_sends_whole_message_as_last() {
    let (addr, received) = start_test_server(TestServerOptions {
        chunking: true,
        ..TestServerOptions::default()
    });
    let corpus = tempfile::tempdir().expect("create corpus dir");
    std::fs::write(corpus.path().join("one.eml"), CORPUS_FILES[1].1).expect("write corpus file");
    let target = addr.to_string();

    let output = loadgen(&[
        "smtp",
        "--target",
        &target,
        "--connections",
        "1",
        "--messages",
        "1",
        "--bdat",
        "--corpus",
        corpus.path().to_str().unwrap(),
    ]);
    assert_success(&output);

    let received = &received.lock().unwrap().messages;
    assert_eq!(received.len(), 1);
    let message = &received[0];
    assert_eq!(message.chunks, vec![(message.data.len(), true)]);
    assert!(message.data.ends_with(CORPUS_EXPECTED[1]));
}

#[test]
fn bdat_without_chunking_fails() {
    let (addr, received) = start_test_server(TestServerOptions {
        ..TestServerOptions::default()
    });
    let target = addr.to_string();

    let output = loadgen(&[
        "smtp",
        "--target",
        &target,
        "--connections",
        "1",
        "--messages",
        "2",
        "--bdat",
    ]);
    let stdout = stdout_of(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("no chunking: 1"), "{stdout}");
    assert!(
        stdout.contains("server does not advertise CHUNKING"),
        "{stdout}"
    );
    assert!(received.lock().unwrap().messages.is_empty());
}

#[test]
fn starttls_message_arrives_over_tls() {
    let (addr, received) = start_test_server(TestServerOptions {
        chunking: true,
        starttls: true,
        ..TestServerOptions::default()
    });
    let target = addr.to_string();

    for bdat in [false, true] {
        let mut args = vec![
            "smtp",
            "--target",
            &target,
            "--connections",
            "1",
            "--messages",
            "2",
            "--size",
            "40000",
            "--starttls",
        ];
        if bdat {
            args.push("--bdat");
        }
        let output = loadgen(&args);
        let stdout = assert_success(&output);
        assert!(stdout.contains("accepted: 2\n"), "bdat {bdat}: {stdout}");
        assert!(stdout.contains("starttls on"), "{stdout}");
    }

    let received = &received.lock().unwrap().messages;
    assert_eq!(received.len(), 4);
    for message in received.iter() {
        assert!(message.over_tls, "message received over TLS");
        assert_eq!(body_of(&message.data).len(), 40000);
    }
}

#[test]
fn starttls_plaintext_after_220_is_rejected() {
    let (addr, received) = start_test_server(TestServerOptions {
        starttls: true,
        inject_after_starttls: true,
        ..TestServerOptions::default()
    });
    let target = addr.to_string();

    let output = loadgen(&[
        "smtp",
        "--target",
        &target,
        "--connections",
        "1",
        "--messages",
        "1",
        "--starttls",
    ]);
    let stdout = stdout_of(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("messages sent: 0\n"), "{stdout}");
    assert!(stdout.contains("  tls: 5 (first: "), "{stdout}");
    assert!(received.lock().unwrap().messages.is_empty());
}

#[test]
fn starttls_not_advertised_fails() {
    let (addr, _received) = start_test_server(TestServerOptions {
        ..TestServerOptions::default()
    });
    let target = addr.to_string();

    let output = loadgen(&[
        "smtp",
        "--target",
        &target,
        "--connections",
        "1",
        "--messages",
        "1",
        "--starttls",
    ]);
    let stdout = stdout_of(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("no starttls: 1"), "{stdout}");
}

#[test]
fn exclusive_and_invalid_modes_exit_2() {
    let corpus = tempfile::tempdir().expect("create corpus dir");
    let corpus_dir = corpus.path().to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["--size", "100", "--size-dist", "uniform:1-5"],
            "use only one of --size, --size-dist and --corpus",
        ),
        (
            &["--size", "100", "--corpus", corpus_dir],
            "use only one of",
        ),
        (
            &["--size-dist", "uniform:10-20", "--corpus", corpus_dir],
            "use only one of",
        ),
        (&["--size-dist", "normal:1-5"], "expected uniform:MIN-MAX"),
        (&["--size-dist", "uniform:50-10"], "MIN is above MAX"),
        (
            &["--size-dist", "uniform:1-10"],
            "MIN must be 0 or at least 2",
        ),
        (&["--seed", "3"], "--seed: it requires --size-dist"),
        (&["--corpus", corpus_dir], "no .eml file found"),
        (&["--rate", "0"], "invalid --rate 0"),
        (&["--rate", "2000000"], "invalid --rate 2000000"),
        (&["--chunk-size", "10"], "it requires --bdat"),
        (&["--bdat", "--chunk-size", "0"], "invalid --chunk-size 0"),
    ];
    for (extra, expected) in cases {
        let mut args = vec!["smtp", "--target", "127.0.0.1:1"];
        args.extend_from_slice(extra);
        let output = loadgen(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "args {extra:?}: {stderr}");
        assert!(
            output.stdout.is_empty(),
            "args {extra:?}: nothing on stdout"
        );
        assert!(stderr.contains(expected), "args {extra:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    }
}
