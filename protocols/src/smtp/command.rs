//! Parsing one SMTP command line into a typed [`Command`], without copying.
//!
//! [`parse_command`] takes a line without its line end (as
//! [`LineReader`](super::line::LineReader) returns it) and returns a
//! [`Command`] whose strings borrow that line, or a
//! [`CommandError`] that maps to one reply. Paths become [`ReversePath`] and
//! [`ForwardPath`] holding a [`Mailbox`]; MAIL and RCPT parameters become
//! [`MailParameters`] and [`RcptParameters`].
//!
//! The grammar is RFC 5321 section 4.1, with RFC 6531 (SMTPUTF8) UTF-8 in
//! local parts, domains and parameter values, and these tolerances of real
//! clients: verbs and keywords in any case, one space after `FROM:` or `TO:`
//! (Postfix accepts it too), several spaces between parameters and trailing
//! spaces or tabs. Whether a session may use UTF-8 addresses, relay to a
//! domain or send a given SIZE is session policy, left to the engine.
//!
//! Limits, from RFC 5321 section 4.5.3.1 so that any conforming peer fits:
//! [`LOCAL_PART_MAX`], [`DOMAIN_MAX`] and [`PATH_MAX`]. RFC 3461 sets
//! [`ENVID_MAX`] and [`ORCPT_MAX`], and RFC 3030 [`BDAT_SIZE_DIGITS_MAX`].
//! [`PARAMETER_COUNT_MAX`] is ours: no extension needs more than a handful of
//! parameters, and the cap bounds the work per line.

use super::reply::CommandError;
use super::xtext::decode_xtext;

/// RFC 5321 4.5.3.1.1: a local part is at most 64 octets.
pub const LOCAL_PART_MAX: usize = 64;
/// RFC 5321 4.5.3.1.2: a domain is at most 255 octets.
pub const DOMAIN_MAX: usize = 255;
/// RFC 5321 4.5.3.1.3: a path is at most 256 octets, brackets included.
pub const PATH_MAX: usize = 256;
/// Maximum number of parameters after a MAIL or RCPT path. The extensions
/// this parser supports use at most six per command (SIZE, BODY, SMTPUTF8,
/// RET, ENVID, REQUIRETLS).
pub const PARAMETER_COUNT_MAX: usize = 16;
/// RFC 3461 4.4: an ENVID value is at most 100 characters. The limit applies
/// to the xtext as sent, so the decoded value is at most as long.
pub const ENVID_MAX: usize = 100;
/// RFC 3461 4.2: an ORCPT value is at most 500 characters, as sent.
pub const ORCPT_MAX: usize = 500;
/// RFC 3030 section 3: the BDAT chunk size is `1*DIGIT`, and 20 digits hold
/// every `u64`. Longer digit strings are rejected before parsing.
pub const BDAT_SIZE_DIGITS_MAX: usize = 20;

/// One parsed command line. Strings borrow the line given to [`parse_command`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<'a> {
    Ehlo {
        domain: &'a str,
    },
    Helo {
        domain: &'a str,
    },
    MailFrom {
        reverse_path: ReversePath<'a>,
        parameters: MailParameters<'a>,
    },
    RcptTo {
        forward_path: ForwardPath<'a>,
        parameters: RcptParameters<'a>,
    },
    Data,
    /// RFC 3030 `BDAT <size> [LAST]`: `size` octets of message follow the
    /// command line at once.
    Bdat {
        size: u64,
        last: bool,
    },
    Rset,
    Noop,
    Quit,
    Help {
        topic: Option<&'a str>,
    },
    Vrfy {
        argument: &'a str,
    },
    Expn {
        argument: &'a str,
    },
    /// AUTH (RFC 4954): the SASL mechanism name as sent, and the initial
    /// response as sent, still base64. `=` stands for an empty initial
    /// response, and the engine decodes it like any other response.
    Auth {
        mechanism: &'a str,
        initial_response: Option<&'a str>,
    },
    /// RFC 3207 STARTTLS, which takes no parameters.
    StartTls,
    /// Verbs known to SMTP that this server does not implement yet
    /// (ETRN, TURN...): the engine replies 502 5.5.1.
    NotImplemented {
        verb: &'a str,
    },
}

/// The MAIL FROM path: `<>` is the null reverse path used by bounces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReversePath<'a> {
    Null,
    Mailbox(Mailbox<'a>),
}

/// The RCPT TO path: `<Postmaster>` in any case and without a domain is the
/// postmaster of this server (RFC 5321 4.1.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardPath<'a> {
    Postmaster,
    Mailbox(Mailbox<'a>),
}

/// A mailbox `local-part@domain` as sent.
///
/// `local_part` is a dot-string, or a quoted string kept with its quotes and
/// backslashes. `domain` is a domain name or an address literal kept with its
/// brackets (`[192.0.2.1]`, `[IPv6:2001:db8::1]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mailbox<'a> {
    pub local_part: &'a str,
    pub domain: &'a str,
}

impl Mailbox<'_> {
    /// Returns true if the mailbox is all ASCII. A mailbox that is not needs
    /// the SMTPUTF8 parameter on MAIL FROM (RFC 6531 3.4).
    pub fn is_ascii(&self) -> bool {
        self.local_part.is_ascii() && self.domain.is_ascii()
    }
}

/// The BODY parameter of MAIL FROM (RFC 6152 8BITMIME, RFC 3030 BINARYMIME).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    SevenBit,
    EightBitMime,
    BinaryMime,
}

/// The DSN RET parameter of MAIL FROM (RFC 3461 4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ret {
    /// `RET=FULL`: a bounce carries the whole message.
    Full,
    /// `RET=HDRS`: a bounce carries the header only.
    Hdrs,
}

/// The MAIL FROM parameters this parser supports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MailParameters<'a> {
    /// RFC 1870 SIZE: the client's estimate of the message size in octets.
    pub size: Option<u64>,
    pub body: Option<Body>,
    /// RFC 6531 SMTPUTF8: the envelope or headers may contain UTF-8.
    pub smtputf8: bool,
    /// RFC 3461 RET.
    pub ret: Option<Ret>,
    /// RFC 3461 ENVID as sent, in xtext; checked to decode with
    /// [`decode_xtext`](super::xtext::decode_xtext).
    pub envid: Option<&'a str>,
    /// RFC 8689 REQUIRETLS: every hop must relay the message over TLS.
    pub requiretls: bool,
}

/// The RCPT TO parameters this parser supports, both from DSN (RFC 3461).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RcptParameters<'a> {
    /// `NEVER`, or a comma list of `SUCCESS`, `FAILURE` and `DELAY`, as sent.
    pub notify: Option<&'a str>,
    /// `addr-type;xtext` as sent, for example `rfc822;user@example.org`.
    /// The xtext part is checked to decode.
    pub orcpt: Option<&'a str>,
}

/// Verbs from RFC 5321 and its extensions that this server recognizes but
/// does not implement, so the engine can reply 502 instead of 500.
const NOT_IMPLEMENTED_VERBS: &[&[u8]] = &[
    b"ETRN", b"TURN", b"ATRN", b"BURL", b"SEND", b"SOML", b"SAML",
];

/// RFC 4422 section 3.1: a mechanism name is 1 to 20 characters.
pub const SASL_MECHANISM_LEN_MAX: usize = 20;

/// Length of the longest verb, STARTTLS.
const VERB_LEN_MAX: usize = 8;

/// Parses one command line, given without its CRLF or LF.
pub fn parse_command(line: &[u8]) -> Result<Command<'_>, CommandError> {
    let line = std::str::from_utf8(line).map_err(|_| syntax("command line is not valid UTF-8"))?;
    if line
        .bytes()
        .any(|byte| byte.is_ascii_control() && byte != b'\t')
    {
        return Err(syntax("control character in command line"));
    }
    let line = line.trim_end_matches([' ', '\t']);

    let (verb, argument) = match line.find(' ') {
        Some(space) => (&line[..space], Some(&line[space + 1..])),
        None => (line, None),
    };

    // Verbs are matched in an uppercased copy on the stack, so parsing a
    // command does not allocate. No verb is longer than VERB_LEN_MAX.
    let mut upper = [0u8; VERB_LEN_MAX];
    let Some(upper) = upper.get_mut(..verb.len()) else {
        return Err(CommandError::Unrecognized);
    };
    upper.copy_from_slice(verb.as_bytes());
    upper.make_ascii_uppercase();

    match &*upper {
        b"EHLO" => Ok(Command::Ehlo {
            domain: parse_hello_domain(argument)?,
        }),
        b"HELO" => Ok(Command::Helo {
            domain: parse_hello_domain(argument)?,
        }),
        b"MAIL" => parse_mail(argument),
        b"RCPT" => parse_rcpt(argument),
        b"DATA" => no_argument(argument, Command::Data),
        b"BDAT" => parse_bdat(argument),
        b"RSET" => no_argument(argument, Command::Rset),
        b"QUIT" => no_argument(argument, Command::Quit),
        b"STARTTLS" => no_argument(argument, Command::StartTls),
        // RFC 5321 4.1.1.9: NOOP may carry a string, which is ignored.
        b"NOOP" => Ok(Command::Noop),
        b"HELP" => Ok(Command::Help {
            topic: argument.map(str::trim).filter(|topic| !topic.is_empty()),
        }),
        b"VRFY" => Ok(Command::Vrfy {
            argument: required_argument(argument)?,
        }),
        b"EXPN" => Ok(Command::Expn {
            argument: required_argument(argument)?,
        }),
        b"AUTH" => parse_auth(argument),
        upper if NOT_IMPLEMENTED_VERBS.contains(&upper) => Ok(Command::NotImplemented { verb }),
        _ => Err(CommandError::Unrecognized),
    }
}

fn syntax(reason: &'static str) -> CommandError {
    CommandError::Syntax { reason }
}

fn no_argument(
    argument: Option<&str>,
    command: Command<'static>,
) -> Result<Command<'static>, CommandError> {
    match argument {
        None => Ok(command),
        Some(_) => Err(syntax("this command takes no argument")),
    }
}

fn required_argument(argument: Option<&str>) -> Result<&str, CommandError> {
    match argument.map(str::trim) {
        Some(argument) if !argument.is_empty() => Ok(argument),
        _ => Err(syntax("missing argument")),
    }
}

/// Parses `AUTH mechanism [initial-response]` (RFC 4954 section 4).
///
/// The mechanism must have the RFC 4422 shape (letters, digits, `-` and
/// `_`, at most [`SASL_MECHANISM_LEN_MAX`]) in any case. The initial response
/// is returned as sent: whether it is valid base64 is checked when the
/// engine decodes it, so that the reply can be the 501 5.5.2 that RFC 4954
/// section 4 requires.
fn parse_auth(argument: Option<&str>) -> Result<Command<'_>, CommandError> {
    let argument = argument.map(|argument| argument.trim_start_matches(' '));
    let argument = argument
        .filter(|argument| !argument.is_empty())
        .ok_or(syntax("missing mechanism"))?;

    let mut words = argument.split(' ').filter(|word| !word.is_empty());
    let mechanism = words.next().ok_or(syntax("missing mechanism"))?;
    let initial_response = words.next();
    if words.next().is_some() {
        return Err(syntax("unexpected text after initial response"));
    }

    let shape_ok = mechanism.len() <= SASL_MECHANISM_LEN_MAX
        && mechanism
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
    if !shape_ok {
        return Err(syntax("invalid mechanism name"));
    }
    if initial_response.is_some_and(|response| response.contains('\t')) {
        return Err(syntax("tab in initial response"));
    }

    Ok(Command::Auth {
        mechanism,
        initial_response,
    })
}

/// Parses the EHLO or HELO argument: one word, a domain or address literal.
///
/// NOTE: only the shape (one word, no control characters, at most
/// DOMAIN_MAX octets) is checked. Many clients send names that are not valid
/// domains (`DESKTOP_1234`, `localhost.localdomain`), and rejecting those
/// is session policy.
fn parse_hello_domain(argument: Option<&str>) -> Result<&str, CommandError> {
    let domain = argument
        .map(|argument| argument.trim_start_matches(' '))
        .unwrap_or("");
    if domain.is_empty() {
        return Err(syntax("missing domain"));
    }
    if domain.contains([' ', '\t']) {
        return Err(syntax("unexpected text after domain"));
    }
    if domain.len() > DOMAIN_MAX {
        return Err(CommandError::DomainTooLong {
            len: domain.len(),
            max: DOMAIN_MAX,
        });
    }
    Ok(domain)
}

/// Strips the case-insensitive `keyword` (`FROM:` or `TO:`) and the one
/// optional space after it, returning the path and parameters.
fn strip_path_keyword<'a>(
    argument: Option<&'a str>,
    keyword: &str,
) -> Result<&'a str, CommandError> {
    let argument = argument.ok_or(syntax("missing path"))?;
    let matches = argument
        .get(..keyword.len())
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case(keyword));
    if !matches {
        return Err(syntax(if keyword == "FROM:" {
            "expected FROM:<reverse-path>"
        } else {
            "expected TO:<forward-path>"
        }));
    }
    let rest = &argument[keyword.len()..];
    Ok(rest.strip_prefix(' ').unwrap_or(rest))
}

/// Parses `BDAT` arguments: `1*DIGIT [SP "LAST"]`, with `LAST` in any case.
fn parse_bdat(argument: Option<&str>) -> Result<Command<'static>, CommandError> {
    let argument = argument.ok_or(syntax("BDAT needs a chunk size"))?;
    let (digits, last) = match argument.split_once(' ') {
        None => (argument, false),
        Some((digits, word)) if word.eq_ignore_ascii_case("LAST") => (digits, true),
        Some(_) => return Err(syntax("BDAT takes a chunk size and an optional LAST")),
    };

    let digits_ok = !digits.is_empty()
        && digits.len() <= BDAT_SIZE_DIGITS_MAX
        && digits.bytes().all(|byte| byte.is_ascii_digit());
    let size = digits
        .parse::<u64>()
        .ok()
        .filter(|_| digits_ok)
        .ok_or(syntax(
            "BDAT chunk size must be 1 to 20 digits and fit in 64 bits",
        ))?;
    Ok(Command::Bdat { size, last })
}

fn parse_mail(argument: Option<&str>) -> Result<Command<'_>, CommandError> {
    let rest = strip_path_keyword(argument, "FROM:")?;
    let (path, rest) = split_path(rest)?;

    let reverse_path = if path == "<>" {
        ReversePath::Null
    } else {
        ReversePath::Mailbox(parse_path(path)?)
    };

    let mut parameters = MailParameters::default();
    for parameter in split_parameters(rest)? {
        let (keyword, value) = parameter?;
        parse_mail_parameter(&mut parameters, keyword, value)?;
    }

    Ok(Command::MailFrom {
        reverse_path,
        parameters,
    })
}

fn parse_rcpt(argument: Option<&str>) -> Result<Command<'_>, CommandError> {
    let rest = strip_path_keyword(argument, "TO:")?;
    let (path, rest) = split_path(rest)?;

    let forward_path = if path.eq_ignore_ascii_case("<postmaster>") {
        ForwardPath::Postmaster
    } else if path == "<>" {
        return Err(syntax("null forward path"));
    } else {
        ForwardPath::Mailbox(parse_path(path)?)
    };

    let mut parameters = RcptParameters::default();
    for parameter in split_parameters(rest)? {
        let (keyword, value) = parameter?;
        parse_rcpt_parameter(&mut parameters, keyword, value)?;
    }

    Ok(Command::RcptTo {
        forward_path,
        parameters,
    })
}

/// Splits `<...>` from the parameters after it. The closing bracket is found
/// by scanning, because a quoted local part may contain `>`.
fn split_path(text: &str) -> Result<(&str, &str), CommandError> {
    if !text.starts_with('<') {
        return Err(syntax("path must be enclosed in angle brackets"));
    }

    let bytes = text.as_bytes();
    let mut index = 1;
    let mut in_quotes = false;
    let end = loop {
        match bytes.get(index) {
            None => return Err(syntax("missing closing bracket in path")),
            Some(b'\\') if in_quotes => index += 2,
            Some(b'"') => {
                in_quotes = !in_quotes;
                index += 1;
            }
            Some(b'>') if !in_quotes => break index + 1,
            Some(_) => index += 1,
        }
    };

    let (path, rest) = text.split_at(end);
    if path.len() > PATH_MAX {
        return Err(CommandError::PathTooLong {
            len: path.len(),
            max: PATH_MAX,
        });
    }
    if !rest.is_empty() && !rest.starts_with(' ') {
        return Err(syntax("expected space between path and parameters"));
    }
    Ok((path, rest))
}

/// Parses `<[a-d-l:]local-part@domain>`, ignoring any source route.
fn parse_path(path: &str) -> Result<Mailbox<'_>, CommandError> {
    let inner = &path[1..path.len() - 1];
    let mailbox = skip_source_route(inner)?;

    let at = find_local_part_end(mailbox)?;
    let local_part = &mailbox[..at];
    let domain = &mailbox[at + 1..];

    validate_local_part(local_part)?;
    validate_domain(domain)?;
    Ok(Mailbox { local_part, domain })
}

/// Skips an RFC 5321 source route `@a,@b:` (4.1.2 A-d-l), which servers
/// must accept and should ignore (appendix C), after checking its domains.
fn skip_source_route(inner: &str) -> Result<&str, CommandError> {
    if !inner.starts_with('@') {
        return Ok(inner);
    }

    let colon = inner
        .find(':')
        .ok_or(syntax("source route without colon"))?;
    for hop in inner[..colon].split(',') {
        let domain = hop
            .strip_prefix('@')
            .ok_or(syntax("source route hop without @"))?;
        validate_domain(domain)?;
    }
    Ok(&inner[colon + 1..])
}

/// Returns the index of the `@` that ends the local part.
fn find_local_part_end(mailbox: &str) -> Result<usize, CommandError> {
    let bytes = mailbox.as_bytes();
    if bytes.first() != Some(&b'"') {
        return mailbox.find('@').ok_or(syntax("missing @ in mailbox"));
    }

    let mut index = 1;
    loop {
        match bytes.get(index) {
            None => return Err(syntax("unterminated quoted local part")),
            Some(b'\\') => index += 2,
            Some(b'"') => break,
            Some(_) => index += 1,
        }
    }
    match bytes.get(index + 1) {
        Some(b'@') => Ok(index + 1),
        _ => Err(syntax("missing @ in mailbox")),
    }
}

/// Checks RFC 5321 Local-part: a dot-string of atoms, or a quoted string.
fn validate_local_part(local_part: &str) -> Result<(), CommandError> {
    if local_part.len() > LOCAL_PART_MAX {
        return Err(CommandError::LocalPartTooLong {
            len: local_part.len(),
            max: LOCAL_PART_MAX,
        });
    }
    if local_part.is_empty() {
        return Err(syntax("empty local part"));
    }

    if let Some(quoted) = local_part.strip_prefix('"') {
        let content = quoted
            .strip_suffix('"')
            .ok_or(syntax("unterminated quoted local part"))?;
        return validate_quoted_content(content);
    }

    for atom in local_part.split('.') {
        if atom.is_empty() {
            return Err(syntax("empty atom in local part"));
        }
        if !atom.chars().all(is_atext) {
            return Err(syntax("invalid character in local part"));
        }
    }
    Ok(())
}

/// Checks the inside of a quoted local part: qtextSMTP or quoted-pairSMTP.
fn validate_quoted_content(content: &str) -> Result<(), CommandError> {
    let mut chars = content.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(' '..='~') => {}
                _ => return Err(syntax("invalid quoted pair in local part")),
            },
            '"' => return Err(syntax("unescaped quote in local part")),
            ' '..='~' => {}
            c if !c.is_ascii() => {}
            _ => return Err(syntax("invalid character in quoted local part")),
        }
    }
    Ok(())
}

/// RFC 5322 atext, plus any non-ASCII character as RFC 6531 allows.
fn is_atext(c: char) -> bool {
    matches!(
        c,
        'a'..='z'
            | 'A'..='Z'
            | '0'..='9'
            | '!'
            | '#'
            | '$'
            | '%'
            | '&'
            | '\''
            | '*'
            | '+'
            | '-'
            | '/'
            | '='
            | '?'
            | '^'
            | '_'
            | '`'
            | '{'
            | '|'
            | '}'
            | '~'
    ) || !c.is_ascii()
}

/// Checks RFC 5321 Domain or address-literal.
fn validate_domain(domain: &str) -> Result<(), CommandError> {
    if domain.len() > DOMAIN_MAX {
        return Err(CommandError::DomainTooLong {
            len: domain.len(),
            max: DOMAIN_MAX,
        });
    }
    if domain.is_empty() {
        return Err(syntax("empty domain"));
    }

    if let Some(literal) = domain.strip_prefix('[') {
        let literal = literal
            .strip_suffix(']')
            .ok_or(syntax("unterminated address literal"))?;
        return validate_address_literal(literal);
    }

    for label in domain.split('.') {
        validate_label(label)?;
    }
    Ok(())
}

/// Checks one sub-domain: letters, digits and inner hyphens. Non-ASCII
/// characters count as letters, for RFC 6531 U-labels.
fn validate_label(label: &str) -> Result<(), CommandError> {
    if label.is_empty() {
        return Err(syntax("empty label in domain"));
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(syntax("domain label starts or ends with hyphen"));
    }
    if !label
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || !c.is_ascii())
    {
        return Err(syntax("invalid character in domain"));
    }
    Ok(())
}

/// Checks the inside of `[...]`: IPv4, `IPv6:` or a general `tag:content`.
fn validate_address_literal(literal: &str) -> Result<(), CommandError> {
    if literal
        .bytes()
        .next()
        .is_some_and(|byte| byte.is_ascii_digit())
    {
        return if is_ipv4_literal(literal) {
            Ok(())
        } else {
            Err(syntax("invalid IPv4 address literal"))
        };
    }

    let (tag, content) = literal
        .split_once(':')
        .ok_or(syntax("invalid address literal"))?;
    if tag.eq_ignore_ascii_case("IPv6") {
        return match content.parse::<std::net::Ipv6Addr>() {
            Ok(_) => Ok(()),
            Err(_) => Err(syntax("invalid IPv6 address literal")),
        };
    }

    // RFC 5321 General-address-literal: Standardized-tag ":" 1*dcontent.
    validate_label(tag)?;
    let dcontent_ok = content
        .bytes()
        .all(|byte| matches!(byte, 33..=90 | 94..=126));
    if content.is_empty() || !dcontent_ok {
        return Err(syntax("invalid address literal"));
    }
    Ok(())
}

/// RFC 5321 IPv4-address-literal: four `Snum` of one to three digits, each
/// at most 255. Leading zeros are allowed, unlike `Ipv4Addr::from_str`.
fn is_ipv4_literal(literal: &str) -> bool {
    let mut count = 0;
    for part in literal.split('.') {
        count += 1;
        let digits_ok =
            (1..=3).contains(&part.len()) && part.bytes().all(|byte| byte.is_ascii_digit());
        if !digits_ok || part.parse::<u16>().map_or(true, |value| value > 255) {
            return false;
        }
    }
    count == 4
}

/// Splits the text after a path into `keyword[=value]` parameters, checking
/// the count up front and the RFC 5321 esmtp-keyword and esmtp-value shapes
/// as the iterator goes.
fn split_parameters(
    text: &str,
) -> Result<impl Iterator<Item = Result<(&str, Option<&str>), CommandError>>, CommandError> {
    let words = text.split(' ').filter(|word| !word.is_empty());
    let count = words.clone().count();
    if count > PARAMETER_COUNT_MAX {
        return Err(CommandError::TooManyParameters {
            count,
            max: PARAMETER_COUNT_MAX,
        });
    }
    Ok(words.map(split_parameter))
}

fn split_parameter(word: &str) -> Result<(&str, Option<&str>), CommandError> {
    let (keyword, value) = match word.split_once('=') {
        Some((keyword, value)) => (keyword, Some(value)),
        None => (word, None),
    };

    let keyword_ok = keyword
        .bytes()
        .next()
        .is_some_and(|byte| byte.is_ascii_alphanumeric())
        && keyword
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-');
    if !keyword_ok {
        return Err(syntax("invalid parameter keyword"));
    }

    if value.is_some_and(|value| value.is_empty() || value.contains(['=', '\t'])) {
        return Err(syntax("invalid parameter value"));
    }
    Ok((keyword, value))
}

fn parse_mail_parameter<'a>(
    parameters: &mut MailParameters<'a>,
    keyword: &str,
    value: Option<&'a str>,
) -> Result<(), CommandError> {
    if keyword.eq_ignore_ascii_case("SIZE") {
        let value = value.ok_or(syntax("SIZE needs a value"))?;
        if parameters.size.is_some() {
            return Err(syntax("duplicate SIZE parameter"));
        }
        // RFC 1870: size-value is 1*20DIGIT; a u64 holds every 19-digit value.
        let digits_ok = value.bytes().all(|byte| byte.is_ascii_digit());
        let size = value.parse::<u64>().ok().filter(|_| digits_ok);
        parameters.size = Some(size.ok_or(syntax("invalid SIZE value"))?);
        return Ok(());
    }

    if keyword.eq_ignore_ascii_case("BODY") {
        let value = value.ok_or(syntax("BODY needs a value"))?;
        if parameters.body.is_some() {
            return Err(syntax("duplicate BODY parameter"));
        }
        let body = if value.eq_ignore_ascii_case("7BIT") {
            Body::SevenBit
        } else if value.eq_ignore_ascii_case("8BITMIME") {
            Body::EightBitMime
        } else if value.eq_ignore_ascii_case("BINARYMIME") {
            Body::BinaryMime
        } else {
            return Err(syntax("BODY must be 7BIT, 8BITMIME or BINARYMIME"));
        };
        parameters.body = Some(body);
        return Ok(());
    }

    if keyword.eq_ignore_ascii_case("SMTPUTF8") {
        if value.is_some() {
            return Err(syntax("SMTPUTF8 takes no value"));
        }
        if parameters.smtputf8 {
            return Err(syntax("duplicate SMTPUTF8 parameter"));
        }
        parameters.smtputf8 = true;
        return Ok(());
    }

    // RFC 4954 section 5: a server that offers AUTH must accept the AUTH
    // parameter even from a client that did not authenticate. Ringmail does
    // not relay with AUTH, so it may treat every value as `AUTH=<>` and
    // drop it.
    if keyword.eq_ignore_ascii_case("AUTH") {
        value.ok_or(syntax("AUTH needs a value"))?;
        return Ok(());
    }

    if keyword.eq_ignore_ascii_case("RET") {
        let value = value.ok_or(syntax("RET needs a value"))?;
        if parameters.ret.is_some() {
            return Err(syntax("duplicate RET parameter"));
        }
        let ret = if value.eq_ignore_ascii_case("FULL") {
            Ret::Full
        } else if value.eq_ignore_ascii_case("HDRS") {
            Ret::Hdrs
        } else {
            return Err(syntax("RET must be FULL or HDRS"));
        };
        parameters.ret = Some(ret);
        return Ok(());
    }

    if keyword.eq_ignore_ascii_case("ENVID") {
        let value = value.ok_or(syntax("ENVID needs a value"))?;
        if parameters.envid.is_some() {
            return Err(syntax("duplicate ENVID parameter"));
        }
        if value.len() > ENVID_MAX {
            return Err(syntax("ENVID longer than 100 characters"));
        }
        decode_xtext(value).map_err(|_| syntax("ENVID is not valid xtext"))?;
        parameters.envid = Some(value);
        return Ok(());
    }

    if keyword.eq_ignore_ascii_case("REQUIRETLS") {
        if value.is_some() {
            return Err(syntax("REQUIRETLS takes no value"));
        }
        if parameters.requiretls {
            return Err(syntax("duplicate REQUIRETLS parameter"));
        }
        parameters.requiretls = true;
        return Ok(());
    }

    Err(CommandError::UnknownParameter)
}

fn parse_rcpt_parameter<'a>(
    parameters: &mut RcptParameters<'a>,
    keyword: &str,
    value: Option<&'a str>,
) -> Result<(), CommandError> {
    if keyword.eq_ignore_ascii_case("NOTIFY") {
        let value = value.ok_or(syntax("NOTIFY needs a value"))?;
        if parameters.notify.is_some() {
            return Err(syntax("duplicate NOTIFY parameter"));
        }
        validate_notify(value)?;
        parameters.notify = Some(value);
        return Ok(());
    }

    if keyword.eq_ignore_ascii_case("ORCPT") {
        let value = value.ok_or(syntax("ORCPT needs a value"))?;
        if parameters.orcpt.is_some() {
            return Err(syntax("duplicate ORCPT parameter"));
        }
        if value.len() > ORCPT_MAX {
            return Err(syntax("ORCPT longer than 500 characters"));
        }
        let (address_type, address) = value
            .split_once(';')
            .ok_or(syntax("ORCPT must be addr-type;address"))?;
        if address_type.is_empty() || address.is_empty() {
            return Err(syntax("ORCPT must be addr-type;address"));
        }
        decode_xtext(address).map_err(|_| syntax("ORCPT address is not valid xtext"))?;
        parameters.orcpt = Some(value);
        return Ok(());
    }

    Err(CommandError::UnknownParameter)
}

/// RFC 3461 4.1: `NEVER` alone, or a list of distinct SUCCESS, FAILURE, DELAY.
fn validate_notify(value: &str) -> Result<(), CommandError> {
    if value.eq_ignore_ascii_case("NEVER") {
        return Ok(());
    }

    let mut seen = [false; 3];
    for item in value.split(',') {
        let index = ["SUCCESS", "FAILURE", "DELAY"]
            .iter()
            .position(|name| item.eq_ignore_ascii_case(name))
            .ok_or(syntax(
                "NOTIFY must be NEVER or a list of SUCCESS, FAILURE, DELAY",
            ))?;
        if seen[index] {
            return Err(syntax("duplicate value in NOTIFY"));
        }
        seen[index] = true;
    }
    Ok(())
}

#[cfg(test)]
#[path = "command_tests.rs"]
mod tests;
