//! Registry boundaries, as SpamAssassin 4.0.1's RegistryBoundaries.pm
//! draws them, and the tests that need them:
//! `check_mailfrom_matches_rcvd` (Plugin/WLBLEval.pm) and
//! `check_ratware_envelope_from` (Plugin/HeaderEval.pm).
//!
//! [`RegistryBoundaries::split_domain`] cuts a host name into the host part
//! and the registered domain. The registered domain is the last two labels
//! by default. It is three labels where the last two are a listed
//! second-level domain (`util_rb_2tld`, such as `co.uk`), and four where the
//! last three are listed (`util_rb_3tld`) or follow the US locality
//! patterns of RFC 1480. The lists come from the rule set, so the scorer
//! builds this from the model, like [`super::freemail`].
//!
//! NOTE: SpamAssassin converts a non-ASCII name to its IDNA form before the
//! split. Ringmail lowercases ASCII only, so a non-ASCII label stays as it
//! is and is compared byte for byte.

use std::collections::HashSet;

use crate::prepare::uri_host::is_fqdn_valid;
use crate::prepare::{HeaderForm, Prepared};
use crate::rules::RuleModel;

/// Names of the tests [`RegistryBoundaries::evaluate`] implements.
pub const IMPLEMENTED: &[&str] = &[
    "check_https_http_mismatch",
    "check_mailfrom_matches_rcvd",
    "check_ratware_envelope_from",
];

/// Two-letter codes that RFC 1480 places under `.us`: the states, the
/// District of Columbia and the territories SpamAssassin lists.
const US_STATES: [&str; 54] = [
    "ak", "al", "ar", "az", "ca", "co", "ct", "dc", "de", "fl", "ga", "gu", "hi", "ia", "id", "il",
    "in", "ks", "ky", "la", "ma", "md", "me", "mi", "mn", "mo", "ms", "mt", "nc", "nd", "ne", "nh",
    "nj", "nm", "nv", "ny", "oh", "ok", "or", "pa", "pr", "ri", "sc", "sd", "tn", "tx", "ut", "va",
    "vi", "vt", "wa", "wi", "wv", "wy",
];

/// The listed top-level, second-level and third-level public domains of a
/// rule set.
#[derive(Debug, Default)]
pub struct RegistryBoundaries {
    top_level: HashSet<String>,
    two_level: HashSet<String>,
    three_level: HashSet<String>,
}

impl RegistryBoundaries {
    /// Collects the domains of the model's `util_rb_tld`, `util_rb_2tld` and
    /// `util_rb_3tld` lines, each a list separated by white space.
    pub fn from_model(model: &RuleModel) -> RegistryBoundaries {
        let collect = |key: &str| -> HashSet<String> {
            let lines = model.settings.get(key).into_iter().flatten();
            lines
                .flat_map(|line| line.split_whitespace())
                .map(|domain| domain.to_ascii_lowercase())
                .collect()
        };
        RegistryBoundaries {
            top_level: collect("util_rb_tld"),
            two_level: collect("util_rb_2tld"),
            three_level: collect("util_rb_3tld"),
        }
    }

    /// Returns whether the rule set listed any second- or third-level domain.
    pub fn is_empty(&self) -> bool {
        self.two_level.is_empty() && self.three_level.is_empty()
    }

    /// Splits `name` into its host part and its registered domain, both
    /// lowercase: `www.example.co.uk` gives `("www", "example.co.uk")` when
    /// `co.uk` is listed. Runs of dots count as one, and dots at either end
    /// are dropped.
    pub fn split_domain(&self, name: &str) -> (String, String) {
        let name = name.to_ascii_lowercase();
        let mut labels: Vec<&str> = name.split('.').filter(|label| !label.is_empty()).collect();
        let mut host: Vec<&str> = Vec::new();

        while labels.len() > 1 && !self.is_registered(&labels) {
            host.push(labels.remove(0));
        }

        // The registered domain keeps one label of the host in front of the
        // public suffix that stopped the loop.
        if let Some(last) = host.pop() {
            labels.insert(0, last);
        }
        (host.join("."), labels.join("."))
    }

    /// Returns whether `labels` (two to four of them) form a public suffix
    /// under which names are registered, so the split stops there.
    fn is_registered(&self, labels: &[&str]) -> bool {
        let us_state = |label: &str| US_STATES.contains(&label);
        match labels {
            [_, _] => self.two_level.contains(&labels.join(".")),
            [_, state, "us"] => us_state(state),
            [_, _, _] => self.three_level.contains(&labels.join(".")),
            [first, second, state, "us"] => {
                let locality =
                    (*first == "pvt" && *second == "k12") || matches!(*first, "ci" | "co");
                locality && us_state(state)
            }
            _ => false,
        }
    }

    /// Runs the test `function` on `message`, or returns `None` when it is
    /// not one of [`IMPLEMENTED`].
    pub fn evaluate(
        &self,
        function: &str,
        args: &[String],
        message: &Prepared<'_>,
    ) -> Option<bool> {
        match function {
            "check_https_http_mismatch" => self.https_http_mismatch(args, message),
            "check_mailfrom_matches_rcvd" => Some(self.mailfrom_matches_rcvd(message)),
            "check_ratware_envelope_from" => Some(self.ratware_envelope_from(message)),
            _ => None,
        }
    }

    /// Returns whether the envelope sender's registered domain is that of
    /// the reverse DNS name of the first untrusted relay, or, when every
    /// relay is trusted, of any of them. A relay without a reverse DNS name
    /// never matches.
    fn mailfrom_matches_rcvd(&self, message: &Prepared<'_>) -> bool {
        let Some(sender) = message.header("EnvelopeFrom", HeaderForm::Addr) else {
            return false;
        };
        let Some(domain) = sender_domain(&sender) else {
            return false;
        };

        let chain = message.headers().relay_chain();
        let relays = match chain.untrusted().first() {
            Some(first) => std::slice::from_ref(first),
            None => chain.trusted(),
        };
        let (_, sender_registered) = self.split_domain(domain);
        relays
            .iter()
            .filter(|relay| !relay.rdns.is_empty())
            .any(|relay| self.split_domain(&relay.rdns).1 == sender_registered)
    }
}

impl RegistryBoundaries {
    /// Returns whether an HTML part has a link to an `http` or `https` URI
    /// whose text names another `https://` site, counted by registered
    /// domain (HTTPSMismatch.pm), and between `args[0]` (0 means 1) and
    /// below `args[1]`, when given, links to valid domains. Links to IP
    /// addresses are not counted. `None` when an argument is not a number.
    fn https_http_mismatch(&self, args: &[String], message: &Prepared<'_>) -> Option<bool> {
        let number = |index: usize| -> Option<Option<f64>> {
            match args.get(index).map(|arg| arg.trim()) {
                None | Some("") => Some(None),
                Some(text) => text.parse::<f64>().ok().map(Some),
            }
        };
        let anchors_min = number(0)?.filter(|min| *min != 0.0).unwrap_or(1.0);
        let anchors_max = number(1)?;

        for html in message.html() {
            // HTML.pm files each link's text under its href, so links with
            // the same href count once.
            let mut texts_by_href: Vec<(&str, Vec<&str>)> = Vec::new();
            for (href, text) in html.anchor_hrefs.iter().zip(&html.anchor_texts) {
                match texts_by_href.iter_mut().find(|(known, _)| known == href) {
                    Some((_, texts)) => texts.push(text),
                    None => texts_by_href.push((href, vec![text])),
                }
            }

            let mut hit = false;
            let mut anchors = 0usize;
            for (href, texts) in texts_by_href {
                let Some(link_domain) = self.link_domain(href) else {
                    continue;
                };
                anchors += 1;
                // A text that names the link's own domain, or no valid
                // site, does not end the search: the next text may differ.
                let mismatch = texts
                    .iter()
                    .filter_map(|text| self.https_domain_in(text))
                    .any(|named| named != link_domain);
                hit |= mismatch;
            }

            let anchors = anchors as f64;
            let in_range = anchors >= anchors_min && anchors_max.is_none_or(|max| anchors < max);
            if hit && in_range {
                return Some(true);
            }
        }
        Some(false)
    }

    /// Returns the registered domain of an `http` or `https` link's host,
    /// when it is a valid host name with a listed top-level domain and not
    /// an IP address.
    fn link_domain(&self, href: &str) -> Option<String> {
        let host = https_or_http_host(href)?;
        if is_ip_address(host) {
            return None;
        }
        let (_, domain) = self.split_domain(host);
        let valid = is_fqdn_valid(&domain) && self.is_domain_valid(&domain);
        valid.then_some(domain)
    }

    /// Returns the site that the first `https://` in `text` names: its
    /// registered domain, or the IP address as written. `None` when the
    /// first such site has no listed top-level domain, as the Perl skips
    /// the rest of that text then.
    fn https_domain_in(&self, text: &str) -> Option<String> {
        let lower = text.to_ascii_lowercase();
        let site = lower.match_indices("https://").find_map(|(at, scheme)| {
            let start = at + scheme.len();
            let site = text[start..]
                .split(|c: char| c.is_whitespace() || matches!(c, '/' | ':' | '?' | '#'))
                .next()?;
            (!site.is_empty()).then_some(site)
        })?;
        if is_ip_address(site) {
            return Some(site.to_string());
        }
        let (_, domain) = self.split_domain(site);
        self.is_domain_valid(&domain).then_some(domain)
    }

    /// Returns whether `domain` has a dot and ends in a listed top-level
    /// domain, as RegistryBoundaries.pm's `is_domain_valid` checks. It
    /// checks nothing else about the name.
    fn is_domain_valid(&self, domain: &str) -> bool {
        if domain.chars().any(char::is_whitespace) {
            return false;
        }
        match domain.rsplit_once('.') {
            Some((_, top)) if !top.is_empty() => self.top_level.contains(&top.to_ascii_lowercase()),
            _ => false,
        }
    }

    /// Returns whether the envelope sender's local part names the To
    /// address: its registered domain, any one character, then its user
    /// name, then `@`, ignoring ASCII case (`check_ratware_envelope_from`).
    /// For mail to `bob@example.com` it matches a sender such as
    /// `example.com.bob@host`. SRS senders and To domains without a
    /// listed top-level domain never hit.
    fn ratware_envelope_from(&self, message: &Prepared<'_>) -> bool {
        let to = message.header("To", HeaderForm::Addr).unwrap_or_default();
        let sender = message
            .header("EnvelopeFrom", HeaderForm::Addr)
            .unwrap_or_default();
        if to.is_empty() || sender.is_empty() || is_srs_address(&sender) {
            return false;
        }
        let Some((user, domain)) = to.split_once('@') else {
            return false;
        };
        if user.is_empty() || domain.is_empty() {
            return false;
        }
        let (_, registered) = self.split_domain(domain);
        if !self.is_domain_valid(&registered) {
            return false;
        }
        names_recipient(
            &sender.to_ascii_lowercase(),
            &registered,
            &user.to_ascii_lowercase(),
        )
    }
}

/// Returns whether `address` is a Sender Rewriting Scheme address
/// (`SRS0=`, `SRS1+` and the like, in any case).
fn is_srs_address(address: &str) -> bool {
    let bytes = address.as_bytes();
    bytes.len() >= 5
        && bytes[..3].eq_ignore_ascii_case(b"srs")
        && bytes[3].is_ascii_digit()
        && matches!(bytes[4], b'=' | b'+' | b'-')
}

/// Returns whether `sender` contains `domain` at the start of a word (or,
/// for a domain that starts with a non-word character, after a word
/// character), then any one character except a newline, `user` and `@`.
/// All three are lower-case.
fn names_recipient(sender: &str, domain: &str, user: &str) -> bool {
    let is_word = |character: char| character.is_alphanumeric() || character == '_';
    sender.match_indices(domain).any(|(at, _)| {
        let before_is_word = sender[..at].chars().next_back().is_some_and(is_word);
        let starts_with_word = domain.chars().next().is_some_and(is_word);
        if before_is_word == starts_with_word {
            return false;
        }
        let mut rest = sender[at + domain.len()..].chars();
        let Some(separator) = rest.next() else {
            return false;
        };
        separator != '\n'
            && rest
                .as_str()
                .strip_prefix(user)
                .is_some_and(|tail| tail.starts_with('@'))
    })
}

/// Returns the host of an `http://` or `https://` URI (any case): the
/// characters after `//` up to the first `/`, `:`, `?` or `#`.
fn https_or_http_host(uri: &str) -> Option<&str> {
    let scheme_len = ["http://", "https://"]
        .iter()
        .find(|scheme| {
            uri.get(..scheme.len())
                .is_some_and(|start| start.eq_ignore_ascii_case(scheme))
        })?
        .len();
    let rest = &uri[scheme_len..];
    let host = rest.split(['/', ':', '?', '#']).next()?;
    (!host.is_empty()).then_some(host)
}

/// Returns whether `text` is an IPv4 or IPv6 address.
fn is_ip_address(text: &str) -> bool {
    text.parse::<std::net::IpAddr>().is_ok()
}

/// Returns the part of `address` after its last `@` when it has a dot with
/// at least one character on each side, as SpamAssassin's pattern
/// `@([^@]+\.[^@]+)\z` requires.
fn sender_domain(address: &str) -> Option<&str> {
    let (_, domain) = address.rsplit_once('@')?;
    let bytes = domain.as_bytes();
    let dot_inside = bytes.len() >= 3 && bytes[1..bytes.len() - 1].contains(&b'.');
    dot_inside.then_some(domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boundaries() -> RegistryBoundaries {
        RegistryBoundaries {
            top_level: ["com", "net", "org", "uk", "au"].map(String::from).into(),
            two_level: ["co.uk", "com.au"].map(String::from).into(),
            three_level: ["act.edu.au"].map(String::from).into(),
        }
    }

    #[test]
    fn split_domain_table() {
        let cases = [
            ("www.example.com", "www", "example.com"),
            ("example.com", "", "example.com"),
            ("mail.example.co.uk", "mail", "example.co.uk"),
            ("a.b.example.com.au", "a.b", "example.com.au"),
            ("www.school.act.edu.au", "www", "school.act.edu.au"),
            ("host.city.ca.us", "", "host.city.ca.us"),
            ("x.host.city.zz.us", "x.host.city", "zz.us"),
            (
                "fire-dept.ci.los-angeles.ca.us",
                "",
                "fire-dept.ci.los-angeles.ca.us",
            ),
            ("MX..Example.COM.", "mx", "example.com"),
            ("localhost", "", "localhost"),
            ("", "", ""),
        ];
        let boundaries = boundaries();
        for (name, host, domain) in cases {
            let split = boundaries.split_domain(name);
            assert_eq!(split, (host.to_string(), domain.to_string()), "{name}");
        }
    }

    #[test]
    fn sender_domain_table() {
        let cases = [
            ("bob@example.com", Some("example.com")),
            ("bob@mail.example.com", Some("mail.example.com")),
            ("bob@localhost", None),
            ("bob@.com", None),
            ("bob@example.", None),
            ("bob", None),
            ("a@b@example.com", Some("example.com")),
            ("bob@a..", Some("a..")),
            ("bob@..", None),
        ];
        for (address, expected) in cases {
            assert_eq!(sender_domain(address), expected, "{address}");
        }
    }

    fn matches(message: &str) -> bool {
        let prepared = Prepared::new(message.as_bytes());
        boundaries().mailfrom_matches_rcvd(&prepared)
    }

    #[test]
    fn return_path_matching_first_untrusted_relay() {
        let message = "Return-Path: <bob@lists.example.co.uk>\r\n\
            Received: from mx.example.co.uk (mx.example.co.uk [203.0.113.5])\r\n\tby mail.example.org (Postfix) with ESMTP id 1;\r\n\tThu, 1 Jan 2026 00:00:00 +0000\r\n\
            Subject: x\r\n\r\nbody\r\n";
        assert!(matches(message));
    }

    #[test]
    fn return_path_of_another_domain_does_not_match() {
        let message = "Return-Path: <bob@example.net>\r\n\
            Received: from mx.example.co.uk (mx.example.co.uk [203.0.113.5])\r\n\tby mail.example.org (Postfix) with ESMTP id 1;\r\n\tThu, 1 Jan 2026 00:00:00 +0000\r\n\
            Subject: x\r\n\r\nbody\r\n";
        assert!(!matches(message));
    }

    #[test]
    fn relay_without_reverse_dns_does_not_match() {
        let message = "Return-Path: <bob@example.net>\r\n\
            Received: from helo.example.net (unknown [203.0.113.5])\r\n\tby mail.example.org (Postfix) with ESMTP id 1;\r\n\tThu, 1 Jan 2026 00:00:00 +0000\r\n\
            Subject: x\r\n\r\nbody\r\n";
        assert!(!matches(message));
    }

    #[test]
    fn message_without_relays_or_sender_does_not_match() {
        assert!(!matches(
            "Return-Path: <bob@example.net>\r\nSubject: x\r\n\r\nbody\r\n"
        ));
        let no_sender = "Received: from mx.example.net (mx.example.net [203.0.113.5])\r\n\tby mail.example.org (Postfix) with ESMTP id 1;\r\n\tThu, 1 Jan 2026 00:00:00 +0000\r\n\
            Subject: x\r\n\r\nbody\r\n";
        assert!(!matches(no_sender));
    }

    #[test]
    fn ratware_envelope_from_table() {
        // (case, To address, envelope sender, expected)
        let cases = [
            (
                "domain_dot_user",
                "bob@example.com",
                "example.com.bob@bulk.example.net",
                true,
            ),
            (
                "domain_dash_user",
                "bob@example.com",
                "example.com-bob@bulk.example.net",
                true,
            ),
            (
                "registered_domain_of_host",
                "bob@mail.example.co.uk",
                "example.co.uk_bob@bulk.example.net",
                true,
            ),
            (
                "case_ignored",
                "Bob@Example.COM",
                "EXAMPLE.com.BOB@bulk.example.net",
                true,
            ),
            (
                "domain_inside_word",
                "bob@example.com",
                "myexample.com.bob@bulk.example.net",
                false,
            ),
            (
                "other_user",
                "bob@example.com",
                "example.com.alice@bulk.example.net",
                false,
            ),
            (
                "srs_sender",
                "bob@example.com",
                "SRS0=ab12=CD=example.com.bob@forwarder.example.net",
                false,
            ),
            (
                "unlisted_top_level_domain",
                "bob@example.test",
                "example.test.bob@bulk.example.net",
                false,
            ),
            ("plain_sender", "bob@example.com", "news@example.com", false),
        ];
        let boundaries = boundaries();
        for (case, to, sender, expected) in cases {
            let message =
                format!("Return-Path: <{sender}>\r\nTo: {to}\r\nSubject: x\r\n\r\nbody\r\n");
            let prepared = Prepared::new(message.as_bytes());
            assert_eq!(
                boundaries.ratware_envelope_from(&prepared),
                expected,
                "{case}"
            );
        }
    }

    #[test]
    fn ratware_envelope_from_without_to_or_sender() {
        let boundaries = boundaries();
        let no_to =
            Prepared::new(b"Return-Path: <example.com.bob@bulk.example.net>\r\n\r\nbody\r\n");
        assert!(!boundaries.ratware_envelope_from(&no_to));
        let no_sender = Prepared::new(b"To: bob@example.com\r\n\r\nbody\r\n");
        assert!(!boundaries.ratware_envelope_from(&no_sender));
    }

    fn https_mismatch(links: &[(&str, &str)], args: &[&str]) -> Option<bool> {
        let anchors: String = links
            .iter()
            .map(|(href, text)| format!("<a href=\"{href}\">{text}</a> "))
            .collect();
        let message = format!(
            "From: a@example.com\r\nContent-Type: text/html\r\n\r\n<html><body>{anchors}</body></html>\r\n"
        );
        let prepared = Prepared::new(message.as_bytes());
        let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
        boundaries().evaluate("check_https_http_mismatch", &args, &prepared)
    }

    #[test]
    fn https_http_mismatch_table() {
        let bank = ("http://evil.example.net/login", "https://www.bank.co.uk/");
        let same = ("http://www.bank.co.uk/x", "https://secure.bank.co.uk/");
        let plain = ("http://example.org/", "click here");
        let to_ip = ("http://192.0.2.1/login", "https://www.bank.com/");
        let text_ip = ("http://evil.example.net/", "https://192.0.2.7/");
        type Case<'a> = (
            &'a str,
            &'a [(&'a str, &'a str)],
            &'a [&'a str],
            Option<bool>,
        );
        let cases: [Case; 8] = [
            (
                "link_text_names_other_https_site",
                &[bank],
                &["1", "10"],
                Some(true),
            ),
            ("same_registered_domain", &[same], &["1", "10"], Some(false)),
            ("text_without_https", &[plain], &["1", "10"], Some(false)),
            (
                "link_to_ip_not_counted",
                &[to_ip],
                &["1", "10"],
                Some(false),
            ),
            (
                "text_names_ip_address",
                &[text_ip],
                &["1", "10"],
                Some(true),
            ),
            ("too_few_anchors", &[bank], &["2", "10"], Some(false)),
            ("max_is_exclusive", &[bank, plain], &["1", "2"], Some(false)),
            ("argument_not_a_number", &[bank], &["one"], None),
        ];
        for (case, links, args, expected) in cases {
            assert_eq!(https_mismatch(links, args), expected, "{case}");
        }
    }

    #[test]
    fn https_site_after_empty_one_counts() {
        let link = (
            "http://evil.example.net/",
            "see https:/// or https://www.bank.com/",
        );
        assert_eq!(https_mismatch(&[link], &["1"]), Some(true));
    }
}
