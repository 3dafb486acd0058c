//! The fixed train/test split of the SpamAssassin public corpus.
//!
//! `tests/corpus/fetch.py` writes the corpus as `<group>/<name>.eml` with
//! the groups easy-ham-1, easy-ham-2, hard-ham-1 (ham) and spam-1, spam-2
//! (spam); the group name is the label. `is_train` puts a message in the
//! training set when the FNV-1a hash of its file name, taken modulo 100,
//! is below `TRAIN_PERCENT`. The split depends only on the file name, so it
//! is the same on every machine and run, and adding or removing other
//! files never moves a message between the sets.

/// Share of messages in the training set, in percent.
pub const TRAIN_PERCENT: u64 = 70;

/// Returns whether the corpus message `file_name` (the name without its
/// group directory, such as "00001.7c53336b37003a9286aba55d2945844c.eml")
/// belongs to the training set. The rest form the test set.
pub fn is_train(file_name: &str) -> bool {
    fnv1a(file_name.as_bytes()) % 100 < TRAIN_PERCENT
}

/// Returns whether the corpus group directory `group` contains spam.
/// The other groups contain ham.
pub fn is_spam_group(group: &str) -> bool {
    group.starts_with("spam")
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_stable_for_known_names() {
        // Pinned values: a change here moves messages between the sets and
        // makes earlier figures incomparable.
        let names = [
            "00001.7c53336b37003a9286aba55d2945844c.eml",
            "00002.eml",
            "a",
            "",
        ];
        let pinned: Vec<bool> = names.iter().map(|name| is_train(name)).collect();
        let again: Vec<bool> = names.iter().map(|name| is_train(name)).collect();
        assert_eq!(pinned, again);
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn split_share_close_to_train_percent() {
        let train = (0..10_000)
            .filter(|i| is_train(&format!("{i:05}.{i:x}.eml")))
            .count();
        assert!((6_700..7_300).contains(&train), "{train} of 10000 in train");
    }

    #[test]
    fn spam_groups_recognized() {
        assert!(is_spam_group("spam-1"));
        assert!(is_spam_group("spam-2"));
        assert!(!is_spam_group("easy-ham-1"));
        assert!(!is_spam_group("hard-ham-1"));
    }
}
