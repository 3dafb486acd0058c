//! End-to-end tests of the ESMTP extensions of `ringmail serve`: CHUNKING
//! and BINARYMIME (RFC 3030), SMTPUTF8 (RFC 6531) and DSN (RFC 3461).
//!
//! Most tests send exact bytes with the raw client, because BDAT rules are
//! about which octets the server reads as chunk and which as commands. Each
//! rejection is followed by a command or a transaction that must succeed, to
//! show the session stayed in step. `smtplib_bdat_and_smtputf8` runs
//! `tests/clients/esmtp_smtplib.py`, which drives BDAT by hand through
//! Python's smtplib (`docmd` and `send`) and SMTPUTF8 through `sendmail`.
//!
//! The server runs with a small `message_size_max` and a one-second data
//! timeout from a config file, so the size and timeout tests are quick.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{read_stored, repo_path, strip_received, wait_output, ImapClient, Server, SmtpClient};

/// `[smtp] message_size_max` of the test server, in octets.
const MESSAGE_SIZE_MAX: usize = 4_096;

/// `[smtp] data_timeout_secs` of the test server.
const DATA_TIMEOUT_SECS: u64 = 1;

/// `[smtp] received_max` of the test server.
const RECEIVED_MAX: usize = 10;

/// Maximum run time of the Python client script.
const SCRIPT_TIMEOUT_MS: u64 = 60_000;

const SENDER: &str = "sender@localhost";
const ALICE: &str = "alice@localhost";

fn start() -> Server {
    let config = format!(
        "[smtp]\nmessage_size_max = {MESSAGE_SIZE_MAX}\ndata_timeout_secs = {DATA_TIMEOUT_SECS}\n\
         received_max = {RECEIVED_MAX}\n"
    );
    Server::start_with_config(
        &[("alice", "alice-password"), ("bob", "bob-password")],
        Some(&config),
    )
}

fn connect(server: &Server) -> SmtpClient {
    let (mut smtp, greeting) = SmtpClient::connect(server.smtp_port);
    assert_eq!(greeting.code, 220, "greeting: {greeting}");
    smtp.ehlo("client.example");
    smtp
}

/// Sends MAIL FROM with `parameters` and one RCPT TO alice, asserting 250s.
fn start_transaction(smtp: &mut SmtpClient, parameters: &str) {
    let reply = smtp.command(&format!("MAIL FROM:<{SENDER}>{parameters}"));
    reply.assert_status(250, "2.1.0", "MAIL");
    let reply = smtp.command(&format!("RCPT TO:<{ALICE}>"));
    reply.assert_status(250, "2.1.5", "RCPT");
}

/// Sends `BDAT <len>[ LAST]` and the chunk in one write and reads the reply.
fn bdat(smtp: &mut SmtpClient, chunk: &[u8], last: bool) -> common::Reply {
    let mut wire = format!(
        "BDAT {}{}\r\n",
        chunk.len(),
        if last { " LAST" } else { "" }
    )
    .into_bytes();
    wire.extend_from_slice(chunk);
    smtp.send_raw(&wire);
    smtp.read_reply()
}

/// Returns alice's only stored message in CRLF form without the Received
/// header, asserting there is exactly one.
fn only_stored_message(server: &Server) -> Vec<u8> {
    let files = server.maildir_files("alice");
    assert_eq!(files.len(), 1, "alice's Maildir: {files:?}");
    let stored = read_stored(&files[0]);
    strip_received(&stored)
        .unwrap_or_else(|| panic!("no Received header first: {}", common::preview(&stored)))
        .to_vec()
}

#[test]
fn ehlo_advertises_esmtp_extensions() {
    let server = start();
    let (mut smtp, _) = SmtpClient::connect(server.smtp_port);
    let reply = smtp.ehlo("client.example");
    for extension in ["CHUNKING", "BINARYMIME", "SMTPUTF8", "DSN"] {
        assert!(
            reply.lines.iter().any(|line| line == extension),
            "EHLO does not advertise {extension}: {reply}"
        );
    }
}

#[test]
fn bdat_two_chunks_make_one_message() {
    let server = start();
    let mut smtp = connect(&server);
    start_transaction(&mut smtp, "");

    let first: &[u8] = b"Subject: chunks\r\n\r\nfirst ";
    let reply = bdat(&mut smtp, first, false);
    reply.assert_status(250, "2.0.0", "first BDAT");
    let octets = format!("{} octets received", first.len());
    assert!(reply.text().contains(&octets), "{reply}");
    let reply = bdat(&mut smtp, b"second\r\n", true);
    reply.assert_status(250, "2.0.0", "BDAT LAST");
    assert!(reply.text().contains("delivered as"), "{reply}");

    assert_eq!(
        only_stored_message(&server),
        b"Subject: chunks\r\n\r\nfirst second\r\n"
    );
}

#[test]
fn bdat_last_alone_delivers() {
    let server = start();
    let mut smtp = connect(&server);
    start_transaction(&mut smtp, "");

    let reply = bdat(
        &mut smtp,
        b"Subject: one\r\n\r\n.\r\n.. dots stay\r\n",
        true,
    );
    reply.assert_status(250, "2.0.0", "BDAT LAST");
    assert_eq!(
        only_stored_message(&server),
        b"Subject: one\r\n\r\n.\r\n.. dots stay\r\n",
        "BDAT content is not dot-unstuffed"
    );
}

#[test]
fn bdat_zero_last_finishes_message() {
    let server = start();
    let mut smtp = connect(&server);
    start_transaction(&mut smtp, "");

    bdat(&mut smtp, b"Subject: zero\r\n\r\nbody\r\n", false).assert_status(250, "2.0.0", "BDAT");
    bdat(&mut smtp, b"", true).assert_status(250, "2.0.0", "BDAT 0 LAST");
    assert_eq!(
        only_stored_message(&server),
        b"Subject: zero\r\n\r\nbody\r\n"
    );
}

#[test]
fn bdat_pipelined_with_next_transaction() {
    let server = start();
    let mut smtp = connect(&server);

    // Two whole transactions in one write. The chunk of the first ends in
    // text that looks like commands, which must stay message content.
    let first = b"Subject: first\r\n\r\nRSET\r\nQUIT\r\n";
    let second = b"Subject: second\r\n\r\nbody\r\n";
    let mut wire = Vec::new();
    for chunk in [&first[..], &second[..]] {
        wire.extend_from_slice(format!("MAIL FROM:<{SENDER}>\r\nRCPT TO:<{ALICE}>\r\n").as_bytes());
        wire.extend_from_slice(format!("BDAT {} LAST\r\n", chunk.len()).as_bytes());
        wire.extend_from_slice(chunk);
    }
    wire.extend_from_slice(b"NOOP\r\n");
    smtp.send_raw(&wire);

    for round in ["first", "second"] {
        smtp.read_reply().assert_status(250, "2.1.0", round);
        smtp.read_reply().assert_status(250, "2.1.5", round);
        smtp.read_reply().assert_status(250, "2.0.0", round);
    }
    smtp.read_reply().assert_status(250, "2.0.0", "NOOP");
    assert!(smtp.unexpected_bytes(300).is_empty(), "extra replies");

    let mut bodies: Vec<Vec<u8>> = server
        .maildir_files("alice")
        .iter()
        .map(|path| strip_received(&read_stored(path)).unwrap().to_vec())
        .collect();
    bodies.sort();
    assert_eq!(bodies, vec![first.to_vec(), second.to_vec()]);
}

#[test]
fn data_after_bdat_drops_transaction() {
    let server = start();
    let mut smtp = connect(&server);
    start_transaction(&mut smtp, "");

    bdat(&mut smtp, b"Subject: x\r\n\r\n", false).assert_status(250, "2.0.0", "BDAT");
    smtp.command("DATA")
        .assert_status(503, "5.5.1", "DATA after BDAT");
    smtp.command(&format!("RCPT TO:<{ALICE}>")).assert_status(
        503,
        "5.5.1",
        "RCPT after the dropped transaction",
    );

    let reply = smtp.transaction(SENDER, &[ALICE], b"Subject: after\r\n\r\nok\r\n");
    reply.assert_status(250, "2.0.0", "DATA transaction afterwards");
    assert_eq!(server.maildir_count("alice"), 1);
}

#[test]
fn binarymime_with_data_is_503() {
    let server = start();
    let mut smtp = connect(&server);
    start_transaction(&mut smtp, " BODY=BINARYMIME");

    smtp.command("DATA")
        .assert_status(503, "5.5.1", "DATA with BINARYMIME");
    let reply = bdat(&mut smtp, b"Subject: bin\r\n\r\nx\r\n", true);
    reply.assert_status(250, "2.0.0", "BDAT LAST in the same transaction");
}

#[test]
fn oversize_across_chunks_is_552() {
    let server = start();
    let mut smtp = connect(&server);
    start_transaction(&mut smtp, "");

    let chunk = vec![b'a'; MESSAGE_SIZE_MAX / 2 + 10];
    bdat(&mut smtp, &chunk, false).assert_status(250, "2.0.0", "first half");
    let reply = bdat(&mut smtp, &chunk, false);
    reply.assert_status(552, "5.3.4", "chunk past message_size_max");
    assert!(
        reply.text().contains(&MESSAGE_SIZE_MAX.to_string()),
        "{reply}"
    );

    // The transaction is gone; a later chunk is read and rejected.
    let reply = bdat(&mut smtp, b"NOOP\r\nNOOP\r\n", true);
    reply.assert_status(503, "5.5.1", "BDAT after the 552");
    smtp.command("NOOP")
        .assert_status(250, "2.0.0", "NOOP afterwards");
    assert_eq!(server.maildir_count("alice"), 0);

    let mut again = connect(&server);
    start_transaction(&mut again, "");
    bdat(&mut again, b"Subject: small\r\n\r\nok\r\n", true).assert_status(
        250,
        "2.0.0",
        "new session",
    );
}

#[test]
fn oversize_single_chunk_is_552() {
    let server = start();
    let mut smtp = connect(&server);
    start_transaction(&mut smtp, "");

    let chunk = vec![b'\n'; MESSAGE_SIZE_MAX + 1];
    bdat(&mut smtp, &chunk, true).assert_status(552, "5.3.4", "one big chunk");
    smtp.command("NOOP")
        .assert_status(250, "2.0.0", "NOOP afterwards");
}

#[test]
fn bdat_without_rcpt_discards_octets() {
    let server = start();
    let mut smtp = connect(&server);

    // No MAIL: the chunk contains a whole command batch that must not run.
    let chunk = format!("MAIL FROM:<{SENDER}>\r\nRCPT TO:<{ALICE}>\r\n");
    let reply = bdat(&mut smtp, chunk.as_bytes(), true);
    reply.assert_status(503, "5.5.1", "BDAT without MAIL");
    assert!(reply.text().contains("MAIL"), "{reply}");

    // MAIL but no RCPT.
    smtp.command(&format!("MAIL FROM:<{SENDER}>"))
        .assert_status(250, "2.1.0", "MAIL");
    let reply = bdat(&mut smtp, b"QUIT\r\n", false);
    reply.assert_status(503, "5.5.1", "BDAT without RCPT");
    assert!(reply.text().contains("RCPT"), "{reply}");

    // The next command is read as a command, and the transaction works.
    smtp.command(&format!("RCPT TO:<{ALICE}>"))
        .assert_status(250, "2.1.5", "RCPT");
    bdat(&mut smtp, b"Subject: late\r\n\r\nok\r\n", true).assert_status(250, "2.0.0", "BDAT LAST");
    assert_eq!(server.maildir_count("alice"), 1);
}

#[test]
fn bdat_chunk_times_out_with_421() {
    let server = start();
    let mut smtp = connect(&server);
    start_transaction(&mut smtp, "");

    let started = Instant::now();
    smtp.send_raw(b"BDAT 100 LAST\r\nonly a few octets");
    let reply = smtp.read_reply();
    reply.assert_status(421, "4.4.2", "chunk never completed");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(DATA_TIMEOUT_SECS * 1000 - 100),
        "421 came after {waited:?}, before the data timeout"
    );
    assert_eq!(server.maildir_count("alice"), 0);
}

/// Binary content with NUL octets and bare LF, sent with BINARYMIME in two
/// chunks. The Maildir file has LF line ends, so every bare LF and every
/// CRLF is one LF on disk, and IMAP serves each as CRLF. Every other octet
/// (NUL, 0x80-0xFF, a CR that is not before LF) comes back unchanged.
#[test]
fn binary_bdat_round_trips_through_imap() {
    let server = start();
    let mut smtp = connect(&server);
    start_transaction(&mut smtp, " BODY=BINARYMIME");

    let header = b"Subject: binary\r\nContent-Type: application/octet-stream\r\n\r\n";
    let body: &[u8] = b"\0\x01\xff\x80 bare\nlf\rcr\0\r\nend\n";
    bdat(&mut smtp, header, false).assert_status(250, "2.0.0", "header chunk");
    bdat(&mut smtp, body, true).assert_status(250, "2.0.0", "body chunk");

    let files = server.maildir_files("alice");
    assert_eq!(files.len(), 1, "{files:?}");
    let on_disk = std::fs::read(&files[0]).unwrap();
    let expected_on_disk: &[u8] = b"\0\x01\xff\x80 bare\nlf\rcr\0\nend\n";
    assert!(
        on_disk.ends_with(expected_on_disk),
        "stored body: {}",
        common::preview(&on_disk)
    );

    let mut imap = ImapClient::connect(server.imap_port);
    imap.login("alice", "alice-password");
    imap.select("INBOX");
    let fetched = imap.uid_fetch_bodies("1:*", "BODY.PEEK[]");
    assert_eq!(fetched.len(), 1);
    let served = strip_received(&fetched[0].body).expect("Received header first");
    let mut expected = header.to_vec();
    expected.extend_from_slice(b"\0\x01\xff\x80 bare\r\nlf\rcr\0\r\nend\r\n");
    assert_eq!(
        served,
        expected.as_slice(),
        "served {}",
        common::preview(served)
    );
}

#[test]
fn header_policy_applies_to_bdat() {
    let server = start();
    let mut smtp = connect(&server);
    start_transaction(&mut smtp, "");

    let mut message = Vec::new();
    for hop in 0..=RECEIVED_MAX {
        message.extend_from_slice(format!("Received: from hop{hop}\r\n").as_bytes());
    }
    message.extend_from_slice(b"\r\nloop\r\n");
    let reply = bdat(&mut smtp, &message, true);
    reply.assert_status(554, "5.4.6", "mail loop through BDAT");
    smtp.command("NOOP")
        .assert_status(250, "2.0.0", "NOOP afterwards");
}

#[test]
fn utf8_addresses_need_smtputf8() {
    let server = start();
    let mut smtp = connect(&server);

    smtp.command("MAIL FROM:<用户@例子.广告>").assert_status(
        553,
        "5.6.7",
        "UTF-8 sender without SMTPUTF8",
    );
    smtp.command(&format!("MAIL FROM:<{SENDER}>"))
        .assert_status(250, "2.1.0", "ASCII MAIL");
    smtp.command("RCPT TO:<élodie@localhost>").assert_status(
        553,
        "5.6.7",
        "UTF-8 recipient without SMTPUTF8",
    );
    smtp.command("RSET");

    smtp.command("MAIL FROM:<用户@例子.广告> SMTPUTF8")
        .assert_status(250, "2.1.0", "UTF-8 sender with SMTPUTF8");
    // No such user: the router rejects it, as for an ASCII name.
    smtp.command("RCPT TO:<élodie@localhost>").assert_status(
        550,
        "5.1.1",
        "unknown UTF-8 recipient",
    );
    smtp.command(&format!("RCPT TO:<{ALICE}>"))
        .assert_status(250, "2.1.5", "RCPT alice");
    let reply = bdat(&mut smtp, "Subject: héllo\r\n\r\nñ\r\n".as_bytes(), true);
    reply.assert_status(250, "2.0.0", "SMTPUTF8 message");

    let files = server.maildir_files("alice");
    let stored = read_stored(&files[0]);
    let text = String::from_utf8_lossy(&stored);
    assert!(text.contains("with UTF8SMTP id"), "Received header: {text}");
}

#[test]
fn dsn_parameters_accepted() {
    let server = start();
    let mut smtp = connect(&server);

    smtp.command(&format!("MAIL FROM:<{SENDER}> RET=HDRS ENVID=QQ+2B314159"))
        .assert_status(250, "2.1.0", "MAIL with RET and ENVID");
    smtp.command(&format!(
        "RCPT TO:<{ALICE}> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;alice+2Btag@localhost"
    ))
    .assert_status(250, "2.1.5", "RCPT with NOTIFY and ORCPT");
    smtp.command("DATA");
    smtp.send_data(b"Subject: dsn\r\n\r\nok\r\n").assert_status(
        250,
        "2.0.0",
        "message with DSN parameters",
    );
    assert_eq!(server.maildir_count("alice"), 1);
}

#[test]
fn bad_dsn_parameters_are_501() {
    let server = start();
    let mut smtp = connect(&server);

    let rejected = [
        format!("MAIL FROM:<{SENDER}> RET=NONE"),
        format!("MAIL FROM:<{SENDER}> RET=FULL RET=FULL"),
        format!("MAIL FROM:<{SENDER}> ENVID=bad+zz"),
        format!("MAIL FROM:<{SENDER}> ENVID={}", "x".repeat(101)),
    ];
    for line in &rejected {
        smtp.command(line).assert_status(501, "5.5.4", line);
    }

    smtp.command(&format!("MAIL FROM:<{SENDER}>"))
        .assert_status(250, "2.1.0", "MAIL");
    let rejected = [
        format!("RCPT TO:<{ALICE}> NOTIFY=NEVER,SUCCESS"),
        format!("RCPT TO:<{ALICE}> ORCPT=rfc822;a+4"),
        format!("RCPT TO:<{ALICE}> NOTIFY=DELAY NOTIFY=DELAY"),
    ];
    for line in &rejected {
        smtp.command(line).assert_status(501, "5.5.4", line);
    }
    smtp.command(&format!("RCPT TO:<{ALICE}>"))
        .assert_status(250, "2.1.5", "RCPT afterwards");
}

#[test]
fn smtplib_bdat_and_smtputf8() {
    let server = start();
    let script = repo_path("tests/clients/esmtp_smtplib.py");

    let child = Command::new("python3")
        .arg("-u")
        .arg(&script)
        .args(["--smtp-port", &server.smtp_port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("failed to run python3 {}: {e}", script.display()));
    let output = wait_output(
        child,
        Duration::from_millis(SCRIPT_TIMEOUT_MS),
        "esmtp_smtplib.py",
    );

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "esmtp_smtplib.py exited with {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    assert!(stdout.contains("esmtp checks passed"), "{stdout}");

    // The script sends two BDAT messages and one SMTPUTF8 message to alice.
    assert_eq!(server.maildir_count("alice"), 3, "{stdout}");
    let utf8 = server
        .maildir_files("alice")
        .iter()
        .map(|path| read_stored(path))
        .find(|message| String::from_utf8_lossy(message).contains("Subject: smtputf8"))
        .expect("SMTPUTF8 message stored");
    assert!(
        String::from_utf8_lossy(&utf8).contains("with UTF8SMTP id"),
        "{}",
        String::from_utf8_lossy(&utf8)
    );
}
