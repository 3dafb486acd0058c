//! Message preparation for rules: the views of one message that
//! SpamAssassin 4.0.1's Mail::SpamAssassin::Message and PerMsgStatus give
//! each rule kind.
//!
//! `Prepared::new` parses a message once and returns a `Prepared` holding:
//! - `headers()`: `Headers`, for `header` rules (see `headers`).
//! - `body()`: for `body` rules. Every leaf text/plain part is decoded
//!   (quoted-printable, base64) and turned into UTF-8, every text/html part
//!   is rendered to text (see `html`), the parts are joined with "\n", and
//!   whitespace is collapsed into paragraphs. The decoded Subject and "\n"
//!   come first, and the result is split into lines of at most
//!   `BODY_LINE_LEN_MAX` bytes.
//! - `rawbody()`: for `rawbody` rules. Every leaf text/* and message/* part
//!   except text/calendar, decoded but in its own charset and with HTML kept,
//!   split into pieces of `BODY_LINE_LEN_MAX` to twice that. A part that
//!   needs no decoding is borrowed from the message.
//! - `full()`: the message bytes, for `full` rules.
//! - `uris()`: for `uri` rules (see `uri`).
//! - `html()`: one `HtmlFacts` per HTML part, for eval rules.
//! - `alternative_difference()`: how much the HTML and text versions of
//!   multipart/alternative parts differ (see `alternative`).
//! - `part_headers()`: the header of each MIME entity, for `mimeheader`
//!   rules.
//! - `mime_scan()`: SpamAssassin's parse flags and base64 line lengths,
//!   from a second pass that splits the message by SpamAssassin's line
//!   rules (see `mime_scan`).
//! - `images()`: the GIF, PNG and JPEG parts and their pixel sizes, found
//!   on the first call (see `image`).
//!
//! Preparation returns no error, and the unit tests, a property test, the
//! corpus test and the `spam_prepare` fuzz target check that no input makes
//! it panic. Past a limit it stops
//! descending or decoding and records that in `limits_reached()`:
//! - `MIME_DEPTH_MAX`: multipart and message/rfc822 nesting, which is
//!   SpamAssassin's default `subparse` depth. Deeper containers are skipped.
//! - `MIME_LEAVES_MAX`: leaf parts read. Later parts are skipped.
//! - `PART_DECODED_LEN_MAX`: bytes of one part's body that are decoded.
//! - `DECODED_TOTAL_LEN_MAX`: decoded bytes over the whole message. Parts
//!   after the total is reached are skipped.
//!
//! As in SpamAssassin, a message whose first line ends in CRLF has every
//! CRLF of its bodies read as LF.

pub mod alternative;
pub mod decode;
pub mod headers;
pub mod html;
pub mod html_color;
pub mod image;
pub mod mime_scan;
pub mod received;
pub mod redirector;
pub mod text;
pub mod text_style;
pub mod uri;
pub mod uri_host;

#[cfg(test)]
mod tests;

use std::borrow::Cow;

use ringmail_protocols::message::{parse, Content, Part};

use alternative::{AlternativeDifference, AlternativeWords, PartDifference};

pub use headers::{HeaderForm, Headers};
pub use html::HtmlFacts;
pub use redirector::Redirectors;
pub use text::BODY_LINE_LEN_MAX;
pub use uri::UriRules;
pub use uri_host::Tlds;

/// Maximum nesting of multipart and message/rfc822 parts that is descended
/// into. 20 is SpamAssassin 4.0.1's default `subparse` depth.
pub const MIME_DEPTH_MAX: usize = 20;

/// Maximum leaf parts read in one message, because each costs a decode and
/// a message of thousands of empty parts would otherwise cost that many.
pub const MIME_LEAVES_MAX: usize = 1_000;

/// Maximum bytes of one part's body that are decoded. Decoding never makes
/// a body longer, so this also bounds each decoded part.
pub const PART_DECODED_LEN_MAX: usize = 8 * 1024 * 1024;

/// Maximum decoded bytes over all parts of one message, so that many parts
/// just under the per-part maximum still cost bounded memory.
pub const DECODED_TOTAL_LEN_MAX: usize = 32 * 1024 * 1024;

/// The limits one message reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimitsReached {
    pub mime_depth: bool,
    pub mime_leaves: bool,
    pub part_decoded_len: bool,
    pub decoded_total_len: bool,
}

/// The views of one message that rules read.
#[derive(Debug, Clone)]
pub struct Prepared<'m> {
    full: &'m [u8],
    headers: Headers<'m>,
    body: Vec<String>,
    /// Lines at the start of `body` that hold the Subject.
    subject_lines: usize,
    /// The rendered text without invisible HTML text, `None` when there is
    /// none and so it equals the rendered text.
    visible: Option<String>,
    /// The invisible HTML text.
    invisible: String,
    rawbody: Vec<Cow<'m, [u8]>>,
    /// The top-level body, undecoded: the bytes after the header's empty line.
    pristine_body: &'m [u8],
    uris: Vec<String>,
    html: Vec<HtmlFacts>,
    alternative_difference: AlternativeDifference,
    /// Header ranges of every MIME entity visited, the message's own first.
    part_headers: Vec<std::ops::Range<usize>>,
    leaves: usize,
    limits_reached: LimitsReached,
    mime_scan: mime_scan::MimeScan,
    /// The Date minus Received difference, computed by the first eval rule
    /// that reads it, because several rules compare it with other bounds.
    date_diff_secs: std::cell::OnceCell<i64>,
    /// The image parts, found by the first eval rule that reads them.
    images: std::cell::OnceCell<Vec<image::Image>>,
}

/// State of one walk over the MIME tree.
struct Walk<'m> {
    message: &'m [u8],
    crlf: bool,
    rendered: String,
    /// The rendered text without invisible HTML text, for Bayes. `None`
    /// until a part has invisible text, because until then it equals
    /// `rendered`.
    visible: Option<String>,
    /// The invisible HTML text, for Bayes.
    invisible: String,
    rawbody: Vec<Cow<'m, [u8]>>,
    uris: uri::UriList,
    html: Vec<HtmlFacts>,
    /// The multipart/alternative parts being read, innermost last, each
    /// with its number in the order the parts start.
    alternatives: Vec<(usize, AlternativeWords)>,
    /// multipart/alternative parts started so far.
    alternatives_started: usize,
    /// The result of each finished multipart/alternative part with HTML
    /// words, with its number.
    alternative_parts: Vec<(usize, PartDifference)>,
    part_headers: Vec<std::ops::Range<usize>>,
    leaves: usize,
    decoded_total_len: usize,
    limits_reached: LimitsReached,
}

impl<'m> Prepared<'m> {
    /// Prepares `raw`, a whole message with its header, with no
    /// `redirector_pattern` rules and no known top-level domains.
    pub fn new(raw: &'m [u8]) -> Prepared<'m> {
        Prepared::with_uri_rules(raw, &UriRules::default())
    }

    /// Prepares `raw`, finding the targets of redirector URIs with the
    /// patterns of `uri_rules` first ([`redirector`]) and checking text
    /// URIs against its top-level domains ([`uri_host`]).
    pub fn with_uri_rules(raw: &'m [u8], uri_rules: &UriRules) -> Prepared<'m> {
        let root = parse(raw);
        let headers = Headers::new(&raw[root.header.clone()]);
        let first_line_end = memchr::memchr(b'\n', raw);
        let crlf = first_line_end.is_some_and(|at| at > 0 && raw[at - 1] == b'\r');

        let mut walk = Walk {
            message: raw,
            crlf,
            rendered: String::new(),
            visible: None,
            invisible: String::new(),
            rawbody: Vec::new(),
            uris: uri::UriList::with_rules(uri_rules.clone()),
            html: Vec::new(),
            alternatives: Vec::new(),
            alternatives_started: 0,
            alternative_parts: Vec::new(),
            part_headers: Vec::new(),
            leaves: 0,
            decoded_total_len: 0,
            limits_reached: LimitsReached::default(),
        };
        walk.visit(&root, 0);
        walk.alternative_parts.sort_by_key(|(number, _)| *number);
        let alternative_difference = if is_meeting_request(&root) {
            AlternativeDifference::default()
        } else {
            AlternativeDifference::from_parts(walk.alternative_parts.iter().map(|(_, part)| *part))
        };

        // SpamAssassin uses the last Subject, decoded, and "\n" when there is none.
        let subject = headers
            .values("Subject", HeaderForm::Decoded)
            .pop()
            .unwrap_or_default();
        let mut body = Vec::new();
        let mut first = subject;
        first.push('\n');
        text::split_short_lines(&first, &mut body);
        let subject_lines = body.len();
        text::split_short_lines(&text::collapse_whitespace(&walk.rendered), &mut body);

        for line in &body {
            uri::extract_from_text(line, &mut walk.uris);
        }

        Prepared {
            full: raw,
            headers,
            body,
            subject_lines,
            visible: walk.visible,
            invisible: walk.invisible,
            rawbody: walk.rawbody,
            pristine_body: &raw[root.body.clone()],
            uris: walk.uris.into_vec(),
            html: walk.html,
            alternative_difference,
            part_headers: walk.part_headers,
            leaves: walk.leaves,
            limits_reached: walk.limits_reached,
            mime_scan: mime_scan::scan(raw),
            date_diff_secs: std::cell::OnceCell::new(),
            images: std::cell::OnceCell::new(),
        }
    }

    /// Returns the Date minus Received difference in seconds, computing it
    /// with `compute` on the first call only.
    pub fn date_diff_secs(&self, compute: impl FnOnce(&Prepared<'m>) -> i64) -> i64 {
        *self.date_diff_secs.get_or_init(|| compute(self))
    }

    /// Returns the image parts of the message ([`image`]), parsing the MIME
    /// tree and decoding each image's first bytes on the first call only.
    pub fn images(&self) -> &[image::Image] {
        self.images
            .get_or_init(|| image::find_images(self.full, &parse(self.full)))
    }

    /// Returns the message bytes, for `full` rules.
    pub fn full(&self) -> &'m [u8] {
        self.full
    }

    /// Returns the top-level header fields.
    pub fn headers(&self) -> &Headers<'m> {
        &self.headers
    }

    /// Returns a header value; see `Headers::get`.
    pub fn header(&self, name: &str, form: HeaderForm) -> Option<String> {
        self.headers.get(name, form)
    }

    /// Returns the body lines for `body` rules, Subject first.
    pub fn body(&self) -> &[String] {
        &self.body
    }

    /// Returns the body lines Bayes reads as visible text, Subject first:
    /// [`Prepared::body`] without the HTML text that is invisible
    /// ([`text_style::TextStyles::text`]).
    pub fn visible_body(&self) -> Cow<'_, [String]> {
        let Some(visible) = &self.visible else {
            return Cow::Borrowed(&self.body);
        };
        let mut lines = self.body[..self.subject_lines].to_vec();
        text::split_short_lines(&text::collapse_whitespace(visible), &mut lines);
        Cow::Owned(lines)
    }

    /// Returns the lines of invisible HTML text, which Bayes tokenizes
    /// with the `I*:` prefix.
    pub fn invisible_body(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if !self.invisible.is_empty() {
            text::split_short_lines(&text::collapse_whitespace(&self.invisible), &mut lines);
        }
        lines
    }

    /// Returns the top-level body as received, undecoded (SpamAssassin's
    /// `get_pristine_body`).
    pub fn pristine_body(&self) -> &'m [u8] {
        self.pristine_body
    }

    /// Returns the decoded, unrendered text pieces for `rawbody` rules.
    pub fn rawbody(&self) -> &[Cow<'m, [u8]>] {
        &self.rawbody
    }

    /// Returns the normalized, de-duplicated URIs for `uri` rules.
    pub fn uris(&self) -> &[String] {
        &self.uris
    }

    /// Returns the body lines after the Subject's, for `tflags nosubject`
    /// rules.
    pub fn body_without_subject(&self) -> &[String] {
        &self.body[self.subject_lines.min(self.body.len())..]
    }

    /// Returns the facts of each HTML part, in message order.
    pub fn html(&self) -> &[HtmlFacts] {
        &self.html
    }

    /// Returns how much the HTML and text versions of the message's
    /// multipart/alternative parts differ ([`alternative`]).
    pub fn alternative_difference(&self) -> AlternativeDifference {
        self.alternative_difference
    }

    /// Returns the header fields of every MIME entity, for `mimeheader`
    /// rules: the message's own header first, then each part depth-first,
    /// containers included, as SpamAssassin's `find_parts(qr/./)` lists
    /// them. Entities below `MIME_DEPTH_MAX` are not listed. Each header is
    /// scanned on request, because most rule sets have no `mimeheader` rule.
    pub fn part_headers(&self) -> impl Iterator<Item = Headers<'m>> + '_ {
        self.part_headers
            .iter()
            .map(|range| Headers::new(&self.full[range.clone()]))
    }

    /// Returns the number of leaf parts read.
    pub fn leaves(&self) -> usize {
        self.leaves
    }

    /// Returns which limits this message reached.
    pub fn limits_reached(&self) -> LimitsReached {
        self.limits_reached
    }

    /// Returns the facts of the pass that splits the message as
    /// SpamAssassin's parser does ([`mime_scan`]).
    pub fn mime_scan(&self) -> mime_scan::MimeScan {
        self.mime_scan
    }
}

impl<'m> Walk<'m> {
    /// Visits `part` depth-first, reading its leaves in message order.
    fn visit(&mut self, part: &Part, depth: usize) {
        // The protocols crate's `PARTS_MAX` bounds the entities of a tree,
        // and so the length of this list.
        self.part_headers.push(part.header.clone());
        match &part.content {
            Content::Multipart(children) => {
                if depth >= MIME_DEPTH_MAX {
                    self.limits_reached.mime_depth = true;
                    return;
                }
                let alternative = part.content_type.is(b"multipart", b"alternative");
                if alternative {
                    self.alternatives
                        .push((self.alternatives_started, AlternativeWords::default()));
                    self.alternatives_started += 1;
                }
                for child in children {
                    self.visit(child, depth + 1);
                }
                if alternative {
                    if let Some((number, words)) = self.alternatives.pop() {
                        if let Some(difference) = words.finish() {
                            self.alternative_parts.push((number, difference));
                        }
                    }
                }
            }
            Content::Message(inner) => {
                if depth >= MIME_DEPTH_MAX {
                    self.limits_reached.mime_depth = true;
                    return;
                }
                self.visit(inner, depth + 1);
            }
            Content::Leaf => self.read_leaf(part),
        }
    }

    fn read_leaf(&mut self, part: &Part) {
        if self.leaves >= MIME_LEAVES_MAX {
            self.limits_reached.mime_leaves = true;
            return;
        }
        self.leaves += 1;

        // SpamAssassin joins parts with "\n", for non-text leaves too.
        if !self.rendered.is_empty() {
            self.rendered.push('\n');
        }

        let content_type = &part.content_type;
        let is_text = content_type.media_type.eq_ignore_ascii_case(b"text");
        let is_message = content_type.media_type.eq_ignore_ascii_case(b"message");
        let is_plain = content_type.is(b"text", b"plain");
        let is_html = content_type.is(b"text", b"html");
        let is_calendar = content_type.is(b"text", b"calendar");
        if !(is_text || is_message) || (is_calendar && !is_plain) {
            return;
        }
        if self.decoded_total_len >= DECODED_TOTAL_LEN_MAX {
            self.limits_reached.decoded_total_len = true;
            return;
        }

        let decoded = self.decode_body(part);
        self.decoded_total_len += decoded.len();

        let mut pieces = Vec::new();
        let raw_cut = text::scan_cut(&decoded, text::RAWBODY_PART_SCAN_LEN, b"> ");
        let rawbody_text = match &decoded {
            Cow::Borrowed(bytes) => Cow::Borrowed(&bytes[..raw_cut]),
            Cow::Owned(bytes) => Cow::Owned(bytes[..raw_cut].to_vec()),
        };
        text::split_short_paragraphs(rawbody_text, &mut pieces);
        self.rawbody.extend(pieces);

        if !(is_plain || is_html) {
            return;
        }
        let charset = content_type.param(b"charset");
        let text = decode::to_utf8(&decoded, charset);
        let mut split_text = None;
        let rendered = if is_html && !text.is_empty() {
            let html_rendered = html::render(&text);
            let has_image = html_rendered.facts.inside.contains_key("img");
            for (_, words) in &mut self.alternatives {
                words.add_html(&html_rendered.text, has_image);
            }
            let base = base_href(&text);
            for found in &html_rendered.uris {
                if let Some(normalized) = uri::normalize(found, base.as_deref()) {
                    self.uris.push_with_variants(normalized);
                }
            }
            self.html.push(html_rendered.facts);
            split_text = Some((html_rendered.visible_text, html_rendered.invisible_text));
            Cow::Owned(html_rendered.text)
        } else {
            if is_plain {
                for (_, words) in &mut self.alternatives {
                    words.add_text(&text);
                }
            }
            text
        };
        let rendered_before = self.rendered.len();
        push_scanned(&mut self.rendered, &rendered);
        match split_text {
            Some((visible, invisible)) if !invisible.is_empty() => {
                let so_far = self
                    .visible
                    .get_or_insert_with(|| self.rendered[..rendered_before].to_string());
                push_scanned(so_far, &visible);
                push_scanned(&mut self.invisible, &invisible);
            }
            _ => {
                if let Some(so_far) = &mut self.visible {
                    push_scanned(so_far, &rendered);
                }
            }
        }
    }

    /// Returns the decoded body of a leaf, cut to `PART_DECODED_LEN_MAX`
    /// input bytes, with CRLF read as LF where SpamAssassin does so.
    fn decode_body(&mut self, part: &Part) -> Cow<'m, [u8]> {
        let mut body = &self.message[part.body.clone()];
        if body.len() > PART_DECODED_LEN_MAX {
            self.limits_reached.part_decoded_len = true;
            body = &body[..PART_DECODED_LEN_MAX];
        }
        let encoding = &part.encoding;
        let decoded: Cow<'m, [u8]> = if encoding.eq_ignore_ascii_case(b"quoted-printable") {
            decode::quoted_printable(body)
        } else if encoding.eq_ignore_ascii_case(b"base64") {
            Cow::Owned(decode::base64(body))
        } else {
            Cow::Borrowed(body)
        };
        let is_encoded = !matches!(decoded, Cow::Borrowed(_));
        if (self.crlf || is_encoded) && memchr::memmem::find(&decoded, b"\r\n").is_some() {
            return Cow::Owned(crlf_to_lf(&decoded));
        }
        decoded
    }
}

/// Appends `text` to `target` up to [`text::BODY_PART_SCAN_LEN`] bytes,
/// cut at a space when one is near the limit.
fn push_scanned(target: &mut String, text: &str) {
    let cut = text::scan_cut(text.as_bytes(), text::BODY_PART_SCAN_LEN, b" ");
    let cut = text::floor_char_boundary(text, cut);
    target.push_str(&text[..cut]);
}

/// Returns whether the message is an Exchange meeting request: a
/// multipart/alternative of exactly a text/html and a text/calendar leaf,
/// which BodyEval.pm leaves out of the multipart/alternative comparison.
fn is_meeting_request(root: &Part) -> bool {
    let Content::Multipart(children) = &root.content else {
        return false;
    };
    let is_leaf = |part: &Part, subtype: &[u8]| {
        matches!(part.content, Content::Leaf) && part.content_type.is(b"text", subtype)
    };
    root.content_type.is(b"multipart", b"alternative")
        && children.len() == 2
        && is_leaf(&children[0], b"html")
        && is_leaf(&children[1], b"calendar")
}

/// Returns `bytes` with every CRLF turned into LF.
fn crlf_to_lf(bytes: &[u8]) -> Vec<u8> {
    let mut output = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some(at) = memchr::memmem::find(rest, b"\r\n") {
        output.extend_from_slice(&rest[..at]);
        output.push(b'\n');
        rest = &rest[at + 2..];
    }
    output.extend_from_slice(rest);
    output
}

/// Bytes at the start of an HTML part searched for `<base href>`, which
/// belongs in the head.
const BASE_SEARCH_LEN: usize = 64 * 1024;

/// Returns the `href` of the first `<base>` tag of an HTML text.
fn base_href(html: &str) -> Option<String> {
    let head = &html[..text::floor_char_boundary(html, BASE_SEARCH_LEN)];
    let lower = head.to_ascii_lowercase();
    let at = lower.find("<base")?;
    let tag_end = lower[at..].find('>').map_or(lower.len(), |end| at + end);
    let tag = &head[at..tag_end];
    let href_at = tag.to_ascii_lowercase().find("href")?;
    let value = tag[href_at + 4..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let value = value.trim_start_matches(['"', '\'']);
    let end = value.find(['"', '\'', ' ', '>']).unwrap_or(value.len());
    Some(value[..end].to_string())
}
