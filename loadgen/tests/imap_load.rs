//! End-to-end runs of `ringmail-loadgen imap`: IMAP against a real `ringmail
//! serve`, and `--pop3` against Dovecot, both on loopback ports, checking
//! the printed counts against the Maildirs.
//!
//! The Ringmail server binary is not a dependency of this package: run
//! `cargo build -p ringmail` first. It is looked up in
//! `$CARGO_TARGET_DIR/debug`, or else in the workspace's `target/debug`.
//! Dovecot comes from Debian's `dovecot-pop3d`, which tests/run installs.

mod common;

use common::{free_loopback_addr, loadgen, ringmail_binary, stdout_of};

use std::collections::HashSet;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Time allowed for a server to start listening, or to exit after SIGTERM.
const SERVER_WAIT: Duration = Duration::from_secs(30);

const PASSWORD: &str = "load-test-password";

/// Messages placed in the mailbox before a run that the loadgen must not delete.
const FOREIGN_MESSAGES: usize = 5;

fn wait_for_listener(addr: SocketAddr, child: &mut Child, log: &Path) {
    let started = Instant::now();
    while TcpStream::connect(addr).is_err() {
        if let Some(status) = child.try_wait().expect("wait for server") {
            panic!(
                "server exited with {status} before listening on {addr}; log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            started.elapsed() < SERVER_WAIT,
            "server did not listen on {addr}"
        );
        sleep(Duration::from_millis(50));
    }
}

fn stop(child: &mut Child) {
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -TERM failed");

    let started = Instant::now();
    while child.try_wait().expect("wait for server").is_none() {
        assert!(
            started.elapsed() < SERVER_WAIT,
            "server did not exit after SIGTERM"
        );
        sleep(Duration::from_millis(50));
    }
}

/// Builds a foreign message: a Message-ID and no loadgen header.
fn foreign_message(index: usize) -> String {
    format!(
        "From: <someone@example.org>\r\nTo: <user@localhost>\r\n\
         Subject: foreign {index}\r\nMessage-ID: <foreign-{index}@example.org>\r\n\r\n\
         A message the load generator must never delete.\r\n"
    )
}

/// Builds a message as `ringmail-loadgen smtp` writes it, with an X-Loadgen-Id header.
fn smtp_loadgen_message(index: usize) -> String {
    format!(
        "From: <loadgen@localhost>\r\nTo: <user@localhost>\r\n\
         Subject: ringmail-loadgen smtp-{index}\r\nX-Loadgen-Id: smtp-{index}\r\n\r\n\
         Body {index}.\r\n"
    )
}

/// Creates `maildir` with `new/`, `cur/` and `tmp/`, and writes `messages` into `new/`.
fn fill_maildir(maildir: &Path, messages: &[String]) {
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).expect("create Maildir");
    }
    for (index, message) in messages.iter().enumerate() {
        let name = format!("1700000000.M{index}P1.test");
        std::fs::write(maildir.join("new").join(name), message).expect("write message");
    }
}

/// Returns the contents of every message file in `new/` and `cur/`.
fn maildir_messages(maildir: &Path) -> Vec<String> {
    let mut messages = Vec::new();
    for sub in ["new", "cur"] {
        for entry in std::fs::read_dir(maildir.join(sub)).expect("read Maildir") {
            let path = entry.expect("directory entry").path();
            messages.push(std::fs::read_to_string(&path).expect("read message"));
        }
    }
    messages
}

fn header_value<'a>(message: &'a str, field: &str) -> Option<&'a str> {
    message
        .lines()
        .take_while(|line| !line.is_empty())
        .find_map(|line| line.strip_prefix(field))
        .map(str::trim)
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read JSON report"))
        .expect("valid JSON")
}

fn command_count(report: &serde_json::Value, name: &str) -> u64 {
    report["commands"][name]["count"]
        .as_u64()
        .unwrap_or_else(|| panic!("no count for {name} in {report}"))
}

/// A `ringmail serve` child process whose users' inboxes start with the
/// same messages.
struct Ringmail {
    child: Child,
    data: tempfile::TempDir,
    imap: SocketAddr,
}

impl Ringmail {
    fn start(users: &[&str], messages: &[String]) -> Ringmail {
        let data = tempfile::tempdir().expect("create data dir");
        for user in users {
            add_ringmail_user(data.path(), user);
            let maildir = data.path().join("mail").join(user).join("Maildir");
            fill_maildir(&maildir, messages);
        }

        let log = data.path().join("server.log");
        let imap = free_loopback_addr();
        let mut child = Command::new(ringmail_binary())
            .arg("serve")
            .arg("--data")
            .arg(data.path())
            .arg("--smtp")
            .arg(free_loopback_addr().to_string())
            .arg("--imap")
            .arg(imap.to_string())
            .arg("--submission")
            .arg(free_loopback_addr().to_string())
            .arg("--submission-tls")
            .arg(free_loopback_addr().to_string())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("create server log"))
            .spawn()
            .expect("start ringmail serve");
        wait_for_listener(imap, &mut child, &log);
        Ringmail { child, data, imap }
    }

    fn maildir(&self, user: &str) -> PathBuf {
        self.data.path().join("mail").join(user).join("Maildir")
    }
}

impl Drop for Ringmail {
    fn drop(&mut self) {
        // Reached with the child still running only when a test failed.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn add_ringmail_user(data: &Path, user: &str) {
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
        .write_all(format!("{PASSWORD}\n").as_bytes())
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

/// Messages of one mailbox before a run: foreign ones and three from the
/// SMTP load mode, none of which an IMAP run may delete.
fn mailbox_before_run() -> Vec<String> {
    let mut messages: Vec<String> = (0..FOREIGN_MESSAGES).map(foreign_message).collect();
    messages.extend((0..3).map(smtp_loadgen_message));
    messages
}

/// Asserts that `maildir` still contains every message of [`mailbox_before_run`]
/// and returns the messages that a loadgen APPEND created.
fn assert_mail_kept(maildir: &Path) -> Vec<String> {
    let remaining = maildir_messages(maildir);
    let foreign: HashSet<&str> = remaining
        .iter()
        .filter_map(|message| header_value(message, "Message-ID:"))
        .filter(|id| id.starts_with("<foreign-"))
        .collect();
    assert_eq!(
        foreign.len(),
        FOREIGN_MESSAGES,
        "foreign messages kept in {}",
        maildir.display()
    );

    let smtp_kept = remaining
        .iter()
        .filter(|message| {
            header_value(message, "X-Loadgen-Id:").is_some_and(|id| id.starts_with("smtp-"))
        })
        .count();
    assert_eq!(
        smtp_kept,
        3,
        "messages of the SMTP mode kept in {}",
        maildir.display()
    );

    remaining
        .into_iter()
        .filter(|message| header_value(message, "X-Loadgen-Source:") == Some("imap-append"))
        .collect()
}

#[test]
fn imap_run_counts_all_commands() {
    // One user per connection: sessions on one mailbox run one after the
    // other, so no command can fail on a message another session expunged.
    let users = ["alice", "bob", "carol", "dave"];
    let mut server = Ringmail::start(&users, &mailbox_before_run());
    let out_dir = tempfile::tempdir().expect("create output dir");
    let users_file = out_dir.path().join("users.txt");
    let lines: Vec<String> = users
        .iter()
        .map(|user| format!("{user}:{PASSWORD}\n"))
        .collect();
    std::fs::write(&users_file, lines.concat()).expect("write users file");
    let json = out_dir.path().join("report.json");
    let target = server.imap.to_string();

    // expunge=50 leaves some appended messages behind to find in the Maildir.
    let output = loadgen(&[
        "imap",
        "--target",
        &target,
        "--users",
        users_file.to_str().unwrap(),
        "--connections",
        "4",
        "--sessions",
        "20",
        "--workers",
        "2",
        "--mix",
        "expunge=50",
        "--json",
        json.to_str().unwrap(),
    ]);
    let stdout = stdout_of(&output);
    assert!(
        output.status.success(),
        "exit status {:?}: {stdout}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("sessions completed: 20\n"), "{stdout}");
    assert!(stdout.contains("session errors: 0\n"), "{stdout}");
    assert!(stdout.contains("command errors: 0\n"), "{stdout}");

    let report = read_json(&json);
    assert_eq!(report["sessions"], 20);
    for name in ["CONNECT", "LOGIN", "SELECT", "APPEND", "LOGOUT"] {
        assert_eq!(command_count(&report, name), 20, "{name}");
    }
    for name in [
        "FETCH FLAGS",
        "FETCH BODY",
        "STORE",
        "SEARCH",
        "FETCH HEADER",
        "EXPUNGE",
    ] {
        assert!(command_count(&report, name) > 0, "{name} in {report}");
    }
    for (name, command) in report["commands"].as_object().expect("commands") {
        assert_eq!(command["errors"], 0, "errors of {name}");
        assert_eq!(
            command["latency_ms"]["count"], command["count"],
            "latencies of {name}"
        );
    }

    stop(&mut server.child);
    let run_id = report["run_id"].as_str().expect("run_id");
    let mut appended_left = 0;
    for user in users {
        for message in assert_mail_kept(&server.maildir(user)) {
            let id = header_value(&message, "X-Loadgen-Id:").expect("appended message has an id");
            assert!(id.starts_with(&format!("{run_id}-imap-")), "{id}");
            appended_left += 1;
        }
    }
    let expunged = command_count(&report, "EXPUNGE");
    assert_eq!(
        appended_left,
        20 - expunged,
        "appended messages left after {expunged} expunges"
    );
}

#[test]
fn imap_sessions_sharing_a_mailbox_keep_foreign_mail() {
    // Sessions on one mailbox race: a FETCH or STORE may get NO for a
    // message that another session expunged, so only session errors and
    // the mailbox contents are checked here.
    let mut server = Ringmail::start(&["erin"], &mailbox_before_run());
    let target = server.imap.to_string();

    let output = loadgen(&[
        "imap",
        "--target",
        &target,
        "--user",
        "erin",
        "--pass",
        PASSWORD,
        "--connections",
        "6",
        "--sessions",
        "30",
    ]);
    let stdout = stdout_of(&output);
    assert!(
        output.status.success(),
        "exit status {:?}: {stdout}",
        output.status
    );
    assert!(stdout.contains("sessions completed: 30\n"), "{stdout}");
    assert!(stdout.contains("session errors: 0\n"), "{stdout}");

    stop(&mut server.child);
    assert_mail_kept(&server.maildir("erin"));
}

#[test]
fn imap_wrong_password_is_a_session_error() {
    let mut server = Ringmail::start(&["bob"], &[]);
    let target = server.imap.to_string();

    let output = loadgen(&[
        "imap",
        "--target",
        &target,
        "--user",
        "bob",
        "--pass",
        "wrong",
        "--connections",
        "1",
        "--sessions",
        "2",
    ]);
    let stdout = stdout_of(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("sessions completed: 0\n"), "{stdout}");
    assert!(stdout.contains("session errors: 2\n  login: 2"), "{stdout}");
    stop(&mut server.child);
}

/// A Dovecot POP3 server in the foreground with a temporary configuration.
struct Dovecot {
    child: Child,
    dir: tempfile::TempDir,
    pop3: SocketAddr,
}

impl Dovecot {
    /// Starts Dovecot for `users`, each with a maildir holding `messages`.
    fn start(users: &[&str], messages: &[String]) -> Dovecot {
        let binary = ["/usr/sbin/dovecot", "/usr/local/sbin/dovecot"]
            .into_iter()
            .map(PathBuf::from)
            .find(|path| path.is_file())
            .expect("dovecot not found: tests/run installs Debian's dovecot-pop3d");

        let dir = tempfile::tempdir().expect("create Dovecot dir");
        let root = dir.path();
        // Dovecot refuses mail access as root, so a root test run stores the
        // mail as `nobody` instead of the running user.
        let (uid, gid) = match current_ids() {
            (0, _) => (65534, 65534),
            ids => ids,
        };

        let mut passwd = String::new();
        for user in users {
            let home = root.join("mail").join(user);
            fill_maildir(&home.join("Maildir"), messages);
            passwd.push_str(&format!(
                "{user}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{}\n",
                home.display()
            ));
        }
        std::fs::write(root.join("passwd"), passwd).expect("write passwd-file");
        std::fs::create_dir_all(root.join("run")).expect("create base_dir");
        std::fs::create_dir_all(root.join("state")).expect("create state_dir");
        if current_ids().0 == 0 {
            let status = Command::new("chown")
                .arg("-R")
                .arg(format!("{uid}:{gid}"))
                .arg(root.join("mail"))
                .status()
                .expect("run chown");
            assert!(status.success(), "chown of the mail dir failed");
        }

        let pop3 = free_loopback_addr();
        let config = dovecot_config(root, pop3);
        std::fs::write(root.join("dovecot.conf"), config).expect("write dovecot.conf");

        let log = root.join("dovecot.log");
        let mut child = Command::new(binary)
            .arg("-F")
            .arg("-c")
            .arg(root.join("dovecot.conf"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(root.join("stderr.log")).expect("create stderr log"))
            .spawn()
            .expect("start dovecot");
        wait_for_listener(pop3, &mut child, &log);
        Dovecot { child, dir, pop3 }
    }

    fn maildir(&self, user: &str) -> PathBuf {
        self.dir.path().join("mail").join(user).join("Maildir")
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Returns the uid and gid of the running user, as `id` prints them.
fn current_ids() -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let output = Command::new("id").arg(flag).output().expect("run id");
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .expect("id prints a number")
    };
    (id("-u"), id("-g"))
}

/// Returns a Dovecot configuration that listens for POP3 on `pop3` only, keeps every
/// file under `root`, and uses no TLS and no DNS (`hostname` is set, so
/// Dovecot does not resolve its own name).
fn dovecot_config(root: &Path, pop3: SocketAddr) -> String {
    let root = root.display();
    let mut config = format!(
        "protocols = pop3\n\
         listen = 127.0.0.1\n\
         base_dir = {root}/run\n\
         state_dir = {root}/state\n\
         instance_name = ringmail-loadgen-test-{port}\n\
         log_path = {root}/dovecot.log\n\
         ssl = no\n\
         disable_plaintext_auth = no\n\
         auth_mechanisms = plain\n\
         hostname = localhost\n\
         first_valid_uid = 1\n\
         mail_location = maildir:{root}/mail/%u/Maildir\n\
         passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {root}/passwd\n}}\n\
         userdb {{\n  driver = passwd-file\n  args = username_format=%u {root}/passwd\n}}\n\
         service pop3-login {{\n  inet_listener pop3 {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n}}\n\
",
        port = pop3.port()
    );
    if current_ids().0 != 0 {
        // Without root, Dovecot cannot switch users or chroot, so every
        // process runs as the running user.
        let user = String::from_utf8_lossy(
            &Command::new("id")
                .arg("-un")
                .output()
                .expect("run id")
                .stdout,
        )
        .trim()
        .to_string();
        config.push_str(&format!(
            "default_login_user = {user}\ndefault_internal_user = {user}\n\
             service anvil {{\n  chroot =\n}}\nservice pop3-login {{\n  chroot =\n}}\n"
        ));
    }
    config
}

#[test]
fn pop3_run_deletes_only_loadgen_messages() {
    let mut messages: Vec<String> = (0..FOREIGN_MESSAGES).map(foreign_message).collect();
    messages.extend((0..30).map(smtp_loadgen_message));
    let users = ["pat", "quinn"];
    let mut dovecot = Dovecot::start(&users, &messages);
    let out_dir = tempfile::tempdir().expect("create output dir");
    let users_file = out_dir.path().join("users.txt");
    std::fs::write(
        &users_file,
        format!("# POP3 test users\npat:{PASSWORD}\nquinn:{PASSWORD}\n"),
    )
    .expect("write users file");
    let json = out_dir.path().join("report.json");
    let target = dovecot.pop3.to_string();

    // One connection per user, so two sessions never share a maildrop.
    let output = loadgen(&[
        "imap",
        "--pop3",
        "--target",
        &target,
        "--users",
        users_file.to_str().unwrap(),
        "--connections",
        "2",
        "--sessions",
        "20",
        "--json",
        json.to_str().unwrap(),
    ]);
    let stdout = stdout_of(&output);
    assert!(
        output.status.success(),
        "exit status {:?}: {stdout}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("sessions completed: 20\n"), "{stdout}");
    assert!(stdout.contains("session errors: 0\n"), "{stdout}");
    assert!(stdout.contains("command errors: 0\n"), "{stdout}");

    let report = read_json(&json);
    for name in ["CONNECT", "USER", "PASS", "STAT", "UIDL", "QUIT"] {
        assert_eq!(command_count(&report, name), 20, "{name}");
    }
    for name in ["RETR", "TOP", "DELE"] {
        assert!(command_count(&report, name) > 0, "{name} in {report}");
    }
    let resets = report["commands"]["RSET"]["count"].as_u64().unwrap_or(0);
    let committed = 20 - resets;

    stop(&mut dovecot.child);
    let mut loadgen_left = 0;
    for user in users {
        let remaining = maildir_messages(&dovecot.maildir(user));
        let foreign = remaining
            .iter()
            .filter(|message| {
                header_value(message, "Message-ID:").is_some_and(|id| id.starts_with("<foreign-"))
            })
            .count();
        assert_eq!(foreign, FOREIGN_MESSAGES, "foreign messages of {user} kept");
        loadgen_left += remaining
            .iter()
            .filter(|message| header_value(message, "X-Loadgen-Id:").is_some())
            .count() as u64;
    }
    // Every session draws DELE and almost always finds a loadgen message
    // among its probes (at least 20 of 35 messages per user are), so each
    // committed session deleted one. A session whose probes all hit foreign
    // mail skips DELE, which the report counts.
    let dele_skips = report["skipped"]["dele: no loadgen message found"]
        .as_u64()
        .unwrap_or(0);
    let deleted = 2 * 30 - loadgen_left;
    assert!(
        deleted <= committed && deleted + dele_skips >= committed,
        "{deleted} loadgen messages deleted by {committed} committed sessions, {dele_skips} skips"
    );
}

#[test]
fn imap_bad_arguments_exit_2() {
    let cases: &[&[&str]] = &[
        &["imap", "--target", "127.0.0.1:1", "--user", "a"],
        &[
            "imap",
            "--target",
            "127.0.0.1:1",
            "--user",
            "a",
            "--pass",
            "p",
            "--connections",
            "0",
        ],
        &[
            "imap",
            "--target",
            "127.0.0.1:1",
            "--user",
            "a",
            "--pass",
            "p",
            "--mix",
            "nope=5",
        ],
        &[
            "imap",
            "--target",
            "127.0.0.1:1",
            "--user",
            "a",
            "--pass",
            "p",
            "--sessions",
            "5",
            "--duration",
            "5",
        ],
        &[
            "imap",
            "--target",
            "127.0.0.1:1",
            "--users",
            "/nonexistent/users.txt",
        ],
        &["imap", "--target", "no-port", "--user", "a", "--pass", "p"],
        &["imap", "--user", "a", "--pass", "p"],
    ];
    for args in cases {
        let output = loadgen(args);
        assert_eq!(output.status.code(), Some(2), "args {args:?}");
        assert!(output.stdout.is_empty(), "args {args:?}: nothing on stdout");
        assert!(
            !output.stderr.is_empty(),
            "args {args:?}: an error on stderr"
        );
    }
}
