//! The header fields SpamAssassin adds to a scored message, built from a
//! [`Verdict`]. Continuation lines start with a tab, shown here as spaces:
//!
//! ```text
//! X-Spam-Flag: YES                      (spam only)
//! X-Spam-Score: 9.4
//! X-Spam-Level: *********
//! X-Spam-Status: Yes, score=9.4 required=5.0 tests=FREEMAIL_FROM,
//!     HTML_MESSAGE,MIME_HTML_ONLY autolearn=no autolearn_force=no
//!     version=0.1.0
//! ```
//!
//! The format follows SpamAssassin 4.0.1's output, compared by hand with
//! `spamassassin -L` on three corpus messages. Scores have one decimal, and
//! the level has one `*` per whole point up to [`LEVEL_STARS_MAX`]. Tests
//! are sorted by name (`none` when empty). `X-Spam-Status` is folded so that
//! no line is longer than [`FOLD_WIDTH_MAX`] columns, counting the field
//! name, and a leading tab as 8 columns.
//! Lines break after a comma or at a space, and continuation lines start
//! with a tab. `version=` is Ringmail's version, and `autolearn=no`
//! because the scorer never learns.
//! SpamAssassin's `X-Spam-Checker-Version` is not written.

use super::Verdict;

/// Maximum `*` in `X-Spam-Level`, SpamAssassin's cap for `_STARS_`.
pub const LEVEL_STARS_MAX: usize = 50;
/// Maximum columns of one line of a folded field. SpamAssassin wraps at 79
/// columns, which leaves 78 for the text.
pub const FOLD_WIDTH_MAX: usize = 78;
/// Columns a leading tab counts for, as SpamAssassin's wrapping counts it.
const TAB_WIDTH: usize = 8;

/// One header field: name and value, the value already folded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpamHeader {
    pub name: &'static str,
    pub value: String,
}

impl SpamHeader {
    /// Formats the field as `Name: value\n`.
    pub fn to_field(&self) -> String {
        format!("{}: {}\n", self.name, self.value)
    }
}

/// Builds the `X-Spam-*` fields for `verdict`, in the order they are added.
pub fn spam_headers(verdict: &Verdict) -> Vec<SpamHeader> {
    let mut headers = Vec::with_capacity(4);
    if verdict.is_spam {
        headers.push(SpamHeader {
            name: "X-Spam-Flag",
            value: "YES".to_string(),
        });
    }
    headers.push(SpamHeader {
        name: "X-Spam-Score",
        value: format_score(verdict.score),
    });
    headers.push(SpamHeader {
        name: "X-Spam-Level",
        value: level_stars(verdict.score),
    });
    headers.push(SpamHeader {
        name: "X-Spam-Status",
        value: fold("X-Spam-Status", &status_text(verdict)),
    });
    headers
}

/// Returns the unfolded `X-Spam-Status` value.
pub fn status_text(verdict: &Verdict) -> String {
    let answer = if verdict.is_spam { "Yes" } else { "No" };
    let tests = if verdict.hits.is_empty() {
        "none".to_string()
    } else {
        let mut names = verdict.rule_names();
        names.sort_unstable();
        names.join(",")
    };
    format!(
        "{answer}, score={} required={} tests={tests} autolearn=no autolearn_force=no version={}",
        format_score(verdict.score),
        format_score(verdict.required),
        env!("CARGO_PKG_VERSION"),
    )
}

/// Formats a score with one decimal, as SpamAssassin's `%2.1f`, but
/// without a minus sign on a value that rounds to zero.
pub fn format_score(score: f64) -> String {
    let text = format!("{score:.1}");
    if text == "-0.0" {
        "0.0".to_string()
    } else {
        text
    }
}

/// Returns one `*` per whole point of a positive score.
fn level_stars(score: f64) -> String {
    let stars = if score >= 1.0 {
        (score.floor() as usize).min(LEVEL_STARS_MAX)
    } else {
        0
    };
    "*".repeat(stars)
}

/// Folds `value` of the field `name`, breaking after commas and at spaces.
pub fn fold(name: &str, value: &str) -> String {
    let mut output = String::with_capacity(value.len() + 16);
    let mut width = name.len() + 2;
    let mut line_empty = true;

    for (word_index, word) in value.split(' ').enumerate() {
        // The pieces of a word end after each comma. Only the first piece
        // of a word (after the first) is preceded by a space.
        for (piece_index, piece) in word.split_inclusive(',').enumerate() {
            let separator = if word_index > 0 && piece_index == 0 {
                1
            } else {
                0
            };
            if !line_empty && width + separator + piece.len() > FOLD_WIDTH_MAX {
                output.push_str("\n\t");
                width = TAB_WIDTH;
            } else if separator == 1 {
                output.push(' ');
                width += 1;
            }
            output.push_str(piece);
            width += piece.len();
            line_empty = false;
        }
    }
    output
}
