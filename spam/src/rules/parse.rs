//! Line parser for SpamAssassin's `.cf` syntax.
//!
//! [`Parser::parse_text`] reads one file's bytes line by line, as
//! SpamAssassin's `Conf::Parser` does. An unescaped `#` starts a comment and
//! `\#` becomes `#`. Leading and trailing whitespace is dropped. `lang xx`
//! lines apply only to the configured language. The directive name is
//! lower-cased, with `-` read as `_`. `if`, `ifplugin`, `else` and `endif`
//! nest per file. Every problem with a line becomes a warning in the model;
//! only the rule limit is fatal, because past it the model would be partial.
//!
//! Also here: [`parse_delimited_regex`] for `/re/flags` and `m{re}flags`,
//! [`parse_meta`] for `meta` expressions, and the evaluator of `if`
//! conditions, which reuses the meta grammar after it replaces `version`,
//! `plugin(...)`, `can(...)` and `has(...)` with numbers.

use std::collections::BTreeSet;

use super::load::LoadError;
use super::model::*;
use super::{
    LoadOptions, CONDITIONAL_DEPTH_MAX, LINE_LEN_MAX, META_DEPTH_MAX, REGEX_LEN_MAX, RULES_MAX,
    WARNINGS_MAX,
};

/// One open `if` or `ifplugin` block.
struct Conditional {
    /// Whether lines were skipped before this block opened.
    outer_skip: bool,
    /// The condition's value.
    value: bool,
    /// Whether `else` was seen.
    in_else: bool,
    origin: Origin,
}

/// Builds a [`RuleModel`] from the text of one or more files.
pub struct Parser {
    model: RuleModel,
    options: LoadOptions,
    /// Plugins loaded so far: the options' set plus `loadplugin` lines.
    plugins: BTreeSet<String>,
}

/// Called for an `include` line with the parser, the path as written and the
/// line's origin. The loader resolves and reads the file.
pub type IncludeHandler<'a> = dyn FnMut(&mut Parser, &str, &Origin) -> Result<(), LoadError> + 'a;

impl Parser {
    /// Creates a parser with an empty model.
    pub fn new(options: LoadOptions) -> Parser {
        let plugins = options.plugins.clone();
        let mut model = RuleModel::new();
        model.plugins = plugins.iter().cloned().collect();
        Parser {
            model,
            options,
            plugins,
        }
    }

    /// Returns the model built so far.
    pub fn model(&self) -> &RuleModel {
        &self.model
    }

    /// Returns the model built so far, for the loader to record files and
    /// warnings.
    pub(crate) fn model_mut(&mut self) -> &mut RuleModel {
        &mut self.model
    }

    /// Returns the model, consuming the parser. The loader applies
    /// ReplaceTags after this.
    pub fn into_model(self) -> RuleModel {
        self.model
    }

    /// Records a warning, keeping at most [`WARNINGS_MAX`].
    pub fn warn(&mut self, origin: &Origin, message: String) {
        if self.model.warnings.len() < WARNINGS_MAX {
            self.model.warnings.push(LoadWarning {
                origin: origin.clone(),
                message,
            });
        } else {
            self.model.warnings_dropped += 1;
        }
    }

    /// Parses the text of the file named `file`. `include` is called for each
    /// `include` line that is not skipped by a conditional.
    pub fn parse_text(
        &mut self,
        file: &str,
        text: &[u8],
        include: &mut IncludeHandler<'_>,
    ) -> Result<(), LoadError> {
        let mut conditionals: Vec<Conditional> = Vec::new();
        let mut skip = false;

        for (index, raw_line) in text.split(|&byte| byte == b'\n').enumerate() {
            let origin = Origin {
                file: file.to_string(),
                line: u32::try_from(index + 1).unwrap_or(u32::MAX),
            };
            if raw_line.len() > LINE_LEN_MAX {
                let message = format!(
                    "line of {} bytes exceeds the maximum of {LINE_LEN_MAX}",
                    raw_line.len()
                );
                self.warn(&origin, message);
                continue;
            }
            let Some(line) = clean_line(raw_line) else {
                continue;
            };
            let Some(line) = self.apply_lang(&line) else {
                continue;
            };

            let (key, value) = split_directive(line);
            match key.as_str() {
                "if" | "ifplugin" => {
                    if conditionals.len() >= CONDITIONAL_DEPTH_MAX {
                        let message = format!(
                            "conditional nesting exceeds the maximum of {CONDITIONAL_DEPTH_MAX}"
                        );
                        self.warn(&origin, message);
                    }
                    let value_true = if skip {
                        false
                    } else {
                        match self.evaluate_condition(&key, value) {
                            Ok(result) => result,
                            Err(message) => {
                                self.warn(&origin, message);
                                false
                            }
                        }
                    };
                    conditionals.push(Conditional {
                        outer_skip: skip,
                        value: value_true,
                        in_else: false,
                        origin: origin.clone(),
                    });
                    skip = skip || !value_true || conditionals.len() > CONDITIONAL_DEPTH_MAX;
                }
                "else" => match conditionals.last_mut() {
                    Some(top) if !top.in_else => {
                        top.in_else = true;
                        skip = top.outer_skip || top.value;
                    }
                    Some(_) => {
                        self.warn(&origin, "second else in one conditional block".to_string())
                    }
                    None => self.warn(&origin, "else without an open if".to_string()),
                },
                "endif" => match conditionals.pop() {
                    Some(top) => skip = top.outer_skip,
                    None => self.warn(&origin, "endif without an open if".to_string()),
                },
                _ if skip => {}
                "include" => include(self, value, &origin)?,
                _ => {
                    if let Err(message) = self.apply_directive(&key, value, &origin) {
                        if let Some(fatal) = message.fatal {
                            return Err(fatal);
                        }
                        self.warn(&origin, message.text);
                    }
                }
            }
        }

        if let Some(open) = conditionals.last() {
            let message = format!(
                "{} conditional blocks still open at end of file",
                conditionals.len()
            );
            let origin = open.origin.clone();
            self.warn(&origin, message);
        }
        Ok(())
    }

    /// Strips a `lang xx` prefix. Returns `None` when the line is for
    /// another language.
    fn apply_lang<'l>(&self, line: &'l str) -> Option<&'l str> {
        let Some(rest) = line.strip_prefix("lang") else {
            return Some(line);
        };
        if !rest.starts_with(char::is_whitespace) {
            return Some(line);
        }
        let rest = rest.trim_start();
        let (language, directive) = rest.split_once(char::is_whitespace)?;
        let wanted = self.options.language.as_deref()?;
        let matches = wanted
            .get(..language.len())
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case(language));
        matches.then_some(directive.trim_start())
    }

    /// Evaluates the condition of an `if` or `ifplugin` line.
    fn evaluate_condition(&self, key: &str, value: &str) -> Result<bool, String> {
        if key == "ifplugin" {
            return Ok(self.plugin_loaded(value.trim()));
        }
        let numeric = self.substitute_condition(value)?;
        let expr = parse_meta(&numeric)
            .map_err(|error| format!("invalid if condition {value:?}: {error}"))?;
        let result = evaluate_constant(&expr)
            .map_err(|error| format!("invalid if condition {value:?}: {error}"))?;
        Ok(result != 0.0)
    }

    fn plugin_loaded(&self, name: &str) -> bool {
        // SpamAssassin renamed these plugins and still accepts the old names.
        let name = match name {
            "Mail::SpamAssassin::Plugin::Dmarc" => "Mail::SpamAssassin::Plugin::DMARC",
            "Mail::SpamAssassin::Plugin::WhiteListSubject" => {
                "Mail::SpamAssassin::Plugin::WelcomeListSubject"
            }
            other => other,
        };
        self.plugins.contains(name)
    }

    fn feature_available(&self, method: &str) -> bool {
        if !self.options.features.contains(method) {
            return false;
        }
        match method.rsplit_once("::") {
            Some((module, _)) if module.starts_with("Mail::SpamAssassin::Plugin::") => {
                self.plugin_loaded(module)
            }
            _ => true,
        }
    }

    /// Rewrites an `if` condition into a constant expression: `version`,
    /// `perl_version` and `local_tests_only` become numbers, and
    /// `plugin(X)`, `can(X)` and `has(X)` become 1 or 0.
    fn substitute_condition(&self, value: &str) -> Result<String, String> {
        let mut output = String::with_capacity(value.len());
        let mut rest = value;
        while let Some(character) = rest.chars().next() {
            if !(character.is_ascii_alphabetic() || character == '_') {
                output.push(character);
                rest = &rest[character.len_utf8()..];
                continue;
            }
            let word_len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            let word = &rest[..word_len];
            rest = &rest[word_len..];
            let replacement = match word {
                "version" => format!("{:.6}", self.options.version),
                "perl_version" => format!("{:.6}", self.options.perl_version),
                "local_tests_only" => u8::from(self.options.local_tests_only).to_string(),
                "plugin" | "can" | "has" => {
                    let after = rest.trim_start();
                    let Some(inner) = after.strip_prefix('(') else {
                        return Err(format!("{word} needs an argument in parentheses"));
                    };
                    let Some(close) = inner.find(')') else {
                        return Err(format!("{word}( is not closed"));
                    };
                    let argument = inner[..close].trim();
                    rest = &inner[close + 1..];
                    let found = if word == "plugin" {
                        self.plugin_loaded(argument)
                    } else {
                        self.feature_available(argument)
                    };
                    u8::from(found).to_string()
                }
                other => return Err(format!("unknown name {other:?}")),
            };
            output.push(' ');
            output.push_str(&replacement);
            output.push(' ');
        }
        Ok(output)
    }

    /// Applies one directive that is not a conditional or an include.
    fn apply_directive(
        &mut self,
        key: &str,
        value: &str,
        origin: &Origin,
    ) -> Result<(), DirectiveError> {
        match key {
            "header" => self.define(RuleKind::Header, value, origin),
            "mimeheader" => self.define(RuleKind::Mimeheader, value, origin),
            "body" => self.define(RuleKind::Body, value, origin),
            "rawbody" => self.define(RuleKind::Rawbody, value, origin),
            "uri" => self.define(RuleKind::Uri, value, origin),
            "full" => self.define(RuleKind::Full, value, origin),
            "meta" => self.define(RuleKind::Meta, value, origin),
            "score" => self.set_score(value),
            "describe" => {
                let (name, text) = split_name(value)?;
                self.rule_entry(name)?.description = Some(text.to_string());
                Ok(())
            }
            "tflags" => {
                let (name, text) = split_name(value)?;
                let tflags = parse_tflags(text)?;
                self.rule_entry(name)?.tflags = tflags;
                Ok(())
            }
            "priority" => {
                let (name, text) = split_name(value)?;
                let priority = text.trim().parse::<i32>().map_err(|_| {
                    DirectiveError::from(format!("invalid priority {text:?} for {name}"))
                })?;
                self.rule_entry(name)?.priority = priority;
                Ok(())
            }
            "required_score" | "required_hits" => {
                let score = parse_number(value.trim())
                    .ok_or_else(|| DirectiveError::from(format!("invalid {key} {value:?}")))?;
                self.model.required_score = score;
                Ok(())
            }
            "loadplugin" | "tryplugin" => {
                let name = value.split_whitespace().next().unwrap_or("");
                if name.is_empty() {
                    return Err(format!("{key} needs a plugin name").into());
                }
                if self.plugins.insert(name.to_string()) {
                    self.model.plugins.push(name.to_string());
                }
                Ok(())
            }
            "replace_tag" | "replace_pre" | "replace_post" | "replace_inter" => {
                let (name, text) = value.split_once(char::is_whitespace).ok_or_else(|| {
                    DirectiveError::from(format!("{key} needs a tag name and a value"))
                })?;
                let tags = &mut self.model.replace_tags;
                let map = match key {
                    "replace_tag" => &mut tags.tags,
                    "replace_pre" => &mut tags.pre,
                    "replace_post" => &mut tags.post,
                    _ => &mut tags.inter,
                };
                map.insert(name.to_string(), text.trim().to_string());
                Ok(())
            }
            "replace_rules" => {
                for name in value.split_whitespace() {
                    if !self
                        .model
                        .replace_tags
                        .rules
                        .iter()
                        .any(|known| known == name)
                    {
                        self.model.replace_tags.rules.push(name.to_string());
                    }
                }
                Ok(())
            }
            // Directives for SpamAssassin's own lint and mass-check runs,
            // which have no effect on scoring.
            "test" | "reuse" | "require_version" => Ok(()),
            _ => {
                self.model
                    .settings
                    .entry(key.to_string())
                    .or_default()
                    .push(value.to_string());
                Ok(())
            }
        }
    }

    /// Returns the rule named `name`, checking the name and the rule limit.
    fn rule_entry(&mut self, name: &str) -> Result<&mut Rule, DirectiveError> {
        if !is_rule_name(name) {
            return Err(format!(
                "invalid rule name {name:?}: use letters, digits and _, not starting with a digit"
            )
            .into());
        }
        if self.model.id(name).is_none() && self.model.rules.len() >= RULES_MAX {
            return Err(DirectiveError {
                text: String::new(),
                fatal: Some(LoadError::TooManyRules { max: RULES_MAX }),
            });
        }
        Ok(self.model.entry(name))
    }

    fn define(
        &mut self,
        kind: RuleKind,
        value: &str,
        origin: &Origin,
    ) -> Result<(), DirectiveError> {
        let (name, rest) = split_name(value)?;
        let test = parse_test(kind, rest)
            .map_err(|error| DirectiveError::from(format!("{} {name}: {error}", kind.as_str())))?;
        let rule = self.rule_entry(name)?;
        rule.definition = Some((kind, test));
        rule.origin = Some(origin.clone());
        Ok(())
    }

    fn set_score(&mut self, value: &str) -> Result<(), DirectiveError> {
        let (name, rest) = split_name(value)?;
        let mut numbers = Vec::with_capacity(4);
        for word in rest.split_whitespace() {
            // Parentheses mark a score that sa-update must not change.
            let word = word.trim_start_matches('(').trim_end_matches(')');
            let number = parse_number(word).ok_or_else(|| {
                DirectiveError::from(format!("invalid score {word:?} for {name}"))
            })?;
            numbers.push(number);
        }
        let scores = match numbers.as_slice() {
            [one] => [*one; 4],
            [a, b, c, d] => [*a, *b, *c, *d],
            _ => {
                return Err(
                    format!("score {name} has {} values: expected 1 or 4", numbers.len()).into(),
                )
            }
        };
        self.rule_entry(name)?.scores = Some(scores);
        Ok(())
    }
}

/// A line-level problem, or the fatal error that ends the load.
struct DirectiveError {
    text: String,
    fatal: Option<LoadError>,
}

impl From<String> for DirectiveError {
    fn from(text: String) -> DirectiveError {
        DirectiveError { text, fatal: None }
    }
}

/// Removes comments and surrounding whitespace. Returns `None` for a line
/// with nothing left. Bytes that are not UTF-8 become `\xHH` text, which
/// regexes read as the same byte.
fn clean_line(raw: &[u8]) -> Option<String> {
    let mut line = bytes_to_text(raw);
    if line.contains('#') {
        if let Some(start) = comment_start(&line) {
            line.truncate(start);
        }
        line = line.replace("\\#", "#");
    }
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return None;
    }
    Some(trimmed.to_string())
}

/// Returns the offset of the first `#` not preceded by a backslash.
fn comment_start(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    (0..bytes.len())
        .find(|&index| bytes[index] == b'#' && (index == 0 || bytes[index - 1] != b'\\'))
}

fn bytes_to_text(raw: &[u8]) -> String {
    match std::str::from_utf8(raw) {
        Ok(text) => text.to_string(),
        Err(_) => {
            let mut text = String::with_capacity(raw.len() + 16);
            for chunk in raw.utf8_chunks() {
                text.push_str(chunk.valid());
                for byte in chunk.invalid() {
                    text.push_str(&format!("\\x{byte:02X}"));
                }
            }
            text
        }
    }
}

/// Splits a cleaned line into the lower-cased directive name (`-` read as
/// `_`) and the rest.
fn split_directive(line: &str) -> (String, &str) {
    let (key, value) = match line.split_once(char::is_whitespace) {
        Some((key, value)) => (key, value.trim_start()),
        None => (line, ""),
    };
    (key.to_ascii_lowercase().replace('-', "_"), value)
}

fn split_name(value: &str) -> Result<(&str, &str), DirectiveError> {
    let value = value.trim();
    if value.is_empty() {
        return Err("missing rule name".to_string().into());
    }
    Ok(match value.split_once(char::is_whitespace) {
        Some((name, rest)) => (name, rest.trim()),
        None => (value, ""),
    })
}

fn is_rule_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(first) if first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_number(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|number| number.is_finite())
}

fn parse_tflags(text: &str) -> Result<TFlags, String> {
    let mut tflags = TFlags::default();
    for word in text.split_whitespace() {
        match word {
            "multiple" => tflags.multiple = true,
            "nice" => tflags.nice = true,
            "net" => tflags.net = true,
            "learn" => tflags.learn = true,
            "nosubject" => tflags.nosubject = true,
            _ => match word.strip_prefix("maxhits=") {
                Some(count) => {
                    let count = count
                        .parse::<u32>()
                        .map_err(|_| format!("invalid maxhits {count:?}"))?;
                    tflags.maxhits = Some(count);
                }
                None => tflags.other.push(word.to_string()),
            },
        }
    }
    Ok(tflags)
}

/// Parses what follows the rule name of a rule definition.
fn parse_test(kind: RuleKind, text: &str) -> Result<Test, String> {
    if kind == RuleKind::Meta {
        return parse_meta(text).map(Test::Meta);
    }
    if let Some(call) = text
        .strip_prefix("eval:")
        .or_else(|| text.strip_prefix("rbleval:"))
    {
        return parse_eval(call).map(Test::Eval);
    }
    match kind {
        RuleKind::Header | RuleKind::Mimeheader => parse_header_test(text),
        _ => {
            let (pattern, rest) = parse_delimited_regex(text)?;
            if !rest.trim().is_empty() {
                return Err(format!(
                    "unexpected text after the pattern: {:?}",
                    rest.trim()
                ));
            }
            Ok(Test::Regex(pattern))
        }
    }
}

fn parse_header_test(text: &str) -> Result<Test, String> {
    if let Some(field) = text.strip_prefix("exists:") {
        let field = field.trim();
        if field.is_empty() || field.contains(char::is_whitespace) {
            return Err(format!("invalid exists: field {field:?}"));
        }
        return Ok(Test::Exists(field.to_string()));
    }

    let field_end = text
        .find(|c: char| c.is_whitespace() || c == '=' || c == '!')
        .ok_or_else(|| "missing =~ or !~ after the header name".to_string())?;
    let spec = parse_header_spec(&text[..field_end])?;
    let rest = text[field_end..].trim_start();
    let (negated, rest) = if let Some(rest) = rest.strip_prefix("=~") {
        (false, rest)
    } else if let Some(rest) = rest.strip_prefix("!~") {
        (true, rest)
    } else {
        return Err(format!("expected =~ or !~ after {:?}", &text[..field_end]));
    };

    let (pattern, rest) = parse_delimited_regex(rest.trim_start())?;
    let rest = rest.trim();
    let if_unset = if rest.is_empty() {
        None
    } else {
        let inner = rest
            .strip_prefix("[if-unset:")
            .and_then(|inner| inner.strip_suffix(']'))
            .ok_or_else(|| format!("unexpected text after the pattern: {rest:?}"))?;
        Some(inner.trim().to_string())
    };
    Ok(Test::Header {
        spec,
        pattern,
        negated,
        if_unset,
    })
}

fn parse_header_spec(text: &str) -> Result<HeaderSpec, String> {
    let mut parts = text.split(':');
    let name = parts.next().unwrap_or("");
    if name.is_empty() {
        return Err("missing header name".to_string());
    }
    let mut modifiers = Vec::new();
    for part in parts {
        let modifier = HeaderModifier::parse(part)
            .ok_or_else(|| format!("unknown header modifier :{part}"))?;
        if !modifiers.contains(&modifier) {
            modifiers.push(modifier);
        }
    }
    Ok(HeaderSpec {
        field: HeaderField::parse(name),
        modifiers,
    })
}

/// Parses `function(args)`; arguments are split on commas outside quotes,
/// and their quotes removed.
fn parse_eval(text: &str) -> Result<EvalCall, String> {
    let text = text.trim();
    let open = text
        .find('(')
        .ok_or_else(|| format!("eval {text:?} lacks an argument list"))?;
    let function = text[..open].trim();
    let valid_function = !function.is_empty()
        && function
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid_function {
        return Err(format!("invalid eval function name {function:?}"));
    }
    let inner = text[open + 1..]
        .strip_suffix(')')
        .ok_or_else(|| format!("eval {function} lacks its closing parenthesis"))?;

    let mut args = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut seen_any = false;
    for character in inner.chars() {
        match (quote, character) {
            (Some(open_quote), c) if c == open_quote => quote = None,
            (Some(_), c) => current.push(c),
            (None, '\'' | '"') => {
                quote = Some(character);
                seen_any = true;
            }
            (None, ',') => {
                args.push(current.trim().to_string());
                current.clear();
            }
            (None, c) => {
                if !c.is_whitespace() {
                    seen_any = true;
                }
                current.push(c);
            }
        }
    }
    if quote.is_some() {
        return Err(format!("eval {function} has an unclosed quote"));
    }
    if seen_any || !args.is_empty() {
        args.push(current.trim().to_string());
    }
    Ok(EvalCall {
        function: function.to_string(),
        args,
    })
}

/// Parses a Perl-style delimited regex at the start of `text`: `/re/flags`,
/// or `m` with any punctuation delimiter (`m{re}`, `m!re!`, `m(re)`).
/// Bracket delimiters nest. Returns the pattern and the text after the flags.
pub fn parse_delimited_regex(text: &str) -> Result<(Pattern, &str), String> {
    let (open, body) = if let Some(body) = text.strip_prefix('/') {
        ('/', body)
    } else if let Some(after_m) = text.strip_prefix('m') {
        match after_m.chars().next() {
            Some(c) if !c.is_alphanumeric() && !c.is_whitespace() && c != '_' => {
                (c, &after_m[c.len_utf8()..])
            }
            _ => {
                return Err(format!(
                    "expected /pattern/ or m{{pattern}}, found {:?}",
                    preview(text)
                ))
            }
        }
    } else {
        return Err(format!(
            "expected /pattern/ or m{{pattern}}, found {:?}",
            preview(text)
        ));
    };
    let close = match open {
        '{' => '}',
        '(' => ')',
        '[' => ']',
        '<' => '>',
        other => other,
    };

    let mut depth = 0usize;
    let mut escaped = false;
    let mut end = None;
    for (offset, character) in body.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        if character == '\\' {
            escaped = true;
        } else if character == close {
            if depth == 0 {
                end = Some(offset);
                break;
            }
            depth -= 1;
        } else if character == open && open != close {
            depth += 1;
        }
    }
    let end = end.ok_or_else(|| format!("pattern is missing its closing {close:?}"))?;
    let source = &body[..end];
    if source.len() > REGEX_LEN_MAX {
        return Err(format!(
            "pattern of {} bytes exceeds the maximum of {REGEX_LEN_MAX}",
            source.len()
        ));
    }

    let after = &body[end + close.len_utf8()..];
    let flags_len = after
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(after.len());
    let pattern = Pattern {
        source: source.to_string(),
        flags: after[..flags_len].to_string(),
    };
    Ok((pattern, &after[flags_len..]))
}

fn preview(text: &str) -> &str {
    let end = text
        .char_indices()
        .nth(20)
        .map_or(text.len(), |(offset, _)| offset);
    &text[..end]
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Name(String),
    Number(f64),
    Operator(&'static str),
}

const OPERATORS: [&str; 16] = [
    "&&", "||", ">=", "<=", "==", "!=", "!", "+", "-", "*", "/", ">", "<", "(", ")", "=",
];

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut rest = text.trim_start();
    while let Some(character) = rest.chars().next() {
        if character.is_ascii_alphabetic() || character == '_' {
            let len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            tokens.push(Token::Name(rest[..len].to_string()));
            rest = &rest[len..];
        } else if character.is_ascii_digit() || character == '.' {
            let len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(rest.len());
            let number = parse_number(&rest[..len])
                .ok_or_else(|| format!("invalid number {:?}", &rest[..len]))?;
            tokens.push(Token::Number(number));
            rest = &rest[len..];
        } else {
            let operator = OPERATORS
                .iter()
                .find(|operator| rest.starts_with(**operator))
                .ok_or_else(|| format!("unexpected character {character:?}"))?;
            if *operator == "=" {
                return Err("unexpected = (use == to compare)".to_string());
            }
            tokens.push(Token::Operator(operator));
            rest = &rest[operator.len()..];
        }
        rest = rest.trim_start();
    }
    Ok(tokens)
}

/// Parses a `meta` expression: rule names, numbers, `!`, unary `-`, `* /`,
/// `+ -`, `< > <= >=`, `== !=`, `&&`, `||` (in rising order of binding
/// looseness, as in Perl) and parentheses, nested at most
/// [`META_DEPTH_MAX`] deep.
pub fn parse_meta(text: &str) -> Result<MetaExpr, String> {
    let tokens = tokenize(text)?;
    if tokens.is_empty() {
        return Err("empty expression".to_string());
    }
    let mut parser = MetaParser {
        tokens,
        position: 0,
    };
    let expr = parser.binary(0, 0)?;
    match parser.tokens.get(parser.position) {
        None => Ok(expr),
        Some(token) => Err(format!("unexpected {token:?} after a complete expression")),
    }
}

struct MetaParser {
    tokens: Vec<Token>,
    position: usize,
}

/// Binary operators by binding level, loosest first.
const LEVELS: [&[(&str, MetaOp)]; 6] = [
    &[("||", MetaOp::Or)],
    &[("&&", MetaOp::And)],
    &[("==", MetaOp::Equal), ("!=", MetaOp::NotEqual)],
    &[
        ("<", MetaOp::Less),
        (">", MetaOp::Greater),
        ("<=", MetaOp::LessEqual),
        (">=", MetaOp::GreaterEqual),
    ],
    &[("+", MetaOp::Add), ("-", MetaOp::Sub)],
    &[("*", MetaOp::Mul), ("/", MetaOp::Div)],
];

impl MetaParser {
    fn peek_operator(&self) -> Option<&'static str> {
        match self.tokens.get(self.position) {
            Some(Token::Operator(operator)) => Some(operator),
            _ => None,
        }
    }

    fn binary(&mut self, level: usize, depth: usize) -> Result<MetaExpr, String> {
        if level == LEVELS.len() {
            return self.unary(depth);
        }
        let mut left = self.binary(level + 1, depth)?;
        while let Some(operator) = self.peek_operator() {
            let Some((_, op)) = LEVELS[level].iter().find(|(symbol, _)| *symbol == operator) else {
                break;
            };
            self.position += 1;
            let right = self.binary(level + 1, depth)?;
            left = MetaExpr::Binary(*op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self, depth: usize) -> Result<MetaExpr, String> {
        if depth > META_DEPTH_MAX {
            return Err(format!(
                "expression nesting exceeds the maximum of {META_DEPTH_MAX}"
            ));
        }
        match self.tokens.get(self.position).cloned() {
            Some(Token::Operator("!")) => {
                self.position += 1;
                Ok(MetaExpr::Not(Box::new(self.unary(depth + 1)?)))
            }
            Some(Token::Operator("-")) => {
                self.position += 1;
                Ok(MetaExpr::Negate(Box::new(self.unary(depth + 1)?)))
            }
            Some(Token::Operator("(")) => {
                self.position += 1;
                let inner = self.binary(0, depth + 1)?;
                if self.peek_operator() != Some(")") {
                    return Err("missing )".to_string());
                }
                self.position += 1;
                Ok(inner)
            }
            Some(Token::Name(name)) => {
                self.position += 1;
                Ok(MetaExpr::Rule(name))
            }
            Some(Token::Number(number)) => {
                self.position += 1;
                Ok(MetaExpr::Number(number))
            }
            Some(token) => Err(format!("unexpected {token:?}")),
            None => Err("expression ends early".to_string()),
        }
    }
}

/// Evaluates a meta expression with every rule at `lookup`'s value. Boolean
/// results are 1 or 0; division by zero gives 0 instead of failing.
pub fn evaluate_meta(expr: &MetaExpr, lookup: &dyn Fn(&str) -> Option<f64>) -> Result<f64, String> {
    Ok(match expr {
        MetaExpr::Rule(name) => lookup(name).ok_or_else(|| format!("unknown name {name:?}"))?,
        MetaExpr::Number(number) => *number,
        MetaExpr::Not(inner) => f64::from(u8::from(evaluate_meta(inner, lookup)? == 0.0)),
        MetaExpr::Negate(inner) => -evaluate_meta(inner, lookup)?,
        MetaExpr::Binary(op, left, right) => {
            let left = evaluate_meta(left, lookup)?;
            let right = evaluate_meta(right, lookup)?;
            apply_meta_op(*op, left, right)
        }
    })
}

/// Returns `left op right` as a meta expression computes it: comparisons
/// and logic give 1 or 0, and division by 0 gives 0.
pub fn apply_meta_op(op: MetaOp, left: f64, right: f64) -> f64 {
    let truth = |value: bool| f64::from(u8::from(value));
    match op {
        MetaOp::And => truth(left != 0.0 && right != 0.0),
        MetaOp::Or => truth(left != 0.0 || right != 0.0),
        MetaOp::Add => left + right,
        MetaOp::Sub => left - right,
        MetaOp::Mul => left * right,
        MetaOp::Div if right == 0.0 => 0.0,
        MetaOp::Div => left / right,
        MetaOp::Less => truth(left < right),
        MetaOp::Greater => truth(left > right),
        MetaOp::LessEqual => truth(left <= right),
        MetaOp::GreaterEqual => truth(left >= right),
        MetaOp::Equal => truth(left == right),
        MetaOp::NotEqual => truth(left != right),
    }
}

fn evaluate_constant(expr: &MetaExpr) -> Result<f64, String> {
    evaluate_meta(expr, &|_| None)
}
