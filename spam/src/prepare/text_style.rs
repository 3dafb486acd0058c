//! The text style stack of an HTML part, after SpamAssassin 4.0.1's
//! Mail/SpamAssassin/HTML.pm (read from its Perl source): font sizes for
//! `html_range('max_size', ...)` and `min_size`, and text and background
//! colours for `html_test('font_low_contrast')` and `font_invalid_color`.
//!
//! [`TextStyles`] takes the start and end tags of one part in order. Sizes
//! are HTML's 1 to 7 scale (unbounded here, as in HTML.pm), starting at 3.
//! The style elements (`body`, `font`, `table`, `tr`, `td`, `th`, `big`,
//! `small`, `basefont`, `marquee`, `span`, `p`, `div`, `a`) push the
//! current size on a stack and their end tags pop back to the matching
//! start. `<font size=N>` sets size N, `size=+N` or `-N` is relative to the
//! `basefont` size, and `big` and `small` step it by one. The maximum and
//! minimum change only when a tag has an attribute HTML.pm interprets for
//! it (such as `font color` or `td bgcolor`), because that is where HTML.pm
//! compares them. So `<big>text` alone leaves the maximum at 3.
//!
//! Colours start as black text on white. `body text` and `font color` set
//! the text colour, and the `color`, `background-color` and `background`
//! declarations of a `style` attribute set either ([`super::html_color`]).
//! As in HTML.pm, a `bgcolor` attribute sets nothing. [`TextStyles::text`]
//! takes each piece of rendered text and records whether any piece with
//! more than whitespace had low contrast or an invalid colour.
//!
//! The stack contains at most [`STYLE_DEPTH_MAX`] entries, so unclosed markup
//! costs bounded memory, and a per-name count makes each end tag cost no
//! scan of the stack unless that name is open.

use std::collections::HashMap;

use super::html_color::{self, Color, StyleColor};

/// Maximum entries on the style stack. Deeper start tags still update the
/// maximum and minimum but are not pushed.
pub const STYLE_DEPTH_MAX: usize = 1_000;

/// HTML's default font size, and the start of the maximum and minimum.
const SIZE_DEFAULT: i64 = 3;

/// Elements that change the text style stack.
const STYLE_ELEMENTS: [&str; 14] = [
    "body", "font", "table", "tr", "th", "td", "big", "small", "basefont", "marquee", "span", "p",
    "div", "a",
];

/// Returns the attributes HTML.pm interprets on `tag` (with `th` read as
/// `td`).
fn interpreted_attributes(tag: &str) -> &'static [&'static str] {
    match tag {
        "basefont" | "font" => &["color", "face", "size"],
        "body" => &["text", "bgcolor", "link", "alink", "vlink", "background"],
        "marquee" => &["bgcolor", "background"],
        "table" | "td" | "tr" => &["bgcolor", "style"],
        "span" | "p" | "div" | "a" => &["style"],
        _ => &[],
    }
}

/// The style of the text inside an element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Style {
    size: i64,
    text: Color,
    background: Color,
    /// A `display: none` declaration is in force.
    display_none: bool,
    /// A `visibility: hidden` declaration is in force.
    hidden: bool,
}

const STYLE_DEFAULT: Style = Style {
    size: SIZE_DEFAULT,
    text: Color::Rgb([0, 0, 0]),
    background: Color::Rgb([255, 255, 255]),
    display_none: false,
    hidden: false,
};

/// The text style stack of one HTML part.
#[derive(Debug, Clone)]
pub struct TextStyles {
    /// Open style elements and the style inside each, oldest first.
    stack: Vec<(String, Style)>,
    /// How many entries of `stack` each element name has.
    open: HashMap<String, usize>,
    basefont: i64,
    max: i64,
    min: i64,
    low_contrast: bool,
    invalid_color: bool,
}

impl Default for TextStyles {
    fn default() -> TextStyles {
        TextStyles {
            stack: Vec::new(),
            open: HashMap::new(),
            basefont: SIZE_DEFAULT,
            max: SIZE_DEFAULT,
            min: SIZE_DEFAULT,
            low_contrast: false,
            invalid_color: false,
        }
    }
}

impl TextStyles {
    /// Returns the largest font size seen (3 when none was set).
    pub fn max(&self) -> i64 {
        self.max
    }

    /// Returns the smallest font size seen (3 when none was set).
    pub fn min(&self) -> i64 {
        self.min
    }

    /// Returns whether a piece of text had its own colour as background,
    /// or one too close to it ([`html_color::low_contrast`]).
    pub fn low_contrast(&self) -> bool {
        self.low_contrast
    }

    /// Returns whether a piece of text had an invalid text or background
    /// colour, and no low contrast.
    pub fn invalid_color(&self) -> bool {
        self.invalid_color
    }

    /// Takes a piece of rendered text, entities decoded, in the current
    /// style, and returns whether it is invisible, as HTML.pm's
    /// `html_font_invisible` decides for Bayes: text in its background
    /// colour or one too close to it, an invalid colour, a font size of 1
    /// or less, `display: none` or `visibility: hidden`. A piece of only
    /// whitespace and no-break spaces is not checked and counts as
    /// visible, as in HTML.pm.
    pub fn text(&mut self, text: &str) -> bool {
        let blank = text.chars().all(|character| {
            matches!(
                character,
                ' ' | '\t' | '\n' | '\r' | '\x0c' | '\x0b' | '\u{a0}'
            )
        });
        if blank {
            return false;
        }
        let style = self.current();
        let invalid = style.text == Color::Invalid || style.background == Color::Invalid;
        if html_color::low_contrast(style.text, style.background) {
            self.low_contrast = true;
        } else if invalid {
            self.invalid_color = true;
        }
        html_color::low_contrast(style.text, style.background)
            || invalid
            || style.size <= 1
            || style.display_none
            || style.hidden
    }

    /// Takes a start tag, its lower-case name and its attributes with
    /// lower-case names.
    pub fn start_tag(&mut self, name: &str, attributes: &[(String, String)]) {
        if !STYLE_ELEMENTS.contains(&name) {
            return;
        }
        let tag = if name == "th" { "td" } else { name };
        let attribute = |wanted: &str| {
            attributes
                .iter()
                .find(|(name, _)| name == wanted)
                .map(|(_, value)| value.as_str())
        };

        if tag == "basefont" {
            if let Some(size) = attribute("size").and_then(leading_number) {
                self.basefont = size;
                return;
            }
        }
        if tag == "td" || tag == "tr" {
            self.close_table_cells(tag);
        }

        let current = self.current();
        let style = match tag {
            "big" => Style {
                size: current.size.saturating_add(1),
                ..current
            },
            "small" => Style {
                size: current.size.saturating_sub(1),
                ..current
            },
            _ => self.style_from_attributes(tag, attributes, current),
        };
        self.push(tag, style);
    }

    /// Takes an end tag. `</body>` is ignored, as browsers render text
    /// after it.
    pub fn end_tag(&mut self, name: &str) {
        if !STYLE_ELEMENTS.contains(&name) || name == "body" {
            return;
        }
        let tag = if name == "th" { "td" } else { name };
        if self.open.get(tag).copied().unwrap_or(0) == 0 {
            return;
        }
        while let Some((popped, _)) = self.pop() {
            if popped == tag {
                break;
            }
        }
    }

    /// Returns the style a tag sets, and updates the maximum and minimum
    /// size for each attribute HTML.pm interprets on it.
    fn style_from_attributes(
        &mut self,
        tag: &str,
        attributes: &[(String, String)],
        current: Style,
    ) -> Style {
        let interpreted = interpreted_attributes(tag);
        let mut style = current;
        for (name, value) in attributes {
            if !interpreted.contains(&name.as_str()) {
                continue;
            }
            match name.as_str() {
                "text" | "color" => style.text = html_color::parse(value),
                "style" => {
                    let (display_none, hidden) = visibility_declarations(value);
                    style.display_none = display_none.unwrap_or(style.display_none);
                    style.hidden = hidden.unwrap_or(style.hidden);
                    let colors = html_color::style_colors(value);
                    if let Some(background) = colors.background {
                        style.background = match background {
                            StyleColor::Color(color) => color,
                            StyleColor::Transparent => current.background,
                        };
                    }
                    if let Some(text) = colors.text {
                        style.text = match text {
                            StyleColor::Color(color) => color,
                            StyleColor::Transparent => style.background,
                        };
                    }
                }
                _ => {}
            }
        }
        style.size = self.size_from_attributes(attributes, interpreted, current.size);
        style
    }

    /// Returns the size a tag sets, and updates the maximum and minimum
    /// for each attribute HTML.pm interprets on it (`interpreted`).
    fn size_from_attributes(
        &mut self,
        attributes: &[(String, String)],
        interpreted: &[&str],
        current: i64,
    ) -> i64 {
        let mut size = current;
        // HTML.pm walks the attributes in hash order and compares after
        // each one. Comparing the inherited size first and the new size
        // last gives the same extremes whatever that order was, except
        // when `size` is the only attribute.
        let others = attributes
            .iter()
            .any(|(name, _)| name != "size" && interpreted.contains(&name.as_str()));
        if others {
            self.observe(size);
        }
        for (name, value) in attributes {
            if name != "size" || !interpreted.contains(&"size") {
                continue;
            }
            let trimmed = value.trim_start();
            if trimmed.starts_with(['+', '-']) {
                if let Some(step) = leading_signed(trimmed) {
                    size = self.basefont.saturating_add(step);
                }
            } else if let Some(absolute) = leading_number(trimmed) {
                size = absolute;
            }
            self.observe(size);
        }
        size
    }

    fn observe(&mut self, size: i64) {
        if size > self.max {
            self.max = size;
        } else if size < self.min {
            self.min = size;
        }
    }

    fn current(&self) -> Style {
        self.stack.last().map_or(STYLE_DEFAULT, |(_, style)| *style)
    }

    fn push(&mut self, tag: &str, style: Style) {
        if self.stack.len() >= STYLE_DEPTH_MAX {
            return;
        }
        self.stack.push((tag.to_string(), style));
        *self.open.entry(tag.to_string()).or_insert(0) += 1;
    }

    fn pop(&mut self) -> Option<(String, Style)> {
        let (tag, style) = self.stack.pop()?;
        if let Some(count) = self.open.get_mut(&tag) {
            *count = count.saturating_sub(1);
        }
        Some((tag, style))
    }

    /// Closes the open cells a new `td` or `tr` ends: `font` and `td`
    /// entries for a `td`, and `font`, `td` and `tr` entries for a `tr`.
    fn close_table_cells(&mut self, tag: &str) {
        if self.open.get(tag).copied().unwrap_or(0) == 0 {
            return;
        }
        while let Some((top, _)) = self.stack.last() {
            let closes = match tag {
                "td" => top == "font" || top == "td",
                _ => top == "font" || top == "td" || top == "tr",
            };
            if !closes {
                break;
            }
            self.pop();
        }
    }
}

/// Parses the digits at the start of `text` after spaces, as Perl's
/// `/^\s*(\d+)/`.
fn leading_number(text: &str) -> Option<i64> {
    let trimmed = text.trim_start();
    let digits: String = trimmed
        .chars()
        .take_while(char::is_ascii_digit)
        .take(18)
        .collect();
    digits.parse().ok()
}

/// Parses a sign and the digits after it at the start of `text`.
fn leading_signed(text: &str) -> Option<i64> {
    let sign = if text.starts_with('-') { -1 } else { 1 };
    leading_number(&text[1..]).map(|number| sign * number)
}

/// Returns whether a `style` attribute declares `display: none` and
/// `visibility: hidden`, each `None` when the property is not declared.
/// As in HTML.pm, a property name counts only in lower case, a value is
/// compared without case, and a colour or background declaration is never
/// one of these.
fn visibility_declarations(style: &str) -> (Option<bool>, Option<bool>) {
    let mut display_none = None;
    let mut hidden = None;
    for declaration in style.split(';') {
        let Some((name, value)) = declaration.split_once(':') else {
            continue;
        };
        let name = name.trim();
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        match name {
            "display" => display_none = Some(value.eq_ignore_ascii_case("none")),
            "visibility" => hidden = Some(value.eq_ignore_ascii_case("hidden")),
            _ => {}
        }
    }
    (display_none, hidden)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attributes(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn invisible_text_table() {
        // (tag, attributes, whether text inside is invisible)
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], bool);
        let cases: &[Case<'_>] = &[
            ("font", &[("color", "#000000")], false),
            ("font", &[("color", "white")], true),
            ("font", &[("color", "#fefefe")], true),
            ("font", &[("color", "nosuchcolor")], true),
            ("font", &[("size", "1")], true),
            ("font", &[("size", "2")], false),
            ("span", &[("style", "display: none")], true),
            ("span", &[("style", "DISPLAY: none")], false),
            ("span", &[("style", "color: red; display:NONE ")], true),
            ("span", &[("style", "display: none !important")], false),
            ("div", &[("style", "visibility: hidden")], true),
            ("div", &[("style", "visibility: visible")], false),
            // `style` is not read on `font`.
            ("font", &[("style", "display: none")], false),
        ];
        for (tag, attributes_written, expected) in cases {
            let mut styles = TextStyles::default();
            styles.start_tag(tag, &attributes(attributes_written));
            assert_eq!(
                styles.text("word"),
                *expected,
                "<{tag} {attributes_written:?}>"
            );
            assert!(!styles.text(" \u{a0} "), "blank text is visible");
        }
    }

    #[test]
    fn display_is_inherited_and_overridden() {
        let mut styles = TextStyles::default();
        styles.start_tag("div", &attributes(&[("style", "display: none")]));
        styles.start_tag("span", &[]);
        assert!(styles.text("inner"));
        styles.start_tag("p", &attributes(&[("style", "display: block")]));
        assert!(!styles.text("shown again"));
        styles.end_tag("p");
        styles.end_tag("span");
        styles.end_tag("div");
        assert!(!styles.text("after"));
    }

    #[test]
    fn font_size_seven_is_max() {
        let mut sizes = TextStyles::default();
        sizes.start_tag("font", &attributes(&[("size", "7")]));
        sizes.end_tag("font");
        assert_eq!(sizes.max(), 7);
        assert_eq!(sizes.min(), 3);
    }

    #[test]
    fn relative_font_size_adds_to_basefont() {
        let mut sizes = TextStyles::default();
        sizes.start_tag("basefont", &attributes(&[("size", "4")]));
        sizes.start_tag("font", &attributes(&[("size", "+2")]));
        assert_eq!(sizes.max(), 6);
        sizes.start_tag("font", &attributes(&[("size", "-3")]));
        assert_eq!(sizes.min(), 1);
    }

    #[test]
    fn big_without_attributes_leaves_max() {
        let mut sizes = TextStyles::default();
        sizes.start_tag("big", &[]);
        sizes.start_tag("big", &[]);
        assert_eq!(sizes.max(), 3);
        sizes.start_tag("font", &attributes(&[("color", "red")]));
        assert_eq!(sizes.max(), 5);
    }

    #[test]
    fn end_tag_restores_outer_size() {
        let mut sizes = TextStyles::default();
        sizes.start_tag("font", &attributes(&[("size", "5")]));
        sizes.start_tag("span", &[]);
        sizes.end_tag("font");
        sizes.start_tag("font", &attributes(&[("color", "red")]));
        assert_eq!(sizes.current().size, 3);
    }

    #[test]
    fn unclosed_tags_stop_at_depth_max() {
        let mut sizes = TextStyles::default();
        for _ in 0..STYLE_DEPTH_MAX * 2 {
            sizes.start_tag("font", &attributes(&[("size", "4")]));
        }
        assert_eq!(sizes.stack.len(), STYLE_DEPTH_MAX);
        assert_eq!(sizes.max(), 4);
    }
}
