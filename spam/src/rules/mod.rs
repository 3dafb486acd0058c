//! Loader for SpamAssassin's `.cf` rule files.
//!
//! [`load`] reads files in SpamAssassin's order and returns a [`RuleModel`]:
//! [`parse`] turns each line into rule definitions and settings, [`load`]
//! finds and reads the files, follows `include` and applies ReplaceTags at the
//! end. Problems with single lines become [`LoadWarning`]s; only I/O failure
//! on the requested location and the limits below are fatal ([`LoadError`]).
//!
//! Limits exist because rule files may come from an operator's directory or an
//! sa-update channel, and the loader runs at start before any worker: each one
//! caps memory or time on hostile or broken input. SpamAssassin 4.0.1's stock
//! rules use about 60 files, 5,000 rules and lines up to about 10,400 bytes.

pub mod load;
pub mod model;
pub mod parse;

pub use load::{
    load, load_default, load_default_from, load_dir, load_embedded, DefaultLocations, FileSource,
    LoadError, MemorySource, RuleSource,
};
pub use model::*;
pub use parse::{parse_delimited_regex, parse_meta, Parser};

use std::collections::BTreeSet;

/// Maximum bytes in one line, because a line is held whole while parsing.
pub const LINE_LEN_MAX: usize = 64 * 1024;
/// Maximum nesting of `include`, because each open level keeps a file in memory.
pub const INCLUDE_DEPTH_MAX: usize = 8;
/// Maximum files read in one load, which bounds time and memory when a
/// directory or an include chain is larger than any real rule set.
pub const FILES_MAX: usize = 1_000;
/// Maximum bytes of one file.
pub const FILE_SIZE_MAX: usize = 16 * 1024 * 1024;
/// Maximum rule names in one model; each becomes a compiled regex or an eval.
pub const RULES_MAX: usize = 100_000;
/// Maximum bytes of one regex source, because compile time and automaton
/// size grow with it.
pub const REGEX_LEN_MAX: usize = 16 * 1024;
/// Maximum nesting of `if` and `ifplugin` blocks.
pub const CONDITIONAL_DEPTH_MAX: usize = 32;
/// Maximum nesting depth of a `meta` expression, because the parser and the
/// evaluator recurse once per level.
pub const META_DEPTH_MAX: usize = 64;
/// Maximum warnings kept in [`RuleModel::warnings`]; the rest are counted.
pub const WARNINGS_MAX: usize = 1_000;

/// SpamAssassin's version as `if (version >= ...)` compares it: 4.0.1.
pub const SPAMASSASSIN_VERSION: f64 = 4.000001;

/// Plugins SpamAssassin 4.0.1 loads by default on Debian: the `loadplugin`
/// lines of `/etc/spamassassin/v*.pre` that are not commented out.
pub const DEFAULT_PLUGINS: &[&str] = &[
    "Mail::SpamAssassin::Plugin::URIDNSBL",
    "Mail::SpamAssassin::Plugin::SPF",
    "Mail::SpamAssassin::Plugin::Pyzor",
    "Mail::SpamAssassin::Plugin::Razor2",
    "Mail::SpamAssassin::Plugin::SpamCop",
    "Mail::SpamAssassin::Plugin::AutoLearnThreshold",
    "Mail::SpamAssassin::Plugin::WelcomeListSubject",
    "Mail::SpamAssassin::Plugin::MIMEHeader",
    "Mail::SpamAssassin::Plugin::ReplaceTags",
    "Mail::SpamAssassin::Plugin::DKIM",
    "Mail::SpamAssassin::Plugin::Check",
    "Mail::SpamAssassin::Plugin::HTTPSMismatch",
    "Mail::SpamAssassin::Plugin::URIDetail",
    "Mail::SpamAssassin::Plugin::Bayes",
    "Mail::SpamAssassin::Plugin::BodyEval",
    "Mail::SpamAssassin::Plugin::DNSEval",
    "Mail::SpamAssassin::Plugin::HTMLEval",
    "Mail::SpamAssassin::Plugin::HeaderEval",
    "Mail::SpamAssassin::Plugin::MIMEEval",
    "Mail::SpamAssassin::Plugin::RelayEval",
    "Mail::SpamAssassin::Plugin::URIEval",
    "Mail::SpamAssassin::Plugin::WLBLEval",
    "Mail::SpamAssassin::Plugin::VBounce",
    "Mail::SpamAssassin::Plugin::ImageInfo",
    "Mail::SpamAssassin::Plugin::FreeMail",
    "Mail::SpamAssassin::Plugin::AskDNS",
    "Mail::SpamAssassin::Plugin::HashBL",
    "Mail::SpamAssassin::Plugin::DMARC",
];

/// Methods for which `if can(...)` and `if has(...)` are true: the feature
/// flags of `Mail::SpamAssassin::Conf` in 4.0.1 and the `has_` methods of the
/// default plugins. A plugin method counts only while its plugin is loaded.
pub const DEFAULT_FEATURES: &[&str] = &[
    "Mail::SpamAssassin::Conf::feature_originating_ip_headers",
    "Mail::SpamAssassin::Conf::feature_dns_local_ports_permit_avoid",
    "Mail::SpamAssassin::Conf::feature_bayes_auto_learn_on_error",
    "Mail::SpamAssassin::Conf::feature_uri_host_listed",
    "Mail::SpamAssassin::Conf::feature_yesno_takes_args",
    "Mail::SpamAssassin::Conf::feature_bug6558_free",
    "Mail::SpamAssassin::Conf::feature_edns",
    "Mail::SpamAssassin::Conf::feature_dns_query_restriction",
    "Mail::SpamAssassin::Conf::feature_registryboundaries",
    "Mail::SpamAssassin::Conf::feature_geodb",
    "Mail::SpamAssassin::Conf::feature_dns_block_rule",
    "Mail::SpamAssassin::Conf::feature_compile_regexp",
    "Mail::SpamAssassin::Conf::feature_meta_rules_matching",
    "Mail::SpamAssassin::Conf::feature_subjprefix",
    "Mail::SpamAssassin::Conf::feature_bayes_stopwords",
    "Mail::SpamAssassin::Conf::feature_get_host",
    "Mail::SpamAssassin::Conf::feature_blocklist_welcomelist",
    "Mail::SpamAssassin::Conf::feature_welcomelist_blocklist",
    "Mail::SpamAssassin::Conf::feature_header_address_parser",
    "Mail::SpamAssassin::Conf::feature_local_tests_only",
    "Mail::SpamAssassin::Conf::feature_header_first_last",
    "Mail::SpamAssassin::Conf::feature_header_match_many",
    "Mail::SpamAssassin::Conf::feature_capture_rules",
    "Mail::SpamAssassin::Conf::has_tflags_nosubject",
    "Mail::SpamAssassin::Conf::has_tflags_nolog",
    "Mail::SpamAssassin::Conf::perl_min_version_5010000",
    "Mail::SpamAssassin::Plugin::BodyEval::has_check_body_length",
    "Mail::SpamAssassin::Plugin::BodyEval::has_plaintext_body_sig_ratio",
    "Mail::SpamAssassin::Plugin::MIMEEval::has_check_for_ascii_text_illegal",
    "Mail::SpamAssassin::Plugin::DKIM::has_arc",
    "Mail::SpamAssassin::Plugin::DNSEval::has_tflags_domains_only",
    "Mail::SpamAssassin::Plugin::DNSEval::has_tflags_ips_only",
    "Mail::SpamAssassin::Plugin::AskDNS::has_tag_header",
];

/// Assumptions about the SpamAssassin installation that the loader emulates.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Plugins that count as loaded for `ifplugin` and `if plugin(...)`,
    /// before any `loadplugin` line. Default: [`DEFAULT_PLUGINS`].
    pub plugins: BTreeSet<String>,
    /// Methods for which `if can(...)` and `if has(...)` are true.
    /// Default: [`DEFAULT_FEATURES`].
    pub features: BTreeSet<String>,
    /// The value of `version` in `if` lines. Default: [`SPAMASSASSIN_VERSION`].
    pub version: f64,
    /// The value of `perl_version` in `if` lines. Default: 5.036 (Debian 12).
    pub perl_version: f64,
    /// The value of `local_tests_only`. Default: true, because Ringmail runs
    /// no network tests.
    pub local_tests_only: bool,
    /// The language whose `lang xx` lines apply; `None` skips all of them,
    /// as SpamAssassin does under the C or English locale.
    pub language: Option<String>,
}

impl Default for LoadOptions {
    fn default() -> LoadOptions {
        LoadOptions {
            plugins: DEFAULT_PLUGINS
                .iter()
                .map(|name| name.to_string())
                .collect(),
            features: DEFAULT_FEATURES
                .iter()
                .map(|name| name.to_string())
                .collect(),
            version: SPAMASSASSIN_VERSION,
            perl_version: 5.036,
            local_tests_only: true,
            language: None,
        }
    }
}

#[cfg(test)]
mod tests;
