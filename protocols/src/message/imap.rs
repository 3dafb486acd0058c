//! IMAP ENVELOPE and BODYSTRUCTURE / BODY values (RFC 3501 section 7.4.2).
//!
//! Both writers append the exact wire syntax of one value to `out` and
//! cannot fail: a message with no header, garbage fields or a broken MIME
//! structure still gets a value that follows the grammar. Header values go
//! out as written (encoded-words are not decoded), unfolded and trimmed.
//! Strings are quoted when they can be and literals otherwise, as
//! `crate::imap::response::write_string` decides.

use crate::imap::response::{write_nstring, write_string};

use super::address::{parse_address_list, Address};
use super::header::{body_start, fields, unfold};
use super::mime::{parse, Content, Param, Part};
use super::FIELDS_MAX;

/// Appends the ENVELOPE of `message`: `(date subject from sender reply-to
/// to cc bcc in-reply-to message-id)`.
pub fn write_envelope(out: &mut Vec<u8>, message: &[u8]) {
    write_envelope_of_header(out, &message[..body_start(message)]);
}

/// The header fields that ENVELOPE shows, in its order.
const ENVELOPE_FIELDS: [&[u8]; 10] = [
    b"date",
    b"subject",
    b"from",
    b"sender",
    b"reply-to",
    b"to",
    b"cc",
    b"bcc",
    b"in-reply-to",
    b"message-id",
];

/// Indexes into `ENVELOPE_FIELDS` of the fields that hold address lists.
const FROM: usize = 2;
const SENDER: usize = 3;
const REPLY_TO: usize = 4;

/// Appends the ENVELOPE built from one header block.
fn write_envelope_of_header(out: &mut Vec<u8>, header: &[u8]) {
    // The first occurrence of each field wins.
    let mut values: [Option<Vec<u8>>; 10] = Default::default();
    for field in fields(header).take(FIELDS_MAX) {
        let name = &header[field.name.clone()];
        let Some(index) = ENVELOPE_FIELDS
            .iter()
            .position(|wanted| name.eq_ignore_ascii_case(wanted))
        else {
            continue;
        };
        if values[index].is_none() {
            values[index] = Some(unfold(&header[field.value]).into_owned());
        }
    }

    let mut addresses: [Vec<Address>; 10] = Default::default();
    for index in FROM..=8 {
        if let Some(value) = &values[index] {
            addresses[index] = parse_address_list(value);
        }
    }
    // Sender and Reply-To default to From when absent or empty (RFC 3501 7.4.2).
    for index in [SENDER, REPLY_TO] {
        if addresses[index].is_empty() {
            addresses[index] = addresses[FROM].clone();
        }
    }

    out.push(b'(');
    write_nstring(out, values[0].as_deref());
    out.push(b' ');
    write_nstring(out, values[1].as_deref());
    for list in &addresses[FROM..=7] {
        out.push(b' ');
        write_address_list(out, list);
    }
    out.push(b' ');
    write_nstring(out, values[8].as_deref());
    out.push(b' ');
    write_nstring(out, values[9].as_deref());
    out.push(b')');
}

/// Appends `NIL` for an empty list, else `((name adl mailbox host) ...)`.
fn write_address_list(out: &mut Vec<u8>, list: &[Address]) {
    if list.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for address in list {
        match address {
            Address::Mailbox {
                name,
                route,
                mailbox,
                host,
            } => {
                out.push(b'(');
                write_nstring(out, name.as_deref());
                out.push(b' ');
                write_nstring(out, route.as_deref());
                out.push(b' ');
                write_string(out, mailbox);
                out.push(b' ');
                write_string(out, host);
                out.push(b')');
            }
            Address::GroupStart(name) => {
                out.extend_from_slice(b"(NIL NIL ");
                write_string(out, name);
                out.extend_from_slice(b" NIL)");
            }
            Address::GroupEnd => out.extend_from_slice(b"(NIL NIL NIL NIL)"),
        }
    }
    out.push(b')');
}

/// Appends the BODYSTRUCTURE of `message` when `extensible`, else its BODY
/// (the same without extension data).
pub fn write_body_structure(out: &mut Vec<u8>, message: &[u8], extensible: bool) {
    let root = parse(message);
    write_part(out, message, &root, extensible);
}

/// Appends the body structure of one part and, recursively, its children.
/// Recursion depth is bounded by the tree, which `DEPTH_MAX` bounds.
pub fn write_part(out: &mut Vec<u8>, message: &[u8], part: &Part, extensible: bool) {
    out.push(b'(');
    match &part.content {
        Content::Multipart(children) => {
            for child in children {
                write_part(out, message, child, extensible);
            }
            out.push(b' ');
            write_string(out, &part.content_type.subtype);
            if extensible {
                out.push(b' ');
                write_params(out, &part.content_type.params);
                write_extension_tail(out, part);
            }
        }
        content => {
            write_string(out, &part.content_type.media_type);
            out.push(b' ');
            write_string(out, &part.content_type.subtype);
            out.push(b' ');
            write_params(out, &part.content_type.params);
            out.push(b' ');
            write_nstring(out, part.id.as_deref());
            out.push(b' ');
            write_nstring(out, part.description.as_deref());
            out.push(b' ');
            write_string(out, &part.encoding);
            out.push(b' ');
            out.extend_from_slice(part.body.len().to_string().as_bytes());

            if let Content::Message(inner) = content {
                out.push(b' ');
                write_envelope_of_header(out, &message[inner.header.clone()]);
                out.push(b' ');
                write_part(out, message, inner, extensible);
            }
            let counts_lines = part.content_type.media_type.eq_ignore_ascii_case(b"text")
                || matches!(content, Content::Message(_));
            if counts_lines {
                out.push(b' ');
                out.extend_from_slice(part.lines.to_string().as_bytes());
            }

            if extensible {
                out.push(b' ');
                write_nstring(out, part.md5.as_deref());
                write_extension_tail(out, part);
            }
        }
    }
    out.push(b')');
}

/// Appends ` disposition language location`, the extension data that
/// single parts and multiparts share.
fn write_extension_tail(out: &mut Vec<u8>, part: &Part) {
    out.push(b' ');
    match &part.disposition {
        Some(disposition) => {
            out.push(b'(');
            write_string(out, &disposition.kind);
            out.push(b' ');
            write_params(out, &disposition.params);
            out.push(b')');
        }
        None => out.extend_from_slice(b"NIL"),
    }

    out.push(b' ');
    match part.language.as_slice() {
        [] => out.extend_from_slice(b"NIL"),
        [tag] => write_string(out, tag),
        tags => {
            out.push(b'(');
            for (index, tag) in tags.iter().enumerate() {
                if index > 0 {
                    out.push(b' ');
                }
                write_string(out, tag);
            }
            out.push(b')');
        }
    }

    out.push(b' ');
    write_nstring(out, part.location.as_deref());
}

/// Appends `NIL` for no parameters, else `("name" "value" ...)`.
fn write_params(out: &mut Vec<u8>, params: &[Param]) {
    if params.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (index, param) in params.iter().enumerate() {
        if index > 0 {
            out.push(b' ');
        }
        write_string(out, &param.name);
        out.push(b' ');
        write_string(out, &param.value);
    }
    out.push(b')');
}
