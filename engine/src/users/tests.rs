use super::*;

fn temp_db() -> (tempfile::TempDir, UserDb) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = UserDb::open(dir.path()).expect("open empty db");
    (dir, db)
}

#[test]
fn missing_file_is_empty_db() {
    let (_dir, db) = temp_db();
    assert!(db.is_empty().unwrap());
    assert_eq!(db.list().unwrap(), Vec::<String>::new());
    assert!(!db.exists("alice").unwrap());
}

#[test]
fn add_then_list_sorted_and_verify() {
    let (_dir, db) = temp_db();
    db.add("bob", "hunter2").unwrap();
    db.add("alice", "correct horse").unwrap();

    assert_eq!(
        db.list().unwrap(),
        vec!["alice".to_owned(), "bob".to_owned()]
    );
    assert!(db.exists("alice").unwrap());
    assert!(!db.is_empty().unwrap());
    assert!(db.verify("alice", "correct horse").unwrap());
    assert!(!db.verify("alice", "hunter2").unwrap());
    assert!(db.verify("bob", "hunter2").unwrap());
}

#[test]
fn verify_unknown_user_is_false() {
    let (_dir, db) = temp_db();
    db.add("alice", "pw").unwrap();
    assert!(!db.verify("mallory", "pw").unwrap());
}

#[test]
fn verify_overlong_password_is_false() {
    let (_dir, db) = temp_db();
    db.add("alice", "pw").unwrap();
    let long = "x".repeat(PASSWORD_LEN_MAX + 1);
    assert!(!db.verify("alice", &long).unwrap());
    assert!(matches!(db.add("bob", &long), Err(UserError::Hash(_))));
}

#[test]
fn set_password_replaces_old() {
    let (_dir, db) = temp_db();
    db.add("alice", "old").unwrap();
    db.set_password("alice", "new").unwrap();
    assert!(db.verify("alice", "new").unwrap());
    assert!(!db.verify("alice", "old").unwrap());
}

#[test]
fn set_password_unknown_user_not_found() {
    let (_dir, db) = temp_db();
    assert!(
        matches!(db.set_password("ghost", "pw"), Err(UserError::NotFound(name)) if name == "ghost")
    );
}

#[test]
fn duplicate_add_rejected() {
    let (_dir, db) = temp_db();
    db.add("alice", "one").unwrap();
    assert!(matches!(db.add("alice", "two"), Err(UserError::Exists(name)) if name == "alice"));
    assert!(db.verify("alice", "one").unwrap());
}

#[test]
fn invalid_names_rejected() {
    let long = "a".repeat(USER_NAME_LEN_MAX + 1);
    let cases: &[&str] = &[
        "", ".hidden", "-flag", "Alice", "a/b", "../etc", "a:b", "a b", "a\0b", "é", &long,
    ];
    for name in cases {
        assert!(
            matches!(validate_name(name), Err(UserError::InvalidName { .. })),
            "name {name:?} was accepted"
        );
    }
    let (_dir, db) = temp_db();
    assert!(matches!(
        db.add("a:b", "pw"),
        Err(UserError::InvalidName { .. })
    ));
}

#[test]
fn valid_names_accepted() {
    let max = "a".repeat(USER_NAME_LEN_MAX);
    for name in [
        "a",
        "alice",
        "a.b",
        "a_b",
        "a-b",
        "0day",
        "x.",
        max.as_str(),
    ] {
        assert!(validate_name(name).is_ok(), "name {name:?} was rejected");
    }
}

#[test]
fn file_holds_no_password_and_is_0600() {
    use std::os::unix::fs::PermissionsExt;

    let (dir, db) = temp_db();
    db.add("alice", "sup3r-secret-pw").unwrap();
    let path = dir.path().join("users");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("sup3r-secret-pw"));
    assert!(text.starts_with("alice:$argon2id$"), "file is {text:?}");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn concurrent_adds_both_land() {
    let (dir, _db) = temp_db();
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let path = dir.path().to_owned();
            std::thread::spawn(move || {
                let db = UserDb::open(&path).unwrap();
                db.add(&format!("user{i}"), "pw").unwrap();
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let db = UserDb::open(dir.path()).unwrap();
    assert_eq!(db.list().unwrap(), vec!["user0", "user1", "user2", "user3"]);
}

#[test]
fn reads_see_other_handle_writes() {
    let (dir, db) = temp_db();
    let other = UserDb::open(dir.path()).unwrap();
    other.add("alice", "pw").unwrap();
    assert!(db.exists("alice").unwrap());
}

#[test]
fn malformed_line_is_error() {
    let (dir, db) = temp_db();
    std::fs::write(dir.path().join("users"), "alice-without-hash\n").unwrap();
    assert!(matches!(db.list(), Err(UserError::Io(_))));
}

#[test]
fn generated_password_shape() {
    let a = generate_password();
    let b = generate_password();
    assert_eq!(a.len(), GENERATED_PASSWORD_LEN);
    assert!(a.bytes().all(|c| PASSWORD_ALPHABET.contains(&c)));
    assert_ne!(a, b);
    for look_alike in ['0', 'O', 'o', '1', 'l', 'I'] {
        assert!(!PASSWORD_ALPHABET.contains(&(look_alike as u8)));
    }
}

#[test]
fn error_text_names_value() {
    let error = validate_name("Bad").unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid user name \"Bad\": name has a character outside lowercase a-z, 0-9, '.', '_' and '-'"
    );
}

#[test]
fn cached_lookup_sees_later_add() {
    let dir = tempfile::tempdir().unwrap();
    let db = UserDb::open(dir.path()).unwrap();
    db.add("alice", "first-password").unwrap();
    assert!(db.exists("alice").unwrap());
    assert!(!db.exists("bob").unwrap());

    // A second handle plays `ringmail user add` run from another process.
    let other = UserDb::open(dir.path()).unwrap();
    other.add("bob", "second-password").unwrap();
    assert!(db.exists("bob").unwrap(), "cache kept the old file");
    assert_eq!(db.list().unwrap(), vec!["alice", "bob"]);

    other.set_password("alice", "new-password").unwrap();
    assert!(db.verify("alice", "new-password").unwrap());
    assert!(!db.verify("alice", "first-password").unwrap());
}
