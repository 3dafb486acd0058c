//! Which rules Ringmail runs as SpamAssassin 4.0.1 runs them with network
//! tests and Bayes off, for comparisons of rule hits between the two.
//!
//! [`unsupported_reasons`] returns, per rule id, `None` for a supported rule
//! or the reason it is not:
//! - `net`: `tflags net`, a rule that needs DNS or other network lookups;
//! - `bayes`: `tflags learn`, a `BAYES_` name or `check_bayes`;
//! - `regex`: no regex engine compiled the pattern;
//! - `eval`: `eval::evaluate`, or the scorer's tests that read the rule
//!   set's settings (`SettingEvals`), return `None` for the function or its
//!   arguments. This is found by calling it
//!   once on a small probe message with a text and an HTML part, because
//!   HTML evals check their arguments only when a message has HTML;
//! - `meta`: the meta rule reads a defined rule that is unsupported, so its
//!   result can differ even when its own expression is evaluated right.
//!
//! A supported rule can still disagree with SpamAssassin. The reasons mark
//! only where Ringmail knowingly does something else.

use std::collections::HashSet;

use ringmail_spam::compile::CompileStats;
use ringmail_spam::prepare::Prepared;
use ringmail_spam::rules::{RuleModel, Test};
use ringmail_spam::score::setting_evals::SettingEvals;

/// A message with the usual header fields and a text and an HTML part,
/// for calls that find out whether an eval function accepts a rule's
/// arguments.
const PROBE_MESSAGE: &[u8] = b"From: probe@example.org\r\n\
To: probe@example.org\r\n\
Subject: probe\r\n\
Date: Thu, 1 Jan 2026 00:00:00 +0000\r\n\
Message-ID: <probe@example.org>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=probe\r\n\
\r\n\
--probe\r\n\
Content-Type: text/plain\r\n\
\r\n\
probe\r\n\
--probe\r\n\
Content-Type: text/html\r\n\
\r\n\
<html><body><p>probe</p></body></html>\r\n\
--probe--\r\n";

/// Returns, for every rule of `model` by id, `None` when Ringmail supports
/// it or the reason it does not (see the module doc). `stats` is the
/// result of compiling `model`, which names the rules no engine compiled.
pub fn unsupported_reasons(model: &RuleModel, stats: &CompileStats) -> Vec<Option<String>> {
    let failed: HashSet<&str> = stats
        .failures
        .iter()
        .map(|failure| failure.rule.as_str())
        .collect();
    let probe = Prepared::new(PROBE_MESSAGE);
    let setting_evals = SettingEvals::from_model(model);
    let mut reasons: Vec<Option<String>> = model
        .rules
        .iter()
        .map(|rule| own_reason(rule, &failed, &probe, &setting_evals))
        .collect();
    mark_metas(model, &mut reasons);
    reasons
}

/// Returns the reason a rule is unsupported on its own, without looking
/// at the rules a meta reads.
fn own_reason(
    rule: &ringmail_spam::rules::Rule,
    failed: &HashSet<&str>,
    probe: &Prepared<'_>,
    setting_evals: &SettingEvals,
) -> Option<String> {
    let (_, test) = rule.definition.as_ref()?;
    if rule.tflags.net {
        return Some("net".to_string());
    }
    if rule.tflags.learn || rule.name.starts_with("BAYES_") {
        return Some("bayes".to_string());
    }
    match test {
        Test::Eval(call) if call.function == "check_bayes" => Some("bayes".to_string()),
        Test::Eval(call) => {
            let result = if SettingEvals::handles(&call.function) {
                setting_evals.evaluate(&call.function, &call.args, probe)
            } else {
                ringmail_spam::eval::evaluate(&call.function, &call.args, probe)
            };
            result.is_none().then(|| format!("eval {}", call.function))
        }
        Test::Regex(_) | Test::Header { .. } if failed.contains(rule.name.as_str()) => {
            Some("regex".to_string())
        }
        _ => None,
    }
}

/// Marks as unsupported every meta rule that reads an unsupported defined
/// rule, repeating until nothing changes, so chains of metas are covered.
/// A pass that marks no rule ends the loop, so it runs at most once per
/// meta rule plus once.
fn mark_metas(model: &RuleModel, reasons: &mut [Option<String>]) {
    loop {
        let mut changed = false;
        for (id, rule) in model.defined() {
            let Some((_, Test::Meta(expr))) = &rule.definition else {
                continue;
            };
            if reasons[id.index()].is_some() {
                continue;
            }
            let mut needs = None;
            expr.for_each_rule(&mut |name| {
                if needs.is_some() {
                    return;
                }
                let unsupported = model
                    .id(name)
                    .and_then(|read| reasons[read.index()].as_ref())
                    .is_some();
                if unsupported {
                    needs = Some(name.to_string());
                }
            });
            if let Some(name) = needs {
                reasons[id.index()] = Some(format!("meta reads {name}"));
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
}
