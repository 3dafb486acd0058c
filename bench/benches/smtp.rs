//! Criterion suite for the SMTP parser in `ringmail_protocols::smtp`.
//!
//! `commands/pipelined_session` splits and parses a 100-transaction pipelined
//! session (EHLO, then MAIL, two RCPT, DATA and RSET per transaction) with
//! `LineReader` and `parse_command`, the work the engine does per read in
//! command mode. `data/*` runs `DataReceiver` over a dot-stuffed message of
//! 4 KiB and of 1 MiB, reported in bytes per second, fed in 16 KiB chunks
//! like socket reads. The message mixes short and long lines and lines that
//! start with a dot, so both the memchr fast path and the state changes run.
//!
//! Run: `cargo bench -p ringmail-bench --bench smtp`.

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ringmail_protocols::smtp::{
    dot_stuff, parse_command, DataLimits, DataOutcome, DataReceiver, LineOutcome, LineReader,
    COMMAND_LINE_MAX, TEXT_LINE_LEN_MAX,
};

/// Number of MAIL transactions in the pipelined session.
const TRANSACTION_COUNT: usize = 100;
/// Size of one simulated socket read fed to the DATA receiver.
const READ_CHUNK_LEN: usize = 16 * 1024;

fn pipelined_session() -> Vec<u8> {
    let mut session = b"EHLO client.example.org\r\n".to_vec();
    for index in 0..TRANSACTION_COUNT {
        let transaction = format!(
            "MAIL FROM:<sender{index}@example.org> SIZE=4096 BODY=8BITMIME\r\n\
             RCPT TO:<first.last+{index}@example.net> NOTIFY=FAILURE\r\n\
             RCPT TO:<\"quoted user\"@[192.0.2.7]>\r\n\
             DATA\r\n\
             RSET\r\n"
        );
        session.extend_from_slice(transaction.as_bytes());
    }
    session.extend_from_slice(b"QUIT\r\n");
    session
}

/// Builds a message of about `len` octets: headers, then body lines of
/// varying length, some starting with a dot.
fn message(len: usize) -> Vec<u8> {
    let mut message =
        b"From: a@example.org\r\nTo: b@example.net\r\nSubject: bench\r\n\r\n".to_vec();
    let mut line_index = 0;
    while message.len() < len {
        let line_len = [72, 10, 200, 0, 76][line_index % 5];
        if line_index % 7 == 0 {
            message.push(b'.');
        }
        message.extend(std::iter::repeat_n(b'x', line_len));
        message.extend_from_slice(b"\r\n");
        line_index += 1;
    }
    message
}

fn bench_commands(c: &mut Criterion) {
    let session = pipelined_session();
    let mut group = c.benchmark_group("commands");
    group.throughput(Throughput::Bytes(session.len() as u64));
    group.bench_function("pipelined_session", |b| {
        b.iter(|| {
            let mut reader = LineReader::new(COMMAND_LINE_MAX);
            let mut rest = black_box(&session[..]);
            let mut command_count = 0;
            while let LineOutcome::Line { line, consumed } = reader.next(rest) {
                if parse_command(line).is_ok() {
                    command_count += 1;
                }
                rest = &rest[consumed..];
            }
            command_count
        })
    });
    group.finish();
}

fn bench_data(c: &mut Criterion) {
    let limits = DataLimits {
        message_size_max: 64 << 20,
        line_len_max: TEXT_LINE_LEN_MAX,
    };
    let mut group = c.benchmark_group("data");

    for (name, len) in [("4KiB", 4 << 10), ("1MiB", 1 << 20)] {
        let mut wire = Vec::new();
        dot_stuff(&message(len), &mut wire);
        group.throughput(Throughput::Bytes(wire.len() as u64));
        group.bench_function(name, |b| {
            b.iter_batched_ref(
                || Vec::with_capacity(wire.len()),
                |unstuffed| {
                    let mut receiver = DataReceiver::new(limits);
                    for chunk in wire.chunks(READ_CHUNK_LEN) {
                        if let DataOutcome::Done { result, .. } =
                            receiver.feed(black_box(chunk), unstuffed)
                        {
                            return result;
                        }
                    }
                    panic!("the benchmark message must end with CRLF.CRLF");
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench_commands, bench_data);
criterion_main!(benches);
