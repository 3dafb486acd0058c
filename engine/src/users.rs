//! The user database: [`UserDb`] over the file `DATA/users`, with
//! [`validate_name`] and [`generate_password`].
//!
//! Format: one line per user, `name:$argon2id$v=19$...`, where the second
//! field is the PHC string of an Argon2id hash (argon2 crate defaults). The
//! file never contains a password. It has mode 0600 and is replaced atomically
//! (temporary file, fsync, rename, directory fsync) under an `flock` on
//! `DATA/users.lock`, so two `ringmail user add` processes never lose each
//! other's update. Every read opens the file again, so a running server sees
//! users added by the command line without a restart.
//!
//! Limits: [`USER_NAME_LEN_MAX`] keeps a user name a single path component of
//! a sane length (it names the user's mail directory); [`PASSWORD_LEN_MAX`]
//! bounds the bytes hashed per login attempt; [`USERS_FILE_LEN_MAX`] and
//! [`USERS_LINE_LEN_MAX`] bound what one read of the file may allocate.
//!
//! NOTE: the file reads and the lock block the calling thread, and every
//! verification runs Argon2 (tens of milliseconds) on it too.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::rngs::OsRng;
use rand::Rng;

use crate::file_version::FileVersion;
use crate::mailstore::durable::{write_atomic, FileLock};

/// Maximum length of a user name in bytes.
pub const USER_NAME_LEN_MAX: usize = 64;

/// Maximum length of a password in bytes.
pub const PASSWORD_LEN_MAX: usize = 1024;

/// Maximum length of one line of the users file in bytes: a name, a colon and
/// a PHC string (about 100 bytes with default parameters), with room to spare.
pub const USERS_LINE_LEN_MAX: usize = 512;

/// Maximum size of the users file in bytes (a few tens of thousands of users).
pub const USERS_FILE_LEN_MAX: u64 = 16 * 1024 * 1024;

/// Length of a password from [`generate_password`].
pub const GENERATED_PASSWORD_LEN: usize = 20;

/// Characters of generated passwords: letters and digits without the look-alikes
/// 0/O/o, 1/l/I.
const PASSWORD_ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

const USERS_FILE_NAME: &str = "users";
const USERS_LOCK_NAME: &str = "users.lock";
const USERS_FILE_MODE: u32 = 0o600;

/// Error of a user database operation.
#[derive(Debug)]
pub enum UserError {
    /// The user name breaks the rules of [`validate_name`].
    InvalidName { name: String, reason: &'static str },
    /// A user with this name already exists.
    Exists(String),
    /// No user has this name.
    NotFound(String),
    /// Reading, writing or locking the file failed, or the file is malformed.
    Io(io::Error),
    /// Hashing the password failed, or the password is too long.
    Hash(String),
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserError::InvalidName { name, reason } => {
                write!(f, "invalid user name {name:?}: {reason}")
            }
            UserError::Exists(name) => write!(f, "user {name:?} already exists"),
            UserError::NotFound(name) => write!(f, "user {name:?} not found"),
            UserError::Io(error) => write!(f, "user database: {error}"),
            UserError::Hash(message) => write!(f, "password hash failed: {message}"),
        }
    }
}

impl std::error::Error for UserError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            UserError::Io(error) => Some(error),
            _ => None,
        }
    }
}

impl From<io::Error> for UserError {
    fn from(error: io::Error) -> Self {
        UserError::Io(error)
    }
}

/// The user database of one data directory.
#[derive(Debug, Clone)]
pub struct UserDb {
    path: PathBuf,
    lock_path: PathBuf,
}

/// Parsed users files by path, with the version parsed.
type RecordCache = HashMap<PathBuf, (FileVersion, Rc<Vec<UserRecord>>)>;

thread_local! {
    static RECORD_CACHE: RefCell<RecordCache> = RefCell::new(HashMap::new());
}

/// One parsed line of the users file.
struct UserRecord {
    name: String,
    hash: String,
}

impl UserDb {
    /// Opens the database in `data_dir`. A missing file is an empty database;
    /// a missing `data_dir` is an error.
    pub fn open(data_dir: &Path) -> Result<UserDb, UserError> {
        let metadata = std::fs::metadata(data_dir)?;
        if !metadata.is_dir() {
            return Err(UserError::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("data directory {} is not a directory", data_dir.display()),
            )));
        }
        let db = UserDb {
            path: data_dir.join(USERS_FILE_NAME),
            lock_path: data_dir.join(USERS_LOCK_NAME),
        };
        db.read_records()?;
        Ok(db)
    }

    /// Adds user `name` with `password`; fails with [`UserError::Exists`] if the
    /// name is taken.
    pub fn add(&self, name: &str, password: &str) -> Result<(), UserError> {
        validate_name(name)?;
        let hash = hash_password(password)?;

        let _lock = FileLock::acquire(&self.lock_path)?;
        let mut records = self.read_records_uncached()?;
        if records.iter().any(|record| record.name == name) {
            return Err(UserError::Exists(name.to_owned()));
        }
        records.push(UserRecord {
            name: name.to_owned(),
            hash,
        });
        self.write_records(&mut records)
    }

    /// Replaces the password of user `name`.
    pub fn set_password(&self, name: &str, password: &str) -> Result<(), UserError> {
        validate_name(name)?;
        let hash = hash_password(password)?;

        let _lock = FileLock::acquire(&self.lock_path)?;
        let mut records = self.read_records_uncached()?;
        let record = records
            .iter_mut()
            .find(|record| record.name == name)
            .ok_or_else(|| UserError::NotFound(name.to_owned()))?;
        record.hash = hash;
        self.write_records(&mut records)
    }

    /// Returns the user names, sorted.
    pub fn list(&self) -> Result<Vec<String>, UserError> {
        let mut names: Vec<String> = self
            .read_records()?
            .iter()
            .map(|record| record.name.clone())
            .collect();
        names.sort();
        Ok(names)
    }

    /// Returns whether user `name` exists.
    pub fn exists(&self, name: &str) -> Result<bool, UserError> {
        Ok(self
            .read_records()?
            .iter()
            .any(|record| record.name == name))
    }

    /// Checks `password` against the stored hash of user `name`. Returns false
    /// for a wrong password and for an unknown user, and in both cases spends
    /// one hash computation, so the time taken does not reveal which names exist.
    pub fn verify(&self, name: &str, password: &str) -> Result<bool, UserError> {
        let records = self.read_records()?;
        let stored = records.iter().find(|record| record.name == name);
        let hash = match stored {
            Some(record) => record.hash.as_str(),
            None => dummy_hash(),
        };
        let matches = verify_password(password, hash)?;
        Ok(stored.is_some() && matches)
    }

    /// Returns whether the database has no users.
    pub fn is_empty(&self) -> Result<bool, UserError> {
        Ok(self.read_records()?.is_empty())
    }

    /// Returns the users file's records, parsed again only when the file
    /// changed since this thread last read it. Every write replaces the file
    /// by rename, so its inode, size or modification time changes; a `stat`
    /// per lookup then replaces a read and parse per RCPT or login. The cache
    /// is per thread, so workers share no lock for it.
    fn read_records(&self) -> Result<Rc<Vec<UserRecord>>, UserError> {
        let version = match std::fs::metadata(&self.path) {
            Ok(metadata) => Some(FileVersion::of(&metadata)),
            Err(error) if error.kind() == io::ErrorKind::NotFound => None,
            Err(error) => return Err(error.into()),
        };
        let Some(version) = version else {
            return Ok(Rc::new(Vec::new()));
        };

        let cached = RECORD_CACHE.with(|cache| {
            cache
                .borrow()
                .get(&self.path)
                .filter(|(cached_version, _)| *cached_version == version)
                .map(|(_, records)| records.clone())
        });
        if let Some(records) = cached {
            return Ok(records);
        }

        let records = Rc::new(self.read_records_uncached()?);
        RECORD_CACHE.with(|cache| {
            cache
                .borrow_mut()
                .insert(self.path.clone(), (version, records.clone()))
        });
        Ok(records)
    }

    /// Reads and parses the users file, for read-modify-write under the lock.
    fn read_records_uncached(&self) -> Result<Vec<UserRecord>, UserError> {
        let text = match read_bounded(&self.path) {
            Ok(text) => text,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(error.into()),
        };
        parse_records(&self.path, &text)
    }

    fn write_records(&self, records: &mut [UserRecord]) -> Result<(), UserError> {
        records.sort_by(|a, b| a.name.cmp(&b.name));
        let mut text = String::new();
        for record in records.iter() {
            text.push_str(&record.name);
            text.push(':');
            text.push_str(&record.hash);
            text.push('\n');
        }
        write_atomic(&self.path, text.as_bytes(), USERS_FILE_MODE)?;
        Ok(())
    }
}

/// Checks that `name` can be a user name: 1 to [`USER_NAME_LEN_MAX`] bytes of
/// lowercase a-z, 0-9, '.', '_' and '-', not starting with '.' or '-'. The
/// name becomes a directory name under `DATA/mail`, so these rules also keep
/// it a single, visible path component.
pub fn validate_name(name: &str) -> Result<(), UserError> {
    let invalid = |reason: &'static str| UserError::InvalidName {
        name: name.to_owned(),
        reason,
    };

    if name.is_empty() {
        return Err(invalid("name is empty"));
    }
    if name.len() > USER_NAME_LEN_MAX {
        return Err(invalid("name is longer than the maximum of 64 bytes"));
    }
    if name.starts_with('.') || name.starts_with('-') {
        return Err(invalid("name starts with '.' or '-'"));
    }
    let allowed =
        |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-');
    if !name.bytes().all(allowed) {
        return Err(invalid(
            "name has a character outside lowercase a-z, 0-9, '.', '_' and '-'",
        ));
    }
    Ok(())
}

/// Generates a password of [`GENERATED_PASSWORD_LEN`] characters from an
/// alphabet without look-alike characters, with the operating system's RNG
/// (about 116 bits of entropy).
pub fn generate_password() -> String {
    let mut rng = OsRng;
    (0..GENERATED_PASSWORD_LEN)
        .map(|_| PASSWORD_ALPHABET[rng.gen_range(0..PASSWORD_ALPHABET.len())] as char)
        .collect()
}

fn hash_password(password: &str) -> Result<String, UserError> {
    check_password_len(password)?;
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| UserError::Hash(error.to_string()))
}

fn verify_password(password: &str, hash: &str) -> Result<bool, UserError> {
    if check_password_len(password).is_err() {
        return Ok(false);
    }
    let parsed = PasswordHash::new(hash).map_err(|error| UserError::Hash(error.to_string()))?;
    Ok(Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok())
}

fn check_password_len(password: &str) -> Result<(), UserError> {
    if password.len() > PASSWORD_LEN_MAX {
        return Err(UserError::Hash(format!(
            "password is {} bytes, over the maximum of {PASSWORD_LEN_MAX}",
            password.len()
        )));
    }
    Ok(())
}

/// Returns a hash of a random password, checked against when the user is
/// unknown so that the verification takes as long as for a known user.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let password = generate_password();
        hash_password(&password).unwrap_or_default()
    })
}

fn read_bounded(path: &Path) -> io::Result<String> {
    let metadata = std::fs::metadata(path)?;
    if metadata.len() > USERS_FILE_LEN_MAX {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} is {} bytes, over the maximum of {USERS_FILE_LEN_MAX}",
                path.display(),
                metadata.len()
            ),
        ));
    }
    std::fs::read_to_string(path)
}

fn parse_records(path: &Path, text: &str) -> Result<Vec<UserRecord>, UserError> {
    let malformed = |line_number: usize, what: String| {
        UserError::Io(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} line {line_number}: {what}", path.display()),
        ))
    };

    let mut records = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line_number = index + 1;
        if line.is_empty() {
            continue;
        }
        if line.len() > USERS_LINE_LEN_MAX {
            return Err(malformed(
                line_number,
                format!(
                    "line is {} bytes, over the maximum of {USERS_LINE_LEN_MAX}",
                    line.len()
                ),
            ));
        }
        let Some((name, hash)) = line.split_once(':') else {
            return Err(malformed(
                line_number,
                "missing ':' between name and hash".to_owned(),
            ));
        };
        if let Err(error) = validate_name(name) {
            return Err(malformed(line_number, error.to_string()));
        }
        if !hash.starts_with('$') {
            return Err(malformed(
                line_number,
                "hash is not a PHC string".to_owned(),
            ));
        }
        records.push(UserRecord {
            name: name.to_owned(),
            hash: hash.to_owned(),
        });
    }
    Ok(records)
}

#[cfg(test)]
mod tests;
