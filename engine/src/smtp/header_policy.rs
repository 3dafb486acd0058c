//! Header policy at end of data: the mail-loop and header-size checks that
//! run on the `scan_header` result before a message is stored.
//!
//! `check_header` returns the scan, or a `HeaderRejection` that maps to one
//! SMTP reply. Both limits count what the client sent, so the Received
//! header that this server prepends is left out of the Received count and of
//! the header size:
//!
//! - `received_max`: more Received fields than this means the message has
//!   passed through too many hops, which is how a mail loop shows
//!   (RFC 5321 section 6.3). The reply is `554 5.4.6`.
//! - `header_size_max`: a larger header is rejected with `552 5.3.4`, so a
//!   message of megabytes of header lines costs one bounded scan.
//! - A header with more than `HEADER_SCAN_FIELDS_MAX` fields is rejected
//!   with `552 5.3.4` too, because the scan stops counting there.

use std::fmt;

use ringmail_protocols::message::{
    scan_header, HeaderEnd, HeaderScan, ScanLimits, HEADER_SCAN_FIELDS_MAX,
};
use ringmail_protocols::smtp::{EnhancedStatus, Reply};

/// The header limits of the `[smtp]` configuration.
#[derive(Debug, Clone, Copy)]
pub struct HeaderLimits {
    /// Maximum Received fields sent by the client.
    pub received_max: usize,
    /// Maximum header size sent by the client, in octets.
    pub header_size_max: usize,
}

/// The reason a message's header is rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderRejection {
    /// More Received fields than `received_max`: the count the client sent.
    TooManyReceived { received: usize },
    /// A header larger than `header_size_max` octets.
    HeaderTooLarge { header_size_max: usize },
    /// More header fields than the scan counts.
    TooManyFields { fields_max: usize },
}

impl HeaderRejection {
    /// Returns the SMTP reply for this rejection.
    pub fn reply(&self) -> Reply {
        let (code, status) = match self {
            HeaderRejection::TooManyReceived { .. } => (554, (5, 4, 6)),
            HeaderRejection::HeaderTooLarge { .. } | HeaderRejection::TooManyFields { .. } => {
                (552, (5, 3, 4))
            }
        };
        let status = EnhancedStatus {
            class: status.0,
            subject: status.1,
            detail: status.2,
        };
        Reply::new(code, Some(status), self.to_string())
    }
}

impl fmt::Display for HeaderRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderRejection::TooManyReceived { received } => {
                write!(
                    f,
                    "too many Received headers ({received}), possible mail loop"
                )
            }
            HeaderRejection::HeaderTooLarge { header_size_max } => {
                write!(f, "message header exceeds {header_size_max} octets")
            }
            HeaderRejection::TooManyFields { fields_max } => {
                write!(f, "message header exceeds {fields_max} fields")
            }
        }
    }
}

/// Scans the header of `message`, whose first `trace_len` octets are the
/// Received header this server prepended, and applies `limits`.
pub fn check_header(
    message: &[u8],
    trace_len: usize,
    limits: HeaderLimits,
) -> Result<HeaderScan, HeaderRejection> {
    debug_assert!(trace_len <= message.len());
    let scan_limits = ScanLimits {
        header_size_max: limits.header_size_max.saturating_add(trace_len),
        fields_max: HEADER_SCAN_FIELDS_MAX,
    };
    let scan = scan_header(message, scan_limits);

    match scan.end {
        HeaderEnd::SizeLimit => {
            return Err(HeaderRejection::HeaderTooLarge {
                header_size_max: limits.header_size_max,
            });
        }
        HeaderEnd::FieldsLimit => {
            return Err(HeaderRejection::TooManyFields {
                fields_max: HEADER_SCAN_FIELDS_MAX,
            });
        }
        HeaderEnd::BlankLine | HeaderEnd::EndOfMessage => {}
    }

    // Our own Received header is the first field, so the client sent one fewer.
    let received = scan.received.saturating_sub(1);
    if received > limits.received_max {
        return Err(HeaderRejection::TooManyReceived { received });
    }
    Ok(scan)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &[u8] = b"Received: from client by ringmail; Fri, 4 Dec 2026 10:00:00 +0000\r\n";

    fn message(received: usize, header_filler_len: usize) -> Vec<u8> {
        let mut message = TRACE.to_vec();
        for hop in 0..received {
            message.extend_from_slice(format!("Received: from hop{hop}\r\n").as_bytes());
        }
        if header_filler_len > 0 {
            message.extend_from_slice(b"X-Filler: ");
            message.extend(std::iter::repeat_n(b'a', header_filler_len));
            message.extend_from_slice(b"\r\n");
        }
        message.extend_from_slice(b"Subject: test\r\n\r\nbody\r\n");
        message
    }

    fn limits() -> HeaderLimits {
        HeaderLimits {
            received_max: 3,
            header_size_max: 1024,
        }
    }

    #[test]
    fn received_count_excludes_own_trace() {
        // (Received fields the client sent, accepted)
        let cases = [(0, true), (3, true), (4, false), (20, false)];
        for (received, accepted) in cases {
            let result = check_header(&message(received, 0), TRACE.len(), limits());
            assert_eq!(result.is_ok(), accepted, "{received} Received fields");
            if !accepted {
                assert_eq!(
                    result.unwrap_err(),
                    HeaderRejection::TooManyReceived { received }
                );
            }
        }
    }

    #[test]
    fn header_size_excludes_own_trace() {
        // "X-Filler: " + filler + CRLF + "Subject: test\r\n" is filler + 27 octets.
        let fits = check_header(&message(0, 1024 - 27), TRACE.len(), limits());
        assert!(fits.is_ok(), "{fits:?}");
        let over = check_header(&message(0, 1024 - 26), TRACE.len(), limits());
        assert_eq!(
            over.unwrap_err(),
            HeaderRejection::HeaderTooLarge {
                header_size_max: 1024
            }
        );
    }

    #[test]
    fn field_flood_rejected() {
        let limits = HeaderLimits {
            received_max: 100,
            header_size_max: 16 * 1024 * 1024,
        };
        let mut message = TRACE.to_vec();
        for _ in 0..HEADER_SCAN_FIELDS_MAX {
            message.extend_from_slice(b"X: y\r\n");
        }
        message.extend_from_slice(b"\r\n");
        assert_eq!(
            check_header(&message, TRACE.len(), limits).unwrap_err(),
            HeaderRejection::TooManyFields {
                fields_max: HEADER_SCAN_FIELDS_MAX
            }
        );
    }

    #[test]
    fn rejection_replies_table() {
        // (rejection, code, text)
        let cases = [
            (
                HeaderRejection::TooManyReceived { received: 101 },
                554,
                "5.4.6 too many Received headers (101), possible mail loop",
            ),
            (
                HeaderRejection::HeaderTooLarge {
                    header_size_max: 1048576,
                },
                552,
                "5.3.4 message header exceeds 1048576 octets",
            ),
            (
                HeaderRejection::TooManyFields { fields_max: 10_000 },
                552,
                "5.3.4 message header exceeds 10000 fields",
            ),
        ];
        for (rejection, code, text) in cases {
            let reply = rejection.reply();
            assert_eq!(reply.code, code, "{rejection}");
            let wire = String::from_utf8(reply.to_bytes(true)).expect("replies are ASCII");
            assert_eq!(wire, format!("{code} {text}\r\n"));
        }
    }
}
