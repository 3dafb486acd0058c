//! The IMAP4rev1 server: sessions that drive `ringmail_protocols::imap` over
//! a socket and serve the Maildir store.
//!
//! The parser knows RFC 3501's grammar; this module holds the session states
//! (not authenticated, authenticated, selected), authentication, and the
//! mapping from FETCH, STORE and SEARCH to the mailbox index.

mod fetch;
mod flags;
mod search;
mod section;
mod session;

pub use session::run_session;
