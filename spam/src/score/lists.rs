//! The tests of SpamAssassin 4.0.1's WLBLEval.pm that read the rule set's
//! own address and host lists. `check_from_in_list`, `check_replyto_in_list`
//! and `check_uri_host_listed` read the named lists of `enlist_addrlist` and
//! `enlist_uri_host`. The welcomelist and blocklist tests read
//! `welcomelist_from`, `blocklist_from`, `welcomelist_to`, `blocklist_to`,
//! `more_spam_to`, `all_spam_to`, `welcomelist_uri_host` and
//! `blocklist_uri_host`. The Subject tests of WelcomeListSubject.pm read
//! `welcomelist_subject` and `blocklist_subject`, and the VBounce.pm tests
//! read `welcomelist_bounce_relays`.
//!
//! An address list entry is a pattern in which `*` is any run of
//! characters and `?` is one character, matched against the whole
//! lower-cased address. A host list maps a host or domain to listed or
//! excluded (a leading `!`). A URI host matches its longest listed suffix
//! at a dot, so `example.com` lists `www.example.com`, and an excluded
//! entry stops the search.
//!
//! Lists are built once from the model, like [`super::freemail`]. Limits:
//! [`ENTRIES_MAX`] entries over all lists, and [`URI_HOSTS_MAX`] URI hosts
//! tried per message, because each is looked up up to
//! [`HOST_SUFFIXES_MAX`] times.
//!
//! NOTE: the model keeps each directive's lines but not their order across
//! directives, so removals (`unwelcomelist_from`, `unblocklist_from`,
//! `delist_uri_host`) apply after every addition, whatever their place in
//! the files.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use regex_automata::meta::Regex;
use regex_automata::util::syntax;

use super::freemail::{from_addresses, header_addresses};
use crate::prepare::received::Relay;
use crate::prepare::uri_host::{is_fqdn_valid, Tlds};
use crate::prepare::Prepared;
use crate::rules::RuleModel;

/// Names of the tests [`Lists::evaluate`] implements.
pub const IMPLEMENTED: &[&str] = &[
    "check_from_in_blocklist",
    "check_from_in_default_welcomelist",
    "check_from_in_list",
    "check_from_in_welcomelist",
    "check_welcomelist_bounce_relays",
    "check_replyto_in_list",
    "check_subject_in_blocklist",
    "check_subject_in_welcomelist",
    "check_to_in_all_spam",
    "check_to_in_blocklist",
    "check_to_in_list",
    "check_to_in_more_spam",
    "check_to_in_welcomelist",
    "check_uri_host_in_blocklist",
    "check_uri_host_in_welcomelist",
    "check_uri_host_listed",
    "have_any_bounce_relays",
];

/// Maximum entries kept over all address and host lists. The stock rules
/// have a few hundred.
pub const ENTRIES_MAX: usize = 100_000;

/// Maximum distinct URI hosts looked up per message.
pub const URI_HOSTS_MAX: usize = 1_000;

/// Maximum suffixes of one host looked up, the shortest kept, as
/// SpamAssassin keeps the last eleven.
pub const HOST_SUFFIXES_MAX: usize = 11;

/// Received fields searched for a `for <address>` recipient, newest first.
const RECEIVED_FOR_FIELDS: usize = 3;

/// Directives that fill an address list named after the directive, with
/// the older names that SpamAssassin 4.0 still reads.
const ADDRESS_DIRECTIVES: [(&str, &str); 14] = [
    ("welcomelist_from", "welcomelist_from"),
    ("whitelist_from", "welcomelist_from"),
    ("blocklist_from", "blocklist_from"),
    ("blacklist_from", "blocklist_from"),
    ("welcomelist_to", "welcomelist_to"),
    ("whitelist_to", "welcomelist_to"),
    ("blocklist_to", "blocklist_to"),
    ("blacklist_to", "blocklist_to"),
    ("more_spam_to", "more_spam_to"),
    ("all_spam_to", "all_spam_to"),
    ("welcomelist_bounce_relays", "welcomelist_bounce_relays"),
    ("whitelist_bounce_relays", "welcomelist_bounce_relays"),
    ("welcomelist_allows_relays", "welcomelist_allows_relays"),
    ("whitelist_allows_relays", "welcomelist_allows_relays"),
];

/// Directives of the welcomelists that pair an address with the relay it
/// must come through, with their older names.
const RCVD_DIRECTIVES: [(&str, &str); 4] = [
    ("welcomelist_from_rcvd", "welcomelist_from_rcvd"),
    ("whitelist_from_rcvd", "welcomelist_from_rcvd"),
    ("def_welcomelist_from_rcvd", "def_welcomelist_from_rcvd"),
    ("def_whitelist_from_rcvd", "def_welcomelist_from_rcvd"),
];

/// Directives that remove addresses from both relay welcomelists.
const RCVD_REMOVALS: [&str; 2] = ["unwelcomelist_from_rcvd", "unwhitelist_from_rcvd"];

/// Directives that remove entries from an address list.
const ADDRESS_REMOVALS: [(&str, &str); 4] = [
    ("unwelcomelist_from", "welcomelist_from"),
    ("unwhitelist_from", "welcomelist_from"),
    ("unblocklist_from", "blocklist_from"),
    ("unblacklist_from", "blocklist_from"),
];

/// Directives of the WelcomeListSubject plugin, with their older names.
const SUBJECT_DIRECTIVES: [(&str, &str); 4] = [
    ("welcomelist_subject", "welcomelist_subject"),
    ("whitelist_subject", "welcomelist_subject"),
    ("blocklist_subject", "blocklist_subject"),
    ("blacklist_subject", "blocklist_subject"),
];

/// Directives that fill the `BLOCK` and `WELCOME` host lists.
const HOST_DIRECTIVES: [(&str, &str); 4] = [
    ("blocklist_uri_host", "BLOCK"),
    ("blacklist_uri_host", "BLOCK"),
    ("welcomelist_uri_host", "WELCOME"),
    ("whitelist_uri_host", "WELCOME"),
];

/// Header fields whose addresses count as recipients when there is no
/// Resent-To or Resent-Cc, after the Received recipients.
const TO_FIELDS: [&str; 12] = [
    "To",
    "Apparently-To",
    "Delivered-To",
    "Envelope-Recipients",
    "Apparently-Resent-To",
    "X-Envelope-To",
    "Envelope-To",
    "X-Delivered-To",
    "X-Original-To",
    "X-Rcpt-To",
    "X-Real-To",
    "Cc",
];

/// One address list: exact entries and wildcard patterns, lower-cased.
#[derive(Debug, Default)]
struct AddressList {
    exact: HashSet<String>,
    patterns: Vec<Vec<char>>,
}

impl AddressList {
    fn add(&mut self, entry: &str) {
        let entry = entry.to_lowercase();
        if entry.contains(['*', '?']) {
            self.patterns.push(pattern_chars(&entry));
        }
        self.exact.insert(entry);
    }

    /// Adds a Subject entry: the whole value is one pattern, which the
    /// plugin matches anywhere in the Subject, unanchored.
    fn add_subject(&mut self, entry: &str) {
        let entry = entry.trim().to_lowercase();
        self.patterns.push(format!("*{entry}*").chars().collect());
        self.exact.insert(entry);
    }

    fn remove(&mut self, entry: &str) {
        let entry = entry.to_lowercase();
        self.exact.remove(&entry);
        let pattern = pattern_chars(&entry);
        self.patterns.retain(|known| *known != pattern);
    }

    /// Returns whether the lower-cased `address` is listed or matches a
    /// pattern.
    fn contains(&self, address: &str) -> bool {
        if self.exact.contains(address) {
            return true;
        }
        let address: Vec<char> = address.chars().collect();
        self.patterns
            .iter()
            .any(|pattern| glob_matches(pattern, &address))
    }
}

/// One relay welcomelist: per lower-cased address pattern, the pattern and
/// the relays (host name suffixes or bracketed IP addresses) it must come
/// through.
#[derive(Debug, Default)]
struct RcvdList {
    entries: HashMap<String, (Vec<char>, Vec<String>)>,
}

impl RcvdList {
    fn add(&mut self, address: &str, relay: &str) {
        let address = address.to_lowercase();
        let pattern = pattern_chars(&address);
        let entry = self.entries.entry(address).or_insert((pattern, Vec::new()));
        entry.1.push(relay.to_lowercase());
    }

    /// Returns 1 when `address` matches an entry and one of `relays` is one
    /// of its relays, -1 when it matches an entry but no relay does (a
    /// possible forgery), and 0 when it matches no entry.
    fn check(&self, address: &str, relays: &[Relay]) -> i8 {
        let address: Vec<char> = address.to_lowercase().chars().collect();
        let mut forged = 0;
        for (pattern, allowed) in self.entries.values() {
            if !glob_matches(pattern, &address) {
                continue;
            }
            let passed = allowed
                .iter()
                .any(|allowed| relays.iter().any(|relay| relay_is(relay, allowed)));
            if passed {
                return 1;
            }
            forged = -1;
        }
        forged
    }
}

/// Returns whether `relay` is the relay a welcomelist entry names. The
/// entry is a bracketed IPv4 address, a bracketed IPv4 prefix of whole
/// octets (`[192.0.2]`), a bracketed address or network with a prefix
/// length, or a host name that the relay's reverse DNS name is or ends in.
fn relay_is(relay: &Relay, allowed: &str) -> bool {
    let bracketed = allowed
        .strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .filter(|(_, after)| after.is_empty() || is_prefix_len(after));
    let Some((inner, prefix)) = bracketed else {
        let rdns = relay.rdns.to_lowercase();
        return rdns == allowed
            || rdns
                .strip_suffix(allowed)
                .is_some_and(|head| head.ends_with('.'));
    };
    if relay.ip.is_empty() {
        return false;
    }
    let network = format!("{inner}{prefix}");
    let dotted_digits = |text: &str| {
        text.bytes()
            .all(|byte| byte.is_ascii_digit() || byte == b'.')
    };
    if network.parse::<std::net::Ipv4Addr>().is_ok() {
        return network == relay.ip;
    }
    if dotted_digits(&network) {
        let octets = format!("{}.", network.trim_end_matches('.'));
        return relay.ip.starts_with(&octets);
    }
    network_contains(&network, &relay.ip)
}

/// Returns whether `text` is `/` and one to three digits.
fn is_prefix_len(text: &str) -> bool {
    text.strip_prefix('/').is_some_and(|digits| {
        (1..=3).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
    })
}

/// Returns whether the address or network `network` (`ADDRESS[/LEN]`)
/// contains the address `ip`. An IPv4 address compares with an
/// IPv4-mapped IPv6 network as its mapped form.
fn network_contains(network: &str, ip: &str) -> bool {
    use std::net::IpAddr;
    let (address, len) = match network.split_once('/') {
        Some((address, len)) => (address, len.parse::<u32>().ok()),
        None => (network, None),
    };
    let (Ok(network), Ok(ip)) = (address.parse::<IpAddr>(), ip.parse::<IpAddr>()) else {
        return false;
    };
    let as_v6 = |address: IpAddr| match address {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    };
    let (bits, network, ip) = match (network, ip) {
        (IpAddr::V4(network), IpAddr::V4(ip)) => (
            32,
            u128::from(u32::from(network)),
            u128::from(u32::from(ip)),
        ),
        (network, ip) => (128, u128::from(as_v6(network)), u128::from(as_v6(ip))),
    };
    let len = len.unwrap_or(bits).min(bits);
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - len) >> (128 - bits)
    };
    network & mask == ip & mask
}

/// The rule set's address and host lists.
#[derive(Debug, Default)]
pub struct Lists {
    addresses: HashMap<String, AddressList>,
    /// Subject lists by name: the whole line, lower-cased, and patterns
    /// matched anywhere in the Subject.
    subjects: HashMap<String, AddressList>,
    /// Host lists by name: host or domain to listed (true) or excluded.
    hosts: HashMap<String, HashMap<String, bool>>,
    /// `welcomelist_from_rcvd` and `def_welcomelist_from_rcvd`, by name.
    rcvd: HashMap<String, RcvdList>,
    tlds: Tlds,
}

impl Lists {
    /// Builds the lists from the model's settings.
    pub fn from_model(model: &RuleModel) -> Lists {
        let lines = |key: &str| model.settings.get(key).into_iter().flatten();
        let mut lists = Lists {
            tlds: Tlds::from_lines(lines("util_rb_tld").map(String::as_str)),
            ..Lists::default()
        };
        let mut entries = 0usize;
        let mut room = |count: usize| {
            entries = entries.saturating_add(count);
            entries <= ENTRIES_MAX
        };

        for (directive, list) in ADDRESS_DIRECTIVES {
            for line in lines(directive) {
                let words: Vec<&str> = line.split_whitespace().collect();
                if room(words.len()) {
                    let target = lists.addresses.entry(list.to_string()).or_default();
                    words.iter().for_each(|word| target.add(word));
                }
            }
        }
        for line in lines("enlist_addrlist") {
            let Some((name, words)) = named_list(line) else {
                continue;
            };
            if room(words.len()) {
                let target = lists.addresses.entry(name.to_string()).or_default();
                words.iter().for_each(|word| target.add(word));
            }
        }
        for (directive, list) in RCVD_DIRECTIVES {
            for line in lines(directive) {
                // An entry is exactly an address and a relay.
                let [address, relay] = line.split_whitespace().collect::<Vec<_>>()[..] else {
                    continue;
                };
                if room(1) {
                    let target = lists.rcvd.entry(list.to_string()).or_default();
                    target.add(address, relay);
                }
            }
        }
        for word in RCVD_REMOVALS
            .iter()
            .flat_map(|directive| lines(directive))
            .flat_map(|line| line.split_whitespace())
        {
            for list in lists.rcvd.values_mut() {
                list.entries.remove(&word.to_lowercase());
            }
        }
        for (directive, list) in ADDRESS_REMOVALS {
            for word in lines(directive).flat_map(|line| line.split_whitespace()) {
                if let Some(target) = lists.addresses.get_mut(list) {
                    target.remove(word);
                }
            }
        }

        for (directive, list) in SUBJECT_DIRECTIVES {
            for line in lines(directive) {
                if room(1) {
                    let target = lists.subjects.entry(list.to_string()).or_default();
                    target.add_subject(line);
                }
            }
        }

        for (directive, list) in HOST_DIRECTIVES {
            for line in lines(directive) {
                let words: Vec<&str> = line.split_whitespace().collect();
                if room(words.len()) {
                    lists.enlist_hosts(list, &words);
                }
            }
        }
        for line in lines("enlist_uri_host") {
            let Some((name, words)) = named_list(line) else {
                continue;
            };
            if room(words.len()) {
                lists.enlist_hosts(name, &words);
            }
        }
        for line in lines("delist_uri_host") {
            lists.delist_hosts(line);
        }
        lists
    }

    /// Adds `words` to host list `name`; a leading `!` excludes the host.
    fn enlist_hosts(&mut self, name: &str, words: &[&str]) {
        let list = self.hosts.entry(name.to_string()).or_default();
        for word in words {
            let word = word.to_lowercase();
            match word.strip_prefix('!') {
                Some(host) => list.insert(host.to_string(), false),
                None => list.insert(word, true),
            };
        }
    }

    /// Removes the hosts of a `delist_uri_host` line from its named list,
    /// or from every list when it names none.
    fn delist_hosts(&mut self, line: &str) {
        let (names, words): (Vec<String>, Vec<&str>) = match named_list(line) {
            Some((name, words)) => (vec![name.to_string()], words),
            None => (
                self.hosts.keys().cloned().collect(),
                line.split_whitespace().collect(),
            ),
        };
        for name in names {
            let Some(list) = self.hosts.get_mut(&name) else {
                continue;
            };
            for word in &words {
                let word = word.to_lowercase();
                list.remove(word.trim_start_matches('!'));
            }
        }
    }

    /// Runs the test `function` with `args` on `message`, or returns `None`
    /// when it is not one of [`IMPLEMENTED`] or cannot be computed here.
    pub fn evaluate(
        &self,
        function: &str,
        args: &[String],
        message: &Prepared<'_>,
    ) -> Option<bool> {
        let arg = args.first().map(String::as_str);
        let from_in = |list: &str| self.any_in(list, &from_addresses(message));
        let to_in = |list: &str| self.any_in(list, &to_addresses(message));
        match function {
            "check_from_in_list" => Some(from_in(arg?)),
            "check_to_in_list" => Some(to_in(arg?)),
            "check_replyto_in_list" => {
                let reply_to = header_addresses(message, "Reply-To");
                Some(self.any_in(arg?, &reply_to[..reply_to.len().min(1)]))
            }
            "check_from_in_blocklist" => Some(from_in("blocklist_from")),
            "check_from_in_welcomelist" => Some(self.sender_welcomed(message, true) > 0),
            "check_from_in_default_welcomelist" => Some(self.sender_welcomed(message, false) > 0),
            "check_to_in_welcomelist" => Some(to_in("welcomelist_to")),
            "check_to_in_blocklist" => Some(to_in("blocklist_to")),
            "check_to_in_more_spam" => Some(to_in("more_spam_to")),
            "check_to_in_all_spam" => Some(to_in("all_spam_to")),
            "check_subject_in_welcomelist" => Some(self.subject_in("welcomelist_subject", message)),
            "check_subject_in_blocklist" => Some(self.subject_in("blocklist_subject", message)),
            "check_uri_host_listed" => Some(self.uri_host_listed(arg?, message)),
            "have_any_bounce_relays" => Some(self.has_bounce_relays()),
            "check_welcomelist_bounce_relays" => Some(self.bounce_from_own_relay(message)),
            "check_uri_host_in_blocklist" => Some(self.uri_host_listed("BLOCK", message)),
            "check_uri_host_in_welcomelist" => Some(self.uri_host_listed("WELCOME", message)),
            _ => None,
        }
    }

    /// Returns 1 when a From address of `message` is welcomed, -1 when one
    /// matches a relay welcomelist entry but came through another relay,
    /// and 0 otherwise (WLBLEval.pm's `from_in_welcomelist` and, with
    /// `own` false, `from_in_default_welcomelist`). The user's list reads
    /// `welcomelist_from` and `welcomelist_from_rcvd`, the default one
    /// `def_welcomelist_from_rcvd`.
    fn sender_welcomed(&self, message: &Prepared<'_>, own: bool) -> i8 {
        let rcvd_name = if own {
            "welcomelist_from_rcvd"
        } else {
            "def_welcomelist_from_rcvd"
        };
        let rcvd = self.rcvd.get(rcvd_name);
        let chain = message.headers().relay_chain();
        // Only the first untrusted relay counts when there is one, so that
        // a forged older Received field cannot vouch for the sender.
        let relays = match chain.untrusted().first() {
            Some(first) => std::slice::from_ref(first),
            None => chain.trusted(),
        };

        let mut found = 0;
        for address in from_addresses(message) {
            let address = std::slice::from_ref(&address);
            if own && self.any_in("welcomelist_from", address) {
                return 1;
            }
            let verdict = match rcvd {
                Some(list) if !relays.is_empty() => list.check(&address[0], relays),
                _ => 0,
            };
            if verdict == 1 {
                return 1;
            }
            if verdict == -1 && !self.any_in("welcomelist_allows_relays", address) {
                found = -1;
            }
        }
        found
    }

    /// Returns whether any of `addresses` is in address list `name`. An
    /// unknown list contains nothing.
    fn any_in(&self, name: &str, addresses: &[String]) -> bool {
        let Some(list) = self.addresses.get(name) else {
            return false;
        };
        addresses
            .iter()
            .any(|address| list.contains(&address.to_lowercase()))
    }

    /// Returns whether the rule set lists any of its own relays in
    /// `welcomelist_bounce_relays` (VBounce.pm's `have_any_bounce_relays`).
    fn has_bounce_relays(&self) -> bool {
        self.addresses
            .get("welcomelist_bounce_relays")
            .is_some_and(|list| !list.exact.is_empty())
    }

    /// Returns whether a Received field quoted in `message`, in the body
    /// text or in the raw body, names one of the rule set's own relays: a
    /// bounce of mail that did pass through them (VBounce.pm's
    /// `check_welcomelist_bounce_relays`).
    fn bounce_from_own_relay(&self, message: &Prepared<'_>) -> bool {
        let Some(relays) = self.addresses.get("welcomelist_bounce_relays") else {
            return false;
        };
        let listed = |name: &str| relays.contains(&name.to_lowercase());

        let in_text = message
            .body()
            .iter()
            .filter(|line| starts_with_received(line))
            .any(|line| dotted_names(line, false).any(listed));
        if in_text {
            return true;
        }

        let raw = String::from_utf8_lossy(message.pristine_body());
        if !raw.to_ascii_lowercase().contains("received:") {
            return false;
        }
        // Lines that start with white space continue the field before,
        // joined without a separator, as the plugin joins them. The plugin
        // searches the field again after each line, but a name found in a
        // part of the field is found in the whole field too, so each field
        // is searched once, when it is complete.
        let quotes_own_relay =
            |field: &str| starts_with_received(field) && dotted_names(field, true).any(listed);
        let mut field = String::new();
        let mut seen_received = false;
        for line in raw.split('\n') {
            if !seen_received && !starts_with_received(line) {
                continue;
            }
            seen_received = true;
            if line.starts_with(char::is_whitespace) {
                let room = QUOTED_FIELD_LEN_MAX.saturating_sub(field.len());
                let mut cut = line.len().min(room);
                while !line.is_char_boundary(cut) {
                    cut -= 1;
                }
                field.push_str(&line[..cut]);
                continue;
            }
            if quotes_own_relay(&field) {
                return true;
            }
            field.clear();
            field.push_str(line);
        }
        quotes_own_relay(&field)
    }

    /// Returns whether the decoded Subject of `message`, lower-cased, is an
    /// entry of Subject list `name` or contains a match of one.
    fn subject_in(&self, name: &str, message: &Prepared<'_>) -> bool {
        let Some(list) = self.subjects.get(name) else {
            return false;
        };
        let subject = message
            .header("Subject", crate::prepare::HeaderForm::Decoded)
            .unwrap_or_default();
        let subject = subject.trim_end_matches(['\r', '\n']).to_lowercase();
        !subject.is_empty() && list.contains(&subject)
    }

    /// Returns whether a host of a URI of `message`, other than `mailto:`,
    /// is listed in host list `name`: its longest suffix at a dot that the
    /// list names is listed, not excluded.
    fn uri_host_listed(&self, name: &str, message: &Prepared<'_>) -> bool {
        let Some(list) = self.hosts.get(name) else {
            return false;
        };
        let mut seen: HashSet<String> = HashSet::new();
        let hosts = message
            .uris()
            .iter()
            .filter(|uri| !uri.to_ascii_lowercase().starts_with("mailto:"))
            .filter_map(|uri| self.tlds.domain_host(uri))
            .filter(|host| !host.is_empty());
        for host in hosts {
            if seen.len() >= URI_HOSTS_MAX {
                break;
            }
            if !seen.insert(host.clone()) {
                continue;
            }
            let verdict = host_suffixes(&host).find_map(|suffix| list.get(suffix).copied());
            if verdict == Some(true) {
                return true;
            }
        }
        false
    }
}

/// Maximum bytes of one quoted Received field that the bounce relay test
/// joins from its lines.
const QUOTED_FIELD_LEN_MAX: usize = 64 * 1024;

/// Returns whether `line` starts with `Received:` in any case, after any
/// run of `>` and spaces (a quoted copy).
fn starts_with_received(line: &str) -> bool {
    let rest = line.trim_start_matches(['>', ' ']);
    rest.get(..9)
        .is_some_and(|start| start.eq_ignore_ascii_case("received:"))
}

/// Returns the dotted names that the plugin's pattern finds in `text`.
/// A name is a run without white space that contains a dot, between two
/// white space characters. The search goes on after the closing one, so of
/// two names with one space between them only the first counts. With
/// `any_space` false only the space character counts as white space, as
/// in the pattern for body text.
fn dotted_names(text: &str, any_space: bool) -> impl Iterator<Item = &str> {
    let is_space = move |c: char| {
        if any_space {
            c.is_whitespace()
        } else {
            c == ' '
        }
    };
    let mut rest = text;
    std::iter::from_fn(move || loop {
        let open = rest.find(is_space)?;
        let after = &rest[open..];
        let open_len = after.chars().next().map_or(1, char::len_utf8);
        let word_start = open + open_len;
        let word_len = rest[word_start..]
            .find(|c: char| c.is_whitespace())
            .unwrap_or(rest.len() - word_start);
        let word = &rest[word_start..word_start + word_len];
        let close = rest[word_start + word_len..].chars().next();
        let closed = close.is_some_and(is_space);
        let bytes = word.as_bytes();
        let dotted = bytes.len() >= 3 && bytes[1..bytes.len() - 1].contains(&b'.');
        if closed && dotted {
            let close_len = close.map_or(0, char::len_utf8);
            rest = &rest[word_start + word_len + close_len..];
            return Some(word);
        }
        rest = &rest[word_start..];
    })
}

/// Splits `(NAME) word ...` into the list name and its words.
fn named_list(line: &str) -> Option<(&str, Vec<&str>)> {
    let rest = line.trim_start().strip_prefix('(')?;
    let (name, words) = rest.split_once(')')?;
    let words: Vec<&str> = words.split_whitespace().collect();
    (!name.is_empty() && !words.is_empty()).then_some((name, words))
}

/// Returns the keys a host is looked up by, longest first: the host itself,
/// then each suffix after a dot (`a.example.com`, `example.com`, `com`),
/// keeping the last [`HOST_SUFFIXES_MAX`]. An address literal in brackets
/// is looked up without them, and an IPv4 address only as itself.
fn host_suffixes(host: &str) -> impl Iterator<Item = &str> {
    let literal = host
        .strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'));
    let keys: Vec<&str> = match literal {
        Some(inner) => vec![inner],
        None if is_dotted_quad(host) => vec![host],
        None => {
            let mut keys = vec![host];
            let mut rest = host;
            while let Some((_, tail)) = rest.split_once('.') {
                keys.push(tail);
                rest = tail;
            }
            let skip = keys.len().saturating_sub(HOST_SUFFIXES_MAX);
            keys.split_off(skip)
        }
    };
    keys.into_iter()
}

/// Returns whether `host` is four dot-separated runs of ASCII digits.
fn is_dotted_quad(host: &str) -> bool {
    let parts: Vec<&str> = host.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|part| !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_digit()))
}

/// Returns the characters of a list entry, with NUL, `\` and `(` read as `_`
/// as SpamAssassin does before it builds the pattern.
fn pattern_chars(entry: &str) -> Vec<char> {
    entry
        .chars()
        .map(|character| match character {
            '\0' | '\\' | '(' => '_',
            other => other,
        })
        .collect()
}

/// Returns whether `text` matches `pattern` as a whole, where `*` is any run
/// of characters (also none) and `?` any one character.
fn glob_matches(pattern: &[char], text: &[char]) -> bool {
    // Greedy scan that remembers the last `*`: on a mismatch, that star
    // takes one more character and the scan resumes after it.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

/// Returns the recipient addresses SpamAssassin's `all_to_addrs` collects:
/// the first Resent-To and Resent-Cc addresses when there are any, else the
/// `for <address>` of the three newest Received fields, then the addresses
/// of [`TO_FIELDS`], without repeats.
fn to_addresses(message: &Prepared<'_>) -> Vec<String> {
    let resent: Vec<String> = ["Resent-To", "Resent-Cc"]
        .iter()
        .filter_map(|name| header_addresses(message, name).into_iter().next())
        .collect();
    let addresses = if resent.is_empty() {
        let received = message
            .headers()
            .values("Received", crate::prepare::HeaderForm::Decoded);
        received
            .iter()
            .take(RECEIVED_FOR_FIELDS)
            .filter_map(|value| received_for(value))
            .chain(
                TO_FIELDS
                    .iter()
                    .flat_map(|name| header_addresses(message, name)),
            )
            .collect()
    } else {
        resent
    };
    let mut seen = HashSet::new();
    addresses
        .into_iter()
        .filter(|address| seen.insert(address.clone()))
        .collect()
}

/// Returns the address of a Received field's ` for <address>;` clause when
/// its domain is a valid host name.
fn received_for(value: &str) -> Option<String> {
    static FOR: OnceLock<Option<Regex>> = OnceLock::new();
    let regex = FOR
        .get_or_init(|| {
            Regex::builder()
                .syntax(syntax::Config::new().unicode(false).utf8(false))
                .build(r" for <?(\S+@(\S+?))>?;")
                .ok()
        })
        .as_ref()?;
    let mut captures = regex.create_captures();
    regex.captures(value.as_bytes(), &mut captures);
    let address = captures.get_group(1)?;
    let domain = captures.get_group(2)?;
    let domain = std::str::from_utf8(&value.as_bytes()[domain.range()]).ok()?;
    if !is_fqdn_valid(domain) {
        return None;
    }
    Some(value[address.range()].to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{load, LoadOptions, MemorySource};
    use std::path::PathBuf;

    fn lists(text: &str) -> Lists {
        let source = MemorySource::new([("/t.cf", text)]);
        let model = load(&source, &[PathBuf::from("/t.cf")], LoadOptions::default()).unwrap();
        Lists::from_model(&model)
    }

    fn evaluate(lists: &Lists, function: &str, args: &[&str], message: &str) -> Option<bool> {
        let prepared = Prepared::new(message.as_bytes());
        let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
        lists.evaluate(function, &args, &prepared)
    }

    #[test]
    fn glob_table() {
        let cases = [
            ("*@paypal.com", "service@paypal.com", true),
            ("*@paypal.com", "service@paypal.com.evil", false),
            ("*@*.paypal.com", "a@mail.paypal.com", true),
            ("*@*.paypal.com", "a@paypal.com", false),
            ("jo?@example.com", "joe@example.com", true),
            ("jo?@example.com", "jo@example.com", false),
            ("*", "", true),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
        ];
        for (pattern, text, expected) in cases {
            let text: Vec<char> = text.chars().collect();
            assert_eq!(
                glob_matches(&pattern_chars(pattern), &text),
                expected,
                "{pattern} {text:?}"
            );
        }
    }

    #[test]
    fn from_in_enlisted_address_list() {
        let lists = lists("enlist_addrlist (BANKS) *@citibank.com *@barclays.com\n");
        let bank = "From: Citi <Alerts@CitiBank.com>\r\nSubject: x\r\n\r\nbody\r\n";
        let other = "From: Someone <a@example.com>\r\nSubject: x\r\n\r\nbody\r\n";
        assert_eq!(
            evaluate(&lists, "check_from_in_list", &["BANKS"], bank),
            Some(true)
        );
        assert_eq!(
            evaluate(&lists, "check_from_in_list", &["BANKS"], other),
            Some(false)
        );
        assert_eq!(
            evaluate(&lists, "check_from_in_list", &["NOSUCH"], bank),
            Some(false)
        );
    }

    #[test]
    fn envelope_sender_counts_as_from() {
        let lists = lists("enlist_addrlist (SUSP_NTLD) *@*.pw\n");
        let message = "Return-Path: <x@mail.example.pw>\r\nFrom: a@example.com\r\n\r\nbody\r\n";
        assert_eq!(
            evaluate(&lists, "check_from_in_list", &["SUSP_NTLD"], message),
            Some(true)
        );
    }

    #[test]
    fn reply_to_in_list_first_address() {
        let lists = lists("enlist_addrlist (SUSP_NTLD) *@*.pw *@example.top\n");
        let listed = "From: a@example.com\r\nReply-To: b@example.top\r\n\r\nbody\r\n";
        let unlisted = "From: a@example.top\r\nReply-To: b@example.com\r\n\r\nbody\r\n";
        assert_eq!(
            evaluate(&lists, "check_replyto_in_list", &["SUSP_NTLD"], listed),
            Some(true)
        );
        assert_eq!(
            evaluate(&lists, "check_replyto_in_list", &["SUSP_NTLD"], unlisted),
            Some(false)
        );
    }

    #[test]
    fn welcomelist_and_blocklist_from_with_removal() {
        let lists = lists(
            "welcomelist_from *@friends.example\n\
             whitelist_from boss@work.example\n\
             blocklist_from *@spam.example\n\
             unwelcomelist_from boss@work.example\n",
        );
        let friend = "From: x@friends.example\r\n\r\nbody\r\n";
        let boss = "From: boss@work.example\r\n\r\nbody\r\n";
        let spammer = "From: x@spam.example\r\n\r\nbody\r\n";
        assert_eq!(
            evaluate(&lists, "check_from_in_welcomelist", &[], friend),
            Some(true)
        );
        assert_eq!(
            evaluate(&lists, "check_from_in_welcomelist", &[], boss),
            Some(false)
        );
        assert_eq!(
            evaluate(&lists, "check_from_in_blocklist", &[], spammer),
            Some(true)
        );
        assert_eq!(
            evaluate(&lists, "check_from_in_blocklist", &[], friend),
            Some(false)
        );
    }

    #[test]
    fn welcomelist_from_rcvd_by_relay() {
        let lists = lists(
            "welcomelist_from_rcvd news@shop.example mail.shop.example\n\
             welcomelist_from_rcvd *@bank.example [192.0.2]\n\
             welcomelist_from_rcvd alerts@bank.example [198.51.100.0]/24\n\
             def_welcomelist_from_rcvd *@big.example big.example\n\
             whitelist_from_rcvd old@shop.example shop.example\n\
             unwelcomelist_from_rcvd old@shop.example\n",
        );
        let message = |from: &str, rdns: &str, ip: &str| {
            format!(
                "Received: from helo.example ({rdns} [{ip}])\r\n\tby mx.example.org (Postfix) with ESMTP id 1;\r\n\tThu, 1 Jan 2026 00:00:00 +0000\r\n\
                 From: {from}\r\nSubject: x\r\n\r\nbody\r\n"
            )
        };
        let cases = [
            (
                "check_from_in_welcomelist",
                "news@shop.example",
                "out.mail.shop.example",
                "203.0.113.9",
                true,
            ),
            (
                "check_from_in_welcomelist",
                "news@shop.example",
                "evil.example",
                "203.0.113.9",
                false,
            ),
            (
                "check_from_in_welcomelist",
                "x@bank.example",
                "a.example",
                "192.0.2.44",
                true,
            ),
            (
                "check_from_in_welcomelist",
                "x@bank.example",
                "a.example",
                "192.0.20.4",
                false,
            ),
            (
                "check_from_in_welcomelist",
                "alerts@bank.example",
                "a.example",
                "198.51.100.7",
                true,
            ),
            (
                "check_from_in_welcomelist",
                "old@shop.example",
                "mx.shop.example",
                "203.0.113.9",
                false,
            ),
            (
                "check_from_in_default_welcomelist",
                "a@big.example",
                "mx1.big.example",
                "203.0.113.9",
                true,
            ),
            (
                "check_from_in_default_welcomelist",
                "a@big.example",
                "notbig.example",
                "203.0.113.9",
                false,
            ),
            (
                "check_from_in_welcomelist",
                "a@big.example",
                "mx1.big.example",
                "203.0.113.9",
                false,
            ),
        ];
        for (function, from, rdns, ip, expected) in cases {
            let found = evaluate(&lists, function, &[], &message(from, rdns, ip));
            assert_eq!(found, Some(expected), "{function} {from} {rdns} {ip}");
        }
        let no_relay = "From: news@shop.example\r\n\r\nbody\r\n";
        assert_eq!(
            evaluate(&lists, "check_from_in_welcomelist", &[], no_relay),
            Some(false)
        );
    }

    #[test]
    fn network_contains_table() {
        let cases = [
            ("198.51.100.0/24", "198.51.100.200", true),
            ("198.51.100.0/24", "198.51.101.1", false),
            ("2001:db8::/32", "2001:db8:1::5", true),
            ("2001:db8::/32", "2001:db9::5", false),
            ("::ffff:192.0.2.0/120", "192.0.2.9", true),
            ("0.0.0.0/0", "203.0.113.1", true),
            ("not-an-address/8", "203.0.113.1", false),
        ];
        for (network, ip, expected) in cases {
            assert_eq!(network_contains(network, ip), expected, "{network} {ip}");
        }
    }

    #[test]
    fn recipients_from_received_for_and_to_fields() {
        let lists = lists("all_spam_to *@traps.example\nmore_spam_to cc@example.org\n");
        let by_received = "Received: from a (a [192.0.2.1]) by mx.traps.example\r\n\
            \tfor <trap@traps.example>; Thu, 1 Jan 2026 00:00:00 +0000\r\n\
            To: someone@example.com\r\n\r\nbody\r\n";
        let by_cc = "To: someone@example.com\r\nCc: CC@example.org\r\n\r\nbody\r\n";
        let resent = "Resent-To: x@example.com\r\nTo: t@traps.example\r\n\r\nbody\r\n";
        assert_eq!(
            evaluate(&lists, "check_to_in_all_spam", &[], by_received),
            Some(true)
        );
        assert_eq!(
            evaluate(&lists, "check_to_in_more_spam", &[], by_cc),
            Some(true)
        );
        assert_eq!(
            evaluate(&lists, "check_to_in_all_spam", &[], resent),
            Some(false)
        );
    }

    #[test]
    fn received_for_needs_a_valid_domain() {
        assert_eq!(
            received_for("from a by b for <u@example.com>; date").as_deref(),
            Some("u@example.com")
        );
        assert_eq!(received_for("from a by b for <u@localhost>; date"), None);
        assert_eq!(received_for("from a by b; date"), None);
    }

    #[test]
    fn uri_host_listed_by_suffix_and_exclusion() {
        let lists = lists(
            "util_rb_tld com top example\n\
             enlist_uri_host (SUSP_URI_NTLD) top\n\
             enlist_uri_host (SHORT) bit.example !safe.bit.example\n\
             blocklist_uri_host bad.com\n",
        );
        let html = |href: &str| {
            format!(
                "Content-Type: text/html\r\n\r\n<html><body><a href=\"{href}\">x</a></body></html>\r\n"
            )
        };
        let cases = [
            (
                "check_uri_host_listed",
                "SUSP_URI_NTLD",
                "http://www.shop.top/x",
                Some(true),
            ),
            (
                "check_uri_host_listed",
                "SUSP_URI_NTLD",
                "http://www.shop.com/x",
                Some(false),
            ),
            (
                "check_uri_host_listed",
                "SHORT",
                "http://a.bit.example/x",
                Some(true),
            ),
            (
                "check_uri_host_listed",
                "SHORT",
                "http://safe.bit.example/x",
                Some(false),
            ),
            (
                "check_uri_host_listed",
                "SHORT",
                "mailto:x@bit.example",
                Some(false),
            ),
            (
                "check_uri_host_in_blocklist",
                "",
                "https://www.bad.com/",
                Some(true),
            ),
            (
                "check_uri_host_in_welcomelist",
                "",
                "https://www.bad.com/",
                Some(false),
            ),
        ];
        for (function, list, href, expected) in cases {
            let args: &[&str] = if list.is_empty() { &[] } else { &[list] };
            assert_eq!(
                evaluate(&lists, function, args, &html(href)),
                expected,
                "{function} {list} {href}"
            );
        }
    }

    #[test]
    fn host_suffixes_table() {
        fn collect(host: &str) -> Vec<&str> {
            host_suffixes(host).collect()
        }
        assert_eq!(
            collect("a.example.com"),
            ["a.example.com", "example.com", "com"]
        );
        assert_eq!(collect("[192.0.2.1]"), ["192.0.2.1"]);
        assert_eq!(collect("192.0.2.1"), ["192.0.2.1"]);
        let long = "a.b.c.d.e.f.g.h.i.j.k.l.m";
        assert_eq!(host_suffixes(long).count(), HOST_SUFFIXES_MAX);
        assert_eq!(host_suffixes(long).next(), Some("c.d.e.f.g.h.i.j.k.l.m"));
        assert_eq!(host_suffixes(long).last(), Some("m"));
    }

    #[test]
    fn subject_lists_match_anywhere() {
        let lists = lists(
            "welcomelist_subject [project-x] weekly\n\
             blocklist_subject *free money*\n\
             blacklist_subject v?agra\n",
        );
        let subject =
            |text: &str| format!("From: a@example.com\r\nSubject: {text}\r\n\r\nbody\r\n");
        let cases = [
            (
                "check_subject_in_welcomelist",
                "Re: [Project-X] Weekly report",
                true,
            ),
            ("check_subject_in_welcomelist", "[project-x] daily", false),
            ("check_subject_in_blocklist", "Get FREE MONEY now", true),
            ("check_subject_in_blocklist", "cheap Viagra", true),
            ("check_subject_in_blocklist", "meeting notes", false),
        ];
        for (function, text, expected) in cases {
            assert_eq!(
                evaluate(&lists, function, &[], &subject(text)),
                Some(expected),
                "{function} {text}"
            );
        }
        let no_subject = "From: a@example.com\r\n\r\nbody\r\n";
        assert_eq!(
            evaluate(&lists, "check_subject_in_blocklist", &[], no_subject),
            Some(false)
        );
    }

    #[test]
    fn dotted_names_table() {
        fn collect(text: &str, any_space: bool) -> Vec<&str> {
            dotted_names(text, any_space).collect()
        }
        assert_eq!(
            collect("Received: by mx.example.org (Postfix) ", false),
            ["mx.example.org"]
        );
        // The closing space is consumed, so the next name needs its own.
        assert_eq!(collect(" a.b c.d  e.f ", false), ["a.b", "e.f"]);
        assert_eq!(collect("x .ab a. a.b", false), Vec::<&str>::new());
        assert_eq!(
            collect("Received: by\tmx.example.org\t(x)", false),
            Vec::<&str>::new()
        );
        assert_eq!(
            collect("Received: by\tmx.example.org\t(x)", true),
            ["mx.example.org"]
        );
        assert_eq!(collect(" é.b ", false), ["é.b"]);
    }

    #[test]
    fn bounce_through_own_relay() {
        let lists = lists("welcomelist_bounce_relays mx.example.org *.relay.example\n");
        let text_bounce = "From: MAILER-DAEMON@example.net\r\nSubject: failure\r\n\r\n\
            > Received: by mx.example.org (Postfix, from userid 1007)\r\n";
        let attached = "From: MAILER-DAEMON@example.net\r\nSubject: failure\r\n\
            Content-Type: multipart/report; boundary=b\r\n\r\n--b\r\n\
            Content-Type: text/plain\r\n\r\nsorry\r\n--b\r\n\
            Content-Type: message/rfc822\r\n\r\nReceived: from client (client [192.0.2.1])\r\n\
            \tby out.relay.example (Postfix) with ESMTP id 1\r\nSubject: hi\r\n\r\nhello\r\n--b--\r\n";
        let other = "From: MAILER-DAEMON@example.net\r\nSubject: failure\r\n\r\n\
            Received: by mx.other.example (Postfix) id 1\r\n";
        assert_eq!(
            evaluate(&lists, "have_any_bounce_relays", &[], other),
            Some(true)
        );
        assert_eq!(
            evaluate(&lists, "check_welcomelist_bounce_relays", &[], text_bounce),
            Some(true)
        );
        assert_eq!(
            evaluate(&lists, "check_welcomelist_bounce_relays", &[], attached),
            Some(true)
        );
        assert_eq!(
            evaluate(&lists, "check_welcomelist_bounce_relays", &[], other),
            Some(false)
        );

        let empty = self::lists("");
        assert_eq!(
            evaluate(&empty, "have_any_bounce_relays", &[], text_bounce),
            Some(false)
        );
        assert_eq!(
            evaluate(&empty, "check_welcomelist_bounce_relays", &[], text_bounce),
            Some(false)
        );
    }
}
