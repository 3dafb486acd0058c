//! SEARCH: `SEARCH [SP "CHARSET" SP astring] 1*(SP search-key)`.
//!
//! Keys nest through parentheses, `NOT` and `OR`, and the parser recurses
//! once per level. `Limits::depth_max` bounds that recursion so a line of
//! `NOT NOT NOT ...` or `((((...` cannot exhaust the stack. Each list of
//! keys, at the top level or inside parentheses, contains at most
//! `Limits::items_max` keys. A parenthesized list, and a top level with more
//! than one key, become `SearchKey::And`.

use super::command::{fixed_digits, flag, month, sequence_set};
use super::cursor::{upper_keyword, Cursor, KeywordBuf, Step, Stop};
use super::error::ParseError;
use super::types::{CommandBody, Date, Flag, SearchKey};

/// Parses the arguments of SEARCH after the command name.
pub(super) fn parse_search<'a>(cursor: &mut Cursor<'a>, uid: bool) -> Step<CommandBody<'a>> {
    cursor.space()?;
    let charset = charset(cursor)?;

    let mut keys = Vec::new();
    loop {
        cursor.check_items(keys.len(), "search keys")?;
        keys.push(search_key(cursor, 1)?);
        if !cursor.eat(b' ') {
            break;
        }
    }

    let criteria = match <[SearchKey<'a>; 1]>::try_from(keys) {
        Ok([key]) => key,
        Err(keys) => SearchKey::And(keys),
    };
    Ok(CommandBody::Search {
        charset,
        criteria,
        uid,
    })
}

/// Parses an optional `CHARSET SP astring SP` prefix.
fn charset<'a>(cursor: &mut Cursor<'a>) -> Step<Option<&'a str>> {
    let rest_starts_with_charset = {
        let start = cursor.offset();
        let word = cursor.take_while(|byte| byte.is_ascii_alphabetic());
        let is_charset = word.eq_ignore_ascii_case(b"CHARSET") && cursor.peek() == Some(b' ');
        cursor.rewind(start);
        is_charset
    };
    if !rest_starts_with_charset {
        return Ok(None);
    }

    cursor.take_while(|byte| byte.is_ascii_alphabetic());
    cursor.space()?;
    let name = cursor.astring_str("ascii charset name")?;
    cursor.space()?;
    Ok(Some(name))
}

/// Parses one search key at nesting level `depth` (1 at the top level).
fn search_key<'a>(cursor: &mut Cursor<'a>, depth: usize) -> Step<SearchKey<'a>> {
    cursor.check_depth(depth)?;

    match cursor.peek() {
        Some(b'(') => return parenthesized(cursor, depth),
        Some(b'*' | b'0'..=b'9') => return Ok(SearchKey::SequenceSet(sequence_set(cursor)?)),
        _ => {}
    }

    let offset = cursor.offset();
    let name = cursor.take_some(|byte| byte.is_ascii_alphabetic(), "search key")?;
    let key = match upper_keyword(name, &mut KeywordBuf::default()) {
        b"ALL" => SearchKey::All,
        b"ANSWERED" => SearchKey::Answered,
        b"DELETED" => SearchKey::Deleted,
        b"DRAFT" => SearchKey::Draft,
        b"FLAGGED" => SearchKey::Flagged,
        b"NEW" => SearchKey::New,
        b"OLD" => SearchKey::Old,
        b"RECENT" => SearchKey::Recent,
        b"SEEN" => SearchKey::Seen,
        b"UNANSWERED" => SearchKey::Unanswered,
        b"UNDELETED" => SearchKey::Undeleted,
        b"UNDRAFT" => SearchKey::Undraft,
        b"UNFLAGGED" => SearchKey::Unflagged,
        b"UNSEEN" => SearchKey::Unseen,
        b"KEYWORD" => SearchKey::Keyword(keyword(cursor)?),
        b"UNKEYWORD" => SearchKey::Unkeyword(keyword(cursor)?),
        b"LARGER" => SearchKey::Larger(space_number(cursor)?),
        b"SMALLER" => SearchKey::Smaller(space_number(cursor)?),
        b"BEFORE" => SearchKey::Before(space_date(cursor)?),
        b"ON" => SearchKey::On(space_date(cursor)?),
        b"SINCE" => SearchKey::Since(space_date(cursor)?),
        b"SENTBEFORE" => SearchKey::SentBefore(space_date(cursor)?),
        b"SENTON" => SearchKey::SentOn(space_date(cursor)?),
        b"SENTSINCE" => SearchKey::SentSince(space_date(cursor)?),
        b"BCC" => SearchKey::Bcc(space_astring(cursor)?),
        b"BODY" => SearchKey::Body(space_astring(cursor)?),
        b"CC" => SearchKey::Cc(space_astring(cursor)?),
        b"FROM" => SearchKey::From(space_astring(cursor)?),
        b"SUBJECT" => SearchKey::Subject(space_astring(cursor)?),
        b"TEXT" => SearchKey::Text(space_astring(cursor)?),
        b"TO" => SearchKey::To(space_astring(cursor)?),
        b"HEADER" => {
            let field = space_astring(cursor)?;
            SearchKey::Header(field, space_astring(cursor)?)
        }
        b"UID" => {
            cursor.space()?;
            SearchKey::Uid(sequence_set(cursor)?)
        }
        b"NOT" => {
            cursor.space()?;
            SearchKey::Not(Box::new(search_key(cursor, depth + 1)?))
        }
        b"OR" => {
            cursor.space()?;
            let left = search_key(cursor, depth + 1)?;
            cursor.space()?;
            let right = search_key(cursor, depth + 1)?;
            SearchKey::Or(Box::new(left), Box::new(right))
        }
        _ => {
            return Err(Stop::Invalid(ParseError::Syntax {
                expected: "search key",
                offset,
                found: name.first().copied(),
            }))
        }
    };
    Ok(key)
}

/// Parses `"(" search-key *(SP search-key) ")"` into `And`.
fn parenthesized<'a>(cursor: &mut Cursor<'a>, depth: usize) -> Step<SearchKey<'a>> {
    cursor.expect(b'(', "(")?;
    let mut keys = Vec::new();
    loop {
        cursor.check_items(keys.len(), "search keys")?;
        keys.push(search_key(cursor, depth + 1)?);
        if !cursor.eat(b' ') {
            break;
        }
    }
    cursor.expect(b')', ") after search keys")?;
    Ok(SearchKey::And(keys))
}

/// Parses `SP flag-keyword`, an atom that is not a backslash flag.
fn keyword<'a>(cursor: &mut Cursor<'a>) -> Step<&'a str> {
    cursor.space()?;
    match flag(cursor)? {
        Flag::Keyword(name) => Ok(name),
        _ => Err(cursor.syntax("keyword without \\")),
    }
}

/// Parses `SP number`.
fn space_number(cursor: &mut Cursor<'_>) -> Step<u32> {
    cursor.space()?;
    cursor.number()
}

/// Parses `SP astring`.
fn space_astring<'a>(cursor: &mut Cursor<'a>) -> Step<std::borrow::Cow<'a, [u8]>> {
    cursor.space()?;
    cursor.astring()
}

/// Parses `SP date`, where a date is `d-Mon-yyyy` or the same in double quotes.
fn space_date(cursor: &mut Cursor<'_>) -> Step<Date> {
    cursor.space()?;
    let offset = cursor.offset();
    let quoted = cursor.eat(b'"');
    let text = cursor.take_while(|byte| byte.is_ascii_alphanumeric() || byte == b'-');
    if quoted {
        cursor.expect(b'"', "closing quote of date")?;
    }
    parse_date(text).ok_or(Stop::Invalid(ParseError::InvalidDate { offset }))
}

/// Parses `date-day "-" date-month "-" date-year`, where the day has 1 or 2 digits.
fn parse_date(text: &[u8]) -> Option<Date> {
    let mut fields = text.split(|&byte| byte == b'-');
    let day_text = fields.next()?;
    let month_text = fields.next()?;
    let year_text = fields.next()?;
    if fields.next().is_some() {
        return None;
    }

    let day = fixed_digits(day_text, day_text.len().clamp(1, 2))?;
    let month = month(month_text)?;
    let year = fixed_digits(year_text, 4)?;
    Date::new(u16::try_from(year).ok()?, month, u8::try_from(day).ok()?)
}
