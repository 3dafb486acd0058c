//! Criterion suite for the IMAP command parser (`ringmail_protocols::imap::parse_command`).
//!
//! Each input is one complete command as a client sends it: a plain FETCH,
//! a UID FETCH with header-field sections and a partial range, a nested
//! SEARCH, and a LOGIN whose password is a synchronizing literal. Throughput
//! is reported in bytes of command text per second.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ringmail_protocols::imap::{parse_command, Limits, ParseOutcome};

/// Named commands, one per benchmark.
const INPUTS: &[(&str, &[u8])] = &[
    ("fetch", b"a1 FETCH 1:200 (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)\r\n"),
    (
        "uid_fetch_sections",
        b"a2 UID FETCH 1001:1100,1200:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (FROM TO CC SUBJECT DATE MESSAGE-ID)]<0.2048> BODY.PEEK[1.2.MIME] BODYSTRUCTURE)\r\n",
    ),
    (
        "search",
        b"a3 UID SEARCH CHARSET UTF-8 OR (UNSEEN SINCE 1-Feb-2024) NOT (DELETED FROM \"alice@example.org\") UID 1:5000 LARGER 1024\r\n",
    ),
    ("login_literal", b"a4 LOGIN alice@example.org {24}\r\ncorrect horse battery st\r\n"),
];

fn parse_commands(c: &mut Criterion) {
    let limits = Limits::default();
    let mut group = c.benchmark_group("imap_parse_command");
    for (name, input) in INPUTS {
        assert!(
            matches!(parse_command(input, &limits), ParseOutcome::Complete { .. }),
            "benchmark input {name} does not parse"
        );
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_function(*name, |bencher| {
            bencher.iter(|| parse_command(black_box(input), &limits))
        });
    }
    group.finish();
}

criterion_group!(benches, parse_commands);
criterion_main!(benches);
