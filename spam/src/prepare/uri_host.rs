//! Host checks on URIs with the known top-level domains, after
//! SpamAssassin 4.0.1's `RegistryBoundaries::uri_to_domain`,
//! `is_domain_valid` and `Util::is_fqdn_valid`.
//!
//! The top-level domains come from the `util_rb_tld` lines of the rule
//! files. A URI found in plain text counts only when one of its forms has
//! a host with a known top-level domain, or an IP address
//! ([`Tlds::has_domain`]). A bare domain with a known top-level domain in
//! plain text is a URI without a scheme ([`Tlds::schemeless`]).
//!
//! NOTE: SpamAssassin converts a non-ASCII host to its ASCII form (IDNA)
//! before the checks. That conversion is not done here, so a non-ASCII host
//! passes the checks unread.

use std::collections::HashSet;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

/// Maximum length of a host name, as in DNS.
pub const HOST_LEN_MAX: usize = 253;
/// Maximum length of one host label, as in DNS.
pub const LABEL_LEN_MAX: usize = 63;
/// Maximum top-level domains kept from the rule files.
pub const TLDS_MAX: usize = 10_000;

/// The known top-level domains, lower case, cheap to clone. Empty when the
/// rule files list none, and then every host passes.
#[derive(Debug, Clone, Default)]
pub struct Tlds {
    names: Arc<HashSet<String>>,
}

impl Tlds {
    /// Collects the top-level domains of `util_rb_tld` lines, each a list
    /// separated by whitespace, up to [`TLDS_MAX`].
    pub fn from_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> Tlds {
        let names: HashSet<String> = lines
            .into_iter()
            .flat_map(str::split_whitespace)
            .map(str::to_lowercase)
            .take(TLDS_MAX)
            .collect();
        Tlds {
            names: Arc::new(names),
        }
    }

    /// Returns whether no top-level domain is known.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Returns whether `host` ends in a known top-level domain after at
    /// least one dot (`is_domain_valid`).
    fn is_known(&self, host: &str) -> bool {
        host.rsplit_once('.')
            .is_some_and(|(_, tld)| self.names.contains(tld))
    }

    /// Returns whether `uri` has a host SpamAssassin's `uri_to_domain`
    /// accepts: an IP address, or a valid host name with a known top-level
    /// domain. `javascript:`, `cid:` and `file:` URIs have none. Neither
    /// has a host that still contains percent escapes of printable
    /// characters, because the decoded form is checked too.
    pub fn has_domain(&self, uri: &str) -> bool {
        self.is_empty() || self.domain_host(uri).is_some()
    }

    /// Returns the lower-case host of `uri` when [`Tlds::has_domain`] would
    /// accept it, without trailing dots. Without known top-level domains,
    /// any host counts.
    pub fn domain_host(&self, uri: &str) -> Option<String> {
        let lower = uri.to_lowercase();
        if ["javascript:", "cid:", "file:"]
            .iter()
            .any(|scheme| lower.starts_with(scheme))
        {
            return None;
        }
        let host = uri_host(&lower)?;
        if has_printable_escape(host) {
            return None;
        }
        let accepted = self.is_empty()
            || !host.is_ascii()
            || is_ip_address(host)
            || (is_fqdn_valid(host) && self.is_known(host.trim_end_matches('.')));
        accepted.then(|| host.trim_end_matches('.').to_string())
    }

    /// Returns `text` as a URI without a scheme when it is a host name
    /// with a known top-level domain, then optionally a dot, a `:port` and
    /// a `/path` (SpamAssassin's schemeless text URI).
    pub fn schemeless(&self, text: &str) -> Option<String> {
        if self.is_empty() {
            return None;
        }
        let host_end = text.find([':', '/']).unwrap_or(text.len());
        let (host, rest) = text.split_at(host_end);
        let host = host.strip_suffix('.').unwrap_or(host);
        let host_chars_ok = host.starts_with(|first: char| first.is_ascii_alphanumeric())
            && host
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || b"._-".contains(&byte));
        if !host_chars_ok || !is_fqdn_valid(host) || !self.is_known(&host.to_ascii_lowercase()) {
            return None;
        }
        let path = match rest.strip_prefix(':') {
            Some(port) => {
                let digits = port.bytes().take_while(u8::is_ascii_digit).count();
                if !(1..=5).contains(&digits) {
                    return None;
                }
                &port[digits..]
            }
            None => rest,
        };
        if !(path.is_empty() || path.starts_with('/')) {
            return None;
        }
        Some(text.to_string())
    }
}

/// Returns the host of a lower-case URI as `uri_to_domain` cuts it: after
/// the `@` of a `mailto:` address, or after the scheme, without the path,
/// query, fragment, user part and port. `None` for a `mailto:` address
/// without exactly one `@`.
fn uri_host(uri: &str) -> Option<&str> {
    if let Some(address) = uri.strip_prefix("mailto:") {
        let address = address.split('?').next().unwrap_or(address);
        if address.matches('@').count() != 1 {
            return None;
        }
        return address.rsplit_once('@').map(|(_, host)| host);
    }
    let scheme_end = uri
        .find(':')
        .filter(|at| *at > 0 && uri[..*at].bytes().all(|byte| byte.is_ascii_lowercase()));
    let mut rest = match scheme_end {
        Some(at) => {
            let after = &uri[at + 1..];
            let slashes = after
                .bytes()
                .take(2)
                .take_while(|byte| *byte == b'/')
                .count();
            &after[slashes..]
        }
        None => uri,
    };
    if let Some(end) = rest.find(['/', '?', '#']) {
        rest = &rest[..end];
    }
    if let Some((_, host)) = rest.rsplit_once('@') {
        rest = host;
    }
    if let Some((host, port)) = rest.rsplit_once(':') {
        if port.bytes().all(|byte| byte.is_ascii_digit()) {
            rest = host;
        }
    }
    Some(rest)
}

/// Returns whether `host` contains a percent escape of a printable character
/// other than space (`%21` to `%7E`).
fn has_printable_escape(host: &str) -> bool {
    let bytes = host.as_bytes();
    bytes.windows(3).any(|window| {
        let value = std::str::from_utf8(&window[1..])
            .ok()
            .and_then(|digits| u8::from_str_radix(digits, 16).ok());
        window[0] == b'%' && value.is_some_and(|value| (0x21..=0x7e).contains(&value))
    })
}

/// Returns whether `host` is an IPv4 or IPv6 address, IPv6 optionally in
/// brackets.
fn is_ip_address(host: &str) -> bool {
    let unbracketed = host
        .strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
        .unwrap_or(host);
    host.parse::<Ipv4Addr>().is_ok() || unbracketed.parse::<Ipv6Addr>().is_ok()
}

/// Returns whether `host` is a valid host name as `is_fqdn_valid` decides:
/// trailing dots removed, at most [`HOST_LEN_MAX`] bytes, at least two
/// labels of 1 to [`LABEL_LEN_MAX`] letters, digits, `_` and inner `-`,
/// and no `_` in the last two labels.
pub(crate) fn is_fqdn_valid(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.len() > HOST_LEN_MAX {
        return false;
    }
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() < 2 {
        return false;
    }
    labels.iter().enumerate().all(|(index, label)| {
        let is_label_byte =
            |byte: u8| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_';
        let last_two = index + 2 >= labels.len();
        (1..=LABEL_LEN_MAX).contains(&label.len())
            && label
                .bytes()
                .all(|byte| is_label_byte(byte) || byte == b'-')
            && label.bytes().next().is_some_and(is_label_byte)
            && label.bytes().next_back().is_some_and(is_label_byte)
            && !(last_two && label.contains('_'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tlds() -> Tlds {
        Tlds::from_lines(["com net org", "uk\tio MD"])
    }

    #[test]
    fn has_domain_table() {
        // (uri, whether a host with a known top-level domain or an IP is found)
        let cases = [
            ("http://www.example.com/path", true),
            ("http://user:pw@Example.COM:8080/x?y#z", true),
            ("http://yourserver:2301/", false),
            ("http://example.invalidtld/", false),
            ("http://192.0.2.1/x", true),
            ("http://[2001:db8::1]/x", true),
            ("mailto:bob@example.org?subject=hi", true),
            ("mailto:bob@localhost", false),
            ("mailto:a@b@example.org", false),
            ("javascript:alert(1)", false),
            ("cid:part1.example.com", false),
            ("http://%65xample.com/", false),
            ("http://bad_label.com/", false),
            ("http://sub_part.example.com/", true),
            ("http://-dash.com/", false),
            ("http://example.com./", true),
            ("http://bücher.example/", true),
        ];
        let tlds = tlds();
        for (uri, expected) in cases {
            assert_eq!(tlds.has_domain(uri), expected, "uri {uri:?}");
        }
    }

    #[test]
    fn schemeless_table() {
        // (text, URI without a scheme)
        let cases = [
            ("example.com", Some("example.com")),
            (
                "shop.example.co.uk/offer?id=1",
                Some("shop.example.co.uk/offer?id=1"),
            ),
            ("example.com:8080/x", Some("example.com:8080/x")),
            ("readme.md", Some("readme.md")),
            ("index.html", None),
            ("1.2.3.4", None),
            ("example.com:123456", None),
            ("example.comma", None),
            ("example.com,next", None),
            ("_under.example.com", None),
        ];
        let tlds = tlds();
        for (text, expected) in cases {
            assert_eq!(tlds.schemeless(text).as_deref(), expected, "text {text:?}");
        }
    }

    #[test]
    fn empty_tld_list_checks_nothing() {
        let tlds = Tlds::default();
        assert!(tlds.has_domain("http://yourserver:2301/"));
        assert!(tlds.schemeless("example.com").is_none());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_uri_never_panics(uri in "\\PC{0,80}") {
            let tlds = tlds();
            let _ = tlds.has_domain(&uri);
            let _ = tlds.schemeless(&uri);
        }
    }
}
