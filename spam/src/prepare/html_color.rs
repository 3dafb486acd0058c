//! HTML colour values, read as SpamAssassin 4.0.1's Mail/SpamAssassin/HTML.pm
//! reads them (its `name_to_rgb`, `parse_css_background` and the colour
//! parts of `text_style`, read from its Perl source), for the
//! `font_low_contrast` and `font_invalid_color` HTML tests.
//!
//! A value is a colour name from HTML.pm's table of 147 CSS names, a hex
//! colour after `#` (3 or 6 digits, with HTML.pm's repairs of other
//! lengths), or `rgb(R, G, B)` in numbers or percents. Anything else, hex
//! digits without `#` among them, is invalid.

/// A colour as HTML.pm's `name_to_rgb` returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    Rgb([u8; 3]),
    /// A `#` with no hex digit after it, which HTML.pm keeps as `#`.
    Empty,
    /// A value HTML.pm does not read as a colour.
    Invalid,
}

/// A colour that a `style` attribute sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StyleColor {
    Color(Color),
    /// `transparent`: the parent's background, or for the text colour the
    /// element's own background.
    Transparent,
}

/// The colours one `style` attribute sets, `None` where it sets none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StyleColors {
    pub text: Option<StyleColor>,
    pub background: Option<StyleColor>,
}

/// HTML.pm's colour names and their RGB values, sorted by name.
const NAMED: [(&str, u32); 147] = [
    ("aliceblue", 0xf0f8ff),
    ("antiquewhite", 0xfaebd7),
    ("aqua", 0x00ffff),
    ("aquamarine", 0x7fffd4),
    ("azure", 0xf0ffff),
    ("beige", 0xf5f5dc),
    ("bisque", 0xffe4c4),
    ("black", 0x000000),
    ("blanchedalmond", 0xffebcd),
    ("blue", 0x0000ff),
    ("blueviolet", 0x8a2be2),
    ("brown", 0xa52a2a),
    ("burlywood", 0xdeb887),
    ("cadetblue", 0x5f9ea0),
    ("chartreuse", 0x7fff00),
    ("chocolate", 0xd2691e),
    ("coral", 0xff7f50),
    ("cornflowerblue", 0x6495ed),
    ("cornsilk", 0xfff8dc),
    ("crimson", 0xdc143c),
    ("cyan", 0x00ffff),
    ("darkblue", 0x00008b),
    ("darkcyan", 0x008b8b),
    ("darkgoldenrod", 0xb8860b),
    ("darkgray", 0xa9a9a9),
    ("darkgreen", 0x006400),
    ("darkgrey", 0xa9a9a9),
    ("darkkhaki", 0xbdb76b),
    ("darkmagenta", 0x8b008b),
    ("darkolivegreen", 0x556b2f),
    ("darkorange", 0xff8c00),
    ("darkorchid", 0x9932cc),
    ("darkred", 0x8b0000),
    ("darksalmon", 0xe9967a),
    ("darkseagreen", 0x8fbc8f),
    ("darkslateblue", 0x483d8b),
    ("darkslategray", 0x2f4f4f),
    ("darkslategrey", 0x2f4f4f),
    ("darkturquoise", 0x00ced1),
    ("darkviolet", 0x9400d3),
    ("deeppink", 0xff1493),
    ("deepskyblue", 0x00bfff),
    ("dimgray", 0x696969),
    ("dimgrey", 0x696969),
    ("dodgerblue", 0x1e90ff),
    ("firebrick", 0xb22222),
    ("floralwhite", 0xfffaf0),
    ("forestgreen", 0x228b22),
    ("fuchsia", 0xff00ff),
    ("gainsboro", 0xdcdcdc),
    ("ghostwhite", 0xf8f8ff),
    ("gold", 0xffd700),
    ("goldenrod", 0xdaa520),
    ("gray", 0x808080),
    ("green", 0x008000),
    ("greenyellow", 0xadff2f),
    ("grey", 0x808080),
    ("honeydew", 0xf0fff0),
    ("hotpink", 0xff69b4),
    ("indianred", 0xcd5c5c),
    ("indigo", 0x4b0082),
    ("ivory", 0xfffff0),
    ("khaki", 0xf0e68c),
    ("lavender", 0xe6e6fa),
    ("lavenderblush", 0xfff0f5),
    ("lawngreen", 0x7cfc00),
    ("lemonchiffon", 0xfffacd),
    ("lightblue", 0xadd8e6),
    ("lightcoral", 0xf08080),
    ("lightcyan", 0xe0ffff),
    ("lightgoldenrodyellow", 0xfafad2),
    ("lightgray", 0xd3d3d3),
    ("lightgreen", 0x90ee90),
    ("lightgrey", 0xd3d3d3),
    ("lightpink", 0xffb6c1),
    ("lightsalmon", 0xffa07a),
    ("lightseagreen", 0x20b2aa),
    ("lightskyblue", 0x87cefa),
    ("lightslategray", 0x778899),
    ("lightslategrey", 0x778899),
    ("lightsteelblue", 0xb0c4de),
    ("lightyellow", 0xffffe0),
    ("lime", 0x00ff00),
    ("limegreen", 0x32cd32),
    ("linen", 0xfaf0e6),
    ("magenta", 0xff00ff),
    ("maroon", 0x800000),
    ("mediumaquamarine", 0x66cdaa),
    ("mediumblue", 0x0000cd),
    ("mediumorchid", 0xba55d3),
    ("mediumpurple", 0x9370db),
    ("mediumseagreen", 0x3cb371),
    ("mediumslateblue", 0x7b68ee),
    ("mediumspringgreen", 0x00fa9a),
    ("mediumturquoise", 0x48d1cc),
    ("mediumvioletred", 0xc71585),
    ("midnightblue", 0x191970),
    ("mintcream", 0xf5fffa),
    ("mistyrose", 0xffe4e1),
    ("moccasin", 0xffe4b5),
    ("navajowhite", 0xffdead),
    ("navy", 0x000080),
    ("oldlace", 0xfdf5e6),
    ("olive", 0x808000),
    ("olivedrab", 0x6b8e23),
    ("orange", 0xffa500),
    ("orangered", 0xff4500),
    ("orchid", 0xda70d6),
    ("palegoldenrod", 0xeee8aa),
    ("palegreen", 0x98fb98),
    ("paleturquoise", 0xafeeee),
    ("palevioletred", 0xdb7093),
    ("papayawhip", 0xffefd5),
    ("peachpuff", 0xffdab9),
    ("peru", 0xcd853f),
    ("pink", 0xffc0cb),
    ("plum", 0xdda0dd),
    ("powderblue", 0xb0e0e6),
    ("purple", 0x800080),
    ("red", 0xff0000),
    ("rosybrown", 0xbc8f8f),
    ("royalblue", 0x4169e1),
    ("saddlebrown", 0x8b4513),
    ("salmon", 0xfa8072),
    ("sandybrown", 0xf4a460),
    ("seagreen", 0x2e8b57),
    ("seashell", 0xfff5ee),
    ("sienna", 0xa0522d),
    ("silver", 0xc0c0c0),
    ("skyblue", 0x87ceeb),
    ("slateblue", 0x6a5acd),
    ("slategray", 0x708090),
    ("slategrey", 0x708090),
    ("snow", 0xfffafa),
    ("springgreen", 0x00ff7f),
    ("steelblue", 0x4682b4),
    ("tan", 0xd2b48c),
    ("teal", 0x008080),
    ("thistle", 0xd8bfd8),
    ("tomato", 0xff6347),
    ("turquoise", 0x40e0d0),
    ("violet", 0xee82ee),
    ("wheat", 0xf5deb3),
    ("white", 0xffffff),
    ("whitesmoke", 0xf5f5f5),
    ("yellow", 0xffff00),
    ("yellowgreen", 0x9acd32),
];

/// Maximum characters of a colour value read. Longer values are invalid,
/// which bounds the work one attribute can cost.
pub const COLOR_LEN_MAX: usize = 256;

/// Returns the colour `value` names, as HTML.pm's `name_to_rgb`.
pub fn parse(value: &str) -> Color {
    if value.len() > COLOR_LEN_MAX {
        return Color::Invalid;
    }
    let color = value.to_ascii_lowercase();
    let color = color.trim_matches(is_perl_space);

    if let Ok(index) = NAMED.binary_search_by(|(name, _)| (*name).cmp(color)) {
        let rgb = NAMED[index].1.to_be_bytes();
        return Color::Rgb([rgb[1], rgb[2], rgb[3]]);
    }

    let hex_only = color
        .bytes()
        .all(|byte| byte == b'#' || byte.is_ascii_hexdigit());
    if !hex_only && !has_rgb_call(color) {
        return Color::Invalid;
    }
    let converted = rgb_percent(color).or_else(|| rgb_decimal(color));
    let color = converted.as_deref().unwrap_or(color);
    let Some(rest) = color.strip_prefix('#') else {
        return Color::Invalid;
    };

    // HTML.pm's repairs: keep the hex digits, cut to 6 or to 3, pad to a
    // multiple of 3 with zeros, and double each digit of a 3-digit colour.
    let mut digits: Vec<u8> = rest.bytes().filter(u8::is_ascii_hexdigit).collect();
    if digits.len() > 6 {
        digits.truncate(6);
    }
    if digits.len() > 3 && digits.len() < 6 {
        digits.truncate(3);
    }
    while !digits.len().is_multiple_of(3) {
        digits.push(b'0');
    }
    if digits.len() == 3 {
        digits = digits.iter().flat_map(|digit| [*digit, *digit]).collect();
    }
    if digits.is_empty() {
        return Color::Empty;
    }
    let mut rgb = [0u8; 3];
    for (channel, pair) in rgb.iter_mut().zip(digits.chunks(2)) {
        *channel = (hex_value(pair[0]) << 4) | hex_value(pair[1]);
    }
    Color::Rgb(rgb)
}

/// Returns the colours of a `style` attribute's `color`,
/// `background-color` and `background` declarations. The last one of
/// each kind wins.
pub fn style_colors(style: &str) -> StyleColors {
    let mut colors = StyleColors::default();
    for declaration in style.split(';') {
        if let Some((background, value)) = color_declaration(declaration) {
            let Some(color) = declared_color(&value) else {
                continue;
            };
            if background {
                colors.background = Some(color);
            } else {
                colors.text = Some(color);
            }
        } else if let Some(value) = background_declaration(declaration) {
            let layers = background_layers(&value.to_ascii_lowercase());
            let found = layers
                .last()
                .into_iter()
                .flatten()
                .map(|token| parse(token))
                .find(|color| *color != Color::Invalid);
            if let Some(color) = found {
                colors.background = Some(StyleColor::Color(color));
            }
        }
    }
    colors
}

/// Returns whether text in colour `text` on `background` is hard to read:
/// the same colour, or RGB colours closer than 12. The distance weights
/// each channel by its share of brightness, so the largest is about 191,
/// and 12 is HTML.pm's limit.
pub fn low_contrast(text: Color, background: Color) -> bool {
    if text == background {
        return true;
    }
    let (Color::Rgb(text), Color::Rgb(background)) = (text, background) else {
        return false;
    };
    let weights = [0.2126, 0.7152, 0.0722];
    let distance: f64 = text
        .iter()
        .zip(background)
        .zip(weights)
        .map(|((text, background), weight)| {
            let difference = weight * (f64::from(*text) - f64::from(background));
            difference * difference
        })
        .sum::<f64>()
        .sqrt();
    distance < 12.0
}

/// Parses `(background-)?color: VALUE` at the start of a declaration,
/// case-insensitively, as `/^\s*(background-)?color:\s*(.+?)\s*$/i`.
/// Returns whether it is the background, and the lower-cased value.
fn color_declaration(declaration: &str) -> Option<(bool, String)> {
    let lower = declaration.to_ascii_lowercase();
    let rest = lower.trim_start_matches(is_perl_space);
    let (background, rest) = match rest.strip_prefix("background-") {
        Some(after) => (true, after),
        None => (false, rest),
    };
    let value = rest.strip_prefix("color:")?.trim_matches(is_perl_space);
    if value.is_empty() {
        return None;
    }
    Some((background, value.to_string()))
}

/// Parses `background: VALUE`, case-sensitively as HTML.pm does.
fn background_declaration(declaration: &str) -> Option<&str> {
    let value = declaration
        .trim_start_matches(is_perl_space)
        .strip_prefix("background:")?
        .trim_matches(is_perl_space);
    (!value.is_empty()).then_some(value)
}

/// Returns the colour a `color` or `background-color` value sets, or
/// `None` for `inherit`.
fn declared_color(value: &str) -> Option<StyleColor> {
    let value = strip_important(value);
    if value.contains("rgb") {
        return Some(StyleColor::Color(Color::Rgb(loose_rgb(value))));
    }
    match value {
        "inherit" => None,
        "transparent" => Some(StyleColor::Transparent),
        _ => Some(StyleColor::Color(parse(value))),
    }
}

/// Removes a trailing `!important`, as `s/\s*!\s*important$//`.
fn strip_important(value: &str) -> &str {
    let Some(before) = value.strip_suffix("important") else {
        return value;
    };
    let before = before.trim_end_matches(is_perl_space);
    match before.strip_suffix('!') {
        Some(rest) => rest.trim_end_matches(is_perl_space),
        None => value,
    }
}

/// Reads a value with `rgb` in it as HTML.pm's style branch does: only
/// digits and commas are kept, the first three fields are the channels,
/// and an empty or missing field is 0 and a field over 255 is 255.
fn loose_rgb(value: &str) -> [u8; 3] {
    let digits_and_commas: String = value
        .chars()
        .filter(|character| character.is_ascii_digit() || *character == ',')
        .collect();
    let mut rgb = [0u8; 3];
    for (channel, field) in rgb.iter_mut().zip(digits_and_commas.split(',')) {
        *channel = saturating_number(field).min(255) as u8;
    }
    rgb
}

/// Splits a CSS `background` value into layers (at commas outside
/// parentheses and quotes) of space-separated tokens, as HTML.pm's
/// `parse_css_background`.
fn background_layers(value: &str) -> Vec<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Plain,
        Parens,
        Double,
        Single,
    }
    let mut layers = Vec::new();
    let mut tokens = Vec::new();
    let mut token = String::new();
    let mut stack = Vec::new();
    let mut state = State::Plain;
    for character in value.chars() {
        match state {
            State::Plain => match character {
                ' ' => {
                    if !token.is_empty() {
                        tokens.push(std::mem::take(&mut token));
                    }
                }
                ',' => {
                    if !token.is_empty() {
                        tokens.push(std::mem::take(&mut token));
                    }
                    layers.push(std::mem::take(&mut tokens));
                }
                _ => {
                    token.push(character);
                    let opened = match character {
                        '(' => Some(State::Parens),
                        '"' => Some(State::Double),
                        '\'' => Some(State::Single),
                        _ => None,
                    };
                    if let Some(opened) = opened {
                        stack.push(state);
                        state = opened;
                    }
                }
            },
            State::Parens => {
                token.push(character);
                match character {
                    ')' => {
                        tokens.push(std::mem::take(&mut token));
                        state = stack.pop().unwrap_or(State::Plain);
                    }
                    '"' => {
                        stack.push(state);
                        state = State::Double;
                    }
                    '\'' => {
                        stack.push(state);
                        state = State::Single;
                    }
                    _ => {}
                }
            }
            State::Double | State::Single => {
                token.push(character);
                let closing = if state == State::Double { '"' } else { '\'' };
                if character == closing {
                    state = stack.pop().unwrap_or(State::Plain);
                }
            }
        }
    }
    if !token.is_empty() {
        tokens.push(token);
    }
    if !tokens.is_empty() {
        layers.push(tokens);
    }
    layers
}

/// Returns whether `color` contains `rgb(` followed by digits, `%`,
/// commas and spaces up to `)`, as `/rgb\([\d%, ]*\)/`.
fn has_rgb_call(color: &str) -> bool {
    color.match_indices("rgb(").any(|(start, _)| {
        let inside = &color[start + 4..];
        let end = inside
            .find(|character: char| {
                !(character.is_ascii_digit() || matches!(character, '%' | ',' | ' '))
            })
            .unwrap_or(inside.len());
        inside[end..].starts_with(')')
    })
}

/// Converts the first `rgb(R%, G%, B%)` in `color` to `#` and hex, as
/// HTML.pm does: each percent times 255 / 100, truncated.
fn rgb_percent(color: &str) -> Option<String> {
    let channels = rgb_channels(color, true)?;
    Some(hex_color(
        channels.map(|percent| ((percent as f64) / 100.0 * 255.0) as u64),
    ))
}

/// Converts the first `rgb(R, G, B)` in `color` to `#` and hex.
fn rgb_decimal(color: &str) -> Option<String> {
    rgb_channels(color, false).map(hex_color)
}

/// Returns the three numbers of the first `rgb(` call in `color`: numbers
/// separated by a comma and optional spaces, each followed by `%` when
/// `percent`, then optional spaces and `)`.
fn rgb_channels(color: &str, percent: bool) -> Option<[u64; 3]> {
    color.match_indices("rgb(").find_map(|(start, _)| {
        let mut rest = &color[start + 4..];
        let mut channels = [0u64; 3];
        for (index, channel) in channels.iter_mut().enumerate() {
            if index > 0 {
                rest = rest.strip_prefix(',')?.trim_start_matches(is_perl_space);
            }
            let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            if digits == 0 {
                return None;
            }
            *channel = saturating_number(&rest[..digits]);
            rest = &rest[digits..];
            if percent {
                rest = rest.strip_prefix('%')?;
            }
        }
        rest.trim_start_matches(is_perl_space)
            .starts_with(')')
            .then_some(channels)
    })
}

/// Returns `#` and each channel as HTML.pm's `dec2hex`: two hex digits
/// under 256, more above.
fn hex_color(channels: [u64; 3]) -> String {
    let mut color = String::from("#");
    for channel in channels {
        color.push_str(&format!("{channel:02x}"));
    }
    color
}

fn saturating_number(digits: &str) -> u64 {
    digits.bytes().fold(0u64, |number, digit| {
        number
            .saturating_mul(10)
            .saturating_add(u64::from(digit - b'0'))
    })
}

fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        _ => digit.to_ascii_lowercase() - b'a' + 10,
    }
}

/// Returns whether `character` is in Perl's `\s`: space, tab, newline,
/// carriage return, form feed or vertical tab.
fn is_perl_space(character: char) -> bool {
    matches!(character, ' ' | '\t' | '\n' | '\r' | '\x0c' | '\x0b')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_values_never_panic(value in "\\PC{0,80}") {
            let _ = parse(&value);
            let _ = style_colors(&value);
        }

        #[test]
        fn css_shaped_values_never_panic(
            value in "(color|background|background-color|rgb|#|[0-9a-f]|[(),;:%' \"!]|important|transparent){0,40}"
        ) {
            let _ = parse(&value);
            let _ = style_colors(&value);
        }
    }

    #[test]
    fn parse_table() {
        let cases: &[(&str, Color)] = &[
            ("red", Color::Rgb([255, 0, 0])),
            (" White ", Color::Rgb([255, 255, 255])),
            ("#FFF", Color::Rgb([255, 255, 255])),
            ("#123456", Color::Rgb([0x12, 0x34, 0x56])),
            ("#1234567", Color::Rgb([0x12, 0x34, 0x56])),
            ("#12345", Color::Rgb([0x11, 0x22, 0x33])),
            ("#1", Color::Rgb([0x11, 0, 0])),
            ("#", Color::Empty),
            ("ffffff", Color::Invalid),
            ("", Color::Invalid),
            ("bluish", Color::Invalid),
            ("rgb(255, 0, 10)", Color::Rgb([255, 0, 10])),
            ("rgb(100%,50%,0%)", Color::Rgb([255, 127, 0])),
            // dec2hex gives three digits for 300, and the first six count.
            ("rgb(300,0,0)", Color::Rgb([0x12, 0xc0, 0x00])),
            ("transparent", Color::Invalid),
        ];
        for (value, expected) in cases {
            assert_eq!(parse(value), *expected, "value {value:?}");
        }
    }

    #[test]
    fn style_colors_table() {
        let red = StyleColor::Color(Color::Rgb([255, 0, 0]));
        let white = StyleColor::Color(Color::Rgb([255, 255, 255]));
        let cases: &[(&str, StyleColors)] = &[
            (
                "color: red",
                StyleColors {
                    text: Some(red),
                    background: None,
                },
            ),
            (
                "COLOR:red !important; background-color: #fff",
                StyleColors {
                    text: Some(red),
                    background: Some(white),
                },
            ),
            (
                "background: url('a,b.png') no-repeat, white",
                StyleColors {
                    text: None,
                    background: Some(white),
                },
            ),
            (
                "background: white url(x.png)",
                StyleColors {
                    text: None,
                    background: Some(white),
                },
            ),
            ("Background: white", StyleColors::default()),
            (
                "color: rgba(255,0,0,0.5)",
                StyleColors {
                    text: Some(red),
                    background: None,
                },
            ),
            (
                "color: inherit; background-color: transparent",
                StyleColors {
                    text: None,
                    background: Some(StyleColor::Transparent),
                },
            ),
            ("border-color: red", StyleColors::default()),
        ];
        for (style, expected) in cases {
            assert_eq!(style_colors(style), *expected, "style {style:?}");
        }
    }

    #[test]
    fn low_contrast_table() {
        let cases: &[(Color, Color, bool)] = &[
            (Color::Rgb([0, 0, 0]), Color::Rgb([255, 255, 255]), false),
            (
                Color::Rgb([255, 255, 255]),
                Color::Rgb([255, 255, 255]),
                true,
            ),
            (
                Color::Rgb([250, 250, 250]),
                Color::Rgb([255, 255, 255]),
                true,
            ),
            (
                Color::Rgb([235, 235, 235]),
                Color::Rgb([255, 255, 255]),
                false,
            ),
            (Color::Invalid, Color::Invalid, true),
            (Color::Invalid, Color::Rgb([255, 255, 255]), false),
            (Color::Empty, Color::Empty, true),
        ];
        for (text, background, expected) in cases {
            assert_eq!(
                low_contrast(*text, *background),
                *expected,
                "{text:?} on {background:?}"
            );
        }
    }
}
