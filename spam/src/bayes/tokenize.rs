//! The Bayes tokenizer, after `tokenize` and `_tokenize_line` in
//! SpamAssassin 4.0.1's Plugin/Bayes.pm.
//!
//! `tokenize` turns a `Prepared` message into the set of token strings that
//! the store counts:
//! - Body words from `Prepared::visible_body()` lines (Subject first), and
//!   the words of invisible HTML text with the `I*:` prefix. Title Case
//!   at the start of a sentence is lowercased, and each word also gives its
//!   decomposed variants ("Foo!" gives "Foo", "foo!" and "foo"). Mail
//!   addresses add `U*` user and `D*` domain tokens, dotted names `UD:` ones.
//! - URI words from `Prepared::uris()`, the same way but without the `sk:`
//!   shortening.
//! - Header words prefixed `H<name>:`. The ignored set (`is_ignored_header`)
//!   and the caller's `ignore_headers` give none, and of the Received fields
//!   only the bottom two count. Common names are compressed (`From` to
//!   `*F`). From/To/Cc words also go under `*Ad`, Message-ID, In-Reply-To
//!   and References under `*MI`, and X-Mailer and User-Agent under `*UA`.
//!
//! Words shorter than `TOKEN_LEN_MIN` bytes are dropped. Words longer than
//! `TOKEN_LEN_MAX` bytes become `u8:` tokens, one per 3- or 4-byte UTF-8
//! character, or else `sk:` plus their first seven characters, so that
//! random strings do not fill the store with one-off tokens.
//! `BODY_TOKENS_MAX`, `URI_TOKENS_MAX` and `HEADER_TOKENS_MAX` bound the
//! tokens taken from each source.
//!
//! NOTE: SpamAssassin also tokenizes a digest of each MIME part (`MIME:`
//! tokens). `Prepared` does not expose it, so those tokens are missing here.

use std::collections::{BTreeMap, HashSet};
use std::sync::OnceLock;

use fancy_regex::Regex;

use crate::prepare::decode::decode_header_value;
use crate::prepare::Prepared;

/// Minimum token length in bytes. 3 is SpamAssassin's: shorter words are
/// frequent in both classes and only slow the store down.
pub const TOKEN_LEN_MIN: usize = 3;

/// Maximum token length in bytes before shortening. 15 is SpamAssassin's
/// default `bayes_max_token_length`.
pub const TOKEN_LEN_MAX: usize = 15;

/// Maximum tokens from body lines, as SpamAssassin's 50,000.
pub const BODY_TOKENS_MAX: usize = 50_000;

/// Prefix of the tokens of invisible HTML text, as SpamAssassin's.
pub const INVISIBLE_PREFIX: &str = "I*:";

/// Maximum tokens from URIs, as SpamAssassin's 10,000.
pub const URI_TOKENS_MAX: usize = 10_000;

/// Maximum tokens from header fields, as SpamAssassin's 10,000.
pub const HEADER_TOKENS_MAX: usize = 10_000;

/// Characters kept by `shorten_long` before the `sk:` prefix.
const SKIP_PREFIX_CHARS: usize = 7;

/// The source of a line, because some rules apply to one source only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    Header,
    Body,
    Uri,
}

/// Returns the distinct tokens of `message`. Header names listed in
/// `ignore_headers` (compared without case) give no tokens, as
/// SpamAssassin's `bayes_ignore_header`.
pub fn tokenize(message: &Prepared<'_>, ignore_headers: &[String]) -> HashSet<String> {
    let mut tokens = HashSet::new();

    let mut body = Vec::new();
    for line in message.visible_body().iter() {
        tokenize_line(line, "", Region::Body, &mut body);
        if body.len() >= BODY_TOKENS_MAX {
            break;
        }
    }
    tokens.extend(body);

    let mut invisible = Vec::new();
    for line in message.invisible_body() {
        tokenize_line(&line, INVISIBLE_PREFIX, Region::Body, &mut invisible);
        if invisible.len() >= BODY_TOKENS_MAX {
            break;
        }
    }
    tokens.extend(invisible);

    let mut uris = Vec::new();
    for uri in message.uris() {
        tokenize_line(uri, "", Region::Uri, &mut uris);
        if uris.len() >= URI_TOKENS_MAX {
            break;
        }
    }
    tokens.extend(uris);

    let mut header = Vec::new();
    for (prefix, value) in header_values(message, ignore_headers) {
        tokenize_line(&value, &format!("H{prefix}:"), Region::Header, &mut header);
        if header.len() >= HEADER_TOKENS_MAX {
            break;
        }
    }
    tokens.extend(header);

    tokens.remove("");
    tokens
}

/// Appends the tokens of one line to `out`, each prefixed with `prefix`.
pub fn tokenize_line(line: &str, prefix: &str, region: Region, out: &mut Vec<String>) {
    let mut text = keep_token_chars(line);
    text = split_separators(&text, '.');
    text = split_separators(&text, '-');
    if region != Region::Header {
        text = lowercase_title_case(&text);
    }

    for word in text.split_ascii_whitespace() {
        let word = word.trim_matches(|c| matches!(c, '-' | '\'' | '"' | '.' | ','));
        if word.len() < TOKEN_LEN_MIN {
            continue;
        }

        if region != Region::Header {
            if has_mail_address(word) {
                mail_address_tokens(word, out);
            } else if has_dotted_name(word) {
                out.push(format!("UD:{word}"));
                let mut rest = word;
                while let Some(dot) = rest.find('.') {
                    rest = &rest[dot + 1..];
                    if rest.is_empty() {
                        break;
                    }
                    out.push(format!("UD:{rest}"));
                }
            }
        }

        let mut token = word.to_string();
        if word.len() > TOKEN_LEN_MAX && !word.contains('*') {
            if has_two_continuation_bytes(word) {
                let wide: Vec<char> = word.chars().filter(|c| c.len_utf8() >= 3).collect();
                if !wide.is_empty() {
                    out.extend(wide.iter().map(|c| format!("{prefix}u8:{c}")));
                    continue;
                }
            }
            if region != Region::Uri {
                token = shorten_long(word);
            }
        }

        if region != Region::Header {
            decompose(&token, prefix, out);
        }
        out.push(format!("{prefix}{token}"));
    }
}

/// Replaces every character outside SpamAssassin's token set with a space:
/// ASCII letters, digits, `,@*!_'"$.-` and space are kept, and so is every
/// non-ASCII character.
fn keep_token_chars(line: &str) -> String {
    line.chars()
        .map(|c| {
            let kept = c.is_ascii_alphanumeric() || !c.is_ascii() || ",@*!_'\"$. -".contains(c);
            if kept {
                c
            } else {
                ' '
            }
        })
        .collect()
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Puts spaces around runs of 3 to 6 dots or 2 to 6 dashes between word
/// characters ("wait...what" gives "wait ... what"). As in a global
/// substitution, the word character after one run is not reused as the
/// word character before the next.
fn split_separators(text: &str, separator: char) -> String {
    let (run_min, run_max) = if separator == '.' { (3, 6) } else { (2, 6) };
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    let mut consumed_to = 0;
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != separator || i == 0 || i - 1 < consumed_to || !is_word_char(chars[i - 1]) {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let run_end = chars[i..].iter().take_while(|&&c| c == separator).count() + i;
        let run_len = run_end - i;
        let followed = run_end < chars.len() && is_word_char(chars[run_end]);
        if followed && (run_min..=run_max).contains(&run_len) {
            out.push(' ');
            out.extend(&chars[i..run_end]);
            out.push(' ');
            out.push(chars[run_end]);
            consumed_to = run_end + 1;
            i = run_end + 1;
        } else {
            out.extend(&chars[i..run_end]);
            i = run_end;
        }
    }
    out
}

/// Lowercases a capital letter at the start of the line or after ". ",
/// when lowercase text and then a space or the line end follow it, so that
/// "Hello" at a sentence start and "hello" elsewhere count as one word.
/// The dot before the word is dropped, as SpamAssassin's substitution does.
fn lowercase_title_case(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    let mut copied_to = 0;
    let mut start = 0;
    while start < chars.len() {
        // A candidate is the line start or a dot followed by whitespace.
        let letter_at = if start == 0 && chars[0].is_ascii_uppercase() {
            Some(0)
        } else if chars[start] == '.' {
            let spaces = chars[start + 1..]
                .iter()
                .take_while(|c| c.is_whitespace())
                .count();
            (spaces > 0).then_some(start + 1 + spaces)
        } else {
            None
        };
        let matched_end = letter_at.and_then(|at| title_case_end(&chars, at));
        match (letter_at, matched_end) {
            (Some(at), Some(end)) => {
                out.extend(&chars[copied_to..start]);
                out.push(' ');
                out.push(chars[at].to_ascii_lowercase());
                out.extend(&chars[at + 1..end]);
                out.push(' ');
                copied_to = end;
                start = end.max(start + 1);
            }
            _ => start += 1,
        }
    }
    out.extend(&chars[copied_to..]);
    out
}

/// Returns where a Title Case match starting at `at` ends: after the
/// lowercase run and the whitespace that closes it, or at the line end.
fn title_case_end(chars: &[char], at: usize) -> Option<usize> {
    if at >= chars.len() || !chars[at].is_ascii_uppercase() {
        return None;
    }
    let run_end = chars[at + 1..]
        .iter()
        .take_while(|c| !c.is_ascii_uppercase())
        .count()
        + at
        + 1;
    if run_end == at + 1 {
        return None;
    }
    if run_end == chars.len() {
        return Some(run_end);
    }
    // Backtrack to the last whitespace that leaves one character before it.
    (at + 2..run_end)
        .rev()
        .find(|&k| chars[k].is_whitespace())
        .map(|k| k + 1)
}

fn has_mail_address(word: &str) -> bool {
    let bytes = word.as_bytes();
    (1..bytes.len().saturating_sub(1)).any(|i| {
        bytes[i] == b'@'
            && !bytes[i - 1].is_ascii_whitespace()
            && !bytes[i + 1].is_ascii_whitespace()
    })
}

fn has_dotted_name(word: &str) -> bool {
    let bytes = word.as_bytes();
    (1..bytes.len().saturating_sub(1))
        .any(|i| bytes[i] == b'.' && bytes[i + 1].is_ascii_alphabetic())
}

/// Appends `U*user` and `D*domain` tokens for `address`, plus one `D*`
/// token for each parent domain ("D*example.com", "D*com").
fn mail_address_tokens(address: &str, out: &mut Vec<String>) {
    let Some(at) = address.rfind('@') else {
        return;
    };
    let (user, domain) = (&address[..at], &address[at + 1..]);
    if user.is_empty() || domain.is_empty() {
        return;
    }
    out.push(format!("U*{user}"));
    out.push(format!("D*{domain}"));
    let mut rest = domain;
    while let Some(dot) = rest.find('.') {
        rest = &rest[dot + 1..];
        if rest.is_empty() {
            break;
        }
        out.push(format!("D*{rest}"));
    }
}

fn has_two_continuation_bytes(word: &str) -> bool {
    word.as_bytes()
        .windows(2)
        .any(|pair| pair.iter().all(|b| (0x80..=0xBF).contains(b)))
}

/// Returns `sk:` and the first seven characters of `word` when at least two
/// more bytes follow them, else `word` unchanged.
fn shorten_long(word: &str) -> String {
    let cut = word
        .char_indices()
        .nth(SKIP_PREFIX_CHARS)
        .map_or(word.len(), |(at, _)| at);
    if word.len() - cut >= 2 {
        format!("sk:{}", &word[..cut])
    } else {
        word.to_string()
    }
}

/// Appends the decomposed variants of a body token: without punctuation,
/// lowercased, and both.
fn decompose(token: &str, prefix: &str, out: &mut Vec<String>) {
    let is_kept = |c: char| is_word_char(c) || c == ':' || c == '*';
    let has_punctuation = token.chars().any(|c| !is_kept(c));
    if has_punctuation {
        out.push(format!(
            "{prefix}{}",
            token.chars().filter(|&c| is_kept(c)).collect::<String>()
        ));
    }
    if token.chars().any(|c| c.is_ascii_uppercase()) {
        let lower = token.to_ascii_lowercase();
        if has_punctuation {
            out.push(format!(
                "{prefix}{}",
                lower.chars().filter(|&c| is_kept(c)).collect::<String>()
            ));
        }
        out.push(format!("{prefix}{lower}"));
    }
}

/// Returns whether SpamAssassin 4.0.1's `$IGNORED_HDRS` contains `name`:
/// headers that are noise, that mailing lists or filters add, or that
/// differ between corpora by age (Date) rather than by class.
pub fn is_ignored_header(name: &str) -> bool {
    static IGNORED: OnceLock<Regex> = OnceLock::new();
    let pattern = IGNORED.get_or_init(|| {
        Regex::new(concat!(
            r"(?i)^(?:(?:X-)?Sender|Delivered-To|Delivery-Date|(?:X-)?Envelope-To",
            r"|X-MIME-Auto[Cc]onverted|X-Converted-To-Plain-Text|Subject|Date",
            r"|X-List|(?:X-)?Mailing-List",
            r"|(?:X-)?List-(?:Archive|Help|Id|Owner|Post|Subscribe|Unsubscribe|Host|Manager|Admin|Comment|Name|Url)",
            r"|X-Unsub(?:scribe)?|X-Mailman-Version|X-Been[Tt]here|X-Loop|Mail-Followup-To",
            r"|X-eGroups-(?:Return|From)|X-MDMailing-List|X-XEmacs-List|X-Sympa-To",
            r"|(?:X-)?Resent-(?:From|To|Date)|(?:X-)?Original-(?:From|To|Date)",
            r"|X-MailScanner(?:-SpamCheck)?",
            r"|X-Spam(?:-(?:Status|Level|Flag|Report|Hits|Score|Checker-Version))?",
            r"|X-Antispam|X-RBL-Warning|X-Mailscanner|X-MDaemon-Deliver-To|X-Virus-Scanned",
            r"|X-Mass-Check-Id|X-Pyzor|X-DCC-\S{2,25}-Metrics|X-Filtered-B[Yy]|X-Scanned-By",
            r"|X-Scanner|X-AP-Spam-(?:Score|Status)|X-RIPE-Spam-Status|X-SpamCop-[^:]+",
            r"|X-SMTPD|(?:X-)?Spam-Apparently-To|SPAM|X-Perlmx-Spam|X-Bogosity",
            r"|Content-Class|Thread-(?:Index|Topic)|X-Original[Aa]rrival[Tt]ime",
            r"|(?:X-)?Status|X-Flags|X-Keywords|Replied|Forwarded|Lines|Content-Length",
            r"|X-UIDL?|X-IMAPbase|X-Bugzilla-[^:]+",
            r"|X-VM-(?:Bookmark|(?:POP|IMAP)-Retrieved|Labels|Last-Modified|Summary-Format|VHeader|v\d-Data|Message-Order)",
            r"|X-Gnus-Mail-Source|Xref)$"
        ))
        .expect("the ignored header pattern is valid")
    });
    pattern.is_match(name).unwrap_or(false)
}

/// Headers of which only the presence is a token, because their values are
/// unique per message (signatures, keys).
fn is_presence_only_header(name: &str) -> bool {
    static PRESENCE: OnceLock<Regex> = OnceLock::new();
    let pattern = PRESENCE.get_or_init(|| {
        Regex::new(concat!(
            r"(?i)^(?:X-Face|X-(?:Gnu-?PG|PGP|GPG)(?:-Key)?-Fingerprint",
            r"|D(?:KIM|omainKey)-Signature|X-Google-DKIM-Signature",
            r"|ARC-(?:Message-Signature|Seal)|Autocrypt)$"
        ))
        .expect("the presence-only header pattern is valid")
    });
    pattern.is_match(name).unwrap_or(false)
}

/// Returns the short prefix SpamAssassin stores for a frequent header name,
/// to keep tokens small.
fn compressed_name(name: &str) -> Option<&'static str> {
    Some(match name {
        "Message-Id" => "*m",
        "Message-ID" => "*M",
        "Received" => "*r",
        "User-Agent" => "*u",
        "References" => "*f",
        "In-Reply-To" => "*i",
        "From" => "*F",
        "Reply-To" => "*R",
        "Return-Path" => "*p",
        "Return-path" => "*rp",
        "X-Mailer" => "*x",
        "X-Authentication-Warning" => "*a",
        "Organization" | "Organisation" => "*o",
        "Content-Type" => "*ct",
        "Content-Disposition" => "*cd",
        "Content-Transfer-Encoding" => "*ce",
        _ => return None,
    })
}

/// Returns (prefix, value) pairs to tokenize, one per header prefix, the
/// values of repeated fields joined by spaces. The map is ordered so that
/// the tokens taken before `HEADER_TOKENS_MAX` do not vary between runs.
fn header_values(message: &Prepared<'_>, ignore_headers: &[String]) -> BTreeMap<String, String> {
    let mut fields = Vec::new();
    let mut received = Vec::new();
    for (name, raw) in message.headers().iter() {
        let name = String::from_utf8_lossy(name).into_owned();
        let value = decode_header_value(&unfold(raw)).into_owned();
        if name.eq_ignore_ascii_case("Received") {
            received.push((name, value));
        } else if !is_ignored_header(&name) {
            fields.push((name, value));
        }
    }
    // Only the bottom two Received fields, the hops nearest the sender:
    // they carry the sending software's HELO and relay names, while the
    // top hops are the receiving site's own and alike in both classes.
    fields.extend(received.into_iter().rev().take(2));

    let mut parsed: BTreeMap<String, String> = BTreeMap::new();
    let mut append = |key: &str, value: &str| {
        parsed
            .entry(key.to_string())
            .and_modify(|joined| {
                joined.push(' ');
                joined.push_str(value);
            })
            .or_insert_with(|| value.to_string());
    };
    for (name, value) in fields {
        if value.trim().is_empty() && name.trim().is_empty() {
            continue;
        }
        if ignore_headers
            .iter()
            .any(|ignored| ignored.eq_ignore_ascii_case(&name))
        {
            continue;
        }
        let value = chew_value(&name, value);

        let lower = name.to_ascii_lowercase();
        if matches!(lower.as_str(), "in-reply-to" | "references" | "message-id") {
            append("*MI", &value);
        }
        if matches!(lower.as_str(), "from" | "to" | "cc") {
            append("*Ad", &value);
        }
        if matches!(lower.as_str(), "x-mailer" | "user-agent") {
            append("*UA", &value);
        }
        append(compressed_name(&name).unwrap_or(&name), &value);
    }
    parsed
}

/// Joins folded lines of a raw header value.
fn unfold(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    for &byte in raw {
        if byte != b'\r' && byte != b'\n' {
            out.push(byte);
        }
    }
    out
}

/// Applies the per-header rewriting that cuts one-off tokens.
fn chew_value(name: &str, value: String) -> String {
    let lower = name.to_ascii_lowercase();
    let base = lower
        .strip_prefix("x-")
        .or_else(|| lower.strip_prefix("resent-"))
        .unwrap_or(&lower);
    if base == "message-id" {
        chew_message_id(&value)
    } else if matches!(
        base,
        "return-path"
            | "from"
            | "to"
            | "cc"
            | "reply-to"
            | "errors-to"
            | "mail-followup-to"
            | "sender"
    ) {
        chew_addresses(&value)
    } else if name == "Received" {
        chew_received(&value)
    } else if name == "Content-Type" {
        chew_content_type(&value)
    } else if name == "MIME-Version" {
        value.replacen("1.0", "", 1)
    } else if is_presence_only_header(name) {
        "1".to_string()
    } else {
        value
    }
}

fn replace_all(pattern: &Regex, text: &str, replacement: &str) -> String {
    // NOTE: an error (backtrack limit) leaves the text unchanged; these
    // patterns use no backtracking features, so none is expected.
    pattern
        .try_replacen(text, 0, replacement)
        .map_or_else(|_| text.to_string(), |cow| cow.into_owned())
}

fn compile(slot: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    slot.get_or_init(|| Regex::new(pattern).expect("the header pattern is valid"))
}

/// Splits a Message-ID on likely boundaries after dropping the parts that
/// Outlook Express, Exim and Sendmail make unique per message.
fn chew_message_id(value: &str) -> String {
    static OUTLOOK: OnceLock<Regex> = OnceLock::new();
    static EXIM: OnceLock<Regex> = OnceLock::new();
    static SENDMAIL: OnceLock<Regex> = OnceLock::new();
    static NON_WORD: OnceLock<Regex> = OnceLock::new();
    let outlook = compile(
        &OUTLOOK,
        r"<([0-9a-f]{4})[0-9a-f]{4}[0-9a-f]{4}\$([0-9a-f]{4})[0-9a-f]{4}\$([0-9a-f]{8})@(\S+)>",
    );
    let value = replace_all(outlook, value, " OEA$1 OEB$2 OEC$3 $4 ");
    let value = replace_all(
        compile(&EXIM, r"<[A-Za-z0-9]{7}-[A-Za-z0-9]{6}-0[A-Za-z0-9]@"),
        &value,
        "",
    );
    let sendmail = compile(
        &SENDMAIL,
        r"<20\d\d[01]\d[0123]\d[012]\d[012345]\d[012345]\d\.[A-F0-9]{10,12}@",
    );
    let value = replace_all(sendmail, &value, "");
    replace_all(compile(&NON_WORD, r"[^_A-Za-z0-9]"), &value, " ")
}

/// Drops sendmail and Exim queue ids, dates and filler words from a
/// Received value, and cuts IPv4 addresses to their /24 with an `ip*`
/// token of the whole address.
fn chew_received(value: &str) -> String {
    static IDS: OnceLock<Regex> = OnceLock::new();
    static DATE: OnceLock<Regex> = OnceLock::new();
    static IP: OnceLock<Regex> = OnceLock::new();
    static FILLER: OnceLock<Regex> = OnceLock::new();
    let ids = compile(
        &IDS,
        concat!(
            r"\swith\sSMTP\sid\sg[\dA-Z]{10,12}\s|\swith\sESMTP\sid\s[\dA-F]{10,12}\s",
            r"|\bid\s[a-zA-Z0-9]{7,20}\b|\bid\s[A-Za-z0-9]{7}-[A-Za-z0-9]{6}-0[A-Za-z0-9]"
        ),
    );
    let value = replace_all(ids, value, " ");
    let date = compile(
        &DATE,
        concat!(
            r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),\s)?[0-3\s]?[0-9]\s",
            r"(?:Jan|Feb|Ma[ry]|Apr|Ju[nl]|Aug|Sep|Oct|Nov|Dec)\s(?:19|20)?[0-9]{2}\s",
            r"[0-2][0-9](?::[0-5][0-9]){1,2}\s(?:\s*\(|\)|\s*(?:[+-][0-9]{4})|\s*(?:UT|[A-Z]{2,3}T))*"
        ),
    );
    let value = replace_all(date, &value, "");

    let ip = compile(&IP, r"\b(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\b");
    let mut out = String::with_capacity(value.len() + 32);
    let mut copied_to = 0;
    for captures in ip.captures_iter(&value).flatten() {
        let whole = captures.get(0).expect("group 0 exists");
        let octet = |i: usize| captures.get(i).map_or("", |m| m.as_str());
        out.push_str(&value[copied_to..whole.start()]);
        // Private 10/8 and 192.168/16 addresses keep all four octets.
        let private = octet(1) == "10" || (octet(1) == "192" && octet(2) == "168");
        if private {
            out.push_str(whole.as_str());
        } else {
            out.push_str(&format!("{}.{}.{}", octet(1), octet(2), octet(3)));
        }
        out.push_str(&format!(" ip*{} ", whole.as_str()));
        copied_to = whole.end();
    }
    out.push_str(&value[copied_to..]);

    replace_all(
        compile(&FILLER, r"\b(?:with|from|for|SMTP|ESMTP)\b"),
        &out,
        " ",
    )
}

/// Keeps a Content-Type's words without "text" and "charset", and its
/// boundary with hex digits turned into `H` and separators split off.
fn chew_content_type(value: &str) -> String {
    static BOUNDARY: OnceLock<Regex> = OnceLock::new();
    static STOP: OnceLock<Regex> = OnceLock::new();
    let boundary_pattern = compile(&BOUNDARY, r#"(?i)boundary=["'](.*?)["']"#);
    let mut boundary = String::new();
    if let Ok(Some(captures)) = boundary_pattern.captures(value) {
        boundary = captures.get(1).map_or("", |m| m.as_str()).to_string();
    }
    let mut out = replace_all(boundary_pattern, value, " ");
    if !boundary.is_empty() {
        let mut shaped = String::with_capacity(boundary.len() * 2);
        let mut in_separator = false;
        for c in boundary.chars() {
            let separator = matches!(c, '-' | '_' | '.' | '=');
            if separator != in_separator {
                shaped.push(' ');
                in_separator = separator;
            }
            shaped.push(if c.is_ascii_hexdigit() { 'H' } else { c });
        }
        if in_separator {
            shaped.push(' ');
        }
        out.push_str(&shaped);
    }
    replace_all(compile(&STOP, r"\b(?:text|charset)\b"), &out, " ")
}

/// Turns an address header into `N*` display-name words and `U*`/`D*`
/// address tokens.
///
/// NOTE: this is a small address-list parser (comma split outside quotes
/// and angle brackets), not a full RFC 5322 one, so unusual group or
/// comment syntax can give other tokens than SpamAssassin's parser.
fn chew_addresses(value: &str) -> String {
    let mut tokens = Vec::new();
    for entry in split_address_list(value) {
        let (phrase, address) = match (entry.find('<'), entry.rfind('>')) {
            (Some(open), Some(close)) if open < close => (
                format!("{} {}", &entry[..open], &entry[close + 1..]),
                entry[open + 1..close].trim().to_string(),
            ),
            _ => {
                let address = entry
                    .split_whitespace()
                    .find(|word| word.contains('@'))
                    .unwrap_or("");
                let phrase: Vec<&str> = entry
                    .split_whitespace()
                    .filter(|word| !word.contains('@'))
                    .collect();
                (phrase.join(" "), address.to_string())
            }
        };
        let phrase = phrase.replace('"', " ");
        let phrase = phrase.trim().trim_matches(|c| c == '(' || c == ')');
        tokens.extend(phrase.split_whitespace().map(|word| format!("N*{word}")));
        mail_address_tokens(&address, &mut tokens);
    }
    tokens.join(" ")
}

fn split_address_list(value: &str) -> Vec<&str> {
    let mut entries = Vec::new();
    let (mut quoted, mut angle, mut start) = (false, false, 0);
    for (at, c) in value.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                entries.push(value[start..at].trim());
                start = at + 1;
            }
            _ => {}
        }
    }
    entries.push(value[start..].trim());
    entries.retain(|entry| !entry.is_empty());
    entries
}
