//! End-to-end tests of `ringmail spam check`: the text and JSON lines, files,
//! directories and standard input, the exit statuses, and a few corpus
//! messages with SpamAssassin's stock rules.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

/// A small rule set where the word "lottery" makes a message spam.
const RULES: &str = "required_score 5.0\n\
body LOTTERY_WORD /\\blottery\\b/i\nscore LOTTERY_WORD 4.0\n\
header FROM_WINNER From =~ /winner/i\nscore FROM_WINNER 2.0\n\
header NO_DATE Date =~ /^$/\nscore NO_DATE 0.5\n";

const SPAM: &str = "From: winner@example.com\nSubject: lottery\n\nYou won the lottery.\n";
const HAM: &str = "From: jane@example.com\nDate: Mon, 1 Jan 2024 10:00:00 +0000\nSubject: lunch\n\nSee you at noon.\n";

/// A temporary directory with `rules/local.cf` and message files.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("rules")).unwrap();
        std::fs::write(dir.path().join("rules/local.cf"), RULES).unwrap();
        Setup { dir }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn write(&self, relative: &str, text: &str) -> String {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    fn rules(&self) -> String {
        self.path("rules").display().to_string()
    }

    fn check(&self, args: &[&str], stdin_text: Option<&str>) -> Output {
        let rules = self.rules();
        let mut all = vec!["spam", "check", "--rules", rules.as_str()];
        all.extend_from_slice(args);
        common::run_ringmail(&all, stdin_text, self.dir.path())
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn text_line_per_message() {
    let setup = Setup::new();
    let spam = setup.write("spam.eml", SPAM);
    let ham = setup.write("ham.eml", HAM);
    let output = setup.check(&[&spam, &ham], None);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(
        lines[0],
        format!("{spam} 6.5 spam FROM_WINNER,LOTTERY_WORD,NO_DATE")
    );
    assert_eq!(lines[1], format!("{ham} 0.0 ham none"));
}

#[test]
fn exit_code_flag_reports_spam() {
    let setup = Setup::new();
    let spam = setup.write("spam.eml", SPAM);
    let ham = setup.write("ham.eml", HAM);
    let cases: &[(&[&str], i32)] = &[
        (&[&spam], 0),
        (&["--exit-code", &spam], 1),
        (&["--exit-code", &ham], 0),
        (&["--exit-code", &ham, &spam], 1),
    ];
    for (args, expected) in cases {
        let output = setup.check(args, None);
        assert_eq!(
            output.status.code(),
            Some(*expected),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(stderr(&output).is_empty(), "{args:?}: {}", stderr(&output));
    }
}

#[test]
fn timing_flag_reports_counts_on_stderr() {
    let setup = Setup::new();
    let spam = setup.write("spam.eml", SPAM);
    let missing = setup.path("missing.eml").display().to_string();
    let output = setup.check(&["--timing", &spam, &missing], None);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_eq!(stdout(&output).lines().count(), 1, "{}", stdout(&output));

    let errors = stderr(&output);
    let line = errors
        .lines()
        .find(|line| line.starts_with("timing: "))
        .unwrap_or_else(|| panic!("no timing line in {errors}"));
    let fields: Vec<(&str, &str)> = line["timing: ".len()..]
        .split(' ')
        .map(|field| field.split_once('=').unwrap())
        .collect();
    let names: Vec<&str> = fields.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        names,
        ["compile_ms", "score_ms", "messages", "errors", "msg_per_s"]
    );
    assert_eq!(fields[2].1, "1");
    assert_eq!(fields[3].1, "1");
    for (name, value) in &fields {
        let number: f64 = value.parse().unwrap_or_else(|_| panic!("{name}={value}"));
        assert!(number >= 0.0, "{name}={value}");
    }
}

#[test]
fn unreadable_file_exits_2_after_scoring_others() {
    let setup = Setup::new();
    let ham = setup.write("ham.eml", HAM);
    let missing = setup.path("missing.eml").display().to_string();
    let output = setup.check(&["--exit-code", &missing, &ham], None);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stdout(&output).contains("ham.eml 0.0 ham"),
        "{}",
        stdout(&output)
    );
    let errors = stderr(&output);
    assert!(errors.contains("missing.eml: cannot open"), "{errors}");
    assert!(
        errors.contains("1 of 2 inputs could not be scored"),
        "{errors}"
    );
}

#[test]
fn missing_rules_dir_exits_2() {
    let setup = Setup::new();
    let ham = setup.write("ham.eml", HAM);
    let output = common::run_ringmail(
        &["spam", "check", "--rules", "/nonexistent/rules", &ham],
        None,
        setup.dir.path(),
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(stdout(&output).is_empty());
    assert!(!stderr(&output).is_empty());
}

#[test]
fn json_object_per_message() {
    let setup = Setup::new();
    let spam = setup.write("spam.eml", SPAM);
    let missing = setup.path("missing.eml").display().to_string();
    let output = setup.check(&["--json", &spam, &missing], None);
    assert_eq!(output.status.code(), Some(2));
    let text = stdout(&output);
    let objects: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is JSON"))
        .collect();
    assert_eq!(objects.len(), 2, "{text}");
    assert_eq!(objects[0]["path"], spam.as_str());
    assert_eq!(objects[0]["verdict"], "spam");
    assert_eq!(objects[0]["score"], 6.5);
    assert_eq!(objects[0]["required"], 5.0);
    assert_eq!(
        objects[0]["tests"],
        serde_json::json!(["FROM_WINNER", "LOTTERY_WORD", "NO_DATE"])
    );
    assert_eq!(objects[0]["hits"][1]["name"], "LOTTERY_WORD");
    assert_eq!(objects[0]["hits"][1]["score"], 4.0);
    assert_eq!(objects[1]["path"], missing.as_str());
    assert!(objects[1]["error"]
        .as_str()
        .unwrap()
        .contains("cannot open"));
}

#[test]
fn directory_is_read_recursively_in_order() {
    let setup = Setup::new();
    let second = setup.write("mail/b.eml", HAM);
    let first = setup.write("mail/a.eml", SPAM);
    let nested = setup.write("mail/sub/c.eml", HAM);
    let mail = setup.path("mail").display().to_string();
    let output = setup.check(&[&mail], None);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let paths: Vec<String> = stdout(&output)
        .lines()
        .map(|line| line.split(' ').next().unwrap().to_string())
        .collect();
    assert_eq!(paths, vec![first, second, nested]);
}

#[test]
fn stdin_dash_is_one_message() {
    let setup = Setup::new();
    let output = setup.check(&["--exit-code", "-"], Some(SPAM));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "- 6.5 spam FROM_WINNER,LOTTERY_WORD,NO_DATE\n"
    );
}

#[test]
fn broken_mime_is_scored_not_rejected() {
    let setup = Setup::new();
    let cases = [
        (
            "no-boundary.eml",
            "Subject: lottery\nContent-Type: multipart/mixed\n\n--x\n\nbody\n",
        ),
        (
            "bad-base64.eml",
            "Subject: x\nContent-Transfer-Encoding: base64\n\n!!!!not base64 lottery\n",
        ),
        (
            "charset.eml",
            "Subject: x\nContent-Type: text/plain; charset=unknown-42\n\nlottery\n",
        ),
        ("empty.eml", ""),
        ("binary.eml", "\u{0}\u{1}\u{2}\n\n\u{ff}"),
    ];
    let paths: Vec<String> = cases
        .iter()
        .map(|(name, text)| setup.write(name, text))
        .collect();
    let args: Vec<&str> = paths.iter().map(String::as_str).collect();
    let output = setup.check(&args, None);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output).lines().count(), cases.len());
}

/// Returns multiparts nested `depth` deep with a text part at the bottom.
fn nested_multipart(depth: usize) -> String {
    let mut message = String::from("Subject: nested\n");
    for level in 0..depth {
        message.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"b{level}\"\n\n--b{level}\n"
        ));
    }
    message.push_str("Content-Type: text/plain\n\nbottom text\n");
    message
}

#[test]
fn broken_fixtures_scored_with_default_rules() {
    // The handcrafted files of the classifier's tests, plus generated deep
    // nesting and a 10 MB line, scored with the default rules: the stock
    // rules where SpamAssassin is installed.
    let setup = Setup::new();
    let fixtures = common::repo_path("spam/tests/fixtures/broken");
    let fixture_count = std::fs::read_dir(&fixtures).unwrap().count();
    let nested_100 = setup.write("generated/nested-100.eml", &nested_multipart(100));
    let nested_10000 = setup.write("generated/nested-10000.eml", &nested_multipart(10_000));
    let mut line = String::from("Subject: long line\n\n");
    while line.len() < 10 * 1024 * 1024 {
        line.push_str("cheap pills http://x.example/ ");
    }
    let long_line = setup.write("generated/long-line.eml", &line);

    let fixtures = fixtures.display().to_string();
    let args = [
        "spam",
        "check",
        "--json",
        &fixtures,
        &nested_100,
        &nested_10000,
        &long_line,
    ];
    let output = common::run_ringmail(&args, None, setup.dir.path());
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    let objects: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is JSON"))
        .collect();
    assert_eq!(objects.len(), fixture_count + 3, "{text}");
    for object in &objects {
        assert!(object["score"].as_f64().unwrap().is_finite(), "{object}");
    }
}

#[test]
fn broken_message_on_stdin_scored() {
    let setup = Setup::new();
    let message = "Subject: nul\u{0}inside\nno colon here\nContent-Type: multipart/mixed; boundary=z\n\n--z\n\nlottery\n";
    let output = setup.check(&["--exit-code", "-"], Some(message));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).starts_with("- "), "{}", stdout(&output));
}

#[test]
fn symlink_loop_stops_at_depth_max() {
    let setup = Setup::new();
    setup.write("mail/a.eml", HAM);
    std::os::unix::fs::symlink(setup.path("mail"), setup.path("mail/loop")).unwrap();
    let mail = setup.path("mail").display().to_string();
    let output = setup.check(&[&mail], None);
    assert_eq!(output.status.code(), Some(2));
    let errors = stderr(&output);
    assert!(
        errors.contains("directory nesting exceeds the maximum of 32"),
        "{errors}"
    );
    // a.eml at each of the 32 levels read.
    assert_eq!(stdout(&output).lines().count(), 32);
}

/// Returns a few corpus messages, or `None` when the corpus is absent.
fn corpus_messages() -> Option<Vec<PathBuf>> {
    let home = std::env::var_os("HOME")?;
    let root = Path::new(&home).join(".cache/ringmail/spamassassin-corpus-0.2.3/eml");
    let names = [
        "easy-ham-1/00001.7c53336b37003a9286aba55d2945844c.eml",
        "spam-1/00001.7848dde101aa985090474a91ec93fcf0.eml",
        "spam-1/00002.d94f1b97e48ed3b553b3508d116e6a09.eml",
    ];
    let paths: Vec<PathBuf> = names.iter().map(|name| root.join(name)).collect();
    paths.iter().all(|path| path.is_file()).then_some(paths)
}

#[test]
fn corpus_messages_with_default_rules() {
    let Some(paths) = corpus_messages() else {
        eprintln!("skipped: corpus not found, run `python3 tests/corpus/fetch.py`");
        return;
    };
    let mut args = vec![
        "spam".to_string(),
        "check".to_string(),
        "--json".to_string(),
    ];
    args.extend(paths.iter().map(|path| path.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = common::run_ringmail(&args, None, Path::new("."));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    let objects: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is JSON"))
        .collect();
    assert_eq!(objects.len(), 3);
    for object in &objects {
        assert!(object["score"].as_f64().unwrap().is_finite(), "{object}");
    }

    // SpamAssassin 4.0.1 lists MAILING_LIST_MULTI for the ham message and
    // the diet-subject spam; both are header rules Ringmail runs.
    for index in [0, 2] {
        let tests = objects[index]["tests"].as_array().unwrap();
        assert!(
            tests.iter().any(|name| name == "MAILING_LIST_MULTI"),
            "{}",
            objects[index]
        );
    }
}

/// Rules that hit only through the eval functions and the Bayes store.
const EVAL_AND_BAYES_RULES: &str = "required_score 5.0\n\
header MISSING_TO eval:check_for_missing_to_header()\nscore MISSING_TO 1.0\n\
body BAYES_99 eval:check_bayes('0.99', '1.00')\nscore BAYES_99 3.5\n\
body BAYES_00 eval:check_bayes('0.00', '0.01')\nscore BAYES_00 -1.9\n";

/// Returns a message of `class` ("spam" or "ham") whose body words set it apart.
fn labelled(class: &str, index: usize) -> String {
    let words = match class {
        "spam" => "cheap pills casino jackpot viagra bonus unclaimed prize",
        _ => "meeting agenda minutes review budget quarterly roadmap lunch",
    };
    format!(
        "From: sender{index}@example.org\nTo: someone@example.net\nSubject: note {index}\n\
         Message-ID: <{class}-{index}@example.org>\n\n{words} {words}\n"
    )
}

#[test]
fn check_uses_evals_and_bayes() {
    let setup = Setup::new();
    std::fs::write(setup.path("rules/local.cf"), EVAL_AND_BAYES_RULES).unwrap();
    // The store classifies only after 200 spam and 200 ham were learned.
    for index in 0..200 {
        setup.write(&format!("train/spam/{index}.eml"), &labelled("spam", index));
        setup.write(&format!("train/ham/{index}.eml"), &labelled("ham", index));
    }
    let data = setup.path("data");
    let data = data.to_str().unwrap();
    let spam_dir = setup.path("train/spam");
    let ham_dir = setup.path("train/ham");
    let learned = common::run_ringmail(
        &[
            "--data",
            data,
            "spam",
            "learn",
            "--spam",
            spam_dir.to_str().unwrap(),
            "--ham",
            ham_dir.to_str().unwrap(),
        ],
        None,
        setup.dir.path(),
    );
    assert!(learned.status.success(), "spam learn: {learned:?}");

    // No To field: the eval rule hits. Spam words: BAYES_99 hits.
    let spam = setup.write(
        "spam.eml",
        "From: x@example.org\nSubject: hi\n\ncheap pills casino jackpot viagra bonus\n",
    );
    let ham = setup.write("ham.eml", &labelled("ham", 999));
    let rules = setup.rules();
    let output = common::run_ringmail(
        &[
            "--data", data, "spam", "check", "--rules", &rules, &spam, &ham,
        ],
        None,
        setup.dir.path(),
    );
    let text = stdout(&output);
    assert!(output.status.success(), "{text}\n{}", stderr(&output));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].contains("MISSING_TO") && lines[0].contains("BAYES_99"),
        "{text}"
    );
    assert!(
        lines[1].contains("BAYES_00") && !lines[1].contains("MISSING_TO"),
        "{text}"
    );
}
