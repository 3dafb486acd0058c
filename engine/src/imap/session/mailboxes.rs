//! Mailbox commands of an authenticated session: LIST, SELECT, EXAMINE,
//! CREATE, STATUS and APPEND, with the LIST wildcard and APPEND date helpers.

use std::path::PathBuf;

use ringmail_protocols::imap::{self, Flag, MailboxName, StatusItem};

use super::{Core, Selected, State, SYSTEM_FLAGS};
use crate::imap::flags::FlagSet;
use crate::imap::search;
use crate::mailstore::mailbox::{self, Mailbox};

impl Core {
    /// Returns the folder directory for `name`, or `None` when the name is
    /// invalid.
    pub(super) fn folder_path(&self, name: &MailboxName<'_>) -> Option<PathBuf> {
        let user = self.user()?;
        let store = &self.shared.store;
        if store.ensure_maildir(user).is_err() {
            return None;
        }
        store.folder_path(user, name.as_bytes())
    }

    pub(super) fn list(&mut self, tag: &str, reference: &[u8], pattern: &[u8], verb: &str) {
        if pattern.is_empty() {
            self.out
                .extend_from_slice(format!("* {verb} (\\Noselect) \".\" \"\"\r\n").as_bytes());
            self.tagged(tag, "OK", &format!("{verb} completed"));
            return;
        }
        let user = self.user().unwrap_or_default().to_string();
        let _ = self.shared.store.ensure_maildir(&user);
        let folders = match self.shared.store.list_folders(&user) {
            Ok(folders) => folders,
            Err(error) => {
                tracing::error!(user, %error, "cannot list folders");
                self.tagged(tag, "NO", "[SERVERBUG] cannot list folders");
                return;
            }
        };

        let mut full_pattern = reference.to_vec();
        full_pattern.extend_from_slice(pattern);
        for folder in &folders {
            let name = folder.as_bytes();
            let matches = if folder == "INBOX" {
                wildcard_match(&full_pattern.to_ascii_uppercase(), name)
            } else {
                wildcard_match(&full_pattern, name)
            };
            if !matches {
                continue;
            }
            let prefix = format!("{folder}.");
            let has_children = folders.iter().any(|other| other.starts_with(&prefix));
            let attribute = if has_children {
                "\\HasChildren"
            } else {
                "\\HasNoChildren"
            };
            self.out
                .extend_from_slice(format!("* {verb} ({attribute}) \".\" ").as_bytes());
            imap::response::write_mailbox(&mut self.out, name);
            self.out.extend_from_slice(b"\r\n");
        }
        self.tagged(tag, "OK", &format!("{verb} completed"));
    }

    pub(super) fn select(&mut self, tag: &str, name: &MailboxName<'_>, read_only: bool) {
        let verb = if read_only { "EXAMINE" } else { "SELECT" };
        let user = self.user().unwrap_or_default().to_string();
        // Selecting closes the current mailbox without expunging it.
        self.state = State::Authenticated { user: user.clone() };

        let Some(path) = self
            .folder_path(name)
            .filter(|path| path.join("cur").is_dir())
        else {
            self.tagged(tag, "NO", "[NONEXISTENT] mailbox does not exist");
            return;
        };
        let mailbox = match Mailbox::open(&path, read_only) {
            Ok(mailbox) => mailbox,
            Err(error) => {
                tracing::error!(user, path = %path.display(), %error, "cannot open mailbox");
                self.tagged(tag, "NO", "[SERVERBUG] cannot open mailbox");
                return;
            }
        };

        let unseen_first = mailbox
            .entries()
            .iter()
            .position(|entry| !FlagSet::from_store(&entry.flags).seen);
        let out = &mut self.out;
        out.extend_from_slice(format!("* FLAGS ({SYSTEM_FLAGS})\r\n").as_bytes());
        let permanent = if read_only {
            "()".to_string()
        } else {
            format!("({SYSTEM_FLAGS} \\*)")
        };
        out.extend_from_slice(
            format!("* OK [PERMANENTFLAGS {permanent}] flags permitted\r\n").as_bytes(),
        );
        out.extend_from_slice(format!("* {} EXISTS\r\n", mailbox.len()).as_bytes());
        out.extend_from_slice(format!("* {} RECENT\r\n", mailbox.recent_count()).as_bytes());
        if let Some(index) = unseen_first {
            out.extend_from_slice(
                format!("* OK [UNSEEN {}] first unseen\r\n", index + 1).as_bytes(),
            );
        }
        out.extend_from_slice(
            format!(
                "* OK [UIDVALIDITY {}] UIDs valid\r\n",
                mailbox.uidvalidity()
            )
            .as_bytes(),
        );
        out.extend_from_slice(
            format!(
                "* OK [UIDNEXT {}] predicted next UID\r\n",
                mailbox.uidnext()
            )
            .as_bytes(),
        );
        let access = if read_only { "READ-ONLY" } else { "READ-WRITE" };
        self.tagged(tag, "OK", &format!("[{access}] {verb} completed"));
        self.state = State::Selected {
            user,
            selected: Selected {
                mailbox,
                path,
                read_only,
            },
        };
    }

    pub(super) fn create(&mut self, tag: &str, name: &MailboxName<'_>) {
        if name.is_inbox() {
            self.tagged(tag, "NO", "[ALREADYEXISTS] INBOX always exists");
            return;
        }
        let user = self.user().unwrap_or_default().to_string();
        match self.folder_path(name) {
            None => self.tagged(tag, "NO", "[CANNOT] invalid mailbox name"),
            Some(path) if path.exists() => self.tagged(tag, "NO", "[ALREADYEXISTS] mailbox exists"),
            Some(_) => match self.shared.store.create_folder(&user, name.as_bytes()) {
                Ok(()) => self.tagged(tag, "OK", "CREATE completed"),
                Err(error) => {
                    tracing::error!(user, %error, "cannot create folder");
                    self.tagged(tag, "NO", "[SERVERBUG] cannot create mailbox");
                }
            },
        }
    }

    pub(super) fn status(&mut self, tag: &str, name: &MailboxName<'_>, items: &[StatusItem]) {
        let Some(path) = self
            .folder_path(name)
            .filter(|path| path.join("cur").is_dir())
        else {
            self.tagged(tag, "NO", "[NONEXISTENT] mailbox does not exist");
            return;
        };
        let status = match mailbox::folder_status(&path) {
            Ok(status) => status,
            Err(error) => {
                tracing::error!(path = %path.display(), %error, "cannot read mailbox status");
                self.tagged(tag, "NO", "[SERVERBUG] cannot read mailbox status");
                return;
            }
        };
        self.out.extend_from_slice(b"* STATUS ");
        imap::response::write_mailbox(&mut self.out, name.as_bytes());
        self.out.extend_from_slice(b" (");
        for (index, item) in items.iter().enumerate() {
            if index > 0 {
                self.out.push(b' ');
            }
            let (label, value) = match item {
                StatusItem::Messages => ("MESSAGES", status.messages),
                StatusItem::Recent => ("RECENT", status.recent),
                StatusItem::UidNext => ("UIDNEXT", status.uidnext),
                StatusItem::UidValidity => ("UIDVALIDITY", status.uidvalidity),
                StatusItem::Unseen => ("UNSEEN", status.unseen),
            };
            self.out
                .extend_from_slice(format!("{label} {value}").as_bytes());
        }
        self.out.extend_from_slice(b")\r\n");
        self.tagged(tag, "OK", "STATUS completed");
    }

    pub(super) fn append(
        &mut self,
        tag: &str,
        name: &MailboxName<'_>,
        flags: &[Flag<'_>],
        date: Option<&[u8]>,
        message: &[u8],
    ) {
        let Some(path) = self
            .folder_path(name)
            .filter(|path| path.join("cur").is_dir())
        else {
            self.tagged(tag, "NO", "[TRYCREATE] mailbox does not exist");
            return;
        };
        let internal_date = date.and_then(parse_internal_date);
        let flags = FlagSet::from_command(flags).to_store();

        // Append through the selected index when it is the same folder, so
        // the session's view stays in step.
        let result = match &mut self.state {
            State::Selected { selected, .. } if selected.path == path => {
                selected.mailbox.append(message, flags, internal_date)
            }
            _ => mailbox::append_message(&path, message, &flags, internal_date),
        };
        match result {
            Ok(_) => {
                self.report_changes();
                self.tagged(tag, "OK", "APPEND completed");
            }
            Err(error) => {
                tracing::error!(path = %path.display(), %error, "append failed");
                self.tagged(tag, "NO", "[SERVERBUG] cannot append message");
            }
        }
    }
}

/// Matches a LIST pattern: `*` matches anything, `%` anything but the
/// hierarchy separator `.`.
fn wildcard_match(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|skip| wildcard_match(rest, &name[skip..])),
        Some((b'%', rest)) => {
            let limit = name
                .iter()
                .position(|&byte| byte == b'.')
                .unwrap_or(name.len());
            (0..=limit).any(|skip| wildcard_match(rest, &name[skip..]))
        }
        Some((&first, rest)) => name.first() == Some(&first) && wildcard_match(rest, &name[1..]),
    }
}

/// Parses an APPEND date-time, "DD-Mon-YYYY HH:MM:SS +ZZZZ", into Unix
/// seconds. Returns `None` for anything else, and the message then gets the
/// current time.
fn parse_internal_date(text: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(text).ok()?.trim();
    let (date, rest) = text.split_once(' ')?;
    let (time, zone) = rest.trim().split_once(' ')?;
    let mut date_parts = date.trim().split('-');
    let day: u32 = date_parts.next()?.trim().parse().ok()?;
    let month_name = date_parts.next()?;
    let year: i64 = date_parts.next()?.parse().ok()?;
    let month = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ]
    .iter()
    .position(|name| name.eq_ignore_ascii_case(month_name))? as u32
        + 1;
    let mut time_parts = time.split(':');
    let hour: i64 = time_parts.next()?.parse().ok()?;
    let minute: i64 = time_parts.next()?.parse().ok()?;
    let second: i64 = time_parts.next()?.parse().ok()?;
    let sign = match zone.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let zone_digits: i64 = zone.get(1..5)?.parse().ok()?;
    let offset_secs = sign * ((zone_digits / 100) * 3600 + (zone_digits % 100) * 60);
    let days = search::days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn list_wildcards() {
        let cases: &[(&[u8], &[u8], bool)] = &[
            (b"*", b"INBOX", true),
            (b"%", b"Sent", true),
            (b"%", b"a.b", false),
            (b"*", b"a.b", true),
            (b"a.%", b"a.b", true),
            (b"INBOX", b"INBOX", true),
            (b"Sent", b"Trash", false),
        ];
        for (pattern, name, expected) in cases {
            assert_eq!(
                wildcard_match(pattern, name),
                *expected,
                "{:?} against {:?}",
                String::from_utf8_lossy(pattern),
                String::from_utf8_lossy(name)
            );
        }
    }

    #[test]
    pub(super) fn append_date_parses_with_zone() {
        assert_eq!(parse_internal_date(b"01-Jan-1970 00:00:00 +0000"), Some(0));
        assert_eq!(parse_internal_date(b"01-Jan-1970 01:00:00 +0100"), Some(0));
        assert_eq!(parse_internal_date(b" 1-Jan-1970 00:00:10 -0000"), Some(10));
        assert_eq!(parse_internal_date(b"yesterday"), None);
    }
}
