//! Locating the bytes of a FETCH body section (RFC 3501 section 6.4.5):
//! the header, the text, chosen header fields, and MIME parts by number.
//!
//! Everything here returns ranges into the message as stored, never copies,
//! except HEADER.FIELDS, which is built. Part numbers are resolved by
//! `ringmail_protocols::message::find_part`, whose limits on nesting and
//! part count keep a hostile message from making a FETCH expensive.

use std::ops::Range;

use ringmail_protocols::imap::{Section, SectionText};
use ringmail_protocols::message;

/// The maximum length of a part path. Longer paths name no part.
#[cfg(test)]
pub const PART_DEPTH_MAX: usize = message::DEPTH_MAX;

/// Returns the offset where the body starts: just after the empty line that
/// ends the header, or the end of `entity` when there is no empty line.
pub fn body_start(entity: &[u8]) -> usize {
    message::body_start(entity)
}

/// One header field: its name and the range of the whole field in the
/// header, from the name through the line end of its last continuation line.
pub struct Field<'a> {
    pub name: &'a [u8],
    pub range: Range<usize>,
}

/// Splits a header block into fields. Lines without a colon are skipped.
pub fn fields(header: &[u8]) -> Vec<Field<'_>> {
    message::fields(header)
        .map(|field| Field {
            name: &header[field.name],
            range: field.raw,
        })
        .collect()
}

/// Returns the unfolded value of the first field called `name`, if any.
pub fn field_value(header: &[u8], name: &str) -> Option<String> {
    let value = message::field_value(header, name.as_bytes(), message::FIELDS_MAX)?;
    Some(String::from_utf8_lossy(&value).into_owned())
}

/// Appends the fields of `header` selected by `names` (or all others when
/// `not`) followed by the blank line that ends a header, as HEADER.FIELDS
/// returns them.
pub fn write_header_fields(out: &mut Vec<u8>, header: &[u8], names: &[&str], not: bool) {
    for field in fields(header) {
        let listed = names
            .iter()
            .any(|name| field.name.eq_ignore_ascii_case(name.as_bytes()));
        if listed != not {
            out.extend_from_slice(&header[field.range]);
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// A MIME entity inside a message: the range of its header and of its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entity {
    pub header: Range<usize>,
    pub body: Range<usize>,
}

/// Returns the entity at `path` (1-based part numbers) inside `message`, or
/// `None` when the path names no part.
pub fn find_part(message: &[u8], path: &[u32]) -> Option<Entity> {
    let part = message::find_part(message, path)?;
    Some(Entity {
        header: part.header,
        body: part.body,
    })
}

/// Returns the bytes that a FETCH of `section` returns from `message`.
/// The result borrows `message` except for HEADER.FIELDS, which is built.
pub fn extract<'m>(message: &'m [u8], section: &Section<'_>) -> std::borrow::Cow<'m, [u8]> {
    use std::borrow::Cow;

    let Some(entity) = find_part(message, &section.part) else {
        return Cow::Borrowed(&[]);
    };

    // For a part, HEADER and TEXT refer to an encapsulated message, whose
    // header starts the part's body.
    let (header, text) = if section.part.is_empty() {
        (entity.header.clone(), entity.body.clone())
    } else {
        let inner = &message[entity.body.clone()];
        let split = body_start(inner);
        (
            entity.body.start..entity.body.start + split,
            entity.body.start + split..entity.body.end,
        )
    };

    match &section.text {
        None if section.part.is_empty() => Cow::Borrowed(message),
        None => Cow::Borrowed(&message[entity.body]),
        Some(SectionText::Mime) => Cow::Borrowed(&message[entity.header]),
        Some(SectionText::Header) => Cow::Borrowed(&message[header]),
        Some(SectionText::Text) => Cow::Borrowed(&message[text]),
        Some(SectionText::HeaderFields { not, fields }) => {
            let mut out = Vec::new();
            write_header_fields(&mut out, &message[header], fields, *not);
            Cow::Owned(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIMPLE: &[u8] = b"From: a@b\r\nSubject: hi\r\n there\r\nTo: c@d\r\n\r\nbody line\r\n";

    const MULTIPART: &[u8] = b"Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n\
preamble\r\n--XX\r\nContent-Type: text/plain\r\n\r\nfirst\r\n--XX\r\n\
Content-Type: text/html\r\n\r\n<p>second</p>\r\n--XX--\r\nepilogue\r\n";

    #[test]
    fn header_ends_after_blank_line() {
        assert_eq!(&SIMPLE[body_start(SIMPLE)..], b"body line\r\n");
        assert_eq!(body_start(b"no blank line"), 13);
        assert_eq!(body_start(b"\r\nbody"), 2);
    }

    #[test]
    fn header_fields_keep_folds() {
        let header = &SIMPLE[..body_start(SIMPLE)];
        let mut out = Vec::new();
        write_header_fields(&mut out, header, &["subject"], false);
        assert_eq!(out, b"Subject: hi\r\n there\r\n\r\n");
        out.clear();
        write_header_fields(&mut out, header, &["subject"], true);
        assert_eq!(out, b"From: a@b\r\nTo: c@d\r\n\r\n");
    }

    #[test]
    fn folded_value_is_unfolded() {
        assert_eq!(field_value(SIMPLE, "SUBJECT").as_deref(), Some("hi there"));
        assert_eq!(field_value(SIMPLE, "Cc"), None);
    }

    #[test]
    fn multipart_parts_are_numbered_from_one() {
        let first = find_part(MULTIPART, &[1]).unwrap();
        assert_eq!(&MULTIPART[first.body], b"first");
        assert_eq!(
            &MULTIPART[first.header],
            b"Content-Type: text/plain\r\n\r\n"
        );
        let second = find_part(MULTIPART, &[2]).unwrap();
        assert_eq!(&MULTIPART[second.body], b"<p>second</p>");
        assert!(find_part(MULTIPART, &[3]).is_none());
        assert!(find_part(MULTIPART, &[0]).is_none());
    }

    #[test]
    fn single_part_message_is_part_one() {
        let part = find_part(SIMPLE, &[1]).unwrap();
        assert_eq!(&SIMPLE[part.body], b"body line\r\n");
        assert!(find_part(SIMPLE, &[2]).is_none());
    }

    #[test]
    fn multipart_without_close_delimiter_keeps_closed_parts() {
        let message =
            b"Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n\r\none\r\n--B\r\n\r\ntwo";
        let first = find_part(message, &[1]).unwrap();
        assert_eq!(&message[first.body], b"one");
    }

    #[test]
    fn part_path_deeper_than_limit_is_empty() {
        let path = vec![1u32; PART_DEPTH_MAX + 1];
        assert!(find_part(SIMPLE, &path).is_none());
    }
}
