use super::*;

fn temp_store() -> (tempfile::TempDir, MailStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = MailStore::open(dir.path()).expect("open store");
    (dir, store)
}

#[test]
fn open_creates_mail_dir() {
    let (dir, _store) = temp_store();
    assert!(dir.path().join("mail").is_dir());
}

#[test]
fn ensure_maildir_creates_subdirs() {
    let (dir, store) = temp_store();
    let maildir = store.ensure_maildir("alice").unwrap();
    assert_eq!(maildir, dir.path().join("mail/alice/Maildir"));
    assert_eq!(store.maildir("alice"), maildir);
    for sub in ["cur", "new", "tmp"] {
        assert!(maildir.join(sub).is_dir(), "{sub} missing");
    }
    assert_eq!(store.ensure_maildir("alice").unwrap(), maildir);
}

#[test]
fn ensure_maildir_rejects_traversal_user() {
    let (_dir, store) = temp_store();
    let error = store.ensure_maildir("../evil").unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn folder_path_maps_names() {
    let (dir, store) = temp_store();
    let maildir = dir.path().join("mail/alice/Maildir");
    let cases: &[(&[u8], Option<&str>)] = &[
        (b"INBOX", Some("")),
        (b"inbox", Some("")),
        (b"InBoX", Some("")),
        (b"Sent", Some(".Sent")),
        (b"a.b", Some(".a.b")),
        (b"Trash.2024", Some(".Trash.2024")),
        (b"", None),
        (b".hidden", None),
        (b"trailing.", None),
        (b"a..b", None),
        (b"..", None),
        (b"a/b", None),
        (b"a\0b", None),
        (b"a\nb", None),
        (b"\xff", None),
    ];
    for (name, expected) in cases {
        let got = store.folder_path("alice", name);
        let expected = expected.map(|suffix| {
            if suffix.is_empty() {
                maildir.clone()
            } else {
                maildir.join(suffix)
            }
        });
        assert_eq!(got, expected, "name {:?}", String::from_utf8_lossy(name));
    }
}

#[test]
fn folder_path_rejects_overlong_name() {
    let (_dir, store) = temp_store();
    let max = vec![b'a'; FOLDER_NAME_LEN_MAX];
    let over = vec![b'a'; FOLDER_NAME_LEN_MAX + 1];
    assert!(store.folder_path("alice", &max).is_some());
    assert!(store.folder_path("alice", &over).is_none());
}

#[test]
fn folder_path_rejects_invalid_user() {
    let (_dir, store) = temp_store();
    assert!(store.folder_path("../x", b"INBOX").is_none());
}

#[test]
fn create_folder_makes_maildirplusplus() {
    let (_dir, store) = temp_store();
    store.create_folder("alice", b"Sent").unwrap();
    let path = store.folder_path("alice", b"Sent").unwrap();
    for sub in ["cur", "new", "tmp"] {
        assert!(path.join(sub).is_dir(), "{sub} missing");
    }
    assert!(path.join("maildirfolder").is_file());
}

#[test]
fn create_folder_twice_already_exists() {
    let (_dir, store) = temp_store();
    store.create_folder("alice", b"Sent").unwrap();
    let error = store.create_folder("alice", b"Sent").unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::AlreadyExists);
    let error = store.create_folder("alice", b"INBOX").unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::AlreadyExists);
}

#[test]
fn create_folder_invalid_name_rejected() {
    let (_dir, store) = temp_store();
    let error = store.create_folder("alice", b"../../etc").unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn list_folders_inbox_first_then_sorted() {
    let (_dir, store) = temp_store();
    assert_eq!(store.list_folders("alice").unwrap(), vec!["INBOX"]);
    for name in ["Trash", "Archive.2024", "Sent"] {
        store.create_folder("alice", name.as_bytes()).unwrap();
    }
    let maildir = store.maildir("alice");
    std::fs::create_dir(maildir.join(".NoCur")).unwrap();
    std::fs::write(maildir.join(".file"), b"").unwrap();
    assert_eq!(
        store.list_folders("alice").unwrap(),
        vec!["INBOX", "Archive.2024", "Sent", "Trash"]
    );
}
