//! `ringmail-loadgen verify`: compares the ids a sender got 250 for with the
//! ids that arrived, to prove that no acknowledged message was lost.
//!
//! [`run`] reads the acknowledged ids (one per line, as `smtp --ack-log`
//! writes them) and the delivered ids: the `X-Loadgen-Id` of every file in
//! `new/` and `cur/` of each Maildir and of its Maildir++ folders (`.Name/`
//! subdirectories, searched recursively), or the lines of a sink log. The
//! [`Verification`] counts lost (acknowledged, never delivered), duplicate
//! (delivered more than once) and unacknowledged (delivered, never
//! acknowledged) ids. Unacknowledged deliveries are allowed: a message can be
//! stored and its 250 lost with the connection, or have got a 4xx or 5xx.
//!
//! Limits: an id line is at most [`ID_LEN_MAX`] octets, folders nest at most
//! [`FOLDER_DEPTH_MAX`] deep, and only the first [`HEADER_SCAN_LEN_MAX`]
//! octets of each message are read. Lists in the report stop at
//! [`LISTED_IDS_MAX`] ids; the counts are always whole.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::header::{find_loadgen_id, HEADER_SCAN_LEN_MAX, ID_LEN_MAX};
use crate::sink_cli::{Delivered, VerifyPlan};

/// Ids listed per category in the report.
pub const LISTED_IDS_MAX: usize = 20;

/// Depth of nested Maildir++ folders searched. Maildir++ names nested folders
/// `.a.b` at one level, so 8 levels leave ample room for other layouts.
pub const FOLDER_DEPTH_MAX: usize = 8;

/// The id a sink log writes for a message without `X-Loadgen-Id`.
const MISSING_ID: &str = "-";

/// The result of one verification.
#[derive(Debug, Clone, Default)]
pub struct Verification {
    /// Distinct acknowledged ids.
    pub acknowledged: usize,
    /// Delivered messages that carry an id, duplicates included.
    pub delivered: u64,
    /// Delivered messages without a usable id.
    pub without_id: u64,
    /// Acknowledged ids never delivered, sorted.
    pub lost: Vec<String>,
    /// Ids delivered more than once with their delivery count, sorted.
    pub duplicates: Vec<(String, u64)>,
    /// Ids delivered but never acknowledged, sorted.
    pub unacknowledged: Vec<String>,
}

impl Verification {
    /// Compares the acknowledged ids with the delivered ids and their counts.
    pub fn compare(
        acknowledged: &HashSet<String>,
        delivered: &HashMap<String, u64>,
        without_id: u64,
    ) -> Self {
        let mut lost: Vec<String> = acknowledged
            .iter()
            .filter(|id| !delivered.contains_key(*id))
            .cloned()
            .collect();
        let mut duplicates: Vec<(String, u64)> = delivered
            .iter()
            .filter(|(_, count)| **count > 1)
            .map(|(id, count)| (id.clone(), *count))
            .collect();
        let mut unacknowledged: Vec<String> = delivered
            .keys()
            .filter(|id| !acknowledged.contains(*id))
            .cloned()
            .collect();
        lost.sort_unstable();
        duplicates.sort_unstable();
        unacknowledged.sort_unstable();

        Verification {
            acknowledged: acknowledged.len(),
            delivered: delivered.values().sum(),
            without_id,
            lost,
            duplicates,
            unacknowledged,
        }
    }

    /// Formats the result as the lines the binary prints.
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail, so the results are ignored.
        let _ = writeln!(text, "acknowledged: {}", self.acknowledged);
        let _ = writeln!(text, "delivered: {}", self.delivered);
        let _ = writeln!(text, "delivered without id: {}", self.without_id);
        write_list(&mut text, "lost", self.lost.iter().map(String::as_str));
        let duplicates = self
            .duplicates
            .iter()
            .map(|(id, count)| format!("{id} ({count} times)"));
        let duplicates: Vec<String> = duplicates.take(LISTED_IDS_MAX).collect();
        let _ = writeln!(text, "duplicates: {}", self.duplicates.len());
        for line in &duplicates {
            let _ = writeln!(text, "  {line}");
        }
        if self.duplicates.len() > LISTED_IDS_MAX {
            let _ = writeln!(
                text,
                "  ... and {} more",
                self.duplicates.len() - LISTED_IDS_MAX
            );
        }
        write_list(
            &mut text,
            "unacknowledged deliveries",
            self.unacknowledged.iter().map(String::as_str),
        );
        text
    }
}

fn write_list<'a>(text: &mut String, name: &str, ids: impl ExactSizeIterator<Item = &'a str>) {
    let count = ids.len();
    let _ = writeln!(text, "{name}: {count}");
    for id in ids.take(LISTED_IDS_MAX) {
        let _ = writeln!(text, "  {id}");
    }
    if count > LISTED_IDS_MAX {
        let _ = writeln!(text, "  ... and {} more", count - LISTED_IDS_MAX);
    }
}

/// Reads the ack log and the delivered ids of `plan` and compares them.
/// Fails when a file or directory cannot be read or a line is invalid.
pub fn run(plan: &VerifyPlan) -> io::Result<Verification> {
    let acknowledged: HashSet<String> = read_id_lines(&plan.ack_log, "ack log")?
        .into_iter()
        .collect();
    let mut delivered = HashMap::new();
    let mut without_id = 0;

    match &plan.delivered {
        Delivered::SinkLog(path) => {
            for id in read_id_lines(path, "sink log")? {
                if id == MISSING_ID {
                    without_id += 1;
                } else {
                    *delivered.entry(id).or_insert(0) += 1;
                }
            }
        }
        Delivered::Maildirs(dirs) => {
            for dir in dirs {
                if !dir.is_dir() {
                    return Err(io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("Maildir {} is not a directory", dir.display()),
                    ));
                }
                scan_maildir(dir, 0, &mut delivered, &mut without_id)?;
            }
        }
    }
    Ok(Verification::compare(&acknowledged, &delivered, without_id))
}

/// Reads one id per line, skipping empty lines. A line longer than
/// [`ID_LEN_MAX`] or not UTF-8 is an error naming the file and line number.
fn read_id_lines(path: &Path, what: &str) -> io::Result<Vec<String>> {
    let file = File::open(path).map_err(|error| {
        io::Error::new(
            error.kind(),
            format!("cannot open {what} {}: {error}", path.display()),
        )
    })?;
    let mut reader = BufReader::new(file);
    let mut ids = Vec::new();
    let mut line = Vec::new();
    let mut number = 0u64;

    loop {
        line.clear();
        // Reading at most one octet past the limit keeps a file without line
        // ends from filling memory.
        let read = (&mut reader)
            .take(ID_LEN_MAX as u64 + 2)
            .read_until(b'\n', &mut line)
            .map_err(|error| {
                io::Error::new(
                    error.kind(),
                    format!("cannot read {what} {}: {error}", path.display()),
                )
            })?;
        if read == 0 {
            return Ok(ids);
        }
        number += 1;

        let trimmed = line.trim_ascii();
        let cut_off = read == ID_LEN_MAX + 2 && !line.ends_with(b"\n");
        if trimmed.len() > ID_LEN_MAX || cut_off {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "line {number} of {what} {} is longer than the maximum of {ID_LEN_MAX} octets",
                    path.display()
                ),
            ));
        }
        if trimmed.is_empty() {
            continue;
        }
        let id = std::str::from_utf8(trimmed).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "line {number} of {what} {} is not valid UTF-8",
                    path.display()
                ),
            )
        })?;
        ids.push(id.to_string());
    }
}

/// Adds the ids of the messages in `new/` and `cur/` of `dir`, then of every
/// `.Folder` below it.
fn scan_maildir(
    dir: &Path,
    depth: usize,
    delivered: &mut HashMap<String, u64>,
    without_id: &mut u64,
) -> io::Result<()> {
    for sub in ["new", "cur"] {
        let messages = dir.join(sub);
        if !messages.is_dir() {
            continue;
        }
        for entry in read_dir(&messages)? {
            let path = entry?.path();
            if !path.is_file() {
                continue;
            }
            match read_message_id(&path)? {
                Some(id) => *delivered.entry(id).or_insert(0) += 1,
                None => *without_id += 1,
            }
        }
    }

    if depth >= FOLDER_DEPTH_MAX {
        return Ok(());
    }
    for folder in maildir_folders(dir)? {
        scan_maildir(&folder, depth + 1, delivered, without_id)?;
    }
    Ok(())
}

/// Returns the Maildir++ folders of `dir`: subdirectories whose name starts
/// with a dot.
fn maildir_folders(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut folders = Vec::new();
    for entry in read_dir(dir)? {
        let entry = entry?;
        let is_folder = entry.file_name().as_encoded_bytes().starts_with(b".")
            && entry.file_type().is_ok_and(|kind| kind.is_dir());
        if is_folder {
            folders.push(entry.path());
        }
    }
    folders.sort();
    Ok(folders)
}

fn read_dir(dir: &Path) -> io::Result<std::fs::ReadDir> {
    std::fs::read_dir(dir).map_err(|error| {
        io::Error::new(
            error.kind(),
            format!("cannot read directory {}: {error}", dir.display()),
        )
    })
}

/// Reads the start of one message file and returns its `X-Loadgen-Id`.
fn read_message_id(path: &Path) -> io::Result<Option<String>> {
    let file = File::open(path).map_err(|error| {
        io::Error::new(
            error.kind(),
            format!("cannot open message {}: {error}", path.display()),
        )
    })?;
    let mut start = Vec::with_capacity(4096);
    file.take(HEADER_SCAN_LEN_MAX as u64)
        .read_to_end(&mut start)
        .map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("cannot read message {}: {error}", path.display()),
            )
        })?;
    // Ids are printable ASCII, so the conversion only fails on bytes that
    // find_loadgen_id already refuses.
    Ok(find_loadgen_id(&start)
        .and_then(|id| std::str::from_utf8(id).ok())
        .map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[&str]) -> HashSet<String> {
        ids.iter().map(|id| id.to_string()).collect()
    }

    fn counts(ids: &[(&str, u64)]) -> HashMap<String, u64> {
        ids.iter()
            .map(|(id, count)| (id.to_string(), *count))
            .collect()
    }

    #[test]
    fn compare_finds_lost_duplicate_unacknowledged() {
        let result = Verification::compare(
            &set(&["a", "b", "c"]),
            &counts(&[("a", 1), ("b", 2), ("x", 1)]),
            3,
        );
        assert_eq!(result.acknowledged, 3);
        assert_eq!(result.delivered, 4);
        assert_eq!(result.without_id, 3);
        assert_eq!(result.lost, vec!["c".to_string()]);
        assert_eq!(result.duplicates, vec![("b".to_string(), 2)]);
        assert_eq!(result.unacknowledged, vec!["x".to_string()]);
    }

    #[test]
    fn report_lists_at_most_max_ids() {
        let acknowledged: HashSet<String> = (0..LISTED_IDS_MAX + 5)
            .map(|n| format!("id-{n:03}"))
            .collect();
        let text = Verification::compare(&acknowledged, &HashMap::new(), 0).to_text();
        assert!(
            text.contains(&format!("lost: {}\n", LISTED_IDS_MAX + 5)),
            "{text}"
        );
        assert!(text.contains("  ... and 5 more\n"), "{text}");
        assert_eq!(text.matches("  id-").count(), LISTED_IDS_MAX, "{text}");
    }

    #[test]
    fn overlong_ack_line_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("acks");
        std::fs::write(&path, format!("ok-1\n{}\n", "a".repeat(ID_LEN_MAX + 1))).unwrap();
        let error = read_id_lines(&path, "ack log").unwrap_err();
        assert!(error.to_string().contains("line 2"), "{error}");
    }

    #[test]
    fn ack_lines_trimmed_and_blank_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("acks");
        std::fs::write(&path, "a-1\r\n\n  a-2  \na-3").unwrap();
        assert_eq!(
            read_id_lines(&path, "ack log").unwrap(),
            vec!["a-1", "a-2", "a-3"]
        );
    }

    #[test]
    fn maildir_folders_scanned_recursively() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for (sub, name, id) in [
            ("new", "m1", "r-1"),
            ("cur", "m2:2,S", "r-2"),
            (".Sent/cur", "m3", "r-3"),
            (".Sent/.Old/new", "m4", "r-4"),
            ("tmp", "m5", "r-5"),
        ] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
            std::fs::write(
                root.join(sub).join(name),
                format!("Subject: s\nX-Loadgen-Id: {id}\n\nbody\n"),
            )
            .unwrap();
        }
        std::fs::write(root.join("new/m6"), "Subject: no id\n\n").unwrap();

        let mut delivered = HashMap::new();
        let mut without_id = 0;
        scan_maildir(root, 0, &mut delivered, &mut without_id).unwrap();
        assert_eq!(
            delivered,
            counts(&[("r-1", 1), ("r-2", 1), ("r-3", 1), ("r-4", 1)])
        );
        assert_eq!(without_id, 1);
    }
}
