//! The relay chain of a message: its Received fields parsed into relays,
//! split into trusted and untrusted, internal and external, as
//! SpamAssassin 4.0.1's `Message::Metadata::Received` does (read from its
//! Perl source), for the pseudo-headers `X-Spam-Relays-Trusted`,
//! `-Untrusted`, `-Internal` and `-External`.
//!
//! [`parse_received`] reads one unfolded Received value into a [`Relay`]
//! (IP address, reverse DNS name, HELO name, receiving host, ident,
//! envelope sender, queue id, authentication). It recognises the common
//! shapes of Exim, Postfix, qmail, qpsmtpd, sendmail, SMTPD32 and
//! SquirrelMail's webmail hop, then falls back to
//! the first bracketed IP address. [`RelayChain::new`] parses every Received
//! field, newest first, plus the originating-IP fields of webmail systems,
//! which SpamAssassin treats as the oldest hop.
//!
//! Trust follows SpamAssassin's inference when `trusted_networks` is not
//! set, which is the case for Ringmail: relays stay trusted, and internal,
//! while each one has a private IP address or names an authentication
//! method. The first relay without either, and every older one, is
//! untrusted and external.
//!
//! NOTE: SpamAssassin recognises about a hundred Received shapes; the
//! ones here cover the mail servers common in the SpamAssassin public
//! corpus. Other shapes parse through the fallback, so their rdns and
//! HELO fields can be empty where SpamAssassin fills them.

use std::sync::OnceLock;

use fancy_regex::Regex;

use super::headers::{HeaderForm, Headers};

/// Maximum Received fields parsed per message, because each one runs a
/// list of regexes. Mail that crossed more hops is looping; SpamAssassin
/// has no such limit, so relays past it are left out.
pub const RECEIVED_FIELDS_MAX: usize = 100;

/// Maximum bytes of one unfolded Received value that is parsed. Longer
/// values are cut, because a shape regex may scan the value several times.
pub const RECEIVED_LEN_MAX: usize = 4_096;

/// Fields whose value names the client IP address of a webmail or
/// submission hop, as set by `originating_ip_headers` in SpamAssassin
/// 4.0.1's `10_default_prefs.cf`.
const ORIGINATING_IP_FIELDS: [&str; 6] = [
    "X-Yahoo-Post-IP",
    "X-Originating-IP",
    "X-Apparently-From",
    "X-SenderIP",
    "X-AOL-IP",
    "X-MS-Exchange-CrossTenant-OriginalAttributedTenantConnectingIp",
];

/// One hop of the relay chain, with SpamAssassin's field names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Relay {
    pub ip: String,
    /// Reverse DNS name of `ip` as the receiving server recorded it, or
    /// empty when it recorded none.
    pub rdns: String,
    pub helo: String,
    /// The receiving server.
    pub by: String,
    pub ident: String,
    pub envfrom: String,
    pub id: String,
    /// Authentication method, or empty.
    pub auth: String,
    /// Whether the receiving server looked up the reverse DNS name and
    /// found none: `rdns` is empty and the field's shape is one whose
    /// server always records the name it finds (SpamAssassin's
    /// `no_reverse_dns`). An empty `rdns` from other shapes is not evidence
    /// either way.
    pub no_reverse_dns: bool,
}

impl Relay {
    /// Formats the relay as SpamAssassin writes it in `X-Spam-Relays-*`.
    pub fn to_field_text(&self, internal: bool) -> String {
        format!(
            "[ ip={} rdns={} helo={} by={} ident={} envfrom={} intl={} id={} auth={} msa=0 ]",
            self.ip,
            self.rdns,
            self.helo,
            self.by,
            self.ident,
            self.envfrom,
            u8::from(internal),
            self.id,
            self.auth
        )
    }

    /// Returns whether `ip` is in a private, loopback, link-local or
    /// carrier-grade NAT range, which SpamAssassin trusts by inference.
    fn has_private_ip(&self) -> bool {
        is_private_ip(&self.ip)
    }
}

/// Returns whether the address `text` is in a private, loopback,
/// link-local or carrier-grade NAT range, as SpamAssassin's `IP_PRIVATE`
/// lists them. Text that is not an address is not private.
pub fn is_private_ip(text: &str) -> bool {
    match text.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => {
            let [first, second, ..] = ip.octets();
            ip.is_private()
                || ip.is_loopback()
                || ip.is_link_local()
                || (first == 100 && (64..128).contains(&second))
        }
        Ok(std::net::IpAddr::V6(ip)) => {
            let head = ip.segments()[0];
            ip.is_loopback() || (head & 0xffc0) == 0xfe80 || (head & 0xfe00) == 0xfc00
        }
        Err(_) => false,
    }
}

/// The parsed relays of one message, oldest last, with the number that
/// are trusted (and internal) from the top.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelayChain {
    relays: Vec<Relay>,
    trusted: usize,
    /// Index of the last Received field, counted from the top and from 0,
    /// that is in the trusted part, or -1. Fields that do not parse count
    /// while the chain is still trusted, as SpamAssassin counts them for
    /// `ALL-TRUSTED` and `ALL-EXTERNAL`.
    last_trusted_index: i64,
    /// Received fields that neither gave a relay nor are a kind
    /// SpamAssassin skips on purpose (see [`Parsed::Unparseable`]).
    unparseable: usize,
}

/// The four relay pseudo-headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelaySet {
    Trusted,
    Untrusted,
    Internal,
    External,
}

impl RelaySet {
    /// Returns the set whose header fields `ALL-TRUSTED`, `ALL-UNTRUSTED`,
    /// `ALL-INTERNAL` or `ALL-EXTERNAL` name.
    pub fn from_all_name(name: &str) -> Option<RelaySet> {
        match name {
            "ALL-TRUSTED" => Some(RelaySet::Trusted),
            "ALL-UNTRUSTED" => Some(RelaySet::Untrusted),
            "ALL-INTERNAL" => Some(RelaySet::Internal),
            "ALL-EXTERNAL" => Some(RelaySet::External),
            _ => None,
        }
    }

    /// Returns the set a pseudo-header name (any case) stands for.
    pub fn from_field(name: &str) -> Option<RelaySet> {
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            "x-spam-relays-trusted" => Some(RelaySet::Trusted),
            "x-spam-relays-untrusted" => Some(RelaySet::Untrusted),
            "x-spam-relays-internal" => Some(RelaySet::Internal),
            "x-spam-relays-external" => Some(RelaySet::External),
            _ => None,
        }
    }
}

impl RelayChain {
    /// Parses the Received fields of `headers`, newest first, then the
    /// originating-IP fields.
    pub fn new(headers: &Headers<'_>) -> RelayChain {
        let mut chain = RelayChain {
            last_trusted_index: -1,
            ..RelayChain::default()
        };
        for value in headers
            .values("Received", HeaderForm::Raw)
            .into_iter()
            .take(RECEIVED_FIELDS_MAX)
        {
            let in_trusted = chain.trusted == chain.relays.len();
            let parsed = parse(&value);
            if let Parsed::Relay(relay) = parsed {
                chain.push(relay);
                if chain.trusted == chain.relays.len() {
                    chain.last_trusted_index += 1;
                }
                continue;
            }
            if in_trusted {
                chain.last_trusted_index += 1;
            }
            if parsed == Parsed::Unparseable {
                chain.unparseable += 1;
            }
            if parsed == Parsed::FetchMarker {
                chain.restart_at_fetch_marker();
            }
        }
        for field in ORIGINATING_IP_FIELDS {
            let Some(value) = headers.get(field, HeaderForm::Raw) else {
                continue;
            };
            if let Some(ip) = first_ipv4(&value) {
                chain.push(Relay {
                    ip,
                    ..Relay::default()
                });
            }
        }
        chain
    }

    /// Appends the next older relay. It is trusted while every newer one
    /// is and it has a private IP address or an authentication method.
    fn push(&mut self, relay: Relay) {
        let all_trusted = self.trusted == self.relays.len();
        if all_trusted && (relay.has_private_ip() || !relay.auth.is_empty()) {
            self.trusted += 1;
        }
        self.relays.push(relay);
    }

    /// Handles a POP3 or IMAP fetch hop (fetchmail's Received field): the
    /// relays above it belong to the local delivery after the fetch, so
    /// they are dropped while all of them are trusted, as SpamAssassin
    /// does. Below an untrusted relay the marker is ignored.
    fn restart_at_fetch_marker(&mut self) {
        if self.trusted == self.relays.len() {
            self.relays.clear();
            self.trusted = 0;
        }
    }

    /// Returns the number of trusted relays.
    pub fn trusted_count(&self) -> usize {
        self.trusted
    }

    /// Returns the number of Received fields that could not be parsed
    /// (SpamAssassin's `num_relays_unparseable`). Fields SpamAssassin
    /// skips on purpose, such as local submissions, do not count, and
    /// unlike the relays this count is not reset by a fetchmail marker.
    pub fn unparseable_count(&self) -> usize {
        self.unparseable
    }

    /// Returns the number of untrusted relays.
    pub fn untrusted_count(&self) -> usize {
        self.relays.len() - self.trusted
    }

    /// Returns the trusted relays, newest first.
    pub fn trusted(&self) -> &[Relay] {
        &self.relays[..self.trusted]
    }

    /// Returns the untrusted relays, newest first.
    pub fn untrusted(&self) -> &[Relay] {
        &self.relays[self.trusted..]
    }

    /// Returns whether the message has no relay at all.
    pub fn is_empty(&self) -> bool {
        self.relays.is_empty()
    }

    /// Returns the index of the last trusted Received field (see the
    /// field's doc), or -1 when the first one is untrusted.
    pub fn last_trusted_index(&self) -> i64 {
        self.last_trusted_index
    }

    /// Returns the envelope sender recorded by the newest untrusted relay,
    /// or by the oldest trusted one when all are trusted, if it recorded
    /// one.
    pub fn last_hop_envelope_from(&self) -> Option<&str> {
        let last_hop = if self.trusted < self.relays.len() {
            self.relays.get(self.trusted)
        } else {
            self.trusted
                .checked_sub(1)
                .and_then(|index| self.relays.get(index))
        };
        last_hop
            .map(|relay| relay.envfrom.as_str())
            .filter(|envfrom| !envfrom.is_empty())
    }

    /// Returns the value of the pseudo-header for `set`: its relays in
    /// SpamAssassin's text form, joined by spaces, or empty.
    pub fn field_text(&self, set: RelaySet) -> String {
        // Without trusted_networks, internal is the same split as trusted.
        let (range, internal) = match set {
            RelaySet::Trusted | RelaySet::Internal => (0..self.trusted, true),
            RelaySet::Untrusted | RelaySet::External => (self.trusted..self.relays.len(), false),
        };
        let texts: Vec<String> = self.relays[range]
            .iter()
            .map(|relay| relay.to_field_text(internal))
            .collect();
        texts.join(" ")
    }
}

/// A field of [`Relay`] that a shape's capture group fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Ip,
    Rdns,
    Helo,
    /// Both the rdns and the HELO name (qmail writes one name when the
    /// two agree).
    RdnsHelo,
    By,
    Ident,
    /// Text that may hold `helo=NAME` (Exim's comment).
    HeloComment,
}

/// Whether the server that writes a Received shape looks up the reverse
/// DNS name of the client, as SpamAssassin's `mta_looked_up_dns` records
/// per shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DnsLookup {
    /// Always, so an empty name means the client has none.
    Always,
    /// Not known, so an empty name is not evidence either way.
    Unknown,
    /// qmail: when the name is not `unknown`, which it writes both for a
    /// client without a name and when no lookup was passed to it.
    UnlessUnknown,
    /// sendmail-like, except courier's `softdnserr` for a failed lookup.
    UnlessSoftDnsError,
}

/// A Received shape: a regex over the value after "from ", the role of
/// each capture group, and whether its server looks up reverse DNS.
struct Shape {
    pattern: String,
    roles: &'static [Role],
    /// Text the value must contain for the shape to be tried.
    needs: Option<&'static str>,
    lookup: DnsLookup,
}

/// The IP address forms SpamAssassin's `IP_ADDRESS` covers: IPv4 dotted
/// quads, and IPv6 with an optional `IPv6:` prefix.
const IP: &str = r"(?:IPv6:[0-9A-Fa-f:.]+|[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:.]*:[0-9A-Fa-f.]+|\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})";

/// A compiled [`Shape`].
struct CompiledShape {
    regex: Regex,
    roles: &'static [Role],
    needs: Option<&'static str>,
    lookup: DnsLookup,
}

fn shapes() -> &'static [CompiledShape] {
    static SHAPES: OnceLock<Vec<CompiledShape>> = OnceLock::new();
    SHAPES.get_or_init(|| {
        use DnsLookup::*;
        use Role::*;
        let list = [
            // Webmail: "IP (SquirrelMail authenticated user NAME) by HOST
            // with HTTP".
            shape(
                r"^(?=.* \((?:SquirrelMail|NaSMail) authenticated user ).*?(IP)\b(?![.-]).{10,80}by (\S+) with HTTP",
                &[Ip, By],
                Some(" authenticated user "),
                Unknown,
            ),
            // Exim: "[IP] (helo=NAME) by", "RDNS ([IP] helo=NAME) by".
            shape(r"^\[(IP)\] \((.*?)\) by (\S+) ", &[Ip, HeloComment, By], Some("Exim"), Unknown),
            shape(r"^(\S+) \(\[(IP)\](.*?)\) by (\S+) ", &[RdnsHelo, Ip, HeloComment, By], Some("Exim"), Unknown),
            shape(r"^(\S+) \[(IP)\](?::\d+)? by (\S+) ", &[RdnsHelo, Ip, By], Some("Exim"), Unknown),
            // Postfix: "HELO (RDNS [IP]) by" and "HELO (RDNS[IP]) by".
            shape(r"^(\S+) \((\S+) ?\[(IP)\]\) by (\S+) ", &[Helo, Rdns, Ip, By], Some(" (Postfix) with"), Always),
            // sendmail, with an ident before the rdns and "(may be forged)".
            shape(r"^(\S+) \((\S+) \[(IP)\].*\) by (\S+) \(", &[Helo, Rdns, Ip, By], None, Always),
            shape(r"^(\S+) \((\S+) \[(IP)\]\) by (\S+) with \S+ \(", &[Helo, Rdns, Ip, By], None, Always),
            shape(r"^(\S+) \(\[(IP)\] helo=(\S+)\) by (\S+) with ", &[Rdns, Ip, Helo, By], None, Unknown),
            shape(r"^(\S+) \((\S+\.\S+)\[(IP)\]\) by (\S+) ", &[Helo, Rdns, Ip, By], None, Always),
            // sendmail with an ident and no rdns: "HELO (IDENT@[IP]) by".
            shape(r"^(\S+) \((\S*)@\[(IP)\].*\) by (\S+) \(", &[Helo, Ident, Ip, By], None, Always),
            // qpsmtpd and qmail: "RDNS (HELO NAME) (IDENT@IP) by".
            shape(r"^(\S+) \((?:HELO|EHLO) (\S*)\) \((IP)\) by (\S+) \(qpsmtpd/", &[Rdns, Helo, Ip, By], None, Unknown),
            shape(
                r"^(\S+) \((?:HELO|EHLO) ([^ ()]*)\) \((?:(\S*)@)?\[?(IP)\]?\)(?: \(envelope-sender <\S+>\))? by (\S+).* with (?:.* )?(?:SMTP|QMQP)(?! id )",
                &[Rdns, Helo, Ident, Ip, By],
                None, UnlessUnknown,
            ),
            shape(
                r"^(\S+) \((?:(\S*)@)?\[?(IP)\]?\)(?: \(envelope-sender <\S+>\))? by (\S+).* with (?:.* )?(?:SMTP|QMQP)(?! id )",
                &[RdnsHelo, Ident, Ip, By],
                None, UnlessUnknown,
            ),
            // sendmail: "HELO ([IP]) by", "HELO (RDNS [IP]) ... by".
            shape(r"^(\S+) \(\[(IP)\]\) by (\S+) \(", &[Helo, Ip, By], None, Always),
            shape(r"^(\S+) \((\S+) \[(IP)\]\).*? by (\S+)\b", &[Helo, Rdns, Ip, By], None, UnlessSoftDnsError),
            shape(r"^(\S+) \(\[(IP)(?:[.:]\d+)?\]\).*? by (\S+) ", &[Helo, Ip, By], None, Always),
            // Other qmail forms, without the protocol check.
            shape(
                r"^(\S+) \((?:HELO|EHLO) ([^)]*)\) \((?:(\S*)@)?\[?(IP)\]?\).* by (\S+) ",
                &[Rdns, Helo, Ident, Ip, By],
                None, Always,
            ),
            shape(r"^(\S+) \((?:(\S*)@)?\[?(IP)\]?\).* by (\S+) ", &[RdnsHelo, Ident, Ip, By], None, Always),
            shape(
                r"^(\S+) \((?:HELO|EHLO) (\S*)\) \((?:(\S+)@)?(IP).*?\) by (\S+) with ",
                &[Rdns, Helo, Ident, Ip, By],
                None, Always,
            ),
            // Bare addresses.
            shape(r"^\[(IP)\] by (\S+) ", &[Ip, By], None, Unknown),
            shape(r"^\(\[?(IP)\]?\) by (\S+) ", &[Ip, By], None, Unknown),
            shape(r"^(IP) by (\S+) with ", &[Ip, By], None, Unknown),
            shape(r"^(\S+) \((\S+)\[(IP)\]\) by (\S+) ", &[Helo, Rdns, Ip, By], None, Always),
            shape(r"^([^\d]\S+) \((IP)\) by (\S+) ", &[Helo, Ip, By], None, Unknown),
            // F-Secure and cp.net: "[IP]:PORT (HELO NAME) by", "IP (HELO NAME) by".
            shape(r"^\[(IP)\]\S+ \((?:HELO|EHLO) (\S*)\) by (\S+) ", &[Ip, Helo, By], None, Unknown),
            shape(r"^(IP) \((?:HELO|EHLO) (\S*)\) by (\S+) ", &[Ip, Helo, By], None, Unknown),
            // SMTPD32 and others: "HELO [IP] by HOST".
            shape(r"^(\S+) \[(IP)\] by (\S+) ", &[Helo, Ip, By], None, Unknown),
            // Servers of their own form, each named by a word Received.pm
            // looks for first.
            // AOL webmail: "IP by HOST (IP) with HTTP (WebMailUI)".
            shape(
                r"^(?=.*aol\.com).*?(IP) by (\S+) \(IP\) with HTTP \(WebMailUI\)",
                &[Ip, By],
                Some("(WebMailUI)"),
                Unknown,
            ),
            // XMail: "HELO (IP:PORT) by HOST [(IP:PORT)] with [XMail".
            shape(
                r"^(\S+) \((\[?IP\]?)(?::\d+)\) by (\S+)(?: \(\S+\))? with \[XMail",
                &[Helo, Ip, By],
                Some("[XMail "),
                Unknown,
            ),
            // ecelerity: "([IP:PORT] helo=NAME) by HOST", "X ([IP:PORT]) by HOST".
            shape(r"^\(\[(IP):\d+\] helo=(\S+)\) by (\S+) ", &[Ip, Helo, By], Some("(ecelerity"), Unknown),
            shape(r"^\S+ \(\[(IP):\d+\]\) by (\S+) ", &[Ip, By], Some("(ecelerity"), Unknown),
            // Scalix: "HELO ( IP) by HOST".
            shape(r"^(\S+) \( ?(IP)\) by (\S+)", &[Helo, Ip, By], Some("(Scalix SMTP Relay"), Unknown),
            // LMTP: "RDNS (LHLO NAME) (IP) by HOST with LMTP".
            shape(r"^(\S+) \(LHLO (\S*)\) \((IP)\) by (\S+) with LMTP", &[Rdns, Helo, Ip, By], None, Unknown),
            // smap: "RDNS(IP) by HOST via smap", "RDNS(IP, HELO NAME) by HOST via smap".
            shape(r"^(\S+)\((IP)\) by (\S+) via smap ", &[Rdns, Ip, By], Some(" via smap "), Always),
            shape(
                r"^(\S+)\((IP), (?:HELO|EHLO) (\S*)\) by (\S+) via smap ",
                &[Rdns, Ip, Helo, By],
                Some(" via smap "),
                Always,
            ),
            // CNN and InterScan: "IP by HOST (SMTPL".
            shape(r"^(IP) by (\S+) \((?:SMTPL|InterScan)\b", &[Ip, By], None, Unknown),
            // csmap and others: "RDNS(IP) by HOST".
            shape(r"^(\S+)\((IP)\) by (\S+) ", &[Rdns, Ip, By], None, Unknown),
            // Yahoo: "HELO (USER@IP with login) by HOST.yahoo.com with SMTP".
            shape(
                r"^(\S+) \(\S+@(IP) with login\) by (\S+\.yahoo\.com) with SMTP",
                &[Helo, Ip, By],
                None,
                Unknown,
            ),
        ];
        list.into_iter()
            .filter_map(|shape| {
                // A pattern that fails to compile is a bug caught by the
                // unit tests; in release it only drops that shape.
                let regex = Regex::new(&shape.pattern).ok();
                debug_assert!(regex.is_some(), "bad shape {}", shape.pattern);
                regex.map(|regex| CompiledShape {
                    regex,
                    roles: shape.roles,
                    needs: shape.needs,
                    lookup: shape.lookup,
                })
            })
            .collect()
    })
}

fn shape(
    pattern: &str,
    roles: &'static [Role],
    needs: Option<&'static str>,
    lookup: DnsLookup,
) -> Shape {
    Shape {
        pattern: pattern.replace("IP", IP),
        roles,
        needs,
        lookup,
    }
}

/// Regexes applied to every Received value before the shapes.
struct Common {
    date: Regex,
    skip_by_only: Regex,
    id: Regex,
    helo_assign: Regex,
    helo_word: Regex,
    by: Regex,
    auth_with: Regex,
    envfrom: Regex,
    bracketed_ip: Regex,
    fetch: Regex,
}

fn common() -> &'static Common {
    static COMMON: OnceLock<Common> = OnceLock::new();
    COMMON.get_or_init(|| {
        let compile = |pattern: &str| {
            Regex::new(&pattern.replace("IP", IP)).unwrap_or_else(|error| {
                // Only constant patterns reach here; a failure is a bug
                // that the unit tests hit first.
                unreachable!("invalid constant pattern {pattern}: {error}")
            })
        };
        Common {
            date: compile(
                r"[\s;]+(?:(?:Mon|Tue|Thu|Wed|Fri|Sat|Sun), )?\d+ (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d+ \d+:\d+(?::\d+)? \S+$",
            ),
            skip_by_only: compile(r"(?i)^from (\S+) by [^\s;]+ ?;"),
            id: compile(r" id <?([^\s<>;]{3,})"),
            helo_assign: compile(r"\bhelo=([-A-Za-z0-9.^+_&:=?!@%*$\\/]+)"),
            helo_word: compile(r"\b(?:HELO|EHLO) ([-A-Za-z0-9.^+_&:=?!@%*$\\/]+)"),
            by: compile(r" by (\S+)(?:[^-A-Za-z0-9;.]|$)"),
            auth_with: compile(r"(?i) with ((?:ES|L|UTF8S|UTF8L)MTPS?A|ASMTP|HTTP[SU]?)(?: |;|$)"),
            envfrom: compile(r"(?i)(?:return-path:? |envelope-(?:sender|from)[ =])(\S+)\b"),
            bracketed_ip: compile(r"\[(IP)\]"),
            fetch: compile(r"with (?:POP3|IMAP)"),
        }
    })
}

/// The outcome of parsing one Received value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Parsed {
    Relay(Relay),
    /// A POP3 or IMAP fetch hop, which restarts the chain.
    FetchMarker,
    /// A value SpamAssassin skips on purpose: no "from", a local
    /// submission, or a handover that [`is_ignored_handover`] lists.
    Skipped,
    /// A value with no IP address or no receiving host that is not one of
    /// the skipped kinds.
    Unparseable,
}

/// Parses one Received value. Returns `None` for a value SpamAssassin
/// skips (no "from", local submission, a POP3 or IMAP fetch) or cannot
/// parse (no IP address or no receiving host).
pub fn parse_received(value: &str) -> Option<Relay> {
    match parse(value) {
        Parsed::Relay(relay) => Some(relay),
        Parsed::FetchMarker | Parsed::Skipped | Parsed::Unparseable => None,
    }
}

fn parse(value: &str) -> Parsed {
    let line = unfold(value);
    let common = common();

    let lower_start = line.get(..6).unwrap_or("").to_ascii_lowercase();
    if !lower_start.starts_with("from ") && !lower_start.starts_with("(from") {
        return Parsed::Skipped;
    }
    if line.contains("with local for") {
        return Parsed::Skipped;
    }
    if let Some(captures) = capture(&common.skip_by_only, &line) {
        let from = captures.first().cloned().unwrap_or_default();
        if !(from.starts_with('[') && from.ends_with(']')) {
            return Parsed::Skipped;
        }
    }

    let line = common.date.replace(&line, "").into_owned();
    let line = line.replace(")by ", ") by ");
    match parse_fields(common, &line) {
        Ok(Some(relay)) => Parsed::Relay(relay),
        Ok(None) => Parsed::Skipped,
        Err(NoRelay::FetchMarker) => Parsed::FetchMarker,
        Err(NoRelay::Incomplete) if is_ignored_handover(&line) => Parsed::Skipped,
        Err(NoRelay::Incomplete) => Parsed::Unparseable,
    }
}

/// The reason [`parse_fields`] found no relay in a Received value.
enum NoRelay {
    /// A POP3 or IMAP fetch hop.
    FetchMarker,
    /// The value has no IP address or no receiving host.
    Incomplete,
}

/// Handovers that SpamAssassin 4.0.1's Received.pm skips instead of
/// counting as unparseable, because their servers record no client IP
/// address: local submissions and queue re-injections, virus scanners,
/// and a few named mail servers. Each pattern reads the value after its
/// leading "from ", with the date removed. `LOCALHOST` stands for the
/// loopback names and addresses.
const IGNORED_AFTER_FROM: [&str; 29] = [
    r"^mail pickup service by \S+ with Microsoft SMTPSVC$",
    r"^\S+ by \S+ with BSMTP",
    r"^\S+ \(\S+\) by \S+ \(Content Technologies ",
    r"^\S+ \([^\s@]+@LOCALHOST\) by \S+ \(",
    r"^\S+ \S+ by \S+ with local-e?smtp ",
    r"^127\.0\.0\.1 \(AVG SMTP \S+ \[\S+\]\)",
    r"^\S+@\S+ by \S+ ",
    r"^Unknown/Local \(",
    r"^LOCALHOST \((?:\S+@)?LOCALHOST[)\[]",
    r"^\S+ \((?:\S+@)?LOCALHOST\) ",
    r"^\S+ \(\S+@\S+ \[LOCALHOST\]\) ",
    r"^\(AUTH: \S+\) by \S+ with ",
    r"^localhost \(localhost \[\[UNIX: localhost\]\]\) by ",
    r"^\S+\.amazon\.com by \S+\.amazon\.com with ESMTP \(peer crosscheck: ",
    r"^[^.]+ by \S+ with Novell_GroupWise",
    r"^no\.name\.available by \S+ via smtpd \(for ",
    r"^\S+ by \S+ \(.{0,100}\) with qmail-scanner",
    r"^\S+ by \S+ with local",
    r"^\S+ \(\[unix socket\]\) by \S+ \(Cyrus v[0-9]*?\.[0-9]*?\.[0-9]*?\) with LMTPA",
    r"^\S+ by \S+ (?:with|via|for|\()",
    r"^\S+ (?:(?:with|via|for) \S+|\(unverified\)) by\b",
    r"^\S+ \(unknown\) by \S+ \(SG\) with \b",
    r"^\S+ \(\S+ \[local\]\) by \S+ \(OpenSMTPD\) with \b",
    r"\(LSMTP for",
    r"^\(\[LOCALHOST\]\) with MailEnable ",
    r"^facebook\.com \([^)]+\) by facebook\.com with Thrift id \S+$",
    r"^\S+ named \S+ by gmailapi\.google\.com with HTTPREST$",
    r"^\S+ id \S+$",
    r"^\[<.*? \(Jetsend",
];

/// Handovers skipped like [`IGNORED_AFTER_FROM`], for values that start
/// with "(from ": sendmail's local submission and Juno's queue.
const IGNORED_AFTER_PAREN_FROM: [&str; 2] = [
    r"^\S+@localhost\) by \S+ ",
    r"^[^\s@]+@[^)]+\) by \S+\(jqueuemail\) id [^\s;]+",
];

/// The loopback forms of SpamAssassin's `LOCALHOST`: the names, 127.0.0.1
/// and IPv6 `::1`, plain or mapped.
///
/// NOTE: SpamAssassin spells out each way of shortening the IPv6 forms.
/// This pattern accepts any run of zero groups before the final 1 or the
/// mapped 127.0.0.1, which is slightly wider.
const LOCALHOST: &str = r"(?i:localhost(?:\.localdomain)?|\b(?<!:)127\.0\.0\.1\b|(?:IPv6:|(?<![a-f0-9:]))(?:(?:0{0,4}:){2,7}0{0,3}1|(?:0{0,4}:){1,6}ffff:127\.0\.0\.1)(?![a-f0-9:]))";

/// Returns whether `line`, a Received value without its date that gave no
/// relay, is a handover SpamAssassin skips on purpose.
fn is_ignored_handover(line: &str) -> bool {
    static PATTERNS: OnceLock<(Vec<Regex>, Vec<Regex>)> = OnceLock::new();
    let (after_from, after_paren_from) = PATTERNS.get_or_init(|| {
        let compile = |patterns: &[&str]| -> Vec<Regex> {
            patterns
                .iter()
                .filter_map(|pattern| {
                    let regex = Regex::new(&pattern.replace("LOCALHOST", LOCALHOST)).ok();
                    debug_assert!(regex.is_some(), "bad ignored handover {pattern}");
                    regex
                })
                .collect()
        };
        (
            compile(&IGNORED_AFTER_FROM),
            compile(&IGNORED_AFTER_PAREN_FROM),
        )
    });
    // SpamAssassin drops semicolons at the end before it matches.
    let line = line.trim_end_matches(|c: char| c == ';' || c.is_whitespace());
    // Only a lower-case "from " selects these lists in Received.pm.
    let (rest, patterns) = if let Some(rest) = line.strip_prefix("from ") {
        (rest, after_from)
    } else if let Some(rest) = line.strip_prefix("(from ") {
        (rest, after_paren_from)
    } else {
        return false;
    };
    patterns
        .iter()
        .any(|pattern| pattern.is_match(rest).unwrap_or(false))
}

/// Parses a Received value that starts with "from", unfolded and without
/// its date. Returns `Ok(None)` for a local handover that is skipped.
fn parse_fields(common: &Common, line: &str) -> Result<Option<Relay>, NoRelay> {
    let mut relay = Relay::default();
    common_fields(common, line, &mut relay);

    let rest = line
        .strip_prefix("from ")
        .or_else(|| line.strip_prefix("FROM "))
        .or_else(|| line.strip_prefix("From "))
        .unwrap_or(line);
    if rest.contains("Exim") && rest.contains("with local") {
        return Ok(None);
    }
    if common.fetch.is_match(rest).unwrap_or(false) {
        return Err(NoRelay::FetchMarker);
    }
    let looked_up = match apply_shape(rest, &mut relay) {
        Some(lookup) => match lookup {
            DnsLookup::Always => true,
            DnsLookup::Unknown => false,
            DnsLookup::UnlessUnknown => relay.rdns != "unknown",
            DnsLookup::UnlessSoftDnsError => relay.rdns != "softdnserr",
        },
        None => {
            // Received.pm skips its known handovers before the fallback
            // looks for any bracketed IP address.
            if is_ignored_handover(line) {
                return Ok(None);
            }
            if let Some(ip) =
                capture(&common.bracketed_ip, rest).and_then(|found| found.into_iter().next())
            {
                relay.ip = ip;
            }
            false
        }
    };
    if relay.ip.is_empty() || relay.by.is_empty() {
        return Err(NoRelay::Incomplete);
    }
    clean(&mut relay);
    relay.no_reverse_dns = looked_up && relay.rdns.is_empty();
    Ok(Some(relay))
}

/// Fills the fields found anywhere in the value: queue id, HELO name,
/// receiving host, authentication and envelope sender.
fn common_fields(common: &Common, line: &str, relay: &mut Relay) {
    if let Some(id) = first_capture(&common.id, line) {
        relay.id = id;
    }
    if let Some(helo) =
        first_capture(&common.helo_assign, line).or_else(|| first_capture(&common.helo_word, line))
    {
        relay.helo = helo;
    }
    if let Some(by) = first_capture(&common.by, line) {
        relay.by = by;
    }
    if line.contains(" by ") {
        if let Some(auth) = first_capture(&common.auth_with, line) {
            relay.auth = auth;
        }
    }
    if relay.auth.is_empty() && line.contains("(authenticated") {
        relay.auth = "Sendmail".to_string();
    }
    if let Some(envfrom) = first_capture(&common.envfrom, line) {
        relay.envfrom = envfrom;
    }
}

/// Tries the shapes in order and fills the relay from the first that
/// matches. Returns how that shape's server looks up reverse DNS, or
/// `None` when no shape matched.
fn apply_shape(rest: &str, relay: &mut Relay) -> Option<DnsLookup> {
    for shape in shapes() {
        if shape.needs.is_some_and(|text| !rest.contains(text)) {
            continue;
        }
        let Some(groups) = capture(&shape.regex, rest) else {
            continue;
        };
        for (role, text) in shape.roles.iter().zip(groups) {
            match role {
                Role::Ip => relay.ip = text,
                Role::Rdns => relay.rdns = text,
                Role::Helo => relay.helo = text,
                Role::RdnsHelo => {
                    relay.rdns = text.clone();
                    relay.helo = text;
                }
                Role::By => relay.by = text,
                Role::Ident => relay.ident = text,
                Role::HeloComment => {
                    if let Some(helo) = first_capture(&common().helo_assign, &text) {
                        relay.helo = helo;
                    }
                }
            }
        }
        return Some(shape.lookup);
    }
    None
}

/// Normalises the fields as SpamAssassin does before it formats them.
fn clean(relay: &mut Relay) {
    // sendmail writes an ident lookup before the rdns: "IDENT:user@host"
    // or "user@host".
    if let Some((ident, host)) = relay.rdns.split_once('@') {
        relay.ident = ident.strip_prefix("IDENT:").unwrap_or(ident).to_string();
        relay.rdns = host.to_string();
    }
    let rdns = relay.rdns.trim_end_matches('.');
    relay.rdns = if rdns.eq_ignore_ascii_case("unknown") || rdns.starts_with('[') {
        String::new()
    } else {
        rdns.to_string()
    };
    if relay.rdns == "softdnserr" {
        relay.rdns.clear();
    }

    let mut ip = relay.ip.as_str();
    if ip.len() >= 5 && ip[..5].eq_ignore_ascii_case("ipv6:") {
        ip = &ip[5..];
    }
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    let ip = ip.split('%').next().unwrap_or(ip);
    relay.ip = ip.to_string();
    if let Some(mapped) = relay
        .ip
        .to_ascii_lowercase()
        .rsplit_once("ffff:")
        .filter(|(head, tail)| head.chars().all(|c| c == '0' || c == ':') && tail.contains('.'))
        .map(|(_, tail)| tail.to_string())
    {
        relay.ip = mapped;
    }

    relay.by = relay.by.trim_end_matches(';').to_string();
    let envfrom = relay.envfrom.trim_start().trim_start_matches('<');
    relay.envfrom = envfrom.trim_end().trim_end_matches('>').to_string();
    for field in [
        &mut relay.ip,
        &mut relay.rdns,
        &mut relay.helo,
        &mut relay.by,
        &mut relay.ident,
        &mut relay.envfrom,
    ] {
        *field = field
            .chars()
            .map(|c| match c {
                ' ' | '\t' | '\r' | '\n' | '\0' | '#' | '[' | ']' | '(' | ')' | '<' | '>' | '|' => {
                    '!'
                }
                other => other,
            })
            .collect();
    }
}

/// Turns every run of white space, folds included, into one space, as
/// Received.pm does before it parses, trims both ends, and cuts the value
/// to [`RECEIVED_LEN_MAX`] bytes.
fn unfold(value: &str) -> String {
    let mut line = String::with_capacity(value.len().min(RECEIVED_LEN_MAX));
    for word in value.split_ascii_whitespace() {
        if line.len() >= RECEIVED_LEN_MAX {
            break;
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    let mut end = line.len().min(RECEIVED_LEN_MAX);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    line.truncate(end);
    line
}

/// Returns the capture groups 1.. of the first match, with unmatched
/// groups as empty strings. A regex that exceeds its backtracking limit
/// counts as no match.
fn capture(regex: &Regex, text: &str) -> Option<Vec<String>> {
    let captures = regex.captures(text).ok()??;
    Some(
        (1..captures.len())
            .map(|index| {
                captures
                    .get(index)
                    .map_or_else(String::new, |found| found.as_str().to_string())
            })
            .collect(),
    )
}

fn first_capture(regex: &Regex, text: &str) -> Option<String> {
    capture(regex, text).and_then(|groups| groups.into_iter().next())
}

/// Returns the first IPv4 address in `text`.
fn first_ipv4(text: &str) -> Option<String> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .find(|word| word.parse::<std::net::Ipv4Addr>().is_ok())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One Received value and the SpamAssassin 4.0.1 text of its relay
    /// (with intl=0), as spamd reported it for a corpus message.
    macro_rules! relay_case {
        ($name:ident, $value:expr, $expected:expr) => {
            #[test]
            fn $name() {
                let relay = parse_received($value).map(|relay| relay.to_field_text(false));
                assert_eq!(relay.as_deref(), $expected);
            }
        };
    }

    relay_case!(
        sendmail_helo_rdns_ip,
        "from n16.grp.scd.yahoo.com (n16.grp.scd.yahoo.com [66.218.66.71]) by\n dogma.slashnull.org (8.11.6/8.11.6) with ESMTP id g7MCrdZ07070 for\n <jm@jmason.org>; Thu, 22 Aug 2002 13:53:39 +0100",
        Some("[ ip=66.218.66.71 rdns=n16.grp.scd.yahoo.com helo=n16.grp.scd.yahoo.com by=dogma.slashnull.org ident= envfrom= intl=0 id=g7MCrdZ07070 auth= msa=0 ]")
    );

    relay_case!(
        qmail_unknown_rdns_is_empty,
        "from unknown (HELO mailer) (1.2.3.4) by mx.example.org with SMTP; 22 Aug 2002 12:59:26 -0000",
        Some("[ ip=1.2.3.4 rdns= helo=mailer by=mx.example.org ident= envfrom= intl=0 id= auth= msa=0 ]")
    );

    relay_case!(
        postfix_unknown_rdns_is_empty,
        "from mail.example.com (unknown [10.1.2.3]) by mx.example.org (Postfix) with ESMTP id 4ABC; Thu, 22 Aug 2002 13:53:39 +0100",
        Some("[ ip=10.1.2.3 rdns= helo=mail.example.com by=mx.example.org ident= envfrom= intl=0 id=4ABC auth= msa=0 ]")
    );

    relay_case!(
        received_without_from_is_skipped,
        "by localhost (Postfix, from userid 500) id 123ABC; Thu, 22 Aug 2002 13:53:39 +0100",
        None
    );

    relay_case!(
        received_without_ip_gives_no_relay,
        "from localhost by mx.example.org with SMTP id ab123; Thu, 22 Aug 2002 13:53:39 +0100",
        None
    );

    relay_case!(
        sendmail_ident_moves_out_of_rdns,
        "from lugh.tuatha.org (root@lugh.tuatha.org [194.125.145.45]) by\n dogma.slashnull.org (8.11.6/8.11.6) with ESMTP id g7MM4mZ26717 for\n <jm@jmason.org>; Thu, 22 Aug 2002 23:04:48 +0100",
        Some("[ ip=194.125.145.45 rdns=lugh.tuatha.org helo=lugh.tuatha.org by=dogma.slashnull.org ident=root envfrom= intl=0 id=g7MM4mZ26717 auth= msa=0 ]")
    );

    relay_case!(
        ip_then_helo_comment_hop,
        "from 65.171.8.235 (HELO www.ussbiddle.org)\n  by smtp.c001.snv.cp.net (209.228.32.109) with SMTP; 23 Jul 2002 04:41:04 -0700",
        Some("[ ip=65.171.8.235 rdns= helo=www.ussbiddle.org by=smtp.c001.snv.cp.net ident= envfrom= intl=0 id= auth= msa=0 ]")
    );

    relay_case!(
        squirrelmail_webmail_hop,
        "from 192.0.2.5 (SquirrelMail authenticated user alice)\n        by webmail.example.org with HTTP;\n        Wed, 4 Sep 2002 10:57:49 +0100 (BST)",
        Some("[ ip=192.0.2.5 rdns= helo= by=webmail.example.org ident= envfrom= intl=0 id= auth=HTTP msa=0 ]")
    );

    relay_case!(
        smtpd32_helo_bracketed_ip,
        "from mailer [198.51.100.7] by mx.example.org with ESMTP\n   (SMTPD32-7.11) id A1B2C3; Thu, 22 Aug 2002 13:09:41 +0100",
        Some("[ ip=198.51.100.7 rdns= helo=mailer by=mx.example.org ident= envfrom= intl=0 id=A1B2C3 auth= msa=0 ]")
    );

    relay_case!(
        sendmail_ident_without_rdns,
        "from yahoo.com (IDENT:squid@[210.187.5.194]) by\n    dogma.slashnull.org (8.11.6/8.11.6) with SMTP id g77BjMk25797 for\n    <webmaster@efi.ie>; Wed, 7 Aug 2002 12:45:23 +0100",
        Some("[ ip=210.187.5.194 rdns= helo=yahoo.com by=dogma.slashnull.org ident=IDENT:squid envfrom= intl=0 id=g77BjMk25797 auth= msa=0 ]")
    );

    #[test]
    fn unparseable_field_is_told_from_skipped() {
        // (Received value, expected outcome)
        let cases = [
            // Hosts without an IP address that Received.pm skips by name.
            ("from localhost by mx.example.org with SMTP id ab123; Thu, 22 Aug 2002 13:53:39 +0100", Parsed::Skipped),
            ("from mail pickup service by mail1.example.com with Microsoft SMTPSVC; Thu, 13 Feb 2003 19:05:39 -0500", Parsed::Skipped),
            ("from raptor.example.com (bala@localhost) by raptor.example.com (SGI-8.9.3/8.8.7) with ESMTP id KAA14788", Parsed::Skipped),
            ("from DSmith1204@aol.com by imo-m09.mx.aol.com (mail_out_v34.13.) id 7.53.208064a0 (4394); Sat, 11 Jan 2003 23:24:31 -0500 (EST)", Parsed::Skipped),
            ("from mail.payex.example id <B5b8f11e30004>; Wed, 05 Sep 2018 01:14:43 +0200", Parsed::Skipped),
            ("(from alice@localhost) by home.example.com (8.12.11/8.12.11/Submit) id iBADHRP6011034; Fri, 10 Dec 2004 13:17:27 GMT", Parsed::Skipped),
            ("by localhost (Postfix, from userid 500) id 123ABC; Thu, 22 Aug 2002 13:53:39 +0100", Parsed::Skipped),
            // Skipped although a bracketed IP address appears later: the
            // skip comes before the fallback search for one.
            ("from MATT_LINUX by hippo.star.co.uk via smtpd (for mail.webnote.net [193.120.211.219]) with SMTP; 3 Jul 2002 15:43:50 UT", Parsed::Skipped),
            // No IP address, and not a kind Received.pm skips.
            ("from mail.example.com (mail.example.com) by mx.example.org (8.12.11) with ESMTP id x1; Thu, 22 Aug 2002 13:53:39 +0100", Parsed::Unparseable),
            // An IP address but no receiving host.
            ("from [192.0.2.1] with SMTP; Thu, 22 Aug 2002 13:53:39 +0100", Parsed::Unparseable),
            // A "(from" value that is not a local submission.
            ("(from mailer.example.com) by mx.example.org (8.12.11) id i1; Fri, 10 Dec 2004 13:17:27 GMT", Parsed::Unparseable),
        ];
        for (value, expected) in cases {
            assert_eq!(parse(value), expected, "{value}");
        }
        let relay = "from relay.example.net ([192.0.2.7]) by mx.example.org (8.11.6/8.11.6) with SMTP id g1";
        assert!(matches!(parse(relay), Parsed::Relay(_)), "{relay}");
    }

    #[test]
    fn server_specific_shapes_table() {
        // (Received value, ip, helo, rdns, by)
        let cases = [
            ("from 198.51.100.4 by webmail7.mail.aol.com (203.0.113.9) with HTTP (WebMailUI); Tue, 5 Jun 2007 10:00:00 -0400", "198.51.100.4", "", "", "webmail7.mail.aol.com"),
            ("from relay.example.org (198.51.100.5:4411) by mx.example.net with [XMail 1.22 ESMTP Server] id <S1> for <a@example.net>", "198.51.100.5", "relay.example.org", "", "mx.example.net"),
            ("from ([198.51.100.6:5100] helo=app.example.org) by out3.example.net (ecelerity 2.2.2.45 r(12345)) with ESMTP id 1A/2B", "198.51.100.6", "app.example.org", "", "out3.example.net"),
            ("from WORKSTATION ( 198.51.100.7) by mail.example.net (Scalix SMTP Relay 11.0.0.1) via ESMTP", "198.51.100.7", "WORKSTATION", "", "mail.example.net"),
            ("from store.example.com (LHLO store.example.com) (10.0.0.8) by store.example.com with LMTP", "10.0.0.8", "store.example.com", "store.example.com", "store.example.com"),
            ("from gate.example.com(198.51.100.9) by fw.example.net via smap (V2.1) id xma1", "198.51.100.9", "", "gate.example.com", "fw.example.net"),
            ("from gate.example.com(198.51.100.10, HELO mail.example.com) by fw.example.net via smap (V2.1)", "198.51.100.10", "mail.example.com", "gate.example.com", "fw.example.net"),
            ("from 10.1.2.3 by MAILHUB.EXAMPLE.COM (SMTPL release 1.0d) with TCP", "10.1.2.3", "", "", "MAILHUB.EXAMPLE.COM"),
            ("from lookup(198.51.100.11) by campus.example.edu via csmap (V4.1) id x1", "198.51.100.11", "", "lookup", "campus.example.edu"),
            ("from mypc (someone@198.51.100.12 with login) by smtp5.mail.example.yahoo.com with SMTP", "198.51.100.12", "mypc", "", "smtp5.mail.example.yahoo.com"),
        ];
        for (value, ip, helo, rdns, by) in cases {
            let Parsed::Relay(relay) = parse(value) else {
                panic!("no relay in {value}");
            };
            assert_eq!(relay.ip, ip, "{value}");
            assert_eq!(relay.helo, helo, "{value}");
            assert_eq!(relay.rdns, rdns, "{value}");
            assert_eq!(relay.by, by, "{value}");
        }
    }

    #[test]
    fn chain_counts_unparseable_fields_only() {
        let message = b"Received: from localhost by mx.example.org with SMTP id ab123; Thu, 22 Aug 2002 13:53:39 +0100\r\n\
Received: from mail.example.com (mail.example.com) by mx.example.org (8.12.11) with ESMTP id x1\r\n\
Received: from c (c.example [66.218.66.71]) by d (8.11.6/8.11.6) with ESMTP id 2\r\n\
Received: from [192.0.2.1] with SMTP; Thu, 22 Aug 2002 13:53:39 +0100\r\n\
\r\n";
        let headers = Headers::new(&message[..message.len() - 2]);
        let chain = RelayChain::new(&headers);
        assert_eq!(chain.unparseable_count(), 2);
        assert_eq!(chain.untrusted_count(), 1);
    }

    #[test]
    fn no_reverse_dns_follows_the_shape() {
        // (Received value, expected no_reverse_dns)
        let cases = [
            // sendmail looks the name up, so an empty one means none.
            ("from yahoo.com (IDENT:squid@[210.187.5.194]) by dogma.slashnull.org (8.11.6/8.11.6) with SMTP id g1", true),
            ("from hotmail.com ([192.0.2.9]) by mx.example.org (8.11.6/8.11.6) with SMTP id g1", true),
            ("from a.example (a.example [192.0.2.9]) by mx.example.org (8.11.6/8.11.6) with SMTP id g1", false),
            // Exim's bracketed form does not tell.
            ("from [192.0.2.9] (helo=hotmail.com) by mx.example.org with esmtp (Exim 3.35 #1) id 1", false),
            // qmail writes "unknown" both for no name and for no lookup.
            ("from unknown (HELO mailer) (192.0.2.9) by mx.example.org with SMTP; 22 Aug 2002 12:59:26 -0000", false),
            // courier's failed lookup.
            ("from a.example (softdnserr [192.0.2.9]) by mx.example.org with esmtp; Fri, 22 Aug 2003 12:25:41 +0300", false),
        ];
        for (value, expected) in cases {
            let relay = parse_received(value).expect(value);
            assert_eq!(relay.no_reverse_dns, expected, "{value}");
        }
    }

    relay_case!(
        qmail_ident_with_login_comment,
        "from p977.as2.cra.dublin.eircom.net (HELO mfrenchw2k)\n    (mfrench42@159.134.179.209 with login) by smtp.mail.vip.sc5.yahoo.com with\n    SMTP; 22 Aug 2002 22:02:25 -0000",
        Some("[ ip=159.134.179.209 rdns=p977.as2.cra.dublin.eircom.net helo=mfrenchw2k by=smtp.mail.vip.sc5.yahoo.com ident=mfrench42 envfrom= intl=0 id= auth= msa=0 ]")
    );

    #[test]
    fn fetchmail_imap_hop_restarts_chain() {
        let message = b"Received: from localhost (localhost [127.0.0.1]) by phobos.labs.netnoteinc.com (Postfix) with ESMTP id 1\r\n\
Received: from phobos [127.0.0.1] by localhost with IMAP (fetchmail-5.9.0) for zzzz@localhost (single-drop); Fri, 23 Aug 2002 11:06:36 +0100 (IST)\r\n\
Received: from c (c.example [66.218.66.71]) by d (8.11.6/8.11.6) with ESMTP id 2\r\n\
\r\n";
        let headers = Headers::new(&message[..message.len() - 2]);
        let chain = RelayChain::new(&headers);
        assert_eq!(chain.field_text(RelaySet::Trusted), "");
        let external = chain.field_text(RelaySet::External);
        assert!(external.starts_with("[ ip=66.218.66.71 "), "{external}");
        assert!(!external.contains("127.0.0.1"), "{external}");
    }

    #[test]
    fn chain_trusts_private_hops_only_from_the_top() {
        let message =
            b"Received: from a (a.example [10.0.0.2]) by b (8.11.6/8.11.6) with ESMTP id 1\r\n\
Received: from c (c.example [66.218.66.71]) by d (8.11.6/8.11.6) with ESMTP id 2\r\n\
Received: from e (e.example [192.168.1.1]) by f (8.11.6/8.11.6) with ESMTP id 3\r\n\
\r\n";
        let headers = Headers::new(&message[..message.len() - 2]);
        let chain = RelayChain::new(&headers);
        let trusted = chain.field_text(RelaySet::Trusted);
        let external = chain.field_text(RelaySet::External);
        assert!(trusted.contains("ip=10.0.0.2"), "{trusted}");
        assert!(trusted.contains("intl=1"), "{trusted}");
        assert!(
            external.starts_with("[ ip=66.218.66.71 rdns=c.example"),
            "{external}"
        );
        assert!(external.contains("ip=192.168.1.1"), "{external}");
        assert_eq!(chain.field_text(RelaySet::Internal), trusted);
        assert_eq!(chain.field_text(RelaySet::Untrusted), external);
    }

    /// `__DOS_RELAYED_EXT` reads `ALL-EXTERNAL`: a message handed on by
    /// two external relays has two Received fields in it, one handed
    /// straight to the receiver has one.
    #[test]
    fn all_external_starts_at_first_untrusted_received() {
        let message =
            b"Received: from a (a.example [10.0.0.2]) by b (8.11.6/8.11.6) with ESMTP id 1\r\n\
X-Top: 1\r\n\
Received: from c (c.example [66.218.66.71]) by d (8.11.6/8.11.6) with ESMTP id 2\r\n\
X-Middle: 2\r\n\
Received: from e (e.example [66.218.66.72]) by c (8.11.6/8.11.6) with ESMTP id 3\r\n\
\r\n";
        let headers = Headers::new(&message[..message.len() - 2]);
        let external = headers.get("ALL-EXTERNAL", HeaderForm::Decoded).unwrap();
        assert!(external.starts_with("Received: from c "), "{external}");
        assert!(external.contains("X-Middle: 2\n"), "{external}");
        assert!(!external.contains("X-Top"), "{external}");
        let trusted = headers.get("ALL-TRUSTED", HeaderForm::Decoded).unwrap();
        assert!(trusted.contains("X-Top: 1\n"), "{trusted}");
        assert!(trusted.ends_with("id 2\n"), "{trusted}");
        assert!(!trusted.contains("X-Middle"), "{trusted}");
    }

    #[test]
    fn originating_ip_field_is_oldest_hop() {
        let message =
            b"Received: from c (c.example [66.218.66.71]) by d (8.11.6/8.11.6) with ESMTP id 2\r\n\
X-Originating-IP: [200.1.2.3]\r\n\
\r\n";
        let headers = Headers::new(&message[..message.len() - 2]);
        let external = RelayChain::new(&headers).field_text(RelaySet::External);
        assert!(
            external.ends_with(
                "[ ip=200.1.2.3 rdns= helo= by= ident= envfrom= intl=0 id= auth= msa=0 ]"
            ),
            "{external}"
        );
    }

    /// Compares the relay pseudo-headers with SpamAssassin's on real mail.
    /// `RINGMAIL_RELAYS_ORACLE` names a file of `PATH<TAB>TRUSTED<TAB>EXTERNAL`
    /// lines, which bench/compare/spam-accuracy.py writes to
    /// `target/spam-accuracy/relays-oracle.tsv` from spamd's responses. Run with `-- --ignored --nocapture`.
    #[test]
    #[ignore = "needs the corpus and spamd's answers"]
    fn relays_match_spamassassin_oracle() {
        let Ok(oracle) = std::env::var("RINGMAIL_RELAYS_ORACLE") else {
            return;
        };
        let text = std::fs::read_to_string(oracle).unwrap();
        let squash = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
        let (mut total, mut same) = (0, 0);
        for line in text.lines() {
            let mut parts = line.split('\t');
            let (Some(path), Some(trusted), Some(external)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let raw = std::fs::read(path).unwrap();
            let end = memchr::memmem::find(&raw, b"\n\n").unwrap_or(raw.len());
            let headers = Headers::new(&raw[..end]);
            let chain = RelayChain::new(&headers);
            let ours = (
                chain.field_text(RelaySet::Trusted),
                chain.field_text(RelaySet::External),
            );
            total += 1;
            if squash(&ours.0) == squash(trusted) && squash(&ours.1) == squash(external) {
                same += 1;
            } else if total - same <= 15 {
                println!("{path}\n  sa trusted:  {trusted}\n  rm trusted:  {}\n  sa external: {external}\n  rm external: {}", ours.0, ours.1);
            }
        }
        println!("relay chains equal to SpamAssassin's: {same} of {total}");
    }

    #[test]
    fn overlong_received_value_is_cut() {
        let value = format!(
            "from a ([1.2.3.4]) by b (x) {}",
            "y".repeat(RECEIVED_LEN_MAX * 2)
        );
        assert!(unfold(&value).len() <= RECEIVED_LEN_MAX);
        assert!(parse_received(&value).is_some());
    }
}
