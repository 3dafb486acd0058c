//! Header access for `header` rules, as SpamAssassin 4.0.1's
//! `PerMsgStatus::get` gives it (read from Mail/SpamAssassin/PerMsgStatus.pm
//! and Message/Node.pm).
//!
//! `Headers` stores ranges into the message's header block and decodes on
//! request. `Headers::get` takes a name and a `HeaderForm`:
//! - `Decoded`: folds become one space, leading and trailing whitespace is
//!   trimmed, and RFC 2047 encoded-words are decoded to UTF-8, except in the
//!   fields SpamAssassin leaves encoded (Received, Message-ID, Date,
//!   MIME-Version, References, In-Reply-To, List-*).
//! - `Raw` (`:raw`): the value as written, folds kept, CRLF turned into LF.
//! - `Addr` (`:addr`) and `Name` (`:name`): the first address and the first
//!   display name of the decoded value.
//!
//! Every occurrence of a field is returned, joined by "\n". The pseudo-headers
//! `ALL`, `ToCc`, `MESSAGEID` and `EnvelopeFrom` are built from the real ones,
//! `EnvelopeFrom` with the parse of the Received chain (`super::received`).
//! Only the first `HEADER_FIELDS_MAX` fields are read, because the header
//! block of a hostile message could hold millions of short lines.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::OnceLock;

use ringmail_protocols::message::{fields, parse_address_list, Address};

use super::decode::decode_header_value;
use super::received::{RelayChain, RelaySet};

/// Maximum header fields read from the top-level header block. It matches
/// the protocols crate's per-entity field maximum.
pub const HEADER_FIELDS_MAX: usize = ringmail_protocols::message::FIELDS_MAX;

/// The form of a header value that a rule reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderForm {
    /// Unfolded, RFC 2047 decoded: a plain `header` rule.
    Decoded,
    /// As written, folds kept: `:raw`.
    Raw,
    /// The first address, `local@domain`: `:addr`.
    Addr,
    /// The first display name: `:name`.
    Name,
}

/// The header fields of one message, as ranges into its header block.
#[derive(Debug, Clone)]
pub struct Headers<'m> {
    block: &'m [u8],
    fields: Vec<FieldRanges>,
    /// The parsed Received chain, built on first use because only a few
    /// rules read it.
    relay_chain: OnceLock<RelayChain>,
}

#[derive(Debug, Clone)]
struct FieldRanges {
    name: Range<usize>,
    value: Range<usize>,
}

/// Fields whose values SpamAssassin does not RFC 2047 decode.
fn keeps_encoded_words(name: &[u8]) -> bool {
    const NAMES: [&[u8]; 8] = [
        b"received",
        b"message-id",
        b"resent-message-id",
        b"date",
        b"resent-date",
        b"mime-version",
        b"references",
        b"in-reply-to",
    ];
    let is_list = name.len() > 5 && name[..5].eq_ignore_ascii_case(b"list-");
    is_list || NAMES.iter().any(|known| known.eq_ignore_ascii_case(name))
}

impl<'m> Headers<'m> {
    /// Reads the fields of `block`, the message's header including the
    /// empty line that ends it.
    pub fn new(block: &'m [u8]) -> Headers<'m> {
        let fields = fields(block)
            .take(HEADER_FIELDS_MAX)
            .map(|field| FieldRanges {
                name: field.name,
                value: field.value,
            })
            .collect();
        Headers {
            block,
            fields,
            relay_chain: OnceLock::new(),
        }
    }

    /// Returns the relay chain parsed from the Received fields.
    pub fn relay_chain(&self) -> &RelayChain {
        self.relay_chain.get_or_init(|| RelayChain::new(self))
    }

    /// Returns the number of fields read.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Returns whether the header has no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Returns the names and raw values of the fields, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&'m [u8], &'m [u8])> + '_ {
        self.fields.iter().map(|field| {
            (
                &self.block[field.name.clone()],
                &self.block[field.value.clone()],
            )
        })
    }

    /// Returns whether a field called `name` exists (`exists:` rules).
    /// Pseudo-headers exist when one of their sources does.
    pub fn exists(&self, name: &str) -> bool {
        self.get(name, HeaderForm::Raw).is_some()
    }

    /// Returns the value of `name` in `form`, every occurrence joined by
    /// "\n", or `None` when no such field exists. Names compare without
    /// case. `ALL`, `ToCc`, `MESSAGEID` and `EnvelopeFrom` are pseudo-headers.
    pub fn get(&self, name: &str, form: HeaderForm) -> Option<String> {
        let value = if name == "ALL" {
            Some(self.all(form == HeaderForm::Raw))
        } else if name.eq_ignore_ascii_case("ToCc") {
            self.joined_any(&["To", "Cc"], form)
        } else if name == "MESSAGEID" {
            self.message_ids(form)
        } else if name == "EnvelopeFrom" {
            self.envelope_from()
        } else if let Some(set) = RelaySet::from_all_name(name) {
            self.all_in_relay_set(set, form == HeaderForm::Raw)
        } else {
            self.joined(name, form)
        };
        match form {
            HeaderForm::Decoded | HeaderForm::Raw => value,
            HeaderForm::Addr => value.and_then(|value| first_valid_address(&value)),
            HeaderForm::Name => value.map(|value| first_display_name(&value)),
        }
    }

    /// Returns the values of every field called `name`, one per occurrence.
    pub fn values(&self, name: &str, form: HeaderForm) -> Vec<String> {
        self.fields
            .iter()
            .filter(|field| self.block[field.name.clone()].eq_ignore_ascii_case(name.as_bytes()))
            .map(|field| self.field_value(field, form).into_owned())
            .collect()
    }

    fn field_value(&self, field: &FieldRanges, form: HeaderForm) -> Cow<'m, str> {
        let raw = &self.block[field.value.clone()];
        if form == HeaderForm::Raw {
            return raw_value(raw);
        }
        let unfolded = unfold_value(raw);
        if keeps_encoded_words(&self.block[field.name.clone()]) {
            return Cow::Owned(super::decode::to_utf8(&unfolded, None).into_owned());
        }
        match unfolded {
            Cow::Borrowed(bytes) => decode_header_value(bytes),
            Cow::Owned(bytes) => Cow::Owned(decode_header_value(&bytes).into_owned()),
        }
    }

    fn joined(&self, name: &str, form: HeaderForm) -> Option<String> {
        let values = self.values(name, form);
        (!values.is_empty()).then(|| values.join("\n"))
    }

    fn joined_any(&self, names: &[&str], form: HeaderForm) -> Option<String> {
        let values: Vec<String> = names
            .iter()
            .filter_map(|name| self.joined(name, form))
            .collect();
        (!values.is_empty()).then(|| values.join("\n"))
    }

    /// Returns the values of `MESSAGEID` in SpamAssassin 4.0.1's order:
    /// X-Message-Id, Resent-Message-Id, X-Original-Message-ID, then
    /// Message-Id, because mailing lists move the original Message-ID into
    /// one of the first three. Empty values are dropped.
    fn message_ids(&self, form: HeaderForm) -> Option<String> {
        const NAMES: [&str; 4] = [
            "X-Message-Id",
            "Resent-Message-Id",
            "X-Original-Message-ID",
            "Message-Id",
        ];
        let values: Vec<String> = NAMES
            .iter()
            .flat_map(|name| self.values(name, form))
            .filter(|value| !value.is_empty())
            .collect();
        (!values.is_empty()).then(|| values.join("\n"))
    }

    /// Returns every field as `Name: value` lines. Decoded values are
    /// unfolded; raw values keep their folds.
    fn all(&self, raw: bool) -> String {
        let form = if raw {
            HeaderForm::Raw
        } else {
            HeaderForm::Decoded
        };
        let mut text = String::new();
        for field in &self.fields {
            text.push_str(&String::from_utf8_lossy(&self.block[field.name.clone()]));
            text.push_str(": ");
            text.push_str(&self.field_value(field, form));
            text.push('\n');
        }
        text
    }

    /// Returns the header fields that relays of `set` added, as `all`
    /// formats them, or `None` when there are none. Without configured
    /// networks internal is trusted and external is untrusted. The trusted
    /// part runs from the top through the Received field after the last
    /// trusted one (the field the first untrusted relay's receiver wrote),
    /// and the untrusted part from that field to the end, as SpamAssassin's
    /// `get_all_hdrs_in_rcvd_index_range` splits them.
    fn all_in_relay_set(&self, set: RelaySet, raw: bool) -> Option<String> {
        let form = if raw {
            HeaderForm::Raw
        } else {
            HeaderForm::Decoded
        };
        let boundary = self.relay_chain().last_trusted_index() + 1;
        let from_top = matches!(set, RelaySet::Trusted | RelaySet::Internal);
        let mut received_index: i64 = -1;
        let mut text = String::new();
        for field in &self.fields {
            let name = &self.block[field.name.clone()];
            let is_received = name.eq_ignore_ascii_case(b"Received");
            if is_received {
                received_index += 1;
            }
            let included = if from_top {
                received_index <= boundary
            } else {
                received_index >= boundary
            };
            if !included {
                if from_top {
                    break;
                }
                continue;
            }
            text.push_str(&String::from_utf8_lossy(name));
            text.push_str(": ");
            text.push_str(&self.field_value(field, form));
            text.push('\n');
            if from_top && is_received && received_index == boundary {
                break;
            }
        }
        (!text.is_empty()).then_some(text)
    }

    /// Returns the envelope sender as SpamAssassin 4.0.1's
    /// `PerMsgStatus::get_envelope_from` guesses it when no
    /// `envelope_sender_header` is set. Each candidate is the first address
    /// of the first such field, and a field without a valid `user@host`
    /// address does not count:
    /// 1. the envelope sender that the last untrusted relay (or the first
    ///    trusted one) recorded in its Received field;
    /// 2. X-Sender holding an address, with a Received field that mentions
    ///    `(fetchmail`, means no envelope sender at all, because fetchmail
    ///    copies X-Sender into the envelope.
    /// 3. X-Envelope-From, unless a Received field comes before it, which
    ///    also means no envelope sender at all.
    /// 4. Envelope-Sender, then Return-Path, each skipped when a Received
    ///    field comes before it.
    fn envelope_from(&self) -> Option<String> {
        if let Some(envfrom) = self.relay_chain().last_hop_envelope_from() {
            if envfrom.find('@').is_some_and(|at| at > 0) {
                return Some(envfrom.to_string());
            }
        }

        let has_address = self
            .first_value_address("X-Sender")
            .is_some_and(|address| address.contains('@'));
        if has_address {
            let fetched = self
                .values("Received", HeaderForm::Decoded)
                .iter()
                .any(|received| received.contains("(fetchmail"));
            if fetched {
                return None;
            }
        }

        if let Some(address) = self.first_value_address("X-Envelope-From") {
            if self.received_before("X-Envelope-From") {
                return None;
            }
            return Some(address);
        }

        for name in ["Envelope-Sender", "Return-Path"] {
            if let Some(address) = self.first_value_address(name) {
                if !self.received_before(name) {
                    return Some(address);
                }
            }
        }
        None
    }

    /// Returns the first valid `user@host` address of the first field
    /// called `name`.
    fn first_value_address(&self, name: &str) -> Option<String> {
        let value = self.values(name, HeaderForm::Decoded).into_iter().next()?;
        valid_address(&value)
    }

    /// Returns whether a Received field comes before the last field called
    /// `name`, which is what SpamAssassin's `/^Received:.*?^Name:/smi`
    /// over all headers tests.
    fn received_before(&self, name: &str) -> bool {
        let is_named = |field: &FieldRanges, wanted: &str| {
            self.block[field.name.clone()].eq_ignore_ascii_case(wanted.as_bytes())
        };
        let first_received = self
            .fields
            .iter()
            .position(|field| is_named(field, "Received"));
        let last_named = self.fields.iter().rposition(|field| is_named(field, name));
        matches!((first_received, last_named), (Some(received), Some(named)) if received < named)
    }
}

/// Returns the first address of `value` as `user@host`, or `None` when the
/// first address has no user or no host, as SpamAssassin 4.0.1's
/// `parse_header_addresses` leaves such an address undefined.
fn valid_address(value: &str) -> Option<String> {
    let first =
        parse_address_list(value.as_bytes())
            .into_iter()
            .find_map(|address| match address {
                Address::Mailbox { mailbox, host, .. } => Some((mailbox, host)),
                _ => None,
            })?;
    let (mailbox, host) = first;
    if mailbox.is_empty() || host.is_empty() {
        return None;
    }
    let mut text = String::from_utf8_lossy(&mailbox).into_owned();
    text.push('@');
    text.push_str(&String::from_utf8_lossy(&host));
    Some(text)
}

/// Returns a raw value with CRLF turned into LF and one leading space
/// trimmed, as SpamAssassin stores raw values.
fn raw_value(raw: &[u8]) -> Cow<'_, str> {
    let raw = raw.strip_prefix(b" ").unwrap_or(raw);
    if memchr::memchr(b'\r', raw).is_none() {
        return super::decode::to_utf8(raw, None);
    }
    let squashed: Vec<u8> = raw
        .windows(2)
        .filter(|pair| pair != b"\r\n")
        .map(|pair| pair[0])
        .chain(raw.last().copied())
        .collect();
    Cow::Owned(super::decode::vec_to_utf8(squashed, None))
}

/// Unfolds a value: each line break with the whitespace after it becomes
/// one space, and the ends are trimmed.
fn unfold_value(raw: &[u8]) -> Cow<'_, [u8]> {
    let start = raw
        .iter()
        .position(|byte| !byte.is_ascii_whitespace())
        .unwrap_or(raw.len());
    let end = raw
        .iter()
        .rposition(|byte| !byte.is_ascii_whitespace())
        .map_or(start, |at| at + 1);
    let trimmed = &raw[start..end];
    if memchr::memchr2(b'\r', b'\n', trimmed).is_none() {
        return Cow::Borrowed(trimmed);
    }
    let mut output = Vec::with_capacity(trimmed.len());
    let mut index = 0;
    while index < trimmed.len() {
        let byte = trimmed[index];
        if byte == b'\r' || byte == b'\n' {
            while matches!(trimmed.get(index), Some(b'\r' | b'\n' | b' ' | b'\t')) {
                index += 1;
            }
            output.push(b' ');
            continue;
        }
        output.push(byte);
        index += 1;
    }
    Cow::Owned(output)
}

/// Returns the local part and host of every mailbox of an address-list
/// value, in order. The host is empty when the address has none.
pub(crate) fn mailboxes(value: &str) -> Vec<(String, String)> {
    parse_address_list(value.as_bytes())
        .into_iter()
        .filter_map(|address| match address {
            Address::Mailbox { mailbox, host, .. } => Some((
                String::from_utf8_lossy(&mailbox).into_owned(),
                String::from_utf8_lossy(&host).into_owned(),
            )),
            _ => None,
        })
        .collect()
}

/// Returns every mailbox of an address-list value as `local@host`, or as
/// `local` when it has no host, in order.
pub(crate) fn mailbox_addresses(value: &str) -> Vec<String> {
    mailboxes(value)
        .into_iter()
        .map(|(local, host)| {
            if host.is_empty() {
                local
            } else {
                format!("{local}@{host}")
            }
        })
        .collect()
}

/// Returns whether `address` has the shape SpamAssassin's address parser
/// accepts. The local part is quoted, or has no white space, `@`, angle
/// brackets, parentheses, square brackets, `,`, `:` or `;`. The domain
/// after the `@` has none of those characters and no `"`, or is an address
/// literal of digits, `:` and `.` in square brackets.
pub(crate) fn is_mail_address(address: &str) -> bool {
    let special = |c: char| c.is_whitespace() || "<>()[],:;".contains(c);
    let (local, domain) = if let Some(quoted) = address.strip_prefix('"') {
        let mut escaped = false;
        let Some(end) = quoted.char_indices().find_map(|(at, c)| {
            let closes = c == '"' && !escaped;
            escaped = c == '\\' && !escaped;
            closes.then_some(at)
        }) else {
            return false;
        };
        match quoted[end + 1..].strip_prefix('@') {
            Some(domain) => ("\"", domain),
            None => return false,
        }
    } else {
        match address.split_once('@') {
            Some((local, domain)) => (local, domain),
            None => return false,
        }
    };
    let local_ok = local == "\"" || (!local.is_empty() && !local.contains(|c: char| special(c)));
    let literal = domain
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .is_some_and(|inner| {
            !inner.is_empty()
                && inner
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == ':' || c == '.')
        });
    let domain_ok =
        literal || (!domain.is_empty() && !domain.contains(|c: char| special(c) || c == '"'));
    local_ok && domain_ok
}

/// Returns the first address of `value` that [`is_mail_address`] accepts,
/// as SpamAssassin's `get("Name:addr")` returns the first address its
/// parser kept, or `None` when it accepts none. A value in which no
/// address is found at all gives [`first_address`]'s reading.
pub(crate) fn first_valid_address(value: &str) -> Option<String> {
    let addresses = mailbox_addresses(value);
    if addresses.is_empty() {
        return Some(first_address(value));
    }
    addresses
        .into_iter()
        .find(|address| is_mail_address(address))
}

/// Returns the first address of an address-list value, or the value
/// trimmed of angle brackets when it has no parsable address.
pub(crate) fn first_address(value: &str) -> String {
    if let Some(first) = mailbox_addresses(value).into_iter().next() {
        return first;
    }
    value
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

/// Returns the display name of the first address, unquoted, or "" when
/// it has none.
pub(crate) fn first_display_name(value: &str) -> String {
    for address in parse_address_list(value.as_bytes()) {
        if let Address::Mailbox { name, .. } = address {
            return name
                .map(|name| String::from_utf8_lossy(&name).into_owned())
                .unwrap_or_default();
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &[u8] = b"Received: from a\r\n\tby b\r\n\
From: \"Jane Doe\" <Jane@Example.COM>\r\n\
To: one@example.com\r\n\
Cc: Two <two@example.com>\r\n\
Subject: =?utf-8?Q?caf=C3=A9?=\r\n  folded\r\n\
Message-Id: <id1@example.com>\r\n\
X-Message-Id: =?utf-8?Q?keep?=\r\n\
Received: second\r\n\
Return-Path: <bounce@example.com>\r\n\
\r\n";

    #[test]
    fn decoded_value_is_unfolded_and_decoded() {
        let headers = Headers::new(HEADER);
        assert_eq!(
            headers.get("subject", HeaderForm::Decoded).as_deref(),
            Some("café folded")
        );
    }

    #[test]
    fn raw_value_keeps_folds_and_encoding() {
        let headers = Headers::new(HEADER);
        assert_eq!(
            headers.get("Subject", HeaderForm::Raw).as_deref(),
            Some("=?utf-8?Q?caf=C3=A9?=\n  folded")
        );
    }

    #[test]
    fn repeated_fields_join_with_newline() {
        let headers = Headers::new(HEADER);
        assert_eq!(
            headers.get("received", HeaderForm::Decoded).as_deref(),
            Some("from a by b\nsecond")
        );
    }

    #[test]
    fn pseudo_headers() {
        let headers = Headers::new(HEADER);
        assert_eq!(
            headers.get("ToCc", HeaderForm::Decoded).as_deref(),
            Some("one@example.com\nTwo <two@example.com>")
        );
        assert_eq!(
            headers.get("MESSAGEID", HeaderForm::Decoded).as_deref(),
            Some("keep\n<id1@example.com>")
        );
        // Return-Path comes after a Received field, so it is not trusted.
        assert_eq!(headers.get("EnvelopeFrom", HeaderForm::Decoded), None);
        let all = headers.get("ALL", HeaderForm::Decoded).unwrap();
        assert!(all.starts_with("Received: from a by b\nFrom: "), "{all}");
        assert!(all.contains("Subject: café folded\n"), "{all}");
    }

    /// Cases of SpamAssassin's envelope sender search, each a header
    /// block and the expected EnvelopeFrom address.
    #[test]
    fn envelope_from_follows_spamassassin_order() {
        let cases: [(&str, &[u8], Option<&str>); 5] = [
            (
                "return path above received",
                b"Return-Path: <a@one.example>\r\nReceived: from x ([1.2.3.4]) by y (8.11.6/8.11.6) id 1\r\n",
                Some("a@one.example"),
            ),
            (
                "return path below received",
                b"Received: from x ([1.2.3.4]) by y (8.11.6/8.11.6) id 1\r\nReturn-Path: <a@one.example>\r\n",
                None,
            ),
            (
                "x-sender with fetchmail hop",
                b"Return-Path: <a@one.example>\r\nReceived: from p [127.0.0.1] by localhost with IMAP (fetchmail-5.9.0)\r\nX-Sender: b@two.example\r\n",
                None,
            ),
            (
                "relay envelope sender first",
                b"Return-Path: <a@one.example>\r\nReceived: from x (x.example [1.2.3.4]) (envelope-from c@three.example) by y (8.11.6/8.11.6) id 1\r\n",
                Some("c@three.example"),
            ),
            (
                "envelope sender before return path",
                b"Envelope-Sender: d@four.example\r\nReturn-Path: <a@one.example>\r\n",
                Some("d@four.example"),
            ),
        ];
        for (name, block, expected) in cases {
            let headers = Headers::new(block);
            assert_eq!(
                headers.get("EnvelopeFrom", HeaderForm::Addr).as_deref(),
                expected,
                "{name}"
            );
        }
    }

    #[test]
    fn messageid_order_and_empty_values() {
        let block = b"Message-Id: <m@x>\nX-Original-Message-ID: <orig@x>\n\
Resent-Message-Id:\nX-Message-Id: <list@x>\n\n";
        let headers = Headers::new(block);
        assert_eq!(
            headers.get("MESSAGEID", HeaderForm::Decoded).as_deref(),
            Some("<list@x>\n<orig@x>\n<m@x>")
        );
        let none = Headers::new(b"Subject: x\nMessage-Id:\n\n");
        assert_eq!(none.get("MESSAGEID", HeaderForm::Decoded), None);
    }

    #[test]
    fn envelope_from_sources_table() {
        let cases: &[(&str, Option<&str>)] = &[
            ("Return-Path: <b@x.org>\n", Some("b@x.org")),
            ("Return-Path: <>\n", None),
            ("Return-Path: junk\n", None),
            (
                "Envelope-Sender: e@x.org\nReturn-Path: <b@x.org>\n",
                Some("e@x.org"),
            ),
            (
                "X-Envelope-From: <x@x.org>\nReturn-Path: <b@x.org>\n",
                Some("x@x.org"),
            ),
            // A Received field before a source makes it untrusted.
            ("Received: from a\nReturn-Path: <b@x.org>\n", None),
            (
                "Return-Path: <b@x.org>\nReceived: from a\n",
                Some("b@x.org"),
            ),
            (
                "Envelope-Sender: e@x.org\nReceived: from a\nEnvelope-Sender: f@x.org\n\
                 Return-Path: <b@x.org>\n",
                None,
            ),
            (
                "Return-Path: <b@x.org>\nReceived: from a\nEnvelope-Sender: e@x.org\n",
                Some("b@x.org"),
            ),
            // An untrusted X-Envelope-From ends the search.
            (
                "Return-Path: <b@x.org>\nReceived: from a\nX-Envelope-From: x@x.org\n",
                None,
            ),
            // fetchmail copies X-Sender into the envelope.
            (
                "X-Sender: s@x.org\nReturn-Path: <b@x.org>\nReceived: from a (fetchmail-6.4)\n",
                None,
            ),
            (
                "X-Sender: s@x.org\nReturn-Path: <b@x.org>\n",
                Some("b@x.org"),
            ),
            ("Subject: none\n", None),
        ];
        for (block, expected) in cases {
            let block = format!("{block}\n");
            let headers = Headers::new(block.as_bytes());
            assert_eq!(
                headers.get("EnvelopeFrom", HeaderForm::Decoded).as_deref(),
                *expected,
                "header {block:?}"
            );
        }
    }

    #[test]
    fn addr_and_name_accessors() {
        let headers = Headers::new(HEADER);
        assert_eq!(
            headers.get("From", HeaderForm::Addr).as_deref(),
            Some("Jane@Example.COM")
        );
        assert_eq!(
            headers.get("From", HeaderForm::Name).as_deref(),
            Some("Jane Doe")
        );
        assert_eq!(headers.get("To", HeaderForm::Name).as_deref(), Some(""));
        assert_eq!(
            headers.get("Cc", HeaderForm::Addr).as_deref(),
            Some("two@example.com")
        );
    }

    #[test]
    fn missing_header_is_none_and_exists_is_false() {
        let headers = Headers::new(HEADER);
        assert_eq!(headers.get("X-Missing", HeaderForm::Decoded), None);
        assert!(!headers.exists("X-Missing"));
        assert!(headers.exists("return-path"));
        assert!(headers.exists("ToCc"));
    }

    #[test]
    fn addr_form_skips_addresses_of_invalid_shape() {
        let block = b"Return-Path: <user@[1086695621] [ufa]>\r\n\
            From: [ufa]@example.com, jane@example.com\r\n\
            To: <bob@example.org>\r\n";
        let headers = Headers::new(block);
        assert_eq!(headers.get("EnvelopeFrom", HeaderForm::Addr), None);
        assert_eq!(
            headers.get("From", HeaderForm::Addr).as_deref(),
            Some("jane@example.com")
        );
        assert_eq!(
            headers.get("To", HeaderForm::Addr).as_deref(),
            Some("bob@example.org")
        );
    }
}
