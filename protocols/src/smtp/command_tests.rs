//! Tests for `parse_command`: one table row per accepted or rejected line.

use super::*;
use crate::smtp::line::{LineOutcome, LineReader, COMMAND_LINE_MAX};
use proptest::prelude::*;

fn mailbox<'a>(local_part: &'a str, domain: &'a str) -> Mailbox<'a> {
    Mailbox { local_part, domain }
}

fn mail(mailbox: Mailbox<'_>) -> Command<'_> {
    Command::MailFrom {
        reverse_path: ReversePath::Mailbox(mailbox),
        parameters: MailParameters::default(),
    }
}

fn rcpt(mailbox: Mailbox<'_>) -> Command<'_> {
    Command::RcptTo {
        forward_path: ForwardPath::Mailbox(mailbox),
        parameters: RcptParameters::default(),
    }
}

fn syntax(reason: &'static str) -> CommandError {
    CommandError::Syntax { reason }
}

macro_rules! accepts {
    ($($line:expr => $expected:expr,)*) => {
        $(
            assert_eq!(parse_command($line.as_bytes()), Ok($expected), "line {:?}", $line);
        )*
    };
}

macro_rules! rejects {
    ($($line:expr => $expected:expr,)*) => {
        $(
            assert_eq!(parse_command($line.as_bytes()), Err($expected), "line {:?}", $line);
        )*
    };
}

#[test]
fn simple_verbs_any_case() {
    accepts! {
        "DATA" => Command::Data,
        "data" => Command::Data,
        "RSET" => Command::Rset,
        "QUIT" => Command::Quit,
        "quit  " => Command::Quit,
        "NOOP" => Command::Noop,
        "NOOP anything at all" => Command::Noop,
        "HELP" => Command::Help { topic: None },
        "HELP MAIL" => Command::Help { topic: Some("MAIL") },
        "help " => Command::Help { topic: None },
        "VRFY postmaster" => Command::Vrfy { argument: "postmaster" },
        "EXPN staff list" => Command::Expn { argument: "staff list" },
    }
}

#[test]
fn hello_commands() {
    accepts! {
        "EHLO mx.example.org" => Command::Ehlo { domain: "mx.example.org" },
        "ehlo [192.0.2.1]" => Command::Ehlo { domain: "[192.0.2.1]" },
        "HELO DESKTOP_1234" => Command::Helo { domain: "DESKTOP_1234" },
        "EHLO  padded.example\t" => Command::Ehlo { domain: "padded.example" },
    }
}

#[test]
fn not_implemented_verbs_keep_spelling() {
    accepts! {
        "ETRN example.org" => Command::NotImplemented { verb: "ETRN" },
        "TURN" => Command::NotImplemented { verb: "TURN" },
    }
}

fn auth<'a>(mechanism: &'a str, initial_response: Option<&'a str>) -> Command<'a> {
    Command::Auth {
        mechanism,
        initial_response,
    }
}

#[test]
fn auth_commands() {
    accepts! {
        "AUTH PLAIN" => auth("PLAIN", None),
        "auth plain AGFiYwBkZWY=" => auth("plain", Some("AGFiYwBkZWY=")),
        "AUTH PLAIN =" => auth("PLAIN", Some("=")),
        "AUTH LOGIN" => auth("LOGIN", None),
        "AUTH  LOGIN  dXNlcg==  " => auth("LOGIN", Some("dXNlcg==")),
        "AUTH CRAM-MD5" => auth("CRAM-MD5", None),
        "AUTH SCRAM_SHA_1" => auth("SCRAM_SHA_1", None),
        "AUTH ABCDEFGHIJKLMNOPQRST" => auth("ABCDEFGHIJKLMNOPQRST", None),
    }
}

#[test]
fn mail_auth_parameter_accepted_and_dropped() {
    accepts! {
        "MAIL FROM:<a@example.org> AUTH=<>" => mail(mailbox("a", "example.org")),
        "MAIL FROM:<a@example.org> auth=a+2Bb@example.org" => mail(mailbox("a", "example.org")),
    }
    rejects! {
        "MAIL FROM:<a@example.org> AUTH" => syntax("AUTH needs a value"),
    }
}

#[test]
fn auth_malformed_arguments() {
    rejects! {
        "AUTH" => syntax("missing mechanism"),
        "AUTH " => syntax("missing mechanism"),
        "AUTH PLAIN abc def" => syntax("unexpected text after initial response"),
        "AUTH PL*AIN" => syntax("invalid mechanism name"),
        "AUTH ABCDEFGHIJKLMNOPQRSTU" => syntax("invalid mechanism name"),
        "AUTH PLAIN a\tb" => syntax("tab in initial response"),
    }
}

#[test]
fn mail_from_paths() {
    accepts! {
        "MAIL FROM:<a@b>" => mail(mailbox("a", "b")),
        "mail from:<a@b>" => mail(mailbox("a", "b")),
        "MAIL FROM: <a@b>" => mail(mailbox("a", "b")),
        "MAIL FROM:<first.last+tag@sub.example.org>" => mail(mailbox("first.last+tag", "sub.example.org")),
        "MAIL FROM:<\"john doe\"@example.org>" => mail(mailbox("\"john doe\"", "example.org")),
        "MAIL FROM:<\"a>b@c\\\"d\"@example.org>" => mail(mailbox("\"a>b@c\\\"d\"", "example.org")),
        "MAIL FROM:<@relay.example,@hop.example:user@example.org>" => mail(mailbox("user", "example.org")),
        "MAIL FROM:<u@[192.0.2.1]>" => mail(mailbox("u", "[192.0.2.1]")),
        "MAIL FROM:<u@[010.0.0.255]>" => mail(mailbox("u", "[010.0.0.255]")),
        "MAIL FROM:<u@[IPv6:2001:db8::1]>" => mail(mailbox("u", "[IPv6:2001:db8::1]")),
        "MAIL FROM:<u@[x-tag:content]>" => mail(mailbox("u", "[x-tag:content]")),
        "MAIL FROM:<用户@例子.广告>" => mail(mailbox("用户", "例子.广告")),
        "MAIL FROM:<>" => Command::MailFrom {
            reverse_path: ReversePath::Null,
            parameters: MailParameters::default(),
        },
    }
}

#[test]
fn rcpt_to_paths() {
    accepts! {
        "RCPT TO:<c@d>" => rcpt(mailbox("c", "d")),
        "rcpt to: <c@d>" => rcpt(mailbox("c", "d")),
        "RCPT TO:<Postmaster>" => Command::RcptTo {
            forward_path: ForwardPath::Postmaster,
            parameters: RcptParameters::default(),
        },
        "RCPT TO:<postMASTER>" => Command::RcptTo {
            forward_path: ForwardPath::Postmaster,
            parameters: RcptParameters::default(),
        },
        "RCPT TO:<Postmaster@example.org>" => rcpt(mailbox("Postmaster", "example.org")),
    }
}

#[test]
fn mail_parameters() {
    accepts! {
        "MAIL FROM:<a@b> SIZE=1000" => Command::MailFrom {
            reverse_path: ReversePath::Mailbox(mailbox("a", "b")),
            parameters: MailParameters { size: Some(1000), body: None, smtputf8: false, ..MailParameters::default() },
        },
        "MAIL FROM:<a@b> body=8bitmime  SMTPUTF8 size=0" => Command::MailFrom {
            reverse_path: ReversePath::Mailbox(mailbox("a", "b")),
            parameters: MailParameters { size: Some(0), body: Some(Body::EightBitMime), smtputf8: true, ..MailParameters::default() },
        },
        "MAIL FROM:<> BODY=7BIT" => Command::MailFrom {
            reverse_path: ReversePath::Null,
            parameters: MailParameters { size: None, body: Some(Body::SevenBit), smtputf8: false, ..MailParameters::default() },
        },
        "MAIL FROM:<a@b> BODY=BINARYMIME" => Command::MailFrom {
            reverse_path: ReversePath::Mailbox(mailbox("a", "b")),
            parameters: MailParameters { size: None, body: Some(Body::BinaryMime), smtputf8: false, ..MailParameters::default() },
        },
        "MAIL FROM:<a@b> SIZE=18446744073709551615" => Command::MailFrom {
            reverse_path: ReversePath::Mailbox(mailbox("a", "b")),
            parameters: MailParameters { size: Some(u64::MAX), body: None, smtputf8: false, ..MailParameters::default() },
        },
    }
}

#[test]
fn dsn_mail_parameters() {
    accepts! {
        "MAIL FROM:<a@b> RET=HDRS ENVID=QQ314159" => Command::MailFrom {
            reverse_path: ReversePath::Mailbox(mailbox("a", "b")),
            parameters: MailParameters { ret: Some(Ret::Hdrs), envid: Some("QQ314159"), ..MailParameters::default() },
        },
        "MAIL FROM:<> ret=full envid=id+2B1" => Command::MailFrom {
            reverse_path: ReversePath::Null,
            parameters: MailParameters { ret: Some(Ret::Full), envid: Some("id+2B1"), ..MailParameters::default() },
        },
    }
}

#[test]
fn envid_limit_boundary() {
    let at_max = format!("MAIL FROM:<a@b> ENVID={}", "e".repeat(ENVID_MAX));
    assert!(
        parse_command(at_max.as_bytes()).is_ok(),
        "ENVID of {ENVID_MAX} rejected"
    );

    let over = format!("MAIL FROM:<a@b> ENVID={}", "e".repeat(ENVID_MAX + 1));
    assert_eq!(
        parse_command(over.as_bytes()),
        Err(syntax("ENVID longer than 100 characters"))
    );
}

#[test]
fn orcpt_limit_boundary() {
    let address = |len: usize| format!("RCPT TO:<c@d> ORCPT=rfc822;{}", "o".repeat(len - 7));
    assert!(
        parse_command(address(ORCPT_MAX).as_bytes()).is_ok(),
        "ORCPT of {ORCPT_MAX} rejected"
    );
    assert_eq!(
        parse_command(address(ORCPT_MAX + 1).as_bytes()),
        Err(syntax("ORCPT longer than 500 characters"))
    );
}

#[test]
fn bdat_arguments() {
    accepts! {
        "BDAT 0" => Command::Bdat { size: 0, last: false },
        "BDAT 0 LAST" => Command::Bdat { size: 0, last: true },
        "bdat 100 last" => Command::Bdat { size: 100, last: true },
        "BDAT 86 Last  " => Command::Bdat { size: 86, last: true },
        "BDAT 007" => Command::Bdat { size: 7, last: false },
        "BDAT 18446744073709551615" => Command::Bdat { size: u64::MAX, last: false },
        "BDAT 00000000000000000001 LAST" => Command::Bdat { size: 1, last: true },
    }
}

#[test]
fn bdat_bad_arguments() {
    let size_error = syntax("BDAT chunk size must be 1 to 20 digits and fit in 64 bits");
    let shape_error = syntax("BDAT takes a chunk size and an optional LAST");
    rejects! {
        "BDAT" => syntax("BDAT needs a chunk size"),
        "BDAT " => syntax("BDAT needs a chunk size"),
        "BDAT LAST" => size_error,
        "BDAT -1" => size_error,
        "BDAT +1" => size_error,
        "BDAT 1x" => size_error,
        "BDAT 18446744073709551616" => size_error,
        "BDAT 000000000000000000001" => size_error,
        "BDAT 1\tLAST" => size_error,
        "BDAT 10 LAST LAST" => shape_error,
        "BDAT 10 FIRST" => shape_error,
        "BDAT 10  LAST" => shape_error,
        "BDAT 10 LASTX" => shape_error,
    }
}

#[test]
fn rcpt_parameters() {
    accepts! {
        "RCPT TO:<c@d> NOTIFY=SUCCESS,failure ORCPT=rfc822;c@d" => Command::RcptTo {
            forward_path: ForwardPath::Mailbox(mailbox("c", "d")),
            parameters: RcptParameters { notify: Some("SUCCESS,failure"), orcpt: Some("rfc822;c@d") },
        },
        "RCPT TO:<c@d> notify=NEVER" => Command::RcptTo {
            forward_path: ForwardPath::Mailbox(mailbox("c", "d")),
            parameters: RcptParameters { notify: Some("NEVER"), orcpt: None },
        },
        "RCPT TO:<c@d> ORCPT=rfc822;c+2Bx@d" => Command::RcptTo {
            forward_path: ForwardPath::Mailbox(mailbox("c", "d")),
            parameters: RcptParameters { notify: None, orcpt: Some("rfc822;c+2Bx@d") },
        },
    }
}

#[test]
fn rejected_verbs_and_arguments() {
    rejects! {
        "" => CommandError::Unrecognized,
        "FOO" => CommandError::Unrecognized,
        " MAIL FROM:<a@b>" => CommandError::Unrecognized,
        "MAILFROM:<a@b>" => CommandError::Unrecognized,
        "STARTTLSX" => CommandError::Unrecognized,
        "VERYLONGVERBNAME arg" => CommandError::Unrecognized,
        "MÄIL FROM:<a@b>" => CommandError::Unrecognized,
        "EHLO" => syntax("missing domain"),
        "EHLO " => syntax("missing domain"),
        "HELO a b" => syntax("unexpected text after domain"),
        "DATA now" => syntax("this command takes no argument"),
        "RSET x" => syntax("this command takes no argument"),
        "QUIT x" => syntax("this command takes no argument"),
        "VRFY" => syntax("missing argument"),
        "EXPN  " => syntax("missing argument"),
        "NOOP\r" => syntax("control character in command line"),
        "NOOP\0" => syntax("control character in command line"),
        "MAIL FROM:<a\x1b@b>" => syntax("control character in command line"),
    }
}

#[test]
fn rejected_paths() {
    rejects! {
        "MAIL" => syntax("missing path"),
        "MAIL TO:<a@b>" => syntax("expected FROM:<reverse-path>"),
        "RCPT FROM:<a@b>" => syntax("expected TO:<forward-path>"),
        "MAIL FROM:a@b" => syntax("path must be enclosed in angle brackets"),
        "MAIL FROM:  <a@b>" => syntax("path must be enclosed in angle brackets"),
        "MAIL FROM:<a@b" => syntax("missing closing bracket in path"),
        "MAIL FROM:<a@b>SIZE=1" => syntax("expected space between path and parameters"),
        "MAIL FROM:<ab>" => syntax("missing @ in mailbox"),
        "MAIL FROM:<@b>" => syntax("source route without colon"),
        "MAIL FROM:<a@>" => syntax("empty domain"),
        "MAIL FROM:<.a@b>" => syntax("empty atom in local part"),
        "MAIL FROM:<a..b@c>" => syntax("empty atom in local part"),
        "MAIL FROM:<a b@c>" => syntax("invalid character in local part"),
        "MAIL FROM:<a(b)@c>" => syntax("invalid character in local part"),
        "MAIL FROM:<\"ab@c>" => syntax("missing closing bracket in path"),
        "MAIL FROM:<\"a\"b@c>" => syntax("missing @ in mailbox"),
        "MAIL FROM:<\"a\"b\"@c>" => syntax("missing closing bracket in path"),
        "MAIL FROM:<a@b..c>" => syntax("empty label in domain"),
        "MAIL FROM:<a@-b.c>" => syntax("domain label starts or ends with hyphen"),
        "MAIL FROM:<a@b_c.d>" => syntax("invalid character in domain"),
        "MAIL FROM:<a@b@c>" => syntax("invalid character in domain"),
        "MAIL FROM:<a@[256.0.0.1]>" => syntax("invalid IPv4 address literal"),
        "MAIL FROM:<a@[1.2.3]>" => syntax("invalid IPv4 address literal"),
        "MAIL FROM:<a@[IPv6:zz::1]>" => syntax("invalid IPv6 address literal"),
        "MAIL FROM:<a@[nonsense]>" => syntax("invalid address literal"),
        "MAIL FROM:<a@[1.2.3.4>" => syntax("unterminated address literal"),
        "MAIL FROM:<@x_y:a@b>" => syntax("invalid character in domain"),
        "RCPT TO:<>" => syntax("null forward path"),
        "RCPT TO:<Postmaster@>" => syntax("empty domain"),
    }
}

#[test]
fn rejected_parameters() {
    rejects! {
        "MAIL FROM:<a@b> SIZE" => syntax("SIZE needs a value"),
        "MAIL FROM:<a@b> SIZE=-1" => syntax("invalid SIZE value"),
        "MAIL FROM:<a@b> SIZE=+1" => syntax("invalid SIZE value"),
        "MAIL FROM:<a@b> SIZE=18446744073709551616" => syntax("invalid SIZE value"),
        "MAIL FROM:<a@b> SIZE=1 SIZE=2" => syntax("duplicate SIZE parameter"),
        "MAIL FROM:<a@b> BODY=9BIT" => syntax("BODY must be 7BIT, 8BITMIME or BINARYMIME"),
        "MAIL FROM:<a@b> SMTPUTF8=yes" => syntax("SMTPUTF8 takes no value"),
        "MAIL FROM:<a@b> SIZE=" => syntax("invalid parameter value"),
        "MAIL FROM:<a@b> SIZE=1=2" => syntax("invalid parameter value"),
        "MAIL FROM:<a@b> =1" => syntax("invalid parameter keyword"),
        "MAIL FROM:<a@b> -X=1" => syntax("invalid parameter keyword"),
        "MAIL FROM:<a@b> X_Y=1" => syntax("invalid parameter keyword"),
        "MAIL FROM:<a@b> RET" => syntax("RET needs a value"),
        "MAIL FROM:<a@b> RET=BODY" => syntax("RET must be FULL or HDRS"),
        "MAIL FROM:<a@b> RET=FULL RET=HDRS" => syntax("duplicate RET parameter"),
        "MAIL FROM:<a@b> ENVID" => syntax("ENVID needs a value"),
        "MAIL FROM:<a@b> ENVID=a ENVID=b" => syntax("duplicate ENVID parameter"),
        "MAIL FROM:<a@b> ENVID=a+2" => syntax("ENVID is not valid xtext"),
        "MAIL FROM:<a@b> ENVID=a+zz" => syntax("ENVID is not valid xtext"),
        "MAIL FROM:<a@b> ENVID=é" => syntax("ENVID is not valid xtext"),
        "RCPT TO:<c@d> ORCPT=rfc822;c+4" => syntax("ORCPT address is not valid xtext"),
        "RCPT TO:<c@d> ORCPT=rfc822;a ORCPT=rfc822;b" => syntax("duplicate ORCPT parameter"),
        "RCPT TO:<c@d> NOTIFY=NEVER NOTIFY=NEVER" => syntax("duplicate NOTIFY parameter"),
        "RCPT TO:<c@d> RET=FULL" => CommandError::UnknownParameter,
        "MAIL FROM:<a@b> XFOO" => CommandError::UnknownParameter,
        "RCPT TO:<c@d> SIZE=1" => CommandError::UnknownParameter,
        "RCPT TO:<c@d> NOTIFY=NEVER,SUCCESS" => syntax("NOTIFY must be NEVER or a list of SUCCESS, FAILURE, DELAY"),
        "RCPT TO:<c@d> NOTIFY=DELAY,DELAY" => syntax("duplicate value in NOTIFY"),
        "RCPT TO:<c@d> ORCPT=rfc822" => syntax("ORCPT must be addr-type;address"),
        "RCPT TO:<c@d> ORCPT=;x" => syntax("ORCPT must be addr-type;address"),
    }
}

#[test]
fn invalid_utf8_rejected() {
    for line in [&b"MAIL FROM:<\xff@b>"[..], b"EHLO \xc3", b"\xed\xa0\x80"] {
        assert_eq!(
            parse_command(line),
            Err(syntax("command line is not valid UTF-8")),
            "line {line:?}"
        );
    }
}

#[test]
fn local_part_limit_boundary() {
    let at_max = format!("MAIL FROM:<{}@b>", "a".repeat(LOCAL_PART_MAX));
    assert!(parse_command(at_max.as_bytes()).is_ok());

    let over = format!("MAIL FROM:<{}@b>", "a".repeat(LOCAL_PART_MAX + 1));
    assert_eq!(
        parse_command(over.as_bytes()),
        Err(CommandError::LocalPartTooLong {
            len: LOCAL_PART_MAX + 1,
            max: LOCAL_PART_MAX
        })
    );
}

#[test]
fn domain_limit_boundary() {
    // Labels of 63 octets joined by dots, trimmed to the exact length.
    let domain = |len: usize| {
        let mut domain = vec!["x".repeat(63); 5].join(".");
        domain.truncate(len);
        domain
    };

    let at_max = format!("EHLO {}", domain(DOMAIN_MAX));
    assert!(parse_command(at_max.as_bytes()).is_ok());

    let over = format!("EHLO {}", "x".repeat(DOMAIN_MAX + 1));
    assert_eq!(
        parse_command(over.as_bytes()),
        Err(CommandError::DomainTooLong {
            len: DOMAIN_MAX + 1,
            max: DOMAIN_MAX
        })
    );
}

#[test]
fn path_limit_boundary() {
    // "<" + local + "@" + domain + ">" is local + domain + 3 octets.
    let domain_len = PATH_MAX - 3 - LOCAL_PART_MAX;
    let domain = |len: usize| {
        let mut domain = vec!["y".repeat(63); 4].join(".");
        domain.truncate(len);
        domain
    };

    let at_max = format!(
        "RCPT TO:<{}@{}>",
        "a".repeat(LOCAL_PART_MAX),
        domain(domain_len)
    );
    assert!(parse_command(at_max.as_bytes()).is_ok());

    let over = format!(
        "RCPT TO:<{}@{}>",
        "a".repeat(LOCAL_PART_MAX),
        domain(domain_len + 1)
    );
    assert_eq!(
        parse_command(over.as_bytes()),
        Err(CommandError::PathTooLong {
            len: PATH_MAX + 1,
            max: PATH_MAX
        })
    );
}

#[test]
fn parameter_count_limit_boundary() {
    let parameters = |count: usize| vec!["SMTPUTF8"; count].join(" ");

    let at_max = format!("MAIL FROM:<a@b> {}", parameters(PARAMETER_COUNT_MAX));
    assert_eq!(
        parse_command(at_max.as_bytes()),
        Err(syntax("duplicate SMTPUTF8 parameter")),
        "the count check passes and the duplicate check runs"
    );

    let over = format!("MAIL FROM:<a@b> {}", parameters(PARAMETER_COUNT_MAX + 1));
    assert_eq!(
        parse_command(over.as_bytes()),
        Err(CommandError::TooManyParameters {
            count: PARAMETER_COUNT_MAX + 1,
            max: PARAMETER_COUNT_MAX
        })
    );
}

#[test]
fn mailbox_is_ascii() {
    assert!(mailbox("a", "b").is_ascii());
    assert!(!mailbox("ü", "b").is_ascii());
    assert!(!mailbox("a", "bü").is_ascii());
}

#[test]
fn pipelined_session_lines_parse() {
    let session = b"EHLO client.example\r\nMAIL FROM:<a@b> SIZE=10\r\nRCPT TO:<c@d>\nRCPT TO:<Postmaster>\r\nDATA\r\n";
    let mut reader = LineReader::new(COMMAND_LINE_MAX);
    let mut rest = &session[..];
    let mut commands = Vec::new();
    while let LineOutcome::Line { line, consumed } = reader.next(rest) {
        commands.push(parse_command(line).expect("every line is valid"));
        rest = &rest[consumed..];
    }

    assert!(rest.is_empty());
    assert_eq!(commands.len(), 5);
    assert_eq!(
        commands[0],
        Command::Ehlo {
            domain: "client.example"
        }
    );
    assert_eq!(commands[2], rcpt(mailbox("c", "d")));
    assert_eq!(commands[4], Command::Data);
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..700)) {
        let mut reader = LineReader::new(COMMAND_LINE_MAX);
        let mut rest = &bytes[..];
        loop {
            match reader.next(rest) {
                LineOutcome::Line { line, consumed } => {
                    prop_assert!(line.len() < COMMAND_LINE_MAX);
                    if let Err(error) = parse_command(line) {
                        let wire = error.reply().to_bytes(true);
                        prop_assert!(wire.len() <= crate::smtp::REPLY_LINE_MAX);
                    }
                    rest = &rest[consumed..];
                }
                LineOutcome::TooLong { consumed } | LineOutcome::NeedMore { consumed } if consumed > 0 => {
                    rest = &rest[consumed..];
                }
                _ => break,
            }
        }
    }

    #[test]
    fn command_shaped_input_never_panics(
        verb in prop::sample::select(vec!["MAIL FROM:", "RCPT TO:", "EHLO ", "mail from: "]),
        body in "[<>@\\[\\]\":;,.=\\\\ a-zA-Z0-9-]{0,80}",
    ) {
        let line = format!("{verb}{body}");
        let _ = parse_command(line.as_bytes());
    }
}

#[test]
fn starttls_takes_no_parameter() {
    accepts! {
        "STARTTLS" => Command::StartTls,
        "starttls" => Command::StartTls,
        "StartTLS  " => Command::StartTls,
    }
    rejects! {
        "STARTTLS now" => syntax("this command takes no argument"),
        "STARTTLS TLS=1.3" => syntax("this command takes no argument"),
    }
}

#[test]
fn requiretls_mail_parameter() {
    let requiretls = MailParameters {
        requiretls: true,
        ..MailParameters::default()
    };
    accepts! {
        "MAIL FROM:<a@b> REQUIRETLS" => Command::MailFrom {
            reverse_path: ReversePath::Mailbox(mailbox("a", "b")),
            parameters: requiretls,
        },
        "MAIL FROM:<a@b> requiretls SIZE=10" => Command::MailFrom {
            reverse_path: ReversePath::Mailbox(mailbox("a", "b")),
            parameters: MailParameters { size: Some(10), ..requiretls },
        },
    }
    rejects! {
        "MAIL FROM:<a@b> REQUIRETLS=yes" => syntax("REQUIRETLS takes no value"),
        "MAIL FROM:<a@b> REQUIRETLS REQUIRETLS" => syntax("duplicate REQUIRETLS parameter"),
        "RCPT TO:<c@d> REQUIRETLS" => CommandError::UnknownParameter,
    }
}
