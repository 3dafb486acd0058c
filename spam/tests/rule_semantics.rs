//! Rule forms scored end to end: each test loads a small `.cf` text, scores
//! a message and checks which rules hit. These pin the header forms and
//! pseudo-headers (`:raw`, `ALL`, `ToCc`, `MESSAGEID`, `EnvelopeFrom`) and
//! the `tflags net` and `learn` skips at scoring time. The forms' parsing is
//! tested in the rules module.

use std::path::PathBuf;
use std::sync::Arc;

use ringmail_spam::compile::CompiledRules;
use ringmail_spam::prepare::Prepared;
use ringmail_spam::rules::{self, LoadOptions, MemorySource};
use ringmail_spam::score::{Scorer, Verdict};

fn scorer_from(text: &str) -> Scorer {
    let source = MemorySource::new([("/t.cf", text)]);
    let model = rules::load(&source, &[PathBuf::from("/t.cf")], LoadOptions::default()).unwrap();
    assert!(model.warnings.is_empty(), "{:?}", model.warnings);
    let (compiled, _) = CompiledRules::compile(&model);
    Scorer::new(Arc::new(model), Arc::new(compiled))
}

fn no_evals(_: &str, _: &[String], _: &Prepared<'_>) -> Option<bool> {
    None
}

fn score(scorer: &Scorer, message: &str) -> Verdict {
    scorer.score(&Prepared::new(message.as_bytes()), &no_evals, None)
}

/// Asserts that each named rule hit or missed as listed.
fn assert_hits(verdict: &Verdict, expected: &[(&str, bool)]) {
    let hit = verdict.rule_names();
    for (name, should_hit) in expected {
        assert_eq!(hit.contains(name), *should_hit, "{name} in {hit:?}");
    }
}

const MESSAGE: &str = "Return-Path: <bounce@lists.example>\n\
Received: from mx.example by here\n\
From: \"Jane\" <jane@example.com>\n\
To: bob@example.org\n\
Cc: Carol <carol@example.net>\n\
Subject: =?utf-8?Q?caf=C3=A9?= offer\n\
X-Folded: first\n\tsecond\n\
Message-Id: <local@example.com>\n\
X-Original-Message-ID: <original@lists.example>\n\
\n\
hello\n";

#[test]
fn raw_modifier_reads_undecoded_value() {
    let scorer = scorer_from(
        "header SUBJ_DECODED Subject =~ /^café offer$/\nscore SUBJ_DECODED 1\n\
         header SUBJ_RAW Subject:raw =~ /=\\?utf-8\\?Q\\?caf=C3=A9\\?=/\nscore SUBJ_RAW 1\n\
         header SUBJ_DECODED_ENCODED Subject =~ /=\\?utf-8/\nscore SUBJ_DECODED_ENCODED 1\n\
         header FOLD_RAW X-Folded:raw =~ /first\\n\\tsecond/\nscore FOLD_RAW 1\n\
         header FOLD_DECODED X-Folded =~ /^first second$/\nscore FOLD_DECODED 1\n",
    );
    assert_hits(
        &score(&scorer, MESSAGE),
        &[
            ("SUBJ_DECODED", true),
            ("SUBJ_RAW", true),
            ("SUBJ_DECODED_ENCODED", false),
            ("FOLD_RAW", true),
            ("FOLD_DECODED", true),
        ],
    );
}

#[test]
fn all_pseudo_header_reads_every_field() {
    let scorer = scorer_from(
        "header ALL_SUBJECT ALL =~ /^Subject: café offer$/m\nscore ALL_SUBJECT 1\n\
         header ALL_ORDER ALL =~ /^Return-Path:.*\\nReceived:/m\nscore ALL_ORDER 1\n\
         header ALL_RAW_FOLD ALL:raw =~ /^X-Folded: first\\n\\tsecond$/m\nscore ALL_RAW_FOLD 1\n\
         header ALL_NO_BODY ALL =~ /hello/\nscore ALL_NO_BODY 1\n",
    );
    assert_hits(
        &score(&scorer, MESSAGE),
        &[
            ("ALL_SUBJECT", true),
            ("ALL_ORDER", true),
            ("ALL_RAW_FOLD", true),
            ("ALL_NO_BODY", false),
        ],
    );
}

#[test]
fn tocc_pseudo_header_reads_to_and_cc() {
    let scorer = scorer_from(
        "header TOCC_TO ToCc =~ /bob\\@example\\.org/\nscore TOCC_TO 1\n\
         header TOCC_CC ToCc =~ /carol\\@example\\.net/\nscore TOCC_CC 1\n\
         header TOCC_FROM ToCc =~ /jane/\nscore TOCC_FROM 1\n\
         header TOCC_EXISTS exists:ToCc\nscore TOCC_EXISTS 1\n",
    );
    assert_hits(
        &score(&scorer, MESSAGE),
        &[
            ("TOCC_TO", true),
            ("TOCC_CC", true),
            ("TOCC_FROM", false),
            ("TOCC_EXISTS", true),
        ],
    );

    let cc_only = "Cc: carol@example.net\nSubject: x\n\nbody\n";
    assert_hits(
        &score(&scorer, cc_only),
        &[("TOCC_CC", true), ("TOCC_TO", false), ("TOCC_EXISTS", true)],
    );
    let neither = "Subject: x\n\nbody\n";
    assert_hits(&score(&scorer, neither), &[("TOCC_EXISTS", false)]);
}

#[test]
fn messageid_pseudo_header_reads_list_copies() {
    let scorer = scorer_from(
        "header MSGID_ORIGINAL MESSAGEID =~ /original\\@lists/\nscore MSGID_ORIGINAL 1\n\
         header MSGID_LOCAL MESSAGEID =~ /local\\@example/\nscore MSGID_LOCAL 1\n\
         header MSGID_FIRST MESSAGEID =~ /\\A<original/\nscore MSGID_FIRST 1\n\
         header MSGID_MISSING MESSAGEID =~ /^$/\nscore MSGID_MISSING 1\n",
    );
    assert_hits(
        &score(&scorer, MESSAGE),
        &[
            ("MSGID_ORIGINAL", true),
            ("MSGID_LOCAL", true),
            ("MSGID_FIRST", true),
            ("MSGID_MISSING", false),
        ],
    );
    assert_hits(
        &score(&scorer, "Subject: x\n\nbody\n"),
        &[("MSGID_MISSING", true), ("MSGID_LOCAL", false)],
    );
}

#[test]
fn envelope_from_pseudo_header() {
    let scorer = scorer_from(
        "header ENV_BOUNCE EnvelopeFrom =~ /^bounce\\@lists\\.example$/\nscore ENV_BOUNCE 1\n\
         header ENV_HOST EnvelopeFrom:host =~ /^lists\\.example$/\nscore ENV_HOST 1\n\
         header ENV_EMPTY EnvelopeFrom =~ /^$/\nscore ENV_EMPTY 1\n",
    );
    assert_hits(
        &score(&scorer, MESSAGE),
        &[
            ("ENV_BOUNCE", true),
            ("ENV_HOST", true),
            ("ENV_EMPTY", false),
        ],
    );

    // Return-Path below a Received field was added by a later hop, so
    // SpamAssassin does not trust it and EnvelopeFrom reads as missing.
    let late = "Received: from a by b\nReturn-Path: <bounce@lists.example>\nSubject: x\n\nbody\n";
    assert_hits(
        &score(&scorer, late),
        &[("ENV_BOUNCE", false), ("ENV_EMPTY", true)],
    );

    let procmail = "X-Envelope-From: <sender@example.com>\nSubject: x\n\nbody\n";
    let scorer = scorer_from(
        "header ENV_PROCMAIL EnvelopeFrom =~ /^sender\\@example\\.com$/\nscore ENV_PROCMAIL 1\n",
    );
    assert_hits(&score(&scorer, procmail), &[("ENV_PROCMAIL", true)]);
}

#[test]
fn net_and_learn_evals_skip() {
    let scorer = scorer_from(
        "header NET_CHECK eval:net_check()\ntflags NET_CHECK net\nscore NET_CHECK 1.0\n\
         body LEARN_CHECK eval:learn_check()\ntflags LEARN_CHECK learn\nscore LEARN_CHECK 1.0\n\
         header PLAIN_CHECK eval:plain_check()\nscore PLAIN_CHECK 1.0\n",
    );
    let always = |_: &str, _: &[String], _: &Prepared<'_>| Some(true);
    let prepared = Prepared::new(b"Subject: x\n\nbody\n");

    // Ringmail runs no network tests, so a `net` rule never runs, even with
    // a nonzero score in every set. A `learn` rule runs only with Bayes.
    let without_bayes = scorer.score(&prepared, &always, None);
    assert_hits(
        &without_bayes,
        &[
            ("NET_CHECK", false),
            ("LEARN_CHECK", false),
            ("PLAIN_CHECK", true),
        ],
    );
    let with_bayes = scorer.score(&prepared, &always, Some(0.5));
    assert_hits(
        &with_bayes,
        &[
            ("NET_CHECK", false),
            ("LEARN_CHECK", true),
            ("PLAIN_CHECK", true),
        ],
    );
}

#[test]
fn meta_arithmetic_counts_sub_rules() {
    let scorer = scorer_from(
        "body __A /alpha/\nbody __B /beta/\nbody __C /gamma/\n\
         meta TWO_OF_THREE (__A + __B + __C) > 1\nscore TWO_OF_THREE 1\n\
         meta WEIGHTED (__A * 2 + __C) >= 3\nscore WEIGHTED 1\n",
    );
    let cases = [
        ("alpha", false, false),
        ("alpha beta", true, false),
        ("alpha gamma", true, true),
        ("gamma", false, false),
    ];
    for (text, two, weighted) in cases {
        let message = format!("Subject: x\n\n{text}\n");
        let verdict = score(&scorer, &message);
        assert_hits(&verdict, &[("TWO_OF_THREE", two), ("WEIGHTED", weighted)]);
    }
}

#[test]
fn mimeheader_reads_each_part() {
    let scorer = scorer_from(
        "mimeheader PDF_PART Content-Type =~ /application\\/pdf/i\nscore PDF_PART 1\n\
         mimeheader GIF_NAME Content-Type:raw =~ /name=\"[a-z]+\\.gif\"/\nscore GIF_NAME 1\n\
         mimeheader ROOT_MIXED Content-Type =~ /multipart\\/mixed/\nscore ROOT_MIXED 1\n\
         mimeheader RAW_CTE Content-Transfer-Encoding =~ /^raw$/\nscore RAW_CTE 1\n\
         header TOP_PDF Content-Type =~ /application\\/pdf/\nscore TOP_PDF 1\n",
    );
    let message = "Subject: parts\n\
Content-Type: multipart/mixed; boundary=b\n\
\n\
--b\n\
Content-Type: text/plain\n\
\n\
hello\n\
--b\n\
Content-Type: application/PDF; name=\"x.pdf\"\n\
Content-Transfer-Encoding: base64\n\
\n\
AAAA\n\
--b\n\
Content-Type: image/gif;\n\tname=\"abc.gif\"\n\
\n\
R0lG\n\
--b--\n";
    assert_hits(
        &score(&scorer, message),
        &[
            ("PDF_PART", true),
            ("GIF_NAME", true),
            ("ROOT_MIXED", true),
            ("RAW_CTE", false),
            ("TOP_PDF", false),
        ],
    );
    assert_hits(
        &score(&scorer, "Subject: plain\n\nno parts\n"),
        &[("PDF_PART", false), ("ROOT_MIXED", false)],
    );
}
