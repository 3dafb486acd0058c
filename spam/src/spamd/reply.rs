//! Response formatting: the status line, the `Spam:` header and the body
//! each verb returns.
//!
//! `PROCESS` and `HEADERS` drop the `X-Spam-Flag`, `X-Spam-Score`,
//! `X-Spam-Level` and `X-Spam-Status` fields the message already has, so a
//! sender cannot forge them, and add the new ones at the end of the header
//! block. The new fields use the line ending of the message's first line.

use super::{ExitCode, SpamdError, Verb, PROTOCOL_VERSION};
use crate::rules::RuleModel;
use crate::score::{format_score, spam_headers, Verdict};

/// Header fields that `PROCESS` replaces.
const REPLACED_FIELDS: [&str; 4] = [
    "X-Spam-Flag",
    "X-Spam-Score",
    "X-Spam-Level",
    "X-Spam-Status",
];

/// Width of the rule name column of the report table.
const REPORT_NAME_WIDTH: usize = 22;

/// Returns `PING`'s reply.
pub fn pong_response() -> Vec<u8> {
    format!("{PROTOCOL_VERSION} 0 PONG\r\n").into_bytes()
}

/// Returns the reply to a request that failed with `error`.
pub fn error_response(error: &SpamdError) -> Vec<u8> {
    // The text after the code is free; spamc reads only the number.
    let message: String = error
        .message
        .chars()
        .map(|character| {
            if character.is_control() {
                ' '
            } else {
                character
            }
        })
        .collect();
    format!(
        "{PROTOCOL_VERSION} {} {} {message}\r\n",
        error.code.code(),
        error.code.name()
    )
    .into_bytes()
}

/// Returns the `Spam:` header value, such as `True ; 7.3 / 5.0`.
pub fn spam_line(verdict: &Verdict) -> String {
    format!(
        "{} ; {} / {}",
        if verdict.is_spam { "True" } else { "False" },
        format_score(verdict.score),
        format_score(verdict.required)
    )
}

/// Returns the reply to a scored request: status line, `Content-length`,
/// `Spam:` and the body of `verb`. `message` is the request's body,
/// and `model` gives the rule descriptions for the report. For `PING`,
/// `SKIP` and `TELL`, which score nothing, the reply is that of `CHECK`.
pub fn response(verb: Verb, verdict: &Verdict, message: &[u8], model: &RuleModel) -> Vec<u8> {
    let body = match verb {
        Verb::Symbols => symbols(verdict).into_bytes(),
        Verb::Report => report(verdict, model).into_bytes(),
        Verb::ReportIfSpam if verdict.is_spam => report(verdict, model).into_bytes(),
        Verb::Process => rewrite(message, verdict, true),
        Verb::Headers => rewrite(message, verdict, false),
        _ => Vec::new(),
    };
    let mut output = format!(
        "{PROTOCOL_VERSION} {} {}\r\nContent-length: {}\r\nSpam: {}\r\n\r\n",
        ExitCode::Ok.code(),
        ExitCode::Ok.name(),
        body.len(),
        spam_line(verdict)
    )
    .into_bytes();
    output.extend_from_slice(&body);
    output
}

/// Returns the scored rule names, sorted, joined by commas.
fn symbols(verdict: &Verdict) -> String {
    let mut names = verdict.rule_names();
    names.sort_unstable();
    names.join(",")
}

/// Returns SpamAssassin's report table: one line per hit rule with its
/// score, name and description.
fn report(verdict: &Verdict, model: &RuleModel) -> String {
    let mut text = format!(
        "Content analysis details:   ({} points, {} required)\n\n pts rule name{} description\n{} {} {}\n",
        format_score(verdict.score),
        format_score(verdict.required),
        " ".repeat(REPORT_NAME_WIDTH - "rule name".len()),
        "-".repeat(4),
        "-".repeat(REPORT_NAME_WIDTH),
        "-".repeat(50),
    );
    let mut hits: Vec<_> = verdict.hits.iter().collect();
    hits.sort_by(|left, right| left.name.cmp(&right.name));
    for hit in hits {
        let description = model
            .get(&hit.name)
            .and_then(|rule| rule.description.as_deref())
            .unwrap_or("");
        text.push_str(&format!(
            "{:>4} {:<width$} {description}\n",
            format_score(hit.score),
            hit.name,
            width = REPORT_NAME_WIDTH
        ));
    }
    text
}

/// Returns the message with the `X-Spam-*` fields replaced, or with
/// `with_body` false only its header block and the empty line after it.
fn rewrite(message: &[u8], verdict: &Verdict, with_body: bool) -> Vec<u8> {
    let crlf = match memchr::memchr(b'\n', message) {
        Some(newline) => newline > 0 && message[newline - 1] == b'\r',
        None => false,
    };
    let newline: &[u8] = if crlf { b"\r\n" } else { b"\n" };

    let mut output = Vec::with_capacity(message.len() + 512);
    let mut position = 0;
    let mut dropping = false;
    let mut body_start = None;
    while position < message.len() {
        let end = memchr::memchr(b'\n', &message[position..])
            .map_or(message.len(), |offset| position + offset + 1);
        let line = &message[position..end];
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if content.is_empty() {
            body_start = Some(position);
            break;
        }
        let continuation = matches!(content[0], b' ' | b'\t');
        if !continuation {
            dropping = is_replaced_field(content);
        }
        if !dropping {
            output.extend_from_slice(line);
            if end == message.len() && !line.ends_with(b"\n") {
                output.extend_from_slice(newline);
            }
        }
        position = end;
    }

    for header in spam_headers(verdict) {
        let field = header.to_field();
        for (index, piece) in field.trim_end_matches('\n').split('\n').enumerate() {
            if index > 0 {
                output.extend_from_slice(newline);
            }
            output.extend_from_slice(piece.as_bytes());
        }
        output.extend_from_slice(newline);
    }

    match body_start {
        Some(start) if with_body => output.extend_from_slice(&message[start..]),
        _ => output.extend_from_slice(newline),
    }
    output
}

fn is_replaced_field(line: &[u8]) -> bool {
    let Some(colon) = memchr::memchr(b':', line) else {
        return false;
    };
    let name = line[..colon].trim_ascii_end();
    REPLACED_FIELDS
        .iter()
        .any(|field| name.eq_ignore_ascii_case(field.as_bytes()))
}
