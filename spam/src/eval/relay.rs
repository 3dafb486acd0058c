//! Relay evals after SpamAssassin 4.0.1's Plugin/RelayEval.pm that compare
//! the hosts of neighbouring untrusted relays.

use crate::prepare::Prepared;

use super::matches_perl;

/// A host name with at least two labels and a first label of two or more
/// characters, as RelayEval.pm checks before comparing names.
const DOTTED_HOST: &str = r"^\w+(?:[\w.-]+\.)+\w+$";

/// Returns the domain RelayEval.pm's `hostname_to_domain` compares for
/// `hostname`: the last two labels when the last one has three or more
/// characters (or contains `ie`, `fr` or `de`), else the last three. A
/// name without letters, such as an IP address, stays as it is.
fn hostname_to_domain(hostname: &str) -> String {
    if !hostname.bytes().any(|byte| byte.is_ascii_alphabetic()) {
        return hostname.to_string();
    }
    // Perl's split drops empty fields at the end, but keeps them elsewhere.
    let mut labels: Vec<&str> = hostname.split('.').collect();
    while labels.last().is_some_and(|label| label.is_empty()) {
        labels.pop();
    }
    let Some(last) = labels.last() else {
        return hostname.to_string();
    };
    // The Perl test is an unanchored match, so a longer label that merely
    // contains "ie", "fr" or "de" counts too.
    let long_or_listed =
        matches_perl(r"\S{3}", last) || ["ie", "fr", "de"].iter().any(|cc| last.contains(cc));
    if labels.len() > 1 && long_or_listed {
        labels[labels.len() - 2..].join(".")
    } else if labels.len() > 2 {
        labels[labels.len() - 3..].join(".")
    } else {
        hostname.to_string()
    }
}

/// Returns whether two or more untrusted relays were received by a host in
/// another domain than the reverse DNS name that the next newer relay
/// recorded for them (`check_for_forged_received_trail`). In an honest
/// trail each receiving host is the client of the hop above it.
///
/// As in RelayEval.pm, a receiving host that is not a dotted name is
/// skipped, and a client named localhost at 127.0.0.1 is not compared with
/// the relay below it. A hotmail.com client received by msn.com is allowed.
pub fn forged_received_trail(message: &Prepared<'_>) -> bool {
    let relays = message.headers().relay_chain().untrusted();
    let mut client_domains: Vec<Option<String>> = relays
        .iter()
        .map(|relay| Some(hostname_to_domain(&relay.rdns.to_lowercase())))
        .collect();

    let mut mismatches = 0;
    for (index, relay) in relays.iter().enumerate() {
        let by = hostname_to_domain(&relay.by.to_lowercase());
        if !matches_perl(DOTTED_HOST, &by) {
            continue;
        }

        let is_localhost = client_domains[index]
            .as_deref()
            .is_some_and(|domain| matches!(domain, "localhost" | "localhost.localdomain"));
        if is_localhost && relay.ip == "127.0.0.1" {
            client_domains[index] = None;
        }

        let Some(previous) = index
            .checked_sub(1)
            .and_then(|previous| client_domains[previous].as_deref())
        else {
            continue;
        };
        let allowed = by == "msn.com" && previous == "hotmail.com";
        if matches_perl(DOTTED_HOST, previous) && by != previous && !allowed {
            mismatches += 1;
        }
    }
    mismatches > 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostname_to_domain_table() {
        // (host name, domain compared)
        let cases = [
            ("mail.relay.example.net", "example.net"),
            ("example.com", "example.com"),
            ("mx1.example.co.uk", "example.co.uk"),
            ("www.example.ie", "example.ie"),
            ("smtp.example.fr", "example.fr"),
            // "es" is neither long nor listed, so three labels stay.
            ("smtp.mail.example.es", "mail.example.es"),
            ("example.uk", "example.uk"),
            ("192.0.2.7", "192.0.2.7"),
            ("localhost", "localhost"),
            ("mail.example.com.", "example.com"),
            ("", ""),
        ];
        for (hostname, expected) in cases {
            assert_eq!(hostname_to_domain(hostname), expected, "{hostname}");
        }
    }

    #[test]
    fn dotted_host_needs_two_character_first_label() {
        // (name, whether RelayEval.pm compares it)
        let cases = [
            ("example.com", true),
            ("ab.c", true),
            ("x.com", false),
            ("localhost", false),
            ("", false),
            ("192.0.2.7", true),
        ];
        for (name, expected) in cases {
            assert_eq!(matches_perl(DOTTED_HOST, name), expected, "{name}");
        }
    }
}
