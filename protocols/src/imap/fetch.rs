//! FETCH: `FETCH SP sequence-set SP (macro / fetch-att / "(" fetch-att *(SP fetch-att) ")")`.
//!
//! The macros ALL, FAST and FULL expand to their attribute lists here, so
//! the engine receives only attributes. A body section is
//! `BODY[part.part.TEXT]<origin.count>` or the same after `BODY.PEEK`. The
//! part path is bounded by `Limits::depth_max`, because each number is one
//! level of MIME nesting, and the attribute and header-field lists by
//! `Limits::items_max`.

use super::command::sequence_set;
use super::cursor::{is_atom_char, upper_keyword, Cursor, KeywordBuf, Step, Stop};
use super::error::ParseError;
use super::types::{CommandBody, FetchAttribute, Section, SectionText};

/// Parses the arguments of FETCH after the command name.
pub(super) fn parse_fetch<'a>(cursor: &mut Cursor<'a>, uid: bool) -> Step<CommandBody<'a>> {
    cursor.space()?;
    let sequence_set = sequence_set(cursor)?;
    cursor.space()?;
    let attributes = attributes(cursor)?;
    Ok(CommandBody::Fetch {
        sequence_set,
        attributes,
        uid,
    })
}

/// Parses a macro, one attribute, or a parenthesized list of attributes.
fn attributes<'a>(cursor: &mut Cursor<'a>) -> Step<Vec<FetchAttribute<'a>>> {
    if cursor.eat(b'(') {
        return attribute_list(cursor);
    }

    let start = cursor.offset();
    let name = attribute_name(cursor)?;
    let mut buf = KeywordBuf::default();
    let upper = upper_keyword(name, &mut buf);
    let expansion: &[FetchAttribute<'a>] = match upper {
        b"ALL" => &[
            FetchAttribute::Flags,
            FetchAttribute::InternalDate,
            FetchAttribute::Rfc822Size,
            FetchAttribute::Envelope,
        ],
        b"FAST" => &[
            FetchAttribute::Flags,
            FetchAttribute::InternalDate,
            FetchAttribute::Rfc822Size,
        ],
        b"FULL" => &[
            FetchAttribute::Flags,
            FetchAttribute::InternalDate,
            FetchAttribute::Rfc822Size,
            FetchAttribute::Envelope,
            FetchAttribute::Body,
        ],
        _ => return Ok(vec![attribute_after_name(cursor, upper, start)?]),
    };
    Ok(expansion.to_vec())
}

/// Parses `fetch-att *(SP fetch-att) ")"` after the opening parenthesis.
fn attribute_list<'a>(cursor: &mut Cursor<'a>) -> Step<Vec<FetchAttribute<'a>>> {
    let mut attributes = Vec::new();
    loop {
        cursor.check_items(attributes.len(), "fetch attributes")?;
        let start = cursor.offset();
        let name = attribute_name(cursor)?;
        let mut buf = KeywordBuf::default();
        let upper = upper_keyword(name, &mut buf);
        attributes.push(attribute_after_name(cursor, upper, start)?);
        if !cursor.eat(b' ') {
            break;
        }
    }
    cursor.expect(b')', ") after fetch attributes")?;
    Ok(attributes)
}

/// Reads an attribute name such as `RFC822.SIZE` or `BODY.PEEK`, which stops before `[` or `<`.
fn attribute_name<'a>(cursor: &mut Cursor<'a>) -> Step<&'a [u8]> {
    cursor.take_some(
        |byte| is_atom_char(byte) && byte != b'[' && byte != b'<',
        "fetch attribute",
    )
}

/// Builds the attribute named `upper` (already upper case), reading its section if it has one.
fn attribute_after_name<'a>(
    cursor: &mut Cursor<'a>,
    upper: &[u8],
    start: usize,
) -> Step<FetchAttribute<'a>> {
    let attribute = match upper {
        b"FLAGS" => FetchAttribute::Flags,
        b"UID" => FetchAttribute::Uid,
        b"INTERNALDATE" => FetchAttribute::InternalDate,
        b"RFC822.SIZE" => FetchAttribute::Rfc822Size,
        b"RFC822" => FetchAttribute::Rfc822,
        b"RFC822.HEADER" => FetchAttribute::Rfc822Header,
        b"RFC822.TEXT" => FetchAttribute::Rfc822Text,
        b"ENVELOPE" => FetchAttribute::Envelope,
        b"BODYSTRUCTURE" => FetchAttribute::BodyStructure,
        b"BODY" if cursor.peek() != Some(b'[') => FetchAttribute::Body,
        b"BODY" | b"BODY.PEEK" => {
            let section = section(cursor)?;
            let partial = partial(cursor)?;
            FetchAttribute::BodySection {
                peek: upper == b"BODY.PEEK",
                section,
                partial,
            }
        }
        _ => {
            return Err(Stop::Invalid(ParseError::Syntax {
                expected: "fetch attribute",
                offset: start,
                found: upper.first().copied(),
            }))
        }
    };
    Ok(attribute)
}

/// Parses `"[" [section-spec] "]"`.
fn section<'a>(cursor: &mut Cursor<'a>) -> Step<Section<'a>> {
    cursor.expect(b'[', "[ before section")?;
    let mut part = Vec::new();
    let mut text = None;

    if cursor.peek().is_some_and(|byte| byte.is_ascii_digit()) {
        loop {
            cursor.check_depth(part.len() + 1)?;
            part.push(cursor.nz_number()?);
            if !cursor.eat(b'.') {
                break;
            }
            if !cursor.peek().is_some_and(|byte| byte.is_ascii_digit()) {
                text = Some(section_text(cursor, true)?);
                break;
            }
        }
    } else if cursor.peek() != Some(b']') {
        text = Some(section_text(cursor, false)?);
    }

    cursor.expect(b']', "] after section")?;
    Ok(Section { part, text })
}

/// Parses HEADER, HEADER.FIELDS[.NOT] with its list, TEXT, or (after a part number) MIME.
fn section_text<'a>(cursor: &mut Cursor<'a>, after_part: bool) -> Step<SectionText<'a>> {
    let offset = cursor.offset();
    let name = cursor.take_some(
        |byte| byte.is_ascii_alphabetic() || byte == b'.',
        "section text",
    )?;
    let text = match upper_keyword(name, &mut KeywordBuf::default()) {
        b"HEADER" => SectionText::Header,
        b"TEXT" => SectionText::Text,
        b"MIME" if after_part => SectionText::Mime,
        b"HEADER.FIELDS" => header_fields(cursor, false)?,
        b"HEADER.FIELDS.NOT" => header_fields(cursor, true)?,
        _ => {
            return Err(Stop::Invalid(ParseError::Syntax {
                expected: "HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT, TEXT or MIME after a part",
                offset,
                found: name.first().copied(),
            }))
        }
    };
    Ok(text)
}

/// Parses `SP "(" header-fld-name *(SP header-fld-name) ")"`.
fn header_fields<'a>(cursor: &mut Cursor<'a>, not: bool) -> Step<SectionText<'a>> {
    cursor.space()?;
    cursor.expect(b'(', "( before header field names")?;
    let mut fields = Vec::new();
    loop {
        cursor.check_items(fields.len(), "header field names")?;
        fields.push(cursor.astring_str("ascii header field name without escapes")?);
        if !cursor.eat(b' ') {
            break;
        }
    }
    cursor.expect(b')', ") after header field names")?;
    Ok(SectionText::HeaderFields { not, fields })
}

/// Parses the optional `"<" number "." nz-number ">"` after a section.
fn partial(cursor: &mut Cursor<'_>) -> Step<Option<(u32, u32)>> {
    if !cursor.eat(b'<') {
        return Ok(None);
    }
    let origin = cursor.number()?;
    cursor.expect(b'.', ". between partial origin and count")?;
    let count = cursor.nz_number()?;
    cursor.expect(b'>', "> after partial range")?;
    Ok(Some((origin, count)))
}
