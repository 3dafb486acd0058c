//! Locating the bytes of a FETCH body section (RFC 3501 section 6.4.5):
//! the header, the text, chosen header fields, and MIME parts by number.
//!
//! Everything here returns ranges into the message as stored, never copies.
//! The MIME walk is bounded by [`PART_DEPTH_MAX`] and [`PARTS_MAX`] so a
//! hostile message cannot make a FETCH expensive.

use std::ops::Range;

use memchr::memmem;
use ringmail_protocols::imap::{Section, SectionText};

/// Deepest part path followed; deeper sections are empty.
pub const PART_DEPTH_MAX: usize = 32;

/// Most parts scanned inside one multipart body.
pub const PARTS_MAX: usize = 1000;

/// Returns the offset where the body starts: just after the blank line that
/// ends the header, or the end of `entity` when there is no blank line.
pub fn body_start(entity: &[u8]) -> usize {
    if entity.starts_with(b"\r\n") {
        return 2;
    }
    if entity.starts_with(b"\n") {
        return 1;
    }
    let crlf = memmem::find(entity, b"\r\n\r\n").map(|at| at + 4);
    let lf = memmem::find(entity, b"\n\n").map(|at| at + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) => a,
        (None, Some(b)) => b,
        (None, None) => entity.len(),
    }
}

/// One header field: its name and the range of the whole field in the
/// header, from the name through the line end of its last continuation line.
pub struct Field<'a> {
    pub name: &'a [u8],
    pub range: Range<usize>,
}

/// Splits a header block into fields. Lines without a colon are skipped.
pub fn fields(header: &[u8]) -> Vec<Field<'_>> {
    let mut fields: Vec<Field<'_>> = Vec::new();
    let mut position = 0;
    while position < header.len() {
        let line_end = memchr::memchr(b'\n', &header[position..])
            .map(|at| position + at + 1)
            .unwrap_or(header.len());
        let line = &header[position..line_end];
        let is_continuation = matches!(line.first(), Some(b' ' | b'\t'));
        if is_continuation {
            if let Some(last) = fields.last_mut() {
                last.range.end = line_end;
            }
        } else if let Some(colon) = memchr::memchr(b':', line) {
            let name = trim_ascii_end(&line[..colon]);
            if !name.is_empty() && !line.starts_with(b"\r\n") && line != b"\n" {
                fields.push(Field {
                    name,
                    range: position..line_end,
                });
            }
        }
        position = line_end;
    }
    fields
}

/// Returns the unfolded value of the first field called `name`, if any.
pub fn field_value(header: &[u8], name: &str) -> Option<String> {
    let field = fields(header)
        .into_iter()
        .find(|field| field.name.eq_ignore_ascii_case(name.as_bytes()))?;
    let raw = &header[field.range];
    let value = &raw[field_name_end(raw)..];
    let mut text = String::with_capacity(value.len());
    for &byte in value {
        if byte != b'\r' && byte != b'\n' {
            text.push(byte as char);
        }
    }
    Some(text.trim().to_string())
}

fn field_name_end(raw: &[u8]) -> usize {
    memchr::memchr(b':', raw).map(|at| at + 1).unwrap_or(raw.len())
}

fn trim_ascii_end(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|byte| !byte.is_ascii_whitespace())
        .map(|at| at + 1)
        .unwrap_or(0);
    &bytes[..end]
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

impl Entity {
    /// Returns the entity spanning all of `message`.
    pub fn whole(message: &[u8]) -> Entity {
        let start = body_start(message);
        Entity {
            header: 0..start,
            body: start..message.len(),
        }
    }
}

/// The media type of an entity, lowercased, and its boundary parameter.
struct ContentType {
    media_type: String,
    boundary: Option<String>,
}

fn content_type(header: &[u8]) -> ContentType {
    let Some(value) = field_value(header, "Content-Type") else {
        return ContentType {
            media_type: "text/plain".to_string(),
            boundary: None,
        };
    };
    let mut pieces = value.split(';');
    let media_type = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
    let boundary = pieces.find_map(|parameter| {
        let (name, value) = parameter.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_string())
    });
    ContentType {
        media_type,
        boundary,
    }
}

/// Splits a multipart body into its parts, each as an entity with offsets
/// relative to `message`. Text before the first delimiter (the preamble) and
/// after the close delimiter (the epilogue) belongs to no part.
fn multipart_parts(message: &[u8], body: Range<usize>, boundary: &str) -> Vec<Entity> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let bytes = &message[body.clone()];

    // Offsets of delimiter lines: a delimiter at the start of a line.
    let mut lines: Vec<(usize, usize, bool)> = Vec::new();
    let mut search = 0;
    while let Some(found) = memmem::find(&bytes[search..], delimiter) {
        let at = search + found;
        search = at + delimiter.len();
        let line_start = at == 0 || bytes[at - 1] == b'\n';
        if !line_start {
            continue;
        }
        let after = &bytes[at + delimiter.len()..];
        let closing = after.starts_with(b"--");
        let line_end = memchr::memchr(b'\n', after)
            .map(|end| at + delimiter.len() + end + 1)
            .unwrap_or(bytes.len());
        // The CRLF before a delimiter belongs to the delimiter (RFC 2046 5.1.1).
        let content_end = if at >= 2 && &bytes[at - 2..at] == b"\r\n" {
            at - 2
        } else if at >= 1 && bytes[at - 1] == b'\n' {
            at - 1
        } else {
            at
        };
        lines.push((content_end, line_end, closing));
        if closing || lines.len() > PARTS_MAX {
            break;
        }
        search = line_end;
    }

    let mut parts = Vec::new();
    for pair in lines.windows(2) {
        let (_, start, closing) = pair[0];
        if closing {
            break;
        }
        let (end, _, _) = pair[1];
        let end = end.max(start);
        let part = &bytes[start..end];
        let split = body_start_or_empty_header(part);
        parts.push(Entity {
            header: body.start + start..body.start + start + split,
            body: body.start + start + split..body.start + end,
        });
    }
    parts
}

/// A part's header ends at its first blank line; a part that starts with a
/// blank line has an empty header.
fn body_start_or_empty_header(part: &[u8]) -> usize {
    body_start(part)
}

/// Returns the entity at `path` (1-based part numbers) inside `message`, or
/// `None` when the path names no part.
pub fn find_part(message: &[u8], path: &[u32]) -> Option<Entity> {
    if path.len() > PART_DEPTH_MAX {
        return None;
    }
    let mut entity = Entity::whole(message);
    for (depth, &number) in path.iter().enumerate() {
        let header = &message[entity.header.clone()];
        let content = content_type(header);

        // A message/rfc822 part is entered before numbering its parts.
        if depth > 0 && content.media_type == "message/rfc822" {
            let inner = &message[entity.body.clone()];
            let split = body_start(inner);
            entity = Entity {
                header: entity.body.start..entity.body.start + split,
                body: entity.body.start + split..entity.body.end,
            };
            return descend(message, entity, &path[depth..]);
        }

        entity = match (content.media_type.starts_with("multipart/"), content.boundary) {
            (true, Some(boundary)) => multipart_parts(message, entity.body.clone(), &boundary)
                .into_iter()
                .nth(number.checked_sub(1)? as usize)?,
            // A non-multipart entity has exactly one part: itself.
            _ if number == 1 => entity,
            _ => return None,
        };
    }
    Some(entity)
}

fn descend(message: &[u8], entity: Entity, path: &[u32]) -> Option<Entity> {
    let sub_message = &message[entity.header.start..entity.body.end];
    let offset = entity.header.start;
    let found = find_part(sub_message, path)?;
    Some(Entity {
        header: found.header.start + offset..found.header.end + offset,
        body: found.body.start + offset..found.body.end + offset,
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
        assert_eq!(&MULTIPART[first.header], b"Content-Type: text/plain\r\n\r\n");
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
        let message = b"Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n\r\none\r\n--B\r\n\r\ntwo";
        let first = find_part(message, &[1]).unwrap();
        assert_eq!(&message[first.body], b"one");
    }

    #[test]
    fn part_path_deeper_than_limit_is_empty() {
        let path = vec![1u32; PART_DEPTH_MAX + 1];
        assert!(find_part(SIMPLE, &path).is_none());
    }
}
