//! Fuzz target: arbitrary bytes through the SASL decoders.
//!
//! The input is used three ways: as a response line for `decode_response`,
//! as a decoded PLAIN message and as a decoded LOGIN field. Checks, beyond
//! "no panic": the decoded parts lie inside their input and respect
//! `SASL_PLAIN_FIELD_LEN_MAX`, and a line over `SASL_LINE_MAX` never decodes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringmail_protocols::sasl::{
    decode_response, decode_sasl_login_field, decode_sasl_plain, Response, SASL_LINE_MAX,
    SASL_PLAIN_FIELD_LEN_MAX,
};

fuzz_target!(|input: &[u8]| {
    match decode_response(input) {
        Ok(Response::Data(decoded)) => {
            assert!(input.len() + 2 <= SASL_LINE_MAX);
            // base64 turns 4 octets into 3, so the output is never longer.
            assert!(decoded.len() <= input.len());
            check_plain(&decoded);
        }
        Ok(Response::Cancel) => assert_eq!(input, b"*"),
        Err(_) => {}
    }

    check_plain(input);
    if let Ok(field) = decode_sasl_login_field(input) {
        assert_eq!(field, input);
        assert!(!field.is_empty());
        assert!(field.len() <= SASL_PLAIN_FIELD_LEN_MAX);
        assert!(!field.contains(&0));
    }
});

fn check_plain(message: &[u8]) {
    if let Ok((authzid, authcid, password)) = decode_sasl_plain(message) {
        assert_eq!(authzid.len() + authcid.len() + password.len() + 2, message.len());
        for part in [authzid, authcid, password] {
            assert!(part.len() <= SASL_PLAIN_FIELD_LEN_MAX);
            assert!(!part.contains(&0));
        }
        assert!(!authcid.is_empty());
        assert!(!password.is_empty());
    }
}
