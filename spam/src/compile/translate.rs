//! Translation of Perl regex syntax, as SpamAssassin's rules use it, into the
//! syntax of regex-syntax (and fancy-regex).
//!
//! [`translate`] walks the pattern once and rewrites what differs:
//!
//! - Without `/m`, Perl's `$` also matches before a final newline, and
//!   SpamAssassin's header values end in one, so `$` becomes `(?:\n?\z)`
//!   and `\Z` too. `\z`, `\A`, `\b`, `\B` and the `\d \w \s` classes stay.
//! - Escapes Rust lacks are rewritten: `\h \H \v \V \R \N \e \a \cX`, octal
//!   `\0nn` and `\nnn`, one-digit `\xH`, `\Q...\E` quoting, and `\b` as
//!   backspace inside classes.
//! - Escaped letters and punctuation that Perl reads as plain characters
//!   become those characters. For example `\<` is `<` in Perl but a word
//!   boundary in Rust.
//! - Inside classes, `[` (not starting `[:name:]`), `&`, `~` and a second `-`
//!   are escaped, because Rust reads them as nested classes and set operators.
//! - A `{` that does not start a valid quantifier is a literal in Perl and is
//!   escaped; `{,n}` is `{0,n}` as in Perl 5.34 and later.
//! - `(?#...)` comments are dropped, `(?'name'...)` becomes `(?<name>...)`,
//!   and group flags other than `imsx` are dropped (`a` is implied: matching
//!   is ASCII-only on bytes).
//!
//! Lookaround, backreferences, atomic groups and possessive quantifiers set
//! [`Translation::needs_fancy`]: only fancy-regex runs them. Constructs no
//! engine here supports (recursion, code blocks, branch reset, `\K`, `\G`,
//! verbs, case-changing escapes) return [`Unsupported`].
//!
//! The pattern flags `i m s x` are returned as [`Flags`] for the engine's
//! configuration; `o`, `g` and `a` have no effect on matching and are
//! dropped, any other flag is unsupported.

/// The regex flags that change matching.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    pub case_insensitive: bool,
    pub multi_line: bool,
    pub dot_matches_new_line: bool,
    pub ignore_whitespace: bool,
}

/// A translated pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translation {
    /// The pattern in Rust regex syntax, without the flags.
    pub pattern: String,
    pub flags: Flags,
    /// Whether the pattern uses lookaround, backreferences, atomic groups or
    /// possessive quantifiers.
    pub needs_fancy: bool,
}

/// A Perl construct with no translation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub String);

impl std::fmt::Display for Unsupported {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// Characters that regex-syntax requires escaped outside a class to mean
/// themselves.
const META: &str = r".+*?()|[]{}^$#&-~\";

/// Translates `source` with Perl `flags` into Rust regex syntax.
pub fn translate(source: &str, flags: &str) -> Result<Translation, Unsupported> {
    let flags = parse_flags(flags)?;
    let mut translator = Translator {
        chars: source.chars().collect(),
        position: 0,
        output: String::with_capacity(source.len() + 16),
        needs_fancy: false,
        flags,
    };
    translator.run()?;
    Ok(Translation {
        pattern: translator.output,
        flags,
        needs_fancy: translator.needs_fancy,
    })
}

fn parse_flags(text: &str) -> Result<Flags, Unsupported> {
    let mut flags = Flags::default();
    for flag in text.chars() {
        match flag {
            'i' => flags.case_insensitive = true,
            'm' => flags.multi_line = true,
            's' => flags.dot_matches_new_line = true,
            'x' => flags.ignore_whitespace = true,
            'o' | 'g' | 'a' => {}
            other => return Err(Unsupported(format!("regex flag {other:?}"))),
        }
    }
    Ok(flags)
}

struct Translator {
    chars: Vec<char>,
    position: usize,
    output: String,
    needs_fancy: bool,
    flags: Flags,
}

impl Translator {
    fn peek(&self, offset: usize) -> Option<char> {
        self.chars.get(self.position + offset).copied()
    }

    fn starts_with(&self, text: &str) -> bool {
        text.chars()
            .enumerate()
            .all(|(offset, c)| self.peek(offset) == Some(c))
    }

    fn run(&mut self) -> Result<(), Unsupported> {
        while let Some(character) = self.peek(0) {
            match character {
                '\\' => self.escape_outside()?,
                '[' => self.class()?,
                '(' => self.group()?,
                '{' => self.brace(),
                '}' => {
                    self.output.push_str("\\}");
                    self.position += 1;
                }
                '*' | '+' | '?' => {
                    self.output.push(character);
                    self.position += 1;
                    self.quantifier_suffix();
                }
                '$' if !self.flags.multi_line => {
                    self.output.push_str("(?:\\n?\\z)");
                    self.position += 1;
                }
                _ => {
                    self.push_char(character);
                    self.position += 1;
                }
            }
        }
        Ok(())
    }

    /// Writes a plain character. A non-ASCII character becomes its UTF-8
    /// bytes, because Perl reads rule files as bytes: a quantifier after it
    /// repeats the last byte, and inside a class each byte is a member.
    fn push_char(&mut self, character: char) {
        if character.is_ascii() {
            self.output.push(character);
            return;
        }
        let mut buffer = [0u8; 4];
        for byte in character.encode_utf8(&mut buffer).bytes() {
            self.push_byte(u32::from(byte));
        }
    }

    /// After a quantifier: `?` (lazy) is kept, `+` (possessive) needs fancy-regex.
    fn quantifier_suffix(&mut self) {
        match self.peek(0) {
            Some('?') => {
                self.output.push('?');
                self.position += 1;
            }
            Some('+') => {
                self.needs_fancy = true;
                self.output.push('+');
                self.position += 1;
            }
            _ => {}
        }
    }

    /// Handles `{`: a quantifier when it reads `{n}`, `{n,}`, `{n,m}` or
    /// `{,m}`, else a literal brace.
    fn brace(&mut self) {
        let mut end = self.position + 1;
        while end < self.chars.len() && (self.chars[end].is_ascii_digit() || self.chars[end] == ',')
        {
            end += 1;
        }
        let inner: String = self.chars[self.position + 1..end].iter().collect();
        let closed = self.chars.get(end) == Some(&'}');
        let commas = inner.matches(',').count();
        let (low, high) = inner.split_once(',').unwrap_or((&inner, ""));
        let valid = closed && commas <= 1 && (!low.is_empty() || (!high.is_empty() && commas == 1));
        if !valid {
            self.output.push_str("\\{");
            self.position += 1;
            return;
        }
        self.output.push('{');
        if low.is_empty() {
            self.output.push('0');
        }
        self.output.push_str(&inner);
        self.output.push('}');
        self.position = end + 1;
        self.quantifier_suffix();
    }

    fn group(&mut self) -> Result<(), Unsupported> {
        if self.peek(1) == Some('*') {
            return Err(Unsupported("backtracking verb (*...)".to_string()));
        }
        if self.peek(1) != Some('?') {
            self.output.push('(');
            self.position += 1;
            return Ok(());
        }
        let lookaround = ["(?=", "(?!", "(?<=", "(?<!", "(?>"];
        if let Some(opening) = lookaround.iter().find(|opening| self.starts_with(opening)) {
            self.needs_fancy = true;
            self.output.push_str(opening);
            self.position += opening.chars().count();
            return Ok(());
        }
        if self.starts_with("(?#") {
            while let Some(character) = self.peek(0) {
                self.position += 1;
                if character == ')' {
                    break;
                }
            }
            return Ok(());
        }
        if self.starts_with("(?<") || self.starts_with("(?P<") {
            let opening = if self.starts_with("(?<") {
                "(?<"
            } else {
                "(?P<"
            };
            self.output.push_str(opening);
            self.position += opening.len();
            return Ok(());
        }
        if self.starts_with("(?'") {
            self.output.push_str("(?<");
            self.position += 3;
            while let Some(character) = self.peek(0) {
                self.position += 1;
                if character == '\'' {
                    self.output.push('>');
                    return Ok(());
                }
                self.output.push(character);
            }
            return Err(Unsupported("unclosed group name".to_string()));
        }
        self.flag_group()
    }

    /// Handles `(?flags)` and `(?flags:`; anything else after `(?` is unsupported.
    fn flag_group(&mut self) -> Result<(), Unsupported> {
        let mut offset = 2;
        let mut kept = String::new();
        loop {
            match self.peek(offset) {
                Some(c @ ('i' | 'm' | 's' | 'x' | '-')) => kept.push(c),
                Some('a' | 'u' | 'l' | 'd' | 'n' | 'p' | 'o' | '^') => {}
                Some(':') | Some(')') => break,
                Some(other) => return Err(Unsupported(format!("group construct (?{other}"))),
                None => return Err(Unsupported("unclosed group".to_string())),
            }
            offset += 1;
        }
        let terminator = self.peek(offset).unwrap_or(')');
        let kept = kept.trim_end_matches('-');
        if kept.is_empty() {
            self.output
                .push_str(if terminator == ':' { "(?:" } else { "" });
        } else {
            self.output.push_str("(?");
            self.output.push_str(kept);
            self.output.push(terminator);
        }
        self.position += offset + 1;
        Ok(())
    }

    fn escape_outside(&mut self) -> Result<(), Unsupported> {
        let Some(character) = self.peek(1) else {
            return Err(Unsupported("trailing backslash".to_string()));
        };
        self.position += 2;
        match character {
            'A' | 'z' | 'b' | 'B' | 'd' | 'D' | 'w' | 'W' | 's' | 'S' | 'n' | 't' | 'r' | 'f' => {
                self.output.push('\\');
                self.output.push(character);
            }
            'Z' => self.output.push_str("(?:\\n?\\z)"),
            'h' => self.output.push_str("[\\t\\x20]"),
            'H' => self.output.push_str("[^\\t\\x20]"),
            'v' => self.output.push_str("[\\n\\x0B\\x0C\\r]"),
            'V' => self.output.push_str("[^\\n\\x0B\\x0C\\r]"),
            'R' => self.output.push_str("(?:\\r\\n|[\\n\\x0B\\x0C\\r])"),
            'N' if self.peek(0) == Some('{') => {
                return Err(Unsupported("named character \\N{...}".to_string()))
            }
            'N' => self.output.push_str("[^\\n]"),
            // Perl reads three octal digits as a byte (rules never have 100
            // groups), and anything shorter as a backreference.
            '1'..='7'
                if self.peek(0).is_some_and(|c| c.is_digit(8))
                    && self.peek(1).is_some_and(|c| c.is_digit(8)) =>
            {
                let value = self.octal_digits(character.to_digit(8).unwrap_or(0), 2);
                self.push_byte(value);
            }
            '1'..='9' => {
                self.needs_fancy = true;
                self.output.push('\\');
                self.output.push(character);
                while let Some(digit) = self.peek(0).filter(char::is_ascii_digit) {
                    self.output.push(digit);
                    self.position += 1;
                }
            }
            'g' | 'k' => {
                self.needs_fancy = true;
                self.output.push('\\');
                self.output.push(character);
            }
            'p' | 'P' => return Err(Unsupported(format!("Unicode property \\{character}"))),
            'K' | 'G' | 'l' | 'u' | 'L' | 'U' | 'X' | 'C' => {
                return Err(Unsupported(format!("escape \\{character}")));
            }
            'E' => {}
            'Q' => self.quoted(),
            _ => self.shared_escape(character)?,
        }
        Ok(())
    }

    /// Escapes with the same meaning inside and outside classes.
    fn shared_escape(&mut self, character: char) -> Result<(), Unsupported> {
        match character {
            '0' => {
                let value = self.octal_digits(0, 2);
                self.push_byte(value);
            }
            'x' => {
                let value = self.hex_escape()?;
                self.push_byte(value);
            }
            'c' => {
                let Some(control) = self.peek(0) else {
                    return Err(Unsupported("\\c at end of pattern".to_string()));
                };
                self.position += 1;
                self.push_byte(u32::from(control.to_ascii_uppercase()) ^ 0x40);
            }
            'e' => self.output.push_str("\\x1B"),
            'a' => self.output.push_str("\\x07"),
            ' ' => self.output.push_str("\\x20"),
            other => self.push_literal(other),
        }
        Ok(())
    }

    /// Reads up to `more` further octal digits after `initial`.
    fn octal_digits(&mut self, initial: u32, more: usize) -> u32 {
        let mut value = initial;
        for _ in 0..more {
            match self.peek(0).and_then(|c| c.to_digit(8)) {
                Some(digit) => {
                    value = value * 8 + digit;
                    self.position += 1;
                }
                None => break,
            }
        }
        value
    }

    /// Reads the rest of `\xHH`, `\xH` or `\x{H...}` and returns the value.
    fn hex_escape(&mut self) -> Result<u32, Unsupported> {
        if self.peek(0) == Some('{') {
            let mut value = 0u32;
            self.position += 1;
            loop {
                match self.peek(0) {
                    Some('}') => {
                        self.position += 1;
                        return Ok(value);
                    }
                    Some(c) if c.is_ascii_hexdigit() => {
                        value = value
                            .saturating_mul(16)
                            .saturating_add(c.to_digit(16).unwrap_or(0));
                        self.position += 1;
                    }
                    _ => return Err(Unsupported("invalid \\x{...} escape".to_string())),
                }
            }
        }
        let mut value = 0;
        for _ in 0..2 {
            match self.peek(0).and_then(|c| c.to_digit(16)) {
                Some(digit) => {
                    value = value * 16 + digit;
                    self.position += 1;
                }
                None => break,
            }
        }
        Ok(value)
    }

    /// Writes a byte value as `\xHH`, the only form regex-syntax reads as a
    /// raw byte in non-Unicode mode. Larger values become `\x{H...}`, a
    /// character matched as its UTF-8 encoding.
    fn push_byte(&mut self, value: u32) {
        if value <= 0xFF {
            self.output.push_str(&format!("\\x{value:02X}"));
        } else {
            self.output.push_str(&format!("\\x{{{value:X}}}"));
        }
    }

    /// Writes `character` so that it means itself in Rust syntax.
    fn push_literal(&mut self, character: char) {
        if META.contains(character) || (character == ' ' && self.flags.ignore_whitespace) {
            if character == ' ' {
                self.output.push_str("\\x20");
            } else {
                self.output.push('\\');
                self.output.push(character);
            }
        } else {
            self.push_char(character);
        }
    }

    /// Copies `\Q...\E` (or to the end) as literal text.
    fn quoted(&mut self) {
        while let Some(character) = self.peek(0) {
            if character == '\\' && self.peek(1) == Some('E') {
                self.position += 2;
                return;
            }
            self.position += 1;
            self.push_literal(character);
        }
    }

    /// Translates a bracketed class starting at `[`.
    fn class(&mut self) -> Result<(), Unsupported> {
        self.output.push('[');
        self.position += 1;
        if self.peek(0) == Some('^') {
            self.output.push('^');
            self.position += 1;
        }
        // A `]` first in the class is a literal in Perl.
        if self.peek(0) == Some(']') {
            self.output.push_str("\\]");
            self.position += 1;
        }
        let mut previous_dash = false;
        loop {
            let Some(character) = self.peek(0) else {
                return Err(Unsupported("unclosed character class".to_string()));
            };
            let is_dash = character == '-';
            match character {
                ']' => {
                    self.output.push(']');
                    self.position += 1;
                    return Ok(());
                }
                '[' if self.peek(1) == Some(':') => self.posix_class()?,
                '[' | '&' | '~' | '#' => {
                    self.output.push('\\');
                    self.output.push(character);
                    self.position += 1;
                }
                '-' if previous_dash => {
                    self.output.push_str("\\-");
                    self.position += 1;
                }
                ' ' if self.flags.ignore_whitespace => {
                    self.output.push_str("\\x20");
                    self.position += 1;
                }
                '\\' => self.escape_in_class()?,
                _ => {
                    self.push_char(character);
                    self.position += 1;
                }
            }
            previous_dash = is_dash;
        }
    }

    /// Copies `[:name:]` or `[:^name:]`.
    fn posix_class(&mut self) -> Result<(), Unsupported> {
        let rest: String = self.chars[self.position..].iter().take(16).collect();
        let Some(end) = rest.find(":]") else {
            self.output.push_str("\\[");
            self.position += 1;
            return Ok(());
        };
        let text = &rest[..end + 2];
        self.output.push_str(text);
        self.position += text.chars().count();
        Ok(())
    }

    fn escape_in_class(&mut self) -> Result<(), Unsupported> {
        let Some(character) = self.peek(1) else {
            return Err(Unsupported("trailing backslash".to_string()));
        };
        self.position += 2;
        match character {
            'd' | 'D' | 'w' | 'W' | 's' | 'S' | 'n' | 't' | 'r' | 'f' => {
                self.output.push('\\');
                self.output.push(character);
            }
            'b' => self.output.push_str("\\x08"),
            'h' => self.output.push_str("\\t\\x20"),
            'v' => self.output.push_str("\\n\\x0B\\x0C\\r"),
            'H' => self.output.push_str("[^\\t\\x20]"),
            'V' => self.output.push_str("[^\\n\\x0B\\x0C\\r]"),
            '1'..='7' => {
                let value = self.octal_digits(character.to_digit(8).unwrap_or(0), 2);
                self.push_byte(value);
            }
            'p' | 'P' => return Err(Unsupported(format!("Unicode property \\{character}"))),
            _ => self.shared_escape(character)?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rust(source: &str, flags: &str) -> String {
        translate(source, flags).unwrap().pattern
    }

    #[test]
    fn translation_table() {
        let cases: &[(&str, &str, &str)] = &[
            (r"foo$", "", r"foo(?:\n?\z)"),
            (r"foo$", "m", r"foo$"),
            (r"\Afoo\Z", "", r"\Afoo(?:\n?\z)"),
            (r"end\z", "", r"end\z"),
            (r"a\hb", "", r"a[\t\x20]b"),
            (r"\e\a", "", r"\x1B\x07"),
            (r"\012", "", r"\x0A"),
            (r"\0", "", r"\x00"),
            (r"\x4", "", r"\x04"),
            (r"\x{263a}", "", r"\x{263A}"),
            (r"\cA", "", r"\x01"),
            (r"\<b\>", "", r"<b>"),
            (r"\/path\/", "", r"/path/"),
            (r"\@\%\'\!", "", r"@%'!"),
            (r"\Qa.b*\E+", "", r"a\.b\*+"),
            (r"[[]", "", r"[\[]"),
            (r"[]a]", "", r"[\]a]"),
            (r"[^]a]", "", r"[^\]a]"),
            (r"[a&&b]", "", r"[a\&\&b]"),
            (r"[~]", "", r"[\~]"),
            (r"[+--]", "", r"[+-\-]"),
            (r"[\b]", "", r"[\x08]"),
            (r"[\101]", "", r"[\x41]"),
            (r"[[:alpha:]]", "", r"[[:alpha:]]"),
            (r"[[:^digit:]x]", "", r"[[:^digit:]x]"),
            (r"[\h]", "", r"[\t\x20]"),
            (r"[ a]", "x", r"[\x20a]"),
            (r"a{2,3}", "", r"a{2,3}"),
            (r"a{,3}", "", r"a{0,3}"),
            (r"a{", "", r"a\{"),
            (r"a{x}", "", r"a\{x\}"),
            (r"a{1,2,3}", "", r"a\{1,2,3\}"),
            (r"(?#comment)x", "", r"x"),
            (r"(?'name'x)", "", r"(?<name>x)"),
            (r"(?<name>x)", "", r"(?<name>x)"),
            (r"(?i)x", "", r"(?i)x"),
            (r"(?^i:x)", "", r"(?i:x)"),
            (r"(?a:x)", "", r"(?:x)"),
            (r"(?-i:x)", "", r"(?-i:x)"),
            (r"\N", "", r"[^\n]"),
            (r"\101", "", r"\x41"),
            ("[£]", "", r"[\xC2\xA3]"),
            ("é+", "", r"\xC3\xA9+"),
        ];
        for (source, flags, expected) in cases {
            assert_eq!(
                &rust(source, flags),
                expected,
                "source {source:?} flags {flags:?}"
            );
        }
    }

    #[test]
    fn perl_only_constructs_need_fancy() {
        for source in [
            r"a(?=b)", r"a(?!b)", r"(?<=a)b", r"(?<!a)b", r"(a)\1", r"(?>a+)", r"a++", r"a*+",
            r"a{2}+", r"\g1",
        ] {
            let translation = translate(source, "").unwrap();
            assert!(translation.needs_fancy, "source {source:?}");
        }
        for source in [r"a+?", r"a{2}?", r"(?:a)", r"(?<n>a)"] {
            assert!(
                !translate(source, "").unwrap().needs_fancy,
                "source {source:?}"
            );
        }
    }

    #[test]
    fn unsupported_constructs_are_rejected() {
        for source in [
            r"(?{ code })",
            r"(?R)",
            r"(?|a|b)",
            r"\Ka",
            r"\Ga",
            r"(*FAIL)",
            r"\pL",
            r"\N{U+41}",
            r"[abc",
            "a\\",
        ] {
            assert!(translate(source, "").is_err(), "source {source:?}");
        }
        assert!(translate("a", "e").is_err());
    }

    #[test]
    fn flags_are_parsed() {
        let flags = translate("a", "imsxo").unwrap().flags;
        assert!(flags.case_insensitive);
        assert!(flags.multi_line);
        assert!(flags.dot_matches_new_line);
        assert!(flags.ignore_whitespace);
    }
}
