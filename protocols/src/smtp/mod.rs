//! SMTP server side, sans I/O: command lines, commands, DATA and replies.
//!
//! The engine owns the socket and feeds bytes in. In command mode it splits
//! them with [`LineReader`] and parses each line with [`parse_command`]. After
//! DATA it feeds them to a [`DataReceiver`], which unstuffs the message and
//! finds the one true end of data, `CRLF . CRLF`. After BDAT it feeds them to
//! a [`BdatReceiver`], which takes exactly the announced octets. [`xtext`]
//! decodes the DSN parameters ENVID and ORCPT. Every error maps to exactly
//! one [`Reply`], so the wire text lives in one place.

pub mod bdat;
pub mod command;
pub mod data;
pub mod line;
pub mod reply;
pub mod xtext;

pub use bdat::{BdatError, BdatReceiver, ChunkOutcome};
pub use command::{
    parse_command, Body, Command, ForwardPath, MailParameters, Mailbox, RcptParameters, Ret,
    ReversePath, BDAT_SIZE_DIGITS_MAX, DOMAIN_MAX, ENVID_MAX, LOCAL_PART_MAX, ORCPT_MAX,
    PARAMETER_COUNT_MAX, PATH_MAX, SASL_MECHANISM_LEN_MAX,
};
pub use data::{dot_stuff, DataError, DataLimits, DataOutcome, DataReceiver, TEXT_LINE_LEN_MAX};
pub use line::{LineOutcome, LineReader, COMMAND_LINE_MAX};
pub use reply::{write_multiline, CommandError, EnhancedStatus, Reply, REPLY_LINE_MAX};
