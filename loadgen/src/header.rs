//! Finding the `X-Loadgen-Id` field in a message header, for the sink's log
//! and the delivery verifier.
//!
//! [`HeaderCollector`] keeps the first octets of a message that arrives in
//! pieces, until the blank line that ends the header. [`find_loadgen_id`]
//! returns the field's value from a header block. Lines may end in CRLF (as
//! on the wire) or LF (as in most Maildir files). A value folded onto the
//! next line is read from that line.
//!
//! Limits: only the first [`HEADER_SCAN_LEN_MAX`] octets are searched, so a
//! message with a huge header costs a bounded copy. An id longer than
//! [`ID_LEN_MAX`] is treated as missing, because the loadgen never writes
//! one that long and a log line must stay short.

/// Octets of a message searched for the header field. The loadgen's header
/// is a few hundred octets plus one line per recipient, so 64 KiB covers
/// its maximum of 1000 recipients.
pub const HEADER_SCAN_LEN_MAX: usize = 64 * 1024;

/// Maximum length of an id in octets.
pub const ID_LEN_MAX: usize = 256;

/// The field name, matched without regard to case.
const FIELD_NAME: &[u8] = b"x-loadgen-id:";

/// Keeps the start of one message until its header is complete.
#[derive(Debug, Default)]
pub struct HeaderCollector {
    header: Vec<u8>,
    complete: bool,
}

impl HeaderCollector {
    /// Creates an empty collector.
    pub fn new() -> Self {
        HeaderCollector::default()
    }

    /// Appends the next octets of the message, up to the end of the header
    /// or [`HEADER_SCAN_LEN_MAX`], whichever comes first.
    pub fn push(&mut self, octets: &[u8]) {
        if self.complete || octets.is_empty() {
            return;
        }

        let room = HEADER_SCAN_LEN_MAX - self.header.len();
        let take = octets.len().min(room);
        // Search from a few octets back, so a blank line split between two
        // pieces is still found.
        let search_from = self.header.len().saturating_sub(3);
        self.header.extend_from_slice(&octets[..take]);
        if header_end(&self.header, search_from).is_some()
            || self.header.len() == HEADER_SCAN_LEN_MAX
        {
            self.complete = true;
        }
    }

    /// Returns the id found in the octets collected so far.
    pub fn loadgen_id(&self) -> Option<&[u8]> {
        find_loadgen_id(&self.header)
    }

    /// Forgets the collected octets, for the next message.
    pub fn clear(&mut self) {
        self.header.clear();
        self.complete = false;
    }
}

/// Returns the index just past the blank line that ends the header, looking
/// for it at or after `from`. An empty first line also ends the header.
fn header_end(message: &[u8], from: usize) -> Option<usize> {
    if message.starts_with(b"\n") {
        return Some(1);
    }
    if message.starts_with(b"\r\n") {
        return Some(2);
    }

    let mut position = from;
    while let Some(offset) = memchr::memchr(b'\n', &message[position..]) {
        let lf = position + offset;
        let rest = &message[lf + 1..];
        if rest.starts_with(b"\n") {
            return Some(lf + 2);
        }
        if rest.starts_with(b"\r\n") {
            return Some(lf + 3);
        }
        position = lf + 1;
    }
    None
}

/// Returns the value of the first `X-Loadgen-Id` field in the header at the
/// start of `message`, trimmed, or `None` when there is none, it is empty,
/// longer than [`ID_LEN_MAX`] or contains a byte that is not printable ASCII.
pub fn find_loadgen_id(message: &[u8]) -> Option<&[u8]> {
    let scanned = &message[..message.len().min(HEADER_SCAN_LEN_MAX)];
    let header = match header_end(scanned, 0) {
        Some(end) => &scanned[..end],
        None => scanned,
    };

    let mut lines = header.split(|&byte| byte == b'\n').peekable();
    while let Some(line) = lines.next() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return None;
        }
        if line.len() < FIELD_NAME.len()
            || !line[..FIELD_NAME.len()].eq_ignore_ascii_case(FIELD_NAME)
        {
            continue;
        }

        let value = line[FIELD_NAME.len()..].trim_ascii();
        // An empty value followed by a continuation line (space or tab
        // first) was folded, so the id is on that line. The loadgen never
        // folds its ids, so only this one shape is handled.
        let folded = lines
            .peek()
            .is_some_and(|next| next.starts_with(b" ") || next.starts_with(b"\t"));
        let value = if value.is_empty() && folded {
            let next = lines.next().unwrap_or_default();
            next.strip_suffix(b"\r").unwrap_or(next).trim_ascii()
        } else {
            value
        };
        return valid_id(value);
    }
    None
}

/// Returns `id` if it is a usable id: 1 to [`ID_LEN_MAX`] printable ASCII octets.
fn valid_id(id: &[u8]) -> Option<&[u8]> {
    let usable = !id.is_empty() && id.len() <= ID_LEN_MAX && id.iter().all(u8::is_ascii_graphic);
    usable.then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loadgen_id_table() {
        let cases: &[(&str, &[u8], Option<&[u8]>)] = &[
            (
                "crlf header",
                b"From: a\r\nX-Loadgen-Id: ab-1\r\n\r\nbody",
                Some(b"ab-1"),
            ),
            (
                "lf header from maildir",
                b"From: a\nX-Loadgen-Id: ab-2\n\nbody",
                Some(b"ab-2"),
            ),
            (
                "lowercase name",
                b"x-loadgen-id:ab-3\r\n\r\n",
                Some(b"ab-3"),
            ),
            (
                "trailing spaces",
                b"X-Loadgen-Id:  ab-4  \r\n\r\n",
                Some(b"ab-4"),
            ),
            (
                "first of two",
                b"X-Loadgen-Id: a\r\nX-Loadgen-Id: b\r\n\r\n",
                Some(b"a"),
            ),
            (
                "folded value",
                b"X-Loadgen-Id:\r\n ab-5\r\n\r\n",
                Some(b"ab-5"),
            ),
            ("missing", b"From: a\r\n\r\nX-Loadgen-Id: in-body\r\n", None),
            ("empty value", b"X-Loadgen-Id: \r\n\r\n", None),
            ("space inside", b"X-Loadgen-Id: a b\r\n\r\n", None),
            ("control byte", b"X-Loadgen-Id: a\x01b\r\n\r\n", None),
            ("empty header", b"\r\nX-Loadgen-Id: a\r\n", None),
            ("prefix of another name", b"X-Loadgen-Idx: a\r\n\r\n", None),
            ("no header end", b"X-Loadgen-Id: ab-6", Some(b"ab-6")),
        ];
        for (name, message, expected) in cases {
            assert_eq!(find_loadgen_id(message), *expected, "case {name}");
        }
    }

    #[test]
    fn overlong_id_is_missing() {
        let mut message = b"X-Loadgen-Id: ".to_vec();
        message.extend(std::iter::repeat_n(b'a', ID_LEN_MAX + 1));
        message.extend_from_slice(b"\r\n\r\n");
        assert_eq!(find_loadgen_id(&message), None);
    }

    #[test]
    fn collector_split_blank_line() {
        let message = b"Subject: x\r\nX-Loadgen-Id: ab-7\r\n\r\nbody\r\n";
        for cut in 0..message.len() {
            let mut collector = HeaderCollector::new();
            collector.push(&message[..cut]);
            collector.push(&message[cut..]);
            assert_eq!(collector.loadgen_id(), Some(&b"ab-7"[..]), "cut at {cut}");
        }
    }

    #[test]
    fn collector_stops_at_scan_max() {
        let mut collector = HeaderCollector::new();
        let filler = vec![b'a'; 4096];
        for _ in 0..(2 * HEADER_SCAN_LEN_MAX / filler.len()) {
            collector.push(&filler);
        }
        assert_eq!(collector.header.len(), HEADER_SCAN_LEN_MAX);
        collector.clear();
        collector.push(b"X-Loadgen-Id: ab-8\r\n\r\n");
        assert_eq!(collector.loadgen_id(), Some(&b"ab-8"[..]));
    }
}
