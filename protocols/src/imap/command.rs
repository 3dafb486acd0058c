//! The command grammar of RFC 3501 section 9: `tag SP command CRLF`.
//!
//! `parse` reads one framed command with a `Cursor` and dispatches on the
//! command name, ignoring ASCII case. This file contains the commands with
//! simple arguments, plus sequence sets, flags and dates that several
//! commands share. FETCH attributes live in `fetch.rs` and SEARCH keys in
//! `search.rs`. Every list is checked against `Limits::items_max` as it
//! grows, so that no list outgrows the limit before it is rejected.

use super::cursor::{is_atom_char, upper_keyword, Cursor, KeywordBuf, Step, Stop};
use super::error::ParseError;
use super::types::{
    days_in_month, Command, CommandBody, Flag, MailboxName, SequenceNumber, SequenceRange,
    SequenceSet, StatusItem, StoreKind, MONTH_NAMES,
};
use super::{fetch, search, Limits};

/// Parses the one command that fills `input`, through its final line end.
/// With `truncated`, `input` is only the part up to a synchronizing literal's data.
pub(super) fn parse<'a>(input: &'a [u8], limits: &Limits, truncated: bool) -> Step<Command<'a>> {
    let mut cursor = Cursor::new(input, *limits, truncated);
    let tag = cursor.tag()?;
    cursor.space()?;

    let name = cursor.atom("command name")?;
    let body = parse_body(&mut cursor, name)?;
    cursor.line_end()?;
    Ok(Command { tag, body })
}

/// Parses the arguments of the command called `name`, up to its line end.
fn parse_body<'a>(cursor: &mut Cursor<'a>, name: &'a [u8]) -> Step<CommandBody<'a>> {
    let mut buf = KeywordBuf::default();
    let upper = upper_keyword(name, &mut buf);

    let body = match upper {
        b"CAPABILITY" => CommandBody::Capability,
        b"NOOP" => CommandBody::Noop,
        b"LOGOUT" => CommandBody::Logout,
        b"CHECK" => CommandBody::Check,
        b"CLOSE" => CommandBody::Close,
        b"EXPUNGE" => CommandBody::Expunge,
        b"UNSELECT" => CommandBody::Unselect,
        b"IDLE" => CommandBody::Idle,
        b"LOGIN" => parse_login(cursor)?,
        b"AUTHENTICATE" => parse_authenticate(cursor)?,
        b"LIST" | b"LSUB" => parse_list(cursor, upper == b"LSUB")?,
        b"SELECT" => CommandBody::Select {
            mailbox: space_mailbox(cursor)?,
        },
        b"EXAMINE" => CommandBody::Examine {
            mailbox: space_mailbox(cursor)?,
        },
        b"CREATE" => CommandBody::Create {
            mailbox: space_mailbox(cursor)?,
        },
        b"DELETE" => CommandBody::Delete {
            mailbox: space_mailbox(cursor)?,
        },
        b"SUBSCRIBE" => CommandBody::Subscribe {
            mailbox: space_mailbox(cursor)?,
        },
        b"UNSUBSCRIBE" => CommandBody::Unsubscribe {
            mailbox: space_mailbox(cursor)?,
        },
        b"STATUS" => parse_status(cursor)?,
        b"APPEND" => parse_append(cursor)?,
        b"UID" => parse_uid(cursor)?,
        _ => match parse_message_command(cursor, upper, false)? {
            Some(body) => body,
            None => return Err(ParseError::unknown_command(name).into()),
        },
    };
    Ok(body)
}

/// Parses FETCH, STORE, COPY or SEARCH, or returns `None` for another name.
fn parse_message_command<'a>(
    cursor: &mut Cursor<'a>,
    upper: &[u8],
    uid: bool,
) -> Step<Option<CommandBody<'a>>> {
    let body = match upper {
        b"FETCH" => fetch::parse_fetch(cursor, uid)?,
        b"STORE" => parse_store(cursor, uid)?,
        b"COPY" => parse_copy(cursor, uid)?,
        b"SEARCH" => search::parse_search(cursor, uid)?,
        _ => return Ok(None),
    };
    Ok(Some(body))
}

/// Parses `UID SP (FETCH / STORE / COPY / SEARCH) ...`.
fn parse_uid<'a>(cursor: &mut Cursor<'a>) -> Step<CommandBody<'a>> {
    cursor.space()?;
    let name = cursor.atom("FETCH, STORE, COPY or SEARCH after UID")?;
    let mut buf = KeywordBuf::default();
    let upper = upper_keyword(name, &mut buf);
    match parse_message_command(cursor, upper, true)? {
        Some(body) => Ok(body),
        None => Err(ParseError::unknown_command(&[b"UID ".as_slice(), name].concat()).into()),
    }
}

/// Parses `LOGIN SP userid SP password`.
fn parse_login<'a>(cursor: &mut Cursor<'a>) -> Step<CommandBody<'a>> {
    cursor.space()?;
    let username = cursor.astring()?;
    cursor.space()?;
    let password = cursor.astring()?;
    Ok(CommandBody::Login { username, password })
}

/// Parses `AUTHENTICATE SP mechanism [SP (base64 / "=")]`.
fn parse_authenticate<'a>(cursor: &mut Cursor<'a>) -> Step<CommandBody<'a>> {
    cursor.space()?;
    let mechanism = cursor.atom_str("sasl mechanism")?;

    let mut initial_response = None;
    if cursor.eat(b' ') {
        let offset = cursor.offset();
        let text = cursor.take_some(is_base64_char, "base64 initial response or =")?;
        if text == b"=" {
            initial_response = Some(&text[..0]);
        } else if is_base64(text) {
            initial_response = Some(text);
        } else {
            return Err(Stop::Invalid(ParseError::Syntax {
                expected: "base64 with a length that is a multiple of 4",
                offset,
                found: text.first().copied(),
            }));
        }
    }
    Ok(CommandBody::Authenticate {
        mechanism,
        initial_response,
    })
}

/// Whether `byte` belongs to the base64 alphabet, padding included.
fn is_base64_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'/' | b'=')
}

/// Whether `text` is padded base64: groups of 4, with `=` only at the end.
fn is_base64(text: &[u8]) -> bool {
    let data_len = text
        .iter()
        .rposition(|&byte| byte != b'=')
        .map_or(0, |index| index + 1);
    let padding = text.len() - data_len;
    text.len().is_multiple_of(4) && padding <= 2 && !text[..data_len].contains(&b'=')
}

/// Parses `LIST` or `LSUB`: `SP mailbox SP list-mailbox`.
fn parse_list<'a>(cursor: &mut Cursor<'a>, lsub: bool) -> Step<CommandBody<'a>> {
    cursor.space()?;
    let reference = cursor.astring()?;
    cursor.space()?;
    let pattern = cursor.list_mailbox()?;
    if lsub {
        return Ok(CommandBody::Lsub { reference, pattern });
    }
    Ok(CommandBody::List { reference, pattern })
}

/// Parses `SP mailbox`.
fn space_mailbox<'a>(cursor: &mut Cursor<'a>) -> Step<MailboxName<'a>> {
    cursor.space()?;
    mailbox(cursor)
}

/// Parses a mailbox name, an astring.
pub(super) fn mailbox<'a>(cursor: &mut Cursor<'a>) -> Step<MailboxName<'a>> {
    cursor.astring().map(MailboxName::new)
}

/// Parses `STATUS SP mailbox SP "(" status-att *(SP status-att) ")"`.
fn parse_status<'a>(cursor: &mut Cursor<'a>) -> Step<CommandBody<'a>> {
    let mailbox = space_mailbox(cursor)?;
    cursor.space()?;
    cursor.expect(b'(', "( before status items")?;

    let mut items = Vec::new();
    loop {
        cursor.check_items(items.len(), "status items")?;
        let offset = cursor.offset();
        let name = cursor.atom("status item")?;
        let item = match upper_keyword(name, &mut KeywordBuf::default()) {
            b"MESSAGES" => StatusItem::Messages,
            b"RECENT" => StatusItem::Recent,
            b"UIDNEXT" => StatusItem::UidNext,
            b"UIDVALIDITY" => StatusItem::UidValidity,
            b"UNSEEN" => StatusItem::Unseen,
            _ => {
                return Err(Stop::Invalid(ParseError::Syntax {
                    expected: "MESSAGES, RECENT, UIDNEXT, UIDVALIDITY or UNSEEN",
                    offset,
                    found: name.first().copied(),
                }))
            }
        };
        items.push(item);
        if !cursor.eat(b' ') {
            break;
        }
    }

    cursor.expect(b')', ") after status items")?;
    Ok(CommandBody::Status { mailbox, items })
}

/// Parses `APPEND SP mailbox [SP flag-list] [SP date-time] SP literal`.
fn parse_append<'a>(cursor: &mut Cursor<'a>) -> Step<CommandBody<'a>> {
    let mailbox = space_mailbox(cursor)?;
    cursor.space()?;

    let mut flags = Vec::new();
    if cursor.peek() == Some(b'(') {
        flags = flag_list(cursor)?;
        cursor.space()?;
    }

    let mut date = None;
    if cursor.peek() == Some(b'"') {
        date = Some(date_time(cursor)?);
        cursor.space()?;
    }

    let message = cursor.literal()?;
    Ok(CommandBody::Append {
        mailbox,
        flags,
        date,
        message,
    })
}

/// Parses `STORE SP sequence-set SP ["+" / "-"] "FLAGS" [".SILENT"] SP flags`,
/// where the flags come as a parenthesized list or as bare flags.
fn parse_store<'a>(cursor: &mut Cursor<'a>, uid: bool) -> Step<CommandBody<'a>> {
    cursor.space()?;
    let sequence_set = sequence_set(cursor)?;
    cursor.space()?;

    let kind = if cursor.eat(b'+') {
        StoreKind::Add
    } else if cursor.eat(b'-') {
        StoreKind::Remove
    } else {
        StoreKind::Replace
    };
    let offset = cursor.offset();
    let item = cursor.atom("FLAGS or FLAGS.SILENT")?;
    let silent = if item.eq_ignore_ascii_case(b"FLAGS") {
        false
    } else if item.eq_ignore_ascii_case(b"FLAGS.SILENT") {
        true
    } else {
        return Err(Stop::Invalid(ParseError::Syntax {
            expected: "FLAGS or FLAGS.SILENT",
            offset,
            found: item.first().copied(),
        }));
    };
    cursor.space()?;

    let flags = if cursor.peek() == Some(b'(') {
        flag_list(cursor)?
    } else {
        bare_flags(cursor)?
    };
    Ok(CommandBody::Store {
        sequence_set,
        kind,
        silent,
        flags,
        uid,
    })
}

/// Parses `COPY SP sequence-set SP mailbox`.
fn parse_copy<'a>(cursor: &mut Cursor<'a>, uid: bool) -> Step<CommandBody<'a>> {
    cursor.space()?;
    let sequence_set = sequence_set(cursor)?;
    let mailbox = space_mailbox(cursor)?;
    Ok(CommandBody::Copy {
        sequence_set,
        mailbox,
        uid,
    })
}

/// Parses `"(" [flag *(SP flag)] ")"`.
pub(super) fn flag_list<'a>(cursor: &mut Cursor<'a>) -> Step<Vec<Flag<'a>>> {
    cursor.expect(b'(', "( before flags")?;
    if cursor.eat(b')') {
        return Ok(Vec::new());
    }
    let flags = bare_flags(cursor)?;
    cursor.expect(b')', ") after flags")?;
    Ok(flags)
}

/// Parses `flag *(SP flag)`.
fn bare_flags<'a>(cursor: &mut Cursor<'a>) -> Step<Vec<Flag<'a>>> {
    let mut flags = Vec::new();
    loop {
        cursor.check_items(flags.len(), "flags")?;
        flags.push(flag(cursor)?);
        if !cursor.eat(b' ') {
            return Ok(flags);
        }
    }
}

/// Parses one flag: a system flag, `\` atom, or a keyword atom.
pub(super) fn flag<'a>(cursor: &mut Cursor<'a>) -> Step<Flag<'a>> {
    if !cursor.eat(b'\\') {
        return Ok(Flag::Keyword(cursor.atom_str("flag")?));
    }
    let name = cursor.atom_str("flag name after \\")?;
    let flag = match upper_keyword(name.as_bytes(), &mut KeywordBuf::default()) {
        b"SEEN" => Flag::Seen,
        b"ANSWERED" => Flag::Answered,
        b"FLAGGED" => Flag::Flagged,
        b"DELETED" => Flag::Deleted,
        b"DRAFT" => Flag::Draft,
        b"RECENT" => Flag::Recent,
        _ => Flag::Extension(name),
    };
    Ok(flag)
}

/// Parses a sequence set: `(seq-number / seq-range) *("," ...)`.
pub(super) fn sequence_set(cursor: &mut Cursor<'_>) -> Step<SequenceSet> {
    let mut ranges = Vec::new();
    loop {
        cursor.check_items(ranges.len(), "sequence ranges")?;
        let start = sequence_number(cursor)?;
        let end = if cursor.eat(b':') {
            sequence_number(cursor)?
        } else {
            start
        };
        ranges.push(SequenceRange { start, end });
        if !cursor.eat(b',') {
            return Ok(SequenceSet { ranges });
        }
    }
}

/// Parses `nz-number / "*"`.
fn sequence_number(cursor: &mut Cursor<'_>) -> Step<SequenceNumber> {
    if cursor.eat(b'*') {
        return Ok(SequenceNumber::Star);
    }
    if !cursor.peek().is_some_and(|byte| byte.is_ascii_digit()) {
        return Err(cursor.syntax("sequence number or *"));
    }
    match cursor.number()? {
        0 => Err(Stop::Invalid(ParseError::ZeroInSequenceSet)),
        value => Ok(SequenceNumber::Value(value)),
    }
}

/// Parses a month abbreviation, ignoring case, and returns 1 to 12.
pub(super) fn month(name: &[u8]) -> Option<u8> {
    let index = MONTH_NAMES
        .iter()
        .position(|month| month.eq_ignore_ascii_case(name))?;
    u8::try_from(index + 1).ok()
}

/// Parses a run of exactly `width` ASCII digits into their value.
pub(super) fn fixed_digits(text: &[u8], width: usize) -> Option<u32> {
    if text.len() != width || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        text.iter()
            .fold(0, |value, digit| value * 10 + u32::from(digit - b'0')),
    )
}

/// Parses an APPEND date-time, `"dd-Mon-yyyy hh:mm:ss +zzzz"`, and returns the text inside the quotes.
fn date_time<'a>(cursor: &mut Cursor<'a>) -> Step<&'a [u8]> {
    let offset = cursor.offset();
    cursor.expect(b'"', "date-time")?;
    let text = cursor.take_while(|byte| byte != b'"' && (byte == b' ' || is_atom_char(byte)));
    cursor.expect(b'"', "closing quote of date-time")?;
    if !is_valid_date_time(text) {
        return Err(Stop::Invalid(ParseError::InvalidDate { offset }));
    }
    Ok(text)
}

/// Whether `text` is `dd-Mon-yyyy hh:mm:ss +zzzz` naming an existing day
/// and time. The day may be space-padded, as in ` 4-Jul-2024`.
fn is_valid_date_time(text: &[u8]) -> bool {
    let [d1, d2, b'-', m1, m2, m3, b'-', y1, y2, y3, y4, b' ', rest @ ..] = text else {
        return false;
    };
    let [h1, h2, b':', n1, n2, b':', s1, s2, b' ', sign, z1, z2, z3, z4] = rest else {
        return false;
    };

    let day = if *d1 == b' ' {
        fixed_digits(&[*d2], 1)
    } else {
        fixed_digits(&[*d1, *d2], 2)
    };
    let month = month(&[*m1, *m2, *m3]);
    let year = fixed_digits(&[*y1, *y2, *y3, *y4], 4);
    let (Some(day), Some(month), Some(year)) = (day, month, year) else {
        return false;
    };
    let Ok(year) = u16::try_from(year) else {
        return false;
    };
    if day == 0 || day > u32::from(days_in_month(year, month)) {
        return false;
    }

    let hour = fixed_digits(&[*h1, *h2], 2);
    let minute = fixed_digits(&[*n1, *n2], 2);
    let second = fixed_digits(&[*s1, *s2], 2);
    let zone_hours = fixed_digits(&[*z1, *z2], 2);
    let zone_minutes = fixed_digits(&[*z3, *z4], 2);
    matches!(sign, b'+' | b'-')
        && hour.is_some_and(|hour| hour < 24)
        && minute.is_some_and(|minute| minute < 60)
        // 60 allows a leap second.
        && second.is_some_and(|second| second <= 60)
        && zone_hours.is_some()
        && zone_minutes.is_some_and(|minutes| minutes < 60)
}
