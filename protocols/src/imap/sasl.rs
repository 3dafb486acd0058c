//! `decode_sasl_plain` for IMAP AUTHENTICATE PLAIN: the shared decoder of
//! [`crate::sasl`], with its errors mapped to the IMAP [`ParseError`].
//!
//! The message is `[authzid] NUL authcid NUL password`, after the engine has
//! decoded the base64 of the AUTHENTICATE exchange. The parts borrow the
//! decoded buffer, and each is bounded by `SASL_PLAIN_FIELD_LEN_MAX`.

use super::error::ParseError;
use crate::sasl::{self, SaslError};

pub use crate::sasl::{SaslPlainParts, SASL_PLAIN_FIELD_LEN_MAX};

/// Splits a decoded PLAIN message into `(authzid, authcid, password)`.
///
/// An empty `authzid` means the client asked to act as `authcid`. The errors
/// are those of [`sasl::decode_sasl_plain`].
pub fn decode_sasl_plain(decoded: &[u8]) -> Result<SaslPlainParts<'_>, ParseError> {
    sasl::decode_sasl_plain(decoded).map_err(|error| match error {
        SaslError::InvalidMessage { reason } => ParseError::InvalidSaslPlain { reason },
        // The PLAIN decoder returns only InvalidMessage; the other kinds come
        // from the base64 layer, which the IMAP session handles itself.
        SaslError::LineTooLong { .. } | SaslError::InvalidBase64 => ParseError::InvalidSaslPlain {
            reason: "invalid message",
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sasl_plain_error_maps_to_parse_error() {
        assert_eq!(
            decode_sasl_plain(b"\0user"),
            Err(ParseError::InvalidSaslPlain {
                reason: "missing nul after authcid"
            })
        );
        assert_eq!(
            decode_sasl_plain(b"\0user\0pass"),
            Ok((b"".as_slice(), b"user".as_slice(), b"pass".as_slice()))
        );
    }
}
