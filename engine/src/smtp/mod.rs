//! The SMTP receiver: sessions that drive `ringmail_protocols::smtp` over a
//! socket and deliver accepted messages into local Maildirs.
//!
//! The parser implements RFC 5321, and this module decides policy: which recipients
//! are accepted, the limits, AUTH and the submission rules (`auth`), the
//! Received header and when a reply may be 250.

pub mod auth;
mod deferred;
mod header_policy;
pub mod limits;
mod received;
mod session;
mod transaction;

pub use received::{new_queue_id, received_header};
pub use session::{run_session, run_tls_session};

/// What an SMTP listener is for, which decides the session's policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpService {
    /// Mail exchange (port 25): accepts mail for local domains from anyone.
    Relay,
    /// Message submission (RFC 6409, ports 587 and 465): clients
    /// authenticate and may then send to any domain.
    Submission,
}
