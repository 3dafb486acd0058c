//! The mailbox index that IMAP reads through: [`Mailbox`] (one open folder,
//! its [`MessageEntry`] list in UID order), [`Flags`], [`Changes`] from a
//! rescan, and [`folder_status`] for STATUS without selecting.
//!
//! Identity: a message is its Maildir unique name, the file name before the
//! `:2,` info. Flag changes rename the file (by this or another program, such
//! as mutt or Dovecot), so the index always finds a file again by its unique
//! name, never by its full name.
//!
//! UIDs: the folder's `ringmail-uidlist` maps unique names to UIDs. Every
//! sync (open, refresh, append, STATUS) reads it, scans `new/` and `cur/`,
//! hands out UIDs to unseen files in delivery order (the unique name's time,
//! then the name) and rewrites it, all under an `flock` on
//! `ringmail-uidlist.lock`. So two sessions or processes never hand out the
//! same UID, and UIDs never go down. A missing file starts a new UIDVALIDITY
//! from the clock, and so does a corrupt one (after a warning), kept above
//! the old value where that can be read.
//!
//! \Recent: files that a sync moves from `new/` to `cur/` are recent for the
//! mailbox that moved them, as Dovecot does. A read-only open moves nothing
//! and treats every file still in `new/` as recent.
//!
//! Limits: [`MESSAGES_MAX`] files are scanned per folder (the rest get no UID
//! and a warning), because the index keeps one entry per file in memory.
//! Names over [`FILE_NAME_LEN_MAX`] bytes, Linux's file name limit, are
//! skipped. [`MESSAGE_LEN_MAX`] bounds one [`Mailbox::read_message`].
//!
//! NOTE: scanning, renaming and reading use std::fs and block the worker's
//! event loop; they should move to io_uring.

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::deliver::unique_name;
use super::durable::{sync_dir, FileLock};
use super::line_ends;
use super::uidlist::{self, Loaded, UidList, UIDLIST_FILE_NAME, UIDLIST_LOCK_NAME};

/// Maximum number of message files scanned in one folder.
pub const MESSAGES_MAX: usize = 1_000_000;

/// Maximum length of a message file name in bytes (Linux's NAME_MAX).
pub const FILE_NAME_LEN_MAX: usize = 255;

/// Maximum size in bytes of a message that [`Mailbox::read_message`] loads
/// into memory at once.
pub const MESSAGE_LEN_MAX: u64 = 256 * 1024 * 1024;

/// Maximum number of keywords kept on one message.
pub const KEYWORDS_MAX: usize = 64;

/// Maximum length of one keyword in bytes.
pub const KEYWORD_LEN_MAX: usize = 128;

/// One of the five IMAP system flags stored in Maildir info letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flag {
    Seen,
    Answered,
    Flagged,
    Deleted,
    Draft,
}

impl Flag {
    /// Every system flag, in IMAP's usual order.
    pub const ALL: [Flag; 5] = [
        Flag::Seen,
        Flag::Answered,
        Flag::Flagged,
        Flag::Deleted,
        Flag::Draft,
    ];

    /// Returns the Maildir info letter: D=Draft, F=Flagged, R=Answered
    /// (replied), S=Seen, T=Deleted (trashed).
    pub fn maildir_letter(self) -> char {
        match self {
            Flag::Draft => 'D',
            Flag::Flagged => 'F',
            Flag::Answered => 'R',
            Flag::Seen => 'S',
            Flag::Deleted => 'T',
        }
    }

    /// Returns the IMAP name, such as `\Seen`.
    pub fn imap_name(self) -> &'static str {
        match self {
            Flag::Seen => "\\Seen",
            Flag::Answered => "\\Answered",
            Flag::Flagged => "\\Flagged",
            Flag::Deleted => "\\Deleted",
            Flag::Draft => "\\Draft",
        }
    }

    /// Parses an IMAP system flag name, ignoring ASCII case.
    pub fn from_imap_name(name: &[u8]) -> Option<Flag> {
        Flag::ALL
            .into_iter()
            .find(|flag| flag.imap_name().as_bytes().eq_ignore_ascii_case(name))
    }

    fn from_maildir_letter(letter: char) -> Option<Flag> {
        Flag::ALL
            .into_iter()
            .find(|flag| flag.maildir_letter() == letter)
    }

    fn bit(self) -> u8 {
        match self {
            Flag::Seen => 1,
            Flag::Answered => 2,
            Flag::Flagged => 4,
            Flag::Deleted => 8,
            Flag::Draft => 16,
        }
    }
}

/// The flags of one message: the five system flags and IMAP keywords.
///
/// NOTE: keywords live only in the memory of the open [`Mailbox`]; they are
/// not written to disk yet (Dovecot keeps them as info letters a-z mapped by
/// its `dovecot-keywords` file), so they are lost when the mailbox closes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags {
    bits: u8,
    keywords: Vec<String>,
}

impl Flags {
    /// Returns an empty flag set.
    pub fn new() -> Flags {
        Flags::default()
    }

    /// Returns whether `flag` is set.
    pub fn contains(&self, flag: Flag) -> bool {
        self.bits & flag.bit() != 0
    }

    /// Sets `flag`.
    pub fn insert(&mut self, flag: Flag) {
        self.bits |= flag.bit();
    }

    /// Clears `flag`.
    pub fn remove(&mut self, flag: Flag) {
        self.bits &= !flag.bit();
    }

    /// Returns these flags with `flag` set.
    pub fn with(mut self, flag: Flag) -> Flags {
        self.insert(flag);
        self
    }

    /// Returns the system flags that are set, in [`Flag::ALL`] order.
    pub fn system(&self) -> impl Iterator<Item = Flag> + '_ {
        Flag::ALL.into_iter().filter(|flag| self.contains(*flag))
    }

    /// Returns the keywords, in the order they were added.
    pub fn keywords(&self) -> &[String] {
        &self.keywords
    }

    /// Adds `keyword` unless it is present (ASCII case ignored). Returns false,
    /// adding nothing, when the keyword is empty, longer than
    /// [`KEYWORD_LEN_MAX`], or the set already has [`KEYWORDS_MAX`] keywords.
    pub fn insert_keyword(&mut self, keyword: &str) -> bool {
        if self.has_keyword(keyword) {
            return true;
        }
        if keyword.is_empty()
            || keyword.len() > KEYWORD_LEN_MAX
            || self.keywords.len() >= KEYWORDS_MAX
        {
            return false;
        }
        self.keywords.push(keyword.to_owned());
        true
    }

    /// Removes `keyword` (ASCII case ignored).
    pub fn remove_keyword(&mut self, keyword: &str) {
        self.keywords.retain(|k| !k.eq_ignore_ascii_case(keyword));
    }

    /// Returns whether `keyword` is present (ASCII case ignored).
    pub fn has_keyword(&self, keyword: &str) -> bool {
        self.keywords
            .iter()
            .any(|k| k.eq_ignore_ascii_case(keyword))
    }

    /// Parses the system flags from the letters after `:2,` in a Maildir file
    /// name. Letters other than D, F, R, S and T are ignored here.
    pub fn from_maildir_info(letters: &str) -> Flags {
        let mut flags = Flags::new();
        for flag in letters.chars().filter_map(Flag::from_maildir_letter) {
            flags.insert(flag);
        }
        flags
    }

    /// Returns the info letters of the system flags, sorted in ASCII order as
    /// the Maildir specification requires.
    pub fn maildir_info(&self) -> String {
        merge_info_letters(self, "")
    }

    fn same_system_flags(&self, other: &Flags) -> bool {
        self.bits == other.bits
    }
}

/// The Maildir subdirectory of a message file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subdir {
    New,
    Cur,
}

impl Subdir {
    fn name(self) -> &'static str {
        match self {
            Subdir::New => "new",
            Subdir::Cur => "cur",
        }
    }
}

/// One message of an open [`Mailbox`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageEntry {
    pub uid: u32,
    pub flags: Flags,
    /// Size in bytes with CRLF line ends, as IMAP reports it (RFC822.SIZE).
    pub size: u64,
    /// IMAP INTERNALDATE as unix seconds: the file's modification time.
    pub internal_date: i64,
    unique: String,
    file_name: String,
    subdir: Subdir,
    /// Info letters this index does not manage (such as Dovecot's keyword
    /// letters a-z), kept through renames.
    info_other: String,
    recent: bool,
}

impl MessageEntry {
    /// Returns the Maildir unique name (the file name before `:2,`).
    pub fn unique_name(&self) -> &str {
        &self.unique
    }

    /// Returns the current file name, including the info part.
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    fn relative_path(&self) -> PathBuf {
        Path::new(self.subdir.name()).join(&self.file_name)
    }
}

/// The changes a [`Mailbox::refresh`] found since the last sync.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Sequence numbers of removed messages, highest first, so each stays
    /// valid when reported in this order.
    pub expunged: Vec<u32>,
    /// Number of messages added at the end of the list.
    pub new_count: u32,
    /// Sequence numbers (after the expunges) whose flags another session or
    /// program changed.
    pub flag_changes: Vec<u32>,
}

/// Counts and UIDs of a folder for IMAP STATUS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FolderStatus {
    pub messages: u32,
    /// Files still in `new/`.
    pub recent: u32,
    pub uidnext: u32,
    pub uidvalidity: u32,
    /// Messages without \Seen.
    pub unseen: u32,
}

/// One open folder: its UIDVALIDITY and its messages in UID order.
#[derive(Debug)]
pub struct Mailbox {
    path: PathBuf,
    read_only: bool,
    uidvalidity: u32,
    uidnext: u32,
    entries: Vec<MessageEntry>,
}

impl Mailbox {
    /// Opens the folder at `path` (a Maildir root or a Maildir++ folder):
    /// loads its UID list, assigns UIDs to files it has not seen (in delivery
    /// order: by the unique name's time then name), and, unless `read_only`,
    /// moves `new/` files to `cur/` (adding ":2," info) like Dovecot does.
    /// Files moved from `new/` by this open are \Recent. A read-only open
    /// still records new UIDs in the UID list.
    pub fn open(path: &Path, read_only: bool) -> io::Result<Mailbox> {
        let synced = sync_folder(path, !read_only)?;
        let mut entries = Vec::with_capacity(synced.files.len());
        for file in synced.files {
            if let Some(entry) = load_entry(path, file)? {
                entries.push(entry);
            }
        }
        Ok(Mailbox {
            path: path.to_owned(),
            read_only,
            uidvalidity: synced.uidvalidity,
            uidnext: synced.uidnext,
            entries,
        })
    }

    /// Returns the folder's UIDVALIDITY.
    pub fn uidvalidity(&self) -> u32 {
        self.uidvalidity
    }

    /// Returns the UID the next new message will get, as of the last sync.
    pub fn uidnext(&self) -> u32 {
        self.uidnext
    }

    /// Returns the number of messages.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Returns whether the mailbox has no messages.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Returns message `index` (the sequence number minus one).
    ///
    /// # Panics
    ///
    /// Panics if `index >= self.len()`; sessions check sequence numbers first.
    pub fn entry(&self, index: usize) -> &MessageEntry {
        &self.entries[index]
    }

    /// Returns every message, in UID order.
    pub fn entries(&self) -> &[MessageEntry] {
        &self.entries
    }

    /// Returns the number of \Recent messages.
    pub fn recent_count(&self) -> u32 {
        self.entries.iter().filter(|entry| entry.recent).count() as u32
    }

    /// Returns whether message `index` is \Recent (false when out of range).
    pub fn is_recent(&self, index: usize) -> bool {
        self.entries.get(index).is_some_and(|entry| entry.recent)
    }

    /// Reads the whole file of message `index`, finding it again by its unique
    /// name if another program renamed it.
    ///
    /// The file's LF line ends come back as CRLF, the form IMAP serves.
    pub fn read_message(&self, index: usize) -> io::Result<Vec<u8>> {
        let entry = self.checked_entry(index)?;
        let stored = match read_bounded(&self.path.join(entry.relative_path())) {
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                let (subdir, file_name) = self.find_or_not_found(entry)?;
                read_bounded(&self.path.join(subdir.name()).join(file_name))
            }
            result => result,
        }?;
        Ok(match line_ends::to_crlf(&stored) {
            std::borrow::Cow::Borrowed(_) => stored,
            std::borrow::Cow::Owned(message) => message,
        })
    }

    /// Changes the flags of message `index` by renaming its file into `cur/`
    /// with the new info letters. If another session or program renamed the
    /// file meanwhile, finds it again by its unique name. Fails with
    /// `NotFound` if the file is gone, and with `PermissionDenied` on a
    /// read-only mailbox.
    pub fn set_flags(&mut self, index: usize, flags: Flags) -> io::Result<()> {
        self.check_writable()?;
        let entry = self.checked_entry(index)?;
        let new_name = format!(
            "{}:2,{}",
            entry.unique,
            merge_info_letters(&flags, &entry.info_other)
        );
        if entry.subdir == Subdir::Cur && entry.file_name == new_name {
            self.entries[index].flags = flags;
            return Ok(());
        }

        let target = self.path.join("cur").join(&new_name);
        match std::fs::rename(self.path.join(entry.relative_path()), &target) {
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                let (subdir, file_name) = self.find_or_not_found(entry)?;
                std::fs::rename(self.path.join(subdir.name()).join(file_name), &target)?;
            }
            result => result?,
        }

        let entry = &mut self.entries[index];
        entry.flags = flags;
        entry.subdir = Subdir::Cur;
        entry.file_name = new_name;
        Ok(())
    }

    /// Deletes the files of messages flagged \Deleted and returns their
    /// sequence numbers, highest first. A file already gone counts as
    /// deleted. On error the list is left as it was, and the files already
    /// deleted show up as expunged at the next [`Mailbox::refresh`].
    pub fn expunge(&mut self) -> io::Result<Vec<u32>> {
        self.check_writable()?;
        let doomed: Vec<usize> = (0..self.entries.len())
            .rev()
            .filter(|&index| self.entries[index].flags.contains(Flag::Deleted))
            .collect();

        for &index in &doomed {
            self.remove_file_of(&self.entries[index])?;
        }

        for &index in &doomed {
            self.entries.remove(index);
        }
        Ok(doomed.iter().map(|&index| index as u32 + 1).collect())
    }

    /// Rescans the folder: picks up new deliveries (assigning UIDs) and files
    /// removed or re-flagged by another session or program. Fails with
    /// `InvalidData` if the folder's UIDVALIDITY changed (its UID list was
    /// lost or corrupt), in which case the session must drop the mailbox.
    pub fn refresh(&mut self) -> io::Result<Changes> {
        let synced = sync_folder(&self.path, !self.read_only)?;
        if synced.uidvalidity != self.uidvalidity {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "uidvalidity of {} changed from {} to {}",
                    self.path.display(),
                    self.uidvalidity,
                    synced.uidvalidity
                ),
            ));
        }
        self.uidnext = synced.uidnext;

        let mut changes = Changes::default();
        let mut by_uid: HashMap<u32, SyncedFile> = synced
            .files
            .into_iter()
            .map(|file| (file.uid, file))
            .collect();
        self.apply_known(&mut by_uid, &mut changes)?;
        self.append_new(by_uid, &mut changes)?;
        Ok(changes)
    }

    /// Writes `message` into the folder with `flags` and, when given,
    /// `internal_date` (unix seconds) as its modification time, and returns
    /// its UID. The message joins this mailbox's list at the next
    /// [`Mailbox::refresh`], which reports it as new.
    pub fn append(
        &mut self,
        message: &[u8],
        flags: Flags,
        internal_date: Option<i64>,
    ) -> io::Result<u32> {
        self.check_writable()?;
        append_message(&self.path, message, &flags, internal_date)
    }

    fn check_writable(&self) -> io::Result<()> {
        if self.read_only {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("mailbox {} is open read-only", self.path.display()),
            ));
        }
        Ok(())
    }

    fn checked_entry(&self, index: usize) -> io::Result<&MessageEntry> {
        self.entries.get(index).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "message index {index} is out of range for {} messages",
                    self.entries.len()
                ),
            )
        })
    }

    fn find_or_not_found(&self, entry: &MessageEntry) -> io::Result<(Subdir, String)> {
        find_by_unique(&self.path, &entry.unique)?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "message uid {} is no longer in {}",
                    entry.uid,
                    self.path.display()
                ),
            )
        })
    }

    fn remove_file_of(&self, entry: &MessageEntry) -> io::Result<()> {
        match std::fs::remove_file(self.path.join(entry.relative_path())) {
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            result => return result,
        }
        match find_by_unique(&self.path, &entry.unique)? {
            Some((subdir, file_name)) => {
                remove_if_present(&self.path.join(subdir.name()).join(file_name))
            }
            None => Ok(()),
        }
    }

    /// Drops entries whose files are gone and updates renamed ones, taking
    /// them out of `by_uid`.
    fn apply_known(
        &mut self,
        by_uid: &mut HashMap<u32, SyncedFile>,
        changes: &mut Changes,
    ) -> io::Result<()> {
        let old_entries = std::mem::take(&mut self.entries);
        let mut kept = Vec::with_capacity(old_entries.len());
        for (index, mut entry) in old_entries.into_iter().enumerate() {
            let Some(file) = by_uid.remove(&entry.uid) else {
                changes.expunged.push(index as u32 + 1);
                continue;
            };
            if entry.file_name != file.file_name || entry.subdir != file.subdir {
                let (flags, info_other) = parse_info(&file.file_name);
                let mut flags = flags;
                for keyword in entry.flags.keywords() {
                    flags.insert_keyword(keyword);
                }
                if !flags.same_system_flags(&entry.flags) || info_other != entry.info_other {
                    changes.flag_changes.push(kept.len() as u32 + 1);
                }
                entry.flags = flags;
                entry.info_other = info_other;
                entry.file_name = file.file_name;
                entry.subdir = file.subdir;
            }
            kept.push(entry);
        }
        changes.expunged.reverse();
        self.entries = kept;
        Ok(())
    }

    /// Appends the files of `by_uid` with UIDs above every listed one.
    fn append_new(
        &mut self,
        by_uid: HashMap<u32, SyncedFile>,
        changes: &mut Changes,
    ) -> io::Result<()> {
        let uid_max = self.entries.last().map_or(0, |entry| entry.uid);
        let mut files: Vec<SyncedFile> = by_uid.into_values().collect();
        files.sort_by_key(|file| file.uid);
        for file in files {
            if file.uid <= uid_max {
                // The file's UID predates this view but it was not listed,
                // because it vanished from the scan at that sync. IMAP needs
                // UIDs to grow with sequence numbers, so it stays out.
                tracing::debug!(path = %self.path.display(), uid = file.uid, "skipped a message below the highest listed uid");
                continue;
            }
            if let Some(entry) = load_entry(&self.path, file)? {
                self.entries.push(entry);
                changes.new_count += 1;
            }
        }
        Ok(())
    }
}

/// Returns the STATUS counts of the folder at `path` without selecting it.
/// Assigns UIDs to new files and persists them, but moves nothing out of `new/`.
pub fn folder_status(path: &Path) -> io::Result<FolderStatus> {
    let synced = sync_folder(path, false)?;
    let mut status = FolderStatus {
        messages: synced.files.len() as u32,
        recent: 0,
        uidnext: synced.uidnext,
        uidvalidity: synced.uidvalidity,
        unseen: 0,
    };
    for file in &synced.files {
        if file.recent {
            status.recent += 1;
        }
        let (flags, _) = parse_info(&file.file_name);
        if !flags.contains(Flag::Seen) {
            status.unseen += 1;
        }
    }
    Ok(status)
}

/// Writes `message` into `cur/` of the folder at `path` (through `tmp/`, with
/// fsyncs), then syncs the folder and returns the UID the message got.
pub fn append_message(
    path: &Path,
    message: &[u8],
    flags: &Flags,
    internal_date: Option<i64>,
) -> io::Result<u32> {
    let stored = line_ends::to_lf(message);
    let unique = unique_name(stored.len() as u64, line_ends::crlf_len(&stored));
    let tmp_path = path.join("tmp").join(&unique);
    let cur_path = path
        .join("cur")
        .join(format!("{unique}:2,{}", flags.maildir_info()));

    let written = write_tmp_file(&tmp_path, &stored, internal_date)
        .and_then(|()| std::fs::rename(&tmp_path, &cur_path));
    if let Err(error) = written {
        let _ = remove_if_present(&tmp_path);
        return Err(error);
    }
    sync_dir(&path.join("cur"))?;

    let synced = sync_folder(path, false)?;
    synced
        .files
        .iter()
        .find(|file| file.unique == unique)
        .map(|file| file.uid)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("appended message {unique} vanished from {}", path.display()),
            )
        })
}

fn write_tmp_file(path: &Path, message: &[u8], internal_date: Option<i64>) -> io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(message)?;
    if let Some(secs) = internal_date {
        file.set_modified(system_time_from_unix(secs))?;
    }
    file.sync_all()
}

fn system_time_from_unix(secs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs as u64)
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}

/// One message file after a sync, with its UID.
#[derive(Debug)]
struct SyncedFile {
    uid: u32,
    unique: String,
    subdir: Subdir,
    file_name: String,
    recent: bool,
}

/// The state of a folder after a sync: its UID list header and its files in
/// UID order.
struct Synced {
    uidvalidity: u32,
    uidnext: u32,
    files: Vec<SyncedFile>,
}

/// Scans the folder under its UID list lock, moves `new/` files to `cur/`
/// when `move_new`, assigns UIDs to unseen files and rewrites the UID list
/// when it changed.
fn sync_folder(path: &Path, move_new: bool) -> io::Result<Synced> {
    let _lock = FileLock::acquire(&path.join(UIDLIST_LOCK_NAME))?;
    let uidlist_path = path.join(UIDLIST_FILE_NAME);
    let (mut list, mut dirty) = load_uidlist(&uidlist_path)?;

    let mut scan = scan_folder(path)?;
    if !scan.truncated
        && list
            .uids
            .keys()
            .any(|unique| !scan.files.contains_key(unique))
    {
        // readdir may miss a file that another program renamed during the
        // listing, so look once more before treating a listed file as gone.
        scan = scan_folder(path)?;
    }

    let mut files = Vec::with_capacity(scan.files.len());
    for (_, file) in scan.files {
        if let Some(file) = settle_file(path, file, move_new)? {
            files.push(file);
        }
    }

    dirty |= assign_uids(&mut list, &files)?;
    if !scan.truncated {
        let present: HashSet<&str> = files.iter().map(|(file, _)| file.unique.as_str()).collect();
        let listed = list.uids.len();
        list.uids
            .retain(|unique, _| present.contains(unique.as_str()));
        dirty |= list.uids.len() != listed;
    }
    if dirty {
        uidlist::write(&uidlist_path, &list)?;
    }

    let mut synced: Vec<SyncedFile> = files
        .into_iter()
        .filter_map(|(file, recent)| {
            let uid = *list.uids.get(&file.unique)?;
            Some(SyncedFile {
                uid,
                unique: file.unique,
                subdir: file.subdir,
                file_name: file.file_name,
                recent,
            })
        })
        .collect();
    synced.sort_by_key(|file| file.uid);
    Ok(Synced {
        uidvalidity: list.uidvalidity,
        uidnext: list.uidnext,
        files: synced,
    })
}

/// Reads the UID list, or starts a new one when it is missing or corrupt.
/// Returns the list and whether it must be written.
fn load_uidlist(path: &Path) -> io::Result<(UidList, bool)> {
    match uidlist::read(path)? {
        Loaded::Valid(list) => Ok((list, false)),
        Loaded::Missing => Ok((new_uidlist(now_secs()), true)),
        Loaded::Corrupt {
            reason,
            uidvalidity,
        } => {
            // The corrupt file was written after its UIDVALIDITY was chosen,
            // so a value above its modification time differs from the old one
            // even when the header cannot be read.
            let modified = std::fs::metadata(path)
                .and_then(|metadata| metadata.modified())
                .map(|time| {
                    time.duration_since(UNIX_EPOCH)
                        .unwrap_or_default()
                        .as_secs()
                })
                .unwrap_or(0);
            let floor = modified
                .saturating_add(1)
                .max(uidvalidity.map_or(0, |value| u64::from(value) + 1));
            let list = new_uidlist(now_secs().max(floor));
            tracing::warn!(
                path = %path.display(),
                %reason,
                uidvalidity = list.uidvalidity,
                "corrupt uid list replaced, starting a new uidvalidity"
            );
            Ok((list, true))
        }
    }
}

fn new_uidlist(uidvalidity_secs: u64) -> UidList {
    let uidvalidity = u32::try_from(uidvalidity_secs).unwrap_or(u32::MAX).max(1);
    UidList {
        uidvalidity,
        uidnext: 1,
        uids: HashMap::new(),
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// Gives each file without a UID the next one, in delivery order. Returns
/// whether any UID was assigned.
fn assign_uids(list: &mut UidList, files: &[(ScannedFile, bool)]) -> io::Result<bool> {
    let mut unseen: Vec<&ScannedFile> = files
        .iter()
        .map(|(file, _)| file)
        .filter(|file| !list.uids.contains_key(&file.unique))
        .collect();
    unseen.sort_by(|a, b| delivery_order_key(&a.unique).cmp(&delivery_order_key(&b.unique)));

    for file in &unseen {
        if list.uidnext == u32::MAX {
            return Err(io::Error::other(format!(
                "uid space exhausted at uidnext {}; the folder needs a new uidvalidity",
                list.uidnext
            )));
        }
        list.uids.insert(file.unique.clone(), list.uidnext);
        list.uidnext += 1;
    }
    Ok(!unseen.is_empty())
}

/// Returns the sort key of delivery order: the seconds and microseconds of
/// a `<secs>.M<usecs>...` unique name (names in other forms sort last), then
/// the name itself.
fn delivery_order_key(unique: &str) -> (u64, u32, &str) {
    let (secs, rest) = unique.split_once('.').unwrap_or((unique, ""));
    let secs = secs.parse::<u64>().unwrap_or(u64::MAX);
    let usecs = rest
        .strip_prefix('M')
        .map(|rest| {
            rest.split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap_or("")
        })
        .and_then(|digits| digits.parse::<u32>().ok())
        .unwrap_or(0);
    (secs, usecs, unique)
}

/// One message file found by a scan.
#[derive(Debug)]
struct ScannedFile {
    unique: String,
    subdir: Subdir,
    file_name: String,
}

struct Scan {
    /// Files by unique name; a name in both `new/` and `cur/` keeps `cur/`.
    files: HashMap<String, ScannedFile>,
    truncated: bool,
}

/// Lists `new/` then `cur/`. This order means a file moved from `new/` to
/// `cur/` during the scan is seen at least once.
fn scan_folder(path: &Path) -> io::Result<Scan> {
    let mut scan = Scan {
        files: HashMap::new(),
        truncated: false,
    };
    for subdir in [Subdir::New, Subdir::Cur] {
        let dir = path.join(subdir.name());
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let Some(file) = scanned_file(&entry, subdir) else {
                continue;
            };
            if scan.files.len() >= MESSAGES_MAX && !scan.files.contains_key(&file.unique) {
                scan.truncated = true;
                tracing::warn!(folder = %path.display(), messages_max = MESSAGES_MAX, "folder scan truncated");
                return Ok(scan);
            }
            scan.files.insert(file.unique.clone(), file);
        }
    }
    Ok(scan)
}

fn scanned_file(entry: &std::fs::DirEntry, subdir: Subdir) -> Option<ScannedFile> {
    let file_name = entry.file_name().into_string().ok()?;
    if file_name.starts_with('.') || file_name.len() > FILE_NAME_LEN_MAX {
        return None;
    }
    if !entry.file_type().ok()?.is_file() {
        return None;
    }
    let unique = file_name.split(':').next().unwrap_or("");
    if !uidlist::is_valid_unique(unique) {
        return None;
    }
    Some(ScannedFile {
        unique: unique.to_owned(),
        subdir,
        file_name,
    })
}

/// Decides where a scanned file is and whether it is recent, moving it from
/// `new/` to `cur/` when `move_new`. Returns `None` for a file that vanished.
fn settle_file(
    path: &Path,
    mut file: ScannedFile,
    move_new: bool,
) -> io::Result<Option<(ScannedFile, bool)>> {
    if file.subdir == Subdir::Cur {
        return Ok(Some((file, false)));
    }
    if !move_new {
        return Ok(Some((file, true)));
    }

    let cur_name = if file.file_name.contains(':') {
        file.file_name.clone()
    } else {
        format!("{}:2,", file.file_name)
    };
    let from = path.join("new").join(&file.file_name);
    match std::fs::rename(from, path.join("cur").join(&cur_name)) {
        Ok(()) => {
            file.subdir = Subdir::Cur;
            file.file_name = cur_name;
            Ok(Some((file, true)))
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            // Another program moved or deleted it since the scan.
            Ok(
                find_by_unique(path, &file.unique)?.map(|(subdir, file_name)| {
                    let file = ScannedFile {
                        unique: file.unique,
                        subdir,
                        file_name,
                    };
                    (file, false)
                }),
            )
        }
        Err(error) => Err(error),
    }
}

/// Finds the file whose unique name is `unique`, looking in `cur/` then `new/`.
fn find_by_unique(path: &Path, unique: &str) -> io::Result<Option<(Subdir, String)>> {
    for subdir in [Subdir::Cur, Subdir::New] {
        for entry in std::fs::read_dir(path.join(subdir.name()))? {
            let entry = entry?;
            let Ok(file_name) = entry.file_name().into_string() else {
                continue;
            };
            if file_name.split(':').next() == Some(unique) {
                return Ok(Some((subdir, file_name)));
            }
        }
    }
    Ok(None)
}

/// Builds the entry of a synced file from its name and `stat`. Returns
/// `None` when the file is gone.
fn load_entry(path: &Path, file: SyncedFile) -> io::Result<Option<MessageEntry>> {
    let mut subdir = file.subdir;
    let mut file_name = file.file_name;
    let metadata = match std::fs::metadata(path.join(subdir.name()).join(&file_name)) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            let Some(found) = find_by_unique(path, &file.unique)? else {
                return Ok(None);
            };
            (subdir, file_name) = found;
            match std::fs::metadata(path.join(subdir.name()).join(&file_name)) {
                Ok(metadata) => metadata,
                Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(error) => return Err(error),
            }
        }
        Err(error) => return Err(error),
    };

    let (flags, info_other) = parse_info(&file_name);
    let internal_date = match metadata.modified()?.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
    };
    Ok(Some(MessageEntry {
        uid: file.uid,
        flags,
        size: message_size(path, subdir, &file_name, &metadata)?,
        internal_date,
        unique: file.unique,
        file_name,
        subdir,
        info_other,
        recent: file.recent,
    }))
}

/// Splits the info of a file name into system flags and the other letters.
/// Only `:2,` info carries flags; other info versions carry none.
fn parse_info(file_name: &str) -> (Flags, String) {
    let letters = match file_name.split_once(':') {
        Some((_, info)) => info.strip_prefix("2,").unwrap_or(""),
        None => "",
    };
    let flags = Flags::from_maildir_info(letters);
    let other = letters
        .chars()
        .filter(|&c| Flag::from_maildir_letter(c).is_none() && c.is_ascii_alphabetic())
        .collect();
    (flags, other)
}

/// Returns the info letters of `flags` merged with `other`, deduplicated and
/// sorted in ASCII order.
fn merge_info_letters(flags: &Flags, other: &str) -> String {
    let mut letters: Vec<char> = flags
        .system()
        .map(Flag::maildir_letter)
        .chain(other.chars())
        .collect();
    letters.sort_unstable();
    letters.dedup();
    letters.into_iter().collect()
}

/// Returns the message's size with CRLF line ends: from the `,W=` field of
/// its name when present, else by reading the file (mail delivered by other
/// programs), or the file size when it has vanished meanwhile.
fn message_size(
    path: &Path,
    subdir: Subdir,
    file_name: &str,
    metadata: &std::fs::Metadata,
) -> io::Result<u64> {
    if let Some(size) = line_ends::virtual_size_from_name(file_name) {
        return Ok(size);
    }
    match read_bounded(&path.join(subdir.name()).join(file_name)) {
        Ok(stored) => Ok(line_ends::crlf_len(&stored)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(metadata.len()),
        Err(error) => Err(error),
    }
}

fn read_bounded(path: &Path) -> io::Result<Vec<u8>> {
    let len = std::fs::metadata(path)?.len();
    if len > MESSAGE_LEN_MAX {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} is {len} bytes, over the maximum of {MESSAGE_LEN_MAX}",
                path.display()
            ),
        ));
    }
    std::fs::read(path)
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        result => result,
    }
}

#[cfg(test)]
mod tests;
