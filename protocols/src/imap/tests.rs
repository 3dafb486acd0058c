//! Tests of `parse_command`: one table row per command form, the framing
//! outcomes, every limit, and property tests on arbitrary input.

// Table rows are tuples of the input and each expected field.
#![allow(clippy::type_complexity)]

use std::borrow::Cow;

use proptest::prelude::*;

use super::*;

/// Parses `input` with default limits and returns the command, failing the test otherwise.
fn complete(input: &[u8]) -> Command<'_> {
    match parse_command(input, &Limits::default()) {
        ParseOutcome::Complete { command, consumed } => {
            assert_eq!(
                consumed,
                input.len(),
                "consumed for {:?}",
                String::from_utf8_lossy(input)
            );
            command
        }
        other => panic!("{:?} gave {other:?}", String::from_utf8_lossy(input)),
    }
}

/// Parses `input` with `limits` and returns the error, its tag and `consumed`.
fn error_with(input: &[u8], limits: &Limits) -> (Option<String>, ParseError, usize) {
    match parse_command(input, limits) {
        ParseOutcome::Error {
            tag,
            error,
            consumed,
        } => (tag.map(str::to_owned), error, consumed),
        other => panic!("{:?} gave {other:?}", String::from_utf8_lossy(input)),
    }
}

fn b(bytes: &[u8]) -> Cow<'_, [u8]> {
    Cow::Borrowed(bytes)
}

fn mailbox(name: &[u8]) -> MailboxName<'_> {
    MailboxName::new(Cow::Borrowed(name))
}

fn set(ranges: &[(SequenceNumber, SequenceNumber)]) -> SequenceSet {
    SequenceSet {
        ranges: ranges
            .iter()
            .map(|&(start, end)| SequenceRange { start, end })
            .collect(),
    }
}

use SequenceNumber::{Star, Value as N};

#[test]
fn simple_commands_table() {
    let cases: &[(&[u8], CommandBody<'static>)] = &[
        (b"a CAPABILITY\r\n", CommandBody::Capability),
        (b"a noop\r\n", CommandBody::Noop),
        (b"a LogOut\n", CommandBody::Logout),
        (b"a CHECK\r\n", CommandBody::Check),
        (b"a CLOSE\r\n", CommandBody::Close),
        (b"a EXPUNGE\r\n", CommandBody::Expunge),
        (b"a UNSELECT\r\n", CommandBody::Unselect),
        (b"a IDLE\r\n", CommandBody::Idle),
    ];
    for (input, body) in cases {
        let command = complete(input);
        assert_eq!(command.tag, "a");
        assert_eq!(
            &command.body,
            body,
            "input {:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn login_forms_table() {
    let cases: &[(&[u8], &[u8], &[u8])] = &[
        (b"a1 LOGIN fred secret\r\n", b"fred", b"secret"),
        (
            b"a1 LOGIN \"fred smith\" \"pa ss\"\r\n",
            b"fred smith",
            b"pa ss",
        ),
        (b"a1 LOGIN \"q\\\"uo\\\\te\" x\r\n", b"q\"uo\\te", b"x"),
        (
            b"a1 LOGIN {4}\r\nfred {6}\r\nsecret\r\n",
            b"fred",
            b"secret",
        ),
        (
            b"a1 LOGIN {4+}\r\nfred {6+}\r\nsecret\r\n",
            b"fred",
            b"secret",
        ),
        (b"a1 LOGIN {5}\r\nf\r\nd\" \"\"\r\n", b"f\r\nd\"", b""),
        (b"a1 LOGIN user]x \"\"\n", b"user]x", b""),
        (
            "a1 LOGIN \"j\u{f6}rg\" pw\r\n".as_bytes(),
            "j\u{f6}rg".as_bytes(),
            b"pw",
        ),
    ];
    for (input, username, password) in cases {
        let command = complete(input);
        assert_eq!(command.tag, "a1");
        let CommandBody::Login {
            username: got_user,
            password: got_password,
        } = command.body
        else {
            panic!("not a login: {:?}", command.body);
        };
        assert_eq!(
            &*got_user,
            *username,
            "username of {:?}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(
            &*got_password,
            *password,
            "password of {:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn quoted_without_escapes_borrows() {
    let CommandBody::Login { username, password } =
        complete(b"a LOGIN \"plain\" \"es\\\\c\"\r\n").body
    else {
        panic!("not a login");
    };
    assert!(matches!(username, Cow::Borrowed(b"plain")));
    assert!(matches!(password, Cow::Owned(_)));
}

#[test]
fn authenticate_table() {
    let cases: &[(&[u8], &str, Option<&[u8]>)] = &[
        (b"a AUTHENTICATE PLAIN\r\n", "PLAIN", None),
        (
            b"a AUTHENTICATE PLAIN AHRpbQB0YW5zdGFhZg==\r\n",
            "PLAIN",
            Some(b"AHRpbQB0YW5zdGFhZg=="),
        ),
        (b"a AUTHENTICATE EXTERNAL =\r\n", "EXTERNAL", Some(b"")),
        (
            b"a authenticate xoauth2 dXNlcg==\r\n",
            "xoauth2",
            Some(b"dXNlcg=="),
        ),
    ];
    for (input, mechanism, initial_response) in cases {
        let body = complete(input).body;
        assert_eq!(
            body,
            CommandBody::Authenticate {
                mechanism,
                initial_response: *initial_response
            }
        );
    }
}

#[test]
fn mailbox_commands_table() {
    let cases: &[(&[u8], CommandBody<'static>)] = &[
        (
            b"a SELECT INBOX\r\n",
            CommandBody::Select {
                mailbox: mailbox(b"INBOX"),
            },
        ),
        (
            b"a EXAMINE \"Sent Items\"\r\n",
            CommandBody::Examine {
                mailbox: mailbox(b"Sent Items"),
            },
        ),
        (
            b"a CREATE Lists/rust\r\n",
            CommandBody::Create {
                mailbox: mailbox(b"Lists/rust"),
            },
        ),
        (
            b"a DELETE {3}\r\nold\r\n",
            CommandBody::Delete {
                mailbox: mailbox(b"old"),
            },
        ),
        (
            b"a SUBSCRIBE news\r\n",
            CommandBody::Subscribe {
                mailbox: mailbox(b"news"),
            },
        ),
        (
            b"a UNSUBSCRIBE news\r\n",
            CommandBody::Unsubscribe {
                mailbox: mailbox(b"news"),
            },
        ),
        (
            b"a LIST \"\" *\r\n",
            CommandBody::List {
                reference: b(b""),
                pattern: b(b"*"),
            },
        ),
        (
            b"a LIST ~/Mail/ %/x]\r\n",
            CommandBody::List {
                reference: b(b"~/Mail/"),
                pattern: b(b"%/x]"),
            },
        ),
        (
            b"a LSUB \"#news.\" \"comp.*\"\r\n",
            CommandBody::Lsub {
                reference: b(b"#news."),
                pattern: b(b"comp.*"),
            },
        ),
        (
            b"a STATUS blurdybloop (UIDNEXT MESSAGES unseen recent UIDVALIDITY)\r\n",
            CommandBody::Status {
                mailbox: mailbox(b"blurdybloop"),
                items: vec![
                    StatusItem::UidNext,
                    StatusItem::Messages,
                    StatusItem::Unseen,
                    StatusItem::Recent,
                    StatusItem::UidValidity,
                ],
            },
        ),
        (
            b"a COPY 2:4 MEETING\r\n",
            CommandBody::Copy {
                sequence_set: set(&[(N(2), N(4))]),
                mailbox: mailbox(b"MEETING"),
                uid: false,
            },
        ),
        (
            b"a UID COPY 1:* Archive\r\n",
            CommandBody::Copy {
                sequence_set: set(&[(N(1), Star)]),
                mailbox: mailbox(b"Archive"),
                uid: true,
            },
        ),
    ];
    for (input, body) in cases {
        assert_eq!(
            &complete(input).body,
            body,
            "input {:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn mailbox_name_inbox_any_case() {
    assert!(mailbox(b"inBoX").is_inbox());
    assert!(!mailbox(b"INBOX/sub").is_inbox());
    assert_eq!(mailbox(b"x").as_bytes(), b"x");
}

#[test]
fn append_forms_table() {
    let cases: &[(&[u8], Vec<Flag<'static>>, Option<&[u8]>, &[u8])] = &[
        (b"a APPEND saved {5}\r\nhello\r\n", vec![], None, b"hello"),
        (
            b"a APPEND saved (\\Seen $Work) {2+}\r\nhi\r\n",
            vec![Flag::Seen, Flag::Keyword("$Work")],
            None,
            b"hi",
        ),
        (
            b"a APPEND saved () \" 7-Feb-1994 21:52:25 -0800\" {3}\r\na\r\n\r\n",
            vec![],
            Some(b" 7-Feb-1994 21:52:25 -0800"),
            b"a\r\n",
        ),
        (
            b"a APPEND saved \"29-Feb-2024 23:59:60 +0000\" {0}\r\n\r\n",
            vec![],
            Some(b"29-Feb-2024 23:59:60 +0000"),
            b"",
        ),
    ];
    for (input, flags, date, message) in cases {
        let expected = CommandBody::Append {
            mailbox: mailbox(b"saved"),
            flags: flags.clone(),
            date: *date,
            message,
        };
        assert_eq!(
            complete(input).body,
            expected,
            "input {:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn append_invalid_dates_rejected() {
    let cases: &[&[u8]] = &[
        b"a APPEND x \"29-Feb-2023 10:00:00 +0000\" {1}\r\nx\r\n",
        b"a APPEND x \"31-Apr-2024 10:00:00 +0000\" {1}\r\nx\r\n",
        b"a APPEND x \"01-Foo-2024 10:00:00 +0000\" {1}\r\nx\r\n",
        b"a APPEND x \"01-Jan-2024 24:00:00 +0000\" {1}\r\nx\r\n",
        b"a APPEND x \"01-Jan-2024 10:00:00 0000\" {1}\r\nx\r\n",
        b"a APPEND x \"1-Jan-2024 10:00:00 +0000\" {1}\r\nx\r\n",
    ];
    for input in cases {
        let (_, error, consumed) = error_with(input, &Limits::default());
        assert!(
            matches!(error, ParseError::InvalidDate { .. }),
            "{error:?} for {:?}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(consumed, input.len());
    }
}

#[test]
fn append_rejects_quoted_message() {
    let (_, error, _) = error_with(b"a APPEND x \"hello\"\r\n", &Limits::default());
    assert!(matches!(error, ParseError::InvalidDate { .. }), "{error:?}");
    let (_, error, _) = error_with(b"a APPEND x hello\r\n", &Limits::default());
    assert!(
        matches!(
            error,
            ParseError::Syntax {
                expected: "literal",
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn sequence_sets_table() {
    let cases: &[(&[u8], SequenceSet)] = &[
        (b"1:*", set(&[(N(1), Star)])),
        (b"*:3", set(&[(Star, N(3))])),
        (b"1,3:5,7", set(&[(N(1), N(1)), (N(3), N(5)), (N(7), N(7))])),
        (b"*", set(&[(Star, Star)])),
        (b"4294967295", set(&[(N(u32::MAX), N(u32::MAX))])),
    ];
    for (text, expected) in cases {
        let input = [b"a FETCH ".as_slice(), text, b" FLAGS\r\n"].concat();
        let CommandBody::Fetch { sequence_set, .. } = complete(&input).body else {
            panic!("not a fetch")
        };
        assert_eq!(
            &sequence_set,
            expected,
            "set {:?}",
            String::from_utf8_lossy(text)
        );
    }
}

#[test]
fn sequence_set_contains_table() {
    let mixed = set(&[(N(1), N(1)), (N(3), N(5)), (N(7), N(7))]);
    let star_down = set(&[(Star, N(3))]);
    let cases: &[(&SequenceSet, u32, u32, bool)] = &[
        (&mixed, 1, 10, true),
        (&mixed, 2, 10, false),
        (&mixed, 4, 10, true),
        (&mixed, 7, 10, true),
        (&mixed, 8, 10, false),
        (&star_down, 3, 10, true),
        (&star_down, 10, 10, true),
        (&star_down, 11, 10, false),
        (&star_down, 2, 10, false),
        (&star_down, 2, 1, true),
    ];
    for (set, n, largest, expected) in cases {
        assert_eq!(
            set.contains(*n, *largest),
            *expected,
            "{n} in {set:?} with largest {largest}"
        );
    }
}

#[test]
fn fetch_forms_table() {
    use FetchAttribute as F;
    let cases: &[(&[u8], Vec<FetchAttribute<'static>>)] = &[
        (b"a FETCH 1 ALL\r\n", vec![F::Flags, F::InternalDate, F::Rfc822Size, F::Envelope]),
        (b"a FETCH 1 fast\r\n", vec![F::Flags, F::InternalDate, F::Rfc822Size]),
        (b"a FETCH 1 FULL\r\n", vec![F::Flags, F::InternalDate, F::Rfc822Size, F::Envelope, F::Body]),
        (b"a FETCH 1 UID\r\n", vec![F::Uid]),
        (
            b"a FETCH 1 (FLAGS UID INTERNALDATE RFC822.SIZE RFC822 RFC822.HEADER RFC822.TEXT ENVELOPE BODYSTRUCTURE BODY)\r\n",
            vec![
                F::Flags,
                F::Uid,
                F::InternalDate,
                F::Rfc822Size,
                F::Rfc822,
                F::Rfc822Header,
                F::Rfc822Text,
                F::Envelope,
                F::BodyStructure,
                F::Body,
            ],
        ),
        (
            b"a FETCH 1 BODY[]\r\n",
            vec![F::BodySection { peek: false, section: Section { part: vec![], text: None }, partial: None }],
        ),
        (
            b"a FETCH 1 (body.peek[1.2.MIME] BODY[3.TEXT]<10.20> BODY[HEADER])\r\n",
            vec![
                F::BodySection {
                    peek: true,
                    section: Section { part: vec![1, 2], text: Some(SectionText::Mime) },
                    partial: None,
                },
                F::BodySection {
                    peek: false,
                    section: Section { part: vec![3], text: Some(SectionText::Text) },
                    partial: Some((10, 20)),
                },
                F::BodySection {
                    peek: false,
                    section: Section { part: vec![], text: Some(SectionText::Header) },
                    partial: None,
                },
            ],
        ),
        (
            b"a FETCH 1 BODY[HEADER.FIELDS.NOT ({7}\r\nX-Spam1 Received)]\r\n",
            vec![F::BodySection {
                peek: false,
                section: Section {
                    part: vec![],
                    text: Some(SectionText::HeaderFields { not: true, fields: vec!["X-Spam1", "Received"] }),
                },
                partial: None,
            }],
        ),
    ];
    for (input, attributes) in cases {
        let CommandBody::Fetch {
            attributes: got,
            uid,
            ..
        } = complete(input).body
        else {
            panic!("not a fetch")
        };
        assert!(!uid);
        assert_eq!(
            &got,
            attributes,
            "input {:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn uid_fetch_header_fields_partial() {
    let command =
        complete(b"A654 UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>)\r\n");
    assert_eq!(command.tag, "A654");
    let expected = CommandBody::Fetch {
        sequence_set: set(&[(N(1), Star)]),
        attributes: vec![
            FetchAttribute::Uid,
            FetchAttribute::BodySection {
                peek: true,
                section: Section {
                    part: vec![],
                    text: Some(SectionText::HeaderFields {
                        not: false,
                        fields: vec!["FROM", "TO"],
                    }),
                },
                partial: Some((0, 100)),
            },
        ],
        uid: true,
    };
    assert_eq!(command.body, expected);
}

#[test]
fn fetch_invalid_forms_rejected() {
    let cases: &[&[u8]] = &[
        b"a FETCH 1 (ALL)\r\n",
        b"a FETCH 1 BODY.PEEK\r\n",
        b"a FETCH 1 BODY[MIME]\r\n",
        b"a FETCH 1 BODY[1.]\r\n",
        b"a FETCH 1 BODY[0]\r\n",
        b"a FETCH 1 BODY[]<0.0>\r\n",
        b"a FETCH 1 BODY[HEADER.FIELDS ()]\r\n",
        b"a FETCH 1 BODY[HEADER.FIELDS (\"X\\\\Y\")]\r\n",
        b"a FETCH 1 ()\r\n",
        b"a FETCH 1 (FLAGS\r\n",
        b"a FETCH 1 FLAGS)\r\n",
        b"a FETCH 1 BOGUS\r\n",
        b"a FETCH 1,\r\n",
        b"a FETCH 1:\r\n",
    ];
    for input in cases {
        let (tag, _, consumed) = error_with(input, &Limits::default());
        assert_eq!(
            tag.as_deref(),
            Some("a"),
            "tag for {:?}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(consumed, input.len());
    }
}

#[test]
fn store_forms_table() {
    let cases: &[(&[u8], StoreKind, bool, Vec<Flag<'static>>, bool)] = &[
        (
            b"a STORE 2:4 +FLAGS (\\Deleted)\r\n",
            StoreKind::Add,
            false,
            vec![Flag::Deleted],
            false,
        ),
        (
            b"a STORE 1 +FLAGS.SILENT (\\Seen)\r\n",
            StoreKind::Add,
            true,
            vec![Flag::Seen],
            false,
        ),
        (
            b"a STORE 1 -flags \\Flagged \\Draft\r\n",
            StoreKind::Remove,
            false,
            vec![Flag::Flagged, Flag::Draft],
            false,
        ),
        (
            b"a STORE 1 FLAGS ()\r\n",
            StoreKind::Replace,
            false,
            vec![],
            false,
        ),
        (
            b"a UID STORE 1 FLAGS.SILENT (\\answered $Junk \\Custom)\r\n",
            StoreKind::Replace,
            true,
            vec![
                Flag::Answered,
                Flag::Keyword("$Junk"),
                Flag::Extension("Custom"),
            ],
            true,
        ),
    ];
    for (input, kind, silent, flags, uid) in cases {
        let body = complete(input).body;
        let CommandBody::Store {
            kind: got_kind,
            silent: got_silent,
            flags: got_flags,
            uid: got_uid,
            ..
        } = body
        else {
            panic!("not a store")
        };
        assert_eq!(
            got_kind,
            *kind,
            "kind of {:?}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(
            got_silent,
            *silent,
            "silent of {:?}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(
            &got_flags,
            flags,
            "flags of {:?}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(got_uid, *uid, "uid of {:?}", String::from_utf8_lossy(input));
    }
}

#[test]
fn search_forms_table() {
    use SearchKey as S;
    let date = |year, month, day| Date { year, month, day };
    let cases: &[(&[u8], Option<&str>, SearchKey<'static>)] = &[
        (b"a SEARCH ALL\r\n", None, S::All),
        (b"a SEARCH UNSEEN UID 1:5\r\n", None, S::And(vec![S::Unseen, S::Uid(set(&[(N(1), N(5))]))])),
        (
            b"a SEARCH OR SEEN NOT DELETED\r\n",
            None,
            S::Or(Box::new(S::Seen), Box::new(S::Not(Box::new(S::Deleted)))),
        ),
        (
            b"a SEARCH CHARSET UTF-8 SUBJECT {4}\r\ntest\r\n",
            Some("UTF-8"),
            S::Subject(b(b"test")),
        ),
        (b"a search charset \"US-ASCII\" text x\r\n", Some("US-ASCII"), S::Text(b(b"x"))),
        (
            b"a SEARCH (FLAGGED SINCE 1-Feb-1994) NOT FROM \"Smith\"\r\n",
            None,
            S::And(vec![
                S::And(vec![S::Flagged, S::Since(date(1994, 2, 1))]),
                S::Not(Box::new(S::From(b(b"Smith")))),
            ]),
        ),
        (
            b"a SEARCH BEFORE \"29-Feb-2000\" ON 31-dec-1999 SENTBEFORE 01-Jan-2000 SENTON 2-Mar-2001 SENTSINCE 3-Apr-2002\r\n",
            None,
            S::And(vec![
                S::Before(date(2000, 2, 29)),
                S::On(date(1999, 12, 31)),
                S::SentBefore(date(2000, 1, 1)),
                S::SentOn(date(2001, 3, 2)),
                S::SentSince(date(2002, 4, 3)),
            ]),
        ),
        (
            b"a SEARCH ANSWERED DELETED DRAFT NEW OLD RECENT UNANSWERED UNDELETED UNDRAFT UNFLAGGED\r\n",
            None,
            S::And(vec![
                S::Answered,
                S::Deleted,
                S::Draft,
                S::New,
                S::Old,
                S::Recent,
                S::Unanswered,
                S::Undeleted,
                S::Undraft,
                S::Unflagged,
            ]),
        ),
        (
            b"a SEARCH KEYWORD $Junk UNKEYWORD work LARGER 100 SMALLER 5000\r\n",
            None,
            S::And(vec![S::Keyword("$Junk"), S::Unkeyword("work"), S::Larger(100), S::Smaller(5000)]),
        ),
        (
            b"a SEARCH BCC a CC b TO c BODY d HEADER Message-ID \"<x@y>\"\r\n",
            None,
            S::And(vec![
                S::Bcc(b(b"a")),
                S::Cc(b(b"b")),
                S::To(b(b"c")),
                S::Body(b(b"d")),
                S::Header(b(b"Message-ID"), b(b"<x@y>")),
            ]),
        ),
        (b"a SEARCH 1,3:*\r\n", None, S::SequenceSet(set(&[(N(1), N(1)), (N(3), Star)]))),
        (b"a SEARCH (SEEN)\r\n", None, S::And(vec![S::Seen])),
    ];
    for (input, charset, criteria) in cases {
        let expected = CommandBody::Search {
            charset: *charset,
            criteria: criteria.clone(),
            uid: false,
        };
        assert_eq!(
            complete(input).body,
            expected,
            "input {:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn uid_search_sets_uid() {
    let body = complete(b"a UID SEARCH UID 10:*\r\n").body;
    let expected = CommandBody::Search {
        charset: None,
        criteria: SearchKey::Uid(set(&[(N(10), Star)])),
        uid: true,
    };
    assert_eq!(body, expected);
}

#[test]
fn search_invalid_forms_rejected() {
    let cases: &[&[u8]] = &[
        b"a SEARCH\r\n",
        b"a SEARCH BOGUS\r\n",
        b"a SEARCH SINCE 30-Feb-2000\r\n",
        b"a SEARCH SINCE 1-Feb-94\r\n",
        b"a SEARCH SINCE 123-Feb-1994\r\n",
        b"a SEARCH OR SEEN\r\n",
        b"a SEARCH KEYWORD \\Seen\r\n",
        b"a SEARCH LARGER\r\n",
        b"a SEARCH (SEEN\r\n",
        b"a SEARCH SEEN)\r\n",
        b"a SEARCH ()\r\n",
        b"a SEARCH CHARSET \"UTF\\\\8\" ALL\r\n",
    ];
    for input in cases {
        let (tag, _, consumed) = error_with(input, &Limits::default());
        assert_eq!(
            tag.as_deref(),
            Some("a"),
            "tag for {:?}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(consumed, input.len());
    }
}

#[test]
fn need_continuation_at_literal_offset() {
    let input = b"a1 LOGIN {4}\r\n";
    assert_eq!(
        parse_command(input, &Limits::default()),
        ParseOutcome::NeedContinuation {
            literal_offset: 14,
            literal_len: 4
        }
    );

    let partial = b"a1 LOGIN {4}\r\nfr";
    assert_eq!(
        parse_command(partial, &Limits::default()),
        ParseOutcome::NeedContinuation {
            literal_offset: 14,
            literal_len: 4
        }
    );

    let second = b"a1 LOGIN {4}\r\nfred {6}\r\n";
    assert_eq!(
        parse_command(second, &Limits::default()),
        ParseOutcome::NeedContinuation {
            literal_offset: 24,
            literal_len: 6
        }
    );

    let data_without_line_end = b"a1 LOGIN {4}\r\nfred {6}\r\nsecret";
    assert_eq!(
        parse_command(data_without_line_end, &Limits::default()),
        ParseOutcome::Incomplete
    );
}

#[test]
fn empty_sync_literal_needs_continuation() {
    let cases: &[(&[u8], usize)] = &[
        (b"a LOGIN {0}\r\n", 13),
        (b"a LOGIN {0}\r\n {0}\r\n", 19),
        (b"a APPEND x {0}\r\n", 16),
        (b"a FETCH 1 BODY[HEADER.FIELDS ({0}\r\n", 35),
    ];
    for (input, literal_offset) in cases {
        assert_eq!(
            parse_command(input, &Limits::default()),
            ParseOutcome::NeedContinuation {
                literal_offset: *literal_offset,
                literal_len: 0
            },
            "input {:?}",
            String::from_utf8_lossy(input)
        );
    }
    let command = complete(b"a LOGIN {0}\r\n {0}\r\n\r\n");
    let expected = CommandBody::Login {
        username: b(b""),
        password: b(b""),
    };
    assert_eq!(command.body, expected);
}

#[test]
fn prefixes_of_valid_commands_wait() {
    let inputs: &[&[u8]] = &[
        b"a1 LOGIN {4}\r\nfred {6}\r\nsecret\r\n",
        b"a1 LOGIN {4+}\r\nfred \"pa\\\"ss\"\r\n",
        b"a1 LOGIN {0}\r\n {0}\r\n\r\n",
        b"a APPEND saved (\\Seen) \" 7-Feb-1994 21:52:25 -0800\" {5}\r\na\r\nb\n\r\n",
        b"a SEARCH CHARSET UTF-8 OR (UNSEEN SINCE 1-Feb-2024) SUBJECT {3}\r\n{3}\r\n",
        b"A654 UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS ({4}\r\nFROM TO)]<0.100>)\r\n",
        b"a STORE 1,3:5 +FLAGS.SILENT (\\Seen $Junk)\n",
    ];
    for input in inputs {
        assert!(matches!(
            parse_command(input, &Limits::default()),
            ParseOutcome::Complete { .. }
        ));
        for cut in 0..input.len() {
            let outcome = parse_command(&input[..cut], &Limits::default());
            assert!(
                matches!(
                    outcome,
                    ParseOutcome::Incomplete | ParseOutcome::NeedContinuation { .. }
                ),
                "prefix {:?} gave {outcome:?}",
                String::from_utf8_lossy(&input[..cut])
            );
        }
    }
}

#[test]
fn non_synchronizing_literal_waits_without_continuation() {
    assert_eq!(
        parse_command(b"a1 LOGIN {4+}\r\nfr", &Limits::default()),
        ParseOutcome::Incomplete
    );
}

#[test]
fn invalid_command_before_literal_rejected_without_continuation() {
    let input = b"a1 BOGUS {4}\r\n";
    let (tag, error, consumed) = error_with(input, &Limits::default());
    assert_eq!(tag.as_deref(), Some("a1"));
    assert!(
        matches!(error, ParseError::UnknownCommand { .. }),
        "{error:?}"
    );
    assert_eq!(consumed, input.len());

    let (_, error, _) = error_with(b"a1 SELECT INBOX {4}\r\n", &Limits::default());
    assert!(
        matches!(
            error,
            ParseError::Syntax {
                expected: "end of line",
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn incomplete_inputs_table() {
    let cases: &[&[u8]] = &[b"", b"a", b"a NOOP", b"a NOOP\r", b"a LOGIN {3+}\r\nab"];
    for input in cases {
        assert_eq!(
            parse_command(input, &Limits::default()),
            ParseOutcome::Incomplete,
            "input {input:?}"
        );
    }
}

#[test]
fn pipelined_commands_in_one_buffer() {
    let buffer = b"a NOOP\r\nb LOGIN {3+}\r\nbob pw\r\nc FETCH 1 FLAGS\nd LOGOUT\r\n";
    let mut offset = 0;
    let mut tags = Vec::new();
    while offset < buffer.len() {
        match parse_command(&buffer[offset..], &Limits::default()) {
            ParseOutcome::Complete { command, consumed } => {
                tags.push(command.tag.to_owned());
                offset += consumed;
            }
            other => panic!("at offset {offset}: {other:?}"),
        }
    }
    assert_eq!(tags, ["a", "b", "c", "d"]);
}

#[test]
fn error_consumes_only_offending_command() {
    let buffer = b"a BOGUS x\r\nb NOOP\r\n";
    let (tag, _, consumed) = error_with(buffer, &Limits::default());
    assert_eq!(tag.as_deref(), Some("a"));
    assert_eq!(consumed, 11);
    assert!(matches!(
        parse_command(&buffer[consumed..], &Limits::default()),
        ParseOutcome::Complete { .. }
    ));
}

#[test]
fn missing_tag_table() {
    let cases: &[&[u8]] = &[b"\r\n", b" NOOP\r\n", b"+ NOOP\r\n", b"(a NOOP\r\n"];
    for input in cases {
        let (tag, error, consumed) = error_with(input, &Limits::default());
        assert_eq!(tag, None, "tag for {input:?}");
        assert_eq!(error, ParseError::MissingTag, "error for {input:?}");
        assert_eq!(consumed, input.len());
    }
}

#[test]
fn tag_without_command_keeps_tag() {
    let (tag, error, _) = error_with(b"a17\r\n", &Limits::default());
    assert_eq!(tag.as_deref(), Some("a17"));
    assert!(
        matches!(
            error,
            ParseError::Syntax {
                expected: "space",
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn unknown_command_table() {
    let cases: &[(&[u8], &str)] = &[
        (b"a FROB\r\n", "FROB"),
        (b"a RENAME x y\r\n", "RENAME"),
        (b"a UID EXPUNGE 1\r\n", "UID EXPUNGE"),
        (b"a AUTHENTICATEX\r\n", "AUTHENTICATEX"),
    ];
    for (input, name) in cases {
        let (tag, error, _) = error_with(input, &Limits::default());
        assert_eq!(tag.as_deref(), Some("a"));
        assert_eq!(
            error,
            ParseError::UnknownCommand {
                name: (*name).to_owned()
            }
        );
        assert_eq!(error.message(), format!("unknown command {name:?}"));
    }
}

#[test]
fn unknown_command_name_cut_in_message() {
    let input = [b"a ".as_slice(), &[b'X'; 200], b"\r\n"].concat();
    let (_, error, _) = error_with(&input, &Limits::default());
    let ParseError::UnknownCommand { name } = error else {
        panic!("{error:?}")
    };
    assert_eq!(name.len(), ECHO_LEN_MAX);
}

#[test]
fn zero_in_sequence_set_table() {
    let cases: &[&[u8]] = &[
        b"a FETCH 0 FLAGS\r\n",
        b"a FETCH 1:0 FLAGS\r\n",
        b"a FETCH 1,0 FLAGS\r\n",
        b"a STORE 0:* +FLAGS \\Seen\r\n",
        b"a SEARCH UID 0\r\n",
        b"a COPY 00 x\r\n",
    ];
    for input in cases {
        let (_, error, _) = error_with(input, &Limits::default());
        assert_eq!(
            error,
            ParseError::ZeroInSequenceSet,
            "input {:?}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(
            error.message(),
            "invalid sequence number 0, because numbers start at 1"
        );
    }
}

#[test]
fn number_over_32_bits_rejected() {
    let (_, error, _) = error_with(b"a FETCH 4294967296 FLAGS\r\n", &Limits::default());
    assert_eq!(error, ParseError::NumberTooLarge { offset: 8 });
    assert!(
        error.message().contains("4294967295"),
        "{}",
        error.message()
    );
}

#[test]
fn unbalanced_parens_table() {
    let cases: &[&[u8]] = &[
        b"a SEARCH ((SEEN)\r\n",
        b"a SEARCH (SEEN))\r\n",
        b"a FETCH 1 (FLAGS UID\r\n",
        b"a STATUS x (MESSAGES\r\n",
        b"a STORE 1 FLAGS (\\Seen\r\n",
        b"a APPEND x (\\Seen {1}\r\nx\r\n",
    ];
    for input in cases {
        let (tag, error, consumed) = error_with(input, &Limits::default());
        assert_eq!(tag.as_deref(), Some("a"));
        assert!(
            matches!(error, ParseError::Syntax { .. }),
            "{error:?} for {:?}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(consumed, input.len());
    }
}

#[test]
fn search_depth_over_limit() {
    let limits = Limits {
        depth_max: 4,
        ..Limits::default()
    };
    let deep_cases: &[&[u8]] = &[
        b"a SEARCH ((((SEEN))))\r\n",
        b"a SEARCH NOT NOT NOT NOT SEEN\r\n",
        b"a SEARCH OR SEEN OR SEEN OR SEEN OR SEEN SEEN\r\n",
    ];
    for input in deep_cases {
        let (_, error, consumed) = error_with(input, &limits);
        assert_eq!(
            error,
            ParseError::DepthExceeded { depth_max: 4 },
            "input {:?}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(consumed, input.len());
    }
    let shallow = b"a SEARCH (((SEEN)))\r\n";
    assert!(matches!(
        parse_command(shallow, &limits),
        ParseOutcome::Complete { .. }
    ));
}

#[test]
fn deep_nesting_attack_bounded() {
    let mut input = b"a SEARCH ".to_vec();
    input.extend(std::iter::repeat_n(b'(', 4000));
    input.extend_from_slice(b"SEEN");
    input.extend(std::iter::repeat_n(b')', 4000));
    input.extend_from_slice(b"\r\n");
    let (_, error, _) = error_with(&input, &Limits::default());
    assert_eq!(
        error,
        ParseError::DepthExceeded {
            depth_max: DEPTH_MAX_DEFAULT
        }
    );
    assert_eq!(
        error.message(),
        "nesting too deep: more than depth_max 16 levels"
    );
}

#[test]
fn mime_part_path_over_depth_limit() {
    let limits = Limits {
        depth_max: 3,
        ..Limits::default()
    };
    let (_, error, _) = error_with(b"a FETCH 1 BODY[1.2.3.4]\r\n", &limits);
    assert_eq!(error, ParseError::DepthExceeded { depth_max: 3 });
}

#[test]
fn items_over_limit_table() {
    let limits = Limits {
        items_max: 3,
        ..Limits::default()
    };
    let cases: &[(&[u8], &str)] = &[
        (b"a FETCH 1,2,3,4 FLAGS\r\n", "sequence ranges"),
        (
            b"a FETCH 1 (FLAGS UID ENVELOPE RFC822)\r\n",
            "fetch attributes",
        ),
        (b"a STORE 1 FLAGS (a b c d)\r\n", "flags"),
        (b"a SEARCH SEEN SEEN SEEN SEEN\r\n", "search keys"),
        (b"a SEARCH (SEEN SEEN SEEN SEEN)\r\n", "search keys"),
        (
            b"a STATUS x (MESSAGES RECENT UNSEEN UIDNEXT)\r\n",
            "status items",
        ),
        (
            b"a FETCH 1 BODY[HEADER.FIELDS (A B C D)]\r\n",
            "header field names",
        ),
    ];
    for (input, what) in cases {
        let (_, error, _) = error_with(input, &limits);
        assert_eq!(
            error,
            ParseError::TooManyItems { what, items_max: 3 },
            "input {:?}",
            String::from_utf8_lossy(input)
        );
    }
    assert!(matches!(
        parse_command(b"a FETCH 1,2,3 FLAGS\r\n", &limits),
        ParseOutcome::Complete { .. }
    ));
}

#[test]
fn literal_over_limit_rejected_before_data() {
    let limits = Limits {
        literal_len_max: 10,
        ..Limits::default()
    };
    let input = b"a APPEND x {11}\r\n";
    let (tag, error, consumed) = error_with(input, &limits);
    assert_eq!(tag.as_deref(), Some("a"));
    assert_eq!(consumed, input.len());
    assert!(!error.closes_connection());
    assert_eq!(
        error.message(),
        "literal too long: 11 octets exceed literal_len_max 10"
    );

    let (_, error, _) = error_with(b"a APPEND x {11+}\r\n", &limits);
    assert!(error.closes_connection());
}

#[test]
fn literal_length_overflow_rejected() {
    let (_, error, _) = error_with(b"a LOGIN {18446744073709551616}\r\n", &Limits::default());
    let ParseError::LiteralTooLong { literal_len, .. } = error else {
        panic!("{error:?}")
    };
    assert_eq!(literal_len, u64::MAX);
}

#[test]
fn line_over_limit_with_line_end() {
    let limits = Limits {
        line_len_max: 20,
        ..Limits::default()
    };
    let input = b"a LOGIN aaaaaaaaaaaaaaaaaaaa b\r\nc NOOP\r\n";
    let (tag, error, consumed) = error_with(input, &limits);
    assert_eq!(tag.as_deref(), Some("a"));
    assert_eq!(consumed, 32);
    assert!(!error.discard_to_line_end());
    assert_eq!(
        error.message(),
        "command line too long: 30 octets exceed line_len_max 20"
    );
}

#[test]
fn line_over_limit_without_line_end() {
    let limits = Limits {
        line_len_max: 20,
        ..Limits::default()
    };
    let input = [b'x'; 21];
    let (tag, error, consumed) = error_with(&input, &limits);
    assert_eq!(tag, None);
    assert_eq!(consumed, input.len());
    assert!(error.discard_to_line_end());

    let at_limit = [b'x'; 20];
    assert_eq!(parse_command(&at_limit, &limits), ParseOutcome::Incomplete);
}

#[test]
fn bare_cr_inside_line_rejected() {
    let (_, error, _) = error_with(b"a NOOP\rb NOOP\r\n", &Limits::default());
    assert!(matches!(error, ParseError::Syntax { .. }), "{error:?}");
}

#[test]
fn quoted_string_errors_table() {
    let cases: &[&[u8]] = &[
        b"a LOGIN \"unterminated\r\n",
        b"a LOGIN \"bad\\escape\" x\r\n",
        b"a LOGIN \"nul\0\" x\r\n",
        b"a LOGIN \"cr\rx\" x\r\n",
    ];
    for input in cases {
        let (tag, error, consumed) = error_with(input, &Limits::default());
        assert_eq!(tag.as_deref(), Some("a"));
        assert!(matches!(error, ParseError::Syntax { .. }), "{error:?}");
        assert_eq!(consumed, input.len());
    }
}

#[test]
fn error_messages_are_lowercase() {
    let errors = [
        ParseError::LineTooLong {
            line_len_max: 1,
            line_len: 2,
            line_end_seen: true,
            non_sync_literal_follows: false,
        },
        ParseError::LiteralTooLong {
            literal_len_max: 1,
            literal_len: 2,
            synchronizing: true,
        },
        ParseError::MissingTag,
        ParseError::Syntax {
            expected: "space",
            offset: 3,
            found: Some(b'x'),
        },
        ParseError::Syntax {
            expected: "space",
            offset: 3,
            found: None,
        },
        ParseError::ZeroInSequenceSet,
        ParseError::NumberTooLarge { offset: 1 },
        ParseError::DepthExceeded { depth_max: 1 },
        ParseError::TooManyItems {
            what: "flags",
            items_max: 1,
        },
        ParseError::InvalidDate { offset: 1 },
        ParseError::InvalidSaslPlain {
            reason: "empty authcid",
        },
    ];
    for error in errors {
        let message = error.message();
        assert_eq!(message, message.to_lowercase(), "message of {error:?}");
    }
}

/// Parses a LOGIN whose username is `encoded` and returns the username.
fn login_username(encoded: &[u8]) -> Vec<u8> {
    let input = [b"t LOGIN ".as_slice(), encoded, b" x\r\n"].concat();
    match parse_command(&input, &Limits::default()) {
        ParseOutcome::Complete {
            command:
                Command {
                    body: CommandBody::Login { username, .. },
                    ..
                },
            ..
        } => username.into_owned(),
        other => panic!("{:?} gave {other:?}", String::from_utf8_lossy(&input)),
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..600)) {
        let limits = Limits { line_len_max: 256, literal_len_max: 64, depth_max: 8, items_max: 16 };
        match parse_command(&input, &limits) {
            ParseOutcome::Complete { consumed, .. } | ParseOutcome::Error { consumed, .. } => {
                prop_assert!(consumed <= input.len());
                prop_assert!(consumed > 0);
            }
            ParseOutcome::NeedContinuation { literal_offset, .. } => {
                prop_assert!(literal_offset <= input.len());
            }
            ParseOutcome::Incomplete => {}
        }
    }

    #[test]
    fn imap_like_text_never_panics(
        words in proptest::collection::vec(
            prop_oneof![
                Just("a".to_string()), Just(" ".to_string()), Just("(".to_string()), Just(")".to_string()),
                Just("\r\n".to_string()), Just("{3}\r\n".to_string()), Just("{2+}\r\n".to_string()),
                Just("\"".to_string()), Just("\\".to_string()), Just("UID".to_string()), Just("FETCH".to_string()),
                Just("SEARCH".to_string()), Just("NOT".to_string()), Just("OR".to_string()), Just("BODY[".to_string()),
                Just("]".to_string()), Just("<0.1>".to_string()), Just("1:*".to_string()), Just(",".to_string()),
                Just("STORE".to_string()), Just("+FLAGS".to_string()), Just("\\Seen".to_string()),
                Just("LOGIN".to_string()), Just("APPEND".to_string()), Just("HEADER.FIELDS".to_string()),
            ],
            0..40,
        )
    ) {
        let input = words.concat();
        let limits = Limits { line_len_max: 128, literal_len_max: 16, depth_max: 4, items_max: 8 };
        if let ParseOutcome::Complete { consumed, .. } | ParseOutcome::Error { consumed, .. } =
            parse_command(input.as_bytes(), &limits)
        {
            prop_assert!(consumed <= input.len());
        }
    }

    #[test]
    fn write_string_round_trips_through_login(value in proptest::collection::vec(any::<u8>(), 0..1500)) {
        let mut encoded = Vec::new();
        write_string(&mut encoded, &value);
        prop_assert_eq!(login_username(&encoded), value);
    }

    #[test]
    fn write_mailbox_round_trips_through_select(value in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut encoded = Vec::new();
        write_mailbox(&mut encoded, &value);
        let input = [b"t SELECT ".as_slice(), &encoded, b"\r\n"].concat();
        let ParseOutcome::Complete { command, .. } = parse_command(&input, &Limits::default()) else {
            return Err(TestCaseError::fail(format!("{input:?} did not parse")));
        };
        let CommandBody::Select { mailbox } = command.body else {
            return Err(TestCaseError::fail("not a select"));
        };
        prop_assert_eq!(mailbox.as_bytes(), value.as_slice());
    }

    #[test]
    fn prefix_of_valid_command_never_errors(cut in 0usize..80) {
        let input: &[u8] = b"A654 UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>)\r\n";
        let prefix = &input[..cut.min(input.len() - 1)];
        prop_assert_eq!(parse_command(prefix, &Limits::default()), ParseOutcome::Incomplete);
    }
}
