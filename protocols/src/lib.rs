//! Sans-I/O protocol code for Ringmail: SMTP, IMAP and RFC 5322 messages.
//!
//! Nothing here reads a socket, a file or a clock. Each parser takes the bytes
//! the engine read and returns commands that borrow them, or "need more
//! bytes", or an error that maps to one reply on the wire. The engine, the
//! load generator and the tests drive the same code.
#![forbid(unsafe_code)]

pub mod imap;
pub mod message;
pub mod sasl;
pub mod smtp;
