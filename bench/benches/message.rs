//! Criterion bench of the message stage: ENVELOPE, BODYSTRUCTURE and part
//! lookup over a multipart/mixed message with a multipart/alternative body,
//! an attached message/rfc822 and a base64 attachment. The `header_scan`
//! group measures the end-of-data header scan, memchr and scalar, on a
//! 4 KiB message with a corpus-like header and on a 100-hop loop message.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ringmail_protocols::message;

/// Builds the benchmark message: about 40 KiB, CRLF line ends.
fn multipart_message() -> Vec<u8> {
    let mut message = b"From: \"Ann Example\" <ann@example.org>\r\n\
To: bob@example.net, \"Carol, C.\" <carol@example.com>, team: dan@example.org;\r\n\
Subject: =?utf-8?q?quarterly_r=C3=A9sum=C3=A9?=\r\n\
Date: Fri, 4 Dec 2026 10:00:00 +0000\r\n\
Message-ID: <bench-1@example.org>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"outer-boundary\"\r\n\
\r\n\
This is a multi-part message in MIME format.\r\n\
--outer-boundary\r\n\
Content-Type: multipart/alternative; boundary=\"inner-boundary\"\r\n\
\r\n\
--inner-boundary\r\n\
Content-Type: text/plain; charset=utf-8; format=flowed\r\n\
\r\n"
        .to_vec();
    for _ in 0..200 {
        message.extend_from_slice(b"The numbers for this quarter are in the attached sheet.\r\n");
    }
    message.extend_from_slice(
        b"--inner-boundary\r\nContent-Type: text/html; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\n",
    );
    for _ in 0..200 {
        message.extend_from_slice(b"<p>The numbers for this quarter are in the sheet.</p>\r\n");
    }
    message.extend_from_slice(
        b"--inner-boundary--\r\n--outer-boundary\r\nContent-Type: message/rfc822\r\n\r\n\
From: old@example.org\r\nSubject: previous\r\n\r\nEarlier message.\r\n\
--outer-boundary\r\nContent-Type: application/pdf; name=\"sheet.pdf\"\r\n\
Content-Disposition: attachment; filename=\"sheet.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n",
    );
    for _ in 0..300 {
        message
            .extend_from_slice(b"JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSL0Zp\r\n");
    }
    message.extend_from_slice(b"--outer-boundary--\r\n");
    message
}

fn message_structure(c: &mut Criterion) {
    let message = multipart_message();
    let mut group = c.benchmark_group("message");
    group.throughput(Throughput::Bytes(message.len() as u64));
    let mut out = Vec::with_capacity(4096);

    group.bench_function("envelope", |b| {
        b.iter(|| {
            out.clear();
            message::write_envelope(&mut out, &message);
            out.len()
        })
    });
    group.bench_function("bodystructure", |b| {
        b.iter(|| {
            out.clear();
            message::write_body_structure(&mut out, &message, true);
            out.len()
        })
    });
    group.bench_function("find_part_1_2", |b| {
        b.iter(|| message::find_part(&message, &[1, 2]).map(|part| part.body.len()))
    });
    group.finish();
}

/// Builds a 4 KiB CRLF message whose header looks like a list message in
/// the SpamAssassin corpus: a few Received hops, folds, and list fields.
fn corpus_like_message() -> Vec<u8> {
    let mut message = Vec::with_capacity(4096);
    for hop in 0..5 {
        message.extend_from_slice(
            format!(
                "Received: from relay{hop}.example.net (relay{hop}.example.net [192.0.2.{hop}])\r\n\
\tby mx{hop}.example.org (Postfix) with ESMTP id 4F1A2B3C{hop}\r\n\
\tfor <list@example.org>; Fri, 4 Dec 2026 10:0{hop}:00 +0000\r\n"
            )
            .as_bytes(),
        );
    }
    message.extend_from_slice(
        b"Message-ID: <20261204100000.GA1234@example.net>\r\n\
From: Ann Example <ann@example.net>\r\n\
To: list@example.org\r\n\
Subject: Re: [list] a question about\r\n folded subjects\r\n\
Date: Fri, 4 Dec 2026 10:00:00 +0000\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=us-ascii\r\n\
List-Id: Example list <list.example.org>\r\n\
List-Unsubscribe: <mailto:list-request@example.org?subject=unsubscribe>\r\n\
Precedence: bulk\r\n\r\n",
    );
    while message.len() < 4096 {
        message
            .extend_from_slice(b"Quoted text of the earlier message, about as long as a line.\r\n");
    }
    message
}

/// Builds a message that has looped through 100 hops.
fn loop_message() -> Vec<u8> {
    let mut message = Vec::new();
    for hop in 0..100 {
        message.extend_from_slice(
            format!(
                "Received: from mx{hop}.example.org by mx{}.example.org; Fri, 4 Dec 2026\r\n",
                hop + 1
            )
            .as_bytes(),
        );
    }
    message.extend_from_slice(b"From: ann@example.net\r\nSubject: loop\r\n\r\nbody\r\n");
    message
}

fn header_scan(c: &mut Criterion) {
    let limits = message::ScanLimits::default();
    let mut group = c.benchmark_group("header_scan");
    for (name, input) in [
        ("corpus_4k", corpus_like_message()),
        ("loop_100", loop_message()),
    ] {
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_function(format!("{name}/memchr"), |b| {
            b.iter(|| message::scan_header(&input, limits).received)
        });
        group.bench_function(format!("{name}/scalar"), |b| {
            b.iter(|| message::scan_header_scalar(&input, limits).received)
        });
    }
    group.finish();
}

criterion_group!(benches, message_structure, header_scan);
criterion_main!(benches);
