//! Adding the `X-Spam-*` fields to a scored message.
//!
//! [`insert_spam_fields`] puts the new fields at the very top, before this
//! server's Received field. SpamAssassin 4.0.1 does the same when spamc
//! rewrites a message behind an MTA: `rewrite_no_report_safe` in
//! `Mail/SpamAssassin/PerMsgStatus.pm` writes its fields first (below a
//! leading Return-Path only), above the Received field the MTA added. So
//! mail scored here has the layout that filters written for SpamAssassin
//! expect.
//!
//! The same function removes every `X-Spam-*` field that the client sent,
//! except `X-Spam-Prev-*`, as that SpamAssassin function does, so that a
//! sender cannot forge `X-Spam-Flag` or `X-Spam-Status`. Only the header
//! block is read: it ends at the first empty line, or with the message.

use ringmail_spam::score::SpamHeader;

/// The prefix of the fields that SpamAssassin writes and strips.
const SPAM_FIELD_PREFIX: &[u8] = b"x-spam-";
/// The prefix of the fields that SpamAssassin keeps although they start
/// with [`SPAM_FIELD_PREFIX`].
const KEPT_FIELD_PREFIX: &[u8] = b"x-spam-prev-";

/// Returns whether a header line starts a field that SpamAssassin would
/// strip: its name starts with `X-Spam-` but not `X-Spam-Prev-`, in any case.
pub fn is_spam_field_name(line: &[u8]) -> bool {
    let starts_with = |prefix: &[u8]| {
        line.len() >= prefix.len() && line[..prefix.len()].eq_ignore_ascii_case(prefix)
    };
    starts_with(SPAM_FIELD_PREFIX) && !starts_with(KEPT_FIELD_PREFIX)
}

/// Returns a copy of `message` with `fields` (CRLF line ends) in front and
/// the client's `X-Spam-*` fields removed. The first `trace_len` octets are
/// this server's Received field, which is kept as it is.
pub fn insert_spam_fields(message: &[u8], trace_len: usize, fields: &[SpamHeader]) -> Vec<u8> {
    let trace_len = trace_len.min(message.len());
    let mut output = Vec::with_capacity(message.len() + 512);
    for field in fields {
        // The folded value breaks lines with a bare LF, and the stored
        // message uses CRLF, as DATA delivers it.
        let text = field.to_field();
        for line in text.split_inclusive('\n') {
            output.extend_from_slice(line.trim_end_matches('\n').as_bytes());
            output.extend_from_slice(b"\r\n");
        }
    }
    output.extend_from_slice(&message[..trace_len]);
    copy_without_spam_fields(&message[trace_len..], &mut output);
    output
}

/// Appends `message` to `output`, leaving out each `X-Spam-*` field of its
/// header block with the continuation lines that follow it.
fn copy_without_spam_fields(message: &[u8], output: &mut Vec<u8>) {
    let mut position = 0;
    let mut skipping = false;
    while position < message.len() {
        let end = memchr::memchr(b'\n', &message[position..])
            .map_or(message.len(), |offset| position + offset + 1);
        let line = &message[position..end];

        if line == b"\r\n" || line == b"\n" {
            break;
        }
        let continuation = line[0] == b' ' || line[0] == b'\t';
        if !continuation {
            skipping = is_spam_field_name(line);
        }
        if !skipping {
            output.extend_from_slice(line);
        }
        position = end;
    }
    output.extend_from_slice(&message[position..]);
}
