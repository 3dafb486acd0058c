use super::*;

/// Creates a fresh Maildir in a tempdir.
fn temp_maildir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let maildir = dir.path().join("Maildir");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    (dir, maildir)
}

/// Drops a message into `new/` as a delivery agent would, with a unique name
/// whose time is `secs`.
fn put_new(maildir: &Path, secs: u64, tag: &str, body: &[u8]) -> String {
    let name = format!("{secs}.M0P1Q{tag}.host,S={}", body.len());
    std::fs::write(maildir.join("new").join(&name), body).unwrap();
    name
}

fn cur_names(maildir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(maildir.join("cur"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn uids(mailbox: &Mailbox) -> Vec<u32> {
    mailbox.entries().iter().map(|entry| entry.uid).collect()
}

#[test]
fn open_assigns_uids_in_delivery_order() {
    let (_dir, maildir) = temp_maildir();
    let late = put_new(&maildir, 1_700_000_200, "1", b"late");
    let early = put_new(&maildir, 1_700_000_100, "2", b"early");

    let mailbox = Mailbox::open(&maildir, false).unwrap();

    assert_eq!(uids(&mailbox), vec![1, 2]);
    assert_eq!(mailbox.entry(0).unique_name(), early);
    assert_eq!(mailbox.entry(1).unique_name(), late);
    assert_eq!(mailbox.uidnext(), 3);
    assert_eq!(mailbox.read_message(0).unwrap(), b"early");
    assert_eq!(mailbox.entry(0).size, 5);
}

#[test]
fn open_moves_new_to_cur_and_marks_recent() {
    let (_dir, maildir) = temp_maildir();
    let name = put_new(&maildir, 1_700_000_000, "1", b"m");

    let mailbox = Mailbox::open(&maildir, false).unwrap();
    assert_eq!(cur_names(&maildir), vec![format!("{name}:2,")]);
    assert_eq!(mailbox.recent_count(), 1);
    assert!(mailbox.is_recent(0));
    assert!(!mailbox.is_recent(1));

    let again = Mailbox::open(&maildir, false).unwrap();
    assert_eq!(again.recent_count(), 0);
}

#[test]
fn read_only_open_leaves_new_alone() {
    let (_dir, maildir) = temp_maildir();
    put_new(&maildir, 1_700_000_000, "1", b"m");

    let mailbox = Mailbox::open(&maildir, true).unwrap();
    assert!(cur_names(&maildir).is_empty());
    assert_eq!(mailbox.recent_count(), 1);
    let error = Mailbox::open(&maildir, true)
        .unwrap()
        .expunge()
        .unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::PermissionDenied);

    let writable = Mailbox::open(&maildir, false).unwrap();
    assert_eq!(uids(&writable), vec![1], "read-only open persisted the uid");
}

#[test]
fn uids_persist_across_reopen() {
    let (_dir, maildir) = temp_maildir();
    for i in 0..5 {
        put_new(&maildir, 1_700_000_000 + i, &i.to_string(), b"m");
    }
    let first = Mailbox::open(&maildir, false).unwrap();
    let second = Mailbox::open(&maildir, false).unwrap();

    assert_eq!(second.uidvalidity(), first.uidvalidity());
    assert_eq!(uids(&second), uids(&first));
    assert_eq!(uids(&second), vec![1, 2, 3, 4, 5]);
    let names = |mailbox: &Mailbox| -> Vec<String> {
        mailbox
            .entries()
            .iter()
            .map(|entry| entry.unique_name().to_owned())
            .collect()
    };
    assert_eq!(names(&second), names(&first));
}

#[test]
fn refresh_picks_up_new_delivery_with_higher_uid() {
    let (_dir, maildir) = temp_maildir();
    put_new(&maildir, 1_700_000_000, "1", b"first");
    let mut mailbox = Mailbox::open(&maildir, false).unwrap();

    // An older timestamp must not get a lower uid than existing messages.
    put_new(&maildir, 1_600_000_000, "2", b"second");
    let changes = mailbox.refresh().unwrap();

    assert_eq!(changes.new_count, 1);
    assert!(changes.expunged.is_empty());
    assert_eq!(uids(&mailbox), vec![1, 2]);
    assert_eq!(mailbox.read_message(1).unwrap(), b"second");
    assert!(mailbox.is_recent(1));
    assert_eq!(mailbox.uidnext(), 3);
}

#[test]
fn set_flags_renames_with_sorted_info() {
    let (_dir, maildir) = temp_maildir();
    let name = put_new(&maildir, 1_700_000_000, "1", b"m");
    let mut mailbox = Mailbox::open(&maildir, false).unwrap();

    let flags = Flags::new().with(Flag::Seen).with(Flag::Flagged);
    mailbox.set_flags(0, flags.clone()).unwrap();
    assert_eq!(cur_names(&maildir), vec![format!("{name}:2,FS")]);
    assert_eq!(mailbox.entry(0).flags, flags);

    let all = Flag::ALL.into_iter().fold(Flags::new(), Flags::with);
    mailbox.set_flags(0, all).unwrap();
    assert_eq!(cur_names(&maildir), vec![format!("{name}:2,DFRST")]);

    let reopened = Mailbox::open(&maildir, false).unwrap();
    for flag in Flag::ALL {
        assert!(reopened.entry(0).flags.contains(flag), "{flag:?} lost");
    }
}

#[test]
fn set_flags_keeps_foreign_info_letters() {
    let (_dir, maildir) = temp_maildir();
    std::fs::write(maildir.join("cur/1700000000.M0P1Q1.host:2,Sa"), b"m").unwrap();
    let mut mailbox = Mailbox::open(&maildir, false).unwrap();
    assert!(mailbox.entry(0).flags.contains(Flag::Seen));

    mailbox
        .set_flags(0, Flags::new().with(Flag::Answered))
        .unwrap();
    assert_eq!(cur_names(&maildir), vec!["1700000000.M0P1Q1.host:2,Ra"]);
}

#[test]
fn set_flags_finds_file_renamed_behind_back() {
    let (_dir, maildir) = temp_maildir();
    let name = put_new(&maildir, 1_700_000_000, "1", b"m");
    let mut mailbox = Mailbox::open(&maildir, false).unwrap();

    // Another program (mutt) marks it seen.
    std::fs::rename(
        maildir.join("cur").join(format!("{name}:2,")),
        maildir.join("cur").join(format!("{name}:2,S")),
    )
    .unwrap();

    assert_eq!(mailbox.read_message(0).unwrap(), b"m");
    mailbox
        .set_flags(0, Flags::new().with(Flag::Flagged))
        .unwrap();
    assert_eq!(cur_names(&maildir), vec![format!("{name}:2,F")]);
}

#[test]
fn set_flags_on_deleted_file_not_found() {
    let (_dir, maildir) = temp_maildir();
    let name = put_new(&maildir, 1_700_000_000, "1", b"m");
    let mut mailbox = Mailbox::open(&maildir, false).unwrap();
    std::fs::remove_file(maildir.join("cur").join(format!("{name}:2,"))).unwrap();

    let error = mailbox
        .set_flags(0, Flags::new().with(Flag::Seen))
        .unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::NotFound);
}

#[test]
fn set_flags_index_out_of_range_is_error() {
    let (_dir, maildir) = temp_maildir();
    let mut mailbox = Mailbox::open(&maildir, false).unwrap();
    let error = mailbox.set_flags(0, Flags::new()).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
    assert_eq!(
        mailbox.read_message(3).unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
}

#[test]
fn refresh_reports_external_flag_change() {
    let (_dir, maildir) = temp_maildir();
    let first = put_new(&maildir, 1_700_000_000, "1", b"a");
    put_new(&maildir, 1_700_000_001, "2", b"b");
    let mut mailbox = Mailbox::open(&maildir, false).unwrap();

    std::fs::rename(
        maildir.join("cur").join(format!("{first}:2,")),
        maildir.join("cur").join(format!("{first}:2,S")),
    )
    .unwrap();
    let changes = mailbox.refresh().unwrap();

    assert_eq!(changes.flag_changes, vec![1]);
    assert!(mailbox.entry(0).flags.contains(Flag::Seen));
    assert_eq!(changes.new_count, 0);
}

#[test]
fn expunge_removes_deleted_and_returns_seqs_descending() {
    let (_dir, maildir) = temp_maildir();
    for i in 0..4 {
        put_new(&maildir, 1_700_000_000 + i, &i.to_string(), b"m");
    }
    let mut mailbox = Mailbox::open(&maildir, false).unwrap();
    mailbox
        .set_flags(1, Flags::new().with(Flag::Deleted))
        .unwrap();
    mailbox
        .set_flags(3, Flags::new().with(Flag::Deleted).with(Flag::Seen))
        .unwrap();

    let expunged = mailbox.expunge().unwrap();

    assert_eq!(expunged, vec![4, 2]);
    assert_eq!(uids(&mailbox), vec![1, 3]);
    assert_eq!(cur_names(&maildir).len(), 2);
    let reopened = Mailbox::open(&maildir, false).unwrap();
    assert_eq!(uids(&reopened), vec![1, 3]);
    assert_eq!(reopened.uidnext(), 5, "uids are never reused");
}

#[test]
fn refresh_reports_external_expunge() {
    let (_dir, maildir) = temp_maildir();
    for i in 0..3 {
        put_new(&maildir, 1_700_000_000 + i, &i.to_string(), b"m");
    }
    let mut mine = Mailbox::open(&maildir, false).unwrap();
    let mut theirs = Mailbox::open(&maildir, false).unwrap();
    theirs
        .set_flags(0, Flags::new().with(Flag::Deleted))
        .unwrap();
    theirs
        .set_flags(2, Flags::new().with(Flag::Deleted))
        .unwrap();
    theirs.expunge().unwrap();

    let changes = mine.refresh().unwrap();

    assert_eq!(changes.expunged, vec![3, 1]);
    assert_eq!(uids(&mine), vec![2]);
}

#[test]
fn corrupt_uidlist_gets_new_uidvalidity() {
    let (_dir, maildir) = temp_maildir();
    put_new(&maildir, 1_700_000_000, "1", b"m");
    let first = Mailbox::open(&maildir, false).unwrap();

    std::fs::write(maildir.join(UIDLIST_FILE_NAME), b"\xff\xfe garbage").unwrap();
    let second = Mailbox::open(&maildir, false).unwrap();

    assert_ne!(second.uidvalidity(), first.uidvalidity());
    assert_eq!(uids(&second), vec![1]);
}

#[test]
fn corrupt_uidlist_with_readable_header_moves_uidvalidity_up() {
    let (_dir, maildir) = temp_maildir();
    let future = u32::MAX - 10;
    std::fs::write(
        maildir.join(UIDLIST_FILE_NAME),
        format!("ringmail-uidlist 1 V{future} N5\nbroken line\n"),
    )
    .unwrap();
    let mailbox = Mailbox::open(&maildir, false).unwrap();
    assert_eq!(mailbox.uidvalidity(), future + 1);
}

#[test]
fn refresh_after_uidlist_loss_fails() {
    let (_dir, maildir) = temp_maildir();
    put_new(&maildir, 1_700_000_000, "1", b"m");
    let mut mailbox = Mailbox::open(&maildir, false).unwrap();
    std::fs::write(maildir.join(UIDLIST_FILE_NAME), b"garbage").unwrap();

    let error = mailbox.refresh().unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidData);
}

#[test]
fn concurrent_opens_never_share_a_uid() {
    let (_dir, maildir) = temp_maildir();
    let writer_dir = maildir.clone();
    let writer = std::thread::spawn(move || {
        for i in 0..200u64 {
            put_new(&writer_dir, 1_700_000_000 + i, &i.to_string(), b"m");
        }
    });
    let openers: Vec<_> = (0..2)
        .map(|_| {
            let maildir = maildir.clone();
            std::thread::spawn(move || {
                let mut seen: HashMap<String, u32> = HashMap::new();
                for _ in 0..20 {
                    let mailbox = Mailbox::open(&maildir, false).unwrap();
                    for entry in mailbox.entries() {
                        seen.insert(entry.unique_name().to_owned(), entry.uid);
                    }
                }
                seen
            })
        })
        .collect();
    writer.join().unwrap();
    let maps: Vec<HashMap<String, u32>> = openers.into_iter().map(|t| t.join().unwrap()).collect();

    let last = Mailbox::open(&maildir, false).unwrap();
    let final_uids: HashMap<&str, u32> = last
        .entries()
        .iter()
        .map(|e| (e.unique_name(), e.uid))
        .collect();
    assert_eq!(final_uids.len(), 200);
    let distinct: HashSet<u32> = final_uids.values().copied().collect();
    assert_eq!(distinct.len(), 200, "two messages share a uid");
    for map in &maps {
        for (name, uid) in map {
            assert_eq!(
                final_uids.get(name.as_str()),
                Some(uid),
                "uid of {name} changed"
            );
        }
    }
}

#[test]
fn append_returns_uid_and_refresh_shows_it() {
    let (_dir, maildir) = temp_maildir();
    put_new(&maildir, 1_700_000_000, "1", b"m");
    let mut mailbox = Mailbox::open(&maildir, false).unwrap();

    let uid = mailbox
        .append(
            b"appended",
            Flags::new().with(Flag::Seen),
            Some(1_000_000_000),
        )
        .unwrap();
    assert_eq!(uid, 2);
    let changes = mailbox.refresh().unwrap();

    assert_eq!(changes.new_count, 1);
    let entry = mailbox.entry(1);
    assert_eq!(entry.uid, 2);
    assert!(entry.flags.contains(Flag::Seen));
    assert_eq!(entry.internal_date, 1_000_000_000);
    assert_eq!(mailbox.read_message(1).unwrap(), b"appended");
    assert!(entry.file_name().ends_with(":2,S"));
}

#[test]
fn folder_status_counts_without_moving() {
    let (_dir, maildir) = temp_maildir();
    put_new(&maildir, 1_700_000_000, "1", b"a");
    put_new(&maildir, 1_700_000_001, "2", b"b");
    std::fs::write(maildir.join("cur/1600000000.M0P1Q9.host:2,S"), b"c").unwrap();

    let status = folder_status(&maildir).unwrap();

    assert_eq!(status.messages, 3);
    assert_eq!(status.recent, 2);
    assert_eq!(status.unseen, 2);
    assert_eq!(status.uidnext, 4);
    assert_eq!(
        cur_names(&maildir).len(),
        1,
        "status moved files out of new/"
    );
    let mailbox = Mailbox::open(&maildir, true).unwrap();
    assert_eq!(mailbox.uidvalidity(), status.uidvalidity);
}

#[test]
fn folder_status_missing_folder_is_error() {
    let dir = tempfile::tempdir().unwrap();
    assert!(folder_status(&dir.path().join("nope")).is_err());
}

#[test]
fn scan_skips_dotfiles_dirs_and_bad_names() {
    let (_dir, maildir) = temp_maildir();
    std::fs::write(maildir.join("cur/.hidden"), b"x").unwrap();
    std::fs::create_dir(maildir.join("cur/subdir")).unwrap();
    std::fs::write(maildir.join("cur/has space:2,"), b"x").unwrap();
    put_new(&maildir, 1_700_000_000, "1", b"ok");

    let mailbox = Mailbox::open(&maildir, false).unwrap();
    assert_eq!(mailbox.len(), 1);
}

#[test]
fn flags_info_round_trip() {
    let cases: &[(&[Flag], &str)] = &[
        (&[], ""),
        (&[Flag::Seen], "S"),
        (&[Flag::Seen, Flag::Flagged], "FS"),
        (&[Flag::Deleted, Flag::Answered], "RT"),
        (&Flag::ALL, "DFRST"),
    ];
    for (set, info) in cases {
        let flags = set
            .iter()
            .fold(Flags::new(), |flags, flag| flags.with(*flag));
        assert_eq!(flags.maildir_info(), *info);
        assert_eq!(Flags::from_maildir_info(info), flags);
    }
}

#[test]
fn imap_flag_names_parse_any_case() {
    assert_eq!(Flag::from_imap_name(b"\\SEEN"), Some(Flag::Seen));
    assert_eq!(Flag::from_imap_name(b"\\deleted"), Some(Flag::Deleted));
    assert_eq!(Flag::from_imap_name(b"\\Recent"), None);
    assert_eq!(Flag::from_imap_name(b"Seen"), None);
}

#[test]
fn keywords_bounded_and_deduplicated() {
    let mut flags = Flags::new();
    assert!(flags.insert_keyword("$Junk"));
    assert!(flags.insert_keyword("$junk"));
    assert_eq!(flags.keywords().len(), 1);
    assert!(!flags.insert_keyword(""));
    assert!(!flags.insert_keyword(&"k".repeat(KEYWORD_LEN_MAX + 1)));
    for i in 1..KEYWORDS_MAX {
        assert!(flags.insert_keyword(&format!("k{i}")));
    }
    assert!(!flags.insert_keyword("one-too-many"));
    flags.remove_keyword("$JUNK");
    assert!(!flags.has_keyword("$Junk"));
}

#[test]
fn delivery_order_key_sorts_by_time() {
    let mut names = vec![
        "1700000001.M5P1Q1.h",
        "garbage",
        "1700000000.M900P1Q1.h",
        "1700000000.M20P1Q1.h",
    ];
    names.sort_by_key(|name| delivery_order_key(name));
    assert_eq!(
        names,
        vec![
            "1700000000.M20P1Q1.h",
            "1700000000.M900P1Q1.h",
            "1700000001.M5P1Q1.h",
            "garbage"
        ]
    );
}

#[test]
fn lf_file_from_other_agent_reads_as_crlf() {
    let (_dir, maildir) = temp_maildir();
    put_new(&maildir, 1_700_000_100, "1", b"Subject: lf\n\nbody\n");

    let mailbox = Mailbox::open(&maildir, true).unwrap();
    assert_eq!(mailbox.entry(0).size, 21);
    assert_eq!(
        mailbox.read_message(0).unwrap(),
        b"Subject: lf\r\n\r\nbody\r\n"
    );
}

#[test]
fn append_stores_lf_and_names_crlf_size() {
    let (_dir, maildir) = temp_maildir();
    let message = b"Subject: appended\r\n\r\nbody\r\n";

    let uid = append_message(&maildir, message, &Flags::new(), None).unwrap();

    let names = cur_names(&maildir);
    assert_eq!(names.len(), 1);
    assert!(
        names[0].contains(&format!(",S={},W={}", message.len() - 3, message.len())),
        "{}",
        names[0]
    );
    let stored = std::fs::read(maildir.join("cur").join(&names[0])).unwrap();
    assert_eq!(stored, b"Subject: appended\n\nbody\n");
    let mailbox = Mailbox::open(&maildir, true).unwrap();
    assert_eq!(mailbox.entry(0).uid, uid);
    assert_eq!(mailbox.entry(0).size, message.len() as u64);
    assert_eq!(mailbox.read_message(0).unwrap(), message);
}
