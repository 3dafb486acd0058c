//! Header evals after SpamAssassin 4.0.1's Plugin/HeaderEval.pm.
//!
//! Each function reads `Prepared::headers()`. Raw byte tests
//! (`illegal_chars`) read the field bytes as written, because a decoded
//! `String` has already replaced the invalid bytes they count.

use std::collections::BTreeSet;

use crate::prepare::headers::mailbox_addresses;
use crate::prepare::received::{is_private_ip, RelaySet};
use crate::prepare::{HeaderForm, Prepared};

use super::{charset_likely_caps, matches_perl};

/// Returns whether the message has neither a To nor an Apparently-To
/// field. An empty field counts as present, because SpamAssassin's value
/// for it is "\n", not the empty string.
pub fn missing_to(message: &Prepared<'_>) -> bool {
    let headers = message.headers();
    !headers.exists("To") && !headers.exists("Apparently-To")
}

/// Returns whether the number of distinct values of field `name` lies in
/// `min..=max`.
pub fn count_in_range(message: &Prepared<'_>, name: &str, min: f64, max: f64) -> Option<bool> {
    let distinct: BTreeSet<&[u8]> = message
        .headers()
        .iter()
        .filter(|(field, _)| field.eq_ignore_ascii_case(name.as_bytes()))
        .map(|(_, value)| value)
        .collect();
    let count = distinct.len() as f64;
    Some(count >= min && count <= max)
}

/// Returns whether the raw value of field `name` (or the whole header for
/// `ALL`) has at least `count` control or 8-bit bytes and they make up at
/// least `ratio` of its length. Valid UTF-8 without controls never hits.
pub fn illegal_chars(message: &Prepared<'_>, name: &str, ratio: f64, count: f64) -> Option<bool> {
    let name = name.strip_suffix(":raw").unwrap_or(name);
    let mut text = Vec::new();
    for (field, value) in message.headers().iter() {
        if name == "ALL" {
            text.extend_from_slice(field);
            text.extend_from_slice(b": ");
        } else if !field.eq_ignore_ascii_case(name.as_bytes()) {
            continue;
        }
        text.extend_from_slice(value);
        text.push(b'\n');
    }
    if !text.iter().any(|byte| !byte.is_ascii_whitespace()) {
        return Some(false);
    }

    let is_control = |byte: &u8| matches!(byte, 0x00..=0x08 | 0x0b | 0x0c | 0x0e..=0x1f);
    if !text.is_ascii() && std::str::from_utf8(&text).is_ok() && !text.iter().any(is_control) {
        return Some(false);
    }

    let mut illegal = text
        .iter()
        .filter(|byte| is_control(byte) || **byte >= 0x7f)
        .count();
    // SpamAssassin forgives one cent, pound or registered sign in a Subject.
    let exempt = text
        .iter()
        .filter(|byte| matches!(byte, 0xa2 | 0xa3 | 0xae))
        .count();
    if illegal > 0 && name.eq_ignore_ascii_case("subject") && exempt == 1 {
        illegal -= 1;
    }
    let illegal = illegal as f64;
    Some(illegal / text.len() as f64 >= ratio && illegal >= count)
}

/// Returns whether a Subject of two or more words and at least 10
/// characters, after reply and forward prefixes, has only capital letters.
pub fn subject_is_all_caps(message: &Prepared<'_>) -> bool {
    let subject = message
        .header("Subject", HeaderForm::Decoded)
        .unwrap_or_default();
    let subject = strip_reply_prefixes(subject.trim());
    if !subject.contains(char::is_whitespace) || subject.chars().count() < 10 {
        return false;
    }
    let raw = message
        .header("Subject", HeaderForm::Raw)
        .unwrap_or_default();
    if encoded_word_charsets(&raw).any(charset_likely_caps) {
        return false;
    }
    let letters: Vec<char> = subject.chars().filter(char::is_ascii_alphabetic).collect();
    !letters.is_empty() && letters.iter().all(char::is_ascii_uppercase)
}

/// Removes leading `Re:`, `Fwd:` and similar prefixes, in any case.
fn strip_reply_prefixes(mut subject: &str) -> &str {
    const PREFIXES: [&str; 10] = [
        "re", "fwd", "fw", "aw", "antwort", "wg", "sv", "vb", "vs", "vl",
    ];
    'strip: loop {
        for prefix in PREFIXES {
            let Some(head) = subject.get(..prefix.len()) else {
                continue;
            };
            if !head.eq_ignore_ascii_case(prefix) {
                continue;
            }
            if let Some(rest) = subject[prefix.len()..].strip_prefix(':') {
                subject = rest.trim_start();
                continue 'strip;
            }
        }
        return subject;
    }
}

/// Returns the charset names of the RFC 2047 encoded-words in `raw`.
fn encoded_word_charsets(raw: &str) -> impl Iterator<Item = &str> {
    raw.split("=?")
        .skip(1)
        .filter_map(|rest| rest.split('?').next())
}

/// Returns whether the Subject names the To address (`address`) or the
/// local part of it (`user`) in the ways HeaderEval.pm looks for.
pub fn to_in_subject(message: &Prepared<'_>, test: &str) -> Option<bool> {
    let to = message.header("To", HeaderForm::Addr).unwrap_or_default();
    if to.is_empty() {
        return Some(false);
    }
    let subject = message
        .header("Subject", HeaderForm::Decoded)
        .unwrap_or_default();
    match test {
        "address" => Some(contains_word(&subject.to_lowercase(), &to.to_lowercase())),
        "user" => {
            let user = to.split('@').next().unwrap_or_default();
            Some(!user.is_empty() && subject_addresses_user(&subject, user))
        }
        _ => None,
    }
}

/// Returns whether `needle` occurs in `text` with no word character on
/// either side.
fn contains_word(text: &str, needle: &str) -> bool {
    let is_word =
        |character: Option<char>| character.is_some_and(|c| c.is_alphanumeric() || c == '_');
    text.match_indices(needle).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + needle.len()..].chars().next();
        !is_word(before) && !is_word(after)
    })
}

/// Returns whether the Subject has one of the four forms of HeaderEval.pm's
/// `user` test: "Re: [word] user" at the end, "user" followed by punctuation at the start, the Subject
/// being "user", and ", user!" at the end.
fn subject_addresses_user(subject: &str, user: &str) -> bool {
    let lower = subject.to_lowercase();
    let user_lower = user.to_lowercase();

    for prefix in ["re:", "fw:"] {
        if let Some(rest) = lower.strip_prefix(prefix) {
            let rest = rest.trim_start();
            let words: Vec<&str> = rest.split_whitespace().collect();
            let one_word = words.len() == 1 && words[0] == user_lower && rest.trim_end() == rest;
            let two_words =
                words.len() == 2 && words[1] == user_lower && rest.ends_with(&user_lower);
            if one_word || two_words {
                return true;
            }
        }
    }

    // The user name is matched case-sensitively here, as in the Perl.
    if let Some(rest) = subject.strip_prefix(user) {
        let rest = rest.trim_start();
        let mut chars = rest.chars();
        if let Some(mark) = chars.next() {
            let after = chars.next();
            if ",:;!?-".contains(mark) && after.is_none_or(char::is_whitespace) {
                return true;
            }
        }
    }

    if lower == user_lower {
        return true;
    }
    if let Some(rest) = lower.strip_prefix(',') {
        let rest = rest.trim_start();
        if let Some(tail) = rest.strip_prefix(&user_lower) {
            let mut chars = tail.chars();
            return chars.next().is_some_and(|mark| ",:;!?-".contains(mark))
                && chars.next().is_none();
        }
    }
    false
}

/// Returns whether the envelope sender equals the From address, ignoring
/// case. Both missing counts as equal, as in HeaderEval.pm.
pub fn envelope_matches_from(message: &Prepared<'_>) -> bool {
    let from = message.header("From", HeaderForm::Addr).unwrap_or_default();
    let envelope = message
        .header("EnvelopeFrom", HeaderForm::Addr)
        .unwrap_or_default();
    from.to_lowercase() == envelope.to_lowercase()
}

/// Returns whether the From address and the envelope sender are in
/// different second-level domains. Either one missing is no hit.
pub fn from_domains_differ(message: &Prepared<'_>) -> bool {
    let from = message.header("From", HeaderForm::Addr).unwrap_or_default();
    let envelope = message
        .header("EnvelopeFrom", HeaderForm::Addr)
        .unwrap_or_default();
    match (second_level_domain(&from), second_level_domain(&envelope)) {
        (Some(from), Some(envelope)) => !from.eq_ignore_ascii_case(envelope),
        _ => false,
    }
}

/// Returns the last two labels of the domain after the last `@`.
fn second_level_domain(address: &str) -> Option<&str> {
    let (_, domain) = address.rsplit_once('@')?;
    if domain.is_empty() {
        return None;
    }
    let mut dots = domain.rmatch_indices('.');
    let _last = dots.next();
    match dots.next() {
        Some((at, _)) if at > 0 => Some(&domain[at + 1..]),
        _ => Some(domain),
    }
}

/// Received shapes of mail that Yahoo! itself sent: webmail, SMTP, groups
/// and "mail this story to a friend", from HeaderEval.pm.
const YAHOO_RECEIVED_SHAPES: [&str; 5] = [
    r"by web\S+\.mail\S*\.yahoo\.com via HTTP",
    r"by sonic\S+\.consmr\.mail\S*\.yahoo\.com with HTTP",
    r"by smtp\S+\.yahoo\.com with SMTP",
    r"from \[[0-9a-fA-F:.]+\] by \S+\.(?:groups|scd|dcn)\.yahoo\.com with NNFMP",
    r"by \w+\.\w+\.yahoo\.com \(\d+\.\d+\.\d+/\d+\.\d+\.\d+\)(?: with ESMTP)? id \w+",
];

/// Returns whether a From address at yahoo.com came through relays that
/// Yahoo! did not run, as `check_for_forged_yahoo_received_headers` in
/// SpamAssassin 4.0.1's HeaderEval.pm decides. A forged one has no relay
/// with a yahoo.com reverse DNS name among the trusted ones or as the first
/// untrusted one. Its Received fields also match none of the shapes of
/// Yahoo!'s webmail, SMTP, groups or "mail this story" servers.
///
/// NOTE: SpamAssassin's `$IP_ADDRESS` regex is approximated by a bracketed
/// run of hex digits, dots and colons in the groups shape.
pub fn forged_yahoo_received(message: &Prepared<'_>) -> bool {
    let from = message.header("From", HeaderForm::Addr).unwrap_or_default();
    if !matches_perl(r"(?i)\byahoo\.com$", &from) {
        return false;
    }
    let mut received = message.header("Received", HeaderForm::Decoded);
    if received.is_none() || gated_through_received_remover(message, received.as_deref()) {
        return false;
    }
    let resent = |name: &str| {
        message
            .header(name, HeaderForm::Decoded)
            .unwrap_or_default()
    };
    if !resent("Resent-From").is_empty() && !resent("Resent-To").is_empty() {
        let x_received = resent("X-Received");
        if !x_received.is_empty() {
            received = Some(x_received);
        }
    }
    let received = received
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");

    let chain = message.headers().relay_chain();
    let trusted = chain.field_text(RelaySet::Trusted);
    let untrusted = chain.field_text(RelaySet::Untrusted);
    if matches_perl(r" rdns=\S+\.yahoo\.com ", &trusted)
        || matches_perl(r"^[^\]]+ rdns=\S+\.yahoo\.com ", &untrusted)
    {
        return false;
    }
    if YAHOO_RECEIVED_SHAPES
        .iter()
        .any(|shape| matches_perl(shape, &received))
    {
        return false;
    }
    let bulk_reply = matches_perl(r"\bmailer\d+\.bulk\.scd\.yahoo\.com\b", &received)
        && matches_perl(r"(?i)\@reply\.yahoo\.com$", &from);
    !bulk_reply
}

/// Returns whether the Received fields were removed on the way, so that
/// tests on them mean nothing: an ezmlm list that strips them, or MSN
/// groups. `received` is every Received value joined.
pub(super) fn gated_through_received_remover(
    message: &Prepared<'_>,
    received: Option<&str>,
) -> bool {
    let Some(received) = received else {
        return true;
    };
    let mailing_list = message.header("Mailing-List", HeaderForm::Decoded);
    if mailing_list
        .is_some_and(|text| matches_perl(r"(?m)^contact \S+\@\S+\; run by ezmlm$", &text))
    {
        let delivered_to = message
            .header("Delivered-To", HeaderForm::Decoded)
            .unwrap_or_default();
        if matches_perl(r"(?m)^mailing list \S+\@\S+", &delivered_to)
            && matches_perl(
                r"qmail \d+ invoked (?:from network|by .{3,20})\); \d+ ... \d+",
                received,
            )
        {
            return true;
        }
    }
    matches_perl(r"from groups\.msn\.com \(\S+\.msn\.com ", received)
}

/// Fields in which `%` followed by capitals is normal text, not a template
/// placeholder: addresses, Subject, message ids and encoded faces.
const TEMPLATE_EXEMPT_FIELDS: &str = r"(?i)^(?:X-VMS-To|X-UIDL|X-Face|To|Cc|From|Subject|References|In-Reply-To|(?:X-|Resent-|X-Original-)?Message-Id):";

/// Returns whether a header line outside [`TEMPLATE_EXEMPT_FIELDS`] has a
/// `%`, a capital and then a capital, `_` or `-`, the mark of a
/// mail template whose placeholder was not filled in
/// (`check_unresolved_template`). Lines are those of the decoded `ALL`,
/// so a decoded value that contains a newline splits into lines that do
/// not start with its field name.
pub fn unresolved_template(message: &Prepared<'_>) -> bool {
    let all = message
        .header("ALL", HeaderForm::Decoded)
        .unwrap_or_default();
    all.split('\n').any(|line| {
        matches_perl(r"%[A-Z][A-Z_-]", line) && !matches_perl(TEMPLATE_EXEMPT_FIELDS, line)
    })
}

/// Returns the domain part of the first `<` + 28 capitals + `.` + domain
/// + `>` in `message_id`, the Message-ID shape of one ratware family.
fn ratware_message_id_domain(message_id: &str) -> Option<&str> {
    const CAPITALS: usize = 28;
    message_id.match_indices('<').find_map(|(at, _)| {
        let rest = &message_id[at + 1..];
        let bytes = rest.as_bytes();
        let capitals = bytes.get(..CAPITALS)?;
        if !capitals.iter().all(u8::is_ascii_uppercase) || bytes.get(CAPITALS) != Some(&b'.') {
            return None;
        }
        let domain = &rest[CAPITALS + 1..];
        let end = domain.find('>').filter(|&end| end > 0)?;
        Some(&domain[..end])
    })
}

/// Returns whether `from` has a quoted display name followed, after
/// optional white space, by `<address>`.
fn has_quoted_name_before(from: &str, address: &str) -> bool {
    let bracketed = format!("<{address}>");
    from.match_indices(&bracketed).any(|(at, _)| {
        let before = from[..at].trim_end();
        let Some(name_and_open) = before.strip_suffix('"') else {
            return false;
        };
        // The display name is one or more characters other than `"`.
        name_and_open
            .rfind('"')
            .is_some_and(|open| open + 1 < name_and_open.len())
    })
}

/// Returns whether the Message-ID is `<` + 28 capitals + `.` + a domain,
/// and the From field is `"Name" <that domain>`, a ratware family's
/// signature (`check_ratware_name_id`).
pub fn ratware_name_id(message: &Prepared<'_>) -> bool {
    let message_id = message
        .header("MESSAGEID", HeaderForm::Decoded)
        .unwrap_or_default();
    let Some(domain) = ratware_message_id_domain(&message_id) else {
        return false;
    };
    let from = message
        .header("From", HeaderForm::Decoded)
        .unwrap_or_default();
    has_quoted_name_before(&from, domain)
}

/// Returns whether an untrusted relay gave a public IPv4 address as its
/// HELO name that is outside the /24 of its own public IPv4 address, as
/// `helo_ip_mismatch` in SpamAssassin 4.0.1's RelayEval.pm decides.
pub fn helo_ip_mismatch(message: &Prepared<'_>) -> bool {
    let is_public_ipv4 =
        |text: &str| text.parse::<std::net::Ipv4Addr>().is_ok() && !is_private_ip(text);
    message
        .headers()
        .relay_chain()
        .untrusted()
        .iter()
        .any(|relay| {
            if !is_public_ipv4(&relay.helo) || !is_public_ipv4(&relay.ip) || relay.helo == relay.ip
            {
                return false;
            }
            let helo_slash_24 = match relay.helo.rfind('.') {
                Some(last_dot) => &relay.helo[..=last_dot],
                None => return false,
            };
            !relay.ip.starts_with(helo_slash_24)
        })
}

/// HELO domains of large mail providers for `check_for_no_rdns_dotcom_helo`,
/// from SpamAssassin 4.0.1's RelayEval.pm.
const DOTCOM_HELO_DOMAINS: [&str; 11] = [
    "lycos.com",
    "lycos.co.uk",
    "hotmail.com",
    "localhost.com",
    "excite.com",
    "caramail.com",
    "cs.com",
    "aol.com",
    "msn.com",
    "yahoo.com",
    "drizzle.com",
];

/// Returns whether the oldest untrusted relay with a public IP address
/// gave a large provider's domain (or a host in it) as its HELO name, and
/// its receiving server found no reverse DNS name for it
/// ([`crate::prepare::received::Relay::no_reverse_dns`]). This is
/// `check_for_no_rdns_dotcom_helo` of SpamAssassin 4.0.1's RelayEval.pm,
/// which resets its result for each such relay, so only the oldest one
/// counts.
pub fn no_rdns_dotcom_helo(message: &Prepared<'_>) -> bool {
    let chain = message.headers().relay_chain();
    let Some(relay) = chain
        .untrusted()
        .iter()
        .rev()
        .find(|relay| !is_private_ip(&relay.ip))
    else {
        return false;
    };
    let helo = relay.helo.to_ascii_lowercase();
    let dotcom = DOTCOM_HELO_DOMAINS.iter().any(|domain| {
        helo.strip_suffix(domain)
            .is_some_and(|head| head.is_empty() || head.ends_with('.'))
    });
    dotcom && relay.no_reverse_dns
}

/// Minimum recipients for `sorted_recipients`, from HeaderEval.pm.
const SORTED_RECIPIENTS_MIN: usize = 7;
/// Minimum recipients for `similar_recipients`, from HeaderEval.pm.
const SIMILAR_RECIPIENTS_MIN: usize = 5;
/// Characters compared at the start of user and host, from HeaderEval.pm.
const SIMILAR_PREFIX_LEN: usize = 2;
/// Maximum recipients compared, from HeaderEval.pm.
const RECIPIENTS_COMPARED_MAX: usize = 256;

/// Returns the recipient addresses that HeaderEval.pm's
/// `_check_recipients` compares: To and Cc, then Bcc while fewer than
/// [`SIMILAR_RECIPIENTS_MIN`], with a run of the same address (ignoring
/// case) kept once. The list ends at an empty address, as Perl's `while`
/// over the list does.
fn compared_recipients(message: &Prepared<'_>) -> Vec<String> {
    let mut inputs = Vec::new();
    for names in [&["To", "Cc"][..], &["Bcc"][..]] {
        for name in names {
            for value in message.headers().values(name, HeaderForm::Decoded) {
                inputs.extend(mailbox_addresses(&value));
            }
        }
        if inputs.len() >= SIMILAR_RECIPIENTS_MIN {
            break;
        }
    }
    let mut addresses: Vec<String> = Vec::new();
    for current in inputs {
        if current.is_empty() || current == "0" {
            break;
        }
        let repeated = addresses
            .last()
            .is_some_and(|previous| previous.to_lowercase() == current.to_lowercase());
        if !repeated {
            addresses.push(current);
        }
        if addresses.len() == RECIPIENTS_COMPARED_MAX {
            break;
        }
    }
    addresses
}

/// Returns whether there are at least [`SORTED_RECIPIENTS_MIN`] recipients,
/// in sorted order (`sorted_recipients`).
pub fn sorted_recipients(message: &Prepared<'_>) -> bool {
    let addresses = compared_recipients(message);
    addresses.len() >= SORTED_RECIPIENTS_MIN && addresses.is_sorted()
}

/// Returns whether the share of similar recipient pairs is at least `min`
/// and below `max` (`similar_recipients`). Each pair scores once for user
/// names that start with the same two characters, and once for different
/// host names that do. With fewer than [`SIMILAR_RECIPIENTS_MIN`]
/// recipients the share is 0.
pub fn similar_recipients(message: &Prepared<'_>, min: Option<f64>, max: Option<f64>) -> bool {
    let addresses = compared_recipients(message);
    let mut similar = 0.0;
    if addresses.len() >= SIMILAR_RECIPIENTS_MIN {
        let prefix = |text: &str| text.chars().take(SIMILAR_PREFIX_LEN).collect::<String>();
        let users: Vec<String> = addresses.iter().map(|address| prefix(address)).collect();
        // As in Perl, addresses without `@` give no host, so later hosts
        // shift to earlier indexes and the missing ones compare as empty.
        let hosts: Vec<&str> = addresses
            .iter()
            .filter_map(|address| address.split_once('@').map(|(_, host)| host))
            .collect();
        let host_at = |index: usize| hosts.get(index).copied().unwrap_or("");
        let mut hits = 0u64;
        let mut combinations = 0u64;
        for i in 0..addresses.len() {
            for j in i + 1..addresses.len() {
                if users[i] == users[j] {
                    hits += 1;
                }
                if prefix(host_at(i)) == prefix(host_at(j)) && host_at(i) != host_at(j) {
                    hits += 1;
                }
                combinations += 1;
            }
        }
        similar = hits as f64 / combinations as f64;
    }
    min.is_none_or(|min| similar >= min) && max.is_none_or(|max| similar < max)
}

#[cfg(test)]
mod tests {
    use super::super::cached_pattern;
    use super::*;

    #[test]
    fn forged_yahoo_patterns_compile() {
        let others = [
            r"(?i)\byahoo\.com$",
            r" rdns=\S+\.yahoo\.com ",
            r"^[^\]]+ rdns=\S+\.yahoo\.com ",
            r"\bmailer\d+\.bulk\.scd\.yahoo\.com\b",
            r"(?i)\@reply\.yahoo\.com$",
            r"(?m)^contact \S+\@\S+\; run by ezmlm$",
            r"(?m)^mailing list \S+\@\S+",
            r"qmail \d+ invoked (?:from network|by .{3,20})\); \d+ ... \d+",
            r"from groups\.msn\.com \(\S+\.msn\.com ",
        ];
        for pattern in YAHOO_RECEIVED_SHAPES.iter().chain(others.iter()) {
            assert!(cached_pattern(pattern).is_some(), "{pattern}");
        }
    }
}
