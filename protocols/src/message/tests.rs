//! Tests of the message module on handcrafted messages, and a property test
//! that arbitrary bytes never make a writer panic.

use proptest::prelude::*;

use super::*;

fn envelope(message: &[u8]) -> String {
    let mut out = Vec::new();
    write_envelope(&mut out, message);
    String::from_utf8_lossy(&out).into_owned()
}

fn structure(message: &[u8], extensible: bool) -> String {
    let mut out = Vec::new();
    write_body_structure(&mut out, message, extensible);
    String::from_utf8_lossy(&out).into_owned()
}

const SINGLE: &[u8] = b"Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n\
From: Fred Foobar <foobar@Blurdybloop.example>\r\n\
Subject: afternoon\r\n meeting\r\n\
To: mooch@owatagu.example\r\n\
Message-Id: <B27397-0100000@Blurdybloop.example>\r\n\
\r\n\
Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n";

const ALTERNATIVE_IN_MIXED: &[u8] = b"From: a@example.org\r\n\
Content-Type: multipart/mixed; boundary=\"outer\"\r\n\
\r\n\
preamble\r\n\
--outer\r\n\
Content-Type: multipart/alternative; boundary=outer-inner\r\n\
\r\n\
--outer-inner\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
plain\r\n\
two\r\n\
--outer-inner\r\n\
Content-Type: text/html; charset=\"utf-8\"\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
<p>html</p>\r\n\
--outer-inner--\r\n\
\r\n\
--outer\r\n\
Content-Type: application/pdf; name=\"a b.pdf\"\r\n\
Content-Disposition: attachment; filename=\"a b.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\
Content-ID: <pdf@example.org>\r\n\
Content-Language: en, de\r\n\
\r\n\
JVBERi0=\r\n\
--outer--\r\n\
epilogue\r\n";

const RFC822_ATTACHMENT: &[u8] = b"From: outer@example.org\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\
\r\n\
--b\r\n\
\r\n\
see attached\r\n\
--b\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
From: inner@example.org\r\n\
Subject: inner\r\n\
\r\n\
inner body\r\n\
--b--\r\n";

#[test]
fn envelope_of_single_part() {
    assert_eq!(
        envelope(SINGLE),
        "(\"Mon, 7 Feb 1994 21:52:25 -0800\" \"afternoon meeting\" \
((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.example\")) \
((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.example\")) \
((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.example\")) \
((NIL NIL \"mooch\" \"owatagu.example\")) NIL NIL NIL \
\"<B27397-0100000@Blurdybloop.example>\")"
    );
}

#[test]
fn envelope_without_header_is_all_nil() {
    assert_eq!(envelope(b""), "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
    assert_eq!(
        envelope(b"\r\nbody"),
        "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"
    );
}

#[test]
fn envelope_keeps_encoded_words_raw() {
    let message = b"Subject: =?utf-8?q?caf=C3=A9?=\r\n\
From: =?utf-8?q?Jos=C3=A9?= <jose@example.org>\r\n\r\n";
    assert_eq!(
        envelope(message),
        "(NIL \"=?utf-8?q?caf=C3=A9?=\" ((\"=?utf-8?q?Jos=C3=A9?=\" NIL \"jose\" \"example.org\")) \
((\"=?utf-8?q?Jos=C3=A9?=\" NIL \"jose\" \"example.org\")) \
((\"=?utf-8?q?Jos=C3=A9?=\" NIL \"jose\" \"example.org\")) NIL NIL NIL NIL NIL)"
    );
}

#[test]
fn envelope_sender_present_is_kept() {
    let message = b"From: a@x\r\nSender: b@y\r\nReply-To:\r\n\r\n";
    assert_eq!(
        envelope(message),
        "(NIL NIL ((NIL NIL \"a\" \"x\")) ((NIL NIL \"b\" \"y\")) ((NIL NIL \"a\" \"x\")) \
NIL NIL NIL NIL NIL)"
    );
}

/// Address lists and the IMAP address structures they become.
#[test]
fn address_list_forms() {
    let rows: &[(&str, &str)] = &[
        ("a@b", "((NIL NIL \"a\" \"b\"))"),
        ("<a@b>", "((NIL NIL \"a\" \"b\"))"),
        ("Joe Q. Public <john.q.public@example.com>", "((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\"))"),
        ("\"Doe, John\" <jd@x>, b@y", "((\"Doe, John\" NIL \"jd\" \"x\")(NIL NIL \"b\" \"y\"))"),
        ("a@b (Obsolete Name)", "((\"Obsolete Name\" NIL \"a\" \"b\"))"),
        ("Joe (comment) <a@b>", "((\"Joe\" NIL \"a\" \"b\"))"),
        ("<@r1.example,@r2.example:a@b>", "((NIL \"@r1.example,@r2.example\" \"a\" \"b\"))"),
        ("undisclosed-recipients:;", "((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL))"),
        (
            "A Group:Ed <ed@x>, c@y;, d@z",
            "((NIL NIL \"A Group\" NIL)(\"Ed\" NIL \"ed\" \"x\")(NIL NIL \"c\" \"y\")(NIL NIL NIL NIL)(NIL NIL \"d\" \"z\"))",
        ),
        ("open group: a@b", "((NIL NIL \"open group\" NIL)(NIL NIL \"a\" \"b\")(NIL NIL NIL NIL))"),
        ("\"quoted local\"@x", "((NIL NIL \"\\\"quoted local\\\"\" \"x\"))"),
        ("root", "((NIL NIL \"root\" \"\"))"),
        ("a@[127.0.0.1]", "((NIL NIL \"a\" \"[127.0.0.1]\"))"),
        (",,, ,", "NIL"),
        ("", "NIL"),
        ("<<<>>> ;;; ::: @@@ \"unclosed", "((NIL NIL \"<<\" \"\")(NIL NIL \"\" NIL)(NIL NIL \"::\" \"@@\\\"unclosed\")(NIL NIL NIL NIL))"),
        ("(unclosed comment a@b", "NIL"),
        ("Name <a@b", "((\"Name\" NIL \"a\" \"b\"))"),
    ];
    for (value, expected) in rows {
        let message = format!("To: {value}\r\n\r\n");
        let written = envelope(message.as_bytes());
        assert!(
            written.ends_with(&format!(" {expected} NIL NIL NIL NIL)")),
            "To: {value:?} gave {written}, expected To {expected}"
        );
    }
}

#[test]
fn body_structure_of_single_part_defaults() {
    assert_eq!(
        structure(SINGLE, true),
        "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 55 1 NIL NIL NIL NIL)"
    );
    assert_eq!(
        structure(SINGLE, false),
        "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 55 1)"
    );
}

#[test]
fn body_structure_of_alternative_inside_mixed() {
    assert_eq!(
        structure(ALTERNATIVE_IN_MIXED, true),
        "(((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 10 1 NIL NIL NIL NIL)\
(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" 11 0 NIL NIL NIL NIL) \
\"alternative\" (\"boundary\" \"outer-inner\") NIL NIL NIL)\
(\"application\" \"pdf\" (\"name\" \"a b.pdf\") \"<pdf@example.org>\" NIL \"base64\" 8 NIL \
(\"attachment\" (\"filename\" \"a b.pdf\")) (\"en\" \"de\") NIL) \
\"mixed\" (\"boundary\" \"outer\") NIL NIL NIL)"
    );
    assert_eq!(
        structure(ALTERNATIVE_IN_MIXED, false),
        "(((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 10 1)\
(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" 11 0) \"alternative\")\
(\"application\" \"pdf\" (\"name\" \"a b.pdf\") \"<pdf@example.org>\" NIL \"base64\" 8) \"mixed\")"
    );
}

#[test]
fn body_structure_of_rfc822_attachment() {
    assert_eq!(
        structure(RFC822_ATTACHMENT, false),
        "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 12 0)\
(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 53 \
(NIL \"inner\" ((NIL NIL \"inner\" \"example.org\")) ((NIL NIL \"inner\" \"example.org\")) \
((NIL NIL \"inner\" \"example.org\")) NIL NIL NIL NIL NIL) \
(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 10 0) 3) \"mixed\")"
    );
}

#[test]
fn multipart_missing_close_delimiter_keeps_last_part() {
    let message =
        b"Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n\r\none\r\n--B\r\n\r\ntwo";
    let part = find_part(message, &[2]).unwrap();
    assert_eq!(&message[part.body], b"two");
    let part = find_part(message, &[1]).unwrap();
    assert_eq!(&message[part.body], b"one");
}

#[test]
fn multipart_without_delimiters_gets_one_empty_part() {
    let message = b"Content-Type: multipart/mixed; boundary=B\r\n\r\nno delimiter here\r\n";
    assert_eq!(
        structure(message, false),
        "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\")"
    );
}

#[test]
fn multipart_without_boundary_is_text_plain() {
    let message = b"Content-Type: multipart/mixed\r\n\r\nbody\r\n";
    assert_eq!(
        structure(message, false),
        "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1)"
    );
}

#[test]
fn boundary_prefix_of_longer_line_is_no_delimiter() {
    let message =
        b"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n\r\nx\r\n--ab\r\ny\r\n--a--\r\n";
    let part = find_part(message, &[1]).unwrap();
    assert_eq!(&message[part.body], b"x\r\n--ab\r\ny");
    assert!(find_part(message, &[2]).is_none());
}

#[test]
fn lf_only_message_is_parsed() {
    let message = b"Content-Type: multipart/mixed; boundary=z\n\n--z\nContent-Type: text/html\n\n<b>x</b>\n--z--\n";
    let part = find_part(message, &[1]).unwrap();
    assert_eq!(&message[part.body], b"<b>x</b>");
    assert_eq!(&message[part.header], b"Content-Type: text/html\n\n");
}

#[test]
fn digest_children_default_to_message_rfc822() {
    let message = b"Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: one\r\n\r\nbody\r\n--d--\r\n";
    let root = parse(message);
    let Content::Multipart(children) = &root.content else {
        panic!("digest is not multipart: {root:?}");
    };
    assert!(children[0].content_type.is(b"message", b"rfc822"));
    assert!(matches!(children[0].content, Content::Message(_)));
}

#[test]
fn nesting_past_depth_max_becomes_text_plain() {
    let depth = 100;
    let mut message = Vec::new();
    for level in 0..depth {
        message.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=\"b{level}\"\r\n\r\n--b{level}\r\n")
                .as_bytes(),
        );
    }
    message.extend_from_slice(b"\r\nleaf\r\n");
    for level in (0..depth).rev() {
        message.extend_from_slice(format!("\r\n--b{level}--\r\n").as_bytes());
    }

    let written = structure(&message, true);
    let opened = written.bytes().filter(|&byte| byte == b'(').count();
    let closed = written.bytes().filter(|&byte| byte == b')').count();
    assert_eq!(opened, closed);
    assert_eq!(written.matches("\"mixed\"").count(), DEPTH_MAX);

    let path = vec![1u32; DEPTH_MAX];
    assert!(find_part(&message, &path).is_some());
    let path = vec![1u32; DEPTH_MAX + 2];
    assert!(find_part(&message, &path).is_none());
}

#[test]
fn message_rfc822_nesting_is_bounded() {
    let mut message = Vec::new();
    for _ in 0..200 {
        message.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\n");
    }
    message.extend_from_slice(b"end\r\n");
    let written = structure(&message, false);
    assert_eq!(written.matches("\"rfc822\"").count(), DEPTH_MAX);
}

/// Content-Type values that are malformed in some way, and the type and
/// parameters that result.
#[test]
fn content_type_bad_parameters() {
    let rows: &[(&str, &str)] = &[
        (
            "text/plain; charset=\"utf-8\"",
            "(\"text\" \"plain\" (\"charset\" \"utf-8\")",
        ),
        (
            "TEXT/Plain; CharSet=UTF-8",
            "(\"TEXT\" \"Plain\" (\"CharSet\" \"UTF-8\")",
        ),
        (
            "text/plain;;; charset=a ; ; format=flowed",
            "(\"text\" \"plain\" (\"charset\" \"a\" \"format\" \"flowed\")",
        ),
        ("text/plain; charset", "(\"text\" \"plain\" NIL"),
        (
            "text/plain; =x; charset=b",
            "(\"text\" \"plain\" (\"charset\" \"b\")",
        ),
        (
            "text/plain; name=\"semi;colon\"; x=1",
            "(\"text\" \"plain\" (\"name\" \"semi;colon\" \"x\" \"1\")",
        ),
        (
            "text/plain; name=\"esc\\\"aped\"",
            "(\"text\" \"plain\" (\"name\" \"esc\\\"aped\")",
        ),
        (
            "text/plain; name=\"unclosed",
            "(\"text\" \"plain\" (\"name\" \"unclosed\")",
        ),
        (
            "text/plain (comment); charset=(c)x",
            "(\"text\" \"plain\" (\"charset\" \"x\")",
        ),
        (
            "text/plain; title*0*=us-ascii'en'a; title*1=b",
            "(\"text\" \"plain\" (\"title*0*\" \"us-ascii'en'a\" \"title*1\" \"b\")",
        ),
        ("text", "(\"text\" \"plain\" (\"charset\" \"us-ascii\")"),
        ("/plain", "(\"text\" \"plain\" (\"charset\" \"us-ascii\")"),
        ("", "(\"text\" \"plain\" (\"charset\" \"us-ascii\")"),
        ("\u{7f}/x", "(\"text\" \"plain\" (\"charset\" \"us-ascii\")"),
    ];
    for (value, expected) in rows {
        let message = format!("Content-Type: {value}\r\n\r\nx");
        let written = structure(message.as_bytes(), false);
        assert!(
            written.starts_with(expected),
            "Content-Type: {value:?} gave {written}"
        );
    }
}

#[test]
fn parameters_past_params_max_are_dropped() {
    let mut value = String::from("text/plain");
    for index in 0..PARAMS_MAX + 10 {
        value.push_str(&format!("; p{index}=v"));
    }
    let content_type = parse_content_type(value.as_bytes()).unwrap();
    assert_eq!(content_type.params.len(), PARAMS_MAX);
}

#[test]
fn parts_past_parts_max_are_dropped() {
    let mut message = b"Content-Type: multipart/mixed; boundary=p\r\n\r\n".to_vec();
    for _ in 0..PARTS_MAX + 5 {
        message.extend_from_slice(b"--p\r\n\r\nx\r\n");
    }
    let root = parse(&message);
    let Content::Multipart(children) = &root.content else {
        panic!("not multipart");
    };
    assert_eq!(children.len(), PARTS_MAX - 1);
}

/// IMAP part numbers and the body bytes they name.
#[test]
fn find_part_numbering() {
    let rows: &[(&[u8], &[u32], Option<&[u8]>)] = &[
        (
            SINGLE,
            &[1],
            Some(b"Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n"),
        ),
        (SINGLE, &[2], None),
        (SINGLE, &[1, 1], None),
        (SINGLE, &[0], None),
        (ALTERNATIVE_IN_MIXED, &[1, 1], Some(b"plain\r\ntwo")),
        (ALTERNATIVE_IN_MIXED, &[1, 2], Some(b"<p>html</p>")),
        (ALTERNATIVE_IN_MIXED, &[2], Some(b"JVBERi0=")),
        (ALTERNATIVE_IN_MIXED, &[3], None),
        (ALTERNATIVE_IN_MIXED, &[1, 3], None),
        (RFC822_ATTACHMENT, &[1], Some(b"see attached")),
        (
            RFC822_ATTACHMENT,
            &[2],
            Some(b"From: inner@example.org\r\nSubject: inner\r\n\r\ninner body"),
        ),
        (RFC822_ATTACHMENT, &[2, 1], Some(b"inner body")),
        (RFC822_ATTACHMENT, &[2, 2], None),
        (RFC822_ATTACHMENT, &[2, 1, 1], None),
    ];
    for (message, path, expected) in rows {
        let found = find_part(message, path).map(|part| &message[part.body]);
        assert_eq!(found, *expected, "part {path:?}");
    }
}

#[test]
fn header_fields_unfold_and_skip_garbage() {
    let header = b" leading continuation\r\nno colon line\r\nSubject :  a\r\n\tb  \r\nX: 1\r\n\r\n";
    let names: Vec<&[u8]> = fields(header).map(|field| &header[field.name]).collect();
    assert_eq!(names, [&b"Subject"[..], b"X"]);
    assert_eq!(
        field_value(header, b"subject", FIELDS_MAX).as_deref(),
        Some(&b"a\tb"[..])
    );
}

#[test]
fn body_start_line_endings() {
    let rows: &[(&[u8], usize)] = &[
        (b"A: b\r\n\r\nbody", 8),
        (b"A: b\n\nbody", 6),
        (b"A: b\n\r\nbody", 7),
        (b"\r\nbody", 2),
        (b"\nbody", 1),
        (b"A: b\r\n", 6),
        (b"", 0),
    ];
    for (entity, expected) in rows {
        assert_eq!(body_start(entity), *expected, "{entity:?}");
    }
}

#[test]
fn literal_for_eight_bit_subject() {
    let message = "Subject: café\r\n\r\n".as_bytes();
    assert!(envelope(message).starts_with("(NIL {5}\r\ncafé NIL"));
}

/// A message whose ENVELOPE and BODYSTRUCTURE were taken from Dovecot
/// 2.3.19.1 (Debian 12 dovecot-imapd) for the same bytes.
const DOVECOT_SAMPLE: &[u8] = b"From: \"Ann Example\" <ann@example.org>\r\n\
To: alice@localhost, undisclosed-recipients:;\r\n\
Subject: =?utf-8?q?r=C3=A9sum=C3=A9?= test\r\n\
Date: Fri, 4 Dec 2026 10:00:00 +0000\r\n\
Message-ID: <e2e-1@example.org>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"outer\"\r\n\
\r\n\
preamble\r\n\
--outer\r\n\
Content-Type: multipart/alternative; boundary=\"inner\"\r\n\
\r\n\
--inner\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
plain text\r\n\
second line\r\n\
--inner\r\n\
Content-Type: text/html; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
<p>html</p>\r\n\
--inner--\r\n\
--outer\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
From: old@example.org\r\n\
Subject: previous\r\n\
\r\n\
earlier message\r\n\
--outer\r\n\
Content-Type: application/pdf; name=\"sheet.pdf\"\r\n\
Content-Disposition: attachment; filename=\"sheet.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0xLjQK\r\n\
--outer--\r\n\
";

#[test]
fn output_matches_dovecot_sample() {
    assert_eq!(
        envelope(DOVECOT_SAMPLE),
        r#"("Fri, 4 Dec 2026 10:00:00 +0000" "=?utf-8?q?r=C3=A9sum=C3=A9?= test" (("Ann Example" NIL "ann" "example.org")) (("Ann Example" NIL "ann" "example.org")) (("Ann Example" NIL "ann" "example.org")) ((NIL NIL "alice" "localhost")(NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) NIL NIL NIL "<e2e-1@example.org>")"#
    );
    assert_eq!(
        structure(DOVECOT_SAMPLE, true),
        r#"((("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 23 1 NIL NIL NIL NIL)("text" "html" ("charset" "utf-8") NIL NIL "quoted-printable" 11 0 NIL NIL NIL NIL) "alternative" ("boundary" "inner") NIL NIL NIL)("message" "rfc822" NIL NIL NIL "7bit" 59 (NIL "previous" ((NIL NIL "old" "example.org")) ((NIL NIL "old" "example.org")) ((NIL NIL "old" "example.org")) NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 15 0 NIL NIL NIL NIL) 3 NIL NIL NIL NIL)("application" "pdf" ("name" "sheet.pdf") NIL NIL "base64" 12 NIL ("attachment" ("filename" "sheet.pdf")) NIL NIL) "mixed" ("boundary" "outer") NIL NIL NIL)"#
    );
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut out = Vec::new();
        write_envelope(&mut out, &bytes);
        write_body_structure(&mut out, &bytes, true);
        write_body_structure(&mut out, &bytes, false);
        let _ = find_part(&bytes, &[1, 1]);
    }

    #[test]
    fn mime_shaped_bytes_never_panic(
        pieces in proptest::collection::vec(
            prop_oneof![
                Just(&b"--b\r\n"[..]),
                Just(&b"--b--\r\n"[..]),
                Just(&b"\r\n"[..]),
                Just(&b"\n"[..]),
                Just(&b"Content-Type: multipart/mixed; boundary=b\r\n"[..]),
                Just(&b"Content-Type: message/rfc822\r\n"[..]),
                Just(&b"To: a:b;<c@d>,\"e\r\n"[..]),
                Just(&b"x"[..]),
            ],
            0..64,
        )
    ) {
        let bytes = pieces.concat();
        let mut out = Vec::new();
        write_envelope(&mut out, &bytes);
        write_body_structure(&mut out, &bytes, true);
        let opened = out.iter().filter(|&&byte| byte == b'(').count();
        let closed = out.iter().filter(|&&byte| byte == b')').count();
        prop_assert!(opened >= 1 && closed >= 1);
    }
}
