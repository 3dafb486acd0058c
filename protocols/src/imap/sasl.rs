//! `decode_sasl_plain`: splits the SASL PLAIN message of RFC 4616.
//!
//! The message is `[authzid] NUL authcid NUL password`, after the engine has
//! decoded the base64 of the AUTHENTICATE exchange. The parts borrow the
//! decoded buffer. Each part is bounded by `SASL_PLAIN_FIELD_LEN_MAX`, so a
//! caller that copies or hashes a part does bounded work.

use memchr::memchr;

use super::error::ParseError;

/// The maximum length of an authzid, authcid or password, in octets. RFC 4616
/// requires at least 255, and this leaves room for long generated passwords.
pub const SASL_PLAIN_FIELD_LEN_MAX: usize = 4096;

// The error text of `decode_sasl_plain` spells out this value.
const _: () = assert!(SASL_PLAIN_FIELD_LEN_MAX == 4096);

/// The parts of a PLAIN message: `(authzid, authcid, password)`.
pub type SaslPlainParts<'a> = (&'a [u8], &'a [u8], &'a [u8]);

/// Splits a decoded PLAIN message into `(authzid, authcid, password)`.
///
/// An empty `authzid` means the client asked to act as `authcid`. Errors
/// when a NUL separator is missing, a third NUL appears, `authcid` or
/// `password` is empty, or a part exceeds `SASL_PLAIN_FIELD_LEN_MAX`.
pub fn decode_sasl_plain(decoded: &[u8]) -> Result<SaslPlainParts<'_>, ParseError> {
    let invalid = |reason| ParseError::InvalidSaslPlain { reason };

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sasl_plain_valid_messages() {
        let cases: &[(&[u8], SaslPlainParts<'_>)] = &[
            (
                b"\0tim\0tanstaaftanstaaf",
                (b"", b"tim", b"tanstaaftanstaaf"),
            ),
            (b"Ursel\0Kurt\0xipj3plmq", (b"Ursel", b"Kurt", b"xipj3plmq")),
        ];
        for (message, expected) in cases {
            assert_eq!(
                decode_sasl_plain(message),
                Ok(*expected),
                "message {message:?}"
            );
        }
    }

    #[test]
    fn sasl_plain_malformed_messages() {
        let long = [
            b"\0user\0".as_slice(),
            &[b'p'; SASL_PLAIN_FIELD_LEN_MAX + 1],
        ]
        .concat();
        let cases: &[(&[u8], &str)] = &[
            (b"", "missing nul after authzid"),
            (b"user", "missing nul after authzid"),
            (b"\0user", "missing nul after authcid"),
            (b"\0user\0pass\0", "nul inside password"),
            (b"\0\0pass", "empty authcid"),
            (b"\0user\0", "empty password"),
            (&long, "a part exceeds sasl_plain_field_len_max 4096 octets"),
        ];
        for (message, reason) in cases {
            let error = decode_sasl_plain(message).expect_err("malformed message accepted");
            assert_eq!(
                error,
                ParseError::InvalidSaslPlain { reason },
                "message {message:?}"
            );
        }
    }
}
