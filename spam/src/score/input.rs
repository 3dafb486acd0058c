//! The value a `header` rule reads for its [`HeaderSpec`]: the field or
//! pseudo-header, then its modifiers.
//!
//! `:raw` selects the undecoded form, and `:first` and `:last` pick one
//! occurrence of a named field instead of all of them joined by "\n".
//! `:addr` and `:name` then take the first address or display name.
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

use crate::prepare::headers::{first_address, first_display_name};
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
        value = first_address(&value);
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
