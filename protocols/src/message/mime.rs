//! The MIME tree of a message (RFC 2045, RFC 2046) as offsets into its bytes.
//!
//! `parse` returns a `Part` for the whole message. Each `Part` stores the
//! ranges of its header and body, the parsed Content-* fields, and either
//! its children (multipart/*), the encapsulated message (message/rfc822) or
//! nothing (a leaf). Bodies are never copied; only the short header values
//! are. Limits from the parent module bound the work. Entities nested deeper
//! than `DEPTH_MAX` are kept as leaves, and entities past `PARTS_MAX` are
//! dropped. Only the first `FIELDS_MAX` fields of a header are read, and
//! only the first `PARAMS_MAX` parameters of a field are kept.

use std::ops::Range;

use memchr::memmem;

use super::header::{body_start, fields, unfold};
use super::{DEPTH_MAX, FIELDS_MAX, PARAMS_MAX, PARTS_MAX};

/// One `name=value` parameter, the value unquoted. RFC 2231 continuations
/// (`name*0`, `name*1*`) are kept as separate raw parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub name: Vec<u8>,
    pub value: Vec<u8>,
}

/// A Content-Type value: the media type, subtype and parameters as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType {
    pub media_type: Vec<u8>,
    pub subtype: Vec<u8>,
    pub params: Vec<Param>,
}

impl ContentType {
    /// Returns the default for entities without a valid Content-Type:
    /// `text/plain; charset=us-ascii` (RFC 2045 section 5.2).
    pub fn text_plain() -> ContentType {
        ContentType {
            media_type: b"text".to_vec(),
            subtype: b"plain".to_vec(),
            params: vec![Param {
                name: b"charset".to_vec(),
                value: b"us-ascii".to_vec(),
            }],
        }
    }

    /// Returns the default for children of multipart/digest (RFC 2046 5.1.5).
    pub fn message_rfc822() -> ContentType {
        ContentType {
            media_type: b"message".to_vec(),
            subtype: b"rfc822".to_vec(),
            params: Vec::new(),
        }
    }

    /// Returns whether the type is `media_type/subtype`, ignoring case.
    pub fn is(&self, media_type: &[u8], subtype: &[u8]) -> bool {
        self.media_type.eq_ignore_ascii_case(media_type)
            && self.subtype.eq_ignore_ascii_case(subtype)
    }

    /// Returns the value of the parameter called `name`, ignoring case.
    pub fn param(&self, name: &[u8]) -> Option<&[u8]> {
        find_param(&self.params, name)
    }
}

/// A Content-Disposition value: the disposition type and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disposition {
    pub kind: Vec<u8>,
    pub params: Vec<Param>,
}

/// The content of an entity below its own header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// A body with no structure inside it.
    Leaf,
    /// The parts of a multipart body, in order.
    Multipart(Vec<Part>),
    /// The message inside a message/rfc822 body.
    Message(Box<Part>),
}

/// One MIME entity of a message, as ranges into the message bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The header, including the empty line that ends it.
    pub header: Range<usize>,
    pub body: Range<usize>,
    pub content_type: ContentType,
    pub id: Option<Vec<u8>>,
    pub description: Option<Vec<u8>>,
    /// The Content-Transfer-Encoding, `7bit` when absent.
    pub encoding: Vec<u8>,
    pub md5: Option<Vec<u8>>,
    pub disposition: Option<Disposition>,
    pub language: Vec<Vec<u8>>,
    pub location: Option<Vec<u8>>,
    /// The body's length in text lines, counted as LF octets.
    pub lines: usize,
    pub content: Content,
}

/// Builds the MIME tree of `message`.
pub fn parse(message: &[u8]) -> Part {
    let mut parts_left = PARTS_MAX;
    parse_entity(message, 0..message.len(), 0, false, &mut parts_left)
}

/// Parses the entity in `range`. `digest_child` selects the multipart/digest
/// default type. `parts_left` counts down the entities still allowed.
fn parse_entity(
    message: &[u8],
    range: Range<usize>,
    depth: usize,
    digest_child: bool,
    parts_left: &mut usize,
) -> Part {
    *parts_left = parts_left.saturating_sub(1);
    let split = range.start + body_start(&message[range.clone()]);
    let header = range.start..split;
    let body = split..range.end;
    let mut part = read_header(&message[header.clone()], digest_child);
    part.header = header;
    part.body = body.clone();

    // Past the limits, an entity is a leaf text/plain whatever its Content-Type.
    let structured = part
        .content_type
        .media_type
        .eq_ignore_ascii_case(b"multipart")
        || part.content_type.is(b"message", b"rfc822");
    if structured && (depth >= DEPTH_MAX || *parts_left == 0) {
        part.content_type = ContentType::text_plain();
    }

    if part
        .content_type
        .media_type
        .eq_ignore_ascii_case(b"multipart")
    {
        match part.content_type.param(b"boundary").map(<[u8]>::to_vec) {
            Some(boundary) if !boundary.is_empty() => {
                let digest = part.content_type.subtype.eq_ignore_ascii_case(b"digest");
                let mut children = Vec::new();
                for child in split_multipart(message, body.clone(), &boundary) {
                    if *parts_left == 0 {
                        break;
                    }
                    children.push(parse_entity(message, child, depth + 1, digest, parts_left));
                }
                part.content = Content::Multipart(children);
            }
            // NOTE: a multipart without a boundary cannot be split, so it is
            // served as text/plain, as the RFC 2045 default for invalid types.
            _ => part.content_type = ContentType::text_plain(),
        }
    }
    if let Content::Multipart(children) = &mut part.content {
        // IMAP needs at least one body inside a multipart, so a multipart with
        // no delimiter line gets one empty text/plain part at its end.
        if children.is_empty() {
            children.push(empty_part(body.end));
        }
    }

    if part.content_type.is(b"message", b"rfc822") {
        let inner = parse_entity(message, body.clone(), depth + 1, false, parts_left);
        part.content = Content::Message(Box::new(inner));
    }

    let counts_lines = part.content_type.media_type.eq_ignore_ascii_case(b"text")
        || part.content_type.is(b"message", b"rfc822");
    if counts_lines {
        part.lines = count_lines(&message[body]);
    }
    part
}

/// Returns a part with the default type and no bytes, at offset `at`.
fn empty_part(at: usize) -> Part {
    let mut part = read_header(b"", false);
    part.header = at..at;
    part.body = at..at;
    part
}

/// Reads the Content-* fields of one header. The first occurrence of each
/// field wins, and only the first `FIELDS_MAX` fields are read.
fn read_header(header: &[u8], digest_child: bool) -> Part {
    let mut part = Part {
        header: 0..0,
        body: 0..0,
        content_type: if digest_child {
            ContentType::message_rfc822()
        } else {
            ContentType::text_plain()
        },
        id: None,
        description: None,
        encoding: b"7bit".to_vec(),
        md5: None,
        disposition: None,
        language: Vec::new(),
        location: None,
        lines: 0,
        content: Content::Leaf,
    };

    let mut seen_type = false;
    let mut seen_encoding = false;
    for field in fields(header).take(FIELDS_MAX) {
        let name = &header[field.name.clone()];
        let Some(name) = name
            .get(..8)
            .filter(|prefix| prefix.eq_ignore_ascii_case(b"content-"))
            .map(|_| &name[8..])
        else {
            continue;
        };
        let value = unfold(&header[field.value.clone()]);
        let value: &[u8] = &value;
        let name = name.to_ascii_lowercase();
        match name.as_slice() {
            b"type" if !seen_type => {
                seen_type = true;
                // RFC 2045 section 5.2: an invalid Content-Type means text/plain.
                part.content_type =
                    parse_content_type(value).unwrap_or_else(ContentType::text_plain);
            }
            b"transfer-encoding" if !seen_encoding => {
                seen_encoding = true;
                let mut cursor = Cursor::new(value);
                if let Some(token) = cursor.token() {
                    part.encoding = token.to_vec();
                }
            }
            b"id" if part.id.is_none() => part.id = Some(value.to_vec()),
            b"description" if part.description.is_none() => part.description = Some(value.to_vec()),
            b"md5" if part.md5.is_none() => part.md5 = Some(value.to_vec()),
            b"location" if part.location.is_none() => part.location = Some(value.to_vec()),
            b"disposition" if part.disposition.is_none() => {
                part.disposition = parse_disposition(value)
            }
            b"language" if part.language.is_empty() => part.language = parse_language(value),
            _ => {}
        }
    }
    part
}

/// Parses `type/subtype *(; name=value)`, or returns `None` when the type
/// or subtype is missing.
pub fn parse_content_type(value: &[u8]) -> Option<ContentType> {
    let mut cursor = Cursor::new(value);
    let media_type = cursor.token()?.to_vec();
    if !cursor.eat(b'/') {
        return None;
    }
    let subtype = cursor.token()?.to_vec();
    let params = cursor.params();
    Some(ContentType {
        media_type,
        subtype,
        params,
    })
}

/// Parses `kind *(; name=value)`, or returns `None` without a kind.
fn parse_disposition(value: &[u8]) -> Option<Disposition> {
    let mut cursor = Cursor::new(value);
    let kind = cursor.token()?.to_vec();
    let params = cursor.params();
    Some(Disposition { kind, params })
}

/// Parses a comma-separated list of language tags (RFC 3282).
fn parse_language(value: &[u8]) -> Vec<Vec<u8>> {
    let mut cursor = Cursor::new(value);
    let mut tags = Vec::new();
    while !cursor.at_end() && tags.len() < PARAMS_MAX {
        match cursor.token() {
            Some(tag) => tags.push(tag.to_vec()),
            None => cursor.skip_byte(),
        }
    }
    tags
}

/// Returns the value of the first parameter called `name`, ignoring case.
pub fn find_param<'p>(params: &'p [Param], name: &[u8]) -> Option<&'p [u8]> {
    params
        .iter()
        .find(|param| param.name.eq_ignore_ascii_case(name))
        .map(|param| param.value.as_slice())
}

/// A reader over one structured MIME field value (RFC 2045 section 5.1):
/// tokens, quoted strings and comments.
struct Cursor<'v> {
    value: &'v [u8],
    position: usize,
}

/// The tspecials of RFC 2045, which end a token.
const TSPECIALS: &[u8] = b"()<>@,;:\\\"/[]?=";

impl<'v> Cursor<'v> {
    fn new(value: &'v [u8]) -> Cursor<'v> {
        Cursor { value, position: 0 }
    }

    fn at_end(&mut self) -> bool {
        self.skip_cfws();
        self.position >= self.value.len()
    }

    fn skip_byte(&mut self) {
        self.position = (self.position + 1).min(self.value.len());
    }

    /// Skips whitespace and comments. Nested comments are counted, not
    /// recursed into, and a comment that never closes runs to the end.
    fn skip_cfws(&mut self) {
        let mut comment_depth = 0usize;
        while let Some(&byte) = self.value.get(self.position) {
            match byte {
                b'(' => comment_depth += 1,
                b')' if comment_depth > 0 => comment_depth -= 1,
                b'\\' if comment_depth > 0 => self.position += 1,
                _ if comment_depth > 0 || byte.is_ascii_whitespace() => {}
                _ => return,
            }
            self.position += 1;
        }
        self.position = self.value.len();
    }

    /// Consumes `byte` after optional whitespace and comments.
    fn eat(&mut self, byte: u8) -> bool {
        self.skip_cfws();
        if self.value.get(self.position) == Some(&byte) {
            self.position += 1;
            return true;
        }
        false
    }

    /// Reads a token, or returns `None` if none starts here.
    fn token(&mut self) -> Option<&'v [u8]> {
        self.skip_cfws();
        let start = self.position;
        while let Some(&byte) = self.value.get(self.position) {
            if byte <= b' ' || byte == 0x7f || TSPECIALS.contains(&byte) {
                break;
            }
            self.position += 1;
        }
        (self.position > start).then(|| &self.value[start..self.position])
    }

    /// Reads a quoted string without its quotes and escapes. A string that
    /// never closes runs to the end of the value.
    fn quoted(&mut self) -> Vec<u8> {
        let mut text = Vec::new();
        self.position += 1;
        while let Some(&byte) = self.value.get(self.position) {
            self.position += 1;
            match byte {
                b'"' => return text,
                b'\\' => {
                    if let Some(&escaped) = self.value.get(self.position) {
                        text.push(escaped);
                        self.position += 1;
                    }
                }
                _ => text.push(byte),
            }
        }
        text
    }

    /// Reads `*(; name=value)` up to `PARAMS_MAX` parameters. A malformed
    /// parameter is skipped up to the next semicolon.
    fn params(&mut self) -> Vec<Param> {
        let mut params = Vec::new();
        loop {
            if !self.skip_to_semicolon() {
                return params;
            }
            let Some(name) = self.token() else {
                continue;
            };
            if !self.eat(b'=') {
                continue;
            }
            self.skip_cfws();
            let value = if self.value.get(self.position) == Some(&b'"') {
                self.quoted()
            } else {
                match self.token() {
                    Some(token) => token.to_vec(),
                    None => continue,
                }
            };
            if params.len() < PARAMS_MAX {
                params.push(Param {
                    name: name.to_vec(),
                    value,
                });
            }
        }
    }

    /// Moves past the next semicolon outside quoted strings and comments,
    /// or returns false at the end of the value.
    fn skip_to_semicolon(&mut self) -> bool {
        loop {
            self.skip_cfws();
            match self.value.get(self.position) {
                None => return false,
                Some(b';') => {
                    self.position += 1;
                    return true;
                }
                Some(b'"') => {
                    self.quoted();
                }
                Some(_) => self.position += 1,
            }
        }
    }
}

/// Splits a multipart body into the ranges of its parts (RFC 2046 5.1.1).
///
/// A delimiter line is `--boundary` at the start of a line followed only by
/// whitespace; the close delimiter adds `--`. The line end before a
/// delimiter belongs to the delimiter, so it is not part of the body before
/// it. The preamble and the epilogue belong to no part. Without a close
/// delimiter the last part runs to the end of the body.
fn split_multipart(message: &[u8], body: Range<usize>, boundary: &[u8]) -> Vec<Range<usize>> {
    let bytes = &message[body.clone()];
    let mut delimiter = Vec::with_capacity(boundary.len() + 2);
    delimiter.extend_from_slice(b"--");
    delimiter.extend_from_slice(boundary);
    let finder = memmem::Finder::new(&delimiter);

    let mut parts = Vec::new();
    let mut open: Option<usize> = None;
    let mut search = 0;
    while let Some(found) = finder.find(&bytes[search..]) {
        let at = search + found;
        search = at + 1;
        let line_start = at == 0 || bytes[at - 1] == b'\n';
        if !line_start {
            continue;
        }
        let after = at + delimiter.len();
        let line_end = memchr::memchr(b'\n', &bytes[after..])
            .map(|end| after + end + 1)
            .unwrap_or(bytes.len());
        let rest = &bytes[after..line_end];
        let closing = rest.starts_with(b"--");
        if !closing && !rest.iter().all(u8::is_ascii_whitespace) {
            // A longer boundary that starts with this one, as in nested parts.
            continue;
        }

        if let Some(start) = open {
            let end = delimiter_line_start(bytes, at).max(start);
            parts.push(body.start + start..body.start + end);
            if parts.len() >= PARTS_MAX {
                return parts;
            }
        }
        if closing {
            return parts;
        }
        open = Some(line_end);
        search = line_end;
    }

    if let Some(start) = open {
        parts.push(body.start + start..body.end);
    }
    parts
}

/// Returns where a delimiter found at `at` really starts: at the CRLF or LF
/// before it, when there is one.
fn delimiter_line_start(bytes: &[u8], at: usize) -> usize {
    if at >= 2 && &bytes[at - 2..at] == b"\r\n" {
        at - 2
    } else if at >= 1 && bytes[at - 1] == b'\n' {
        at - 1
    } else {
        at
    }
}

/// Counts the text lines of `body` as its LF count. A last line without a
/// line end is not counted, because inside a multipart its CRLF belongs to
/// the next delimiter. Dovecot 2.3.19 counts the same way.
fn count_lines(body: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', body).count()
}

/// Returns the part at `path` inside `message`, numbered as IMAP numbers
/// body parts (RFC 3501 section 6.4.5), or `None` when there is none.
///
/// The parts of a multipart are numbered from 1. A message whose body is not
/// multipart has one part, number 1, which is its body. The numbers after a
/// message/rfc822 part name parts of the message inside it, by the same rules.
/// The empty path returns the whole message.
pub fn find_part(message: &[u8], path: &[u32]) -> Option<Part> {
    if path.len() > DEPTH_MAX {
        return None;
    }
    let mut part = parse(message);
    // The root and encapsulated messages number their own body as part 1.
    let mut is_message = true;
    for &number in path {
        let index = usize::try_from(number.checked_sub(1)?).ok()?;
        part = match part.content {
            Content::Multipart(mut children) if index < children.len() => {
                is_message = false;
                children.swap_remove(index)
            }
            Content::Multipart(_) => return None,
            Content::Message(inner) => match inner.content {
                Content::Multipart(mut children) if index < children.len() => {
                    is_message = false;
                    children.swap_remove(index)
                }
                Content::Multipart(_) => return None,
                _ if index == 0 => {
                    is_message = false;
                    *inner
                }
                _ => return None,
            },
            Content::Leaf if index == 0 && is_message => {
                is_message = false;
                part
            }
            Content::Leaf => return None,
        };
    }
    Some(part)
}
