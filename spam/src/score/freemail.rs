//! The tests of SpamAssassin 4.0.1's FreeMail plugin (Plugin/FreeMail.pm):
//! `check_freemail_from`, `check_freemail_header`, `check_freemail_replyto`
//! and `check_freemail_body`.
//!
//! They need the rule set's `freemail_domains` and `freemail_welcomelist`
//! lines, which the `eval` module cannot see, so the scorer builds a
//! [`FreeMail`] from the model and calls it.
//!
//! An address is freemail when its domain is listed or matches a listed
//! wildcard. In a wildcard, `*` is any run of bytes other than `.` and `?`
//! is one byte. A welcomelisted address or domain is never freemail, and
//! neither is a local part the plugin always spares (abuse, postmaster,
//! bounce addresses and the like).
//!
//! Limits: [`DOMAINS_MAX`] listed domains and [`WILDCARDS_MAX`] wildcards,
//! because each wildcard is tried against every address.
//!
//! The body addresses come from [`freemail_body`]. With more than
//! `freemail_max_body_emails` (5) addresses or `freemail_max_body_freemails`
//! (3) freemail addresses in the body, the body tests return false, as the
//! plugin does with `freemail_skip_when_over_max` on.
//!
//! NOTE: the plugin's `freemail_import_welcomelist_auth` is not read.

use std::collections::HashSet;
use std::sync::Arc;

use crate::compile::CompiledPattern;
use crate::eval::cached_pattern;
use crate::prepare::headers::mailboxes;
use crate::prepare::{HeaderForm, Prepared};
use crate::rules::RuleModel;
use crate::score::freemail_body::{self, TopLevelDomains};
use regex_automata::meta::Regex;
use regex_automata::util::syntax;

/// Names of the FreeMail tests [`FreeMail::evaluate`] implements.
pub const IMPLEMENTED: &[&str] = &[
    "check_freemail_from",
    "check_freemail_header",
    "check_freemail_replyto",
    "check_freemail_body",
];

/// Maximum exact domains read from `freemail_domains`. SpamAssassin
/// 4.0.1's stock files list 2553, plus 29 wildcards.
pub const DOMAINS_MAX: usize = 100_000;
/// Maximum wildcard domains read from `freemail_domains`.
pub const WILDCARDS_MAX: usize = 1_000;

/// Local parts the plugin never counts as freemail users, as FreeMail.pm's
/// default `$email_welcomelist` lists them (case-insensitive).
const SPARED_LOCAL_PARTS: &str = r"(?i)^(?:abuse|support|sales|info|helpdesk|contact|kontakt|(?:post|host|domain)master|undisclosed.*|request-[a-f0-9]{16}|bounced?-.*|[a-f0-9]{8}(?:\.[a-f0-9]{8}|-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}).*|.+=.+=.+)@";

/// Envelope senders of bulk mail, for which `check_freemail_replyto` is
/// skipped, as FreeMail.pm's `$skip_replyto_envfrom` lists them. `[._-t]`
/// is kept as written there: a dot and the range from `_` to `t`.
const BULK_ENVELOPE_SENDERS: &str = r"(?i)(?:^(?:post|host|domain)master|^double-bounce|^(?:sentto|owner|return|(?:gr)?bounced?)-.+|-(?:request|bounces?|admin|owner)|(?-u:\b)(?:do[._-t]?)?no[._-t]?repl(?:y|ies)|.+=.+)@";

/// The freemail lists of one rule set.
#[derive(Debug)]
pub struct FreeMail {
    domains: HashSet<String>,
    wildcards: Vec<String>,
    welcomelist: HashSet<String>,
    spared: Regex,
    bulk_senders: Regex,
    tlds: TopLevelDomains,
    body_emails_max: usize,
    body_freemails_max: usize,
    skip_when_over_max: bool,
    skip_bulk_envfrom: bool,
}

/// The addresses that `check_freemail_replyto` compares with the body's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReplyCheck {
    /// `replyto`: Reply-To must be freemail.
    ReplyTo,
    /// `reply`: Reply-To when it is freemail, else a freemail From.
    Reply,
}

impl FreeMail {
    /// Builds the lists from `model`'s `freemail_domains` and
    /// `freemail_welcomelist` (or `freemail_whitelist`) lines, or returns
    /// `None` when no domain is listed, as the plugin then turns itself off.
    pub fn from_model(model: &RuleModel) -> Option<FreeMail> {
        let mut domains = HashSet::new();
        let mut wildcards = Vec::new();
        let entries = model.settings.get("freemail_domains").into_iter().flatten();
        for entry in entries.flat_map(|line| line.split_whitespace()) {
            let valid = entry
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || b".*?-".contains(&byte));
            if !valid {
                continue;
            }
            let domain = entry.to_ascii_lowercase();
            if domain.contains(['*', '?']) {
                if wildcards.len() < WILDCARDS_MAX {
                    wildcards.push(domain);
                }
            } else if domains.len() < DOMAINS_MAX {
                domains.insert(domain);
            }
        }
        if domains.is_empty() && wildcards.is_empty() {
            return None;
        }

        let mut welcomelist = HashSet::new();
        for key in ["freemail_welcomelist", "freemail_whitelist"] {
            let lines = model.settings.get(key).into_iter().flatten();
            for entry in lines.flat_map(|line| line.split_whitespace()) {
                welcomelist.insert(entry.to_ascii_lowercase());
            }
        }
        let build = |pattern: &str| {
            Regex::builder()
                .syntax(syntax::Config::new().unicode(false).utf8(false))
                .build(pattern)
                .ok()
        };
        let number = |key: &str, default: usize| {
            model
                .settings
                .get(key)
                .and_then(|lines| lines.last())
                .and_then(|value| value.trim().parse::<usize>().ok())
                .unwrap_or(default)
        };
        let tld_lines = model.settings.get("util_rb_tld").into_iter().flatten();
        Some(FreeMail {
            domains,
            wildcards,
            welcomelist,
            spared: build(SPARED_LOCAL_PARTS)?,
            bulk_senders: build(BULK_ENVELOPE_SENDERS)?,
            tlds: TopLevelDomains::from_lines(tld_lines),
            body_emails_max: number("freemail_max_body_emails", 5),
            body_freemails_max: number("freemail_max_body_freemails", 3),
            skip_when_over_max: number("freemail_skip_when_over_max", 1) != 0,
            skip_bulk_envfrom: number("freemail_skip_bulk_envfrom", 1) != 0,
        })
    }

    /// Returns whether the lower-cased `email` is a freemail address.
    pub fn is_freemail(&self, email: &str) -> bool {
        let Some((_, domain)) = email.rsplit_once('@') else {
            return false;
        };
        if email.is_empty()
            || self.welcomelist.contains(email)
            || self.welcomelist.contains(domain)
            || self.spared.is_match(email.as_bytes())
        {
            return false;
        }
        self.domains.contains(domain)
            || self
                .wildcards
                .iter()
                .any(|pattern| wildcard_match(pattern.as_bytes(), domain.as_bytes()))
    }

    /// Evaluates `function` with `args`, or returns `None` when it is not a
    /// FreeMail test this module implements, or its regex does not compile.
    pub fn evaluate(
        &self,
        function: &str,
        args: &[String],
        message: &Prepared<'_>,
    ) -> Option<bool> {
        match function {
            "check_freemail_from" => {
                let filter = optional_pattern(args.first())?;
                Some(self.any_freemail(&from_addresses(message), filter.as_ref()))
            }
            "check_freemail_header" => {
                let header = args.first()?;
                let filter = optional_pattern(args.get(1))?;
                let name = header.strip_suffix(":addr").unwrap_or(header);
                Some(self.any_freemail(&header_addresses(message, name), filter.as_ref()))
            }
            "check_freemail_replyto" => {
                let check = match args.first().map(String::as_str) {
                    None | Some("replyto") => ReplyCheck::ReplyTo,
                    Some("reply") => ReplyCheck::Reply,
                    // The plugin warns and returns 0 on any other option.
                    Some(_) => return Some(false),
                };
                Some(self.replyto(message, check))
            }
            "check_freemail_body" => {
                let filter = optional_pattern(args.first())?;
                let Some(body) = self.body_freemails(message) else {
                    return Some(false);
                };
                Some(body.iter().any(|email| {
                    filter
                        .as_ref()
                        .is_none_or(|filter| filter.is_match(email.as_bytes()))
                }))
            }
            _ => None,
        }
    }

    /// `check_freemail_replyto`: From and Reply-To are different freemail
    /// addresses, or the reply address and a body address are.
    fn replyto(&self, message: &Prepared<'_>, check: ReplyCheck) -> bool {
        if self.skip_bulk_envfrom {
            let envelope_from = message.header("EnvelopeFrom", HeaderForm::Decoded);
            if envelope_from.is_some_and(|sender| self.bulk_senders.is_match(sender.as_bytes())) {
                return false;
            }
        }
        let from = header_addresses(message, "From");
        let replyto = header_addresses(message, "Reply-To");
        let from_is_freemail = from.iter().any(|email| self.is_freemail(email));
        let replyto_is_freemail = replyto.iter().any(|email| self.is_freemail(email));
        let from_not_in_replyto = !from.iter().any(|email| replyto.contains(email));
        if from_is_freemail && replyto_is_freemail && from_not_in_replyto {
            return true;
        }
        let reply_addresses = match check {
            ReplyCheck::ReplyTo if !replyto_is_freemail => return false,
            ReplyCheck::ReplyTo => &replyto,
            ReplyCheck::Reply if !replyto.is_empty() && !replyto_is_freemail => return false,
            ReplyCheck::Reply if !from_is_freemail => return false,
            ReplyCheck::Reply if replyto_is_freemail => &replyto,
            ReplyCheck::Reply => &from,
        };
        let Some(body) = self.body_freemails(message) else {
            return false;
        };
        body.iter()
            .any(|body_email| reply_addresses.iter().any(|reply| reply != body_email))
    }

    /// Returns the freemail addresses of the body, or `None` when the body
    /// has too many addresses and the plugin skips its body tests.
    fn body_freemails(&self, message: &Prepared<'_>) -> Option<Vec<String>> {
        if self.tlds.is_empty() {
            return Some(Vec::new());
        }
        let mut emails: Vec<String> = Vec::new();
        let add = |emails: &mut Vec<String>, email: String| {
            if !emails.contains(&email) {
                emails.push(email);
            }
        };
        let links = message.html().iter().flat_map(|facts| &facts.mailto_links);
        for link in links {
            if emails.len() >= freemail_body::ANCHOR_ADDRESSES_MAX {
                break;
            }
            let first = freemail_body::find_addresses(link, &self.tlds)
                .into_iter()
                .next();
            if let Some(found) = first.filter(|found| found.start == 0) {
                add(&mut emails, found.email);
            }
        }
        'lines: for line in message.body() {
            let stripped = freemail_body::strip_line(line, &self.tlds);
            for found in freemail_body::find_addresses(&stripped, &self.tlds) {
                add(&mut emails, found.email);
                if emails.len() >= freemail_body::BODY_ADDRESSES_MAX {
                    break 'lines;
                }
            }
        }

        let mut freemails = Vec::new();
        for (index, email) in emails.into_iter().enumerate() {
            if index + 1 == self.body_emails_max && self.skip_when_over_max {
                return None;
            }
            if !self.is_freemail(&email) {
                continue;
            }
            freemails.push(email);
            if freemails.len() == self.body_freemails_max && self.skip_when_over_max {
                return None;
            }
        }
        Some(freemails)
    }

    fn any_freemail(&self, emails: &[String], filter: Option<&Arc<CompiledPattern>>) -> bool {
        emails.iter().any(|email| {
            self.is_freemail(email) && filter.is_none_or(|filter| filter.is_match(email.as_bytes()))
        })
    }
}

/// Returns the compiled optional Perl regex argument: `Some(None)` without
/// one, and `None` when it does not compile (the plugin then returns 0 with
/// a warning, which a caller sees as an unimplemented call). Each pattern
/// is compiled once per process ([`cached_pattern`]).
fn optional_pattern(argument: Option<&String>) -> Option<Option<Arc<CompiledPattern>>> {
    match argument {
        None => Some(None),
        Some(pattern) => cached_pattern(pattern).map(Some),
    }
}

/// Returns whether `domain` matches `pattern`, where `*` stands for any run
/// of bytes other than `.` and `?` for any one byte, over the whole domain.
fn wildcard_match(pattern: &[u8], domain: &[u8]) -> bool {
    match pattern.split_first() {
        None => domain.is_empty(),
        Some((b'*', rest)) => {
            let run = domain.iter().take_while(|byte| **byte != b'.').count();
            (0..=run).any(|taken| wildcard_match(rest, &domain[taken..]))
        }
        Some((b'?', rest)) => !domain.is_empty() && wildcard_match(rest, &domain[1..]),
        Some((byte, rest)) => domain.first() == Some(byte) && wildcard_match(rest, &domain[1..]),
    }
}

/// Returns every address of every field `name`, lower-cased. The
/// pseudo-header `EnvelopeFrom` gives its one address.
pub(crate) fn header_addresses(message: &Prepared<'_>, name: &str) -> Vec<String> {
    let values = if name == "EnvelopeFrom" {
        message
            .header(name, HeaderForm::Decoded)
            .into_iter()
            .collect()
    } else {
        message.headers().values(name, HeaderForm::Decoded)
    };
    values
        .iter()
        .flat_map(|value| mailboxes(value))
        .filter(|(local, host)| !local.is_empty() && !host.is_empty())
        .map(|(local, host)| format!("{local}@{host}").to_ascii_lowercase())
        .collect()
}

/// Returns the addresses SpamAssassin's `all_from_addrs` collects: the
/// first Resent-From when there is one, otherwise From, Envelope-Sender,
/// Resent-Sender, X-Envelope-From and the envelope sender, with runs of
/// dots squeezed to one.
pub(crate) fn from_addresses(message: &Prepared<'_>) -> Vec<String> {
    let resent = header_addresses(message, "Resent-From");
    let mut emails = if let Some(first) = resent.into_iter().next() {
        vec![first]
    } else {
        [
            "From",
            "Envelope-Sender",
            "Resent-Sender",
            "X-Envelope-From",
            "EnvelopeFrom",
        ]
        .iter()
        .flat_map(|name| header_addresses(message, name))
        .collect()
    };
    for email in &mut emails {
        while email.contains("..") {
            *email = email.replace("..", ".");
        }
    }
    emails.sort();
    emails.dedup();
    emails
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{load, LoadOptions, MemorySource};
    use std::path::PathBuf;

    fn freemail(text: &str) -> FreeMail {
        let source = MemorySource::new([("/t.cf", text)]);
        let model = load(&source, &[PathBuf::from("/t.cf")], LoadOptions::default()).unwrap();
        FreeMail::from_model(&model).unwrap()
    }

    #[test]
    fn freemail_addresses_table() {
        let lists = freemail(
            "freemail_domains gmail.com yahoo.* mail?.example\n\
             freemail_domains hotmail.com\n\
             freemail_welcomelist friend@hotmail.com\n",
        );
        let cases = [
            ("jane@gmail.com", true),
            ("jane@yahoo.co.uk", false),
            ("jane@yahoo.fr", true),
            ("jane@mail1.example", true),
            ("jane@mail12.example", false),
            ("jane@hotmail.com", true),
            ("friend@hotmail.com", false),
            ("postmaster@gmail.com", false),
            ("bounce-123@gmail.com", false),
            ("jane@example.com", false),
            ("no-at-sign", false),
        ];
        for (email, expected) in cases {
            assert_eq!(lists.is_freemail(email), expected, "{email}");
        }
    }

    #[test]
    fn no_freemail_domains_turns_plugin_off() {
        let source = MemorySource::new([("/t.cf", "body A /a/\n")]);
        let model = load(&source, &[PathBuf::from("/t.cf")], LoadOptions::default()).unwrap();
        assert!(FreeMail::from_model(&model).is_none());
    }

    #[test]
    fn from_and_header_evals() {
        let lists = freemail("freemail_domains gmail.com\n");
        let message =
            b"From: Jane <Jane7@GMail.com>\nReply-To: boss@example.com\nSubject: x\n\nhi\n";
        let prepared = Prepared::new(message);
        let call = |function: &str, args: &[&str]| {
            let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
            lists.evaluate(function, &args, &prepared)
        };
        assert_eq!(call("check_freemail_from", &[]), Some(true));
        assert_eq!(call("check_freemail_from", &[r"\d@"]), Some(true));
        assert_eq!(call("check_freemail_from", &[r"^x"]), Some(false));
        assert_eq!(call("check_freemail_header", &["Reply-To"]), Some(false));
        assert_eq!(
            call("check_freemail_header", &["From:addr", r"\d@"]),
            Some(true)
        );
        assert_eq!(call("check_freemail_header", &["X-Missing"]), Some(false));
        // Reply-To is not freemail, so the replyto check stops there.
        assert_eq!(call("check_freemail_replyto", &["replyto"]), Some(false));
    }

    /// Evaluates `function` with `args` on `message` under lists that know
    /// gmail.com and yahoo.com and the top-level domain com.
    fn body_call(message: &str, function: &str, args: &[&str]) -> Option<bool> {
        let lists = freemail("freemail_domains gmail.com yahoo.com\nutil_rb_tld com net org\n");
        let prepared = Prepared::new(message.as_bytes());
        let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
        lists.evaluate(function, &args, &prepared)
    }

    #[test]
    fn replyto_evals_table() {
        // (message, option, expected)
        let cases: &[(&str, &str, bool)] = &[
            // Different freemails in From and Reply-To.
            ("From: a@gmail.com\nReply-To: b@yahoo.com\n\nhi\n", "replyto", true),
            // The same address in both.
            ("From: a@gmail.com\nReply-To: A@gmail.com\n\nhi\n", "replyto", false),
            // Freemail Reply-To, and a different freemail in the body.
            (
                "From: a@example.com\nReply-To: b@yahoo.com\n\nwrite to c@gmail.com now\n",
                "replyto",
                true,
            ),
            // The body address is a quoted correspondent.
            (
                "From: a@example.com\nReply-To: b@yahoo.com\n\nc@gmail.com wrote:\n",
                "replyto",
                false,
            ),
            // `reply` compares a freemail From with the body.
            ("From: a@gmail.com\n\ncontact c@yahoo.com\n", "reply", true),
            ("From: a@gmail.com\n\ncontact c@yahoo.com\n", "replyto", false),
            // A non-freemail Reply-To stops `reply`.
            (
                "From: a@gmail.com\nReply-To: x@example.com\n\ncontact c@yahoo.com\n",
                "reply",
                false,
            ),
            // A bulk envelope sender skips the check.
            (
                "X-Envelope-From: owner-list@example.com\nFrom: a@gmail.com\nReply-To: b@yahoo.com\n\nhi\n",
                "replyto",
                false,
            ),
            // Five addresses in the body skip the body comparison.
            (
                "From: a@example.com\nReply-To: b@yahoo.com\n\nc@gmail.com d@x.com e@x.com f@x.com g@x.com\n",
                "replyto",
                false,
            ),
        ];
        for (message, option, expected) in cases {
            assert_eq!(
                body_call(message, "check_freemail_replyto", &[option]),
                Some(*expected),
                "{option}: {message}"
            );
        }
    }

    #[test]
    fn body_eval_reads_text_and_mailto_links() {
        let text = "From: a@example.com\n\nmy address is jane7@gmail.com\n";
        assert_eq!(body_call(text, "check_freemail_body", &[]), Some(true));
        assert_eq!(
            body_call(text, "check_freemail_body", &[r"\d@"]),
            Some(true)
        );
        assert_eq!(
            body_call(text, "check_freemail_body", &[r"^x"]),
            Some(false)
        );

        let html = "From: a@example.com\nContent-Type: text/html\n\n\
                    <html><body><a href=\"mailto:jane@yahoo.com\">write</a></body></html>\n";
        assert_eq!(body_call(html, "check_freemail_body", &[]), Some(true));
        let plain = "From: a@example.com\n\nnothing here\n";
        assert_eq!(body_call(plain, "check_freemail_body", &[]), Some(false));
    }
}
