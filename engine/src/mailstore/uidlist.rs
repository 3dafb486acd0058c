//! The UID list of one folder, the file `ringmail-uidlist`: [`UidList`] with
//! [`read`] and [`write`].
//!
//! Format, one record per line:
//!
//! ```text
//! ringmail-uidlist 1 V<uidvalidity> N<uidnext>
//! <uid> <unique name>
//! ```
//!
//! The unique name is the Maildir file name without its `:2,` info, so flag
//! changes (renames) do not touch this file. Lines are sorted by UID. The
//! file is rewritten atomically, and only under the folder's lock file.
//!
//! [`UIDLIST_LINE_LEN_MAX`] bounds a line (a UID, a space and a file name of
//! at most 255 bytes), and [`super::mailbox::MESSAGES_MAX`] the number of lines.

use std::collections::HashMap;
use std::io;
use std::path::Path;

use super::durable::write_atomic;
use super::mailbox::MESSAGES_MAX;

/// Name of the UID list file in a folder.
pub(crate) const UIDLIST_FILE_NAME: &str = "ringmail-uidlist";

/// Name of the lock file that guards the UID list.
pub(crate) const UIDLIST_LOCK_NAME: &str = "ringmail-uidlist.lock";

/// Maximum length of one line of the UID list in bytes.
pub const UIDLIST_LINE_LEN_MAX: usize = 512;

/// Format version written in the header.
const VERSION: u32 = 1;

const MAGIC: &str = "ringmail-uidlist";

const UIDLIST_FILE_MODE: u32 = 0o600;

/// The UID state of one folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UidList {
    pub uidvalidity: u32,
    pub uidnext: u32,
    /// Unique name to UID.
    pub uids: HashMap<String, u32>,
}

/// Outcome of reading a UID list file.
#[derive(Debug)]
pub(crate) enum Loaded {
    Missing,
    /// The file exists but does not parse. `uidvalidity` is the header's
    /// value when at least that much was readable.
    Corrupt {
        reason: String,
        uidvalidity: Option<u32>,
    },
    Valid(UidList),
}

/// Reads and parses the UID list at `path`.
pub(crate) fn read(path: &Path) -> io::Result<Loaded> {
    let len_max = (MESSAGES_MAX as u64 + 1) * UIDLIST_LINE_LEN_MAX as u64;
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Loaded::Missing),
        Err(error) => return Err(error),
    };
    if metadata.len() > len_max {
        return Ok(Loaded::Corrupt {
            reason: format!(
                "file is {} bytes, over the maximum of {len_max}",
                metadata.len()
            ),
            uidvalidity: None,
        });
    }

    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Loaded::Missing),
        Err(error) => return Err(error),
    };
    let Ok(text) = String::from_utf8(bytes) else {
        return Ok(Loaded::Corrupt {
            reason: "file is not UTF-8".to_owned(),
            uidvalidity: None,
        });
    };
    Ok(parse(&text))
}

/// Parses the text of a UID list.
pub(crate) fn parse(text: &str) -> Loaded {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("");
    let (uidvalidity, uidnext) = match parse_header(header) {
        Ok(values) => values,
        Err((reason, uidvalidity)) => {
            return Loaded::Corrupt {
                reason,
                uidvalidity,
            }
        }
    };
    let corrupt = |reason: String| Loaded::Corrupt {
        reason,
        uidvalidity: Some(uidvalidity),
    };

    let mut uids = HashMap::new();
    let mut last_uid = 0;
    for (index, line) in lines.enumerate() {
        let line_number = index + 2;
        if line.len() > UIDLIST_LINE_LEN_MAX {
            return corrupt(format!(
                "line {line_number} is {} bytes, over the maximum of {UIDLIST_LINE_LEN_MAX}",
                line.len()
            ));
        }
        if uids.len() == MESSAGES_MAX {
            return corrupt(format!("more than the maximum of {MESSAGES_MAX} records"));
        }
        let Some((uid, name)) = line.split_once(' ') else {
            return corrupt(format!(
                "line {line_number} has no space between uid and name"
            ));
        };
        let Ok(uid) = uid.parse::<u32>() else {
            return corrupt(format!("line {line_number} has an invalid uid {uid:?}"));
        };
        if uid <= last_uid || uid >= uidnext {
            return corrupt(format!(
                "line {line_number} has uid {uid}, out of order or not below uidnext {uidnext}"
            ));
        }
        if !is_valid_unique(name) {
            return corrupt(format!("line {line_number} has an invalid name"));
        }
        if uids.insert(name.to_owned(), uid).is_some() {
            return corrupt(format!("line {line_number} repeats a name"));
        }
        last_uid = uid;
    }

    Loaded::Valid(UidList {
        uidvalidity,
        uidnext,
        uids,
    })
}

fn parse_header(header: &str) -> Result<(u32, u32), (String, Option<u32>)> {
    let mut fields = header.split(' ');
    if fields.next() != Some(MAGIC) {
        return Err((
            "header does not start with the format name".to_owned(),
            None,
        ));
    }
    let version = fields.next().unwrap_or("");
    if version != VERSION.to_string() {
        return Err((format!("unknown format version {version:?}"), None));
    }
    let uidvalidity = fields
        .next()
        .and_then(|field| field.strip_prefix('V'))
        .and_then(|value| value.parse::<u32>().ok())
        .filter(|&value| value != 0)
        .ok_or(("header has no valid uidvalidity".to_owned(), None))?;
    let uidnext = fields
        .next()
        .and_then(|field| field.strip_prefix('N'))
        .and_then(|value| value.parse::<u32>().ok())
        .filter(|&value| value != 0)
        .ok_or(("header has no valid uidnext".to_owned(), Some(uidvalidity)))?;
    if fields.next().is_some() {
        return Err(("header has extra fields".to_owned(), Some(uidvalidity)));
    }
    Ok((uidvalidity, uidnext))
}

/// Checks that `name` can be a unique name: non-empty, at most 255 bytes,
/// no '/', ':', space or control character.
pub(crate) fn is_valid_unique(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= super::mailbox::FILE_NAME_LEN_MAX
        && !name
            .chars()
            .any(|c| c == '/' || c == ':' || c == ' ' || c.is_control())
}

/// Formats `list` with its records sorted by UID.
pub(crate) fn format(list: &UidList) -> String {
    let mut records: Vec<(&u32, &String)> =
        list.uids.iter().map(|(name, uid)| (uid, name)).collect();
    records.sort();

    let mut text = format!(
        "{MAGIC} {VERSION} V{} N{}\n",
        list.uidvalidity, list.uidnext
    );
    for (uid, name) in records {
        text.push_str(&format!("{uid} {name}\n"));
    }
    text
}

/// Replaces the UID list at `path` atomically. The caller holds the lock.
pub(crate) fn write(path: &Path, list: &UidList) -> io::Result<()> {
    write_atomic(path, format(list).as_bytes(), UIDLIST_FILE_MODE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uidlist_round_trip() {
        let mut uids = HashMap::new();
        uids.insert("1700000000.M1P2Q3.host,S=10".to_owned(), 1);
        uids.insert("1700000001.M1P2Q4.host,S=10".to_owned(), 3);
        let list = UidList {
            uidvalidity: 1_700_000_000,
            uidnext: 4,
            uids,
        };

        let Loaded::Valid(parsed) = parse(&format(&list)) else {
            panic!("formatted uidlist did not parse");
        };
        assert_eq!(parsed, list);
    }

    #[test]
    fn uidlist_rejects_broken_files() {
        let cases: &[(&str, Option<u32>)] = &[
            ("", None),
            ("garbage\n", None),
            ("ringmail-uidlist 2 V5 N1\n", None),
            ("ringmail-uidlist 1 V0 N1\n", None),
            ("ringmail-uidlist 1 V7 Nx\n", Some(7)),
            ("ringmail-uidlist 1 V7 N3\n5 a\n", Some(7)),
            ("ringmail-uidlist 1 V7 N9\n2 a\n1 b\n", Some(7)),
            ("ringmail-uidlist 1 V7 N9\n1 a\n2 a\n", Some(7)),
            ("ringmail-uidlist 1 V7 N9\n1 a:2,S\n", Some(7)),
            ("ringmail-uidlist 1 V7 N9\n1a\n", Some(7)),
        ];
        for (text, expected_uidvalidity) in cases {
            match parse(text) {
                Loaded::Corrupt { uidvalidity, .. } => {
                    assert_eq!(uidvalidity, *expected_uidvalidity, "input {text:?}")
                }
                other => panic!("input {text:?} parsed as {other:?}"),
            }
        }
    }

    #[test]
    fn uidlist_rejects_overlong_line() {
        let text = format!(
            "ringmail-uidlist 1 V7 N9\n1 {}\n",
            "a".repeat(UIDLIST_LINE_LEN_MAX)
        );
        assert!(matches!(parse(&text), Loaded::Corrupt { .. }));
    }
}
