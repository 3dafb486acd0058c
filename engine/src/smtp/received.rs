//! Queue ids and the Received trace header (RFC 5321 section 4.4).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The trace fields of one received message.
pub struct Trace<'a> {
    /// The name the client gave in EHLO or HELO.
    pub helo: &'a str,
    /// The client's address.
    pub peer: SocketAddr,
    /// This server's host name.
    pub hostname: &'a str,
    /// "ESMTP" after EHLO, "ESMTPS" after EHLO over TLS, "SMTP" after HELO
    /// (RFC 3848 protocol types).
    pub protocol: &'a str,
    /// The message's queue id.
    pub queue_id: &'a str,
    /// The recipient, named only when the message has exactly one, so that
    /// a copy does not reveal the other recipients.
    pub single_recipient: Option<&'a str>,
    /// Seconds since the Unix epoch at which the message was received.
    pub unix_secs: i64,
    /// The TLS protocol and cipher, such as `TLSv1.3 with cipher
    /// TLS_AES_128_GCM_SHA256`, when the message came over TLS.
    pub tls: Option<&'a str>,
}

/// Returns the protocol type for the `with` clause. It is `ESMTP` after EHLO
/// (RFC 3848) and `UTF8SMTP` for an SMTPUTF8 transaction (RFC 6531 section
/// 4.3), with `S` on an encrypted connection and `A` after AUTH, in that
/// order. After HELO it is `SMTP`, because no other type is registered for
/// HELO.
pub fn protocol_name(
    extended: bool,
    tls: bool,
    authenticated: bool,
    smtputf8: bool,
) -> &'static str {
    match (extended, smtputf8, tls, authenticated) {
        (false, _, _, _) => "SMTP",
        (true, false, false, false) => "ESMTP",
        (true, false, true, false) => "ESMTPS",
        (true, false, false, true) => "ESMTPA",
        (true, false, true, true) => "ESMTPSA",
        (true, true, false, false) => "UTF8SMTP",
        (true, true, true, false) => "UTF8SMTPS",
        (true, true, false, true) => "UTF8SMTPA",
        (true, true, true, true) => "UTF8SMTPSA",
    }
}

/// Returns a new queue id: 12 hex digits of microseconds since the epoch and
/// 5 of a process-wide counter, so ids sort by arrival and never repeat
/// within a process.
pub fn new_queue_id() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_micros() as u64)
        .unwrap_or(0);
    let sequence = COUNTER.fetch_add(1, Ordering::Relaxed) & 0xF_FFFF;
    format!("{:012X}{sequence:05X}", micros & 0xFFFF_FFFF_FFFF)
}

/// Appends a folded Received header for `trace` to `out`, ending in CRLF.
pub fn received_header(out: &mut Vec<u8>, trace: &Trace<'_>) {
    let mut header = String::with_capacity(256);
    let helo = sanitize(trace.helo);
    let _ = write!(header, "Received: from {helo} ([{}])", trace.peer.ip(),);
    if let Some(tls) = trace.tls {
        let _ = write!(header, "\r\n\t(using {})", sanitize(tls));
    }
    let _ = write!(
        header,
        "\r\n\tby {} (Ringmail) with {} id {}",
        sanitize(trace.hostname),
        trace.protocol,
        trace.queue_id
    );
    if let Some(recipient) = trace.single_recipient {
        let _ = write!(header, "\r\n\tfor <{}>", sanitize(recipient));
    }
    let _ = write!(
        header,
        ";\r\n\t{}\r\n",
        crate::time::rfc5322_date(trace.unix_secs)
    );
    out.extend_from_slice(header.as_bytes());
}

/// Replaces bytes that could break a header line (controls, including CR and
/// LF) with '?'. The parser already limits HELO names to printable text; this
/// keeps the header well-formed whatever reaches it.
fn sanitize(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().all(|c| !c.is_control()) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_header_is_folded_and_terminated() {
        let mut out = Vec::new();
        received_header(
            &mut out,
            &Trace {
                helo: "client.example",
                peer: "127.0.0.1:4000".parse().unwrap(),
                hostname: "mx.example",
                protocol: "ESMTP",
                queue_id: "0123456789AB00001",
                single_recipient: Some("alice@localhost"),
                unix_secs: 0,
                tls: None,
            },
        );
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "Received: from client.example ([127.0.0.1])\r\n\tby mx.example (Ringmail) \
             with ESMTP id 0123456789AB00001\r\n\tfor <alice@localhost>;\r\n\t\
             Thu, 01 Jan 1970 00:00:00 +0000\r\n"
        );
    }

    #[test]
    fn helo_with_line_break_cannot_inject_header() {
        let mut out = Vec::new();
        received_header(
            &mut out,
            &Trace {
                helo: "evil\r\nX-Injected: yes",
                peer: "127.0.0.1:4000".parse().unwrap(),
                hostname: "mx",
                protocol: "SMTP",
                queue_id: "1",
                single_recipient: None,
                unix_secs: 0,
                tls: None,
            },
        );
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("\r\nX-Injected"), "{text}");
    }

    #[test]
    fn protocol_name_table() {
        // (extended, tls, authenticated, smtputf8, expected)
        let cases = [
            (false, false, false, false, "SMTP"),
            (false, true, true, true, "SMTP"),
            (true, false, false, false, "ESMTP"),
            (true, true, false, false, "ESMTPS"),
            (true, false, true, false, "ESMTPA"),
            (true, true, true, false, "ESMTPSA"),
            (true, false, false, true, "UTF8SMTP"),
            (true, true, false, true, "UTF8SMTPS"),
            (true, false, true, true, "UTF8SMTPA"),
            (true, true, true, true, "UTF8SMTPSA"),
        ];
        for (extended, tls, authenticated, smtputf8, expected) in cases {
            assert_eq!(
                protocol_name(extended, tls, authenticated, smtputf8),
                expected,
                "extended {extended}, tls {tls}, authenticated {authenticated}, smtputf8 {smtputf8}"
            );
        }
    }

    #[test]
    fn received_over_tls_names_version_and_cipher() {
        let mut out = Vec::new();
        received_header(
            &mut out,
            &Trace {
                helo: "client.example",
                peer: "127.0.0.1:4000".parse().unwrap(),
                hostname: "mx.example",
                protocol: "ESMTPS",
                queue_id: "1",
                single_recipient: None,
                unix_secs: 0,
                tls: Some("TLSv1.3 with cipher TLS_AES_128_GCM_SHA256"),
            },
        );
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "Received: from client.example ([127.0.0.1])\r\n\t\
             (using TLSv1.3 with cipher TLS_AES_128_GCM_SHA256)\r\n\t\
             by mx.example (Ringmail) with ESMTPS id 1;\r\n\t\
             Thu, 01 Jan 1970 00:00:00 +0000\r\n"
        );
    }

    #[test]
    fn queue_ids_are_unique_and_ordered() {
        let first = new_queue_id();
        let second = new_queue_id();
        assert_ne!(first, second);
        assert_eq!(first.len(), 17);
    }
}
