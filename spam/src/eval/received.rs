//! Evals after SpamAssassin 4.0.1's Plugin/HeaderEval.pm that look for
//! Received fields forged to look like a large mail provider's (Hotmail,
//! Eudora webmail, Juno, Gmail, AOL), and for lists that remove Received
//! fields.
//!
//! These tests read the Received fields as text rather than the relay
//! chain. `perl_get` rebuilds the text SpamAssassin's scalar `get` returns:
//! every decoded value followed by a newline. Most tests then collapse each
//! run of white space into one space, which [`squashed`] does.

use crate::prepare::{HeaderForm, Prepared};

use super::header::gated_through_received_remover;
use super::matches_perl;

/// An IPv4 or IPv6 address in the text forms that SpamAssassin 4.0.1's
/// `IP_ADDRESS` (Mail::SpamAssassin::Constants) accepts. IPv4 is a dotted
/// quad not after a colon. IPv6 may have an `IPv6:` prefix and is written
/// in full, shortened with `::`, or ends in an IPv4 address.
const IP_ADDRESS: &str = concat!(
    r"(?:\b(?<!:)(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}\b",
    r"|(?i:(?:IPv6:|(?<![a-f0-9:]))(?:",
    // The six-group prefixes of an IPv4-mapped address, then the IPv4 part.
    r"(?:(?:[a-f0-9]{1,4}:){6}|::(?:[a-f0-9]{1,4}:){0,5}|(?:[a-f0-9]{1,4}:){1,5}:",
    r"|[a-f0-9]{1,4}::(?:[a-f0-9]{1,4}:){1,4}|(?:[a-f0-9]{1,4}:){2}:(?:[a-f0-9]{1,4}:){1,3}",
    r"|(?:[a-f0-9]{1,4}:){3}:(?:[a-f0-9]{1,4}:){1,2}|(?:[a-f0-9]{1,4}:){4}:[a-f0-9]{1,4}:)",
    r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}",
    // Pure IPv6: eight groups, or fewer around one "::".
    r"|(?:[a-f0-9]{1,4}:){7}[a-f0-9]{1,4}|:(?::[a-f0-9]{1,4}){1,7}|(?:[a-f0-9]{1,4}:){1,7}:",
    r"|[a-f0-9]{1,4}:(?::[a-f0-9]{1,4}){1,6}|(?:[a-f0-9]{1,4}:){2}(?::[a-f0-9]{1,4}){1,5}",
    r"|(?:[a-f0-9]{1,4}:){3}(?::[a-f0-9]{1,4}){1,4}|(?:[a-f0-9]{1,4}:){4}(?::[a-f0-9]{1,4}){1,3}",
    r"|(?:[a-f0-9]{1,4}:){5}(?::[a-f0-9]{1,4}){1,2}|(?:[a-f0-9]{1,4}:){6}:[a-f0-9]{1,4}",
    r"|::)(?![a-f0-9:])))",
);

/// Returns whether `pattern`, with `{IP}` standing for [`IP_ADDRESS`],
/// matches `text`.
fn matches_with_ip(pattern: &str, text: &str) -> bool {
    matches_perl(&pattern.replace("{IP}", IP_ADDRESS), text)
}

/// Returns every value of field `name`, decoded and each followed by a
/// newline, as SpamAssassin's scalar `get` does, or `None` when the field
/// is missing.
fn perl_get(message: &Prepared<'_>, name: &str) -> Option<String> {
    let values = message.headers().values(name, HeaderForm::Decoded);
    if values.is_empty() {
        return None;
    }
    Some(values.iter().map(|value| format!("{value}\n")).collect())
}

/// Returns `text` with each run of white space replaced by one space.
fn squashed(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_space = false;
    for character in text.chars() {
        if character.is_whitespace() {
            if !in_space {
                out.push(' ');
            }
            in_space = true;
        } else {
            out.push(character);
            in_space = false;
        }
    }
    out
}

/// Returns the first address of the From field, or empty.
fn from_address(message: &Prepared<'_>) -> String {
    message.header("From", HeaderForm::Addr).unwrap_or_default()
}

/// Returns whether field `name` exists and contains an IP address.
fn has_ip_address(message: &Prepared<'_>, name: &str) -> bool {
    perl_get(message, name).is_some_and(|value| matches_with_ip("{IP}", &value))
}

/// Returns whether the Received fields were removed on the way
/// (`gated_through_received_hdr_remover`): by an ezmlm list, by MSN
/// groups, or because there are none.
pub fn gated_through_received_hdr_remover(message: &Prepared<'_>) -> bool {
    let received = message.header("Received", HeaderForm::Decoded);
    gated_through_received_remover(message, received.as_deref())
}

/// The two results of HeaderEval.pm's Hotmail test, which share one pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HotmailReceived {
    /// A Received field names a hotmail.com host, but none has the shape
    /// of Hotmail's servers (`check_for_forged_hotmail_received_headers`).
    pub forged: bool,
    /// The From address is at hotmail.com, and no Received field names a
    /// hotmail.com host (`check_for_no_hotmail_received_headers`).
    pub missing: bool,
}

/// Received shapes of Hotmail and Outlook.com servers, each paired with
/// the field that must back it: `true` for an X-Originating-IP with an
/// address, `false` for an X-OriginatorOrg naming Hotmail or Outlook.
const HOTMAIL_RECEIVED_SHAPES: [(&str, bool); 6] = [
    (
        r"from (?:\S*\.)?hotmail.com \(\S+\.hotmail(?:\.msn)?\.com[ \)]",
        true,
    ),
    (
        r"from \S*\.outbound\.protection\.outlook\.com \(\S+\.outbound\.protection\.outlook\.com[ \)]",
        false,
    ),
    (
        r"from \S*\.(?:eur|nam)prd\d+\.prod\.outlook\.com \({IP}\)",
        false,
    ),
    (r"from \S*\.hotmail.com \(\[{IP}\][ \):]", true),
    (r"from \S+ by \S+\.hotmail(?:\.msn)?\.com with HTTP\;", true),
    (r"from \[66\.218.\S+\] by \S+\.yahoo\.com", true),
];

/// Runs HeaderEval.pm's Hotmail test. Neither result is set for mail that
/// Hotmail's pickup service or MSN groups sent, or for mail whose Received
/// fields were removed. Neither is set either when a Received field has
/// the shape of Hotmail's or Outlook.com's servers and the matching origin
/// field backs it. The unescaped dots of the Perl patterns are kept.
pub fn hotmail_received(message: &Prepared<'_>) -> HotmailReceived {
    let none = HotmailReceived::default();
    let received = squashed(&perl_get(message, "Received").unwrap_or_default());
    if received.contains("from mail pickup service by hotmail.com with Microsoft SMTPSVC;") {
        return none;
    }
    if msn_groups(message) {
        return none;
    }

    let has_ip = has_ip_address(message, "X-Originating-Ip");
    let has_org = perl_get(message, "X-OriginatorOrg")
        .is_some_and(|org| matches_perl(r"hotmail\.com|msonline\-outlook", &org));
    if gated_through_received_hdr_remover(message) {
        return none;
    }
    let backed_shape = HOTMAIL_RECEIVED_SHAPES.iter().any(|(shape, needs_ip)| {
        let backed = if *needs_ip { has_ip } else { has_org };
        backed && matches_with_ip(shape, &received)
    });
    if backed_shape {
        return none;
    }

    if matches_perl(r"(?:from |HELO |helo=)\S*hotmail\.com\b", &received) {
        return HotmailReceived {
            forged: true,
            missing: false,
        };
    }
    HotmailReceived {
        forged: false,
        missing: matches_perl(r"(?i)\bhotmail\.com$", &from_address(message)),
    }
}

/// Returns the list name `NAME` of the first `<NAME@groups.msn.com>` in
/// `to`, ignoring case, with the longest name the non-space run allows.
fn msn_group_list_name(to: &str) -> Option<&str> {
    const SUFFIX: &str = "@groups.msn.com>";
    to.match_indices('<').find_map(|(at, _)| {
        let after = &to[at + 1..];
        let run = &after[..after.find(char::is_whitespace).unwrap_or(after.len())];
        let lower = run.to_ascii_lowercase();
        lower
            .rfind(SUFFIX)
            .filter(|&end| end > 0)
            .map(|end| &run[..end])
    })
}

/// Returns the `pNN.groups.msn.com` server of the first Received text
/// "from mail pickup service by pNN.groups.msn.com" that ends at a word
/// boundary.
fn msn_pickup_server(received: &str) -> Option<&str> {
    const LEAD: &str = "from mail pickup service by ";
    received.match_indices(LEAD).find_map(|(at, _)| {
        let start = at + LEAD.len();
        let rest = &received.as_bytes()[start..];
        let digits = rest.get(1..3)?;
        let server_len = "p00.groups.msn.com".len();
        let shaped = rest.first() == Some(&b'p')
            && digits.iter().all(u8::is_ascii_digit)
            && rest.get(3..server_len) == Some(&b".groups.msn.com"[..]);
        let at_boundary = rest
            .get(server_len)
            .is_none_or(|next| !(next.is_ascii_alphanumeric() || *next == b'_'));
        (shaped && at_boundary).then(|| &received[start..start + server_len])
    })
}

/// Returns whether `text` starts with `prefix`, followed by a run of one
/// or more non-space characters and then `suffix`.
fn starts_with_then_contains(text: &str, prefix: &str, suffix: &str) -> bool {
    let Some(rest) = text.strip_prefix(prefix) else {
        return false;
    };
    let run = &rest[..rest.find(char::is_whitespace).unwrap_or(rest.len())];
    run.match_indices(suffix).any(|(at, _)| at > 0)
}

/// Returns whether the message came from an MSN group
/// (HeaderEval.pm's `check_for_msn_groups_headers`): To names a group,
/// MSN's pickup service wrote a Received field, and the Message-ID (and,
/// for a list other than "notifications", the envelope sender) is the
/// group's.
///
/// NOTE: the Perl puts the list name and server into its regexes without
/// quoting them, so a `.` in them matches any character there. Here they
/// compare as plain text.
fn msn_groups(message: &Prepared<'_>) -> bool {
    let to = perl_get(message, "To").unwrap_or_default();
    let Some(list) = msn_group_list_name(&to) else {
        return false;
    };
    let received = perl_get(message, "Received").unwrap_or_default();
    let Some(server) = msn_pickup_server(&received) else {
        return false;
    };
    let message_id = perl_get(message, "Message-Id").unwrap_or_default();
    if list == "notifications" {
        return starts_with_then_contains(&message_id, "<", &format!("@{server}>"));
    }
    let envelope_from = message
        .header("EnvelopeFrom", HeaderForm::Addr)
        .unwrap_or_default();
    starts_with_then_contains(&message_id, &format!("<{list}-"), "@groups.msn.com>")
        && envelope_from.contains(&format!("{list}-bounce@groups.msn.com"))
}

/// Returns whether a From address at eudoramail.com came without the
/// Received field of Eudora's webmail servers (whowhere.com) and an
/// X-Sender-Ip field with an address
/// (`check_for_forged_eudoramail_received_headers`).
pub fn forged_eudoramail_received(message: &Prepared<'_>) -> bool {
    if !matches_perl(r"(?i)\beudoramail\.com$", &from_address(message)) {
        return false;
    }
    let received = squashed(&perl_get(message, "Received").unwrap_or_default());
    let has_ip = has_ip_address(message, "X-Sender-Ip");
    if gated_through_received_hdr_remover(message) {
        return false;
    }
    !(has_ip && matches_perl(r"by \S*whowhere.com\;", &received))
}

/// Returns whether a From address at juno.com came without the Received
/// and X-Mailer fields of Juno's servers
/// (`check_for_forged_juno_received_headers`).
///
/// Without an X-Originating-IP field this always returns true, as the
/// Perl does: its last check looks for an address in that empty field.
pub fn forged_juno_received(message: &Prepared<'_>) -> bool {
    if !matches_perl(r"(?i)\bjuno\.com$", &from_address(message)) {
        return false;
    }
    if gated_through_received_hdr_remover(message) {
        return false;
    }
    let originating_ip = perl_get(message, "X-Originating-IP").unwrap_or_default();
    let mailer = perl_get(message, "X-Mailer").unwrap_or_default();
    let received = perl_get(message, "Received").unwrap_or_default();

    if !originating_ip.is_empty() {
        let juno_relay = matches_with_ip(
            r"from.*\b(?:juno|untd)\.com.*[\[\(]{IP}[\]\)].*by",
            &received,
        ) || matches_perl(r" cookie\.(?:juno|untd)\.com ", &received);
        return !juno_relay || !mailer.contains("Juno ");
    }
    if matches_with_ip(r"from.*\bmail\.com.*\[{IP}\].*by", &received) {
        if !matches_perl(r"\bmail\.com", &mailer) {
            return true;
        }
    } else if matches_with_ip(
        r"from (webmail\S+\.untd\.com) \(\1 \[{IP}\]\) by",
        &received,
    ) {
        if !matches_perl(r"^Webmail Version \d", &mailer) {
            return true;
        }
    } else {
        return true;
    }
    // The X-Originating-IP field is empty on this path, so it never
    // contains an address.
    !matches_with_ip("{IP}", &originating_ip)
}

/// Minimum length of X-Gm-Message-State and X-Google-Smtp-Source, counted
/// as SpamAssassin does with the newline after each value, for mail that
/// Gmail sent (HeaderEval.pm).
const GOOGLE_FIELD_LEN_MIN: usize = 60;

/// Returns whether a From address at gmail.com came without the
/// X-Received, Received or X-Gm-Message-State and X-Google-Smtp-Source
/// fields that Gmail's servers add (`check_for_forged_gmail_received_headers`).
pub fn forged_gmail_received(message: &Prepared<'_>) -> bool {
    if !matches_perl(r"(?i)\bgmail\.com$", &from_address(message)) {
        return false;
    }
    let field = |name: &str| perl_get(message, name).unwrap_or_default();
    let x_received = field("X-Received");
    if matches_perl(r"by 10\.\S+ with SMTP id \S+", &x_received)
        || matches_perl(r"by 2002\:a\d\d\:\w+\:\S+ with SMTP id \S+", &x_received)
    {
        return false;
    }
    if matches_perl(
        r"by smtp\.googlemail\.com with ESMTPSA id \S+",
        &field("Received"),
    ) {
        return false;
    }
    let long = |name: &str| field(name).chars().count() >= GOOGLE_FIELD_LEN_MIN;
    !(long("X-Gm-Message-State") && long("X-Google-Smtp-Source"))
}

/// Returns whether a Received field names a host in AOL's relay format
/// (`rly-xx00.`, in any domain) that AOL's own relays did not write
/// (`check_for_fake_aol_relay_in_rcvd`).
pub fn fake_aol_relay(message: &Prepared<'_>) -> bool {
    let received = squashed(&perl_get(message, "Received").unwrap_or_default());
    if !matches_perl(r"(?i) rly-[a-z][a-z]\d\d\.", &received) {
        return false;
    }
    let aol_written = matches_perl(r"/AOL-\d+\.\d+\.\d+\)", &received)
        || matches_perl(r"ESMTP id (?:RELAY|MAILRELAY|MAILIN)", &received);
    !aol_written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_address_pattern_forms() {
        // (text, whether it contains an address)
        let cases = [
            ("192.0.2.7", true),
            ("[192.0.2.7]", true),
            ("fe80::1", true),
            ("::", true),
            ("::ffff:192.0.2.7", true),
            ("2001:db8:0:0:0:0:0:1", true),
            ("IPv6:2001:db8::5", true),
            ("256.1.1.1", false),
            ("13:53:39", false),
            ("dead:beef", false),
            ("unknown", false),
            ("", false),
        ];
        for (text, expected) in cases {
            assert_eq!(matches_with_ip("{IP}", text), expected, "{text}");
        }
    }

    #[test]
    fn msn_group_list_name_takes_longest_run() {
        assert_eq!(
            msn_group_list_name("\"List\" <MyList@Groups.MSN.com>\n"),
            Some("MyList")
        );
        assert_eq!(msn_group_list_name("<@groups.msn.com>"), None);
        assert_eq!(msn_group_list_name("list@groups.msn.com"), None);
    }

    #[test]
    fn msn_pickup_server_needs_numbered_host() {
        let numbered = "from mail pickup service by p04.groups.msn.com with Microsoft SMTPSVC;";
        assert_eq!(msn_pickup_server(numbered), Some("p04.groups.msn.com"));
        let plain = "from mail pickup service by groups.msn.com with Microsoft SMTPSVC;";
        assert_eq!(msn_pickup_server(plain), None);
        let longer = "from mail pickup service by p04.groups.msn.community";
        assert_eq!(msn_pickup_server(longer), None);
    }

    #[test]
    fn squashed_keeps_one_space_per_run() {
        assert_eq!(squashed("a \n\tb\n"), "a b ");
    }
}
