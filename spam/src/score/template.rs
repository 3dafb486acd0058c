//! The tag phase of scoring: capture rules set tags, then template rules
//! run with them ([`crate::compile::capture`]).
//!
//! A template rule's regex is compiled for the tag values of the message.
//! The compiled regexes are kept in a small cache shared by the scoring
//! threads, since a mailbox's mail repeats the same recipient addresses.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::compile::capture::{CaptureRule, Tags, TemplateRule};
use crate::compile::{compile_pattern, CompiledPattern, Target};
use crate::prepare::Prepared;
use crate::rules::{HeaderSpec, Pattern};

use super::input;

/// Maximum compiled template regexes kept. When full, the cache starts
/// over.
pub const TEMPLATE_CACHE_MAX: usize = 256;

/// Compiled template regexes by expanded pattern, `None` for a pattern
/// that did not compile.
type CompiledByPattern = HashMap<Pattern, Option<Arc<CompiledPattern>>>;

/// Compiled template regexes, shared by the scoring threads.
#[derive(Default)]
pub struct TemplateCache {
    compiled: Mutex<CompiledByPattern>,
}

impl TemplateCache {
    /// Returns the compiled form of `pattern`, or `None` when it does not
    /// compile.
    fn get(&self, pattern: Pattern) -> Option<Arc<CompiledPattern>> {
        if let Some(found) = self.lock().get(&pattern) {
            return found.clone();
        }
        // Compiled outside the lock, so other threads keep scoring.
        let compiled = compile_pattern(&pattern).ok().map(Arc::new);
        let mut cache = self.lock();
        if cache.len() >= TEMPLATE_CACHE_MAX {
            cache.clear();
        }
        cache.insert(pattern, compiled.clone());
        compiled
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CompiledByPattern> {
        // A thread that panicked while holding the lock left a usable map.
        self.compiled
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Returns the texts a rule of `target` reads in `message`: the header
/// value (empty when the field is missing), the body or rawbody pieces,
/// the URIs, or the whole message. `mimeheader` targets read nothing.
pub fn target_texts<'a>(
    message: &'a Prepared<'_>,
    target: &Target,
    spec: Option<&HeaderSpec>,
) -> Vec<Cow<'a, [u8]>> {
    match target {
        Target::Header(_) => {
            let value = spec.and_then(|spec| input::header_value(message.headers(), spec));
            vec![Cow::Owned(value.unwrap_or_default().into_bytes())]
        }
        Target::Mimeheader(_) => Vec::new(),
        Target::Body => lines(message.body()),
        Target::BodyNoSubject => lines(message.body_without_subject()),
        Target::Rawbody => message
            .rawbody()
            .iter()
            .map(|piece| Cow::Borrowed(&piece[..]))
            .collect(),
        Target::Uri => lines(message.uris()),
        Target::Full => vec![Cow::Borrowed(message.full())],
    }
}

fn lines(lines: &[String]) -> Vec<Cow<'_, [u8]>> {
    lines
        .iter()
        .map(|line| Cow::Borrowed(line.as_bytes()))
        .collect()
}

/// Runs the capture rules on `message` and returns the tags they set.
pub fn capture_tags(message: &Prepared<'_>, rules: &[CaptureRule]) -> Tags {
    let mut tags = Tags::new();
    for rule in rules {
        let texts = target_texts(message, &rule.target, rule.spec.as_ref());
        let texts: Vec<&[u8]> = texts.iter().map(|text| &text[..]).collect();
        rule.capture(&texts, &mut tags);
    }
    tags
}

/// Returns the hits of template rule `rule` on `message` with `tags`: 0
/// when a tag it names has no value. A `!~` header rule hits when its
/// regex does not match.
pub fn template_hits(
    message: &Prepared<'_>,
    rule: &TemplateRule,
    tags: &Tags,
    cache: &TemplateCache,
) -> u32 {
    let Some(pattern) = rule.expand(tags) else {
        return 0;
    };
    let texts = target_texts(message, &rule.target, rule.spec.as_ref());
    let texts: Vec<&[u8]> = texts.iter().map(|text| &text[..]).collect();
    if !rule.may_match(tags, &texts) {
        return u32::from(rule.negated);
    }
    // A pattern that does not compile with these values does not run.
    let Some(compiled) = cache.get(pattern) else {
        return 0;
    };
    if rule.negated {
        return u32::from(!texts.iter().any(|text| compiled.is_match(text)));
    }
    let cap = rule.hits_max as usize;
    let mut hits = 0usize;
    for text in &texts {
        hits += compiled.count(text, cap - hits);
        if hits >= cap {
            break;
        }
    }
    u32::try_from(hits).unwrap_or(u32::MAX)
}
