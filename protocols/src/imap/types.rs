//! The parsed form of IMAP4rev1 client commands (RFC 3501 section 6).
//!
//! `Command` pairs a tag with a `CommandBody`. Values borrow the input buffer
//! where the wire form equals the value (atoms, literals, quoted strings
//! without escapes) and own a copy only for quoted strings with `\"` or `\\`.
//! Nothing here has a limit of its own: the parser bounds every list with
//! `Limits::items_max` and every nesting with `Limits::depth_max` before a
//! value is built.

use std::borrow::Cow;

/// One client command: its tag and the request it makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command<'a> {
    /// The client's tag, echoed in the tagged reply.
    pub tag: &'a str,
    /// The command name and its arguments.
    pub body: CommandBody<'a>,
}

/// A command name with its arguments. `uid` is true for the `UID` prefix form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandBody<'a> {
    Capability,
    Noop,
    Logout,
    /// `LOGIN userid password`, both astrings with quoting and escapes removed.
    Login {
        username: Cow<'a, [u8]>,
        password: Cow<'a, [u8]>,
    },
    /// `AUTHENTICATE mechanism [initial-response]` (RFC 4959 SASL-IR).
    /// `initial_response` is the base64 text, not decoded. The lone `=`,
    /// which stands for an empty response, becomes an empty slice.
    Authenticate {
        mechanism: &'a str,
        initial_response: Option<&'a [u8]>,
    },
    /// `LIST reference pattern`; the pattern may hold the wildcards `*` and `%`.
    List {
        reference: Cow<'a, [u8]>,
        pattern: Cow<'a, [u8]>,
    },
    /// `LSUB reference pattern`.
    Lsub {
        reference: Cow<'a, [u8]>,
        pattern: Cow<'a, [u8]>,
    },
    Select {
        mailbox: MailboxName<'a>,
    },
    Examine {
        mailbox: MailboxName<'a>,
    },
    Create {
        mailbox: MailboxName<'a>,
    },
    Delete {
        mailbox: MailboxName<'a>,
    },
    Subscribe {
        mailbox: MailboxName<'a>,
    },
    Unsubscribe {
        mailbox: MailboxName<'a>,
    },
    /// `STATUS mailbox (items)`, with at least one item.
    Status {
        mailbox: MailboxName<'a>,
        items: Vec<StatusItem>,
    },
    /// `APPEND mailbox [(flags)] ["date-time"] literal`. `date` is the text
    /// between the quotes, already checked against the date-time grammar
    /// ("dd-Mon-yyyy hh:mm:ss +zzzz", day possibly space-padded).
    Append {
        mailbox: MailboxName<'a>,
        flags: Vec<Flag<'a>>,
        date: Option<&'a [u8]>,
        message: &'a [u8],
    },
    Check,
    Close,
    Expunge,
    /// `UNSELECT` (RFC 3691).
    Unselect,
    /// `[UID] FETCH set attributes`, with the macros ALL, FAST and FULL expanded.
    Fetch {
        sequence_set: SequenceSet,
        attributes: Vec<FetchAttribute<'a>>,
        uid: bool,
    },
    /// `[UID] STORE set [+|-]FLAGS[.SILENT] flags`.
    Store {
        sequence_set: SequenceSet,
        kind: StoreKind,
        silent: bool,
        flags: Vec<Flag<'a>>,
        uid: bool,
    },
    /// `[UID] COPY set mailbox`.
    Copy {
        sequence_set: SequenceSet,
        mailbox: MailboxName<'a>,
        uid: bool,
    },
    /// `[UID] SEARCH [CHARSET name] keys`. Several top-level keys become one `And`.
    Search {
        charset: Option<&'a str>,
        criteria: SearchKey<'a>,
        uid: bool,
    },
    /// `IDLE` (RFC 2177). The engine reads the `DONE` line itself.
    Idle,
}

/// A mailbox name as sent, quoting removed. Comparisons with INBOX ignore
/// ASCII case, as RFC 3501 requires, and all other names are case-sensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxName<'a>(Cow<'a, [u8]>);

impl<'a> MailboxName<'a> {
    /// Wraps a name that the caller already unquoted.
    pub fn new(name: Cow<'a, [u8]>) -> Self {
        MailboxName(name)
    }

    /// Whether this is INBOX, in any case.
    pub fn is_inbox(&self) -> bool {
        self.0.eq_ignore_ascii_case(b"INBOX")
    }

    /// The name's octets (modified UTF-7 for IMAP4rev1 clients).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The name, giving up the borrow check on the input when it was copied.
    pub fn into_inner(self) -> Cow<'a, [u8]> {
        self.0
    }
}

/// A data item of the STATUS command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusItem {
    Messages,
    Recent,
    UidNext,
    UidValidity,
    Unseen,
}

/// The way STORE combines the given flags with the message's flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreKind {
    /// `FLAGS`: the message's flags become exactly the given ones.
    Replace,
    /// `+FLAGS`: the given flags are added.
    Add,
    /// `-FLAGS`: the given flags are removed.
    Remove,
}

/// A message flag. System flags are matched without regard to case.
/// `Keyword` keeps the client's spelling, and callers compare keywords with
/// ASCII case folding. `Extension` is a backslash flag this parser does not
/// know, stored without its backslash.
///
/// NOTE: the parser accepts `\Recent` in STORE and APPEND flag lists, although
/// clients may not set it. The engine decides whether to ignore or reject it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flag<'a> {
    Seen,
    Answered,
    Flagged,
    Deleted,
    Draft,
    Recent,
    Keyword(&'a str),
    Extension(&'a str),
}

/// One end of a sequence range: a number from 1 up, or `*` for the largest in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SequenceNumber {
    /// A message sequence number or UID, never 0.
    Value(u32),
    /// The largest number in use in the mailbox.
    Star,
}

/// An inclusive range. `start` may exceed `end`, and `5:2` means `2:5`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SequenceRange {
    pub start: SequenceNumber,
    pub end: SequenceNumber,
}

/// A sequence set such as `1,3:5,7:*`: a non-empty list of ranges, where a
/// single number is a range that starts and ends on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceSet {
    pub ranges: Vec<SequenceRange>,
}

impl SequenceSet {
    /// Whether `n` is in the set, where `*` means `largest` (the highest seq or UID in the mailbox).
    pub fn contains(&self, n: u32, largest: u32) -> bool {
        let resolve = |number: SequenceNumber| match number {
            SequenceNumber::Value(value) => value,
            SequenceNumber::Star => largest,
        };
        self.ranges.iter().any(|range| {
            let start = resolve(range.start);
            let end = resolve(range.end);
            start.min(end) <= n && n <= start.max(end)
        })
    }
}

/// A message data item requested by FETCH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchAttribute<'a> {
    Flags,
    Uid,
    InternalDate,
    Rfc822Size,
    Rfc822,
    Rfc822Header,
    Rfc822Text,
    Envelope,
    BodyStructure,
    /// `BODY` without a section: the body structure without extension data.
    Body,
    /// `BODY[section]<origin.count>` or `BODY.PEEK[...]`, which does not set \Seen.
    BodySection {
        peek: bool,
        section: Section<'a>,
        partial: Option<(u32, u32)>,
    },
}

/// A body section: a MIME part path (empty for the whole message) and the
/// part of it wanted (`None` for all of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section<'a> {
    pub part: Vec<u32>,
    pub text: Option<SectionText<'a>>,
}

/// The portion of a message or part named after the part path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText<'a> {
    Header,
    /// `HEADER.FIELDS (names)` or, with `not`, `HEADER.FIELDS.NOT (names)`.
    HeaderFields {
        not: bool,
        fields: Vec<&'a str>,
    },
    Text,
    /// The MIME header of a part. Only valid after a part number.
    Mime,
}

/// A search criterion (RFC 3501 section 6.4.4). String arguments are
/// unquoted but not decoded from the command's charset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey<'a> {
    All,
    Answered,
    Deleted,
    Draft,
    Flagged,
    New,
    Old,
    Recent,
    Seen,
    Unanswered,
    Undeleted,
    Undraft,
    Unflagged,
    Unseen,
    Keyword(&'a str),
    Unkeyword(&'a str),
    Larger(u32),
    Smaller(u32),
    Before(Date),
    On(Date),
    Since(Date),
    SentBefore(Date),
    SentOn(Date),
    SentSince(Date),
    Bcc(Cow<'a, [u8]>),
    Body(Cow<'a, [u8]>),
    Cc(Cow<'a, [u8]>),
    From(Cow<'a, [u8]>),
    Subject(Cow<'a, [u8]>),
    Text(Cow<'a, [u8]>),
    To(Cow<'a, [u8]>),
    /// `HEADER field-name value`.
    Header(Cow<'a, [u8]>, Cow<'a, [u8]>),
    Uid(SequenceSet),
    SequenceSet(SequenceSet),
    Not(Box<SearchKey<'a>>),
    Or(Box<SearchKey<'a>>, Box<SearchKey<'a>>),
    /// A parenthesized list, or several keys at the top level.
    And(Vec<SearchKey<'a>>),
}

/// A calendar date from a SEARCH key, such as `1-Feb-1994`. The parser
/// accepts only days that exist (leap years included) in years 0000 to 9999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

impl Date {
    /// Builds a date, or `None` when the day does not exist.
    pub fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        if year > 9999 || !(1..=12).contains(&month) {
            return None;
        }
        if day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date { year, month, day })
    }
}

/// The number of days in `month` (1 to 12) of the proleptic Gregorian `year`.
pub(crate) fn days_in_month(year: u16, month: u8) -> u8 {
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The English month abbreviations used by IMAP dates, January first.
pub(crate) const MONTH_NAMES: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];
