//! Address lists for the IMAP ENVELOPE (RFC 5322 section 3.4, with the
//! obsolete forms of section 4.4 that real mail still carries).
//!
//! `parse_address_list` turns one unfolded field value into `Address`
//! entries: mailboxes, and group start and end markers around the members
//! of a group, which is how IMAP writes groups. It returns no error. Stray
//! specials are skipped, an unclosed quote, comment or angle bracket runs to
//! the end of the value, and a group that never closes is closed at the end.
//! At most `ADDRESSES_MAX` entries are returned (plus one closing group
//! marker), because one field could otherwise fill a FETCH response.
//! Encoded-words (RFC 2047) are kept as written, as IMAP requires.

use super::ADDRESSES_MAX;

/// One entry of an address list, as IMAP's ENVELOPE shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A mailbox: display name, source route, local part and domain.
    Mailbox {
        name: Option<Vec<u8>>,
        route: Option<Vec<u8>>,
        mailbox: Vec<u8>,
        host: Vec<u8>,
    },
    /// The start of a group, with its display name.
    GroupStart(Vec<u8>),
    /// The end of the most recent group.
    GroupEnd,
}

/// One lexical token of an address list.
#[derive(Debug, Clone)]
enum Token {
    /// An atom (dots included) or a domain literal, as written.
    Atom(Vec<u8>),
    /// A quoted string: `text` unescaped, `raw` with quotes and escapes.
    Quoted { text: Vec<u8>, raw: Vec<u8> },
    /// The text of a comment, without its outer parentheses.
    Comment(Vec<u8>),
    /// One of `<>:;@,`.
    Special(u8),
}

/// The bytes that end an atom besides whitespace.
const SPECIALS: &[u8] = b"()<>[]:;@,\"";

/// Parses an unfolded address-list field value.
pub fn parse_address_list(value: &[u8]) -> Vec<Address> {
    let tokens = tokenize(value);
    let mut addresses = Vec::new();
    let mut item: Vec<Token> = Vec::new();
    let mut in_angle = false;
    let mut in_group = false;

    for token in tokens {
        if addresses.len() >= ADDRESSES_MAX {
            break;
        }
        match token {
            Token::Special(b'<') if !in_angle => {
                in_angle = true;
                item.push(token);
            }
            Token::Special(b'>') => {
                in_angle = false;
                item.push(token);
            }
            Token::Special(b',') if !in_angle => flush(&mut item, &mut addresses),
            Token::Special(b':') if !in_angle && !in_group && !has_at(&item) => {
                addresses.push(Address::GroupStart(phrase(&item)));
                item.clear();
                in_group = true;
            }
            Token::Special(b';') if !in_angle => {
                flush(&mut item, &mut addresses);
                if in_group {
                    addresses.push(Address::GroupEnd);
                    in_group = false;
                }
            }
            _ => item.push(token),
        }
    }

    if addresses.len() < ADDRESSES_MAX {
        flush(&mut item, &mut addresses);
    }
    if in_group {
        addresses.push(Address::GroupEnd);
    }
    addresses
}

/// Returns whether `item` has an `@` outside angle brackets, which makes a
/// following colon garbage instead of a group start.
fn has_at(item: &[Token]) -> bool {
    item.iter()
        .any(|token| matches!(token, Token::Special(b'@' | b'<')))
}

/// Turns the tokens of one mailbox into an address, if they hold any.
fn flush(item: &mut Vec<Token>, addresses: &mut Vec<Address>) {
    let tokens = std::mem::take(item);
    if let Some(address) = mailbox(&tokens) {
        addresses.push(address);
    }
}

/// Builds a mailbox from `name-addr` (`phrase <route:addr-spec>`) or a bare
/// `addr-spec`, whose display name is taken from a comment when it has one.
fn mailbox(tokens: &[Token]) -> Option<Address> {
    let open = tokens
        .iter()
        .position(|token| matches!(token, Token::Special(b'<')));
    let Some(open) = open else {
        let comment = tokens.iter().rev().find_map(|token| match token {
            Token::Comment(text) if !text.is_empty() => Some(text.clone()),
            _ => None,
        });
        let (mailbox, host) = addr_spec(tokens)?;
        return Some(Address::Mailbox {
            name: comment,
            route: None,
            mailbox,
            host,
        });
    };

    let name = phrase(&tokens[..open]);
    let inner = &tokens[open + 1..];
    let close = inner
        .iter()
        .position(|token| matches!(token, Token::Special(b'>')))
        .unwrap_or(inner.len());
    let inner = &inner[..close];

    // An obsolete source route, `@a,@b:`, comes before the address.
    let colon = inner
        .iter()
        .position(|token| matches!(token, Token::Special(b':')));
    let starts_with_at = matches!(inner.first(), Some(Token::Special(b'@')));
    let (route, spec) = match colon {
        Some(colon) if starts_with_at => (Some(concat_raw(&inner[..colon])), &inner[colon + 1..]),
        _ => (None, inner),
    };
    let (mailbox, host) = addr_spec(spec).unwrap_or_default();
    Some(Address::Mailbox {
        name: (!name.is_empty()).then_some(name),
        route,
        mailbox,
        host,
    })
}

/// Splits an addr-spec into local part and domain at its first `@`. A
/// missing domain is empty, so that IMAP does not read it as a group.
fn addr_spec(tokens: &[Token]) -> Option<(Vec<u8>, Vec<u8>)> {
    let words: Vec<&Token> = tokens
        .iter()
        .filter(|token| !matches!(token, Token::Comment(_)))
        .collect();
    if words.is_empty() {
        return None;
    }
    let at = words
        .iter()
        .position(|token| matches!(token, Token::Special(b'@')));
    let (local, domain) = match at {
        Some(at) => (&words[..at], &words[at + 1..]),
        None => (&words[..], &words[..0]),
    };
    let local = concat_raw(local.iter().copied());
    let domain = concat_raw(domain.iter().copied());
    Some((local, domain))
}

/// Joins the raw forms of `tokens` with nothing between them.
fn concat_raw<'t>(tokens: impl IntoIterator<Item = &'t Token>) -> Vec<u8> {
    let mut out = Vec::new();
    for token in tokens {
        match token {
            Token::Atom(text) => out.extend_from_slice(text),
            Token::Quoted { raw, .. } => out.extend_from_slice(raw),
            Token::Special(byte) => out.push(*byte),
            Token::Comment(_) => {}
        }
    }
    out
}

/// Joins the words of a display name with single spaces.
fn phrase(tokens: &[Token]) -> Vec<u8> {
    let mut out = Vec::new();
    for token in tokens {
        let word = match token {
            Token::Atom(text) => text,
            Token::Quoted { text, .. } => text,
            _ => continue,
        };
        if !out.is_empty() {
            out.push(b' ');
        }
        out.extend_from_slice(word);
    }
    out
}

/// Splits `value` into tokens. Whitespace separates tokens and is dropped.
fn tokenize(value: &[u8]) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut position = 0;
    while let Some(&byte) = value.get(position) {
        match byte {
            _ if byte.is_ascii_whitespace() => position += 1,
            b'"' => {
                let (text, end) = quoted_string(value, position);
                let raw = value[position..end].to_vec();
                tokens.push(Token::Quoted { text, raw });
                position = end;
            }
            b'(' => {
                let (text, end) = comment(value, position);
                tokens.push(Token::Comment(text));
                position = end;
            }
            b'[' => {
                let end = memchr::memchr(b']', &value[position..])
                    .map(|at| position + at + 1)
                    .unwrap_or(value.len());
                tokens.push(Token::Atom(value[position..end].to_vec()));
                position = end;
            }
            b'<' | b'>' | b':' | b';' | b'@' | b',' => {
                tokens.push(Token::Special(byte));
                position += 1;
            }
            // A stray `)` or `]`.
            b')' | b']' => position += 1,
            _ => {
                let start = position;
                while value
                    .get(position)
                    .is_some_and(|&byte| !byte.is_ascii_whitespace() && !SPECIALS.contains(&byte))
                {
                    position += 1;
                }
                tokens.push(Token::Atom(value[start..position].to_vec()));
            }
        }
    }
    tokens
}

/// Reads the quoted string starting at `start`, returning its unescaped
/// text and the offset after its closing quote.
fn quoted_string(value: &[u8], start: usize) -> (Vec<u8>, usize) {
    let mut text = Vec::new();
    let mut position = start + 1;
    while let Some(&byte) = value.get(position) {
        position += 1;
        match byte {
            b'"' => return (text, position),
            b'\\' => {
                if let Some(&escaped) = value.get(position) {
                    text.push(escaped);
                    position += 1;
                }
            }
            _ => text.push(byte),
        }
    }
    (text, position)
}

/// Reads the comment starting at `start`, returning its text without the
/// outer parentheses and the offset after it. Nesting is counted, not
/// recursed into, so depth costs nothing.
fn comment(value: &[u8], start: usize) -> (Vec<u8>, usize) {
    let mut text = Vec::new();
    let mut depth = 0usize;
    let mut position = start;
    while let Some(&byte) = value.get(position) {
        position += 1;
        match byte {
            b'(' => {
                depth += 1;
                if depth == 1 {
                    continue;
                }
            }
            b')' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            b'\\' => {
                if let Some(&escaped) = value.get(position) {
                    text.push(escaped);
                    position += 1;
                }
                continue;
            }
            _ => {}
        }
        text.push(byte);
    }
    (text, position)
}
