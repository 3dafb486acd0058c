//! How much the HTML and plain-text versions of a multipart/alternative
//! part differ, for `multipart_alternative_difference` and
//! `multipart_alternative_difference_count`, after SpamAssassin 4.0.1's
//! BodyEval.pm `_multipart_alternative_difference` (read from its Perl
//! source).
//!
//! Each text/plain and text/html leaf inside a multipart/alternative part
//! (at any depth) adds the words of its rendered text to that part's
//! counts, one count per occurrence. A word is a run between whitespace
//! with at least one ASCII letter, digit or underscore. An HTML version
//! without words but with an image counts one placeholder word. When the
//! part ends, every HTML word that occurs at least as often in the text
//! version is removed, and the share of HTML words left, in percent, is
//! the part's difference. The message's difference is the largest of its
//! parts. Parts without HTML words are left out.

use std::collections::HashMap;

/// Maximum distinct words counted per version of one multipart/alternative
/// part. Later words are not counted, which bounds the memory one message
/// can cost.
pub const WORDS_MAX: usize = 100_000;

/// The placeholder word of an HTML version that has no words but an image.
/// It is a newline, which no word can contain.
const IMAGE_WORD: &str = "\n";

/// The words of one multipart/alternative part, while its leaves are read.
#[derive(Debug, Default)]
pub struct AlternativeWords {
    html: HashMap<String, u32>,
    text: HashMap<String, u32>,
}

impl AlternativeWords {
    /// Adds the words of a rendered text/html leaf, and the image
    /// placeholder when no HTML word was counted yet and the leaf has an
    /// `img` tag.
    pub fn add_html(&mut self, rendered: &str, has_image: bool) {
        add_words(&mut self.html, rendered);
        if self.html.is_empty() && has_image {
            self.html.insert(IMAGE_WORD.to_string(), 1);
        }
    }

    /// Adds the words of a decoded text/plain leaf.
    pub fn add_text(&mut self, text: &str) {
        add_words(&mut self.text, text);
    }

    /// Returns the part's difference, or `None` when it has no HTML word.
    pub fn finish(self) -> Option<PartDifference> {
        let html_words = self.html.len();
        if html_words == 0 {
            return None;
        }
        let left = self
            .html
            .iter()
            .filter(|(word, count)| {
                self.text
                    .get(*word)
                    .is_none_or(|text_count| **count > *text_count)
            })
            .count();
        Some(PartDifference {
            percent: left as f64 / html_words as f64 * 100.0,
            html_words,
            text_words: self.text.len(),
        })
    }
}

/// The comparison of one multipart/alternative part.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PartDifference {
    /// Share of distinct HTML words not matched by the text version, 0 to
    /// 100.
    pub percent: f64,
    /// Distinct words of the HTML version and of the text version.
    pub html_words: usize,
    pub text_words: usize,
}

/// The comparison of a whole message, as BodyEval.pm keeps it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AlternativeDifference {
    /// The largest difference of any part, in percent (0 without parts).
    pub percent: f64,
    /// The word counts of the last part with HTML words, in the order the
    /// parts start.
    pub html_words: usize,
    pub text_words: usize,
}

impl AlternativeDifference {
    /// Combines the parts' results, given in the order the parts start.
    pub fn from_parts(parts: impl IntoIterator<Item = PartDifference>) -> AlternativeDifference {
        let mut combined = AlternativeDifference::default();
        for part in parts {
            combined.percent = combined.percent.max(part.percent);
            combined.html_words = part.html_words;
            combined.text_words = part.text_words;
        }
        combined
    }
}

fn add_words(counts: &mut HashMap<String, u32>, text: &str) {
    let words = text
        .split([' ', '\t', '\n', '\r', '\x0c', '\x0b'])
        .filter(|word| {
            word.bytes()
                .any(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
        });
    for word in words {
        if let Some(count) = counts.get_mut(word) {
            *count = count.saturating_add(1);
        } else if counts.len() < WORDS_MAX {
            counts.insert(word.to_string(), 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_words_differ_by_nothing() {
        let mut words = AlternativeWords::default();
        words.add_text("Buy now, while stocks last!");
        words.add_html("Buy now, while stocks last!", false);
        let difference = words.finish().unwrap();
        assert_eq!(difference.percent, 0.0);
        assert_eq!(difference.html_words, 5);
        assert_eq!(difference.text_words, 5);
    }

    #[test]
    fn html_words_missing_from_text_count() {
        let mut words = AlternativeWords::default();
        words.add_text("hello there");
        words.add_html("hello hello world -- ***", false);
        // "hello" occurs twice in HTML and once in text, so it stays. The
        // punctuation runs are not words.
        let difference = words.finish().unwrap();
        assert_eq!(difference.html_words, 2);
        assert_eq!(difference.percent, 100.0);
    }

    #[test]
    fn image_only_html_counts_a_placeholder() {
        let mut words = AlternativeWords::default();
        words.add_text("see the picture");
        words.add_html("  ", true);
        let difference = words.finish().unwrap();
        assert_eq!(difference.html_words, 1);
        assert_eq!(difference.percent, 100.0);
    }

    #[test]
    fn part_without_html_words_is_left_out() {
        let mut words = AlternativeWords::default();
        words.add_text("only text");
        assert_eq!(words.finish(), None);
    }

    #[test]
    fn message_keeps_largest_percent_and_last_counts() {
        let parts = [
            PartDifference {
                percent: 80.0,
                html_words: 10,
                text_words: 9,
            },
            PartDifference {
                percent: 20.0,
                html_words: 4,
                text_words: 40,
            },
        ];
        let combined = AlternativeDifference::from_parts(parts);
        assert_eq!(combined.percent, 80.0);
        assert_eq!(combined.html_words, 4);
        assert_eq!(combined.text_words, 40);
    }
}
