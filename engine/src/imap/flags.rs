//! Message flags in IMAP terms, and their conversion to and from the
//! mail store's flags, which live in the Maildir file name.

use std::collections::BTreeSet;

use ringmail_protocols::imap::{response, Flag, StoreKind};

use crate::mailstore::mailbox::{Flag as StoreFlag, Flags as StoreFlags};

/// The five system flags that Maildir can store, in IMAP's spelling.
pub const SYSTEM_FLAGS: &str = "\\Answered \\Flagged \\Deleted \\Seen \\Draft";

/// A message's flags: the system flags as bits and any keywords.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlagSet {
    pub seen: bool,
    pub answered: bool,
    pub flagged: bool,
    pub deleted: bool,
    pub draft: bool,
    /// Keywords, case-preserved; compared case-insensitively.
    pub keywords: BTreeSet<String>,
}

impl FlagSet {
    /// Reads the store's flags.
    pub fn from_store(flags: &StoreFlags) -> FlagSet {
        FlagSet {
            seen: flags.contains(StoreFlag::Seen),
            answered: flags.contains(StoreFlag::Answered),
            flagged: flags.contains(StoreFlag::Flagged),
            deleted: flags.contains(StoreFlag::Deleted),
            draft: flags.contains(StoreFlag::Draft),
            keywords: flags.keywords().iter().cloned().collect(),
        }
    }

    /// Converts to the store's flags.
    pub fn to_store(&self) -> StoreFlags {
        let mut flags = StoreFlags::default();
        let system = [
            (self.seen, StoreFlag::Seen),
            (self.answered, StoreFlag::Answered),
            (self.flagged, StoreFlag::Flagged),
            (self.deleted, StoreFlag::Deleted),
            (self.draft, StoreFlag::Draft),
        ];
        for (set, flag) in system {
            if set {
                flags.insert(flag);
            }
        }
        for keyword in &self.keywords {
            flags.insert_keyword(keyword);
        }
        flags
    }

    /// Builds a set from the flags of a STORE or APPEND command. `\Recent`
    /// cannot be set by a client and is ignored (RFC 3501 section 2.3.2).
    pub fn from_command(flags: &[Flag<'_>]) -> FlagSet {
        let mut set = FlagSet::default();
        set.apply(StoreKind::Add, flags);
        set
    }

    /// Applies a STORE of `flags` with `kind`.
    pub fn apply(&mut self, kind: StoreKind, flags: &[Flag<'_>]) {
        if let StoreKind::Replace = kind {
            *self = FlagSet::default();
        }
        let value = !matches!(kind, StoreKind::Remove);
        for flag in flags {
            match flag {
                Flag::Seen => self.seen = value,
                Flag::Answered => self.answered = value,
                Flag::Flagged => self.flagged = value,
                Flag::Deleted => self.deleted = value,
                Flag::Draft => self.draft = value,
                Flag::Recent | Flag::Extension(_) => {}
                Flag::Keyword(keyword) => {
                    let existing = self
                        .keywords
                        .iter()
                        .find(|known| known.eq_ignore_ascii_case(keyword))
                        .cloned();
                    match (value, existing) {
                        (true, None) => {
                            self.keywords.insert(keyword.to_string());
                        }
                        (false, Some(known)) => {
                            self.keywords.remove(&known);
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    /// Returns whether the set contains `keyword`, ignoring case.
    pub fn has_keyword(&self, keyword: &str) -> bool {
        self.keywords
            .iter()
            .any(|known| known.eq_ignore_ascii_case(keyword))
    }

    /// Appends the parenthesized flag list, with `\Recent` when `recent`.
    pub fn write(&self, out: &mut Vec<u8>, recent: bool) {
        let mut flags: Vec<Flag<'_>> = Vec::with_capacity(6 + self.keywords.len());
        let system = [
            (self.answered, Flag::Answered),
            (self.flagged, Flag::Flagged),
            (self.deleted, Flag::Deleted),
            (self.seen, Flag::Seen),
            (self.draft, Flag::Draft),
            (recent, Flag::Recent),
        ];
        for (set, flag) in system {
            if set {
                flags.push(flag);
            }
        }
        for keyword in &self.keywords {
            flags.push(Flag::Keyword(keyword));
        }
        response::write_flags(out, &flags);
    }
}
