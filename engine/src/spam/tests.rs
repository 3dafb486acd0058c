use ringmail_spam::score::{Hit, SpamHeader, Verdict};

use super::*;

const THRESHOLDS: Thresholds = Thresholds {
    add_header: 5.0,
    junk: 6.0,
    reject: 15.0,
};

fn verdict(score: f64) -> Verdict {
    Verdict {
        score,
        required: 5.0,
        is_spam: score >= 5.0,
        hits: vec![Hit {
            name: "TEST_RULE".to_string(),
            score,
            hits: 1,
        }],
        score_set: 0,
        evals_unimplemented: 0,
    }
}

#[test]
fn thresholds_pick_action() {
    // (score, expected action)
    let cases = [
        (-3.0, Action::Inbox),
        (5.9, Action::Inbox),
        (6.0, Action::Junk),
        (15.0, Action::Junk),
        (
            15.1,
            Action::Reject {
                score: 15.1,
                reject_score: 15.0,
            },
        ),
    ];
    for (score, expected) in cases {
        assert_eq!(THRESHOLDS.action(score), expected, "score {score}");
    }
}

#[test]
fn header_verdict_follows_add_header_score() {
    let thresholds = Thresholds {
        add_header: 3.0,
        ..THRESHOLDS
    };
    let judged = thresholds.header_verdict(&verdict(4.0));
    assert!(judged.is_spam);
    assert_eq!(judged.required, 3.0);
    assert!(!thresholds.header_verdict(&verdict(2.9)).is_spam);
}

fn field(name: &'static str, value: &str) -> SpamHeader {
    SpamHeader {
        name,
        value: value.to_string(),
    }
}

#[test]
fn fields_go_before_received_with_crlf() {
    let received = b"Received: from a by b; date\r\n";
    let mut message = received.to_vec();
    message.extend_from_slice(b"Subject: hi\r\n\r\nbody\r\n");
    let fields = [
        field("X-Spam-Flag", "YES"),
        field("X-Spam-Status", "Yes, score=9.0\n\ttests=A,B"),
    ];

    let output = insert_spam_fields(&message, received.len(), &fields);

    let expected = b"X-Spam-Flag: YES\r\nX-Spam-Status: Yes, score=9.0\r\n\ttests=A,B\r\n\
Received: from a by b; date\r\nSubject: hi\r\n\r\nbody\r\n";
    assert_eq!(
        String::from_utf8_lossy(&output),
        String::from_utf8_lossy(expected)
    );
}

#[test]
fn forged_spam_fields_are_removed() {
    let received = b"Received: x\r\n";
    let client = b"X-Spam-Flag: NO\r\nSubject: s\r\nx-spam-status: No, score=-99\r\n\tfolded=1\r\n\
X-Spam-Prev-Subject: kept\r\nX-Spamming: kept\r\n\r\nX-Spam-Flag: in the body stays\r\n";
    let mut message = received.to_vec();
    message.extend_from_slice(client);

    let output = insert_spam_fields(&message, received.len(), &[]);

    let expected = b"Received: x\r\nSubject: s\r\nX-Spam-Prev-Subject: kept\r\n\
X-Spamming: kept\r\n\r\nX-Spam-Flag: in the body stays\r\n";
    assert_eq!(
        String::from_utf8_lossy(&output),
        String::from_utf8_lossy(expected)
    );
}

#[test]
fn message_without_body_or_final_newline() {
    // (client part, expected client part after the edit)
    let cases: [(&[u8], &[u8]); 4] = [
        (b"", b""),
        (b"Subject: s", b"Subject: s"),
        (b"X-Spam-Flag: NO", b""),
        (
            b"Subject: s\nX-Spam-Level: **\n\nbody",
            b"Subject: s\n\nbody",
        ),
    ];
    for (client, expected) in cases {
        let mut message = b"Received: x\r\n".to_vec();
        message.extend_from_slice(client);
        let output = insert_spam_fields(&message, 13, &[]);
        assert_eq!(
            &output[13..],
            expected,
            "{:?}",
            String::from_utf8_lossy(client)
        );
    }
}

#[test]
fn spam_field_names_match_in_any_case() {
    let cases: [(&[u8], bool); 6] = [
        (b"X-Spam-Flag: YES", true),
        (b"X-SPAM-STATUS: No", true),
        (b"x-spam-", true),
        (b"X-Spam-Prev-Subject: s", false),
        (b"X-Spam", false),
        (b"Subject: X-Spam-Flag", false),
    ];
    for (line, expected) in cases {
        assert_eq!(
            is_spam_field_name(line),
            expected,
            "{:?}",
            String::from_utf8_lossy(line)
        );
    }
}

fn write_rules(dir: &std::path::Path, text: &str) {
    std::fs::write(dir.join("test.cf"), text).expect("write the rule file");
}

#[test]
fn missing_rules_dir_fails_naming_it() {
    let data = tempfile::tempdir().expect("temp dir");
    let config = SpamConfig {
        enabled: true,
        rules: Some(data.path().join("no-such-rules")),
        ..SpamConfig::default()
    };
    let error = SpamFilter::start(&config, data.path(), 1)
        .err()
        .expect("start must fail");
    assert!(error.contains("no-such-rules"), "{error}");
}

#[test]
fn add_header_score_defaults_to_required_score() {
    let data = tempfile::tempdir().expect("temp dir");
    write_rules(
        data.path(),
        "required_score 7.5\nbody FREE /free money/\nscore FREE 3.0\n",
    );
    let config = SpamConfig {
        enabled: true,
        rules: Some(data.path().to_path_buf()),
        ..SpamConfig::default()
    };
    let filter = SpamFilter::start(&config, data.path(), 1).expect("start");
    assert_eq!(filter.thresholds().add_header, 7.5);
}

#[test]
fn check_scores_on_a_thread_and_adds_fields() {
    let data = tempfile::tempdir().expect("temp dir");
    write_rules(data.path(), "body FREE /free money/\nscore FREE 6.5\n");
    let config = SpamConfig {
        enabled: true,
        rules: Some(data.path().to_path_buf()),
        ..SpamConfig::default()
    };
    let filter = SpamFilter::start(&config, data.path(), 1).expect("start");
    let received = b"Received: from a by b; date\r\n";
    let mut message = received.to_vec();
    message.extend_from_slice(b"Subject: offer\r\nX-Spam-Flag: NO\r\n\r\nGet free money now\r\n");

    let checked = crate::runtime::block_on(filter.check(message, received.len(), "Q1"));

    assert_eq!(checked.action, Action::Junk);
    let text = String::from_utf8_lossy(&checked.message).into_owned();
    assert!(text.starts_with("X-Spam-Flag: YES\r\n"), "{text}");
    assert!(text.contains("X-Spam-Status: Yes, score=6.5"), "{text}");
    assert!(!text.contains("X-Spam-Flag: NO"), "{text}");
}

#[test]
fn oversized_message_is_not_scored() {
    let data = tempfile::tempdir().expect("temp dir");
    write_rules(data.path(), "body FREE /free money/\nscore FREE 20\n");
    let config = SpamConfig {
        enabled: true,
        rules: Some(data.path().to_path_buf()),
        message_size_max: 1024,
        ..SpamConfig::default()
    };
    let filter = SpamFilter::start(&config, data.path(), 1).expect("start");
    let mut message = b"Subject: s\r\n\r\nfree money\r\n".to_vec();
    message.resize(2048, b'x');

    let checked = crate::runtime::block_on(filter.check(message.clone(), 0, "Q2"));

    assert_eq!(checked.action, Action::Inbox);
    assert_eq!(checked.message, message);
}
