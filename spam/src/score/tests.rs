//! Scorer tests: header semantics, tflags, meta rules, score sets, Bayes
//! bands, header formatting, and a corpus smoke test.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::rules::{load, LoadOptions, MemorySource, MetaExpr};

fn scorer_from(text: &str) -> Scorer {
    let source = MemorySource::new([("/t.cf", text)]);
    let model = load(&source, &[PathBuf::from("/t.cf")], LoadOptions::default()).unwrap();
    assert!(model.warnings.is_empty(), "{:?}", model.warnings);
    let (compiled, _) = CompiledRules::compile(&model);
    Scorer::new(Arc::new(model), Arc::new(compiled))
}

fn no_evals(_: &str, _: &[String], _: &Prepared<'_>) -> Option<bool> {
    None
}

fn verdict(scorer: &Scorer, message: &str) -> Verdict {
    scorer.score(&scorer.prepare(message.as_bytes()), &no_evals, None)
}

fn names(verdict: &Verdict) -> Vec<&str> {
    verdict.rule_names()
}

fn close(left: f64, right: f64) -> bool {
    (left - right).abs() < 1e-9
}

const PLAIN: &str = "From: Jane <jane@example.com>\nTo: bob@example.org\nSubject: lunch\n\nhello there\nsee you soon\n";

#[test]
fn redirector_pattern_target_reaches_uri_rules() {
    let rules = "uri TARGET /^http:\\/\\/www\\.spam-target\\.example\\/offer/\nscore TARGET 1\n\
                 uri FALLBACK /^http:\\/\\/fallback\\.example\\//\nscore FALLBACK 1\n";
    let redirector = "redirector_pattern m'^https?://r\\.example/go/([^?]*)'i\n";
    let message = "From: a@example.com\nTo: b@example.org\nSubject: hi\n\n\
                   see http://R.example/go/www.spam-target.example/offer now\n\
                   and http://r.example/go/nodot?u=http://fallback.example/x\n";

    let with = scorer_from(&format!("{redirector}{rules}"));
    let verdict_with = verdict(&with, message);
    let hit = names(&verdict_with);
    assert!(hit.contains(&"TARGET"), "{hit:?}");
    // The pattern's group has no dot there, so the built-in fallback
    // finds the http URI in the query instead.
    assert!(hit.contains(&"FALLBACK"), "{hit:?}");

    let without = scorer_from(rules);
    let verdict_without = verdict(&without, message);
    let hit = names(&verdict_without);
    assert!(!hit.contains(&"TARGET"), "{hit:?}");
    assert!(hit.contains(&"FALLBACK"), "{hit:?}");
}

#[test]
fn text_uris_follow_the_known_top_level_domains() {
    let rules = "uri BARE_DOMAIN /^http:\\/\\/shop\\.example\\.com\\/offer/\nscore BARE_DOMAIN 1\n\
                 uri NO_TLD_HOST /yourserver/\nscore NO_TLD_HOST 1\n\
                 uri IP_HOST /^http:\\/\\/192\\.0\\.2\\.7/\nscore IP_HOST 1\n";
    let message = "From: a@example.com\nTo: b@example.org\nSubject: hi\n\n\
                   buy at shop.example.com/offer today\n\
                   admin page http://yourserver:2301/ and http://192.0.2.7/x\n\
                   server relay.example.com:2703, not a URI\n";

    let with = scorer_from(&format!("util_rb_tld com org\n{rules}"));
    let verdict_with = verdict(&with, message);
    let hit = names(&verdict_with);
    assert!(hit.contains(&"BARE_DOMAIN"), "{hit:?}");
    assert!(!hit.contains(&"NO_TLD_HOST"), "{hit:?}");
    assert!(hit.contains(&"IP_HOST"), "{hit:?}");
    let uris = with.prepare(message.as_bytes()).uris().to_vec();
    assert!(!uris.iter().any(|uri| uri.contains("relay")), "{uris:?}");

    // Without a top-level domain list, text URIs are not checked and bare
    // domains are not URIs.
    let without = scorer_from(rules);
    let verdict_without = verdict(&without, message);
    let hit = names(&verdict_without);
    assert!(!hit.contains(&"BARE_DOMAIN"), "{hit:?}");
    assert!(hit.contains(&"NO_TLD_HOST"), "{hit:?}");
    assert!(hit.contains(&"IP_HOST"), "{hit:?}");
}

#[test]
fn captured_tag_reaches_template_rules() {
    let scorer = scorer_from(
        "header __TO_ADDR To:addr =~ /(?<TO_ADDR>.*)/\n\
         uri TO_IN_URI m;^https?://.{4,64}[?&]email=%{TO_ADDR};i\nscore TO_IN_URI 1\n\
         header TO_NOT_IN_SUBJECT Subject !~ /%{TO_ADDR}/\nscore TO_NOT_IN_SUBJECT 1\n\
         body NEEDS_UNSET_TAG /%{NEVER_SET}/\nscore NEEDS_UNSET_TAG 1\n\
         body LITERAL_TEMPLATE /\\%{TO_ADDR}/\nscore LITERAL_TEMPLATE 1\n",
    );
    let message = "From: a@example.com\nTo: Bob <Bob.Smith@example.org>\nSubject: for bob\n\n\
                   login at http://login.example/x?email=bob.smith@EXAMPLE.org&y=1\n\
                   the text %{TO_ADDR} stays literal\n";
    let verdict_hit = verdict(&scorer, message);
    let hit = names(&verdict_hit);
    assert!(hit.contains(&"TO_IN_URI"), "{hit:?}");
    assert!(hit.contains(&"TO_NOT_IN_SUBJECT"), "{hit:?}");
    assert!(!hit.contains(&"NEEDS_UNSET_TAG"), "{hit:?}");
    assert!(hit.contains(&"LITERAL_TEMPLATE"), "{hit:?}");

    // Another recipient: the URI no longer carries the address.
    let other = message.replace("Bob.Smith@example.org", "carol@example.org");
    let verdict_other = verdict(&scorer, &other);
    let hit = names(&verdict_other);
    assert!(!hit.contains(&"TO_IN_URI"), "{hit:?}");

    // The address in the Subject: the `!~` rule misses.
    let in_subject = message.replace("Subject: for bob", "Subject: for Bob.Smith@example.org");
    let verdict_subject = verdict(&scorer, &in_subject);
    let hit = names(&verdict_subject);
    assert!(!hit.contains(&"TO_NOT_IN_SUBJECT"), "{hit:?}");

    // No To field: the tag is unset, so neither template rule runs.
    let no_to = message.replace("To: Bob <Bob.Smith@example.org>\n", "");
    let verdict_no_to = verdict(&scorer, &no_to);
    let hit = names(&verdict_no_to);
    assert!(!hit.contains(&"TO_IN_URI"), "{hit:?}");
    assert!(!hit.contains(&"TO_NOT_IN_SUBJECT"), "{hit:?}");
}

#[test]
fn header_rules_table() {
    let scorer = scorer_from(
        "header FROM_JANE From =~ /jane/i\nscore FROM_JANE 1\n\
         header FROM_ADDR From:addr =~ /^jane\\@example\\.com$/\nscore FROM_ADDR 1\n\
         header FROM_NAME From:name =~ /^Jane$/\nscore FROM_NAME 1\n\
         header NOT_BOB To !~ /bob/\nscore NOT_BOB 1\n\
         header NO_CC_MATCH Cc !~ /anything/\nscore NO_CC_MATCH 1\n\
         header CC_EMPTY Cc =~ /^$/\nscore CC_EMPTY 1\n\
         header CC_UNSET Cc =~ /^unset$/ [if-unset: unset]\nscore CC_UNSET 1\n\
         header HAS_SUBJECT exists:Subject\nscore HAS_SUBJECT 1\n\
         header HAS_CC exists:Cc\nscore HAS_CC 1\n",
    );
    let verdict = verdict(&scorer, PLAIN);
    let hit = names(&verdict);
    let expected = [
        ("FROM_JANE", true),
        ("FROM_ADDR", true),
        ("FROM_NAME", true),
        ("NOT_BOB", false),
        // A missing field reads as the empty string, so `!~` hits.
        ("NO_CC_MATCH", true),
        ("CC_EMPTY", true),
        ("CC_UNSET", true),
        ("HAS_SUBJECT", true),
        ("HAS_CC", false),
    ];
    for (name, should_hit) in expected {
        assert_eq!(hit.contains(&name), should_hit, "{name} in {hit:?}");
    }
}

#[test]
fn if_unset_applies_only_to_its_rule() {
    // Both rules read the same target, but when Cc is missing only the one
    // with `if-unset` matches against its text.
    let scorer = scorer_from(
        "header CC_DEFAULT Cc =~ /nobody/ [if-unset: nobody]\nscore CC_DEFAULT 1\n\
         header CC_PLAIN Cc =~ /nobody/\nscore CC_PLAIN 1\n",
    );
    let verdict = verdict(&scorer, PLAIN);
    assert_eq!(names(&verdict), vec!["CC_DEFAULT"]);

    let with_cc = PLAIN.replace("Subject:", "Cc: somebody@example.net\nSubject:");
    assert!(super::tests::verdict(&scorer, &with_cc).hits.is_empty());
}

#[test]
fn multiple_counts_every_line_up_to_maxhits() {
    let scorer = scorer_from(
        "body __WORD /\\bspam\\b/\ntflags __WORD multiple\n\
         body __CAPPED /\\bspam\\b/\ntflags __CAPPED multiple maxhits=2\n\
         body ONCE /\\bspam\\b/\nscore ONCE 1.5\n\
         meta THREE_WORDS __WORD >= 3\nscore THREE_WORDS 2\n\
         meta CAPPED_TWO __CAPPED == 2\nscore CAPPED_TWO 1\n",
    );
    let message = "Subject: spam\n\nspam spam\n\nmore spam here\n";
    let verdict = verdict(&scorer, message);
    assert_eq!(names(&verdict), vec!["CAPPED_TWO", "ONCE", "THREE_WORDS"]);
    let once = verdict.hits.iter().find(|hit| hit.name == "ONCE").unwrap();
    assert_eq!(once.hits, 1);
    assert!(close(verdict.score, 4.5), "{}", verdict.score);
}

#[test]
fn nosubject_body_rule_skips_the_subject() {
    let scorer = scorer_from(
        "body __NONEMPTY /\\S/\ntflags __NONEMPTY nosubject\n         meta EMPTY !__NONEMPTY\nscore EMPTY 2\n         body FREE /free/\nscore FREE 1\n         body FREE_IN_BODY /free/\ntflags FREE_IN_BODY nosubject\nscore FREE_IN_BODY 0.5\n",
    );
    // The Subject alone is not a body for `nosubject` rules.
    let empty = verdict(&scorer, "Subject: free stuff\n\n \n");
    assert_eq!(names(&empty), vec!["EMPTY", "FREE"]);
    let full = verdict(&scorer, "Subject: hello\n\nfree stuff\n");
    assert_eq!(names(&full), vec!["FREE", "FREE_IN_BODY"]);
}

#[test]
fn multiple_rule_adds_its_score_once() {
    let scorer = scorer_from("body WORDS /word/\ntflags WORDS multiple\nscore WORDS 1.2\n");
    let verdict = verdict(&scorer, "Subject: x\n\nword word word\n");
    assert_eq!(verdict.hits.len(), 1);
    assert_eq!(verdict.hits[0].hits, 3);
    assert!(close(verdict.score, 1.2));
}

#[test]
fn meta_rules_table() {
    let scorer = scorer_from(
        "body __A /alpha/\nbody __B /beta/\nbody __C /gamma/\n\
         meta BOTH __A && __B\nscore BOTH 1\n\
         meta EITHER __A || __C\nscore EITHER 1\n\
         meta NOT_C !__C\nscore NOT_C 1\n\
         meta SUM (__A + __B + __C) >= 2\nscore SUM 1\n\
         meta UNDEFINED_REF __NOT_DEFINED_ANYWHERE || __C\nscore UNDEFINED_REF 1\n\
         meta CHAINED BOTH && SUM\nscore CHAINED 1\n\
         meta CHAIN_FIRST CHAIN_LATER\nscore CHAIN_FIRST 1\n\
         meta CHAIN_LATER __A\nscore CHAIN_LATER 1\n",
    );
    let verdict = verdict(&scorer, "Subject: alpha\n\nbeta\n");
    let hit = names(&verdict);
    let expected = [
        ("BOTH", true),
        ("EITHER", true),
        ("NOT_C", true),
        ("SUM", true),
        ("UNDEFINED_REF", false),
        ("CHAINED", true),
        // Defined before the meta it reads, and still evaluated after it.
        ("CHAIN_FIRST", true),
        ("CHAIN_LATER", true),
    ];
    for (name, should_hit) in expected {
        assert_eq!(hit.contains(&name), should_hit, "{name} in {hit:?}");
    }
}

#[test]
fn meta_cycle_never_hits() {
    let scorer = scorer_from(
        "body __A /alpha/\nmeta LOOP_ONE LOOP_TWO || __A\nscore LOOP_ONE 1\n\
         meta LOOP_TWO LOOP_ONE || __A\nscore LOOP_TWO 1\n\
         meta AFTER_LOOP LOOP_ONE\nscore AFTER_LOOP 1\nmeta FINE __A\nscore FINE 1\n",
    );
    let verdict = verdict(&scorer, "Subject: alpha\n\n\n");
    assert_eq!(names(&verdict), vec!["FINE"]);
}

#[test]
fn zero_score_rule_does_not_run_for_metas() {
    let scorer = scorer_from(
        "body OFF /alpha/\nscore OFF 0\nmeta READS_OFF OFF\nscore READS_OFF 1\n\
         body __SUB /alpha/\nmeta READS_SUB __SUB\nscore READS_SUB 1\n",
    );
    let verdict = verdict(&scorer, "Subject: alpha\n\n\n");
    assert_eq!(names(&verdict), vec!["READS_SUB"]);
}

#[test]
fn sub_rules_and_zero_scores_are_not_listed() {
    let scorer = scorer_from("body __HIDDEN /alpha/\nbody SHOWN /alpha/\nscore SHOWN 0.5\n");
    let verdict = verdict(&scorer, "Subject: alpha\n\n\n");
    assert_eq!(names(&verdict), vec!["SHOWN"]);
    assert!(close(verdict.score, 0.5));
}

#[test]
fn score_set_follows_bayes() {
    let scorer = scorer_from(
        "body WORD /alpha/\nscore WORD 1.0 1.5 2.0 2.5\n\
         body BAYES_99 eval:check_bayes('0.99', '0.999')\nscore BAYES_99 0 0 3.5 3.5\n\
         body BAYES_00 eval:check_bayes('0', '0.01')\nscore BAYES_00 0 0 -1.9 -1.9\n",
    );
    let prepared = Prepared::new(b"Subject: alpha\n\n\n");

    let plain = scorer.score(&prepared, &no_evals, None);
    assert_eq!(plain.score_set, SCORE_SET_PLAIN);
    assert_eq!(names(&plain), vec!["WORD"]);
    assert!(close(plain.score, 1.0));
    assert_eq!(plain.evals_unimplemented, 0, "zero-score evals do not run");

    let spammy = scorer.score(&prepared, &no_evals, Some(0.995));
    assert_eq!(spammy.score_set, SCORE_SET_BAYES);
    assert_eq!(names(&spammy), vec!["BAYES_99", "WORD"]);
    assert!(close(spammy.score, 5.5), "{}", spammy.score);
    assert!(spammy.is_spam);

    let hammy = scorer.score(&prepared, &no_evals, Some(0.0));
    assert_eq!(names(&hammy), vec!["BAYES_00", "WORD"]);
    assert!(close(hammy.score, 0.1), "{}", hammy.score);
}

#[test]
fn check_bayes_without_probability_is_a_miss() {
    let scorer = scorer_from("body BAYES_50 eval:check_bayes('0.4', '0.6')\nscore BAYES_50 0.8\n");
    let verdict = verdict(&scorer, "Subject: x\n\n\n");
    assert!(verdict.hits.is_empty());
    assert_eq!(verdict.evals_unimplemented, 0);
}

#[test]
fn bayes_band_rule_hits_without_check_bayes() {
    let scorer = scorer_from("meta BAYES_80 0\nscore BAYES_80 0 0 2 2\n");
    let prepared = Prepared::new(b"Subject: x\n\n\n");
    let verdict = scorer.score(&prepared, &no_evals, Some(0.9));
    assert_eq!(names(&verdict), vec!["BAYES_80"]);
}

#[test]
fn bayes_rule_bands() {
    let cases = [
        (0.0, "BAYES_00"),
        (0.009, "BAYES_00"),
        (0.01, "BAYES_05"),
        (0.049, "BAYES_05"),
        (0.05, "BAYES_20"),
        (0.2, "BAYES_40"),
        (0.4, "BAYES_50"),
        (0.5, "BAYES_50"),
        (0.6, "BAYES_60"),
        (0.8, "BAYES_80"),
        (0.95, "BAYES_95"),
        (0.99, "BAYES_99"),
        (0.998, "BAYES_99"),
        (0.999, "BAYES_999"),
        (1.0, "BAYES_999"),
        (-1.0, "BAYES_00"),
        (2.0, "BAYES_999"),
    ];
    for (probability, expected) in cases {
        assert_eq!(bayes_rule(probability), expected, "{probability}");
    }
}

#[test]
fn evals_use_injected_function() {
    let scorer = scorer_from(
        "header MISSING_TO eval:check_missing_to()\nscore MISSING_TO 1\n\
         body NOT_DONE eval:not_implemented_here('x')\nscore NOT_DONE 1\n\
         body ALWAYS_NO eval:always_no()\nscore ALWAYS_NO 1\n",
    );
    let evals = |function: &str, args: &[String], _: &Prepared<'_>| match function {
        "check_missing_to" => Some(args.is_empty()),
        "always_no" => Some(false),
        _ => None,
    };
    let verdict = scorer.score(&Prepared::new(b"Subject: x\n\n\n"), &evals, None);
    assert_eq!(names(&verdict), vec!["MISSING_TO"]);
    assert_eq!(verdict.evals_unimplemented, 1);
}

#[test]
fn rawbody_image_ratio_measures_html() {
    let scorer = scorer_from(
        "body BODY_RATIO eval:image_to_text_ratio('all','0.000','0.003')\nscore BODY_RATIO 1\n\
         rawbody RAW_LOW eval:image_to_text_ratio('all','0.000','0.003')\nscore RAW_LOW 1\n\
         rawbody RAW_HIGH eval:image_to_text_ratio('all','0.003','0.010')\nscore RAW_HIGH 1\n",
    );
    // Over the 10000 pixels of a 100x100 PNG header: the HTML source is
    // 50 bytes, and the rendered body with its Subject line under 30.
    let message = "Subject: sale\nMIME-Version: 1.0\n\
                   Content-Type: multipart/related; boundary=\"b\"\n\n\
                   --b\nContent-Type: text/html\n\n\
                   <html><body><p style=\"x\">Buy now</p></body></html>\n\
                   --b\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n\n\
                   iVBORw0KGgoAAAANSUhEUgAAAGQAAABkCAYAAAAfFcSJ\n--b--\n";
    let verdict = scorer.score(&Prepared::new(message.as_bytes()), &no_evals, None);
    assert_eq!(names(&verdict), vec!["RAW_HIGH"]);
    assert_eq!(
        verdict.evals_unimplemented, 1,
        "the body rule goes to no_evals"
    );
}

#[test]
fn rawbody_uri_and_full_targets() {
    let scorer = scorer_from(
        "rawbody RAW_TAG /<b>bold/\nscore RAW_TAG 1\n\
         body BODY_TAG /<b>/\nscore BODY_TAG 1\n\
         uri URI_HOST /example\\.net/\nscore URI_HOST 1\n\
         full FULL_HEADER /^X-Mailer: spamkit/m\nscore FULL_HEADER 1\n",
    );
    let message = "X-Mailer: spamkit\nSubject: hi\nContent-Type: text/html\n\n\
                   <html><body><b>bold</b> <a href=\"http://example.net/x\">go</a></body></html>\n";
    let verdict = verdict(&scorer, message);
    assert_eq!(names(&verdict), vec!["FULL_HEADER", "RAW_TAG", "URI_HOST"]);
}

#[test]
fn required_score_sets_is_spam() {
    let scorer = scorer_from("required_score 2.5\nbody WORD /alpha/\nscore WORD 2.5\n");
    let verdict = verdict(&scorer, "Subject: alpha\n\n\n");
    assert!(close(verdict.required, 2.5));
    assert!(verdict.is_spam, "a score equal to required is spam");
}

#[test]
fn score_is_rounded_to_three_decimals() {
    let scorer = scorer_from(
        "body ONE /a/\nscore ONE 0.1\nbody TWO /b/\nscore TWO 0.2\n\
         body THREE /c/\nscore THREE -0.3\n",
    );
    let verdict = verdict(&scorer, "Subject: abc\n\n\n");
    assert_eq!(verdict.score, 0.0);
    assert!(verdict.score.is_sign_positive());
}

fn verdict_with(score: f64, is_spam: bool, rules: &[&str]) -> Verdict {
    Verdict {
        score,
        required: 5.0,
        is_spam,
        hits: rules
            .iter()
            .map(|name| Hit {
                name: name.to_string(),
                score: 1.0,
                hits: 1,
            })
            .collect(),
        score_set: 0,
        evals_unimplemented: 0,
    }
}

#[test]
fn status_folds_like_spamassassin() {
    // The rule list of a spam corpus message as SpamAssassin 4.0.1 folded
    // it, with SpamAssassin's version replaced by Ringmail's.
    let verdict = verdict_with(
        9.4,
        true,
        &[
            "UNPARSEABLE_RELAY",
            "FREEMAIL_ENVFROM_END_DIGIT",
            "FREEMAIL_FROM",
            "FSL_HELO_NON_FQDN_1",
            "HELO_NO_DOMAIN",
            "HTML_EXTRA_CLOSE",
            "HTML_FONT_TINY_NORDNS",
            "HTML_MESSAGE",
            "INVALID_DATE_TZ_ABSURD",
            "MIME_HTML_ONLY",
            "RDNS_NONE",
            "SPOOFED_FREEMAIL",
            "SPOOFED_FREEMAIL_NO_RDNS",
        ],
    );
    let mut sorted = verdict.clone();
    sorted
        .hits
        .sort_by(|left, right| left.name.cmp(&right.name));
    let headers = spam_headers(&sorted);
    let status = headers
        .iter()
        .find(|header| header.name == "X-Spam-Status")
        .unwrap();
    let expected = format!(
        "Yes, score=9.4 required=5.0 tests=FREEMAIL_ENVFROM_END_DIGIT,\n\
         \tFREEMAIL_FROM,FSL_HELO_NON_FQDN_1,HELO_NO_DOMAIN,HTML_EXTRA_CLOSE,\n\
         \tHTML_FONT_TINY_NORDNS,HTML_MESSAGE,INVALID_DATE_TZ_ABSURD,\n\
         \tMIME_HTML_ONLY,RDNS_NONE,SPOOFED_FREEMAIL,SPOOFED_FREEMAIL_NO_RDNS,\n\
         \tUNPARSEABLE_RELAY autolearn=no autolearn_force=no version={}",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(status.value, expected);
}

#[test]
fn status_breaks_at_space_before_autolearn() {
    let verdict = verdict_with(
        2.6,
        false,
        &[
            "DIET_1",
            "HEADER_FROM_DIFFERENT_DOMAINS",
            "MAILING_LIST_MULTI",
            "SUBJECT_DIET",
        ],
    );
    let value = report::fold("X-Spam-Status", &report::status_text(&verdict));
    let lines: Vec<&str> = value.split('\n').collect();
    assert_eq!(lines[0], "No, score=2.6 required=5.0 tests=DIET_1,");
    assert_eq!(
        lines[1],
        "\tHEADER_FROM_DIFFERENT_DOMAINS,MAILING_LIST_MULTI,SUBJECT_DIET"
    );
    assert!(lines[2].starts_with("\tautolearn=no autolearn_force=no version="));
}

#[test]
fn headers_for_ham_and_spam() {
    let ham = spam_headers(&verdict_with(-0.04, false, &[]));
    let fields: Vec<String> = ham.iter().map(SpamHeader::to_field).collect();
    assert_eq!(fields[0], "X-Spam-Score: 0.0\n");
    assert_eq!(fields[1], "X-Spam-Level: \n");
    assert!(fields[2].starts_with("X-Spam-Status: No, score=0.0 required=5.0 tests=none "));
    assert_eq!(fields.len(), 3, "no X-Spam-Flag on ham");

    let spam = spam_headers(&verdict_with(7.9, true, &["A"]));
    assert_eq!(spam[0].to_field(), "X-Spam-Flag: YES\n");
    assert_eq!(spam[2].value, "*******");

    let huge = spam_headers(&verdict_with(400.0, true, &["A"]));
    assert_eq!(huge[2].value.len(), report::LEVEL_STARS_MAX);
}

#[test]
fn folded_lines_stay_within_width() {
    let names: Vec<String> = (0..200)
        .map(|index| format!("RULE_NUMBER_{index}"))
        .collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let value = spam_headers(&verdict_with(99.0, true, &refs))
        .pop()
        .unwrap()
        .value;
    for (index, line) in value.split('\n').enumerate() {
        let width = if index == 0 {
            "X-Spam-Status: ".len() + line.len()
        } else {
            line.len() - 1 + 8
        };
        assert!(
            width <= report::FOLD_WIDTH_MAX,
            "line {index} is {width} wide: {line:?}"
        );
    }
}

/// Returns the corpus directory written by tests/corpus/fetch.py.
fn corpus_dir() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    let dir = std::path::Path::new(&home).join(".cache/ringmail/spamassassin-corpus-0.2.3/eml");
    dir.is_dir().then_some(dir)
}

/// Messages of the corpus smoke test.
const CORPUS_SMOKE_MESSAGES: usize = 300;
/// Time allowed for one message in a debug build with the stock rules. It
/// only catches runaway work: typical messages take milliseconds.
const CORPUS_MESSAGE_TIME_MAX: Duration = Duration::from_secs(5);

#[test]
fn corpus_scores_without_panic() {
    let Some(dir) = corpus_dir() else {
        eprintln!("skipped: corpus not found, run `python3 tests/corpus/fetch.py`");
        return;
    };
    let model = match crate::rules::load_default(LoadOptions::default()) {
        Ok((model, _)) => model,
        Err(error) => panic!("default rules do not load: {error}"),
    };
    let (compiled, _) = CompiledRules::compile(&model);
    let scorer = Scorer::new(Arc::new(model), Arc::new(compiled));

    let mut paths = Vec::new();
    for group in std::fs::read_dir(&dir).unwrap().flatten() {
        for entry in std::fs::read_dir(group.path()).unwrap().flatten() {
            paths.push(entry.path());
        }
    }
    paths.sort();
    // Take messages from every group, not only the first directory.
    let step = (paths.len() / CORPUS_SMOKE_MESSAGES).max(1);
    let chosen: Vec<&PathBuf> = paths
        .iter()
        .step_by(step)
        .take(CORPUS_SMOKE_MESSAGES)
        .collect();

    let started = Instant::now();
    let mut spam = 0;
    for path in &chosen {
        let message = std::fs::read(path).unwrap();
        let message_started = Instant::now();
        let verdict = scorer.score(&Prepared::new(&message), &no_evals, None);
        let elapsed = message_started.elapsed();
        assert!(
            elapsed < CORPUS_MESSAGE_TIME_MAX,
            "{} took {elapsed:?}",
            path.display()
        );
        assert!(verdict.score.is_finite(), "{}", path.display());
        spam += usize::from(verdict.is_spam);
    }
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "scored {} corpus messages, {spam} spam, {:.0} msg/s (informational)",
        chosen.len(),
        chosen.len() as f64 / seconds
    );
}

/// The compiled meta steps must compute what the tree walk computes, for
/// every stock meta expression (when SpamAssassin's rules are installed)
/// and a table of edge cases, over varied rule values.
#[test]
fn meta_program_equals_tree_walk() {
    use crate::rules::parse::{evaluate_meta, parse_meta};

    let source = MemorySource::new([(
        "/t.cf",
        "body A /a/\nbody B /b/\nbody C /c/\nmeta M (A && B)\n",
    )]);
    let small = load(&source, &[PathBuf::from("/t.cf")], LoadOptions::default()).unwrap();
    let mut models = vec![small];
    let mut cases: Vec<(usize, MetaExpr)> = Vec::new();
    for text in [
        "A && B",
        "A || !B",
        "(A + B + C) > 1",
        "A / (B - B)",
        "-A * 3 >= -6",
        "!(A == B) && C != 0",
        "UNKNOWN_NAME || A",
        "A - B - C",
        "2 <= A + B <= 3",
    ] {
        cases.push((0, parse_meta(text).unwrap()));
    }
    if let Ok((stock, _)) = crate::rules::load_default(LoadOptions::default()) {
        for (_, rule) in stock.defined() {
            if let Some((_, Test::Meta(expr))) = &rule.definition {
                cases.push((1, expr.clone()));
            }
        }
        models.push(stock);
    }

    let mut stack = Vec::new();
    for (model, expr) in &cases {
        let model = &models[*model];
        let program = meta::Program::new(model, expr);
        for seed in 0..4u64 {
            let values: Vec<f64> = (0..model.rules.len() as u64)
                .map(|index| {
                    ((index * 7 + seed * 3) % 5) as f64 * if seed == 3 { -0.5 } else { 1.0 }
                })
                .collect();
            let lookup = |name: &str| Some(model.id(name).map_or(0.0, |id| values[id.index()]));
            let walked = evaluate_meta(expr, &lookup).unwrap();
            let stepped = program.evaluate(&values, &mut stack);
            assert!(
                walked == stepped || (walked.is_nan() && stepped.is_nan()),
                "{expr:?} with seed {seed}: tree {walked}, steps {stepped}"
            );
        }
    }
}

#[test]
fn live_rules_follow_scored_metas() {
    let scorer = scorer_from(
        "body A /apple/\nscore A 1\n\
         body __B /banana/\nbody __C /cherry/\nbody D /date/\nscore D 0\n\
         meta M (__B && D) || __B\nscore M 2\n\
         meta __UNREAD (__C)\n",
    );
    let live = &scorer.live[SCORE_SET_PLAIN];
    let is_live = |name: &str| live[scorer.model.id(name).unwrap().index()];
    assert!(is_live("A"));
    assert!(is_live("M"));
    assert!(is_live("__B"));
    assert!(!is_live("__C"), "no scored meta reads __C");
    assert!(!is_live("__UNREAD"));
    assert!(!is_live("D"), "a rule with score 0 does not run");

    let found = verdict(&scorer, "Subject: x\n\nbanana cherry date\n");
    assert_eq!(names(&found), vec!["M"]);
}
