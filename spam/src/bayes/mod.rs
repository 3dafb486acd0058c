//! Bayesian spam probability in the manner of SpamAssassin 4.0.1's Bayes
//! plugin, with Ringmail's own store file.
//!
//! - `BayesStore` holds, per token hash, the number of spam and ham
//!   messages that contained the token and when it was last learned, the
//!   totals `nspam` and `nham`, and the digests of learned messages. It
//!   lives at `<data>/spam/bayes.db` (format in `store`).
//! - `BayesStore::learn` and `BayesStore::forget` are idempotent per
//!   message: a message is identified by a digest of its bytes with CR
//!   removed, so the same message with LF or CRLF line ends counts once.
//!   Learning it again with the other label moves it to that class.
//! - `BayesStore::probability` returns Fisher chi-square combined spam
//!   probability (see `combine`), or `None` while fewer than
//!   `LEARNED_SPAM_MIN` spam or `LEARNED_HAM_MIN` ham are learned.
//! - `bayes_rule` maps a probability to SpamAssassin's BAYES_xx rule name.
//!
//! Tokens are stored as 64-bit hashes (`token_hash`), as SpamAssassin keeps
//! 40 bits of a SHA-1, so the store contains no message text.

pub mod combine;
pub mod store;
pub mod tokenize;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::prepare::Prepared;
pub use store::{StoreData, FILE_LEN_MAX, LEARNED_MAX, TOKENS_MAX};

/// Minimum spam messages learned before `probability` returns a value.
/// 200 is SpamAssassin's default `bayes_min_spam_num`: with fewer, token
/// counts are too small to trust.
pub const LEARNED_SPAM_MIN: u32 = 200;

/// Minimum ham messages learned before `probability` returns a value; 200
/// is SpamAssassin's default `bayes_min_ham_num`.
pub const LEARNED_HAM_MIN: u32 = 200;

/// Share of `TOKENS_MAX` kept when expiry runs, so that expiry does not
/// run again after every message once the store is full. SpamAssassin
/// likewise expires down to 75% of its maximum.
const EXPIRE_KEEP_PERCENT: usize = 75;

/// The class a message is learned as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    Spam,
    Ham,
}

impl Label {
    fn to_byte(self) -> u8 {
        match self {
            Label::Spam => 1,
            Label::Ham => 2,
        }
    }

    fn from_byte(byte: u8) -> Option<Label> {
        match byte {
            1 => Some(Label::Spam),
            2 => Some(Label::Ham),
            _ => None,
        }
    }
}

/// The counts of one token.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenCounts {
    /// Spam messages learned that contain the token.
    pub spam: u32,
    /// Ham messages learned that contain the token.
    pub ham: u32,
    /// When a message with the token was last learned, in seconds since
    /// the Unix epoch; expiry drops the oldest first.
    pub atime_s: u32,
}

/// The result of `learn` or `forget` for one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LearnOutcome {
    /// The message was new and is now counted.
    Learned,
    /// The message was already learned with the same label; nothing changed.
    AlreadyLearned,
    /// The message was learned with the other label and was moved.
    Relearned,
    /// The message was removed from the counts.
    Forgotten,
    /// `forget` found no such learned message.
    NotLearned,
}

/// Error from opening, saving or updating a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BayesError {
    /// The store file failed a format check; the reason names it.
    Corrupt { reason: String },
    /// Reading or writing the file failed.
    Io { message: String },
    /// Learning one more message would exceed `LEARNED_MAX`.
    TooManyLearned { count: usize },
}

impl std::fmt::Display for BayesError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BayesError::Corrupt { reason } => write!(formatter, "invalid bayes store: {reason}"),
            BayesError::Io { message } => formatter.write_str(message),
            BayesError::TooManyLearned { count } => write!(
                formatter,
                "{count} learned messages reach the maximum of {LEARNED_MAX}; forget some first"
            ),
        }
    }
}

impl std::error::Error for BayesError {}

/// A Bayes token store loaded in memory.
#[derive(Debug, Clone)]
pub struct BayesStore {
    path: PathBuf,
    data: StoreData,
    ignore_headers: Vec<String>,
}

impl BayesStore {
    /// Returns the store path for the data directory `data_dir`.
    pub fn path_in(data_dir: &Path) -> PathBuf {
        data_dir.join("spam").join("bayes.db")
    }

    /// Opens the store of the data directory `data_dir`. A missing file is
    /// an empty store, and a file that fails a check is an error.
    pub fn open(data_dir: &Path) -> Result<BayesStore, BayesError> {
        let path = Self::path_in(data_dir);
        let data = match std::fs::metadata(&path) {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => StoreData::default(),
            Err(error) => {
                return Err(BayesError::Io {
                    message: format!("cannot read {}: {error}", path.display()),
                })
            }
            Ok(metadata) if metadata.len() > FILE_LEN_MAX as u64 => {
                return Err(BayesError::Corrupt {
                    reason: format!(
                        "file length {} exceeds the maximum of {FILE_LEN_MAX}",
                        metadata.len()
                    ),
                })
            }
            Ok(_) => {
                let bytes = std::fs::read(&path).map_err(|error| BayesError::Io {
                    message: format!("cannot read {}: {error}", path.display()),
                })?;
                store::decode(&bytes)?
            }
        };
        Ok(BayesStore {
            path,
            data,
            ignore_headers: Vec::new(),
        })
    }

    /// Sets header names that give no tokens, as SpamAssassin's
    /// `bayes_ignore_header`.
    pub fn set_ignore_headers(&mut self, names: Vec<String>) {
        self.ignore_headers = names;
    }

    /// Writes the store to its file atomically, expiring the least
    /// recently learned tokens first when there are more than `TOKENS_MAX`.
    ///
    /// NOTE: there is no file lock, so when two processes learn at once the
    /// last `save` wins and the other's messages are lost from the counts.
    pub fn save(&mut self) -> Result<(), BayesError> {
        if self.data.tokens.len() > TOKENS_MAX {
            self.expire(TOKENS_MAX * EXPIRE_KEEP_PERCENT / 100);
        }
        store::write_atomic(&self.path, &store::encode(&self.data))
    }

    /// Drops the tokens with the oldest `atime_s` until `keep` remain.
    pub fn expire(&mut self, keep: usize) {
        if self.data.tokens.len() <= keep {
            return;
        }
        let mut ages: Vec<(u32, u64)> = self
            .data
            .tokens
            .iter()
            .map(|(hash, counts)| (counts.atime_s, *hash))
            .collect();
        ages.sort_unstable();
        let drop_count = ages.len() - keep;
        for (_, hash) in &ages[..drop_count] {
            self.data.tokens.remove(hash);
        }
    }

    /// Returns the number of spam messages learned.
    pub fn nspam(&self) -> u32 {
        self.data.nspam
    }

    /// Returns the number of ham messages learned.
    pub fn nham(&self) -> u32 {
        self.data.nham
    }

    /// Returns the number of distinct tokens stored.
    pub fn token_count(&self) -> usize {
        self.data.tokens.len()
    }

    /// Returns the counts of one token string, if stored.
    pub fn token(&self, token: &str) -> Option<TokenCounts> {
        self.data.tokens.get(&token_hash(token)).copied()
    }

    /// Learns the whole message `raw` as `label`.
    pub fn learn(&mut self, raw: &[u8], label: Label) -> Result<LearnOutcome, BayesError> {
        let digest = message_digest(raw);
        let outcome = match self.data.learned.get(&digest) {
            Some(&learned) if learned == label => return Ok(LearnOutcome::AlreadyLearned),
            Some(&learned) => {
                self.apply(raw, learned, Direction::Remove);
                LearnOutcome::Relearned
            }
            None if self.data.learned.len() >= LEARNED_MAX => {
                return Err(BayesError::TooManyLearned {
                    count: self.data.learned.len(),
                })
            }
            None => LearnOutcome::Learned,
        };
        self.apply(raw, label, Direction::Add);
        self.data.learned.insert(digest, label);
        Ok(outcome)
    }

    /// Removes the whole message `raw` from the counts, if it was learned.
    pub fn forget(&mut self, raw: &[u8]) -> LearnOutcome {
        let digest = message_digest(raw);
        match self.data.learned.remove(&digest) {
            Some(label) => {
                self.apply(raw, label, Direction::Remove);
                LearnOutcome::Forgotten
            }
            None => LearnOutcome::NotLearned,
        }
    }

    /// Adds or removes one message's tokens and its class total.
    fn apply(&mut self, raw: &[u8], label: Label, direction: Direction) {
        let message = Prepared::new(raw);
        let now_s = now_s();
        let total = match label {
            Label::Spam => &mut self.data.nspam,
            Label::Ham => &mut self.data.nham,
        };
        *total = direction.step(*total);

        for token in tokenize::tokenize(&message, &self.ignore_headers) {
            let hash = token_hash(&token);
            let counts = self.data.tokens.entry(hash).or_default();
            let count = match label {
                Label::Spam => &mut counts.spam,
                Label::Ham => &mut counts.ham,
            };
            *count = direction.step(*count);
            if direction == Direction::Add {
                counts.atime_s = counts.atime_s.max(now_s);
            }
            if counts.spam == 0 && counts.ham == 0 {
                self.data.tokens.remove(&hash);
            }
        }
    }

    /// Returns the spam probability of `message` in [0, 1], or `None` when
    /// the store is untrained (fewer than `LEARNED_SPAM_MIN` spam or
    /// `LEARNED_HAM_MIN` ham) or no token of the message is strong enough.
    pub fn probability(&self, message: &Prepared<'_>) -> Option<f64> {
        let (nspam, nham) = (self.data.nspam, self.data.nham);
        if nspam < LEARNED_SPAM_MIN || nham < LEARNED_HAM_MIN {
            return None;
        }
        let probabilities: Vec<f64> = tokenize::tokenize(message, &self.ignore_headers)
            .iter()
            .filter_map(|token| self.data.tokens.get(&token_hash(token)))
            .filter_map(|counts| combine::token_probability(counts.spam, counts.ham, nspam, nham))
            .collect();
        let significant = combine::select_significant(probabilities);
        combine::combine(nspam, nham, &significant)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Add,
    Remove,
}

impl Direction {
    fn step(self, count: u32) -> u32 {
        match self {
            Direction::Add => count.saturating_add(1),
            Direction::Remove => count.saturating_sub(1),
        }
    }
}

fn now_s() -> u32 {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    u32::try_from(seconds).unwrap_or(u32::MAX)
}

/// Returns the 64-bit hash under which a token is stored: FNV-1a over the
/// token's bytes, then the SplitMix64 finalizer to spread FNV's weak low
/// bits. It is part of the file format and must never change.
pub fn token_hash(token: &str) -> u64 {
    fnv1a_mixed(token.bytes())
}

/// Returns the digest that identifies a learned message: the same hash
/// over its bytes with every CR removed.
pub fn message_digest(raw: &[u8]) -> u64 {
    fnv1a_mixed(raw.iter().copied().filter(|&byte| byte != b'\r'))
}

fn fnv1a_mixed(bytes: impl Iterator<Item = u8>) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    for byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(PRIME);
    }
    hash ^= hash >> 30;
    hash = hash.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash ^= hash >> 27;
    hash = hash.wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^ (hash >> 31)
}

/// Returns the SpamAssassin rule for a Bayes probability, with the bands
/// of SpamAssassin 4.0.1's 23_bayes.cf: `check_bayes(min, max)` hits when
/// `min < p <= max`, and when `min` is 0 also at `p = 0`. Values outside
/// [0, 1] are clamped, and NaN counts as 0.5.
///
/// Above 0.999 this returns `BAYES_999`. SpamAssassin then also hits
/// `BAYES_99`, because the two bands overlap; `bayes_rules` returns both.
pub fn bayes_rule(probability: f64) -> &'static str {
    let p = if probability.is_nan() {
        0.5
    } else {
        probability.clamp(0.0, 1.0)
    };
    BANDS
        .iter()
        .find(|(_, upper)| p <= *upper)
        .map_or("BAYES_999", |(name, _)| name)
}

/// Returns every SpamAssassin BAYES_xx rule that hits for `probability`:
/// one band, plus `BAYES_99` beside `BAYES_999` above 0.999.
pub fn bayes_rules(probability: f64) -> &'static [&'static str] {
    match bayes_rule(probability) {
        "BAYES_999" => &["BAYES_99", "BAYES_999"],
        name => {
            let at = BANDS
                .iter()
                .position(|(band, _)| *band == name)
                .unwrap_or(0);
            &BAND_NAMES[at..at + 1]
        }
    }
}

/// Upper bounds of the bands in 23_bayes.cf, each band above the previous.
const BANDS: [(&str, f64); 9] = [
    ("BAYES_00", 0.01),
    ("BAYES_05", 0.05),
    ("BAYES_20", 0.20),
    ("BAYES_40", 0.40),
    ("BAYES_50", 0.60),
    ("BAYES_60", 0.80),
    ("BAYES_80", 0.95),
    ("BAYES_95", 0.99),
    ("BAYES_99", 0.999),
];

const BAND_NAMES: [&str; 9] = [
    "BAYES_00", "BAYES_05", "BAYES_20", "BAYES_40", "BAYES_50", "BAYES_60", "BAYES_80", "BAYES_95",
    "BAYES_99",
];
