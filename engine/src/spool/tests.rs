use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::rc::Rc;

use super::*;
use crate::envelope::{BodyType, Destination, EnvelopeRecipient};
use crate::mailstore::MailStore;
use crate::runtime::block_on;

fn config(segment_size: u64) -> SpoolConfig {
    SpoolConfig {
        segment_size,
        ..SpoolConfig::default()
    }
}

fn recipient(user: Option<&str>) -> EnvelopeRecipient {
    EnvelopeRecipient {
        address: match user {
            Some(user) => format!("{user}@localhost"),
            None => "someone@example.net".to_string(),
        },
        destination: match user {
            Some(user) => Destination::Local {
                user: user.to_string(),
            },
            None => Destination::Remote,
        },
        notify: None,
        orcpt: None,
    }
}

fn envelope(queue_id: &str, recipients: Vec<EnvelopeRecipient>) -> Envelope {
    Envelope {
        queue_id: queue_id.to_string(),
        reverse_path: "sender@example.org".to_string(),
        recipients,
        body: BodyType::SevenBit,
        smtputf8: false,
        requiretls: false,
        ret: None,
        envid: None,
        auth_user: None,
        peer: SocketAddr::from((Ipv4Addr::LOCALHOST, 50000)),
        helo: "client.example.org".to_string(),
        received_unix_secs: crate::time::unix_now() as u64,
        local_folder: None,
    }
}

fn message(index: usize) -> Vec<u8> {
    format!("Subject: test {index}\r\n\r\nbody {index}\r\n").into_bytes()
}

/// Opens worker 0's spool after recovering `spool_dir` for one worker.
async fn open(spool_dir: &Path, segment_size: u64) -> Rc<Spool> {
    let mut recovered = recover(spool_dir, 1).unwrap();
    let worker = recovered.workers.remove(0);
    Spool::open(spool_dir, 0, &config(segment_size), worker)
        .await
        .unwrap()
}

fn segment_files(spool_dir: &Path, worker: u32) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(worker_dir(spool_dir, worker))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".seg"))
        .collect();
    names.sort();
    names
}

/// Waits until the spool's next segment is prepared and returns its id.
async fn wait_prepared(spool: &Spool) -> SegmentId {
    for _ in 0..5000 {
        if let NextSegment::Ready(segment) = &*spool.next.borrow() {
            return segment.id;
        }
        runtime::sleep(Duration::from_millis(1)).await;
    }
    panic!("next segment not prepared within 5 s");
}

fn maildir_new_count(data_dir: &Path, user: &str) -> usize {
    let new_dir = data_dir.join("mail").join(user).join("Maildir").join("new");
    match std::fs::read_dir(new_dir) {
        Ok(entries) => entries.count(),
        Err(_) => 0,
    }
}

#[test]
fn appended_message_is_recovered_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let spool_dir = dir.path().join("spool");
    let sent = envelope("Q1", vec![recipient(Some("bob")), recipient(None)]);

    let id = block_on(async {
        let spool = open(&spool_dir, 1 << 20).await;
        spool.append(&sent, &message(1)).await.unwrap()
    });

    let recovered = recover(&spool_dir, 1).unwrap();
    assert_eq!(recovered.stats.messages, 1);
    assert_eq!(recovered.stats.torn_bytes, 0);
    let queued = &recovered.workers[0].queued;
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].id, id);
    assert_eq!(queued[0].envelope, sent);
    assert_eq!(queued[0].done, vec![false, false]);
    assert_eq!(recovered.workers[0].next_seq, 1);

    let segment = std::fs::read(segment_path(&spool_dir, id.segment)).unwrap();
    let start = queued[0].message_offset as usize;
    let end = start + queued[0].message_len as usize;
    assert_eq!(&segment[start..end], message(1).as_slice());
}

/// Returns whether the file system under `dir` accepts O_DIRECT, as the
/// spool's direct appends need.
fn supports_direct_io(dir: &Path) -> bool {
    use std::os::unix::fs::OpenOptionsExt;
    let probe = dir.join("direct-probe");
    let opened = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .custom_flags(libc::O_DIRECT)
        .open(&probe);
    let _ = std::fs::remove_file(&probe);
    opened.is_ok()
}

/// Appends `appends` messages from as many concurrent tasks to a spool
/// opened with `direct_io`, and returns the counters.
fn append_concurrently(spool_dir: &Path, direct_io: bool, appends: usize) -> SpoolCounters {
    block_on(async {
        let config = SpoolConfig {
            direct_io,
            ..config(1 << 20)
        };
        let mut recovered = recover(spool_dir, 1).unwrap();
        let worker = recovered.workers.remove(0);
        let spool = Spool::open(spool_dir, 0, &config, worker).await.unwrap();
        let mut tasks = Vec::new();
        for index in 0..appends {
            let spool = spool.clone();
            tasks.push(runtime::spawn(async move {
                let sent = envelope(&format!("Q{index}"), vec![recipient(Some("bob"))]);
                spool.append(&sent, &message(index)).await
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        spool.counters()
    })
}

#[test]
fn concurrent_appends_share_fdatasyncs() {
    let dir = tempfile::tempdir().unwrap();
    let spool_dir = dir.path().join("spool");
    let appends = 50;

    let counters = append_concurrently(&spool_dir, false, appends);

    assert_eq!(counters.appends, appends as u64);
    assert_eq!(counters.direct_writes, 0);
    assert!(counters.syncs >= 1);
    assert!(
        counters.syncs <= 10,
        "{} syncs for {appends} concurrent appends",
        counters.syncs
    );
    assert!(
        counters.writes <= 10,
        "{} writes for {appends} concurrent appends",
        counters.writes
    );
    assert_eq!(recover(&spool_dir, 1).unwrap().stats.queued, appends);
}

#[test]
fn direct_appends_need_no_fdatasync() {
    let dir = tempfile::tempdir().unwrap();
    let spool_dir = dir.path().join("spool");
    let appends = 50;

    let counters = append_concurrently(&spool_dir, true, appends);

    assert_eq!(counters.appends, appends as u64);
    assert!(
        counters.writes <= 10,
        "{} writes for {appends} concurrent appends",
        counters.writes
    );
    if supports_direct_io(dir.path()) {
        assert_eq!(counters.direct_writes, counters.writes);
        assert_eq!(counters.syncs, 0, "direct writes need no fdatasync");
    } else {
        // tmpfs and the like: the spool falls back to fdatasync.
        assert_eq!(counters.direct_writes, 0);
        assert!(counters.syncs >= 1);
    }
    let recovered = recover(&spool_dir, 1).unwrap();
    assert_eq!(recovered.stats.queued, appends);
    assert_eq!(recovered.stats.corrupt_records, 0);
    assert_eq!(recovered.stats.torn_bytes, 0);
}

#[test]
fn direct_writes_in_flight_never_share_a_block() {
    let dir = tempfile::tempdir().unwrap();
    if !supports_direct_io(dir.path()) {
        eprintln!(
            "skipped: the file system under {} refuses O_DIRECT",
            dir.path().display()
        );
        return;
    }
    let spool_dir = dir.path().join("spool");
    let appends = 400;

    // 200 concurrent sessions, two 3 KB messages each, into 64 KiB
    // segments: many batches in flight at once, and rolls between them.
    let (ranges, counters) = block_on(async {
        let spool = open(&spool_dir, 64 << 10).await;
        let mut tasks = Vec::new();
        for session in 0..appends / 2 {
            let spool = spool.clone();
            tasks.push(runtime::spawn(async move {
                for index in [2 * session, 2 * session + 1] {
                    let sent = envelope(&format!("Q{index}"), vec![recipient(None)]);
                    let body = format!("Subject: {index}\r\n\r\n{}\r\n", "x".repeat(3000));
                    spool.append(&sent, body.as_bytes()).await.unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let ranges = spool.direct_ranges.borrow().clone();
        (ranges, spool.counters())
    });

    let block = crate::runtime::fs::DIRECT_IO_ALIGN as u64;
    assert!(counters.writes < appends as u64, "appends were batched");
    assert_eq!(counters.direct_writes, counters.writes);
    assert_eq!(counters.syncs, 0);
    let mut by_segment: BTreeMap<SegmentId, Vec<std::ops::Range<u64>>> = BTreeMap::new();
    for (segment, range) in ranges {
        assert!(
            range.start.is_multiple_of(block),
            "{range:?} starts mid-block"
        );
        assert!(range.end.is_multiple_of(block), "{range:?} ends mid-block");
        by_segment.entry(segment).or_default().push(range);
    }
    assert!(by_segment.len() > 1, "the load rolled to new segments");
    for ranges in by_segment.values_mut() {
        ranges.sort_by_key(|range| range.start);
        for pair in ranges.windows(2) {
            assert!(
                pair[0].end <= pair[1].start,
                "{:?} overlaps {:?}",
                pair[0],
                pair[1]
            );
        }
    }
    let recovered = recover(&spool_dir, 1).unwrap();
    assert_eq!(recovered.stats.queued, appends);
    assert_eq!(recovered.stats.corrupt_records, 0);
    assert_eq!(recovered.stats.torn_bytes, 0);
}

#[test]
fn direct_batches_start_on_block_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    if !supports_direct_io(dir.path()) {
        eprintln!(
            "skipped: the file system under {} refuses O_DIRECT",
            dir.path().display()
        );
        return;
    }
    let spool_dir = dir.path().join("spool");

    // One append at a time: each is a batch of its own.
    let ids = block_on(async {
        let spool = open(&spool_dir, 1 << 20).await;
        let mut ids = Vec::new();
        for index in 0..5 {
            let sent = envelope(&format!("Q{index}"), vec![recipient(Some("bob"))]);
            ids.push(spool.append(&sent, &message(index)).await.unwrap());
        }
        assert_eq!(spool.counters().direct_writes, 5);
        ids
    });

    let block = crate::runtime::fs::DIRECT_IO_ALIGN as u64;
    let offsets: Vec<u64> = ids.iter().map(|id| id.offset).collect();
    assert_eq!(offsets, [0, block, 2 * block, 3 * block, 4 * block]);
    let recovered = recover(&spool_dir, 1).unwrap();
    assert_eq!(recovered.stats.queued, 5);
    assert_eq!(recovered.stats.corrupt_records, 0, "padding is not damage");
    assert_eq!(recovered.stats.torn_bytes, 0);
}

#[test]
fn segment_roll_and_oversized_record() {
    let dir = tempfile::tempdir().unwrap();
    let spool_dir = dir.path().join("spool");
    let segment_size = 4096;

    block_on(async {
        let spool = open(&spool_dir, segment_size).await;
        for index in 0..40 {
            let sent = envelope(&format!("Q{index}"), vec![recipient(Some("bob"))]);
            spool.append(&sent, &message(index)).await.unwrap();
        }
        let large = vec![b'x'; 3 * segment_size as usize];
        let sent = envelope("QLARGE", vec![recipient(Some("bob"))]);
        let id = spool.append(&sent, &large).await.unwrap();
        let size = std::fs::metadata(segment_path(&spool_dir, id.segment))
            .unwrap()
            .len();
        assert_eq!(id.offset, 0);
        assert!(size > segment_size, "large segment is {size} bytes");
    });

    let segments = segment_files(&spool_dir, 0);
    assert!(segments.len() >= 3, "segments: {segments:?}");
    let recovered = recover(&spool_dir, 1).unwrap();
    assert_eq!(recovered.stats.queued, 41);
    assert_eq!(recovered.stats.torn_bytes, 0);
}

#[test]
fn torn_tail_is_discarded_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let spool_dir = dir.path().join("spool");

    let last = block_on(async {
        let spool = open(&spool_dir, 1 << 20).await;
        let mut last = None;
        for index in 0..3 {
            let sent = envelope(&format!("Q{index}"), vec![recipient(Some("bob"))]);
            last = Some(spool.append(&sent, &message(index)).await.unwrap());
        }
        last.unwrap()
    });

    // Cut the last record in half, as a crash during its write would.
    let path = segment_path(&spool_dir, last.segment);
    let mut bytes = std::fs::read(&path).unwrap();
    let record_end = bytes.iter().rposition(|byte| *byte != 0).unwrap() + 1;
    let half = last.offset as usize + (record_end - last.offset as usize) / 2;
    bytes[half..].fill(0);
    std::fs::write(&path, &bytes).unwrap();

    let recovered = recover(&spool_dir, 1).unwrap();
    assert_eq!(recovered.stats.queued, 2);
    // Torn bytes count up to the last non-zero byte, which may sit a little
    // before the cut.
    let cut_len = (half - last.offset as usize) as u64;
    assert!(recovered.stats.torn_bytes > 0);
    assert!(
        recovered.stats.torn_bytes <= cut_len,
        "{} > {cut_len}",
        recovered.stats.torn_bytes
    );
    assert_eq!(recovered.stats.corrupt_records, 0);
}

#[test]
fn corrupt_middle_record_is_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let spool_dir = dir.path().join("spool");

    let ids = block_on(async {
        let spool = open(&spool_dir, 1 << 20).await;
        let mut ids = Vec::new();
        for index in 0..3 {
            let sent = envelope(&format!("Q{index}"), vec![recipient(Some("bob"))]);
            ids.push(spool.append(&sent, &message(index)).await.unwrap());
        }
        ids
    });

    let path = segment_path(&spool_dir, ids[1].segment);
    let mut bytes = std::fs::read(&path).unwrap();
    // Damage the payload and, in a second pass below, the header too.
    bytes[ids[1].offset as usize + 20] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let recovered = recover(&spool_dir, 1).unwrap();
    let queue_ids: Vec<&str> = recovered.workers[0]
        .queued
        .iter()
        .map(|queued| queued.envelope.queue_id.as_str())
        .collect();
    assert_eq!(queue_ids, ["Q0", "Q2"]);
    assert_eq!(recovered.stats.corrupt_records, 1);
    assert_eq!(recovered.stats.torn_bytes, 0);

    bytes[ids[1].offset as usize] = b'X';
    std::fs::write(&path, &bytes).unwrap();
    let recovered = recover(&spool_dir, 1).unwrap();
    assert_eq!(recovered.stats.queued, 2, "resync by magic finds Q2");
    assert_eq!(recovered.stats.corrupt_records, 1);
}

#[test]
fn recipient_done_marks_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let spool_dir = dir.path().join("spool");
    let sent = envelope(
        "Q1",
        vec![
            recipient(Some("bob")),
            recipient(None),
            recipient(Some("carol")),
        ],
    );

    block_on(async {
        let spool = open(&spool_dir, 1 << 20).await;
        let id = spool.append(&sent, &message(1)).await.unwrap();
        spool.mark_done(id, &[0, 2]).await.unwrap();
    });

    let recovered = recover(&spool_dir, 1).unwrap();
    assert_eq!(recovered.stats.done_marks, 2);
    assert_eq!(recovered.workers[0].queued[0].done, vec![true, false, true]);
}

#[test]
fn runner_delivers_local_and_keeps_remote_queued() {
    let dir = tempfile::tempdir().unwrap();
    let spool_dir = dir.path().join("spool");
    let store = MailStore::open(dir.path()).unwrap();

    block_on(async {
        let spool = open(&spool_dir, 1 << 20).await;
        let local_only = envelope("QL", vec![recipient(Some("bob")), recipient(Some("bob"))]);
        let mixed = envelope("QM", vec![recipient(Some("carol")), recipient(None)]);
        spool.append(&local_only, &message(1)).await.unwrap();
        spool.append(&mixed, &message(2)).await.unwrap();

        runner::run_due(&spool, &store).await;

        let left = spool.queued();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].envelope.queue_id, "QM");
        assert_eq!(left[0].done, vec![true, false]);
        assert_eq!(left[0].attempts, 1);
        assert!(left[0].remote_logged);
        assert!(left[0].next_attempt > Instant::now());
    });

    assert_eq!(maildir_new_count(dir.path(), "bob"), 1);
    assert_eq!(maildir_new_count(dir.path(), "carol"), 1);
    let delivered = std::fs::read_dir(dir.path().join("mail/bob/Maildir/new"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert_eq!(
        std::fs::read(delivered).unwrap(),
        b"Subject: test 1\n\nbody 1\n"
    );

    let recovered = recover(&spool_dir, 1).unwrap();
    assert_eq!(recovered.stats.queued, 1);
    assert_eq!(recovered.workers[0].queued[0].done, vec![true, false]);
}

#[test]
fn failed_local_delivery_is_retried_with_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let spool_dir = dir.path().join("spool");
    let store = MailStore::open(dir.path()).unwrap();
    // A regular file where the user's directory belongs: a fault root cannot bypass.
    std::fs::write(dir.path().join("mail/dave"), b"not a directory").unwrap();

    block_on(async {
        let spool = open(&spool_dir, 1 << 20).await;
        spool
            .append(&envelope("QD", vec![recipient(Some("dave"))]), &message(1))
            .await
            .unwrap();
        runner::run_due(&spool, &store).await;
        let left = spool.queued();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].attempts, 1);
        assert_eq!(left[0].done, vec![false]);

        // Not due yet: a second pass makes no attempt.
        runner::run_due(&spool, &store).await;
        assert_eq!(spool.queued()[0].attempts, 1);
    });
}

#[test]
fn retry_delay_doubles_up_to_max() {
    let config = SpoolConfig {
        retry_min_secs: 60,
        retry_max_secs: 3600,
        ..SpoolConfig::default()
    };
    let cases = [
        (1, 60),
        (2, 120),
        (3, 240),
        (6, 1920),
        (7, 3600),
        (40, 3600),
    ];
    for (attempts, secs) in cases {
        assert_eq!(
            retry_delay(&config, attempts),
            Duration::from_secs(secs),
            "attempt {attempts}"
        );
    }
}

#[test]
fn runner_delivers_into_the_recorded_folder() {
    let dir = tempfile::tempdir().unwrap();
    let spool_dir = dir.path().join("spool");
    let store = MailStore::open(dir.path()).unwrap();

    block_on(async {
        let spool = open(&spool_dir, 1 << 20).await;
        let filed = Envelope {
            local_folder: Some("Junk".to_string()),
            ..envelope("QJ", vec![recipient(Some("bob")), recipient(None)])
        };
        spool.append(&filed, &message(1)).await.unwrap();
        runner::run_due(&spool, &store).await;
    });

    let junk_new = dir.path().join("mail/bob/Maildir/.Junk/new");
    assert_eq!(std::fs::read_dir(junk_new).unwrap().count(), 1);
    assert_eq!(maildir_new_count(dir.path(), "bob"), 0);
}

#[test]
fn finished_segments_are_recycled() {
    let dir = tempfile::tempdir().unwrap();
    let spool_dir = dir.path().join("spool");
    let store = MailStore::open(dir.path()).unwrap();

    block_on(async {
        let spool = open(&spool_dir, 4096).await;
        for index in 0..100 {
            let sent = envelope(&format!("Q{index}"), vec![recipient(Some("bob"))]);
            spool.append(&sent, &message(index)).await.unwrap();
        }
        let before = segment_files(&spool_dir, 0);
        assert!(before.len() >= 3, "segments: {before:?}");
        let active = format!("{:016x}.seg", spool.active.borrow().id.seq);
        // The segment prepared to follow the active one is on disk too, and
        // it is not in use, so recycling leaves it.
        let prepared = format!("{:016x}.seg", wait_prepared(&spool).await.seq);
        assert_eq!(before.last(), Some(&prepared));

        runner::run_due(&spool, &store).await;
        assert_eq!(spool.queue_len(), 0);
        let recycled = spool.recycle().await.unwrap();

        let after = segment_files(&spool_dir, 0);
        assert_eq!(recycled, before.len() - 2);
        assert_eq!(
            after,
            [active.clone(), prepared],
            "only the active and the prepared segment stay"
        );
        assert_eq!(spool.counters().segments_recycled, recycled as u64);
        let mut done_files: Vec<String> = std::fs::read_dir(worker_dir(&spool_dir, 0))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.ends_with(".done"))
            .collect();
        done_files.sort();
        let active_done = active.replace(".seg", ".done");
        assert_eq!(
            done_files,
            [active_done],
            "only the active segment keeps its marks"
        );
    });

    assert_eq!(maildir_new_count(dir.path(), "bob"), 100);
    assert_eq!(recover(&spool_dir, 1).unwrap().stats.queued, 0);
}

#[test]
fn orphan_worker_directory_is_adopted() {
    let dir = tempfile::tempdir().unwrap();
    let spool_dir = dir.path().join("spool");

    block_on(async {
        let mut recovered = recover(&spool_dir, 4).unwrap();
        let worker = recovered.workers.remove(3);
        let spool = Spool::open(&spool_dir, 3, &config(1 << 20), worker)
            .await
            .unwrap();
        let sent = envelope("QO", vec![recipient(Some("bob"))]);
        spool.append(&sent, &message(1)).await.unwrap();
    });

    let recovered = recover(&spool_dir, 2).unwrap();
    assert_eq!(recovered.stats.adopted_dirs, 1);
    assert_eq!(recovered.workers[0].queued.len(), 0);
    assert_eq!(recovered.workers[1].queued.len(), 1);
    assert_eq!(recovered.workers[1].queued[0].id.segment.worker, 3);
    // Worker 1's own directory does not exist yet, so it starts at 0.
    assert_eq!(recovered.workers[1].next_seq, 0);
}

#[test]
fn segment_with_append_in_flight_is_not_recycled() {
    let dir = tempfile::tempdir().unwrap();
    let spool_dir = dir.path().join("spool");

    block_on(async {
        let spool = open(&spool_dir, 4096).await;
        let first = envelope("QFIRST", vec![recipient(Some("bob"))]);
        let first_message = message(1);
        let mut pending = std::pin::pin!(spool.append(&first, &first_message));
        // One poll reserves the record in segment 0 and hands it to the
        // writer.
        std::future::poll_fn(|cx| {
            assert!(pending.as_mut().poll(cx).is_pending());
            std::task::Poll::Ready(())
        })
        .await;

        // A record larger than the segment rolls to segment 1, so segment 0 is
        // no longer active while the first append still waits.
        let large = vec![b'x'; 8192];
        spool
            .append(&envelope("QLARGE", vec![recipient(Some("bob"))]), &large)
            .await
            .unwrap();
        assert_eq!(spool.recycle().await.unwrap(), 0);

        let id = pending.await.unwrap();
        assert_eq!(id.segment.seq, 0);
    });

    let recovered = recover(&spool_dir, 1).unwrap();
    let queue_ids: Vec<&str> = recovered.workers[0]
        .queued
        .iter()
        .map(|queued| queued.envelope.queue_id.as_str())
        .collect();
    assert_eq!(queue_ids, ["QFIRST", "QLARGE"]);
}

/// Returns whether any extent of the file at `path` is allocated but
/// unwritten, through the FIEMAP ioctl, or `None` where the file system does
/// not report extents (tmpfs, for one).
fn has_unwritten_extent(path: &Path) -> Option<bool> {
    use std::os::fd::AsRawFd;

    const FS_IOC_FIEMAP: libc::c_ulong = 0xC020_660B;
    const FIEMAP_FLAG_SYNC: u32 = 0x1;
    const FIEMAP_EXTENT_UNWRITTEN: u32 = 0x800;
    const EXTENTS_MAX: usize = 64;

    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Extent {
        logical: u64,
        physical: u64,
        length: u64,
        reserved64: [u64; 2],
        flags: u32,
        reserved: [u32; 3],
    }
    #[repr(C)]
    struct Map {
        start: u64,
        length: u64,
        flags: u32,
        mapped_extents: u32,
        extent_count: u32,
        reserved: u32,
        extents: [Extent; EXTENTS_MAX],
    }

    let file = std::fs::File::open(path).unwrap();
    let mut map = Map {
        start: 0,
        length: u64::MAX,
        flags: FIEMAP_FLAG_SYNC,
        mapped_extents: 0,
        extent_count: EXTENTS_MAX as u32,
        reserved: 0,
        extents: [Extent::default(); EXTENTS_MAX],
    };
    // SAFETY: the descriptor is open for the call. `map` is a fiemap header
    // followed by room for `extent_count` extents, as the ioctl expects, and
    // the kernel writes at most that many.
    let result = unsafe { libc::ioctl(file.as_raw_fd(), FS_IOC_FIEMAP, &mut map as *mut Map) };
    if result != 0 {
        return None;
    }
    let mapped = map.mapped_extents as usize;
    Some(
        map.extents[..mapped.min(EXTENTS_MAX)]
            .iter()
            .any(|extent| extent.flags & FIEMAP_EXTENT_UNWRITTEN != 0),
    )
}

#[test]
fn new_segment_has_no_unwritten_extents() {
    let dir = tempfile::tempdir().unwrap();
    let spool_dir = dir.path().join("spool");
    let segment_size = 1 << 20;

    block_on(async {
        let spool = open(&spool_dir, segment_size).await;
        let path = segment_path(&spool_dir, spool.active.borrow().id);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len() as u64, segment_size);
        assert!(
            bytes.iter().all(|byte| *byte == 0),
            "new segment is not zero"
        );
        match has_unwritten_extent(&path) {
            Some(unwritten) => assert!(!unwritten, "new segment has unwritten extents"),
            None => eprintln!("file system reports no extents; zero content checked only"),
        }

        let sent = envelope("Q0", vec![recipient(None)]);
        spool.append(&sent, &message(0)).await.unwrap();
    });
    assert_eq!(recover(&spool_dir, 1).unwrap().stats.queued, 1);
}

#[test]
fn roll_takes_prepared_segment() {
    let dir = tempfile::tempdir().unwrap();
    let spool_dir = dir.path().join("spool");
    let segment_size = 64 << 10;

    block_on(async {
        let spool = open(&spool_dir, segment_size).await;
        let first = spool.active.borrow().id;
        let body = vec![b'x'; 8 << 10];
        let mut index = 0;
        // Fill past half of the first segment, which starts the preparation.
        while spool.active.borrow().tail.get() * 2 < segment_size {
            let sent = envelope(&format!("Q{index}"), vec![recipient(None)]);
            spool.append(&sent, &body).await.unwrap();
            index += 1;
        }
        let prepared = wait_prepared(&spool).await;
        assert_eq!(prepared.seq, first.seq + 1);

        while spool.active.borrow().id == first {
            let sent = envelope(&format!("Q{index}"), vec![recipient(None)]);
            spool.append(&sent, &body).await.unwrap();
            index += 1;
        }
        assert_eq!(spool.active.borrow().id, prepared);
        index
    });

    let recovered = recover(&spool_dir, 1).unwrap();
    assert_eq!(recovered.stats.torn_bytes, 0);
    assert_eq!(recovered.stats.corrupt_records, 0);
}

#[test]
fn failed_preparation_creates_segment_at_roll() {
    let dir = tempfile::tempdir().unwrap();
    let spool_dir = dir.path().join("spool");
    let segment_size = 64 << 10;

    let appended = block_on(async {
        let spool = open(&spool_dir, segment_size).await;
        let first = spool.active.borrow().id;
        // A stray file where the next segment goes makes its creation fail.
        let blocker = segment_path(
            &spool_dir,
            SegmentId {
                worker: 0,
                seq: first.seq + 1,
            },
        );
        std::fs::write(&blocker, b"not a segment").unwrap();

        let body = vec![b'x'; 8 << 10];
        let mut index = 0;
        while spool.active.borrow().id == first {
            let sent = envelope(&format!("Q{index}"), vec![recipient(None)]);
            spool.append(&sent, &body).await.unwrap();
            index += 1;
        }
        // The roll created the segment after the one that failed.
        assert_eq!(spool.active.borrow().id.seq, first.seq + 2);
        std::fs::remove_file(&blocker).unwrap();
        index
    });

    assert_eq!(recover(&spool_dir, 1).unwrap().stats.queued, appended);
}

#[test]
fn zero_padding_between_records_is_not_damage() {
    let first =
        record::encode_message(&envelope("Q1", vec![recipient(None)]), &message(1)).unwrap();
    let second =
        record::encode_message(&envelope("Q2", vec![recipient(None)]), &message(2)).unwrap();
    let mut bytes = first.clone();
    bytes.resize(4096, 0);
    bytes.extend_from_slice(&second);
    bytes.resize(3 * 4096, 0);

    let scan = recovery::scan_segment(&bytes);

    let offsets: Vec<u64> = scan.records.iter().map(|(offset, _, _)| *offset).collect();
    assert_eq!(offsets, [0, 4096]);
    assert_eq!(scan.corrupt_records, 0);
    assert_eq!(scan.torn_bytes, 0);
}

#[test]
fn torn_batch_before_whole_batch_is_skipped() {
    // Two direct batches were in flight at a crash: the second reached the
    // disk whole, the first only in part.
    let first =
        record::encode_message(&envelope("Q1", vec![recipient(None)]), &message(1)).unwrap();
    let second =
        record::encode_message(&envelope("Q2", vec![recipient(None)]), &message(2)).unwrap();
    let mut bytes = first[..first.len() / 2].to_vec();
    bytes.resize(4096, 0);
    bytes.extend_from_slice(&second);
    bytes.resize(2 * 4096, 0);

    let scan = recovery::scan_segment(&bytes);

    let offsets: Vec<u64> = scan.records.iter().map(|(offset, _, _)| *offset).collect();
    assert_eq!(offsets, [4096]);
    assert_eq!(scan.corrupt_records, 1);
    assert_eq!(scan.torn_bytes, 0);
}
