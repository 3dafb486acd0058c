//! SEARCH evaluation (RFC 3501 section 6.4.4) over the selected mailbox.
//!
//! Flag, size, sequence and UID keys read only the index; date keys read the
//! internal date or the Date header; text keys read the message file, once
//! per message however many text keys the search has. Text matching is
//! case-insensitive for ASCII, byte-exact otherwise.

use memchr::memmem;
use ringmail_protocols::imap::{Date, SearchKey};

use super::flags::FlagSet;
use super::section;

/// One message of the mailbox, as a search key is evaluated against it.
pub struct Candidate<'a> {
    pub sequence: u32,
    pub uid: u32,
    pub flags: &'a FlagSet,
    pub recent: bool,
    pub size: u64,
    /// Internal date, seconds since the Unix epoch.
    pub internal_date: i64,
    /// Largest sequence number and UID in the mailbox, for `*` in sets.
    pub sequence_max: u32,
    pub uid_max: u32,
    /// Loads the message file on first use; `None` when it cannot be read.
    pub loader: &'a mut dyn FnMut() -> Option<Vec<u8>>,
    pub message: Option<Option<Vec<u8>>>,
}

impl Candidate<'_> {
    fn message(&mut self) -> Option<&[u8]> {
        if self.message.is_none() {
            self.message = Some((self.loader)());
        }
        self.message.as_ref().and_then(|loaded| loaded.as_deref())
    }
}

/// Returns whether `candidate` matches `key`.
pub fn matches(key: &SearchKey<'_>, candidate: &mut Candidate<'_>) -> bool {
    let flags = candidate.flags;
    match key {
        SearchKey::All => true,
        SearchKey::Answered => flags.answered,
        SearchKey::Deleted => flags.deleted,
        SearchKey::Draft => flags.draft,
        SearchKey::Flagged => flags.flagged,
        SearchKey::Seen => flags.seen,
        SearchKey::Recent => candidate.recent,
        SearchKey::New => candidate.recent && !flags.seen,
        SearchKey::Old => !candidate.recent,
        SearchKey::Unanswered => !flags.answered,
        SearchKey::Undeleted => !flags.deleted,
        SearchKey::Undraft => !flags.draft,
        SearchKey::Unflagged => !flags.flagged,
        SearchKey::Unseen => !flags.seen,
        SearchKey::Keyword(keyword) => flags.has_keyword(keyword),
        SearchKey::Unkeyword(keyword) => !flags.has_keyword(keyword),
        SearchKey::Larger(size) => candidate.size > u64::from(*size),
        SearchKey::Smaller(size) => candidate.size < u64::from(*size),
        SearchKey::Uid(set) => set.contains(candidate.uid, candidate.uid_max),
        SearchKey::SequenceSet(set) => set.contains(candidate.sequence, candidate.sequence_max),
        SearchKey::Before(date) => day_of(candidate.internal_date) < days(date),
        SearchKey::On(date) => day_of(candidate.internal_date) == days(date),
        SearchKey::Since(date) => day_of(candidate.internal_date) >= days(date),
        SearchKey::SentBefore(date) => sent_day(candidate).is_some_and(|day| day < days(date)),
        SearchKey::SentOn(date) => sent_day(candidate).is_some_and(|day| day == days(date)),
        SearchKey::SentSince(date) => sent_day(candidate).is_some_and(|day| day >= days(date)),
        SearchKey::Bcc(text) => header_contains(candidate, "Bcc", text),
        SearchKey::Cc(text) => header_contains(candidate, "Cc", text),
        SearchKey::From(text) => header_contains(candidate, "From", text),
        SearchKey::Subject(text) => header_contains(candidate, "Subject", text),
        SearchKey::To(text) => header_contains(candidate, "To", text),
        SearchKey::Header(name, text) => {
            let name = String::from_utf8_lossy(name).into_owned();
            header_contains(candidate, &name, text)
        }
        SearchKey::Body(text) => candidate.message().is_some_and(|message| {
            let body = &message[section::body_start(message)..];
            contains_ignore_case(body, text)
        }),
        SearchKey::Text(text) => candidate
            .message()
            .is_some_and(|message| contains_ignore_case(message, text)),
        SearchKey::Not(inner) => !matches(inner, candidate),
        SearchKey::Or(left, right) => matches(left, candidate) || matches(right, candidate),
        SearchKey::And(keys) => keys.iter().all(|inner| matches(inner, candidate)),
    }
}

fn header_contains(candidate: &mut Candidate<'_>, name: &str, text: &[u8]) -> bool {
    let Some(message) = candidate.message() else {
        return false;
    };
    let header = &message[..section::body_start(message)];
    section::fields(header).iter().any(|field| {
        if !field.name.eq_ignore_ascii_case(name.as_bytes()) {
            return false;
        }
        let raw = &header[field.range.clone()];
        let value = &raw[field.name.len()..];
        // An empty string matches every message that has the field.
        text.is_empty() || contains_ignore_case(value, text)
    })
}

/// Substring search, ASCII case-insensitive.
fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    let haystack = haystack.to_ascii_lowercase();
    let needle = needle.to_ascii_lowercase();
    memmem::find(&haystack, &needle).is_some()
}

/// Days since the epoch of a search date.
fn days(date: &Date) -> i64 {
    days_from_civil(
        i64::from(date.year),
        u32::from(date.month),
        u32::from(date.day),
    )
}

/// Days since the epoch of a Unix time, in UTC.
fn day_of(unix_secs: i64) -> i64 {
    unix_secs.div_euclid(86_400)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Returns the day of the message's Date header, ignoring its time and zone as
/// RFC 3501 says the SENT* keys do.
fn sent_day(candidate: &mut Candidate<'_>) -> Option<i64> {
    let message = candidate.message()?;
    let header = &message[..section::body_start(message)];
    let value = section::field_value(header, "Date")?;
    parse_date_day(&value)
}

/// Parses the date part of an RFC 5322 date-time such as
/// "Fri, 04 Dec 2026 20:10:47 +0000" and returns its day since the epoch.
pub fn parse_date_day(value: &str) -> Option<i64> {
    let value = match value.split_once(',') {
        Some((_, rest)) => rest,
        None => value,
    };
    let mut words = value.split_whitespace();
    let day: u32 = words.next()?.parse().ok()?;
    let month_name = words.next()?;
    let month = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ]
    .iter()
    .position(|name| month_name.len() >= 3 && month_name[..3].eq_ignore_ascii_case(name))?
        as u32
        + 1;
    let mut year: i64 = words.next()?.parse().ok()?;
    // RFC 5322 section 4.3: two-digit years below 50 are 20xx, others 19xx.
    if year < 50 {
        year += 2000;
    } else if year < 1000 {
        year += 1900;
    }
    if !(1..=31).contains(&day) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days_match_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
    }

    #[test]
    fn date_header_parses_with_and_without_weekday() {
        let expected = days_from_civil(2002, 8, 22);
        assert_eq!(
            parse_date_day("Thu, 22 Aug 2002 12:36:23 +0100"),
            Some(expected)
        );
        assert_eq!(parse_date_day("22 Aug 2002 12:36:23 -0400"), Some(expected));
        assert_eq!(
            parse_date_day("Thu, 22 Aug 02 12:36:23 GMT"),
            Some(expected)
        );
        assert_eq!(parse_date_day("garbage"), None);
        assert_eq!(parse_date_day("Thu, 42 Aug 2002"), None);
    }

    #[test]
    fn text_match_ignores_ascii_case() {
        assert!(contains_ignore_case(b"Hello World", b"wORLD"));
        assert!(!contains_ignore_case(b"Hello", b"planet"));
    }
}
