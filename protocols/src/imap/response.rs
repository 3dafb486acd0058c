//! Writers for the pieces of IMAP server responses: strings, flags, dates and mailbox names.
//!
//! Each function appends exact wire bytes to `out` and cannot fail. The
//! choice between a quoted string and a literal follows RFC 3501 section
//! 4.3: a quoted string carries only 7-bit text without CR, LF or NUL, so
//! anything else goes out as a literal. Strings longer than `QUOTED_LEN_MAX`
//! also go out as literals, because a client may read a quoted string into
//! its line buffer while it can stream a literal by its announced length.

use super::cursor::is_astring_char;
use super::types::{Flag, MONTH_NAMES};

/// The maximum length, in octets, of a value that `write_string` sends as a quoted string.
pub const QUOTED_LEN_MAX: usize = 1024;

/// The largest time-zone offset, in minutes, that the 4-digit `+HHMM` zone can show.
pub const OFFSET_MINUTES_MAX: i32 = 99 * 60 + 59;

/// The first second `write_internal_date` can show, 0001-01-01 00:00:00,
/// because the date-time grammar has a 4-digit year.
const LOCAL_SECONDS_MIN: i64 = -62_135_596_800;

/// The last second `write_internal_date` can show, 9999-12-31 23:59:59.
const LOCAL_SECONDS_MAX: i64 = 253_402_300_799;

/// Appends an IMAP string: atom-safe text as quoted "..." (escaping \ and "), anything
/// with CR/LF/8-bit/too long as a literal "{N}\r\n<bytes>".
pub fn write_string(out: &mut Vec<u8>, value: &[u8]) {
    if !fits_quoted(value) {
        write_literal(out, value);
        return;
    }
    out.reserve(value.len() + 2);
    out.push(b'"');
    for &byte in value {
        if byte == b'"' || byte == b'\\' {
            out.push(b'\\');
        }
        out.push(byte);
    }
    out.push(b'"');
}

/// Appends an nstring: `NIL` for `None`, else the string as `write_string` writes it.
pub fn write_nstring(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        Some(value) => write_string(out, value),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// Appends a literal: `{N}` CRLF and the N octets of `value`.
pub fn write_literal(out: &mut Vec<u8>, value: &[u8]) {
    out.push(b'{');
    push_decimal(out, value.len() as u64, 1);
    out.extend_from_slice(b"}\r\n");
    out.extend_from_slice(value);
}

/// Appends a parenthesized flag list, such as `(\Seen \Deleted $Junk)`.
pub fn write_flags(out: &mut Vec<u8>, flags: &[Flag<'_>]) {
    out.push(b'(');
    for (index, flag) in flags.iter().enumerate() {
        if index > 0 {
            out.push(b' ');
        }
        write_flag(out, flag);
    }
    out.push(b')');
}

/// Appends one flag in its wire form.
fn write_flag(out: &mut Vec<u8>, flag: &Flag<'_>) {
    let text: &[u8] = match flag {
        Flag::Seen => b"\\Seen",
        Flag::Answered => b"\\Answered",
        Flag::Flagged => b"\\Flagged",
        Flag::Deleted => b"\\Deleted",
        Flag::Draft => b"\\Draft",
        Flag::Recent => b"\\Recent",
        Flag::Keyword(name) => name.as_bytes(),
        Flag::Extension(name) => {
            out.push(b'\\');
            name.as_bytes()
        }
    };
    out.extend_from_slice(text);
}

/// Appends a quoted date-time, `"DD-Mon-YYYY HH:MM:SS +ZZZZ"`, from unix
/// seconds and an offset in minutes east of UTC.
///
/// The offset is clamped to `OFFSET_MINUTES_MAX` either way, and the local
/// time to the years 0001 to 9999, because the wire form has no room for more.
pub fn write_internal_date(out: &mut Vec<u8>, unix_seconds: i64, offset_minutes: i32) {
    let offset_minutes = offset_minutes.clamp(-OFFSET_MINUTES_MAX, OFFSET_MINUTES_MAX);
    let local_seconds = unix_seconds
        .saturating_add(i64::from(offset_minutes) * 60)
        .clamp(LOCAL_SECONDS_MIN, LOCAL_SECONDS_MAX);

    let days = local_seconds.div_euclid(86_400);
    let second_of_day = local_seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);

    out.push(b'"');
    push_decimal(out, u64::from(day), 2);
    out.push(b'-');
    out.extend_from_slice(MONTH_NAMES[usize::from(month - 1)]);
    out.push(b'-');
    push_decimal(out, year as u64, 4);
    out.push(b' ');
    push_decimal(out, (second_of_day / 3600) as u64, 2);
    out.push(b':');
    push_decimal(out, (second_of_day / 60 % 60) as u64, 2);
    out.push(b':');
    push_decimal(out, (second_of_day % 60) as u64, 2);
    out.push(b' ');
    out.push(if offset_minutes < 0 { b'-' } else { b'+' });
    let offset_abs = offset_minutes.unsigned_abs();
    push_decimal(out, u64::from(offset_abs / 60), 2);
    push_decimal(out, u64::from(offset_abs % 60), 2);
    out.push(b'"');
}

/// Appends a mailbox name for LIST replies: bare when it is a plain atom,
/// else as `write_string` writes it.
///
/// `NIL` and the empty name are always quoted, so no client reads them as nil.
pub fn write_mailbox(out: &mut Vec<u8>, name: &[u8]) {
    let bare = !name.is_empty()
        && name.len() <= QUOTED_LEN_MAX
        && name.iter().all(|&byte| is_astring_char(byte))
        && !name.eq_ignore_ascii_case(b"NIL");
    if bare {
        out.extend_from_slice(name);
    } else {
        write_string(out, name);
    }
}

/// Whether `value` may go out as a quoted string: short 7-bit text without NUL, CR or LF.
fn fits_quoted(value: &[u8]) -> bool {
    value.len() <= QUOTED_LEN_MAX
        && value
            .iter()
            .all(|&byte| matches!(byte, 0x01..=0x7f) && byte != b'\r' && byte != b'\n')
}

/// Appends `value` in decimal, zero-padded to at least `width` digits.
fn push_decimal(out: &mut Vec<u8>, value: u64, width: usize) {
    let mut digits = [0u8; 20];
    let mut len = 0;
    let mut rest = value;
    loop {
        digits[len] = b'0' + (rest % 10) as u8;
        len += 1;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for _ in len..width {
        out.push(b'0');
    }
    out.extend(digits[..len].iter().rev());
}

/// Converts days since 1970-01-01 into a proleptic Gregorian (year, month, day).
///
/// The calendar repeats every 400 years (146 097 days), so the day is split
/// into a 400-year era and a day within it. Inside an era, years are
/// counted from March, which puts the leap day last in the year and makes
/// month lengths follow a fixed 153-days-per-5-months pattern.
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    // Shift the epoch to 0000-03-01, the start of an era.
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);

    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;

    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month as u8, day as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(write: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        write(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn write_string_table() {
        let long = vec![b'a'; QUOTED_LEN_MAX + 1];
        let long_expected = format!("{{{}}}\r\n{}", long.len(), "a".repeat(long.len()));
        let cases: &[(&[u8], &str)] = &[
            (b"", "\"\""),
            (b"hello world", "\"hello world\""),
            (b"a\"b\\c", "\"a\\\"b\\\\c\""),
            (b"line\r\nbreak", "{11}\r\nline\r\nbreak"),
            (b"bare\nlf", "{7}\r\nbare\nlf"),
            ("caf\u{e9}".as_bytes(), "{5}\r\ncaf\u{e9}"),
            (b"nul\0", "{4}\r\nnul\0"),
            (&long, &long_expected),
        ];
        for (value, expected) in cases {
            assert_eq!(
                &written(|out| write_string(out, value)),
                expected,
                "value {value:?}"
            );
        }
    }

    #[test]
    fn write_nstring_nil() {
        assert_eq!(written(|out| write_nstring(out, None)), "NIL");
        assert_eq!(written(|out| write_nstring(out, Some(b"x"))), "\"x\"");
    }

    #[test]
    fn write_flags_all_kinds() {
        let flags = [
            Flag::Seen,
            Flag::Answered,
            Flag::Flagged,
            Flag::Deleted,
            Flag::Draft,
            Flag::Recent,
            Flag::Keyword("$Junk"),
            Flag::Extension("Important"),
        ];
        assert_eq!(
            written(|out| write_flags(out, &flags)),
            "(\\Seen \\Answered \\Flagged \\Deleted \\Draft \\Recent $Junk \\Important)"
        );
        assert_eq!(written(|out| write_flags(out, &[])), "()");
    }

    #[test]
    fn write_internal_date_table() {
        let cases: &[(i64, i32, &str)] = &[
            (0, 0, "\"01-Jan-1970 00:00:00 +0000\""),
            (760_105_800, 0, "\"01-Feb-1994 12:30:00 +0000\""),
            (951_782_400, 0, "\"29-Feb-2000 00:00:00 +0000\""),
            (1_700_000_000, 60, "\"14-Nov-2023 23:13:20 +0100\""),
            (1_700_000_000, -330, "\"14-Nov-2023 16:43:20 -0530\""),
            (-1, 0, "\"31-Dec-1969 23:59:59 +0000\""),
            (i64::MAX, 0, "\"31-Dec-9999 23:59:59 +0000\""),
            (i64::MIN, 0, "\"01-Jan-0001 00:00:00 +0000\""),
            (0, i32::MAX, "\"05-Jan-1970 03:59:00 +9959\""),
            (0, i32::MIN, "\"27-Dec-1969 20:01:00 -9959\""),
        ];
        for (seconds, offset, expected) in cases {
            assert_eq!(
                &written(|out| write_internal_date(out, *seconds, *offset)),
                expected,
                "seconds {seconds} offset {offset}"
            );
        }
    }

    #[test]
    fn write_mailbox_table() {
        let cases: &[(&[u8], &str)] = &[
            (b"INBOX", "INBOX"),
            (b"Lists/rust]", "Lists/rust]"),
            (b"Sent Items", "\"Sent Items\""),
            (b"", "\"\""),
            (b"nil", "\"nil\""),
            (b"a*b", "\"a*b\""),
            (b"50%", "\"50%\""),
            ("Entw\u{fc}rfe".as_bytes(), "{9}\r\nEntw\u{fc}rfe"),
        ];
        for (name, expected) in cases {
            assert_eq!(
                &written(|out| write_mailbox(out, name)),
                expected,
                "name {name:?}"
            );
        }
    }

    #[test]
    fn civil_from_days_matches_known_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-719_162), (1, 1, 1));
        assert_eq!(civil_from_days(2_932_896), (9999, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(-25_508), (1900, 3, 1));
    }
}
