//! ringmail-loadgen: closed-loop and open-loop load generation for mail servers.
//!
//! [`cli`] and [`smtp_cli`] parse and check the arguments into a plan. [`smtp`]
//! runs the SMTP load on the engine's io_uring workers, with [`tls`] for
//! STARTTLS. [`message`] builds the envelopes, headers and shared body,
//! [`content`] picks each message's content (fixed, drawn sizes or a
//! [`corpus`]), and [`reply`] parses server replies without I/O. [`stats`]
//! merges counters and HdrHistograms into the printed [`stats::Report`], and
//! [`progress`] shows a live line on a terminal.
//!
//! Each load mode is a subcommand with its own plan and run function, so
//! further modes (IMAP, an SMTP sink, a delivery verifier) sit beside `smtp`
//! and share `message`, `reply` and `stats`.

#![forbid(unsafe_code)]

pub mod cli;
pub mod content;
pub mod corpus;
pub mod message;
pub mod progress;
pub mod reply;
pub mod smtp;
pub mod smtp_cli;
pub mod stats;
pub mod tls;
