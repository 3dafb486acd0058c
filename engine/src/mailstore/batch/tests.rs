use super::*;
use crate::mailstore::MailStore;
use crate::runtime::{block_on, spawn};

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.map(|entry| entry.unwrap().path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

fn store_with(users: &[&str]) -> (tempfile::TempDir, Vec<Delivery>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = MailStore::open(dir.path()).unwrap();
    let targets = users
        .iter()
        .map(|user| Delivery {
            maildir: store.ensure_maildir(user).unwrap(),
        })
        .collect();
    (dir, targets)
}

/// Adds a Maildir next to `beside` whose `tmp` is a regular file, so every
/// create in it fails.
fn broken_tmp_maildir(beside: &Delivery) -> Delivery {
    let broken = beside.maildir.parent().unwrap().join("Broken");
    std::fs::create_dir_all(broken.join("new")).unwrap();
    std::fs::create_dir_all(broken.join("cur")).unwrap();
    std::fs::write(broken.join("tmp"), b"not a directory").unwrap();
    Delivery { maildir: broken }
}

/// Submits every `(targets, message)` pair from its own task, as concurrent
/// sessions do, and returns the results in order with the batcher's counters.
fn deliver_concurrently(
    submissions: Vec<(Vec<Delivery>, Rc<[u8]>)>,
) -> (Vec<DeliveryResult>, BatchCounters) {
    block_on(async {
        let batcher = Batcher::start();
        let handles: Vec<_> = submissions
            .into_iter()
            .map(|(targets, message)| {
                let batcher = batcher.clone();
                spawn(async move { batcher.deliver(targets, message).await })
            })
            .collect();
        let mut results = Vec::with_capacity(handles.len());
        for handle in handles {
            results.push(handle.await.expect("session task"));
        }
        (results, batcher.counters())
    })
}

#[test]
fn concurrent_sessions_share_dir_syncs() {
    let (_dir, targets) = store_with(&["alice", "bob"]);
    let sessions = 50;
    let submissions = (0..sessions)
        .map(|index| {
            let target = targets[index % 2].clone();
            let message: Rc<[u8]> = Rc::from(format!("Subject: {index}\n\nbody\n").into_bytes());
            (vec![target], message)
        })
        .collect();

    let (results, counters) = deliver_concurrently(submissions);

    for result in &results {
        assert_eq!(result.as_ref().unwrap().len(), 1);
    }
    assert_eq!(
        files_in(&targets[0].maildir.join("new")).len(),
        sessions / 2
    );
    assert_eq!(
        files_in(&targets[1].maildir.join("new")).len(),
        sessions / 2
    );
    assert_eq!(counters.messages, sessions as u64);
    assert_eq!(counters.failed_messages, 0);
    assert_eq!(counters.file_syncs, sessions as u64);
    assert!(counters.batches < 5, "{counters:?}");
    assert!(counters.dir_syncs <= 2 * counters.batches, "{counters:?}");
    assert!(counters.dir_syncs * 10 <= counters.messages, "{counters:?}");
}

#[test]
fn broken_tmp_fails_only_its_messages() {
    let (_dir, mut targets) = store_with(&["alice", "bob", "carol"]);
    let broken = broken_tmp_maildir(&targets[0]);
    targets.push(broken.clone());
    let message: Rc<[u8]> = Rc::from(&b"Subject: m\n\nbody\n"[..]);
    let submissions = vec![
        (vec![targets[0].clone()], message.clone()),
        (vec![targets[1].clone(), broken.clone()], message.clone()),
        (vec![broken.clone()], message.clone()),
        (vec![targets[2].clone()], message.clone()),
    ];

    let (results, counters) = deliver_concurrently(submissions);

    assert!(results[0].is_ok());
    assert!(results[1].is_err());
    assert!(results[2].is_err());
    assert!(results[3].is_ok());
    assert_eq!(counters.batches, 1, "{counters:?}");
    assert_eq!(counters.failed_messages, 2, "{counters:?}");
    assert_eq!(files_in(&targets[0].maildir.join("new")).len(), 1);
    assert!(files_in(&targets[1].maildir.join("new")).is_empty());
    assert_eq!(files_in(&targets[2].maildir.join("new")).len(), 1);
    assert!(files_in(&broken.maildir.join("new")).is_empty());
    for target in &targets[..3] {
        assert!(
            files_in(&target.maildir.join("tmp")).is_empty(),
            "{target:?}"
        );
    }
}

#[test]
fn missing_new_dir_fails_only_its_message() {
    let (_dir, targets) = store_with(&["alice", "bob"]);
    let no_new = Delivery {
        maildir: targets[0].maildir.parent().unwrap().join("NoNew"),
    };
    std::fs::create_dir_all(no_new.maildir.join("tmp")).unwrap();
    let message: Rc<[u8]> = Rc::from(&b"m\n"[..]);
    let submissions = vec![
        (vec![targets[0].clone(), no_new.clone()], message.clone()),
        (vec![targets[1].clone()], message.clone()),
    ];

    let (results, counters) = deliver_concurrently(submissions);

    let error = results[0].as_ref().unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::NotFound);
    assert!(results[1].is_ok());
    assert_eq!(counters.batches, 1, "{counters:?}");
    assert!(files_in(&targets[0].maildir.join("new")).is_empty());
    assert!(files_in(&targets[0].maildir.join("tmp")).is_empty());
    assert!(files_in(&no_new.maildir.join("tmp")).is_empty());
    assert_eq!(files_in(&targets[1].maildir.join("new")).len(), 1);
}

#[test]
fn queue_over_message_max_splits_batches() {
    let (_dir, targets) = store_with(&["alice"]);
    let sessions = BATCH_MESSAGES_MAX + 44;
    let message: Rc<[u8]> = Rc::from(&b"m\n"[..]);
    let submissions = (0..sessions)
        .map(|_| (targets.clone(), message.clone()))
        .collect();

    let (results, counters) = deliver_concurrently(submissions);

    assert!(results.iter().all(Result::is_ok));
    assert_eq!(files_in(&targets[0].maildir.join("new")).len(), sessions);
    assert!(counters.batches >= 2, "{counters:?}");
    assert!(
        counters.largest_batch <= BATCH_MESSAGES_MAX as u64,
        "{counters:?}"
    );
}

/// Builds a queued submission whose waiter is dropped at once.
fn queued(targets: usize, size: usize) -> Submission {
    let (done, _result) = oneshot::channel();
    Submission {
        targets: vec![
            Delivery {
                maildir: PathBuf::from("/nonexistent")
            };
            targets
        ],
        buf: SharedBuf::new(Rc::from(vec![b'x'; size])),
        done,
    }
}

#[test]
fn take_batch_stops_at_each_limit() {
    let mib = 1024 * 1024;
    // Each submission is (targets, message size); then the expected batch sizes.
    type Queued = Vec<(usize, usize)>;
    let cases: Vec<(Queued, Vec<usize>)> = vec![
        (vec![(1, 10); 3], vec![3]),
        (
            vec![(1, 10); BATCH_MESSAGES_MAX + 1],
            vec![BATCH_MESSAGES_MAX, 1],
        ),
        (vec![(2, 10 * mib), (2, 10 * mib), (1, 1)], vec![1, 2]),
        (vec![(1, BATCH_BYTES_MAX + 1), (1, 1)], vec![1, 1]),
        (vec![(600, 1), (600, 1)], vec![1, 1]),
        (vec![(BATCH_FILES_MAX + 1, 1)], vec![1]),
    ];
    for (shape, expected) in cases {
        let mut pending: VecDeque<Submission> = shape
            .iter()
            .map(|&(targets, size)| queued(targets, size))
            .collect();
        let mut sizes = Vec::new();
        loop {
            let batch = take_batch(&mut pending);
            if batch.is_empty() {
                break;
            }
            sizes.push(batch.len());
        }
        assert_eq!(sizes, expected, "shape of {} submissions", shape.len());
    }
}

#[test]
fn too_many_targets_rejected() {
    let targets = vec![
        Delivery {
            maildir: PathBuf::from("/nonexistent")
        };
        DELIVERY_TARGETS_MAX + 1
    ];
    let error = block_on(deliver(targets, Rc::from(&b"m"[..]))).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn no_targets_is_empty() {
    let paths = block_on(deliver(Vec::new(), Rc::from(&b"m"[..]))).unwrap();
    assert!(paths.is_empty());
}

#[test]
fn current_restarts_after_runtime_shutdown() {
    let (_dir, targets) = store_with(&["alice"]);
    for _ in 0..3 {
        let result = block_on(deliver(targets.clone(), Rc::from(&b"m\n"[..])));
        assert!(result.is_ok(), "{result:?}");
    }
    assert_eq!(files_in(&targets[0].maildir.join("new")).len(), 3);
}
