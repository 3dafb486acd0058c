//! `redirector_pattern` rules: regexes that find the URI a redirector URI
//! points to, as SpamAssassin's `uri_list_canonicalize` applies them.
//!
//! Each pattern runs, in configuration order, on an http or https URI with
//! its user and password part removed. The first pattern that matches with
//! a group 1 containing a dot gives the target. A pattern that matches
//! without such a group passes to the next one. When no pattern gives a
//! target, the URI list falls back to the first `http:` or `https:` after
//! the host ([`super::uri::redirect_target`]).

use std::sync::Arc;

use crate::compile::translate::translate;
use crate::compile::{build_fancy, compile_pattern, CompiledPattern};
use crate::rules::parse::parse_delimited_regex;

/// Maximum `redirector_pattern` lines kept. Each runs on every http URI,
/// so the count bounds the work per URI.
pub const REDIRECTORS_MAX: usize = 256;

/// The compiled `redirector_pattern` regexes of a configuration, cheap to
/// clone.
#[derive(Clone, Default)]
pub struct Redirectors {
    patterns: Arc<[Redirector]>,
}

/// One pattern in two forms: the rule form, which rules a URI out quickly,
/// and the fancy-regex form, which reads group 1.
struct Redirector {
    matcher: CompiledPattern,
    regex: fancy_regex::Regex,
}

impl std::fmt::Debug for Redirectors {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Redirectors")
            .field("patterns", &self.patterns.len())
            .finish()
    }
}

impl Redirectors {
    /// Compiles the values of `redirector_pattern` lines, each a delimited
    /// Perl regex such as `/^https?:\/\/r\.example\/(.*)$/i`. Returns the
    /// redirectors and the lines that did not compile, with the reason.
    /// SpamAssassin skips such lines too. Lines past [`REDIRECTORS_MAX`]
    /// count as not compiled.
    pub fn compile<'a>(
        lines: impl IntoIterator<Item = &'a str>,
    ) -> (Redirectors, Vec<(String, String)>) {
        let mut patterns = Vec::new();
        let mut failures = Vec::new();
        for line in lines {
            let line = line.trim();
            if patterns.len() >= REDIRECTORS_MAX {
                failures.push((
                    line.to_string(),
                    format!("more than {REDIRECTORS_MAX} redirector patterns"),
                ));
                continue;
            }
            match compile_one(line) {
                Ok(regex) => patterns.push(regex),
                Err(error) => failures.push((line.to_string(), error)),
            }
        }
        let redirectors = Redirectors {
            patterns: patterns.into(),
        };
        (redirectors, failures)
    }

    /// Returns whether no pattern is configured.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Returns the number of patterns.
    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    /// Returns the group 1 of the first pattern that matches `subject` with
    /// a group 1 containing a dot. The patterns match bytes, with `\w` and
    /// case-insensitivity ASCII-only, as rule regexes do. A match that hits
    /// the backtrack limit counts as no match.
    pub fn target(&self, subject: &str) -> Option<String> {
        self.patterns.iter().find_map(|pattern| {
            // Most URIs match no pattern, and the rule form rules them out
            // without the backtracking that captures may need.
            if !pattern.matcher.is_match(subject.as_bytes()) {
                return None;
            }
            let captures = pattern.regex.captures(subject.as_bytes()).ok().flatten()?;
            let target = captures.get(1)?.as_bytes();
            // Group 1 may end inside a character only if the pattern
            // splits one; such a target is not kept.
            let target = std::str::from_utf8(target).ok()?;
            target.contains('.').then(|| target.to_string())
        })
    }
}

fn compile_one(line: &str) -> Result<Redirector, String> {
    let (pattern, rest) = parse_delimited_regex(line)?;
    if !rest.trim().is_empty() {
        return Err(format!(
            "unexpected text after the pattern: {:?}",
            rest.trim()
        ));
    }
    let translation =
        translate(&pattern.source, &pattern.flags).map_err(|error| error.to_string())?;
    Ok(Redirector {
        matcher: compile_pattern(&pattern)?,
        regex: build_fancy(&translation)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redirectors(lines: &[&str]) -> Redirectors {
        let (redirectors, failures) = Redirectors::compile(lines.iter().copied());
        assert!(failures.is_empty(), "{failures:?}");
        redirectors
    }

    #[test]
    fn first_matching_pattern_gives_the_target() {
        let redirectors = redirectors(&[
            r"m'^https?:/*(?:\w+\.)?google(?:\.\w{2,3}){1,2}/url\?.*?(?<=[?&])q=(.*?)(?:$|[&\#])'i",
            r"/^http:\/\/redir\.example\/(.*)$/i",
        ]);
        assert_eq!(
            redirectors.target("http://www.google.com/url?sa=t&q=http://spam.example/x&b=1"),
            Some("http://spam.example/x".to_string())
        );
        assert_eq!(
            redirectors.target("http://REDIR.example/www.target.example/"),
            Some("www.target.example/".to_string())
        );
        assert_eq!(redirectors.target("http://other.example/"), None);
    }

    #[test]
    fn group_without_dot_passes_to_next_pattern() {
        let redirectors = redirectors(&[
            r"/^http:\/\/r\.example\/(\w*)/",
            r"/^http:\/\/r\.example\/\w*\/(.*)$/",
        ]);
        assert_eq!(
            redirectors.target("http://r.example/abc/dest.example"),
            Some("dest.example".to_string())
        );
    }

    #[test]
    fn invalid_lines_are_reported_and_skipped() {
        let (redirectors, failures) = Redirectors::compile([
            "/(unclosed/",
            "not a regex",
            r"/^http:\/\/ok\.example\/(.*)$/ trailing",
            r"/^http:\/\/ok\.example\/(.*)$/",
        ]);
        assert_eq!(failures.len(), 3, "{failures:?}");
        assert!(!redirectors.is_empty());
        assert_eq!(
            redirectors.target("http://ok.example/next.example"),
            Some("next.example".to_string())
        );
    }

    #[test]
    fn pattern_count_is_capped() {
        let lines = vec![r"/^http:\/\/x\.example\/(.*)$/"; REDIRECTORS_MAX + 2];
        let (_, failures) = Redirectors::compile(lines.iter().copied());
        assert_eq!(failures.len(), 2);
    }
}
