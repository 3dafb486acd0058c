//! Local delivery into Maildirs: [`deliver`] writes one message into several
//! maildirs at once on io_uring, and [`unique_name`] names each copy.
//!
//! Contract: `deliver` returns `Ok` only when every copy is durable (data
//! fsynced in `tmp/`, renamed into `new/`, `new/` fsynced), which is the
//! condition for an SMTP 250 reply. On any error it removes every file of the batch that it
//! created, in `tmp/` and in `new/`, so no recipient keeps a copy of a message
//! the sender will retry. A crash in the middle can still leave files in
//! `tmp/` (Maildir readers ignore them) or a copy in `new/` whose sender
//! retries, which is the allowed in-flight duplicate.
//!
//! [`DELIVERY_TARGETS_MAX`] bounds the files one call opens at once.

use std::collections::BTreeSet;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::task::Poll;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::runtime::fs::{self, File, SharedBuf};

/// Maximum number of maildirs one [`deliver`] call writes to. Each target
/// keeps an open file and a few ring entries until its copy is durable.
pub const DELIVERY_TARGETS_MAX: usize = 1000;

/// One Maildir delivery target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The Maildir root (the directory holding `tmp/`, `new/` and `cur/`).
    pub maildir: PathBuf,
}

/// The paths of one copy of the message: written in `tmp/`, moved to `new/`.
pub(super) struct Copy {
    pub(super) tmp_path: PathBuf,
    pub(super) new_path: PathBuf,
    pub(super) new_dir: PathBuf,
}

/// Writes `message` into every target's `tmp/`, renames each copy into
/// `new/` and fsyncs each distinct `new/` once, and returns the paths in
/// `new/` in target order.
///
/// The creates, writes and fsyncs of all copies are in flight together on the
/// worker's ring. On any error, every file this call created is removed and
/// the first error is returned.
pub async fn deliver(targets: &[Delivery], message: Rc<[u8]>) -> io::Result<Vec<PathBuf>> {
    if targets.len() > DELIVERY_TARGETS_MAX {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "delivery has {} targets, over the maximum of {DELIVERY_TARGETS_MAX}",
                targets.len()
            ),
        ));
    }
    let buf = SharedBuf::new(message);
    let size = buf.as_bytes().len() as u64;
    let virtual_size = super::line_ends::crlf_len(buf.as_bytes());
    let copies: Vec<Copy> = targets
        .iter()
        .map(|target| plan_copy(target, size, virtual_size))
        .collect();

    write_all_tmp(&copies, &buf).await?;
    rename_all_into_new(&copies).await?;
    sync_new_dirs(&copies).await?;

    Ok(copies.into_iter().map(|copy| copy.new_path).collect())
}

pub(super) fn plan_copy(target: &Delivery, size: u64, virtual_size: u64) -> Copy {
    let name = unique_name(size, virtual_size);
    let new_dir = target.maildir.join("new");
    Copy {
        tmp_path: target.maildir.join("tmp").join(&name),
        new_path: new_dir.join(&name),
        new_dir,
    }
}

/// Step 1: create, write and fdatasync every copy in `tmp/`. On error, removes
/// the `tmp/` files that were created.
async fn write_all_tmp(copies: &[Copy], buf: &SharedBuf) -> io::Result<()> {
    let writes = copies
        .iter()
        .map(|copy| write_tmp(&copy.tmp_path, buf.clone()))
        .collect();
    let results = join_all(writes).await;

    let mut first_error = None;
    let mut created_paths = Vec::with_capacity(copies.len());
    for (copy, write) in copies.iter().zip(results) {
        if let Err(error) = write.result {
            first_error.get_or_insert(error);
        }
        if write.created {
            created_paths.push(copy.tmp_path.as_path());
        }
    }
    let Some(error) = first_error else {
        return Ok(());
    };

    let removals = created_paths.into_iter().map(remove_if_present).collect();
    join_all(removals).await;
    Err(error)
}

/// The outcome of [`write_tmp`] for one file.
pub(super) struct TmpWrite {
    /// Whether the file was created, so a failed delivery must remove it.
    pub(super) created: bool,
    /// Whether an fdatasync was issued for the file.
    pub(super) sync_issued: bool,
    /// The first error of create, write, fdatasync or close.
    pub(super) result: io::Result<()>,
}

/// Creates `path`, writes `buf` and fdatasyncs it.
///
/// fdatasync is enough for a new file: it flushes the data and the metadata
/// needed to read it back (size and block map), and skips only timestamps.
/// The sync must finish before the rename into `new/`. On ext4 with delayed
/// allocation, a rename made durable before the data could leave an empty
/// file in `new/` after a crash.
pub(super) async fn write_tmp(path: &Path, buf: SharedBuf) -> TmpWrite {
    let file = match File::create_new(path).await {
        Ok(file) => file,
        Err(error) => {
            return TmpWrite {
                created: false,
                sync_issued: false,
                result: Err(error),
            }
        }
    };
    let (written, _buf) = file.write_all_shared_at(buf, 0).await;
    let sync_issued = written.is_ok();
    let synced = match written {
        Ok(()) => file.sync_data().await,
        Err(error) => Err(error),
    };
    let closed = file.close().await;
    TmpWrite {
        created: true,
        sync_issued,
        result: synced.and(closed),
    }
}

/// Step 2: rename every copy from `tmp/` into `new/`. On error, removes the
/// copies already in `new/` and the ones still in `tmp/`.
async fn rename_all_into_new(copies: &[Copy]) -> io::Result<()> {
    let renames = copies
        .iter()
        .map(|copy| fs::rename(&copy.tmp_path, &copy.new_path))
        .collect();
    let results = join_all(renames).await;
    let failed = results.iter().any(|result| result.is_err());
    if !failed {
        return Ok(());
    }

    let mut first_error = None;
    let mut removals = Vec::with_capacity(copies.len());
    for (copy, result) in copies.iter().zip(results) {
        match result {
            Ok(()) => removals.push(remove_if_present(&copy.new_path)),
            Err(error) => {
                first_error.get_or_insert(error);
                removals.push(remove_if_present(&copy.tmp_path));
            }
        }
    }
    join_all(removals).await;
    Err(first_error.unwrap_or_else(|| io::Error::other("rename into new/ failed")))
}

/// Step 3: fsync each distinct `new/` directory once. On error, removes every
/// copy, because the caller reports a temporary failure and
/// the sender retries.
async fn sync_new_dirs(copies: &[Copy]) -> io::Result<()> {
    let dirs: BTreeSet<&Path> = copies.iter().map(|copy| copy.new_dir.as_path()).collect();
    let syncs = dirs.into_iter().map(fs::sync_dir).collect();
    let results = join_all(syncs).await;
    let Some(error) = results.into_iter().find_map(Result::err) else {
        return Ok(());
    };

    let removals = copies
        .iter()
        .map(|copy| remove_if_present(&copy.new_path))
        .collect();
    join_all(removals).await;
    Err(error)
}

/// Removes `path`, ignoring a file that is already gone. Other errors are
/// logged, because the caller is already returning the error that caused it.
pub(super) async fn remove_if_present(path: &Path) {
    match fs::remove_file(path).await {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "failed to remove a partly delivered copy");
        }
    }
}

/// Polls every future on the current task until all are done, and returns
/// their outputs in order. Dropping the returned future drops the rest, which
/// is safe because each ring operation owns its buffer until the kernel is done.
pub(super) async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pending: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();

    std::future::poll_fn(|cx| {
        let mut all_done = true;
        for (future, output) in pending.iter_mut().zip(outputs.iter_mut()) {
            if output.is_some() {
                continue;
            }
            match future.as_mut().poll(cx) {
                Poll::Ready(value) => *output = Some(value),
                Poll::Pending => all_done = false,
            }
        }
        if all_done {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;

    outputs.into_iter().flatten().collect()
}

/// Returns a new Maildir unique name in Dovecot's form,
/// `<secs>.M<usecs>P<pid>Q<counter>.<hostname>,S=<size>,W=<virtual_size>`,
/// where `size` is the file size in bytes and `virtual_size` the size with
/// CRLF line ends.
///
/// The process id and a process-wide counter make names from one host unique
/// even within one microsecond. In the host name, '/' and ':' are written as
/// `\057` and `\072`, as the Maildir specification recommends, because '/' separates
/// paths and ':' starts the info part.
pub fn unique_name(size: u64, virtual_size: u64) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let counter = COUNTER.fetch_add(1, Ordering::Relaxed) + 1;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "{}.M{}P{}Q{}.{},S={},W={}",
        now.as_secs(),
        now.subsec_micros(),
        std::process::id(),
        counter,
        hostname(),
        size,
        virtual_size
    )
}

/// Returns this host's name, sanitized for Maildir names, read once.
fn hostname() -> &'static str {
    static HOSTNAME: OnceLock<String> = OnceLock::new();
    HOSTNAME.get_or_init(|| sanitize_hostname(&read_hostname()))
}

fn read_hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the pointer and length describe `buf`, which lives for the call;
    // gethostname writes at most `buf.len()` bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..len]).into_owned()
}

fn sanitize_hostname(raw: &str) -> String {
    if raw.is_empty() {
        return "localhost".to_owned();
    }
    let mut clean = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '/' => clean.push_str("\\057"),
            ':' => clean.push_str("\\072"),
            c if c.is_control() || c.is_whitespace() => clean.push('_'),
            c => clean.push(c),
        }
    }
    clean
}

#[cfg(test)]
mod tests;
