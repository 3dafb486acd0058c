//! RFC 5322 messages and their MIME structure (RFC 2045, RFC 2046), and the
//! IMAP values built from them: ENVELOPE and BODYSTRUCTURE.
//!
//! - `header`: where a header ends, its fields with folds, unfolded values.
//! - `mime`: the MIME tree as offsets into the message (`Part`, `parse`)
//!   and IMAP part numbering (`find_part`).
//! - `address`: address lists with groups, for ENVELOPE.
//! - `imap`: `write_envelope` and `write_body_structure`.
//! - `scan`: the end-of-data header scan for SMTP policy (`scan_header`),
//!   which has its own limits (`ScanLimits`) and reports them instead of
//!   going on.
//!
//! Nothing here does I/O, and the tests and the fuzz target check that no
//! input makes it panic. The limits below bound the work and the memory that
//! one hostile message can cost when a client fetches its structure. Past a
//! limit the parser goes on with less detail instead of failing, because a
//! FETCH must still return a value.

mod address;
mod header;
mod imap;
mod mime;
mod scan;

#[cfg(test)]
mod tests;

pub use address::{parse_address_list, Address};
pub use header::{body_start, field_value, fields, unfold, Field, Fields};
pub use imap::{write_body_structure, write_envelope};
pub use mime::{
    find_part, parse, parse_content_type, Content, ContentType, Disposition, Param, Part,
};
pub use scan::{
    scan_header, scan_header_scalar, HeaderEnd, HeaderScan, ScanLimits, HEADER_SCAN_FIELDS_MAX,
    HEADER_SCAN_SIZE_MAX,
};

/// The deepest nesting of multipart and message/rfc822 entities that is
/// parsed. Deeper entities are leaves of type text/plain. It bounds the
/// recursion of the parser and the writers, and real mail nests a few levels.
pub const DEPTH_MAX: usize = 32;

/// The maximum number of entities parsed in one message. Later entities are dropped, so
/// a message of many tiny parts cannot make one FETCH build a huge tree.
pub const PARTS_MAX: usize = 10_000;

/// The maximum number of header fields read in one entity's header. Later fields are
/// ignored, so a header of millions of short lines costs a bounded scan.
pub const FIELDS_MAX: usize = 1_000;

/// The maximum number of parameters kept for one Content-Type or
/// Content-Disposition, and of language tags kept for one Content-Language.
pub const PARAMS_MAX: usize = 64;

/// The maximum number of entries (mailboxes and group markers) read from
/// one address field for ENVELOPE.
pub const ADDRESSES_MAX: usize = 1_000;
