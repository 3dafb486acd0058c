//! End-to-end tests of the IMAP commands of `ringmail serve` over a raw client.
//!
//! Each FETCH item is checked against the Maildir file it comes from: BODY[] is
//! the file, RFC822.SIZE its length, BODY[HEADER] and BODY[TEXT] its two parts
//! split at the first empty line, and a partial `<a.b>` the byte range. The
//! other tests cover lines split across TCP segments (clients such as Python's
//! imaplib send a SASL response and its CRLF in two writes), AUTHENTICATE
//! PLAIN in its three forms, EXAMINE, STATUS, UID STORE with CLOSE, LIST,
//! CAPABILITY and LOGOUT.

mod common;

use std::thread;
use std::time::Duration;

use common::{find, ImapClient, ImapResponse, Server, SEGMENT_GAP_MS};

/// Read timeout while waiting for the response to a split command. A server
/// that lost the first part never sends it, and loopback replies in far less.
const SPLIT_RESPONSE_TIMEOUT_MS: u64 = 3_000;

const USER: &str = "alice";
const PASSWORD: &str = "alice-password";

const MESSAGE: &[u8] = b"From: sender@localhost\r\n\
To: alice@localhost\r\n\
Subject: fetch items\r\n\
\r\n\
First body line.\r\n\
Second body line.\r\n";

fn start_with_messages(count: usize) -> Server {
    let server = Server::start(&[(USER, PASSWORD)]);
    for _ in 0..count {
        server.deliver("sender@localhost", &["alice@localhost"], MESSAGE);
    }
    server
}

fn logged_in(server: &Server) -> ImapClient {
    let mut imap = server.imap();
    imap.login(USER, PASSWORD);
    imap
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let value = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(value >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Runs `FETCH 1 (item)` and returns the response's first literal.
fn fetch_literal(imap: &mut ImapClient, item: &str) -> Vec<u8> {
    let response = imap.command(&format!("FETCH 1 ({item})"));
    assert!(response.is_ok(), "FETCH 1 ({item}): {}", response.status);
    let fetch = response
        .untagged
        .iter()
        .find(|u| u.text.starts_with("* 1 FETCH"))
        .unwrap_or_else(|| {
            panic!(
                "FETCH 1 ({item}) returned no FETCH response: {:?}",
                response.untagged
            )
        });
    fetch
        .literals
        .first()
        .cloned()
        .unwrap_or_else(|| panic!("FETCH 1 ({item}) returned no literal: {:?}", fetch.text))
}

/// Runs `FETCH 1 (items)` and returns the FETCH response's text.
fn fetch_text(imap: &mut ImapClient, items: &str) -> String {
    let response = imap.command(&format!("FETCH 1 ({items})"));
    assert!(response.is_ok(), "FETCH 1 ({items}): {}", response.status);
    response
        .untagged
        .iter()
        .find(|u| u.text.starts_with("* 1 FETCH"))
        .map(|u| u.text.clone())
        .unwrap_or_else(|| {
            panic!(
                "FETCH 1 ({items}) returned no FETCH response: {:?}",
                response.untagged
            )
        })
}

fn assert_ok(response: &ImapResponse, context: &str) {
    assert!(response.is_ok(), "{context}: {}", response.status);
}

#[test]
fn command_split_across_segments_parsed_whole() {
    // (case, writes sent SEGMENT_GAP_MS apart, tags that must complete OK)
    let cases: &[(&str, &[&[u8]], &[&str])] = &[
        ("noop split before crlf", &[b"s1 NOOP", b"\r\n"], &["s1"]),
        (
            "noop split between cr and lf",
            &[b"s1 NOOP\r", b"\n"],
            &["s1"],
        ),
        (
            "login split inside the password",
            &[b"s1 LOGIN alice alice-pass", b"word\r\n"],
            &["s1"],
        ),
        (
            "full line then a partial one",
            &[b"s1 NOOP\r\ns2 NO", b"OP\r\n"],
            &["s1", "s2"],
        ),
    ];

    let server = start_with_messages(0);
    for &(case, writes, tags) in cases {
        let mut imap = server.imap();
        imap.set_read_timeout_ms(SPLIT_RESPONSE_TIMEOUT_MS);
        for write in writes {
            imap.send_raw(write);
            thread::sleep(Duration::from_millis(SEGMENT_GAP_MS));
        }
        for tag in tags {
            let response = imap.read_tagged(tag);
            assert_ok(&response, &format!("{case}: command {tag}"));
        }
        let response = imap.command("NOOP");
        assert_ok(&response, &format!("{case}: NOOP afterwards"));
    }
}

#[test]
fn authenticate_plain_all_forms() {
    let token = base64(format!("\0{USER}\0{PASSWORD}").as_bytes());

    // (case, writes after the command line; an empty list means SASL-IR)
    let cases: &[(&str, bool, &[String])] = &[
        ("initial response on the command line", false, &[]),
        (
            "response after continuation",
            true,
            &[format!("{token}\r\n")],
        ),
        (
            "response and crlf in two writes",
            true,
            &[token.clone(), "\r\n".to_owned()],
        ),
    ];

    let server = start_with_messages(1);
    for (case, continuation, writes) in cases {
        let mut imap = server.imap();
        let tag = imap.next_tag();
        if *continuation {
            imap.send_raw(format!("{tag} AUTHENTICATE PLAIN\r\n").as_bytes());
            let line = imap.read_line();
            assert!(
                line.starts_with('+'),
                "{case}: expected a continuation request, got {line:?}"
            );
            for write in writes.iter() {
                imap.send_raw(write.as_bytes());
                thread::sleep(Duration::from_millis(SEGMENT_GAP_MS));
            }
        } else {
            imap.send_raw(format!("{tag} AUTHENTICATE PLAIN {token}\r\n").as_bytes());
        }

        let response = imap.read_tagged(&tag);
        assert_ok(&response, case);
        let selected = imap.select("INBOX");
        assert_eq!(
            selected.exists(),
            Some(1),
            "{case}: EXISTS after AUTHENTICATE"
        );
    }
}

#[test]
fn wrong_password_rejected_then_login_works() {
    let server = start_with_messages(0);
    let mut imap = server.imap();

    let response = imap.command(&format!("LOGIN {USER} wrong-password"));
    assert!(
        response.status.starts_with("NO"),
        "LOGIN with a wrong password: {}",
        response.status
    );

    let token = base64(format!("\0{USER}\0wrong-password").as_bytes());
    let response = imap.command(&format!("AUTHENTICATE PLAIN {token}"));
    assert!(
        response.status.starts_with("NO"),
        "AUTHENTICATE with a wrong password: {}",
        response.status
    );

    imap.login(USER, PASSWORD);
}

#[test]
fn capability_list_and_logout() {
    let server = start_with_messages(0);
    let mut imap = server.imap();

    let response = imap.command("CAPABILITY");
    assert_ok(&response, "CAPABILITY");
    let capabilities = response
        .untagged
        .iter()
        .find(|u| u.text.starts_with("* CAPABILITY "))
        .map(|u| u.text.clone())
        .unwrap_or_else(|| panic!("no CAPABILITY response: {:?}", response.untagged));
    for capability in ["IMAP4rev1", "AUTH=PLAIN"] {
        assert!(
            capabilities.split(' ').any(|c| c == capability),
            "CAPABILITY lacks {capability}: {capabilities}"
        );
    }

    imap.login(USER, PASSWORD);
    let response = imap.command("LIST \"\" \"*\"");
    assert_ok(&response, "LIST");
    assert!(
        response
            .untagged
            .iter()
            .any(|u| u.text.starts_with("* LIST") && u.text.contains("INBOX")),
        "LIST lacks INBOX: {:?}",
        response.untagged
    );

    let response = imap.command("LOGOUT");
    assert_ok(&response, "LOGOUT");
    assert!(
        response
            .untagged
            .iter()
            .any(|u| u.text.starts_with("* BYE")),
        "LOGOUT without * BYE: {:?}",
        response.untagged
    );
}

#[test]
fn fetch_items_match_maildir_file() {
    let server = start_with_messages(1);
    let mut imap = logged_in(&server);
    imap.select("INBOX");

    let files = server.maildir_files(USER);
    assert_eq!(files.len(), 1, "Maildir files: {files:?}");
    let stored = common::read_stored(&files[0]);
    let header_len = find(&stored, b"\r\n\r\n").expect("stored message has an empty line") + 4;

    let full = fetch_literal(&mut imap, "BODY.PEEK[]");
    assert_eq!(full, stored, "BODY.PEEK[] differs from the Maildir file");

    let text = fetch_text(&mut imap, "FLAGS UID INTERNALDATE RFC822.SIZE");
    assert!(
        text.contains(&format!("RFC822.SIZE {}", stored.len())),
        "RFC822.SIZE is not {}: {text}",
        stored.len()
    );
    assert!(
        text.contains("INTERNALDATE \""),
        "no quoted INTERNALDATE: {text}"
    );
    assert!(text.contains("UID "), "no UID: {text}");
    assert!(
        !text.contains("\\Seen"),
        "\\Seen set before any FETCH BODY[]: {text}"
    );

    // (item, expected bytes)
    let cases: &[(&str, &[u8])] = &[
        ("BODY.PEEK[HEADER]", &stored[..header_len]),
        ("BODY.PEEK[TEXT]", &stored[header_len..]),
        ("RFC822.HEADER", &stored[..header_len]),
        ("BODY.PEEK[]<0.10>", &stored[..10]),
        ("BODY.PEEK[]<5.1000000>", &stored[5..]),
        (
            "BODY.PEEK[TEXT]<2.5>",
            &stored[header_len + 2..header_len + 7],
        ),
    ];
    for &(item, expected) in cases {
        let literal = fetch_literal(&mut imap, item);
        assert_eq!(
            String::from_utf8_lossy(&literal),
            String::from_utf8_lossy(expected),
            "FETCH 1 ({item})"
        );
    }
    let text = fetch_text(&mut imap, "FLAGS");
    assert!(
        !text.contains("\\Seen"),
        "a PEEK or RFC822.HEADER fetch set \\Seen: {text}"
    );

    let literal = fetch_literal(&mut imap, "RFC822");
    assert_eq!(literal, stored, "RFC822 differs from the Maildir file");
    let text = fetch_text(&mut imap, "FLAGS");
    assert!(
        text.contains("\\Seen"),
        "FETCH RFC822 did not set \\Seen: {text}"
    );
}

#[test]
fn examine_is_read_only() {
    let server = start_with_messages(1);
    let mut imap = logged_in(&server);

    let response = imap.command("EXAMINE INBOX");
    assert_ok(&response, "EXAMINE INBOX");
    assert!(
        response.status.contains("[READ-ONLY]"),
        "EXAMINE status lacks [READ-ONLY]: {}",
        response.status
    );
    assert_eq!(response.exists(), Some(1), "EXISTS after EXAMINE");

    let body = fetch_literal(&mut imap, "BODY[]");
    assert!(
        common::strip_received(&body) == Some(MESSAGE),
        "BODY[] in EXAMINE: {}",
        common::preview(&body)
    );
    let response = imap.command("STORE 1 +FLAGS (\\Deleted)");
    assert!(
        response.status.starts_with("NO"),
        "STORE in a read-only mailbox: {}",
        response.status
    );

    imap.select("INBOX");
    let text = fetch_text(&mut imap, "FLAGS");
    assert!(
        !text.contains("\\Seen"),
        "FETCH BODY[] after EXAMINE set \\Seen: {text}"
    );
    assert!(
        !text.contains("\\Deleted"),
        "STORE after EXAMINE set \\Deleted: {text}"
    );
}

#[test]
fn status_counts_unselected_mailbox() {
    let server = start_with_messages(2);
    let mut imap = logged_in(&server);

    let response = imap.command("STATUS INBOX (MESSAGES UNSEEN UIDNEXT UIDVALIDITY)");
    assert_ok(&response, "STATUS");
    let status = response
        .untagged
        .iter()
        .find(|u| u.text.starts_with("* STATUS"))
        .map(|u| u.text.clone())
        .unwrap_or_else(|| panic!("no STATUS response: {:?}", response.untagged));
    assert!(status.contains("MESSAGES 2"), "STATUS MESSAGES: {status}");
    assert!(status.contains("UNSEEN 2"), "STATUS UNSEEN: {status}");
    assert!(
        status.contains("UIDVALIDITY "),
        "STATUS UIDVALIDITY: {status}"
    );

    let selected = imap.select("INBOX");
    let uids = imap.uids();
    let uidnext: u32 = status
        .split("UIDNEXT ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|digits| digits.parse().ok())
        .unwrap_or_else(|| panic!("no UIDNEXT number in {status}"));
    assert!(
        uids.iter().all(|&uid| uid < uidnext),
        "UIDs {uids:?} not below STATUS UIDNEXT {uidnext}"
    );
    assert_eq!(
        selected
            .response_code_number("UIDVALIDITY")
            .map(|v| status.contains(&format!("UIDVALIDITY {v}"))),
        Some(true),
        "SELECT and STATUS disagree on UIDVALIDITY: {status}"
    );
}

#[test]
fn uid_store_deleted_then_close_expunges() {
    let server = start_with_messages(3);
    let mut imap = logged_in(&server);
    imap.select("INBOX");
    let uids = imap.uids();
    assert_eq!(uids.len(), 3, "UIDs: {uids:?}");

    let response = imap.command(&format!("UID STORE {} +FLAGS (\\Deleted)", uids[1]));
    assert_ok(&response, "UID STORE");
    assert!(
        response
            .untagged
            .iter()
            .any(|u| u.text.contains("FETCH") && u.text.contains("\\Deleted")),
        "UID STORE returned no FETCH with \\Deleted: {:?}",
        response.untagged
    );

    let response = imap.command("UID SEARCH ALL");
    assert_ok(&response, "UID SEARCH ALL");
    assert_eq!(
        response.search_numbers(),
        uids,
        "UID SEARCH ALL before CLOSE"
    );

    let response = imap.command("CLOSE");
    assert_ok(&response, "CLOSE");
    assert_eq!(server.maildir_count(USER), 2, "Maildir files after CLOSE");

    let selected = imap.select("INBOX");
    assert_eq!(selected.exists(), Some(2), "EXISTS after CLOSE");
    assert_eq!(imap.uids(), [uids[0], uids[2]], "UIDs after CLOSE");
}
