//! The Ringmail engine: runtime, configuration, users, mail store and the
//! SMTP and IMAP sessions that tie the protocol parsers to sockets and files.
//!
//! The engine owns every socket, file and thread. The parsers it drives live
//! in `ringmail-protocols` and do no I/O.

pub mod config;
pub mod connection;
pub mod envelope;
pub mod file_version;
pub mod imap;
pub mod mailstore;
pub mod router;
pub mod runtime;
pub mod server;
pub mod smtp;
pub mod spam;
pub mod spool;
pub mod time;
pub mod tls;
pub mod users;
