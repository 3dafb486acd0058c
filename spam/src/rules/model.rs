//! The rule model: what a set of SpamAssassin `.cf` files defines, before any
//! regex is compiled.
//!
//! [`RuleModel`] contains one [`Rule`] per rule name, in the order each name was
//! first seen. A rule's [`Test`] comes from its `header`, `body`, `rawbody`,
//! `uri`, `full`, `mimeheader` or `meta` line. The `score`, `describe`,
//! `tflags` and `priority` lines set the other fields, and they may come before
//! or after the definition, as in SpamAssassin. A later definition of the same name replaces
//! the earlier test and keeps the settings. Directives the loader does not
//! interpret are kept as settings and counted by name, so later components
//! (Bayes, FreeMail, URI lists) can read them.

use std::collections::{BTreeMap, HashMap};

/// Index of a rule in [`RuleModel::rules`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleId(pub u32);

impl RuleId {
    /// Returns the index into [`RuleModel::rules`].
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// The directive that defined a rule, which decides what text it runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleKind {
    Header,
    Body,
    Rawbody,
    Uri,
    Full,
    Mimeheader,
    Meta,
}

impl RuleKind {
    /// Every kind, in report order.
    pub const ALL: [RuleKind; 7] = [
        RuleKind::Header,
        RuleKind::Body,
        RuleKind::Rawbody,
        RuleKind::Uri,
        RuleKind::Full,
        RuleKind::Mimeheader,
        RuleKind::Meta,
    ];

    /// Returns the directive name, as written in `.cf` files.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Header => "header",
            RuleKind::Body => "body",
            RuleKind::Rawbody => "rawbody",
            RuleKind::Uri => "uri",
            RuleKind::Full => "full",
            RuleKind::Mimeheader => "mimeheader",
            RuleKind::Meta => "meta",
        }
    }
}

/// A Perl regular expression as written between its delimiters, with its flags.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pattern {
    /// The pattern source. Bytes that were not valid UTF-8 in the file are
    /// written as `\xHH` escapes, so the pattern still matches those bytes.
    pub source: String,
    /// Flags after the closing delimiter, for example `"i"` or `"ms"`.
    pub flags: String,
}

/// The header a `header` or `mimeheader` rule reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HeaderField {
    /// `ALL`: the whole header section, folds unfolded.
    All,
    /// `ALL-TRUSTED`, `ALL-UNTRUSTED`, `ALL-INTERNAL` or `ALL-EXTERNAL`, as written.
    AllRelays(String),
    /// `ToCc`: the To and Cc fields together.
    ToCc,
    /// `MESSAGEID`: Message-Id, Resent-Message-Id and X-Message-Id together.
    MessageId,
    /// `EnvelopeFrom`: the SMTP MAIL FROM address.
    EnvelopeFrom,
    /// A named field, stored in lower case because field names are
    /// case-insensitive (RFC 5322 section 1.2.2).
    Named(String),
}

impl HeaderField {
    /// Parses a field name, recognising SpamAssassin's pseudo-headers, which
    /// are case-sensitive.
    pub fn parse(name: &str) -> HeaderField {
        match name {
            "ALL" => HeaderField::All,
            "ALL-TRUSTED" | "ALL-UNTRUSTED" | "ALL-INTERNAL" | "ALL-EXTERNAL" => {
                HeaderField::AllRelays(name.to_string())
            }
            "ToCc" => HeaderField::ToCc,
            "MESSAGEID" => HeaderField::MessageId,
            "EnvelopeFrom" => HeaderField::EnvelopeFrom,
            _ => HeaderField::Named(name.to_ascii_lowercase()),
        }
    }

    /// Returns the name as SpamAssassin writes it (named fields in lower case).
    pub fn as_str(&self) -> &str {
        match self {
            HeaderField::All => "ALL",
            HeaderField::AllRelays(name) | HeaderField::Named(name) => name,
            HeaderField::ToCc => "ToCc",
            HeaderField::MessageId => "MESSAGEID",
            HeaderField::EnvelopeFrom => "EnvelopeFrom",
        }
    }
}

/// A modifier after the field name, such as `From:addr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HeaderModifier {
    /// `:raw`: no decoding of encoded words, whitespace kept.
    Raw,
    /// `:addr`: the first address only.
    Addr,
    /// `:name`: the first display name only.
    Name,
    /// `:host`, `:domain`, `:ip`, `:revip`: parts of a host name (SpamAssassin 4).
    Host,
    Domain,
    Ip,
    Revip,
    /// `:first` and `:last`: only the first or last instance of the field.
    First,
    Last,
}

impl HeaderModifier {
    /// Parses a modifier name without its colon.
    pub fn parse(name: &str) -> Option<HeaderModifier> {
        Some(match name {
            "raw" => HeaderModifier::Raw,
            "addr" => HeaderModifier::Addr,
            "name" => HeaderModifier::Name,
            "host" => HeaderModifier::Host,
            "domain" => HeaderModifier::Domain,
            "ip" => HeaderModifier::Ip,
            "revip" => HeaderModifier::Revip,
            "first" => HeaderModifier::First,
            "last" => HeaderModifier::Last,
            _ => return None,
        })
    }

    /// Returns the modifier name without its colon.
    pub fn as_str(self) -> &'static str {
        match self {
            HeaderModifier::Raw => "raw",
            HeaderModifier::Addr => "addr",
            HeaderModifier::Name => "name",
            HeaderModifier::Host => "host",
            HeaderModifier::Domain => "domain",
            HeaderModifier::Ip => "ip",
            HeaderModifier::Revip => "revip",
            HeaderModifier::First => "first",
            HeaderModifier::Last => "last",
        }
    }
}

/// The input of a header rule: a field and its modifiers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HeaderSpec {
    pub field: HeaderField,
    /// Modifiers in the order written; duplicates removed.
    pub modifiers: Vec<HeaderModifier>,
}

impl HeaderSpec {
    /// Returns the canonical text, for example `from:addr`, used as the
    /// compiled target's key: rules with equal keys read the same value.
    pub fn key(&self) -> String {
        let mut key = self.field.as_str().to_string();
        for modifier in &self.modifiers {
            key.push(':');
            key.push_str(modifier.as_str());
        }
        key
    }
}

/// A call of an eval function, such as `eval:check_for_missing_to_header()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalCall {
    pub function: String,
    /// Arguments with their quotes removed.
    pub args: Vec<String>,
}

/// A binary operator of a meta expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaOp {
    And,
    Or,
    Add,
    Sub,
    Mul,
    Div,
    Less,
    Greater,
    LessEqual,
    GreaterEqual,
    Equal,
    NotEqual,
}

/// A parsed `meta` expression. A rule name evaluates to its hit count (0 when
/// it did not hit), as SpamAssassin does.
#[derive(Debug, Clone, PartialEq)]
pub enum MetaExpr {
    Rule(String),
    Number(f64),
    Not(Box<MetaExpr>),
    Negate(Box<MetaExpr>),
    Binary(MetaOp, Box<MetaExpr>, Box<MetaExpr>),
}

impl MetaExpr {
    /// Calls `visit` with every rule name the expression reads.
    pub fn for_each_rule<'a>(&'a self, visit: &mut dyn FnMut(&'a str)) {
        match self {
            MetaExpr::Rule(name) => visit(name),
            MetaExpr::Number(_) => {}
            MetaExpr::Not(inner) | MetaExpr::Negate(inner) => inner.for_each_rule(visit),
            MetaExpr::Binary(_, left, right) => {
                left.for_each_rule(visit);
                right.for_each_rule(visit);
            }
        }
    }
}

/// The test of a rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// A regex over the kind's text (`body`, `rawbody`, `uri`, `full`).
    Regex(Pattern),
    /// A regex over a header value; `negated` is `!~`. `if_unset` is the value
    /// used when the message lacks the field.
    Header {
        spec: HeaderSpec,
        pattern: Pattern,
        negated: bool,
        if_unset: Option<String>,
    },
    /// `exists:Field`.
    Exists(String),
    /// `eval:function(args)` for any kind except meta.
    Eval(EvalCall),
    /// A `meta` expression.
    Meta(MetaExpr),
}

/// The `tflags` of a rule. A later `tflags` line for the same rule replaces
/// the earlier one, as in SpamAssassin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TFlags {
    /// `multiple`: the rule may hit more than once per message.
    pub multiple: bool,
    /// `maxhits=N`: the cap on hits of a `multiple` rule.
    pub maxhits: Option<u32>,
    /// `nice`: the rule marks ham, so its default score is negative.
    pub nice: bool,
    /// `net`: the rule needs network lookups.
    pub net: bool,
    /// `learn`: the rule needs Bayes.
    pub learn: bool,
    /// `nosubject`: a body rule that does not see the Subject, which
    /// SpamAssassin otherwise puts first in the body.
    pub nosubject: bool,
    /// Every other flag as written (`userconf`, `noautolearn`, `publish`, ...).
    pub other: Vec<String>,
}

/// The file and line number of a directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: String,
    pub line: u32,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}:{}", self.file, self.line)
    }
}

/// One named rule with everything the files set for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    /// The kind and test of the last definition, or `None` for a name that
    /// only has a score, description or flags (SpamAssassin ignores those).
    pub definition: Option<(RuleKind, Test)>,
    /// Location of the last definition.
    pub origin: Option<Origin>,
    /// Scores for the four score sets (0: no Bayes, no network; 1: network;
    /// 2: Bayes; 3: Bayes and network), or `None` for the default.
    pub scores: Option<[f64; 4]>,
    pub description: Option<String>,
    pub tflags: TFlags,
    pub priority: i32,
}

impl Rule {
    fn new(name: &str) -> Rule {
        Rule {
            name: name.to_string(),
            definition: None,
            origin: None,
            scores: None,
            description: None,
            tflags: TFlags::default(),
            priority: 0,
        }
    }

    /// Returns the rule's kind, if it is defined.
    pub fn kind(&self) -> Option<RuleKind> {
        self.definition.as_ref().map(|(kind, _)| *kind)
    }

    /// Returns the score in `set` (0 to 3). Without a `score` line this is
    /// SpamAssassin's default: 0 for `__` sub-rules, 0.01 for `T_` test
    /// rules, 1.0 otherwise, negated for `tflags nice`.
    pub fn score(&self, set: usize) -> f64 {
        if let Some(scores) = self.scores {
            return scores[set.min(3)];
        }
        let base = if self.name.starts_with("__") {
            0.0
        } else if self.name.starts_with("T_") {
            0.01
        } else {
            1.0
        };
        if self.tflags.nice {
            -base
        } else {
            base
        }
    }
}

/// Tags of SpamAssassin's ReplaceTags plugin: `<NAME>` in the rules named by
/// `replace_rules` expands to the `replace_tag` text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplaceTags {
    pub tags: HashMap<String, String>,
    pub pre: HashMap<String, String>,
    pub post: HashMap<String, String>,
    pub inter: HashMap<String, String>,
    /// Rule names whose patterns get their tags replaced, in first-seen order.
    pub rules: Vec<String>,
}

/// A problem with one line that the loader skipped. Never fatal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadWarning {
    pub origin: Origin,
    pub message: String,
}

/// Everything a set of `.cf` files defines.
#[derive(Debug, Clone, Default)]
pub struct RuleModel {
    /// Rules in first-seen order, indexed by [`RuleId`].
    pub rules: Vec<Rule>,
    index: HashMap<String, RuleId>,
    /// `required_score` (SpamAssassin's default is 5.0).
    pub required_score: f64,
    /// Directives the loader does not interpret, with their values in file
    /// order; the count of values is the count of lines.
    pub settings: BTreeMap<String, Vec<String>>,
    /// Names from `loadplugin` lines, and the ones the load options started with.
    pub plugins: Vec<String>,
    pub replace_tags: ReplaceTags,
    /// Skipped lines, up to [`crate::rules::WARNINGS_MAX`].
    pub warnings: Vec<LoadWarning>,
    /// Warnings beyond the ones kept in `warnings`.
    pub warnings_dropped: usize,
    /// Files read, in load order.
    pub files: Vec<String>,
}

impl RuleModel {
    /// Creates an empty model with SpamAssassin's default `required_score`.
    pub fn new() -> RuleModel {
        RuleModel {
            required_score: 5.0,
            ..RuleModel::default()
        }
    }

    /// Returns the id of `name`, if any line named it.
    pub fn id(&self, name: &str) -> Option<RuleId> {
        self.index.get(name).copied()
    }

    /// Returns the rule named `name`.
    pub fn get(&self, name: &str) -> Option<&Rule> {
        self.id(name).map(|id| &self.rules[id.index()])
    }

    /// Returns the rule named `name`, creating an undefined one when the name
    /// is new. The caller checks the rule limit first.
    pub(crate) fn entry(&mut self, name: &str) -> &mut Rule {
        let id = match self.index.get(name) {
            Some(id) => *id,
            None => {
                let id = RuleId(self.rules.len() as u32);
                self.rules.push(Rule::new(name));
                self.index.insert(name.to_string(), id);
                id
            }
        };
        &mut self.rules[id.index()]
    }

    /// Returns the defined rules: the ones a scorer runs.
    pub fn defined(&self) -> impl Iterator<Item = (RuleId, &Rule)> {
        self.rules
            .iter()
            .enumerate()
            .filter(|(_, rule)| rule.definition.is_some())
            .map(|(index, rule)| (RuleId(index as u32), rule))
    }

    /// Returns the count of lines per directive the loader keeps as settings.
    pub fn unknown_directive_counts(&self) -> BTreeMap<&str, usize> {
        self.settings
            .iter()
            .map(|(name, values)| (name.as_str(), values.len()))
            .collect()
    }
}
