//! `Cursor`, the lexer under the IMAP grammar: tags, atoms, strings, literals and numbers.
//!
//! A cursor reads one command that framing (`frame.rs`) already delimited,
//! or a prefix of it that ends right after a synchronizing literal header.
//! Reading past the end of a prefix means "the literal data has not
//! arrived", which `Stop::NeedMore` reports. That includes an empty literal,
//! because the rest of its command comes only after the "+". Any other mismatch is
//! `Stop::Invalid` with a `ParseError`. The two stay apart so that no caller
//! mistakes a short buffer for bad input.
//!
//! Character classes follow RFC 3501 section 9. Quoted strings also accept
//! 8-bit octets (UTF-8 from clients that send it), but never NUL, CR or LF.
//!
//! NOTE: literal data is taken by length and never scanned, so a NUL inside
//! a literal, which RFC 3501 forbids outside literal8, is not rejected here.

use std::borrow::Cow;

use super::error::ParseError;
use super::Limits;

/// The reason parsing stopped before a command was complete.
#[derive(Debug)]
pub(super) enum Stop {
    /// The input ended at or inside a synchronizing literal's data, which has not arrived.
    NeedMore,
    /// The input breaks the grammar or a limit.
    Invalid(ParseError),
}

impl From<ParseError> for Stop {
    fn from(error: ParseError) -> Self {
        Stop::Invalid(error)
    }
}

/// The result of every grammar step.
pub(super) type Step<T> = Result<T, Stop>;

/// Whether `byte` is an ATOM-CHAR: printable ASCII except atom-specials.
pub(super) fn is_atom_char(byte: u8) -> bool {
    matches!(byte, 0x21..=0x7e)
        && !matches!(byte, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
}

/// Whether `byte` is an ASTRING-CHAR: an ATOM-CHAR or `]`.
pub(super) fn is_astring_char(byte: u8) -> bool {
    is_atom_char(byte) || byte == b']'
}

/// Whether `byte` may appear in a tag: an ASTRING-CHAR other than `+`.
pub(super) fn is_tag_char(byte: u8) -> bool {
    is_astring_char(byte) && byte != b'+'
}

/// Whether `byte` is a list-char of a LIST pattern: an ATOM-CHAR, `%`, `*` or `]`.
fn is_list_char(byte: u8) -> bool {
    is_atom_char(byte) || matches!(byte, b'%' | b'*' | b']')
}

/// A read position in one command.
pub(super) struct Cursor<'a> {
    input: &'a [u8],
    pos: usize,
    pub(super) limits: Limits,
    truncated: bool,
}

impl<'a> Cursor<'a> {
    /// Starts reading at the first byte of `input`.
    ///
    /// `truncated` marks an `input` that ends right after a synchronizing
    /// literal header whose data has not arrived. Running out of input then
    /// means `Stop::NeedMore`, not a syntax error.
    pub(super) fn new(input: &'a [u8], limits: Limits, truncated: bool) -> Self {
        Cursor {
            input,
            pos: 0,
            limits,
            truncated,
        }
    }

    /// The offset of the next byte from the start of the command.
    pub(super) fn offset(&self) -> usize {
        self.pos
    }

    /// Moves back to `offset`, which an earlier `offset()` call returned.
    pub(super) fn rewind(&mut self, offset: usize) {
        debug_assert!(offset <= self.pos);
        self.pos = offset;
    }

    /// The next byte without consuming it, or `None` at the end.
    pub(super) fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    /// Builds the syntax error for the byte at the cursor.
    pub(super) fn syntax(&self, expected: &'static str) -> Stop {
        if self.truncated && self.pos >= self.input.len() {
            return Stop::NeedMore;
        }
        Stop::Invalid(ParseError::Syntax {
            expected,
            offset: self.pos,
            found: self.peek(),
        })
    }

    /// Consumes `byte`, or fails naming `expected`.
    pub(super) fn expect(&mut self, byte: u8, expected: &'static str) -> Step<()> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            return Ok(());
        }
        Err(self.syntax(expected))
    }

    /// Consumes `byte` if it is next, and returns whether it was.
    pub(super) fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.pos += 1;
            return true;
        }
        false
    }

    /// Consumes one space.
    pub(super) fn space(&mut self) -> Step<()> {
        self.expect(b' ', "space")
    }

    /// Consumes the line end, CRLF or bare LF, that must end the command.
    pub(super) fn line_end(&mut self) -> Step<()> {
        self.eat(b'\r');
        self.expect(b'\n', "end of line")?;
        if self.pos != self.input.len() {
            return Err(self.syntax("end of command"));
        }
        Ok(())
    }

    /// Consumes bytes while `accept` returns true, and returns them, possibly none.
    pub(super) fn take_while(&mut self, accept: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(&accept) {
            self.pos += 1;
        }
        &self.input[start..self.pos]
    }

    /// Reads a non-empty run of bytes accepted by `accept`, or fails naming `expected`.
    pub(super) fn take_some(
        &mut self,
        accept: impl Fn(u8) -> bool,
        expected: &'static str,
    ) -> Step<&'a [u8]> {
        let run = self.take_while(accept);
        if run.is_empty() {
            return Err(self.syntax(expected));
        }
        Ok(run)
    }

    /// Reads a tag: one or more ASTRING-CHARs other than `+`.
    pub(super) fn tag(&mut self) -> Step<&'a str> {
        let tag = self.take_while(is_tag_char);
        if tag.is_empty() {
            return Err(Stop::Invalid(ParseError::MissingTag));
        }
        Ok(ascii_str(tag))
    }

    /// Reads an atom: one or more ATOM-CHARs.
    pub(super) fn atom(&mut self, expected: &'static str) -> Step<&'a [u8]> {
        self.take_some(is_atom_char, expected)
    }

    /// Reads an atom as `&str`, which always succeeds because atoms are ASCII.
    pub(super) fn atom_str(&mut self, expected: &'static str) -> Step<&'a str> {
        self.atom(expected).map(ascii_str)
    }

    /// Reads an astring: an atom (with `]`), a quoted string or a literal.
    pub(super) fn astring(&mut self) -> Step<Cow<'a, [u8]>> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            Some(b'{') => self.literal().map(Cow::Borrowed),
            _ => self
                .take_some(is_astring_char, "atom, quoted string or literal")
                .map(Cow::Borrowed),
        }
    }

    /// Reads an astring that must be ASCII and must borrow the input, such as
    /// a charset or a header field name, whose spelling has no quotes or escapes.
    pub(super) fn astring_str(&mut self, expected: &'static str) -> Step<&'a str> {
        let offset = self.pos;
        match self.astring()? {
            Cow::Borrowed(bytes) if bytes.is_ascii() => Ok(ascii_str(bytes)),
            _ => Err(Stop::Invalid(ParseError::Syntax {
                expected,
                offset,
                found: self.input.get(offset).copied(),
            })),
        }
    }

    /// Reads a list-mailbox: list-chars (with the wildcards) or a string.
    pub(super) fn list_mailbox(&mut self) -> Step<Cow<'a, [u8]>> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            Some(b'{') => self.literal().map(Cow::Borrowed),
            _ => self
                .take_some(is_list_char, "mailbox pattern")
                .map(Cow::Borrowed),
        }
    }

    /// Reads a quoted string and removes its escapes. Only `\"` and `\\` are escapes.
    pub(super) fn quoted(&mut self) -> Step<Cow<'a, [u8]>> {
        self.expect(b'"', "quoted string")?;
        let start = self.pos;
        let mut has_escape = false;

        loop {
            match self.peek() {
                Some(b'"') => break,
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b'"' | b'\\') => has_escape = true,
                        _ => return Err(self.syntax("\" or \\ after \\ in quoted string")),
                    }
                }
                Some(0 | b'\r' | b'\n') | None => {
                    return Err(self.syntax("closing quote"));
                }
                Some(_) => {}
            }
            self.pos += 1;
        }

        let raw = &self.input[start..self.pos];
        self.pos += 1;
        if !has_escape {
            return Ok(Cow::Borrowed(raw));
        }
        Ok(Cow::Owned(unescape(raw)))
    }

    /// Reads a literal, `{N}` or `{N+}` then a line end, and returns its N data octets.
    pub(super) fn literal(&mut self) -> Step<&'a [u8]> {
        self.expect(b'{', "literal")?;
        let digits = self.take_some(|byte| byte.is_ascii_digit(), "literal length")?;
        let synchronizing = !self.eat(b'+');
        self.expect(b'}', "} after literal length")?;
        self.eat(b'\r');
        self.expect(b'\n', "line end after literal header")?;

        let len = digits.iter().fold(0u64, |len, digit| {
            len.saturating_mul(10)
                .saturating_add(u64::from(digit - b'0'))
        });
        let limit = self.limits.literal_len_max;
        let len = match u32::try_from(len) {
            Ok(len) if len <= limit => len as usize,
            _ => {
                return Err(Stop::Invalid(ParseError::LiteralTooLong {
                    literal_len_max: limit,
                    literal_len: len,
                    synchronizing,
                }));
            }
        };

        if self.input.len() - self.pos < len {
            return Err(Stop::NeedMore);
        }
        let data = &self.input[self.pos..self.pos + len];
        self.pos += len;
        Ok(data)
    }

    /// Reads a number (0 to 2^32-1).
    pub(super) fn number(&mut self) -> Step<u32> {
        let offset = self.pos;
        let digits = self.take_some(|byte| byte.is_ascii_digit(), "number")?;
        let mut value = 0u32;
        for digit in digits {
            value = value
                .checked_mul(10)
                .and_then(|value| value.checked_add(u32::from(digit - b'0')))
                .ok_or(ParseError::NumberTooLarge { offset })?;
        }
        Ok(value)
    }

    /// Reads a non-zero number.
    pub(super) fn nz_number(&mut self) -> Step<u32> {
        let offset = self.pos;
        let value = self.number()?;
        if value == 0 {
            return Err(Stop::Invalid(ParseError::Syntax {
                expected: "non-zero number",
                offset,
                found: Some(b'0'),
            }));
        }
        Ok(value)
    }

    /// Fails with `TooManyItems` when a list already contains `items_max` elements.
    pub(super) fn check_items(&self, len: usize, what: &'static str) -> Step<()> {
        if len >= self.limits.items_max {
            return Err(Stop::Invalid(ParseError::TooManyItems {
                what,
                items_max: self.limits.items_max,
            }));
        }
        Ok(())
    }

    /// Fails with `DepthExceeded` when `depth` is past `depth_max`.
    pub(super) fn check_depth(&self, depth: usize) -> Step<()> {
        if depth > self.limits.depth_max {
            return Err(Stop::Invalid(ParseError::DepthExceeded {
                depth_max: self.limits.depth_max,
            }));
        }
        Ok(())
    }
}

/// The maximum keyword length of the grammar, that of `HEADER.FIELDS.NOT`, in octets.
/// Longer words match no keyword, so `upper_keyword` need not copy them.
pub(super) const KEYWORD_LEN_MAX: usize = 17;

/// A stack buffer for `upper_keyword`, so that matching a keyword does not allocate.
pub(super) type KeywordBuf = [u8; KEYWORD_LEN_MAX];

/// Copies `word` in ASCII upper case into `buf`, for matching against
/// keywords. Returns an empty slice, which matches no keyword, when `word`
/// is longer than `KEYWORD_LEN_MAX`.
pub(super) fn upper_keyword<'b>(word: &[u8], buf: &'b mut KeywordBuf) -> &'b [u8] {
    let Some(upper) = buf.get_mut(..word.len()) else {
        return &[];
    };
    for (out, byte) in upper.iter_mut().zip(word) {
        *out = byte.to_ascii_uppercase();
    }
    upper
}

/// Converts bytes that the lexer checked to be ASCII into `&str`.
pub(super) fn ascii_str(bytes: &[u8]) -> &str {
    // Every caller passes ATOM-CHARs or bytes checked with `is_ascii`, which
    // are valid UTF-8, so the empty fallback is never taken.
    std::str::from_utf8(bytes).unwrap_or_default()
}

/// Removes the backslash from each `\"` and `\\` pair of a quoted string's body.
fn unescape(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter();
    while let Some(&byte) = bytes.next() {
        if byte == b'\\' {
            if let Some(&escaped) = bytes.next() {
                out.push(escaped);
            }
        } else {
            out.push(byte);
        }
    }
    out
}
