use super::*;

fn factory(to: &[&str], rcpts: usize, body_len: usize) -> MessageFactory {
    MessageFactory::new(
        RunId("00ff".to_string()),
        Template::parse("sender{n}@localhost").unwrap(),
        to.iter()
            .map(|text| Template::parse(text).unwrap())
            .collect(),
        rcpts,
        body_len,
    )
}

#[test]
fn body_has_requested_len() {
    for len in [0, 2, 3, 77, 78, 79, 80, 155, 156, 157, 4096, 65_537] {
        let body = generate_body(len);
        assert_eq!(body.len(), len, "len {len}");
        assert!(
            len == 0 || body.ends_with(b"\r\n"),
            "len {len} ends with CRLF"
        );
    }
}

#[test]
fn body_of_one_octet_rounds_up() {
    assert_eq!(generate_body(1), b"\r\n");
}

#[test]
fn body_lines_are_crlf_and_short() {
    let body = generate_body(10_000);
    for line in body
        .split(|&byte| byte == b'\n')
        .filter(|line| !line.is_empty())
    {
        assert!(line.ends_with(b"\r"), "line ends with CRLF");
        assert!(
            line.len() - 1 <= BODY_LINE_LEN,
            "line of {} characters",
            line.len() - 1
        );
        assert!(!line[..line.len() - 1].contains(&b'\r'), "no bare CR");
    }
}

#[test]
fn body_dot_lines_are_stuffed() {
    let factory = factory(&["postmaster@localhost"], 1, 4096);
    let raw = generate_body(4096);
    let dot_lines = raw
        .split(|&byte| byte == b'\n')
        .filter(|line| line.starts_with(b"."))
        .count();
    assert!(dot_lines > 0, "the body exercises dot stuffing");

    let stuffed = factory.stuffed_body();
    assert_eq!(stuffed.len(), 4096 + dot_lines + 3);
    assert!(stuffed.ends_with(b"\r\n.\r\n"));
    assert!(stuffed.windows(3).any(|window| window == b"\n.."));
}

#[test]
fn empty_body_is_only_terminator() {
    let factory = factory(&["postmaster@localhost"], 1, 0);
    assert_eq!(factory.stuffed_body(), b".\r\n");
}

#[test]
fn template_table() {
    let widest = format!("{}@x", "a".repeat(PATH_LEN_MAX - 4));
    let too_wide = format!("{}@xy", "a".repeat(PATH_LEN_MAX - 4));
    let placeholder_wide = format!("{}{{n}}@x", "a".repeat(PATH_LEN_MAX - 23));

    let cases: &[(&str, Result<(), TemplateError>)] = &[
        ("user@localhost", Ok(())),
        ("user{n}@localhost", Ok(())),
        ("postmaster", Ok(())),
        (&widest, Ok(())),
        ("", Err(TemplateError::Empty)),
        (
            "user @localhost",
            Err(TemplateError::InvalidByte { byte: b' ' }),
        ),
        (
            "user<@localhost",
            Err(TemplateError::InvalidByte { byte: b'<' }),
        ),
        (
            "user>@localhost",
            Err(TemplateError::InvalidByte { byte: b'>' }),
        ),
        (
            "user\r\nRSET",
            Err(TemplateError::InvalidByte { byte: b'\r' }),
        ),
        (
            "us\u{e9}r@localhost",
            Err(TemplateError::InvalidByte { byte: 0xc3 }),
        ),
        (
            &too_wide,
            Err(TemplateError::TooLong {
                len: PATH_LEN_MAX - 1,
            }),
        ),
        (
            &placeholder_wide,
            Err(TemplateError::TooLong {
                len: PATH_LEN_MAX - 1,
            }),
        ),
    ];

    for (text, expected) in cases {
        let result = Template::parse(text).map(|_| ());
        assert_eq!(&result, expected, "template {text:?}");
    }
}

#[test]
fn template_renders_every_placeholder() {
    let template = Template::parse("u{n}-{n}@d{n}").unwrap();
    let mut out = Vec::new();
    template.render(42, &mut out);
    assert_eq!(out, b"u42-42@d42");
}

#[test]
fn envelope_uses_templates_in_turn() {
    let factory = factory(&["postmaster@localhost", "user{n}@localhost"], 3, 10);
    let mut out = Vec::new();
    factory.write_mail_from(7, &mut out);
    for index in 0..factory.rcpts() {
        factory.write_rcpt_to(index, &mut out);
    }
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "MAIL FROM:<sender7@localhost>\r\n\
         RCPT TO:<postmaster@localhost>\r\n\
         RCPT TO:<user1@localhost>\r\n\
         RCPT TO:<postmaster@localhost>\r\n"
    );
}

#[test]
fn header_carries_unique_id() {
    let factory = factory(&["a@localhost", "b@localhost"], 2, 10);
    let mut out = Vec::new();
    factory.write_header(12, 0, &mut out);
    let header = String::from_utf8(out).unwrap();

    assert!(header.contains("\r\nX-Loadgen-Id: 00ff-12\r\n"), "{header}");
    assert!(
        header.contains("To: <a@localhost>,\r\n <b@localhost>\r\n"),
        "{header}"
    );
    assert!(
        header.contains("Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n"),
        "{header}"
    );
    assert!(header.ends_with("\r\n\r\n"));
    for line in header.split("\r\n") {
        assert!(
            !line.starts_with('.'),
            "header line {line:?} needs no dot stuffing"
        );
    }
}

#[test]
fn run_ids_differ() {
    let first = RunId::random();
    let second = RunId::random();
    assert_eq!(first.as_str().len(), RUN_ID_BYTES * 2);
    assert!(first.as_str().bytes().all(|byte| byte.is_ascii_hexdigit()));
    assert_ne!(first, second);
}
