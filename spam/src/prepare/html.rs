//! A small HTML-to-text renderer for `body` rules, after the rendering of
//! SpamAssassin 4.0.1's Mail/SpamAssassin/HTML.pm.
//!
//! `render` takes decoded HTML text and returns an `HtmlRendered`: the text,
//! the URIs of links and embedded objects, and `HtmlFacts` that eval rules
//! read later (tag counts, images, the ratio of markup to text).
//!
//! Rendering: tags are removed, the content of `script` and `style` is
//! dropped, comments and declarations are dropped, and entities are decoded.
//! Runs of whitespace in text become one space. `br` and `div` start a line,
//! `p`, `hr`, `blockquote`, `pre` and `title` start a paragraph, and table
//! cells, list items and headings add a space, on start and end tags alike.
//!
//! Limits: only the first `HTML_TAGS_MAX` tags are interpreted (later ones
//! are removed from the text but add no whitespace, URIs or counts), and the
//! open-element count stops at `HTML_DEPTH_MAX`. Both bound the work and
//! the memory one part can cost, whatever its markup.
//!
//! Text colours, sizes and `display` and `visibility` declarations are
//! tracked ([`super::text_style`]) for the low-contrast and invalid-colour
//! tests, and to split the text into the visible and the invisible text
//! that Bayes tokenizes apart, as SpamAssassin does.

use std::collections::{BTreeMap, HashMap};

use super::text_style::TextStyles;
use super::uri::URI_LEN_MAX;

/// Maximum tags interpreted in one HTML part, because each tag costs an
/// attribute parse and a part of millions of `<b>` tags would cost that many.
pub const HTML_TAGS_MAX: usize = 100_000;

/// Maximum open elements counted at once. Start tags past it still render
/// but are not counted as open, so unclosed nesting costs bounded memory.
pub const HTML_DEPTH_MAX: usize = 1_000;

/// Maximum comments kept in `HtmlFacts::comments`, because a part could be
/// millions of empty comments and only the first few matter to rules.
pub const HTML_COMMENTS_MAX: usize = 1_000;

/// Facts about one HTML part, for eval rules.
/// Maximum `mailto:` links kept per HTML part, the FreeMail plugin's limit
/// on addresses taken from links.
pub const MAILTO_LINKS_MAX: usize = 20;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct HtmlFacts {
    /// Tags seen, start and end, known or not (up to `HTML_TAGS_MAX`).
    pub tags: usize,
    /// Tags whose name is an HTML 4.01 or XHTML 1.0 element.
    pub elements: usize,
    /// `img` start tags.
    pub images: usize,
    /// Sum of width × height over images with both attributes, in pixels,
    /// as HTML.pm estimates it ([`image_dimension`]).
    pub image_area: u64,
    /// `a` start tags with an href.
    pub anchors: usize,
    /// The part after `mailto:` in the href of `a` tags, as written, at most
    /// `MAILTO_LINKS_MAX`. FreeMail's body tests read them, because a link's
    /// address need not appear in the rendered text.
    pub mailto_links: Vec<String>,
    /// Whether a `script` element appeared.
    pub has_script: bool,
    /// Whether an `</html>` and a `</body>` tag appeared.
    pub closed_html: bool,
    pub closed_body: bool,
    /// End tags with no open element of that name.
    pub closed_extra: usize,
    /// Length of the HTML source in characters.
    pub source_len: usize,
    /// Length of the rendered text in characters, and without whitespace.
    pub text_len: usize,
    pub non_space_len: usize,
    /// Share of the source that is not rendered text: (source - text) / source.
    pub ratio: f64,
    /// Text of the `title` element.
    pub title: String,
    /// Whether `HTML_TAGS_MAX` was reached.
    pub tags_truncated: bool,
    /// Every tag name seen, with its balance: start tags add one and end
    /// tags take one away, never below zero. This is SpamAssassin's
    /// `inside` table, which `html_tag_exists` and `html_tag_balance` read.
    /// It has at most `HTML_TAGS_MAX` entries.
    pub inside: BTreeMap<String, u64>,
    /// Comments and other `<!...>` markup except `<!doctype`, with their
    /// delimiters, for `html_text_match('comment', ...)`. At most
    /// `HTML_COMMENTS_MAX` are kept.
    pub comments: Vec<String>,
    /// The text of each `a` element, with `"<img>\n"` for each image in
    /// it, as SpamAssassin's `anchor` list, for `html_text_match('anchor', ...)`.
    pub anchor_texts: Vec<String>,
    /// The `href` of each `a` start tag, in the order of `anchor_texts`:
    /// trimmed, cut to `URI_LEN_MAX` bytes, and empty when the tag has
    /// none. HTML.pm files each anchor's text under this key, and the
    /// HTTPS mismatch tests read the pairs.
    pub anchor_hrefs: Vec<String>,
    /// Whether an `iframe` tag had a non-empty `src`.
    pub iframe_src: bool,
    /// Whether a URI attribute was longer than `URI_LEN_MAX` bytes, which
    /// HTML.pm cuts and records as `uri_truncated`.
    pub uri_truncated: bool,
    /// Largest and smallest font size on HTML's 1 to 7 scale, 3 when no
    /// tag set one ([`super::font_size`]).
    pub max_size: i64,
    pub min_size: i64,
    /// Pieces of text (between tags, comments or line-breaking tags) that
    /// start with a word character right after a piece that ends with one,
    /// as in "w<b>or</b>d": HTML.pm's `obfuscation`, which
    /// `html_range('obfuscation_ratio', ...)` divides by `tags`.
    pub obfuscation: usize,
    /// Whether some text had low contrast with its background, for
    /// `html_test('font_low_contrast')` ([`super::text_style`]).
    pub font_low_contrast: bool,
    /// Whether some text had an invalid text or background colour, for
    /// `html_test('font_invalid_color')`.
    pub font_invalid_color: bool,
}

/// Returns whether `name` is an HTML 4.01 or XHTML 1.0 element name.
pub fn is_element(name: &str) -> bool {
    ELEMENTS.contains(&name)
}

/// The result of rendering one HTML part.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HtmlRendered {
    pub text: String,
    /// The text without its invisible pieces, for Bayes. Empty when no
    /// piece is invisible, because the visible text is then `text`.
    pub visible_text: String,
    /// The invisible pieces ([`TextStyles::text`]), for Bayes.
    pub invisible_text: String,
    /// URIs from attributes, as written (entities decoded), in order.
    pub uris: Vec<String>,
    pub facts: HtmlFacts,
}

/// HTML 4.01 and XHTML 1.0 element names, for `HtmlFacts::elements`.
const ELEMENTS: &[&str] = &[
    "a",
    "abbr",
    "acronym",
    "address",
    "area",
    "b",
    "base",
    "bdo",
    "big",
    "blockquote",
    "body",
    "br",
    "button",
    "caption",
    "cite",
    "code",
    "col",
    "colgroup",
    "dd",
    "del",
    "dfn",
    "div",
    "dl",
    "dt",
    "em",
    "fieldset",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "head",
    "hr",
    "html",
    "i",
    "img",
    "input",
    "ins",
    "kbd",
    "label",
    "legend",
    "li",
    "link",
    "map",
    "meta",
    "noscript",
    "object",
    "ol",
    "optgroup",
    "option",
    "p",
    "param",
    "pre",
    "q",
    "samp",
    "script",
    "select",
    "small",
    "span",
    "strong",
    "style",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "textarea",
    "tfoot",
    "th",
    "thead",
    "title",
    "tr",
    "tt",
    "ul",
    "var",
    "applet",
    "basefont",
    "center",
    "dir",
    "font",
    "frame",
    "frameset",
    "iframe",
    "isindex",
    "menu",
    "noframes",
    "s",
    "strike",
    "u",
    "nobr",
];

/// Whitespace a tag adds to the rendered text, on start and end.
fn tag_whitespace(name: &str) -> Option<&'static str> {
    match name {
        "br" | "div" => Some("\n"),
        "li" | "th" | "td" | "dt" | "dd" | "embed" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
            Some(" ")
        }
        "p" | "hr" | "blockquote" | "pre" | "listing" | "plaintext" | "xmp" | "title" => {
            Some("\n\n")
        }
        _ => None,
    }
}

/// Returns the attributes that carry a URI in tag `name`.
fn uri_attributes(name: &str) -> &'static [&'static str] {
    match name {
        "a" | "area" | "link" | "base" => &["href"],
        "img" | "frame" | "iframe" | "embed" | "script" | "bgsound" => &["src"],
        "form" => &["action"],
        "body" | "table" | "tr" | "td" => &["background"],
        _ => &[],
    }
}

/// One piece of rendered text.
struct Piece {
    text: String,
    /// Whitespace inserted by a tag.
    whitespace: bool,
    /// Text HTML.pm keeps out of Bayes ([`TextStyles::text`]).
    invisible: bool,
}

/// Text pieces with their whitespace and invisible flags, so the space
/// trimming at tag boundaries can follow SpamAssassin's `display_text`.
struct Output {
    pieces: Vec<Piece>,
    /// Pieces of text that start with a word character right after a
    /// piece that ends with one (see [`HtmlFacts::obfuscation`]).
    obfuscation: usize,
}

impl Output {
    fn push_text(&mut self, text: &str, invisible: bool) {
        let joins_word = text.chars().next().is_some_and(is_word_character)
            && self
                .pieces
                .last()
                .and_then(|last| last.text.chars().next_back())
                .is_some_and(is_word_character);
        if joins_word {
            self.obfuscation += 1;
        }
        let mut collapsed = String::with_capacity(text.len());
        let mut in_space = false;
        for character in text.chars() {
            if matches!(
                character,
                ' ' | '\t' | '\n' | '\r' | '\x0c' | '\x0b' | '\u{a0}'
            ) {
                if !in_space {
                    collapsed.push(' ');
                }
                in_space = true;
            } else {
                collapsed.push(character);
                in_space = false;
            }
        }
        // Visible text after tag whitespace loses its leading space.
        let after_whitespace = self.pieces.last().is_some_and(|last| last.whitespace);
        if after_whitespace && !invisible && collapsed.starts_with(' ') {
            collapsed.remove(0);
        }
        self.pieces.push(Piece {
            text: collapsed,
            whitespace: false,
            invisible,
        });
    }

    fn push_whitespace(&mut self, whitespace: &str) {
        // Tag whitespace trims the trailing space of visible text before it.
        if let Some(last) = self.pieces.last_mut() {
            if !last.whitespace && !last.invisible && last.text.ends_with(' ') {
                last.text.pop();
            }
        }
        self.pieces.push(Piece {
            text: whitespace.to_string(),
            whitespace: true,
            invisible: false,
        });
    }

    /// Returns the whole text, the visible text and the invisible text.
    /// Without invisible pieces, the last two are empty.
    fn into_texts(self) -> (String, String, String) {
        if !self.pieces.iter().any(|piece| piece.invisible) {
            let text = self.pieces.into_iter().map(|piece| piece.text).collect();
            return (text, String::new(), String::new());
        }
        let mut text = String::new();
        let mut visible = String::new();
        let mut invisible = String::new();
        for piece in self.pieces {
            text.push_str(&piece.text);
            if piece.invisible {
                invisible.push_str(&piece.text);
            } else {
                visible.push_str(&piece.text);
            }
        }
        (text, visible, invisible)
    }
}

/// Returns an `img` width or height in pixels as HTML.pm reads it: digits
/// alone, or digits and `%` times `percent_scale` (8 for widths and 6 for
/// heights of an 800x600 screen). Anything else, and zero, reads as 200.
fn image_dimension(value: &str, percent_scale: u64) -> u64 {
    let (digits, percent) = match value.strip_suffix('%') {
        Some(digits) => (digits, true),
        None => (value, false),
    };
    let readable = !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit());
    let pixels = if readable {
        let number = digits.parse::<u64>().unwrap_or(u64::MAX);
        if percent {
            number.saturating_mul(percent_scale)
        } else {
            number
        }
    } else {
        0
    };
    if pixels == 0 {
        200
    } else {
        pixels
    }
}

/// Returns whether HTML.pm's obfuscation count reads `character` as part
/// of a word: anything but whitespace, a no-break space and ASCII
/// punctuation.
fn is_word_character(character: char) -> bool {
    !matches!(
        character,
        ' ' | '\t' | '\n' | '\r' | '\x0c' | '\x0b' | '\u{a0}' | '!'..='/' | ':'..='@' | '['..='`' | '{'..='~'
    )
}

/// One parsed tag.
struct Tag<'h> {
    name: String,
    end: bool,
    attributes: Vec<(String, String)>,
    source: &'h str,
}

/// Renders `html` to text.
pub fn render(html: &str) -> HtmlRendered {
    let mut output = Output {
        pieces: Vec::new(),
        obfuscation: 0,
    };
    let mut uris = Vec::new();
    let mut facts = HtmlFacts {
        source_len: html.chars().count(),
        ..HtmlFacts::default()
    };
    let mut open: HashMap<String, usize> = HashMap::new();
    let mut styles = TextStyles::default();
    let mut depth = 0usize;
    let mut in_title = false;
    let mut in_anchor = false;
    let mut position = 0;

    while position < html.len() {
        let Some(found) = html[position..].find('<') else {
            emit_text(
                &mut output,
                &html[position..],
                in_title,
                in_anchor,
                &mut facts,
                &mut styles,
            );
            break;
        };
        let start = position + found;
        if start > position {
            emit_text(
                &mut output,
                &html[position..start],
                in_title,
                in_anchor,
                &mut facts,
                &mut styles,
            );
        }
        let rest = &html[start..];

        if let Some(comment) = rest.strip_prefix("<!--") {
            position = comment
                .find("-->")
                .map_or(html.len(), |end| start + 4 + end + 3);
            keep_comment(&mut facts, &html[start..position]);
            continue;
        }
        if rest.starts_with("<!") || rest.starts_with("<?") {
            position = rest.find('>').map_or(html.len(), |end| start + end + 1);
            let markup = &html[start..position];
            let is_doctype = markup
                .get(..9)
                .is_some_and(|head| head.eq_ignore_ascii_case("<!doctype"));
            if markup.starts_with("<!") && !is_doctype {
                keep_comment(&mut facts, markup);
            }
            continue;
        }
        let Some(tag) = parse_tag(rest) else {
            // A `<` that starts no tag is text.
            emit_text(
                &mut output,
                "<",
                in_title,
                in_anchor,
                &mut facts,
                &mut styles,
            );
            position = start + 1;
            continue;
        };
        position = start + tag.source.len();

        if facts.tags >= HTML_TAGS_MAX {
            facts.tags_truncated = true;
            continue;
        }
        facts.tags += 1;
        if ELEMENTS.contains(&tag.name.as_str()) {
            facts.elements += 1;
        }
        let balance = facts.inside.entry(tag.name.clone()).or_insert(0);
        if tag.end {
            *balance = balance.saturating_sub(1);
        } else {
            *balance += 1;
        }

        if tag.end {
            match open.get_mut(&tag.name) {
                Some(count) if *count > 0 => {
                    *count -= 1;
                    depth = depth.saturating_sub(1);
                }
                _ => facts.closed_extra += 1,
            }
            facts.closed_html |= tag.name == "html";
            facts.closed_body |= tag.name == "body";
        } else if depth < HTML_DEPTH_MAX && !is_void(&tag.name) {
            *open.entry(tag.name.clone()).or_insert(0) += 1;
            depth += 1;
        }
        in_title = open.get("title").is_some_and(|&count| count > 0);
        if !tag.end && tag.name == "a" {
            facts.anchor_texts.push(String::new());
            let href = tag.attributes.iter().find(|(name, _)| name == "href");
            let href = href.map_or("", |(_, value)| trim_uri(value));
            let cut = super::text::floor_char_boundary(href, URI_LEN_MAX);
            facts.anchor_hrefs.push(href[..cut].to_string());
        }
        if !tag.end && tag.name == "img" && in_anchor {
            if let Some(anchor) = facts.anchor_texts.last_mut() {
                anchor.push_str("<img>\n");
            }
        }
        in_anchor = open.get("a").is_some_and(|&count| count > 0);

        if let Some(whitespace) = tag_whitespace(&tag.name) {
            output.push_whitespace(whitespace);
        }
        if tag.end {
            styles.end_tag(&tag.name);
        } else {
            styles.start_tag(&tag.name, &tag.attributes);
            record_start_tag(&tag, &mut uris, &mut facts);
        }

        // Raw-text elements: their content is not HTML, and is not rendered.
        if !tag.end && (tag.name == "script" || tag.name == "style") {
            position = find_end_tag(html, position, &tag.name);
        }
    }

    facts.max_size = styles.max();
    facts.min_size = styles.min();
    facts.obfuscation = output.obfuscation;
    facts.font_low_contrast = styles.low_contrast();
    facts.font_invalid_color = styles.invalid_color();
    let (text, visible_text, invisible_text) = output.into_texts();
    facts.text_len = text.chars().count();
    facts.non_space_len = text
        .chars()
        .filter(|character| !character.is_whitespace())
        .count();
    if facts.source_len > 0 {
        facts.ratio = (facts.source_len as f64 - facts.text_len as f64) / facts.source_len as f64;
    }
    HtmlRendered {
        text,
        visible_text,
        invisible_text,
        uris,
        facts,
    }
}

/// Adds `comment` to the facts unless `HTML_COMMENTS_MAX` are kept already.
fn keep_comment(facts: &mut HtmlFacts, comment: &str) {
    if facts.comments.len() < HTML_COMMENTS_MAX {
        facts.comments.push(comment.to_string());
    }
}

/// Returns the offset of the first `</name` at or after `from`, ignoring
/// case, or the end of `html`.
fn find_end_tag(html: &str, from: usize, name: &str) -> usize {
    let bytes = html.as_bytes();
    let mut search = from;
    while let Some(found) = memchr::memmem::find(&bytes[search..], b"</") {
        let at = search + found;
        let candidate = bytes.get(at + 2..at + 2 + name.len());
        if candidate.is_some_and(|candidate| candidate.eq_ignore_ascii_case(name.as_bytes())) {
            return at;
        }
        search = at + 2;
    }
    html.len()
}

fn emit_text(
    output: &mut Output,
    text: &str,
    in_title: bool,
    in_anchor: bool,
    facts: &mut HtmlFacts,
    styles: &mut TextStyles,
) {
    let decoded = decode_entities(text);
    let invisible = styles.text(&decoded);
    if in_title {
        facts.title.push_str(&decoded);
    }
    if in_anchor {
        if let Some(anchor) = facts.anchor_texts.last_mut() {
            anchor.push_str(&decoded);
        }
    }
    output.push_text(&decoded, invisible);
}

fn is_void(name: &str) -> bool {
    matches!(
        name,
        "br" | "hr"
            | "img"
            | "input"
            | "meta"
            | "link"
            | "area"
            | "base"
            | "col"
            | "param"
            | "embed"
            | "frame"
            | "isindex"
            | "basefont"
            | "wbr"
    )
}

/// Trims whitespace and no-break spaces from both ends of a URI, as
/// HTML.pm's `canon_uri` does.
fn trim_uri(value: &str) -> &str {
    value.trim_matches(|character: char| character.is_whitespace() || character == '\u{a0}')
}

fn record_start_tag(tag: &Tag<'_>, uris: &mut Vec<String>, facts: &mut HtmlFacts) {
    for wanted in uri_attributes(&tag.name) {
        if let Some((_, value)) = tag.attributes.iter().find(|(name, _)| name == wanted) {
            facts.uri_truncated |= trim_uri(value).len() > URI_LEN_MAX;
            let value = value.trim();
            if !value.is_empty() {
                facts.iframe_src |= tag.name == "iframe";
                uris.push(value.to_string());
            }
        }
    }
    match tag.name.as_str() {
        "img" => {
            facts.images += 1;
            let attribute = |wanted: &str| {
                tag.attributes
                    .iter()
                    .find(|(name, _)| name == wanted)
                    .map(|(_, value)| value.as_str())
            };
            if let (Some(width), Some(height)) = (attribute("width"), attribute("height")) {
                // HTML.pm: an 800x600 screen for percentages, and 200 for
                // a value it cannot read or of zero.
                let width = image_dimension(width, 8);
                let height = image_dimension(height, 6);
                facts.image_area = facts
                    .image_area
                    .saturating_add(width.saturating_mul(height));
            }
        }
        "a" => {
            if let Some((_, href)) = tag.attributes.iter().find(|(name, _)| name == "href") {
                facts.anchors += 1;
                let href = href.trim();
                let is_mailto = href
                    .get(..7)
                    .is_some_and(|scheme| scheme.eq_ignore_ascii_case("mailto:"));
                if is_mailto && facts.mailto_links.len() < MAILTO_LINKS_MAX {
                    facts.mailto_links.push(href[7..].to_string());
                }
            }
        }
        "script" => facts.has_script = true,
        _ => {}
    }
}

/// Parses a tag at the start of `text` (which starts with `<`), or returns
/// `None` when no tag starts there. A tag without `>` runs to the end.
fn parse_tag(text: &str) -> Option<Tag<'_>> {
    let bytes = text.as_bytes();
    let mut index = 1;
    let end = bytes.get(1) == Some(&b'/');
    if end {
        index += 1;
    }
    let name_start = index;
    if !bytes.get(index).is_some_and(u8::is_ascii_alphabetic) {
        return None;
    }
    while bytes
        .get(index)
        .is_some_and(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b':' | b'_'))
    {
        index += 1;
    }
    let name = text[name_start..index].to_ascii_lowercase();
    let mut attributes = Vec::new();

    loop {
        while bytes
            .get(index)
            .is_some_and(|byte| byte.is_ascii_whitespace() || *byte == b'/')
        {
            index += 1;
        }
        match bytes.get(index) {
            None => break,
            Some(b'>') => {
                index += 1;
                break;
            }
            Some(_) => {}
        }
        let attribute_start = index;
        while bytes
            .get(index)
            .is_some_and(|byte| !byte.is_ascii_whitespace() && !matches!(byte, b'=' | b'>' | b'/'))
        {
            index += 1;
        }
        if index == attribute_start {
            // A lone `=`: skip it.
            index += 1;
            continue;
        }
        let attribute = text[attribute_start..index].to_ascii_lowercase();
        while bytes.get(index).is_some_and(u8::is_ascii_whitespace) {
            index += 1;
        }
        let mut value = String::new();
        if bytes.get(index) == Some(&b'=') {
            index += 1;
            while bytes.get(index).is_some_and(u8::is_ascii_whitespace) {
                index += 1;
            }
            let value_range = match bytes.get(index) {
                Some(&quote @ (b'"' | b'\'')) => {
                    let start = index + 1;
                    let close = text[start..]
                        .find(quote as char)
                        .map_or(text.len(), |at| start + at);
                    index = (close + 1).min(text.len());
                    start..close
                }
                _ => {
                    let start = index;
                    while bytes
                        .get(index)
                        .is_some_and(|byte| !byte.is_ascii_whitespace() && *byte != b'>')
                    {
                        index += 1;
                    }
                    start..index
                }
            };
            value = decode_entities(&text[value_range]);
        }
        if attributes.len() < 64 {
            attributes.push((attribute, value));
        }
    }
    Some(Tag {
        name,
        end,
        attributes,
        source: &text[..index],
    })
}

/// Named entities decoded besides numeric ones. Unknown names stay as written.
const ENTITIES: &[(&str, char)] = &[
    ("amp", '&'),
    ("lt", '<'),
    ("gt", '>'),
    ("quot", '"'),
    ("apos", '\''),
    ("nbsp", ' '),
    ("copy", '©'),
    ("reg", '®'),
    ("trade", '™'),
    ("hellip", '…'),
    ("mdash", '—'),
    ("ndash", '–'),
    ("lsquo", '‘'),
    ("rsquo", '’'),
    ("ldquo", '“'),
    ("rdquo", '”'),
    ("bull", '•'),
    ("middot", '·'),
    ("euro", '€'),
    ("pound", '£'),
    ("yen", '¥'),
    ("cent", '¢'),
    ("laquo", '«'),
    ("raquo", '»'),
    ("deg", '°'),
    ("plusmn", '±'),
    ("times", '×'),
    ("divide", '÷'),
    ("sect", '§'),
    ("para", '¶'),
    ("iexcl", '¡'),
    ("iquest", '¿'),
    ("shy", '\u{ad}'),
    ("szlig", 'ß'),
    ("agrave", 'à'),
    ("aacute", 'á'),
    ("acirc", 'â'),
    ("atilde", 'ã'),
    ("auml", 'ä'),
    ("aring", 'å'),
    ("aelig", 'æ'),
    ("ccedil", 'ç'),
    ("egrave", 'è'),
    ("eacute", 'é'),
    ("ecirc", 'ê'),
    ("euml", 'ë'),
    ("igrave", 'ì'),
    ("iacute", 'í'),
    ("icirc", 'î'),
    ("iuml", 'ï'),
    ("ntilde", 'ñ'),
    ("ograve", 'ò'),
    ("oacute", 'ó'),
    ("ocirc", 'ô'),
    ("otilde", 'õ'),
    ("ouml", 'ö'),
    ("oslash", 'ø'),
    ("ugrave", 'ù'),
    ("uacute", 'ú'),
    ("ucirc", 'û'),
    ("uuml", 'ü'),
    ("yacute", 'ý'),
    ("yuml", 'ÿ'),
    ("Agrave", 'À'),
    ("Aacute", 'Á'),
    ("Acirc", 'Â'),
    ("Auml", 'Ä'),
    ("Aring", 'Å'),
    ("Ccedil", 'Ç'),
    ("Eacute", 'É'),
    ("Egrave", 'È'),
    ("Ntilde", 'Ñ'),
    ("Ouml", 'Ö'),
    ("Uuml", 'Ü'),
    ("micro", 'µ'),
    ("ordf", 'ª'),
    ("ordm", 'º'),
    ("sup1", '¹'),
    ("sup2", '²'),
    ("sup3", '³'),
    ("frac12", '½'),
    ("frac14", '¼'),
    ("frac34", '¾'),
];

/// Maximum characters of a numeric or named entity between `&` and `;`.
const ENTITY_LEN_MAX: usize = 10;

/// Decodes character references: `&name;`, `&#123;`, `&#x7b;`. The `;` may
/// be missing after a numeric reference. Invalid code points become U+FFFD,
/// and unknown names stay as written.
pub fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut output = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        output.push_str(&rest[..at]);
        rest = &rest[at..];
        match parse_entity(rest) {
            Some((character, len)) => {
                output.push(character);
                rest = &rest[len..];
            }
            None => {
                output.push('&');
                rest = &rest[1..];
            }
        }
    }
    output.push_str(rest);
    output
}

/// Parses one reference at the start of `text`, returning the character
/// and the bytes consumed.
fn parse_entity(text: &str) -> Option<(char, usize)> {
    let body = &text[1..];
    if let Some(numeric) = body.strip_prefix('#') {
        let (digits, radix, prefix_len) = match numeric.strip_prefix(['x', 'X']) {
            Some(hex) => (hex, 16, 3),
            None => (numeric, 10, 2),
        };
        let digits_len = digits
            .bytes()
            .take(ENTITY_LEN_MAX)
            .take_while(|byte| (*byte as char).is_digit(radix))
            .count();
        if digits_len == 0 {
            return None;
        }
        let value = u32::from_str_radix(&digits[..digits_len], radix).ok()?;
        let character = char::from_u32(value).unwrap_or('\u{fffd}');
        let semicolon = usize::from(digits[digits_len..].starts_with(';'));
        return Some((character, prefix_len + digits_len + semicolon));
    }
    let name_len = body
        .bytes()
        .take(ENTITY_LEN_MAX)
        .take_while(u8::is_ascii_alphanumeric)
        .count();
    if !body[name_len..].starts_with(';') {
        return None;
    }
    let name = &body[..name_len];
    let character = ENTITIES
        .iter()
        .find(|(known, _)| *known == name)
        .or_else(|| {
            ENTITIES
                .iter()
                .find(|(known, _)| known.eq_ignore_ascii_case(name))
        })?
        .1;
    Some((character, 1 + name_len + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_area_follows_html_pm() {
        // (img attributes, area)
        let cases: &[(&str, u64)] = &[
            ("width=10 height=20", 200),
            ("width=50% height=50%", 400 * 300),
            ("width=10px height=20", 200 * 20),
            ("width=0 height=5", 200 * 5),
            // Without both attributes there is no estimate.
            ("width=10", 0),
            ("", 0),
        ];
        for (attributes, expected) in cases {
            let html = format!("<img src=a.gif {attributes}>");
            assert_eq!(
                render(&html).facts.image_area,
                *expected,
                "img {attributes:?}"
            );
        }
    }

    #[test]
    fn obfuscation_counts_words_split_by_tags() {
        // (html, pieces that join a word)
        let cases: &[(&str, usize)] = &[
            ("plain words", 0),
            ("w<b>or</b>d", 2),
            ("word <b>next</b> one", 0),
            ("line<br>break", 0),
            ("com<!-- x -->ment", 1),
            ("end.<b>Start</b>", 0),
            ("caf\u{e9}<i>\u{e9}</i>", 1),
        ];
        for (html, expected) in cases {
            assert_eq!(render(html).facts.obfuscation, *expected, "html {html:?}");
        }
    }

    #[test]
    fn visible_and_invisible_text_split() {
        let rendered = render(
            "<p>one <span style=\"display:none\">secret </span>two</p>\
             <div>three<font color=white> ghost</font></div>",
        );
        assert_eq!(rendered.text, "\n\none secret two\n\n\nthree ghost\n");
        assert_eq!(rendered.visible_text, "\n\none two\n\n\nthree\n");
        assert_eq!(rendered.invisible_text, "secret  ghost");
    }

    #[test]
    fn font_low_contrast_table() {
        // (html, low contrast, invalid colour)
        let cases: &[(&str, bool, bool)] = &[
            ("<p>plain</p>", false, false),
            ("<font color=white>hidden</font>", true, false),
            ("<font color=#fafafa>faint</font>", true, false),
            ("<body text=\"#FFF\">hidden", true, false),
            ("<span style=\"color: #fff\">hidden</span>", true, false),
            (
                "<div style=\"background-color:black\">black on black",
                true,
                false,
            ),
            (
                "<div style=\"background: black\"><font color=#010101>dark</font></div>",
                true,
                false,
            ),
            // HTML.pm reads no colour from a bgcolor attribute.
            (
                "<td bgcolor=black><font color=black>shown</font>",
                false,
                false,
            ),
            // Whitespace and no-break spaces alone are not checked.
            ("<font color=white>&nbsp; </font>shown", false, false),
            // The end tag restores the outer colours.
            ("<font color=white></font>shown", false, false),
            ("<font color=bogus>text</font>", false, true),
            (
                "<span style=\"color: transparent\">hidden</span>",
                true,
                false,
            ),
        ];
        for (html, low_contrast, invalid_color) in cases {
            let facts = render(html).facts;
            assert_eq!(facts.font_low_contrast, *low_contrast, "html {html:?}");
            assert_eq!(facts.font_invalid_color, *invalid_color, "html {html:?}");
        }
    }

    #[test]
    fn render_cases() {
        let cases: &[(&str, &str)] = &[
            ("<p>Hello <b>world</b></p>", "\n\nHello world\n\n"),
            ("a<br>b<br/>c", "a\nb\nc"),
            ("one <div> two </div> three", "one\ntwo\nthree"),
            ("<script>var x = '<b>';</script>shown", "shown"),
            ("<STYLE>p { color: red }</STYLE>shown", "shown"),
            ("x<!-- hidden <b> -->y", "xy"),
            ("<!DOCTYPE html><html>t</html>", "t"),
            (
                "fish &amp; chips &lt;3 &#65;&#x42;&#67 &bogus;",
                "fish & chips <3 ABC &bogus;",
            ),
            ("a&nbsp;&nbsp;b", "a b"),
            ("spaces   \n\t collapse", "spaces collapse"),
            ("1 < 2 and 3 > 2", "1 < 2 and 3 > 2"),
            ("<td>a</td><td>b</td>", " a  b "),
            ("<unknowntag>kept</unknowntag>", "kept"),
            ("unterminated <b", "unterminated "),
            ("<script>never closed", ""),
        ];
        for (html, expected) in cases {
            assert_eq!(render(html).text, *expected, "html {html:?}");
        }
    }

    #[test]
    fn uris_from_attributes() {
        let rendered = render(
            "<a href=\"http://Example.com/a?x=1&amp;y=2\">x</a><img src='/i.png' width=10 height=20>\
             <form action=http://form.example/></form><body background=\"bg.gif\">",
        );
        assert_eq!(
            rendered.uris,
            vec![
                "http://Example.com/a?x=1&y=2",
                "/i.png",
                "http://form.example/",
                "bg.gif"
            ]
        );
        assert_eq!(rendered.facts.images, 1);
        assert_eq!(rendered.facts.image_area, 200);
        assert_eq!(rendered.facts.anchors, 1);
    }

    #[test]
    fn facts_count_tags_and_ratio() {
        let rendered = render("<html><head><title>T</title></head><body>abcd</body></html>");
        let facts = &rendered.facts;
        assert_eq!(facts.tags, 8);
        assert_eq!(facts.elements, 8);
        assert!(facts.closed_html);
        assert!(facts.closed_body);
        assert_eq!(facts.title, "T");
        assert_eq!(facts.closed_extra, 0);
        assert!(facts.ratio > 0.8, "ratio {}", facts.ratio);
    }

    #[test]
    fn extra_end_tags_are_counted() {
        assert_eq!(render("</b></b>x").facts.closed_extra, 2);
    }

    #[test]
    fn nesting_past_depth_max_renders() {
        let html = "<div>".repeat(HTML_DEPTH_MAX * 2) + "deep";
        let rendered = render(&html);
        assert!(rendered.text.ends_with("deep"));
        assert_eq!(rendered.facts.tags, HTML_DEPTH_MAX * 2);
    }

    #[test]
    fn tags_past_maximum_are_stripped_only() {
        let html = "<br>".repeat(HTML_TAGS_MAX + 10) + "end";
        let rendered = render(&html);
        assert!(rendered.facts.tags_truncated);
        assert_eq!(rendered.facts.tags, HTML_TAGS_MAX);
        assert!(rendered.text.ends_with("\nend"));
    }
}
