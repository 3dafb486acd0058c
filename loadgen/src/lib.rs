//! ringmail-loadgen: closed-loop load generation for mail servers.
//!
//! [`cli`] parses and checks the arguments into a plan. [`smtp`] runs the SMTP
//! load on the engine's io_uring workers. [`message`] builds the envelopes,
//! headers and shared body, and [`reply`] parses server replies without I/O.
//! [`stats`] merges counters and HdrHistograms into the printed [`stats::Report`].
//!
//! [`imap`] runs IMAP or POP3 sessions in the manner of imaptest, with the
//! arguments of [`imap_cli`].
//!
//! Each load mode is a subcommand with its own plan and run function, so
//! further modes (IMAP, an SMTP sink, a delivery verifier) sit beside `smtp`
//! and share `message`, `reply` and `stats`.

#![forbid(unsafe_code)]

pub mod cli;
pub mod imap;
pub mod imap_cli;
pub mod message;
pub mod reply;
pub mod smtp;
pub mod stats;
