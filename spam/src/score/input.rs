//! The value a `header` rule reads for its [`HeaderSpec`]: the field or
//! pseudo-header, then its modifiers.
//!
//! `:raw` selects the undecoded form, and `:first` and `:last` pick one
//! occurrence of a named field instead of all of them joined by "\n".
//! `:addr` then takes every address, one per line, and `:name` the first
//! display name.
//! `:host`, `:domain`, `:ip` and `:revip` take parts of the address's host.
//!
//! `None` means the field is missing, which the scorer treats as
//! SpamAssassin does (see the parent module).
//!
//! The pseudo-headers `X-Spam-Relays-Trusted`, `-Untrusted`, `-Internal`
//! and `-External` come from the parse of the Received chain
//! (`Headers::relay_chain`) and are always present, possibly empty, as in
//! SpamAssassin.

use std::net::IpAddr;

use crate::prepare::headers::{
    first_address, first_display_name, is_mail_address, mailbox_addresses,
};
use crate::prepare::received::RelaySet;
use crate::prepare::{HeaderForm, Headers};
use crate::rules::{HeaderField, HeaderModifier, HeaderSpec};

/// Returns the text a rule with `spec` matches, or `None` when the field
/// is missing.
pub fn header_value(headers: &Headers<'_>, spec: &HeaderSpec) -> Option<String> {
    let has = |modifier: HeaderModifier| spec.modifiers.contains(&modifier);
    let form = if has(HeaderModifier::Raw) {
        HeaderForm::Raw
    } else {
        HeaderForm::Decoded
    };

    let name = spec.field.as_str();
    let is_named = matches!(spec.field, HeaderField::Named(_));
    let relay_set = if is_named {
        RelaySet::from_field(name)
    } else {
        None
    };
    let mut value = if let Some(set) = relay_set {
        headers.relay_chain().field_text(set)
    } else if is_named && has(HeaderModifier::First) {
        headers.values(name, form).into_iter().next()?
    } else if is_named && has(HeaderModifier::Last) {
        headers.values(name, form).pop()?
    } else {
        headers.get(name, form)?
    };

    if has(HeaderModifier::Addr) {
        value = all_addresses(&value)?;
    } else if has(HeaderModifier::Name) {
        value = first_display_name(&value);
    }

    // NOTE: SpamAssassin 4.0.1 finds hosts in any text and cuts `:domain`
    // at the registry boundary with its public-suffix list. Here `:host`
    // and `:domain` both return the host of the first address.
    if has(HeaderModifier::Host) || has(HeaderModifier::Domain) {
        value = address_host(&value);
    } else if has(HeaderModifier::Ip) {
        value = ip_text(&value).unwrap_or_default();
    } else if has(HeaderModifier::Revip) {
        value = ip_text(&value).map(reverse_ip).unwrap_or_default();
    }
    Some(value)
}

/// Returns every address of `value`, joined by "\n", as SpamAssassin 4.0.1
/// hands a header rule the list that `get("Name:addr")` returns in list
/// context: `From: a@example.com, b@example.org` gives two lines. Like
/// SpamAssassin's parser, it leaves out addresses that [`is_mail_address`]
/// rejects, and gives `None`, a missing value, when it rejects them all. A
/// value in which the parser finds no address gives its first-address
/// reading.
fn all_addresses(value: &str) -> Option<String> {
    let addresses = mailbox_addresses(value);
    if addresses.is_empty() {
        return Some(first_address(value));
    }
    let valid: Vec<String> = addresses
        .into_iter()
        .filter(|address| is_mail_address(address))
        .collect();
    (!valid.is_empty()).then(|| valid.join("\n"))
}

/// Returns the part after the last `@` of the first address, lower-cased,
/// or the trimmed value when it has no `@`.
fn address_host(value: &str) -> String {
    let address = first_address(value);
    let host = match address.rsplit_once('@') {
        Some((_, host)) => host,
        None => address.as_str(),
    };
    host.trim().to_ascii_lowercase()
}

/// Returns the value as an IP address text, if it is one (brackets allowed).
fn ip_text(value: &str) -> Option<String> {
    let trimmed = value.trim().trim_start_matches('[').trim_end_matches(']');
    trimmed.parse::<IpAddr>().ok().map(|ip| ip.to_string())
}

/// Returns an IPv4 address with its octets reversed, as DNS lists query
/// it. IPv6 addresses are returned unchanged.
fn reverse_ip(ip: String) -> String {
    if !ip.contains('.') {
        return ip;
    }
    let octets: Vec<&str> = ip.split('.').rev().collect();
    octets.join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_address_shape_table() {
        let cases = [
            ("jane@example.com", true),
            ("\"jane doe\"@example.com", true),
            ("\"ja\\\"ne\"@example.com", true),
            ("user@[192.0.2.1]", true),
            ("user@[1086695621]", true),
            ("[ufa]@netnoteinc.com", false),
            ("ja ne@example.com", false),
            ("jane@exa mple.com", false),
            ("jane@[ufa]", false),
            ("jane", false),
            ("@example.com", false),
            ("jane@", false),
        ];
        for (address, expected) in cases {
            assert_eq!(is_mail_address(address), expected, "{address}");
        }
    }

    #[test]
    fn every_address_on_its_own_line() {
        let six = "DONT@cpprimaonline.com, PAY@cpprimaonline.com,\n    TOP@cpprimaonline.com";
        assert_eq!(
            all_addresses(six).as_deref(),
            Some("DONT@cpprimaonline.com\nPAY@cpprimaonline.com\nTOP@cpprimaonline.com")
        );
        assert_eq!(
            all_addresses("zvfjenphuq@[1086695621], [ufa]@netnoteinc.com").as_deref(),
            Some("zvfjenphuq@[1086695621]")
        );
        assert_eq!(
            all_addresses("Jane <jane@example.com>").as_deref(),
            Some("jane@example.com")
        );
        assert_eq!(all_addresses("[ufa]@netnoteinc.com"), None);
    }
}
