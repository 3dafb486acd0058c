//! MIME evals after SpamAssassin 4.0.1's Plugin/MIMEEval.pm
//! (`_check_attachments`, `check_ma_non_text`) and BodyEval.pm
//! (`check_body_length`).
//!
//! `facts` walks the MIME tree of `Prepared::full()` once per call. The
//! tree comes from the protocols crate's parser, so its limits (`DEPTH_MAX`,
//! `PARTS_MAX`) bound the walk.
//!
//! NOTE: each call parses the message again because `Prepared` has no slot
//! for eval state. That is one header scan per MIME eval rule.

use ringmail_protocols::message::{body_start, parse, Content, Part};

/// Facts about the parts of a message, as `_check_attachments` computes them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MimeFacts {
    /// Parts of type text/html, and of any other text type.
    pub html_parts: usize,
    pub text_parts: usize,
    /// Parts whose transfer encoding contains `base64`.
    pub base64_parts: usize,
    /// Parts with a Content-Disposition of `attachment`.
    pub attachments: usize,
    /// Whether a text part is base64 encoded with an ASCII or no charset.
    pub base64_encoded_text: bool,
    /// Whether a charset looks like `iso-X-Y` but is not ISO 8859 or 2022.
    pub bad_iso_charset: bool,
    /// Quoted-printable escapes of printable ASCII, in leaf parts.
    pub qp_escapes: usize,
    /// Whether a quoted-printable line is longer than 78 characters.
    pub qp_long_line: bool,
    /// Text/plain bytes over text/html bytes in multipart/alternative mail,
    /// or 1.0 when either is missing.
    pub multipart_ratio: f64,
    /// Whether a text/plain leaf with no charset or `us-ascii` has a NUL,
    /// a carriage return or a byte above 0x7F in its raw body, for
    /// `check_for_ascii_text_illegal`. As in MIMEEval.pm, the transfer
    /// encoding is not checked, so the raw bytes of a base64 body count.
    pub ascii_text_illegal: bool,
}

/// The header values of one part that `_check_attachments` reads.
struct PartView<'a> {
    media: String,
    encoding: String,
    attachment: bool,
    charset: String,
    body: &'a [u8],
    is_leaf: bool,
}

/// Returns the MIME facts of `message`.
pub fn facts(message: &crate::prepare::Prepared<'_>) -> MimeFacts {
    let full = message.full();
    let root = parse(full);
    let mut parts = Vec::new();
    flatten(&root, full, &mut parts);

    let mut facts = MimeFacts {
        multipart_ratio: 1.0,
        ..MimeFacts::default()
    };
    let mut alternative = false;
    // Bytes and type of each leaf that is not an attachment, in order.
    let mut leaf_bytes: Vec<(Option<usize>, &str)> = Vec::new();

    for part in &parts {
        alternative |= part.media == "multipart/alternative";
        count_header(part, &mut facts);
        if !part.is_leaf {
            continue;
        }

        let measured = alternative
            && !part.attachment
            && (part.media == "text/plain" || part.media == "text/html");
        let bytes = (!part.attachment).then_some(if measured { part.body.len() } else { 0 });
        leaf_bytes.push((bytes, part.media.as_str()));

        if part.encoding == "quoted-printable" {
            count_quoted_printable(part.body, &mut facts);
        }
        if part.media == "text/plain"
            && (part.charset.is_empty() || part.charset == "us-ascii")
            && part
                .body
                .iter()
                .any(|byte| matches!(byte, 0x00 | 0x0d | 0x80..=0xff))
        {
            facts.ascii_text_illegal = true;
        }
    }

    if alternative {
        facts.multipart_ratio = text_to_html_ratio(&leaf_bytes).unwrap_or(1.0);
    }
    facts
}

/// Counts the header facts of one part, leaf or not.
fn count_header(part: &PartView<'_>, facts: &mut MimeFacts) {
    if part.media == "text/html" {
        facts.html_parts += 1;
    } else if part.media.starts_with("text") {
        facts.text_parts += 1;
    }
    if part.encoding.contains("base64") {
        facts.base64_parts += 1;
    }
    if part.attachment {
        facts.attachments += 1;
    }

    const ASCII_NAMES: [&str; 11] = [
        "us-ascii",
        "ansi_x3.4-1968",
        "iso-ir-6",
        "ansi_x3.4-1986",
        "iso_646.irv:1991",
        "ascii",
        "iso646-us",
        "us",
        "ibm367",
        "cp367",
        "csascii",
    ];
    let ascii =
        part.charset.is_empty() || ASCII_NAMES.iter().any(|name| part.charset.contains(name));
    if part.media.starts_with("text")
        && part.encoding.contains("base64")
        && ascii
        && !part.attachment
    {
        facts.base64_encoded_text = true;
    }
    facts.bad_iso_charset |= is_bad_iso_charset(&part.charset);
}

/// Returns whether `charset` (lower case) has the form `iso-X-Y` but is
/// not `iso-8859-N` or `iso-2022-jp`/`kr`.
fn is_bad_iso_charset(charset: &str) -> bool {
    let Some(at) = charset.find("iso-") else {
        return false;
    };
    let rest = &charset[at + 4..];
    let looks_iso = rest
        .split_once('-')
        .is_some_and(|(first, second)| !first.is_empty() && !second.is_empty());
    if !looks_iso {
        return false;
    }
    let known = rest.strip_prefix("8859-").is_some_and(|number| {
        number.len() <= 2 && !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit())
    }) || rest == "2022-jp"
        || rest == "2022-kr";
    !known
}

/// Counts escapes of printable ASCII (which need no escaping) and long
/// lines in a quoted-printable body, less trailing `=20`/`=09`.
fn count_quoted_printable(body: &[u8], facts: &mut MimeFacts) {
    for line in body.split(|&byte| byte == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.starts_with(b"SPAM: ") {
            continue;
        }
        // The Perl measures the line with its "\n".
        if line.len() + 1 > 79 {
            facts.qp_long_line = true;
        }
        let mut escapes = 0;
        for window in line.windows(3) {
            if window[0] == b'=' && is_needless_escape(window[1], window[2]) {
                escapes += 1;
            }
        }
        let trimmed = line.trim_ascii_end();
        let mut trailing = 0;
        let mut rest = trimmed;
        while let Some(head) = rest
            .strip_suffix(b"=20")
            .or_else(|| rest.strip_suffix(b"=09"))
        {
            trailing += 1;
            rest = head;
        }
        facts.qp_escapes += escapes - trailing.min(escapes);
    }
}

/// Returns whether `=XY` encodes a character that quoted-printable need
/// not escape: tab, digits, most punctuation and letters.
fn is_needless_escape(high: u8, low: u8) -> bool {
    let hex = |byte: u8| byte.is_ascii_digit() || (b'A'..=b'F').contains(&byte);
    match high {
        b'0' => low == b'9',
        b'3' => low.is_ascii_digit() || matches!(low, b'A' | b'B' | b'C' | b'E' | b'F'),
        b'2' | b'4' | b'5' | b'6' => hex(low),
        b'7' => low.is_ascii_digit() || (b'A'..=b'E').contains(&low),
        _ => false,
    }
}

/// Returns text/plain bytes over text/html bytes, from the last measured
/// part of each type.
fn text_to_html_ratio(leaves: &[(Option<usize>, &str)]) -> Option<f64> {
    let mut text = None;
    let mut html = None;
    for (bytes, media) in leaves.iter().rev() {
        let Some(bytes) = bytes else { continue };
        if html.is_none() && *media == "text/html" {
            html = Some(*bytes);
        } else if text.is_none() && *media == "text/plain" {
            text = Some(*bytes);
        }
        if html.is_some() && text.is_some() {
            break;
        }
    }
    match (text, html) {
        (Some(text), Some(html)) if html > 0 => Some(text as f64 / html as f64),
        _ => None,
    }
}

/// Lists every part, containers before their children, as the Perl
/// `find_parts(qr/./)` does.
fn flatten<'a>(part: &Part, full: &'a [u8], parts: &mut Vec<PartView<'a>>) {
    let content_type = &part.content_type;
    let media = format!(
        "{}/{}",
        String::from_utf8_lossy(&content_type.media_type),
        String::from_utf8_lossy(&content_type.subtype)
    )
    .to_ascii_lowercase();
    let charset = content_type
        .param(b"charset")
        .map(|value| String::from_utf8_lossy(value).to_ascii_lowercase())
        .unwrap_or_default();
    let attachment = part
        .disposition
        .as_ref()
        .is_some_and(|disposition| disposition.kind.eq_ignore_ascii_case(b"attachment"));
    let body = full.get(part.body.clone()).unwrap_or_default();
    parts.push(PartView {
        media,
        encoding: String::from_utf8_lossy(&part.encoding)
            .trim()
            .to_ascii_lowercase(),
        attachment,
        charset,
        body,
        is_leaf: matches!(part.content, Content::Leaf),
    });
    match &part.content {
        Content::Multipart(children) => {
            for child in children {
                flatten(child, full, parts);
            }
        }
        Content::Message(inner) => flatten(inner, full, parts),
        Content::Leaf => {}
    }
}

/// Returns `check_for_mime`'s flag `name`, or `None` for a flag that is
/// not computed here.
pub fn check_for_mime(message: &crate::prepare::Prepared<'_>, name: &str) -> Option<bool> {
    let facts = facts(message);
    Some(match name {
        "mime_base64_count" => facts.base64_parts > 0,
        "mime_qp_count" => facts.qp_escapes > 0,
        "mime_attachment" => facts.attachments > 0,
        "mime_base64_encoded_text" => facts.base64_encoded_text,
        "mime_bad_iso_charset" => facts.bad_iso_charset,
        "mime_qp_long_line" => facts.qp_long_line,
        "mime_body_html_count" => facts.html_parts > 0,
        "mime_body_text_count" => facts.text_parts > 0,
        // SpamAssassin 4.0.1 no longer computes this flag.
        "mime_base64_blanks" => false,
        // With `ok_locales all` no charset is far away.
        "mime_faraway_charset" => false,
        _ => return None,
    })
}

/// Returns whether a multipart/alternative part has a direct leaf child
/// that is neither text nor application/rtf.
pub fn alternative_has_non_text(message: &crate::prepare::Prepared<'_>) -> bool {
    let root = parse(message.full());
    has_non_text_alternative(&root)
}

fn has_non_text_alternative(part: &Part) -> bool {
    match &part.content {
        Content::Multipart(children) => {
            if part.content_type.is(b"multipart", b"alternative") {
                let non_text = children.iter().any(|child| {
                    let content_type = &child.content_type;
                    matches!(child.content, Content::Leaf)
                        && !content_type.media_type.eq_ignore_ascii_case(b"text")
                        && !content_type.is(b"application", b"rtf")
                });
                if non_text {
                    return true;
                }
            }
            children.iter().any(has_non_text_alternative)
        }
        Content::Message(inner) => has_non_text_alternative(inner),
        Content::Leaf => false,
    }
}

/// Returns the length in bytes of the message body, after the header.
pub fn body_len(message: &crate::prepare::Prepared<'_>) -> usize {
    let full = message.full();
    full.len().saturating_sub(body_start(full))
}

/// Returns `check_msg_parse_flags(name)`: whether SpamAssassin's parser
/// would have set flag `name` ([`crate::prepare::mime_scan`]), or `None`
/// for a flag that is not computed.
pub fn parse_flag(message: &crate::prepare::Prepared<'_>, name: &str) -> Option<bool> {
    let flags = message.mime_scan().flags;
    Some(match name {
        "truncated_header" => flags.truncated_header,
        "missing_head_body_separator" => flags.missing_head_body_separator,
        "missing_mime_head_body_separator" => flags.missing_mime_head_body_separator,
        "mime_epilogue_exists" => flags.mime_epilogue_exists,
        "missing_mime_headers" => flags.missing_mime_headers,
        _ => return None,
    })
}

/// Returns whether the longest raw line of a base64 part, with its line
/// end, is at least `min` and, when `max` is given, at most `max`
/// (`check_base64_length`).
pub fn base64_length(message: &crate::prepare::Prepared<'_>, min: f64, max: Option<f64>) -> bool {
    let longest = message.mime_scan().base64_line_len_max as f64;
    longest >= min && max.is_none_or(|max| longest <= max)
}
