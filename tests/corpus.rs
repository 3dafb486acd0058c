//! End-to-end test with the SpamAssassin public corpus (6,046 real messages).
//!
//! `tests/corpus/fetch.py` fetches and converts the corpus into a cache
//! directory when it is missing. This test sends every message over SMTP to one
//! user, with LF turned into CRLF and a final CRLF added where missing, reusing
//! each connection for [`MESSAGES_PER_CONNECTION_MAX`] messages. It then reads
//! the mailbox back over IMAP and compares each stored message, without the
//! server's Received header, byte for byte with what was sent.
//!
//! The test predicts which messages the server must reject and why: a bare CR
//! left after the LF conversion (a few corpus messages have one) must get
//! `550 5.5.2`. Any other rejection, any other reply and any mismatch fails the
//! test, which lists the first [`FAILURES_SHOWN_MAX`] of them.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use common::{
    dot_stuff, has_bare_cr_or_lf, lf_to_crlf, preview, repo_path, strip_received, Reply, Server,
    SmtpClient,
};

/// Messages sent over one SMTP connection before the test opens the next one,
/// so a per-session transaction limit in the server does not fail the test.
const MESSAGES_PER_CONNECTION_MAX: usize = 1_000;

/// Failures printed in the assertion message.
const FAILURES_SHOWN_MAX: usize = 10;

/// Default `[smtp] data_line_max` of the server, in octets, CRLF excluded.
const DATA_LINE_MAX: usize = 65_536;

/// Default `[smtp] message_size_max` of the server, in octets.
const MESSAGE_SIZE_MAX: usize = 25 << 20;

/// Cache marker that `tests/corpus/fetch.py` writes when the cache is complete.
const CACHE_MARKER: &str = "COMPLETE";

const USER: &str = "corpus";
const PASSWORD: &str = "corpus-password";

/// Why the server must reject a message, predicted from its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rejection {
    /// A CR not followed by LF: `550 5.5.2`.
    BareCr,
    /// A line longer than [`DATA_LINE_MAX`]: any 5xx after the final dot.
    LineOverMax,
    /// More than [`MESSAGE_SIZE_MAX`] octets: `552 5.3.4`.
    SizeOverMax,
}

impl Rejection {
    fn predict(message: &[u8]) -> Option<Rejection> {
        if message.len() > MESSAGE_SIZE_MAX {
            Some(Rejection::SizeOverMax)
        } else if has_bare_cr_or_lf(message) {
            Some(Rejection::BareCr)
        } else if message
            .split(|&b| b == b'\n')
            .any(|line| line.len() > DATA_LINE_MAX + 1)
        {
            Some(Rejection::LineOverMax)
        } else {
            None
        }
    }

    fn matches(self, reply: &Reply) -> bool {
        match self {
            Rejection::BareCr => reply.code == 550 && reply.enhanced() == Some("5.5.2"),
            Rejection::LineOverMax => reply.code / 100 == 5,
            Rejection::SizeOverMax => reply.code == 552 && reply.enhanced() == Some("5.3.4"),
        }
    }
}

fn corpus_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("RINGMAIL_CORPUS_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").expect("HOME or RINGMAIL_CORPUS_DIR must be set");
    PathBuf::from(home).join(".cache/ringmail/spamassassin-corpus-0.2.3")
}

/// Runs the fetch script unless the cache is complete, and returns the .eml
/// files sorted by path.
fn corpus_files() -> Vec<PathBuf> {
    let dir = corpus_dir();
    if !dir.join(CACHE_MARKER).is_file() {
        let script = repo_path("tests/corpus/fetch.py");
        let status = Command::new("python3")
            .arg(&script)
            .env("RINGMAIL_CORPUS_DIR", &dir)
            .status()
            .unwrap_or_else(|e| panic!("failed to run python3 {}: {e}", script.display()));
        assert!(
            status.success(),
            "{} failed with {status}",
            script.display()
        );
    }

    let mut files = Vec::new();
    collect_eml(&dir.join("eml"), &mut files);
    files.sort();
    files
}

fn collect_eml(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("failed to read {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("corpus dir entry").path();
        if path.is_dir() {
            collect_eml(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "eml") {
            files.push(path);
        }
    }
}

fn short_name(path: &Path) -> String {
    let group = path
        .parent()
        .and_then(Path::file_name)
        .unwrap_or_default()
        .to_string_lossy();
    let file = path.file_name().unwrap_or_default().to_string_lossy();
    format!("{group}/{file}")
}

/// Outcome of sending the corpus.
#[derive(Default)]
struct SendReport {
    sent: usize,
    /// Name and sent bytes of each message the server accepted.
    accepted: Vec<(String, Vec<u8>)>,
    rejected_as_predicted: BTreeMap<String, usize>,
    failures: Vec<String>,
}

fn connect(server: &Server) -> SmtpClient {
    let mut smtp = server.smtp();
    smtp.ehlo("corpus.test");
    smtp
}

/// Sends one message in its own transaction and returns the reply to DATA's
/// end, or the first reply that was not 250/250/354.
fn send_one(smtp: &mut SmtpClient, message: &[u8], name: &str) -> Reply {
    smtp.send_raw(b"MAIL FROM:<corpus-sender@localhost> BODY=8BITMIME\r\nRCPT TO:<corpus@localhost>\r\nDATA\r\n");
    let mut replies = Vec::with_capacity(3);
    for _ in 0..3 {
        let reply = smtp
            .try_read_reply()
            .unwrap_or_else(|e| panic!("{name}: failed to read the reply to MAIL/RCPT/DATA: {e}"));
        replies.push(reply);
    }
    if replies[0].code != 250 || replies[1].code != 250 {
        if replies[2].code == 354 {
            // DATA was accepted although a recipient was not: end it empty.
            smtp.send_raw(b".\r\n");
            let _ = smtp.try_read_reply();
        }
        return replies
            .into_iter()
            .find(|r| r.code != 250)
            .expect("a failed reply");
    }
    if replies[2].code != 354 {
        return replies.pop().expect("DATA reply");
    }

    let mut data = dot_stuff(message);
    data.extend_from_slice(b".\r\n");
    smtp.send_raw(&data);
    smtp.try_read_reply()
        .unwrap_or_else(|e| panic!("{name}: failed to read the reply to the end of data: {e}"))
}

fn send_corpus(server: &Server, files: &[PathBuf]) -> SendReport {
    let mut report = SendReport::default();
    let mut smtp = connect(server);

    for (index, path) in files.iter().enumerate() {
        if index > 0 && index % MESSAGES_PER_CONNECTION_MAX == 0 {
            smtp.quit();
            smtp = connect(server);
        }
        let name = short_name(path);
        let raw = std::fs::read(path)
            .unwrap_or_else(|e| panic!("failed to read {}: {e}", path.display()));
        let message = lf_to_crlf(&raw);
        let predicted = Rejection::predict(&message);

        let reply = send_one(&mut smtp, &message, &name);
        report.sent += 1;

        match predicted {
            None if reply.code == 250 => report.accepted.push((name, message)),
            None => report.failures.push(format!(
                "{name}: rejected with {reply}, no rejection expected"
            )),
            Some(reason) if reason.matches(&reply) => {
                *report
                    .rejected_as_predicted
                    .entry(format!("{reason:?}"))
                    .or_default() += 1;
            }
            Some(reason) => report.failures.push(format!(
                "{name}: expected rejection for {reason:?}, got {reply}"
            )),
        }
        if reply.code != 250 {
            let reset = smtp.command("RSET");
            assert_eq!(
                reset.code,
                250,
                "{}: RSET after a rejection: {reset}",
                short_name(path)
            );
        }
    }

    smtp.quit();
    report
}

/// Reads the mailbox back and adds a failure for each missing, changed or
/// unexpected message; returns how many were compared equal.
fn compare_mailbox(server: &Server, report: &mut SendReport) -> usize {
    let mut imap = server.imap();
    imap.login(USER, PASSWORD);
    let selected = imap.select("INBOX");
    let exists = selected.exists().expect("SELECT returned EXISTS");
    if exists as usize != report.accepted.len() {
        report.failures.push(format!(
            "SELECT INBOX reports {exists} messages, {} were accepted",
            report.accepted.len()
        ));
    }

    let fetched = imap.uid_fetch_bodies("1:*", "UID BODY.PEEK[]");
    imap.logout();

    let mut stored: HashMap<Vec<u8>, usize> = HashMap::new();
    for message in fetched {
        match strip_received(&message.body) {
            Some(body) => *stored.entry(body.to_vec()).or_default() += 1,
            None => report.failures.push(format!(
                "UID {}: does not start with a Received header: {}",
                message.uid,
                preview(&message.body)
            )),
        }
    }

    let mut compared = 0;
    for (name, sent) in &report.accepted {
        match stored.get_mut(sent) {
            Some(count) if *count > 0 => {
                *count -= 1;
                compared += 1;
            }
            _ => report
                .failures
                .push(format!("{name}: no stored message equals the sent bytes")),
        }
    }
    for (body, count) in stored.iter().filter(|(_, count)| **count > 0) {
        report.failures.push(format!(
            "{count} stored message(s) match nothing sent: {}",
            preview(body)
        ));
    }
    compared
}

#[test]
fn corpus_round_trip_byte_for_byte() {
    let files = corpus_files();
    assert!(
        !files.is_empty(),
        "no .eml files in {}",
        corpus_dir().display()
    );
    let server = Server::start(&[(USER, PASSWORD)]);

    let started = Instant::now();
    let mut report = send_corpus(&server, &files);
    let send_ms = started.elapsed().as_millis();
    let compared = compare_mailbox(&server, &mut report);

    println!(
        "corpus: sent {}, accepted {}, rejected as predicted {:?}, compared equal {}, failures {}; sending took {send_ms} ms",
        report.sent,
        report.accepted.len(),
        report.rejected_as_predicted,
        compared,
        report.failures.len(),
    );
    assert!(
        report.failures.is_empty(),
        "{} corpus failures, the first {}:\n{}",
        report.failures.len(),
        FAILURES_SHOWN_MAX,
        report
            .failures
            .iter()
            .take(FAILURES_SHOWN_MAX)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n"),
    );
    assert_eq!(
        compared,
        report.accepted.len(),
        "every accepted message compared"
    );
}
