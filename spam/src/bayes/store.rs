//! The on-disk format of the Bayes store: one binary file, checksummed and
//! replaced atomically.
//!
//! Layout, all integers little-endian:
//!
//! ```text
//! magic         8 bytes  "RMBAYES\x01" (the last byte is the format version)
//! nspam         u32      spam messages learned
//! nham          u32      ham messages learned
//! token_count   u32
//! learned_count u32
//! tokens        token_count × { hash u64, spam u32, ham u32, atime_s u32 }
//! learned       learned_count × { digest u64, label u8 (1 spam, 2 ham) }
//! checksum      u32      CRC-32C of every byte before it
//! ```
//!
//! Tokens are sorted by strictly increasing hash and learned messages by
//! strictly increasing digest, so that one store has one encoding and a
//! duplicate entry is a format error. `decode` checks the length against
//! the counts before allocating, so a corrupt count cannot make it reserve
//! memory the file does not back, and `TOKENS_MAX` and `LEARNED_MAX` bound
//! what a valid file can hold.
//!
//! `write_atomic` writes a temporary file in the same directory, syncs it,
//! renames it over the store and syncs the directory, so a crash leaves
//! either the old or the new store, never a mix.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use super::{BayesError, Label, TokenCounts};

/// File magic; the last byte is the format version.
pub const MAGIC: [u8; 8] = *b"RMBAYES\x01";

/// Maximum tokens in a store. Learning past it expires the least recently
/// used tokens (see `BayesStore::expire`). At 20 bytes a token the file
/// then stays under 40 MB. SpamAssassin's default `bayes_expiry_max_db_size`
/// is 150,000; this is larger because the file costs little to read.
pub const TOKENS_MAX: usize = 2_000_000;

/// Maximum learned message digests kept, so that the idempotence record
/// cannot grow without bound. Past it `learn` returns an error.
pub const LEARNED_MAX: usize = 1_000_000;

const HEADER_LEN: usize = 8 + 4 * 4;
const TOKEN_RECORD_LEN: usize = 8 + 4 * 3;
const LEARNED_RECORD_LEN: usize = 8 + 1;
const CHECKSUM_LEN: usize = 4;

/// Maximum store file length in bytes, the length of a full store.
pub const FILE_LEN_MAX: usize =
    HEADER_LEN + TOKENS_MAX * TOKEN_RECORD_LEN + LEARNED_MAX * LEARNED_RECORD_LEN + CHECKSUM_LEN;

/// The decoded contents of a store file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoreData {
    pub nspam: u32,
    pub nham: u32,
    pub tokens: HashMap<u64, TokenCounts>,
    pub learned: HashMap<u64, Label>,
}

/// Encodes `data` in the file format.
pub fn encode(data: &StoreData) -> Vec<u8> {
    let mut tokens: Vec<(&u64, &TokenCounts)> = data.tokens.iter().collect();
    tokens.sort_unstable_by_key(|(hash, _)| **hash);
    let mut learned: Vec<(&u64, &Label)> = data.learned.iter().collect();
    learned.sort_unstable_by_key(|(digest, _)| **digest);

    let len = HEADER_LEN
        + tokens.len() * TOKEN_RECORD_LEN
        + learned.len() * LEARNED_RECORD_LEN
        + CHECKSUM_LEN;
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&data.nspam.to_le_bytes());
    out.extend_from_slice(&data.nham.to_le_bytes());
    out.extend_from_slice(&count_u32(tokens.len()).to_le_bytes());
    out.extend_from_slice(&count_u32(learned.len()).to_le_bytes());
    for (hash, counts) in tokens {
        out.extend_from_slice(&hash.to_le_bytes());
        out.extend_from_slice(&counts.spam.to_le_bytes());
        out.extend_from_slice(&counts.ham.to_le_bytes());
        out.extend_from_slice(&counts.atime_s.to_le_bytes());
    }
    for (digest, label) in learned {
        out.extend_from_slice(&digest.to_le_bytes());
        out.push(label.to_byte());
    }
    let checksum = crc32c::crc32c(&out);
    out.extend_from_slice(&checksum.to_le_bytes());
    out
}

fn count_u32(count: usize) -> u32 {
    u32::try_from(count).unwrap_or(u32::MAX)
}

/// Decodes a store file, checking its magic, length, checksum, order and
/// limits.
pub fn decode(bytes: &[u8]) -> Result<StoreData, BayesError> {
    let corrupt = |reason: String| BayesError::Corrupt { reason };
    if bytes.len() > FILE_LEN_MAX {
        return Err(corrupt(format!(
            "file length {} exceeds the maximum of {FILE_LEN_MAX}",
            bytes.len()
        )));
    }
    if bytes.len() < HEADER_LEN + CHECKSUM_LEN {
        return Err(corrupt(format!(
            "file length {} is shorter than a header",
            bytes.len()
        )));
    }
    if bytes[..8] != MAGIC {
        return Err(corrupt(
            "invalid magic or unsupported format version".to_string(),
        ));
    }

    let body_len = bytes.len() - CHECKSUM_LEN;
    let stored = read_u32(bytes, body_len);
    let computed = crc32c::crc32c(&bytes[..body_len]);
    if stored != computed {
        return Err(corrupt(format!(
            "checksum mismatch: stored {stored:08x}, computed {computed:08x}"
        )));
    }

    let nspam = read_u32(bytes, 8);
    let nham = read_u32(bytes, 12);
    let token_count = read_u32(bytes, 16) as usize;
    let learned_count = read_u32(bytes, 20) as usize;
    if token_count > TOKENS_MAX {
        return Err(corrupt(format!(
            "{token_count} tokens exceed the maximum of {TOKENS_MAX}"
        )));
    }
    if learned_count > LEARNED_MAX {
        return Err(corrupt(format!(
            "{learned_count} learned messages exceed the maximum of {LEARNED_MAX}"
        )));
    }
    let expected = HEADER_LEN
        + token_count * TOKEN_RECORD_LEN
        + learned_count * LEARNED_RECORD_LEN
        + CHECKSUM_LEN;
    if bytes.len() != expected {
        return Err(corrupt(format!(
            "file length {} does not match the counts, expected {expected}",
            bytes.len()
        )));
    }

    let mut tokens = HashMap::with_capacity(token_count);
    let mut at = HEADER_LEN;
    let mut previous: Option<u64> = None;
    for _ in 0..token_count {
        let hash = read_u64(bytes, at);
        if previous.is_some_and(|previous| previous >= hash) {
            return Err(corrupt(format!("token hash {hash:016x} is out of order")));
        }
        previous = Some(hash);
        let counts = TokenCounts {
            spam: read_u32(bytes, at + 8),
            ham: read_u32(bytes, at + 12),
            atime_s: read_u32(bytes, at + 16),
        };
        tokens.insert(hash, counts);
        at += TOKEN_RECORD_LEN;
    }

    let mut learned = HashMap::with_capacity(learned_count);
    let mut previous: Option<u64> = None;
    for _ in 0..learned_count {
        let digest = read_u64(bytes, at);
        if previous.is_some_and(|previous| previous >= digest) {
            return Err(corrupt(format!(
                "message digest {digest:016x} is out of order"
            )));
        }
        previous = Some(digest);
        let label = Label::from_byte(bytes[at + 8])
            .ok_or_else(|| corrupt(format!("invalid label byte {}", bytes[at + 8])))?;
        learned.insert(digest, label);
        at += LEARNED_RECORD_LEN;
    }

    Ok(StoreData {
        nspam,
        nham,
        tokens,
        learned,
    })
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// Replaces `path` with `bytes` atomically: write a temporary file beside
/// it, sync, rename, sync the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), BayesError> {
    let io_error = |action: &str, target: &Path, error: std::io::Error| BayesError::Io {
        message: format!("cannot {action} {}: {error}", target.display()),
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|error| io_error("create directory", dir, error))?;

    let file_name = path
        .file_name()
        .map_or_else(|| "bayes.db".into(), |name| name.to_string_lossy());
    let temporary = dir.join(format!(".{file_name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut file =
            File::create(&temporary).map_err(|error| io_error("create", &temporary, error))?;
        file.write_all(bytes)
            .map_err(|error| io_error("write", &temporary, error))?;
        file.sync_all()
            .map_err(|error| io_error("sync", &temporary, error))?;
        fs::rename(&temporary, path).map_err(|error| io_error("rename over", path, error))?;
        File::open(dir)
            .and_then(|directory| directory.sync_all())
            .map_err(|error| io_error("sync directory", dir, error))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result
}
