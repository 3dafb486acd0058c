//! The mail store: [`MailStore`] maps users and folder names to Maildir++
//! directories under `DATA/mail`, [`deliver`] writes one message durably into
//! several maildirs, [`batch::Batcher`] commits the messages of many sessions
//! together (one fsync per `new/` directory per batch), and
//! [`mailbox::Mailbox`] is the UID and flag index that IMAP reads through.
//!
//! Layout: user `u` has `DATA/mail/u/Maildir/` with `cur/`, `new/` and `tmp/`;
//! that root is INBOX. Folder `a.b` (the IMAP hierarchy separator is '.') is
//! `DATA/mail/u/Maildir/.a.b/` with the same three subdirectories and an empty
//! `maildirfolder` file, which is the Maildir++ layout that Dovecot and mutt read.
//!
//! Limits: [`FOLDER_NAME_LEN_MAX`] keeps a folder's directory name within the
//! 255-byte file name limit of Linux file systems; [`FOLDERS_MAX`] bounds one
//! listing of a user's folders.
//!
//! NOTE: folder creation and listing use std::fs and block the worker's event
//! loop; only [`deliver`] and [`batch`] run on io_uring so far.

pub mod batch;
mod deliver;
pub(crate) mod durable;
pub mod line_ends;
pub mod mailbox;
mod uidlist;

use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

pub use deliver::{deliver, unique_name, Delivery};
pub use mailbox::{folder_status, Changes, Flag, Flags, FolderStatus, Mailbox, MessageEntry};

/// Maximum length of a folder name in bytes. With the leading '.' the
/// directory name is at most 256 bytes, so this is 254, under Linux's 255.
pub const FOLDER_NAME_LEN_MAX: usize = 254;

/// Maximum number of folders [`MailStore::list_folders`] returns for one user.
pub const FOLDERS_MAX: usize = 10_000;

/// Mode of every directory the store creates: only the owner may enter.
const DIR_MODE: u32 = 0o700;

/// The Maildir subdirectories, in the order they are created.
const MAILDIR_SUBDIRS: [&str; 3] = ["tmp", "new", "cur"];

/// The mail directories of every user of one data directory.
#[derive(Debug, Clone)]
pub struct MailStore {
    root: PathBuf,
}

impl MailStore {
    /// Opens the store in `data_dir`, creating `data_dir/mail` if missing.
    pub fn open(data_dir: &Path) -> io::Result<MailStore> {
        let root = data_dir.join("mail");
        if !root.is_dir() {
            create_dir_if_missing(&root)?;
            durable::sync_dir(data_dir)?;
        }
        Ok(MailStore { root })
    }

    /// Returns `DATA/mail/<user>/Maildir`. The caller passes a name that
    /// [`crate::users::validate_name`] accepted, because this function only joins paths.
    pub fn maildir(&self, user: &str) -> PathBuf {
        self.root.join(user).join("Maildir")
    }

    /// Creates the user's Maildir (`cur/`, `new/`, `tmp/`) if missing, fsyncs
    /// every directory it created into, and returns the Maildir's path.
    pub fn ensure_maildir(&self, user: &str) -> io::Result<PathBuf> {
        check_user(user)?;
        let user_dir = self.root.join(user);
        let maildir = user_dir.join("Maildir");
        if MAILDIR_SUBDIRS.iter().all(|sub| maildir.join(sub).is_dir()) {
            return Ok(maildir);
        }

        if create_dir_if_missing(&user_dir)? {
            durable::sync_dir(&self.root)?;
        }
        if create_dir_if_missing(&maildir)? {
            durable::sync_dir(&user_dir)?;
        }
        create_subdirs(&maildir)?;
        Ok(maildir)
    }

    /// Returns the directory of folder `name` of `user`: INBOX (in any case)
    /// is the Maildir root and `a.b` is `.a.b`. Returns `None` when the user
    /// name is invalid or the folder name is empty, longer than
    /// [`FOLDER_NAME_LEN_MAX`], not UTF-8, starts or ends with '.', contains
    /// "..", '/', NUL or another control character.
    pub fn folder_path(&self, user: &str, name: &[u8]) -> Option<PathBuf> {
        check_user(user).ok()?;
        let maildir = self.maildir(user);
        if name.eq_ignore_ascii_case(b"INBOX") {
            return Some(maildir);
        }
        let name = validate_folder_name(name)?;
        Some(maildir.join(format!(".{name}")))
    }

    /// Returns the user's folder names: "INBOX" first, then each Maildir++
    /// folder (a valid `.name` directory with a `cur/` subdirectory) sorted by
    /// name, at most [`FOLDERS_MAX`] in all.
    pub fn list_folders(&self, user: &str) -> io::Result<Vec<String>> {
        check_user(user)?;
        let maildir = self.maildir(user);
        let mut folders = Vec::new();
        let dir = match std::fs::read_dir(&maildir) {
            Ok(dir) => dir,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Ok(vec!["INBOX".to_owned()]);
            }
            Err(error) => return Err(error),
        };

        for entry in dir {
            let entry = entry?;
            let file_name = entry.file_name();
            let Some(name) = file_name.to_str().and_then(|n| n.strip_prefix('.')) else {
                continue;
            };
            if validate_folder_name(name.as_bytes()).is_none() || name.eq_ignore_ascii_case("INBOX")
            {
                continue;
            }
            if !entry.path().join("cur").is_dir() {
                continue;
            }
            if folders.len() == FOLDERS_MAX - 1 {
                tracing::warn!(maildir = %maildir.display(), folders_max = FOLDERS_MAX, "folder listing truncated");
                break;
            }
            folders.push(name.to_owned());
        }

        folders.sort();
        folders.insert(0, "INBOX".to_owned());
        Ok(folders)
    }

    /// Creates folder `name` of `user` with its three subdirectories and the
    /// `maildirfolder` marker, creating the user's Maildir first if needed.
    /// Fails with `InvalidInput` for a name [`MailStore::folder_path`] rejects
    /// and `AlreadyExists` if the folder (or INBOX) exists.
    pub fn create_folder(&self, user: &str, name: &[u8]) -> io::Result<()> {
        let path = self.folder_path(user, name).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid folder name {:?}", String::from_utf8_lossy(name)),
            )
        })?;
        let maildir = self.ensure_maildir(user)?;
        if path == maildir {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "folder INBOX already exists",
            ));
        }

        std::fs::DirBuilder::new().mode(DIR_MODE).create(&path)?;
        create_subdirs(&path)?;
        let marker = path.join("maildirfolder");
        std::fs::File::create(&marker)?.sync_all()?;
        durable::sync_dir(&path)?;
        durable::sync_dir(&maildir)
    }
}

impl MailStore {
    /// Creates folder `name` of `user` where missing, like
    /// [`MailStore::create_folder`], and returns its directory. An existing
    /// folder is fine, also one that another worker creates at the same
    /// time. Delivery into a fixed folder such as Junk uses it.
    pub fn ensure_folder(&self, user: &str, name: &[u8]) -> io::Result<PathBuf> {
        let path = self.folder_path(user, name).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid folder name {:?}", String::from_utf8_lossy(name)),
            )
        })?;
        let marker = path.join("maildirfolder");
        let complete = MAILDIR_SUBDIRS.iter().all(|sub| path.join(sub).is_dir());
        if complete && marker.is_file() {
            return Ok(path);
        }

        let maildir = self.ensure_maildir(user)?;
        if path == maildir {
            return Ok(path);
        }
        let created = create_dir_if_missing(&path)?;
        create_subdirs(&path)?;
        if !marker.is_file() {
            std::fs::File::create(&marker)?.sync_all()?;
            durable::sync_dir(&path)?;
        }
        if created {
            durable::sync_dir(&maildir)?;
        }
        Ok(path)
    }
}

/// Checks a folder name (without the leading '.') and returns it as text.
fn validate_folder_name(name: &[u8]) -> Option<&str> {
    if name.is_empty() || name.len() > FOLDER_NAME_LEN_MAX {
        return None;
    }
    let name = std::str::from_utf8(name).ok()?;
    if name.starts_with('.') || name.ends_with('.') || name.contains("..") {
        return None;
    }
    if name.chars().any(|c| c == '/' || c.is_control()) {
        return None;
    }
    Some(name)
}

fn check_user(user: &str) -> io::Result<()> {
    crate::users::validate_name(user)
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error.to_string()))
}

/// Creates `tmp/`, `new/` and `cur/` in `dir` where missing, then fsyncs `dir`.
fn create_subdirs(dir: &Path) -> io::Result<()> {
    let mut created = false;
    for sub in MAILDIR_SUBDIRS {
        created |= create_dir_if_missing(&dir.join(sub))?;
    }
    if created {
        durable::sync_dir(dir)?;
    }
    Ok(())
}

/// Creates directory `path` (mode 0700); returns whether it was created.
fn create_dir_if_missing(path: &Path) -> io::Result<bool> {
    match std::fs::DirBuilder::new().mode(DIR_MODE).create(path) {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => Ok(false),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests;
