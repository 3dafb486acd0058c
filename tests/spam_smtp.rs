//! End-to-end tests of spam scoring in `ringmail serve`: the real binary,
//! the raw SMTP and IMAP clients of the harness, and loopback sockets.
//!
//! Most tests load a small rule set that the test writes (`rules = DIR`), so
//! that scores are exact and do not depend on SpamAssassin's stock rules.
//! In it, `free money` scores [`FREE_MONEY_SCORE`] and `wire transfer`
//! scores [`WIRE_TRANSFER_SCORE`]. The thresholds are the defaults: junk
//! from 5.0, reject above 15.0. One test uses the default rules when SpamAssassin's
//! are installed under `/usr/share/spamassassin`, and the ham test reads one
//! message of the SpamAssassin corpus when its cache exists.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{find, ringmail_bin, wait_output, Server, CLI_TIMEOUT_MS};

/// Score of the test rule that matches `free money`: above the junk score.
const FREE_MONEY_SCORE: f64 = 6.0;
/// Score of the test rule that matches `wire transfer`. With
/// [`FREE_MONEY_SCORE`] the sum is above the reject score.
const WIRE_TRANSFER_SCORE: f64 = 10.0;

/// Writes the test rule set into `DIR/rules` and returns that directory.
fn write_rules(dir: &Path) -> PathBuf {
    let rules = dir.join("rules");
    fs::create_dir_all(&rules).expect("create the rules dir");
    let text = format!(
        "required_score 5.0\n\
         body TEST_FREE_MONEY /free money/i\n\
         describe TEST_FREE_MONEY Offers free money\n\
         score TEST_FREE_MONEY {FREE_MONEY_SCORE}\n\
         body TEST_WIRE_TRANSFER /wire transfer/i\n\
         score TEST_WIRE_TRANSFER {WIRE_TRANSFER_SCORE}\n"
    );
    fs::write(rules.join("50_test.cf"), text).expect("write the rule file");
    rules
}

/// Starts a server with user `alice` and scoring on with the test rules.
fn start_scoring_server() -> Server {
    let rules_parent = tempfile::tempdir().expect("create a temp dir");
    let rules = write_rules(rules_parent.path());
    // The rules are read at start, so the directory may go after it.
    let config = format!(
        "[spam]\nenabled = true\nrules = {:?}\n",
        rules.display().to_string()
    );
    Server::start_with_config(&[("alice", "pw")], Some(&config))
}

fn message(subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: sender@example.org\r\nTo: alice@localhost\r\nSubject: {subject}\r\n\
         Message-ID: <{subject}@example.org>\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// Message files in `dir/new` and `dir/cur`.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for sub in ["new", "cur"] {
        if let Ok(entries) = fs::read_dir(dir.join(sub)) {
            files.extend(entries.map(|entry| entry.expect("read a Maildir entry").path()));
        }
    }
    files.sort();
    files
}

/// Returns the header block of a stored message (LF line ends), up to the
/// empty line.
fn header_of(stored: &[u8]) -> String {
    let end = find(stored, b"\n\n").unwrap_or(stored.len());
    String::from_utf8_lossy(&stored[..end]).into_owned()
}

/// Waits until a line of the server's log (standard error) contains
/// `needle`, at most `timeout_ms`, and returns that line.
fn wait_log_line(server: &Server, needle: &str, timeout_ms: u64) -> Option<String> {
    let deadline = std::time::Instant::now() + Duration::from_millis(timeout_ms);
    loop {
        let text = server.stderr_text();
        if let Some(line) = text.lines().find(|line| line.contains(needle)) {
            return Some(line.to_owned());
        }
        if std::time::Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn junk_dir(server: &Server, user: &str) -> PathBuf {
    server.maildir(user).join(".Junk")
}

#[test]
fn ham_from_corpus_gets_status_no_in_inbox() {
    let corpus = corpus_group_dir("easy-ham-1").join("00001.7c53336b37003a9286aba55d2945844c.eml");
    let Ok(ham) = fs::read(&corpus) else {
        eprintln!(
            "skipped: {} is missing; python3 tests/corpus/fetch.py fetches it",
            corpus.display()
        );
        return;
    };
    let server = start_scoring_server();
    let mut smtp = server.smtp();
    smtp.ehlo("client.example");

    let reply = smtp.transaction(
        "sender@example.org",
        &["alice@localhost"],
        &common::lf_to_crlf(&ham),
    );

    reply.assert_status(250, "2.0.0", "end of data");
    let inbox = server.maildir_files("alice");
    assert_eq!(inbox.len(), 1, "one message in INBOX");
    let header = header_of(&fs::read(&inbox[0]).expect("read the stored message"));
    assert!(header.starts_with("X-Spam-Score: 0.0\n"), "{header}");
    assert!(
        header.contains("X-Spam-Status: No, score=0.0 required=5.0"),
        "{header}"
    );
    assert!(!header.contains("X-Spam-Flag"), "{header}");
    assert!(files_in(&junk_dir(&server, "alice")).is_empty());
}

#[test]
fn spammy_message_lands_in_junk_flagged() {
    let server = start_scoring_server();
    let mut smtp = server.smtp();
    smtp.ehlo("client.example");

    let reply = smtp.transaction(
        "sender@example.org",
        &["alice@localhost"],
        &message("offer", "Claim your free money today."),
    );

    reply.assert_status(250, "2.0.0", "end of data");
    assert_eq!(server.maildir_count("alice"), 0, "nothing in INBOX");
    let junk = junk_dir(&server, "alice");
    let files = files_in(&junk);
    assert_eq!(files.len(), 1, "one message in Junk");
    assert!(
        files[0].starts_with(junk.join("new")),
        "{}",
        files[0].display()
    );
    assert!(
        junk.join("maildirfolder").is_file(),
        "Maildir++ folder marker"
    );
    let header = header_of(&fs::read(&files[0]).expect("read the stored message"));
    let lines: Vec<&str> = header.lines().collect();
    assert_eq!(lines[0], "X-Spam-Flag: YES", "{header}");
    assert_eq!(lines[1], "X-Spam-Score: 6.0", "{header}");
    assert_eq!(lines[2], "X-Spam-Level: ******", "{header}");
    assert!(
        lines[3].starts_with("X-Spam-Status: Yes, score=6.0 required=5.0 tests=TEST_FREE_MONEY"),
        "{header}"
    );
    let received = lines.iter().position(|line| line.starts_with("Received: "));
    assert!(
        received.is_some_and(|index| index > 3),
        "Received after the X-Spam fields: {header}"
    );

    let log = wait_log_line(&server, "spam scored", 5_000).expect("a spam scored log line");
    assert!(log.contains("action=\"junk\""), "{log}");
    assert!(log.contains("TEST_FREE_MONEY=6"), "{log}");
    assert!(log.contains("micros="), "{log}");
}

#[test]
fn junk_folder_is_listed_over_imap() {
    let server = start_scoring_server();
    let mut smtp = server.smtp();
    smtp.ehlo("client.example");
    let reply = smtp.transaction(
        "sender@example.org",
        &["alice@localhost"],
        &message("offer", "free money"),
    );
    reply.assert_status(250, "2.0.0", "end of data");

    let mut imap = server.imap();
    assert!(imap.command("LOGIN alice pw").is_ok(), "LOGIN");
    let list = imap.command("LIST \"\" \"*\"");
    assert!(list.is_ok(), "LIST");
    let listed = format!("{list:?}");
    assert!(listed.contains("Junk"), "{listed}");
    let select = imap.command("SELECT Junk");
    assert!(select.is_ok(), "SELECT Junk");
    assert_eq!(select.exists(), Some(1), "{select:?}");
}

#[test]
fn reject_score_gets_550_stores_nothing() {
    let server = start_scoring_server();
    let mut smtp = server.smtp();
    smtp.ehlo("client.example");

    let reply = smtp.transaction(
        "sender@example.org",
        &["alice@localhost"],
        &message("offer", "free money by wire transfer"),
    );

    reply.assert_status(550, "5.7.1", "end of data");
    let text = reply.text();
    assert!(
        text.contains("message rejected as spam (score 16 > 15)"),
        "{text}"
    );
    assert_eq!(server.maildir_count("alice"), 0, "nothing in INBOX");
    assert!(
        files_in(&junk_dir(&server, "alice")).is_empty(),
        "nothing in Junk"
    );
    let tmp =
        fs::read_dir(server.maildir("alice").join("tmp")).map_or(0, |entries| entries.count());
    assert_eq!(tmp, 0, "no file left in tmp/");

    // The same session and a new one still take mail.
    let reply = smtp.transaction(
        "sender@example.org",
        &["alice@localhost"],
        &message("hello", "lunch?"),
    );
    reply.assert_status(250, "2.0.0", "next message in the session");
    smtp.quit();
    let mut again = server.smtp();
    again.ehlo("client.example");
    let reply = again.transaction(
        "sender@example.org",
        &["alice@localhost"],
        &message("again", "hi"),
    );
    reply.assert_status(250, "2.0.0", "message in a new session");
    assert_eq!(server.maildir_count("alice"), 2);
}

#[test]
fn bdat_last_is_scored() {
    let server = start_scoring_server();
    let mut smtp = server.smtp();
    smtp.ehlo("client.example");
    smtp.command("MAIL FROM:<sender@example.org>")
        .assert_status(250, "2.1.0", "MAIL");
    smtp.command("RCPT TO:<alice@localhost>")
        .assert_status(250, "2.1.5", "RCPT");
    let body = message("offer", "free money by wire transfer");
    let mut chunk = format!("BDAT {} LAST\r\n", body.len()).into_bytes();
    chunk.extend_from_slice(&body);
    smtp.send_raw(&chunk);

    smtp.read_reply().assert_status(550, "5.7.1", "BDAT LAST");
    assert_eq!(server.maildir_count("alice"), 0);
}

#[test]
fn forged_spam_fields_are_replaced() {
    let server = start_scoring_server();
    let mut smtp = server.smtp();
    smtp.ehlo("client.example");
    let forged =
        b"From: sender@example.org\r\nX-Spam-Flag: NO\r\nX-Spam-Status: No, score=-100\r\n\
\tfolded=yes\r\nSubject: offer\r\n\r\nfree money\r\n";

    let reply = smtp.transaction("sender@example.org", &["alice@localhost"], forged);

    reply.assert_status(250, "2.0.0", "end of data");
    let files = files_in(&junk_dir(&server, "alice"));
    assert_eq!(files.len(), 1, "one message in Junk");
    let header = header_of(&fs::read(&files[0]).expect("read the stored message"));
    assert!(!header.contains("X-Spam-Flag: NO"), "{header}");
    assert!(!header.contains("score=-100"), "{header}");
    assert!(!header.contains("folded=yes"), "{header}");
    assert_eq!(header.matches("X-Spam-Status:").count(), 1, "{header}");
}

#[test]
fn disabled_scoring_adds_nothing() {
    let rules_parent = tempfile::tempdir().expect("create a temp dir");
    let rules = write_rules(rules_parent.path());
    let config = format!(
        "[spam]\nenabled = false\nrules = {:?}\n",
        rules.display().to_string()
    );
    let server = Server::start_with_config(&[("alice", "pw")], Some(&config));
    let mut smtp = server.smtp();
    smtp.ehlo("client.example");

    let sent = message("offer", "free money by wire transfer");
    let reply = smtp.transaction("sender@example.org", &["alice@localhost"], &sent);

    reply.assert_status(250, "2.0.0", "end of data");
    let inbox = server.maildir_files("alice");
    assert_eq!(inbox.len(), 1, "one message in INBOX");
    let stored = common::read_stored(&inbox[0]);
    let without_trace = common::strip_received(&stored).expect("starts with Received");
    assert_eq!(
        without_trace,
        &sent[..],
        "stored as sent, after the Received field"
    );
    assert!(!junk_dir(&server, "alice").exists());
    let log = server.stderr_text();
    assert!(!log.contains("spam rules loaded"), "{log}");
    assert!(!log.contains("spam scored"), "{log}");
}

#[test]
fn oversized_message_is_delivered_unscored() {
    let rules_parent = tempfile::tempdir().expect("create a temp dir");
    let rules = write_rules(rules_parent.path());
    let config = format!(
        "[spam]\nenabled = true\nrules = {:?}\nmessage_size_max = 2048\n",
        rules.display().to_string()
    );
    let server = Server::start_with_config(&[("alice", "pw")], Some(&config));
    let mut smtp = server.smtp();
    smtp.ehlo("client.example");
    let padding = "padding line of the test message\r\n".repeat(100);
    let sent = message(
        "offer",
        &format!("free money by wire transfer\r\n{padding}"),
    );

    let reply = smtp.transaction("sender@example.org", &["alice@localhost"], &sent);

    reply.assert_status(250, "2.0.0", "end of data");
    let inbox = server.maildir_files("alice");
    assert_eq!(inbox.len(), 1, "delivered into INBOX unscored");
    let header = header_of(&fs::read(&inbox[0]).expect("read the stored message"));
    assert!(!header.contains("X-Spam-"), "{header}");
    let log = wait_log_line(&server, "spam scoring skipped", 5_000)
        .expect("a log line for the skipped message");
    assert!(log.contains("size_max=2048"), "{log}");
}

/// Runs `ringmail serve` with `config` and returns its exit status and
/// standard error, for configurations that must fail at start.
fn serve_failing(config: &str) -> (bool, String) {
    let dir = tempfile::tempdir().expect("create a temp dir");
    let config_path = dir.path().join("ringmail.toml");
    fs::write(&config_path, config).expect("write the config");
    let [smtp, imap, submission, submission_tls] = common::free_ports();
    let child = Command::new(ringmail_bin())
        .arg("serve")
        .arg("--data")
        .arg(dir.path().join("data"))
        .args(["--smtp", &format!("127.0.0.1:{smtp}")])
        .args(["--imap", &format!("127.0.0.1:{imap}")])
        .args(["--submission", &format!("127.0.0.1:{submission}")])
        .args(["--submission-tls", &format!("127.0.0.1:{submission_tls}")])
        .arg("--config")
        .arg(&config_path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ringmail serve");
    let output = wait_output(
        child,
        Duration::from_millis(CLI_TIMEOUT_MS),
        "ringmail serve",
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn missing_rules_dir_stops_start() {
    let (success, output) =
        serve_failing("[spam]\nenabled = true\nrules = \"/nonexistent/ringmail-rules\"\n");
    assert!(!success, "{output}");
    assert!(output.contains("/nonexistent/ringmail-rules"), "{output}");
}

#[test]
fn oversized_rule_file_stops_start_naming_it() {
    let dir = tempfile::tempdir().expect("create a temp dir");
    let rules = dir.path().join("rules");
    fs::create_dir_all(&rules).expect("create the rules dir");
    let big = rules.join("90_big.cf");
    // Larger than the loader's per-file maximum of 16 MiB.
    let line = "# a comment line that pads the file\n";
    fs::write(&big, line.repeat(16 * 1024 * 1024 / line.len() + 2)).expect("write the rule file");
    let config = format!(
        "[spam]\nenabled = true\nrules = {:?}\n",
        rules.display().to_string()
    );

    let (success, output) = serve_failing(&config);

    assert!(!success, "{output}");
    assert!(output.contains("90_big.cf"), "{output}");
}

#[test]
fn invalid_thresholds_stop_start_naming_the_key() {
    let (success, output) =
        serve_failing("[spam]\nenabled = true\njunk_score = 9\nreject_score = 8\n");
    assert!(!success, "{output}");
    assert!(output.contains("spam.reject_score"), "{output}");
}

#[test]
fn default_rules_reject_gtube() {
    if !Path::new("/usr/share/spamassassin").is_dir() {
        eprintln!("skipped: SpamAssassin's rules are not installed in /usr/share/spamassassin");
        return;
    }
    let server = Server::start_with_config(&[("alice", "pw")], Some("[spam]\nenabled = true\n"));
    let mut smtp = server.smtp();
    smtp.ehlo("client.example");

    let gtube = message(
        "test",
        "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X",
    );
    let reply = smtp.transaction("sender@example.org", &["alice@localhost"], &gtube);
    reply.assert_status(550, "5.7.1", "GTUBE end of data");

    let ham = message("lunch", "Shall we meet for lunch at noon on Friday?");
    let reply = smtp.transaction("sender@example.org", &["alice@localhost"], &ham);
    reply.assert_status(250, "2.0.0", "ham end of data");
    let inbox = server.maildir_files("alice");
    assert_eq!(inbox.len(), 1, "the ham message in INBOX");
    let header = header_of(&fs::read(&inbox[0]).expect("read the stored message"));
    assert!(header.contains("X-Spam-Status: No, score="), "{header}");
    let loaded = wait_log_line(&server, "spam rules loaded", 5_000).expect("a rules loaded line");
    assert!(loaded.contains("/usr/share/spamassassin"), "{loaded}");
}

/// Runs swaks with `args` and returns whether it succeeded and its
/// transcript.
fn swaks(args: &[&str]) -> (bool, String) {
    let output = Command::new("swaks")
        .args(["--timeout", "30"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| {
            panic!("failed to run swaks: {error}; is swaks installed? (tests/run installs it)")
        });
    let transcript = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), transcript)
}

#[test]
fn swaks_sends_junk_and_rejected_spam() {
    let server = start_scoring_server();
    let target = format!("127.0.0.1:{}", server.smtp_port);
    let send = |body: &str| {
        swaks(&[
            "--server",
            &target,
            "--from",
            "sender@example.org",
            "--to",
            "alice@localhost",
            "--header",
            "Subject: from swaks",
            "--body",
            body,
        ])
    };

    let (success, transcript) = send("free money");
    assert!(success, "{transcript}");
    assert!(
        transcript.contains("<-  250 2.0.0 Ok: delivered as"),
        "{transcript}"
    );
    assert_eq!(
        files_in(&junk_dir(&server, "alice")).len(),
        1,
        "one message in Junk"
    );

    let (success, transcript) = send("free money by wire transfer");
    assert!(!success, "{transcript}");
    assert!(
        transcript.contains("550 5.7.1 message rejected as spam (score 16 > 15)"),
        "{transcript}"
    );
    assert_eq!(
        files_in(&junk_dir(&server, "alice")).len(),
        1,
        "still one message in Junk"
    );
    assert_eq!(server.maildir_count("alice"), 0, "nothing in INBOX");
}

#[test]
fn relayed_message_is_spooled_with_fields() {
    let rules_parent = tempfile::tempdir().expect("create a temp dir");
    let rules = write_rules(rules_parent.path());
    let config = format!(
        "[smtp]\nrelay_networks = [\"127.0.0.0/8\"]\n[spam]\nenabled = true\nrules = {:?}\n",
        rules.display().to_string()
    );
    let server = Server::start_with_config(&[("alice", "pw")], Some(&config));
    let mut smtp = server.smtp();
    smtp.ehlo("client.example");

    let reply = smtp.transaction(
        "sender@example.org",
        &["someone@example.net", "alice@localhost"],
        &message("offer", "free money"),
    );

    reply.assert_status(250, "2.0.0", "end of data");
    assert!(reply.text().contains("queued as"), "{reply}");
    let mut segments = Vec::new();
    let mut pending = vec![server.data_dir().join("spool")];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).expect("read a spool dir") {
            let path = entry.expect("read a spool entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                segments.push(fs::read(&path).expect("read a spool file"));
            }
        }
    }
    let spooled = segments
        .iter()
        .any(|bytes| find(bytes, b"X-Spam-Flag: YES\r\nX-Spam-Score: 6.0\r\n").is_some());
    assert!(spooled, "the spool record carries the X-Spam-* fields");

    // The queue runner delivers the local copy from the spool record, which
    // keeps the Junk folder that the score chose.
    let junk_maildir = junk_dir(&server, "alice");
    let deadline = std::time::Instant::now() + Duration::from_millis(10_000);
    while files_in(&junk_maildir).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let junk = files_in(&junk_maildir);
    assert_eq!(junk.len(), 1, "the local copy in Junk");
    assert_eq!(server.maildir_count("alice"), 0, "nothing in INBOX");
    let header = header_of(&fs::read(&junk[0]).expect("read the stored message"));
    assert!(header.starts_with("X-Spam-Flag: YES\n"), "{header}");
}

/// Returns the directory of corpus group `group` (such as `easy-ham-1`) in
/// the cache that `tests/corpus/fetch.py` fills.
fn corpus_group_dir(group: &str) -> PathBuf {
    let home = std::env::var_os("HOME").unwrap_or_default();
    PathBuf::from(home)
        .join(".cache/ringmail/spamassassin-corpus-0.2.3/eml")
        .join(group)
}

/// Copies the first `count` messages of corpus group `group` into `target`.
/// Returns false when the corpus cache is missing or the group is smaller.
fn copy_corpus(group: &str, count: usize, target: &Path) -> bool {
    let Ok(entries) = fs::read_dir(corpus_group_dir(group)) else {
        return false;
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("read a corpus entry").path())
        .collect();
    files.sort();
    fs::create_dir_all(target).expect("create a corpus copy dir");
    for file in files.iter().take(count) {
        let name = file.file_name().expect("a corpus file name");
        fs::copy(file, target.join(name)).expect("copy a corpus message");
    }
    files.len() >= count
}

#[test]
fn bayes_store_learned_while_running_is_used() {
    let learn_dir = tempfile::tempdir().expect("create a temp dir");
    let spam_dir = learn_dir.path().join("spam");
    let ham_dir = learn_dir.path().join("ham");
    // 210 of each is above the 200 spam and 200 ham the store needs.
    if !copy_corpus("spam-1", 210, &spam_dir) || !copy_corpus("easy-ham-1", 210, &ham_dir) {
        eprintln!("skipped: the corpus cache is missing; python3 tests/corpus/fetch.py fetches it");
        return;
    }
    let rules = learn_dir.path().join("rules");
    fs::create_dir_all(&rules).expect("create the rules dir");
    let text = "body BAYES_00 eval:check_bayes('0.00', '0.01')\nscore BAYES_00 -1.5\n\
                body BAYES_99 eval:check_bayes('0.99', '1.00')\nscore BAYES_99 3.5\n";
    fs::write(rules.join("50_bayes.cf"), text).expect("write the rule file");
    let config = format!(
        "[spam]\nenabled = true\nrules = {:?}\nbayes_reload_secs = 1\n",
        rules.display().to_string()
    );
    let server = Server::start_with_config(&[("alice", "pw")], Some(&config));

    let spam_file = fs::read_dir(&spam_dir)
        .expect("read the spam copy")
        .map(|entry| entry.expect("read an entry").path())
        .min()
        .expect("a spam message");
    let spam = common::lf_to_crlf(&fs::read(&spam_file).expect("read a spam message"));
    let mut smtp = server.smtp();
    smtp.ehlo("client.example");
    let reply = smtp.transaction("sender@example.org", &["alice@localhost"], &spam);
    reply.assert_status(250, "2.0.0", "end of data before learning");
    let before = header_of(&fs::read(&server.maildir_files("alice")[0]).expect("read"));
    assert!(
        before.contains("score=0.0"),
        "nothing learned yet: {before}"
    );

    // Learn while the server runs. It loads the new store at its next
    // check, one second later, before it scores the next message.
    let data_dir = server.data_dir();
    let learned = common::run_ringmail(
        &[
            "spam",
            "learn",
            "--data",
            data_dir.to_str().expect("UTF-8 path"),
            "--spam",
            spam_dir.to_str().expect("UTF-8 path"),
            "--ham",
            ham_dir.to_str().expect("UTF-8 path"),
        ],
        None,
        learn_dir.path(),
    );
    assert!(learned.status.success(), "spam learn: {learned:?}");
    std::thread::sleep(std::time::Duration::from_millis(1200));

    let reply = smtp.transaction("sender@example.org", &["alice@localhost"], &spam);
    reply.assert_status(250, "2.0.0", "end of data after learning");
    let inbox = server.maildir_files("alice");
    assert_eq!(inbox.len(), 2, "below junk_score, so in INBOX");
    let after = inbox
        .iter()
        .map(|path| header_of(&fs::read(path).expect("read the stored message")))
        .find(|header| header.contains("tests=BAYES_99"));
    let after = after.unwrap_or_else(|| panic!("no copy scored with BAYES_99: {inbox:?}"));
    assert!(after.contains("score=3.5"), "{after}");
    assert!(
        wait_log_line(&server, "bayes store reloaded", 2000).is_some(),
        "no reload in the log:\n{}",
        common::tail(&server.stderr_text())
    );
}
