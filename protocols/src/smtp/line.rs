//! Splitting the command stream into command lines.
//!
//! [`LineReader`] finds the next command line in the engine's read buffer and
//! returns it as a slice of that buffer ([`LineOutcome::Line`]), or reports that it
//! needs more bytes, or reports a line longer than its maximum. The engine loops:
//! call [`LineReader::next`], drain `consumed` bytes, repeat until the outcome
//! is `NeedMore` with `consumed == 0`. Several pipelined commands in one read
//! come out one per call.
//!
//! A command line ends at LF, with an optional CR before it, because clients
//! such as netcat send a bare LF. This leniency is for commands only: the DATA
//! receiver treats a bare LF as an error (see `data.rs`).
//!
//! The maximum counts the line end. A line longer than that is reported once
//! as [`LineOutcome::TooLong`], and the reader then discards bytes through the
//! next LF, so the engine never buffers more than `line_max` bytes of one line.

/// RFC 5321 4.5.3.1.4: a command line is at most 512 octets including CRLF.
pub const COMMAND_LINE_MAX: usize = 512;

/// Finds command lines in a byte stream; see the module documentation.
#[derive(Debug, Clone)]
pub struct LineReader {
    /// Maximum line length in octets, line end included.
    line_max: usize,
    /// True after a `TooLong` report until the LF that ends the overlong line.
    discarding: bool,
}

/// Result of one [`LineReader::next`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineOutcome<'a> {
    /// A complete line without its line end; `consumed` includes the line end.
    Line { line: &'a [u8], consumed: usize },
    /// No complete line yet. `consumed` > 0 only while discarding an overlong line.
    NeedMore { consumed: usize },
    /// A line exceeded the maximum: the reader discards bytes through the next LF.
    /// Reported once per overlong line (caller replies 500 5.5.2), `consumed` bytes dropped.
    TooLong { consumed: usize },
}

impl LineReader {
    /// Builds a reader for lines of at most `line_max` octets, line end
    /// included. Commands use [`COMMAND_LINE_MAX`]. A `line_max` of 0 or 1
    /// makes every non-empty line too long.
    pub fn new(line_max: usize) -> Self {
        Self {
            line_max,
            discarding: false,
        }
    }

    /// Returns the next line at the front of `buf`, or why there is none.
    ///
    /// `consumed` always counts from the start of `buf`. When the reader was
    /// discarding the tail of an overlong line and that tail ends inside
    /// `buf`, the outcome describes what follows it, and `consumed` includes
    /// the discarded tail too.
    pub fn next<'a>(&mut self, buf: &'a [u8]) -> LineOutcome<'a> {
        let mut skipped = 0;
        if self.discarding {
            match memchr::memchr(b'\n', buf) {
                Some(lf) => {
                    self.discarding = false;
                    skipped = lf + 1;
                }
                None => {
                    return LineOutcome::NeedMore {
                        consumed: buf.len(),
                    }
                }
            }
        }

        match self.next_line(&buf[skipped..]) {
            LineOutcome::Line { line, consumed } => LineOutcome::Line {
                line,
                consumed: skipped + consumed,
            },
            LineOutcome::NeedMore { consumed } => LineOutcome::NeedMore {
                consumed: skipped + consumed,
            },
            LineOutcome::TooLong { consumed } => LineOutcome::TooLong {
                consumed: skipped + consumed,
            },
        }
    }

    /// Looks for one line at the start of `buf`, which begins a line.
    fn next_line<'a>(&mut self, buf: &'a [u8]) -> LineOutcome<'a> {
        if buf.is_empty() {
            return LineOutcome::NeedMore { consumed: 0 };
        }

        // A line of `line_max` octets has its LF at index `line_max - 1`, so
        // only that prefix needs searching.
        let window = &buf[..buf.len().min(self.line_max)];
        if let Some(lf) = memchr::memchr(b'\n', window) {
            let line = &buf[..lf];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            return LineOutcome::Line {
                line,
                consumed: lf + 1,
            };
        }

        if buf.len() < self.line_max {
            return LineOutcome::NeedMore { consumed: 0 };
        }

        // The line is already too long. Drop it through its LF if that is in
        // the buffer, or drop everything and keep discarding on later calls.
        match memchr::memchr(b'\n', &buf[window.len()..]) {
            Some(lf) => LineOutcome::TooLong {
                consumed: window.len() + lf + 1,
            },
            None => {
                self.discarding = true;
                LineOutcome::TooLong {
                    consumed: buf.len(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::arbitrary::Arbitrary;

    /// Feeds `chunks` one at a time into a buffer the way the engine does and
    /// returns the lines and `TooLong` reports seen, as strings.
    fn drive(line_max: usize, chunks: &[&[u8]]) -> Vec<String> {
        let mut reader = LineReader::new(line_max);
        let mut buffer = Vec::new();
        let mut events = Vec::new();

        for chunk in chunks {
            buffer.extend_from_slice(chunk);
            loop {
                match reader.next(&buffer) {
                    LineOutcome::Line { line, consumed } => {
                        events.push(String::from_utf8_lossy(line).into_owned());
                        buffer.drain(..consumed);
                    }
                    LineOutcome::TooLong { consumed } => {
                        events.push("<too long>".to_owned());
                        buffer.drain(..consumed);
                    }
                    LineOutcome::NeedMore { consumed: 0 } => break,
                    LineOutcome::NeedMore { consumed } => {
                        buffer.drain(..consumed);
                    }
                }
            }
            assert!(
                buffer.len() < line_max.max(1),
                "reader left {} bytes buffered",
                buffer.len()
            );
        }
        events
    }

    #[test]
    fn line_reader_table() {
        // Name, line_max, chunks fed one after another, expected events.
        type Row = (
            &'static str,
            usize,
            &'static [&'static [u8]],
            &'static [&'static str],
        );
        let cases: &[Row] = &[
            ("crlf", 512, &[b"NOOP\r\n"], &["NOOP"]),
            ("bare lf from netcat", 512, &[b"NOOP\n"], &["NOOP"]),
            (
                "pipelined",
                512,
                &[b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"],
                &["MAIL FROM:<a@b>", "RCPT TO:<c@d>", "DATA"],
            ),
            (
                "split between cr and lf",
                512,
                &[b"NOOP\r", b"\n"],
                &["NOOP"],
            ),
            (
                "split mid verb",
                512,
                &[b"NO", b"OP\r\nQU", b"IT\r\n"],
                &["NOOP", "QUIT"],
            ),
            ("empty line", 512, &[b"\r\n\n"], &["", ""]),
            ("incomplete stays", 512, &[b"NOOP"], &[]),
            ("cr inside line kept", 512, &[b"NO\rOP\r\n"], &["NO\rOP"]),
            ("exactly max with crlf", 6, &[b"NOOP\r\n"], &["NOOP"]),
            (
                "one over max with crlf",
                6,
                &[b"NOOPS\r\nQUIT\r\n"],
                &["<too long>", "QUIT"],
            ),
            ("exactly max with lf", 5, &[b"NOOP\n"], &["NOOP"]),
            (
                "overlong across chunks",
                6,
                &[b"ABCDEFGH", b"IJKL", b"MN\r\nQUIT\r\n"],
                &["<too long>", "QUIT"],
            ),
            (
                "overlong tail and next line in one chunk",
                6,
                &[b"ABCDEFGH", b"IJ\nNOOP\n"],
                &["<too long>", "NOOP"],
            ),
            (
                "two overlong lines",
                4,
                &[b"ABCDEFG\nHIJKLMN\nOK\n"],
                &["<too long>", "<too long>", "OK"],
            ),
            ("zero max rejects all", 0, &[b"A\n"], &["<too long>"]),
        ];
        for (name, line_max, chunks, expected) in cases {
            assert_eq!(drive(*line_max, chunks), *expected, "case {name}");
        }
    }

    proptest::proptest! {
        #[test]
        fn line_reader_chunk_split_invariant(
            input in proptest::collection::vec(
                proptest::sample::select(vec![b'\r', b'\n', b'a', b' ']),
                0..200,
            ),
            line_max in 0usize..24,
            cuts in proptest::collection::vec(proptest::sample::Index::arbitrary(), 0..6),
        ) {
            let mut cuts = cuts.iter().map(|cut| cut.index(input.len() + 1)).collect::<Vec<_>>();
            cuts.sort_unstable();

            let mut chunks = Vec::new();
            let mut start = 0;
            for cut in cuts {
                chunks.push(&input[start..cut]);
                start = cut;
            }
            chunks.push(&input[start..]);

            proptest::prop_assert_eq!(drive(line_max, &chunks), drive(line_max, &[&input]));
        }
    }

    #[test]
    fn overlong_line_reported_once() {
        let mut reader = LineReader::new(8);
        assert_eq!(
            reader.next(b"0123456789"),
            LineOutcome::TooLong { consumed: 10 }
        );
        assert_eq!(
            reader.next(b"0123456789"),
            LineOutcome::NeedMore { consumed: 10 }
        );
        assert_eq!(
            reader.next(b"01\r\n"),
            LineOutcome::NeedMore { consumed: 4 }
        );
        assert_eq!(
            reader.next(b"QUIT\r\n"),
            LineOutcome::Line {
                line: b"QUIT",
                consumed: 6
            }
        );
    }

    #[test]
    fn empty_buffer_needs_more() {
        let mut reader = LineReader::new(COMMAND_LINE_MAX);
        assert_eq!(reader.next(b""), LineOutcome::NeedMore { consumed: 0 });
    }

    #[test]
    fn command_line_max_boundary() {
        let mut exact = vec![b'A'; COMMAND_LINE_MAX - 2];
        exact.extend_from_slice(b"\r\n");
        let mut reader = LineReader::new(COMMAND_LINE_MAX);
        assert!(
            matches!(reader.next(&exact), LineOutcome::Line { consumed, .. } if consumed == COMMAND_LINE_MAX)
        );

        let mut over = vec![b'A'; COMMAND_LINE_MAX - 1];
        over.extend_from_slice(b"\r\n");
        assert_eq!(
            reader.next(&over),
            LineOutcome::TooLong {
                consumed: COMMAND_LINE_MAX + 1
            }
        );
    }
}
