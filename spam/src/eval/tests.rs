//! Tests of the eval functions: one table of handcrafted messages, and an
//! agreement count against SpamAssassin 4.0.1 on a corpus sample.

use std::collections::{BTreeMap, BTreeSet};

use super::{evaluate, evaluate_rawbody, implemented};
use crate::prepare::Prepared;
use crate::rules::{load_default, LoadOptions, RuleKind, Test};

/// Evaluates `function(args)` on `message`.
fn run(message: &str, function: &str, args: &[&str]) -> Option<bool> {
    let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
    evaluate(function, &args, &Prepared::new(message.as_bytes()))
}

const PLAIN: &str = "From: a@mail.example.com\nTo: bob@example.org\nSubject: hello there\n\nhi\n";
const NO_TO: &str = "From: a@example.com\nSubject: hi\n\nbody\n";
const EMPTY_TO: &str = "From: a@example.com\nTo: \nSubject: hi\n\nbody\n";
const DATE_AHEAD: &str = "Received: from a.example.com by b.example.org; Thu, 22 Aug 2002 13:09:41 +0100\nDate: Fri, 23 Aug 2002 14:09:41 +0100\n\nbody\n";
const DATE_ON_TIME: &str = "Received: from a.example.com by b.example.org; Thu, 22 Aug 2002 13:09:41 +0100\nDate: Thu, 22 Aug 2002 12:09:41 +0000\n\nbody\n";
const OUTLOOK_FORGED: &str = "Received: from a by b; Thu, 22 Aug 2002 13:09:41 +0100\nDate: Thu, 22 Aug 2002 13:09:41 +0100\nMessage-ID: <0000000000aa$bbbbbbbb$cccccccc@host>\n\nbody\n";
const APPARENTLY_TO: &str = "From: a@example.com\nApparently-To: b@example.com\n\nbody\n";
const TWO_SUBJECTS: &str = "Subject: one\nSubject: two\nSubject: two\n\nbody\n";
const CAPS_SUBJECT: &str = "Subject: Re: FREE MONEY NOW\n\nbody\n";
const CAPS_SUBJECT_KOI8: &str = "Subject: =?koi8-r?Q?FREE_MONEY_NOW?=\n\nbody\n";
const ONE_WORD_CAPS: &str = "Subject: FREEMONEYNOW\n\nbody\n";
const USER_SUBJECT: &str = "To: Bob <bob@example.org>\nSubject: bob, you won\n\nbody\n";
const ENVELOPE_OTHER: &str =
    "Return-Path: <x@bounce.other.net>\nFrom: a@mail.example.com\n\nbody\n";
const ENVELOPE_SAME: &str =
    "Return-Path: <x@bounce.example.com>\nFrom: a@mail.example.com\n\nbody\n";
const ENVELOPE_EQUAL: &str =
    "Return-Path: <A@Mail.Example.com>\nFrom: a@mail.example.com\n\nbody\n";
const HTML_ONLY: &str =
    "Content-Type: text/html\n\n<html><head></head><body><center>Hi there</center></body>\n";
const FONT_SIZE_7_HTML: &str =
    "Content-Type: text/html\n\n<html><body><font size=\"7\" color=red>SALE</font></body></html>\n";
const FONT_SIZE_PLUS_3_HTML: &str =
    "Content-Type: text/html\n\n<html><body><FONT SIZE=+3>SALE</FONT></body></html>\n";
const ALTERNATIVE: &str = "Content-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain\n\nx\n--b\nContent-Type: text/html\n\n<html><body><p>a much longer html part for the ratio</p></body></html>\n--b--\n";
const ALTERNATIVE_IMAGE: &str = "Content-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain\n\nx\n--b\nContent-Type: image/gif\nContent-Transfer-Encoding: base64\n\nR0lGODlh\n--b--\n";
const BASE64_TEXT: &str =
    "Content-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: base64\n\naGVsbG8=\n";
const QP_NEEDLESS: &str =
    "Content-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\n=48=65llo\n";
const QP_PLAIN: &str =
    "Content-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\ncaf=E9\n";
const BAD_ISO: &str = "Content-Type: text/plain; charset=iso-1234-5\n\nbody\n";
const ATTACHMENT: &str = "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nx\n--b\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=a.pdf\n\nPDF\n--b--\n";
const COMMENT_LINK_HTML: &str = "Content-Type: text/html\n\n<html><!-- saved from url=(0022)http://x.test/ --><a href=\"http://x.test/\"><img src=\"a.gif\">click</a></html>\n";
const IMAGE_HTML: &str = "Content-Type: text/html\n\n<html><body><img src=\"a.gif\" width=100 height=100>buy</body></html>\n";

/// 8-bit bytes in a Subject, which valid UTF-8 would excuse.
const LATIN1_SUBJECT: &[u8] = b"Subject: \xe9\xe9\xe9\n\nbody\n";

/// One table row: case name, message, function, arguments, expected result.
type Case = (
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    Option<bool>,
);

#[test]
fn eval_table() {
    let cases: &[Case] = &[
        (
            "to present",
            PLAIN,
            "check_for_missing_to_header",
            &[],
            Some(false),
        ),
        (
            "to missing",
            NO_TO,
            "check_for_missing_to_header",
            &[],
            Some(true),
        ),
        (
            "empty to counts",
            EMPTY_TO,
            "check_for_missing_to_header",
            &[],
            Some(false),
        ),
        (
            "date a day ahead",
            DATE_AHEAD,
            "check_for_shifted_date",
            &["24", "48"],
            Some(true),
        ),
        (
            "date a day ahead not behind",
            DATE_AHEAD,
            "check_for_shifted_date",
            &["undef", "-96"],
            Some(false),
        ),
        (
            "date on time",
            DATE_ON_TIME,
            "check_for_shifted_date",
            &["-3", "3"],
            Some(true),
        ),
        (
            "date on time not shifted",
            DATE_ON_TIME,
            "check_for_shifted_date",
            &["3", "6"],
            Some(false),
        ),
        (
            "no date no shift",
            PLAIN,
            "check_for_shifted_date",
            &["-3", "3"],
            Some(true),
        ),
        (
            "outlook id far off",
            OUTLOOK_FORGED,
            "check_outlook_message_id",
            &[],
            Some(true),
        ),
        (
            "non outlook id",
            PLAIN,
            "check_outlook_message_id",
            &[],
            Some(false),
        ),
        (
            "apparently-to counts",
            APPARENTLY_TO,
            "check_for_missing_to_header",
            &[],
            Some(false),
        ),
        (
            "two distinct subjects",
            TWO_SUBJECTS,
            "check_header_count_range",
            &["Subject", "2", "999"],
            Some(true),
        ),
        (
            "one subject",
            PLAIN,
            "check_header_count_range",
            &["Subject", "2", "999"],
            Some(false),
        ),
        (
            "caps subject after re",
            CAPS_SUBJECT,
            "subject_is_all_caps",
            &[],
            Some(true),
        ),
        (
            "caps subject in koi8",
            CAPS_SUBJECT_KOI8,
            "subject_is_all_caps",
            &[],
            Some(false),
        ),
        (
            "one word caps subject",
            ONE_WORD_CAPS,
            "subject_is_all_caps",
            &[],
            Some(false),
        ),
        (
            "lower case subject",
            PLAIN,
            "subject_is_all_caps",
            &[],
            Some(false),
        ),
        (
            "user at subject start",
            USER_SUBJECT,
            "check_for_to_in_subject",
            &["user"],
            Some(true),
        ),
        (
            "user not in subject",
            PLAIN,
            "check_for_to_in_subject",
            &["user"],
            Some(false),
        ),
        (
            "unknown to test",
            PLAIN,
            "check_for_to_in_subject",
            &["nonsense"],
            None,
        ),
        (
            "envelope in other domain",
            ENVELOPE_OTHER,
            "check_equal_from_domains",
            &[],
            Some(true),
        ),
        (
            "envelope in same domain",
            ENVELOPE_SAME,
            "check_equal_from_domains",
            &[],
            Some(false),
        ),
        (
            "html only",
            HTML_ONLY,
            "check_for_mime_html_only",
            &[],
            Some(true),
        ),
        (
            "html with text",
            ALTERNATIVE,
            "check_for_mime_html_only",
            &[],
            Some(false),
        ),
        (
            "html present",
            ALTERNATIVE,
            "check_for_mime_html",
            &[],
            Some(true),
        ),
        (
            "plain has no html",
            PLAIN,
            "check_for_mime_html",
            &[],
            Some(false),
        ),
        (
            "tiny text beside html",
            ALTERNATIVE,
            "check_mime_multipart_ratio",
            &["0.00", "0.1"],
            Some(true),
        ),
        (
            "no alternative ratio is one",
            PLAIN,
            "check_mime_multipart_ratio",
            &["0.00", "0.1"],
            Some(false),
        ),
        (
            "image in alternative",
            ALTERNATIVE_IMAGE,
            "check_ma_non_text",
            &[],
            Some(true),
        ),
        (
            "text and html alternative",
            ALTERNATIVE,
            "check_ma_non_text",
            &[],
            Some(false),
        ),
        (
            "ascii text with an 8-bit byte",
            "Content-Type: text/plain; charset=us-ascii\n\ncaf\u{e9}\n",
            "check_for_ascii_text_illegal",
            &[],
            Some(true),
        ),
        (
            "text without charset and a carriage return",
            "Subject: x\n\nline\r\n",
            "check_for_ascii_text_illegal",
            &[],
            Some(true),
        ),
        (
            "plain 7-bit text",
            PLAIN,
            "check_for_ascii_text_illegal",
            &[],
            Some(false),
        ),
        (
            "8-bit text with its charset",
            "Content-Type: text/plain; charset=iso-8859-1\n\ncaf\u{e9}\n",
            "check_for_ascii_text_illegal",
            &[],
            Some(false),
        ),
        (
            "8-bit html",
            "Content-Type: text/html\n\n<p>caf\u{e9}</p>\n",
            "check_for_ascii_text_illegal",
            &[],
            Some(false),
        ),
        (
            "base64 ascii text",
            BASE64_TEXT,
            "check_for_mime",
            &["mime_base64_encoded_text"],
            Some(true),
        ),
        (
            "base64 counted",
            BASE64_TEXT,
            "check_for_mime",
            &["mime_base64_count"],
            Some(true),
        ),
        (
            "no base64",
            PLAIN,
            "check_for_mime",
            &["mime_base64_count"],
            Some(false),
        ),
        (
            "needless qp escapes",
            QP_NEEDLESS,
            "check_for_mime",
            &["mime_qp_count"],
            Some(true),
        ),
        (
            "needed qp escape",
            QP_PLAIN,
            "check_for_mime",
            &["mime_qp_count"],
            Some(false),
        ),
        (
            "bad iso charset",
            BAD_ISO,
            "check_for_mime",
            &["mime_bad_iso_charset"],
            Some(true),
        ),
        (
            "latin charset is fine",
            PLAIN,
            "check_for_mime",
            &["mime_bad_iso_charset"],
            Some(false),
        ),
        (
            "attachment",
            ATTACHMENT,
            "check_for_mime",
            &["mime_attachment"],
            Some(true),
        ),
        (
            "unknown mime flag",
            PLAIN,
            "check_for_mime",
            &["mime_missing_boundary"],
            None,
        ),
        (
            "short body",
            PLAIN,
            "check_body_length",
            &["128"],
            Some(true),
        ),
        (
            "body over minimum",
            PLAIN,
            "check_body_length",
            &["1"],
            Some(false),
        ),
        (
            "envelope is from",
            ENVELOPE_SAME,
            "check_for_matching_env_and_hdr_from",
            &[],
            Some(false),
        ),
        (
            "envelope equals from",
            ENVELOPE_EQUAL,
            "check_for_matching_env_and_hdr_from",
            &[],
            Some(true),
        ),
        ("html part", HTML_ONLY, "html_test", &["html"], Some(true)),
        ("no html part", PLAIN, "html_test", &["html"], Some(false)),
        (
            "unrecorded html flag",
            HTML_ONLY,
            "html_test",
            &["embeds"],
            None,
        ),
        (
            "saved from url comment",
            COMMENT_LINK_HTML,
            "html_text_match",
            &["comment", r"<!-- saved from url=\(\d{4}\)"],
            Some(true),
        ),
        (
            "image in link",
            COMMENT_LINK_HTML,
            "html_text_match",
            &["anchor", "<img>"],
            Some(true),
        ),
        (
            "no image in link",
            HTML_ONLY,
            "html_text_match",
            &["anchor", "<img>"],
            Some(false),
        ),
        (
            "short title",
            HTML_ONLY,
            "html_text_match",
            &["title", ".{120}"],
            Some(false),
        ),
        (
            "unknown text list",
            HTML_ONLY,
            "html_text_match",
            &["script", "x"],
            None,
        ),
        (
            "center tag",
            HTML_ONLY,
            "html_tag_exists",
            &["center"],
            Some(true),
        ),
        (
            "no script tag",
            HTML_ONLY,
            "html_tag_exists",
            &["script"],
            Some(false),
        ),
        (
            "unclosed center",
            HTML_ONLY,
            "html_tag_balance",
            &["center", "!= 0"],
            Some(false),
        ),
        (
            "unclosed html",
            HTML_ONLY,
            "html_tag_balance",
            &["html", "!= 0"],
            Some(true),
        ),
        (
            "code in comparison",
            HTML_ONLY,
            "html_tag_balance",
            &["html", "; system(1)"],
            None,
        ),
        (
            "short html",
            HTML_ONLY,
            "html_range",
            &["length", "0", "1024"],
            Some(true),
        ),
        (
            "unknown html value",
            HTML_ONLY,
            "html_range",
            &["no_such_value", "0", "1"],
            None,
        ),
        (
            "default font size not large",
            HTML_ONLY,
            "html_range",
            &["max_size", "5", "6"],
            Some(false),
        ),
        (
            "font size 7 is huge",
            FONT_SIZE_7_HTML,
            "html_range",
            &["max_size", "6", "inf"],
            Some(true),
        ),
        (
            "font size 7 is not large",
            FONT_SIZE_7_HTML,
            "html_range",
            &["max_size", "5", "6"],
            Some(false),
        ),
        (
            "relative font size +3 is large",
            FONT_SIZE_PLUS_3_HTML,
            "html_range",
            &["max_size", "5", "6"],
            Some(true),
        ),
        (
            "short html eval",
            HTML_ONLY,
            "html_eval",
            &["length", "< 512"],
            Some(true),
        ),
        (
            "image with little text",
            IMAGE_HTML,
            "html_image_only",
            &["0000", "0400"],
            Some(true),
        ),
        (
            "no image",
            HTML_ONLY,
            "html_image_only",
            &["0000", "0400"],
            Some(false),
        ),
        (
            "text per pixel",
            IMAGE_HTML,
            "html_image_ratio",
            &["0.000", "0.002"],
            Some(true),
        ),
        (
            "uppercase short body",
            PLAIN,
            "check_for_uppercase",
            &["25", "50"],
            Some(false),
        ),
        (
            "faraway under ok_locales all",
            PLAIN,
            "html_charset_faraway",
            &[],
            Some(false),
        ),
        ("network eval", PLAIN, "check_rbl", &["a", "b"], None),
        (
            "missing argument",
            PLAIN,
            "check_header_count_range",
            &["Subject"],
            None,
        ),
    ];
    for (name, message, function, args, expected) in cases {
        assert_eq!(run(message, function, args), *expected, "case {name}");
    }
}

#[test]
fn date_forms_parse_like_perl() {
    use super::date::parse_date;
    let cases: &[(&str, Option<i64>)] = &[
        ("Thu, 22 Aug 2002 13:09:41 +0100", Some(1_030_018_181)),
        ("22 Aug 2002 13:09:41 GMT", Some(1_030_021_781)),
        ("Thu, 22 Aug 02 13:09:41 -0000", Some(1_030_021_781)),
        ("22 Aug 102 13:09:41 PDT", Some(1_030_046_981)),
        // The month-first form also removes the time, so it reads as 0:00.
        ("Thu Aug 22 13:09:41 2002", Some(1_029_974_400)),
        ("31 Feb 2002 00:00:00 +0000", Some(1_014_940_800)),
        ("1 Jan 1960 00:00:00 +0000", Some(0)),
        ("yesterday", None),
        ("0 Jan 2002 00:00:00", None),
    ];
    for (text, expected) in cases {
        assert_eq!(parse_date(text), *expected, "date {text}");
    }
}

#[test]
fn illegal_chars_in_latin1_subject() {
    let message = Prepared::new(LATIN1_SUBJECT);
    let args = ["Subject".to_string(), "0.00".to_string(), "2".to_string()];
    assert_eq!(evaluate("check_illegal_chars", &args, &message), Some(true));
}

#[test]
fn illegal_chars_excuse_utf8() {
    let message = Prepared::new("Subject: caf\u{e9} \u{e9}t\u{e9}\n\nbody\n".as_bytes());
    let args = ["Subject".to_string(), "0.00".to_string(), "2".to_string()];
    assert_eq!(
        evaluate("check_illegal_chars", &args, &message),
        Some(false)
    );
}

#[test]
fn uppercase_shouted_body() {
    let line = "THIS IS A VERY LOUD OFFER FOR YOU TODAY ONLY ";
    let message = format!("Subject: x\n\n{}\n", line.repeat(8));
    assert_eq!(
        run(&message, "check_for_uppercase", &["75", "100"]),
        Some(true)
    );
}

#[test]
fn blank_line_ratio_of_spaced_body() {
    let message = "Subject: x\n\na\n\n\n\n\nb\n";
    assert_eq!(
        run(message, "check_blank_line_ratio", &["50", "100", "4"]),
        Some(true)
    );
    assert_eq!(
        run(message, "check_blank_line_ratio", &["0", "10", "4"]),
        Some(false)
    );
}

#[test]
fn implemented_list_is_sorted_and_evaluates() {
    let names = implemented();
    let mut sorted = names.to_vec();
    sorted.sort_unstable();
    assert_eq!(names, sorted.as_slice());
    for name in names {
        // With no arguments a function returns a result or `None`, never a panic.
        let _ = run(PLAIN, name, &[]);
    }
}

#[test]
fn hostile_inputs_do_not_panic() {
    let inputs: [&[u8]; 5] = [
        b"",
        b"Subject:\n\n",
        b"Content-Type: multipart/alternative\n\n--\n",
        b"Content-Type: text/html\n\n<img width=99999999999 height=99999999999><<</>",
        b"Content-Transfer-Encoding: quoted-printable\n\n=20=20=\n=3",
    ];
    for input in inputs {
        let message = Prepared::new(input);
        for name in implemented() {
            let _ = evaluate(name, &["Subject".into(), "0".into(), "1".into()], &message);
        }
    }
}

/// The SpamAssassin 4.0.1 eval hits of a fixed corpus sample, as written by
/// `testdata/collect.sh`.
const SA_EVAL_HITS: &str = include_str!("testdata/sa_eval_hits.tsv");

/// Counts, per eval function, how often Ringmail's result equals
/// SpamAssassin's on the sample, over the stock rules that call it. Rules
/// SpamAssassin does not run (score 0 and not a `__` sub-rule) are left out.
/// It prints the table and fails only if agreement falls below
/// `AGREEMENT_MIN` overall, so a regression shows without pinning each rule.
#[test]
fn corpus_agreement_with_spamassassin() {
    const AGREEMENT_MIN: f64 = 0.99;
    let Some(home) = std::env::var_os("HOME") else {
        return;
    };
    let dir = std::path::Path::new(&home).join(".cache/ringmail/spamassassin-corpus-0.2.3/eml");
    if !dir.is_dir() {
        eprintln!("skipped: corpus not found, run `python3 tests/corpus/fetch.py`");
        return;
    }
    let Ok((model, _)) = load_default(LoadOptions::default()) else {
        eprintln!("skipped: no SpamAssassin rules installed");
        return;
    };

    let known: BTreeSet<&str> = implemented().iter().copied().collect();
    let mut rules = Vec::new();
    for (_, rule) in model.defined() {
        let Some((kind, Test::Eval(call))) = &rule.definition else {
            continue;
        };
        let runs = rule.name.starts_with("__") || rule.score(0) != 0.0;
        if runs && known.contains(call.function.as_str()) {
            rules.push((rule.name.clone(), *kind, call.clone()));
        }
    }

    // Per function: [agree, ringmail only, spamassassin only, not computed].
    let mut counts: BTreeMap<String, [usize; 4]> = BTreeMap::new();
    let mut disagreements = Vec::new();
    for line in SA_EVAL_HITS.lines() {
        let (path, hits) = line.split_once('\t').unwrap_or((line, ""));
        let Ok(raw) = std::fs::read(dir.join(path)) else {
            continue;
        };
        let sa_hits: BTreeSet<&str> = hits.split(',').filter(|name| !name.is_empty()).collect();
        let message = Prepared::new(&raw);
        for (name, kind, call) in &rules {
            let entry = counts.entry(call.function.clone()).or_default();
            let expected = sa_hits.contains(name.as_str());
            let result = if *kind == RuleKind::Rawbody {
                evaluate_rawbody(&call.function, &call.args, &message)
            } else {
                evaluate(&call.function, &call.args, &message)
            };
            match result {
                None => entry[3] += 1,
                Some(found) if found == expected => entry[0] += 1,
                Some(true) => {
                    entry[1] += 1;
                    disagreements.push(format!("{path} {name}: ringmail hit"));
                }
                Some(false) => {
                    entry[2] += 1;
                    disagreements.push(format!("{path} {name}: spamassassin hit"));
                }
            }
        }
    }

    let mut agree_total = 0;
    let mut compared_total = 0;
    eprintln!("function agree ringmail_only spamassassin_only not_computed");
    for (function, [agree, ours, theirs, skipped]) in &counts {
        eprintln!("{function} {agree} {ours} {theirs} {skipped}");
        agree_total += agree;
        compared_total += agree + ours + theirs;
    }
    for line in &disagreements {
        eprintln!("{line}");
    }
    let share = agree_total as f64 / compared_total.max(1) as f64;
    eprintln!("agreement {agree_total}/{compared_total}");
    assert!(
        share >= AGREEMENT_MIN,
        "agreement {share:.3} is below {AGREEMENT_MIN}"
    );
}

#[test]
fn relay_trust_evals() {
    let private = "Received: from a.lan (a.lan [10.0.0.2]) by mx.lan (Postfix) with ESMTP id A1; Thu, 22 Aug 2002 13:09:41 +0100\n\nbody\n";
    let public = "Received: from a.example.com (a.example.com [192.0.2.7]) by mx.example.org (Postfix) with ESMTP id A1; Thu, 22 Aug 2002 13:09:41 +0100\n\nbody\n";
    let none = "Subject: written here\n\nbody\n";
    let private_and_unparseable = "Received: from a.lan (a.lan [10.0.0.2]) by mx.lan (Postfix) with ESMTP id A1; Thu, 22 Aug 2002 13:09:41 +0100\nReceived: from mail.example.com (mail.example.com) by a.lan (8.12.11) with ESMTP id x1; Thu, 22 Aug 2002 13:08:41 +0100\n\nbody\n";
    let only_unparseable = "Received: from mail.example.com (mail.example.com) by mx.lan (8.12.11) with ESMTP id x1; Thu, 22 Aug 2002 13:08:41 +0100\n\nbody\n";
    let only_skipped = "Received: from localhost by mx.lan with SMTP id ab123; Thu, 22 Aug 2002 13:53:39 +0100\n\nbody\n";
    // (message, all trusted, no relays, relays unparseable)
    let cases = [
        (private, true, false, false),
        (public, false, false, false),
        (none, false, true, false),
        (private_and_unparseable, false, false, true),
        (only_unparseable, false, false, true),
        (only_skipped, false, true, false),
    ];
    for (message, all_trusted, no_relays, unparseable) in cases {
        assert_eq!(
            run(message, "check_relays_unparseable", &[]),
            Some(unparseable),
            "{message}"
        );
        assert_eq!(
            run(message, "check_all_trusted", &[]),
            Some(all_trusted),
            "{message}"
        );
        assert_eq!(
            run(message, "check_no_relays", &[]),
            Some(no_relays),
            "{message}"
        );
    }
}

#[test]
fn forged_yahoo_received_table() {
    let forged = "Received: from spammer.example (spammer.example [192.0.2.9]) by mx.example.org (Postfix) with ESMTP id A1; Thu, 22 Aug 2002 13:09:41 +0100\nFrom: someone@yahoo.com\n\nbody\n";
    let webmail = "Received: from [192.0.2.9] by web12.mail.yahoo.com via HTTP; Thu, 22 Aug 2002 13:09:41 PDT\nFrom: someone@yahoo.com\n\nbody\n";
    let yahoo_rdns = "Received: from mta1.mail.yahoo.com (mta1.mail.yahoo.com [192.0.2.10]) by mx.example.org (Postfix) with ESMTP id A1; Thu, 22 Aug 2002 13:09:41 +0100\nFrom: someone@yahoo.com\n\nbody\n";
    let other_domain = "Received: from spammer.example (spammer.example [192.0.2.9]) by mx.example.org (Postfix) with ESMTP id A1; Thu, 22 Aug 2002 13:09:41 +0100\nFrom: someone@example.com\n\nbody\n";
    let no_received = "From: someone@yahoo.com\n\nbody\n";
    let cases = [
        (forged, true),
        (webmail, false),
        (yahoo_rdns, false),
        (other_domain, false),
        (no_received, false),
    ];
    for (message, expected) in cases {
        assert_eq!(
            run(message, "check_for_forged_yahoo_received_headers", &[]),
            Some(expected),
            "{message}"
        );
    }
}

#[test]
fn helo_ip_mismatch_table() {
    let received = |helo: &str, ip: &str| {
        format!("Received: from {helo} (unknown [{ip}]) by mx.example.org (Postfix) with SMTP id A1; Thu, 22 Aug 2002 13:09:41 +0100\n\nbody\n")
    };
    // (HELO, IP, expected)
    let cases = [
        ("198.51.100.7", "192.0.2.9", true),
        ("192.0.2.77", "192.0.2.9", false),
        ("192.0.2.9", "192.0.2.9", false),
        ("10.1.2.3", "192.0.2.9", false),
        ("mail.example.com", "192.0.2.9", false),
    ];
    for (helo, ip, expected) in cases {
        assert_eq!(
            run(&received(helo, ip), "helo_ip_mismatch", &[]),
            Some(expected),
            "HELO {helo}, IP {ip}"
        );
    }
}

#[test]
fn vertical_words_share_of_spaces() {
    // The Subject is the first body line.
    let spread = "Subject: hi\n\nB u y   n o w   c h e a p   p i l l s\n";
    let normal = "Subject: hi\n\nBuy now, while stocks last, from our store.\n";
    assert_eq!(run(spread, "tvd_vertical_words", &["0", "10"]), Some(false));
    assert_eq!(
        run(spread, "tvd_vertical_words", &["50", "100"]),
        Some(true)
    );
    assert_eq!(run(normal, "tvd_vertical_words", &["0", "10"]), Some(false));
    assert_eq!(run(normal, "tvd_vertical_words", &["10", "30"]), Some(true));
    // Lines of 5 characters or fewer are not measured.
    assert_eq!(
        run("Subject: a\n\nb c\n", "tvd_vertical_words", &["0", "100"]),
        Some(false)
    );
}

#[test]
fn obfuscation_ratio_range() {
    // 2 joined pieces over 8 tags is 0.25. Without a joined piece the
    // ratio is not set, so no range matches.
    let obfuscated = "Content-Type: text/html\n\n<p>w<b>or</b>d</p><p>x</p><i></i>\n";
    let clean = "Content-Type: text/html\n\n<p>word</p><p>x</p>\n";
    assert_eq!(
        run(obfuscated, "html_range", &["obfuscation_ratio", ".2", ".3"]),
        Some(true)
    );
    assert_eq!(
        run(
            obfuscated,
            "html_range",
            &["obfuscation_ratio", ".05", ".1"]
        ),
        Some(false)
    );
    assert_eq!(
        run(clean, "html_range", &["obfuscation_ratio", "-1", "1"]),
        Some(false)
    );
}

#[test]
fn multipart_alternative_difference_table() {
    let alternative = |text: &str, html: &str| {
        format!(
            "Content-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain\n\n{text}\n--b\nContent-Type: text/html\n\n{html}\n--b--\n"
        )
    };
    let same = alternative("Great offer today", "<p>Great offer <b>today</b></p>");
    let different = alternative("Hello friend", "<p>Buy cheap watches now</p>");
    let image_only = alternative("Hello friend", "<img src=\"cid:a\">");
    let many_text_words = alternative(
        "one two three four five six seven eight nine",
        "<p>one two</p>",
    );
    let meeting = "Content-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/html\n\n<p>Buy cheap watches now</p>\n--b\nContent-Type: text/calendar\n\nBEGIN:VCALENDAR\n--b--\n";
    // (case, message, function, arguments, expected)
    let cases: [(&str, &str, &str, &[&str], bool); 8] = [
        (
            "same words",
            &same,
            "multipart_alternative_difference",
            &["99", "100"],
            false,
        ),
        (
            "same words, any",
            &same,
            "multipart_alternative_difference",
            &["0", "undef"],
            true,
        ),
        (
            "different words",
            &different,
            "multipart_alternative_difference",
            &["99", "100"],
            true,
        ),
        (
            "image only html",
            &image_only,
            "multipart_alternative_difference",
            &["99", "100"],
            true,
        ),
        (
            "meeting request left out",
            meeting,
            "multipart_alternative_difference",
            &["99", "100"],
            false,
        ),
        (
            "not alternative",
            PLAIN,
            "multipart_alternative_difference",
            &["99", "100"],
            false,
        ),
        (
            "text has many more words",
            &many_text_words,
            "multipart_alternative_difference_count",
            &["3", "1"],
            true,
        ),
        (
            "text has as many words",
            &same,
            "multipart_alternative_difference_count",
            &["3", "1"],
            false,
        ),
    ];
    for (case, message, function, args, expected) in cases {
        assert_eq!(run(message, function, args), Some(expected), "{case}");
    }
}

#[test]
fn no_rdns_dotcom_helo_table() {
    let message = |received: &[&str]| {
        let mut text = String::new();
        for value in received {
            text.push_str(&format!(
                "Received: from {value}; Thu, 22 Aug 2002 13:09:41 +0100\n"
            ));
        }
        text.push_str("\nbody\n");
        text
    };
    let sendmail_no_rdns =
        "hotmail.com ([192.0.2.9]) by mx.example.org (8.11.6/8.11.6) with SMTP id g1";
    let sendmail_rdns = "mx1.hotmail.com (mx1.hotmail.com [192.0.2.9]) by mx.example.org (8.11.6/8.11.6) with SMTP id g1";
    let exim_no_rdns =
        "[192.0.2.9] (helo=hotmail.com) by mx.example.org with esmtp (Exim 3.35 #1) id 1";
    let other_helo =
        "mail.example.net ([192.0.2.9]) by mx.example.org (8.11.6/8.11.6) with SMTP id g1";
    let private_hop = "aol.com ([10.0.0.5]) by relay.example.org (8.11.6/8.11.6) with SMTP id g2";
    let older_public = "example.net (host.example.net [198.51.100.4]) by relay.example.com (8.11.6/8.11.6) with SMTP id g3";
    // (Received values, newest first; expected)
    let cases: [(&[&str], bool); 6] = [
        (&[sendmail_no_rdns], true),
        (&[sendmail_rdns], false),
        // Exim's shape does not tell whether it looked the name up.
        (&[exim_no_rdns], false),
        (&[other_helo], false),
        // A private relay is skipped: the public one behind it decides.
        (&[sendmail_no_rdns, private_hop], true),
        // Only the oldest public relay decides.
        (&[sendmail_no_rdns, older_public], false),
    ];
    for (received, expected) in cases {
        assert_eq!(
            run(&message(received), "check_for_no_rdns_dotcom_helo", &[]),
            Some(expected),
            "{received:?}"
        );
    }
}

#[test]
fn recipient_list_evals() {
    let list = |addresses: &[&str]| format!("To: {}\n\nbody\n", addresses.join(", "));
    let similar = list(&[
        "ann@aa.example",
        "anton@ab.example",
        "andy@ac.example",
        "anna@ad.example",
        "anders@ae.example",
    ]);
    let varied = list(&[
        "ann@aa.example",
        "bob@bb.example",
        "carl@cc.example",
        "dave@dd.example",
        "eve@ee.example",
    ]);
    let sorted = list(&[
        "a1@x.example",
        "a2@x.example",
        "a3@x.example",
        "a4@x.example",
        "a5@x.example",
        "a6@x.example",
        "a7@x.example",
    ]);
    let unsorted = list(&[
        "a2@x.example",
        "a1@x.example",
        "a3@x.example",
        "a4@x.example",
        "a5@x.example",
        "a6@x.example",
        "a7@x.example",
    ]);
    let few = list(&["ann@aa.example", "anton@ab.example"]);

    assert_eq!(
        run(&similar, "similar_recipients", &["0.65", "undef"]),
        Some(true)
    );
    assert_eq!(
        run(&varied, "similar_recipients", &["0.65", "undef"]),
        Some(false)
    );
    assert_eq!(
        run(&varied, "similar_recipients", &["undef", "0.1"]),
        Some(true)
    );
    assert_eq!(
        run(&few, "similar_recipients", &["0.65", "undef"]),
        Some(false)
    );
    assert_eq!(run(&sorted, "sorted_recipients", &[]), Some(true));
    assert_eq!(run(&unsorted, "sorted_recipients", &[]), Some(false));
    assert_eq!(run(&few, "sorted_recipients", &[]), Some(false));
}

/// Asserts `function()` on each `(case, message, expected)` row.
fn assert_rows(function: &str, rows: &[(&str, String, bool)]) {
    for (case, message, expected) in rows {
        assert_eq!(run(message, function, &[]), Some(*expected), "{case}");
    }
}

/// Builds a sendmail Received field: `helo` connected from `rdns [ip]` to
/// `by`.
fn sendmail_received(helo: &str, rdns: &str, ip: &str, by: &str) -> String {
    format!(
        "Received: from {helo} ({rdns} [{ip}])\n\tby {by} (8.11.6/8.11.6) with ESMTP id g7MCrdZ07070\n\tfor <jm@example.org>; Thu, 22 Aug 2002 13:53:39 +0100\n"
    )
}

#[test]
fn forged_received_trail_table() {
    let honest = [
        sendmail_received(
            "relay",
            "mail.relay.example.net",
            "192.0.2.20",
            "mx.example.org",
        ),
        sendmail_received(
            "out",
            "out.sender.example.com",
            "198.51.100.5",
            "mail.relay.example.net",
        ),
        sendmail_received(
            "pc",
            "pc.sender.example.com",
            "203.0.113.8",
            "out.sender.example.com",
        ),
    ]
    .concat();
    let forged = [
        sendmail_received(
            "relay",
            "mail.relay.example.net",
            "192.0.2.20",
            "mx.example.org",
        ),
        sendmail_received(
            "out",
            "out.sender.example.com",
            "198.51.100.5",
            "smtp.forged.example",
        ),
        sendmail_received(
            "pc",
            "pc.sender.example.com",
            "203.0.113.8",
            "mx.invented.example",
        ),
    ]
    .concat();
    let one_mismatch = [
        sendmail_received(
            "relay",
            "mail.relay.example.net",
            "192.0.2.20",
            "mx.example.org",
        ),
        sendmail_received(
            "out",
            "out.sender.example.com",
            "198.51.100.5",
            "smtp.forged.example",
        ),
    ]
    .concat();
    let localhost_client = [
        sendmail_received(
            "relay",
            "mail.relay.example.net",
            "192.0.2.20",
            "mx.example.org",
        ),
        sendmail_received(
            "localhost",
            "localhost.localdomain",
            "127.0.0.1",
            "b.other.example",
        ),
        sendmail_received(
            "pc",
            "pc.sender.example.com",
            "203.0.113.8",
            "d.fourth.example",
        ),
    ]
    .concat();
    let hotmail_to_msn = [
        sendmail_received("a", "x.hotmail.com", "192.0.2.1", "mx.example.org"),
        sendmail_received("b", "c.spam.example", "198.51.100.2", "smtp.msn.com"),
        sendmail_received("d", "e.other.example", "203.0.113.3", "f.nowhere.example"),
    ]
    .concat();
    let body = "From: a@example.com\n\nbody\n";
    let rows = [
        ("honest_trail", format!("{honest}{body}"), false),
        (
            "two_receivers_in_other_domains",
            format!("{forged}{body}"),
            true,
        ),
        (
            "one_mismatch_is_not_enough",
            format!("{one_mismatch}{body}"),
            false,
        ),
        (
            "localhost_client_not_compared",
            format!("{localhost_client}{body}"),
            false,
        ),
        (
            "msn_receiving_from_hotmail",
            format!("{hotmail_to_msn}{body}"),
            false,
        ),
        ("no_received", body.to_string(), false),
    ];
    assert_rows("check_for_forged_received_trail", &rows);
}

#[test]
fn forged_hotmail_received_table() {
    let hotmail_server = "Received: from hotmail.com (f135.law8.hotmail.com [216.33.241.135])\n\tby mx.example.org (8.11.6/8.11.6) with ESMTP id g7MCrdZ07070; Thu, 22 Aug 2002 13:53:39 +0100\n";
    let hotmail_helo_elsewhere = "Received: from hotmail.com (dsl-7.spam.example [198.51.100.9])\n\tby mx.example.org (8.11.6/8.11.6) with ESMTP id g7MCrdZ07070; Thu, 22 Aug 2002 13:53:39 +0100\n";
    let other_server = "Received: from mail.spam.example (mail.spam.example [198.51.100.9])\n\tby mx.example.org (8.11.6/8.11.6) with ESMTP id g7MCrdZ07070; Thu, 22 Aug 2002 13:53:39 +0100\n";
    let outlook = "Received: from EUR01-VE1-obe.outbound.protection.outlook.com (mail-oln040092066056.outbound.protection.outlook.com [40.92.66.56])\n\tby mx.example.org (Postfix) with ESMTPS id 4A1B2; Thu, 22 Aug 2019 13:53:39 +0100\n";
    let origin_ip = "X-Originating-IP: [192.0.2.44]\n";
    let origin_org = "X-OriginatorOrg: hotmail.com\n";
    let hotmail_from = "From: Jane <jane@hotmail.com>\n\nbody\n";
    let other_from = "From: Jane <jane@example.com>\n\nbody\n";
    // (case, message, forged, missing)
    let cases = [
        (
            "hotmail_server_with_origin_ip",
            format!("{hotmail_server}{origin_ip}{hotmail_from}"),
            false,
            false,
        ),
        (
            "hotmail_server_without_origin_ip",
            format!("{hotmail_server}{hotmail_from}"),
            true,
            false,
        ),
        (
            "hotmail_helo_from_other_host",
            format!("{hotmail_helo_elsewhere}{origin_ip}{other_from}"),
            true,
            false,
        ),
        (
            "forged_hotmail_received_without_hotmail_relay",
            format!("{other_server}{hotmail_from}"),
            false,
            true,
        ),
        (
            "other_address_other_relay",
            format!("{other_server}{other_from}"),
            false,
            false,
        ),
        (
            "outlook_server_with_originator_org",
            format!("{outlook}{origin_org}{hotmail_from}"),
            false,
            false,
        ),
        (
            "outlook_server_without_originator_org",
            format!("{outlook}{hotmail_from}"),
            false,
            true,
        ),
        ("no_received", hotmail_from.to_string(), false, false),
    ];
    for (case, message, forged, missing) in cases {
        assert_eq!(
            run(&message, "check_for_forged_hotmail_received_headers", &[]),
            Some(forged),
            "{case}"
        );
        assert_eq!(
            run(&message, "check_for_no_hotmail_received_headers", &[]),
            Some(missing),
            "{case}"
        );
    }
}

#[test]
fn msn_group_mail_is_not_forged_hotmail() {
    let group = "Return-Path: <MyList-bounce@groups.msn.com>\n\
Received: from p04.groups.msn.com ([65.54.195.216]) by mx.example.org (8.11.6/8.11.6) with ESMTP id g1; Thu, 5 May 2005 20:30:40 -0700\n\
Received: from mail pickup service by p04.groups.msn.com with Microsoft SMTPSVC;\n\t Thu, 5 May 2005 20:30:37 -0700\n\
Message-Id: <MyList-101@groups.msn.com>\n\
To: \"My List\" <MyList@groups.msn.com>\n\
From: \"whoever\" <someone@hotmail.com>\n\nbody\n";
    let other_message_id = group.replace("<MyList-101@", "<Other-101@");
    let other_envelope = group.replace("<MyList-bounce@", "<Other-bounce@");
    let rows = [
        ("group_message", group.to_string(), false),
        ("message_id_of_another_list", other_message_id, true),
        ("envelope_of_another_list", other_envelope, true),
    ];
    assert_rows("check_for_no_hotmail_received_headers", &rows);
}

#[test]
fn forged_eudoramail_received_table() {
    let whowhere = "Received: from Unknown/Local ([?.?.?.?]) by shared1-mail.whowhere.com;\n\tThu Nov 29 13:44:25 2001\n";
    let other = "Received: from mail.spam.example (mail.spam.example [198.51.100.9]) by mx.example.org (8.11.6/8.11.6) with ESMTP id g1; Thu, 22 Aug 2002 13:53:39 +0100\n";
    let sender_ip = "X-Sender-Ip: 192.175.21.146\n";
    let eudora_from = "From: pat@eudoramail.com\n\nbody\n";
    let rows = [
        (
            "whowhere_with_sender_ip",
            format!("{whowhere}{sender_ip}{eudora_from}"),
            false,
        ),
        (
            "whowhere_without_sender_ip",
            format!("{whowhere}{eudora_from}"),
            true,
        ),
        (
            "sender_ip_other_relay",
            format!("{other}{sender_ip}{eudora_from}"),
            true,
        ),
        (
            "other_address",
            format!("{other}From: pat@example.com\n\nbody\n"),
            false,
        ),
        ("no_received", eudora_from.to_string(), false),
    ];
    assert_rows("check_for_forged_eudoramail_received_headers", &rows);
}

#[test]
fn forged_juno_received_table() {
    let juno = "Received: from m06.lax.untd.com (m06.lax.untd.com [64.136.30.69]) by mx.example.org (8.11.6/8.11.6) with ESMTP id g1; Thu, 22 Aug 2002 13:53:39 +0100\n";
    let webmail = "Received: from webmail13.nyc.untd.com (webmail13.nyc.untd.com [64.136.22.78]) by mx.example.org (8.11.6/8.11.6) with ESMTP id g1; Thu, 22 Aug 2002 13:53:39 +0100\n";
    let other = "Received: from mail.spam.example (mail.spam.example [198.51.100.9]) by mx.example.org (8.11.6/8.11.6) with ESMTP id g1; Thu, 22 Aug 2002 13:53:39 +0100\n";
    let origin = "X-Originating-IP: 192.0.2.44\n";
    let from = "From: lee@juno.com\n\nbody\n";
    let rows = [
        (
            "juno_relay_and_mailer",
            format!("{juno}{origin}X-Mailer: Juno 5.0.33\n{from}"),
            false,
        ),
        (
            "juno_relay_other_mailer",
            format!("{juno}{origin}X-Mailer: Outlook\n{from}"),
            true,
        ),
        (
            "other_relay_juno_mailer",
            format!("{other}{origin}X-Mailer: Juno 5.0.33\n{from}"),
            true,
        ),
        // Without X-Originating-IP the Perl always ends with a hit.
        (
            "webmail_without_origin_ip",
            format!("{webmail}X-Mailer: Webmail Version 4.0\n{from}"),
            true,
        ),
        (
            "other_address",
            format!("{other}From: lee@example.com\n\nbody\n"),
            false,
        ),
    ];
    assert_rows("check_for_forged_juno_received_headers", &rows);
}

#[test]
fn forged_gmail_received_table() {
    let from = "From: kim@gmail.com\n\nbody\n";
    let relay = "Received: from mail.spam.example (mail.spam.example [198.51.100.9]) by mx.example.org (8.11.6/8.11.6) with ESMTP id g1; Thu, 22 Aug 2002 13:53:39 +0100\n";
    let x_received = "X-Received: by 10.28.47.20 with SMTP id v20mr1234wmv.15.1550000000000;\n Tue, 12 Feb 2019 10:00:00 -0800 (PST)\n";
    let x_received_v6 = "X-Received: by 2002:a17:902:8b88:: with SMTP id ay8mr123.4.1550000000000;\n Tue, 12 Feb 2019 10:00:00 -0800 (PST)\n";
    let submission = "Received: from laptop ([192.0.2.8]) by smtp.googlemail.com with ESMTPSA id s3sm123abc.4.2019.02.12.10.00.00\n";
    // SpamAssassin counts the newline after each value, so 59 characters
    // reach the minimum of 60 and 58 fall short.
    let state = |len: usize| format!("X-Gm-Message-State: {}\n", "A".repeat(len));
    let source = |len: usize| format!("X-Google-Smtp-Source: {}\n", "B".repeat(len));
    let rows = [
        (
            "x_received_ipv4",
            format!("{relay}{x_received}{from}"),
            false,
        ),
        (
            "x_received_ipv6",
            format!("{relay}{x_received_v6}{from}"),
            false,
        ),
        (
            "googlemail_submission",
            format!("{submission}{from}"),
            false,
        ),
        (
            "long_google_fields",
            format!("{relay}{}{}{from}", state(59), source(59)),
            false,
        ),
        (
            "short_google_fields",
            format!("{relay}{}{}{from}", state(58), source(59)),
            true,
        ),
        ("no_gmail_fields", format!("{relay}{from}"), true),
        (
            "other_address",
            format!("{relay}From: kim@example.com\n\nbody\n"),
            false,
        ),
    ];
    assert_rows("check_for_forged_gmail_received_headers", &rows);
}

#[test]
fn fake_aol_relay_table() {
    let rows = [
        (
            "aol_relay_name_via_qmqp",
            "Received: from unknown (HELO mta05bw.example.com) (80.71.176.130) by\n\trly-xw01.mx.aol.com with QMQP; Sat, 15 Jun 2002 23:37:16 -0000\n\nbody\n".to_string(),
            true,
        ),
        (
            "aol_relay_id",
            "Received: from rly-xj02.mx.aol.com (rly-xj02.mail.aol.com [172.20.116.39]) by\n\tomr-r05.mx.aol.com (v83.35) with ESMTP id RELAYIN7-0501132011; Wed, 01 May 2002 13:20:11 -0400\n\nbody\n".to_string(),
            false,
        ),
        (
            "aol_sendmail_version",
            "Received: from logs-tr.proxy.aol.com (logs-tr.proxy.aol.com [152.163.201.132])\n\tby rly-ip01.mx.aol.com (8.8.8/8.8.8/AOL-5.0.0)\n\twith ESMTP id NAA08955; Thu, 4 Apr 2002 13:11:20 -0500 (EST)\n\nbody\n".to_string(),
            false,
        ),
        ("no_aol_relay_name", format!("{}\nbody\n", sendmail_received("a", "a.example.net", "192.0.2.1", "mx.example.org")), false),
    ];
    assert_rows("check_for_fake_aol_relay_in_rcvd", &rows);
}

#[test]
fn gated_through_received_remover_table() {
    let ezmlm = "Received: (qmail 12345 invoked from network); 22 Aug 2002 12:59:26 -0000\n\
Mailing-List: contact list-help@example.org; run by ezmlm\n\
Delivered-To: mailing list list@example.org\n\nbody\n";
    let ezmlm_without_delivered_to =
        ezmlm.replace("Delivered-To: mailing list list@example.org\n", "");
    let msn = "Received: from groups.msn.com (tk2dcpuba02.msn.com [65.54.195.210]) by mx.example.org (8.11.6/8.11.6) with ESMTP id g1; Fri, 2 Aug 2002 21:03:05 +0100\n\nbody\n";
    let rows = [
        ("ezmlm_list", ezmlm.to_string(), true),
        (
            "ezmlm_without_delivered_to",
            ezmlm_without_delivered_to,
            false,
        ),
        ("msn_groups", msn.to_string(), true),
        (
            "no_received",
            "From: a@example.com\n\nbody\n".to_string(),
            true,
        ),
        (
            "plain_relay",
            format!(
                "{}\nbody\n",
                sendmail_received("a", "a.example.net", "192.0.2.1", "mx.example.org")
            ),
            false,
        ),
    ];
    assert_rows("gated_through_received_hdr_remover", &rows);
}

#[test]
fn ratware_name_id_table() {
    let id = "Message-ID: <ABCDEFGHIJKLMNOPQRSTUVWXYZAB.mail.example.com>\n";
    let short_id = "Message-ID: <ABCDEFGHIJKLMNOPQRSTUVWXYZA.mail.example.com>\n";
    let rows = [
        (
            "quoted_name_and_id_domain",
            format!("{id}From: \"Jane Doe\" <mail.example.com>\n\nbody\n"),
            true,
        ),
        (
            "quoted_name_without_space",
            format!("{id}From: \"Jane\"<mail.example.com>\n\nbody\n"),
            true,
        ),
        (
            "unquoted_name",
            format!("{id}From: Jane <mail.example.com>\n\nbody\n"),
            false,
        ),
        (
            "empty_quoted_name",
            format!("{id}From: \"\" <mail.example.com>\n\nbody\n"),
            false,
        ),
        (
            "other_address",
            format!("{id}From: \"Jane\" <jane@example.com>\n\nbody\n"),
            false,
        ),
        (
            "27_capitals",
            format!("{short_id}From: \"Jane\" <mail.example.com>\n\nbody\n"),
            false,
        ),
    ];
    assert_rows("check_ratware_name_id", &rows);
}

#[test]
fn unresolved_template_table() {
    let rows = [
        (
            "placeholder_in_x_mailer",
            "X-Mailer: %MAILER_NAME\n\nbody\n".to_string(),
            true,
        ),
        (
            "placeholder_in_reply_to",
            "Reply-To: %FROM_EMAIL\n\nbody\n".to_string(),
            true,
        ),
        (
            "subject_is_exempt",
            "Subject: 100%FREE offer\n\nbody\n".to_string(),
            false,
        ),
        (
            "x_message_id_is_exempt",
            "X-Message-Id: <%RND_ID@example.com>\n\nbody\n".to_string(),
            false,
        ),
        (
            "lower_case_after_percent",
            "X-Offer: 50%off\n\nbody\n".to_string(),
            false,
        ),
        (
            "one_capital_only",
            "X-Offer: 50%O\n\nbody\n".to_string(),
            false,
        ),
    ];
    assert_rows("check_unresolved_template", &rows);
}

const MIME_HEADER: &str =
    "From: Alice <alice@example.com>\nTo: bob@example.org\nSubject: offer\nMIME-Version: 1.0\n";

/// `MIME_HEADER` with a multipart/mixed Content-Type, then `body`.
fn mixed_message(body: &str) -> String {
    format!("{MIME_HEADER}Content-Type: multipart/mixed; boundary=\"=_next\"\n\n{body}")
}

/// `MIME_HEADER` with an HTML Content-Type, then `html`.
fn html_message(subject: &str, html: &str) -> String {
    format!("From: a@example.com\nSubject: {subject}\nContent-Type: text/html\n\n{html}\n")
}

#[test]
fn parse_flag_evals() {
    let epilogue = mixed_message(
        "--=_next\nContent-Type: text/plain\n\nhello\n--=_next--\ntext after the end\n",
    );
    let no_part_header = mixed_message("--=_next\n\nhello\n--=_next--\n");
    let no_separator = format!("{MIME_HEADER}Content-Type: multipart/mixed; boundary=\"=_next\"\n--=_next\nContent-Type: text/plain\n\nhi\n--=_next--\n");
    let part_no_blank = mixed_message("--=_next\nContent-Type: text/plain\nhello\n--=_next--\n");
    let long_value = format!("{MIME_HEADER}X-Long: {}\n\nbody\n", "y".repeat(9000));
    let cases: Vec<(&str, String, &str, Option<bool>)> = vec![
        (
            "epilogue",
            epilogue.clone(),
            "mime_epilogue_exists",
            Some(true),
        ),
        (
            "epilogue, other flag",
            epilogue,
            "missing_mime_headers",
            Some(false),
        ),
        (
            "part without header",
            no_part_header,
            "missing_mime_headers",
            Some(true),
        ),
        (
            "header into boundary",
            no_separator,
            "missing_head_body_separator",
            Some(true),
        ),
        (
            "part body without blank",
            part_no_blank,
            "missing_mime_head_body_separator",
            Some(true),
        ),
        (
            "value over 8192 bytes",
            long_value,
            "truncated_header",
            Some(true),
        ),
        (
            "plain message",
            PLAIN.to_string(),
            "truncated_header",
            Some(false),
        ),
        (
            "unknown flag",
            PLAIN.to_string(),
            "mimepart_limit_exceeded",
            None,
        ),
    ];
    for (name, message, flag, expected) in cases {
        assert_eq!(
            run(&message, "check_msg_parse_flags", &[flag]),
            expected,
            "{name}"
        );
    }
}

#[test]
fn base64_length_evals() {
    let line = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0";
    let attachment = |line: &str| {
        mixed_message(&format!("--=_next\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n{line}\n{line}\n--=_next--\n"))
    };
    let usual = attachment(line);
    let line_78 = attachment(&format!("{line}NT"));
    let line_80 = attachment(&format!("{line}NTY3"));
    let cases: Vec<(&str, &str, &[&str], bool)> = vec![
        ("usual 77 under 78", &usual, &["78", "79"], false),
        (
            "base64 line of 79 in 78 to 79",
            &line_78,
            &["78", "79"],
            true,
        ),
        ("base64 line of 79 over 79", &line_78, &["79"], true),
        (
            "base64 line longer than limit",
            &line_80,
            &["78", "79"],
            false,
        ),
        ("base64 line of 81 over 79", &line_80, &["79"], true),
        ("no base64", PLAIN, &["79"], false),
    ];
    for (name, message, args, expected) in cases {
        assert_eq!(
            run(message, "check_base64_length", args),
            Some(expected),
            "{name}"
        );
    }
}

#[test]
fn html_link_evals() {
    let iframe = html_message(
        "hi",
        "<html><body><iframe src=\"http://ads.example.net/x\"></iframe></body></html>",
    );
    let empty_iframe = html_message(
        "hi",
        "<html><body><iframe src=\" \"></iframe>text</body></html>",
    );
    let ip_mismatch = html_message(
        "bank",
        "<a href=\"http://192.0.2.7/login\">https://www.bank.example.com/login</a>",
    );
    let ip_with_user = html_message(
        "bank",
        "<a href=\"http://www.bank.example.com@192.0.2.7/\">https://www.bank.example.com/</a>",
    );
    let ip_text_is_ip = html_message(
        "bank",
        "<a href=\"http://192.0.2.7/\">https://192.0.2.7/</a>",
    );
    let name_href = html_message(
        "bank",
        "<a href=\"http://www.bank.example.com/\">https://www.bank.example.com/</a>",
    );
    let long_href = html_message(
        "hi",
        &format!("<a href=\"http://example.com/{}\">x</a>", "a".repeat(9000)),
    );
    let cases: Vec<(&str, &str, &str, Option<bool>)> = vec![
        ("iframe with src", &iframe, "check_iframe_src", Some(true)),
        (
            "iframe with blank src",
            &empty_iframe,
            "check_iframe_src",
            Some(false),
        ),
        (
            "ip link with https text",
            &ip_mismatch,
            "check_https_ip_mismatch",
            Some(true),
        ),
        (
            "ip link after user part",
            &ip_with_user,
            "check_https_ip_mismatch",
            Some(true),
        ),
        (
            "ip link with ip text",
            &ip_text_is_ip,
            "check_https_ip_mismatch",
            Some(false),
        ),
        (
            "name link with https text",
            &name_href,
            "check_https_ip_mismatch",
            Some(false),
        ),
        (
            "href over 8192 bytes",
            &long_href,
            "check_uri_truncated",
            Some(true),
        ),
        ("short href", &name_href, "check_uri_truncated", Some(false)),
    ];
    for (name, message, function, expected) in cases {
        assert_eq!(run(message, function, &[]), expected, "{name}");
    }
}

#[test]
fn title_subject_ratio_evals() {
    let title = "Cheap watches and more cheap watches for you";
    let long_title = html_message(
        "hi",
        &format!("<html><head><title>{title}</title></head><body>x</body></html>"),
    );
    let same_length = html_message(
        title,
        &format!("<html><head><title>{title}</title></head><body>x</body></html>"),
    );
    let no_subject = format!("From: a@example.com\nContent-Type: text/html\n\n<html><head><title>{title}</title></head></html>\n");
    let zero_title = html_message(
        "hi",
        "<html><head><title>0</title></head><body>x</body></html>",
    );
    let cases: Vec<(&str, &str, bool)> = vec![
        ("title 15 times the subject", &long_title, true),
        ("title as long as subject", &same_length, false),
        ("no subject", &no_subject, false),
        ("title of 0", &zero_title, false),
    ];
    for (name, message, expected) in cases {
        assert_eq!(
            run(message, "html_title_subject_ratio", &["3.5"]),
            Some(expected),
            "{name}"
        );
    }
}

#[test]
fn stock_info_evals() {
    let report = "From: a@example.com\nSubject: hot pick\n\nThis company is about to explode!\n\nCompany Name: Acme Mining Corp\nSymbol: ACMM\nCurrent Price: $0.12\n  Target: $1.50\nRecommendation : Strong Buy\n";
    let one_field = "From: a@example.com\nSubject: hi\n\nSymbol: ACMM\nsee you\n";
    let long_name = format!(
        "From: a@example.com\nSubject: hi\n\n{} symbol: x\nticker: y\n",
        "z".repeat(40)
    );
    let html_only = "From: a@example.com\nContent-Type: text/html\n\n<p>Symbol: ACMM<br>Ticker: ACMM<br>Sector: mining</p>\n";
    let in_alternative = "From: a@example.com\nContent-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain\n\nSymbol: ACMM\nSector: mining\n--b\nContent-Type: text/html\n\n<p>x</p>\n--b--\n";
    let cases: Vec<(&str, &str, &str, bool)> = vec![
        ("five stock fields", report, "2", true),
        ("one stock field", one_field, "2", false),
        ("min of 0", one_field, "0", true),
        ("name over 30 bytes", &long_name, "2", false),
        ("html part is not read", html_only, "1", false),
        ("text part of alternative", in_alternative, "2", true),
    ];
    for (name, message, min, expected) in cases {
        assert_eq!(
            run(message, "check_stock_info", &[min]),
            Some(expected),
            "{name}"
        );
    }
}
