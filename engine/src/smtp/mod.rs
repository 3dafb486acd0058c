//! The SMTP receiver: sessions that drive `ringmail_protocols::smtp` over a
//! socket and deliver accepted messages into local Maildirs.
//!
//! The parser implements RFC 5321, and this module decides policy: which recipients
//! are accepted, the limits, the Received header and when a reply may be 250.

mod header_policy;
pub mod limits;
mod received;
mod session;

pub use received::{new_queue_id, received_header};
pub use session::run_session;
