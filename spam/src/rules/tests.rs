//! Parser and loader tests: one table row per directive form, conditionals,
//! includes and limits.

use std::path::PathBuf;

use super::*;

fn parse(text: &str) -> RuleModel {
    parse_with(text, LoadOptions::default())
}

fn parse_with(text: &str, options: LoadOptions) -> RuleModel {
    let source = MemorySource::new([("/rules/test.cf", text)]);
    load(&source, &[PathBuf::from("/rules/test.cf")], options).unwrap()
}

fn definition(model: &RuleModel, name: &str) -> (RuleKind, Test) {
    model
        .get(name)
        .unwrap_or_else(|| panic!("rule {name} missing"))
        .definition
        .clone()
        .unwrap_or_else(|| panic!("rule {name} undefined"))
}

fn pattern(source: &str, flags: &str) -> Pattern {
    Pattern {
        source: source.to_string(),
        flags: flags.to_string(),
    }
}

fn named(name: &str) -> HeaderField {
    HeaderField::Named(name.to_string())
}

fn header(
    field: HeaderField,
    modifiers: &[HeaderModifier],
    source: &str,
    flags: &str,
    negated: bool,
    if_unset: Option<&str>,
) -> Test {
    Test::Header {
        spec: HeaderSpec {
            field,
            modifiers: modifiers.to_vec(),
        },
        pattern: pattern(source, flags),
        negated,
        if_unset: if_unset.map(str::to_string),
    }
}

#[test]
fn header_rule_forms() {
    use HeaderModifier::*;
    let cases: Vec<(&str, Test)> = vec![
        (
            "header R Subject =~ /free/i",
            header(named("subject"), &[], "free", "i", false, None),
        ),
        (
            "header R Subject !~ /\\S/",
            header(named("subject"), &[], "\\S", "", true, None),
        ),
        (
            "header R From:addr =~ /\\@x\\.com$/",
            header(named("from"), &[Addr], "\\@x\\.com$", "", false, None),
        ),
        (
            "header R From:name =~ /bob/",
            header(named("from"), &[Name], "bob", "", false, None),
        ),
        (
            "header R Subject:raw =~ /=\\?/",
            header(named("subject"), &[Raw], "=\\?", "", false, None),
        ),
        (
            "header R From:addr:raw =~ /x/",
            header(named("from"), &[Addr, Raw], "x", "", false, None),
        ),
        (
            "header R ALL =~ /^X-Foo:/m",
            header(HeaderField::All, &[], "^X-Foo:", "m", false, None),
        ),
        (
            "header R ALL:raw =~ /\\t/",
            header(HeaderField::All, &[Raw], "\\t", "", false, None),
        ),
        (
            "header R ToCc =~ /a\\@b/",
            header(HeaderField::ToCc, &[], "a\\@b", "", false, None),
        ),
        (
            "header R MESSAGEID =~ /<x>/",
            header(HeaderField::MessageId, &[], "<x>", "", false, None),
        ),
        (
            "header R EnvelopeFrom =~ /^$/",
            header(HeaderField::EnvelopeFrom, &[], "^$", "", false, None),
        ),
        (
            "header R ALL-TRUSTED =~ /x/",
            header(
                HeaderField::AllRelays("ALL-TRUSTED".into()),
                &[],
                "x",
                "",
                false,
                None,
            ),
        ),
        (
            "header R X-Foo =~ /^bar$/ [if-unset: bar]",
            header(named("x-foo"), &[], "^bar$", "", false, Some("bar")),
        ),
        (
            "header R Subject=~/x/",
            header(named("subject"), &[], "x", "", false, None),
        ),
        (
            "header R Subject =~ m{a/b}i",
            header(named("subject"), &[], "a/b", "i", false, None),
        ),
        (
            "header R Subject =~ m!a!",
            header(named("subject"), &[], "a", "", false, None),
        ),
        (
            "header R Subject =~ m(a(b)c)",
            header(named("subject"), &[], "a(b)c", "", false, None),
        ),
        ("header R exists:List-Id", Test::Exists("List-Id".into())),
        (
            "header R eval:check_for_missing_to_header()",
            Test::Eval(EvalCall {
                function: "check_for_missing_to_header".into(),
                args: vec![],
            }),
        ),
        (
            "header R eval:check_rbl('set', \"zen.example.\", '127.0.0.2')",
            Test::Eval(EvalCall {
                function: "check_rbl".into(),
                args: vec!["set".into(), "zen.example.".into(), "127.0.0.2".into()],
            }),
        ),
        (
            "header R rbleval:check_rbl_sub('set', 2)",
            Test::Eval(EvalCall {
                function: "check_rbl_sub".into(),
                args: vec!["set".into(), "2".into()],
            }),
        ),
    ];
    for (line, expected) in cases {
        let model = parse(line);
        assert!(
            model.warnings.is_empty(),
            "line {line:?}: {:?}",
            model.warnings
        );
        assert_eq!(
            definition(&model, "R"),
            (RuleKind::Header, expected),
            "line {line:?}"
        );
    }
}

#[test]
fn body_like_rule_forms() {
    let cases: Vec<(&str, RuleKind, Test)> = vec![
        (
            "body R /cheap pills/i",
            RuleKind::Body,
            Test::Regex(pattern("cheap pills", "i")),
        ),
        (
            "rawbody R /<html>/",
            RuleKind::Rawbody,
            Test::Regex(pattern("<html>", "")),
        ),
        (
            "uri R m{^https?://x/}i",
            RuleKind::Uri,
            Test::Regex(pattern("^https?://x/", "i")),
        ),
        (
            "full R /^Received:/ms",
            RuleKind::Full,
            Test::Regex(pattern("^Received:", "ms")),
        ),
        (
            "body R /a\\/b/",
            RuleKind::Body,
            Test::Regex(pattern("a\\/b", "")),
        ),
        (
            "body R /a\\#b/",
            RuleKind::Body,
            Test::Regex(pattern("a#b", "")),
        ),
        (
            "body R /x/ # comment",
            RuleKind::Body,
            Test::Regex(pattern("x", "")),
        ),
        (
            "body R eval:check_body_length('100')",
            RuleKind::Body,
            Test::Eval(EvalCall {
                function: "check_body_length".into(),
                args: vec!["100".into()],
            }),
        ),
        (
            "full R eval:check_dcc()",
            RuleKind::Full,
            Test::Eval(EvalCall {
                function: "check_dcc".into(),
                args: vec![],
            }),
        ),
        (
            "mimeheader R Content-Type =~ /pdf/i",
            RuleKind::Mimeheader,
            header(named("content-type"), &[], "pdf", "i", false, None),
        ),
    ];
    for (line, kind, expected) in cases {
        let model = parse(line);
        assert!(
            model.warnings.is_empty(),
            "line {line:?}: {:?}",
            model.warnings
        );
        assert_eq!(definition(&model, "R"), (kind, expected), "line {line:?}");
    }
}

#[test]
fn meta_expressions_parse_with_perl_precedence() {
    use MetaExpr::*;
    use MetaOp::*;
    let rule = |name: &str| Box::new(Rule(name.to_string()));
    let cases: Vec<(&str, MetaExpr)> = vec![
        (
            "A && B || C",
            Binary(Or, Box::new(Binary(And, rule("A"), rule("B"))), rule("C")),
        ),
        (
            "A || B && C",
            Binary(Or, rule("A"), Box::new(Binary(And, rule("B"), rule("C")))),
        ),
        ("!A && B", Binary(And, Box::new(Not(rule("A"))), rule("B"))),
        (
            "!(A && B)",
            Not(Box::new(Binary(And, rule("A"), rule("B")))),
        ),
        (
            "A + B * 2 > 3",
            Binary(
                Greater,
                Box::new(Binary(
                    Add,
                    rule("A"),
                    Box::new(Binary(Mul, rule("B"), Box::new(Number(2.0)))),
                )),
                Box::new(Number(3.0)),
            ),
        ),
        (
            "(A + B) >= 2",
            Binary(
                GreaterEqual,
                Box::new(Binary(Add, rule("A"), rule("B"))),
                Box::new(Number(2.0)),
            ),
        ),
        (
            "A - B / 2 <= 0.5",
            Binary(
                LessEqual,
                Box::new(Binary(
                    Sub,
                    rule("A"),
                    Box::new(Binary(Div, rule("B"), Box::new(Number(2.0)))),
                )),
                Box::new(Number(0.5)),
            ),
        ),
        ("A == 1", Binary(Equal, rule("A"), Box::new(Number(1.0)))),
        ("A != B", Binary(NotEqual, rule("A"), rule("B"))),
        (
            "A < -1",
            Binary(Less, rule("A"), Box::new(Negate(Box::new(Number(1.0))))),
        ),
        ("__A_1", Rule("__A_1".into())),
    ];
    for (text, expected) in cases {
        assert_eq!(parse_meta(text).unwrap(), expected, "expression {text:?}");
    }
}

#[test]
fn meta_expression_errors() {
    for text in ["", "A &&", "(A", "A)", "A = B", "A $ B", "1..2", "A B"] {
        assert!(parse_meta(text).is_err(), "expression {text:?}");
    }
    let deep = format!(
        "{}A{}",
        "(".repeat(META_DEPTH_MAX + 2),
        ")".repeat(META_DEPTH_MAX + 2)
    );
    assert!(parse_meta(&deep).unwrap_err().contains("maximum"));
    let not_chain = format!("{}A", "!".repeat(META_DEPTH_MAX + 2));
    assert!(parse_meta(&not_chain).is_err());
}

#[test]
fn meta_rule_is_stored() {
    let model = parse("meta M (A + B) > 1 && !C");
    let (kind, test) = definition(&model, "M");
    assert_eq!(kind, RuleKind::Meta);
    let Test::Meta(expr) = test else {
        panic!("not a meta test")
    };
    let mut names = Vec::new();
    expr.for_each_rule(&mut |name| names.push(name.to_string()));
    assert_eq!(names, ["A", "B", "C"]);
}

#[test]
fn scores_describe_tflags_priority() {
    let model = parse(
        "score R 2.5\n\
         body R /x/\n\
         score S 0 1.5 (2) -3\n\
         body S /y/\n\
         describe R Says x\n\
         tflags R multiple maxhits=3 nice publish\n\
         tflags S net\n\
         tflags S learn noautolearn\n\
         priority R -100\n\
         required_score 6.5\n",
    );
    assert!(model.warnings.is_empty(), "{:?}", model.warnings);
    let r = model.get("R").unwrap();
    assert_eq!(r.scores, Some([2.5; 4]));
    assert_eq!(r.description.as_deref(), Some("Says x"));
    assert!(r.tflags.multiple);
    assert!(r.tflags.nice);
    assert_eq!(r.tflags.maxhits, Some(3));
    assert_eq!(r.tflags.other, ["publish"]);
    assert_eq!(r.priority, -100);
    let s = model.get("S").unwrap();
    assert_eq!(s.scores, Some([0.0, 1.5, 2.0, -3.0]));
    assert!(
        !s.tflags.net,
        "a later tflags line replaces the earlier one"
    );
    assert!(s.tflags.learn);
    assert_eq!(s.score(3), -3.0);
    assert_eq!(model.required_score, 6.5);
}

#[test]
fn default_scores_follow_spamassassin() {
    let model =
        parse("body PLAIN /a/\nbody __SUB /b/\nbody T_TEST /c/\nbody NICE /d/\ntflags NICE nice\n");
    assert_eq!(model.get("PLAIN").unwrap().score(0), 1.0);
    assert_eq!(model.get("__SUB").unwrap().score(0), 0.0);
    assert_eq!(model.get("T_TEST").unwrap().score(0), 0.01);
    assert_eq!(model.get("NICE").unwrap().score(0), -1.0);
    assert_eq!(parse("").required_score, 5.0);
}

#[test]
fn later_definition_replaces_earlier() {
    let model = parse("body R /old/\nscore R 3\nbody R /new/\n");
    assert_eq!(definition(&model, "R").1, Test::Regex(pattern("new", "")));
    assert_eq!(model.get("R").unwrap().scores, Some([3.0; 4]));
    assert_eq!(model.rules.len(), 1);
}

#[test]
fn conditionals_nest_and_else_flips() {
    let text = "\
ifplugin Mail::SpamAssassin::Plugin::BodyEval
  body IN_LOADED /a/
  ifplugin Mail::SpamAssassin::Plugin::NotInstalled
    body IN_MISSING /b/
  else
    body IN_ELSE /c/
  endif
endif
ifplugin Mail::SpamAssassin::Plugin::NotInstalled
  if (version >= 3.000000)
    body SKIPPED_INNER /d/
  else
    body SKIPPED_ELSE /e/
  endif
endif
if (version >= 4.000000)
  body VERSION_OK /f/
endif
if (version > 9.0)
  body VERSION_TOO_HIGH /g/
endif
if can(Mail::SpamAssassin::Conf::feature_bug6558_free)
  body CAN_OK /h/
endif
if !can(Mail::SpamAssassin::Conf::feature_not_there)
  body NOT_CAN_OK /i/
endif
if !plugin(Mail::SpamAssassin::Plugin::ReplaceTags)
  body NO_REPLACE /j/
endif
if plugin(Mail::SpamAssassin::Plugin::Bayes) && (version >= 3.004002)
  body BOTH /k/
endif
if can(Mail::SpamAssassin::Plugin::BodyEval::has_check_body_length)
  body PLUGIN_METHOD /l/
endif
if !(can(Mail::SpamAssassin::Conf::feature_bug6558_free))
  body NEGATED_GROUP /m/
endif
if has(Mail::SpamAssassin::Conf::feature_edns)
  body HAS_OK /n/
endif
if local_tests_only
  body LOCAL_ONLY /o/
endif
ifplugin Mail::SpamAssassin::Plugin::Dmarc
  body OLD_PLUGIN_NAME /p/
endif
";
    let model = parse(text);
    assert!(model.warnings.is_empty(), "{:?}", model.warnings);
    let defined: Vec<&str> = model
        .defined()
        .map(|(_, rule)| rule.name.as_str())
        .collect();
    assert_eq!(
        defined,
        [
            "IN_LOADED",
            "IN_ELSE",
            "VERSION_OK",
            "CAN_OK",
            "NOT_CAN_OK",
            "BOTH",
            "PLUGIN_METHOD",
            "HAS_OK",
            "LOCAL_ONLY",
            "OLD_PLUGIN_NAME"
        ]
    );
}

#[test]
fn plugin_set_is_a_parameter() {
    let text = "ifplugin Mail::SpamAssassin::Plugin::BodyEval\nbody R /x/\nendif\n\
                if can(Mail::SpamAssassin::Plugin::BodyEval::has_check_body_length)\nbody S /y/\nendif\n";
    let mut options = LoadOptions::default();
    options.plugins.clear();
    let model = parse_with(text, options.clone());
    assert_eq!(model.defined().count(), 0);

    let model = parse_with(
        &format!("loadplugin Mail::SpamAssassin::Plugin::BodyEval\n{text}"),
        options,
    );
    assert_eq!(model.defined().count(), 2);
}

#[test]
fn unbalanced_conditionals_warn() {
    let cases = [
        ("endif\nbody R /x/\n", "endif without"),
        ("else\n", "else without"),
        ("if (version > 1)\nelse\nelse\nendif\n", "second else"),
        ("if (version > 1)\nbody R /x/\n", "still open"),
        ("if bogus_word\nbody R /x/\nendif\n", "unknown name"),
        ("if can(x\nendif\n", "not closed"),
    ];
    for (text, expected) in cases {
        let model = parse(text);
        assert!(
            model
                .warnings
                .iter()
                .any(|warning| warning.message.contains(expected)),
            "text {text:?}: {:?}",
            model.warnings
        );
    }
}

#[test]
fn conditional_depth_is_limited() {
    let mut text = String::new();
    for _ in 0..CONDITIONAL_DEPTH_MAX + 5 {
        text.push_str("if (version > 1)\n");
    }
    text.push_str("body TOO_DEEP /x/\n");
    for _ in 0..CONDITIONAL_DEPTH_MAX + 5 {
        text.push_str("endif\n");
    }
    text.push_str("body AFTER /y/\n");
    let model = parse(&text);
    assert!(model.get("TOO_DEEP").is_none());
    assert!(model.get("AFTER").unwrap().definition.is_some());
    assert!(model
        .warnings
        .iter()
        .any(|warning| warning.message.contains("maximum")));
}

#[test]
fn lang_lines_apply_only_to_their_language() {
    let text =
        "lang de describe R Deutsch\ndescribe R English\nlang fr body FR_ONLY /x/\nbody R /y/\n";
    let model = parse(text);
    assert_eq!(
        model.get("R").unwrap().description.as_deref(),
        Some("English")
    );
    assert!(model.get("FR_ONLY").is_none());

    let options = LoadOptions {
        language: Some("de_DE.UTF-8".into()),
        ..LoadOptions::default()
    };
    let model = parse_with(
        "describe R English\nlang de describe R Deutsch\nbody R /y/\n",
        options,
    );
    assert_eq!(
        model.get("R").unwrap().description.as_deref(),
        Some("Deutsch")
    );
}

#[test]
fn unknown_directives_are_counted() {
    let model = parse("freemail_domains a.com b.com\nfreemail_domains c.com\nbayes_ignore_header X-Foo\nreport_safe 1\nreuse R\ntest R ok text\n");
    let counts = model.unknown_directive_counts();
    assert_eq!(counts.get("freemail_domains"), Some(&2));
    assert_eq!(counts.get("bayes_ignore_header"), Some(&1));
    assert_eq!(counts.get("report_safe"), Some(&1));
    assert!(!counts.contains_key("reuse"));
    assert!(!counts.contains_key("test"));
    assert!(model.warnings.is_empty());
}

#[test]
fn directive_names_fold_case_and_dashes() {
    let model = parse("BODY R /x/\nRequired-Score 7\n");
    assert!(model.get("R").unwrap().definition.is_some());
    assert_eq!(model.required_score, 7.0);
}

#[test]
fn broken_lines_warn_and_loading_continues() {
    let cases = [
        "body R cheap",
        "body R /unclosed",
        "body R /x/ trailing",
        "body 9R /x/",
        "body",
        "header R Subject ~~ /x/",
        "header R Subject:bogus =~ /x/",
        "header R Subject =~ /x/ [if-unset: y",
        "header R eval:no_parens",
        "header R eval:f('unclosed)",
        "score R",
        "score R 1 2",
        "score R abc",
        "score R NaN",
        "tflags R maxhits=x",
        "priority R high",
        "meta R A &&",
        "required_score lots",
        "replace_tag A",
        "loadplugin",
    ];
    for line in cases {
        let model = parse(&format!("{line}\nbody AFTER /ok/\n"));
        assert_eq!(
            model.warnings.len(),
            1,
            "line {line:?}: {:?}",
            model.warnings
        );
        assert_eq!(model.warnings[0].origin.line, 1, "line {line:?}");
        assert!(
            model.get("AFTER").unwrap().definition.is_some(),
            "line {line:?}"
        );
    }
}

#[test]
fn long_regex_is_rejected() {
    let long = format!("body R /{}/\n", "a".repeat(REGEX_LEN_MAX + 1));
    let model = parse(&long);
    assert!(
        model.warnings[0].message.contains("maximum"),
        "{:?}",
        model.warnings
    );
}

#[test]
fn long_line_is_skipped() {
    let long = format!("describe R {}\nbody R /x/\n", "a".repeat(LINE_LEN_MAX + 1));
    let model = parse(&long);
    assert!(model.warnings[0].message.contains("maximum"));
    assert!(model.get("R").unwrap().description.is_none());
}

#[test]
fn non_utf8_bytes_become_hex_escapes() {
    let source = MemorySource {
        files: [(PathBuf::from("/r.cf"), b"body R /caf\xe9/\n".to_vec())]
            .into_iter()
            .collect(),
    };
    let model = load(&source, &[PathBuf::from("/r.cf")], LoadOptions::default()).unwrap();
    assert_eq!(
        definition(&model, "R").1,
        Test::Regex(pattern("caf\\xE9", ""))
    );
}

#[test]
fn rule_limit_is_fatal() {
    let mut text = String::new();
    for index in 0..=RULES_MAX {
        text.push_str(&format!("score R{index} 1\n"));
    }
    let source = MemorySource::new([("/r.cf", text.as_str())]);
    let error = load(&source, &[PathBuf::from("/r.cf")], LoadOptions::default()).unwrap_err();
    assert_eq!(error, LoadError::TooManyRules { max: RULES_MAX });
}

#[test]
fn include_reads_relative_files() {
    let source = MemorySource::new([
        (
            "/rules/main.cf",
            "body A /a/\ninclude sub/extra.cf\nbody C /c/\n",
        ),
        ("/rules/sub/extra.cf", "body B /b/\ninclude ../last.inc\n"),
        ("/rules/last.inc", "score B 4\n"),
    ]);
    let model = load(
        &source,
        &[PathBuf::from("/rules/main.cf")],
        LoadOptions::default(),
    )
    .unwrap();
    assert!(model.warnings.is_empty(), "{:?}", model.warnings);
    let names: Vec<&str> = model.rules.iter().map(|rule| rule.name.as_str()).collect();
    assert_eq!(names, ["A", "B", "C"]);
    assert_eq!(model.get("B").unwrap().scores, Some([4.0; 4]));
    assert_eq!(
        model.files,
        ["/rules/main.cf", "/rules/sub/extra.cf", "/rules/last.inc"]
    );
}

#[test]
fn include_loop_is_refused() {
    let source = MemorySource::new([
        ("/r/a.cf", "body A /a/\ninclude b.cf\n"),
        ("/r/b.cf", "body B /b/\ninclude ./a.cf\n"),
    ]);
    let model = load(&source, &[PathBuf::from("/r/a.cf")], LoadOptions::default()).unwrap();
    assert_eq!(model.files.len(), 2);
    assert_eq!(model.warnings.len(), 1);
    assert!(
        model.warnings[0].message.contains("include loop"),
        "{:?}",
        model.warnings
    );
}

#[test]
fn include_self_is_refused() {
    let source = MemorySource::new([("/r/a.cf", "include a.cf\n")]);
    let model = load(&source, &[PathBuf::from("/r/a.cf")], LoadOptions::default()).unwrap();
    assert!(model.warnings[0].message.contains("loop"));
}

#[test]
fn include_depth_is_limited() {
    let texts: Vec<(String, String)> = (0..INCLUDE_DEPTH_MAX + 3)
        .map(|depth| {
            (
                format!("/r/{depth}.cf"),
                format!("body R{depth} /x/\ninclude {}.cf\n", depth + 1),
            )
        })
        .collect();
    let source = MemorySource::new(
        texts
            .iter()
            .map(|(path, text)| (path.as_str(), text.as_str())),
    );
    let model = load(&source, &[PathBuf::from("/r/0.cf")], LoadOptions::default()).unwrap();
    assert_eq!(model.files.len(), INCLUDE_DEPTH_MAX + 1);
    assert!(model
        .warnings
        .iter()
        .any(|warning| warning.message.contains("nesting exceeds")));
}

#[test]
fn missing_include_warns() {
    let source = MemorySource::new([("/r/a.cf", "include nothere.cf\nbody A /a/\n")]);
    let model = load(&source, &[PathBuf::from("/r/a.cf")], LoadOptions::default()).unwrap();
    assert!(model.warnings[0].message.contains("not found"));
    assert!(model.get("A").is_some());
}

#[test]
fn skipped_include_is_not_read() {
    let source = MemorySource::new([("/r/a.cf", "ifplugin Nope\ninclude nothere.cf\nendif\n")]);
    let model = load(&source, &[PathBuf::from("/r/a.cf")], LoadOptions::default()).unwrap();
    assert!(model.warnings.is_empty());
}

#[test]
fn directory_loads_pre_then_cf_in_lexical_order() {
    let source = MemorySource::new([
        ("/site/local.cf", "score A 9\n"),
        ("/rules/20_b.cf", "body B /b/\nscore A 2\n"),
        ("/rules/10_a.cf", "body A /a/\nscore A 1\n"),
        ("/rules/notes.txt", "body IGNORED /x/\n"),
        (
            "/site/init.pre",
            "loadplugin Mail::SpamAssassin::Plugin::Custom\n",
        ),
    ]);
    let mut options = LoadOptions::default();
    options.plugins.clear();
    let paths = [PathBuf::from("/rules"), PathBuf::from("/site")];
    let model = load(&source, &paths, options).unwrap();
    assert_eq!(
        model.files,
        [
            "/site/init.pre",
            "/rules/10_a.cf",
            "/rules/20_b.cf",
            "/site/local.cf"
        ]
    );
    assert_eq!(model.get("A").unwrap().scores, Some([9.0; 4]));
    assert!(model.get("IGNORED").is_none());
    assert_eq!(model.plugins, ["Mail::SpamAssassin::Plugin::Custom"]);
}

#[test]
fn missing_directory_is_fatal() {
    let error = load_dir(
        std::path::Path::new("/nonexistent/ringmail-rules"),
        LoadOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(error, LoadError::Io { .. }), "{error:?}");
}

#[test]
fn file_limit_is_fatal() {
    let texts: Vec<String> = (0..FILES_MAX + 1)
        .map(|index| format!("/r/{index:05}.cf"))
        .collect();
    let source = MemorySource::new(texts.iter().map(|path| (path.as_str(), "")));
    let error = load(&source, &[PathBuf::from("/r")], LoadOptions::default()).unwrap_err();
    assert_eq!(error, LoadError::TooManyFiles { max: FILES_MAX });
}

#[test]
fn replace_tags_expand_listed_rules_only() {
    let text = "\
replace_tag  A  [a@4]
replace_tag  B  b
replace_inter W1 \\W?
body R_TAGGED /<inter W1><A><B>/i
body R_PLAIN /<A>/
replace_rules R_TAGGED
";
    let model = parse(text);
    assert_eq!(
        definition(&model, "R_TAGGED").1,
        Test::Regex(pattern("\\W?[a@4]\\W?b", "i"))
    );
    assert_eq!(
        definition(&model, "R_PLAIN").1,
        Test::Regex(pattern("<A>", ""))
    );

    let mut options = LoadOptions::default();
    options.plugins.clear();
    let model = parse_with(text, options);
    assert_eq!(
        definition(&model, "R_TAGGED").1,
        Test::Regex(pattern("<inter W1><A><B>", "i"))
    );
}

#[test]
fn embedded_rules_load_cleanly() {
    let model = load_embedded(LoadOptions::default()).unwrap();
    assert!(model.warnings.is_empty(), "{:?}", model.warnings);
    assert!(model.defined().count() >= 30);
    assert_eq!(model.required_score, 5.0);
    for (_, rule) in model.defined() {
        if !rule.name.starts_with("__") {
            assert!(
                rule.description.is_some(),
                "rule {} lacks a description",
                rule.name
            );
            assert!(rule.scores.is_some(), "rule {} lacks a score", rule.name);
        }
    }
}

/// Returns default locations under `root` that do not exist yet.
fn locations_under(root: &std::path::Path) -> DefaultLocations {
    DefaultLocations {
        updates_dir: root.join("var-lib"),
        stock_dir: root.join("share"),
        site_dir: root.join("etc"),
    }
}

#[test]
fn default_rules_without_stock_dir_are_embedded() {
    let root = tempfile::tempdir().unwrap();
    let locations = locations_under(root.path());
    // A site directory alone, or a stock directory without `.cf` files,
    // does not count as SpamAssassin being installed.
    std::fs::create_dir_all(&locations.site_dir).unwrap();
    std::fs::write(locations.site_dir.join("local.cf"), "body SITE /x/\n").unwrap();
    std::fs::create_dir_all(&locations.stock_dir).unwrap();
    std::fs::write(locations.stock_dir.join("README"), "not rules").unwrap();

    let (model, paths) = load_default_from(&locations, LoadOptions::default()).unwrap();
    let embedded = load_embedded(LoadOptions::default()).unwrap();
    assert!(paths.is_empty(), "{paths:?}");
    assert!(model.get("SITE").is_none());
    assert_eq!(model.rules.len(), embedded.rules.len());
    assert_eq!(model.files, embedded.files);
}

#[test]
fn default_rules_read_stock_then_site_dir() {
    let root = tempfile::tempdir().unwrap();
    let locations = locations_under(root.path());
    std::fs::create_dir_all(&locations.stock_dir).unwrap();
    std::fs::write(
        locations.stock_dir.join("20_stock.cf"),
        "body STOCK /x/\nscore STOCK 1\n",
    )
    .unwrap();
    std::fs::create_dir_all(&locations.site_dir).unwrap();
    std::fs::write(locations.site_dir.join("local.cf"), "score STOCK 3\n").unwrap();

    let (model, paths) = load_default_from(&locations, LoadOptions::default()).unwrap();
    assert_eq!(
        paths,
        [locations.stock_dir.clone(), locations.site_dir.clone()]
    );
    assert_eq!(model.get("STOCK").unwrap().scores, Some([3.0; 4]));
}

#[test]
fn default_rules_prefer_newest_update_dir() {
    let root = tempfile::tempdir().unwrap();
    let locations = locations_under(root.path());
    std::fs::create_dir_all(&locations.stock_dir).unwrap();
    std::fs::write(locations.stock_dir.join("20_stock.cf"), "body STOCK /x/\n").unwrap();
    for (version, rule) in [("3.004006", "OLD"), ("4.000001", "NEW")] {
        let dir = locations
            .updates_dir
            .join(version)
            .join("updates_spamassassin_org");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("20_rules.cf"), format!("body {rule} /x/\n")).unwrap();
    }

    let (model, paths) = load_default_from(&locations, LoadOptions::default()).unwrap();
    assert_eq!(paths.len(), 1, "{paths:?}");
    assert!(paths[0].ends_with("4.000001/updates_spamassassin_org"));
    assert!(model.get("NEW").is_some());
    assert!(model.get("OLD").is_none());
    assert!(model.get("STOCK").is_none());
}

#[test]
fn delimited_regex_table() {
    let cases: &[(&str, &str, &str, &str)] = &[
        ("/abc/i rest", "abc", "i", " rest"),
        ("/a\\/b/", "a\\/b", "", ""),
        ("m{a{2}b}", "a{2}b", "", ""),
        ("m{a\\}b}x", "a\\}b", "x", ""),
        ("m<a>", "a", "", ""),
        ("m[a[bc]]", "a[bc]", "", ""),
        ("m#x#", "x", "", ""),
        ("m|a| rest", "a", "", " rest"),
    ];
    for (text, source, flags, rest) in cases {
        let (parsed, remaining) = parse_delimited_regex(text).unwrap();
        assert_eq!(
            (parsed.source.as_str(), parsed.flags.as_str(), remaining),
            (*source, *flags, *rest),
            "text {text:?}"
        );
    }
    for text in ["abc", "m", "ma/", "/abc", "m{abc"] {
        assert!(parse_delimited_regex(text).is_err(), "text {text:?}");
    }
}

#[test]
fn stock_spamassassin_rules_load_without_warnings() {
    let stock = std::path::Path::new("/usr/share/spamassassin");
    if !stock.join("50_scores.cf").exists() {
        eprintln!("skipped: SpamAssassin's rules are not installed");
        return;
    }
    let model = load(
        &FileSource,
        &[stock.to_path_buf(), PathBuf::from("/etc/spamassassin")],
        LoadOptions::default(),
    )
    .unwrap();
    assert!(
        model.warnings.is_empty(),
        "{:?}",
        &model.warnings[..model.warnings.len().min(10)]
    );
    assert!(model.files.len() > 50);
    assert!(model.defined().count() > 2_500);
    assert_eq!(model.required_score, 5.0);
    // A rule from 20_body_tests.cf with its four scores from 50_scores.cf.
    let rule = model
        .get("DEAR_SOMETHING")
        .expect("DEAR_SOMETHING is defined");
    assert_eq!(rule.kind(), Some(RuleKind::Body));
    assert_eq!(rule.scores, Some([1.999, 1.731, 1.787, 1.973]));
}
