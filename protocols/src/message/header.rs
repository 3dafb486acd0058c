//! Header block scanning (RFC 5322 section 2.2): where the header ends, the
//! fields in it with their folds, and unfolded values.
//!
//! `body_start` and `Fields` return offsets into the bytes they were given
//! and never copy. Lines may end in CRLF or in a bare LF, because messages
//! stored by other software often use LF. Both scans are driven by memchr.

use std::borrow::Cow;
use std::ops::Range;

/// Returns the offset where the body starts: just after the empty line that
/// ends the header, or the end of `entity` when it has no empty line.
pub fn body_start(entity: &[u8]) -> usize {
    if entity.starts_with(b"\r\n") {
        return 2;
    }
    if entity.starts_with(b"\n") {
        return 1;
    }

    // Every LF ends a line. The header ends at the first line that is empty.
    for line_feed in memchr::memchr_iter(b'\n', entity) {
        let next = &entity[line_feed + 1..];
        if next.starts_with(b"\n") {
            return line_feed + 2;
        }
        if next.starts_with(b"\r\n") {
            return line_feed + 3;
        }
    }
    entity.len()
}

/// One header field, as ranges into the header it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The field name, without trailing whitespace before the colon.
    pub name: Range<usize>,
    /// The raw value: after the colon up to, not including, the line end of
    /// the last continuation line. Folds are kept.
    pub value: Range<usize>,
    /// The whole field, from the name through its final line end.
    pub raw: Range<usize>,
}

/// Iterator over the fields of a header block. Lines that have no colon,
/// or that start with whitespace before any field, are skipped.
pub struct Fields<'a> {
    header: &'a [u8],
    position: usize,
}

/// Returns an iterator over the fields of `header`.
pub fn fields(header: &[u8]) -> Fields<'_> {
    Fields {
        header,
        position: 0,
    }
}

impl Iterator for Fields<'_> {
    type Item = Field;

    fn next(&mut self) -> Option<Field> {
        let header = self.header;
        loop {
            if self.position >= header.len() {
                return None;
            }
            let start = self.position;
            let first_end = line_end(header, start);
            self.position = first_end;
            let line = &header[start..first_end];

            // Continuation lines of a skipped line and lines without a name are dropped.
            if matches!(line.first(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
                continue;
            }
            let Some(colon) = memchr::memchr(b':', line) else {
                continue;
            };
            let name_end = start + trim_end(&line[..colon]);
            if name_end == start {
                continue;
            }

            // Continuation lines start with SP or HTAB.
            while matches!(header.get(self.position), Some(b' ' | b'\t')) {
                self.position = line_end(header, self.position);
            }
            let raw = start..self.position;
            let value_end = raw.end - line_ending_len(&header[raw.clone()]);
            let value_start = (start + colon + 1).min(value_end);
            return Some(Field {
                name: start..name_end,
                value: value_start..value_end,
                raw,
            });
        }
    }
}

/// Returns the end of the line starting at `start`, after its LF.
fn line_end(bytes: &[u8], start: usize) -> usize {
    memchr::memchr(b'\n', &bytes[start..])
        .map(|at| start + at + 1)
        .unwrap_or(bytes.len())
}

/// Returns the length of the CRLF or LF that ends `bytes`, or 0.
fn line_ending_len(bytes: &[u8]) -> usize {
    if bytes.ends_with(b"\r\n") {
        2
    } else if bytes.ends_with(b"\n") {
        1
    } else {
        0
    }
}

/// Returns the length of `bytes` without trailing ASCII whitespace.
fn trim_end(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .rposition(|byte| !byte.is_ascii_whitespace())
        .map(|at| at + 1)
        .unwrap_or(0)
}

/// Returns `value` with folds removed (each CR and LF dropped, the
/// whitespace after them kept) and leading and trailing whitespace trimmed.
pub fn unfold(value: &[u8]) -> Cow<'_, [u8]> {
    let start = value
        .iter()
        .position(|byte| !byte.is_ascii_whitespace())
        .unwrap_or(value.len());
    let value = &value[start..];
    let value = &value[..trim_end(value)];
    if memchr::memchr2(b'\r', b'\n', value).is_none() {
        return Cow::Borrowed(value);
    }
    Cow::Owned(
        value
            .iter()
            .copied()
            .filter(|&byte| byte != b'\r' && byte != b'\n')
            .collect(),
    )
}

/// Returns the unfolded value of the first field called `name` among the
/// first `fields_max` fields of `header`.
pub fn field_value<'h>(header: &'h [u8], name: &[u8], fields_max: usize) -> Option<Cow<'h, [u8]>> {
    fields(header)
        .take(fields_max)
        .find(|field| header[field.name.clone()].eq_ignore_ascii_case(name))
        .map(|field| unfold(&header[field.value]))
}
