//! Arguments of `ringmail-loadgen smtp` that choose how it sends: the
//! open-loop rate, the message content, BDAT and STARTTLS.
//!
//! [`SmtpModeArgs`] is flattened into [`crate::cli::SmtpArgs`], and
//! [`SmtpModeArgs::validate`] turns it into the checked [`SmtpModes`] of the
//! plan. The content options `--size`, `--size-dist` and `--corpus` are
//! mutually exclusive; a conflict is a one-line [`UsageError`] (exit 2).
//!
//! Limits: [`RATE_MAX`] bounds `--rate`, [`CHUNK_LEN_MAX`] bounds
//! `--chunk-size`, and the corpus limits live in [`crate::corpus`].

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use crate::cli::{UsageError, BODY_LEN_MAX};
use crate::content::Content;
use crate::corpus::Corpus;

/// Maximum `--rate` in messages per second. A million is beyond what one
/// machine sends, and keeps the gap between scheduled messages at 1 µs or more.
pub const RATE_MAX: f64 = 1_000_000.0;

/// Minimum `--rate`: one message per day. Slower schedules are not load.
pub const RATE_MIN: f64 = 1.0 / 86_400.0;

/// Default `--chunk-size`: 64 KiB, the size of one write of message data.
pub const CHUNK_LEN_DEFAULT: usize = 64 * 1024;

/// Maximum `--chunk-size`: a whole message of the largest size allowed.
pub const CHUNK_LEN_MAX: usize = BODY_LEN_MAX;

/// Default `--size` when no content option is given.
pub const BODY_LEN_DEFAULT: usize = 4096;

/// Arguments that choose the sending mode, as parsed.
#[derive(Debug, Args)]
pub struct SmtpModeArgs {
    /// Open loop: schedule message i at start + i/R seconds, R in messages
    /// per second. Latency counts from the scheduled time. Without it, each
    /// connection sends its next message as soon as the last one finished.
    #[arg(long, value_name = "R")]
    pub rate: Option<f64>,

    /// Draw each body size in octets from a distribution: uniform:MIN-MAX.
    /// Excludes --size and --corpus.
    #[arg(long, value_name = "uniform:MIN-MAX")]
    pub size_dist: Option<String>,

    /// Seed for --size-dist, so a run can be repeated (default: random,
    /// printed in the report).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Send the .eml files under DIR (recursive, in path order, cycled)
    /// instead of generated messages. Excludes --size and --size-dist.
    #[arg(long, value_name = "DIR")]
    pub corpus: Option<PathBuf>,

    /// Send the message with BDAT (RFC 3030 CHUNKING) instead of DATA.
    #[arg(long)]
    pub bdat: bool,

    /// Octets per BDAT chunk (default 65536); requires --bdat.
    #[arg(long, value_name = "BYTES")]
    pub chunk_size: Option<usize>,

    /// Upgrade each connection with STARTTLS after EHLO. The server's
    /// certificate is not verified.
    #[arg(long)]
    pub starttls: bool,

    /// Connect with implicit TLS (RFC 8314, as on port 465): the TLS
    /// handshake comes before the greeting. The server's certificate is not
    /// verified. Excludes --starttls.
    #[arg(long, conflicts_with = "starttls")]
    pub tls: bool,
}

/// Checked sending modes of an SMTP run.
#[derive(Debug, Clone)]
pub struct SmtpModes {
    /// Open-loop rate in messages per second, or `None` for closed loop.
    pub rate: Option<f64>,
    /// Content of each message.
    pub content: Content,
    /// BDAT chunk size in octets, or `None` to send with DATA.
    pub bdat_chunk_len: Option<usize>,
    /// Whether each session upgrades with STARTTLS.
    pub starttls: bool,
    /// Whether each session starts with a TLS handshake (implicit TLS).
    pub implicit_tls: bool,
}

impl SmtpModeArgs {
    /// Checks the mode arguments. `size` is the `--size` value when given.
    pub fn validate(self, size: Option<usize>) -> Result<SmtpModes, UsageError> {
        let rate = match self.rate {
            Some(rate) if !(RATE_MIN..=RATE_MAX).contains(&rate) => {
                return Err(UsageError(format!(
                    "invalid --rate {rate}: must be from {RATE_MIN:.6} to {RATE_MAX} messages per second"
                )));
            }
            rate => rate,
        };

        let bdat_chunk_len = match (self.bdat, self.chunk_size) {
            (false, Some(len)) => {
                return Err(UsageError(format!(
                    "invalid --chunk-size {len}: it requires --bdat"
                )));
            }
            (false, None) => None,
            (true, len) => {
                let len = len.unwrap_or(CHUNK_LEN_DEFAULT);
                if !(1..=CHUNK_LEN_MAX).contains(&len) {
                    return Err(UsageError(format!(
                        "invalid --chunk-size {len}: must be from 1 to {CHUNK_LEN_MAX}"
                    )));
                }
                Some(len)
            }
        };

        let content = content(size, self.size_dist, self.seed, self.corpus)?;
        Ok(SmtpModes {
            rate,
            content,
            bdat_chunk_len,
            starttls: self.starttls,
            implicit_tls: self.tls,
        })
    }
}

/// Picks the content from the three exclusive options.
fn content(
    size: Option<usize>,
    size_dist: Option<String>,
    seed: Option<u64>,
    corpus: Option<PathBuf>,
) -> Result<Content, UsageError> {
    let content_options: Vec<&str> = [
        size.map(|_| "--size"),
        size_dist.as_ref().map(|_| "--size-dist"),
        corpus.as_ref().map(|_| "--corpus"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if content_options.len() > 1 {
        return Err(UsageError(format!(
            "invalid options {}: use only one of --size, --size-dist and --corpus",
            content_options.join(" and ")
        )));
    }
    if seed.is_some() && size_dist.is_none() {
        return Err(UsageError(
            "invalid --seed: it requires --size-dist".to_string(),
        ));
    }

    if let Some(text) = size_dist {
        let (min, max) = parse_uniform(&text)?;
        let seed = seed.unwrap_or_else(rand::random);
        return Ok(Content::Uniform { min, max, seed });
    }
    if let Some(dir) = corpus {
        let corpus = Corpus::load(&dir)
            .map_err(|error| UsageError(format!("invalid --corpus {}: {error}", dir.display())))?;
        return Ok(Content::Corpus(Arc::new(corpus)));
    }

    let body_len = size.unwrap_or(BODY_LEN_DEFAULT);
    if body_len > BODY_LEN_MAX {
        return Err(UsageError(format!(
            "invalid --size {body_len}: must be from 0 to {BODY_LEN_MAX}"
        )));
    }
    if body_len == 1 {
        return Err(UsageError(
            "invalid --size 1: a non-empty body ends with CRLF, so use 0 or at least 2".to_string(),
        ));
    }
    Ok(Content::Fixed { body_len })
}

/// Parses `uniform:MIN-MAX` into its bounds in octets.
fn parse_uniform(text: &str) -> Result<(usize, usize), UsageError> {
    let invalid = |reason: &str| UsageError(format!("invalid --size-dist {text:?}: {reason}"));

    let Some(range) = text.strip_prefix("uniform:") else {
        return Err(invalid("expected uniform:MIN-MAX"));
    };
    let Some((min, max)) = range.split_once('-') else {
        return Err(invalid("expected uniform:MIN-MAX"));
    };
    let min: usize = min
        .parse()
        .map_err(|_| invalid("MIN is not a number of octets"))?;
    let max: usize = max
        .parse()
        .map_err(|_| invalid("MAX is not a number of octets"))?;

    if min > max {
        return Err(invalid("MIN is above MAX"));
    }
    if max > BODY_LEN_MAX {
        return Err(invalid(&format!("MAX must be at most {BODY_LEN_MAX}")));
    }
    if min == 1 {
        return Err(invalid(
            "a non-empty body ends with CRLF, so MIN must be 0 or at least 2",
        ));
    }
    Ok((min, max))
}
