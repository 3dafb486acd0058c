//! End-to-end tests of the `ringmail` command line: `user add|list|passwd`,
//! `config example`, config errors at start, and the postmaster account that
//! the first start creates.
//!
//! Password checks go through IMAP LOGIN on a running server, because that is
//! where an operator would notice a wrong or lost password.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{free_port_pair, run_ringmail, wait_output, Server};

/// Maximum time for the postmaster line to appear on stdout after the server
/// accepts connections.
const POSTMASTER_LINE_TIMEOUT_MS: u64 = 10_000;

/// Time a second start gets to print anything about postmaster before the
/// test checks that it printed nothing.
const SECOND_START_QUIET_MS: u64 = 1_000;

/// Maximum time for `serve` with an invalid config to exit.
const CONFIG_ERROR_EXIT_TIMEOUT_MS: u64 = 20_000;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn data_arg(data_dir: &Path) -> &str {
    data_dir.to_str().expect("utf-8 temp path")
}

fn user_list(data_dir: &Path) -> Vec<String> {
    let output = run_ringmail(
        &["user", "list", "--data", data_arg(data_dir)],
        None,
        data_dir,
    );
    assert!(
        output.status.success(),
        "user list failed with {}: {}",
        output.status,
        text(&output.stderr)
    );
    let mut names: Vec<String> = text(&output.stdout).lines().map(str::to_owned).collect();
    names.sort();
    names
}

/// Tries LOGIN and returns the tagged status line (`OK ...`, `NO ...`).
fn login_status(server: &Server, user: &str, password: &str) -> String {
    let mut imap = server.imap();
    let response = imap.command(&format!(
        "LOGIN {} {}",
        common::quote(user),
        common::quote(password)
    ));
    response.status
}

#[test]
fn user_add_list_and_passwd() {
    let mut server = Server::start(&[("alice", "old-password"), ("bob", "bob-password")]);
    let data_dir = server.data_dir();

    assert_eq!(
        user_list(&data_dir),
        ["alice", "bob"],
        "user list after two adds"
    );
    assert!(
        login_status(&server, "alice", "old-password").starts_with("OK"),
        "alice's first password"
    );

    server.stop();
    let output = run_ringmail(
        &[
            "user",
            "passwd",
            "alice",
            "--password-stdin",
            "--data",
            data_arg(&data_dir),
        ],
        Some("new-password\n"),
        &data_dir,
    );
    assert!(
        output.status.success(),
        "user passwd failed with {}: {}",
        output.status,
        text(&output.stderr)
    );
    server.start_again();

    let new_status = login_status(&server, "alice", "new-password");
    assert!(
        new_status.starts_with("OK"),
        "LOGIN with the new password: {new_status}"
    );
    let old_status = login_status(&server, "alice", "old-password");
    assert!(
        old_status.starts_with("NO"),
        "LOGIN with the old password: {old_status}"
    );
    let bob_status = login_status(&server, "bob", "bob-password");
    assert!(
        bob_status.starts_with("OK"),
        "bob's LOGIN after alice's passwd: {bob_status}"
    );

    server.stop();
}

#[test]
fn duplicate_user_add_fails_clearly() {
    let dir = tempfile::tempdir().expect("create a temp dir");
    let data_dir = dir.path().join("data");
    common::user_add(&data_dir, "alice", "first-password");

    let output = run_ringmail(
        &[
            "user",
            "add",
            "alice",
            "--password-stdin",
            "--data",
            data_arg(&data_dir),
        ],
        Some("second-password\n"),
        dir.path(),
    );
    let stderr = text(&output.stderr);

    assert!(
        !output.status.success(),
        "second user add alice succeeded: stdout {}",
        text(&output.stdout)
    );
    assert!(
        stderr.contains("alice"),
        "error does not name the user: {stderr:?}"
    );
    assert!(
        stderr.to_lowercase().contains("exist"),
        "error does not say the user exists: {stderr:?}"
    );
    assert_eq!(
        user_list(&data_dir),
        ["alice"],
        "user list after the failed add"
    );
}

#[test]
fn passwd_of_unknown_user_fails() {
    let dir = tempfile::tempdir().expect("create a temp dir");
    let data_dir = dir.path().join("data");
    common::user_add(&data_dir, "alice", "alice-password");

    let output = run_ringmail(
        &[
            "user",
            "passwd",
            "nobody",
            "--password-stdin",
            "--data",
            data_arg(&data_dir),
        ],
        Some("whatever\n"),
        dir.path(),
    );
    let stderr = text(&output.stderr);

    assert!(!output.status.success(), "user passwd nobody succeeded");
    assert!(
        stderr.contains("nobody"),
        "error does not name the user: {stderr:?}"
    );
}

#[test]
fn data_dir_defaults_to_ringmail_data() {
    let dir = tempfile::tempdir().expect("create a temp dir");

    let output = run_ringmail(
        &["user", "add", "carol", "--password-stdin"],
        Some("carol-password\n"),
        dir.path(),
    );
    assert!(
        output.status.success(),
        "user add without --data failed: {}",
        text(&output.stderr)
    );
    assert!(
        dir.path().join("ringmail-data").is_dir(),
        "./ringmail-data was not created"
    );

    let output = run_ringmail(&["user", "list"], None, dir.path());
    assert!(
        output.status.success(),
        "user list without --data failed: {}",
        text(&output.stderr)
    );
    assert_eq!(
        text(&output.stdout).lines().collect::<Vec<_>>(),
        ["carol"],
        "user list without --data"
    );
}

#[test]
fn config_example_accepted_by_serve() {
    let dir = tempfile::tempdir().expect("create a temp dir");
    let output = run_ringmail(&["config", "example"], None, dir.path());
    assert!(
        output.status.success(),
        "config example failed with {}: {}",
        output.status,
        text(&output.stderr)
    );
    let example = text(&output.stdout);
    assert!(!example.trim().is_empty(), "config example printed nothing");
    assert!(
        example
            .lines()
            .any(|line| line.trim_start().starts_with('#')),
        "config example has no comments"
    );

    let mut server = Server::start_with_config(&[("alice", "alice-password")], Some(&example));
    server.deliver(
        "sender@localhost",
        &["alice@localhost"],
        b"Subject: example config\r\n\r\nworks\r\n",
    );
    assert_eq!(
        server.maildir_count("alice"),
        1,
        "delivery with the example config"
    );
    server.stop();
}

#[test]
fn unknown_config_key_names_key_and_line() {
    // (case, config text, unknown key, its line number)
    let cases: &[(&str, &str, &str, u32)] = &[
        (
            "top-level key",
            "# test config\n\nbogus = true\n",
            "bogus",
            3,
        ),
        (
            "key in smtp table",
            "[smtp]\nmessage_size_max = 100000\n\n# misspelled below\nmesage_size_max = 5\n",
            "mesage_size_max",
            5,
        ),
    ];

    for &(case, config, key, line) in cases {
        let dir = tempfile::tempdir().expect("create a temp dir");
        let config_path = dir.path().join("ringmail.toml");
        std::fs::write(&config_path, config).expect("write the config");
        let (smtp_port, imap_port) = free_port_pair();

        let child = Command::new(common::ringmail_bin())
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .arg("--data")
            .arg(dir.path().join("data"))
            .args([
                "--smtp",
                &format!("127.0.0.1:{smtp_port}"),
                "--imap",
                &format!("127.0.0.1:{imap_port}"),
            ])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ringmail serve");
        let output = wait_output(
            child,
            Duration::from_millis(CONFIG_ERROR_EXIT_TIMEOUT_MS),
            &format!("ringmail serve with {case} {key:?}"),
        );
        let stderr = text(&output.stderr);

        assert!(
            matches!(output.status.code(), Some(1) | Some(2)),
            "{case}: exit status {}, expected 2 (or 1); stderr {stderr:?}",
            output.status
        );
        assert!(
            stderr.contains(key),
            "{case}: error does not name the key {key:?}: {stderr:?}"
        );
        let line_text = format!("line {line}");
        assert!(
            stderr.contains(&line_text),
            "{case}: error does not name {line_text:?}: {stderr:?}"
        );
    }
}

#[test]
fn first_start_prints_postmaster_password_once() {
    let mut server = Server::start(&[]);

    let line = server
        .wait_stdout_line("postmaster", POSTMASTER_LINE_TIMEOUT_MS)
        .unwrap_or_else(|| {
            panic!(
                "first start printed no postmaster line; stdout {:?}",
                server.stdout_text()
            )
        });
    let password = line
        .split_whitespace()
        .last()
        .expect("postmaster line has words")
        .to_owned();
    let mentions = server
        .stdout_text()
        .lines()
        .filter(|l| l.contains(&password))
        .count();
    assert_eq!(
        mentions,
        1,
        "lines with the password on the first start: {:?}",
        server.stdout_text()
    );

    let status = login_status(&server, "postmaster", &password);
    assert!(
        status.starts_with("OK"),
        "LOGIN postmaster with the printed password: {status}"
    );
    assert_eq!(
        user_list(&server.data_dir()),
        ["postmaster"],
        "user list after the first start"
    );

    server.restart();
    std::thread::sleep(Duration::from_millis(SECOND_START_QUIET_MS));
    let second_stdout = server.stdout_text();
    assert!(
        !second_stdout.contains(&password),
        "second start printed the password again: {second_stdout:?}"
    );
    assert!(
        !second_stdout.lines().any(|l| l.contains("postmaster")),
        "second start printed a postmaster line: {second_stdout:?}"
    );

    let status = login_status(&server, "postmaster", &password);
    assert!(
        status.starts_with("OK"),
        "LOGIN postmaster after restart: {status}"
    );
    server.stop();
}
