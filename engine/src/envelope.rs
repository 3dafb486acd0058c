//! The SMTP envelope of one accepted message, as the spool stores it and the
//! delivery stages read it.
//!
//! [`Envelope`] contains what the client sent outside the message: the reverse
//! path, each recipient with its routing decision and DSN parameters
//! (RFC 3461), the body type (RFC 6152, RFC 3030), SMTPUTF8 (RFC 6531) and
//! REQUIRETLS (RFC 8689). Addresses are kept as the client wrote them, after
//! xtext decoding where the parameter is xtext, so a DSN can quote them back.

use std::net::SocketAddr;

/// The body type the client declared with `BODY=` (RFC 6152, RFC 3030).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyType {
    /// No BODY parameter, or `BODY=7BIT`.
    #[default]
    SevenBit,
    /// `BODY=8BITMIME`.
    EightBitMime,
    /// `BODY=BINARYMIME`, only with BDAT.
    BinaryMime,
}

/// The DSN `RET` parameter: how much of the message a bounce carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DsnReturn {
    /// `RET=FULL`: the whole message.
    Full,
    /// `RET=HDRS`: the header only.
    Headers,
}

/// The DSN `NOTIFY` parameter of one recipient, as a set of conditions.
/// `NEVER` is the empty set; an absent parameter is `None` in
/// [`EnvelopeRecipient::notify`], which means the server's default
/// (failure and delay).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Notify {
    pub success: bool,
    pub failure: bool,
    pub delay: bool,
}

/// The delivery target of one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A local user's Maildir.
    Local { user: String },
    /// Another server, through relay.
    Remote,
}

/// One accepted envelope recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeRecipient {
    /// The address as the client gave it in RCPT TO, without brackets.
    pub address: String,
    pub destination: Destination,
    /// The DSN `NOTIFY` conditions, `None` when the client sent none.
    pub notify: Option<Notify>,
    /// The DSN `ORCPT` value as `addr-type;address`, xtext decoded.
    pub orcpt: Option<String>,
}

/// The envelope of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The queue id given in the 250 reply and the Received header.
    pub queue_id: String,
    /// The MAIL FROM address without brackets; empty for the null path `<>`.
    pub reverse_path: String,
    pub recipients: Vec<EnvelopeRecipient>,
    pub body: BodyType,
    /// Whether the client sent `SMTPUTF8` with MAIL FROM.
    pub smtputf8: bool,
    /// Whether the client sent `REQUIRETLS` with MAIL FROM (RFC 8689).
    pub requiretls: bool,
    /// The DSN `RET` parameter, `None` when absent.
    pub ret: Option<DsnReturn>,
    /// The DSN `ENVID` parameter, xtext decoded, `None` when absent.
    pub envid: Option<String>,
    /// The user that authenticated with AUTH, if any.
    pub auth_user: Option<String>,
    /// The client's address.
    pub peer: SocketAddr,
    /// The EHLO or HELO name the client gave.
    pub helo: String,
    /// Unix time in seconds at which the message was accepted.
    pub received_unix_secs: u64,
    /// The Maildir++ folder that local recipients get the message in, such
    /// as `Junk` for mail that spam scoring filed there. `None` is INBOX.
    pub local_folder: Option<String>,
}
