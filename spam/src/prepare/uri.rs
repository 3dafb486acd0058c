//! URIs for `uri` rules: found in rendered text and in HTML attributes,
//! normalized, and de-duplicated in first-seen order.
//!
//! In text, a URI is a token that contains `http://`, `https://`, `ftp://`
//! or `mailto:`, or starts with `www.` or `ftp.`, or is an email address
//! (which becomes a `mailto:` URI). Tokens end at whitespace, angle brackets
//! and quotes, and trailing punctuation is dropped, as a mail reader's
//! linkifier does.
//!
//! `normalize` adds `http://` to `www.` and `ftp://` to `ftp.` hosts,
//! lowercases the scheme and the host, and removes whitespace inside the
//! URI. Relative HTML URIs are resolved against a `<base href>` when the
//! part has one, else kept as written.
//!
//! Limits: at most `URIS_MAX` URIs per message, each cut to `URI_LEN_MAX`
//! bytes, because rules run once per URI and a message could list millions.
//!
//! The rule files may list the known top-level domains ([`UriRules`]).
//! Then a bare domain in text such as `example.com/offer` is a URI too. A
//! text URI then counts only when one of its forms has a host with a known
//! top-level domain or an IP address, as in SpamAssassin 4.0.1's
//! `get_uri_list`. So `http://intranet:2301/` in text is no URI.

use std::collections::HashSet;

use super::redirector::Redirectors;
use super::uri_host::Tlds;

/// Maximum URIs kept per message.
pub const URIS_MAX: usize = 10_000;

/// Maximum redirect levels followed from one URI ([`redirect_target`]).
pub const REDIRECTS_MAX: usize = 8;

/// Maximum length of one URI in bytes; longer ones are cut at a character
/// boundary.
pub const URI_LEN_MAX: usize = 8_192;

/// The parts of the rule files that URI extraction reads: the
/// `redirector_pattern` rules and the known top-level domains
/// (`util_rb_tld`).
#[derive(Debug, Clone, Default)]
pub struct UriRules {
    pub redirectors: Redirectors,
    pub tlds: Tlds,
}

/// A de-duplicated list of URIs in first-seen order.
#[derive(Debug, Clone, Default)]
pub struct UriList {
    uris: Vec<String>,
    seen: HashSet<String>,
    rules: UriRules,
}

impl UriList {
    /// Returns an empty list whose [`UriList::push_with_variants`] tries
    /// the redirector patterns of `rules` before the built-in redirect
    /// fallback, and whose text URIs are checked against its top-level
    /// domains.
    pub fn with_rules(rules: UriRules) -> UriList {
        UriList {
            rules,
            ..UriList::default()
        }
    }

    /// Adds a normalized URI found in plain text, with its forms
    /// ([`UriList::push_with_variants`]), unless the top-level domains are
    /// known and none of the forms has a host with one or an IP address
    /// ([`Tlds::has_domain`]), as SpamAssassin drops such text URIs.
    pub fn push_text_uri(&mut self, uri: String) {
        if self.rules.tlds.is_empty() {
            self.push_with_variants(uri);
            return;
        }
        let mut forms = UriList::with_rules(UriRules {
            redirectors: self.rules.redirectors.clone(),
            tlds: Tlds::default(),
        });
        forms.push_with_variants(uri);
        let forms = forms.into_vec();
        if forms.iter().any(|form| self.rules.tlds.has_domain(form)) {
            for form in forms {
                self.push(form);
            }
        }
    }

    /// Adds `uri` unless it is already present or the list is full.
    pub fn push(&mut self, uri: String) {
        if self.uris.len() >= URIS_MAX || self.seen.contains(&uri) {
            return;
        }
        self.seen.insert(uri.clone());
        self.uris.push(uri);
    }

    /// Adds a normalized `uri`, then the forms SpamAssassin 4.0.1's
    /// `uri_list_canonicalize` adds for it:
    /// - the URI with its percent escapes decoded ([`percent_decoded`]),
    ///   from which the other two forms come;
    /// - the URI with its numeric host written as a dotted-decimal IPv4
    ///   address ([`numeric_host_variant`]);
    /// - the URI it redirects to, found by the list's redirector patterns
    ///   or else by [`redirect_target`], with its own forms, up to
    ///   [`REDIRECTS_MAX`] levels.
    pub fn push_with_variants(&mut self, uri: String) {
        self.push_canonical(uri, 0);
    }

    fn push_canonical(&mut self, uri: String, depth: usize) {
        // The later forms come from the percent-decoded URI, when it has
        // escapes.
        let decoded = percent_decoded(&uri).filter(|decoded| *decoded != uri);
        let canonical = decoded.as_deref().unwrap_or(&uri);
        let variant = numeric_host_variant(canonical);
        let target = self
            .pattern_target(canonical)
            .or_else(|| redirect_target(canonical))
            .filter(|_| depth < REDIRECTS_MAX)
            .and_then(|target| normalize(&target, None));
        self.push(uri);
        if let Some(decoded) = decoded {
            self.push(decoded);
        }
        if let Some(variant) = variant {
            self.push(variant);
        }
        if let Some(target) = target {
            self.push_canonical(target, depth + 1);
        }
    }

    /// Returns the target the redirector patterns find in an http or https
    /// `uri`. They match the URI without its user and password part, as
    /// SpamAssassin matches `$proto$host$rest`.
    fn pattern_target(&self, uri: &str) -> Option<String> {
        if self.rules.redirectors.is_empty() {
            return None;
        }
        let parts = HttpParts::of(uri)?;
        let subject = format!("{}{}", &uri[..parts.scheme_len], &uri[parts.host_start..]);
        self.rules.redirectors.target(&subject)
    }

    /// Returns the URIs in first-seen order.
    pub fn into_vec(self) -> Vec<String> {
        self.uris
    }
}

/// Characters that end a URI token in text.
fn is_token_end(character: char) -> bool {
    character.is_whitespace() || matches!(character, '<' | '>' | '"' | '\'' | '`')
}

/// Adds the URIs found in rendered `text` to `list`.
pub fn extract_from_text(text: &str, list: &mut UriList) {
    let tlds = list.rules.tlds.clone();
    for token in text.split(is_token_end) {
        if token.len() < 4 {
            continue;
        }
        if let Some(uri) = uri_in_token(token, &tlds) {
            if let Some(normalized) = normalize(&uri, None) {
                list.push_text_uri(normalized);
            }
        }
    }
}

/// Returns the URI inside one text token, if it has one.
fn uri_in_token(token: &str, tlds: &Tlds) -> Option<String> {
    let lower = token.to_ascii_lowercase();
    let scheme_at = ["http://", "https://", "ftp://", "mailto:"]
        .iter()
        .filter_map(|scheme| lower.find(scheme))
        .min();
    let candidate = match scheme_at {
        Some(at) => &token[at..],
        None => {
            let start = token.find(|character: char| character.is_alphanumeric())?;
            let rest = &token[start..];
            let rest_lower = rest.to_ascii_lowercase();
            if rest_lower.starts_with("www.") || rest_lower.starts_with("ftp.") {
                rest
            } else if is_email(rest) {
                return Some(format!("mailto:{}", trim_trailing(rest)));
            } else {
                // In SpamAssassin's text URI pattern, punctuation may
                // follow a bare domain only inside its path, where it is
                // trimmed. Right after the host or port, it means no URI.
                let candidate = if rest.contains('/') {
                    trim_trailing(rest)
                } else {
                    rest
                };
                return tlds
                    .schemeless(candidate)
                    .map(|found| format!("http://{found}"));
            }
        }
    };
    let candidate = trim_trailing(candidate);
    let after_scheme = candidate.split_once(':').map_or("", |(_, rest)| rest);
    let has_host = after_scheme.trim_start_matches('/').len() > 1 || candidate.contains('.');
    has_host.then(|| candidate.to_string())
}

fn trim_trailing(text: &str) -> &str {
    text.trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']', '}', '*'])
}

/// Returns whether `text` looks like `local@host.tld`.
fn is_email(text: &str) -> bool {
    let text = trim_trailing(text);
    let Some((local, domain)) = text.rsplit_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || "._%+-=".contains(character));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label
                    .chars()
                    .all(|character| character.is_ascii_alphanumeric() || character == '-')
        })
        && labels.last().is_some_and(|tld| {
            tld.len() >= 2 && tld.chars().all(|character| character.is_ascii_alphabetic())
        });
    local_ok && domain_ok
}

/// Normalizes one URI, resolving a relative one against `base`. Returns
/// `None` for URIs that name nothing: empty, or a bare `#fragment`.
pub fn normalize(uri: &str, base: Option<&str>) -> Option<String> {
    let mut uri: String = uri
        .chars()
        .filter(|character| !character.is_whitespace())
        .collect();
    if uri.is_empty() || uri.starts_with('#') {
        return None;
    }
    let lower = uri.to_ascii_lowercase();
    if lower.starts_with("www.") {
        uri.insert_str(0, "http://");
    } else if lower.starts_with("ftp.") {
        uri.insert_str(0, "ftp://");
    } else if !has_scheme(&uri) {
        if let Some(base) = base.filter(|base| has_scheme(base)) {
            uri = resolve(base, &uri);
        }
    }

    if let Some(colon) = uri.find(':').filter(|_| has_scheme(&uri)) {
        let scheme = uri[..colon].to_ascii_lowercase();
        uri.replace_range(..colon, &scheme);
        if uri[colon..].starts_with("://") {
            let host_start = colon + 3;
            let host_end = uri[host_start..]
                .find(['/', '?', '#'])
                .map_or(uri.len(), |at| host_start + at);
            let host = uri[host_start..host_end].to_lowercase();
            uri.replace_range(host_start..host_end, &host);
        }
    }
    if uri.len() > URI_LEN_MAX {
        let mut cut = URI_LEN_MAX;
        while !uri.is_char_boundary(cut) {
            cut -= 1;
        }
        uri.truncate(cut);
    }
    Some(uri)
}

/// Returns `uri` with its percent escapes decoded as SpamAssassin 4.0.1's
/// `Util::url_encode` decodes them, or `None` when it has no `%` followed
/// by two hex digits:
/// - an escape whose first digit is 2 to 7 becomes its character, except
///   `%20` and `%7F`; other escapes stay as written;
/// - outside escapes, bytes up to 0x20, from 0x7F, and `"`, `%`, `<`, `>`
///   become lower-case escapes.
pub fn percent_decoded(uri: &str) -> Option<String> {
    let bytes = uri.as_bytes();
    let is_escape = |at: usize| {
        bytes[at] == b'%'
            && bytes
                .get(at + 1..at + 3)
                .is_some_and(|digits| digits.iter().all(u8::is_ascii_hexdigit))
    };
    if !(0..bytes.len()).any(is_escape) {
        return None;
    }
    let mut decoded = String::with_capacity(uri.len());
    let mut at = 0;
    while at < bytes.len() {
        if is_escape(at) {
            let (high, low) = (bytes[at + 1], bytes[at + 2]);
            let printable = (b'2'..=b'7').contains(&high)
                && !(high == b'2' && low == b'0')
                && !(high == b'7' && low.eq_ignore_ascii_case(&b'f'));
            if printable {
                let value = hex_value(high) * 16 + hex_value(low);
                decoded.push(char::from(value));
            } else {
                decoded.push_str(&uri[at..at + 3]);
            }
            at += 3;
            continue;
        }
        let byte = bytes[at];
        if byte <= 0x20 || byte >= 0x7f || matches!(byte, b'"' | b'%' | b'<' | b'>') {
            decoded.push_str(&format!("%{byte:02x}"));
        } else {
            decoded.push(char::from(byte));
        }
        at += 1;
    }
    Some(decoded)
}

/// Returns the value of an ASCII hex digit.
fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        _ => digit.to_ascii_lowercase() - b'a' + 10,
    }
}

/// Returns an http or https URI with its numeric host rewritten as
/// SpamAssassin 4.0.1's `uri_list_canonicalize` does, or `None` when the
/// host is not numeric:
/// - four dot-separated parts of decimal, `0x` hex or leading-zero octal
///   numbers become decimal parts, with leading zeros removed (so a part
///   of `0` becomes empty, as in SpamAssassin);
/// - a `0x` hex number or a decimal number becomes the dotted IPv4 address
///   of its low 32 bits (of its first 8 hex digits for a decimal number
///   above 32 bits).
pub fn numeric_host_variant(uri: &str) -> Option<String> {
    let parts = HttpParts::of(uri)?;
    let host = uri[parts.host_start..parts.host_end].to_ascii_lowercase();
    let rewritten = dotted_host(&host).or_else(|| single_number_host(&host))?;
    Some(format!(
        "{}{}{}",
        &uri[..parts.scheme_len],
        rewritten,
        &uri[parts.host_end..]
    ))
}

/// Returns the URI that an http or https URI carries after its host, as
/// SpamAssassin's fallback for redirectors finds it. It runs from the
/// first `http:` or `https:` (any case) to the next `&` or `#`, and counts
/// only when it has a dot in it.
///
/// SpamAssassin uses this fallback only when none of the
/// `redirector_pattern` rules gives a target ([`Redirectors`]).
pub fn redirect_target(uri: &str) -> Option<String> {
    let rest_start = HttpParts::of(uri)?.host_end;
    let lower = uri.to_ascii_lowercase();
    let rest = &lower[rest_start..];
    let mut from = 0;
    while let Some(found) = rest[from..].find("http") {
        let start = from + found;
        let after = &rest[start + 4..];
        let after = after.strip_prefix('s').unwrap_or(after);
        if let Some(target_rest) = after.strip_prefix(':') {
            let end = target_rest.find(['&', '#']).unwrap_or(target_rest.len());
            if end > 0 {
                let target_end = rest.len() - target_rest.len() + end;
                let target = &uri[rest_start + start..rest_start + target_end];
                return target.contains('.').then(|| target.to_string());
            }
        }
        from = start + 4;
    }
    None
}

/// Byte offsets of the parts of an http or https URI, split as
/// SpamAssassin's `^(https?://)([^@/?#]*@)?([^/?#:]+)(.*)$` splits it.
struct HttpParts {
    /// Length of `http://` or `https://`.
    scheme_len: usize,
    host_start: usize,
    /// End of the host: the start of the port, path, query or fragment.
    host_end: usize,
}

impl HttpParts {
    fn of(uri: &str) -> Option<HttpParts> {
        let scheme_len = ["http://", "https://"].iter().find_map(|scheme| {
            uri.get(..scheme.len())
                .filter(|head| head.eq_ignore_ascii_case(scheme))
                .map(|_| scheme.len())
        })?;
        let authority_end = uri[scheme_len..]
            .find(['/', '?', '#'])
            .map_or(uri.len(), |at| scheme_len + at);
        let host_start = uri[scheme_len..authority_end]
            .rfind('@')
            .map_or(scheme_len, |at| scheme_len + at + 1);
        let host_end = uri[host_start..authority_end]
            .find(':')
            .map_or(authority_end, |at| host_start + at);
        Some(HttpParts {
            scheme_len,
            host_start,
            host_end,
        })
    }
}

/// Rewrites a host of four dot-separated numbers, each decimal, `0x` hex
/// or leading-zero octal, into decimal parts.
fn dotted_host(host: &str) -> Option<String> {
    let parts: Vec<&str> = host.split('.').collect();
    let is_number = |part: &str| match part.strip_prefix("0x") {
        Some(hex) => !hex.is_empty() && hex.bytes().all(|byte| byte.is_ascii_hexdigit()),
        None => !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_digit()),
    };
    if parts.len() != 4 || !parts.iter().all(|part| is_number(part)) {
        return None;
    }
    let decimal: Vec<String> = parts.iter().map(|part| decimal_part(part)).collect();
    Some(decimal.join("."))
}

/// Converts one part as SpamAssassin does: hex to decimal, then an octal
/// number with leading zeros (at most 3 digits, or 2 when it starts with
/// 4 to 7) to decimal, then leading zeros removed.
fn decimal_part(part: &str) -> String {
    let mut part = match part.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).unwrap_or(u64::MAX).to_string(),
        None => part.to_string(),
    };
    let digits = part.trim_start_matches('0');
    if digits.len() < part.len() {
        // Digits the octal number may have: 3 from a leading 1 to 3, 2 from
        // a leading 4 to 7.
        let octal_max = match digits.as_bytes().first() {
            Some(b'1'..=b'3') => 3,
            Some(b'4'..=b'7') => 2,
            _ => 0,
        };
        let octal_len = digits
            .bytes()
            .take(octal_max)
            .take_while(|byte| (b'0'..=b'7').contains(byte))
            .count();
        // The octal number must end the part (Perl's `\b` before a digit
        // fails), so "0128" stays decimal.
        if octal_len > 0 && octal_len == digits.len() {
            if let Ok(value) = u32::from_str_radix(digits, 8) {
                part = value.to_string();
            }
        }
    }
    part.trim_start_matches('0').to_string()
}

/// Rewrites a host that is one `0x` hex number or one decimal number into
/// a dotted IPv4 address, as SpamAssassin's `decode_ulong_to_ip`.
fn single_number_host(host: &str) -> Option<String> {
    let value: u64 = if let Some(hex) = host.strip_prefix("0x") {
        if hex.is_empty() || !hex.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return None;
        }
        let low = &hex[hex.len().saturating_sub(8)..];
        u64::from_str_radix(low, 16).ok()?
    } else {
        if host.is_empty() || !host.bytes().all(|byte| byte.is_ascii_digit()) {
            return None;
        }
        // Perl's number saturates at the largest 64-bit value.
        host.parse().unwrap_or(u64::MAX)
    };
    // "%08lx", then the first four bytes of the hex digits.
    let hex = format!("{value:08x}");
    let bytes: Vec<String> = hex
        .as_bytes()
        .chunks(2)
        .take(4)
        .map(|pair| {
            let pair = std::str::from_utf8(pair).unwrap_or("0");
            let padded = if pair.len() == 1 {
                format!("{pair}0")
            } else {
                pair.to_string()
            };
            u8::from_str_radix(&padded, 16).unwrap_or(0).to_string()
        })
        .collect();
    Some(bytes.join("."))
}

/// Returns whether `uri` starts with `scheme:` (RFC 3986 section 3.1).
fn has_scheme(uri: &str) -> bool {
    let Some(colon) = uri.find(':') else {
        return false;
    };
    let scheme = &uri[..colon];
    scheme.starts_with(|character: char| character.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || "+-.".contains(character))
}

/// Resolves a relative reference against an absolute base, for the common
/// forms: `//host/path`, `/path` and `path`.
fn resolve(base: &str, relative: &str) -> String {
    let scheme_end = base.find(':').map_or(0, |at| at + 1);
    if relative.starts_with("//") {
        return format!("{}{}", &base[..scheme_end], relative);
    }
    let authority_end = if base[scheme_end..].starts_with("//") {
        base[scheme_end + 2..]
            .find('/')
            .map_or(base.len(), |at| scheme_end + 2 + at)
    } else {
        scheme_end
    };
    if relative.starts_with('/') {
        return format!("{}{}", &base[..authority_end], relative);
    }
    let directory_end = base[authority_end..]
        .rfind('/')
        .map_or(authority_end, |at| authority_end + at);
    format!("{}/{}", &base[..directory_end], relative)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_text(text: &str) -> Vec<String> {
        let mut list = UriList::default();
        extract_from_text(text, &mut list);
        list.into_vec()
    }

    #[test]
    fn percent_decoded_table() {
        // (uri, decoded form), following SpamAssassin's Util::url_encode.
        let cases: &[(&str, Option<&str>)] = &[
            ("http://example.com/plain", None),
            ("http://example.com/100%", None),
            ("http://%65xample.com/%7e%41", Some("http://example.com/~A")),
            // %20, %7F and escapes outside 0x20-0x7F stay as written.
            (
                "http://e.com/a%20b%7Fc%0ad%C3%A9",
                Some("http://e.com/a%20b%7Fc%0ad%C3%A9"),
            ),
            ("http://e.com/%2F%3a%3F", Some("http://e.com//:?")),
            // Outside escapes, `%`, `"`, `<`, `>` and non-ASCII bytes get escaped.
            (
                "http://e.com/%41%\"<>\u{e9}",
                Some("http://e.com/A%25%22%3c%3e%c3%a9"),
            ),
            ("http://e.com/%%41", Some("http://e.com/%25A")),
        ];
        for (uri, expected) in cases {
            assert_eq!(percent_decoded(uri).as_deref(), *expected, "uri {uri:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn percent_decoding_arbitrary_text_never_panics(uri in "(%[0-9a-fA-F%]{0,3}|[^%]{0,4}){0,20}") {
            if let Some(decoded) = percent_decoded(&uri) {
                proptest::prop_assert!(decoded.is_ascii());
            }
            let mut list = UriList::default();
            list.push_with_variants(format!("http://{uri}"));
        }
    }

    #[test]
    fn encoded_decimal_host_yields_dotted_form() {
        let mut list = UriList::default();
        list.push_with_variants("http://%31%30%37%31%33%39%36%31%33%30/x%20y".to_string());
        assert_eq!(
            list.into_vec(),
            [
                "http://%31%30%37%31%33%39%36%31%33%30/x%20y",
                "http://1071396130/x%20y",
                "http://63.220.53.34/x%20y",
            ]
        );
    }

    #[test]
    fn text_uri_cases() {
        let cases: &[(&str, &[&str])] = &[
            ("see http://Example.COM/Path.", &["http://example.com/Path"]),
            ("go to www.example.org, now", &["http://www.example.org"]),
            ("(ftp.example.net)", &["ftp://ftp.example.net"]),
            ("mail me: Bob@Example.com.", &["mailto:Bob@Example.com"]),
            ("<https://a.example/x?y=1>", &["https://a.example/x?y=1"]),
            ("HTTP://UPPER.EXAMPLE/", &["http://upper.example/"]),
            ("no uri here at all", &[]),
            ("user@localhost is not an email", &[]),
            (
                "dup http://a.example/ http://A.example/",
                &["http://a.example/"],
            ),
            ("prefix:http://glued.example/", &["http://glued.example/"]),
        ];
        for (text, expected) in cases {
            assert_eq!(from_text(text), *expected, "text {text:?}");
        }
    }

    #[test]
    fn numeric_host_variant_cases() {
        let cases: &[(&str, Option<&str>)] = &[
            (
                "http://1071396130/index2.htm",
                Some("http://63.220.53.34/index2.htm"),
            ),
            ("http://0x3fdcc922/x", Some("http://63.220.201.34/x")),
            (
                "https://user@0x3f.0334.201.034:8080/",
                // The variant leaves out the user, as SpamAssassin's does.
                Some("https://63.220.201.28:8080/"),
            ),
            // A part of 0 loses its only digit, as in SpamAssassin.
            ("http://10.0.0.1/", Some("http://10...1/")),
            ("http://192.0.2.7/", Some("http://192..2.7/")),
            // Above 32 bits, the first four bytes of the hex digits count.
            ("http://4294967297/", Some("http://16.0.0.0/")),
            ("http://example.com/", None),
            ("http://1.2.3/", None),
            ("ftp://1071396130/", None),
        ];
        for (uri, expected) in cases {
            assert_eq!(
                numeric_host_variant(uri).as_deref(),
                *expected,
                "uri {uri:?}"
            );
        }
        let mut list = UriList::default();
        list.push_with_variants("http://1071396130/".to_string());
        assert_eq!(
            list.into_vec(),
            ["http://1071396130/", "http://63.220.53.34/"]
        );
    }

    #[test]
    fn redirect_target_cases() {
        let cases: &[(&str, Option<&str>)] = &[
            (
                "http://gd11.doubleclick.net/click;1;;http://61.129.81.99/paul/&x=1",
                Some("http://61.129.81.99/paul/"),
            ),
            (
                "https://r.example/?u=HTTPS://Target.example/a#frag",
                Some("HTTPS://Target.example/a"),
            ),
            // Without a dot the text is not taken as a URI.
            ("http://r.example/?u=http://localhost", None),
            ("http://plain.example/path", None),
            ("mailto:http://a.example", None),
        ];
        for (uri, expected) in cases {
            assert_eq!(redirect_target(uri).as_deref(), *expected, "uri {uri:?}");
        }
        let mut list = UriList::default();
        list.push_with_variants("http://r.example/go?http://0x3f.0334.201.034/".to_string());
        assert_eq!(
            list.into_vec(),
            [
                "http://r.example/go?http://0x3f.0334.201.034/",
                "http://0x3f.0334.201.034/",
                "http://63.220.201.28/"
            ]
        );
    }

    #[test]
    fn normalize_cases() {
        let cases: &[(&str, Option<&str>, Option<&str>)] = &[
            (
                "HTTP://WWW.EXAMPLE.COM/A",
                None,
                Some("http://www.example.com/A"),
            ),
            ("www.example.com", None, Some("http://www.example.com")),
            (
                "/img.png",
                Some("http://base.example/dir/page"),
                Some("http://base.example/img.png"),
            ),
            (
                "img.png",
                Some("http://base.example/dir/page"),
                Some("http://base.example/dir/img.png"),
            ),
            (
                "//cdn.example/x",
                Some("https://base.example/"),
                Some("https://cdn.example/x"),
            ),
            ("/img.png", None, Some("/img.png")),
            (
                "http://spaced .example/",
                None,
                Some("http://spaced.example/"),
            ),
            ("#top", None, None),
            ("", None, None),
            (
                "mailto:Someone@Example.com",
                None,
                Some("mailto:Someone@Example.com"),
            ),
        ];
        for (uri, base, expected) in cases {
            assert_eq!(
                normalize(uri, *base).as_deref(),
                *expected,
                "uri {uri:?} base {base:?}"
            );
        }
    }

    #[test]
    fn list_stops_at_maximum() {
        let mut list = UriList::default();
        for index in 0..URIS_MAX + 5 {
            list.push(format!("http://h{index}.example/"));
        }
        assert_eq!(list.into_vec().len(), URIS_MAX);
    }

    #[test]
    fn long_uri_is_cut_at_char_boundary() {
        let uri = format!("http://a.example/{}", "é".repeat(URI_LEN_MAX));
        let normalized = normalize(&uri, None).unwrap();
        assert!(normalized.len() <= URI_LEN_MAX);
    }
}
