//! A line-by-line pass over the message that follows the MIME parser of
//! SpamAssassin 4.0.1 (Mail/SpamAssassin/Message.pm, `new` and
//! `_parse_multipart`), for the facts that depend on its line rules: the
//! parse flags of `check_msg_parse_flags` and the raw line lengths of
//! `check_base64_length`.
//!
//! The protocols crate's parser, which `Prepared`'s walk uses, ends a header
//! only at an empty line and finds boundaries its own way. The flags here
//! describe exactly the malformed messages where the two parsers differ (a
//! header that runs into a boundary, a part with no header), so this pass
//! splits the message as SpamAssassin does instead of reading that tree.
//!
//! The pass reads each line once per nesting level. `MIME_DEPTH_MAX`
//! levels, `MULTIPART_PARTS_MAX` parts per multipart and `SCAN_PARTS_MAX`
//! parts in all bound it.

use ringmail_protocols::message::unfold;

use super::decode;
use super::MIME_DEPTH_MAX;

/// Maximum length of a header field name before SpamAssassin cuts it and
/// sets `truncated_header` (Constants.pm `MAX_HEADER_KEY_LENGTH`).
pub const HEADER_NAME_LEN_MAX: usize = 256;

/// Maximum length of a header field value, line ends included, before
/// SpamAssassin cuts it (`MAX_HEADER_VALUE_LENGTH`).
pub const HEADER_VALUE_LEN_MAX: usize = 8192;

/// Maximum length of the whole header as SpamAssassin's `get_all_headers`
/// sums it (name, value and 2 per field), before it stops and sets
/// `truncated_header` (`MAX_HEADER_LENGTH`).
pub const HEADER_TOTAL_LEN_MAX: usize = 65536;

/// Length past which SpamAssassin splits a body line of a MIME part into
/// pieces of this many bytes plus "\n" (`MAX_BODY_LINE_LENGTH`).
pub const PART_LINE_LEN_MAX: usize = 2048;

/// Invalid header lines SpamAssassin skips before it takes the header to
/// have ended.
const HEADER_ERRORS_MAX: usize = 3;

/// Parts one multipart may have. SpamAssassin stops parsing a multipart at
/// its 1000th part.
pub const MULTIPART_PARTS_MAX: usize = 1000;

/// Parts the whole pass visits, so that nested multiparts of many parts
/// each cost bounded time.
pub const SCAN_PARTS_MAX: usize = 10_000;

/// Line records the whole pass makes, over every nesting level. Each level
/// copies its part's lines, so a body of short lines nested deep would
/// otherwise cost its line count times the depth, in time and memory.
/// About 24 bytes each, so at most a few tens of MiB.
pub const SCAN_LINES_MAX: usize = 1_000_000;

/// The flags SpamAssassin's parser sets on the message, which
/// `check_msg_parse_flags` reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseFlags {
    /// A header field name or value, or the whole header, was longer than
    /// SpamAssassin keeps.
    pub truncated_header: bool,
    /// The header did not end with an empty line: the message ended, a line
    /// started with `--`, or a fourth line was not a header field.
    pub missing_head_body_separator: bool,
    /// A MIME part's header was followed by a line that is neither empty
    /// nor a header field.
    pub missing_mime_head_body_separator: bool,
    /// A line with something other than whitespace and dots followed the
    /// closing boundary of a multipart.
    pub mime_epilogue_exists: bool,
    /// The line after a boundary was not a header field.
    pub missing_mime_headers: bool,
}

/// The result of the pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MimeScan {
    pub flags: ParseFlags,
    /// Maximum length of a raw line of a base64 leaf part other than application/ics,
    /// with its line end, as `check_base64_length` measures it. Lines of a
    /// part inside a multipart count at most `PART_LINE_LEN_MAX` + 1.
    pub base64_line_len_max: usize,
    /// Whether `MULTIPART_PARTS_MAX` or `SCAN_PARTS_MAX` stopped the pass.
    pub parts_limit_reached: bool,
    /// Whether `SCAN_LINES_MAX` cut the pass short; the facts then cover
    /// the lines read before.
    pub lines_limit_reached: bool,
}

/// One line without its line end, and whether it had one. In a message
/// whose first or last line ends in CRLF, the content also leaves out the
/// CR of a CRLF, because SpamAssassin reads every CRLF of it as LF.
#[derive(Debug, Clone, Copy)]
struct Line<'a> {
    content: &'a [u8],
    newline: bool,
}

impl Line<'_> {
    const EMPTY: Line<'static> = Line {
        content: b"",
        newline: true,
    };

    /// Length as Perl measures the line, with its "\n".
    fn len(&self) -> usize {
        self.content.len() + usize::from(self.newline)
    }

    /// Returns whether the line is empty but for a CR (Perl `/^\r?$/`).
    fn is_blank(&self) -> bool {
        self.content.is_empty() || self.content == b"\r"
    }
}

/// Scans `raw`, a whole message with its header.
pub fn scan(raw: &[u8]) -> MimeScan {
    let mut scanner = Scanner {
        result: MimeScan::default(),
        parts_left: SCAN_PARTS_MAX,
        lines_left: SCAN_LINES_MAX,
    };
    let root = scanner.message(raw, MIME_DEPTH_MAX);
    scanner.result.flags.truncated_header = root.truncated_header;
    scanner.result.flags.missing_head_body_separator = root.missing_head_body_separator;
    scanner.result
}

/// The header flags of one message, which SpamAssassin keeps on that
/// message's object: an attached message/rfc822 sets its own, not the
/// top-level message's.
#[derive(Debug, Default)]
struct HeaderFlags {
    truncated_header: bool,
    missing_head_body_separator: bool,
}

/// The Content-Type and Content-Transfer-Encoding of one entity, the last
/// of each, as SpamAssassin's `header()` returns them.
#[derive(Debug, Default)]
struct PartHeader {
    content_type: Option<Vec<u8>>,
    encoding: Option<Vec<u8>>,
}

impl PartHeader {
    /// Stores one field, `name` as written and `value` after the colon.
    fn store(&mut self, name: &[u8], value: &[u8]) {
        let name = name.trim_ascii();
        if name.eq_ignore_ascii_case(b"content-type") {
            self.content_type = Some(unfold(value).trim_ascii().to_vec());
        } else if name.eq_ignore_ascii_case(b"content-transfer-encoding") {
            self.encoding = Some(unfold(value).trim_ascii().to_ascii_lowercase());
        }
    }
}

struct Scanner {
    result: MimeScan,
    parts_left: usize,
    lines_left: usize,
}

impl Scanner {
    /// Takes `count` line records from the budget and returns how many it
    /// granted, marking the scan cut short when that is fewer.
    fn take_lines(&mut self, count: usize) -> usize {
        let granted = count.min(self.lines_left);
        self.lines_left -= granted;
        if granted < count {
            self.result.lines_limit_reached = true;
        }
        granted
    }

    /// Parses one message (the top-level one or an attached one) as
    /// `Message->new` does, and its body with `subparse` levels left.
    /// Returns the message's own header flags.
    fn message(&mut self, raw: &[u8], subparse: usize) -> HeaderFlags {
        // Collect no more lines than the budget has left, so a huge body
        // costs no memory past it.
        let mut pieces: Vec<&[u8]> = raw
            .split_inclusive(|&byte| byte == b'\n')
            .take(self.lines_left.saturating_add(1))
            .collect();
        if pieces.is_empty() {
            pieces.push(b"\n");
        }
        let granted = self.take_lines(pieces.len());
        pieces.truncate(granted.max(1));
        if is_mbox_separator(pieces[0]) {
            pieces.remove(0);
        }
        let crlf = |piece: Option<&&[u8]>| piece.is_some_and(|piece| piece.ends_with(b"\r\n"));
        let squash_crlf = crlf(pieces.first()) || crlf(pieces.last());
        let lines: Vec<Line<'_>> = pieces
            .iter()
            .map(|piece| split_line_end(piece, squash_crlf))
            .collect();

        let mut flags = HeaderFlags::default();
        let mut header = PartHeader::default();
        let body_at = read_message_header(&lines, &mut header, &mut flags);
        let body_len = lines.len().saturating_sub(body_at);
        let granted = self.take_lines(body_len);
        let mut body = lines[body_at..body_at + granted].to_vec();

        let (media_type, boundary, _) = parse_content_type(header.content_type.as_deref());
        // Message.pm: a multipart body that starts with text that
        // is not its boundary gets an empty line first, so the text is not
        // read as the header of a first part.
        if media_type.starts_with("multipart/") && body.len() > 1 {
            let first = body[0].content;
            let starts_with_boundary = boundary.as_deref().is_some_and(|boundary| {
                first.starts_with(b"--") && first[2..].starts_with(boundary)
            });
            let has_text = first.iter().any(|&byte| !is_perl_space(byte));
            if has_text && !starts_with_boundary {
                body.insert(0, Line::EMPTY);
            }
        }
        self.entity(&media_type, boundary.as_deref(), &header, &body, subparse);
        flags
    }

    /// Handles one entity as `parse_body` does: a multipart with a boundary
    /// is split, an attached message is parsed, and anything else is a
    /// leaf.
    fn entity(
        &mut self,
        media_type: &str,
        boundary: Option<&[u8]>,
        header: &PartHeader,
        body: &[Line<'_>],
        subparse: usize,
    ) {
        if self.parts_left == 0 {
            self.result.parts_limit_reached = true;
            return;
        }
        self.parts_left -= 1;

        if let (true, Some(boundary)) = (media_type.starts_with("multipart/"), boundary) {
            if subparse > 0 {
                self.multipart(media_type, boundary, body, subparse);
                return;
            }
        }

        let is_message = media_type == "message/rfc822" || media_type == "message/global";
        if is_message && subparse > 0 {
            let decoded = decode_body(body, header.encoding.as_deref());
            if !decoded.is_empty() {
                // The attached message's own header flags stay on it.
                let _ = self.message(&decoded, subparse - 1);
                return;
            }
        }

        let is_base64 = header.encoding.as_deref() == Some(b"base64".as_slice());
        if is_base64 && media_type != "application/ics" {
            let longest = body.iter().map(Line::len).max().unwrap_or(0);
            let longest_max = &mut self.result.base64_line_len_max;
            *longest_max = (*longest_max).max(longest);
        }
    }

    /// Splits a multipart body at `boundary` as `_parse_multipart` does,
    /// setting the MIME flags, and handles each part.
    fn multipart(&mut self, media_type: &str, boundary: &[u8], body: &[Line<'_>], subparse: usize) {
        let subparse = subparse - 1;
        let flags = &mut self.result.flags;

        // The preamble runs to the opening boundary. Without one, the whole
        // body is read as parts.
        let mut body = body;
        if let Some(at) = body
            .iter()
            .position(|line| boundary_line(line, boundary) == Some(false))
        {
            if body
                .get(at + 1)
                .is_some_and(|next| !is_field_name_colon(next))
            {
                flags.missing_mime_headers = true;
            }
            body = &body[at + 1..];
        }

        let mut part = PartState::default();
        let mut nested_boundary = false;
        let mut parts = 0;
        let mut epilogue_at = None;

        for (index, &line) in body.iter().enumerate() {
            let remaining = body.len() - index - 1;
            let found = boundary_line(&line, boundary);
            let found_last = found == Some(true);
            let mut found_end = found.is_some();
            // A part that declared the same boundary: its closing line is
            // not this multipart's (SpamAssassin handles one such level).
            if found_end && nested_boundary {
                found_end = false;
                if found_last {
                    nested_boundary = false;
                }
            }

            if remaining == 0 || found_end {
                if !found_end {
                    if self.take_lines(1) == 0 {
                        break;
                    }
                    push_split(&mut part.lines, line);
                } else if let Some(last) = part.lines.last_mut() {
                    // The line end before a boundary belongs to the boundary.
                    last.newline = false;
                    if last.content.is_empty() {
                        part.lines.pop();
                    }
                }
                // A header field still pending here is dropped, as in
                // `_parse_multipart`, which stores a field only when the
                // next line arrives.
                part.pending.clear();

                let (mut child_type, child_boundary, type_missing) =
                    parse_content_type(part.header.content_type.as_deref());
                if type_missing && media_type == "multipart/digest" {
                    child_type = "message/rfc822".to_string();
                }
                let child_boundary = child_boundary.unwrap_or_else(|| boundary.to_vec());
                let lines = std::mem::take(&mut part.lines);
                let header = std::mem::take(&mut part.header);
                self.entity(
                    &child_type,
                    Some(&child_boundary),
                    &header,
                    &lines,
                    subparse,
                );

                if found_last {
                    epilogue_at = Some(index + 1);
                    break;
                }
                if remaining > 0 && !is_field_name_colon(&body[index + 1]) {
                    self.result.flags.missing_mime_headers = true;
                }
                parts += 1;
                if parts == MULTIPART_PARTS_MAX {
                    self.result.parts_limit_reached = true;
                    return;
                }
                part = PartState::default();
                continue;
            }

            if !part.in_body {
                if is_field_start(&line) {
                    part.finish_header();
                    part.pending = vec![line];
                    continue;
                }
                if line
                    .content
                    .first()
                    .is_some_and(|&byte| matches!(byte, b' ' | b'\t'))
                    && !part.pending.is_empty()
                {
                    part.pending.push(line);
                    continue;
                }
                if let Some(declared) = part.finish_header() {
                    nested_boundary |= declared.as_deref() == Some(boundary);
                }
                part.in_body = true;
                if line.is_blank() {
                    continue;
                }
                self.result.flags.missing_mime_head_body_separator = true;
            }
            if self.take_lines(1) == 0 {
                break;
            }
            push_split(&mut part.lines, line);
        }

        // The epilogue: lines after the closing boundary.
        if let Some(at) = epilogue_at {
            let has_text = body[at..].iter().any(|line| {
                line.content
                    .iter()
                    .any(|&byte| !is_perl_space(byte) && byte != b'.')
            });
            if has_text {
                self.result.flags.mime_epilogue_exists = true;
            }
        }
    }
}

/// The part being read by `Scanner::multipart`.
#[derive(Default)]
struct PartState<'a> {
    in_body: bool,
    /// Lines of the header field being read, first line first.
    pending: Vec<Line<'a>>,
    header: PartHeader,
    lines: Vec<Line<'a>>,
}

impl PartState<'_> {
    /// Stores the pending header field. When it is a Content-Type, returns
    /// `Some` with the boundary it declares.
    fn finish_header(&mut self) -> Option<Option<Vec<u8>>> {
        if self.pending.is_empty() {
            return None;
        }
        let mut field = Vec::new();
        for line in self.pending.drain(..) {
            field.extend_from_slice(line.content);
            if line.newline {
                field.push(b'\n');
            }
        }
        let colon = memchr::memchr(b':', &field)?;
        let (name, value) = (&field[..colon], &field[colon + 1..]);
        self.header.store(name, value);
        if name.trim_ascii().eq_ignore_ascii_case(b"content-type") {
            let (_, boundary, _) = parse_content_type(Some(value.trim_ascii()));
            return Some(boundary);
        }
        None
    }
}

/// Reads the header of a message as `Message->new` does and returns the
/// index of the first body line.
fn read_message_header(
    lines: &[Line<'_>],
    header: &mut PartHeader,
    flags: &mut HeaderFlags,
) -> usize {
    let mut errors = 0;
    let mut field: Vec<u8> = Vec::new();
    let mut has_field = false;
    let mut total_len = 0usize;
    let mut index = 0;

    loop {
        let current = lines.get(index);
        let end_of_message = current.is_none();
        let current = current.copied().unwrap_or(Line::EMPTY);

        let is_continuation = current
            .content
            .first()
            .is_some_and(|&byte| matches!(byte, b' ' | b'\t'));
        if is_continuation && !end_of_message {
            has_field = true;
            push_line(&mut field, current);
            index += 1;
            continue;
        }

        if has_field {
            store_message_field(&field, header, flags, &mut total_len);
        }

        if current.content.is_empty() {
            if end_of_message {
                flags.missing_head_body_separator = true;
                return index;
            }
            return index + 1;
        }
        if current.content.starts_with(b"--") {
            flags.missing_head_body_separator = true;
            return index;
        }
        if !is_field_start(&current) {
            errors += 1;
            if errors > HEADER_ERRORS_MAX {
                flags.missing_head_body_separator = true;
                return index;
            }
        }
        field.clear();
        push_line(&mut field, current);
        has_field = true;
        index += 1;
    }
}

/// Stores one field of a message header, setting `truncated_header` where
/// SpamAssassin would cut it.
fn store_message_field(
    field: &[u8],
    header: &mut PartHeader,
    flags: &mut HeaderFlags,
    total_len: &mut usize,
) {
    let Some(colon) = memchr::memchr(b':', field) else {
        return;
    };
    let mut name = &field[..colon];
    while let Some(rest) = name.strip_suffix(b" ").or_else(|| name.strip_suffix(b"\t")) {
        name = rest;
    }
    let mut value = &field[colon + 1..];
    if name.len() > HEADER_NAME_LEN_MAX {
        flags.truncated_header = true;
    }
    if value.len() > HEADER_VALUE_LEN_MAX {
        flags.truncated_header = true;
        value = &value[..HEADER_VALUE_LEN_MAX];
    }
    // NOTE: `get_all_headers` sums the decoded value, with folds removed.
    // This sums the raw value without its surrounding whitespace, so a
    // header of many encoded words just over the limit may differ.
    let kept_name = name.len().min(HEADER_NAME_LEN_MAX);
    *total_len = total_len.saturating_add(kept_name + value.trim_ascii().len() + 1 + 2);
    if *total_len > HEADER_TOTAL_LEN_MAX {
        flags.truncated_header = true;
    }
    header.store(name, value);
}

/// Appends `line` and its "\n" to `field`.
fn push_line(field: &mut Vec<u8>, line: Line<'_>) {
    field.extend_from_slice(line.content);
    if line.newline {
        field.push(b'\n');
    }
}

/// Appends a body line to a part, cut into pieces of `PART_LINE_LEN_MAX`
/// bytes plus "\n" as SpamAssassin cuts long lines.
fn push_split<'a>(lines: &mut Vec<Line<'a>>, line: Line<'a>) {
    let mut rest = line;
    while rest.len() > PART_LINE_LEN_MAX {
        let (head, tail) = rest
            .content
            .split_at(PART_LINE_LEN_MAX.min(rest.content.len()));
        lines.push(Line {
            content: head,
            newline: true,
        });
        rest = Line {
            content: tail,
            newline: rest.newline,
        };
    }
    lines.push(rest);
}

/// Splits the line end off `piece`: "\n", or "\r\n" when `squash_crlf`.
fn split_line_end(piece: &[u8], squash_crlf: bool) -> Line<'_> {
    match piece.strip_suffix(b"\n") {
        Some(content) if squash_crlf => Line {
            content: content.strip_suffix(b"\r").unwrap_or(content),
            newline: true,
        },
        Some(content) => Line {
            content,
            newline: true,
        },
        None => Line {
            content: piece,
            newline: false,
        },
    }
}

/// Returns whether `line` is an mbox `From ` separator as Message.pm
/// recognises one (`/^From\s+(?!:)/`).
fn is_mbox_separator(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b"From") else {
        return false;
    };
    let spaces = rest.iter().take_while(|&&byte| is_perl_space(byte)).count();
    spaces >= 2 || (spaces == 1 && rest.get(1) != Some(&b':'))
}

/// Returns whether `line` starts a header field: printable ASCII other
/// than a colon, optional blanks, then a colon.
fn is_field_start(line: &Line<'_>) -> bool {
    let content = line.content;
    let name_len = content
        .iter()
        .take_while(|&&byte| is_name_byte(byte))
        .count();
    let blanks = content[name_len..]
        .iter()
        .take_while(|&&byte| matches!(byte, b' ' | b'\t'))
        .count();
    name_len > 0 && content.get(name_len + blanks) == Some(&b':')
}

/// Returns whether `line` is a field name directly followed by a colon,
/// the test `_parse_multipart` applies to the line after a boundary.
fn is_field_name_colon(line: &Line<'_>) -> bool {
    let content = line.content;
    let name_len = content
        .iter()
        .take_while(|&&byte| is_name_byte(byte))
        .count();
    name_len > 0 && content.get(name_len) == Some(&b':')
}

fn is_name_byte(byte: u8) -> bool {
    matches!(byte, 0x21..=0x39 | 0x3b..=0x7e)
}

/// Returns whether `byte` matches Perl's `\s` on a byte string.
fn is_perl_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Returns `Some(is_closing)` when `line` is `--boundary` or
/// `--boundary--`, with trailing whitespace allowed, and `None` otherwise.
fn boundary_line(line: &Line<'_>, boundary: &[u8]) -> Option<bool> {
    let rest = line.content.strip_prefix(b"--")?.strip_prefix(boundary)?;
    let (closing, rest) = match rest.strip_prefix(b"--") {
        Some(after) => (true, after),
        None => (false, rest),
    };
    if rest.iter().all(|&byte| is_perl_space(byte)) {
        return Some(closing);
    }
    // `--boundary--junk`: Perl backtracks and tries the line as an opening
    // boundary, which fails on the `-` as well.
    None
}

/// Reads a Content-Type value as SpamAssassin's `parse_content_type` does:
/// returns the lowercased media type (text/plain when missing, and for any
/// text type but html, calendar and x-vcard), the boundary, and whether the
/// type was missing.
fn parse_content_type(value: Option<&[u8]>) -> (String, Option<Vec<u8>>, bool) {
    let value = value.filter(|value| !value.is_empty());
    let Some(value) = value else {
        return ("text/plain".to_string(), None, true);
    };
    let boundary = find_boundary(value);

    let value = value.trim_ascii_start();
    let value = &value[..memchr::memchr(b';', value).unwrap_or(value.len())];
    let type_len = value.iter().take_while(|&&byte| byte != b'/').count();
    let mut end = type_len;
    if type_len < value.len() {
        end += 1;
        end += value[end..]
            .iter()
            .take_while(|&&byte| byte != b'/' && !byte.is_ascii_whitespace())
            .count();
    }
    let media_type = String::from_utf8_lossy(&value[..end]).to_ascii_lowercase();
    let missing = media_type.is_empty();
    let is_other_text = media_type.strip_prefix("text").is_some_and(|rest| {
        rest.is_empty() || !rest.as_bytes()[0].is_ascii_alphanumeric() && rest.as_bytes()[0] != b'_'
    }) && !matches!(
        media_type.as_str(),
        "text/x-vcard" | "text/calendar" | "text/html"
    );
    if missing || is_other_text {
        return ("text/plain".to_string(), boundary, missing);
    }
    (media_type, boundary, false)
}

/// Finds `boundary=` as `parse_content_type` does: a word boundary before
/// `boundary`, then either a quoted value (to the closing quote, which
/// may be missing) or a token that ends at whitespace, `;` or the end.
fn find_boundary(value: &[u8]) -> Option<Vec<u8>> {
    let lower = value.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = memchr::memmem::find(&lower[from..], b"boundary") {
        let at = from + found;
        from = at + 1;
        let word_before = at > 0 && is_word_byte(lower[at - 1]);
        if word_before {
            continue;
        }
        let rest = &value[at + 8..];
        let rest = rest.trim_ascii_start();
        let Some(rest) = rest.strip_prefix(b"=") else {
            continue;
        };
        let rest = rest.trim_ascii_start();
        if let Some(quoted) = rest.strip_prefix(b"\"") {
            let len = quoted.iter().take_while(|&&byte| byte != b'"').count();
            if len > 0 {
                return Some(quoted[..len].to_vec());
            }
            continue;
        }
        let len = rest
            .iter()
            .take_while(|&&byte| !byte.is_ascii_whitespace() && byte != b'"' && byte != b';')
            .count();
        if len > 0 && rest.get(len).is_none_or(|&byte| byte != b'"') {
            return Some(rest[..len].to_vec());
        }
    }
    None
}

fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// Returns the body of an attached message decoded by its transfer
/// encoding, lines joined with "\n".
fn decode_body(body: &[Line<'_>], encoding: Option<&[u8]>) -> Vec<u8> {
    let mut raw = Vec::new();
    for line in body {
        push_line(&mut raw, *line);
    }
    match encoding {
        Some(b"base64") => decode::base64(&raw),
        Some(b"quoted-printable") => decode::quoted_printable(&raw).into_owned(),
        _ => raw,
    }
}

#[cfg(test)]
mod tests;
