//! End-to-end tests of `ringmail spam serve` with the real spamc (from
//! SpamAssassin 4.0.1): check, symbols, report, process, headers, ping, a
//! message over spamc's max size, learning requests, protocol errors sent
//! over a plain socket, and the stop on SIGTERM. spamc is always given
//! `-d 127.0.0.1`, so it resolves no names.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A small rule set where the word "lottery" and a "winner" sender make a
/// message spam.
const RULES: &str = "required_score 5.0\n\
body LOTTERY_WORD /\\blottery\\b/i\nscore LOTTERY_WORD 4.0\n\
describe LOTTERY_WORD Mentions a lottery\n\
header FROM_WINNER From =~ /winner/i\nscore FROM_WINNER 2.0\n";

const SPAM: &str = "From: winner@example.com\nSubject: lottery\n\nYou won the lottery.\n";
const HAM: &str = "From: jane@example.com\nSubject: lunch\n\nSee you at noon.\n";

/// Maximum time for the server to accept connections after its start.
const START_TIMEOUT_MS: u64 = 20_000;
/// Maximum time for the server to exit after SIGTERM.
const STOP_TIMEOUT_MS: u64 = 10_000;
/// Maximum time for one spamc run.
const SPAMC_TIMEOUT_MS: u64 = 30_000;

/// One `ringmail spam serve` process with its rules directory.
struct SpamdServer {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl SpamdServer {
    fn start() -> SpamdServer {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("rules")).unwrap();
        std::fs::write(dir.path().join("rules/local.cf"), RULES).unwrap();
        let [port] = common::free_ports::<1>();
        let listen = format!("127.0.0.1:{port}");
        let child = Command::new(common::ringmail_bin())
            .args(["--data", "data", "spam", "serve", "--listen", &listen])
            .args(["--rules", "rules"])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("stderr.log")).unwrap())
            .spawn()
            .expect("start ringmail spam serve");
        let server = SpamdServer {
            dir,
            port,
            child: Some(child),
        };
        server.wait_ready();
        server
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_millis(START_TIMEOUT_MS);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "spam serve did not listen on port {} within {START_TIMEOUT_MS} ms; stderr:\n{}",
            self.port,
            self.stderr_text()
        );
    }

    fn stderr_text(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// Runs spamc against this server with `args` and `message` on its
    /// standard input.
    fn spamc(&self, args: &[&str], message: &[u8]) -> Output {
        let port = self.port.to_string();
        let mut child = Command::new("spamc")
            .args(["-d", "127.0.0.1", "-p", &port])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spamc not found: install SpamAssassin's spamc to run these tests");
        let mut stdin = child.stdin.take().unwrap();
        let message = message.to_vec();
        let writer = std::thread::spawn(move || {
            // spamc -K reads no input, so the pipe may close early.
            let _ = stdin.write_all(&message);
        });
        let output = common::wait_output(
            child,
            Duration::from_millis(SPAMC_TIMEOUT_MS),
            &format!("spamc {args:?}"),
        );
        writer.join().unwrap();
        output
    }

    /// Sends `request` over a plain connection and returns the whole reply.
    fn raw(&self, request: &[u8]) -> Vec<u8> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(SPAMC_TIMEOUT_MS)))
            .unwrap();
        stream.write_all(request).unwrap();
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).unwrap();
        reply
    }

    /// Sends SIGTERM and returns the exit status.
    fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("server is running");
        common::send_signal(&child, libc::SIGTERM);
        match common::wait_with_deadline(&mut child, Duration::from_millis(STOP_TIMEOUT_MS)) {
            Some(status) => status,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "spam serve still running {STOP_TIMEOUT_MS} ms after SIGTERM; stderr:\n{}",
                    self.stderr_text()
                );
            }
        }
    }
}

impl Drop for SpamdServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn describe(output: &Output) -> String {
    format!(
        "status {:?}, stdout:\n{}\nstderr:\n{}",
        output.status.code(),
        stdout(output),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn check_exit_status_marks_spam() {
    let server = SpamdServer::start();

    let spam = server.spamc(&["-c"], SPAM.as_bytes());
    assert_eq!(spam.status.code(), Some(1), "{}", describe(&spam));
    assert_eq!(stdout(&spam), "6.0/5.0\n");

    let ham = server.spamc(&["-c"], HAM.as_bytes());
    assert_eq!(ham.status.code(), Some(0), "{}", describe(&ham));
    assert_eq!(stdout(&ham), "0.0/5.0\n");
}

#[test]
fn symbols_list_hit_rules() {
    let server = SpamdServer::start();
    let output = server.spamc(&["-y"], SPAM.as_bytes());
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert_eq!(stdout(&output).trim_end(), "FROM_WINNER,LOTTERY_WORD");
}

#[test]
fn report_lists_rules_with_descriptions() {
    let server = SpamdServer::start();
    let output = server.spamc(&["-R"], SPAM.as_bytes());
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let text = stdout(&output);
    assert!(text.starts_with("6.0/5.0\n"), "{text}");
    assert!(text.contains("(6.0 points, 5.0 required)"), "{text}");
    assert!(text.contains(" 4.0 LOTTERY_WORD"), "{text}");
    assert!(text.contains("Mentions a lottery"), "{text}");
    assert!(text.contains(" 2.0 FROM_WINNER"), "{text}");
}

#[test]
fn report_ifspam_is_empty_for_ham() {
    let server = SpamdServer::start();
    let output = server.spamc(&["-r"], HAM.as_bytes());
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert_eq!(stdout(&output), "");

    let output = server.spamc(&["-r"], SPAM.as_bytes());
    assert!(
        stdout(&output).contains("LOTTERY_WORD"),
        "{}",
        describe(&output)
    );
}

#[test]
fn process_adds_spam_headers() {
    let server = SpamdServer::start();

    let output = server.spamc(&[], SPAM.as_bytes());
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let text = stdout(&output);
    assert!(
        text.starts_with("From: winner@example.com\nSubject: lottery\nX-Spam-Flag: YES\n"),
        "{text}"
    );
    assert!(text.contains("X-Spam-Score: 6.0\n"), "{text}");
    assert!(text.contains("X-Spam-Level: ******\n"), "{text}");
    assert!(
        text.contains("X-Spam-Status: Yes, score=6.0 required=5.0 tests=FROM_WINNER,LOTTERY_WORD"),
        "{text}"
    );
    assert!(text.ends_with("\n\nYou won the lottery.\n"), "{text}");

    let output = server.spamc(&[], HAM.as_bytes());
    let text = stdout(&output);
    assert!(!text.contains("X-Spam-Flag"), "{text}");
    assert!(text.contains("X-Spam-Status: No, score=0.0"), "{text}");
}

#[test]
fn headers_verb_keeps_body() {
    let server = SpamdServer::start();
    let output = server.spamc(&["--headers"], SPAM.as_bytes());
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let text = stdout(&output);
    assert!(text.contains("X-Spam-Flag: YES\n"), "{text}");
    assert!(text.ends_with("\n\nYou won the lottery.\n"), "{text}");
}

#[test]
fn ping_gets_pong() {
    let server = SpamdServer::start();
    let output = server.spamc(&["-K"], b"");
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert!(
        stdout(&output).starts_with("SPAMD/1.5 0"),
        "{}",
        describe(&output)
    );
}

#[test]
fn oversized_message_passes_through_spamc() {
    let server = SpamdServer::start();
    let mut message = SPAM.as_bytes().to_vec();
    while message.len() <= 600 * 1024 {
        message.extend_from_slice(b"lottery lottery lottery lottery lottery lottery\n");
    }
    let output = server.spamc(&[], &message);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert!(
        output.stdout == message,
        "spamc changed a message over its max size"
    );

    let output = server.spamc(&["-c"], &message);
    assert_eq!(stdout(&output), "0/0\n", "{}", describe(&output));
}

#[test]
fn content_length_over_maximum_is_too_big() {
    let server = SpamdServer::start();
    let reply = server.raw(b"CHECK SPAMC/1.5\r\nContent-length: 600000\r\n\r\nabc");
    let reply = String::from_utf8(reply).unwrap();
    assert!(reply.starts_with("SPAMD/1.5 98 EX_TOOBIG "), "{reply}");
    assert!(reply.contains("600000"), "{reply}");
}

#[test]
fn bad_requests_get_error_codes() {
    let server = SpamdServer::start();
    let cases: &[(&[u8], &str)] = &[
        (b"FETCH SPAMC/1.5\r\n\r\n", "SPAMD/1.5 76 EX_PROTOCOL "),
        (b"CHECK SPAMC/1.5\r\n\r\n", "SPAMD/1.5 76 EX_PROTOCOL "),
        (
            b"CHECK SPAMC/1.5\r\nContent-length: 10\r\n\r\nshort",
            "SPAMD/1.5 76 EX_PROTOCOL ",
        ),
        (
            b"CHECK SPAMC/1.5\r\nCompress: zlib\r\n\r\n",
            "SPAMD/1.5 69 EX_UNAVAILABLE ",
        ),
        (
            b"TELL SPAMC/1.5\r\nContent-length: 2\r\nMessage-class: spam\r\n\r\nhi",
            "SPAMD/1.5 69 EX_UNAVAILABLE ",
        ),
    ];
    for (request, expected) in cases {
        let reply = String::from_utf8(server.raw(request)).unwrap();
        assert!(
            reply.starts_with(expected),
            "{}: {reply}",
            request.escape_ascii()
        );
        assert!(reply.ends_with("\r\n"), "{reply}");
    }

    // The server still serves after the errors.
    let output = server.spamc(&["-c"], SPAM.as_bytes());
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
}

#[test]
fn learn_request_fails_without_safe_fallback() {
    let server = SpamdServer::start();
    let output = server.spamc(&["-x", "-L", "spam"], SPAM.as_bytes());
    assert_ne!(output.status.code(), Some(0), "{}", describe(&output));
}

#[test]
fn sigterm_stops_with_status_zero() {
    let mut server = SpamdServer::start();
    let output = server.spamc(&["-c"], HAM.as_bytes());
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));

    let status = server.stop();
    assert!(
        status.success(),
        "exit {status}; stderr:\n{}",
        server.stderr_text()
    );
    let log = server.stderr_text();
    assert!(log.contains("spamd server stopped"), "{log}");
    assert!(TcpStream::connect(("127.0.0.1", server.port)).is_err());
}

#[test]
fn concurrent_spamc_runs_all_answered() {
    let server = SpamdServer::start();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|index| {
                let server = &server;
                scope.spawn(move || {
                    let message = if index % 2 == 0 { SPAM } else { HAM };
                    (index, server.spamc(&["-c"], message.as_bytes()))
                })
            })
            .collect();
        for handle in handles {
            let (index, output) = handle.join().unwrap();
            let expected = if index % 2 == 0 { 1 } else { 0 };
            assert_eq!(
                output.status.code(),
                Some(expected),
                "{}",
                describe(&output)
            );
        }
    });
}

#[test]
fn rules_directory_missing_fails_start() {
    let dir = tempfile::tempdir().unwrap();
    let output = common::run_ringmail(
        &[
            "spam",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--rules",
            "no-such-dir",
        ],
        None,
        dir.path(),
    );
    assert_ne!(output.status.code(), Some(0));
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(errors.contains("cannot read rules"), "{errors}");
}
