//! End-to-end tests of `ringmail spam rules`: the text and JSON statistics
//! for Ringmail's own rule set and for SpamAssassin's stock rules, the rule
//! listing, and the exit status for a missing rules directory.

mod common;

use std::process::{Command, Output};

fn spam_rules(args: &[&str]) -> Output {
    Command::new(common::ringmail_bin())
        .args(["spam", "rules"])
        .args(args)
        .output()
        .expect("ringmail runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn embedded_rules_dir() -> String {
    common::repo_path("spam/rules").display().to_string()
}

#[test]
fn stats_text_lists_every_kind() {
    let output = spam_rules(&["--stats", "--rules", &embedded_rules_dir()]);
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    for kind in ["header", "body", "rawbody", "uri", "full", "meta", "all"] {
        assert!(
            text.lines().any(|line| line.starts_with(kind)),
            "no {kind} row in:\n{text}"
        );
    }
    assert!(text.contains("warnings: 0"), "{text}");
}

#[test]
fn stats_json_has_counts() {
    let output = spam_rules(&["--stats", "--json", "--rules", &embedded_rules_dir()]);
    assert!(output.status.success(), "{output:?}");
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).expect("valid JSON");
    assert_eq!(value["total"]["unsupported"], 0);
    assert!(value["kinds"]["body"]["compiled"].as_u64().unwrap() >= 10);
    assert_eq!(value["warnings"].as_array().unwrap().len(), 0);
}

#[test]
fn listing_prints_one_rule_per_line() {
    let output = spam_rules(&["--rules", &embedded_rules_dir()]);
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    let line = text
        .lines()
        .find(|line| line.starts_with("RM_PHARMACY\t"))
        .expect("RM_PHARMACY listed");
    assert_eq!(
        line,
        "RM_PHARMACY\tbody\t1.5\tBody names prescription drugs"
    );
}

#[test]
fn missing_rules_dir_fails_with_status_1() {
    let output = spam_rules(&["--stats", "--rules", "/nonexistent/ringmail-rules"]);
    assert_eq!(output.status.code(), Some(1));
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(
        error.contains("cannot read rules from /nonexistent/ringmail-rules"),
        "{error}"
    );
}

#[test]
fn stock_rules_stats() {
    if !std::path::Path::new("/usr/share/spamassassin/50_scores.cf").exists() {
        eprintln!("skipped: SpamAssassin's rules are not installed");
        return;
    }
    let output = spam_rules(&["--stats", "--json"]);
    assert!(output.status.success(), "{output:?}");
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).expect("valid JSON");
    eprintln!("{}", serde_json::to_string_pretty(&value["total"]).unwrap());
    let body = &value["kinds"]["body"];
    let compiled = body["compiled"].as_u64().unwrap() + body["fallback"].as_u64().unwrap();
    assert!(compiled > 500, "{body}");
    assert!(
        value["unknown_directives"]["freemail_domains"]
            .as_u64()
            .unwrap()
            > 0
    );
    // Every stock redirector_pattern line compiles.
    let redirectors = value["unknown_directives"]["redirector_pattern"]
        .as_u64()
        .unwrap();
    assert!(redirectors > 0);
    assert_eq!(value["redirector_patterns"].as_u64().unwrap(), redirectors);
}

/// Rules with one of each outcome that `--stats` counts per kind.
const OUTCOME_RULES: &str = "\
header HEADER_OK Subject =~ /ok/\n\
header HEADER_PERL_CODE Subject =~ /(?{ print 1 })/\n\
body BODY_RECURSION /(?R)/\n\
body BODY_LOOKAHEAD /free(?=dom)/\n\
body BODY_EVAL_MISSING eval:no_such_function_here()\n\
header HEADER_EVAL_IMPLEMENTED eval:check_for_missing_to_header()\n\
uri URI_OK /example/\n\
some_unknown_directive one\n\
some_unknown_directive two\n\
redirector_pattern /^http:\\/\\/r\\.example\\/(.*)$/i\n\
redirector_pattern /(unclosed/\n";

#[test]
fn stats_count_each_outcome_per_kind() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("local.cf"), OUTCOME_RULES).unwrap();
    let rules = dir.path().display().to_string();
    let output = spam_rules(&["--stats", "--json", "--rules", &rules]);
    assert!(output.status.success(), "{output:?}");
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).expect("valid JSON");

    let header = &value["kinds"]["header"];
    assert_eq!(header["total"], 3, "{header}");
    assert_eq!(header["compiled"], 1, "{header}");
    assert_eq!(header["unsupported"], 1, "{header}");
    assert_eq!(header["eval_implemented"], 1, "{header}");
    let body = &value["kinds"]["body"];
    assert_eq!(body["total"], 3, "{body}");
    assert_eq!(body["unsupported"], 1, "{body}");
    assert_eq!(body["fallback"], 1, "{body}");
    assert_eq!(body["eval_missing"], 1, "{body}");
    assert_eq!(value["kinds"]["uri"]["compiled"], 1);
    assert_eq!(value["missing_evals"]["no_such_function_here"], 1);
    assert_eq!(value["unknown_directives"]["some_unknown_directive"], 2);
    assert_eq!(value["redirector_patterns"], 1);
    let failures = value["failures"].as_array().unwrap();
    assert!(
        failures.iter().any(|failure| failure["rule"]
            .as_str()
            .unwrap()
            .starts_with("redirector_pattern /(unclosed/")),
        "{failures:?}"
    );
    assert_eq!(value["warnings"].as_array().unwrap().len(), 0);

    // The text form lists the same kinds, one row each.
    let output = spam_rules(&["--stats", "--rules", &rules]);
    let text = stdout(&output);
    assert!(output.status.success(), "{output:?}");
    assert!(text.lines().any(|line| line.starts_with("body")), "{text}");
}
