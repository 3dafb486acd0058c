//! Eval functions: the `eval:name(args)` tests of SpamAssassin 4.0.1 rules
//! that need no network, computed from a `Prepared` message.
//!
//! `evaluate(function, args, message)` returns `Some(hit)` for a function
//! this module implements and `None` for any other, so that a scorer can
//! count unknown functions instead of treating them as misses. `args` are
//! the rule's arguments with quotes removed. Body and rawbody evals in Perl
//! also receive the body array first, and that argument is not in `args`.
//! A known function called with an argument it does not support (such as
//! a `check_for_mime` flag that is not computed) also returns `None`.
//!
//! Families, after the Perl plugin each one follows:
//! - `header`: HeaderEval.pm (missing To, header counts, illegal bytes,
//!   Subject tests, From and envelope domains).
//! - `mime`: MIMEEval.pm (part types, transfer encodings, the text to
//!   HTML ratio of multipart/alternative, body length).
//! - `date`: the Date and Received time tests of HeaderEval.pm.
//! - `html`: HTMLEval.pm, reading `Prepared::html()`.
//! - `body`: BodyEval.pm and the body half of MIMEEval.pm (upper case
//!   share, blank line ratio).
//! - `image`: ImageInfo.pm (image counts, pixel area, text per pixel,
//!   image sizes).
//!
//! Settings are SpamAssassin's defaults: `ok_locales all`, so every
//! "faraway charset" test is false. Network tests (DNSBL, URIBL, SPF,
//! DKIM, DMARC, Razor, Pyzor) and list tests (welcomelists, blocklists,
//! FreeMail) are not here and return `None`. The scorer computes FreeMail's
//! two header tests itself (`score::freemail`), from the rule set's lists.

mod body;
mod date;
mod header;
mod html;
mod image;
mod mime;
mod received;
mod relay;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;

use crate::compile::{compile_pattern, CompiledPattern};
use crate::prepare::Prepared;

/// Names of the eval functions `evaluate` implements, sorted.
const IMPLEMENTED: &[&str] = &[
    "check_all_trusted",
    "check_base64_length",
    "check_blank_line_ratio",
    "check_body_length",
    "check_equal_from_domains",
    "check_for_ascii_text_illegal",
    "check_for_fake_aol_relay_in_rcvd",
    "check_for_faraway_charset",
    "check_for_faraway_charset_in_headers",
    "check_for_forged_eudoramail_received_headers",
    "check_for_forged_gmail_received_headers",
    "check_for_forged_hotmail_received_headers",
    "check_for_forged_juno_received_headers",
    "check_for_forged_received_trail",
    "check_for_forged_yahoo_received_headers",
    "check_for_matching_env_and_hdr_from",
    "check_for_mime",
    "check_for_mime_html",
    "check_for_mime_html_only",
    "check_for_missing_to_header",
    "check_for_no_hotmail_received_headers",
    "check_for_no_rdns_dotcom_helo",
    "check_for_shifted_date",
    "check_for_to_in_subject",
    "check_for_uppercase",
    "check_header_count_range",
    "check_https_ip_mismatch",
    "check_iframe_src",
    "check_illegal_chars",
    "check_ma_non_text",
    "check_mime_multipart_ratio",
    "check_msg_parse_flags",
    "check_no_relays",
    "check_outlook_message_id",
    "check_ratware_name_id",
    "check_relays_unparseable",
    "check_stock_info",
    "check_unresolved_template",
    "check_uri_truncated",
    "gated_through_received_hdr_remover",
    "helo_ip_mismatch",
    "html_charset_faraway",
    "html_eval",
    "html_image_only",
    "html_image_ratio",
    "html_range",
    "html_tag_balance",
    "html_tag_exists",
    "html_test",
    "html_text_match",
    "html_title_subject_ratio",
    "image_count",
    "image_size_exact",
    "image_size_range",
    "image_to_text_ratio",
    "multipart_alternative_difference",
    "multipart_alternative_difference_count",
    "pixel_coverage",
    "similar_recipients",
    "sorted_recipients",
    "subject_is_all_caps",
    "tvd_vertical_words",
];

/// Evaluates the eval function `function` with the rule's `args` on
/// `message`, as a `body` or `header` rule calls it. Returns `None` when
/// the function, or the argument it was given, is not implemented.
pub fn evaluate(function: &str, args: &[String], message: &Prepared<'_>) -> Option<bool> {
    evaluate_with_text(function, args, message, image::text_len(message.body()))
}

/// Names of the eval functions whose result depends on whether a `body` or
/// a `rawbody` rule calls them, because they measure the text SpamAssassin
/// passes the rule.
const TEXT_MEASURING: &[&str] = &["image_to_text_ratio"];

/// Returns whether `function` gives a `rawbody` rule a different result
/// than a `body` rule, so that a `rawbody` rule must call
/// [`evaluate_rawbody`].
pub fn measures_rule_text(function: &str) -> bool {
    TEXT_MEASURING.contains(&function)
}

/// Evaluates `function` as a `rawbody` rule calls it: the text it measures
/// is the decoded, unrendered body (`Prepared::rawbody()`) instead of the
/// rendered one. Other functions give the same result as [`evaluate`].
pub fn evaluate_rawbody(function: &str, args: &[String], message: &Prepared<'_>) -> Option<bool> {
    evaluate_with_text(function, args, message, image::text_len(message.rawbody()))
}

/// Evaluates `function`, where `text_len` is the length in bytes of the
/// text SpamAssassin would pass the rule.
fn evaluate_with_text(
    function: &str,
    args: &[String],
    message: &Prepared<'_>,
    text_len: usize,
) -> Option<bool> {
    let arg = |index: usize| args.get(index).map(String::as_str);
    // ImageInfo.pm is false, not an error, when a required argument is
    // missing, and reads an absent maximum as no maximum.
    let optional = |index: usize| match arg(index) {
        Some(text) => number(text).map(Some),
        None => Some(None),
    };
    match function {
        "image_count" | "pixel_coverage" => {
            let (Some(kind), Some(min)) = (arg(0), arg(1)) else {
                return Some(false);
            };
            let (min, max) = (number(min)?, optional(2)?);
            Some(if function == "image_count" {
                image::count(message, kind, min, max)
            } else {
                image::pixel_coverage(message, kind, min, max)
            })
        }
        "image_to_text_ratio" => {
            let (Some(kind), Some(min), Some(max)) = (arg(0), arg(1), arg(2)) else {
                return Some(false);
            };
            Some(image::text_ratio(
                message,
                kind,
                text_len,
                number(min)?,
                number(max)?,
            ))
        }
        "image_size_exact" => {
            let (Some(kind), Some(height), Some(width)) = (arg(0), arg(1), arg(2)) else {
                return Some(false);
            };
            Some(image::size_exact(message, kind, height, width))
        }
        "image_size_range" => {
            let (Some(kind), Some(height_min), Some(width_min)) = (arg(0), arg(1), arg(2)) else {
                return Some(false);
            };
            let range = image::SizeRange {
                height_min: number(height_min)?,
                width_min: number(width_min)?,
                height_max: optional(3)?,
                width_max: optional(4)?,
            };
            Some(image::size_in_range(message, kind, range))
        }
        "check_for_missing_to_header" => Some(header::missing_to(message)),
        "check_all_trusted" => {
            let chain = message.headers().relay_chain();
            Some(
                chain.trusted_count() > 0
                    && chain.untrusted_count() == 0
                    && chain.unparseable_count() == 0,
            )
        }
        "check_no_relays" => {
            let chain = message.headers().relay_chain();
            Some(chain.is_empty() && chain.unparseable_count() == 0)
        }
        "check_relays_unparseable" => Some(message.headers().relay_chain().unparseable_count() > 0),
        "check_header_count_range" => {
            header::count_in_range(message, arg(0)?, number(arg(1)?)?, number(arg(2)?)?)
        }
        "check_illegal_chars" => {
            header::illegal_chars(message, arg(0)?, number(arg(1)?)?, number(arg(2)?)?)
        }
        "subject_is_all_caps" => Some(header::subject_is_all_caps(message)),
        "check_for_to_in_subject" => header::to_in_subject(message, arg(0)?),
        "check_equal_from_domains" => Some(header::from_domains_differ(message)),
        "check_for_forged_yahoo_received_headers" => Some(header::forged_yahoo_received(message)),
        "helo_ip_mismatch" => Some(header::helo_ip_mismatch(message)),
        "check_for_no_rdns_dotcom_helo" => Some(header::no_rdns_dotcom_helo(message)),
        "check_for_forged_received_trail" => Some(relay::forged_received_trail(message)),
        "check_for_forged_hotmail_received_headers" => {
            Some(received::hotmail_received(message).forged)
        }
        "check_for_no_hotmail_received_headers" => {
            Some(received::hotmail_received(message).missing)
        }
        "check_for_forged_eudoramail_received_headers" => {
            Some(received::forged_eudoramail_received(message))
        }
        "check_for_forged_juno_received_headers" => Some(received::forged_juno_received(message)),
        "check_for_forged_gmail_received_headers" => Some(received::forged_gmail_received(message)),
        "check_for_fake_aol_relay_in_rcvd" => Some(received::fake_aol_relay(message)),
        "gated_through_received_hdr_remover" => {
            Some(received::gated_through_received_hdr_remover(message))
        }
        "check_ratware_name_id" => Some(header::ratware_name_id(message)),
        "check_unresolved_template" => Some(header::unresolved_template(message)),
        "sorted_recipients" => Some(header::sorted_recipients(message)),
        "similar_recipients" => Some(header::similar_recipients(
            message,
            optional_number(arg(0)?)?,
            optional_number(arg(1)?)?,
        )),
        "check_for_matching_env_and_hdr_from" => Some(header::envelope_matches_from(message)),
        "check_for_shifted_date" => Some(date::shifted(
            message,
            optional_number(arg(0)?)?,
            optional_number(arg(1)?)?,
        )),
        "check_outlook_message_id" => Some(date::outlook_message_id_forged(message)),
        "check_for_faraway_charset" | "check_for_faraway_charset_in_headers" => Some(false),
        "check_for_mime" => mime::check_for_mime(message, arg(0)?),
        "check_for_mime_html" => Some(mime::facts(message).html_parts > 0),
        "check_for_mime_html_only" => {
            let facts = mime::facts(message);
            Some(facts.html_parts > 0 && facts.text_parts == 0)
        }
        "check_mime_multipart_ratio" => {
            let ratio = mime::facts(message).multipart_ratio;
            Some(ratio >= number(arg(0)?)? && ratio < number(arg(1)?)?)
        }
        "check_ma_non_text" => Some(mime::alternative_has_non_text(message)),
        "check_msg_parse_flags" => mime::parse_flag(message, arg(0)?),
        "check_base64_length" => Some(mime::base64_length(
            message,
            number(arg(0)?)?,
            match arg(1) {
                Some(max) => Some(number(max)?),
                None => None,
            },
        )),
        "multipart_alternative_difference" => {
            // BodyEval.pm: above `min` (or any, for 0) and at most `max`
            // (or any, for "undef").
            let percent = message.alternative_difference().percent;
            let min = number(arg(0)?)?;
            let max = optional_number(arg(1)?)?;
            Some((min == 0.0 || percent > min) && max.is_none_or(|max| percent <= max))
        }
        "multipart_alternative_difference_count" => {
            // BodyEval.pm: more than `min_html` HTML words, and more than
            // `ratio` text words per HTML word.
            let difference = message.alternative_difference();
            let ratio = number(arg(0)?)?;
            let min_html = number(arg(1)?)?;
            let html = difference.html_words as f64;
            Some(html > min_html && html > 0.0 && difference.text_words as f64 / html > ratio)
        }
        "check_for_ascii_text_illegal" => Some(mime::facts(message).ascii_text_illegal),
        "check_body_length" => Some(mime::body_len(message) as f64 <= number(arg(0)?)?),
        "html_tag_exists" => Some(html::tag_exists(message, arg(0)?)),
        "html_tag_balance" => html::tag_balance(message, arg(0)?, arg(1)?),
        "html_range" => html::range(message, arg(0)?, bound(arg(1)?)?, bound(arg(2)?)?),
        "html_eval" => html::compare(message, arg(0)?, arg(1)?),
        "html_image_only" => Some(html::image_only(
            message,
            number(arg(0)?)?,
            number(arg(1)?)?,
        )),
        "html_image_ratio" => Some(html::image_ratio(
            message,
            number(arg(0)?)?,
            number(arg(1)?)?,
        )),
        "html_charset_faraway" => Some(false),
        "html_test" => html::test(message, arg(0)?),
        "html_text_match" => html::text_match(message, arg(0)?, arg(1)?),
        "html_title_subject_ratio" => Some(html::title_subject_ratio(message, number(arg(0)?)?)),
        "check_iframe_src" => Some(html::iframe_src(message)),
        "check_https_ip_mismatch" => Some(html::https_ip_mismatch(message)),
        "check_uri_truncated" => Some(html::uri_truncated(message)),
        "check_stock_info" => {
            // BodyEval.pm: a `min` of 0 always hits.
            let min = number(arg(0)?)?;
            Some(min == 0.0 || body::stock_info_count(message) as f64 >= min)
        }
        "check_for_uppercase" => {
            let share = body::uppercase_percent(message);
            Some(share > number(arg(0)?)? && share <= number(arg(1)?)?)
        }
        "tvd_vertical_words" => {
            // BodyEval.pm: at least `min` and under `max`, where a `max`
            // of 100 or more allows 100.
            let percent = body::vertical_words_percent(message) as f64;
            let min = number(arg(0)?)?;
            let mut max = number(arg(1)?)?;
            if max >= 100.0 {
                max = 101.0;
            }
            Some(percent >= min && percent < max)
        }
        "check_blank_line_ratio" => {
            let lines_min = arg(2).and_then(number).unwrap_or(1.0);
            Some(body::blank_line_ratio_in(
                message,
                number(arg(0)?)?,
                number(arg(1)?)?,
                lines_min,
            ))
        }
        _ => None,
    }
}

/// Returns the names of the eval functions `evaluate` implements, sorted.
pub fn implemented() -> &'static [&'static str] {
    IMPLEMENTED
}

/// Parses an eval argument that may be `undef`: `Some(None)` for `undef`,
/// `Some(Some(n))` for a number, and `None` for anything else.
fn optional_number(text: &str) -> Option<Option<f64>> {
    if text == "undef" {
        Some(None)
    } else {
        number(text).map(Some)
    }
}

/// Parses a numeric rule argument as Perl would read a plain number.
fn number(text: &str) -> Option<f64> {
    text.trim().parse().ok()
}

/// Parses a range bound, where `inf` means no bound.
fn bound(text: &str) -> Option<f64> {
    if text.trim().eq_ignore_ascii_case("inf") {
        return Some(f64::INFINITY);
    }
    number(text)
}

/// Character sets whose text is often all capitals without being shouted,
/// as SpamAssassin 4.0.1's `CHARSETS_LIKELY_TO_FP_AS_CAPS`: any name that
/// contains one of these.
fn charset_likely_caps(charset: &str) -> bool {
    const PARTS: [&str; 12] = [
        "koi",
        "jp",
        "jis",
        "euc",
        "gb",
        "big5",
        "isoir",
        "cp1251",
        "windows-1251",
        "georgianps",
        "pt154",
        "tis",
    ];
    let lower = charset.to_ascii_lowercase();
    let is_name = lower
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
    is_name && PARTS.iter().any(|part| lower.contains(part))
}

/// Maximum patterns kept compiled by [`cached_pattern`]. SpamAssassin
/// 4.0.1's stock rules pass 6 distinct ones (5 for `html_text_match`, 1
/// for FreeMail), so the bound only matters for a hostile rule set.
const PATTERN_CACHE_MAX: usize = 1024;

/// The patterns of eval arguments compiled so far, shared by all threads.
type PatternCache = std::sync::RwLock<HashMap<String, Option<Arc<CompiledPattern>>>>;

/// Returns `source` compiled, or `None` when it does not compile. Each
/// pattern is compiled once per process, not once per message.
pub(crate) fn cached_pattern(source: &str) -> Option<Arc<CompiledPattern>> {
    static CACHE: std::sync::OnceLock<PatternCache> = std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(PatternCache::default);
    if let Ok(patterns) = cache.read() {
        if let Some(compiled) = patterns.get(source) {
            return compiled.clone();
        }
    }
    let pattern = crate::rules::Pattern {
        source: source.to_string(),
        flags: String::new(),
    };
    let compiled = compile_pattern(&pattern).ok().map(Arc::new);
    if let Ok(mut patterns) = cache.write() {
        if patterns.len() < PATTERN_CACHE_MAX {
            patterns.insert(source.to_string(), compiled.clone());
        }
    }
    compiled
}

/// Returns whether the Perl regex `pattern` matches `text`. A pattern that
/// does not compile matches nothing.
fn matches_perl(pattern: &str, text: &str) -> bool {
    cached_pattern(pattern).is_some_and(|compiled| compiled.is_match(text.as_bytes()))
}
