//! Compiler tests: Perl semantics of translated patterns, prefilter
//! soundness against running every regex, and the stock rules.

use std::path::{Path, PathBuf};

use super::*;
use crate::rules::{load, load_embedded, FileSource, LoadOptions, MemorySource};

fn compiled(source: &str, flags: &str) -> CompiledPattern {
    let pattern = Pattern {
        source: source.to_string(),
        flags: flags.to_string(),
    };
    compile_pattern(&pattern).unwrap_or_else(|error| panic!("pattern {source:?}: {error}"))
}

fn model_from(text: &str) -> RuleModel {
    let source = MemorySource::new([("/t.cf", text)]);
    load(&source, &[PathBuf::from("/t.cf")], LoadOptions::default()).unwrap()
}

#[test]
fn perl_semantics_table() {
    // (pattern, flags, text, expected match)
    let cases: &[(&str, &str, &[u8], bool)] = &[
        // `$` without /m also matches before a final newline, as in header values.
        (r"foo$", "", b"foo\n", true),
        (r"foo$", "", b"foo\nbar", false),
        (r"foo$", "m", b"foo\nbar", true),
        (r"foo\Z", "", b"foo\n", true),
        (r"foo\z", "", b"foo\n", false),
        (r"^bar", "", b"foo\nbar", false),
        (r"^bar", "m", b"foo\nbar", true),
        (r"a.b", "", b"a\nb", false),
        (r"a.b", "s", b"a\nb", true),
        (r"a b", "x", b"ab", true),
        (r"a[ ]b", "x", b"a b", true),
        (r"FREE", "i", b"free", true),
        (r"FREE", "", b"free", false),
        // Classes are ASCII: a non-ASCII byte is not a word character.
        (r"\w", "", b"\xe9", false),
        (r"caf\xE9", "", b"caf\xe9", true),
        ("café", "", "café".as_bytes(), true),
        ("[£$]1", "", "£1".as_bytes(), true),
        (r"\bfree\b", "i", b"a free offer", true),
        (r"\bfree\b", "i", b"carefree", false),
        (r"\<b\>", "", b"<b>", true),
        (r"a\hb", "", b"a\tb", true),
        (r"a\Rb", "", b"a\r\nb", true),
        (r"\x41\101", "", b"AA", true),
        (r"[\101]", "", b"A", true),
        (r"\Qa.b\E", "", b"axb", false),
        (r"\Qa.b\E", "", b"a.b", true),
        (r"a{,2}c", "", b"aac", true),
        (r"a{x", "", b"a{x", true),
        (r"[[]", "", b"[", true),
        (r"[a-]", "", b"-", true),
        // Lookaround and backreferences through fancy-regex.
        (r"foo(?!bar)", "", b"foobar", false),
        (r"foo(?!bar)", "", b"foobaz", true),
        (r"(?<!x)foo", "", b"xfoo", false),
        (r"(\w)\1", "", b"abba", true),
        (r"(\w)\1", "", b"abc", false),
        (r"a++b", "", b"aab", true),
        (r"(?>a+)b", "", b"aab", true),
        (r"(?i)viagra(?=\d)", "", b"VIAGRA1", true),
        (r"\xE9t\xE9", "", b"\xe9t\xe9", true),
    ];
    for (source, flags, text, expected) in cases {
        let pattern = compiled(source, flags);
        assert_eq!(
            pattern.is_match(text),
            *expected,
            "pattern {source:?} flags {flags:?} text {text:?}"
        );
    }
}

#[test]
fn engines_are_chosen_by_feature() {
    assert_eq!(compiled(r"abc", "").engine, Engine::Automata);
    assert_eq!(compiled(r"a(?=b)", "").engine, Engine::Fancy);
    assert_eq!(compiled(r"(a)\1", "").engine, Engine::Fancy);
}

#[test]
fn unsupported_pattern_reports_error() {
    let pattern = Pattern {
        source: "(?{ print 1 })".into(),
        flags: String::new(),
    };
    let error = compile_pattern(&pattern).err().unwrap();
    assert!(error.contains("unsupported"), "{error}");

    let model = model_from("body BAD /(?R)/\nbody GOOD /ok/\n");
    let (rules, stats) = CompiledRules::compile(&model);
    assert_eq!(stats.kinds[&RuleKind::Body].unsupported, 1);
    assert_eq!(stats.failures[0].rule, "BAD");
    let hits: Vec<RuleMatch> = rules.match_target(&Target::Body, b"ok").collect();
    assert_eq!(hits.len(), 1);
}

#[test]
fn match_target_groups_rules_by_target() {
    let model = model_from(
        "header SUBJ_FREE Subject =~ /free/i\n\
         header FROM_ADDR From:addr =~ /\\@example\\.com$/\n\
         header NO_DIGITS Subject !~ /\\d/\n\
         body BODY_PILLS /cheap pills/i\n\
         body BODY_ANY /^\\s*$/\n\
         rawbody RAW_HTML /<html/i\n\
         uri URI_IP m{^https?://\\d+\\.\\d+\\.\\d+\\.\\d+}\n\
         full FULL_RECEIVED /^Received: from/m\n\
         mimeheader MIME_PDF Content-Type =~ /application\\/pdf/i\n\
         body MANY /!!/\n\
         tflags MANY multiple maxhits=3\n\
         header E exists:X-Foo\n\
         header V eval:check_something()\n\
         meta M SUBJ_FREE && BODY_PILLS\n",
    );
    let (rules, stats) = CompiledRules::compile(&model);
    let names = |target: &Target, text: &[u8]| -> Vec<(String, u32)> {
        rules
            .match_target(target, text)
            .map(|found| (rules.rule_name(found.rule).to_string(), found.hits))
            .collect()
    };
    let one = |name: &str| (name.to_string(), 1);

    assert_eq!(
        names(&Target::Header("subject".into()), b"Get it FREE\n"),
        [one("SUBJ_FREE"), one("NO_DIGITS")]
    );
    assert_eq!(
        names(&Target::Header("subject".into()), b"Meeting at 10\n"),
        Vec::<(String, u32)>::new()
    );
    assert_eq!(
        names(&Target::Header("from:addr".into()), b"bob@example.com\n"),
        [one("FROM_ADDR")]
    );
    assert_eq!(
        names(&Target::Body, b"CHEAP PILLS here"),
        [one("BODY_PILLS")]
    );
    assert_eq!(names(&Target::Body, b"  "), [one("BODY_ANY")]);
    assert_eq!(
        names(&Target::Body, b"wow!! yes!! no!! again!! more!!"),
        [("MANY".to_string(), 3)]
    );
    assert_eq!(names(&Target::Rawbody, b"<HTML><body>"), [one("RAW_HTML")]);
    assert_eq!(names(&Target::Uri, b"http://10.0.0.1/x"), [one("URI_IP")]);
    assert_eq!(
        names(&Target::Full, b"X: y\nReceived: from a\n"),
        [one("FULL_RECEIVED")]
    );
    assert_eq!(
        names(
            &Target::Mimeheader("content-type".into()),
            b"application/PDF"
        ),
        [one("MIME_PDF")]
    );
    assert_eq!(
        names(&Target::Header("x-unknown".into()), b"free"),
        Vec::<(String, u32)>::new()
    );

    assert_eq!(rules.exists_rules().len(), 1);
    assert_eq!(rules.evals().len(), 1);
    assert!(!rules.evals()[0].implemented);
    assert_eq!(rules.metas().len(), 1);
    assert_eq!(stats.missing_evals.get("check_something"), Some(&1));
    assert_eq!(stats.kinds[&RuleKind::Header].exists, 1);
    assert_eq!(stats.kinds[&RuleKind::Meta].meta, 1);
    let targets: Vec<&Target> = rules.targets().map(|(target, _)| target).collect();
    assert!(targets.contains(&&Target::Header("from:addr".into())));
}

#[test]
fn implemented_evals_are_counted() {
    let model = model_from("header A eval:known()\nbody B eval:unknown()\n");
    let options = CompileOptions {
        implemented_evals: ["known".to_string()].into_iter().collect(),
    };
    let (rules, stats) = CompiledRules::compile_with(&model, &options);
    assert_eq!(stats.kinds[&RuleKind::Header].eval_implemented, 1);
    assert_eq!(stats.kinds[&RuleKind::Body].eval_missing, 1);
    assert!(rules.evals()[0].implemented);
}

#[test]
fn embedded_rules_compile_fully() {
    let model = load_embedded(LoadOptions::default()).unwrap();
    let (rules, stats) = CompiledRules::compile(&model);
    assert!(stats.failures.is_empty(), "{:?}", stats.failures);
    let total = stats.total();
    assert_eq!(total.fallback, 0);
    assert!(total.compiled >= 25);
    let hits: Vec<&str> = rules
        .match_target(
            &Target::Body,
            b"Dear friend, click here to verify your account. Act now!!!!",
        )
        .map(|found| rules.rule_name(found.rule))
        .collect();
    assert_eq!(
        hits,
        [
            "RM_CLICK_HERE",
            "RM_ACT_NOW",
            "RM_ACCOUNT_VERIFY",
            "RM_DEAR_FRIEND",
            "RM_EXCLAIM_MANY"
        ]
    );
}

fn stock_model() -> Option<RuleModel> {
    let stock = Path::new("/usr/share/spamassassin");
    if !stock.join("50_scores.cf").exists() {
        eprintln!("skipped: SpamAssassin's rules are not installed");
        return None;
    }
    let paths = [stock.to_path_buf(), PathBuf::from("/etc/spamassassin")];
    Some(load(&FileSource, &paths, LoadOptions::default()).unwrap())
}

#[test]
fn stock_rules_compile() {
    let Some(model) = stock_model() else {
        return;
    };
    let (_rules, stats) = CompiledRules::compile(&model);
    for kind in RuleKind::ALL {
        let counts = stats.kinds.get(&kind).cloned().unwrap_or_default();
        eprintln!("{kind:?}: {counts:?}");
    }
    for failure in &stats.failures {
        eprintln!("unsupported {}: {}", failure.rule, failure.error);
    }
    let body = &stats.kinds[&RuleKind::Body];
    let header = &stats.kinds[&RuleKind::Header];
    assert!(body.compiled + body.fallback > 500, "{body:?}");
    assert!(header.compiled + header.fallback > 500, "{header:?}");
    let total = stats.total();
    assert!(
        total.unsupported * 100 < total.compiled + total.fallback,
        "{total:?}"
    );
}

/// Returns every `step`th corpus message, or none when the corpus is absent.
fn corpus_sample(step: usize) -> Vec<Vec<u8>> {
    let Some(home) = std::env::var_os("HOME") else {
        return Vec::new();
    };
    let root = Path::new(&home).join(".cache/ringmail/spamassassin-corpus-0.2.3/eml");
    let mut files = Vec::new();
    for dir in std::fs::read_dir(&root).into_iter().flatten().flatten() {
        files.extend(
            std::fs::read_dir(dir.path())
                .into_iter()
                .flatten()
                .flatten()
                .map(|entry| entry.path()),
        );
    }
    files.sort();
    files
        .iter()
        .step_by(step.max(1))
        .filter_map(|path| std::fs::read(path).ok())
        .collect()
}

/// Splits a message into unfolded header fields (lower-cased name, value
/// with its newline) and the body.
fn split_message(message: &[u8]) -> (Vec<(String, Vec<u8>)>, &[u8]) {
    let end = message
        .windows(2)
        .position(|window| window == b"\n\n")
        .map_or(message.len(), |offset| offset + 1);
    let mut fields: Vec<(String, Vec<u8>)> = Vec::new();
    for line in message[..end].split(|&byte| byte == b'\n') {
        if line
            .first()
            .is_some_and(|byte| *byte == b' ' || *byte == b'\t')
        {
            if let Some((_, value)) = fields.last_mut() {
                value.pop();
                value.extend_from_slice(line);
                value.push(b'\n');
            }
        } else if let Some(colon) = line.iter().position(|&byte| byte == b':') {
            let name = String::from_utf8_lossy(&line[..colon]).to_ascii_lowercase();
            let mut value = line[colon + 1..].trim_ascii_start().to_vec();
            value.push(b'\n');
            fields.push((name, value));
        }
    }
    (fields, message.get(end + 1..).unwrap_or(&[]))
}

#[test]
fn prefilter_has_no_false_negatives_on_corpus() {
    let Some(model) = stock_model() else {
        return;
    };
    let messages = corpus_sample(60);
    if messages.is_empty() {
        eprintln!("skipped: corpus not fetched (python3 tests/corpus/fetch.py)");
        return;
    }
    let (rules, _) = CompiledRules::compile(&model);
    let mut checked = 0usize;
    let mut hits = 0usize;
    for message in &messages {
        let (fields, body) = split_message(message);
        let mut texts: Vec<(Target, &[u8])> = vec![
            (Target::Full, message),
            (Target::Body, body),
            (Target::Rawbody, body),
        ];
        for line in body
            .split(|&byte| byte == b'\n')
            .filter(|line| line.len() > 20)
            .take(40)
        {
            texts.push((Target::Body, line));
        }
        for (name, value) in &fields {
            texts.push((Target::Header(name.clone()), value));
            texts.push((Target::Header(format!("{name}:raw")), value));
            texts.push((Target::Mimeheader(name.clone()), value));
        }
        for (target, text) in texts {
            let filtered: Vec<RuleMatch> = rules.match_target(&target, text).collect();
            let unfiltered = rules.match_target_unfiltered(&target, text);
            assert_eq!(
                filtered,
                unfiltered,
                "target {target:?} text {:?}",
                String::from_utf8_lossy(&text[..text.len().min(200)])
            );
            checked += 1;
            hits += filtered.len();
        }
    }
    eprintln!(
        "{} messages, {checked} texts, {hits} rule hits",
        messages.len()
    );
    assert!(hits > 0);
}

/// Returns the sum of per-line hits of every rule of `target`, each line
/// matched by every regex without prefilter or superset, capped at the
/// rule's maximum hits: what [`CompiledRules::match_lines`] must return.
fn per_line_oracle(rules: &CompiledRules, target: &Target, lines: &[&[u8]]) -> Vec<RuleMatch> {
    let Some(target_rules) = rules.targets.get(target) else {
        return Vec::new();
    };
    let mut counts: BTreeMap<RuleId, u32> = BTreeMap::new();
    for line in lines {
        for found in rules.match_target_unfiltered(target, line) {
            *counts.entry(found.rule).or_default() += found.hits;
        }
    }
    target_rules
        .rules
        .iter()
        .filter_map(|rule| {
            let hits = counts.get(&rule.id).copied()?.min(rule.hits_max);
            Some(RuleMatch {
                rule: rule.id,
                hits,
            })
        })
        .collect()
}

#[test]
fn match_lines_equals_per_line_oracle_on_corpus() {
    let Some(model) = stock_model() else {
        return;
    };
    let messages = corpus_sample(50);
    if messages.is_empty() {
        eprintln!("skipped: corpus not fetched (python3 tests/corpus/fetch.py)");
        return;
    }
    let (rules, _) = CompiledRules::compile(&model);
    let mut hits = 0usize;
    for message in &messages {
        let prepared = crate::prepare::Prepared::new(message);
        let body: Vec<&[u8]> = prepared.body().iter().map(|line| line.as_bytes()).collect();
        let rawbody: Vec<&[u8]> = prepared.rawbody().iter().map(|piece| &piece[..]).collect();
        let uris: Vec<&[u8]> = prepared.uris().iter().map(|uri| uri.as_bytes()).collect();
        for (target, lines) in [
            (Target::Body, &body),
            (Target::Rawbody, &rawbody),
            (Target::Uri, &uris),
        ] {
            let found = rules.match_lines(&target, lines);
            let expected = per_line_oracle(&rules, &target, lines);
            assert_eq!(found, expected, "target {target:?}, {} lines", lines.len());
            hits += found.len();
        }
    }
    eprintln!("{} messages, {hits} rule hits", messages.len());
    assert!(hits > 0);
}

#[test]
fn match_lines_gate_keeps_text_anchors_per_line() {
    // `^bar` and `cat\z` each match one line alone but not the lines
    // joined with `\n`, so the joined-text gate must not skip them. The
    // rules without prefilter literals (R_DIGITS, R_LOOKD, R_NOHIT) are
    // always candidates, so the gate runs them over the joined lines.
    let model = model_from(
        "body R_START /^bar/\nbody R_END /cat\\z/\nbody R_LOOK /(?<!x)bar(?=s)/\n\
         body R_MULTI /\\bbar/\ntflags R_MULTI multiple maxhits=3\n\
         body R_CLASS /[a-c]{2}t/\nbody R_DIGITS /\\d\\dx/\n\
         body R_LOOKD /(?<![a-z])\\d\\d/\nbody R_NOHIT /\\d{5}/\n",
    );
    let (rules, _) = CompiledRules::compile(&model);
    let body = &rules.targets[&Target::Body];
    assert_eq!(body.always.len(), 3);

    let lines: &[&[u8]] = &[b"a cat", b"bars bar", b"xbars bar bar", b"12x"];
    let found = rules.match_lines(&Target::Body, lines);
    assert_eq!(found, per_line_oracle(&rules, &Target::Body, lines));
    let mut names: Vec<&str> = found.iter().map(|hit| rules.rule_name(hit.rule)).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["R_CLASS", "R_DIGITS", "R_END", "R_LOOK", "R_LOOKD", "R_MULTI", "R_START"]
    );
    let multi = found
        .iter()
        .find(|hit| rules.rule_name(hit.rule) == "R_MULTI")
        .unwrap();
    assert_eq!(multi.hits, 3);
}

/// Returns the regex rules of `model` whose compiled pattern `keep`
/// accepts, with their names.
fn compiled_patterns(
    model: &RuleModel,
    keep: impl Fn(&CompiledPattern) -> bool,
) -> Vec<(String, CompiledPattern)> {
    let mut patterns = Vec::new();
    for (_, rule) in model.defined() {
        let pattern = match &rule.definition {
            Some((_, Test::Regex(pattern))) | Some((_, Test::Header { pattern, .. })) => pattern,
            _ => continue,
        };
        if let Ok(compiled) = compile_pattern(pattern) {
            if keep(&compiled) {
                patterns.push((rule.name.clone(), compiled));
            }
        }
    }
    patterns
}

#[test]
fn superset_never_rejects_fancy_match_on_corpus() {
    let Some(model) = stock_model() else {
        return;
    };
    let messages = corpus_sample(100);
    if messages.is_empty() {
        eprintln!("skipped: corpus not fetched (python3 tests/corpus/fetch.py)");
        return;
    }
    let patterns = compiled_patterns(&model, CompiledPattern::has_superset);
    assert!(
        patterns.len() > 50,
        "{} fancy rules with a superset",
        patterns.len()
    );

    let mut fancy_hits = 0usize;
    for message in &messages {
        let prepared = crate::prepare::Prepared::new(message);
        let mut texts: Vec<&[u8]> = prepared.body().iter().map(|line| line.as_bytes()).collect();
        texts.push(message);
        for (name, compiled) in &patterns {
            for text in &texts {
                let alone = compiled.is_match_fancy_only(text);
                assert_eq!(
                    Some(compiled.is_match(text)),
                    alone,
                    "rule {name} text {:?}",
                    String::from_utf8_lossy(&text[..text.len().min(200)])
                );
                fancy_hits += usize::from(alone == Some(true));
            }
        }
    }
    eprintln!("{} fancy rules, {fancy_hits} hits", patterns.len());
    assert!(fancy_hits > 0);
}

#[test]
fn start_places_keep_anchors_and_counts() {
    // (pattern, flags, text, matches, non-overlapping count up to 10)
    let cases: &[(&str, &str, &[u8], bool, usize)] = &[
        // The lookbehind reads the byte before the start literal.
        (r"(?<!x)ab(c)\1", "", b"xabcc abcc", true, 1),
        (r"(?<!x)ab(c)\1", "", b"xabcc", false, 0),
        // Multi-line `^` before the literal: only at line starts.
        (r"^To:\s+(\w+)\s\1", "m", b"Re To: a a\nTo: b b\n", true, 1),
        (r"^To:\s+(\w+)\s\1", "m", b"Re To: a a\n", false, 0),
        // Case-insensitive literals, matched in any case.
        (
            r"subject: (\w+) \1",
            "i",
            b"SUBJECT: hi hi; Subject: yo yo",
            true,
            2,
        ),
        // Overlapping starts: the count resumes after each match's end.
        (r"aa(?=a)", "", b"aaaaaa", true, 2),
        // A match that runs over later start places counts once.
        (r"<a(?!b)[^>]*>", "", b"<a <a x> <ab> <a>", true, 2),
        // A multi-line `^` before a class: every line start is a place.
        (
            r"^(?!Content-)[a-z]+-[a-z]+:\s+\d",
            "im",
            b"Content-Length: 1\nX-Id: 2\nMy-Id: 3\n",
            true,
            2,
        ),
        (
            r"^(?!Content-)[a-z]+-[a-z]+:\s+\d",
            "im",
            b"Content-Length: 1\nMy-Id: x\n",
            false,
            0,
        ),
        // `\A` before a class: only the start of the text.
        (r"\A(?!x)\w+(\d)\1", "", b"ab11 cd22", true, 1),
        (r"\A(?!x)\w+(\d)\1", "", b" ab11", false, 0),
    ];
    for (pattern, flags, text, expected, expected_count) in cases {
        let compiled = compiled(pattern, flags);
        assert!(compiled.has_start_places(), "pattern {pattern:?}");
        assert_eq!(compiled.is_match(text), *expected, "pattern {pattern:?}");
        assert_eq!(
            compiled.is_match_fancy_only(text),
            Some(*expected),
            "pattern {pattern:?}"
        );
        assert_eq!(
            compiled.count_fancy(text, 10),
            Some(*expected_count),
            "pattern {pattern:?}"
        );
        assert_eq!(
            compiled.count_fancy_only(text, 10),
            Some(*expected_count),
            "pattern {pattern:?}"
        );
    }
}

#[test]
fn start_place_limit_searches_whole_text() {
    // Past the place limit the rule runs over the whole text, behind the
    // superset regex.
    let many = compiled(r"<a(?!b)[^>]*>(\w)\1", "");
    let mut text = b"<a> ".repeat(START_POSITIONS_MAX * 4 + 1);
    assert!(!many.is_match(&text));
    assert_eq!(many.count_fancy(&text, 10), Some(0));
    text.extend_from_slice(b"<a x>zz");
    assert!(many.is_match(&text));
    assert_eq!(many.count_fancy(&text, 10), Some(1));
    assert_eq!(many.count_fancy_only(&text, 10), Some(1));
}

#[test]
fn unanchored_patterns_have_no_start_places() {
    // A pattern whose matches may begin at any byte has no start places.
    assert!(!compiled(r"(\w)\1", "").has_start_places());
    assert!(!compiled(r"(?<=\d)x", "").has_start_places());
}

#[test]
fn start_place_runs_equal_full_search_on_corpus() {
    let Some(model) = stock_model() else {
        return;
    };
    let messages = corpus_sample(80);
    if messages.is_empty() {
        eprintln!("skipped: corpus not fetched (python3 tests/corpus/fetch.py)");
        return;
    }
    let patterns = compiled_patterns(&model, CompiledPattern::has_start_places);
    assert!(
        patterns.len() > 30,
        "{} fancy rules with start places",
        patterns.len()
    );

    let mut hits = 0usize;
    for message in &messages {
        let header_end =
            memchr::memmem::find(message, b"\n\n").map_or(message.len(), |end| end + 1);
        let prepared = crate::prepare::Prepared::new(message);
        let mut texts: Vec<&[u8]> = vec![message, &message[..header_end]];
        texts.extend(prepared.rawbody().iter().map(|piece| &piece[..]));
        for (name, compiled) in &patterns {
            for text in &texts {
                let alone = compiled.count_fancy_only(text, HITS_MAX as usize);
                assert_eq!(
                    compiled.count_fancy(text, HITS_MAX as usize),
                    alone,
                    "rule {name} text {:?}",
                    String::from_utf8_lossy(&text[..text.len().min(200)])
                );
                hits += alone.unwrap_or(0);
            }
        }
    }
    eprintln!(
        "{} fancy rules with start places, {hits} hits",
        patterns.len()
    );
    assert!(hits > 0);
}

/// Prints the rules that take the most time over the bench's sample:
/// `cargo test --release -p ringmail-spam rule_time_report -- --ignored --nocapture`.
#[test]
#[ignore = "a timing report, not a check"]
fn rule_time_report() {
    let Some(model) = stock_model() else {
        return;
    };
    let messages = corpus_sample(30);
    let (rules, _) = CompiledRules::compile(&model);
    let mut times: BTreeMap<String, std::time::Duration> = BTreeMap::new();
    for message in &messages {
        let prepared = crate::prepare::Prepared::new(message);
        let body: Vec<&[u8]> = prepared.body().iter().map(|line| line.as_bytes()).collect();
        let target_rules = &rules.targets[&Target::Body];
        let started = Instant::now();
        let always = rules.gate_always(target_rules, &body, None);
        *times.entry("(joined-text gate)".to_string()).or_default() += started.elapsed();
        for (index, line) in body.iter().enumerate() {
            let mut candidate = vec![false; target_rules.rules.len()];
            for (slot, first_line) in &always {
                candidate[*slot as usize] = *first_line <= index;
            }
            if let Some(automaton) = &target_rules.prefilter {
                for found in automaton.find_overlapping_iter(line) {
                    let slot = target_rules.pattern_slots[found.pattern().as_usize()];
                    candidate[slot as usize] = true;
                }
            }
            for (rule, is_candidate) in target_rules.rules.iter().zip(candidate) {
                if is_candidate {
                    let started = Instant::now();
                    let _ = rules.confirm(rule, line, Gate::On);
                    *times
                        .entry(rules.rule_name(rule.id).to_string())
                        .or_default() += started.elapsed();
                }
            }
        }
        let started = Instant::now();
        let _ = rules.match_target(&Target::Full, message).count();
        *times.entry("(full target)".to_string()).or_default() += started.elapsed();
    }
    let mut sorted: Vec<_> = times.into_iter().collect();
    sorted.sort_by_key(|(_, time)| std::cmp::Reverse(*time));
    let total: std::time::Duration = sorted.iter().map(|(_, time)| *time).sum();
    eprintln!("{} messages, total {total:?}", messages.len());
    for (name, time) in sorted.iter().take(30) {
        eprintln!("{time:>12?} {name}");
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn arbitrary_cf_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let source = MemorySource { files: [(PathBuf::from("/f.cf"), bytes)].into_iter().collect() };
            if let Ok(model) = load(&source, &[PathBuf::from("/f.cf")], LoadOptions::default()) {
                let _ = CompiledRules::compile(&model);
            }
        }

        #[test]
        fn directive_shaped_lines_never_panic(
            lines in proptest::collection::vec(
                (
                    prop::sample::select(vec!["header", "body", "rawbody", "uri", "full", "meta", "score", "tflags", "if", "ifplugin", "else", "endif", "include", "lang", "describe", "mimeheader", "replace_tag", "replace_rules"]),
                    "[ -~]{0,40}",
                ),
                0..20,
            )
        ) {
            let text: String = lines.iter().map(|(key, rest)| format!("{key} R {rest}\n")).collect();
            let source = MemorySource::new([("/f.cf", text.as_str())]);
            if let Ok(model) = load(&source, &[PathBuf::from("/f.cf")], LoadOptions::default()) {
                let (rules, _) = CompiledRules::compile(&model);
                for (target, _) in rules.targets() {
                    let _ = rules.match_target(target, b"some text\n").count();
                }
            }
        }

        #[test]
        fn arbitrary_patterns_never_panic(source in "[ -~]{0,30}", flags in "[imsxa]{0,3}", text in proptest::collection::vec(any::<u8>(), 0..64)) {
            let pattern = Pattern { source, flags };
            if let Ok(compiled) = compile_pattern(&pattern) {
                let _ = compiled.is_match(&text);
            }
        }
    }
}
