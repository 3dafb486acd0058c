//! Commands on the selected mailbox: CLOSE, UNSELECT, EXPUNGE, FETCH,
//! STORE, COPY and SEARCH, and the untagged updates after a rescan.

use std::io;

use ringmail_protocols::imap::{
    FetchAttribute, Flag, MailboxName, SearchKey, SequenceNumber, SequenceSet, StoreKind,
};

use super::{Core, Selected, State, OUTPUT_FLUSH_LEN};
use crate::imap::fetch::{self, FetchItem};
use crate::imap::flags::FlagSet;
use crate::imap::search::{self, Candidate};
use crate::mailstore::mailbox::{self, Mailbox};

impl Core {
    pub(super) fn close(&mut self, tag: &str, expunge: bool) {
        let State::Selected { user, selected } = std::mem::replace(&mut self.state, State::Logout)
        else {
            let previous = std::mem::replace(&mut self.state, State::Logout);
            self.state = previous;
            self.tagged(tag, "BAD", "no mailbox selected");
            return;
        };
        let Selected {
            mut mailbox,
            read_only,
            ..
        } = selected;
        if expunge && !read_only {
            if let Err(error) = mailbox.expunge() {
                tracing::error!(user, %error, "expunge on CLOSE failed");
            }
        }
        self.state = State::Authenticated { user };
        let verb = if expunge { "CLOSE" } else { "UNSELECT" };
        self.tagged(tag, "OK", &format!("{verb} completed"));
    }

    pub(super) fn expunge(&mut self, tag: &str) {
        let State::Selected { selected, .. } = &mut self.state else {
            self.tagged(tag, "BAD", "no mailbox selected");
            return;
        };
        if selected.read_only {
            self.tagged(tag, "NO", "[READ-ONLY] mailbox is read-only");
            return;
        }
        match selected.mailbox.expunge() {
            Ok(expunged) => {
                for sequence in expunged {
                    self.out
                        .extend_from_slice(format!("* {sequence} EXPUNGE\r\n").as_bytes());
                }
                self.tagged(tag, "OK", "EXPUNGE completed");
            }
            Err(error) => {
                tracing::error!(%error, "expunge failed");
                self.tagged(tag, "NO", "[SERVERBUG] expunge failed");
            }
        }
    }

    /// Returns the 0-based indexes of the messages `set` names, or an error
    /// text when a sequence number is beyond the mailbox.
    pub(super) fn resolve(
        mailbox: &Mailbox,
        set: &SequenceSet,
        uid: bool,
    ) -> Result<Vec<usize>, &'static str> {
        let count = mailbox.len();
        if uid {
            let uid_max = mailbox.entries().last().map(|entry| entry.uid).unwrap_or(0);
            return Ok((0..count)
                .filter(|&index| set.contains(mailbox.entry(index).uid, uid_max))
                .collect());
        }
        let count_u32 = count as u32;
        for range in &set.ranges {
            for number in [range.start, range.end] {
                match number {
                    SequenceNumber::Value(value) if value > count_u32 => {
                        return Err("message sequence number out of range")
                    }
                    SequenceNumber::Star if count == 0 => return Err("mailbox is empty"),
                    _ => {}
                }
            }
        }
        Ok((0..count)
            .filter(|&index| set.contains(index as u32 + 1, count_u32))
            .collect())
    }

    pub(super) async fn fetch(
        &mut self,
        tag: &str,
        set: &SequenceSet,
        attributes: &[FetchAttribute<'_>],
        uid: bool,
    ) -> io::Result<()> {
        let State::Selected { selected, .. } = &mut self.state else {
            self.tagged(tag, "BAD", "no mailbox selected");
            return Ok(());
        };
        let indexes = match Self::resolve(&selected.mailbox, set, uid) {
            Ok(indexes) => indexes,
            Err(reason) => {
                self.tagged(tag, "BAD", reason);
                return Ok(());
            }
        };

        let sets_seen = fetch::sets_seen(attributes) && !selected.read_only;
        let needs_message = fetch::needs_message(attributes);
        let mut failed = 0usize;
        let mut expunged_elsewhere = 0usize;
        for index in indexes {
            let State::Selected { selected, .. } = &mut self.state else {
                unreachable!("state is Selected for the whole FETCH");
            };
            let mailbox = &mut selected.mailbox;
            let mut flags = FlagSet::from_store(&mailbox.entry(index).flags);
            let mut flags_changed = false;
            if sets_seen && !flags.seen {
                flags.seen = true;
                match mailbox.set_flags(index, flags.to_store()) {
                    Ok(()) => flags_changed = true,
                    Err(error) => tracing::warn!(%error, "cannot set \\Seen"),
                }
            }
            let message = if needs_message {
                match mailbox.read_message(index) {
                    Ok(message) => Some(message),
                    Err(error) => {
                        if error.kind() == io::ErrorKind::NotFound {
                            expunged_elsewhere += 1;
                        } else {
                            tracing::warn!(uid = mailbox.entry(index).uid, %error, "cannot read message");
                            failed += 1;
                        }
                        continue;
                    }
                }
            } else {
                None
            };
            let entry = mailbox.entry(index);
            let item = FetchItem {
                sequence: index as u32 + 1,
                uid: entry.uid,
                flags: &flags,
                recent: mailbox.is_recent(index),
                size: entry.size,
                internal_date: entry.internal_date,
            };
            fetch::write_fetch(
                &mut self.out,
                &item,
                attributes,
                message.as_deref(),
                uid,
                flags_changed,
            );
            if self.out.len() >= OUTPUT_FLUSH_LEN {
                self.flush().await?;
            }
        }

        if failed > 0 {
            self.tagged(tag, "NO", "some messages could not be fetched");
        } else if expunged_elsewhere > 0 {
            // RFC 9051 section 7.1: the messages were expunged by another
            // session; this session learns of it at its next NOOP or command.
            self.tagged(
                tag,
                "NO",
                "[EXPUNGEISSUED] some messages were expunged by another session",
            );
        } else {
            self.tagged(tag, "OK", "FETCH completed");
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn store(
        &mut self,
        tag: &str,
        set: &SequenceSet,
        kind: StoreKind,
        silent: bool,
        flags: &[Flag<'_>],
        uid: bool,
    ) {
        let State::Selected { selected, .. } = &mut self.state else {
            self.tagged(tag, "BAD", "no mailbox selected");
            return;
        };
        if selected.read_only {
            self.tagged(tag, "NO", "[READ-ONLY] mailbox is read-only");
            return;
        }
        let indexes = match Self::resolve(&selected.mailbox, set, uid) {
            Ok(indexes) => indexes,
            Err(reason) => {
                self.tagged(tag, "BAD", reason);
                return;
            }
        };

        let mut failed = 0usize;
        let mut expunged_elsewhere = 0usize;
        for index in indexes {
            let mailbox = &mut selected.mailbox;
            let mut updated = FlagSet::from_store(&mailbox.entry(index).flags);
            updated.apply(kind, flags);
            if let Err(error) = mailbox.set_flags(index, updated.to_store()) {
                if error.kind() == io::ErrorKind::NotFound {
                    expunged_elsewhere += 1;
                } else {
                    tracing::warn!(uid = mailbox.entry(index).uid, %error, "cannot store flags");
                    failed += 1;
                }
                continue;
            }
            if !silent {
                let entry = mailbox.entry(index);
                self.out
                    .extend_from_slice(format!("* {} FETCH (", index + 1).as_bytes());
                if uid {
                    self.out
                        .extend_from_slice(format!("UID {} ", entry.uid).as_bytes());
                }
                self.out.extend_from_slice(b"FLAGS ");
                updated.write(&mut self.out, mailbox.is_recent(index));
                self.out.extend_from_slice(b")\r\n");
            }
        }
        if failed > 0 {
            self.tagged(tag, "NO", "some flags could not be stored");
        } else if expunged_elsewhere > 0 {
            self.tagged(
                tag,
                "NO",
                "[EXPUNGEISSUED] some messages were expunged by another session",
            );
        } else {
            self.tagged(tag, "OK", "STORE completed");
        }
    }

    pub(super) fn copy(&mut self, tag: &str, set: &SequenceSet, name: &MailboxName<'_>, uid: bool) {
        let Some(path) = self
            .folder_path(name)
            .filter(|path| path.join("cur").is_dir())
        else {
            self.tagged(tag, "NO", "[TRYCREATE] mailbox does not exist");
            return;
        };
        let State::Selected { selected, .. } = &mut self.state else {
            self.tagged(tag, "BAD", "no mailbox selected");
            return;
        };
        let indexes = match Self::resolve(&selected.mailbox, set, uid) {
            Ok(indexes) => indexes,
            Err(reason) => {
                self.tagged(tag, "BAD", reason);
                return;
            }
        };
        let same_folder = selected.path == path;
        for index in indexes {
            let source = &selected.mailbox;
            let entry = source.entry(index);
            let copied = source.read_message(index).and_then(|message| {
                mailbox::append_message(&path, &message, &entry.flags, Some(entry.internal_date))
            });
            if let Err(error) = copied {
                tracing::error!(%error, "copy failed");
                self.tagged(tag, "NO", "[SERVERBUG] copy failed");
                return;
            }
        }
        if same_folder {
            self.report_changes();
        }
        self.tagged(tag, "OK", "COPY completed");
    }

    pub(super) fn search(&mut self, tag: &str, criteria: &SearchKey<'_>, uid: bool) {
        let State::Selected { selected, .. } = &mut self.state else {
            self.tagged(tag, "BAD", "no mailbox selected");
            return;
        };
        let mailbox = &selected.mailbox;
        let sequence_max = mailbox.len() as u32;
        let uid_max = mailbox.entries().last().map(|entry| entry.uid).unwrap_or(0);

        let mut found = Vec::new();
        for index in 0..mailbox.len() {
            let entry = mailbox.entry(index);
            let flags = FlagSet::from_store(&entry.flags);
            let mut loader = || mailbox.read_message(index).ok();
            let mut candidate = Candidate {
                sequence: index as u32 + 1,
                uid: entry.uid,
                flags: &flags,
                recent: mailbox.is_recent(index),
                size: entry.size,
                internal_date: entry.internal_date,
                sequence_max,
                uid_max,
                loader: &mut loader,
                message: None,
            };
            if search::matches(criteria, &mut candidate) {
                found.push(if uid { entry.uid } else { index as u32 + 1 });
            }
        }

        self.out.extend_from_slice(b"* SEARCH");
        for number in found {
            self.out.extend_from_slice(format!(" {number}").as_bytes());
        }
        self.out.extend_from_slice(b"\r\n");
        self.tagged(tag, "OK", "SEARCH completed");
    }

    /// Rescans the selected mailbox and queues untagged EXPUNGE, EXISTS and
    /// FETCH FLAGS replies for what changed since the last look.
    pub(super) fn report_changes(&mut self) {
        let State::Selected { selected, .. } = &mut self.state else {
            return;
        };
        let changes = match selected.mailbox.refresh() {
            Ok(changes) => changes,
            Err(error) if error.kind() == io::ErrorKind::InvalidData => {
                // The UID list was lost and the folder got a new UIDVALIDITY;
                // a session cannot continue with UIDs that changed meaning.
                tracing::warn!(%error, "UIDVALIDITY changed under a selected mailbox");
                self.out.extend_from_slice(
                    b"* BYE mailbox UIDVALIDITY changed, please reconnect
",
                );
                self.state = State::Logout;
                return;
            }
            Err(error) => {
                tracing::warn!(%error, "mailbox rescan failed");
                return;
            }
        };
        for sequence in &changes.expunged {
            self.out
                .extend_from_slice(format!("* {sequence} EXPUNGE\r\n").as_bytes());
        }
        if changes.new_count > 0 || !changes.expunged.is_empty() {
            let mailbox = &selected.mailbox;
            self.out
                .extend_from_slice(format!("* {} EXISTS\r\n", mailbox.len()).as_bytes());
            self.out
                .extend_from_slice(format!("* {} RECENT\r\n", mailbox.recent_count()).as_bytes());
        }
        for &sequence in &changes.flag_changes {
            let index = sequence as usize - 1;
            let mailbox = &selected.mailbox;
            if index >= mailbox.len() {
                continue;
            }
            let flags = FlagSet::from_store(&mailbox.entry(index).flags);
            self.out
                .extend_from_slice(format!("* {sequence} FETCH (FLAGS ").as_bytes());
            flags.write(&mut self.out, mailbox.is_recent(index));
            self.out.extend_from_slice(b")\r\n");
        }
    }
}
