use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

use proptest::prelude::*;

use super::*;

fn sample_envelope() -> Envelope {
    Envelope {
        queue_id: "4F2A9C01".to_string(),
        reverse_path: "alice@example.org".to_string(),
        recipients: vec![
            EnvelopeRecipient {
                address: "bob@localhost".to_string(),
                destination: Destination::Local {
                    user: "bob".to_string(),
                },
                notify: None,
                orcpt: None,
            },
            EnvelopeRecipient {
                address: "carol@example.net".to_string(),
                destination: Destination::Remote,
                notify: Some(Notify {
                    success: true,
                    failure: false,
                    delay: true,
                }),
                orcpt: Some("rfc822;carol@example.net".to_string()),
            },
        ],
        body: BodyType::EightBitMime,
        smtputf8: true,
        requiretls: false,
        ret: Some(DsnReturn::Headers),
        envid: Some("env-1".to_string()),
        auth_user: None,
        peer: SocketAddr::from((Ipv4Addr::LOCALHOST, 40000)),
        helo: "client.example.org".to_string(),
        received_unix_secs: 1_700_000_000,
        local_folder: None,
    }
}

#[test]
fn message_record_roundtrip() {
    let envelope = sample_envelope();
    let bytes = encode_message(&envelope, b"Subject: hi\r\n\r\nbody\r\n").unwrap();
    let Decoded::Record { record, len } = decode(&bytes) else {
        panic!("expected a record");
    };
    assert_eq!(len, bytes.len());
    assert_eq!(
        record,
        Record::Message {
            envelope,
            message: b"Subject: hi\r\n\r\nbody\r\n"
        }
    );
}

#[test]
fn local_folder_roundtrip_and_old_format() {
    let inbox = sample_envelope();
    let junk = Envelope {
        local_folder: Some("Junk".to_string()),
        ..sample_envelope()
    };
    let mut inbox_bytes = Vec::new();
    encode_envelope(&inbox, &mut inbox_bytes).unwrap();
    let mut junk_bytes = Vec::new();
    encode_envelope(&junk, &mut junk_bytes).unwrap();

    // Without a folder the encoding ends where records of the first format
    // release ended, so those decode as INBOX delivery.
    assert!(junk_bytes.starts_with(&inbox_bytes));
    assert_eq!(&junk_bytes[inbox_bytes.len()..], b"\x04\0\0\0Junk");
    assert_eq!(decode_envelope(&inbox_bytes).unwrap().local_folder, None);
    assert_eq!(
        decode_envelope(&junk_bytes)
            .unwrap()
            .local_folder
            .as_deref(),
        Some("Junk")
    );
}

#[test]
fn done_record_roundtrip() {
    let mark = DoneMark {
        offset: 123_456,
        recipient: 7,
    };
    let bytes = encode_done(mark);
    assert_eq!(bytes.len(), record_len(DONE_PAYLOAD_LEN));
    assert_eq!(
        decode(&bytes),
        Decoded::Record {
            record: Record::Done(mark),
            len: bytes.len()
        }
    );
}

#[test]
fn flipped_payload_bit_is_checksum_mismatch_with_skip() {
    let mut bytes = encode_message(&sample_envelope(), b"body").unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    let Decoded::Corrupt(corruption) = decode(&bytes) else {
        panic!("expected corrupt");
    };
    assert!(
        corruption.reason.contains("checksum"),
        "{}",
        corruption.reason
    );
    assert_eq!(corruption.skip_len, Some(bytes.len()));
}

/// Header damage that makes the length untrustworthy: no skip length.
#[test]
fn insane_headers_are_corrupt_without_skip() {
    let valid = encode_done(DoneMark {
        offset: 0,
        recipient: 0,
    });
    let cases: &[(&str, usize, u8)] = &[
        ("magic", 0, b'X'),
        ("version", 4, 9),
        ("kind", 5, 77),
        ("reserved", 6, 1),
        ("done payload length", 8, 13),
    ];
    for (name, index, value) in cases {
        let mut bytes = valid.clone();
        bytes[*index] = *value;
        match decode(&bytes) {
            Decoded::Corrupt(corruption) => {
                assert_eq!(
                    corruption.skip_len, None,
                    "case {name}: {}",
                    corruption.reason
                )
            }
            other => panic!("case {name}: expected corrupt, got {other:?}"),
        }
    }
}

#[test]
fn payload_length_over_max_is_corrupt() {
    let mut bytes = encode_message(&sample_envelope(), b"x").unwrap();
    bytes[8..12].copy_from_slice(&(PAYLOAD_LEN_MAX as u32 + 1).to_le_bytes());
    let Decoded::Corrupt(corruption) = decode(&bytes) else {
        panic!("expected corrupt");
    };
    assert!(
        corruption.reason.contains("exceeds the maximum"),
        "{}",
        corruption.reason
    );
}

#[test]
fn oversized_fields_fail_to_encode() {
    let mut long_queue_id = sample_envelope();
    long_queue_id.queue_id = "q".repeat(NAME_LEN_MAX + 1);
    let error = encode_message(&long_queue_id, b"").unwrap_err();
    assert!(
        error.to_string().contains("queue id of 1025 bytes"),
        "{error}"
    );

    let mut long_address = sample_envelope();
    long_address.recipients[0].address = "a".repeat(ADDRESS_LEN_MAX + 1);
    let error = encode_message(&long_address, b"").unwrap_err();
    assert!(
        error.to_string().contains("recipient of 1025 bytes"),
        "{error}"
    );
}

#[test]
fn recipient_count_beyond_envelope_is_rejected_before_allocation() {
    let mut encoded = Vec::new();
    let mut envelope = sample_envelope();
    envelope.recipients.clear();
    encode_envelope(&envelope, &mut encoded).unwrap();
    // The count sits after the queue id and reverse path strings.
    let count_at = 4 + envelope.queue_id.len() + 4 + envelope.reverse_path.len();
    encoded[count_at..count_at + 4].copy_from_slice(&(RECIPIENTS_MAX as u32).to_le_bytes());
    let error = decode_envelope(&encoded).unwrap_err();
    assert!(error.contains("exceeds the envelope size"), "{error}");
}

#[test]
fn empty_and_short_inputs_need_more() {
    assert_eq!(decode(b""), Decoded::NeedMore { len: None });
    assert_eq!(decode(b"RM"), Decoded::NeedMore { len: None });
    assert!(matches!(decode(b"XX"), Decoded::Corrupt(_)));
}

fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!(".{{0,{}}}", max.min(40))).unwrap()
}

fn recipient() -> impl Strategy<Value = EnvelopeRecipient> {
    (
        text(ADDRESS_LEN_MAX),
        proptest::option::of(text(NAME_LEN_MAX)),
        proptest::option::of((any::<bool>(), any::<bool>(), any::<bool>())),
        proptest::option::of(text(ADDRESS_LEN_MAX)),
    )
        .prop_map(|(address, user, notify, orcpt)| EnvelopeRecipient {
            address,
            destination: match user {
                Some(user) => Destination::Local { user },
                None => Destination::Remote,
            },
            notify: notify.map(|(success, failure, delay)| Notify {
                success,
                failure,
                delay,
            }),
            orcpt,
        })
}

fn peer() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::from((Ipv4Addr::from(ip), port))),
        (any::<[u8; 16]>(), any::<u16>(), any::<u32>(), any::<u32>()).prop_map(
            |(ip, port, flowinfo, scope)| SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(ip),
                port,
                flowinfo,
                scope
            ))
        ),
    ]
}

fn envelope() -> impl Strategy<Value = Envelope> {
    (
        (text(NAME_LEN_MAX), text(ADDRESS_LEN_MAX)),
        proptest::collection::vec(recipient(), 0..6),
        (0u8..3, any::<bool>(), any::<bool>(), 0u8..3),
        (
            proptest::option::of(text(NAME_LEN_MAX)),
            proptest::option::of(text(NAME_LEN_MAX)),
        ),
        (
            peer(),
            text(NAME_LEN_MAX),
            any::<u64>(),
            proptest::option::of(text(NAME_LEN_MAX)),
        ),
    )
        .prop_map(
            |(
                (queue_id, reverse_path),
                recipients,
                (body, smtputf8, requiretls, ret),
                (envid, auth_user),
                (peer, helo, received_unix_secs, local_folder),
            )| Envelope {
                queue_id,
                reverse_path,
                recipients,
                body: [
                    BodyType::SevenBit,
                    BodyType::EightBitMime,
                    BodyType::BinaryMime,
                ][body as usize],
                smtputf8,
                requiretls,
                ret: [None, Some(DsnReturn::Full), Some(DsnReturn::Headers)][ret as usize],
                envid,
                auth_user,
                peer,
                helo,
                received_unix_secs,
                local_folder,
            },
        )
}

/// Decodes records one after another until the input ends or a record fails.
fn decode_all(mut input: &[u8]) -> (Vec<Record<'_>>, Option<Decoded<'_>>) {
    let mut records = Vec::new();
    while !input.is_empty() {
        match decode(input) {
            Decoded::Record { record, len } => {
                records.push(record);
                input = &input[len..];
            }
            other => return (records, Some(other)),
        }
    }
    (records, None)
}

proptest! {
    #[test]
    fn arbitrary_envelope_roundtrips(envelope in envelope(), message in proptest::collection::vec(any::<u8>(), 0..300)) {
        let bytes = encode_message(&envelope, &message).unwrap();
        let decoded = decode(&bytes);
        prop_assert_eq!(decoded, Decoded::Record {
            record: Record::Message { envelope: envelope.clone(), message: &message },
            len: bytes.len(),
        });
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = decode(&bytes);
        let _ = decode_envelope(&bytes);
        let mut with_magic = MAGIC.to_vec();
        with_magic.extend_from_slice(&bytes);
        let _ = decode(&with_magic);
    }

    #[test]
    fn truncated_log_never_yields_a_wrong_record(
        envelopes in proptest::collection::vec(envelope(), 1..4),
        cut in any::<proptest::sample::Index>(),
    ) {
        let mut log = Vec::new();
        let mut ends = Vec::new();
        for (index, envelope) in envelopes.iter().enumerate() {
            log.extend_from_slice(&encode_message(envelope, format!("message {index}").as_bytes()).unwrap());
            ends.push(log.len());
        }
        let cut = cut.index(log.len());
        let (records, tail) = decode_all(&log[..cut]);

        let whole = ends.iter().filter(|end| **end <= cut).count();
        prop_assert_eq!(records.len(), whole);
        for (index, record) in records.iter().enumerate() {
            let Record::Message { envelope, .. } = record else {
                panic!("a message log decoded to a done mark");
            };
            prop_assert_eq!(envelope, &envelopes[index]);
        }
        let at_boundary = cut == 0 || ends.contains(&cut);
        if at_boundary {
            prop_assert!(tail.is_none());
        } else {
            prop_assert!(matches!(tail, Some(Decoded::NeedMore { .. })), "tail was {:?}", tail);
        }
    }
}
