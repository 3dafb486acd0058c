//! Image evals after SpamAssassin 4.0.1's Plugin/ImageInfo.pm: image counts,
//! pixel area, text length per pixel, and image sizes, from
//! `Prepared::images()` (see `crate::prepare::image`).
//!
//! The first argument of each eval selects the images: `all`, `gif`, `png`
//! or `jpeg`. Any other value, `jpg` and upper case included, selects no
//! image type and the eval is false, as in the Perl.

use crate::prepare::image::{Image, ImageKind};
use crate::prepare::Prepared;

/// Returns the images that the selector `kind` covers, or `None` when
/// `kind` names no image type.
fn selected<'p>(message: &'p Prepared<'_>, kind: &str) -> Option<Vec<&'p Image>> {
    let only = match kind {
        "all" => None,
        name => Some(
            ImageKind::ALL
                .into_iter()
                .find(|known| known.name() == name)?,
        ),
    };
    let images = message.images().iter();
    Some(
        images
            .filter(|image| only.is_none_or(|only| image.kind == only))
            .collect(),
    )
}

/// Returns whether `value` is at least `min` and at most `max`, when a
/// `max` is given (ImageInfo.pm's `result_check`).
fn in_range(value: f64, min: f64, max: Option<f64>) -> bool {
    value >= min && max.is_none_or(|max| value <= max)
}

/// Returns the summed pixel area of the selected images. Images whose size
/// could not be read add nothing.
fn area(images: &[&Image]) -> f64 {
    images
        .iter()
        .filter_map(|image| image.size)
        .map(|size| size.area() as f64)
        .sum()
}

/// `image_count(kind, min[, max])`: whether the number of selected image
/// parts is in range. A part counts even when its size could not be read.
pub fn count(message: &Prepared<'_>, kind: &str, min: f64, max: Option<f64>) -> bool {
    selected(message, kind).is_some_and(|images| in_range(images.len() as f64, min, max))
}

/// `pixel_coverage(kind, min[, max])`: whether the summed pixel area of the
/// selected images is in range.
pub fn pixel_coverage(message: &Prepared<'_>, kind: &str, min: f64, max: Option<f64>) -> bool {
    selected(message, kind).is_some_and(|images| in_range(area(&images), min, max))
}

/// `image_to_text_ratio(kind, min, max)`: whether `text_len` over the
/// summed pixel area is at least `min` and below `max`. It is false when
/// there is no text or no area. `text_len` is the length of the text that
/// SpamAssassin passes the rule: the rendered body for a `body` rule, the
/// decoded raw body for a `rawbody` rule.
pub fn text_ratio(message: &Prepared<'_>, kind: &str, text_len: usize, min: f64, max: f64) -> bool {
    let Some(images) = selected(message, kind) else {
        return false;
    };
    let pixels = area(&images);
    if text_len == 0 || pixels <= 0.0 {
        return false;
    }
    let ratio = text_len as f64 / pixels;
    ratio >= min && ratio < max
}

/// `image_size_exact(kind, height, width)`: whether a selected image has
/// exactly this size. As the Perl compares the text `HEIGHTxWIDTH`, an
/// argument such as `0264` or `264.0` matches nothing.
pub fn size_exact(message: &Prepared<'_>, kind: &str, height: &str, width: &str) -> bool {
    let Some(images) = selected(message, kind) else {
        return false;
    };
    let expected = format!("{height}x{width}");
    images
        .iter()
        .filter_map(|image| image.size)
        .any(|size| format!("{}x{}", size.height, size.width) == expected)
}

/// Bounds of `image_size_range`, in pixels. The maximums are optional.
#[derive(Debug, Clone, Copy)]
pub struct SizeRange {
    pub height_min: f64,
    pub width_min: f64,
    pub height_max: Option<f64>,
    pub width_max: Option<f64>,
}

/// `image_size_range(kind, min_height, min_width[, max_height[,
/// max_width]])`: whether a selected image has a size within the bounds.
pub fn size_in_range(message: &Prepared<'_>, kind: &str, range: SizeRange) -> bool {
    let Some(images) = selected(message, kind) else {
        return false;
    };
    images.iter().filter_map(|image| image.size).any(|size| {
        in_range(f64::from(size.height), range.height_min, range.height_max)
            && in_range(f64::from(size.width), range.width_min, range.width_max)
    })
}

/// Returns the length in bytes of text that arrives in pieces.
///
/// NOTE: the Perl takes `length` of the joined text. For a `body` rule
/// that text is the rendered body in the part's own charset, but here it
/// is UTF-8, so a non-ASCII character in a single-byte charset counts 2 or
/// 3 bytes here and 1 in SpamAssassin.
pub fn text_len<T: AsRef<[u8]>>(pieces: &[T]) -> usize {
    pieces.iter().map(|piece| piece.as_ref().len()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{evaluate, evaluate_rawbody};
    use crate::prepare::image::fixtures::{GIF_1X1, JPEG_1X1, PNG_1X1};

    /// Returns `data` in base64, in lines of 76 characters.
    fn base64(data: &[u8]) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut output = String::new();
        for (index, group) in data.chunks(3).enumerate() {
            if index > 0 && index % 19 == 0 {
                output.push('\n');
            }
            let bits = group.iter().enumerate().fold(0u32, |bits, (at, &byte)| {
                bits | u32::from(byte) << (16 - 8 * at)
            });
            for at in 0..4 {
                if at <= group.len() {
                    output.push(ALPHABET[(bits >> (18 - 6 * at) & 63) as usize] as char);
                } else {
                    output.push('=');
                }
            }
        }
        output
    }

    /// Returns `PNG_1X1` with its width and height set.
    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut data = PNG_1X1.to_vec();
        data[16..20].copy_from_slice(&width.to_be_bytes());
        data[20..24].copy_from_slice(&height.to_be_bytes());
        data
    }

    /// Returns a multipart/mixed message with a text part and one part per
    /// `(content type, transfer encoding, data)`.
    fn message_with(parts: &[(&str, &str, &[u8])]) -> String {
        let mut message = String::from(
            "From: a@example.com\nSubject: pics\nMIME-Version: 1.0\n\
             Content-Type: multipart/mixed; boundary=\"b\"\n\n\
             --b\nContent-Type: text/plain\n\nLook at these pictures\n",
        );
        for (content_type, encoding, data) in parts {
            let body = if *encoding == "base64" {
                base64(data)
            } else {
                String::from_utf8_lossy(data).into_owned()
            };
            message.push_str(&format!(
                "--b\nContent-Type: {content_type}\nContent-Transfer-Encoding: {encoding}\n\n{body}\n"
            ));
        }
        message.push_str("--b--\n");
        message
    }

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|arg| arg.to_string()).collect()
    }

    #[test]
    fn image_evals_on_three_images() {
        let png_640x480 = png(640, 480);
        let message = message_with(&[
            ("image/gif", "base64", GIF_1X1),
            ("image/png; name=\"wide.png\"", "base64", &png_640x480),
            ("image/jpg", "base64", JPEG_1X1),
        ]);
        let prepared = Prepared::new(message.as_bytes());
        // Areas: 1 for the GIF and the JPEG, 307200 for the PNG.
        let cases: [(&str, &[&str], Option<bool>); 26] = [
            ("image_count", &["all", "3", "3"], Some(true)),
            ("image_count", &["gif", "1", "1"], Some(true)),
            ("image_count", &["png", "2"], Some(false)),
            ("image_count", &["jpeg", "1", "1"], Some(true)),
            ("image_count", &["jpg", "1"], Some(false)),
            ("image_count", &["GIF", "1"], Some(false)),
            ("image_count", &["all"], Some(false)),
            ("image_count", &["all", "many"], None),
            ("pixel_coverage", &["png", "180000", "475000"], Some(true)),
            ("pixel_coverage", &["gif", "180000", "475000"], Some(false)),
            ("pixel_coverage", &["all", "62500", "300000"], Some(false)),
            ("pixel_coverage", &["all", "307202", "307202"], Some(true)),
            ("pixel_coverage", &["all", "307203"], Some(false)),
            ("pixel_coverage", &["all"], Some(false)),
            ("image_size_exact", &["png", "480", "640"], Some(true)),
            ("image_size_exact", &["png", "640", "480"], Some(false)),
            ("image_size_exact", &["all", "0480", "640"], Some(false)),
            ("image_size_exact", &["gif", "1", "1"], Some(true)),
            ("image_size_exact", &["gif", "1"], Some(false)),
            ("image_size_range", &["png", "400", "600"], Some(true)),
            (
                "image_size_range",
                &["png", "400", "600", "479"],
                Some(false),
            ),
            (
                "image_size_range",
                &["png", "400", "600", "480", "639"],
                Some(false),
            ),
            ("image_size_range", &["all", "481", "0"], Some(false)),
            (
                "image_size_range",
                &["jpeg", "1", "1", "1", "1"],
                Some(true),
            ),
            ("image_to_text_ratio", &["all", "0.000"], Some(false)),
            (
                "image_to_text_ratio",
                &["all", "0.000", "0.015"],
                Some(true),
            ),
        ];
        for (function, list, expected) in cases {
            let result = evaluate(function, &args(list), &prepared);
            assert_eq!(result, expected, "{function}{list:?}");
        }
    }

    #[test]
    fn image_parts_that_count() {
        let bad_gif = [b"GIF90a".as_slice(), &GIF_1X1[6..]].concat();
        let rfc822 = format!(
            "Content-Type: image/gif\nContent-Transfer-Encoding: base64\n\n{}\n",
            base64(GIF_1X1)
        );
        let single = format!(
            "Subject: one\nContent-Type: image/png\nContent-Transfer-Encoding: BASE64\n\n{}\n",
            base64(&png(10, 20))
        );
        let cases: [(&str, String, &[&str], bool); 8] = [
            (
                "quoted_printable_image_not_counted",
                message_with(&[("image/gif", "quoted-printable", b"GIF89a=01=00=01=00")]),
                &["gif", "1"],
                false,
            ),
            (
                "bmp_image_not_counted",
                message_with(&[("image/bmp", "base64", b"BM")]),
                &["all", "1"],
                false,
            ),
            (
                "unreadable_gif_counted",
                message_with(&[("image/gif", "base64", &bad_gif)]),
                &["gif", "1", "1"],
                true,
            ),
            (
                "image_in_attached_message_counted",
                message_with(&[("message/rfc822", "7bit", rfc822.as_bytes())]),
                &["gif", "1", "1"],
                true,
            ),
            (
                "single_part_image_counted",
                single.clone(),
                &["png", "1", "1"],
                true,
            ),
            (
                "single_part_image_area",
                single,
                &["png", "200", "200"],
                true,
            ),
            (
                "unreadable_gif_has_no_area",
                message_with(&[("image/gif", "base64", &bad_gif)]),
                &["gif", "1"],
                false,
            ),
            ("no_images", message_with(&[]), &["all", "0", "0"], true),
        ];
        for (name, message, list, expected) in cases {
            let prepared = Prepared::new(message.as_bytes());
            let function = if name.ends_with("area") {
                "pixel_coverage"
            } else {
                "image_count"
            };
            let result = evaluate(function, &args(list), &prepared);
            assert_eq!(result, Some(expected), "{name}");
        }
    }

    #[test]
    fn text_ratio_bounds() {
        // One 100x100 PNG: 10000 pixels.
        let message = message_with(&[("image/png", "base64", &png(100, 100))]);
        let prepared = Prepared::new(message.as_bytes());
        let cases = [
            ("ratio_at_min", 25, 0.0025, 0.01, true),
            ("ratio_below_min", 24, 0.0025, 0.01, false),
            ("ratio_at_max", 25, 0.0, 0.0025, false),
            ("ratio_below_max", 24, 0.0, 0.0025, true),
            ("no_text", 0, 0.0, 1.0, false),
        ];
        for (name, text_len, min, max, expected) in cases {
            let hit = text_ratio(&prepared, "all", text_len, min, max);
            assert_eq!(hit, expected, "{name}");
        }
        let no_images = Prepared::new(b"Subject: x\n\nsome text\n");
        assert!(
            !text_ratio(&no_images, "all", 25, 0.0, 1.0),
            "no_image_area"
        );
        assert!(!text_ratio(&prepared, "gif", 25, 0.0, 1.0), "no_gif_area");
    }

    #[test]
    fn text_ratio_body_or_rawbody() {
        // The rendered body, Subject line first, is under 30 bytes and the
        // HTML source is 50. The PNG has 10000 pixels. SpamAssassin 4.0.1
        // gets the same hits on this message.
        let html = "<html><body><p style=\"x\">Buy now</p></body></html>";
        let message = format!(
            "Subject: sale\nMIME-Version: 1.0\nContent-Type: multipart/related; boundary=\"b\"\n\n\
             --b\nContent-Type: text/html\n\n{html}\n\
             --b\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n\n{}\n--b--\n",
            base64(&png(100, 100))
        );
        let prepared = Prepared::new(message.as_bytes());
        let low = args(&["all", "0.000", "0.003"]);
        let high = args(&["all", "0.003", "0.010"]);
        let cases = [
            (
                "body_low",
                evaluate("image_to_text_ratio", &low, &prepared),
                true,
            ),
            (
                "body_high",
                evaluate("image_to_text_ratio", &high, &prepared),
                false,
            ),
            (
                "rawbody_low",
                evaluate_rawbody("image_to_text_ratio", &low, &prepared),
                false,
            ),
            (
                "rawbody_high",
                evaluate_rawbody("image_to_text_ratio", &high, &prepared),
                true,
            ),
        ];
        for (name, result, expected) in cases {
            assert_eq!(result, Some(expected), "{name}");
        }
    }
}
