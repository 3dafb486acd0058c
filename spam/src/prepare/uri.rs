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
//! NOTE: SpamAssassin 4.0.1's `get_uri_list` also adds decoded variants of
//! each URI (percent-decoding, redirector targets) and finds schemeless
//! bare domains with a TLD list. Neither is done here.

use std::collections::HashSet;

/// Maximum URIs kept per message.
pub const URIS_MAX: usize = 10_000;

/// Maximum length of one URI in bytes; longer ones are cut at a character
/// boundary.
pub const URI_LEN_MAX: usize = 8_192;

/// A de-duplicated list of URIs in first-seen order.
#[derive(Debug, Clone, Default)]
pub struct UriList {
    uris: Vec<String>,
    seen: HashSet<String>,
}

impl UriList {
    /// Adds `uri` unless it is already present or the list is full.
    pub fn push(&mut self, uri: String) {
        if self.uris.len() >= URIS_MAX || self.seen.contains(&uri) {
            return;
        }
        self.seen.insert(uri.clone());
        self.uris.push(uri);
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
    for token in text.split(is_token_end) {
        if token.len() < 4 {
            continue;
        }
        if let Some(uri) = uri_in_token(token) {
            if let Some(normalized) = normalize(&uri, None) {
                list.push(normalized);
            }
        }
    }
}

/// Returns the URI inside one text token, if it has one.
fn uri_in_token(token: &str) -> Option<String> {
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
                return None;
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
