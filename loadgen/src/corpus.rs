//! A corpus of real messages for `--corpus DIR`, loaded once per run.
//!
//! [`Corpus::load`] walks DIR recursively, takes every file whose name ends
//! in `.eml` (any case) and sorts them by path. It prepares each as a
//! [`CorpusMessage`] with CRLF line ends: bare LF and bare CR each become
//! CRLF, and a last line without a line end gets one. A dot-stuffed copy
//! with the terminating `.` line is made too, so sending costs no
//! per-message work.
//! Message `seq` of a run is file `seq mod count`.
//!
//! Limits, so that a wrong directory cannot exhaust memory or loop:
//! [`CORPUS_FILES_MAX`] files, [`CORPUS_FILE_LEN_MAX`] octets per file,
//! [`CORPUS_LEN_MAX`] octets in all, and [`CORPUS_DEPTH_MAX`] levels of
//! directories. Symbolic links are not followed, so a link cycle cannot
//! make the walk endless.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ringmail_protocols::smtp::dot_stuff;

use crate::cli::BODY_LEN_MAX;

/// Maximum number of .eml files in a corpus.
pub const CORPUS_FILES_MAX: usize = 100_000;

/// Maximum size of one corpus file in octets: the largest body `--size` allows.
pub const CORPUS_FILE_LEN_MAX: usize = BODY_LEN_MAX;

/// Maximum total size of a corpus in octets (1 GiB). The corpus is held in
/// memory twice, plain and dot-stuffed.
pub const CORPUS_LEN_MAX: usize = 1024 * 1024 * 1024;

/// Maximum directory depth below DIR.
pub const CORPUS_DEPTH_MAX: usize = 32;

/// One message of the corpus, ready to send.
#[derive(Debug)]
pub struct CorpusMessage {
    /// The file it came from.
    pub path: PathBuf,
    /// The message with CRLF line ends, for BDAT.
    pub crlf: Arc<[u8]>,
    /// The same message dot-stuffed, ending with the `.` line, for DATA.
    pub stuffed: Arc<[u8]>,
}

/// Every message of a corpus, in path order.
#[derive(Debug)]
pub struct Corpus {
    messages: Vec<CorpusMessage>,
}

/// Reason a corpus cannot be loaded.
#[derive(Debug)]
pub enum CorpusError {
    /// A directory or file could not be read.
    Io { path: PathBuf, error: io::Error },
    /// The directory contains no .eml file.
    Empty,
    /// More files than [`CORPUS_FILES_MAX`].
    TooManyFiles,
    /// A file larger than [`CORPUS_FILE_LEN_MAX`].
    FileTooLarge { path: PathBuf, len: u64 },
    /// More octets in all than [`CORPUS_LEN_MAX`].
    TooLarge { len: usize },
    /// Directories nested deeper than [`CORPUS_DEPTH_MAX`].
    TooDeep { path: PathBuf },
}

impl fmt::Display for CorpusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CorpusError::Io { path, error } => write!(f, "cannot read {}: {error}", path.display()),
            CorpusError::Empty => write!(f, "no .eml file found"),
            CorpusError::TooManyFiles => {
                write!(f, "more than {CORPUS_FILES_MAX} .eml files")
            }
            CorpusError::FileTooLarge { path, len } => write!(
                f,
                "{} has {len} octets, max {CORPUS_FILE_LEN_MAX}",
                path.display()
            ),
            CorpusError::TooLarge { len } => write!(
                f,
                "the files hold {len} octets or more, max {CORPUS_LEN_MAX}"
            ),
            CorpusError::TooDeep { path } => write!(
                f,
                "{} is nested more than {CORPUS_DEPTH_MAX} directories deep",
                path.display()
            ),
        }
    }
}

impl std::error::Error for CorpusError {}

impl Corpus {
    /// Loads and prepares every .eml file under `dir`.
    pub fn load(dir: &Path) -> Result<Self, CorpusError> {
        let mut paths = Vec::new();
        collect_eml(dir, 0, &mut paths)?;
        if paths.is_empty() {
            return Err(CorpusError::Empty);
        }
        paths.sort();

        let mut total_len = 0;
        let mut messages = Vec::with_capacity(paths.len());
        for path in paths {
            let message = load_message(path)?;
            total_len += message.crlf.len();
            if total_len > CORPUS_LEN_MAX {
                return Err(CorpusError::TooLarge { len: total_len });
            }
            messages.push(message);
        }
        Ok(Corpus { messages })
    }

    /// Returns the message that message `seq` of the run sends.
    pub fn message(&self, seq: u64) -> &CorpusMessage {
        // `load` never builds an empty corpus, so the modulus is not zero.
        let index = (seq % self.messages.len() as u64) as usize;
        &self.messages[index]
    }

    /// Returns the number of files.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// Returns whether the corpus has no file; never true after `load`.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }
}

/// Appends the .eml files under `dir` to `paths`, descending into
/// subdirectories but not into symbolic links.
fn collect_eml(dir: &Path, depth: usize, paths: &mut Vec<PathBuf>) -> Result<(), CorpusError> {
    if depth > CORPUS_DEPTH_MAX {
        return Err(CorpusError::TooDeep {
            path: dir.to_path_buf(),
        });
    }
    let io_error = |error| CorpusError::Io {
        path: dir.to_path_buf(),
        error,
    };

    for entry in fs::read_dir(dir).map_err(io_error)? {
        let entry = entry.map_err(io_error)?;
        let file_type = entry.file_type().map_err(io_error)?;
        let path = entry.path();
        if file_type.is_dir() {
            collect_eml(&path, depth + 1, paths)?;
        } else if file_type.is_file() && is_eml(&path) {
            if paths.len() == CORPUS_FILES_MAX {
                return Err(CorpusError::TooManyFiles);
            }
            paths.push(path);
        }
    }
    Ok(())
}

fn is_eml(path: &Path) -> bool {
    path.extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("eml"))
}

/// Reads one file and prepares its two forms.
fn load_message(path: PathBuf) -> Result<CorpusMessage, CorpusError> {
    let len = fs::metadata(&path)
        .map_err(|error| CorpusError::Io {
            path: path.clone(),
            error,
        })?
        .len();
    if len > CORPUS_FILE_LEN_MAX as u64 {
        return Err(CorpusError::FileTooLarge { path, len });
    }
    let bytes = fs::read(&path).map_err(|error| CorpusError::Io {
        path: path.clone(),
        error,
    })?;

    let crlf = normalize_crlf(&bytes);
    let mut stuffed = Vec::new();
    dot_stuff(&crlf, &mut stuffed);
    Ok(CorpusMessage {
        path,
        crlf: crlf.into(),
        stuffed: stuffed.into(),
    })
}

/// Returns `message` with every line end as CRLF: CRLF stays, a bare LF or
/// a bare CR becomes CRLF, and a non-empty last line without one gets one.
pub fn normalize_crlf(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 32 + 2);
    let mut position = 0;
    while position < message.len() {
        let rest = &message[position..];
        let Some(index) = memchr::memchr2(b'\r', b'\n', rest) else {
            out.extend_from_slice(rest);
            out.extend_from_slice(b"\r\n");
            break;
        };

        out.extend_from_slice(&rest[..index]);
        out.extend_from_slice(b"\r\n");
        let is_crlf = rest[index] == b'\r' && rest.get(index + 1) == Some(&b'\n');
        position += index + if is_crlf { 2 } else { 1 };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_crlf_table() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"", b""),
            (b"a\r\nb\r\n", b"a\r\nb\r\n"),
            (b"lf only\nsecond\n", b"lf only\r\nsecond\r\n"),
            (b"bare cr\rend", b"bare cr\r\nend\r\n"),
            (b"no final line end", b"no final line end\r\n"),
            (b"\n\n", b"\r\n\r\n"),
            (b"mixed\r\n\nx\r", b"mixed\r\n\r\nx\r\n"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                normalize_crlf(input),
                *expected,
                "input {:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn corpus_without_eml_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("notes.txt"), b"x\r\n").unwrap();
        assert!(matches!(Corpus::load(dir.path()), Err(CorpusError::Empty)));
    }

    #[test]
    fn corpus_is_sorted_recursive_and_cycled() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("b")).unwrap();
        fs::write(dir.path().join("b/two.EML"), b"Subject: 2\n\n.dot\n").unwrap();
        fs::write(dir.path().join("a.eml"), b"Subject: 1\r\n\r\nx\r\n").unwrap();

        let corpus = Corpus::load(dir.path()).unwrap();
        assert_eq!(corpus.len(), 2);
        assert!(corpus.message(0).path.ends_with("a.eml"));
        assert!(corpus.message(1).path.ends_with("b/two.EML"));
        assert!(corpus.message(2).path.ends_with("a.eml"));
        assert_eq!(&*corpus.message(1).crlf, b"Subject: 2\r\n\r\n.dot\r\n");
        assert_eq!(
            &*corpus.message(1).stuffed,
            b"Subject: 2\r\n\r\n..dot\r\n.\r\n"
        );
    }
}
