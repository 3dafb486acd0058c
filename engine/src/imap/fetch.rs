//! FETCH response items for one message (RFC 3501 sections 6.4.5 and 7.4.2).
//!
//! The session decides which messages a FETCH names and sets \Seen; this
//! module writes the `* N FETCH (...)` line for one message, loading the file
//! only when an attribute needs its bytes.

use ringmail_protocols::imap::{response, FetchAttribute, Section, SectionText};
use ringmail_protocols::message;

use super::flags::FlagSet;
use super::section;

/// One message with the index fields that FETCH reports.
pub struct FetchItem<'a> {
    pub sequence: u32,
    pub uid: u32,
    pub flags: &'a FlagSet,
    pub recent: bool,
    pub size: u64,
    pub internal_date: i64,
}

/// Returns whether fetching `attributes` sets \Seen: a non-peek body section,
/// RFC822 or RFC822.TEXT (RFC 3501 section 6.4.5).
pub fn sets_seen(attributes: &[FetchAttribute<'_>]) -> bool {
    attributes.iter().any(|attribute| {
        matches!(
            attribute,
            FetchAttribute::Rfc822
                | FetchAttribute::Rfc822Text
                | FetchAttribute::BodySection { peek: false, .. }
        )
    })
}

/// Returns whether any of `attributes` needs the message's bytes.
pub fn needs_message(attributes: &[FetchAttribute<'_>]) -> bool {
    attributes.iter().any(|attribute| {
        matches!(
            attribute,
            FetchAttribute::Rfc822
                | FetchAttribute::Rfc822Header
                | FetchAttribute::Rfc822Text
                | FetchAttribute::BodySection { .. }
                | FetchAttribute::Envelope
                | FetchAttribute::BodyStructure
                | FetchAttribute::Body
        )
    })
}

/// Appends `* N FETCH (...)` for `item`. `message` contains the file's bytes
/// when [`needs_message`] returned true. `include_uid` adds UID for UID FETCH, and
/// `include_flags` adds FLAGS when the fetch changed them.
pub fn write_fetch(
    out: &mut Vec<u8>,
    item: &FetchItem<'_>,
    attributes: &[FetchAttribute<'_>],
    message: Option<&[u8]>,
    include_uid: bool,
    include_flags: bool,
) {
    out.extend_from_slice(format!("* {} FETCH (", item.sequence).as_bytes());
    let mut first = true;
    let mut separator = |out: &mut Vec<u8>| {
        if !first {
            out.push(b' ');
        }
        first = false;
    };

    let has_uid = attributes.iter().any(|a| matches!(a, FetchAttribute::Uid));
    if include_uid && !has_uid {
        separator(out);
        out.extend_from_slice(format!("UID {}", item.uid).as_bytes());
    }
    let has_flags = attributes
        .iter()
        .any(|a| matches!(a, FetchAttribute::Flags));
    if include_flags && !has_flags {
        separator(out);
        out.extend_from_slice(b"FLAGS ");
        item.flags.write(out, item.recent);
    }

    let message = message.unwrap_or(&[]);
    for attribute in attributes {
        separator(out);
        match attribute {
            FetchAttribute::Flags => {
                out.extend_from_slice(b"FLAGS ");
                item.flags.write(out, item.recent);
            }
            FetchAttribute::Uid => out.extend_from_slice(format!("UID {}", item.uid).as_bytes()),
            FetchAttribute::InternalDate => {
                out.extend_from_slice(b"INTERNALDATE ");
                response::write_internal_date(out, item.internal_date, 0);
            }
            FetchAttribute::Rfc822Size => {
                out.extend_from_slice(format!("RFC822.SIZE {}", item.size).as_bytes())
            }
            FetchAttribute::Rfc822 => {
                out.extend_from_slice(b"RFC822 ");
                response::write_literal(out, message);
            }
            FetchAttribute::Rfc822Header => {
                out.extend_from_slice(b"RFC822.HEADER ");
                response::write_literal(out, &message[..section::body_start(message)]);
            }
            FetchAttribute::Rfc822Text => {
                out.extend_from_slice(b"RFC822.TEXT ");
                response::write_literal(out, &message[section::body_start(message)..]);
            }
            FetchAttribute::BodySection {
                section: body_section,
                partial,
                ..
            } => write_body_section(out, message, body_section, *partial),
            FetchAttribute::Envelope => {
                out.extend_from_slice(b"ENVELOPE ");
                message::write_envelope(out, message);
            }
            FetchAttribute::BodyStructure => {
                out.extend_from_slice(b"BODYSTRUCTURE ");
                message::write_body_structure(out, message, true);
            }
            FetchAttribute::Body => {
                out.extend_from_slice(b"BODY ");
                message::write_body_structure(out, message, false);
            }
        }
    }
    out.extend_from_slice(b")\r\n");
}

/// Appends `BODY[section]<origin> {N}\r\n...` (the response never
/// contains BODY.PEEK).
fn write_body_section(
    out: &mut Vec<u8>,
    message: &[u8],
    body_section: &Section<'_>,
    partial: Option<(u32, u32)>,
) {
    out.extend_from_slice(b"BODY[");
    write_section_spec(out, body_section);
    out.push(b']');

    let bytes = section::extract(message, body_section);
    let bytes: &[u8] = &bytes;
    match partial {
        None => {
            out.push(b' ');
            response::write_literal(out, bytes);
        }
        Some((origin, count)) => {
            out.extend_from_slice(format!("<{origin}> ").as_bytes());
            let start = (origin as usize).min(bytes.len());
            let end = start.saturating_add(count as usize).min(bytes.len());
            response::write_literal(out, &bytes[start..end]);
        }
    }
}

/// Appends the section specification as the client sent it, e.g.
/// `1.2.HEADER.FIELDS (FROM TO)`.
fn write_section_spec(out: &mut Vec<u8>, body_section: &Section<'_>) {
    for (index, number) in body_section.part.iter().enumerate() {
        if index > 0 {
            out.push(b'.');
        }
        out.extend_from_slice(number.to_string().as_bytes());
    }
    let Some(text) = &body_section.text else {
        return;
    };
    if !body_section.part.is_empty() {
        out.push(b'.');
    }
    match text {
        SectionText::Header => out.extend_from_slice(b"HEADER"),
        SectionText::Text => out.extend_from_slice(b"TEXT"),
        SectionText::Mime => out.extend_from_slice(b"MIME"),
        SectionText::HeaderFields { not, fields } => {
            out.extend_from_slice(if *not {
                b"HEADER.FIELDS.NOT ("
            } else {
                b"HEADER.FIELDS ("
            });
            for (index, field) in fields.iter().enumerate() {
                if index > 0 {
                    out.push(b' ');
                }
                write_field_name(out, field);
            }
            out.push(b')');
        }
    }
}

/// Appends a header field name as an atom when it is one, else as a string.
fn write_field_name(out: &mut Vec<u8>, name: &str) {
    let is_atom = !name.is_empty()
        && name
            .bytes()
            .all(|byte| byte.is_ascii_graphic() && !b"(){%*\"\\]".contains(&byte));
    if is_atom {
        out.extend_from_slice(name.as_bytes());
    } else {
        response::write_string(out, name.as_bytes());
    }
}
