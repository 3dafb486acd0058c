//! ringmail-loadgen: closed-loop load generation for mail servers.
//!
//! [`cli`] parses and checks the arguments into a plan. [`smtp`] runs the SMTP
//! load on the engine's io_uring workers. [`message`] builds the envelopes,
//! headers and shared body, and [`reply`] parses server replies without I/O.
//! [`stats`] merges counters and HdrHistograms into the printed [`stats::Report`].
//!
//! [`sink`] is an SMTP server that accepts and discards mail, and [`verify`]
//! checks acknowledged ids against delivered ones; [`header`] finds the
//! `X-Loadgen-Id` for both.
//!
//! Each load mode is a subcommand with its own plan and run function, so
//! further modes (IMAP, an SMTP sink, a delivery verifier) sit beside `smtp`
//! and share `message`, `reply` and `stats`.

#![forbid(unsafe_code)]

pub mod cli;
pub mod header;
pub mod message;
pub mod reply;
pub mod sink;
pub mod sink_cli;
pub mod smtp;
pub mod stats;
pub mod verify;
