//! The mail transaction in progress and how MAIL and RCPT fill its envelope.
//!
//! [`Transaction`] contains the [`Envelope`] that MAIL FROM starts and each
//! accepted RCPT TO extends, and, once the client sent a BDAT chunk, the
//! [`ChunkedMessage`] that collects the chunks. [`new_envelope`] and
//! [`new_recipient`] turn the parsed parameters into envelope values: SMTPUTF8
//! (RFC 6531), the body type (RFC 6152, RFC 3030) and the DSN parameters
//! RET, ENVID, NOTIFY and ORCPT (RFC 3461), with ENVID and ORCPT xtext
//! decoded. They return the reply that rejects the command when a value is
//! not allowed, so the session only decides the order of commands.
//!
//! The parser bounds every value these functions copy (ENVID to
//! `ENVID_MAX`, ORCPT to `ORCPT_MAX`, addresses to `PATH_MAX`), so an
//! envelope costs at most a few KiB per recipient.

use std::net::SocketAddr;

use ringmail_protocols::smtp::xtext::decode_xtext;
use ringmail_protocols::smtp::{
    BdatReceiver, Body, EnhancedStatus, MailParameters, Mailbox, RcptParameters, Reply, Ret,
    ReversePath,
};

use crate::envelope::{BodyType, Destination, DsnReturn, Envelope, EnvelopeRecipient, Notify};

/// The mail transaction between an accepted MAIL FROM and its end.
pub struct Transaction {
    pub envelope: Envelope,
    /// The message so far, once the first BDAT chunk arrived. DATA is out
    /// of order from then on.
    pub chunked: Option<ChunkedMessage>,
}

/// A message arriving in BDAT chunks.
pub struct ChunkedMessage {
    pub receiver: BdatReceiver,
    /// The Received header followed by the chunks received so far.
    pub message: Vec<u8>,
    /// The length of the Received header at the start of `message`.
    pub trace_len: usize,
}

/// The client's identity as the session has it when MAIL FROM arrives.
pub struct Client<'a> {
    pub peer: SocketAddr,
    pub helo: &'a str,
}

/// Builds the envelope for an accepted MAIL FROM, or returns the reply that
/// rejects it.
pub fn new_envelope(
    client: &Client<'_>,
    queue_id: String,
    reverse_path: ReversePath<'_>,
    parameters: &MailParameters<'_>,
) -> Result<Envelope, Reply> {
    let reverse_path = match reverse_path {
        ReversePath::Null => String::new(),
        ReversePath::Mailbox(mailbox) => {
            check_ascii_or_smtputf8(&mailbox, parameters.smtputf8)?;
            address(&mailbox)
        }
    };

    let envid = match parameters.envid {
        Some(envid) => Some(decode(envid, "ENVID")?),
        None => None,
    };

    Ok(Envelope {
        queue_id,
        reverse_path,
        recipients: Vec::new(),
        body: match parameters.body {
            None | Some(Body::SevenBit) => BodyType::SevenBit,
            Some(Body::EightBitMime) => BodyType::EightBitMime,
            Some(Body::BinaryMime) => BodyType::BinaryMime,
        },
        smtputf8: parameters.smtputf8,
        requiretls: false,
        ret: parameters.ret.map(|ret| match ret {
            Ret::Full => DsnReturn::Full,
            Ret::Hdrs => DsnReturn::Headers,
        }),
        envid,
        auth_user: None,
        peer: client.peer,
        helo: client.helo.to_string(),
        received_unix_secs: unix_now_secs(),
        local_folder: None,
    })
}

/// Checks a RCPT TO mailbox against the envelope's SMTPUTF8 flag, before
/// routing. Returns the reply that rejects it.
pub fn check_recipient_mailbox(envelope: &Envelope, mailbox: &Mailbox<'_>) -> Result<(), Reply> {
    check_ascii_or_smtputf8(mailbox, envelope.smtputf8)
}

/// Builds the envelope recipient of an accepted RCPT TO, or returns the reply
/// that rejects its parameters.
pub fn new_recipient(
    address: String,
    destination: Destination,
    parameters: &RcptParameters<'_>,
) -> Result<EnvelopeRecipient, Reply> {
    let orcpt = match parameters.orcpt {
        Some(orcpt) => Some(decode_orcpt(orcpt)?),
        None => None,
    };
    Ok(EnvelopeRecipient {
        address,
        destination,
        notify: parameters.notify.map(parse_notify),
        orcpt,
    })
}

/// Returns `local_part@domain` as the client wrote it.
pub fn address(mailbox: &Mailbox<'_>) -> String {
    format!("{}@{}", mailbox.local_part, mailbox.domain)
}

/// Returns the current Unix time in seconds, 0 for a clock before 1970.
pub fn unix_now_secs() -> u64 {
    u64::try_from(crate::time::unix_now()).unwrap_or(0)
}

/// RFC 6531 3.7.4.1: a non-ASCII address without SMTPUTF8 on MAIL FROM gets
/// `553 5.6.7`.
fn check_ascii_or_smtputf8(mailbox: &Mailbox<'_>, smtputf8: bool) -> Result<(), Reply> {
    if smtputf8 || mailbox.is_ascii() {
        return Ok(());
    }
    Err(Reply::new(
        553,
        Some(EnhancedStatus::new(5, 6, 7)),
        "non-ASCII address requires the SMTPUTF8 parameter on MAIL FROM",
    ))
}

/// Parses a NOTIFY value that the parser already checked: `NEVER`, or a
/// comma list of SUCCESS, FAILURE and DELAY in any case.
fn parse_notify(value: &str) -> Notify {
    let mut notify = Notify::default();
    for item in value.split(',') {
        if item.eq_ignore_ascii_case("SUCCESS") {
            notify.success = true;
        } else if item.eq_ignore_ascii_case("FAILURE") {
            notify.failure = true;
        } else if item.eq_ignore_ascii_case("DELAY") {
            notify.delay = true;
        }
    }
    notify
}

/// Decodes `addr-type;xtext` into `addr-type;address`.
fn decode_orcpt(value: &str) -> Result<String, Reply> {
    let Some((address_type, address)) = value.split_once(';') else {
        return Err(bad_parameter("ORCPT", "must be addr-type;address"));
    };
    let address = decode(address, "ORCPT")?;
    Ok(format!("{address_type};{address}"))
}

fn decode(xtext: &str, keyword: &str) -> Result<String, Reply> {
    decode_xtext(xtext)
        .map(|decoded| decoded.into_owned())
        .map_err(|error| bad_parameter(keyword, &error.to_string()))
}

/// Builds the `501 5.5.4` reply to an invalid parameter value.
fn bad_parameter(keyword: &str, reason: &str) -> Reply {
    Reply::new(
        501,
        Some(EnhancedStatus::new(5, 5, 4)),
        format!("invalid {keyword} parameter: {reason}"),
    )
}

#[cfg(test)]
mod tests {
    use ringmail_protocols::smtp::{parse_command, Command, ForwardPath};

    use super::*;

    fn client() -> Client<'static> {
        Client {
            peer: "127.0.0.1:2525".parse().unwrap(),
            helo: "client.example",
        }
    }

    fn mail(line: &str) -> Result<Envelope, Reply> {
        let Ok(Command::MailFrom {
            reverse_path,
            parameters,
        }) = parse_command(line.as_bytes())
        else {
            panic!("not a MAIL command: {line}");
        };
        new_envelope(&client(), "QID1".to_string(), reverse_path, &parameters)
    }

    fn rcpt(envelope: &Envelope, line: &str) -> Result<EnvelopeRecipient, Reply> {
        let Ok(Command::RcptTo {
            forward_path: ForwardPath::Mailbox(mailbox),
            parameters,
        }) = parse_command(line.as_bytes())
        else {
            panic!("not a RCPT command with a mailbox: {line}");
        };
        check_recipient_mailbox(envelope, &mailbox)?;
        new_recipient(
            address(&mailbox),
            Destination::Local {
                user: "alice".to_string(),
            },
            &parameters,
        )
    }

    #[test]
    fn dsn_parameters_are_decoded_into_the_envelope() {
        let envelope =
            mail("MAIL FROM:<bob@example.org> RET=HDRS ENVID=QQ+2B314+3D1 BODY=BINARYMIME")
                .expect("MAIL accepted");
        assert_eq!(envelope.queue_id, "QID1");
        assert_eq!(envelope.reverse_path, "bob@example.org");
        assert_eq!(envelope.ret, Some(DsnReturn::Headers));
        assert_eq!(envelope.envid.as_deref(), Some("QQ+314=1"));
        assert_eq!(envelope.body, BodyType::BinaryMime);
        assert!(!envelope.smtputf8);
        assert_eq!(envelope.helo, "client.example");
        assert!(envelope.received_unix_secs > 0);

        let recipient = rcpt(
            &envelope,
            "RCPT TO:<alice@localhost> NOTIFY=SUCCESS,delay ORCPT=rfc822;alice+2Btag@localhost",
        )
        .expect("RCPT accepted");
        assert_eq!(recipient.address, "alice@localhost");
        assert_eq!(
            recipient.destination,
            Destination::Local {
                user: "alice".to_string()
            }
        );
        assert_eq!(
            recipient.notify,
            Some(Notify {
                success: true,
                failure: false,
                delay: true
            })
        );
        assert_eq!(
            recipient.orcpt.as_deref(),
            Some("rfc822;alice+tag@localhost")
        );
    }

    #[test]
    fn absent_dsn_parameters_stay_none() {
        let envelope = mail("MAIL FROM:<>").expect("MAIL accepted");
        assert_eq!(envelope.reverse_path, "");
        assert_eq!(envelope.ret, None);
        assert_eq!(envelope.envid, None);
        assert_eq!(envelope.body, BodyType::SevenBit);

        let recipient = rcpt(&envelope, "RCPT TO:<alice@localhost>").expect("RCPT accepted");
        assert_eq!(recipient.notify, None);
        assert_eq!(recipient.orcpt, None);
    }

    #[test]
    fn notify_never_is_the_empty_set() {
        let envelope = mail("MAIL FROM:<>").unwrap();
        let recipient = rcpt(&envelope, "RCPT TO:<alice@localhost> NOTIFY=NEVER").unwrap();
        assert_eq!(recipient.notify, Some(Notify::default()));
    }

    #[test]
    fn utf8_address_without_smtputf8_rejected() {
        let rejected = mail("MAIL FROM:<用户@例子.广告>").expect_err("MAIL accepted");
        assert_eq!(rejected.code, 553);
        assert_eq!(rejected.status, Some(EnhancedStatus::new(5, 6, 7)));

        let ascii = mail("MAIL FROM:<bob@example.org>").unwrap();
        let rejected = rcpt(&ascii, "RCPT TO:<élodie@localhost>").expect_err("RCPT accepted");
        assert_eq!(rejected.code, 553);
        assert_eq!(rejected.status, Some(EnhancedStatus::new(5, 6, 7)));
    }

    #[test]
    fn utf8_address_with_smtputf8_is_accepted() {
        let envelope = mail("MAIL FROM:<用户@例子.广告> SMTPUTF8").expect("MAIL rejected");
        assert!(envelope.smtputf8);
        assert_eq!(envelope.reverse_path, "用户@例子.广告");

        let recipient = rcpt(&envelope, "RCPT TO:<élodie@localhost>").expect("RCPT rejected");
        assert_eq!(recipient.address, "élodie@localhost");
    }
}
