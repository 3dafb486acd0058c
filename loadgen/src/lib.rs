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
//! [`imap`] runs IMAP or POP3 sessions in the manner of imaptest, with the
//! arguments of [`imap_cli`].
//!
//! [`sink`] is an SMTP server that accepts and discards mail, and [`verify`]
//! checks acknowledged ids against delivered ones; [`header`] finds the
//! `X-Loadgen-Id` for both.
//!
//! Each load mode is a subcommand with its own plan and run function, so
//! further modes (an SMTP sink, a delivery verifier) sit beside `smtp` and `imap`
//! and share `message`, `reply` and `stats`.

#![forbid(unsafe_code)]

pub mod cli;
pub mod content;
pub mod corpus;
pub mod header;
pub mod imap;
pub mod imap_cli;
pub mod message;
pub mod progress;
pub mod reply;
pub mod sink;
pub mod sink_cli;
pub mod smtp;
pub mod smtp_cli;
pub mod stats;
pub mod tls;
pub mod verify;
