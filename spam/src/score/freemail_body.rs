//! The addresses that SpamAssassin 4.0.1's FreeMail plugin finds in a
//! message body (`_parse_body` in Plugin/FreeMail.pm), for
//! `check_freemail_replyto` and `check_freemail_body`.
//!
//! Two sources, in this order, without repeats:
//! - `mailto:` links of HTML `<a>` tags, at most [`ANCHOR_ADDRESSES_MAX`],
//! - addresses in the rendered body text, at most [`BODY_ADDRESSES_MAX`]
//!   in all. Before the scan, each line loses its `http(s)://` links that
//!   contain `@` or `%40`, and the addresses that end in `>` or are followed
//!   by a word and a colon, as in "jane@example.com wrote:". Those are
//!   quoted correspondents, not contacts that the sender offers.
//!
//! An address is what the plugin's `email_regex` accepts. Its local part has
//! at most 64 bytes of RFC 5322 atom characters, with single inner dots. After
//! the `@` come one to four domain labels and a top-level domain from the
//! rule set's `util_rb_tld` lines. The scanner here is written out by hand,
//! because that regex needs lookaround, which the linear-time engines lack.

use std::collections::HashSet;

/// Maximum `mailto:` addresses taken from HTML links, as the plugin's
/// "sanity" limit.
pub const ANCHOR_ADDRESSES_MAX: usize = 20;

/// Maximum addresses taken from the body in all, as the plugin's limit.
pub const BODY_ADDRESSES_MAX: usize = 40;

/// Maximum bytes of a local part, from the plugin's `(?=.{0,64}\@)`.
const LOCAL_PART_LEN_MAX: usize = 64;

/// Maximum domain labels before the top-level domain.
const LABELS_MAX: usize = 4;

/// Maximum bytes of one domain label.
const LABEL_LEN_MAX: usize = 61;

/// Words that, after an address and before a colon, do not make it a quoted
/// correspondent: "fax:", "tel:" and the like introduce contact data.
const CONTACT_WORDS: &[&str] = &["fax", "facsi", "tel", "phone", "email", "e-mail", "mail"];

/// Returns whether `byte` may appear in a local part (RFC 5322 atext).
fn is_atext(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~-".contains(&byte)
}

/// Returns whether `byte` may appear in a domain label.
fn is_label_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'-'
}

/// One address found in text: its byte range and the address, lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub start: usize,
    pub end: usize,
    pub email: String,
}

/// The top-level domains of a rule set, lower-cased.
#[derive(Debug, Default)]
pub struct TopLevelDomains {
    names: HashSet<String>,
}

impl TopLevelDomains {
    /// Reads the names from `util_rb_tld` lines.
    pub fn from_lines<'a>(lines: impl Iterator<Item = &'a String>) -> TopLevelDomains {
        let names = lines
            .flat_map(|line| line.split_whitespace())
            .map(str::to_ascii_lowercase)
            .collect();
        TopLevelDomains { names }
    }

    /// Returns whether no name is known. Then no address is valid, as the
    /// plugin's fallback regex `no_tlds_defined` matches nothing useful.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    fn contains(&self, label: &[u8]) -> bool {
        std::str::from_utf8(label)
            .is_ok_and(|label| self.names.contains(&label.to_ascii_lowercase()))
    }
}

/// Returns the addresses in `text`, left to right.
pub fn find_addresses(text: &str, tlds: &TopLevelDomains) -> Vec<Found> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut searched_to = 0;
    for at in memchr::memchr_iter(b'@', bytes) {
        if at < searched_to {
            continue;
        }
        let Some(start) = local_part_start(bytes, at) else {
            continue;
        };
        let Some(end) = domain_end(bytes, at + 1, tlds) else {
            continue;
        };
        found.push(Found {
            start,
            end,
            email: text[start..end].to_ascii_lowercase(),
        });
        searched_to = end;
    }
    found
}

/// Returns where the local part that ends before the `@` at `at` starts:
/// the longest run of atext with single inner dots, at most
/// [`LOCAL_PART_LEN_MAX`] bytes, not preceded by atext.
fn local_part_start(bytes: &[u8], at: usize) -> Option<usize> {
    let mut start = at;
    while start > 0 && (is_atext(bytes[start - 1]) || bytes[start - 1] == b'.') {
        start -= 1;
    }
    // The run may hold a part that no match can use: a leading dot, or a
    // double dot, after which a match starts afresh.
    let run = &bytes[start..at];
    if run.last().is_none_or(|byte| *byte == b'.') {
        return None;
    }
    let mut first = start;
    for (index, pair) in run.windows(2).enumerate() {
        if pair == b".." {
            first = start + index + 2;
        }
    }
    if bytes.get(first) == Some(&b'.') {
        first += 1;
    }
    if first >= at || at - first > LOCAL_PART_LEN_MAX {
        // A longer run cannot start a match within 64 bytes of the `@`,
        // and a later start would follow atext, which the boundary forbids.
        return None;
    }
    Some(first)
}

/// Returns where the domain that starts at `start` ends: one to
/// [`LABELS_MAX`] labels, each followed by a dot, then a known top-level
/// domain that ends at a boundary. More labels are tried first.
fn domain_end(bytes: &[u8], start: usize, tlds: &TopLevelDomains) -> Option<usize> {
    let mut label_ends = Vec::with_capacity(LABELS_MAX + 1);
    let mut pos = start;
    while label_ends.len() <= LABELS_MAX {
        let len = bytes[pos..]
            .iter()
            .take_while(|byte| is_label_byte(**byte))
            .count();
        if len == 0 {
            break;
        }
        label_ends.push((pos, pos + len));
        if bytes.get(pos + len) != Some(&b'.') {
            break;
        }
        pos += len + 1;
    }
    for top in (1..label_ends.len()).rev() {
        let labels_valid = label_ends[..top].iter().all(|(from, to)| {
            let label = &bytes[*from..*to];
            label.len() <= LABEL_LEN_MAX && label[0] != b'-' && label[label.len() - 1] != b'-'
        });
        let (from, to) = label_ends[top];
        let after_tld = &bytes[to..];
        let at_boundary = !(after_tld.first().is_some_and(|byte| is_label_byte(*byte))
            || (after_tld.first() == Some(&b'.')
                && after_tld.get(1).is_some_and(u8::is_ascii_alphanumeric)));
        if labels_valid && at_boundary && tlds.contains(&bytes[from..to]) {
            return Some(to);
        }
    }
    None
}

/// Returns `line` with the links and quoted addresses that the plugin
/// removes before its scan replaced by a space.
pub fn strip_line(line: &str, tlds: &TopLevelDomains) -> String {
    let without_links = strip_links_with_addresses(line);
    strip_quoted_addresses(&without_links, tlds)
}

/// Replaces each `http://` or `https://` link (with an optional `<` before
/// it) whose first 256 bytes hold `@` or `%40` by a space.
fn strip_links_with_addresses(line: &str) -> String {
    let lower = line.to_ascii_lowercase();
    let mut out = String::with_capacity(line.len());
    let mut pos = 0;
    while let Some(found) = lower[pos..].find("http") {
        let scheme = pos + found;
        let rest = &lower[scheme..];
        let prefix = if rest.starts_with("https://") {
            8
        } else if rest.starts_with("http://") {
            7
        } else {
            out.push_str(&line[pos..scheme + 4]);
            pos = scheme + 4;
            continue;
        };
        let token_end = line[scheme..]
            .find(char::is_whitespace)
            .map_or(line.len(), |len| scheme + len);
        // `\S{0,255}` then `@` or `%40`: the marker starts within 255 bytes.
        let window_end = (scheme + prefix + 255 + 3).min(token_end);
        let window = &lower.as_bytes()[scheme + prefix..window_end.max(scheme + prefix)];
        if memchr::memchr(b'@', window).is_some() || memchr::memmem::find(window, b"%40").is_some()
        {
            let start = if scheme > pos && line.as_bytes()[scheme - 1] == b'<' {
                scheme - 1
            } else {
                scheme
            };
            out.push_str(&line[pos..start]);
            out.push(' ');
        } else {
            out.push_str(&line[pos..token_end]);
        }
        pos = token_end;
    }
    out.push_str(&line[pos..]);
    out
}

/// Replaces each address that ends in `>`, or is followed by up to 10
/// spaces, a word of 2 to 11 letters that is not a contact word, and a
/// colon, by a space, with an optional `<` before it. An address right
/// after `mailto:` stays.
fn strip_quoted_addresses(line: &str, tlds: &TopLevelDomains) -> String {
    let bytes = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut copied = 0;
    for address in find_addresses(line, tlds) {
        let before = &line[..address.start];
        if before.to_ascii_lowercase().ends_with("mailto:") {
            continue;
        }
        let Some(end) = quoted_end(bytes, address.end) else {
            continue;
        };
        let start = if address.start > 0 && bytes[address.start - 1] == b'<' {
            address.start - 1
        } else {
            address.start
        };
        if start < copied {
            continue;
        }
        out.push_str(&line[copied..start]);
        out.push(' ');
        copied = end;
    }
    out.push_str(&line[copied..]);
    out
}

/// Returns the end of what marks the address ending at `end` as quoted:
/// a `>`, or spaces, a non-contact word of 2 to 11 letters and a colon.
fn quoted_end(bytes: &[u8], end: usize) -> Option<usize> {
    if bytes.get(end) == Some(&b'>') {
        return Some(end + 1);
    }
    let spaces = bytes[end..]
        .iter()
        .take(10)
        .take_while(|byte| byte.is_ascii_whitespace())
        .count();
    if spaces == 0 {
        return None;
    }
    let word_start = end + spaces;
    let tail = std::str::from_utf8(&bytes[word_start..]).ok()?;
    let lower = tail.to_ascii_lowercase();
    if CONTACT_WORDS.iter().any(|word| lower.starts_with(word)) {
        return None;
    }
    let letters = bytes[word_start..]
        .iter()
        .take(12)
        .take_while(|byte| byte.is_ascii_alphabetic())
        .count();
    // The letters start right after the spaces, so only a run of 2 to 11
    // letters that ends at the colon qualifies.
    if (2..=11).contains(&letters) && bytes.get(word_start + letters) == Some(&b':') {
        return Some(word_start + letters + 1);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tlds() -> TopLevelDomains {
        let lines = ["com net org au uk".to_string()];
        TopLevelDomains::from_lines(lines.iter())
    }

    fn emails(text: &str) -> Vec<String> {
        find_addresses(text, &tlds())
            .into_iter()
            .map(|found| found.email)
            .collect()
    }

    #[test]
    fn addresses_table() {
        let cases: &[(&str, &[&str])] = &[
            (
                "write to Jane.Doe@Example.COM today",
                &["jane.doe@example.com"],
            ),
            (
                "a@b.example.co.uk and x@y.com",
                &["a@b.example.co.uk", "x@y.com"],
            ),
            ("no tld: a@b.invalid", &[]),
            ("a..b@x.com", &["b@x.com"]),
            ("trailing.@x.com", &[]),
            (".lead@x.com", &["lead@x.com"]),
            ("five labels a@b.c.d.e.f.com", &[]),
            ("tld glued a@x.comma", &[]),
            ("tld then dot a@x.com.x", &[]),
            ("tld then stop a@x.com.", &["a@x.com"]),
            ("label dash a@-x.com", &[]),
        ];
        for (text, expected) in cases {
            assert_eq!(emails(text), *expected, "{text}");
        }
    }

    #[test]
    fn long_local_part_is_rejected() {
        let long = format!("{}@x.com", "a".repeat(65));
        assert!(emails(&long).is_empty());
        let fits = format!("{}@x.com", "a".repeat(64));
        assert_eq!(emails(&fits).len(), 1);
    }

    #[test]
    fn quoted_and_linked_addresses_are_stripped() {
        let cases: &[(&str, &[&str])] = &[
            (
                "On Monday, jane@x.com wrote: hello bob@y.com",
                &["bob@y.com"],
            ),
            ("<jane@x.com> said hi to bob@y.com", &["bob@y.com"]),
            ("jane@x.com fax: 555", &["jane@x.com"]),
            (
                "see http://host/redirect?to=jane@x.com and bob@y.com",
                &["bob@y.com"],
            ),
            ("see http://host/x%40y and bob@y.com", &["bob@y.com"]),
            ("mailto:jane@x.com> stays", &["jane@x.com"]),
        ];
        for (line, expected) in cases {
            let stripped = strip_line(line, &tlds());
            assert_eq!(emails(&stripped), *expected, "{line} -> {stripped}");
        }
    }

    #[test]
    fn edge_inputs_never_panic() {
        let samples = [
            "@",
            "@@",
            "a@",
            "@b.com",
            "<@>",
            "http://@",
            "é@é.com",
            "a@b.",
            "x@y.com wrote:",
        ];
        for sample in samples {
            let _ = strip_line(sample, &tlds());
            let _ = find_addresses(sample, &tlds());
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "[a-z@.<>:%/ é0-9-]{0,200}") {
            let stripped = strip_line(&text, &tlds());
            for found in find_addresses(&stripped, &tlds()) {
                proptest::prop_assert!(found.end <= stripped.len());
                proptest::prop_assert!(found.email.contains('@'));
            }
        }
    }
}
