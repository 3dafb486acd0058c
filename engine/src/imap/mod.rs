//! The IMAP4rev1 server: sessions that drive `ringmail_protocols::imap` over
//! a socket and serve the Maildir store.
//!
//! The parser implements RFC 3501's grammar, and this module contains the session states
//! (not authenticated, authenticated, selected), authentication, and the
//! mapping from FETCH, STORE and SEARCH to the mailbox index.

mod fetch;
mod flags;
mod search;
mod section;
mod session;

pub use session::run_session;
