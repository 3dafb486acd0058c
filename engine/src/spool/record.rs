//! The spool's on-disk record format: [`MessageRecord`], [`encode_message`],
//! [`encode_done`] and [`decode`]. Pure functions, no I/O.
//!
//! A record is a fixed 12-byte header, a payload and a CRC32C trailer:
//!
//! ```text
//! offset  size  field
//!      0     4  magic "RMSP"
//!      4     1  format version (1)
//!      5     1  kind: 1 = message, 2 = done mark
//!      6     2  reserved, zero
//!      8     4  payload length, little endian, at most PAYLOAD_LEN_MAX
//!     12     n  payload
//!   12+n     4  CRC32C of bytes 0 .. 12+n, little endian
//! ```
//!
//! A message payload is a u32 envelope length, the envelope in the encoding of
//! [`encode_envelope`], then the message bytes as received (CRLF line ends).
//! A done payload names a message record of the same segment by its byte
//! offset, and one recipient of it by index.
//!
//! Every length field is checked against a named maximum before any
//! allocation, so a corrupt length costs an error, never a huge buffer. The
//! decoder separates a record that is cut short ([`Decoded::NeedMore`]) from
//! one whose bytes are wrong ([`Decoded::Corrupt`]). For a corrupt record it
//! also reports whether the header is sane enough to skip it by its length.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::envelope::{BodyType, Destination, DsnReturn, Envelope, EnvelopeRecipient, Notify};

/// The first four bytes of every record.
pub const MAGIC: [u8; 4] = *b"RMSP";

/// The format version this code writes and reads.
pub const FORMAT_VERSION: u8 = 1;

/// Bytes before the payload.
pub const HEADER_LEN: usize = 12;

/// Bytes after the payload: the CRC32C.
pub const TRAILER_LEN: usize = 4;

/// Maximum payload length: 1 GiB. Far above any message the SMTP receiver
/// accepts, so only a corrupt header exceeds it.
pub const PAYLOAD_LEN_MAX: usize = 1 << 30;

/// Maximum encoded envelope length: 64 MiB. Bounds the decoder's allocation
/// when a length field is corrupt but the checksum happens to match.
pub const ENVELOPE_LEN_MAX: usize = 64 << 20;

/// Maximum recipients of one envelope. The SMTP receiver's own limit
/// (`smtp.recipients_max`, default 100) is far lower.
pub const RECIPIENTS_MAX: usize = 100_000;

/// Maximum length of an address (reverse path, recipient, ORCPT) in bytes.
/// RFC 5321 allows 256 for a path; SMTPUTF8 and xtext decoding leave room for
/// more, so the spool is generous and the receiver enforces the strict limit.
pub const ADDRESS_LEN_MAX: usize = 1024;

/// Maximum length of a queue id, a user name, an ENVID or a HELO name.
pub const NAME_LEN_MAX: usize = 1024;

const KIND_MESSAGE: u8 = 1;
const KIND_DONE: u8 = 2;

/// Bytes of a done payload: record offset (u64) and recipient index (u32).
const DONE_PAYLOAD_LEN: usize = 12;

/// One decoded record, borrowing the message bytes from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record<'a> {
    /// An accepted message and its envelope.
    Message {
        envelope: Envelope,
        message: &'a [u8],
    },
    /// A mark that one recipient of the message record at `offset` is done.
    Done(DoneMark),
}

/// A done mark: recipient `recipient` of the message record at byte `offset`
/// of the same segment needs no further delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DoneMark {
    pub offset: u64,
    pub recipient: u32,
}

/// The outcome of decoding the bytes at the start of a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A valid record that spans the first `len` bytes.
    Record { record: Record<'a>, len: usize },
    /// The buffer ends inside the record that starts it; `len` is the total
    /// record length when the header was complete and sane.
    NeedMore { len: Option<usize> },
    /// The bytes do not form a valid record.
    Corrupt(Corruption),
}

/// The reason a record is invalid, and the skip length when the header was sane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corruption {
    pub reason: String,
    /// The record length from a sane header, so a reader may try the next
    /// record; `None` when the header itself is invalid.
    pub skip_len: Option<usize>,
}

/// Error from encoding a record whose envelope exceeds a limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EncodeError(String);

/// Returns the total record length for a payload of `payload_len` bytes.
pub fn record_len(payload_len: usize) -> usize {
    HEADER_LEN + payload_len + TRAILER_LEN
}

/// A message record whose envelope is encoded and checked, so its length is
/// known before its bytes are placed: the spool reserves room first and then
/// appends the record straight into the write buffer.
pub struct MessageRecord<'a> {
    envelope: Vec<u8>,
    message: &'a [u8],
}

impl<'a> MessageRecord<'a> {
    /// Encodes `envelope` and checks both length limits.
    pub fn new(envelope: &Envelope, message: &'a [u8]) -> Result<Self, EncodeError> {
        let mut encoded_envelope = Vec::with_capacity(256);
        encode_envelope(envelope, &mut encoded_envelope)?;
        if encoded_envelope.len() > ENVELOPE_LEN_MAX {
            return Err(EncodeError(format!(
                "envelope of {} bytes exceeds the maximum of {ENVELOPE_LEN_MAX}",
                encoded_envelope.len()
            )));
        }
        let record = MessageRecord {
            envelope: encoded_envelope,
            message,
        };
        let payload_len = record.payload_len();
        if payload_len > PAYLOAD_LEN_MAX {
            return Err(EncodeError(format!(
                "record payload of {payload_len} bytes exceeds the maximum of {PAYLOAD_LEN_MAX}"
            )));
        }
        Ok(record)
    }

    fn payload_len(&self) -> usize {
        4 + self.envelope.len() + self.message.len()
    }

    /// Returns the encoded length of the whole record.
    pub fn encoded_len(&self) -> usize {
        record_len(self.payload_len())
    }

    /// Appends the encoded record to `out`.
    pub fn append_to(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.reserve(self.encoded_len());
        put_header(out, KIND_MESSAGE, self.payload_len());
        out.extend_from_slice(&(self.envelope.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.envelope);
        out.extend_from_slice(self.message);
        put_trailer(out, start);
    }
}

/// Encodes a message record for `envelope` and `message`.
pub fn encode_message(envelope: &Envelope, message: &[u8]) -> Result<Vec<u8>, EncodeError> {
    let record = MessageRecord::new(envelope, message)?;
    let mut out = Vec::with_capacity(record.encoded_len());
    record.append_to(&mut out);
    Ok(out)
}

/// Encodes a done mark.
pub fn encode_done(mark: DoneMark) -> Vec<u8> {
    let mut out = Vec::with_capacity(record_len(DONE_PAYLOAD_LEN));
    put_header(&mut out, KIND_DONE, DONE_PAYLOAD_LEN);
    out.extend_from_slice(&mark.offset.to_le_bytes());
    out.extend_from_slice(&mark.recipient.to_le_bytes());
    put_trailer(&mut out, 0);
    out
}

fn put_header(out: &mut Vec<u8>, kind: u8, payload_len: usize) {
    out.extend_from_slice(&MAGIC);
    out.push(FORMAT_VERSION);
    out.push(kind);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&(payload_len as u32).to_le_bytes());
}

/// Appends the checksum of the record that starts at `start` in `out`.
fn put_trailer(out: &mut Vec<u8>, start: usize) {
    let crc = crc32c::crc32c(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// Decodes the record at the start of `input`.
pub fn decode(input: &[u8]) -> Decoded<'_> {
    if input.len() < HEADER_LEN {
        // A prefix of a header: wrong bytes already visible are corrupt.
        let visible = input.len().min(MAGIC.len());
        if input[..visible] != MAGIC[..visible] {
            return corrupt("invalid magic", None);
        }
        return Decoded::NeedMore { len: None };
    }

    let (kind, payload_len) = match check_header(&input[..HEADER_LEN]) {
        Ok(fields) => fields,
        Err(reason) => return corrupt(reason, None),
    };
    let len = record_len(payload_len);
    if input.len() < len {
        return Decoded::NeedMore { len: Some(len) };
    }

    let body_end = HEADER_LEN + payload_len;
    let stored_crc = u32::from_le_bytes(four(&input[body_end..len]));
    let computed_crc = crc32c::crc32c(&input[..body_end]);
    if stored_crc != computed_crc {
        return corrupt(
            format!("checksum mismatch: stored {stored_crc:08x}, computed {computed_crc:08x}"),
            Some(len),
        );
    }

    let payload = &input[HEADER_LEN..body_end];
    let record = match kind {
        KIND_MESSAGE => decode_message(payload),
        _ => decode_done(payload),
    };
    match record {
        Ok(record) => Decoded::Record { record, len },
        Err(reason) => corrupt(reason, Some(len)),
    }
}

fn corrupt(reason: impl Into<String>, skip_len: Option<usize>) -> Decoded<'static> {
    Decoded::Corrupt(Corruption {
        reason: reason.into(),
        skip_len,
    })
}

/// Checks the header fields and returns the kind and payload length.
fn check_header(header: &[u8]) -> Result<(u8, usize), String> {
    if header[..4] != MAGIC {
        return Err("invalid magic".to_string());
    }
    if header[4] != FORMAT_VERSION {
        return Err(format!(
            "unsupported format version {}, expected {FORMAT_VERSION}",
            header[4]
        ));
    }
    let kind = header[5];
    if kind != KIND_MESSAGE && kind != KIND_DONE {
        return Err(format!("unknown record kind {kind}"));
    }
    if header[6] != 0 || header[7] != 0 {
        return Err("reserved header bytes are not zero".to_string());
    }
    let payload_len = u32::from_le_bytes(four(&header[8..12])) as usize;
    if payload_len > PAYLOAD_LEN_MAX {
        return Err(format!(
            "payload length {payload_len} exceeds the maximum of {PAYLOAD_LEN_MAX}"
        ));
    }
    if kind == KIND_DONE && payload_len != DONE_PAYLOAD_LEN {
        return Err(format!(
            "done payload length {payload_len}, expected {DONE_PAYLOAD_LEN}"
        ));
    }
    Ok((kind, payload_len))
}

fn four(bytes: &[u8]) -> [u8; 4] {
    let mut out = [0; 4];
    out.copy_from_slice(&bytes[..4]);
    out
}

fn decode_message(payload: &[u8]) -> Result<Record<'_>, String> {
    let mut reader = Reader { input: payload };
    let envelope_len = reader.u32()? as usize;
    if envelope_len > ENVELOPE_LEN_MAX {
        return Err(format!(
            "envelope length {envelope_len} exceeds the maximum of {ENVELOPE_LEN_MAX}"
        ));
    }
    let encoded_envelope = reader.take(envelope_len, "envelope")?;
    let envelope = decode_envelope(encoded_envelope)?;
    Ok(Record::Message {
        envelope,
        message: reader.input,
    })
}

fn decode_done(payload: &[u8]) -> Result<Record<'static>, String> {
    let mut reader = Reader { input: payload };
    let offset = reader.u64()?;
    let recipient = reader.u32()?;
    Ok(Record::Done(DoneMark { offset, recipient }))
}

/// Appends the compact binary form of `envelope` to `out`.
///
/// Integers are little endian; a string is a u32 length and its UTF-8 bytes;
/// an optional field is a 0/1 tag and the value.
pub fn encode_envelope(envelope: &Envelope, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    if envelope.recipients.len() > RECIPIENTS_MAX {
        return Err(EncodeError(format!(
            "envelope has {} recipients, over the maximum of {RECIPIENTS_MAX}",
            envelope.recipients.len()
        )));
    }
    put_str(out, "queue id", &envelope.queue_id, NAME_LEN_MAX)?;
    put_str(out, "reverse path", &envelope.reverse_path, ADDRESS_LEN_MAX)?;
    out.extend_from_slice(&(envelope.recipients.len() as u32).to_le_bytes());
    for recipient in &envelope.recipients {
        put_recipient(out, recipient)?;
    }
    out.push(match envelope.body {
        BodyType::SevenBit => 0,
        BodyType::EightBitMime => 1,
        BodyType::BinaryMime => 2,
    });
    out.push(u8::from(envelope.smtputf8) | (u8::from(envelope.requiretls) << 1));
    out.push(match envelope.ret {
        None => 0,
        Some(DsnReturn::Full) => 1,
        Some(DsnReturn::Headers) => 2,
    });
    put_optional_str(out, "envid", envelope.envid.as_deref(), NAME_LEN_MAX)?;
    put_optional_str(
        out,
        "auth user",
        envelope.auth_user.as_deref(),
        NAME_LEN_MAX,
    )?;
    put_peer(out, envelope.peer);
    put_str(out, "helo name", &envelope.helo, NAME_LEN_MAX)?;
    out.extend_from_slice(&envelope.received_unix_secs.to_le_bytes());
    // This field came after the first release of the format. Records written
    // before it existed end here, and they decode as INBOX delivery.
    if let Some(folder) = &envelope.local_folder {
        put_str(out, "local folder", folder, NAME_LEN_MAX)?;
    }
    Ok(())
}

fn put_recipient(out: &mut Vec<u8>, recipient: &EnvelopeRecipient) -> Result<(), EncodeError> {
    put_str(out, "recipient", &recipient.address, ADDRESS_LEN_MAX)?;
    match &recipient.destination {
        Destination::Local { user } => {
            out.push(0);
            put_str(out, "user", user, NAME_LEN_MAX)?;
        }
        Destination::Remote => out.push(1),
    }
    // Bit 3 set means NOTIFY was given; bits 0-2 are its conditions.
    out.push(match recipient.notify {
        None => 0,
        Some(notify) => {
            8 | u8::from(notify.success)
                | (u8::from(notify.failure) << 1)
                | (u8::from(notify.delay) << 2)
        }
    });
    put_optional_str(out, "orcpt", recipient.orcpt.as_deref(), ADDRESS_LEN_MAX)
}

fn put_peer(out: &mut Vec<u8>, peer: SocketAddr) {
    match peer {
        SocketAddr::V4(v4) => {
            out.push(4);
            out.extend_from_slice(&v4.ip().octets());
            out.extend_from_slice(&v4.port().to_le_bytes());
        }
        SocketAddr::V6(v6) => {
            out.push(6);
            out.extend_from_slice(&v6.ip().octets());
            out.extend_from_slice(&v6.port().to_le_bytes());
            out.extend_from_slice(&v6.flowinfo().to_le_bytes());
            out.extend_from_slice(&v6.scope_id().to_le_bytes());
        }
    }
}

fn put_str(out: &mut Vec<u8>, field: &str, value: &str, max: usize) -> Result<(), EncodeError> {
    if value.len() > max {
        return Err(EncodeError(format!(
            "{field} of {} bytes exceeds the maximum of {max}",
            value.len()
        )));
    }
    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    out.extend_from_slice(value.as_bytes());
    Ok(())
}

fn put_optional_str(
    out: &mut Vec<u8>,
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Result<(), EncodeError> {
    match value {
        None => {
            out.push(0);
            Ok(())
        }
        Some(value) => {
            out.push(1);
            put_str(out, field, value, max)
        }
    }
}

/// Decodes an envelope written by [`encode_envelope`]; trailing bytes are an
/// error, because they mean the writer and reader disagree on the format.
pub fn decode_envelope(input: &[u8]) -> Result<Envelope, String> {
    let mut reader = Reader { input };
    let queue_id = reader.string("queue id", NAME_LEN_MAX)?;
    let reverse_path = reader.string("reverse path", ADDRESS_LEN_MAX)?;

    let count = reader.u32()? as usize;
    if count > RECIPIENTS_MAX {
        return Err(format!(
            "recipient count {count} exceeds the maximum of {RECIPIENTS_MAX}"
        ));
    }
    // Each recipient takes at least 10 bytes, so a count that the input
    // cannot hold is rejected before the allocation.
    if count > reader.input.len() / 10 {
        return Err(format!("recipient count {count} exceeds the envelope size"));
    }
    let mut recipients = Vec::with_capacity(count);
    for _ in 0..count {
        recipients.push(reader.recipient()?);
    }

    let body = match reader.u8()? {
        0 => BodyType::SevenBit,
        1 => BodyType::EightBitMime,
        2 => BodyType::BinaryMime,
        other => return Err(format!("invalid body type {other}")),
    };
    let flags = reader.u8()?;
    if flags > 3 {
        return Err(format!("invalid envelope flags {flags:#x}"));
    }
    let ret = match reader.u8()? {
        0 => None,
        1 => Some(DsnReturn::Full),
        2 => Some(DsnReturn::Headers),
        other => return Err(format!("invalid dsn ret value {other}")),
    };
    let envid = reader.optional_string("envid", NAME_LEN_MAX)?;
    let auth_user = reader.optional_string("auth user", NAME_LEN_MAX)?;
    let peer = reader.peer()?;
    let helo = reader.string("helo name", NAME_LEN_MAX)?;
    let received_unix_secs = reader.u64()?;
    let local_folder = if reader.input.is_empty() {
        None
    } else {
        Some(reader.string("local folder", NAME_LEN_MAX)?)
    };

    if !reader.input.is_empty() {
        return Err(format!(
            "{} unexpected bytes after the envelope",
            reader.input.len()
        ));
    }
    Ok(Envelope {
        queue_id,
        reverse_path,
        recipients,
        body,
        smtputf8: flags & 1 != 0,
        requiretls: flags & 2 != 0,
        ret,
        envid,
        auth_user,
        peer,
        helo,
        received_unix_secs,
        local_folder,
    })
}

/// A cursor over a payload; every read checks the remaining length.
struct Reader<'a> {
    input: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize, field: &str) -> Result<&'a [u8], String> {
        if len > self.input.len() {
            return Err(format!(
                "{field} needs {len} bytes, only {} remain",
                self.input.len()
            ));
        }
        let (head, rest) = self.input.split_at(len);
        self.input = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1, "u8")?[0])
    }

    fn u16(&mut self) -> Result<u16, String> {
        let bytes = self.take(2, "u16")?;
        Ok(u16::from_le_bytes([bytes[0], bytes[1]]))
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(four(self.take(4, "u32")?)))
    }

    fn u64(&mut self) -> Result<u64, String> {
        let bytes = self.take(8, "u64")?;
        let mut out = [0; 8];
        out.copy_from_slice(bytes);
        Ok(u64::from_le_bytes(out))
    }

    fn string(&mut self, field: &str, max: usize) -> Result<String, String> {
        let len = self.u32()? as usize;
        if len > max {
            return Err(format!("{field} length {len} exceeds the maximum of {max}"));
        }
        let bytes = self.take(len, field)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| format!("{field} is not valid utf-8"))
    }

    fn optional_string(&mut self, field: &str, max: usize) -> Result<Option<String>, String> {
        match self.u8()? {
            0 => Ok(None),
            1 => self.string(field, max).map(Some),
            other => Err(format!("invalid presence tag {other} for {field}")),
        }
    }

    fn recipient(&mut self) -> Result<EnvelopeRecipient, String> {
        let address = self.string("recipient", ADDRESS_LEN_MAX)?;
        let destination = match self.u8()? {
            0 => Destination::Local {
                user: self.string("user", NAME_LEN_MAX)?,
            },
            1 => Destination::Remote,
            other => return Err(format!("invalid destination tag {other}")),
        };
        let notify = match self.u8()? {
            0 => None,
            bits @ 8..=15 => Some(Notify {
                success: bits & 1 != 0,
                failure: bits & 2 != 0,
                delay: bits & 4 != 0,
            }),
            other => return Err(format!("invalid notify value {other:#x}")),
        };
        let orcpt = self.optional_string("orcpt", ADDRESS_LEN_MAX)?;
        Ok(EnvelopeRecipient {
            address,
            destination,
            notify,
            orcpt,
        })
    }

    fn peer(&mut self) -> Result<SocketAddr, String> {
        match self.u8()? {
            4 => {
                let ip = four(self.take(4, "ipv4 address")?);
                let port = self.u16()?;
                Ok(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port)))
            }
            6 => {
                let mut ip = [0; 16];
                ip.copy_from_slice(self.take(16, "ipv6 address")?);
                let port = self.u16()?;
                let flowinfo = self.u32()?;
                let scope_id = self.u32()?;
                Ok(SocketAddr::V6(SocketAddrV6::new(
                    Ipv6Addr::from(ip),
                    port,
                    flowinfo,
                    scope_id,
                )))
            }
            other => Err(format!("invalid peer address family {other}")),
        }
    }
}

#[cfg(test)]
mod tests;
