//! End-of-data header scan: one memchr-driven pass over a received message
//! that finds where the header ends and the fields that SMTP policy needs.
//!
//! - `scan_header` returns a `HeaderScan`: how the header ended
//!   (`HeaderEnd`), its size, the counts of fields, folds, malformed lines and
//!   Received fields, and the value ranges of the first Message-ID, From, Date
//!   and Subject fields. Ranges are offsets into the message, nothing is copied.
//! - `scan_header_scalar` computes the same result byte by byte. It is the
//!   reference that the differential tests and the fuzz target compare with.
//!
//! Line model, shared by both scans: every LF ends a line and a CR directly
//! before that LF belongs to the line end, so CRLF and bare LF input give the
//! same fields. A CR anywhere else is an ordinary byte. The header ends at the
//! first empty line. A line that starts with SP or HTAB is a fold
//! (RFC 5322 section 2.2.3) and continues the field before it. Any other line
//! is a field when it has a colon and a valid name before it. A valid name is
//! one or more printable ASCII characters other than space (RFC 5322
//! `ftext`), and SP or HTAB between it and the colon is dropped, as the
//! obsolete syntax allows. A line
//! that is neither a fold nor a field is counted as malformed and skipped,
//! together with its folds.
//!
//! Limits (`ScanLimits`): the scan reads at most `header_size_max` octets of
//! header plus the empty line after it, and at most `fields_max` fields. Both
//! bound the work one hostile message costs at end of data, because the
//! message may be as large as the SMTP size limit and every octet of it could
//! be a short header line.

use std::ops::Range;

/// Default maximum header size scanned, in octets: 1 MiB. Typical headers
/// are a few KiB, so this leaves room for long mailing-list traces.
pub const HEADER_SCAN_SIZE_MAX: usize = 1024 * 1024;

/// Default maximum number of header fields scanned. Typical messages have
/// tens of fields, and a mail loop of 100 hops adds about 100 more.
pub const HEADER_SCAN_FIELDS_MAX: usize = 10_000;

/// Bounds of one scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanLimits {
    /// Maximum header size in octets, the empty line that ends it excluded.
    pub header_size_max: usize,
    /// Maximum number of fields. A header with more ends the scan.
    pub fields_max: usize,
}

impl Default for ScanLimits {
    fn default() -> Self {
        ScanLimits {
            header_size_max: HEADER_SCAN_SIZE_MAX,
            fields_max: HEADER_SCAN_FIELDS_MAX,
        }
    }
}

/// The reason a header scan stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderEnd {
    /// An empty line ends the header, and the body follows it.
    BlankLine,
    /// The message ends without an empty line, so it is all header.
    EndOfMessage,
    /// The header is longer than `ScanLimits::header_size_max`.
    SizeLimit,
    /// The header has more than `ScanLimits::fields_max` fields.
    FieldsLimit,
}

/// Result of a header scan, as counts and ranges into the scanned message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderScan {
    /// The reason the scan stopped.
    pub end: HeaderEnd,
    /// Header size in octets: the offset of the empty line, the message
    /// length, or on a limit the offset of the first line not scanned.
    pub header_len: usize,
    /// Offset of the body, after the empty line. `None` unless `end` is
    /// `HeaderEnd::BlankLine`.
    pub body_start: Option<usize>,
    /// Header fields scanned.
    pub fields: usize,
    /// Fold lines (lines that start with SP or HTAB) scanned.
    pub folds: usize,
    /// Lines that are neither a field nor a fold.
    pub malformed: usize,
    /// Received fields scanned.
    pub received: usize,
    /// Value of the first Message-ID field: after the colon up to the line
    /// end of its last fold, folds kept.
    pub message_id: Option<Range<usize>>,
    /// Value of the first From field.
    pub from: Option<Range<usize>>,
    /// Value of the first Date field.
    pub date: Option<Range<usize>>,
    /// Value of the first Subject field.
    pub subject: Option<Range<usize>>,
}

impl HeaderScan {
    fn new() -> HeaderScan {
        HeaderScan {
            end: HeaderEnd::EndOfMessage,
            header_len: 0,
            body_start: None,
            fields: 0,
            folds: 0,
            malformed: 0,
            received: 0,
            message_id: None,
            from: None,
            date: None,
            subject: None,
        }
    }

    /// Records a finished field: its name and its value range.
    fn record(&mut self, name: &[u8], value: Range<usize>) {
        let slot = if name.eq_ignore_ascii_case(b"received") {
            self.received += 1;
            return;
        } else if name.eq_ignore_ascii_case(b"message-id") {
            &mut self.message_id
        } else if name.eq_ignore_ascii_case(b"from") {
            &mut self.from
        } else if name.eq_ignore_ascii_case(b"date") {
            &mut self.date
        } else if name.eq_ignore_ascii_case(b"subject") {
            &mut self.subject
        } else {
            return;
        };
        if slot.is_none() {
            *slot = Some(value);
        }
    }

    /// Applies the size limit to a header that ended inside the window but
    /// past `header_size_max`, because the window has room for the empty line.
    fn finish(mut self, limits: ScanLimits) -> HeaderScan {
        if self.header_len > limits.header_size_max {
            self.end = HeaderEnd::SizeLimit;
            self.body_start = None;
        }
        self
    }
}

/// The field whose value is still growing by folds.
struct OpenField {
    name: Range<usize>,
    value: Range<usize>,
}

/// Returns the part of `message` that a scan may read: the header maximum
/// plus a CRLF for the empty line.
fn window(message: &[u8], limits: ScanLimits) -> &[u8] {
    let len = limits.header_size_max.saturating_add(2).min(message.len());
    &message[..len]
}

/// Scans the header of `message` in one pass of memchr searches.
pub fn scan_header(message: &[u8], limits: ScanLimits) -> HeaderScan {
    let window = window(message, limits);
    let whole = window.len() == message.len();
    let mut scan = HeaderScan::new();
    let mut open: Option<OpenField> = None;
    let mut start = 0;

    // Per line: find the LF (and for field lines the colon before it) with
    // memchr, classify the line by its first byte, and close the open field
    // when a line does not continue it.
    loop {
        if start == window.len() {
            scan.end = if whole {
                HeaderEnd::EndOfMessage
            } else {
                HeaderEnd::SizeLimit
            };
            scan.header_len = start;
            break;
        }
        let first = window[start];
        let (line_end, colon) = if first == b' ' || first == b'\t' {
            (
                memchr::memchr(b'\n', &window[start..]).map(|at| start + at),
                None,
            )
        } else {
            match memchr::memchr2(b':', b'\n', &window[start..]) {
                Some(at) if window[start + at] == b':' => {
                    let colon = start + at;
                    let end = memchr::memchr(b'\n', &window[colon..]).map(|at| colon + at);
                    (end, Some(colon))
                }
                Some(at) => (Some(start + at), None),
                None => (None, None),
            }
        };

        // A line cut off by the window is past the size limit.
        let (content_end, next) = match line_end {
            Some(lf) => (content_end(window, lf), lf + 1),
            None if whole => (window.len(), window.len()),
            None => {
                scan.end = HeaderEnd::SizeLimit;
                scan.header_len = start;
                break;
            }
        };

        if content_end == start && line_end.is_some() {
            scan.end = HeaderEnd::BlankLine;
            scan.header_len = start;
            scan.body_start = Some(next);
            break;
        }

        if first == b' ' || first == b'\t' {
            scan.folds += 1;
            if let Some(field) = open.as_mut() {
                field.value.end = content_end;
            }
            start = next;
            continue;
        }

        close(&mut scan, &mut open, window);
        match colon.and_then(|colon| field_name(window, start, colon)) {
            Some(name) => {
                if scan.fields == limits.fields_max {
                    scan.end = HeaderEnd::FieldsLimit;
                    scan.header_len = start;
                    break;
                }
                scan.fields += 1;
                // The colon is before the line end, so the value range is never reversed.
                let value_start = colon.map_or(content_end, |colon| colon + 1);
                open = Some(OpenField {
                    name,
                    value: value_start..content_end,
                });
            }
            None => scan.malformed += 1,
        }
        start = next;
    }

    close(&mut scan, &mut open, window);
    scan.finish(limits)
}

/// Records the open field, if any, and clears it.
fn close(scan: &mut HeaderScan, open: &mut Option<OpenField>, window: &[u8]) {
    if let Some(field) = open.take() {
        scan.record(&window[field.name], field.value);
    }
}

/// Returns the end of a line's content: the LF at `lf`, or the CR before it.
fn content_end(window: &[u8], lf: usize) -> usize {
    if lf > 0 && window[lf - 1] == b'\r' {
        lf - 1
    } else {
        lf
    }
}

/// Returns the range of the field name on the line from `start` to the colon
/// at `colon`, or `None` when the line is not a field.
fn field_name(window: &[u8], start: usize, colon: usize) -> Option<Range<usize>> {
    let mut end = colon;
    while end > start && matches!(window[end - 1], b' ' | b'\t') {
        end -= 1;
    }
    let name = &window[start..end];
    if name.is_empty() || !name.iter().all(|&byte| (33..=126).contains(&byte)) {
        return None;
    }
    Some(start..end)
}

/// Scans the header of `message` one byte at a time, with no memchr. It gives
/// the same result as `scan_header` and exists as the reference that tests
/// and the fuzz target compare with.
#[doc(hidden)]
pub fn scan_header_scalar(message: &[u8], limits: ScanLimits) -> HeaderScan {
    let window = window(message, limits);
    let whole = window.len() == message.len();
    let mut scan = HeaderScan::new();
    let mut open: Option<OpenField> = None;
    let mut start = 0;

    loop {
        if start == window.len() {
            scan.end = if whole {
                HeaderEnd::EndOfMessage
            } else {
                HeaderEnd::SizeLimit
            };
            scan.header_len = start;
            break;
        }

        let mut lf = None;
        let mut position = start;
        while position < window.len() {
            if window[position] == b'\n' {
                lf = Some(position);
                break;
            }
            position += 1;
        }
        let (content_end, next) = match lf {
            Some(lf) if lf > start && window[lf - 1] == b'\r' => (lf - 1, lf + 1),
            Some(lf) => (lf, lf + 1),
            None if whole => (window.len(), window.len()),
            None => {
                scan.end = HeaderEnd::SizeLimit;
                scan.header_len = start;
                break;
            }
        };
        let content = &window[start..content_end];

        if content.is_empty() && lf.is_some() {
            scan.end = HeaderEnd::BlankLine;
            scan.header_len = start;
            scan.body_start = Some(next);
            break;
        }

        if matches!(content.first(), Some(b' ' | b'\t')) {
            scan.folds += 1;
            if let Some(field) = open.as_mut() {
                field.value.end = content_end;
            }
            start = next;
            continue;
        }

        if let Some(field) = open.take() {
            scan.record(&window[field.name], field.value);
        }

        let mut colon = None;
        for (index, &byte) in content.iter().enumerate() {
            if byte == b':' {
                colon = Some(start + index);
                break;
            }
        }
        let name = colon.map(|colon| {
            let mut end = colon;
            while end > start && (window[end - 1] == b' ' || window[end - 1] == b'\t') {
                end -= 1;
            }
            start..end
        });
        let valid = name.as_ref().is_some_and(|name| {
            !name.is_empty()
                && window[name.clone()]
                    .iter()
                    .all(|&byte| byte > 32 && byte < 127)
        });

        match (valid, name, colon) {
            (true, Some(name), Some(colon)) => {
                if scan.fields == limits.fields_max {
                    scan.end = HeaderEnd::FieldsLimit;
                    scan.header_len = start;
                    break;
                }
                scan.fields += 1;
                open = Some(OpenField {
                    name,
                    value: colon + 1..content_end,
                });
            }
            _ => scan.malformed += 1,
        }
        start = next;
    }

    if let Some(field) = open.take() {
        scan.record(&window[field.name], field.value);
    }
    scan.finish(limits)
}

#[cfg(test)]
#[path = "scan_tests.rs"]
mod tests;
