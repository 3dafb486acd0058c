use super::*;
use crate::mailstore::MailStore;
use crate::runtime::block_on;

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.map(|entry| entry.unwrap().path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

fn store_with(users: &[&str]) -> (tempfile::TempDir, MailStore, Vec<Delivery>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = MailStore::open(dir.path()).unwrap();
    let targets = users
        .iter()
        .map(|user| Delivery {
            maildir: store.ensure_maildir(user).unwrap(),
        })
        .collect();
    (dir, store, targets)
}

#[test]
fn deliver_lands_in_new_byte_for_byte() {
    let (_dir, _store, targets) = store_with(&["alice"]);
    let message: Rc<[u8]> = Rc::from(&b"Subject: hi\r\n\r\nbody\r\n\x00\xff"[..]);

    let paths = block_on(deliver(&targets, message.clone())).unwrap();

    assert_eq!(paths.len(), 1);
    assert_eq!(paths[0].parent().unwrap(), targets[0].maildir.join("new"));
    assert_eq!(std::fs::read(&paths[0]).unwrap(), &message[..]);
    assert!(files_in(&targets[0].maildir.join("tmp")).is_empty());
    let name = paths[0].file_name().unwrap().to_str().unwrap();
    assert!(
        name.ends_with(&format!(",S={0},W={0}", message.len())),
        "name {name}"
    );
}

#[test]
fn deliver_names_lf_file_with_crlf_size() {
    let (_dir, _store, targets) = store_with(&["alice"]);
    let stored: Rc<[u8]> = Rc::from(&b"Subject: hi\n\nbody\n"[..]);

    let paths = block_on(deliver(&targets, stored.clone())).unwrap();

    let name = paths[0].file_name().unwrap().to_str().unwrap();
    assert!(name.ends_with(",S=18,W=21"), "name {name}");
}

#[test]
fn deliver_three_targets_at_once() {
    let (_dir, _store, targets) = store_with(&["alice", "bob", "carol"]);
    let message: Rc<[u8]> = Rc::from(vec![b'x'; 100_000]);

    let paths = block_on(deliver(&targets, message.clone())).unwrap();

    assert_eq!(paths.len(), 3);
    for (target, path) in targets.iter().zip(&paths) {
        assert_eq!(files_in(&target.maildir.join("new")), vec![path.clone()]);
        assert_eq!(std::fs::read(path).unwrap(), &message[..]);
        assert!(files_in(&target.maildir.join("tmp")).is_empty());
    }
}

#[test]
fn deliver_many_batches_concurrently() {
    let (_dir, _store, targets) = store_with(&["alice", "bob"]);
    let message: Rc<[u8]> = Rc::from(&b"m\r\n"[..]);

    let results = block_on(async {
        let batches = (0..20)
            .map(|_| deliver(&targets, message.clone()))
            .collect();
        join_all(batches).await
    });

    for result in results {
        assert_eq!(result.unwrap().len(), 2);
    }
    for target in &targets {
        assert_eq!(files_in(&target.maildir.join("new")).len(), 20);
    }
}

#[test]
fn deliver_tmp_is_regular_file_fails_cleanly() {
    let (_dir, _store, mut targets) = store_with(&["alice", "bob"]);
    let broken = targets[0].maildir.parent().unwrap().join("Broken");
    std::fs::create_dir_all(broken.join("new")).unwrap();
    std::fs::create_dir_all(broken.join("cur")).unwrap();
    std::fs::write(broken.join("tmp"), b"not a directory").unwrap();
    targets.insert(
        1,
        Delivery {
            maildir: broken.clone(),
        },
    );

    let result = block_on(deliver(&targets, Rc::from(&b"m\r\n"[..])));

    assert!(result.is_err());
    for target in &targets {
        assert!(
            files_in(&target.maildir.join("new")).is_empty(),
            "{:?}",
            target.maildir
        );
    }
    assert!(files_in(&targets[0].maildir.join("tmp")).is_empty());
    assert!(files_in(&targets[2].maildir.join("tmp")).is_empty());
}

#[test]
fn deliver_missing_new_dir_removes_renamed_copies() {
    let (_dir, _store, mut targets) = store_with(&["alice", "bob"]);
    let broken = targets[0].maildir.parent().unwrap().join("NoNew");
    std::fs::create_dir_all(broken.join("tmp")).unwrap();
    targets.push(Delivery {
        maildir: broken.clone(),
    });

    let result = block_on(deliver(&targets, Rc::from(&b"m\r\n"[..])));

    assert!(result.is_err());
    for target in &targets[..2] {
        assert!(files_in(&target.maildir.join("new")).is_empty());
        assert!(files_in(&target.maildir.join("tmp")).is_empty());
    }
    assert!(files_in(&broken.join("tmp")).is_empty());
}

#[test]
fn deliver_missing_maildir_fails() {
    let dir = tempfile::tempdir().unwrap();
    let targets = [Delivery {
        maildir: dir.path().join("nobody/Maildir"),
    }];
    let error = block_on(deliver(&targets, Rc::from(&b"m"[..]))).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::NotFound);
}

#[test]
fn deliver_no_targets_is_empty() {
    let paths = block_on(deliver(&[], Rc::from(&b"m"[..]))).unwrap();
    assert!(paths.is_empty());
}

#[test]
fn deliver_too_many_targets_rejected() {
    let targets = vec![
        Delivery {
            maildir: PathBuf::from("/nonexistent")
        };
        DELIVERY_TARGETS_MAX + 1
    ];
    let error = block_on(deliver(&targets, Rc::from(&b"m"[..]))).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn unique_names_differ_and_have_dovecot_shape() {
    let a = unique_name(42, 44);
    let b = unique_name(42, 44);
    assert_ne!(a, b);
    assert!(a.ends_with(",S=42,W=44"), "{a}");
    let (secs, rest) = a.split_once('.').unwrap();
    assert!(secs.parse::<u64>().is_ok(), "{a}");
    assert!(rest.starts_with('M'), "{a}");
    assert!(rest.contains(&format!("P{}Q", std::process::id())), "{a}");
    assert!(!a.contains('/'), "{a}");
    assert!(!a.contains(':'), "{a}");
}

#[test]
fn hostname_slash_and_colon_escaped() {
    let cases = [
        ("mx1.example", "mx1.example"),
        ("a/b", "a\\057b"),
        ("a:b", "a\\072b"),
        ("a b\n", "a_b_"),
        ("", "localhost"),
    ];
    for (raw, expected) in cases {
        assert_eq!(sanitize_hostname(raw), expected, "raw {raw:?}");
    }
}
