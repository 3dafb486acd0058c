//! SASL messages shared by SMTP AUTH (RFC 4954) and IMAP AUTHENTICATE
//! (RFC 3501): the PLAIN (RFC 4616) and LOGIN mechanisms and the base64
//! response lines that carry them.
//!
//! [`Mechanism`] names a supported mechanism. [`decode_response`] turns one
//! client response line (or an SMTP initial response) into a
//! [`Response`]: the cancel marker `*` or the decoded bytes.
//! [`decode_sasl_plain`] splits a decoded PLAIN message and
//! [`decode_sasl_login_field`] checks one decoded LOGIN field. Every decoded
//! part borrows the caller's buffer, and every error is a [`SaslError`]
//! with a lowercase reason.
//!
//! Limits: [`SASL_LINE_MAX`] bounds a response line and so the base64
//! decode. RFC 4954 section 4 names 12288 octets as a line limit sufficient
//! for deployed mechanisms, and a longer line fails AUTH with 500 5.5.6. [`SASL_PLAIN_FIELD_LEN_MAX`] bounds each identity and the
//! password, so a caller that copies or hashes a part does bounded work.

use base64::Engine as _;
use memchr::memchr;

/// The maximum length of one SASL response line in octets, line end
/// included: the 12288 that RFC 4954 section 4 names as sufficient.
pub const SASL_LINE_MAX: usize = 12288;

/// The maximum length of an authzid, authcid, user name or password, in
/// octets. RFC 4616 requires at least 255, and this leaves room for long
/// generated passwords.
pub const SASL_PLAIN_FIELD_LEN_MAX: usize = 4096;

// The error texts below spell out these values.
const _: () = assert!(SASL_PLAIN_FIELD_LEN_MAX == 4096);
const _: () = assert!(SASL_LINE_MAX == 12288);

/// The LOGIN mechanism's first challenge: base64 of `Username:`.
pub const LOGIN_USERNAME_CHALLENGE: &str = "VXNlcm5hbWU6";

/// The LOGIN mechanism's second challenge: base64 of `Password:`.
pub const LOGIN_PASSWORD_CHALLENGE: &str = "UGFzc3dvcmQ6";

/// A SASL mechanism this crate can decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// RFC 4616: one message `authzid NUL authcid NUL password`.
    Plain,
    /// The LOGIN mechanism (draft-murchison-sasl-login): the user name and
    /// the password in two responses.
    Login,
}

impl Mechanism {
    /// Returns the mechanism named `name`, in any case, or `None` for a
    /// mechanism this crate does not support.
    pub fn from_name(name: &str) -> Option<Mechanism> {
        if name.eq_ignore_ascii_case("PLAIN") {
            Some(Mechanism::Plain)
        } else if name.eq_ignore_ascii_case("LOGIN") {
            Some(Mechanism::Login)
        } else {
            None
        }
    }

    /// Returns the registered name of the mechanism.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
        }
    }
}

/// Reason a SASL response was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaslError {
    /// The response line is longer than [`SASL_LINE_MAX`].
    LineTooLong { len: usize, max: usize },
    /// The response is not valid base64.
    InvalidBase64,
    /// The decoded message does not have the mechanism's shape.
    InvalidMessage { reason: &'static str },
}

impl std::fmt::Display for SaslError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SaslError::LineTooLong { len, max } => write!(
                f,
                "sasl response line is {len} octets, more than the maximum of {max}"
            ),
            SaslError::InvalidBase64 => f.write_str("sasl response is not valid base64"),
            SaslError::InvalidMessage { reason } => write!(f, "invalid sasl message: {reason}"),
        }
    }
}

impl std::error::Error for SaslError {}

/// One client response, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// The client sent `*` to cancel the exchange (RFC 4954 section 4).
    Cancel,
    /// The decoded bytes. `=` decodes to an empty response.
    Data(Vec<u8>),
}

/// Decodes one response line, given without its line end.
///
/// `*` is [`Response::Cancel`] and `=` is an empty [`Response::Data`], as
/// RFC 4954 section 4 defines for AUTH. Anything else must be standard
/// base64 with padding. Errors when the line with its CRLF is longer than
/// [`SASL_LINE_MAX`] or the base64 is invalid.
pub fn decode_response(line: &[u8]) -> Result<Response, SaslError> {
    let len = line.len() + 2;
    if len > SASL_LINE_MAX {
        return Err(SaslError::LineTooLong {
            len,
            max: SASL_LINE_MAX,
        });
    }

    match line {
        b"*" => Ok(Response::Cancel),
        b"=" => Ok(Response::Data(Vec::new())),
        _ => base64::engine::general_purpose::STANDARD
            .decode(line)
            .map(Response::Data)
            .map_err(|_| SaslError::InvalidBase64),
    }
}

/// The parts of a PLAIN message: `(authzid, authcid, password)`.
pub type SaslPlainParts<'a> = (&'a [u8], &'a [u8], &'a [u8]);

/// Splits a decoded PLAIN message into `(authzid, authcid, password)`.
///
/// An empty `authzid` means the client asked to act as `authcid`. Errors
/// when a NUL separator is missing, a third NUL appears, `authcid` or
/// `password` is empty, or a part exceeds `SASL_PLAIN_FIELD_LEN_MAX`.
pub fn decode_sasl_plain(decoded: &[u8]) -> Result<SaslPlainParts<'_>, SaslError> {
    let invalid = |reason| SaslError::InvalidMessage { reason };

    let first_nul = memchr(0, decoded).ok_or(invalid("missing nul after authzid"))?;
    let authzid = &decoded[..first_nul];
    let rest = &decoded[first_nul + 1..];
    let second_nul = memchr(0, rest).ok_or(invalid("missing nul after authcid"))?;
    let authcid = &rest[..second_nul];
    let password = &rest[second_nul + 1..];

    if memchr(0, password).is_some() {
        return Err(invalid("nul inside password"));
    }
    if authcid.is_empty() {
        return Err(invalid("empty authcid"));
    }
    if password.is_empty() {
        return Err(invalid("empty password"));
    }
    let too_long = [authzid, authcid, password]
        .iter()
        .any(|part| part.len() > SASL_PLAIN_FIELD_LEN_MAX);
    if too_long {
        return Err(invalid(
            "a part exceeds sasl_plain_field_len_max 4096 octets",
        ));
    }
    Ok((authzid, authcid, password))
}

/// Checks one decoded LOGIN field, the user name or the password, and
/// returns it. Errors when the field is empty, contains a NUL or exceeds
/// `SASL_PLAIN_FIELD_LEN_MAX`.
pub fn decode_sasl_login_field(decoded: &[u8]) -> Result<&[u8], SaslError> {
    let invalid = |reason| SaslError::InvalidMessage { reason };

    if decoded.is_empty() {
        return Err(invalid("empty login field"));
    }
    if memchr(0, decoded).is_some() {
        return Err(invalid("nul inside login field"));
    }
    if decoded.len() > SASL_PLAIN_FIELD_LEN_MAX {
        return Err(invalid(
            "login field exceeds sasl_plain_field_len_max 4096 octets",
        ));
    }
    Ok(decoded)
}

#[cfg(test)]
#[path = "sasl/tests.rs"]
mod tests;
