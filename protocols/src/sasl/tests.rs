use proptest::prelude::*;

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
            SaslError::InvalidMessage { reason },
            "message {message:?}"
        );
    }
}

#[test]
fn response_line_table() {
    let cases: &[(&[u8], Result<Response, SaslError>)] = &[
        (b"*", Ok(Response::Cancel)),
        (b"=", Ok(Response::Data(Vec::new()))),
        (
            b"AHRpbQB0YW5zdGFhZg==",
            Ok(Response::Data(b"\0tim\0tanstaaf".to_vec())),
        ),
        (b"VXNlcm5hbWU6", Ok(Response::Data(b"Username:".to_vec()))),
        (b"not base64!", Err(SaslError::InvalidBase64)),
        (b"AHRpbQ", Err(SaslError::InvalidBase64)),
        (b"AHRp bQ==", Err(SaslError::InvalidBase64)),
        (b"**", Err(SaslError::InvalidBase64)),
        (b"", Ok(Response::Data(Vec::new()))),
    ];
    for (line, expected) in cases {
        assert_eq!(&decode_response(line), expected, "line {line:?}");
    }
}

#[test]
fn response_line_over_limit_rejected() {
    // The limit counts the CRLF, so SASL_LINE_MAX - 2 octets of text fit.
    let fits = vec![b'A'; SASL_LINE_MAX - 4];
    assert!(decode_response(&fits).is_ok());

    let too_long = vec![b'A'; SASL_LINE_MAX - 1];
    assert_eq!(
        decode_response(&too_long),
        Err(SaslError::LineTooLong {
            len: SASL_LINE_MAX + 1,
            max: SASL_LINE_MAX
        })
    );
}

#[test]
fn login_challenges_decode_to_prompts() {
    let cases = [
        (LOGIN_USERNAME_CHALLENGE, b"Username:".as_slice()),
        (LOGIN_PASSWORD_CHALLENGE, b"Password:".as_slice()),
    ];
    for (challenge, prompt) in cases {
        assert_eq!(
            decode_response(challenge.as_bytes()),
            Ok(Response::Data(prompt.to_vec()))
        );
    }
}

/// A LOGIN field and the expected result: the field, or the error reason.
type LoginFieldCase<'a> = (&'a [u8], Result<&'a [u8], &'static str>);

#[test]
fn login_field_table() {
    let long = vec![b'u'; SASL_PLAIN_FIELD_LEN_MAX + 1];
    let cases: &[LoginFieldCase<'_>] = &[
        (b"alice", Ok(b"alice")),
        (b"", Err("empty login field")),
        (b"al\0ice", Err("nul inside login field")),
        (
            &long,
            Err("login field exceeds sasl_plain_field_len_max 4096 octets"),
        ),
    ];
    for (field, expected) in cases {
        let expected = expected.map_err(|reason| SaslError::InvalidMessage { reason });
        assert_eq!(decode_sasl_login_field(field), expected, "field {field:?}");
    }
}

#[test]
fn mechanism_names_any_case() {
    assert_eq!(Mechanism::from_name("plain"), Some(Mechanism::Plain));
    assert_eq!(Mechanism::from_name("LoGiN"), Some(Mechanism::Login));
    assert_eq!(Mechanism::from_name("CRAM-MD5"), None);
    assert_eq!(Mechanism::Plain.name(), "PLAIN");
    assert_eq!(Mechanism::Login.name(), "LOGIN");
}

#[test]
fn error_text_names_limit_and_value() {
    let error = SaslError::LineTooLong {
        len: 20000,
        max: SASL_LINE_MAX,
    };
    assert_eq!(
        error.to_string(),
        "sasl response line is 20000 octets, more than the maximum of 12288"
    );
}

proptest! {
    #[test]
    fn decoders_never_panic_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_response(&bytes);
        let _ = decode_sasl_plain(&bytes);
        let _ = decode_sasl_login_field(&bytes);
    }

    #[test]
    fn plain_round_trips_through_base64(
        user in "[a-z][a-z0-9]{0,20}",
        password in "[ -~]{1,40}",
    ) {
        let message = format!("\0{user}\0{password}");
        let line = base64::engine::general_purpose::STANDARD.encode(message.as_bytes());
        let Ok(Response::Data(decoded)) = decode_response(line.as_bytes()) else {
            panic!("valid base64 rejected: {line}");
        };
        let (authzid, authcid, decoded_password) = decode_sasl_plain(&decoded).unwrap();
        prop_assert_eq!(authzid, b"".as_slice());
        prop_assert_eq!(authcid, user.as_bytes());
        prop_assert_eq!(decoded_password, password.as_bytes());
    }
}
